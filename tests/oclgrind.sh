#!/bin/sh
# The device test programs under Oclgrind's simulated device (out-of-bounds accesses, data races,
# uninitialised reads, OpenCL API misuse), on tiny shapes (EOS_TEST_TINY=1, tests/test_common.h).
# Usage: tests/oclgrind.sh BUILD_DIR [PROGRAM...]   (default: every program in ALL below)
# Exits non-zero on any Oclgrind report, a failing test or a timeout (OCLGRIND_TIMEOUT seconds
# per program, default 1800); prints per program the time and the number of reports, then a summary.
# ctest's test_oclgrind (so CI) runs the subset CI_SUBSET, 3-4 minutes on 2 idle cores; the whole
# list takes 16 and is run by hand: tests/oclgrind.sh build (EOS_TEST_FILTER=NAME runs one cmocka
# test of a program, EOS_TEST_SKIP=NAME leaves one out; OCLGRIND_LOGS=DIR puts the logs elsewhere,
# for two runs at once).
# Status (2026-12-02, `sh tests/oclgrind.sh build` on the 2-core development machine): every
# program in one run, 0 reports; with the fused Winograd tests, 22 min 47 s while ctest ran beside
# it (test_layers 515 s, test_resnet 231 s, test_train 191 s, test_oversample 266 s); before them,
# on an idle machine, 16 min 9 s (13 min 5 s before the direct16 and fused-epilogue tests): test_tensor 3 s, test_gemm 5 s, test_losses 0 s, test_ldam 1 s, test_knn
# 70 s, test_finetune 42 s, test_oversample 180 s, test_layers 321 s, test_resnet 157 s, test_train
# 187 s, test_runtime 1 s (warm kernel cache) and its API-error pass (the 2 expected reports). The same programs took over three hours before
# (test_oversample 1654 s, test_resnet 1452 s, test_train 1750 s, test_layers in two sittings at
# over 40 minutes, on the same machine under load): see "How" for the launch cost that was; tiny
# mode (below) and batch norm's reductions on the GPU paths (groups no wider than a row, not 256
# work-items over rows of 8 x 8) did the rest.
# Under Oclgrind every work-item of every launch is interpreted at -O0 with shadow memory for the
# checks, about 10^4 times slower than PoCL, so tiny mode cuts work more than coverage: test_train
# runs each device path of training once on batches of 4 (EOS_TEST_OCLGRIND=1 skips its tests of
# host behaviour: resume, files, NaN and memory stops, hundreds of steps there), test_resnet checks
# tiny PyTorch goldens (2 images of 8 x 8, tests/golden/make_resnet_golden.py --tiny; LDAM: 4
# images, make_resnet_ldam_golden.py --tiny), the 300-class tests take one step. test_pipeline is
# not in the list: its kernels are those of test_resnet, test_knn, test_oversample and test_finetune
# (its own device step, the embeddings written into a device tensor, is a clEnqueueCopyBuffer), and
# its whole pipelines on 32 x 32 images would take hours in the interpreter.
# How: the program runs with Oclgrind's runtime preloaded (what the `oclgrind` launcher does),
# behind tests/oclgrind_plug.c (liboclgrind_plug.so in the build's tests/), which gives a freed
# buffer's slot to a 1-byte plug at once: Oclgrind 21.10's uninitialised-memory shadow outlives a
# released buffer, and a new buffer in the same slot inherited it (a million false reports in
# test_knn, and unwritten memory read as written). It first kept every buffer alive instead, but
# the race detector clears a record per byte of every live buffer after every kernel, so a launch
# grew to a second whatever its size. Before the programs, tests/oclgrind_canary.c proves the
# checks are live: an unwritten buffer (also in a freed buffer's slot), an out-of-bounds write and
# a race must each be reported, and the reused-slot case must not be.
# Nothing is suppressed: any report fails the run. Kernels build with -cl-opt-disable: LLVM's
# optimiser emits `freeze` instructions that Oclgrind 21.10 does not know (a FATAL ERROR in
# eos_im2col, and wrong convolutions in test_layers at -O2); a kernel built without it once
# crashed Oclgrind in its uninitialised-value checker (test_runtime exited 255 in
# test_peak_wrong_kernel_caught: test_cache_hit_and_rebuild had unset EOS_CL_OPTIONS).
set -u
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [PROGRAM...]" >&2; exit 2; }
build=$(cd "$1" && pwd) || exit 2
shift
command -v oclgrind >/dev/null || { echo "oclgrind not found (Debian: apt-get install oclgrind)" >&2; exit 2; }
# Oclgrind's runtime library, found as its launcher finds it: ../lib/oclgrind beside the binary
ogbin=$(readlink -f "$(command -v oclgrind)")
oglib=$(dirname "$(dirname "$ogbin")")/lib/oclgrind
plug="$build/tests/liboclgrind_plug.so" canary="$build/tests/oclgrind_canary"
[ -f "$oglib/liboclgrind-rt.so" ] || { echo "$oglib/liboclgrind-rt.so not found (beside $ogbin)" >&2; exit 2; }
[ -f "$plug" ] && [ -x "$canary" ] || { echo "$plug or $canary missing: build the tests first" >&2; exit 2; }

