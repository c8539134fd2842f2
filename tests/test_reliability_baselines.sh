#!/bin/sh
# Issue 16, baselines and eos-ref from the command line: each method takes its reference k
# (imbalanced-learn's for smote/borderline/adasyn, the paper's for eos), --k/--m/--adasyn-round
# change them, `--method eos-ref` runs the released EOS.py's indexing, and the pipeline takes it.
# usage: test_reliability_baselines.sh path/to/eos
eos="$1"
. "$(dirname "$0")/cli_common.sh"

t=$(tmpdir rel-baselines)

# 3 overlapping classes in 2-d: 40, 15 and 9 rows (64)
awk 'BEGIN { print "label,f0,f1"; s = 7
             for (c = 0; c < 3; c++) for (i = 0; i < (c == 0 ? 40 : c == 1 ? 15 : 9); i++) {
                 s = (s * 1103515245 + 12345) % 2147483648; a = s / 2147483648
                 s = (s * 1103515245 + 12345) % 2147483648; b = s / 2147483648
                 printf "%d,%.4f,%.4f\n", c, c * 0.6 + 2 * a, 2 * b } }' > "$t/emb.csv"
# "N rows: a b c": the per-class row counts of an embedding CSV
counts() { awk -F, 'NR > 1 { n[$1]++; t++ } END { printf "%d rows: %d %d %d\n", t, n[0], n[1], n[2] }' "$1"; }

expect "eos keeps the paper's k = 10" 0 '^eos, k 10, seed 0: 64 rows -> 120 \(56 new\)' \
    "$eos" resample --in "$t/emb.csv" --out "$t/eos.csv"
expect "smote takes imbalanced-learn's k = 5" 0 '^smote, k 5, seed 0: 64 rows -> 120' \
    "$eos" resample --in "$t/emb.csv" --out "$t/smote.csv" --method smote
expect "borderline takes k = 5, m = 10" 0 '^borderline, k 5, m 10, seed 0: 64 rows -> 120' \
    "$eos" resample --in "$t/emb.csv" --out "$t/bl.csv" --method borderline
expect "borderline --k 3 --m 6" 0 '^borderline, k 3, m 6, seed 0' \
    "$eos" resample --in "$t/emb.csv" --out "$t/bl36.csv" --method borderline --k 3 --m 6
expect "adasyn takes k = 5" 0 '^adasyn, k 5, seed 0: 64 rows -> ' \
    "$eos" resample --in "$t/emb.csv" --out "$t/ad.csv" --method adasyn
expect "adasyn --adasyn-round remainder ends every class at 40" 0 '^120 rows: 40 40 40$' \
    sh -c "'$eos' resample --in '$t/emb.csv' --out '$t/ad_lr.csv' --method adasyn --adasyn-round remainder >/dev/null && awk -F, 'NR > 1 { n[\$1]++; t++ } END { printf \"%d rows: %d %d %d\\n\", t, n[0], n[1], n[2] }' '$t/ad_lr.csv'"
expect "eos-ref runs" 0 '^eos-ref, k 10, seed 0: 64 rows -> 120 \(56 new\)' \
    "$eos" resample --in "$t/emb.csv" --out "$t/ref.csv" --method eos-ref
expect "eos-ref balances the classes" 0 '^120 rows: 40 40 40$' counts "$t/ref.csv"
# the same seed draws the same bases and gaps: eos-ref differs from eos only in the partner
expect "eos-ref differs from eos" 0 '^differ$' sh -c "cmp -s '$t/eos.csv' '$t/ref.csv' && echo same || echo differ"
expect "--m on another method is refused" 2 "takes no --m" \
    "$eos" resample --in "$t/emb.csv" --out "$t/x.csv" --method smote --m 6
expect "--m 0 is refused" 2 "--m '0': expected 1..64" \
    "$eos" resample --in "$t/emb.csv" --out "$t/x.csv" --method borderline --m 0
expect "--adasyn-round other" 2 "--adasyn-round 'even': expected rint or remainder" \
    "$eos" resample --in "$t/emb.csv" --out "$t/x.csv" --method adasyn --adasyn-round even
[ ! -e "$t/x.csv" ] && ok "refused runs wrote nothing" || bad "refused runs wrote nothing" "$t/x.csv exists"
expect "resample --help: eos-ref and the released code" 0 'eos-ref +the authors. released EOS.py' "$eos" resample --help
expect "resample --help: --m" 0 '--m N +borderline: the neighbours that decide the danger set' "$eos" resample --help
expect "resample --help: imbalanced-learn's defaults" 0 "imbalanced-learn 0.10's \(k_neighbors 5, m_neighbors 10" "$eos" resample --help
expect "a bad method lists eos-ref" 2 "expected eos, eos-ref, ros" \
    "$eos" resample --in "$t/emb.csv" --out "$t/x.csv" --method magic

# the pipeline takes eos-ref (an unknown name after it is what stops it), and runs it
expect "pipeline --methods takes eos-ref" 2 "unknown method 'magic': expected eos, eos-ref," \
    "$eos" pipeline --data "$t/none" --out "$t/pipe0" --methods eos-ref,magic
syn="$t/synth"
expect "synth" 0 'wrote 4 classes' "$eos" synth --out "$syn" --classes 4 --train-per-class 100 --test-per-class 4
expect "pipeline with eos-ref and smote" 0 'ce \+ eos-ref +[0-9.]+ +[0-9.]+' \
    "$eos" pipeline --data "$syn" --out "$t/pipe" --profile quick --epochs 1 --max-steps 1 --methods eos-ref,smote --quiet
expect "pipeline eos-ref balanced" 0 '"counts_after": \[100, 100, 100, 100\]' cat "$t/pipe/eos-ref/metrics.json"

rm -rf "$t"
finish
