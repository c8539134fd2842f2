#!/bin/sh
# The `eos` CLI as a user meets it: listings, exit codes and the messages of bad input.
# usage: test_cli.sh path/to/eos
eos="$1"
. "$(dirname "$0")/cli_common.sh"

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
# every command (as `eos --help` lists them) explains itself and refuses what it does not know
cmds=$("$eos" --help | sed -n '/^commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }')
ncmds=$(printf '%s\n' "$cmds" | grep -c .)
if [ "$ncmds" -ge 12 ]; then ok "eos --help lists $ncmds commands"; else bad "eos --help lists the commands" "$cmds"; fi
for c in $cmds; do
    expect "$c --help" 0 "^usage: eos $c" "$eos" "$c" --help
    expect "$c --help has options or says it has none" 0 '^(options:|  --|usage: eos [a-z]+$)' "$eos" "$c" --help
    expect "$c --help has an example" 0 "^example:" "$eos" "$c" --help
    expect "$c --help example uses it" 0 "^  eos $c( |$)" "$eos" "$c" --help
    expect "eos help $c" 0 "^usage: eos $c" "$eos" help "$c"
    expect "$c unknown flag" 2 "unknown option '--no-such-flag'" "$eos" "$c" --no-such-flag
    expect "$c unknown flag shows the usage" 2 "^usage: eos $c" "$eos" "$c" --no-such-flag
done
expect "cache shows the folder" 0 "kernel cache: $EOS_CACHE_DIR" "$eos" cache
expect "EOS_DEVICE is honoured" 1 "no OpenCL device matches" env EOS_DEVICE=no-such-device-xyz "$eos" check

