#!/usr/bin/env bash
# EOS-CL (PoCL or any --device) against PyTorch CPU (2 threads) on the same ResNet-s training
# and inference workload, alternating ROUNDS times so machine noise hits both alike.
#   benchmarks/compare_train.sh [ROUNDS] [--arch resnet32] [--batch 128] [--steps 5]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-2}"; shift || true
[ -x build/benchmarks/bench_train ] || { cmake -S . -B build -DEOS_BUILD_BENCHMARKS=ON >/dev/null && cmake --build build -j"$(nproc)" --target bench_train >/dev/null; }
export POCL_AFFINITY="${POCL_AFFINITY:-1}"
for r in $(seq "$rounds"); do
    echo "# round $r"
    build/benchmarks/bench_train "$@"
    /usr/bin/python3 benchmarks/peer_torch_train.py --threads 2 "$@"
done
