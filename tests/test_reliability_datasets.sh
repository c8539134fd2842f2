#!/bin/sh
# The dataset layouts of issue 18 from the command line: CIFAR-100 (and its long tail), SVHN's
# .mat files, list files, --resize for images of different sizes, on every command that takes --data.
eos="$1"
. "$(dirname "$0")/cli_common.sh"
corpus="$(dirname "$0")/fuzz/corpus"
fx=$(tmpdir datasets)

# CIFAR-100 binary: 2 training images of each of the 100 fine classes (coarse label f/5), 1 test
# image each; pixels zero
head -c 3072 /dev/zero > "$fx/zeros"
c100="$fx/c100"
mkdir -p "$c100"
records() {  # records PER: PER images of every class
    for i in $(seq 1 "$1"); do
        for f in $(seq 0 99); do printf "\\$(printf %03o $((f / 5)))\\$(printf %03o "$f")"; cat "$fx/zeros"; done
    done
}
records 2 > "$c100/train.bin"
records 1 > "$c100/test.bin"
expect "cifar100 layout" 0 'layout: CIFAR-100 binary' "$eos" dataset "$c100"
expect "cifar100 classes" 0 'classes: 100' "$eos" dataset "$c100"
expect "cifar100 names and counts" 0 '99  worm +2 +1 +2$' "$eos" dataset "$c100"
# exp:2 on 2 per class: floor(2 * 0.5^(c/99)) = 2 for class 0, 1 for the 99 others
expect "cifar100 long tail" 0 'total +200 +100 +101$' "$eos" dataset "$c100" --imbalance exp:2
expect "cifar100 long tail last class" 0 '99  worm +2 +1 +1$' "$eos" dataset "$c100" --imbalance exp:2
mkdir -p "$fx/c100bad"
cp "$c100/test.bin" "$fx/c100bad/"
{ records 2; printf '\003\144'; cat "$fx/zeros"; } > "$fx/c100bad/train.bin"
expect "cifar100 fine label out of range" 1 'train.bin: record 200 \(byte 614801\) has fine label 100, expected 0..99' "$eos" dataset "$fx/c100bad"
head -c 9000 "$c100/train.bin" > "$fx/c100bad/train.bin"
expect "cifar100 truncated" 1 'not a whole number of 3074-byte CIFAR-100 records' "$eos" dataset "$fx/c100bad"

# SVHN: a 4 x 3 x 3 x 10 uint8 X and y = 1..10 written by libmatio (the fuzz seed)
svhn="$fx/svhn"
mkdir -p "$svhn"
cp "$corpus/svhn/valid_v5.mat" "$svhn/train_32x32.mat"
cp "$corpus/svhn/valid_v5_zlib.mat" "$svhn/test_32x32.mat"
expect "svhn layout" 0 'layout: SVHN' "$eos" dataset "$svhn"
expect "svhn shape" 0 'images: 3 x 4 x 3 ' "$eos" dataset "$svhn"
expect "svhn label 10 is digit 0" 0 '  0  0 +1 +1 +1$' "$eos" dataset "$svhn"
cp "$corpus/svhn/x_double.mat" "$svhn/train_32x32.mat"
expect "svhn X of the wrong class" 1 'train_32x32.mat: X is double of rank 4 .*expected a real uint8 array' "$eos" dataset "$svhn"
cp "$corpus/svhn/no_y.mat" "$svhn/train_32x32.mat"
expect "svhn without y" 1 "train_32x32.mat has no variable 'y'" "$eos" dataset "$svhn"
cp "$corpus/svhn/truncated_v5.mat" "$svhn/train_32x32.mat"
expect "svhn truncated" 1 'train_32x32.mat' "$eos" dataset "$svhn"

