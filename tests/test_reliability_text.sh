#!/bin/sh
# Names and numbers of hostile datasets and runs (issue 13, items 5 and 13): class names kept
# whole and every JSON file and the report valid UTF-8; doctored logs drawn without inf/nan or
# numbers hundreds of digits long. usage: test_reliability_text.sh path/to/eos
eos="$1"
. "$(dirname "$0")/cli_common.sh"

fx=$(tmpdir eos-rel-text)
trap 'rm -rf "$fx"' EXIT

# utf8_json NAME FILE: FILE is valid UTF-8, and valid JSON when python3 is there to say so
utf8_json() {
    if iconv -f UTF-8 -t UTF-8 "$2" >/dev/null 2>&1; then ok "$1 is valid UTF-8"
    else bad "$1 is valid UTF-8" "iconv rejects $2: $(iconv -f UTF-8 -t UTF-8 "$2" 2>&1 >/dev/null)"; fi
    case "$2" in *.json) ;; *) return ;; esac
    if command -v python3 >/dev/null 2>&1; then
        expect "$1 is valid JSON" 0 '^json ok$' python3 -c 'import json,sys; json.load(open(sys.argv[1], encoding="utf-8")); print("json ok")' "$2"
    else
        echo "[  SKIPPED ] $1 is valid JSON (no python3)"
    fi
}

# ---- item 5: class names share their first 70 bytes, a 2-byte character sits across byte 63,
# and one name holds a byte that is not UTF-8
syn="$fx/names"
expect "synth" 0 'wrote 3 classes' "$eos" synth --out "$syn" --classes 3 --train-per-class 100 --test-per-class 4
pre=$(printf 'a%.0s' $(seq 62))$(printf '\303\251')bbbbbbbb   # 62 + 2 + 8 = 72 bytes in common
one="${pre}_one" two="${pre}_two" badname=$(printf 'bad\377name')
for s in train test; do
    mv "$syn/$s/class00" "$syn/$s/$one" && mv "$syn/$s/class01" "$syn/$s/$two" && mv "$syn/$s/class02" "$syn/$s/$badname"
done
expect "dataset lists both long names" 0 "${pre}_one .*" "$eos" dataset "$syn"
expect "dataset lists the second long name" 0 "${pre}_two" "$eos" dataset "$syn"
expect "pipeline on the names" 0 'ce \+ eos +[0-9.]+' "$eos" pipeline --data "$syn" --out "$fx/run" --profile quick --epochs 1 \
    --max-steps 1 --methods eos --quiet
for f in summary.json phase1/metrics.json eos/metrics.json embeddings/embed_metrics.json report.html; do
    utf8_json "$f" "$fx/run/$f"
done
expect "summary.json holds both whole names" 0 "_one\", \"${pre}_two|_two\", \"${pre}_one" cat "$fx/run/summary.json"
expect "the bad byte is U+FFFD in the summary" 0 "\"bad$(printf '\357\277\275')name\"" cat "$fx/run/summary.json"
expect "the bad byte is U+FFFD in the report" 0 "bad$(printf '\357\277\275')name" cat "$fx/run/report.html"
# `eos embed` writes embed_metrics.json itself
expect "embed on the names" 0 'wrote .*embed_metrics.json' "$eos" embed --model "$fx/run/phase1/model.safetensors" \
    --data "$syn" --out "$fx/emb" --quiet
utf8_json "embed's embed_metrics.json" "$fx/emb/embed_metrics.json"

# ---- item 13: a copy of the run with a doctored log and summary, drawn again
cp -r "$fx/run" "$fx/doc"
log="$fx/doc/phase1/train_log.csv"
# every numeric field of the data rows huge or tiny, the epoch kept
awk -F, 'BEGIN { OFS = "," } NR == 1 { print; next } { for (i = 2; i <= NF; i++) $i = (i % 2 ? "1e308" : "-1e308"); print }' \
    "$log" > "$log.new" && mv "$log.new" "$log"
sed 's/"per_class_recall": \[[-0-9.e]*/"per_class_recall": [1e300/; s/"seconds": [0-9.]*/"seconds": 1e300/g;
     s/"embedding_images_per_second": [0-9.]*/"embedding_images_per_second": -1e300/; s/"seed": [0-9]*/"seed": 1e300/' \
    "$fx/doc/summary.json" > "$fx/doc/s.json" && mv "$fx/doc/s.json" "$fx/doc/summary.json"
expect "report of the doctored run" 0 'wrote' "$eos" report "$fx/doc"
page="$fx/doc/report.html"
expect "the doctored recall is shown short" 0 '1e\+300' cat "$page"
expect "no inf or nan in the page" 0 '^clean$' sh -c "grep -Eiq '(^|[^a-z])(-?inf|nan)([^a-z]|\$)' '$page' || echo clean"
expect "no number over 20 characters" 0 '^clean$' sh -c "grep -Eq '[0-9.]{21,}' '$page' || echo clean"
utf8_json "the doctored report" "$page"

finish
