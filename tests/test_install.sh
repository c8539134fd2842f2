#!/bin/sh
# The library as a user installs it (issue 17): `cmake --install` into a temporary prefix, the
# examples built against that tree with find_package(EOSCL) and with pkg-config and run on tiny
# fixtures, their numbers equal to the CLI's; the headers alone; the Python package from there.
# usage: test_install.sh path/to/build/eos SOURCE_DIR [PYTHON]
eos="$1"
. "$(dirname "$0")/cli_common.sh"
src="$2"
py="${3:-/usr/bin/python3}"
build=$(dirname "$eos")
t=$(tmpdir install)
P="$t/prefix"

expect "cmake --install into a temporary prefix" 0 'libeos-cl' cmake --install "$build" --prefix "$P"
lib=$(find "$P" -name 'libeos-cl.so.*.*.*' | head -1)
pcdir=$(dirname "$(find "$P" -name eos-cl.pc | head -1)")
cmdir=$(dirname "$(find "$P" -name EOSCLConfig.cmake | head -1)")
if [ -f "$lib" ] && [ -f "$pcdir/eos-cl.pc" ] && [ -f "$cmdir/EOSCLTargets.cmake" ] && [ -x "$P/bin/eos" ] &&
   [ -f "$P/include/eos/eos.h" ] && [ -f "$P/lib/python3/dist-packages/eoscl/__init__.py" ]; then
    ok "installed: $lib, eos-cl.pc, EOSCLConfig.cmake, bin/eos, include/eos, eoscl"
else
    bad "installed files" "$(find "$P" | sort)"
