#!/usr/bin/env bash
# The GPU check: one script for a machine with an NVIDIA GPU and no package registry.
#   here (the build machine):  ./setup.sh && benchmarks/gpu_check.sh --prepare
#       copies the shared libraries the binaries need (OpenCL loader, CLBlast, cmocka, stb) into
#       build/gpu-libs, so the build folder travels alone (carry "build");
#   there:                     benchmarks/gpu_check.sh [--device gpu] [--budget 420] [--batch 128] [--steps 5]
#                                  [--test-timeout 120]
#       lists the devices, runs every test program on the device (EOS_DEVICE), then
#       `eos bench train` and `infer` for resnet32 at batch 128 and the same in PyTorch CUDA when
#       torch with CUDA is there, and prints a summary; each part has a time limit and the whole
#       stays inside --budget seconds (default 420, under 8 minutes).
# Rehearse on PoCL: benchmarks/gpu_check.sh --device cpu
# or on Mesa's llvmpipe (rusticl; RUSTICL_ENABLE is set for it), a slow device, so smaller:
#   benchmarks/gpu_check.sh --device llvmpipe --budget 900 --batch 16 --steps 1 --test-timeout 300
set -uo pipefail
cd "$(dirname "$0")/.."
build="${EOS_BUILD_DIR:-build}"
if [ "${1:-}" = "--prepare" ]; then
    mkdir -p "$build/gpu-libs"
    for bin in "$build/eos" "$build"/tests/test_*; do
        [ -x "$bin" ] || continue
        ldd "$bin" | awk '/=> \// { print $3 }' | grep -E 'lib(OpenCL|clblast|cmocka|stb|z)\.so' || true
    done | sort -u | while read -r lib; do cp -L "$lib" "$build/gpu-libs/"; done
    ls "$build/gpu-libs"
    echo "gpu_check: carry \"$build\" and run benchmarks/gpu_check.sh on the GPU machine"
    exit 0
fi
device=gpu budget=420 batch=128 steps=5 test_timeout=120 args="$*"
while (($#)); do
    case "$1" in
        --device) device="$2"; shift 2 ;;
        --budget) budget="$2"; shift 2 ;;
        --batch) batch="$2"; shift 2 ;;
        --steps) steps="$2"; shift 2 ;;
        --test-timeout) test_timeout="$2"; shift 2 ;;
        *) echo "gpu_check: unknown option $1" >&2; exit 2 ;;
    esac
done
case "$budget$batch$steps$test_timeout" in
    *[!0-9]*) echo "gpu_check: --budget, --batch, --steps and --test-timeout take whole numbers" >&2; exit 2 ;;
esac
# rusticl lists its llvmpipe device only when asked to
case "$device" in *llvmpipe*) export RUSTICL_ENABLE="${RUSTICL_ENABLE:-llvmpipe}" ;; esac
start=$(date +%s)
left() { echo $((budget - ($(date +%s) - start))); }
[ -d "$build/gpu-libs" ] && export LD_LIBRARY_PATH="$PWD/$build/gpu-libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# the NVIDIA OpenCL driver without an ICD file: point the loader at it
if [ "$device" != cpu ] && ! ls /etc/OpenCL/vendors/*.icd >/dev/null 2>&1; then
    nv="$(ldconfig -p 2>/dev/null | awk '/libnvidia-opencl.so.1/ { print $NF; exit }')"
    if [ -n "$nv" ]; then
        mkdir -p /tmp/eos-icd && echo "$nv" > /tmp/eos-icd/nvidia.icd && export OCL_ICD_VENDORS=/tmp/eos-icd
    fi
fi
export EOS_DEVICE="$device" EOS_CACHE_DIR="${EOS_CACHE_DIR:-/tmp/eos-gpu-cache}" EOS_TEST_TMP=/tmp/eos-gpu-tmp
mkdir -p "$EOS_TEST_TMP"
summary=()
echo "== devices"
timeout 60 "$build/eos" devices || { echo "gpu_check: no OpenCL device (is the driver's ICD installed?)"; exit 1; }
echo "== tests on --device $device"
pass=0 fail=0 failed=""
for t in "$build"/tests/test_*; do
    [ -x "$t" ] || continue
    [ "$(left)" -gt 200 ] || { echo "gpu_check: skipping the remaining tests to keep time for the benchmarks"; break; }
    timeout "$test_timeout" "$t" >"/tmp/eos-gpu-$(basename "$t").log" 2>&1
    rc=$?
    if [ "$rc" -eq 0 ]; then pass=$((pass + 1)); echo "  ok   $(basename "$t")"
    else
        why=""
        [ "$rc" -eq 124 ] && why=" timed out after ${test_timeout} s (--test-timeout)"
        fail=$((fail + 1)); failed="$failed $(basename "$t")$why"
        echo "  FAIL $(basename "$t")$why (log: /tmp/eos-gpu-$(basename "$t").log)"; tail -5 "/tmp/eos-gpu-$(basename "$t").log"
    fi
done
summary+=("tests: $pass passed, $fail failed${failed:+ ($failed)}")
echo "== eos bench (resnet32, batch $batch)"
for w in train infer; do
    [ "$(left)" -gt 60 ] || { summary+=("eos bench $w: skipped (time)"); continue; }
    line="$(timeout $(( $(left) - 30 )) "$build/eos" bench "$w" --arch resnet32 --batch "$batch" --steps "$steps" --device "$device" | tail -1)"
    echo "$line"; summary+=("${line:-eos bench $w: failed}")
done
echo "== PyTorch (CUDA when available)"
py="$(command -v python3 || true)"
if [ -n "$py" ] && "$py" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    for w in train infer; do
        [ "$(left)" -gt 30 ] || { summary+=("pytorch $w: skipped (time)"); continue; }
        line="$(timeout $(( $(left) - 10 )) "$py" benchmarks/peer_torch.py "$w" --arch resnet32 --batch "$batch" --steps "$steps" --cuda | tail -1)"
        echo "$line"; summary+=("${line:-pytorch $w: failed}")
    done
else
    summary+=("pytorch: torch with CUDA not available here, skipped")
fi
echo
echo "== summary ($(( $(date +%s) - start )) s): benchmarks/gpu_check.sh $args"
echo "  eos-cl: $(git rev-parse --short HEAD 2>/dev/null || echo '?')  $(uname -sm)"
"$build/eos" devices 2>/dev/null | grep '^\*' | sed 's/^/  device: /'
for s in "${summary[@]}"; do echo "  $s"; done
[ "$fail" -eq 0 ]