# list files over images made by eos synth (3 classes, 32 x 32), paths relative to the root
syn="$fx/syn"
"$eos" synth --out "$syn" --classes 3 --train-per-class 4 --test-per-class 2 --quiet >/dev/null 2>&1 || "$eos" synth --out "$syn" --classes 3 --train-per-class 4 --test-per-class 2 >/dev/null
lst="$fx/lst"
mkdir -p "$lst"
ln -s "$syn/train" "$lst/images"
ln -s "$syn/test" "$lst/val_images"
(cd "$syn/train" && find . -name '*.png' | sort | sed 's|^\./||' | awk -F/ '{ printf "images/%s %d\n", $0, substr($1, 6) + 0 }') > "$lst/train.txt"
(cd "$syn/test" && find . -name '*.png' | sort | sed 's|^\./||' | awk -F/ '{ printf "val_images/%s %d\n", $0, substr($1, 6) + 0 }') > "$lst/val.txt"
expect "list layout" 0 'layout: list files' "$eos" dataset "$lst"
expect "list counts" 0 'total +12 +6 +12$' "$eos" dataset "$lst"
expect "list long tail" 0 'total +12 +6 +7$' "$eos" dataset "$lst" --imbalance exp:4
cp "$lst/train.txt" "$fx/train.good"
{ head -3 "$fx/train.good"; echo "images/nope.png 1"; tail -n +4 "$fx/train.good"; } > "$lst/train.txt"
expect "list names the missing file and its line" 1 "train.txt line 4: image 'images/nope.png' not found" "$eos" dataset "$lst"
expect "list --skip-bad skips it" 0 '1 unreadable image\(s\) skipped' "$eos" dataset "$lst" --skip-bad
{ head -3 "$fx/train.good"; echo "images/class01/0000.png x1"; } > "$lst/train.txt"
expect "list bad label" 1 "train.txt line 4: label 'x1' is not a whole number 0..999999" "$eos" dataset "$lst"
cp "$fx/train.good" "$lst/train.txt"
echo "val_images/class00/0000.png 7" >> "$lst/val.txt"
expect "list test label unseen in training" 1 'val.txt line 7: label 7 never occurs in .*train.txt \(classes 0..2\)' "$eos" dataset "$lst"
sed -i '$d' "$lst/val.txt"

# images of different sizes: refused without --resize, brought to one size with it. BMPs of
# any size, written by hand: 24-bit, bottom-up, rows padded to 4 bytes
le32() { printf "\\$(printf %03o $(($1 & 255)))\\$(printf %03o $(($1 >> 8 & 255)))\\$(printf %03o $(($1 >> 16 & 255)))\\$(printf %03o $(($1 >> 24 & 255)))"; }
bmp() {  # bmp W H GREY FILE
    row=$(( ($1 * 3 + 3) / 4 * 4 )); size=$((row * $2))
    { printf 'BM'; le32 $((54 + size)); le32 0; le32 54; le32 40; le32 "$1"; le32 "$2"; printf '\001\000\030\000'
      le32 0; le32 "$size"; le32 2835; le32 2835; le32 0; le32 0
      head -c "$size" /dev/zero | tr '\0' "\\$(printf %03o "$3")"; } > "$4"
}
mix="$fx/mix"
for s in train test; do for c in a b; do mkdir -p "$mix/$s/$c"; done; done
bmp 40 30 200 "$mix/train/a/0.bmp"; bmp 13 7 100 "$mix/train/a/1.bmp"
bmp 20 20 50 "$mix/train/b/0.bmp"; bmp 64 48 150 "$mix/train/b/1.bmp"
bmp 9 9 60 "$mix/test/a/0.bmp"; bmp 33 17 70 "$mix/test/b/0.bmp"
expect "mixed sizes refused without --resize" 1 'is 13 x 7 pixels, expected 40 x 30 like the first image .*--resize HxW' "$eos" dataset "$mix"
expect "mixed sizes with --resize" 0 'images: 3 x 16 x 12 \(channels x height x width\), resized at load' "$eos" dataset "$mix" --resize 16x12
expect "--resize on the list files" 0 'images: 3 x 8 x 8 ' "$eos" dataset "$lst" --resize 8x8
expect "--resize on CIFAR-100" 0 'images: 3 x 16 x 16 ' "$eos" dataset "$c100" --resize 16x16
expect "--resize bad value" 2 "--resize '16': expected HxW" "$eos" dataset "$mix" --resize 16
for cmd in train evaluate embed pipeline bench; do
    expect "$cmd --resize bad value" 2 "--resize '0x8': expected HxW" "$eos" "$cmd" --resize 0x8 --data "$mix" --out "$fx/x"
