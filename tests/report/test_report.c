/* The run report without a device: the JSON reader on what our writers produce and on damaged
 * input, the 2-d PCA and projection sample, the SVG charts (balanced tags, escaped names, no NaN
 * in the output), and eos_report_write on a hand-made run folder, with the missing-file error;
 * the JSON string writer on bytes that are not UTF-8, and pages of doctored, hostile values. */
#include "test_common.h"

#include "json.h"
#include "svg.h"

#include <ctype.h>
#include <math.h>
#include <string.h>
#include <strings.h>

static size_t count(const char *hay, const char *needle) {
    size_t k = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) k++;
    return k;
}

/* ---- JSON ------------------------------------------------------------------------------- */

static void test_json_metrics_roundtrip(void **state) {
    (void)state;
    char dir[512], path[1024];
    test_tmpdir(dir, sizeof dir, "report-json");
    snprintf(path, sizeof path, "%s/metrics.json", dir);
    int32_t yt[6] = {0, 0, 1, 1, 2, 2}, yp[6] = {0, 1, 1, 1, 2, 0};
    eos_metrics m;
    EOS_ASSERT_OK(eos_metrics_compute(3, yt, yp, 6, &m));
    const char *names[3] = {"cat \"tabby\"", "dog\\x", "b\xc3\xa9te"};
    EOS_ASSERT_OK(eos_metrics_write_json(path, &m, names, "\"counts_before\": [5, 2, 1],\n  \"note\": null"));
    eos__json *j;
    EOS_ASSERT_OK(eos__json_read(path, &j));
    assert_true(fabs(eos__json_num(j, "bac", -1) - m.bac) < 1e-6);
    const eos__json *conf = eos__json_get(j, "confusion");
    assert_non_null(conf);
    assert_int_equal(conf->kind, EOS__JSON_ARRAY);
    assert_int_equal(conf->n, 3);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) assert_int_equal((int64_t)conf->items[r].items[c].num, m.confusion[r * 3 + c]);
    const eos__json *cls = eos__json_get(j, "classes");
    assert_string_equal(cls->items[0].str, "cat \"tabby\"");
    assert_string_equal(cls->items[1].str, "dog\\x");
    assert_string_equal(cls->items[2].str, "b\xc3\xa9te");
    assert_int_equal(eos__json_get(j, "note")->kind, EOS__JSON_NULL);
    assert_true(isnan(eos__json_num(j, "note", NAN)));
    assert_int_equal(eos__json_get(j, "counts_before")->items[1].num, 2);
    assert_null(eos__json_get(j, "absent"));
    eos__json_free(j);
    eos_metrics_free(&m);
}

static void test_json_escapes(void **state) {
    (void)state;
    const char *t = "{\"a\": \"\\u00e9\\n\\t\\\"\\/\\ud83d\\ude00\", \"b\": [true, false, -1.5e3, 0], \"c\": {}}";
    eos__json *j;
    EOS_ASSERT_OK(eos__json_parse(t, strlen(t), "t.json", &j));
    assert_string_equal(eos__json_str(j, "a", ""), "\xc3\xa9\n\t\"/\xf0\x9f\x98\x80");
    const eos__json *b = eos__json_get(j, "b");
    assert_int_equal(b->n, 4);
    assert_true(b->items[0].num == 1 && b->items[1].num == 0 && b->items[2].num == -1500);
    assert_int_equal(eos__json_get(j, "c")->n, 0);
    eos__json_free(j);
}

static void expect_bad_json(const char *t, const char *needle) {
    eos__json *j = (eos__json *)1;
    eos_status st = eos__json_parse(t, strlen(t), "bad.json", &j);
    if (st != EOS_ERR_FORMAT) fail_msg("'%s': got %s, want EOS_ERR_FORMAT", t, eos_status_str(st));
    assert_null(j);
    if (!strstr(eos_last_error()->message, needle)) fail_msg("'%s': message lacks '%s':\n%s", t, needle, eos_last_error()->message);
}

static void test_json_damaged(void **state) {
    (void)state;
    expect_bad_json("", "bad.json, line 1: the file ends");
    expect_bad_json("{\"a\": 1,\n}", "line 2: expected a member name");
    expect_bad_json("{\"a\": [1, 2}", "expected ',' or ']'");
    expect_bad_json("{\"a\": \"open}", "not closed");
    expect_bad_json("{\"a\": 1.2.3}", "a bad number");
    expect_bad_json("{\"a\": nul}", "expected a value");
    expect_bad_json("{\"a\": 1} x", "text after the end");
    expect_bad_json("{\"a\" 1}", "expected ':'");
    expect_bad_json("[\"\\q\"]", "unknown escape");
    expect_bad_json("[\"\\u12\"]", "bad \\u escape");
    expect_bad_json("[1e999]", "a bad number");
    char deep[300];
    memset(deep, '[', 200);
    deep[200] = 0;
    expect_bad_json(deep, "nested too deep");
    /* every prefix of a valid file is an error, never a crash */
    const char *full = "{\"x\": [1, {\"y\": \"z\\u00e9\"}, null, true], \"w\": -0.5}";
    for (size_t n = 0; n < strlen(full); n++) {
        eos__json *j;
        if (eos__json_parse(full, n, "prefix", &j) == EOS_OK) fail_msg("prefix %zu parsed", n);
    }
}

