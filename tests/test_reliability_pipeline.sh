#!/bin/sh
# Issue 16, the pipeline and phase 3 as the paper's reference runs them: the quick profile's
# schedule keeps lr 0.1 for most of a short run, phase 3 starts fresh (or --head warm), and
# --val-split (never the test set) chooses the kept epochs. usage: test_reliability_pipeline.sh path/to/eos
eos="$1"
. "$(dirname "$0")/cli_common.sh"

t=$(tmpdir rel-pipeline)
"$eos" synth --out "$t/syn" --classes 4 --train-per-class 100 --test-per-class 4 >/dev/null || bad "synth" "failed"

# the schedule: the decays after round(0.8 E) and round(0.9 E) epochs; a 2-epoch run used to
# spend its second epoch at lr x 0.0001
expect "2 epochs both at lr 0.1" 0 'epoch +2/2 +lr 0\.1 ' \
    "$eos" train --data "$t/syn" --out "$t/tr2" --arch resnet8 --epochs 2 --max-steps 1 --imbalance exp:100 --quiet
expect "5 epochs: the fifth at lr 0.001" 0 'epoch +5/5 +lr 0\.001 ' \
    "$eos" train --data "$t/syn" --out "$t/tr5" --arch resnet8 --epochs 5 --max-steps 1 --imbalance exp:100 --quiet
expect "pipeline help: quick is 10 epochs" 0 'quick +resnet8, exp:100, 10 epochs' "$eos" pipeline --help
expect "pipeline help: the schedule rule" 0 'round\(0\.8 x epochs\)' "$eos" pipeline --help

# phase 3's start and the kept epochs
expect "pipeline --head must be fresh or warm" 2 "--head 'hot': expected fresh or warm" \
    "$eos" pipeline --data "$t/syn" --out "$t/p0" --head hot
expect "pipeline --val-split is a fraction" 2 "--val-split '1': expected a fraction in \[0, 1\)" \
    "$eos" pipeline --data "$t/syn" --out "$t/p0" --val-split 1
expect "finetune --head warm needs a model" 2 "--head warm starts from a model's head: give --model" \
    "$eos" finetune --train "$t/x.csv" --out "$t/ft" --head warm
expect "pipeline with a hold-out and warm heads" 0 'ce \+ eos +[0-9.]+' \
    "$eos" pipeline --data "$t/syn" --out "$t/pv" --profile quick --epochs 2 --max-steps 1 --methods eos --head warm \
    --val-split 0.25 --quiet
expect "the summary says warm" 0 '"head": "warm"' cat "$t/pv/summary.json"
expect "validation embeddings written" 0 '^label,f0,' head -1 "$t/pv/embeddings/val_emb.csv"
expect "phase 1 kept by validation" 0 '"kept": "best validation macro-F1"' cat "$t/pv/phase1/metrics.json"
expect "the head kept by validation" 0 '"kept": "best validation macro-F1"' cat "$t/pv/eos/metrics.json"
expect "pipeline default: fresh heads, last epoch" 0 '"head": "fresh",.*"kept": "last epoch"' \
    sh -c "'$eos' pipeline --data '$t/syn' --out '$t/pf' --profile quick --epochs 1 --max-steps 1 --methods eos --quiet >/dev/null && tr -d '\n' < '$t/pf/eos/metrics.json'"
# a finetune from the model: --head warm from the model's own head, fresh by default (the
# exact copy and the fresh statistics are test_finetune's); 1 epoch at lr 1e-9 keeps each head
# near where it started, so the two differ
"$eos" embed --model "$t/pf/phase1/model.safetensors" --data "$t/syn" --out "$t/emb" >/dev/null 2>&1 || bad "embed" "failed"
expect "finetune --head warm" 0 'the model with the new head' \
    "$eos" finetune --train "$t/emb/train_emb.csv" --model "$t/pf/phase1/model.safetensors" --out "$t/fw" --head warm \
    --epochs 1 --lr 1e-9
expect "finetune starts fresh by default" 0 '^differ$' sh -c "
    '$eos' finetune --train '$t/emb/train_emb.csv' --model '$t/pf/phase1/model.safetensors' --out '$t/ff' \
        --epochs 1 --lr 1e-9 >/dev/null && { cmp -s '$t/fw/head.safetensors' '$t/ff/head.safetensors' || echo differ; }"

# the efficiency claim: pixel-space re-balancing as methods of the pipeline, with a hold-out
# the balanced set is the training part only and validates on the CE model's held-out images;
# every row's wall time in the table and summary.json
expect "pipeline help: the pixel methods" 0 'pixel-ros, pixel-smote: the training images balanced before phase 1' \
    "$eos" pipeline --help
expect "pipeline help: what the time counts" 0 'shared by every such' "$eos" pipeline --help
expect "an unknown method names the pixel ones" 2 "unknown method 'pixel-gan': expected .*pixel-ros, pixel-smote" \
    "$eos" pipeline --data "$t/syn" --out "$t/px0" --methods eos,pixel-gan
expect "pipeline with pixel methods and a hold-out: the table's seconds" 0 \
    'BAC +GM +FM +seconds.*pixel-ros +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ .*pixel-smote +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ .*ce \+ eos +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ ' \
    sh -c "'$eos' pipeline --data '$t/syn' --out '$t/px' --profile quick --epochs 1 --max-steps 1 --methods pixel-ros,pixel-smote,eos \
        --val-split 0.25 --quiet | tr '\n' ' '"
val=$(sed -n 's/.*"val_images": \([0-9]*\).*/\1/p' "$t/px/phase1/metrics.json")
expect "the pixel network validates on the CE model's hold-out" 0 "\"kept\": \"best validation macro-F1\", \"train_images\": 300, \"val_images\": $val," \
    cat "$t/px/pixel-smote/metrics.json"
expect "its class counts before and after" 0 '"images_after": \[75, 75, 75, 75\]' cat "$t/px/pixel-smote/metrics.json"
expect "summary.json: a row's time and its parts" 0 '"method": "ce \+ eos".*"seconds": [0-9.]+, "seconds_phase1": [0-9.]+, "seconds_embed": [0-9.]+, "seconds_resample": [0-9.]+, "seconds_head": [0-9.]+' \
    cat "$t/px/summary.json"
expect "the report's wall-time column" 0 '<th>wall time</th>' cat "$t/px/report.html"

rm -rf "$t"
finish
