#!/bin/sh
# Issue 13, re-balancing: more than 256 classes go through resample and finetune, a class with
# no rows is refused naming the file and the class, and the pipeline says so before training.
# usage: test_reliability_sampling.sh path/to/eos
eos="$1"
. "$(dirname "$0")/cli_common.sh"

t=$(tmpdir rel-sampling)

# 300 classes, 2 features: 3 rows of every even class, 2 of every odd one (750 rows)
awk 'BEGIN { print "label,f0,f1"; s = 1
             for (c = 0; c < 300; c++) for (i = 0; i < 3 - c % 2; i++) {
                 s = (s * 1103515245 + 12345) % 2147483648
                 printf "%d,%.4f,%.4f\n", c, c * 0.1 + s / 2147483648 * 0.05, i * 0.01 } }' > "$t/c300.csv"
# "K classes, all 3" when each of the K labels of a CSV has 3 rows
all3() { awk -F, 'NR > 1 { n[$1]++ } END { k = 0; ok = 1; for (c in n) { k++; if (n[c] != 3) ok = 0 }
                  print k " classes, " (ok ? "all 3" : "uneven") }' "$1"; }

expect "resample eos takes 300 classes" 0 'eos, k 5, seed 0: 750 rows -> 900 \(150 new\)' \
    "$eos" resample --in "$t/c300.csv" --out "$t/c300_eos.csv" --k 5
expect "resample eos lists class 299" 0 '^ +299 +2 +3 ' \
    "$eos" resample --in "$t/c300.csv" --out "$t/c300_eos2.csv" --k 5
expect "resample eos: 3 rows of each of the 300 classes" 0 '^300 classes, all 3$' all3 "$t/c300_eos.csv"
expect "resample ros takes 300 classes" 0 'ros, k 10, seed 0: 750 rows -> 900 \(150 new\)' \
    "$eos" resample --in "$t/c300.csv" --out "$t/c300_ros.csv" --method ros
expect "resample ros: 3 rows of each of the 300 classes" 0 '^300 classes, all 3$' all3 "$t/c300_ros.csv"
expect "finetune takes 300 classes" 0 'head 300 x 2 trained' \
    "$eos" finetune --train "$t/c300_eos.csv" --test "$t/c300.csv" --out "$t/ft" --epochs 1
expect "finetune wrote metrics for 300 classes" 0 '"298", "299"\]' grep -o '"298", "299"\]' "$t/ft/metrics.json"
expect "finetune wrote a 300 x 2 head" 0 '"shape":\[300,2\]' sh -c "head -c 400 '$t/ft/head.safetensors' | grep -ao '\"shape\":\[300,2\]'"

# the bound is stated with the file and the line
printf 'label,f0\n65536,1\n' > "$t/huge.csv"
expect "a label over the bound names the file and line" 1 "huge.csv line 2: label '65536', expected an integer 0..65535" \
    "$eos" resample --in "$t/huge.csv" --out "$t/x.csv" --method ros
expect "finetune: a label over the bound" 1 "huge.csv line 2: label '65536', expected an integer 0..65535" \
    "$eos" finetune --train "$t/huge.csv" --out "$t/ft-huge"

# a class with no rows (1 of 0..2) is refused, naming the file and the class, for every method
printf 'label,f0,f1\n0,0,0\n0,1,0\n2,5,5\n2,6,5\n2,7,5\n' > "$t/gap.csv"
for m in eos ros smote borderline adasyn none; do
    expect "resample $m refuses an empty class" 1 'gap.csv: class 1 has no rows, but labels run up to 2' \
        "$eos" resample --in "$t/gap.csv" --out "$t/gap_$m.csv" --method "$m"
    [ ! -e "$t/gap_$m.csv" ] && ok "resample $m wrote nothing" || bad "resample $m wrote nothing" "$t/gap_$m.csv exists"
done
printf 'label,f0\n' > "$t/header.csv"
expect "resample of a header-only file" 1 'header.csv has no rows' "$eos" resample --in "$t/header.csv" --out "$t/x.csv" --method ros

# the pipeline refuses a long-tailed set with an empty class before training, not after phase 1
expect "synth" 0 'wrote 3 classes' "$eos" synth --out "$t/syn" --classes 3 --train-per-class 12 --test-per-class 2
expect "pipeline refuses an empty class before training" 1 'leaves class 2 \(class02\) with no training images' \
    "$eos" pipeline --data "$t/syn" --out "$t/pipe" --profile quick --epochs 1 --methods eos,ros --quiet
expect "pipeline says what it needs" 1 'at least 100 training images in every class' \
    "$eos" pipeline --data "$t/syn" --out "$t/pipe" --profile quick --epochs 1 --methods eos,ros --quiet
[ ! -e "$t/pipe/phase1/model.safetensors" ] && ok "pipeline trained nothing" ||
    bad "pipeline trained nothing" "$t/pipe/phase1/model.safetensors exists"

rm -rf "$t"
finish
