#!/usr/bin/env bash
# Put CIFAR-100 (the binary release) where EOS-CL can read it; CIFAR-100-LT is made from it at
# load time by --imbalance exp:R (R = 10, 50, 100: floor(500 * (1/R)^(c/99)) images of class c).
#   data/prepare_cifar100.sh [DEST]         download https://www.cs.toronto.edu/~kriz/
#                                           cifar-100-binary.tar.gz (168513733 bytes, md5-checked)
#                                           and unpack it into DEST (default data/cifar100-bin)
#   EOS_CIFAR100_ARCHIVE=FILE data/prepare_cifar100.sh [DEST]
#                                           the same from a copy of that archive already here
#   data/prepare_cifar100.sh --check [DEST] check an unpacked copy (file sizes) and say so
# Prints the folder to pass to `eos ... --data`. Does nothing when DEST is already complete.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
check=0
if [ "${1:-}" = "--check" ]; then check=1; shift; fi
dest="${1:-$repo/data/cifar100-bin}"
url=https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz
md5=03b5dce01913d631647c71ecec9e9cb8
size=168513733
dir="$dest/cifar-100-binary"

# 50000 and 10000 records of 3074 bytes (coarse label, fine label, 3 x 32 x 32 pixels)
complete() {
    [ -f "$dir/train.bin" ] && [ -f "$dir/test.bin" ] &&
        [ "$(stat -c %s "$dir/train.bin")" = 153700000 ] && [ "$(stat -c %s "$dir/test.bin")" = 30740000 ]
}
if complete; then
    [ "$check" = 1 ] && echo "prepare_cifar100: $dir is complete (train.bin 50000, test.bin 10000 images)" >&2
    echo "$dir"; exit 0
fi
if [ "$check" = 1 ]; then
    echo "prepare_cifar100: $dir is missing or incomplete: expected train.bin of 153700000 bytes and test.bin of" \
         "30740000 bytes (run data/prepare_cifar100.sh to fetch it)" >&2
    exit 1
fi
mkdir -p "$dest"
archive="${EOS_CIFAR100_ARCHIVE:-}"
if [ -z "$archive" ]; then
    archive="$dest/cifar-100-binary.tar.gz"
    curl -fL --retry 3 -o "$archive.part" "$url"
    mv "$archive.part" "$archive"
fi
[ -f "$archive" ] || { echo "prepare_cifar100: no archive at $archive" >&2; exit 1; }
[ "$(stat -c %s "$archive")" = "$size" ] ||
    { echo "prepare_cifar100: $archive is $(stat -c %s "$archive") bytes, expected $size (damaged or another file)" >&2; exit 1; }
echo "$md5  $archive" | md5sum -c --quiet - >&2 || { echo "prepare_cifar100: $archive is damaged (md5 mismatch)" >&2; exit 1; }
tmp="$(mktemp -d "$dest/.unpack-XXXXXX")"
tar xzf "$archive" -C "$tmp"
rm -rf "$dir"
mv "$tmp/cifar-100-binary" "$dir" && rmdir "$tmp"
[ -z "${EOS_CIFAR100_ARCHIVE:-}" ] && rm -f "$archive"
complete || { echo "prepare_cifar100: the unpacked files have unexpected sizes" >&2; exit 1; }
echo "$dir"
