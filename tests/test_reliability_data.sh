#!/bin/sh
# Issue 13, datasets: hostile dataset files refused exactly (empty classes, gzip bombs, huge or
# damaged images, broken links, long CSV numbers), each through `eos dataset` / `eos train`.
# usage: test_reliability_data.sh path/to/eos
eos="$1"
. "$(dirname "$0")/cli_common.sh"

fx=$(tmpdir rel-data)
# bytes from octal escapes (dash's printf has no \x); be32 N: 4 big-endian bytes
be32() { printf "\\$(printf %03o $(($1 >> 24 & 255)))\\$(printf %03o $(($1 >> 16 & 255)))\\$(printf %03o $(($1 >> 8 & 255)))\\$(printf %03o $(($1 & 255)))"; }
record() { printf "\\$(printf %03o "$1")"; head -c 3072 /dev/zero; }
# a PNG header (signature + IHDR of W x H RGB, CRC not checked by the decoder) and no image data
png_header() { printf '\211PNG\r\n\032\n\0\0\0\015IHDR'; be32 "$1"; be32 "$2"; printf '\010\002\0\0\0\0\0\0\0'; }

# ---- item 8: a class without training images is an error for every layout ----
cif="$fx/cifar-one-class"; mkdir "$cif"
for b in 1 2 3 4 5; do record 0 > "$cif/data_batch_$b.bin"; done
for c in 0 1 2 3 4 5 6 7 8 9; do record "$c"; done > "$cif/test_batch.bin"
expect "cifar with empty classes is refused" 1 'data_batch_1\.\.5\.bin \(CIFAR-10 binary\): 9 of its 10 classes have no training images: 1 \(automobile\), 2 \(bird\)' "$eos" dataset "$cif"
expect "train on empty classes is refused" 1 '9 of its 10 classes have no training images' "$eos" train --data "$cif" --out "$fx/run-empty" --arch resnet8 --epochs 1 --imbalance none --quiet
expect "nothing trained on empty classes" 0 '^absent$' sh -c "test -e '$fx/run-empty/model.safetensors' && echo present || echo absent"

# IDX: MNIST layout, 3 images of 2 x 2, labels given
idx() {  # idx DIR N_TRAIN LABELS... (the test split: 3 images labelled 0 1 2)
    d=$1 n=$2; shift 2; mkdir -p "$d"
    { printf '\0\0\010\003'; be32 "$n"; be32 2; be32 2; head -c $((n * 4)) /dev/zero; } > "$d/train-images-idx3-ubyte"
    { printf '\0\0\010\001'; be32 "$n"; for l in "$@"; do printf "\\$(printf %03o "$l")"; done; } > "$d/train-labels-idx1-ubyte"
    { printf '\0\0\010\003'; be32 3; be32 2; be32 2; head -c 12 /dev/zero; } > "$d/t10k-images-idx3-ubyte"
    { printf '\0\0\010\001'; be32 3; printf '\0\001\002'; } > "$d/t10k-labels-idx1-ubyte"
}
idx "$fx/idx-ok" 3 0 1 2
expect "idx fixture loads" 0 'classes: 3' "$eos" dataset "$fx/idx-ok"
idx "$fx/idx-255" 4 0 1 2 255
expect "idx label 255 is not 256 classes" 1 'train-labels-idx1-ubyte \(IDX \(MNIST layout\)\): 252 of its 256 classes have no training images: 3\.\.254 \(the class count comes from the largest label, 255 at position 3' "$eos" dataset "$fx/idx-255"