/* the whole buffer is valid UTF-8 (the check the JSON writer and the HTML escaper promise) */
static int valid_utf8(const char *s, size_t len) {
    for (size_t i = 0; i < len;) {
        if (!s[i]) return 0;
        size_t n = eos__utf8_char(s + i);
        if (n == 0) return 0;
        i += n;
    }
    return 1;
}

static void expect_literal(const char *in, const char *want) {
    char buf[256];
    size_t n = eos_json_format_string(buf, sizeof buf, in);
    if (strcmp(buf, want)) fail_msg("'%s' -> '%s', want '%s'", in, buf, want);
    assert_int_equal(n, strlen(want));
    assert_true(valid_utf8(buf, n));
    eos__json *j;  /* and our own strict reader takes it back */
    EOS_ASSERT_OK(eos__json_parse(buf, n, "literal", &j));
    assert_int_equal(j->kind, EOS__JSON_STRING);
    eos__json_free(j);
}

#define FFFD "\xef\xbf\xbd"

static void test_json_writer_invalid_utf8(void **state) {
    (void)state;
    expect_literal("plain", "\"plain\"");
    expect_literal("q\"b\\s/", "\"q\\\"b\\\\s/\"");
    expect_literal("\x01\n\t\r\x1f\x7f", "\"\\u0001\\n\\t\\r\\u001f\\u007f\"");
    /* valid UTF-8 passes unchanged: 2, 3 and 4 bytes, the edges of the ranges */
    expect_literal("b\xc3\xa9te \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbf \xf4\x8f\xbf\xbf", "\"b\xc3\xa9te \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbf \xf4\x8f\xbf\xbf\"");
    /* each byte that begins no valid character becomes one U+FFFD */
    expect_literal("bad\xffname", "\"bad" FFFD "name\"");
    expect_literal("\x80\xbf", "\"" FFFD FFFD "\"");                 /* stray continuation bytes */
    expect_literal("cut\xc3", "\"cut" FFFD "\"");                     /* a name cut inside a character */
    expect_literal("\xe2\x82", "\"" FFFD FFFD "\"");                  /* a 3-byte character cut after 2 */
    expect_literal("\xc0\xaf", "\"" FFFD FFFD "\"");                  /* overlong '/' */
    expect_literal("\xe0\x80\xaf", "\"" FFFD FFFD FFFD "\"");         /* overlong, 3 bytes */
    expect_literal("\xed\xa0\x80", "\"" FFFD FFFD FFFD "\"");         /* a surrogate */
    expect_literal("\xf4\x90\x80\x80", "\"" FFFD FFFD FFFD FFFD "\""); /* above U+10FFFF */
    expect_literal("\xf8\x88\x80\x80\x80", "\"" FFFD FFFD FFFD FFFD FFFD "\"");
    expect_literal("\xc3\"", "\"" FFFD "\\\"\"");                     /* the quote after a cut lead byte stays escaped */
    /* snprintf's contract: the whole length back, the buffer cut and terminated */
    char small[5];
    assert_int_equal(eos_json_format_string(small, sizeof small, "abcdef"), 8);
    assert_string_equal(small, "\"abc");
    assert_int_equal(eos_json_format_string(NULL, 0, "a\xff"), 2 + 1 + 3);
    char nul[8];
    assert_int_equal(eos_json_format_string(nul, sizeof nul, NULL), 4);
    assert_string_equal(nul, "null");
    /* the file writer: every byte value 1..255 in a name, the file still valid UTF-8 and JSON */
    char all[256];
    for (int i = 0; i < 255; i++) all[i] = (char)(i + 1);
    all[255] = 0;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    eos_json_write_string(f, all);
    fclose(f);
    assert_true(valid_utf8(buf, len));
    eos__json *j;
    EOS_ASSERT_OK(eos__json_parse(buf, len, "all bytes", &j));
    assert_int_equal(j->kind, EOS__JSON_STRING);
    assert_memory_equal(j->str, all, 127);  /* ASCII comes back as it was */
    eos__json_free(j);
    free(buf);
}

/* metrics.json of class names that are not UTF-8, or long and alike: whole, valid, distinct */
static void test_metrics_json_names_whole_and_valid(void **state) {
    (void)state;
    char dir[512], path[1024];
    test_tmpdir(dir, sizeof dir, "report-names");
    snprintf(path, sizeof path, "%s/metrics.json", dir);
    char a[128], b[128];
    memset(a, 'x', 62);
    memcpy(a + 62, "\xc3\xa9", 2);  /* a 2-byte character across byte 63 */
    memset(a + 64, 'y', 10);
    strcpy(b, a);
    strcpy(a + 74, "_one");
    strcpy(b + 74, "_two");
    const char *names[3] = {a, b, "bad\xffname\x01"};
    int32_t yt[3] = {0, 1, 2};
    eos_metrics m;
    EOS_ASSERT_OK(eos_metrics_compute(3, yt, yt, 3, &m));
    EOS_ASSERT_OK(eos_metrics_write_json(path, &m, names, NULL));
    eos_metrics_free(&m);
    size_t len;
    char *text = test_read_file(path, &len);
    assert_true(valid_utf8(text, len));
    free(text);
    eos__json *j;
    EOS_ASSERT_OK(eos__json_read(path, &j));
    const eos__json *cls = eos__json_get(j, "classes");
    assert_int_equal(cls->n, 3);
    assert_string_equal(cls->items[0].str, a);
    assert_string_equal(cls->items[1].str, b);
    assert_string_equal(cls->items[2].str, "bad" FFFD "name\x01");
    eos__json_free(j);
}

