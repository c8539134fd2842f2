#!/bin/sh
# The `eos` CLI as a user meets it: listings, exit codes and the messages of bad input.
# usage: test_cli.sh path/to/eos
eos="$1"
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

expect "devices lists a device" 0 '^\* ?[0-9]+ +(CPU|GPU)' "$eos" devices
expect "devices has the columns" 0 'type +device .*CUs +global mem +max WG +OpenCL C +driver' "$eos" devices
expect "bad --device is an error" 1 "no OpenCL device matches --device 'no-such-device-xyz'" "$eos" check --device no-such-device-xyz
expect "bad --device lists the devices" 1 'Devices found:' "$eos" check --device no-such-device-xyz
expect "out-of-range index is an error" 1 "no OpenCL device matches --device '99'" "$eos" check --device 99
expect "--device cpu works" 0 'check passed' "$eos" check --device cpu
expect "--device=0 works" 0 'check passed' "$eos" check --device=0
expect "missing --device value" 2 '--device needs a value' "$eos" check --device
expect "unknown option" 2 "unknown option '--bogus'" "$eos" check --bogus
expect "unknown command" 2 "unknown command 'frobnicate'" "$eos" frobnicate
expect "check --help" 0 'usage: eos check' "$eos" check --help
expect "help lists commands" 0 'devices.*' "$eos" --help
expect "cache shows the folder" 0 "kernel cache: $EOS_CACHE_DIR" "$eos" cache
expect "EOS_DEVICE is honoured" 1 "no OpenCL device matches" env EOS_DEVICE=no-such-device-xyz "$eos" check

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