fi
version=$(sed -n 's/^#define EOS_VERSION "\(.*\)"$/\1/p' "$src/include/eos/eos.h")
soversion=$(printf '%s' "$version" | sed 's/^0\.\([0-9]*\)\..*/0.\1/; s/^\([1-9][0-9]*\)\..*/\1/')
expect "SONAME from the version ($version)" 0 "SONAME.*\\[libeos-cl\\.so\\.$soversion\\]" readelf -d "$lib"
expect "the file's version is the project's" 0 "libeos-cl\\.so\\.$version\$" echo "$lib"
# only the public eos_ names leave the library; eos__ internals and the helpers' stay inside
expect "exports the public API" 0 'eos_resample_with' sh -c "nm -D --defined-only '$lib' | awk '{print \$3}'"
expect "exports only the public eos_ names" 0 '^none$' sh -c "n=\$(nm -D --defined-only '$lib' | awk '{print \$3}' | grep -v -e '^eos_[a-z0-9]' -e '^_init\$' -e '^_fini\$'); echo \${n:-none}"
# and every function the installed headers declare is there (static inline ones aside)
nm -D --defined-only "$lib" | awk '{print $3}' | sort > "$t/exported"
grep -hv 'static inline' "$P"/include/eos/*.h | grep -o 'eos_[a-z0-9_]*[[:space:]]*(' | sed 's/[[:space:]]*($//' | sort -u > "$t/declared"
missing=$(comm -13 "$t/exported" "$t/declared")
if [ -z "$missing" ] && [ "$(wc -l < "$t/declared")" -gt 100 ]; then ok "all $(wc -l < "$t/declared") functions the headers declare are exported"
else bad "functions declared but not exported" "$missing"; fi
# the production binary carries no test reference (tests/ref/), nor a run path into the build
expect "bin/eos links no test reference" 0 '^0 of [1-9][0-9]* symbols$' sh -c "echo \$(nm '$P/bin/eos' | grep -c ' eos_ref_') of \$(nm '$P/bin/eos' | grep -c ' eos_')  symbols | tr -s ' '"
expect "bin/eos runs" 0 "^eos $version\$" "$P/bin/eos" --version

# every public header compiles on its own with the installed flags, without OpenCL's
# "CL_TARGET_OPENCL_VERSION is not defined" note or any warning
export PKG_CONFIG_PATH="$pcdir"
expect "pkg-config --cflags --libs eos-cl" 0 "-I$P/include .*-L$P/.* -leos-cl" sh -c 'echo $(pkg-config --cflags --libs eos-cl)'
# a library linked to MPI (EOS_MPI) names it for static links (Requires.private or Libs.private)
if ldd "$lib" | grep -q 'libmpi\.so'; then
    expect "pkg-config --static names MPI (the library links it)" 0 '-lmpi' sh -c 'echo $(pkg-config --static --libs eos-cl)'
fi
expect "pkg-config --modversion" 0 "^$version\$" pkg-config --modversion eos-cl
hdr_out=""
for h in "$P"/include/eos/*.h; do
    printf '#include <eos/%s>\nint main(void) { return 0; }\n' "$(basename "$h")" > "$t/h.c"
    o=$(cc -std=c11 -Wall -Wextra -pedantic -Werror $(pkg-config --cflags eos-cl) -c "$t/h.c" -o "$t/h.o" 2>&1) || hdr_out="$hdr_out$h: failed
"
    [ -n "$o" ] && hdr_out="$hdr_out$h: $o
"
done
if [ -z "$hdr_out" ]; then ok "every installed header compiles alone, silently (C11, -pedantic)"; else bad "headers alone" "$hdr_out"; fi

# the examples, both ways
expect "examples with find_package(EOSCL)" 0 'Built target balance_finetune' sh -c \
    "cmake -S '$src/examples' -B '$t/ex-cmake' -DCMAKE_PREFIX_PATH='$P' -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build '$t/ex-cmake'"
mkdir -p "$t/ex-pc"
expect "examples with pkg-config (make)" 0 'balance_finetune' make -C "$src/examples" OUT="$t/ex-pc" PKG_CONFIG_PATH="$pcdir"
expect "the examples use the installed library" 0 "libeos-cl\\.so\\.$soversion => $P/" ldd "$t/ex-pc/evaluate"

# tiny fixtures with the installed CLI: a 3-class image-folder set, a resnet8,
# its embeddings, EOS on them and a head (seed 0 and the defaults, as the examples)
ieos="$P/bin/eos"
fx="$t/fx"
expect "fixture: synth" 0 'wrote 3 classes' "$ieos" synth --out "$fx/syn" --classes 3 --train-per-class 12 --test-per-class 4
# 4 epochs of 5 steps (a second): a model above chance, so the numbers compared below are not
# the ones any constant prediction gives
expect "fixture: train" 0 'wrote .*model.safetensors' "$ieos" train --data "$fx/syn" --out "$fx/run" --arch resnet8 --epochs 4 --batch 8 --imbalance none --quiet
expect "fixture: evaluate" 0 'wrote .*metrics.json' "$ieos" evaluate --model "$fx/run/model.safetensors" --data "$fx/syn" --out "$fx/eval" --quiet
expect "fixture: embed" 0 'embedding gap' "$ieos" embed --model "$fx/run/model.safetensors" --data "$fx/syn" --out "$fx/emb" --imbalance exp:3
expect "fixture: resample" 0 'rows ->' "$ieos" resample --in "$fx/emb/train_emb.csv" --out "$fx/emb/train_eos.csv"
expect "fixture: finetune" 0 'wrote' sh -c "'$ieos' finetune --train '$fx/emb/train_eos.csv' --test '$fx/emb/test_emb.csv' --out '$fx/ft' | tee '$fx/ft.txt'"

# the examples' numbers are the CLI's, to the 6 digits metrics.json keeps
json() { sed -n "s/^  \"$2\": \\([0-9.]*\\),\$/\\1/p" "$1"; }
acc=$(json "$fx/eval/metrics.json" acc) bac=$(json "$fx/eval/metrics.json" bac)
facc=$(json "$fx/ft/metrics.json" acc) fbac=$(json "$fx/ft/metrics.json" bac)
fgm=$(json "$fx/ft/metrics.json" gm) ffm=$(json "$fx/ft/metrics.json" fm)
loss=$(sed -n 's/.*final loss \([0-9.]*\)$/\1/p' "$fx/ft.txt")
for way in ex-cmake ex-pc; do
    expect "$way/evaluate: ACC $acc BAC $bac as eos evaluate" 0 "^ACC $acc BAC $bac\$" \
        "$t/$way/evaluate" "$fx/run/model.safetensors" "$fx/syn"
    expect "$way/balance_finetune: ACC $facc BAC $fbac GM $fgm FM $ffm as eos resample + finetune" 0 \
        "^ACC $facc BAC $fbac GM $fgm FM $ffm\$" \
        "$t/$way/balance_finetune" "$fx/emb/train_emb.csv" "$fx/emb/test_emb.csv"
    expect "$way/balance_finetune: final loss $loss as eos finetune" 0 "final loss $loss\$" \
        "$t/$way/balance_finetune" "$fx/emb/train_emb.csv" "$fx/emb/test_emb.csv"
done
expect "an example's error names the file" 1 'no-such\.csv' "$t/ex-pc/balance_finetune" "$fx/no-such.csv" "$fx/emb/test_emb.csv"

# the Python package from the installed tree finds the installed library by itself, and its EOS
# makes the rows `eos resample` made (same seed, same library)
pyp="$P/lib/python3/dist-packages"
expect "python: eoscl $version finds the installed library" 0 "^$version $P/.*libeos-cl\\.so\\.$soversion\$" \
    env -u EOSCL_LIBRARY PYTHONPATH="$pyp" "$py" -c 'import eoscl; eoscl.devices(); print(eoscl.__version__, eoscl.library_path())'
expect "python: a missing library is a clear error" 1 'libeos-cl was not found: tried /no/such/libeos-cl.so \(from EOSCL_LIBRARY: no such file\)' \
    env EOSCL_LIBRARY=/no/such/libeos-cl.so PYTHONPATH="$pyp" "$py" -c 'import eoscl; eoscl.devices()'
if "$py" -c 'import numpy, imblearn' 2>/dev/null; then
    expect "python: EOS(random_state=0) makes eos resample's rows" 0 '^same [0-9]+ rows$' \
        env -u EOSCL_LIBRARY PYTHONPATH="$pyp" "$py" -c "
import numpy as np, eoscl
a = np.loadtxt('$fx/emb/train_emb.csv', delimiter=',', skiprows=1)
b = np.loadtxt('$fx/emb/train_eos.csv', delimiter=',', skiprows=1)
X, y = eoscl.EOS(random_state=0).fit_resample(a[:, 1:], a[:, 0].astype(int))
same = np.array_equal(y, b[:, 0]) and np.array_equal(X.astype(np.float32), b[:, 1:].astype(np.float32))
print('same %d rows' % len(y) if same else 'differ: %s vs %s' % (X.shape, b.shape))"
else
    echo "[ SKIPPED  ] python: EOS vs eos resample (numpy or imblearn missing)"
fi
rm -rf "$t"
finish
