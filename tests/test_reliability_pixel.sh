#!/bin/sh
# Issue 16 item 6, pixel-space re-balancing before phase 1 (`eos train --balance`): the balanced
# counts and the time are printed, a run resumes to the same set, bad options are refused, and
# `eos bench pixel` times the re-balancing alone after validating it.
# usage: test_reliability_pixel.sh path/to/eos
eos="$1"
. "$(dirname "$0")/cli_common.sh"

t=$(tmpdir rel-pixel)
"$eos" synth --out "$t/d" --classes 3 --train-per-class 20 --test-per-class 4 >/dev/null || { echo "synth failed"; exit 1; }
short="--arch resnet8 --epochs 1 --max-steps 1 --batch 8 --imbalance exp:10 --quiet"

# exp:10 over 3 classes of 20: 20 6 2, every class to 20
expect "train --balance pixel-smote balances to the largest class" 0 \
    'balanced: 60 images \(pixel-smote, k 5\): 32 added, 32 of them new images, in [0-9.]+ s: 20 20 20' \
    "$eos" train --data "$t/d" --out "$t/smote" $short --balance pixel-smote
expect "pixel-smote trains and writes the model" 0 'smote/model.safetensors$' ls "$t/smote/model.safetensors"
expect "train --balance pixel-ros repeats images (none new)" 0 \
    'balanced: 60 images \(pixel-ros\): 32 added, 0 of them new images, in [0-9.]+ s: 20 20 20' \
    "$eos" train --data "$t/d" --out "$t/ros" $short --balance pixel-ros
expect "--balance-k 1" 0 'pixel-smote, k 1\)' \
    "$eos" train --data "$t/d" --out "$t/k1" $short --balance pixel-smote --balance-k 1

# resume: the run's --balance is replayed and gives the same balanced set (the checkpoint keeps
# a hash of the training images and refuses other data), and the final evaluation is made
"$eos" train --data "$t/d" --out "$t/res" --arch resnet8 --epochs 2 --max-steps 1 --batch 8 --imbalance exp:10 --quiet \
    --balance pixel-smote >/dev/null 2>&1
rm -f "$t/res/metrics.json"
expect "a pixel-smote run resumes to its final evaluation" 0 'wrote .*res/metrics.json' "$eos" train --resume "$t/res" --quiet

expect "unknown --balance" 2 "--balance: unknown pixel re-balancing 'smote': expected pixel-ros, pixel-smote or none" \
    "$eos" train --data "$t/d" --out "$t/x" --balance smote
expect "--balance with --val-split" 2 '--balance pixel-ros with --val-split would put copies and blends' \
    "$eos" train --data "$t/d" --out "$t/x" --balance pixel-ros --val-split 0.2
expect "--balance-k without pixel-smote" 2 '--balance-k applies to --balance pixel-smote' \
    "$eos" train --data "$t/d" --out "$t/x" --balance-k 3
expect "--balance-k out of range" 2 "--balance-k '65': expected an integer in 1..64" \
    "$eos" train --data "$t/d" --out "$t/x" --balance pixel-smote --balance-k 65
# the benchmark of the re-balancing alone: validated, then timed
expect "bench pixel validates and times pixel-smote" 0 \
    'eos-cl pixel pixel-smote exp:10 k 5: 28 -> 60 images \(32 new, [0-9.]+ MB of new pixels\): median [0-9.]+ ms of 2' \
    "$eos" bench pixel --data "$t/d" --imbalance exp:10 --steps 2
expect "bench pixel pixel-ros" 0 'eos-cl pixel pixel-ros exp:10: 28 -> 60 images \(0 new' \
    "$eos" bench pixel --data "$t/d" --imbalance exp:10 --steps 1 --method pixel-ros
expect "bench pixel needs --data" 2 'bench pixel needs --data PATH' "$eos" bench pixel
expect "train --help tells of --balance" 0 '--balance M +re-balance the training images' "$eos" train --help
expect "nothing written for a refused run" 1 '' test -e "$t/x"

rm -rf "$t"
finish
