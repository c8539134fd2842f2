#!/usr/bin/env bash
# Build the parser fuzz targets (clang, libFuzzer + ASan + UBSan) and run each for SECONDS
# (default 60), starting from the seeds in tests/fuzz/corpus/<target>/. New interesting inputs
# go to build-fuzz/corpus/<target>/; a crash leaves crash-* files in build-fuzz/ and fails.
#   tests/fuzz/run.sh [SECONDS] [target ...]      targets: cifar idx csv safetensors
set -euo pipefail
cd "$(dirname "$0")/../.."
secs="${1:-60}"; shift || true
targets=("${@:-cifar idx csv safetensors}")
CC=clang cmake -S . -B build-fuzz -DEOS_FUZZ=ON -DEOS_BUILD_TESTS=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)" >/dev/null
for t in ${targets[@]}; do
    mkdir -p "build-fuzz/corpus/$t"
    echo "== fuzz_$t for ${secs}s"
    (cd build-fuzz && ./tests/fuzz/fuzz_"$t" -max_total_time="$secs" -max_len=65536 -print_final_stats=1 \
        "corpus/$t" "../tests/fuzz/corpus/$t" 2>&1 | grep -E "^#[0-9]+ +DONE|stat::number_of_executed_units|ERROR|SUMMARY|crash-" || true)
    if ls build-fuzz/crash-* >/dev/null 2>&1; then echo "fuzz_$t: crash found (build-fuzz/crash-*)"; exit 1; fi
done
echo "fuzzing finished: no crashes"
