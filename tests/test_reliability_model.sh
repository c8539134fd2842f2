#!/bin/sh
# Model files from the CLI (issue 13, items 9 and 14): one flipped bit in checkpoint.safetensors or
# model.safetensors is refused by train --resume, evaluate, embed and finetune, naming the file,
# the tensor and that it is damaged; every file written carries its checksums.
eos="$1"
. "$(dirname "$0")/cli_common.sh"

fx=$(tmpdir rel-model)
"$eos" synth --out "$fx/syn" --classes 4 --train-per-class 20 --test-per-class 4 >/dev/null ||
    { echo "synth failed"; exit 1; }
train() { "$eos" train --data "$fx/syn" --arch resnet8 --epochs 1 --max-steps 1 --batch 8 --imbalance none --quiet "$@"; }

# flip_at FILE OFFSET MASK: XOR MASK into one byte of FILE, in place
flip_at() {
    v=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "\\$(printf %03o $((v ^ $3)))" | dd of="$1" bs=1 seek="$2" count=1 conv=notrunc 2>/dev/null
}
# flip FILE K: XOR 0x40 (an exponent bit of a float at a 4-byte boundary) into byte K of the data
# section (after the 8-byte header length and the JSON header)
flip() {
    hlen=0
    for b in $(od -An -tu1 -N8 "$1" | tr -s ' ' '\n' | grep . | sed -n '1!G;h;$p'); do hlen=$((hlen * 256 + b)); done
    flip_at "$1" $((8 + hlen + $2)) 64
}

expect "train 1 epoch" 0 'wrote .*model.safetensors' train --out "$fx/run"
expect "the model carries its checksums" 0 '' sh -c "head -c 400 '$fx/run/model.safetensors' | grep -q '\"eos.crc32\":\"[0-9a-f]\{8\} '"
expect "the checkpoint carries its checksums" 0 '' sh -c "head -c 400 '$fx/run/checkpoint.safetensors' | grep -q '\"eos.crc32\":\"[0-9a-f]\{8\} '"
cp "$fx/run/checkpoint.safetensors" "$fx/ck.good"
cp "$fx/run/model.safetensors" "$fx/model.good"

# the checkpoint: byte 3 is the sign and high exponent bits of conv1.weight's first value
flip "$fx/run/checkpoint.safetensors" 3
expect "the flipped bit changed the file" 1 '' cmp -s "$fx/ck.good" "$fx/run/checkpoint.safetensors"
expect "resume refuses a flipped bit" 1 "checkpoint.safetensors is damaged: tensor 'conv1.weight' fails its checksum" \
    "$eos" train --resume "$fx/run" --quiet
expect "... and leaves it as it was" 1 '' cmp -s "$fx/ck.good" "$fx/run/checkpoint.safetensors"
flip "$fx/run/checkpoint.safetensors" 3
# the header is covered too: one letter of the metadata ("eos-cl" of the writer) changed
at=$(grep -abo 'eos-cl ' "$fx/run/checkpoint.safetensors" | head -1 | cut -d: -f1)
flip_at "$fx/run/checkpoint.safetensors" "$at" 1
expect "resume refuses a changed header" 1 'checkpoint.safetensors is damaged: its header .* fails its checksum' \
    "$eos" train --resume "$fx/run" --quiet
flip_at "$fx/run/checkpoint.safetensors" "$at" 1
expect "the same file, restored, resumes" 0 'test metrics of the kept model' "$eos" train --resume "$fx/run" --quiet

# the model: a bit in a later tensor (layer1.0.conv1.weight starts after conv1 (1,728 bytes) and
# bn1 (4 x 64 + 8 bytes))
flip "$fx/run/model.safetensors" 2000
expect "evaluate refuses a flipped bit" 1 "model.safetensors is damaged: tensor 'layer1.0.conv1.weight' fails its checksum" \
    "$eos" evaluate --model "$fx/run/model.safetensors" --data "$fx/syn" --out "$fx/eval"
expect "... and writes nothing" 1 '' test -e "$fx/eval/metrics.json"
expect "embed refuses it" 1 "model.safetensors is damaged: tensor 'layer1.0.conv1.weight'" \
    "$eos" embed --model "$fx/run/model.safetensors" --data "$fx/syn" --imbalance none --out "$fx/emb" --quiet
cp "$fx/model.good" "$fx/good.safetensors"
expect "the good copy evaluates" 0 'ACC [0-9.]+' "$eos" evaluate --model "$fx/good.safetensors" --data "$fx/syn" --out "$fx/eval"
expect "embed the good copy" 0 'train_emb.csv' \
    "$eos" embed --model "$fx/good.safetensors" --data "$fx/syn" --imbalance none --out "$fx/emb" --quiet
expect "finetune refuses the damaged model" 1 "model.safetensors is damaged: tensor 'layer1.0.conv1.weight'" \
    "$eos" finetune --train "$fx/emb/train_emb.csv" --model "$fx/run/model.safetensors" --out "$fx/ft" --epochs 1

# a model written by PyTorch (no checksums) still loads: the golden resnet8 (10 classes) against
# 10 synthetic classes
"$eos" synth --out "$fx/syn10" --classes 10 --train-per-class 2 --test-per-class 2 >/dev/null
golden="$(dirname "$0")/golden/resnet8_torch.safetensors"
expect "a PyTorch model without checksums evaluates" 0 'ACC [0-9.]+' \
    "$eos" evaluate --model "$golden" --data "$fx/syn10" --out "$fx/eval10"

rm -rf "$fx"
finish
