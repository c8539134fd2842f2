#!/usr/bin/env bash
# CLBlast's default SGEMM parameters against EOS-CL's tuned table (host/runtime/gemm.c), alternating
# the two in one session so machine noise hits both alike. Prints bench_gemm's lines.
#   benchmarks/gemm_tuning.sh [rounds] [bench_gemm args...]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"; shift || true
[ -x build/benchmarks/bench_gemm ] || { cmake -S . -B build -DEOS_BUILD_BENCHMARKS=ON >/dev/null && cmake --build build -j"$(nproc)" --target bench_gemm >/dev/null; }
export POCL_AFFINITY="${POCL_AFFINITY:-1}"
for r in $(seq "$rounds"); do
    echo "# round $r"
    EOS_CLBLAST_TUNED=0 build/benchmarks/bench_gemm "$@"
    build/benchmarks/bench_gemm "$@"
done
