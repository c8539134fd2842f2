#!/usr/bin/env bash
# Cold and warm start of `eos check` (opens the device, builds every kernel program, runs the
# GEMM self-check, so CLBlast compiles its kernels too). Cold = empty EOS-CL kernel cache and
# empty driver cache (PoCL's POCL_CACHE_DIR); warm = the same command again.
#   benchmarks/startup.sh [rounds] [--device SPEC]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"; shift || true
eos=build/eos
[ -x "$eos" ] || { echo "build first: ./setup.sh" >&2; exit 1; }
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); awk -v a="$s" -v b="$e" 'BEGIN { print b - a }'; }
for r in $(seq "$rounds"); do
    dir=$(mktemp -d)
    export EOS_CACHE_DIR="$dir/eos" POCL_CACHE_DIR="$dir/pocl"
    cold=$(t "$eos" check "$@")
    warm=$(t "$eos" check "$@")
    rm -rf "$dir/eos"   # our cache cold, the driver's warm: what EOS-CL's own cache saves
    ours=$(t "$eos" check "$@")
    printf 'round %d: cold %.2f s  warm %.2f s  (eos-cl cache cleared, driver cache warm: %.2f s)\n' "$r" "$cold" "$warm" "$ours"
    rm -rf "$dir"
done
