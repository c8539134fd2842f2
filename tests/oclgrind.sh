#!/bin/sh
# The device test programs under Oclgrind's simulated device (out-of-bounds accesses, data races,
# uninitialised reads, OpenCL API misuse), on tiny shapes (EOS_TEST_TINY=1, tests/test_common.h).
# Usage: tests/oclgrind.sh BUILD_DIR [PROGRAM...]   (default: every program in ALL below)
# Exits non-zero on any Oclgrind report, a failing test or a timeout (OCLGRIND_TIMEOUT seconds
# per program, default 1800); prints per program the time and the number of reports, then a summary.
# ctest's test_oclgrind runs the subset CI_SUBSET (about 1 minute on 2 cores, cold kernel cache);
# the rest take longer under the interpreter and are run by hand: tests/oclgrind.sh build
# Status of the rest (issue 15, not done yet): test_layers, test_resnet, test_train and
# test_oversample do not read EOS_TEST_TINY yet (minutes to hours under Oclgrind);
# test_finetune, test_oversample and test_layers report uninitialised values in kernels that read
# what a CLBlast GEMM wrote (eos_col2im, eos_sgd_step, eos_bias_add, eos_softmax_ce, and CLBlast's
# XgemmDirectTT on such values): the same pattern as the suppressed kNN reports below, not yet
# shown to be one. At -O2 test_layers computed wrong convolutions under Oclgrind: the `freeze`
# limitation below (a FATAL ERROR in eos_im2col), gone with -cl-opt-disable.
# SUPPRESSED, one kind only: uninitialised-value reports ("Controlflow depends on uninitialized
# value", "Uninitialized value written to global memory") in the two kNN kernels eos_knn_merge and
# eos_knn_fused, a false positive of Oclgrind 21.10's shadow tracking. In eos_knn_merge the value
# is the distance tile CLBlast's GEMM has just written (a probe branching on each operand apart:
# only the tile, never the norms or lists), in eos_knn_fused the dot products of the packed panels.
# The same calls in a fresh process give 0 reports; the reports appear only after the other kNN
# path ran earlier in the process, and still do with that path's kernels disabled (only its buffer
# created and released). The values read are right: test_knn compares every distance and index
# with a brute force (test_tiles_exact exactly, with ties), and CLBlast with beta = 0 and
# eos_knn_pack write every element they later read. Not root-caused inside Oclgrind (a plain
# release-then-vload/vstore program does not reproduce it). The suppressed reports are kept in
# oclgrind-logs/PROGRAM.err.gz and counted apart.
set -u
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [PROGRAM...]" >&2; exit 2; }
build=$(cd "$1" && pwd) || exit 2
shift
command -v oclgrind >/dev/null || { echo "oclgrind not found (Debian: apt-get install oclgrind)" >&2; exit 2; }

ALL="test_tensor test_gemm test_losses test_ldam test_knn test_finetune test_oversample
     test_layers test_resnet test_train test_runtime"
CI_SUBSET="test_tensor test_gemm test_losses test_ldam test_knn"
if [ $# -eq 0 ]; then set -- $ALL; elif [ "$1" = ci ]; then set -- $CI_SUBSET; fi

out="$build/oclgrind-logs"
mkdir -p "$out" "$build/test-tmp"
export EOS_TEST_TINY=1 EOS_CL_OPTIONS=-cl-opt-disable CMOCKA_MESSAGE_OUTPUT=STDOUT
export EOS_CACHE_DIR="$build/oclgrind-kernel-cache" EOS_TEST_TMP="$build/test-tmp"
timeout_s=${OCLGRIND_TIMEOUT:-1800}
failed=0 total_reports=0 summary=""
titles='Invalid|Uninitialized|Controlflow|Read-write|Write-write|Oclgrind -|OCLGRIND FATAL|Work-group divergence|Work-item divergence|Unaligned|Oclgrind: [0-9]+ errors'
for t in "$@"; do
    api=--check-api
    [ "$t" = test_runtime ] && api=
    start=$(date +%s)
    rm -f "$out/$t.reports" "$out/$t.suppressed"
    timeout "$timeout_s" oclgrind --max-errors 100000000 --data-races --uninitialized $api "$build/tests/$t" >"$out/$t.out" 2>"$out/$t.err"
    rc=$?
    secs=$(( $(date +%s) - start ))
    # Oclgrind's reports are paragraphs: a title line (e.g. "Invalid read of size 4 at global
    # memory address ...", "Read-write data race at ...", "Controlflow depends on uninitialized
    # value", "Oclgrind - OpenCL runtime error detected", "OCLGRIND FATAL ERROR ...") followed by
    # tab-indented details. One kind is suppressed (see SUPPRESSED in the banner); the rest count.
    awk -v RS= -v titles="$titles" -v sup="$out/$t.suppressed" -v rep="$out/$t.reports" '
        $0 ~ "^(" titles ")" {
            if ($0 ~ /^(Controlflow depends on uninitialized value|Uninitialized value written to global memory)/ && $0 ~ /Kernel: eos_knn_(merge|fused)\n/) { ns++; next }
            print $0 "\n" > rep
        }
        END { print ns + 0 > sup }' "$out/$t.err"
    n=0; [ -f "$out/$t.reports" ] && n=$(grep -cE "^($titles)" "$out/$t.reports")
    ns=$(cat "$out/$t.suppressed")
    gzip -f "$out/$t.err"  # tens of MB when the suppressed reports are many
    status=ok
    if [ "$rc" -eq 124 ]; then status="TIMEOUT after ${timeout_s}s"
    elif [ "$rc" -ne 0 ]; then status="FAILED (exit $rc)"
    elif [ "$n" -ne 0 ]; then status="REPORTS"
    fi
    [ "$status" = ok ] || failed=1
    total_reports=$((total_reports + n))
    line=$(printf '%-18s %5ss  %4s reports  %s' "$t" "$secs" "$n" "$status")
    [ "$ns" -eq 0 ] || line="$line  ($ns suppressed, see the banner)"
    echo "$line"
    [ "$status" = ok ] || { echo "  see $out/$t.err.gz and $t.out; first report:"; [ -f "$out/$t.reports" ] && sed -n '1,8s/^/    /p' "$out/$t.reports"; }
    summary="$summary
$line"
done
echo "---- oclgrind summary: $# program(s), $total_reports report(s)$summary"
[ "$failed" -eq 0 ] && echo "PASSED" || echo "FAILED"
exit "$failed"
