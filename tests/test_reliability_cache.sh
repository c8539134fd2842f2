#!/bin/sh
# Issue 13, items 2, 4, 11 (part) and 12 (part): the kernel cache folder and the settings.
# A FIFO in the cache never hangs a run; `eos cache --clear` deletes only the cache's own files;
# a mistyped EOS_* variable or an empty --device is a clear error, never a silent default.
eos="$1"
. "$(dirname "$0")/cli_common.sh"

# a tiny CIFAR-10 binary (one image per class per batch) for the training runs below
fx=$(tmpdir rel-cache)
# run by hand, never touch the user's own cache (ctest sets EOS_CACHE_DIR)
[ -n "${EOS_CACHE_DIR:-}" ] || { EOS_CACHE_DIR="$fx/cache-default"; export EOS_CACHE_DIR; }
record() { printf "\\$(printf %03o "$1")"; head -c 3072 /dev/zero; }
for b in 1 2 3 4 5; do for c in 0 1 2 3 4 5 6 7 8 9; do record "$c"; done > "$fx/data_batch_$b.bin"; done
for c in 0 1 2 3 4 5 6 7 8 9; do record "$c"; done > "$fx/test_batch.bin"
# train CACHE_DIR ARGS...: a one-step run with that kernel cache (a hang ends after 60 s)
train() {
    cdir=$1
    shift
    env EOS_CACHE_DIR="$cdir" timeout -k 5 60 "$eos" train --data "$fx" --arch resnet8 --epochs 1 --max-steps 1 --batch 8 --imbalance none --quiet "$@"
}

# --- item 2: a FIFO at the exact name of a cache entry, and as conv-algos.txt ------------
c="$fx/cache-fifo"
expect "check fills an empty cache" 0 'check passed' env EOS_CACHE_DIR="$c" "$eos" check
entry=$(ls "$c" | grep -E '^[0-9a-f]{16}\.bin$' | head -1)
rm -f "$c/$entry" && mkfifo "$c/$entry"
expect "check with a FIFO as a cache entry (no hang)" 0 'check passed' env EOS_CACHE_DIR="$c" timeout -k 5 60 "$eos" check
if [ -p "$c/$entry" ]; then ok "the FIFO is left as it is"; else bad "the FIFO is left as it is" "$(ls -l "$c")"; fi
mkfifo "$c/conv-algos.txt"
expect "train with FIFOs in the cache (no hang)" 0 'epoch +1/1' train "$c" --out "$fx/run-fifo"
expect "cache lists a cache holding FIFOs (no hang)" 0 'not written by the kernel cache \(not a regular file\)' \
    env EOS_CACHE_DIR="$c" timeout -k 5 60 "$eos" cache
expect "cache --clear leaves the FIFOs" 0 'left 2 files named like' env EOS_CACHE_DIR="$c" timeout -k 5 60 "$eos" cache --clear
if [ -p "$c/$entry" ] && [ -p "$c/conv-algos.txt" ]; then ok "cache --clear kept both FIFOs"; else bad "cache --clear kept both FIFOs" "$(ls -l "$c")"; fi
d="$fx/cache-fifo2"
mkdir -p "$d" && mkfifo "$d/conv-algos.txt"
# check reads no convolution choices; train does (a FIFO there hung it, SIGTERM included)
expect "check with conv-algos.txt a FIFO (no hang)" 0 'check passed' env EOS_CACHE_DIR="$d" timeout -k 5 60 "$eos" check
expect "train with only conv-algos.txt a FIFO (no hang)" 0 'epoch +1/1' train "$d" --out "$fx/run-fifo2"

# --- item 4: eos cache --clear deletes only what carries the cache's header or marker -----
g="$fx/cache-clear"
expect "train fills a cache (entries and conv-algos.txt)" 0 'epoch +1/1' train "$g" --out "$fx/run-g"
expect "conv-algos.txt starts with the marker" 0 '^# eos-cl convolution choices' head -1 "$g/conv-algos.txt"
printf 'not a cache entry, a user file that happens to have this name\n' > "$g/0123456789abcdef.bin"
expect "cache --clear removes the genuine, leaves the foreign entry" 0 \
    'left 1 file named like the cache.s but not written by it' env EOS_CACHE_DIR="$g" "$eos" cache --clear
expect "cache --clear names what it left" 0 'left .*/0123456789abcdef.bin: not written by the kernel cache \(no cache header\)' \
    env EOS_CACHE_DIR="$g" "$eos" cache --clear
left=$(ls "$g")
if [ "$left" = "0123456789abcdef.bin" ]; then ok "only the foreign entry is left"; else bad "only the foreign entry is left" "$left"; fi
h="$fx/cache-clear2"
expect "check fills a cache" 0 'check passed' env EOS_CACHE_DIR="$h" "$eos" check
printf 'my notes about convolution\n' > "$h/conv-algos.txt"
expect "cache --clear leaves a foreign conv-algos.txt" 0 'left .*/conv-algos.txt: not written by the kernel cache' \
    env EOS_CACHE_DIR="$h" "$eos" cache --clear
