#!/bin/sh
# The device test programs under Oclgrind's simulated device (out-of-bounds accesses, data races,
# uninitialised reads, OpenCL API misuse), on tiny shapes (EOS_TEST_TINY=1, tests/test_common.h).
# Usage: tests/oclgrind.sh BUILD_DIR [PROGRAM...]   (default: every program in ALL below)
# Exits non-zero on any Oclgrind report, a failing test or a timeout (OCLGRIND_TIMEOUT seconds
# per program, default 1800); prints per program the time and the number of reports, then a summary.
# ctest's test_oclgrind runs the subset CI_SUBSET (about 3 minutes on 2 cores, cold kernel cache);
# the rest take longer under the interpreter and are run by hand: tests/oclgrind.sh build
# Known open report (issue 15): test_knn, eos_knn_merge on the GPU paths after an earlier
# eos_knn in the same runtime reads GEMM output that Oclgrind marks uninitialised ("Controlflow
# depends on uninitialized value", cmocka test test_against_brute_force); not yet explained, so
# test_knn stays out of the CI subset until it is.
#
# Notes on the tool (Oclgrind 21.10):
# - kernels are built with -cl-opt-disable (EOS_CL_OPTIONS): at -O2 clang emits LLVM `freeze`
#   instructions that the 21.10 uninitialised-value plugin does not support ("OCLGRIND FATAL
#   ERROR ... Unsupported instruction: freeze"); it then loses track of the values and reports
#   every later read of them as uninitialised (e.g. eos_ldam_logits -> eos_softmax_ce). -O0 keeps
#   every check and emits no freeze.
# - test_runtime builds a broken program and asks for a missing kernel on purpose, so it runs
#   without --check-api (those API errors are its expected results).
set -u
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [PROGRAM...]" >&2; exit 2; }
build=$(cd "$1" && pwd) || exit 2
shift
command -v oclgrind >/dev/null || { echo "oclgrind not found (Debian: apt-get install oclgrind)" >&2; exit 2; }

ALL="test_tensor test_gemm test_losses test_ldam test_knn test_finetune test_oversample
     test_layers test_resnet test_train test_runtime"
CI_SUBSET="test_tensor test_gemm test_losses test_ldam"
if [ $# -eq 0 ]; then set -- $ALL; elif [ "$1" = ci ]; then set -- $CI_SUBSET; fi

out="$build/oclgrind-logs"
mkdir -p "$out" "$build/test-tmp"
export EOS_TEST_TINY=1 EOS_CL_OPTIONS=-cl-opt-disable CMOCKA_MESSAGE_OUTPUT=STDOUT
export EOS_CACHE_DIR="$build/oclgrind-kernel-cache" EOS_TEST_TMP="$build/test-tmp"
timeout_s=${OCLGRIND_TIMEOUT:-1800}
failed=0 total_reports=0 summary=""
for t in "$@"; do
    api=--check-api
    [ "$t" = test_runtime ] && api=
    start=$(date +%s)
    timeout "$timeout_s" oclgrind --data-races --uninitialized $api "$build/tests/$t" >"$out/$t.out" 2>"$out/$t.err"
    rc=$?
    secs=$(( $(date +%s) - start ))
    # Oclgrind's reports: a blank line, then a title line (e.g. "Invalid read of size 4 at global
    # memory address ...", "Read-write data race at global memory address ...", "Controlflow
    # depends on uninitialized value", "Oclgrind - OpenCL runtime error detected") followed by
    # tab-indented details; its fatal errors and the "N errors generated" cap too.
    n=$(grep -cE '^(Invalid|Uninitialized|Controlflow|Read-write|Write-write|Oclgrind -|OCLGRIND FATAL|Oclgrind: [0-9]+ errors|Work-group divergence|Work-item divergence|Load from |Store to |Atomic|Memory leak|Unaligned)' "$out/$t.err")
    status=ok
    if [ "$rc" -eq 124 ]; then status="TIMEOUT after ${timeout_s}s"
    elif [ "$rc" -ne 0 ]; then status="FAILED (exit $rc)"
    elif [ "$n" -ne 0 ]; then status="REPORTS"
    fi
    [ "$status" = ok ] || failed=1
    total_reports=$((total_reports + n))
    line=$(printf '%-18s %5ss  %4s reports  %s' "$t" "$secs" "$n" "$status")
    echo "$line"
    [ "$status" = ok ] || { echo "  see $out/$t.err and $t.out; first report:"; grep -m1 -A6 -E '^(Invalid|Uninitialized|Controlflow|Read-write|Write-write|Oclgrind -|OCLGRIND FATAL)' "$out/$t.err" | sed 's/^/    /'; }
    summary="$summary
$line"
done
echo "---- oclgrind summary: $# program(s), $total_reports report(s)$summary"
[ "$failed" -eq 0 ] && echo "PASSED" || echo "FAILED"
exit "$failed"
