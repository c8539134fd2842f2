#!/bin/sh
# `eos train` interrupted for real: SIGINT to a running process, resume, and the same final
# weights as the uninterrupted run, bit for bit; a second Ctrl-C exits at once without harming
# the last checkpoint; SIGTERM; and the refusals (other settings, damaged checkpoint, existing
# results, not enough device memory).
# usage: test_resume.sh path/to/eos
eos="$1"
. "$(dirname "$0")/cli_common.sh"

fx=$(mktemp -d "${EOS_TEST_TMP:-/tmp}/resume-cli-XXXXXX" 2>/dev/null || mktemp -d)
"$eos" synth --out "$fx/syn" --classes 4 --train-per-class 40 --test-per-class 8 >/dev/null || { echo "synth failed"; exit 1; }
# 3 epochs of 10 steps of a resnet8 on 32 x 32 images (crops and flips on), a few seconds
train() { "$eos" train --data "$fx/syn" --arch resnet8 --epochs 3 --batch 16 --imbalance none --seed 3 --quiet "$@"; }

expect "uninterrupted run" 0 'wrote .*checkpoint.safetensors' train --out "$fx/a"

# start a run in the background, wait for its first checkpoint (end of epoch 1), then send signals
# start_run DIR: sets $pid; run_wait: waits for it, sets $rc
start_run() {
    # eos itself in the background (not a function: $! must be its pid); a shell without job
    # control starts it with SIGINT ignored, which eos train overrides while it trains
    "$eos" train --data "$fx/syn" --arch resnet8 --epochs 3 --batch 16 --imbalance none --seed 3 --quiet --out "$1" \
        >"$1.out" 2>"$1.err" &
    pid=$!
    i=0
    while [ ! -f "$1/checkpoint.safetensors" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
}
run_wait() { wait "$pid"; rc=$?; }

# 1. Ctrl-C: the run saves its state after the current step and exits 130; resume ends where the
#    uninterrupted run ended
start_run "$fx/b"
kill -INT "$pid"
run_wait
if [ "$rc" -eq 130 ] && grep -q 'continue with: eos train --resume' "$fx/b.err"; then ok "SIGINT stops with 130 and says how to resume"
else bad "SIGINT stops with 130 and says how to resume" "exit code $rc; stderr:
$(cat "$fx/b.err")"; fi
expect "interrupted run is refused without --resume or --force" 1 'holds an interrupted run .*--resume' train --out "$fx/b"
expect "resume with other settings is refused" 1 'belongs to another run: batch 16 in the checkpoint, 8 now' "$eos" train --resume "$fx/b" --batch 8
expect "--resume and --force together" 2 'give one of them' "$eos" train --resume "$fx/b" --force
expect "resume" 0 'resuming .*checkpoint.safetensors at epoch' "$eos" train --resume "$fx/b" --quiet
expect "resumed model = uninterrupted model, bit for bit" 0 '' cmp "$fx/a/model.safetensors" "$fx/b/model.safetensors"
expect "resumed log = uninterrupted log" 0 '' sh -c "cut -d, -f1-7 '$fx/a/train_log.csv' > '$fx/a.log' && cut -d, -f1-7 '$fx/b/train_log.csv' | cmp - '$fx/a.log'"
expect "resume of a finished run evaluates again" 0 'test metrics of the kept model' "$eos" train --resume "$fx/b" --quiet
expect "finished run is refused without --force" 1 'already holds a model.*--force' train --out "$fx/b"
expect "evaluate" 0 'ACC [0-9.]+' "$eos" evaluate --model "$fx/b/model.safetensors" --data "$fx/syn" --out "$fx/b/eval"
expect "evaluate refuses to replace results" 1 'already holds results.*--force' "$eos" evaluate --model "$fx/b/model.safetensors" --data "$fx/syn" --out "$fx/b/eval"
expect "evaluate --force replaces them" 0 'wrote .*metrics.json' "$eos" evaluate --model "$fx/b/model.safetensors" --data "$fx/syn" --out "$fx/b/eval" --force

# 2. a second Ctrl-C right after the first exits at once; the checkpoint on disk is whole
start_run "$fx/c"
kill -INT "$pid"; kill -INT "$pid"
run_wait
if [ "$rc" -eq 130 ]; then ok "second SIGINT exits with 130"; else bad "second SIGINT exits with 130" "exit code $rc: $(cat "$fx/c.err")"; fi
expect "resume after a double Ctrl-C" 0 'wrote .*model.safetensors' "$eos" train --resume "$fx/c" --quiet
expect "... to the same model" 0 '' cmp "$fx/a/model.safetensors" "$fx/c/model.safetensors"

# 3. SIGTERM: the same, with 143
start_run "$fx/d"
kill -TERM "$pid"
run_wait
if [ "$rc" -eq 143 ]; then ok "SIGTERM stops with 143"; else bad "SIGTERM stops with 143" "exit code $rc: $(cat "$fx/d.err")"; fi
expect "resume after SIGTERM" 0 'wrote .*model.safetensors' "$eos" train --resume "$fx/d" --quiet
expect "... to the same model" 0 '' cmp "$fx/a/model.safetensors" "$fx/d/model.safetensors"

# 4. damaged or missing checkpoints never crash
expect "nothing to resume" 1 'nothing to resume in .*no checkpoint.safetensors' "$eos" train --resume "$fx/none"
head -c 5000 "$fx/d/checkpoint.safetensors" > "$fx/d/cut" && mv "$fx/d/cut" "$fx/d/checkpoint.safetensors"
expect "truncated checkpoint" 1 'reading the checkpoint to resume: .*checkpoint.safetensors: header length .* does not fit' "$eos" train --resume "$fx/d"
head -c 4000 /dev/urandom > "$fx/d/checkpoint.safetensors"
expect "garbage checkpoint" 1 'checkpoint.safetensors' "$eos" train --resume "$fx/d"
cp "$fx/a/model.safetensors" "$fx/d/checkpoint.safetensors"
expect "a model is not a checkpoint" 1 "lacks 'eos.format'" "$eos" train --resume "$fx/d"
expect "--force starts again over a damaged run" 0 'wrote .*model.safetensors' train --out "$fx/d" --epochs 1 --force

# 5. not enough device memory: the message gives the memory asked for, the device's, and a batch that fits
expect "out of device memory names a batch that fits" 1 'needs about [0-9]+ MiB of device memory .* the device has 64 MiB .*: --batch [0-9]+ would fit' \
    env EOS_MEM_LIMIT=64 "$eos" train --data "$fx/syn" --out "$fx/oom" --arch resnet8 --epochs 1 --batch 160 --imbalance none --quiet
# 6. a learning rate far too high: a NaN stops the run with the epoch, the step and the advice
expect "NaN names epoch, step and --lr" 1 'loss became (nan|inf|-nan) at epoch 1, step [0-9]+ .*smaller --lr' \
    train --out "$fx/nan" --lr 1e30 --epochs 1

rm -rf "$fx"
finish
