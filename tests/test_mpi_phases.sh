#!/bin/sh
# Phases 2 and 3 under mpirun (issue 19, host/runtime/dist.c): eos embed, eos resample and eos pipeline
# on 2 ranks against one process, file for file; rank 0 alone writes; every rank takes rank 0's
# convolution choices. Registered in ctest only in a build with MPI (EOS_MPI).
# usage: test_mpi_phases.sh path/to/eos path/to/mpirun
eos="$1"
mpirun="${2:-mpirun}"
. "$(dirname "$0")/cli_common.sh"

# one PoCL thread per rank (both ranks share this machine's CPU device); one convolution
# algorithm, so that the one-process runs and the ranks compute alike (the default choice is
# timed, and a timing may pick another algorithm from one run to the next)
export POCL_CPU_MAX_CU_NUM=1 POCL_MAX_PTHREAD_COUNT=1 EOS_CONV_ALGO=panel
mpiopts="--oversubscribe --allow-run-as-root -x POCL_CPU_MAX_CU_NUM -x POCL_MAX_PTHREAD_COUNT"
mpi() { timeout 300 "$mpirun" -np 2 $mpiopts -x EOS_CONV_ALGO -x EOS_CACHE_DIR -x EOS_KNN_ALGO "$@"; }
# mpirun -x warns about a variable that is not set: EOS_KNN_ALGO is set, empty (the default)
export EOS_KNN_ALGO=

fx=$(tmpdir mpiph)
"$eos" synth --out "$fx/syn" --classes 4 --train-per-class 40 --test-per-class 10 >/dev/null || bad "synth fixture" ""
"$eos" train --data "$fx/syn" --arch resnet8 --imbalance none --batch 16 --epochs 1 --max-steps 1 --quiet \
    --out "$fx/m" >/dev/null || bad "model fixture" ""
model="$fx/m/model.safetensors"

# same FILES... in folders A and B, byte for byte
same() {
    a=$1 b=$2
    shift 2
    for f in "$@"; do cmp "$a/$f" "$b/$f" || return 1; done
    echo identical
}

# eos embed: --batch 16 cuts 160 training images into 10 batches, 5 a rank (the one-process
# run's own batches, gathered); with the default batch 256 there is one batch, which both ranks
# run (fewer batches than ranks). The embedding gap's kNN splits its queries too.
emb="train_emb.csv test_emb.csv embed_metrics.json"
eargs="--model $model --data $fx/syn --imbalance none --quiet"
expect "embed, one process" 0 'wrote' "$eos" embed $eargs --batch 16 --out "$fx/e1"
expect "embed, 2 ranks" 0 'wrote' mpi "$eos" embed $eargs --batch 16 --out "$fx/e2"
expect "embed: 2 ranks = one process (embeddings, gap), bit for bit" 0 identical same "$fx/e1" "$fx/e2" $emb
expect "embed, one batch, one process" 0 'wrote' "$eos" embed $eargs --out "$fx/e3"
expect "embed, one batch, 2 ranks" 0 'wrote' mpi "$eos" embed $eargs --out "$fx/e4"
expect "embed with fewer batches than ranks = one process" 0 identical same "$fx/e3" "$fx/e4" $emb
mpi "$eos" embed $eargs --batch 16 --out "$fx/e5" > "$fx/e5.txt" 2>&1
expect "embed: only rank 0 prints" 0 '^1$' grep -c '^wrote .*embed_metrics.json' "$fx/e5.txt"
# rank 1 is given another --out: it must stay empty (rank 0 alone writes)
expect "embed: rank 1 writes nothing" 0 '^absent$' sh -c "timeout 300 '$mpirun' $mpiopts -x EOS_CONV_ALGO -x EOS_CACHE_DIR \
    -np 1 '$eos' embed $eargs --batch 16 --out '$fx/w0' : -np 1 '$eos' embed $eargs --batch 16 --out '$fx/w1' >/dev/null 2>&1 &&
    cmp -s '$fx/w0/train_emb.csv' '$fx/e1/train_emb.csv' && { [ -e '$fx/w1' ] && echo present || echo absent; }"

# eos resample: 2100 rows of 8 features in 3 classes (1470, 420, 210). Every rank draws the
# same rows from the same generator; the kNN's queries are split (rank 0 1056, rank 1 1044 on
# the fused CPU path; cut at the 1024-row query tile on the GEMM path) and gathered.
awk 'BEGIN { srand(5); print "label,f0,f1,f2,f3,f4,f5,f6,f7"
    for (i = 0; i < 2100; i++) { c = i % 10 < 7 ? 0 : (i % 10 < 9 ? 1 : 2); printf "%d", c
        for (j = 0; j < 8; j++) printf ",%.5f", rand() + 0.3 * c; print "" } }' > "$fx/x.csv"
for m in eos eos-ref smote borderline adasyn ros; do
    "$eos" resample --in "$fx/x.csv" --out "$fx/r1-$m.csv" --method $m --seed 3 >/dev/null 2>&1 || bad "resample $m, one process" ""
    expect "resample --method $m, 2 ranks" 0 'wrote' mpi "$eos" resample --in "$fx/x.csv" --out "$fx/r2-$m.csv" --method $m --seed 3
    expect "resample --method $m: 2 ranks = one process, bit for bit" 0 '' cmp "$fx/r1-$m.csv" "$fx/r2-$m.csv"