# eos dataset on a generated CIFAR-10 binary fixture: one image per class in each of the 5
# training batches (5 per class), 2 per class in the test batch
fx=$(mktemp -d "${EOS_TEST_TMP:-/tmp}/cli-cifar-XXXXXX" 2>/dev/null || mktemp -d)
record() { printf "\\$(printf %03o "$1")"; head -c 3072 /dev/zero; }
for b in 1 2 3 4 5; do for c in 0 1 2 3 4 5 6 7 8 9; do record "$c"; done > "$fx/data_batch_$b.bin"; done
for c in 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9; do record "$c"; done > "$fx/test_batch.bin"
expect "dataset shows the layout" 0 'layout: CIFAR-10 binary' "$eos" dataset "$fx"
expect "dataset shows the counts" 0 '9  truck +5 +2 +5' "$eos" dataset "$fx"
# exp:5 on 5 per class: floor(5 * 0.2^(c/9)) = 5 4 3 2 2 2 1 1 1 1
expect "dataset long tail" 0 'total +50 +20 +22' "$eos" dataset "$fx" --imbalance exp:5 --seed 3
expect "dataset long tail last class" 0 '9  truck +5 +2 +1$' "$eos" dataset "$fx" --imbalance=exp:5
expect "dataset bad imbalance" 2 "expected none, exp:R or step:R" "$eos" dataset "$fx" --imbalance exp:0
expect "dataset bad seed" 2 "--seed 'x' is not a non-negative integer" "$eos" dataset "$fx" --seed x
expect "dataset missing path" 2 "missing PATH" "$eos" dataset
# eos train / evaluate on the same fixture: a resnet8 for one epoch, then the model evaluated
run="$fx/run"
expect "train one epoch" 0 'wrote .*model.safetensors' "$eos" train --data "$fx" --out "$run" --arch resnet8 --epochs 1 --batch 16 --imbalance none --quiet
expect "train wrote the log" 0 '^1,' cat "$run/train_log.csv"
expect "train refuses to overwrite" 1 'already holds a model.*--force' "$eos" train --data "$fx" --out "$run" --arch resnet8 --epochs 1
expect "train --force replaces" 0 'epoch +1/1' "$eos" train --data "$fx" --out "$run" --arch resnet8 --epochs 1 --batch 16 --imbalance none --force --quiet
expect "evaluate" 0 'ACC [0-9.]+ +BAC [0-9.]+ +GM [0-9.]+ +FM' "$eos" evaluate --model "$run/model.safetensors" --data "$fx" --out "$run/eval"
expect "evaluate wrote metrics.json" 0 '"per_class_recall"' cat "$run/eval/metrics.json"
expect "train bad arch" 2 "unknown architecture 'resnet33'" "$eos" train --data "$fx" --out "$run" --arch resnet33
expect "train bad lr" 2 "--lr 'abc': expected a positive number" "$eos" train --data "$fx" --out "$run" --lr abc
expect "train missing --out" 2 "--out is required" "$eos" train --data "$fx"
expect "train missing value" 2 "--epochs needs a value" "$eos" train --data "$fx" --out "$run" --epochs
expect "evaluate a non-model" 1 "loading the model: .*test_batch.bin: header length" "$eos" evaluate --model "$fx/test_batch.bin" --data "$fx" --out "$run/eval2"
expect "train --help" 0 'usage: eos train' "$eos" train --help
expect "train focal + drw (short)" 0 'loss focal, rule drw' "$eos" train --data "$fx" --out "$fx/focal" --arch resnet8 --imbalance exp:5 --epochs 2 --max-steps 1 --batch 8 --loss focal --rule drw --quiet
expect "train bad loss" 2 "unknown loss 'hinge'" "$eos" train --data "$fx" --out "$fx/x" --loss hinge
expect "train bad rule" 2 "unknown rule 'often'" "$eos" train --data "$fx" --out "$fx/x" --rule often
expect "train gamma without focal" 2 '--gamma applies to --loss focal' "$eos" train --data "$fx" --out "$fx/x" --gamma 1
expect "train ldam-drw (short)" 0 'loss ldam, rule drw' "$eos" train --data "$fx" --out "$fx/ldam" --arch resnet8 --imbalance exp:5 --epochs 2 --max-steps 1 --batch 8 --loss ldam --rule drw --quiet
expect "ldam model has no bias" 1 '^0$' sh -c "grep -c '\"linear.bias\"' '$fx/ldam/model.safetensors'"
expect "ldam model evaluates" 0 'ACC [0-9.]+' "$eos" evaluate --model "$fx/ldam/model.safetensors" --data "$fx" --out "$fx/ldam/eval"
expect "train asl flags" 0 'loss asl' "$eos" train --data "$fx" --out "$fx/asl" --arch resnet8 --imbalance exp:5 --epochs 1 --max-steps 1 --batch 8 --loss asl --gamma-neg 2 --smoothing 0.05 --quiet
expect "train ldam flag on ce" 2 '--ldam-s and --max-m apply to --loss ldam' "$eos" train --data "$fx" --out "$fx/x" --max-m 0.3
expect "train bad smoothing" 2 "--smoothing '1.5': expected a number in \[0, 1\)" "$eos" train --data "$fx" --out "$fx/x" --loss asl --smoothing 1.5
# phases 2 and 3 on that model: embeddings, EOS, the head
expect "embed" 0 'embedding gap' "$eos" embed --model "$run/model.safetensors" --data "$fx" --out "$run/emb" --imbalance exp:5
expect "embed csv header" 0 '^label,f0,f1,.*,f63$' head -1 "$run/emb/train_emb.csv"
expect "resample eos" 0 'eos, k 5, seed 0: 22 rows -> 50 \(28 new\)' "$eos" resample --in "$run/emb/train_emb.csv" --out "$run/emb/train_eos.csv" --k 5
expect "resample bad method" 2 "unknown method 'magic'" "$eos" resample --in "$run/emb/train_emb.csv" --out "$run/x.csv" --method magic
expect "resample ragged csv" 1 'line 3: 2 fields, expected 3' sh -c "printf 'label,f0,f1\n0,1,2\n1,2\n' > '$run/bad.csv' && '$eos' resample --in '$run/bad.csv' --out '$run/x.csv'"
expect "finetune" 0 'wrote .*model.safetensors \(the model with the new head\)' "$eos" finetune --train "$run/emb/train_eos.csv" --test "$run/emb/test_emb.csv" --model "$run/model.safetensors" --out "$run/ft"
expect "finetune model evaluates" 0 'ACC [0-9.]+' "$eos" evaluate --model "$run/ft/model.safetensors" --data "$fx" --out "$run/ft/eval"
expect "embed an ldam model" 0 'embedding gap' "$eos" embed --model "$fx/ldam/model.safetensors" --data "$fx" --out "$fx/ldam/emb" --imbalance exp:5
expect "finetune an ldam model" 0 'the model with the new head' "$eos" finetune --train "$fx/ldam/emb/train_emb.csv" --model "$fx/ldam/model.safetensors" --out "$fx/ldam/ft"
expect "the fine-tuned ldam model has a linear head" 0 '"linear.bias"' sh -c "head -c 8000 '$fx/ldam/ft/model.safetensors' | tr -c '[:print:]' ' '"
expect "finetune without model" 0 'head 10 x 64' "$eos" finetune --train "$run/emb/train_eos.csv" --out "$run/ft2"