done

# every --data command takes the new layouts: train on the mixed-size folders and on the list
# files, evaluate and embed with the same --resize
run="$fx/run-mix"
expect "train on mixed sizes with --resize" 0 'wrote .*model.safetensors' "$eos" train --data "$mix" --resize 16x16 --out "$run" --arch resnet8 --epochs 1 --max-steps 1 --batch 4 --imbalance none --quiet
expect "train on mixed sizes without --resize" 1 'expected 40 x 30 like the first image' "$eos" train --data "$mix" --out "$fx/run-x" --arch resnet8 --epochs 1 --max-steps 1 --imbalance none --quiet
expect "evaluate with --resize" 0 'ACC [0-9.]+' "$eos" evaluate --model "$run/model.safetensors" --data "$mix" --resize 16x16 --out "$run/eval"
expect "embed with --resize" 0 'embedding gap' "$eos" embed --model "$run/model.safetensors" --data "$mix" --resize 16x16 --out "$run/emb" --imbalance none
expect "train on list files" 0 'wrote .*model.safetensors' "$eos" train --data "$lst" --out "$fx/run-lst" --arch resnet8 --epochs 1 --max-steps 1 --batch 4 --imbalance exp:4 --quiet
expect "train on svhn" 0 'wrote .*model.safetensors' sh -c "cp '$corpus/svhn/valid_v5.mat' '$svhn/train_32x32.mat' && '$eos' train --data '$svhn' --out '$fx/run-svhn' --arch resnet8 --epochs 1 --max-steps 1 --batch 4 --imbalance none --quiet"
# 100 classes: a resnet8 with a 100-way head trains a few steps on CIFAR-100 (resized to 8 x 8
# to stay fast) and is evaluated; metrics.json has 100 recalls and a 100 x 100 confusion matrix
r100="$fx/run-c100"
expect "train 100 classes" 0 'wrote .*model.safetensors' "$eos" train --data "$c100" --resize 8x8 --out "$r100" --arch resnet8 --epochs 1 --max-steps 2 --batch 32 --imbalance exp:2 --quiet
expect "evaluate 100 classes" 0 'ACC [0-9.]+' "$eos" evaluate --model "$r100/model.safetensors" --data "$c100" --resize 8x8 --out "$r100/eval"
expect "the head is 100 x 64" 0 '"linear.weight":\{"dtype":"F32","shape":\[100,64\]' head -c 20000 "$r100/model.safetensors"
expect "train resnet32, 100 classes" 0 'wrote .*model.safetensors' "$eos" train --data "$c100" --resize 8x8 --out "$fx/run-c100-r32" --arch resnet32 --epochs 1 --max-steps 1 --batch 16 --imbalance none --quiet
expect "metrics.json has 100 recalls" 0 '^100$' sh -c "tr -d ' \n' < '$r100/eval/metrics.json' | sed 's/.*\"per_class_recall\":\[\([^]]*\)\].*/\1/' | tr ',' '\n' | grep -c ."
# the pipeline on CIFAR-100-LT (100 a class: exp:100 keeps floor(100 * 0.01^(c/99)) >= 1 of
# each), resized to 8 x 8: a 100-class table that fits a terminal, and the report
big="$fx/c100big"
mkdir -p "$big"
for i in $(seq 1 50); do cat "$c100/train.bin"; done > "$big/train.bin"
cp "$c100/test.bin" "$big/test.bin"
expect "pipeline on CIFAR-100-LT with --resize" 0 'ce \+ eos .* [0-9.]+ / [0-9.]+ / [0-9.]+$' "$eos" pipeline --data "$big" --resize 8x8 --out "$fx/pipe" --profile quick --methods eos --epochs 1 --max-steps 1 --quiet
expect "pipeline summary records --resize" 0 '"resize": "8x8"' cat "$fx/pipe/summary.json"
expect "pipeline report written" 0 'Classes are sorted by their training-set size' cat "$fx/pipe/report.html"
finish
