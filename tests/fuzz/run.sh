#!/usr/bin/env bash
# Build the parser fuzz targets (clang, libFuzzer + ASan + UBSan) and run each for SECONDS
# (default 60), starting from the seeds in tests/fuzz/corpus/<target>/. New interesting inputs
# go to build-fuzz/corpus/<target>/; a crash leaves crash-* files in build-fuzz/ and fails (copy
# it into tests/fuzz/corpus/<target>/ once fixed: ctest replays that folder, test_fuzz_corpus).
#   tests/fuzz/run.sh [SECONDS] [target ...]      targets: cifar idx idxgz csv safetensors cache
#   EOS_FUZZ_BUILD_DIR=build-x tests/fuzz/run.sh  another build folder
set -euo pipefail
cd "$(dirname "$0")/../.."
secs="${1:-60}"; shift || true
targets=("${@:-cifar idx idxgz csv safetensors cache}")
b="${EOS_FUZZ_BUILD_DIR:-build-fuzz}"
CC=clang cmake -S . -B "$b" -DEOS_FUZZ=ON -DEOS_BUILD_TESTS=OFF >/dev/null
cmake --build "$b" -j"$(nproc)" >/dev/null
src="$(pwd)/tests/fuzz/corpus"
for t in ${targets[@]}; do
    mkdir -p "$b/corpus/$t"
    echo "== fuzz_$t for ${secs}s"
    (cd "$b" && ./tests/fuzz/fuzz_"$t" -max_total_time="$secs" -max_len=65536 -print_final_stats=1 \
        "corpus/$t" "$src/$t" 2>&1 | grep -E "^#[0-9]+ +DONE|stat::number_of_executed_units|ERROR|SUMMARY|crash-" || true)
    if ls "$b"/crash-* >/dev/null 2>&1; then echo "fuzz_$t: crash found ($b/crash-*)"; exit 1; fi
done
echo "fuzzing finished: no crashes"
