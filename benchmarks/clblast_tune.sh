#!/usr/bin/env bash
# Tune CLBlast's SGEMM kernel (Xgemm) for one OpenCL device with CLBlast's own tuner (Debian's
# clblast-utils) and keep the best parameters in EOS-CL's kernel cache, clblast-tuned.txt, which
# host/runtime/gemm.c applies through CLBlast's parameter override whenever it opens that device.
#   benchmarks/clblast_tune.sh [--platform P] [--device D] [--size 512] [--fraction 0.02] [--time 900]
# P and D are OpenCL platform and device indices as clblast_tuner_xgemm counts them (default 0 0).
# The tuner tries a fixed set of parameters, then a random fraction of the rest, and writes its
# best after each stage; --time stops it after that many seconds and keeps the best so far
# (the fixed set alone takes about 4 minutes at --size 128 on a 2-core CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
platform=0 device=0 size=512 fraction=0.02 limit=900
while (($#)); do
    case "$1" in
        --platform) platform="$2"; shift 2 ;;
        --device) device="$2"; shift 2 ;;
        --size) size="$2"; shift 2 ;;
        --fraction) fraction="$2"; shift 2 ;;
        --time) limit="$2"; shift 2 ;;
        *) echo "clblast_tune: unknown option $1" >&2; exit 2 ;;
    esac
done
command -v clblast_tuner_xgemm >/dev/null || { echo "clblast_tune: needs clblast_tuner_xgemm: apt-get install clblast-utils" >&2; exit 1; }
eos="${EOS_BIN:-build/eos}"
[ -x "$eos" ] || { echo "clblast_tune: $eos not built (run ./setup.sh)" >&2; exit 1; }
cache="$("$eos" cache | sed -n 's/^kernel cache: //p' | head -1 | sed 's/ (empty: not created yet)$//')"
case "$cache" in ""|off*) echo "clblast_tune: the kernel cache is off (EOS_CACHE_DIR=off): nowhere to keep the result" >&2; exit 1 ;; esac
mkdir -p "$cache"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
(cd "$work" && timeout "$limit" clblast_tuner_xgemm -platform "$platform" -device "$device" -precision 32 \
    -m "$size" -n "$size" -k "$size" -fraction "$fraction" -runs 1 > tuner.log 2>&1) ||
    echo "clblast_tune: the tuner stopped (time limit $limit s or an error); keeping its best so far"
grep -E '^\* (Found best|Best parameters)' "$work/tuner.log" || true
json="$(ls "$work"/clblast_xgemm_1_32.json 2>/dev/null || true)"
[ -n "$json" ] || { echo "clblast_tune: the tuner wrote no clblast_xgemm_1_32.json" >&2; exit 1; }
line="$(/usr/bin/python3 - "$json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
params = [p for p in j["best_parameters"].split() if not p.startswith("PRECISION=")]
print(j["device"].replace(" ", "_"), j["best_kernel"], " ".join(params), "# %s ms at %s^3" % (j["best_time"], j["arg_m"]))
PY
)"
dev="${line%% *}"
file="$cache/clblast-tuned.txt"
{ [ -f "$file" ] && grep -v "^$dev " "$file" || true; echo "${line%% # *}"; } > "$file.tmp" && mv "$file.tmp" "$file"
echo "clblast_tune: ${line#* }"
echo "clblast_tune: kept in $file; EOS-CL applies it whenever it opens $dev (EOS_CLBLAST_TUNED=0 turns it off)"
