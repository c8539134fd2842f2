#!/bin/sh
# Data-parallel training under mpirun (issue 19, host/runtime/dist.c): 2 ranks against one process on a
# tiny generated dataset. Registered in ctest only in a build with MPI (EOS_MPI).
# usage: test_mpi.sh path/to/eos path/to/mpirun
eos="$1"
mpirun="${2:-mpirun}"
. "$(dirname "$0")/cli_common.sh"
diff_py="$(dirname "$0")/safetensors_diff.py"

# both ranks share this machine's one PoCL CPU device: one thread each, or 2 ranks x all cores
# thrash the shared CPUs (PoCL 3+ reads POCL_CPU_MAX_CU_NUM, older ones POCL_MAX_PTHREAD_COUNT)
export POCL_CPU_MAX_CU_NUM=1 POCL_MAX_PTHREAD_COUNT=1
# one convolution algorithm for every run and rank: the default choice is timed per layer shape
# (and per batch: B here, B/2 on a rank), so two runs may round differently
export EOS_CONV_ALGO=panel
# --oversubscribe: more ranks than cores is fine here; root (CI containers) needs its flag
mpi() { timeout 300 "$mpirun" -np 2 --oversubscribe --allow-run-as-root -x POCL_CPU_MAX_CU_NUM -x POCL_MAX_PTHREAD_COUNT \
            -x EOS_CONV_ALGO -x EOS_CACHE_DIR "$@"; }

fx=$(tmpdir mpi)
"$eos" synth --out "$fx/syn" --classes 4 --train-per-class 32 --test-per-class 4 >/dev/null || bad "synth fixture" ""
# batch 31 of 128 images: shards of 15 and 16 rows (unequal weights) and a last batch of 4 (2 + 2)
args="--data $fx/syn --arch resnet8 --imbalance none --batch 31 --seed 7 --quiet"

# --sync-bn: 2 ranks x ~B/2 against one process with batch B, after one epoch (5 steps).
# Tolerance |got - want| <= 1e-5 + 1e-4 |want|: the two runs differ only in float summation
# order (each rank sums its 15-16 rows, then the ranks' weighted sums add up; BN's sums merge
# in double), a few ulp per step (float eps 6e-8) that training then amplifies: measured about
# 1% of this tolerance after these 5 steps, 76% after 10 (hence a few steps, as the issue asks).
# Per-rank statistics (no --sync-bn) miss it by ~3000x: the comparison can fail.
expect "one process, batch 31" 0 'wrote' "$eos" train $args --epochs 1 --out "$fx/one"
expect "2 ranks --sync-bn" 0 'wrote .*model.safetensors' mpi "$eos" train $args --epochs 1 --sync-bn --out "$fx/sync"
expect "2 ranks --sync-bn = one process (weights, BN statistics)" 0 'worst' \
    python3 "$diff_py" "$fx/sync/model.safetensors" "$fx/one/model.safetensors" 1e-5 1e-4
expect "2 ranks without --sync-bn" 0 'wrote' mpi "$eos" train $args --epochs 1 --out "$fx/ddp"
expect "per-rank BN statistics differ from the global batch's (the comparison can fail)" 1 'worst' \
    python3 "$diff_py" "$fx/ddp/model.safetensors" "$fx/one/model.safetensors" 1e-5 1e-4
mpi "$eos" train $args --epochs 1 --out "$fx/quiet" > "$fx/quiet.txt" 2>&1
expect "only rank 0 prints" 0 '^1$' grep -c '^wrote' "$fx/quiet.txt"

# without --sync-bn the loss curves agree: each epoch's mean training loss within 15% of one
# process's (per-rank BN normalises by ~15 images' statistics instead of 31: sampling noise of
# the order of 1/sqrt(15), measured below 10% on this data)
expect "one process, 2 epochs" 0 'wrote' "$eos" train $args --epochs 2 --out "$fx/one2"
expect "2 ranks, 2 epochs" 0 'wrote' mpi "$eos" train $args --epochs 2 --out "$fx/ddp2"
expect "loss curves agree within 15%" 0 'agree' awk -F, 'FNR == 1 { next } NR == FNR { a[$1] = $3; next }
    { d = $3 - a[$1]; if (d < 0) d = -d; if (d > 0.15 * a[$1]) { print "epoch " $1 ": " $3 " vs " a[$1]; bad = 1 } }
    END { if (!bad) print "agree" ; exit bad }' "$fx/one2/train_log.csv" "$fx/ddp2/train_log.csv"