/* ---- PCA and the projection ----------------------------------------------------------- */

static void test_projection_fit_finds_the_main_direction(void **state) {
    (void)state;
    enum { N = 400, D = 8 };
    float *x = malloc(N * D * sizeof *x);
    eos_rng r;
    eos_rng_seed(&r, 11, 3);
    /* variance 100 along (1, 2, 0, ...)/sqrt 5, 4 along e3, 0.01 elsewhere; mean 3 */
    for (int i = 0; i < N; i++) {
        float a = 10 * eos_rng_normal(&r), b = 2 * eos_rng_normal(&r);
        for (int j = 0; j < D; j++) x[i * D + j] = 3 + 0.1f * eos_rng_normal(&r);
        x[i * D + 0] += a / sqrtf(5);
        x[i * D + 1] += 2 * a / sqrtf(5);
        x[i * D + 3] += b;
    }
    double mean[D], comp[2 * D], var[2];
    EOS_ASSERT_OK(eos_projection_fit(x, N, D, mean, comp, var));
    for (int j = 0; j < D; j++) assert_true(fabs(mean[j] - 3) < 1.5);
    assert_true(fabs(comp[0] - 1 / sqrt(5)) < 0.02 && fabs(comp[1] - 2 / sqrt(5)) < 0.02);  /* largest entry positive */
    assert_true(fabs(fabs(comp[D + 3]) - 1) < 0.02 && comp[D + 3] > 0);
    double dot = 0, n0 = 0, n1 = 0;
    for (int j = 0; j < D; j++) dot += comp[j] * comp[D + j], n0 += comp[j] * comp[j], n1 += comp[D + j] * comp[D + j];
    assert_true(fabs(dot) < 1e-9 && fabs(n0 - 1) < 1e-9 && fabs(n1 - 1) < 1e-9);
    assert_true(var[0] > 0.9 && var[0] < 1 && var[1] > 0.02 && var[1] < 0.06);
    assert_int_equal(eos_projection_fit(x, 1, D, mean, comp, var), EOS_ERR_INVALID_ARG);
    free(x);
}

static void test_projection_sample(void **state) {
    (void)state;
    char dir[512], path[1024];
    test_tmpdir(dir, sizeof dir, "report-proj");
    snprintf(path, sizeof path, "%s/projection.csv", dir);
    /* 3 classes: 300, 40, 5 real rows; then 0, 260, 295 synthetic ones placed far away along the
     * real rows' direction of largest variance (x3 = 1000) */
    size_t real[3] = {300, 40, 5}, syn[3] = {0, 260, 295}, n = 0, nr = 345;
    eos_embeddings e = {900, 4, malloc(900 * sizeof(int32_t)), malloc(900 * 4 * sizeof(float))};
    eos_rng r;
    eos_rng_seed(&r, 1, 1);
    for (int pass = 0; pass < 2; pass++)
        for (int c = 0; c < 3; c++)
            for (size_t i = 0; i < (pass ? syn[c] : real[c]); i++, n++) {
                e.labels[n] = c;
                for (int j = 0; j < 4; j++) e.x[n * 4 + j] = (float)c + eos_rng_normal(&r) * (j + 1);
                if (pass) e.x[n * 4 + 3] = 1000;
            }
    assert_int_equal(n, 900);
    double var[2];
    EOS_ASSERT_OK(eos_projection_write(path, &e, nr, 100, 7, var));
    char *text = test_read_file(path, NULL);
    assert_memory_equal(text, "label,synthetic,pc1,pc2\n", 24);
    size_t got[2][3] = {{0}};
    int far_real = 0, near_syn = 0;
    for (char *line = strchr(text, '\n') + 1; *line; line = strchr(line, '\n') + 1) {
        int c, s;
        double p1, p2;
        assert_int_equal(sscanf(line, "%d,%d,%lf,%lf", &c, &s, &p1, &p2), 4);
        got[s][c]++;
        /* the synthetic rows sit at x3 = 1000, far from every real row on the plane of the real ones */
        if (!s && fabs(p1) > 100) far_real++;
        if (s && fabs(p1) + fabs(p2) < 100) near_syn++;
    }
    size_t want[2][3] = {{100, 40, 5}, {0, 100, 100}};
    for (int s = 0; s < 2; s++)
        for (int c = 0; c < 3; c++) assert_int_equal(got[s][c], want[s][c]);
    assert_int_equal(far_real, 0);
    assert_int_equal(near_syn, 0);
    /* the same seed draws the same sample */
    char *first = text;
    EOS_ASSERT_OK(eos_projection_write(path, &e, nr, 100, 7, var));
    text = test_read_file(path, NULL);
    assert_string_equal(first, text);
    free(first);
    free(text);
    eos_embeddings_free(&e);
}

/* ---- the charts ----------------------------------------------------------------------------- */

