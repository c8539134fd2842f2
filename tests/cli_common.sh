# Shared helpers of the shell tests (test_cli.sh, test_resume.sh, test_reliability_*.sh):
# counters, `expect`, and the closing "N passed, N failed" line. Source it after setting $eos.
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "[       OK ] $1"; }
bad() { fail=$((fail + 1)); echo "[  FAILED  ] $1"; printf '%s\n' "$2" | sed 's/^/    /'; }

# expect NAME WANT_RC REGEX CMD...: run CMD, check its exit code and that its output matches REGEX
expect() {
    name=$1 want_rc=$2 regex=$3
    shift 3
    out=$("$@" 2>&1)
    rc=$?
    if [ "$rc" -ne "$want_rc" ]; then bad "$name" "exit code $rc, expected $want_rc; output:
$out"
    elif ! printf '%s\n' "$out" | grep -Eq -- "$regex"; then bad "$name" "output does not match /$regex/:
$out"
    else ok "$name"; fi
}

# tmpdir PREFIX: a fresh folder under the tests' temp folder
tmpdir() { mktemp -d "${EOS_TEST_TMP:-/tmp}/$1-XXXXXX" 2>/dev/null || mktemp -d; }

# finish: the closing line, and the exit status
finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