# eos synth and a whole quick pipeline on a small generated dataset (100 per class: the
# pipeline's exp:100 keeps 100, 21, 4, 1, and a subset that empties a class is refused)
syn="$fx/synth"
expect "synth" 0 'wrote 4 classes x \(100 train \+ 4 test\)' "$eos" synth --out "$syn" --classes 4 --train-per-class 100 --test-per-class 4
expect "pipeline" 0 'ce \+ eos +[0-9.]+ +[0-9.]+' "$eos" pipeline --data "$syn" --out "$fx/pipe" --profile quick --epochs 1 --methods eos,ros,none --quiet
expect "pipeline summary" 0 '"method": "ce \+ eos"' cat "$fx/pipe/summary.json"
expect "pipeline embedding gap" 0 '"test_gap": \[' cat "$fx/pipe/embeddings/embed_metrics.json"
expect "pipeline class counts" 0 '"counts_before": \[100, 21, 4, 1\]' cat "$fx/pipe/eos/metrics.json"
expect "pipeline balanced counts" 0 '"counts_after": \[100, 100, 100, 100\]' cat "$fx/pipe/eos/metrics.json"
expect "pipeline projection" 0 '^label,synthetic,pc1,pc2$' head -1 "$fx/pipe/embeddings/projection.csv"
expect "pipeline report" 0 'id="chart-projection"' cat "$fx/pipe/report.html"
expect "report again" 0 "wrote $fx/again.html" "$eos" report "$fx/pipe" --out "$fx/again.html"
expect "report is the pipeline's page" 0 '^same$' sh -c "cmp -s '$fx/pipe/report.html' '$fx/again.html' && echo same"
expect "report of a folder that is not a run" 1 "summary.json is missing .*not a finished \`eos pipeline\` run" "$eos" report "$fx"
expect "report names the missing file" 1 'projection.csv is missing' sh -c "mkdir -p '$fx/half' && cp -r '$fx/pipe/.' '$fx/half/' && rm '$fx/half/embeddings/projection.csv' && '$eos' report '$fx/half'"
expect "report without DIR" 2 'missing DIR' "$eos" report
expect "report --out without value" 2 '--out needs a value' "$eos" report "$fx/pipe" --out
expect "pipeline refuses to overwrite" 1 'already holds results' "$eos" pipeline --data "$syn" --out "$fx/pipe" --profile quick
expect "pipeline with baselines" 0 'ldam-drw +[0-9.]+ +[0-9.]+' "$eos" pipeline --data "$syn" --out "$fx/pipe3" --profile quick --epochs 2 --max-steps 1 --methods eos,ldam-drw,focal --quiet
expect "pipeline baselines in the summary" 0 '"method": "focal".*' cat "$fx/pipe3/summary.json"
expect "pipeline baseline folder" 0 'model.safetensors' ls "$fx/pipe3/phase1-ldam-drw"
expect "pipeline bad baseline" 2 "unknown method 'ldam-often'" "$eos" pipeline --data "$syn" --out "$fx/pipe2" --methods eos,ldam-often
expect "pipeline bad method" 2 "unknown method 'magic'" "$eos" pipeline --data "$syn" --out "$fx/pipe2" --methods eos,magic
expect "bench train" 0 'eos-cl train resnet8 batch 8: [0-9.]+ ms/step +[0-9.]+ images/s' "$eos" bench train --arch resnet8 --batch 8 --steps 1
expect "bench peak" 0 'eos-cl peak .+: [0-9.]+ GFLOP/s \(float(16|8|4|1) FMA, median of 2; fastest launch [0-9.]+\)' "$eos" bench peak --steps 2
expect "check measures the peak" 0 '  peak [0-9.]+ GFLOP/s \(float(16|8|4|1) FMA, median of 3, checked; [0-9.]+ s\)  ok' "$eos" check
expect "bench layers" 0 'stride-1 convolutions: [0-9]+% of peak on average, weighted by time \(forward [0-9]+%, data grad [0-9]+%, weight grad [0-9]+%\)' sh -c "'$eos' bench layers --arch resnet8 --batch 8 > '$fx/layers.txt' 2>&1; rc=\$?; cat '$fx/layers.txt'; exit \$rc"
expect "bench layers table" 0 '^  8 16 32x32 -> 16, s1 +data grad +(gemm|panel|direct|winograd|direct16) +2 +[0-9.]+ +[0-9.]+ +[0-9]+%$' cat "$fx/layers.txt"
# every row of resnet8's 5 shapes x 3 directions + the stem's forward and weight grad (no dx),
# its GFLOP/s recomputed from the shape (2 N K C 9 OH OW per call) and its % from the peak line
expect "bench layers GFLOP/s and % of peak" 0 '^17 rows checked$' awk '
    /^peak [0-9.]+ GFLOP\/s/ { peak = $2 }
    /^  [0-9]+ [0-9]+ [0-9]+x[0-9]+ -> [0-9]+, s[0-9]+ / {
        split($3, hw, "x"); s = substr($6, 2) + 0; oh = int((hw[1] - 1) / s) + 1; ow = int((hw[2] - 1) / s) + 1
        calls = $(NF - 3); ms = $(NF - 2); gf = $(NF - 1); pct = $NF + 0
        want = 2 * $1 * ($5 + 0) * $2 * 9 * oh * ow * calls / (ms * 1e6)
        d = gf - want; if (d < 0) d = -d
        e = pct - 100 * gf / peak; if (e < 0) e = -e
        if (d > 0.01 * want + want * 0.0006 / ms + 0.06 || e > 0.6 || peak <= 0) { print "bad row: " $0 " (want " want ")"; bad++ }
        n++
    }
    END { if (!bad) print n " rows checked" }' "$fx/layers.txt"
expect "bench infer on every device" 0 'agrees|reference' "$eos" bench infer --arch resnet8 --batch 8 --steps 1 --device all
expect "bench knn" 0 'eos-cl knn 300 x 16 k 5: median' "$eos" bench knn --n 300 --dim 16 --k 5 --steps 1
expect "bench eos" 0 'eos-cl eos 300 x 16 k 5: median' "$eos" bench eos --n 300 --dim 16 --k 5 --steps 1
expect "bench bad workload" 2 "unknown workload 'fly': expected train, infer, layers, knn, eos, pixel or peak" "$eos" bench fly
expect "bench bad conv" 2 "--conv 'fft': expected auto, gemm, panel, direct, winograd, tiled or direct16" "$eos" bench train --conv fft

head -c 1000 /dev/zero >> "$fx/data_batch_2.bin"
expect "dataset truncated batch" 1 "data_batch_2.bin: 31730 bytes is not a whole number of 3073-byte" "$eos" dataset "$fx"
expect "dataset missing folder" 1 "dataset folder /nonexistent/eos does not exist" "$eos" dataset /nonexistent/eos
rm -rf "$fx"

finish