done
EOS_KNN_ALGO=gemm mpi "$eos" resample --in "$fx/x.csv" --out "$fx/g2.csv" --method eos --seed 3 >/dev/null 2>&1
EOS_KNN_ALGO=gemm "$eos" resample --in "$fx/x.csv" --out "$fx/g1.csv" --method eos --seed 3 >/dev/null 2>&1
expect "resample on the GEMM kNN path: 2 ranks = one process" 0 '' cmp "$fx/g1.csv" "$fx/g2.csv"
expect "resample: rank 1 writes nothing" 0 '^absent$' sh -c "timeout 300 '$mpirun' $mpiopts -x EOS_CONV_ALGO -x EOS_CACHE_DIR \
    -np 1 '$eos' resample --in '$fx/x.csv' --out '$fx/w0.csv' --seed 3 : -np 1 '$eos' resample --in '$fx/x.csv' --out '$fx/w1.csv' --seed 3 \
    >/dev/null 2>&1 && cmp -s '$fx/w0.csv' '$fx/r1-eos.csv' && { [ -e '$fx/w1.csv' ] && echo present || echo absent; }"
expect "resample: an existing --out is refused on every rank" 1 'exists' mpi "$eos" resample --in "$fx/x.csv" --out "$fx/r2-eos.csv"

# eos pipeline end to end on 2 ranks: phase 1 trains data parallel (its weights are not one
# process's: per-rank batch norm), so phases 2-3 are checked against one process run on its
# phase-1 model: 300 per class keep 379 long-tailed images, 2 batches of the pipeline's 256
"$eos" synth --out "$fx/syn3" --classes 4 --train-per-class 300 --test-per-class 10 >/dev/null || bad "synth 300" ""
pargs="--data $fx/syn3 --profile quick --epochs 1 --max-steps 1 --methods eos,smote,ros,none --quiet"
expect "pipeline, 2 ranks" 0 'ce \+ eos +[0-9.]+' mpi "$eos" pipeline $pargs --out "$fx/p2"
expect "pipeline, one process" 0 'ce \+ eos +[0-9.]+' "$eos" pipeline $pargs --out "$fx/p1"
expect "pipeline: 2 ranks write the files of one process" 0 '^same list$' sh -c "
    (cd '$fx/p1' && find . | sort) > '$fx/l1' && (cd '$fx/p2' && find . | sort) > '$fx/l2' && cmp -s '$fx/l1' '$fx/l2' && echo same list"
"$eos" embed --model "$fx/p2/phase1/model.safetensors" --data "$fx/syn3" --imbalance exp:100 --quiet --out "$fx/pe" \
    >/dev/null || bad "embed the pipeline's model" ""
expect "pipeline's phase-2 embeddings on 2 ranks = eos embed of its model, one process" 0 identical \
    same "$fx/pe" "$fx/p2/embeddings" train_emb.csv test_emb.csv
expect "pipeline: rank 1 writes nothing" 0 '^absent$' sh -c "timeout 300 '$mpirun' $mpiopts -x EOS_CONV_ALGO -x EOS_CACHE_DIR \
    -np 1 '$eos' pipeline $pargs --out '$fx/q0' : -np 1 '$eos' pipeline $pargs --out '$fx/q1' >/dev/null 2>&1 &&
    [ -f '$fx/q0/summary.json' ] && { [ -e '$fx/q1' ] && echo present || echo absent; }"

# Every rank takes rank 0's convolution choices: rank 0 reads a conv-algos.txt that says gemm
# for every layer, rank 1 one that says panel (two kernel caches). The weights must be those of
# a run where both ranks read gemm; with each rank on its own choice they differ (the two
# algorithms round differently, checked last).
unset EOS_CONV_ALGO
targs="--data $fx/syn --arch resnet8 --imbalance none --batch 16 --seed 7 --quiet --epochs 1 --max-steps 2"
for c in X A B; do
    if [ -n "$EOS_CACHE_DIR" ] && [ -d "$EOS_CACHE_DIR" ]; then cp -r "$EOS_CACHE_DIR" "$fx/cache$c"; else mkdir "$fx/cache$c"; fi
    rm -f "$fx/cache$c/conv-algos.txt"
done
EOS_CACHE_DIR="$fx/cacheX" mpi "$eos" train $targs --out "$fx/t0" >/dev/null 2>&1 || bad "timed conv choices" ""
sed '2,$s/ [a-z0-9]*$/ gemm/' "$fx/cacheX/conv-algos.txt" > "$fx/cacheA/conv-algos.txt"
sed '2,$s/ [a-z0-9]*$/ panel/' "$fx/cacheX/conv-algos.txt" > "$fx/cacheB/conv-algos.txt"
two() { timeout 300 "$mpirun" $mpiopts -np 1 env EOS_CACHE_DIR="$fx/cache$1" "$eos" train $targs --out "$fx/$3" : \
    -np 1 env EOS_CACHE_DIR="$fx/cache$2" "$eos" train $targs --out "$fx/$3"; }
expect "conv choices: both ranks read gemm" 0 '' two A A tAA
expect "conv choices: rank 0 reads gemm, rank 1 panel" 0 '' two A B tAB
expect "conv choices: rank 1 takes rank 0's (weights identical)" 0 '' cmp "$fx/tAA/model.safetensors" "$fx/tAB/model.safetensors"
expect "conv choices: both ranks read panel" 0 '' two B B tBB
expect "panel and gemm round differently (the check above can fail)" 1 '' sh -c "
    tail -c 4096 '$fx/tAA/model.safetensors' > '$fx/a.bin'; tail -c 4096 '$fx/tBB/model.safetensors' > '$fx/b.bin'; cmp -s '$fx/a.bin' '$fx/b.bin'"
rm -rf "$fx"
finish
