#!/usr/bin/env bash
# Data-parallel scaling on this machine (issue 19): `eos train` of a ResNet on 1 and on 2 MPI
# ranks, images/s and efficiency = rate(2) / (2 rate(1)); then a projection, labelled as one, of
# what the gradient allreduce costs across nodes: its volume per step, counted from the model,
# against the step's compute measured here, on 1, 10 and 100 Gbit/s links.
#   benchmarks/scale.sh [--arch resnet32] [--batch 64] [--steps 4] [--rounds 3] [--threads 1]
# A rate is the images of STEPS steps over the time they add to a run (a run of 1 + STEPS steps
# minus a run of 1 step: start-up, loading and the first step's kernel builds cancel out); the
# rounds alternate 1 and 2 ranks so the machine's noise hits both alike, and the medians are
# printed. Every rank gets --threads PoCL threads: on a 2-core machine, 1 each keeps 2 ranks
# on their own core. One convolution algorithm (panel) for every run, so that no run times the
# algorithms in its first step. Needs a build with MPI (EOS_MPI) and mpirun.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=resnet32 batch=64 steps=4 rounds=3 threads=1
while (($#)); do
    case "$1" in
        --arch) arch="$2"; shift 2 ;;
        --batch) batch="$2"; shift 2 ;;
        --steps) steps="$2"; shift 2 ;;
        --rounds) rounds="$2"; shift 2 ;;
        --threads) threads="$2"; shift 2 ;;
        *) echo "scale: unknown option $1" >&2; exit 2 ;;
    esac
done
eos="${EOS_BIN:-build/eos}"
[ -x "$eos" ] || { echo "scale: $eos not built (run ./setup.sh)" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "scale: needs mpirun: apt-get install openmpi-bin libopenmpi-dev, then rebuild" >&2; exit 1; }
export POCL_CPU_MAX_CU_NUM="$threads" POCL_MAX_PTHREAD_COUNT="$threads" EOS_CONV_ALGO=panel
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT

# enough images for 1 + STEPS batches in one epoch, 10 classes of generated 32 x 32 images
per_class=$(( (batch * (steps + 1) + 9) / 10 + 1 ))
"$eos" synth --out "$work/data" --classes 10 --train-per-class "$per_class" --test-per-class 1 >/dev/null
args=(--data "$work/data" --arch "$arch" --imbalance none --batch "$batch" --epochs 1 --seed 1 --quiet --force)
run() {  # run RANKS STEPS: seconds of the whole command
    local ranks=$1 n=$2 t0 t1
    local cmd=("$eos" train "${args[@]}" --max-steps "$n" --out "$work/run$ranks")
    t0=$(date +%s.%N)
    if [ "$ranks" -eq 1 ]; then "${cmd[@]}" >/dev/null
    else mpirun -np "$ranks" --oversubscribe --allow-run-as-root -x POCL_CPU_MAX_CU_NUM -x POCL_MAX_PTHREAD_COUNT \
             -x EOS_CONV_ALGO -x EOS_CACHE_DIR "${cmd[@]}" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
    fi
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
}
# validate first: a 2-rank run trains and writes its model (and builds the kernels once)
run 2 1 >/dev/null
[ -f "$work/run2/model.safetensors" ] || { echo "scale: the 2-rank run wrote no model" >&2; exit 1; }
run 1 1 >/dev/null

echo "# scale: $arch, global batch $batch, $steps timed steps, $threads PoCL thread(s) per rank, $(nproc) cores"
echo "# device: $("$eos" devices 2>/dev/null | grep -m1 -iE 'cpu|gpu' | sed 's/^ *//')"
r1s=() r2s=()
for ((r = 1; r <= rounds; r++)); do
    for ranks in 1 2; do
        short=$(run "$ranks" 1)
        long=$(run "$ranks" $((steps + 1)))
        rate=$(echo "$batch * $steps / ($long - $short)" | bc -l)
        printf 'round %d  ranks %d  %d steps in %.2f s  %.1f images/s\n' "$r" "$ranks" "$steps" "$(echo "$long - $short" | bc -l)" "$rate"
        if [ "$ranks" -eq 1 ]; then r1s+=("$rate"); else r2s+=("$rate"); fi
    done
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
m1=$(median "${r1s[@]}") m2=$(median "${r2s[@]}")
printf 'median  1 rank %.1f images/s  2 ranks %.1f images/s  speed-up %.2f  efficiency %.2f\n' "$m1" "$m2" \
    "$(echo "$m2 / $m1" | bc -l)" "$(echo "$m2 / (2 * $m1)" | bc -l)"

# The projection. The allreduce sums every learnable gradient (not the batch-norm statistics):
# their count, from the model the 2-rank run wrote.
params=$(python3 - "$work/run2/model.safetensors" <<'EOF'
import json, struct, sys
with open(sys.argv[1], "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    h = json.loads(f.read(n))
total = 0
for name, t in h.items():
    if name == "__metadata__" or name.endswith(("running_mean", "running_var", "num_batches_tracked")):
        continue
    k = 1
    for d in t["shape"]:
        k *= d
    total += k
print(total)
EOF
)
python3 - "$params" "$m1" "$batch" <<'EOF'
import sys
p, rate1, batch = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
vol = 4.0 * p  # float32 gradients
step = batch / rate1  # one step of the global batch on one rank of this machine
print(f"projection (not a measurement): {p} learnable parameters, allreduce volume {vol / 1e6:.2f} MB per step;")
print(f"  a ring allreduce moves 2(N-1)/N x volume per rank; compute of one {batch}-image step on one rank here: {step:.2f} s,")
print(f"  on N ranks of this speed {step:.2f}/N s; the allreduce follows the backward pass (not overlapped), so it adds to a step")
print(f"  {'link':>10} {'N':>4} {'allreduce':>11} {'compute':>9} {'efficiency':>11}")
for gbit in (1, 10, 100):
    for n in (2, 8, 64):
        comm = 2 * (n - 1) / n * vol * 8 / (gbit * 1e9)
        comp = step / n
        print(f"  {gbit:>6} Gb/s {n:>4} {comm * 1e3:>8.1f} ms {comp * 1e3:>6.0f} ms {comp / (comp + comm):>11.3f}")
EOF