static void test_svg_charts(void **state) {
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    const char *names[3] = {"a<b", "c&d", "\"e\""};
    double ex[3] = {1, 2, 3}, ey[3] = {0.5, NAN, 0.25}, ey2[3] = {2, 1, 0};
    eos__svg_series s[2] = {{"ce", 3, ex, ey}, {"focal <1>", 3, ex, ey2}};
    eos__svg_line_chart(f, "chart-a", "Loss & co", "epoch", "loss", s, 2, (eos__svg_range){0, NAN}, 360, 300);
    double v[6] = {1, 2, 3, 4, NAN, 0};
    eos__svg_bar_chart(f, "chart-b", "Bars", "n", 3, names, 2, names, v, (eos__svg_range){0, NAN}, "%.0f", 600, 300);
    eos__svg_hbar_chart(f, "chart-c", "Times", "s", 3, names, ex, "%.1f s", 600);
    int64_t conf[9] = {5, 0, 1, 0, 0, 0, 2, 2, 2};  /* a class without test images too */
    eos__svg_heatmap(f, "chart-d", "Confusion", 3, conf, names, 360);
    double px[4] = {0, 1, 2, 3}, py[4] = {1, 1, 0, 0};
    int32_t lab[4] = {0, 1, 2, 1};
    uint8_t syn[4] = {0, 0, 1, 1};
    eos__svg_scatter(f, "chart-e", "Scatter", "PC1", "PC2", 4, px, py, lab, syn, 3, names, "eos", 800, 400);
    /* degenerate inputs draw something sane: one point, all values equal, no points */
    double one[1] = {1}, flat[1] = {0.7};
    eos__svg_series s1 = {"only", 1, one, flat};
    eos__svg_line_chart(f, "chart-f", "One point", "epoch", "x", &s1, 1, (eos__svg_range){NAN, NAN}, 360, 300);
    eos__svg_scatter(f, "chart-g", "Empty", "x", "y", 0, px, py, lab, syn, 3, names, "eos", 400, 300);
    fclose(f);
    assert_int_equal(count(buf, "<svg "), 7);
    assert_int_equal(count(buf, "</svg>"), 7);
    assert_int_equal(count(buf, "<text"), count(buf, "</text>"));
    for (char id = 'a'; id <= 'g'; id++) {
        char want[32];
        snprintf(want, sizeof want, "id=\"chart-%c\"", id);
        assert_non_null(strstr(buf, want));
    }
    assert_non_null(strstr(buf, "a&lt;b"));
    assert_non_null(strstr(buf, "c&amp;d"));
    assert_non_null(strstr(buf, "&quot;e&quot;"));
    assert_null(strstr(buf, "a<b"));
    assert_null(strstr(buf, "nan"));
    assert_null(strstr(buf, "inf"));
    assert_null(strstr(buf, "NaN"));
    free(buf);
}

/* No "inf" or "nan" as a word, and no run of digits and dots over 20 characters. */
static void expect_sane_numbers(const char *text, const char *what) {
    for (const char *p = text; *p; p++) {
        if ((!strncasecmp(p, "inf", 3) || !strncasecmp(p, "nan", 3)) && (p == text || !isalpha((unsigned char)p[-1])) &&
            !isalpha((unsigned char)p[3]))
            fail_msg("%s: '%.40s' at offset %zu", what, p > text + 20 ? p - 20 : text, (size_t)(p - text));
        size_t run = strspn(p, "0123456789.");
        if (run > 20) fail_msg("%s: a number of %zu characters: '%.40s'", what, run, p);
        if (run) p += run - 1;
    }
}

/* Doctored values (1e308, -1e308, inf, 1e300 in every place a number goes): clamped or left
 * out, never inf/nan coordinates or 300-digit labels, and the tick loops end. */
static void test_svg_hostile_numbers(void **state) {
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    const char *names[3] = {"a", "b\xff", "c"};
    double ex[5] = {1, 2, 3, 4, 5}, ey[5] = {-1e308, 1e308, INFINITY, 0.5, -INFINITY}, ey2[5] = {1e300, 0.25, NAN, 1e300, 2};
    eos__svg_series s[2] = {{"ce", 5, ex, ey}, {"focal", 5, ex, ey2}};
    eos__svg_line_chart(f, "h-a", "Loss", "epoch", "loss", s, 2, (eos__svg_range){0, NAN}, 360, 300);
    eos__svg_line_chart(f, "h-b", "Acc", "epoch", "acc", s, 2, (eos__svg_range){0, 1}, 360, 300);
    /* epochs absurd, or so close that a step of 1 is lost in rounding: the loops still end */
    double hx[3] = {1e300, 1e300, -1e308}, big[3] = {1e11, 1e11 + 1e-4, 3}, fx[2] = {1e17, 1e17}, fy[2] = {1e15, 1e15 + 0.25};
    eos__svg_series h[2] = {{"x", 3, hx, ex}, {"y", 3, big, big}};
    eos__svg_line_chart(f, "h-c", "Epochs", "epoch", "v", h, 2, (eos__svg_range){NAN, NAN}, 360, 300);
    eos__svg_series lost = {"rounding", 2, fx, fy};  /* t += 1 at 1e17, t += 0.05 at 1e15: t never moved */
    eos__svg_line_chart(f, "h-c2", "Steps lost in rounding", "epoch", "v", &lost, 1, (eos__svg_range){NAN, NAN}, 360, 300);
    double v[6] = {1e300, -1e308, INFINITY, 0.5, 1e11, -2};
    eos__svg_bar_chart(f, "h-d", "Recall", "recall", 3, names, 2, names, v, (eos__svg_range){0, 1}, "%.2f", 600, 300);
    eos__svg_bar_chart(f, "h-e", "Counts", "n", 3, names, 2, names, v, (eos__svg_range){0, NAN}, "%.0f", 600, 300);
    double t[3] = {1e300, -1e308, 2.5};
    eos__svg_hbar_chart(f, "h-f", "Times", "s", 3, names, t, "%.1f s", 600);
    double px[4] = {1e308, -1e308, 1, 2}, py[4] = {0, 1e300, 1, 1 + 1e-13};
    int32_t lab[4] = {0, 1, 2, 1};
    uint8_t syn[4] = {0, 1, 0, 1};
    eos__svg_scatter(f, "h-g", "Scatter", "PC1", "PC2", 4, px, py, lab, syn, 3, names, "eos", 800, 400);
    fclose(f);
    assert_int_equal(count(buf, "<svg "), 8);
    assert_int_equal(count(buf, "</svg>"), 8);
    expect_sane_numbers(buf, "charts");
    assert_true(valid_utf8(buf, len));  /* "b\xff" drawn as b U+FFFD */
    assert_non_null(strstr(buf, "b" FFFD));
    free(buf);
}

