#!/usr/bin/env bash
# Put SVHN (the cropped-digit release: MATLAB files read with libmatio) where EOS-CL can read it.
#   data/prepare_svhn.sh [DEST]          download train_32x32.mat and test_32x32.mat from
#                                        http://ufldl.stanford.edu/housenumbers/ into DEST
#                                        (default data/svhn), each md5-checked (torchvision's sums)
#   data/prepare_svhn.sh --check [DEST]  check the copies in DEST against the md5 sums
# extra_32x32.mat (531131 more training digits) is not used: EOS-CL reads train and test.
# Labels are 1..10 in the files, 10 meaning the digit 0; EOS-CL makes that class 0, as
# torchvision does. Prints the folder to pass to `eos ... --data`.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
check=0
if [ "${1:-}" = "--check" ]; then check=1; shift; fi
dest="${1:-$repo/data/svhn}"
base=http://ufldl.stanford.edu/housenumbers
files=(train_32x32.mat test_32x32.mat)
sums=(e26dedcc434d2e4c54c9b2d4a06d8373 eb5a983be6a315427106f1b164d9cef3)

good() { [ -f "$dest/$1" ] && echo "$2  $dest/$1" | md5sum -c --quiet - >/dev/null 2>&1; }
[ "$check" = 1 ] || mkdir -p "$dest"
for i in 0 1; do
    f=${files[$i]} sum=${sums[$i]}
    good "$f" "$sum" && continue
    if [ "$check" = 1 ]; then
        echo "prepare_svhn: $dest/$f is missing or damaged (md5 is not $sum); run data/prepare_svhn.sh" >&2
        exit 1
    fi
    curl -fL --retry 3 -o "$dest/$f.part" "$base/$f"
    echo "$sum  $dest/$f.part" | md5sum -c --quiet - >&2 ||
        { rm -f "$dest/$f.part"; echo "prepare_svhn: $base/$f arrived damaged (md5 mismatch)" >&2; exit 1; }
    mv "$dest/$f.part" "$dest/$f"
done
[ "$check" = 1 ] && echo "prepare_svhn: $dest holds train_32x32.mat and test_32x32.mat, md5 as published" >&2
echo "$dest"
