#!/bin/sh
# Issue 13, items 3 and 11 (outputs): no command replaces results without --force, none ever
# replaces its own input, --out is checked before anything is loaded, and the messages about the
# batch size and an interrupted --val-split run say what to do. usage: test_reliability_outputs.sh eos
eos="$1"
. "$(dirname "$0")/cli_common.sh"

fx=$(tmpdir rel-outputs)
# unchanged FILE COPY: FILE still has the bytes of COPY (nothing replaced it)
unchanged() { cmp -s "$1" "$2" && echo unchanged; }

# fixtures: a small generated dataset, a resnet8 trained for one step, its embeddings
"$eos" synth --out "$fx/syn" --classes 4 --train-per-class 40 --test-per-class 8 >/dev/null || { echo "synth failed"; exit 1; }
run="$fx/run"
"$eos" train --data "$fx/syn" --out "$run" --arch resnet8 --epochs 1 --max-steps 1 --batch 16 --imbalance none --quiet >/dev/null \
    || { echo "train failed"; exit 1; }
"$eos" embed --model "$run/model.safetensors" --data "$fx/syn" --out "$fx/emb" --imbalance none --quiet >/dev/null \
    || { echo "embed failed"; exit 1; }
cp "$run/model.safetensors" "$fx/model.copy"
cp "$run/metrics.json" "$fx/metrics.copy"

# --- item 3: finetune never replaces the phase-1 model it reads, nor results without --force ---
expect "finetune --out the --model's folder is refused" 1 "replace the --model input .*run/model.safetensors" \
    "$eos" finetune --train "$fx/emb/train_emb.csv" --test "$fx/emb/test_emb.csv" --model "$run/model.safetensors" --out "$run"
expect "... with --force too" 1 "replace the --model input.*even --force never" \
    "$eos" finetune --train "$fx/emb/train_emb.csv" --test "$fx/emb/test_emb.csv" --model "$run/model.safetensors" --out "$run" --force
expect "... spelled another way" 1 "replace the --model input" \
    "$eos" finetune --train "$fx/emb/train_emb.csv" --model "$run/model.safetensors" --out "$fx/./run/" --force
expect "the phase-1 model is unchanged" 0 '^unchanged$' unchanged "$run/model.safetensors" "$fx/model.copy"
expect "the phase-1 metrics are unchanged" 0 '^unchanged$' unchanged "$run/metrics.json" "$fx/metrics.copy"
expect "finetune --test into a folder with metrics.json is refused" 1 "already holds results .*metrics.json.*--force" \
    "$eos" finetune --train "$fx/emb/train_emb.csv" --test "$fx/emb/test_emb.csv" --out "$run"
expect "finetune" 0 'wrote .*head.safetensors' "$eos" finetune --train "$fx/emb/train_emb.csv" --test "$fx/emb/test_emb.csv" \
    --model "$run/model.safetensors" --out "$fx/ft"
expect "finetune again is refused" 1 'already holds results .*ft/head.safetensors.*--force' \
    "$eos" finetune --train "$fx/emb/train_emb.csv" --model "$run/model.safetensors" --out "$fx/ft"
expect "finetune --force replaces" 0 'the model with the new head' \
    "$eos" finetune --train "$fx/emb/train_emb.csv" --model "$run/model.safetensors" --out "$fx/ft" --force
expect "finetune over its own fine-tuned model" 1 "replace the --model input" \
    "$eos" finetune --train "$fx/emb/train_emb.csv" --model "$fx/ft/model.safetensors" --out "$fx/ft" --force
expect "finetune --help has --force" 0 '--force' "$eos" finetune --help

# --- embed ---
expect "embed again is refused" 1 'already holds results .*emb/train_emb.csv.*--force' \
    "$eos" embed --model "$run/model.safetensors" --data "$fx/syn" --out "$fx/emb" --imbalance none --quiet
expect "embed --force replaces" 0 'wrote .*train_emb.csv' \
    "$eos" embed --model "$run/model.safetensors" --data "$fx/syn" --out "$fx/emb" --imbalance none --quiet --force
mkdir -p "$fx/odd" && cp "$run/model.safetensors" "$fx/odd/train_emb.csv"
expect "embed over its own model (same name in --out) is refused with --force" 1 "replace the --model input .*odd/train_emb.csv" \
    "$eos" embed --model "$fx/odd/train_emb.csv" --data "$fx/syn" --out "$fx/odd" --imbalance none --quiet --force
expect "embed --help has --force" 0 '--force' "$eos" embed --help

# --- evaluate ---
cp "$run/model.safetensors" "$fx/odd/metrics.json"
expect "evaluate over its own model is refused with --force" 1 "replace the --model input .*odd/metrics.json" \
    "$eos" evaluate --model "$fx/odd/metrics.json" --data "$fx/syn" --out "$fx/odd" --force