/* ---- a whole (hand-made) run folder ------------------------------------------------------- */

static void make_run(const char *dir) {
    char path[1024];
    const char *names[2] = {"cat", "dog"};
    snprintf(path, sizeof path, "%s/phase1", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/eos", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/embeddings", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/summary.json", dir);
    test_write_text(path, "{\n  \"version\": \"0.1.0\", \"profile\": \"quick\", \"arch\": \"resnet8\", \"epochs\": 3, \"imbalance\": \"exp:100\",\n"
               "  \"seed\": 0, \"max_steps\": 0, \"eval_every\": 1, \"data\": \"d\", \"methods\": \"eos\", \"device\": \"cpu <x>\",\n"
               "  \"train_images\": 12, \"test_images\": 8, \"embedding_images_per_second\": 100.0, \"seconds\": 75.5,\n"
               "  \"classes\": [\"cat\", \"dog\"],\n"
               "  \"timings\": [{\"step\": \"phase 1: train ce\", \"seconds\": 70.0}, {\"step\": \"phase 3: head on eos\", \"seconds\": 0.1}],\n"
               "  \"projection\": {\"method\": \"eos\", \"file\": \"embeddings/projection.csv\", \"real\": 12, \"synthetic\": 8, "
               "\"per_class\": 120, \"variance\": [0.5, 0.2]},\n"
               "  \"results\": [\n"
               "    {\"method\": \"ce\", \"dir\": \"phase1\", \"acc\": 0.5, \"bac\": 0.5, \"gm\": 0.0, \"fm\": 0.33, \"per_class_recall\": [1.0, 0.0]},\n"
               "    {\"method\": \"ce + eos\", \"dir\": \"eos\", \"acc\": 0.75, \"bac\": 0.75, \"gm\": 0.7, \"fm\": 0.73, \"per_class_recall\": [0.75, 0.75]}\n"
               "  ]\n}\n");
    snprintf(path, sizeof path, "%s/phase1/train_log.csv", dir);
    test_write_text(path, "epoch,lr,train_loss,train_acc,val_fm,test_acc,test_bac,seconds,images_per_second\n"
               "1,0.1,1.2,0.5,-1,0.5,0.5,20.0,60.5\n2,0.1,0.9,0.6,-1,-1,-1,25.0,61.0\n3,0.001,0.7,0.7,-1,0.5,0.5,25.0,59.5\n");
    int32_t yt[8] = {0, 0, 0, 0, 1, 1, 1, 1}, p1[8] = {0, 0, 0, 0, 0, 0, 0, 0}, p2[8] = {0, 0, 0, 1, 1, 1, 1, 0};
    eos_metrics m;
    EOS_ASSERT_OK(eos_metrics_compute(2, yt, p1, 8, &m));
    snprintf(path, sizeof path, "%s/phase1/metrics.json", dir);
    EOS_ASSERT_OK(eos_metrics_write_json(path, &m, names, NULL));
    eos_metrics_free(&m);
    EOS_ASSERT_OK(eos_metrics_compute(2, yt, p2, 8, &m));
    snprintf(path, sizeof path, "%s/eos/metrics.json", dir);
    EOS_ASSERT_OK(eos_metrics_write_json(path, &m, names, "\"method\": \"eos\", \"counts_before\": [10, 2], \"counts_after\": [10, 10], \"synthetic\": 8"));
    eos_metrics_free(&m);
    snprintf(path, sizeof path, "%s/embeddings/embed_metrics.json", dir);
    test_write_text(path, "{\"model\": \"m\", \"classes\": [\"cat\", \"dog\"], \"test_gap\": [1.5, null], \"train_gap\": [1.0, 2.0]}\n");
    snprintf(path, sizeof path, "%s/embeddings/projection.csv", dir);
    test_write_text(path, "label,synthetic,pc1,pc2\n0,0,1.5,2\n0,0,-1,0.5\n1,0,3,-2\n1,1,2,-1\n1,1,2.5,0\n");
}

static void test_report_page(void **state) {
    (void)state;
    char dir[512], path[1024];
    test_tmpdir(dir, sizeof dir, "report-run");
    make_run(dir);
    EOS_ASSERT_OK(eos_report_write(dir, NULL));
    snprintf(path, sizeof path, "%s/report.html", dir);
    char *html = test_read_file(path, NULL);
    static const char *k_ids[] = {"chart-recall", "chart-loss", "chart-train-acc", "chart-test-bac", "chart-counts",
                                  "chart-confusion-0", "chart-confusion-1", "chart-projection", "chart-gap", "chart-timings",
                                  "metrics-table", "settings"};
    for (size_t i = 0; i < sizeof k_ids / sizeof *k_ids; i++) {
        char want[64];
        snprintf(want, sizeof want, "id=\"%s\"", k_ids[i]);
        if (!strstr(html, want)) fail_msg("the page has no %s", want);
    }
    assert_true(strncmp(html, "<!DOCTYPE html>", 15) == 0);
    assert_non_null(strstr(html, "</html>\n"));
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "http"));
    assert_null(strstr(html, "nan"));
    assert_non_null(strstr(html, "cpu &lt;x&gt;"));  /* the device name, escaped */
    assert_int_equal(count(html, "<svg "), count(html, "</svg>"));
    free(html);

    /* a folder that is not a finished run: the error names the missing file */
    snprintf(path, sizeof path, "%s/embeddings/projection.csv", dir);
    remove(path);
    assert_int_equal(eos_report_write(dir, NULL), EOS_ERR_IO);
    assert_non_null(strstr(eos_last_error()->message, "projection.csv is missing"));
    assert_non_null(strstr(eos_last_error()->message, "not a finished `eos pipeline` run"));
    snprintf(path, sizeof path, "%s/summary.json", dir);
    remove(path);
    assert_int_equal(eos_report_write(dir, NULL), EOS_ERR_IO);
    assert_non_null(strstr(eos_last_error()->message, "summary.json is missing"));
    /* a damaged file: named, with its line */
    test_write_text(path, "{\n  \"classes\": [\"cat\", \"dog\"],\n  \"results\": [\n");
    assert_int_equal(eos_report_write(dir, NULL), EOS_ERR_FORMAT);
    assert_non_null(strstr(eos_last_error()->message, "summary.json, line 4"));
    /* an older summary.json without the folder of each result */
    test_write_text(path, "{\"classes\": [\"cat\", \"dog\"], \"results\": [{\"method\": \"phase 1 (CE)\", \"acc\": 0.5}]}");
    assert_int_equal(eos_report_write(dir, NULL), EOS_ERR_FORMAT);
    assert_non_null(strstr(eos_last_error()->message, "has no \"method\" or \"dir\""));
    /* a result folder outside the run is refused */
    test_write_text(path, "{\"classes\": [\"cat\", \"dog\"], \"results\": [{\"method\": \"ce\", \"dir\": \"../x\"}]}");
    assert_int_equal(eos_report_write(dir, NULL), EOS_ERR_FORMAT);
}