expect "the foreign conv-algos.txt is whole" 0 '^my notes about convolution$' cat "$h/conv-algos.txt"
if ls "$h" | grep -q '\.bin$'; then bad "the genuine entries are gone" "$(ls "$h")"; else ok "the genuine entries are gone"; fi
# a conv-algos.txt written before the marker existed is still the cache's (only well-formed lines)
printf 'v8|cpu|PoCL|6.0 8 16 32 32 16 3 1 1 gemm\n' > "$h/conv-algos.txt"
expect "cache --clear removes an old conv-algos.txt" 0 'and the convolution choices' env EOS_CACHE_DIR="$h" "$eos" cache --clear
if [ -e "$h/conv-algos.txt" ]; then bad "old conv-algos.txt removed" "$(ls "$h")"; else ok "old conv-algos.txt removed"; fi

# --- items 11 and 12: settings are checked, never ignored ----------------------------------
for v in abc -5 1e99 1099511627776; do
    expect "EOS_MEM_LIMIT=$v is an error" 2 "EOS_MEM_LIMIT='$v': expected a whole number of MiB" env EOS_MEM_LIMIT="$v" "$eos" check
done
expect "EOS_MEM_LIMIT=0 means no limit" 0 'check passed' env EOS_MEM_LIMIT=0 "$eos" check
expect "EOS_MEM_LIMIT is an error for train too" 2 "EOS_MEM_LIMIT='abc'" env EOS_MEM_LIMIT=abc "$eos" train --data "$fx" --out "$fx/run-mem"
if [ -e "$fx/run-mem" ]; then bad "train with a bad EOS_MEM_LIMIT wrote nothing" "$(ls "$fx/run-mem")"; else ok "train with a bad EOS_MEM_LIMIT wrote nothing"; fi
expect "--device '' is an error" 2 "--device '' is empty: expected an index, cpu, gpu or part of a device name" "$eos" check --device ""
expect "--device= is an error" 2 "--device '' is empty" "$eos" check --device=
expect "train --device '' is an error" 2 "--device '' is empty" "$eos" train --data "$fx" --out "$fx/run-dev" --device ""
expect "EOS_DEVICE=garbage is named as EOS_DEVICE" 1 "no OpenCL device matches EOS_DEVICE='garbage' \(from the environment\)" \
    env EOS_DEVICE=garbage "$eos" check
expect "--device garbage is still named as --device" 1 "no OpenCL device matches --device 'garbage'" "$eos" check --device garbage
expect "EOS_LOG=verbose is an error" 2 "EOS_LOG='verbose': expected debug, info, warn, error or off" env EOS_LOG=verbose "$eos" check
expect "EOS_CONV_ALGO=fast is an error" 2 "EOS_CONV_ALGO='fast': expected auto, gemm, panel, direct, winograd, tiled or direct16" env EOS_CONV_ALGO=fast "$eos" check
expect "EOS_KNN_ALGO=brute is an error" 2 "EOS_KNN_ALGO='brute': expected fused or gemm" env EOS_KNN_ALGO=brute "$eos" check
expect "EOS_BN_PATH=row is an error" 2 "EOS_BN_PATH='row': expected rows or elements" env EOS_BN_PATH=row "$eos" check
expect "EOS_BN_FUSE=yes is an error" 2 "EOS_BN_FUSE='yes': expected 1" env EOS_BN_FUSE=yes "$eos" check
expect "EOS_PROFILE=yes is an error" 2 "EOS_PROFILE='yes': expected 1" env EOS_PROFILE=yes "$eos" check
expect "EOS_CLBLAST_TUNED=off is an error" 2 "EOS_CLBLAST_TUNED='off': expected 0" env EOS_CLBLAST_TUNED=off "$eos" check
expect "EOS_CONV_VERBOSE=yes is an error" 2 "EOS_CONV_VERBOSE='yes': expected 1" env EOS_CONV_VERBOSE=yes "$eos" check
expect "EOS_CONV_AUTO_SKIP=fast is an error" 2 "EOS_CONV_AUTO_SKIP='tiled,fast': expected a comma-separated list of gemm, panel" env EOS_CONV_AUTO_SKIP=tiled,fast "$eos" check
expect "EOS_CONV_AUTO_SKIP with an empty name is an error" 2 "EOS_CONV_AUTO_SKIP='tiled,,gemm': expected" env EOS_CONV_AUTO_SKIP=tiled,,gemm "$eos" check
expect "valid settings pass" 0 'check passed' env EOS_LOG=warn EOS_CONV_ALGO=auto EOS_KNN_ALGO=fused EOS_BN_PATH=rows \
    EOS_BN_FUSE=0 EOS_PROFILE=0 EOS_CLBLAST_TUNED=1 EOS_CONV_VERBOSE=0 EOS_MEM_LIMIT=4096 EOS_CONV_AUTO_SKIP=gemm,direct,winograd,tiled,direct16 "$eos" check
expect "an empty setting is the default" 0 'check passed' env EOS_LOG= EOS_MEM_LIMIT= EOS_DEVICE= "$eos" check

rm -rf "$fx"
finish