expect "... and the model is still there" 0 '^unchanged$' unchanged "$fx/odd/metrics.json" "$fx/model.copy"
expect "evaluate refuses results before loading the model" 1 'already holds results' \
    "$eos" evaluate --model "$fx/no-such-model.safetensors" --data "$fx/syn" --out "$run"

# --- resample ---
emb="$fx/emb/train_emb.csv"
cp "$emb" "$fx/emb.copy"
expect "resample --out = --in is refused" 1 "replace the --in input" "$eos" resample --in "$emb" --out "$emb" --method ros
expect "... with --force too" 1 "replace the --in input" "$eos" resample --in "$emb" --out "$emb" --method ros --force
expect "... spelled another way" 1 "replace the --in input" "$eos" resample --in "$emb" --out "$fx/emb/../emb/./train_emb.csv" --method ros --force
ln -s "$emb" "$fx/link.csv"
expect "... through a link" 1 "replace the --in input" "$eos" resample --in "$fx/link.csv" --out "$emb" --method ros --force
expect "... and the input is unchanged" 0 '^unchanged$' unchanged "$emb" "$fx/emb.copy"
expect "resample" 0 'wrote ' "$eos" resample --in "$emb" --out "$fx/new/sub/bal.csv" --method ros
expect "resample again is refused" 1 'bal.csv already exists; use --force' "$eos" resample --in "$emb" --out "$fx/new/sub/bal.csv" --method ros
expect "resample --force replaces" 0 'wrote ' "$eos" resample --in "$emb" --out "$fx/new/sub/bal.csv" --method ros --force
expect "resample --out a folder" 1 "--out $fx/new is a folder, expected a file" "$eos" resample --in "$emb" --out "$fx/new" --method ros
expect "resample --help has --force" 0 '--force' "$eos" resample --help

# --- synth: refused without --force; with it, replaced as a whole (no old class left) ---
expect "synth into an existing dataset is refused" 1 'already holds a dataset; use --force' \
    "$eos" synth --out "$fx/syn" --classes 2 --train-per-class 3 --test-per-class 1
expect "synth --force replaces it" 0 'the old dataset replaced' "$eos" synth --out "$fx/syn" --classes 2 --train-per-class 3 --test-per-class 1 --force
expect "... as a whole: 2 classes, 3 + 1 images each, nothing old" 0 '^8$' sh -c "find '$fx/syn' -type f | wc -l | tr -d ' '"
expect "... no temporary folder left" 0 '^0$' sh -c "ls -a '$fx' | grep 'syn\.' | wc -l | tr -d ' '"
echo mine > "$fx/syn/NOTES.txt"
expect "synth --force keeps a folder holding other files" 1 'NOTES.txt, which synth does not write' \
    "$eos" synth --out "$fx/syn" --classes 2 --train-per-class 3 --test-per-class 1 --force
expect "... and they are all still there" 0 '^9$' sh -c "find '$fx/syn' -type f | wc -l | tr -d ' '"
mkdir "$fx/empty"
expect "synth into an empty folder" 0 'wrote 2 classes' "$eos" synth --out "$fx/empty" --classes 2 --train-per-class 1 --test-per-class 1
expect "synth --help has --force" 0 '--force' "$eos" synth --help

# --- pipeline: an unfinished run (phase 1 there, no summary.json) is results too ---
mkdir -p "$fx/pipe/phase1" && cp "$run/model.safetensors" "$fx/pipe/phase1/model.safetensors"
expect "pipeline over an unfinished run is refused" 1 'already holds results .*phase1.*--force' \
    "$eos" pipeline --data "$fx/empty" --out "$fx/pipe" --profile quick --epochs 1 --max-steps 1 --methods eos --quiet

# --- report: an existing --out needs --force; the run's own files never ---
"$eos" synth --out "$fx/syn2" --classes 3 --train-per-class 10 --test-per-class 3 >/dev/null
# (the pipeline's exp:100 subset needs 100 images of every class)
"$eos" synth --out "$fx/syn100" --classes 3 --train-per-class 100 --test-per-class 3 >/dev/null
"$eos" pipeline --data "$fx/syn100" --out "$fx/p" --profile quick --epochs 1 --max-steps 1 --methods eos --quiet >/dev/null \
    || { bad "pipeline for the report" "failed"; }
expect "report makes the run's own page again" 0 "wrote $fx/p/report.html" "$eos" report "$fx/p"
echo mine > "$fx/page.html"
expect "report --out an existing file is refused" 1 'page.html already exists; use --force' "$eos" report "$fx/p" --out "$fx/page.html"
expect "report --out --force replaces it" 0 "wrote $fx/page.html" "$eos" report "$fx/p" --out "$fx/page.html" --force
expect "report --out summary.json --force is refused" 1 "replace the run's input .*summary.json" \
    "$eos" report "$fx/p" --out "$fx/p/summary.json" --force