/* The page of a run whose files were doctored: huge and infinite numbers in the log, the
 * summary and the projection, class names that are not UTF-8; the page is whole, valid UTF-8,
 * and prints no inf, nan or 300-digit number. */
static void test_report_hostile_values(void **state) {
    (void)state;
    char dir[512], path[1024];
    test_tmpdir(dir, sizeof dir, "report-hostile");
    make_run(dir);
    snprintf(path, sizeof path, "%s/phase1/train_log.csv", dir);
    test_write_text(path, "epoch,lr,train_loss,train_acc,val_fm,test_acc,test_bac,seconds,images_per_second\n"
               "1,0.1,1e308,1e308,-1,0.5,1e300,1e308,1e308\n2,0.1,-1e308,0.6,-1,-1,-1e308,1e300,1e308\n"
               "3,0.001,0.7,0.7,-1,0.5,0.5,25.0,1e308\n");
    snprintf(path, sizeof path, "%s/summary.json", dir);
    test_write_text(path, "{\n  \"version\": \"0.1.0\", \"profile\": \"quick\", \"arch\": \"resnet8\", \"epochs\": 1e300, \"imbalance\": \"exp:100\",\n"
               "  \"seed\": 1e300, \"max_steps\": -1e300, \"eval_every\": 1e300, \"data\": \"d\xff\", \"methods\": \"eos\", \"device\": \"cpu\",\n"
               "  \"train_images\": 1e300, \"test_images\": 8, \"embedding_images_per_second\": 1e300, \"seconds\": 1e300,\n"
               "  \"classes\": [\"c\xc3\", \"dog\"],\n"
               "  \"timings\": [{\"step\": \"phase 1\", \"seconds\": 1e300}, {\"step\": \"head\", \"seconds\": -1e300}],\n"
               "  \"projection\": {\"method\": \"eos\", \"file\": \"embeddings/projection.csv\", \"real\": 1e300, \"synthetic\": -1e300, "
               "\"per_class\": 1e300, \"variance\": [1e300, -1e300]},\n"
               "  \"results\": [\n"
               "    {\"method\": \"ce\", \"dir\": \"phase1\", \"acc\": 1e300, \"bac\": -1e300, \"gm\": 0.0, \"fm\": 0.33, \"per_class_recall\": [1e300, -1e308]},\n"
               "    {\"method\": \"ce + eos\", \"dir\": \"eos\", \"acc\": 0.75, \"bac\": 1e300, \"gm\": 0.7, \"fm\": 0.73, \"per_class_recall\": [0.75, 0.75]}\n"
               "  ]\n}\n");
    snprintf(path, sizeof path, "%s/eos/metrics.json", dir);
    test_write_text(path, "{\"acc\": 0.5, \"confusion\": [[3, 1], [1, 3]], \"counts_before\": [1e300, 2], \"counts_after\": [-1e308, 10], "
               "\"synthetic\": 1e300}\n");
    snprintf(path, sizeof path, "%s/embeddings/embed_metrics.json", dir);
    test_write_text(path, "{\"test_gap\": [1e300, null], \"train_gap\": [-1e308, 2.0]}\n");
    snprintf(path, sizeof path, "%s/embeddings/projection.csv", dir);
    test_write_text(path, "label,synthetic,pc1,pc2\n0,0,1e308,2\n0,0,-1e308,0.5\n1,0,3,-1e300\n1,1,2,-1\n1,1,2.5,0\n");
    EOS_ASSERT_OK(eos_report_write(dir, NULL));
    snprintf(path, sizeof path, "%s/report.html", dir);
    size_t len;
    char *html = test_read_file(path, &len);
    assert_non_null(strstr(html, "</html>\n"));
    assert_int_equal(count(html, "<svg "), count(html, "</svg>"));
    expect_sane_numbers(html, "report.html");
    assert_true(valid_utf8(html, len));
    assert_non_null(strstr(html, "c" FFFD));  /* the cut class name, its lone lead byte replaced */
    assert_non_null(strstr(html, "1e+300"));  /* a huge value is shown short, not as 300 digits */
    free(html);
}

