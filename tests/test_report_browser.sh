#!/bin/sh
# The run report in a real browser: a tiny pipeline run on a generated dataset, its report.html
# rendered by headless chromium; the page must log nothing to the console (no script errors),
# the screenshot must not be blank, and every chart must have drawn pixels (tests/png_check.c).
# Exit 77 (ctest SKIP) when no chromium is installed; .ci/run installs Debian's.
# usage: test_report_browser.sh path/to/eos path/to/png_check
eos="$1" check="$2"
browser=""
for b in chromium chromium-browser google-chrome; do
    if command -v "$b" >/dev/null 2>&1; then browser=$(command -v "$b"); break; fi
done
if [ -z "$browser" ]; then
    echo "SKIP: no chromium found (Debian: apt-get install --no-install-recommends chromium); the browser test needs one"
    exit 77
fi
tmp=$(mktemp -d "${EOS_TEST_TMP:-/tmp}/report-browser-XXXXXX" 2>/dev/null || mktemp -d)
fail() { echo "[  FAILED  ] $1"; [ -n "$2" ] && sed 's/^/    /' "$2" | tail -40; echo "(files kept in $tmp)"; exit 1; }

# a tiny run: 4 classes (exp:100 keeps 100, 21, 4, 1 training images), 2 short epochs
"$eos" synth --out "$tmp/syn" --classes 4 --train-per-class 100 --test-per-class 10 > "$tmp/log" 2>&1 ||
    fail "eos synth" "$tmp/log"
"$eos" pipeline --data "$tmp/syn" --out "$tmp/run" --profile quick --epochs 2 --max-steps 2 --methods eos,ros,focal \
    --quiet > "$tmp/log" 2>&1 || fail "eos pipeline" "$tmp/log"
page="$tmp/run/report.html"
[ -s "$page" ] || fail "the pipeline wrote no report.html" "$tmp/log"
echo "[       OK ] pipeline wrote report.html ($(wc -c < "$page") bytes)"

# self-contained: no scripts, no links to anything outside the page
if grep -Eiq '<script|<link|<img|<iframe|src=|href=|url\(|@import' "$page"; then
    grep -Ein '<script|<link|<img|<iframe|src=|href=|url\(|@import' "$page" | head -5 > "$tmp/bad"
    fail "report.html loads something from outside the page or runs a script" "$tmp/bad"
fi
echo "[       OK ] no scripts and no external resources"

# `eos report` makes the same page again from the files alone
"$eos" report "$tmp/run" --out "$tmp/again.html" > "$tmp/log" 2>&1 || fail "eos report" "$tmp/log"
cmp -s "$page" "$tmp/again.html" || fail "eos report wrote a different page than the pipeline" "$tmp/log"
echo "[       OK ] eos report makes the same page"

flags="--headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 --no-first-run
       --disable-extensions --user-data-dir=$tmp/profile"
# 1. where the charts are: a copy of the page with a measuring script inserted before </body>
#    (after every chart, so it moves nothing), read back with --dump-dom
cat > "$tmp/measure.txt" <<'EOF'
<pre id="eos-boxes"></pre><script>
var o = [], d = document.documentElement;
document.querySelectorAll("svg.chart").forEach(function (e) {
  var r = e.getBoundingClientRect();
  o.push(e.id + " " + Math.round(r.left + scrollX) + " " + Math.round(r.top + scrollY) + " " +
         Math.round(r.width) + " " + Math.round(r.height));
});
o.push("page 0 0 " + d.scrollWidth + " " + d.scrollHeight);
document.getElementById("eos-boxes").textContent = o.join("\n");
</script>
EOF
awk -v f="$tmp/measure.txt" '/<\/body>/ { while ((getline l < f) > 0) print l } { print }' "$page" > "$tmp/measure.html"
# shellcheck disable=SC2086
timeout 120 "$browser" $flags --window-size=1200,900 --dump-dom "file://$tmp/measure.html" > "$tmp/dom.html" 2> "$tmp/dom.err" ||
    fail "chromium --dump-dom" "$tmp/dom.err"
sed -n '/<pre id="eos-boxes">/,/<\/pre>/p' "$tmp/dom.html" | sed 's/<[^>]*>//g' | grep -E '^[a-z0-9-]+ ' > "$tmp/boxes.txt"
height=$(awk '$1 == "page" { print $5 }' "$tmp/boxes.txt")
if [ -z "$height" ] || [ "$height" -le 500 ]; then fail "could not measure the page" "$tmp/dom.html"; fi
for id in chart-recall chart-loss chart-train-acc chart-test-bac chart-counts chart-confusion-0 chart-confusion-3 \
          chart-projection chart-gap chart-timings; do
    grep -q "^$id " "$tmp/boxes.txt" || fail "the page has no chart $id" "$tmp/boxes.txt"
done
echo "[       OK ] all $(grep -vc '^page ' "$tmp/boxes.txt") charts laid out, page 1200x$height"

# 2. the page itself, whole, with the console on stderr
# shellcheck disable=SC2086
timeout 120 "$browser" $flags --window-size=1200,"$height" --enable-logging=stderr --v=0 \
    --screenshot="$tmp/shot.png" "file://$page" > "$tmp/shot.log" 2>&1 || fail "chromium --screenshot" "$tmp/shot.log"
[ -s "$tmp/shot.png" ] || fail "chromium wrote no screenshot" "$tmp/shot.log"
if grep -E ':CONSOLE|Uncaught' "$tmp/shot.log" > "$tmp/console"; then fail "the page wrote to the console" "$tmp/console"; fi
echo "[       OK ] no console messages, no script errors"

# 3. pixels: not blank, every chart drawn
"$check" "$tmp/shot.png" "$tmp/boxes.txt" > "$tmp/pixels" 2>&1 || fail "pixel check" "$tmp/pixels"
sed 's/^/    /' "$tmp/pixels"
echo "[       OK ] the screenshot is not blank and every chart has drawn pixels"
rm -rf "$tmp"