expect "report --out a result's metrics.json --force is refused" 1 "replace the run's input .*metrics.json" \
    "$eos" report "$fx/p" --out "$fx/p/eos/metrics.json" --force
expect "report --out phase1/train_log.csv --force is refused" 1 "replace the run's input .*train_log.csv" \
    "$eos" report "$fx/p" --out "$fx/p/./phase1/train_log.csv" --force
expect "report --help has --force" 0 '--force' "$eos" report --help

# --- item 11: --out naming a file is said so, before the data or the model is loaded ---
echo x > "$fx/afile"
expect "train --out a file (before the data)" 1 "--out $fx/afile is a file, expected a folder" \
    "$eos" train --data "$fx/no-such-data" --out "$fx/afile" --arch resnet8
expect "evaluate --out a file" 1 "--out $fx/afile is a file, expected a folder" \
    "$eos" evaluate --model "$fx/no-such-model" --data "$fx/no-such-data" --out "$fx/afile"
expect "embed --out a file" 1 "--out $fx/afile is a file, expected a folder" \
    "$eos" embed --model "$fx/no-such-model" --data "$fx/no-such-data" --out "$fx/afile"
expect "finetune --out a file" 1 "--out $fx/afile is a file, expected a folder" \
    "$eos" finetune --train "$fx/no-such.csv" --out "$fx/afile"
expect "pipeline --out a file" 1 "--out $fx/afile is a file, expected a folder" \
    "$eos" pipeline --data "$fx/no-such-data" --out "$fx/afile"
expect "synth --out a file" 1 "--out $fx/afile is a file, expected a folder" "$eos" synth --out "$fx/afile"
expect "train --out under a file" 1 "cannot create --out $fx/afile/sub: $fx/afile is a file, not a folder" \
    "$eos" train --data "$fx/no-such-data" --out "$fx/afile/sub"
expect "resample --out under a file" 1 "$fx/afile is a file, not a folder" \
    "$eos" resample --in "$fx/no-such.csv" --out "$fx/afile/x.csv"
expect "the file is untouched" 0 '^x$' cat "$fx/afile"

# --- item 11: the out-of-memory hint sizes the batch that ran and never suggests more images than there are ---
out=$(env EOS_MEM_LIMIT=24 "$eos" train --data "$fx/syn2" --out "$fx/oom" --arch resnet8 --epochs 1 --batch 1000000 --imbalance none --quiet 2>&1)
sug=$(printf '%s\n' "$out" | sed -n 's/.*--batch \([0-9]*\) would fit.*/\1/p')
if printf '%s\n' "$out" | grep -q 'note: --batch 1000000 is more than the 30 training images' &&
    printf '%s\n' "$out" | grep -Eq 'with --batch 1000000 \(30 images per step: all there are\) needs about [0-9]{1,3} MiB' &&
    [ -n "$sug" ] && [ "$sug" -lt 30 ]; then ok "out-of-memory hint sizes the 30 images there are, suggests fewer"
else bad "out-of-memory hint sizes the 30 images there are, suggests fewer" "$out"; fi

# --- item 11: an unfinished --val-split run suggests --resume (its best model is on disk already) ---
train() { "$eos" train --data "$fx/syn2" --arch resnet8 --epochs 2 --max-steps 1 --batch 8 --imbalance none --val-split 0.3 --quiet "$@"; }
train --out "$fx/val" >/dev/null 2>&1
rm -f "$fx/val/metrics.json"  # as if stopped in the final evaluation
expect "an unfinished --val-split run suggests --resume" 1 'holds an interrupted run \(all 2 epochs done.*--resume .*--force' train --out "$fx/val"
expect "... and --resume finishes it" 0 'test metrics of the kept model' "$eos" train --resume "$fx/val" --quiet
expect "... then it is finished: --force" 1 'already holds a model.*--force' train --out "$fx/val"
# a real interruption after the first epoch of a longer --val-split run
"$eos" train --data "$fx/syn2" --arch resnet8 --epochs 50 --batch 8 --imbalance none --val-split 0.3 --quiet --out "$fx/val2" \
    >/dev/null 2>&1 &
pid=$!
i=0
while [ ! -f "$fx/val2/checkpoint.safetensors" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
kill -INT "$pid"
wait "$pid"
expect "an interrupted --val-split run suggests --resume" 1 'holds an interrupted run \(epoch [0-9]+ of 50.*--resume .*or start again with --force' \
    "$eos" train --data "$fx/syn2" --arch resnet8 --epochs 50 --batch 8 --imbalance none --val-split 0.3 --quiet --out "$fx/val2"

rm -rf "$fx"
finish