/* More classes than any fixed array held (the report used to stop at 1000) */
static void test_report_many_classes(void **state) {
    (void)state;
    enum { C = 1200 };
    char dir[512], path[1024];
    test_tmpdir(dir, sizeof dir, "report-many");
    snprintf(path, sizeof path, "%s/phase1", dir);
    mkdir(path, 0755);
    char **names = malloc(C * sizeof *names);
    int32_t *y = malloc(C * sizeof *y);
    for (int c = 0; c < C; c++) {
        names[c] = malloc(16);
        snprintf(names[c], 16, "k%d", c);
        y[c] = c;
    }
    eos_metrics m;
    EOS_ASSERT_OK(eos_metrics_compute(C, y, y, C, &m));
    snprintf(path, sizeof path, "%s/phase1/metrics.json", dir);
    EOS_ASSERT_OK(eos_metrics_write_json(path, &m, (const char *const *)names, NULL));
    eos_metrics_free(&m);
    snprintf(path, sizeof path, "%s/phase1/train_log.csv", dir);
    test_write_text(path, "epoch,train_loss,train_acc,test_bac,images_per_second,seconds\n1,1.0,0.5,0.5,100,2\n");
    snprintf(path, sizeof path, "%s/summary.json", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"classes\": [");
    for (int c = 0; c < C; c++) fprintf(f, "%s\"%s\"", c ? ", " : "", names[c]);
    fprintf(f, "], \"timings\": [");
    for (int t = 0; t < 300; t++) fprintf(f, "%s{\"step\": \"s%d\", \"seconds\": 1}", t ? ", " : "", t);
    fprintf(f, "], \"results\": [{\"method\": \"ce\", \"dir\": \"phase1\", \"acc\": 1, \"bac\": 1, \"gm\": 1, \"fm\": 1, "
               "\"per_class_recall\": [");
    for (int c = 0; c < C; c++) fprintf(f, "%s1", c ? ", " : "");
    fprintf(f, "]}]}\n");
    fclose(f);
    EOS_ASSERT_OK(eos_report_write(dir, NULL));
    snprintf(path, sizeof path, "%s/report.html", dir);
    char *html = test_read_file(path, NULL);
    assert_non_null(strstr(html, "k1199"));
    assert_non_null(strstr(html, ">s299<"));  /* all 300 timings, past the old 256 */
    assert_non_null(strstr(html, "Not drawn for 1200 classes"));
    free(html);
    for (int c = 0; c < C; c++) free(names[c]);
    free(names);
    free(y);
}

/* The svg element with this id, as its own string (malloc'd) */
static char *svg_by_id(const char *html, const char *id) {
    char key[96];
    snprintf(key, sizeof key, "<svg id=\"%s\"", id);
    const char *a = strstr(html, key);
    if (!a) fail_msg("no %s in the page", key);
    const char *b = strstr(a, "</svg>");
    assert_non_null(b);
    char *out = malloc((size_t)(b - a) + 1);
    memcpy(out, a, (size_t)(b - a));
    out[b - a] = 0;
    return out;
}