# the seed makes a 2-rank run reproducible: the same files, bit for bit (the log's seconds aside)
expect "2 ranks again" 0 'wrote' mpi "$eos" train $args --epochs 2 --out "$fx/ddp2b"
expect "2-rank runs are identical (model)" 0 '' cmp "$fx/ddp2/model.safetensors" "$fx/ddp2b/model.safetensors"
expect "2-rank runs are identical (log)" 0 '' sh -c "cut -d, -f1-7 '$fx/ddp2/train_log.csv' > '$fx/a.csv' &&
    cut -d, -f1-7 '$fx/ddp2b/train_log.csv' > '$fx/b.csv' && cmp '$fx/a.csv' '$fx/b.csv'"

# resuming with another number of ranks is refused, naming both (the final evaluation is left)
rm -f "$fx/one2/metrics.json" "$fx/ddp2/metrics.json"
expect "resume a 1-process run on 2 ranks: refused" 1 'run on 1 MPI rank; this one has 2' \
    mpi "$eos" train --resume "$fx/one2" --quiet
expect "resume a 2-rank run on 1 process: refused" 1 'run on 2 MPI ranks; this one has 1' \
    "$eos" train --resume "$fx/ddp2" --quiet
expect "resume a 2-rank run on 2 ranks" 0 'wrote' mpi "$eos" train --resume "$fx/ddp2" --quiet

# Ctrl-C on mpirun: every rank stops after the same step, rank 0 leaves a whole checkpoint, and
# --resume on 2 ranks ends with the weights of the uninterrupted 2-rank run, bit for bit
long="--data $fx/syn --arch resnet8 --imbalance none --batch 16 --seed 3 --quiet --epochs 8"
expect "2 ranks, uninterrupted" 0 'wrote' mpi "$eos" train $long --out "$fx/full"
"$mpirun" -np 2 --oversubscribe --allow-run-as-root -x POCL_CPU_MAX_CU_NUM -x POCL_MAX_PTHREAD_COUNT -x EOS_CONV_ALGO \
    -x EOS_CACHE_DIR "$eos" train $long --out "$fx/cut" > "$fx/cut.txt" 2>&1 &
pid=$!
i=0
while [ ! -f "$fx/cut/checkpoint.safetensors" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
kill -INT $pid
wait $pid
cut_rc=$?
expect "Ctrl-C on mpirun stops the run (exit $cut_rc) with its state saved" 0 'the state is saved in' cat "$fx/cut.txt"
expect "both ranks stopped after the same step" 0 '^2 ranks, 1 place$' sh -c "
    echo \$(grep -c 'interrupted in epoch' '$fx/cut.txt') ranks, \
        \$(grep -o 'interrupted in epoch [0-9]* of [0-9]* after step [0-9]*' '$fx/cut.txt' | sort -u | wc -l) place"
expect "resume the interrupted run on 2 ranks" 0 'wrote' mpi "$eos" train --resume "$fx/cut" --quiet
expect "interrupted and resumed = uninterrupted (2 ranks)" 0 '' cmp "$fx/full/model.safetensors" "$fx/cut/model.safetensors"

# a rank that fails ends the job with a message, not a hang (rank 1 cannot open its device)
expect "a failing rank ends the job" '1' 'rank 1 of 2 failed' timeout 300 "$mpirun" --oversubscribe --allow-run-as-root \
    -x POCL_CPU_MAX_CU_NUM -x EOS_CONV_ALGO -np 1 "$eos" train $args --epochs 1 --out "$fx/die" : \
    -np 1 env EOS_DEVICE=no-such-device "$eos" train $args --epochs 1 --out "$fx/die"
expect "other commands refuse several ranks" 2 'only eos train, embed, resample and pipeline run across MPI ranks' mpi "$eos" check
rm -rf "$fx"
finish