ALL="test_tensor test_gemm test_losses test_ldam test_knn test_finetune test_oversample
     test_layers test_resnet test_train test_runtime"
CI_SUBSET="test_tensor test_gemm test_losses test_ldam test_knn test_finetune test_resnet test_runtime"
if [ $# -eq 0 ]; then set -- $ALL; elif [ "$1" = ci ]; then set -- $CI_SUBSET; fi

out=${OCLGRIND_LOGS:-$build/oclgrind-logs}  # the logs (two runs at once: one folder each)
mkdir -p "$out" "$build/test-tmp"
export EOS_TEST_TINY=1 EOS_TEST_OCLGRIND=1 EOS_CL_OPTIONS=-cl-opt-disable CMOCKA_MESSAGE_OUTPUT=STDOUT
# The automatic convolution choice takes panel (which runs every shape) without timing: timing a
# simulator means nothing, and it costs minutes there (three launches of every candidate per new
# shape, direction and batch; Oclgrind's device says it is a GPU, so tiled is a candidate, 12-90 s
# a launch). Every algorithm still runs where the tests force it (test_conv2d, test_conv_choices,
# test_conv2d_winograd, test_conv2d_tiled, test_gpu_launch_shapes).
export EOS_CONV_AUTO_SKIP=gemm,direct,winograd,tiled,direct16
export EOS_CACHE_DIR="$build/oclgrind-kernel-cache" EOS_TEST_TMP="$build/test-tmp"
timeout_s=${OCLGRIND_TIMEOUT:-1800}
titles='Invalid|Uninitialized|Controlflow|Read-write|Write-write|Oclgrind -|OCLGRIND FATAL|Work-group divergence|Work-item divergence|Unaligned|Oclgrind: [0-9]+ errors'

# grind API PROGRAM [ARG...]: PROGRAM under Oclgrind with the data-race and uninitialised-memory
# checks (and the API checks when API is 1), stdout and stderr to $out/NAME.out and .err
grind() {
    api=$1 name=$2; shift 2
    env OCLGRIND_DATA_RACES=1 OCLGRIND_UNINITIALIZED=1 OCLGRIND_CHECK_API="$api" OCLGRIND_MAX_ERRORS=100000000 \
        LD_LIBRARY_PATH="$oglib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
        LD_PRELOAD="$plug:$oglib/liboclgrind-rt.so${LD_PRELOAD:+:$LD_PRELOAD}" \
        timeout "$timeout_s" "$@" >"$out/$name.out" 2>"$out/$name.err"
}
# Oclgrind's reports are paragraphs: a title line (e.g. "Invalid read of size 4 at global memory
# address ...", "Read-write data race at ...", "Controlflow depends on uninitialized value",
# "Oclgrind - OpenCL runtime error detected", "OCLGRIND FATAL ERROR ...") then tab-indented details.
count() { grep -cE "^($titles)" "$out/$1.err"; }

# The canary: each check must fire on its case, and the reused-slot case must stay clean.
failed=0
for c in uninit:Uninitialized reused-unset:Uninitialized bounds:Invalid race:Write-write reused:; do
    case_=${c%%:*} want=${c#*:}
    grind 1 "canary-$case_" "$canary" "$case_"
    rc=$? n=$(count "canary-$case_")
    if [ "$rc" -ne 0 ]; then
        echo "canary $case_: FAILED (exit $rc), see $out/canary-$case_.err"; failed=1
    elif [ -z "$want" ] && [ "$n" -ne 0 ]; then
        echo "canary $case_: $n report(s) where none was expected (reused buffer slots), see $out/canary-$case_.err"; failed=1
    elif [ -n "$want" ] && ! grep -qE "^$want" "$out/canary-$case_.err"; then
        echo "canary $case_: Oclgrind did not report it (expected a \"$want...\" report): its checks are not live"; failed=1
    fi
done
[ "$failed" -eq 0 ] && echo "canary: the uninitialised, bounds and race checks fire; reused buffers stay clean" \
    || { echo "FAILED: Oclgrind's checks cannot be trusted here"; exit 1; }

# The API errors test_runtime provokes on purpose, one "Function|Error" a line: a kernel file that
# does not compile (test_kernel_dir_and_build_errors), a kernel name that does not exist
# (test_kernel_lookup). Those two tests run in a pass of their own, with every check on, where
# exactly these reports are expected (each at least once: the API check is live) and any other
# report fails; every other test of test_runtime runs in the main pass, where any report fails.
API_PROVOKED="test_kernel_*"
API_EXPECTED="clBuildProgram|CL_BUILD_PROGRAM_FAILURE
clCreateKernel|CL_INVALID_KERNEL_NAME"

total_reports=0 summary=""
# run_one NAME PROGRAM [ENV=VALUE...]: one pass of PROGRAM under every check; prints its line
run_one() {
    name=$1 prog=$2; shift 2
    start=$(date +%s)
    rm -f "$out/$name.reports" "$out/$name.err.gz"
    grind 1 "$name" env "$@" "$build/tests/$prog"
    rc=$?
    secs=$(( $(date +%s) - start ))
    awk -v RS= -v titles="$titles" '$0 ~ "^(" titles ")" { print $0 "\n" }' "$out/$name.err" >"$out/$name.reports"
    n=$(count "$name") expected=0 note=""
    if [ "$name" = test_runtime-api-errors ]; then
        # the expected API reports are counted apart; every one of them must appear
        expected=$(awk -v RS= -v want="$API_EXPECTED" 'BEGIN { split(want, w, "\n") }
            /^Oclgrind - OpenCL runtime error detected/ {
                f = $0; sub(/.*Function: */, "", f); sub(/[ \t\n].*/, "", f)
                e = $0; sub(/.*Error: */, "", e); sub(/[ \t\n].*/, "", e)
                for (i in w) if (w[i] == f "|" e) { c++; seen[i] = 1 }
            }
            END { for (i in w) if (!seen[i]) missing++; print (missing ? -1 : c + 0) }' "$out/$name.err")
        if [ "$expected" -lt 0 ]; then note=" (an expected API report is missing: the API check is not live)"
        else n=$((n - expected)); note=" (+$expected expected API reports)"; fi
    fi
    # tests/oclgrind_plug.c says on stderr when it had to fall back to keeping every buffer
    grep -q '^oclgrind_plug:' "$out/$name.err" && note="$note (slot plugs off: $(grep -m1 '^oclgrind_plug:' "$out/$name.err" | cut -c16-))"
    gzip -f "$out/$name.err"
    status=ok
    if [ "$rc" -eq 124 ]; then status="TIMEOUT after ${timeout_s}s"
    elif [ "$rc" -ne 0 ]; then status="FAILED (exit $rc)"
    elif [ "$expected" -lt 0 ]; then status="FAILED$note"
    elif [ "$n" -ne 0 ]; then status="REPORTS"
    fi
    [ "$status" = ok ] || failed=1
    total_reports=$((total_reports + n))
    line=$(printf '%-24s %5ss  %4s reports  %s' "$name" "$secs" "$n" "$status")
    [ "$status" = ok ] && line="$line$note"
    echo "$line"
    [ "$status" = ok ] || { echo "  see $out/$name.err.gz and $name.out; first report:"; sed -n '1,8s/^/    /p' "$out/$name.reports"; }
    summary="$summary
$line"
}

for t in "$@"; do
    if [ "$t" = test_runtime ]; then
        run_one test_runtime test_runtime EOS_TEST_SKIP="$API_PROVOKED"
        run_one test_runtime-api-errors test_runtime EOS_TEST_FILTER="$API_PROVOKED"
    else
        run_one "$t" "$t"
    fi
done
echo "---- oclgrind summary: $# program(s), $total_reports report(s)$summary"
[ "$failed" -eq 0 ] && echo "PASSED" || echo "FAILED"
exit "$failed"