static int count_of(const char *s, const char *needle) {
    int n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

/* 100 classes (CIFAR-100-LT): the per-class charts put the classes in order of training-set size
 * (here not the class order), name only as many as fit, and the confusion maps are one a row
 * without numbers in their 10 px cells */
static void test_report_hundred_classes(void **state) {
    (void)state;
    enum { C = 100 };
    char dir[512], path[1024];
    test_tmpdir(dir, sizeof dir, "report-100");
    const char *sub[2] = {"phase1", "eos"};
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, sub[k]);
        mkdir(path, 0755);
    }
    char *names[C];
    int32_t y[2 * C], p[2 * C];
    double before[C];
    for (int c = 0; c < C; c++) {
        names[c] = malloc(24);
        snprintf(names[c], 24, "class_%02d", c);
        before[c] = 5 + (c * 37) % 100;  /* 5..104, in no order of c */
        y[2 * c] = y[2 * c + 1] = c;
        p[2 * c] = c;
        p[2 * c + 1] = (c + 1) % C;
    }
    eos_metrics m;
    EOS_ASSERT_OK(eos_metrics_compute(C, y, p, 2 * C, &m));
    char *extra = malloc(8 * C * 2 + 200), *e = extra;
    e += sprintf(e, "\"counts_before\": [");
    for (int c = 0; c < C; c++) e += sprintf(e, "%s%.0f", c ? ", " : "", before[c]);
    e += sprintf(e, "], \"counts_after\": [");
    for (int c = 0; c < C; c++) e += sprintf(e, "%s104", c ? ", " : "");
    sprintf(e, "]");
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/%s/metrics.json", dir, sub[k]);
        EOS_ASSERT_OK(eos_metrics_write_json(path, &m, (const char *const *)names, k ? extra : NULL));
    }
    free(extra);
    snprintf(path, sizeof path, "%s/phase1/train_log.csv", dir);
    test_write_text(path, "epoch,train_loss,train_acc,test_bac,images_per_second,seconds\n1,1.0,0.5,0.5,100,2\n");
    snprintf(path, sizeof path, "%s/summary.json", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"classes\": [");
    for (int c = 0; c < C; c++) fprintf(f, "%s\"%s\"", c ? ", " : "", names[c]);
    fprintf(f, "], \"results\": [");
    for (int k = 0; k < 2; k++) {
        fprintf(f, "%s{\"method\": \"%s\", \"dir\": \"%s\", \"acc\": 0.5, \"bac\": 0.5, \"gm\": 0.5, \"fm\": 0.5, "
                   "\"per_class_recall\": [", k ? ", " : "", k ? "ce + eos" : "ce", sub[k]);
        for (int c = 0; c < C; c++) fprintf(f, "%s0.5", c ? ", " : "");
        fprintf(f, "]}");
    }
    fprintf(f, "]}\n");
    fclose(f);
    eos_metrics_free(&m);
    EOS_ASSERT_OK(eos_report_write(dir, NULL));
    snprintf(path, sizeof path, "%s/report.html", dir);
    char *html = test_read_file(path, NULL);

    /* the reference order: by count, largest first (the counts are distinct) */
    int order[C];
    for (int c = 0; c < C; c++) order[c] = c;
    for (int i = 0; i < C; i++)
        for (int j = i + 1; j < C; j++)
            if (before[order[j]] > before[order[i]]) { int t = order[i]; order[i] = order[j]; order[j] = t; }
    assert_int_not_equal(order[0], 0);  /* the test means something: sorted is not the class order */
    static const char *const charts[2] = {"chart-recall", "chart-counts"};
    for (int k = 0; k < 2; k++) {
        char *svg = svg_by_id(html, charts[k]);
        const char *prev = svg;
        for (int i = 0; i < C; i++) {  /* the bars of the first series, in the sorted order */
            char key[64];
            snprintf(key, sizeof key, ", %s: ", names[order[i]]);
            const char *at = strstr(prev, key);
            if (!at) fail_msg("%s: bar %d is not %s (count %.0f)", charts[k], i, names[order[i]], before[order[i]]);
            prev = at;
        }
        /* turned class names along the axis: every 2nd here (10 px a class), never all 100 */
        int labels = count_of(svg, "rotate(-35");
        if (labels < 20 || labels > 50) fail_msg("%s: %d class names on the axis, want 20..50", charts[k], labels);
        free(svg);
    }
    assert_non_null(strstr(html, "Classes are sorted by their training-set size"));
    char *heat = svg_by_id(html, "chart-confusion-0");
    assert_non_null(strstr(heat, "width=\"1100\""));  /* one a row at the page's width */
    assert_int_equal(count_of(heat, "font-size="), 0);   /* no numbers in 10 px cells */
    assert_non_null(strstr(heat, "class_01 predicted as class_02: 1 (50.0%)"));  /* the tooltips keep them */
    int names_drawn = count_of(heat, ">class_") - count_of(heat, "<title>class_");  /* axis labels, not tooltips */
    if (names_drawn < 40 || names_drawn > 100) fail_msg("heat map: %d class names drawn, want 40..100", names_drawn);
    free(heat);
    free(html);
    for (int c = 0; c < C; c++) free(names[c]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_metrics_roundtrip),
        cmocka_unit_test(test_json_escapes),
        cmocka_unit_test(test_json_damaged),
        cmocka_unit_test(test_json_writer_invalid_utf8),
        cmocka_unit_test(test_metrics_json_names_whole_and_valid),
        cmocka_unit_test(test_projection_fit_finds_the_main_direction),
        cmocka_unit_test(test_projection_sample),
        cmocka_unit_test(test_svg_charts),
        cmocka_unit_test(test_report_page),
        cmocka_unit_test(test_svg_hostile_numbers),
        cmocka_unit_test(test_report_hostile_values),
        cmocka_unit_test(test_report_many_classes),
        cmocka_unit_test(test_report_hundred_classes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