# --imbalance exp:100 on 20 images per class: classes left empty are refused, a ratio suggested
c20="$fx/cifar-20"; mkdir "$c20"
for b in 1 2 3 4 5; do for k in 1 2 3 4; do for c in 0 1 2 3 4 5 6 7 8 9; do record "$c"; done; done > "$c20/data_batch_$b.bin"; done
cp "$cif/test_batch.bin" "$c20/"
expect "exp:100 on 20 per class is refused" 1 'exp:100 leaves class 6 \(frog\) and 3 more class\(es\) after it with no training images: class 6 keeps floor\(20 \* \(1/100\)\^\(6/9\)\) = 0 of its 20' "$eos" dataset "$c20" --imbalance exp:100
expect "the refusal suggests a ratio" 1 'hint: use a smaller ratio, e\.g\. --imbalance exp:20' "$eos" dataset "$c20" --imbalance exp:100
expect "step:50 on 20 per class is refused" 1 'step:50 leaves class 5 \(dog\).*floor\(20 / 50\) = 0' "$eos" dataset "$c20" --imbalance step:50
expect "the suggested ratio works" 0 '9  truck +20 +1 +1$' "$eos" dataset "$c20" --imbalance exp:20
expect "train refuses the empty subset" 1 'selecting the long-tailed subset: .*exp:100 leaves class 6' "$eos" train --data "$c20" --out "$fx/run-lt" --arch resnet8 --epochs 1 --quiet

# ---- item 10: a gzip IDX is inflated header first, never past the size its header declares ----
bomb="$fx/idx-bomb"; idx "$bomb" 3 0 1 2
{ cat "$bomb/train-images-idx3-ubyte"; head -c 50000000 /dev/zero; } | gzip -1 > "$bomb/train-images-idx3-ubyte.gz"
rm "$bomb/train-images-idx3-ubyte"
expect "gzip bomb stops at the declared size" 1 'train-images-idx3-ubyte\.gz holds more data than its header declares \(28 bytes\): stopped reading there' "$eos" dataset "$bomb"
gzip -c "$fx/idx-ok/train-images-idx3-ubyte" > "$bomb/train-images-idx3-ubyte.gz"
expect "an honest gzip IDX loads" 0 'total +3 +3 +3' "$eos" dataset "$bomb"

# ---- item 11: exact messages ----
idx "$fx/idx-empty" 0
expect "idx with no training images says so" 1 'train-images-idx3-ubyte holds no images \(its header counts 0\)' "$eos" dataset "$fx/idx-empty"
syn="$fx/syn"
"$eos" synth --out "$syn" --classes 3 --train-per-class 4 --test-per-class 2 >/dev/null
cp -r "$syn" "$fx/huge"; png_header 100000 100000 > "$fx/huge/train/class01/0002.png"
expect "a huge PNG is too large, not unknown" 1 'class01/0002\.png declares 100000 x 100000 pixels, more than the limit of 4096 x 4096' "$eos" dataset "$fx/huge"
{ printf 'label,f0,f1\n'
  for i in 0 1 2 3; do printf '0,0.%0100d1,1.2500000000000000000000000000000000000000000000000000000000000000000000\n' "$i"; done
  printf '1,1.5,-2.%080d\n1,2.5,3\n' 0; } > "$fx/long.csv"
expect "a CSV number longer than 63 characters is read" 0 '6 rows -> 8' "$eos" resample --in "$fx/long.csv" --out "$fx/long-out.csv" --method ros

# ---- item 7: --skip-bad when the first image is damaged but has a readable header ----
cp -r "$syn" "$fx/first-bad"; png_header 64 64 > "$fx/first-bad/train/class00/0000-damaged.png"
expect "a damaged first image does not set the size" 0 'loaded 12 train \+ 6 test images.*, 1 unreadable image\(s\) skipped' "$eos" dataset "$fx/first-bad" --skip-bad
expect "without --skip-bad it is named" 1 'cannot decode image .*class00/0000-damaged\.png' "$eos" dataset "$fx/first-bad"

# ---- item 12: symbolic link loops and dangling links in class folders are reported ----
cp -r "$syn" "$fx/links"
ln -s loop "$fx/links/train/class00/loop"
ln -s /nonexistent/eos-image.png "$fx/links/test/class02/dangling.png"
expect "a link loop is an error" 1 'cannot read image .*class00/loop: a symbolic link loop' "$eos" dataset "$fx/links"
expect "links are skipped and counted with --skip-bad" 0 'loaded 12 train \+ 6 test images.*, 2 unreadable image\(s\) skipped' "$eos" dataset "$fx/links" --skip-bad
rm "$fx/links/train/class00/loop"
expect "a dangling link is an error" 1 'class02/dangling\.png: a dangling symbolic link \(to ./nonexistent/eos-image\.png' "$eos" dataset "$fx/links"

rm -rf "$fx"
finish
