#!/usr/bin/env bash
# EOS-CL against its peers on the same machine: `eos bench` against PyTorch (CPU, 2 threads) for
# train and infer, against scikit-learn + numpy for knn and eos (benchmarks/peer_torch.py), the
# two alternating ROUNDS times so the machine's noise hits both alike. Prints every line, then one
# table of medians and the speed ratio (EOS-CL speed / peer speed: above 1 means EOS-CL is faster).
#   benchmarks/compare.sh [ROUNDS] [--workloads train,infer,knn,eos] [--arch resnet32] [--batch 128]
#                         [--steps 5] [--device SPEC] [--emb FILE.csv]
# The kNN workloads use one embedding file for both sides (--emb, else a generated one).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=2
if [[ "${1:-}" =~ ^[0-9]+$ ]]; then rounds="$1"; shift; fi
workloads="train,infer,knn,eos" arch=resnet32 batch=128 steps=5 device="" emb=""
while (($#)); do
    case "$1" in
        --workloads) workloads="$2"; shift 2 ;;
        --arch) arch="$2"; shift 2 ;;
        --batch) batch="$2"; shift 2 ;;
        --steps) steps="$2"; shift 2 ;;
        --device) device="$2"; shift 2 ;;
        --emb) emb="$2"; shift 2 ;;
        *) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
eos="${EOS_BIN:-build/eos}"
[ -x "$eos" ] || { echo "compare.sh: $eos not built (run ./setup.sh)" >&2; exit 1; }
export POCL_AFFINITY="${POCL_AFFINITY:-1}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
if [ -z "$emb" ] && [[ "$workloads" =~ knn|eos ]]; then
    emb="$tmp/emb.csv"
    /usr/bin/python3 - "$emb" <<'PY'
import sys
import numpy as np
raw = sum(0.01 ** (c / 9) for c in range(10))
counts = [max(2, int(12406 * 0.01 ** (c / 9) / raw)) for c in range(10)]
counts[0] += max(0, 12406 - sum(counts))
rng = np.random.default_rng(7)
y = np.concatenate([np.full(n, c) for c, n in enumerate(counts)])
x = rng.normal(size=(len(y), 64)).astype(np.float32)
for c in range(10):
    x[y == c, c::10] += 3.0
with open(sys.argv[1], "w") as f:
    f.write("label," + ",".join(f"f{i}" for i in range(64)) + "\n")
    for yi, xi in zip(y, x):
        f.write(f"{yi}," + ",".join(f"{v:.6g}" for v in xi) + "\n")
PY
fi
dev=(); [ -n "$device" ] && dev=(--device "$device")
log="$tmp/log"
for r in $(seq "$rounds"); do
    echo "# round $r of $rounds"
    for w in ${workloads//,/ }; do
        case "$w" in
            train|infer)
                "$eos" bench "$w" --arch "$arch" --batch "$batch" --steps "$steps" "${dev[@]}" | tee -a "$log"
                /usr/bin/python3 benchmarks/peer_torch.py "$w" --arch "$arch" --batch "$batch" --steps "$steps" --threads 2 | tee -a "$log" ;;
            knn|eos)
                "$eos" bench "$w" --emb "$emb" --steps "$steps" "${dev[@]}" | tee -a "$log"
                /usr/bin/python3 benchmarks/peer_torch.py "$w" --emb "$emb" --steps "$steps" --threads 2 | tee -a "$log" ;;
            *) echo "compare.sh: unknown workload $w" >&2; exit 2 ;;
        esac
    done
done
echo
echo "medians over $rounds rounds ($(date -u +%Y-%m-%d), $(nproc) cores):"
printf "  %-6s %16s %16s %8s\n" workload eos-cl peer ratio
for w in ${workloads//,/ }; do
    awk -v w="$w" '
        function med(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
                                      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
        $2 == w && ($1 == "eos-cl" || $1 == "pytorch" || $1 == "sklearn") {
            v = 0
            for (i = 1; i <= NF; i++) {
                if ($(i) == "images/s") v = $(i - 1)
                if ($(i) == "median") { v = $(i + 1); sub(/ms/, "", v); v = 1000 / v }
            }
            if ($1 == "eos-cl") e[++ne] = v; else p[++np] = v
        }
        END {
            if (!ne || !np) { printf "  %-6s (no result)\n", w; exit }
            unit = (w == "train" || w == "infer") ? " img/s" : " calls/s"
            a = med(e, ne); b = med(p, np)
            printf "  %-6s %10.2f%s %10.2f%s %7.3fx\n", w, a, unit, b, unit, a / b
        }' "$log"
done
