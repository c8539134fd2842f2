/* EOS and the baselines on small 2-d and 8-d sets: every class reaches the largest count (ADASYN:
 * imbalanced-learn's rounded count), the original rows come first unchanged, and every new row is
 * checked against the method's definition with an independent brute-force neighbour search: on
 * a segment from an eligible base to an allowed partner, at a fraction in [0, 1). The baselines'
 * counts and danger sets are pinned against imbalanced-learn, eos and eos-ref row for row against
 * numpy transcriptions (tests/golden/make_oversample_golden.py, make_eos_golden.py). */
#include "test_common.h"

#include "internal.h"
#include "sampling_internal.h"  /* eos__knn_fail_after: the fault-injection hook; eos__oversample_rows */
#include "ref/oversample_ref.h"

#include <math.h>
#include <string.h>

enum { DIM = 8 };

/* 3 classes of 120 / 30 / 12 points in 8-d: overlapping Gaussian blobs */
static void make_set(eos_embeddings *e, uint64_t seed) {
    static const size_t per[3] = {120, 30, 12};
    e->n = 162;
    e->dim = DIM;
    e->x = malloc(e->n * DIM * sizeof(float));
    e->labels = malloc(e->n * sizeof(int32_t));
    eos_rng r;
    eos_rng_seed(&r, seed, 3);
    size_t i = 0;
    for (int c = 0; c < 3; c++)
        for (size_t t = 0; t < per[c]; t++, i++) {
            e->labels[i] = c;
            for (int j = 0; j < DIM; j++) e->x[i * DIM + j] = eos_rng_normal(&r) + (j == 0 ? 1.5f * c : 0.0f);
        }
}

/* the k nearest of point i among rows whose label passes the filter (-1: all), in double */
static void brute_knn(const eos_embeddings *e, size_t i, int k, int only, size_t *out) {
    double best[64];
    size_t dim = e->dim;
    for (int j = 0; j < k; j++) best[j] = INFINITY, out[j] = (size_t)-1;
    for (size_t t = 0; t < e->n; t++) {
        if (t == i || (only >= 0 && e->labels[t] != only)) continue;
        double s = 0;
        for (size_t d = 0; d < dim; d++) s += pow((double)e->x[i * dim + d] - e->x[t * dim + d], 2);
        int j = k - 1;
        if (!(s < best[j])) continue;
        while (j > 0 && s < best[j - 1]) { best[j] = best[j - 1]; out[j] = out[j - 1]; j--; }
        best[j] = s;
        out[j] = t;
    }
}

static int enemies_of(const eos_embeddings *e, size_t i, int k) {
    size_t nb[64];
    brute_knn(e, i, k, -1, nb);
    int n = 0;
    for (int j = 0; j < k; j++) n += e->labels[nb[j]] != e->labels[i];
    return n;
}

/* is v = x_a + r (x_b - x_a) with r in [0, 1]? */
static int on_segment(const float *v, const float *a, const float *b, size_t dim) {
    double num = 0, den = 0;
    for (size_t d = 0; d < dim; d++) {
        num += ((double)v[d] - a[d]) * ((double)b[d] - a[d]);
        den += ((double)b[d] - a[d]) * ((double)b[d] - a[d]);
    }
    double r = den > 0 ? num / den : 0;
    if (r < -1e-6 || r > 1 + 1e-6) return 0;
    for (size_t d = 0; d < dim; d++)
        if (fabs(a[d] + r * (b[d] - a[d]) - v[d]) > 1e-4) return 0;
    return 1;
}

static int is_in(size_t v, const size_t *list, int n) {
    for (int j = 0; j < n; j++) if (list[j] == v) return 1;
    return 0;
}

/* ADASYN's per-sample counts as imbalanced-learn's _adasyn.py computes them (ratio_nn =
 * enemies / k, normalised over the class, np.rint of ratio * shortfall), from a brute-force
 * search: made (n) */
static void adasyn_made(const eos_embeddings *in, int classes, int k, size_t *made) {
    size_t counts[64] = {0}, nmax = 0;
    for (size_t i = 0; i < in->n; i++) counts[in->labels[i]]++;
    for (int c = 0; c < classes; c++) if (counts[c] > nmax) nmax = counts[c];
    for (size_t i = 0; i < in->n; i++) made[i] = 0;
    for (int c = 0; c < classes; c++) {
        if (counts[c] == nmax) continue;
        double total = 0;
        for (size_t i = 0; i < in->n; i++) if (in->labels[i] == c) total += (double)enemies_of(in, i, k) / k;
        for (size_t i = 0; i < in->n; i++)
            if (in->labels[i] == c)
                made[i] = (size_t)rint((double)enemies_of(in, i, k) / k / total * (double)(nmax - counts[c]));
    }
}

/* Every new row checked against the method's definition, from an independent brute-force
 * search: its label is its origin's, the origin may be a base (eos, eos-ref, adasyn: it has an
 * enemy among its k nearest; borderline: m/2 <= enemies < m among its m nearest), the partner
 * is one the method allows for that origin (smote, borderline, adasyn: one of its k nearest of
 * the class; eos: an enemy among its k nearest; eos-ref: the base itself when its nearest is an
 * enemy, else the neighbour one rank before an enemy), and the row lies on the segment. */
static void check_rows(const eos_embeddings *in, const eos_embeddings *out, const eos_resample_report *rep,
                       eos_resample_method method) {
    size_t dim = in->dim, nb[64];
    int k = rep->k, m = rep->m;
    assert_int_equal(out->n, in->n + rep->synthetic);
    assert_memory_equal(out->x, in->x, in->n * dim * sizeof(float));
    assert_memory_equal(out->labels, in->labels, in->n * sizeof(int32_t));
    for (size_t s = 0; s < rep->synthetic; s++) {
        size_t row = in->n + s, o = (size_t)rep->origin[s];
        int c = out->labels[row], p = rep->partner[s];
        const float *v = out->x + row * dim, *a = in->x + o * dim;
        const char *name = eos_resample_name(method);
        if (o >= in->n || in->labels[o] != c) fail_msg("%s: new row %zu (class %d) from row %zu of class %d", name, s, c, o, in->labels[o]);
        if (!rep->candidate[o]) fail_msg("%s: new row %zu from row %zu, not a candidate", name, s, o);
        if (method == EOS_RESAMPLE_ROS) {
            if (p != -1 || memcmp(v, a, dim * sizeof(float))) fail_msg("ros: new row %zu is no copy of row %zu", s, o);
            continue;
        }
        int ok;
        if (method == EOS_RESAMPLE_EOS || method == EOS_RESAMPLE_EOS_REF) {
            brute_knn(in, o, k, -1, nb);
            if (enemies_of(in, o, k) == 0) fail_msg("%s: new row %zu from row %zu, which has no enemy", name, s, o);
            if (method == EOS_RESAMPLE_EOS) {
                ok = p >= 0 && in->labels[p] != c && is_in((size_t)p, nb, k);
            } else {
                ok = ((size_t)p == o && in->labels[nb[0]] != c);
                for (int j = 1; j < k && !ok; j++) ok = (size_t)p == nb[j - 1] && in->labels[nb[j]] != c;
            }
        } else {
            int e = enemies_of(in, o, method == EOS_RESAMPLE_BORDERLINE ? m : k);
            if (method == EOS_RESAMPLE_BORDERLINE && !(2 * e >= m && e < m))
                fail_msg("borderline: new row %zu from row %zu with %d enemies of %d: not in danger", s, o, e, m);
            if (method == EOS_RESAMPLE_ADASYN && e == 0) fail_msg("adasyn: new row %zu from row %zu without enemies", s, o);
            int kc = (int)(rep->before[c] - 1 < (size_t)k ? rep->before[c] - 1 : (size_t)k);
            brute_knn(in, o, kc, c, nb);
            ok = p >= 0 && is_in((size_t)p, nb, kc);
        }
        if (!ok) fail_msg("%s: new row %zu (class %d, from row %zu) moves toward row %d, which the method does not allow", name, s, c, o, p);
        if (!on_segment(v, a, in->x + (size_t)p * dim, dim))
            fail_msg("%s: new row %zu is not on the segment from row %zu to row %d", name, s, o, p);
    }
}

static void run(eos_runtime_t rt, eos_resample_method method, int k, int m) {
    eos_embeddings in, out;
    make_set(&in, 5);
    eos_resample_report rep;
    eos_resample_config cfg = eos_resample_defaults();
    cfg.k = k;
    cfg.m = m;
    EOS_ASSERT_OK(eos_resample_with(rt, &in, 3, method, &cfg, 9, &out, &rep));
    if (method == EOS_RESAMPLE_ADASYN) {
        /* imbalanced-learn's rint: each sample's count, the class ending near 120 */
        size_t made[162], got[162] = {0}, want[3] = {0};
        adasyn_made(&in, 3, k, made);
        for (size_t s = 0; s < rep.synthetic; s++) got[rep.origin[s]]++;
        for (size_t i = 0; i < in.n; i++) {
            if (got[i] != made[i]) fail_msg("adasyn: row %zu made %zu rows, imbalanced-learn's rule %zu", i, got[i], made[i]);
            want[in.labels[i]] += 1 + made[i];
        }
        for (int c = 0; c < 3; c++) assert_int_equal(rep.after[c], want[c]);
    } else {
        assert_int_equal(out.n, 360);
        for (int c = 0; c < 3; c++) assert_int_equal(rep.after[c], 120);
    }
    check_rows(&in, &out, &rep, method);
    /* the same seed gives the same rows */
    eos_embeddings again;
    eos_resample_report_free(&rep);
    EOS_ASSERT_OK(eos_resample_with(rt, &in, 3, method, &cfg, 9, &again, &rep));
    eos_resample_report_free(&rep);
    assert_int_equal(again.n, out.n);
    assert_memory_equal(again.x, out.x, out.n * DIM * sizeof(float));
    eos_embeddings_free(&again);
    eos_embeddings_free(&out);
    eos_embeddings_free(&in);
}

static void test_eos(void **state) { run(*state, EOS_RESAMPLE_EOS, 10, 0); }
static void test_eos_ref(void **state) { run(*state, EOS_RESAMPLE_EOS_REF, 10, 0); }
static void test_ros(void **state) { run(*state, EOS_RESAMPLE_ROS, 10, 0); }
static void test_smote(void **state) { run(*state, EOS_RESAMPLE_SMOTE, 5, 0); }
static void test_borderline(void **state) { run(*state, EOS_RESAMPLE_BORDERLINE, 5, 10); }
static void test_borderline_km(void **state) { run(*state, EOS_RESAMPLE_BORDERLINE, 7, 6); }
static void test_adasyn(void **state) { run(*state, EOS_RESAMPLE_ADASYN, 5, 0); }

/* The defaults (k = 0, m = 0) are imbalanced-learn's for its methods and the paper's for EOS;
 * ADASYN's largest-remainder rounding is still there for who asks, and ends at the largest count. */
static void test_defaults(void **state) {
    eos_runtime_t rt = *state;
    static const struct { eos_resample_method m; int k, mm; } want[] = {
        {EOS_RESAMPLE_EOS, 10, 0}, {EOS_RESAMPLE_EOS_REF, 10, 0}, {EOS_RESAMPLE_SMOTE, 5, 0},
        {EOS_RESAMPLE_BORDERLINE, 5, 10}, {EOS_RESAMPLE_ADASYN, 5, 0}, {EOS_RESAMPLE_ROS, 10, 0}};
    eos_embeddings in, out, ex;
    make_set(&in, 5);
    for (size_t t = 0; t < sizeof want / sizeof want[0]; t++) {
        eos_resample_report rep;
        EOS_ASSERT_OK(eos_resample(rt, &in, 3, want[t].m, 0, 4, &out, &rep));
        if (rep.k != want[t].k || rep.m != want[t].mm)
            fail_msg("%s: k %d m %d by default, expected k %d m %d", eos_resample_name(want[t].m), rep.k, rep.m, want[t].k,
                     want[t].mm);
        eos_resample_report_free(&rep);
        eos_resample_config cfg = eos_resample_defaults();
        cfg.k = want[t].k;
        cfg.m = want[t].mm;
        EOS_ASSERT_OK(eos_resample_with(rt, &in, 3, want[t].m, &cfg, 4, &ex, &rep));
        eos_resample_report_free(&rep);
        assert_int_equal(ex.n, out.n);
        assert_memory_equal(ex.x, out.x, out.n * DIM * sizeof(float));
        eos_embeddings_free(&ex);
        eos_embeddings_free(&out);
    }
    eos_resample_report rep;
    eos_resample_config cfg = eos_resample_defaults();
    cfg.adasyn_remainder = 1;
    EOS_ASSERT_OK(eos_resample_with(rt, &in, 3, EOS_RESAMPLE_ADASYN, &cfg, 4, &out, &rep));
    for (int c = 0; c < 3; c++) assert_int_equal(rep.after[c], 120);
    check_rows(&in, &out, &rep, EOS_RESAMPLE_ADASYN);
    eos_resample_report_free(&rep);
    eos_embeddings_free(&out);
    cfg = eos_resample_defaults();
    cfg.m = 65;
    assert_int_equal(eos_resample_with(rt, &in, 3, EOS_RESAMPLE_BORDERLINE, &cfg, 4, &out, &rep), EOS_ERR_INVALID_ARG);
    assert_int_equal(eos_resample(rt, &in, 3, EOS_RESAMPLE_SMOTE, -1, 4, &out, &rep), EOS_ERR_INVALID_ARG);
    eos_embeddings_free(&in);
}

/* reads "label f0 .. f(dim-1)" rows */
static void read_rows(FILE *f, size_t n, size_t dim, float *x, int32_t *y) {
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(fscanf(f, "%d", &y[i]), 1);
        for (size_t d = 0; d < dim; d++) assert_int_equal(fscanf(f, "%f", &x[i * dim + d]), 1);
    }
}

/* The baselines against imbalanced-learn 0.10 on a fixed 54-row set
 * (tests/golden/make_oversample_golden.py): with its defaults and with k = 3, m = 6, the same
 * per-class output counts, Borderline-SMOTE's danger set row for row, ADASYN's per-sample
 * counts row for row; and every new row where the method allows it. */
static void test_golden_imblearn(void **state) {
    eos_runtime_t rt = *state;
    FILE *f = fopen(EOS_GOLDEN_DIR "/oversample_golden.txt", "r");
    if (!f) fail_msg("cannot open %s: run tests/golden/make_oversample_golden.py", EOS_GOLDEN_DIR "/oversample_golden.txt");
    int version = 0, classes = 0, seed = 0, cases = 0;
    size_t n = 0, dim = 0;
    assert_int_equal(fscanf(f, " eos-cl oversample golden %d", &version), 1);
    assert_int_equal(version, 1);
    assert_int_equal(fscanf(f, " set %zu %zu %d %d", &n, &dim, &classes, &seed), 4);
    eos_embeddings in = {n, dim, malloc(n * sizeof(int32_t)), malloc(n * dim * sizeof(float))};
    read_rows(f, n, dim, in.x, in.labels);
    char method_text[32];
    int k, m;
    while (fscanf(f, " case %31s %d %d", method_text, &k, &m) == 3) {
        eos_resample_method method;
        EOS_ASSERT_OK(eos_resample_parse(method_text, &method));
        eos_resample_config cfg = eos_resample_defaults();
        /* imbalanced-learn's defaults (k 5, m 10) are asked for as 0: EOS-CL's defaults are under test */
        if (k != 5 || (method == EOS_RESAMPLE_BORDERLINE && m != 10)) {
            cfg.k = k;
            cfg.m = m;
        }
        eos_embeddings out;
        eos_resample_report rep;
        EOS_ASSERT_OK(eos_resample_with(rt, &in, classes, method, &cfg, 3, &out, &rep));
        assert_int_equal(rep.k, k);
        assert_int_equal(rep.m, m);
        assert_int_equal(fscanf(f, " counts"), 0);
        for (int c = 0; c < classes; c++) {
            size_t want;
            assert_int_equal(fscanf(f, "%zu", &want), 1);
            if (rep.after[c] != want)
                fail_msg("%s k %d m %d: class %d has %zu rows, imbalanced-learn %zu", method_text, k, m, c, rep.after[c], want);
            if (rep.fallback[c]) fail_msg("%s: class %d fell back to copies", method_text, c);
        }
        if (method == EOS_RESAMPLE_BORDERLINE) {
            size_t nd, row;
            unsigned char *danger = calloc(n, 1);
            assert_int_equal(fscanf(f, " danger %zu", &nd), 1);
            for (size_t j = 0; j < nd; j++) {
                assert_int_equal(fscanf(f, "%zu", &row), 1);
                danger[row] = 1;
            }
            for (size_t i = 0; i < n; i++)
                if (rep.candidate[i] != danger[i])
                    fail_msg("borderline k %d m %d: row %zu (class %d) %s the danger set, imbalanced-learn %s", k, m, i,
                             in.labels[i], rep.candidate[i] ? "in" : "not in", danger[i] ? "in" : "not in");
            free(danger);
        }
        if (method == EOS_RESAMPLE_ADASYN) {
            size_t nm, want, *got = calloc(n, sizeof *got);
            assert_int_equal(fscanf(f, " made %zu", &nm), 1);
            assert_int_equal(nm, n);
            for (size_t s = 0; s < rep.synthetic; s++) got[rep.origin[s]]++;
            for (size_t i = 0; i < n; i++) {
                assert_int_equal(fscanf(f, "%zu", &want), 1);
                if (got[i] != want) fail_msg("adasyn k %d: row %zu made %zu rows, imbalanced-learn %zu", k, i, got[i], want);
            }
            free(got);
        }
        check_rows(&in, &out, &rep, method);
        eos_resample_report_free(&rep);
        eos_embeddings_free(&out);
        cases++;
    }
    assert_int_equal(cases, 6);
    assert_int_equal(fscanf(f, " end"), 0);
    fclose(f);
    eos_embeddings_free(&in);
}

/* eos (the paper) and eos-ref (EOS.py) against numpy transcriptions of each, fed the same
 * neighbour list and the same draws (tests/golden/make_eos_golden.py): the same rows. The
 * golden draws include eos-ref's copies (ni = 0) and moves toward a same-class neighbour. */
static void test_golden_eos(void **state) {
    (void)state;
    FILE *f = fopen(EOS_GOLDEN_DIR "/eos_golden.txt", "r");
    if (!f) fail_msg("cannot open %s: run tests/golden/make_eos_golden.py", EOS_GOLDEN_DIR "/eos_golden.txt");
    int version = 0, classes = 0, k = 0;
    size_t n = 0, dim = 0, nd = 0;
    assert_int_equal(fscanf(f, " eos-cl eos golden %d", &version), 1);
    assert_int_equal(version, 1);
    assert_int_equal(fscanf(f, " set %zu %zu %d %d", &n, &dim, &classes, &k), 4);
    eos_embeddings in = {n, dim, malloc(n * sizeof(int32_t)), malloc(n * dim * sizeof(float))};
    read_rows(f, n, dim, in.x, in.labels);
    int32_t *nbr = malloc(n * (size_t)k * sizeof *nbr);
    for (size_t i = 0; i < n * (size_t)k; i++) assert_int_equal(fscanf(f, "%d", &nbr[i]), 1);
    assert_int_equal(fscanf(f, " draws %zu", &nd), 1);
    uint32_t *bind = malloc(nd * sizeof *bind), *pos = malloc(nd * sizeof *pos);
    float *gap = malloc(nd * sizeof *gap), *want = malloc(nd * dim * sizeof *want);
    int32_t *want_y = malloc(nd * sizeof *want_y);
    for (size_t s = 0; s < nd; s++) assert_int_equal(fscanf(f, "%u %u %f", &bind[s], &pos[s], &gap[s]), 3);
    int copies = 0;
    for (int t = 0; t < 2; t++) {
        char name[16];
        size_t rows;
        assert_int_equal(fscanf(f, " %15s %zu", name, &rows), 2);
        assert_int_equal(rows, nd);
        read_rows(f, nd, dim, want, want_y);
        eos_resample_method method;
        EOS_ASSERT_OK(eos_resample_parse(name, &method));
        assert_int_equal(method, t ? EOS_RESAMPLE_EOS_REF : EOS_RESAMPLE_EOS);
        eos_embeddings out;
        eos_resample_report rep;
        EOS_ASSERT_OK(eos__resample_scripted(&in, classes, method, k, nbr, bind, pos, gap, nd, &out, &rep));
        assert_int_equal(out.n, n + nd);
        assert_memory_equal(out.x, in.x, n * dim * sizeof(float));
        for (size_t s = 0; s < nd; s++) {
            assert_int_equal(out.labels[n + s], want_y[s]);
            for (size_t d = 0; d < dim; d++) {
                float got = out.x[(n + s) * dim + d], w = want[s * dim + d];
                if (!(fabsf(got - w) <= 1e-6f + 1e-6f * fabsf(w)))
                    fail_msg("%s: new row %zu, feature %zu: %.9g, the numpy transcription %.9g", name, s, d, got, w);
            }
            if (method == EOS_RESAMPLE_EOS_REF && rep.partner[s] == rep.origin[s]) copies++;
        }
        eos_resample_report_free(&rep);
        eos_embeddings_free(&out);
    }
    assert_true(copies > 0);  /* the golden draws exercise ni = 0 */
    assert_int_equal(fscanf(f, " end"), 0);
    /* draws that do not fit are refused, not followed */
    eos_embeddings out;
    eos_resample_report rep;
    assert_int_equal(eos__resample_scripted(&in, classes, EOS_RESAMPLE_EOS, k, nbr, bind, pos, gap, nd - 1, &out, &rep),
                     EOS_ERR_INVALID_ARG);
    assert_null(out.x);
    bind[0] = 1000;
    assert_int_equal(eos__resample_scripted(&in, classes, EOS_RESAMPLE_EOS, k, nbr, bind, pos, gap, nd, &out, &rep),
                     EOS_ERR_INVALID_ARG);
    fclose(f);
    free(nbr); free(bind); free(pos); free(gap); free(want); free(want_y);
    eos_embeddings_free(&in);
}

static void test_parse_and_edges(void **state) {
    eos_runtime_t rt = *state;
    eos_resample_method m;
    EOS_ASSERT_OK(eos_resample_parse("EOS", &m));
    assert_int_equal(m, EOS_RESAMPLE_EOS);
    EOS_ASSERT_OK(eos_resample_parse("eos-ref", &m));
    assert_int_equal(m, EOS_RESAMPLE_EOS_REF);
    assert_string_equal(eos_resample_name(m), "eos-ref");
    assert_int_equal(eos_resample_parse("smoteish", &m), EOS_ERR_INVALID_ARG);
    assert_non_null(strstr(eos_last_error_message(), "eos-ref"));
    /* far-apart classes: no sample has an enemy, so EOS falls back to copies and says so */
    eos_embeddings in = {6, 1, calloc(6, sizeof(int32_t)), calloc(6, sizeof(float))}, out;
    float xs[6] = {0, 0.1f, 0.2f, 0.3f, 100, 100.1f};
    int32_t ys[6] = {0, 0, 0, 0, 1, 1};
    memcpy(in.x, xs, sizeof xs);
    memcpy(in.labels, ys, sizeof ys);
    eos_resample_report rep;
    EOS_ASSERT_OK(eos_resample(rt, &in, 2, EOS_RESAMPLE_EOS, 1, 1, &out, &rep));
    assert_int_equal(rep.fallback[1], 1);
    assert_int_equal(out.n, 8);
    assert_true(out.x[6] == 100.0f || out.x[6] == 100.1f);
    eos_embeddings_free(&out);
    eos_resample_report_free(&rep);
    EOS_ASSERT_OK(eos_resample(rt, &in, 2, EOS_RESAMPLE_NONE, 10, 1, &out, &rep));
    assert_int_equal(out.n, 6);
    eos_embeddings_free(&out);
    eos_resample_report_free(&rep);
    in.labels[5] = 7;
    assert_int_equal(eos_resample(rt, &in, 2, EOS_RESAMPLE_EOS, 1, 1, &out, &rep), EOS_ERR_INVALID_ARG);
    assert_null(rep.before);
    eos_embeddings_free(&in);
}

/* A failing neighbour search returns its error and leaves nothing behind (issue 13: the
 * within-class search failing in borderline and adasyn freed the global list twice). The
 * hook fails the (n+1)-th eos_knn: n = 1 is the within-class search of the first class to grow,
 * n = 0 the search over all classes. */
static void test_knn_failure(void **state) {
    eos_runtime_t rt = *state;
    static const eos_resample_method methods[] = {EOS_RESAMPLE_EOS, EOS_RESAMPLE_SMOTE, EOS_RESAMPLE_BORDERLINE,
                                                  EOS_RESAMPLE_ADASYN, EOS_RESAMPLE_EOS_REF};
    eos_embeddings in, out;
    make_set(&in, 5);
    for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++)
        for (long after = 0; after <= 1; after++) {
            eos_resample_report rep;
            eos__knn_fail_after(after);
            eos_status st = eos_resample(rt, &in, 3, methods[m], 10, 9, &out, &rep);
            eos__knn_fail_after(-1);
            /* eos and eos-ref search once (n = 1 is never reached), smote only within classes */
            int fails = (methods[m] != EOS_RESAMPLE_EOS && methods[m] != EOS_RESAMPLE_EOS_REF) || after == 0;
            if (!fails) {
                EOS_ASSERT_OK(st);
                eos_embeddings_free(&out);
                eos_resample_report_free(&rep);
                continue;
            }
            if (st != EOS_ERR_INTERNAL)
                fail_msg("%s, knn failing after %ld calls: status %s, expected the injected EOS_ERR_INTERNAL",
                         eos_resample_name(methods[m]), after, eos_status_str(st));
            assert_non_null(strstr(eos_last_error_message(), "injected"));
            assert_null(out.x);
            assert_null(out.labels);
            assert_int_equal(out.n, 0);
            assert_null(rep.before);
            assert_null(rep.after);
        }
    eos_embeddings_free(&in);
}

/* More than 256 classes (issue 13: the report's tables and the class bound stopped at 256):
 * 300 classes of 2 or 3 rows in 3-d are balanced to 3 rows each by EOS and by ROS, and a head
 * of 300 classes is trained on the result. */
static void test_many_classes(void **state) {
    eos_runtime_t rt = *state;
    enum { K = 300, D = 3 };
    eos_embeddings in = {0};
    size_t n = 0;
    for (int c = 0; c < K; c++) n += c % 2 ? 2 : 3;
    in.n = n;
    in.dim = D;
    in.x = malloc(n * D * sizeof(float));
    in.labels = malloc(n * sizeof(int32_t));
    eos_rng r;
    eos_rng_seed(&r, 11, 3);
    size_t i = 0;
    for (int c = 0; c < K; c++)
        for (int t = 0; t < (c % 2 ? 2 : 3); t++, i++) {
            in.labels[i] = c;
            for (int j = 0; j < D; j++) in.x[i * D + j] = (j == 0 ? 0.1f * c : 0.0f) + 0.05f * eos_rng_normal(&r);
        }
    static const eos_resample_method methods[] = {EOS_RESAMPLE_EOS, EOS_RESAMPLE_ROS};
    for (size_t m = 0; m < 2; m++) {
        eos_embeddings out;
        eos_resample_report rep;
        EOS_ASSERT_OK(eos_resample(rt, &in, K, methods[m], 5, 1, &out, &rep));
        assert_int_equal(rep.classes, K);
        assert_int_equal(out.n, 3 * K);
        assert_int_equal(rep.synthetic, 3 * K - n);
        size_t counts[K] = {0};
        for (size_t t = 0; t < out.n; t++) counts[out.labels[t]]++;
        for (int c = 0; c < K; c++) {
            assert_int_equal(rep.before[c], c % 2 ? 2 : 3);
            assert_int_equal(rep.after[c], 3);
            assert_int_equal(counts[c], 3);
        }
        if (methods[m] == EOS_RESAMPLE_EOS) {
            eos_head h;
            eos_finetune_config cfg = eos_finetune_defaults();
            /* tiny (Oclgrind): one step over all 900 rows; the head's kernels see every class
             * the same, and the 2 x 15 steps of 64 took 3 of the test's 4 minutes there */
            cfg.epochs = test_tiny() ? 1 : 2;
            cfg.batch = test_tiny() ? (int)out.n : 64;
            float loss = NAN;
            EOS_ASSERT_OK(eos_head_init(&h, K, D, 1));
            EOS_ASSERT_OK(eos_finetune(rt, &h, &out, &cfg, &loss));
            assert_true(isfinite(loss));
            int32_t *pred = malloc(out.n * sizeof *pred);
            eos_head_predict(&h, &out, pred);
            for (size_t t = 0; t < out.n; t++) assert_true(pred[t] >= 0 && pred[t] < K);
            free(pred);
            eos_head_free(&h);
        }
        eos_resample_report_free(&rep);
        eos_embeddings_free(&out);
    }
    /* the bound is stated, not a silent cut */
    eos_embeddings out;
    eos_resample_report rep;
    assert_int_equal(eos_resample(rt, &in, EOS_MAX_CLASSES + 1, EOS_RESAMPLE_ROS, 5, 1, &out, &rep), EOS_ERR_INVALID_ARG);
    assert_non_null(strstr(eos_last_error_message(), "65536"));
    eos_embeddings_free(&in);
}

/* A class with no rows is refused, naming it (issue 13: it was left at 0 rows, silently), for
 * every method: in the middle of the labels and at the end. */
static void test_empty_class_refused(void **state) {
    eos_runtime_t rt = *state;
    float xs[4] = {0, 0.5f, 3, 3.5f};
    int32_t ys[4] = {0, 0, 2, 2};
    eos_embeddings in = {4, 1, ys, xs}, out;
    for (int m = EOS_RESAMPLE_NONE; m <= EOS_RESAMPLE_EOS_REF; m++)
        for (int classes = 3; classes <= 4; classes++) {
            eos_resample_report rep;
            eos_status st = eos_resample(rt, &in, classes, (eos_resample_method)m, 1, 1, &out, &rep);
            if (st != EOS_ERR_INVALID_ARG)
                fail_msg("%s, %d classes, class 1 empty: status %s, expected EOS_ERR_INVALID_ARG",
                         eos_resample_name((eos_resample_method)m), classes, eos_status_str(st));
            assert_non_null(strstr(eos_last_error_message(), "class 1 has no rows"));
            assert_null(out.x);
            assert_null(rep.before);
        }
    ys[1] = 1;  /* every class of 3 has a row now; a 4th is empty at the end */
    eos_resample_report rep;
    assert_int_equal(eos_resample(rt, &in, 4, EOS_RESAMPLE_ROS, 1, 1, &out, &rep), EOS_ERR_INVALID_ARG);
    assert_non_null(strstr(eos_last_error_message(), "class 3 has no rows"));
    EOS_ASSERT_OK(eos_resample(rt, &in, 3, EOS_RESAMPLE_ROS, 1, 1, &out, &rep));
    assert_int_equal(out.n, 6);
    eos_resample_report_free(&rep);
    eos_embeddings_free(&out);
}

/* Per-class targets (eos_resample_config.target, imbalanced-learn's dict sampling_strategy as
 * the Python package passes it): each class ends at its target, a class already there is
 * untouched, every new row still follows the method's definition; a target below a class's
 * count is refused with nothing allocated. */
static void test_targets(void **state) {
    eos_runtime_t rt = *state;
    eos_embeddings in, out;
    make_set(&in, 5);  /* 120 / 30 / 12 */
    const size_t target[3] = {120, 30, 100};
    const eos_resample_method methods[] = {EOS_RESAMPLE_EOS, EOS_RESAMPLE_SMOTE, EOS_RESAMPLE_BORDERLINE,
                                           EOS_RESAMPLE_ROS};
    for (size_t t = 0; t < sizeof methods / sizeof methods[0]; t++) {
        eos_resample_config cfg = eos_resample_defaults();
        cfg.target = target;
        eos_resample_report rep;
        EOS_ASSERT_OK(eos_resample_with(rt, &in, 3, methods[t], &cfg, 4, &out, &rep));
        for (int c = 0; c < 3; c++) assert_int_equal(rep.after[c], target[c]);
        assert_int_equal(out.n, 250);
        for (size_t s = 0; s < rep.synthetic; s++) assert_int_equal(out.labels[in.n + s], 2);
        check_rows(&in, &out, &rep, methods[t]);
        eos_resample_report_free(&rep);
        eos_embeddings_free(&out);
    }
    /* adasyn: imbalanced-learn's rint of the 88 the target asks for */
    eos_resample_config cfg = eos_resample_defaults();
    cfg.target = target;
    eos_resample_report rep;
    EOS_ASSERT_OK(eos_resample_with(rt, &in, 3, EOS_RESAMPLE_ADASYN, &cfg, 4, &out, &rep));
    assert_int_equal(rep.after[0], 120);
    assert_int_equal(rep.after[1], 30);
    assert_true(rep.after[2] + 3 >= 100 && rep.after[2] <= 100 + 3);
    check_rows(&in, &out, &rep, EOS_RESAMPLE_ADASYN);
    eos_resample_report_free(&rep);
    eos_embeddings_free(&out);
    const size_t low[3] = {120, 29, 12};
    cfg.target = low;
    assert_int_equal(eos_resample_with(rt, &in, 3, EOS_RESAMPLE_SMOTE, &cfg, 4, &out, &rep), EOS_ERR_INVALID_ARG);
    assert_non_null(strstr(eos_last_error_message(), "class 1 has 30 rows, target 29"));
    assert_null(out.x);
    assert_null(rep.before);
    eos_embeddings_free(&in);
}

/* ---- pixel-space re-balancing (eos_dataset_resample_pixels) --------------------------- */

/* A dataset of `per` images per class of c x h x w uniform random pixels (every class its own
 * brightness range so the classes differ), and a 10-image test split. */
static void make_images(eos_dataset *d, int classes, const size_t *per, int c, int h, int w, uint64_t seed) {
    memset(d, 0, sizeof *d);
    d->layout = EOS_LAYOUT_IMAGE_FOLDER;
    d->classes = classes;
    d->channels = c;
    d->height = h;
    d->width = w;
    size_t len = (size_t)c * h * w, n = 0;
    for (int k = 0; k < classes; k++) n += per[k];
    d->class_names = calloc((size_t)classes, sizeof *d->class_names);
    for (int k = 0; k < classes; k++) {
        d->class_names[k] = malloc(16);
        snprintf(d->class_names[k], 16, "class%d", k);
    }
    eos_rng r;
    eos_rng_seed(&r, seed, 11);
    eos_split *sp[2] = {&d->train, &d->test};
    for (int s = 0; s < 2; s++) {
        size_t m = s ? 10 : n;
        sp[s]->n = m;
        sp[s]->pixels = malloc(m * len);
        sp[s]->labels = malloc(m * sizeof(int32_t));
        for (size_t i = 0; i < m; i++) {
            /* labels interleaved, not sorted: the method must not rely on the order */
            int32_t y = 0;
            if (s) y = (int32_t)(i % (size_t)classes);
            else {
                size_t acc = 0, t = (i * 7919) % n;  /* a permutation of 0..n-1 (n not a multiple of 7919) */
                while (t >= acc + per[y]) acc += per[y++];
            }
            sp[s]->labels[i] = y;
            int lo = 20 * y;
            for (size_t j = 0; j < len; j++) sp[s]->pixels[i * len + j] = (uint8_t)(lo + eos_rng_below(&r, 256 - (uint32_t)lo));
        }
    }
}

/* exact squared distance between two images */
static uint64_t img_d2(const uint8_t *a, const uint8_t *b, size_t len) {
    uint64_t s = 0;
    for (size_t j = 0; j < len; j++) s += (uint64_t)(((int)a[j] - b[j]) * ((int)a[j] - b[j]));
    return s;
}

/* plain-C kNN: the kc nearest of list entry b among the entries of its class (ties: the earlier
 * entry), as positions in d->train */
static void brute_knn_img(const eos_dataset *d, const size_t *idx, size_t n, size_t b, int kc, size_t *out) {
    size_t len = (size_t)d->channels * d->height * d->width;
    int32_t c = d->train.labels[idx[b]];
    uint64_t best[64];
    size_t pos[64];
    for (int j = 0; j < kc; j++) best[j] = UINT64_MAX, pos[j] = SIZE_MAX;
    for (size_t t = 0; t < n; t++) {
        if (t == b || d->train.labels[idx[t]] != c) continue;
        uint64_t s = img_d2(d->train.pixels + idx[b] * len, d->train.pixels + idx[t] * len, len);
        int j = kc - 1;
        if (!(s < best[j])) continue;
        while (j > 0 && s < best[j - 1]) { best[j] = best[j - 1]; pos[j] = pos[j - 1]; j--; }
        best[j] = s;
        pos[j] = t;
    }
    for (int j = 0; j < kc; j++) out[j] = idx[pos[j]];
}

/* Is x = round(a + r (b - a)) pixel by pixel for one r in [0, 1)? Each pixel allows an
 * interval of r; they must meet. The 1e-3 slack covers float rounding at a half-way value
 * (the product r (b - a) carries an error of about 255 x 2^-24). *r_lo, *r_hi: the meet. */
static int on_pixel_segment(const uint8_t *x, const uint8_t *a, const uint8_t *b, size_t len, double *r_lo, double *r_hi) {
    double lo = 0, hi = 1;
    for (size_t j = 0; j < len; j++) {
        int dx = (int)x[j] - a[j], db = (int)b[j] - a[j];
        int mn = a[j] < b[j] ? a[j] : b[j], mx = a[j] < b[j] ? b[j] : a[j];
        if (x[j] < mn || x[j] > mx) return 0;  /* outside the two values: out of range for a blend */
        if (db == 0) continue;                  /* x == a there, checked above */
        double e1 = (dx - 0.5 - 1e-3) / db, e2 = (dx + 0.5 + 1e-3) / db;
        if (e1 > e2) { double t = e1; e1 = e2; e2 = t; }
        if (e1 > lo) lo = e1;
        if (e2 < hi) hi = e2;
        if (lo > hi) return 0;
    }
    if (r_lo) *r_lo = lo;
    if (r_hi) *r_hi = hi;
    return 1;
}

/* the list: every image but every 5th, in a scrambled order, so positions in the list, in
 * d->train and in out->train all differ */
static size_t *scrambled_list(const eos_dataset *d, size_t *n) {
    size_t *idx = malloc(d->train.n * sizeof *idx), m = 0;
    for (size_t i = 0; i < d->train.n; i++)
        if (i % 5 != 3) idx[m++] = i;
    for (size_t i = 0; i + 1 < m; i += 2) { size_t t = idx[i]; idx[i] = idx[m - 1 - i]; idx[m - 1 - i] = t; }
    *n = m;
    return idx;
}

/* counts, the list's own images first and unchanged, the test split and names copied */
static void check_balanced(const eos_dataset *d, const size_t *idx, size_t n, const eos_dataset *o, const size_t *oi,
                           size_t on, const eos_pixel_report *rep) {
    size_t len = (size_t)d->channels * d->height * d->width, nmax = 0;
    size_t before[8] = {0}, after[8] = {0};
    for (size_t i = 0; i < n; i++) before[d->train.labels[idx[i]]]++;
    for (int c = 0; c < d->classes; c++) if (before[c] > nmax) nmax = before[c];
    assert_int_equal(on, nmax * (size_t)d->classes);
    assert_int_equal(rep->added, on - n);
    assert_int_equal(o->train.n, n + rep->made);
    for (size_t i = 0; i < on; i++) {
        assert_true(oi[i] < o->train.n);
        after[o->train.labels[oi[i]]]++;
    }
    for (int c = 0; c < d->classes; c++) {
        assert_int_equal(after[c], nmax);
        assert_int_equal(rep->after[c], nmax);
        assert_int_equal(rep->before[c], before[c]);
        assert_string_equal(o->class_names[c], d->class_names[c]);
    }
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(oi[i], i);
        assert_memory_equal(o->train.pixels + i * len, d->train.pixels + idx[i] * len, len);
        assert_int_equal(o->train.labels[i], d->train.labels[idx[i]]);
    }
    assert_int_equal(o->test.n, d->test.n);
    assert_memory_equal(o->test.pixels, d->test.pixels, d->test.n * len);
    assert_memory_equal(o->test.labels, d->test.labels, d->test.n * sizeof(int32_t));
    assert_int_equal(o->channels, d->channels);
    assert_int_equal(o->height * o->width, d->height * d->width);
}

/* SMOTE on flattened pixels: every new image lies on the segment from a base of its class to
 * one of the base's 5 exact nearest same-class images (plain-C search), at the reported r;
 * independently of the report, some base and neighbour pair explains it; a class of one
 * image is repeated; a seed gives the same set. */
static void pixel_smote_case(eos_runtime_t rt, int ch, int hw, const size_t *per, uint64_t seed) {
    eos_dataset d, o;
    make_images(&d, 4, per, ch, hw, hw, seed);
    size_t n, *idx = scrambled_list(&d, &n), *oi, on;
    size_t len = (size_t)ch * hw * hw;
    eos_pixel_report rep;
    EOS_ASSERT_OK(eos_dataset_resample_pixels(rt, &d, idx, n, EOS_PIXEL_SMOTE, EOS_PIXEL_SMOTE_K, 7, &o, &oi, &on, &rep));
    check_balanced(&d, idx, n, &o, oi, on, &rep);
    size_t made = 0;
    for (size_t a = 0; a < rep.added; a++) {
        size_t p = oi[n + a];
        int c = o.train.labels[p];
        const uint8_t *x = o.train.pixels + p * len;
        if (rep.before[c] == 1) {  /* nothing to interpolate with: the one image again */
            assert_int_equal(rep.fallback[c], 1);
            assert_true(p < n);
            assert_int_equal(rep.base[a], idx[p]);
            continue;
        }
        assert_int_equal(rep.fallback[c], 0);
        assert_int_equal(p, n + made);
        made++;
        /* the reported base is in the list, of the class, and its reported neighbour is one of
         * its exact k nearest; x is on their segment at the reported r */
        size_t b = SIZE_MAX;
        for (size_t t = 0; t < n; t++) if (idx[t] == rep.base[a]) b = t;
        assert_true(b != SIZE_MAX);
        assert_int_equal(d.train.labels[idx[b]], c);
        int kc = rep.before[c] - 1 < 5 ? (int)rep.before[c] - 1 : 5;
        size_t nb[64];
        brute_knn_img(&d, idx, n, b, kc, nb);
        int found = 0;
        for (int j = 0; j < kc; j++) found |= nb[j] == rep.other[a];
        if (!found) fail_msg("new image %zu: neighbour %zu is not among the 5 nearest of base %zu", p, rep.other[a], rep.base[a]);
        double lo, hi;
        if (!on_pixel_segment(x, d.train.pixels + rep.base[a] * len, d.train.pixels + rep.other[a] * len, len, &lo, &hi))
            fail_msg("new image %zu is not base + r (neighbour - base) rounded, for any r", p);
        if (!(rep.gap[a] >= lo && rep.gap[a] <= hi && rep.gap[a] >= 0 && rep.gap[a] < 1))
            fail_msg("new image %zu: reported r %g outside [%g, %g]", p, rep.gap[a], lo, hi);
        /* without the report: some base of the class and one of its 5 nearest explain x */
        int explained = 0;
        for (size_t t = 0; t < n && !explained; t++) {
            if (d.train.labels[idx[t]] != c) continue;
            brute_knn_img(&d, idx, n, t, kc, nb);
            for (int j = 0; j < kc && !explained; j++)
                explained = on_pixel_segment(x, d.train.pixels + idx[t] * len, d.train.pixels + nb[j] * len, len, NULL, NULL);
        }
        if (!explained) fail_msg("new image %zu (class %d) lies on no segment from a base to one of its 5 nearest", p, c);
    }
    assert_int_equal(made, rep.made);
    /* determinism: the same seed, the same list and images; another seed, other images */
    eos_dataset o2;
    size_t *oi2, on2;
    EOS_ASSERT_OK(eos_dataset_resample_pixels(rt, &d, idx, n, EOS_PIXEL_SMOTE, 5, 7, &o2, &oi2, &on2, NULL));
    assert_int_equal(on2, on);
    assert_memory_equal(oi2, oi, on * sizeof *oi);
    assert_memory_equal(o2.train.pixels, o.train.pixels, o.train.n * len);
    eos_dataset_free(&o2);
    free(oi2);
    EOS_ASSERT_OK(eos_dataset_resample_pixels(rt, &d, idx, n, EOS_PIXEL_SMOTE, 5, 8, &o2, &oi2, &on2, NULL));
    assert_int_equal(on2, on);
    assert_true(memcmp(o2.train.pixels + n * len, o.train.pixels + n * len, rep.made * len) != 0);
    eos_dataset_free(&o2);
    free(oi2);
    eos_pixel_report_free(&rep);
    eos_dataset_free(&o);
    free(oi);
    free(idx);
    eos_dataset_free(&d);
}

static void test_pixel_smote(void **state) {
    /* 4 classes; after dropping every 5th image the last keeps a single one */
    static const size_t per[4] = {50, 21, 8, 1};
    pixel_smote_case(*state, 3, 4, per, 1);
    /* CIFAR-sized rows (3072 values): the device's float distances re-ranked exactly */
    if (!test_tiny()) {
        static const size_t big[4] = {120, 60, 9, 2};
        pixel_smote_case(*state, 3, 32, big, 2);
    }
}

/* ROS: counts; no new pixels, every added entry repeats an image of its class from the list */
static void test_pixel_ros(void **state) {
    (void)state;
    static const size_t per[4] = {40, 13, 6, 1};
    eos_dataset d, o;
    make_images(&d, 4, per, 1, 5, 5, 3);
    size_t n, *idx = scrambled_list(&d, &n), *oi, on, len = 25;
    eos_pixel_report rep;
    EOS_ASSERT_OK(eos_dataset_resample_pixels(NULL, &d, idx, n, EOS_PIXEL_ROS, 5, 4, &o, &oi, &on, &rep));
    check_balanced(&d, idx, n, &o, oi, on, &rep);
    assert_int_equal(rep.made, 0);
    for (size_t a = 0; a < rep.added; a++) {
        size_t p = oi[n + a];
        assert_true(p < n);
        int c = o.train.labels[p], found = 0;
        for (size_t t = 0; t < n && !found; t++)
            found = d.train.labels[idx[t]] == c && !memcmp(d.train.pixels + idx[t] * len, o.train.pixels + p * len, len);
        assert_true(found);
        assert_int_equal(rep.base[a], idx[p]);
        assert_int_equal(rep.other[a], rep.base[a]);
    }
    size_t *oi2, on2;
    eos_dataset o2;
    EOS_ASSERT_OK(eos_dataset_resample_pixels(NULL, &d, idx, n, EOS_PIXEL_ROS, 5, 4, &o2, &oi2, &on2, NULL));
    assert_memory_equal(oi2, oi, on * sizeof *oi);
    eos_dataset_free(&o2);
    free(oi2);
    /* none: the list as it is; NULL: every training image */
    EOS_ASSERT_OK(eos_dataset_resample_pixels(NULL, &d, idx, n, EOS_PIXEL_NONE, 5, 4, &o2, &oi2, &on2, NULL));
    assert_int_equal(on2, n);
    assert_int_equal(o2.train.n, n);
    eos_dataset_free(&o2);
    free(oi2);
    EOS_ASSERT_OK(eos_dataset_resample_pixels(NULL, &d, NULL, 0, EOS_PIXEL_ROS, 5, 4, &o2, &oi2, &on2, NULL));
    assert_int_equal(on2, 4 * 40);
    eos_dataset_free(&o2);
    free(oi2);
    eos_pixel_report_free(&rep);
    eos_dataset_free(&o);
    free(oi);
    free(idx);
    eos_dataset_free(&d);
}

/* Bad input: a clear error, nothing allocated, out zeroed */
static void test_pixel_errors(void **state) {
    eos_runtime_t rt = *state;
    static const size_t per[3] = {6, 3, 2};
    eos_dataset d, o;
    make_images(&d, 3, per, 1, 2, 2, 5);
    size_t *oi = (size_t *)1, on = 7;
    eos_pixel_report rep;
    eos_pixel_method m;
    EOS_ASSERT_OK(eos_pixel_method_parse("Pixel-SMOTE", &m));
    assert_int_equal(m, EOS_PIXEL_SMOTE);
    assert_string_equal(eos_pixel_method_name(EOS_PIXEL_ROS), "pixel-ros");
    assert_int_equal(eos_pixel_method_parse("smote", &m), EOS_ERR_INVALID_ARG);
    assert_non_null(strstr(eos_last_error_message(), "pixel-ros, pixel-smote or none"));
#define PIX_FAILS(st_, what_, call_)                                                     \
    do {                                                                                 \
        assert_int_equal((call_), (st_));                                                \
        assert_non_null(strstr(eos_last_error_message(), (what_)));                      \
        assert_null(oi);                                                                 \
        assert_int_equal(on, 0);                                                         \
        assert_null(o.train.pixels);                                                     \
        assert_null(rep.before);                                                         \
        oi = (size_t *)1;                                                                \
        on = 7;                                                                          \
    } while (0)
    PIX_FAILS(EOS_ERR_INVALID_ARG, "k = 0",
              eos_dataset_resample_pixels(rt, &d, NULL, 0, EOS_PIXEL_SMOTE, 0, 1, &o, &oi, &on, &rep));
    PIX_FAILS(EOS_ERR_INVALID_ARG, "needs a device",
              eos_dataset_resample_pixels(NULL, &d, NULL, 0, EOS_PIXEL_SMOTE, 5, 1, &o, &oi, &on, &rep));
    size_t past[2] = {0, 11};
    PIX_FAILS(EOS_ERR_INVALID_ARG, "image 11, past the 11 training images",
              eos_dataset_resample_pixels(rt, &d, past, 2, EOS_PIXEL_ROS, 5, 1, &o, &oi, &on, &rep));
    size_t only[2] = {0, 0};
    for (size_t i = 0; i < d.train.n; i++) if (d.train.labels[i] != 1) { only[1] = i; break; }
    for (size_t i = 0; i < d.train.n; i++) if (d.train.labels[i] == 1) only[0] = i;
    PIX_FAILS(EOS_ERR_INVALID_ARG, "has no image in the training list",
              eos_dataset_resample_pixels(rt, &d, only, 2, EOS_PIXEL_SMOTE, 5, 1, &o, &oi, &on, &rep));
    int32_t keep = d.train.labels[4];
    d.train.labels[4] = 3;
    PIX_FAILS(EOS_ERR_INVALID_ARG, "has label 3, expected 0..2",
              eos_dataset_resample_pixels(rt, &d, NULL, 0, EOS_PIXEL_ROS, 5, 1, &o, &oi, &on, &rep));
    d.train.labels[4] = keep;
    /* a failing neighbour search: its error, and everything released */
    eos__knn_fail_after(0);
    PIX_FAILS(EOS_ERR_INTERNAL, "failure injected",
              eos_dataset_resample_pixels(rt, &d, NULL, 0, EOS_PIXEL_SMOTE, 5, 1, &o, &oi, &on, &rep));
    eos__knn_fail_after(1);  /* the second class's search fails, after the first's images were made */
    PIX_FAILS(EOS_ERR_INTERNAL, "failure injected",
              eos_dataset_resample_pixels(rt, &d, NULL, 0, EOS_PIXEL_SMOTE, 5, 1, &o, &oi, &on, &rep));
    eos__knn_fail_after(-1);
#undef PIX_FAILS
    EOS_ASSERT_OK(eos_dataset_resample_pixels(rt, &d, NULL, 0, EOS_PIXEL_SMOTE, 5, 1, &o, &oi, &on, &rep));
    assert_int_equal(on, 18);
    eos_pixel_report_free(&rep);
    eos_dataset_free(&o);
    free(oi);
    eos_dataset_free(&d);
}

/* Issue 20: the new rows are formed by one kernel (cl/oversample.cl). Against the plain-C
 * reference (tests/ref/oversample_ref.c) bit for bit, with copies (partner -1), a partner equal
 * to the base (eos-ref's ni = 0), r = 0 and r just below 1, odd sizes and wide magnitudes (no
 * subnormals: OpenCL 1.2 lets a device flush them). The test can fail: it checks first that a
 * fused multiply-add (what an FP_CONTRACT ON compiler may emit) gives other bits for some of
 * these elements. */
static void test_rows_kernel(void **state) {
    eos_runtime_t rt = *state;
    enum { N = 37, D = 13, S = 700 };
    float *x = malloc(N * D * sizeof *x), *gap = malloc(S * sizeof *gap);
    float *want = malloc(S * D * sizeof *want), *got = malloc(S * D * sizeof *got), *host = malloc(S * D * sizeof *host);
    int32_t base[S], other[S];
    assert_non_null(x); assert_non_null(gap); assert_non_null(want); assert_non_null(got); assert_non_null(host);
    eos_rng g;
    eos_rng_seed(&g, 20, 20);
    for (size_t i = 0; i < N * D; i++) {
        float scale = i % 7 == 0 ? 1e20f : i % 5 == 0 ? 1e-20f : 3.0f;
        x[i] = scale * eos_rng_normal(&g);
    }
    for (int s = 0; s < S; s++) {
        base[s] = (int32_t)eos_rng_below(&g, N);
        other[s] = s % 11 == 0 ? -1 : s % 13 == 0 ? base[s] : (int32_t)eos_rng_below(&g, N);
        gap[s] = s % 17 == 0 ? 0.0f : s % 19 == 0 ? 0.99999994f : eos_rng_uniform(&g);
    }
    eos_ref_oversample_rows(x, D, base, other, gap, S, want);
    size_t fused_differs = 0;
    for (int s = 0; s < S; s++)
        for (int j = 0; other[s] >= 0 && j < D; j++) {
            float b = x[base[s] * D + j], d = x[other[s] * D + j] - b;
            float f = fmaf(gap[s], d, b);
            fused_differs += memcmp(&f, &want[s * D + j], sizeof f) != 0;
        }
    assert_true(fused_differs > 0);
    EOS_ASSERT_OK(eos__oversample_rows(rt, x, N, D, base, other, gap, S, got));
    EOS_ASSERT_OK(eos__oversample_rows(NULL, x, N, D, base, other, gap, S, host));
    for (size_t i = 0; i < (size_t)S * D; i++) {
        if (memcmp(&got[i], &want[i], sizeof got[i]))
            fail_msg("device row %zu feature %zu: %.9g, the reference %.9g (%zu elements differ when fused)", i / D,
                     i % D, got[i], want[i], fused_differs);
        if (memcmp(&host[i], &want[i], sizeof host[i]))
            fail_msg("host row %zu feature %zu: %.9g, the reference %.9g", i / D, i % D, host[i], want[i]);
    }
    free(x); free(gap); free(want); free(got); free(host);
}

/* Issue 20: every method gives the same rows, bit for bit, whether the kernel forms them (the
 * default with a runtime) or the host (eos_resample_set_host_rows, today's path kept as the
 * reference), for several seeds; and the bytes the kernel path moves are what it needs: the
 * input rows and three draws per new row up, the new rows down. */
static void test_device_rows_match_host(void **state) {
    eos_runtime_t rt = *state;
    static const eos_resample_method methods[] = {EOS_RESAMPLE_EOS, EOS_RESAMPLE_EOS_REF, EOS_RESAMPLE_ROS,
                                                  EOS_RESAMPLE_SMOTE, EOS_RESAMPLE_BORDERLINE, EOS_RESAMPLE_ADASYN};
    eos_embeddings in;
    make_set(&in, 11);
    for (size_t mi = 0; mi < sizeof methods / sizeof methods[0]; mi++)
        for (uint64_t seed = 1; seed <= 3; seed++) {
            eos_embeddings dev, host;
            eos_resample_report rd, rh;
            eos_resample_set_host_rows(rt, 1);
            eos_runtime_stats s0 = eos_runtime_get_stats(rt);
            EOS_ASSERT_OK(eos_resample(rt, &in, 3, methods[mi], 0, seed, &host, &rh));
            eos_runtime_stats s1 = eos_runtime_get_stats(rt);
            eos_resample_set_host_rows(rt, 0);
            EOS_ASSERT_OK(eos_resample(rt, &in, 3, methods[mi], 0, seed, &dev, &rd));
            eos_runtime_stats s2 = eos_runtime_get_stats(rt);
            const char *name = eos_resample_name(methods[mi]);
            assert_true(rh.synthetic > 0);
            assert_int_equal(dev.n, host.n);
            assert_int_equal(rd.synthetic, rh.synthetic);
            assert_memory_equal(dev.labels, host.labels, dev.n * sizeof *dev.labels);
            assert_memory_equal(rd.origin, rh.origin, rd.synthetic * sizeof *rd.origin);
            assert_memory_equal(rd.partner, rh.partner, rd.synthetic * sizeof *rd.partner);
            for (size_t i = 0; i < dev.n * DIM; i++)
                if (memcmp(&dev.x[i], &host.x[i], sizeof dev.x[i]))
                    fail_msg("%s seed %llu: row %zu feature %zu: device %.9g, host %.9g", name, (unsigned long long)seed,
                             i / DIM, i % DIM, dev.x[i], host.x[i]);
            unsigned long long up = (s2.bytes_to_device - s1.bytes_to_device) - (s1.bytes_to_device - s0.bytes_to_device);
            unsigned long long down =
                (s2.bytes_from_device - s1.bytes_from_device) - (s1.bytes_from_device - s0.bytes_from_device);
            assert_int_equal(up, (in.n * DIM + 3 * rd.synthetic) * sizeof(float));
            assert_int_equal(down, rd.synthetic * DIM * sizeof(float));
            eos_resample_timing t = eos_resample_last_timing(rt);
            assert_true(t.knn >= 0 && t.draws >= 0 && t.rows > 0);
            eos_resample_report_free(&rd);
            eos_resample_report_free(&rh);
            eos_embeddings_free(&dev);
            eos_embeddings_free(&host);
        }
    eos_embeddings_free(&in);
}

/* Issue 20: the balanced set made where the embeddings live (eos_resample_device: neighbour
 * searches reading the device tensor, a class's rows gathered there, the new rows written
 * there) equals eos_resample_with's, bit for bit, for every method, report included; the
 * embeddings never come back (what goes down: the neighbour lists only). */
static void test_resample_device_matches_host(void **state) {
    eos_runtime_t rt = *state;
    static const eos_resample_method methods[] = {EOS_RESAMPLE_EOS, EOS_RESAMPLE_EOS_REF, EOS_RESAMPLE_ROS,
                                                  EOS_RESAMPLE_SMOTE, EOS_RESAMPLE_BORDERLINE, EOS_RESAMPLE_ADASYN,
                                                  EOS_RESAMPLE_NONE};
    eos_embeddings in;
    make_set(&in, 13);
    eos_tensor x = {0};
    EOS_ASSERT_OK(eos_tensor_alloc(rt, &x, 2, (size_t[]){in.n, DIM}));
    EOS_ASSERT_OK(eos_tensor_upload(&x, in.x, in.n * DIM));
    for (size_t mi = 0; mi < sizeof methods / sizeof methods[0]; mi++) {
        const char *name = eos_resample_name(methods[mi]);
        eos_embeddings want;
        eos_resample_report rw, rg;
        eos_resample_config cfg = eos_resample_defaults();
        eos_resample_set_host_rows(rt, 1);  /* the reference: today's host path */
        eos_runtime_stats h0 = eos_runtime_get_stats(rt);
        EOS_ASSERT_OK(eos_resample_with(rt, &in, 3, methods[mi], &cfg, 4, &want, &rw));
        eos_runtime_stats h1 = eos_runtime_get_stats(rt);
        eos_resample_set_host_rows(rt, 0);
        eos_tensor got = {0};
        int32_t *labels = NULL;
        eos_runtime_stats s0 = eos_runtime_get_stats(rt);
        EOS_ASSERT_OK(eos_resample_device(rt, &x, in.labels, 3, methods[mi], &cfg, 4, &got, &labels, &rg));
        eos_runtime_stats s1 = eos_runtime_get_stats(rt);
        assert_int_equal(got.shape[0], want.n);
        assert_int_equal(got.shape[1], DIM);
        /* down: the neighbour lists only, as the host path (whose rows never go up or down);
         * up: no rows, where the host path sends each search its rows twice */
        assert_int_equal(s1.bytes_from_device - s0.bytes_from_device, h1.bytes_from_device - h0.bytes_from_device);
        assert_true(s1.bytes_to_device - s0.bytes_to_device < h1.bytes_to_device - h0.bytes_to_device ||
                    methods[mi] == EOS_RESAMPLE_ROS || methods[mi] == EOS_RESAMPLE_NONE);
        float *gx = malloc(want.n * DIM * sizeof *gx);
        assert_non_null(gx);
        EOS_ASSERT_OK(eos_tensor_download(&got, gx, want.n * DIM));
        for (size_t i = 0; i < want.n * DIM; i++)
            if (memcmp(&gx[i], &want.x[i], sizeof gx[i]))
                fail_msg("%s: row %zu feature %zu: on the device %.9g, host %.9g", name, i / DIM, i % DIM, gx[i],
                         want.x[i]);
        assert_memory_equal(labels, want.labels, want.n * sizeof *labels);
        assert_int_equal(rg.synthetic, rw.synthetic);
        if (rw.synthetic) {
            assert_memory_equal(rg.origin, rw.origin, rw.synthetic * sizeof *rw.origin);
            assert_memory_equal(rg.partner, rw.partner, rw.synthetic * sizeof *rw.partner);
        }
        assert_memory_equal(rg.after, rw.after, 3 * sizeof *rw.after);
        assert_memory_equal(rg.eligible, rw.eligible, 3 * sizeof *rw.eligible);
        assert_memory_equal(rg.candidate, rw.candidate, in.n);
        free(gx);
        free(labels);
        eos_tensor_free(&got);
        eos_resample_report_free(&rw);
        eos_resample_report_free(&rg);
        eos_embeddings_free(&want);
    }
    /* refused: a tensor that is not (n, dim) */
    eos_tensor flat = {0}, o = {0};
    int32_t *l = NULL;
    eos_resample_report r;
    EOS_ASSERT_OK(eos_tensor_alloc(rt, &flat, 1, (size_t[]){in.n * DIM}));
    assert_int_equal(eos_resample_device(rt, &flat, in.labels, 3, EOS_RESAMPLE_EOS, NULL, 1, &o, &l, &r),
                     EOS_ERR_INVALID_ARG);
    assert_null(o.buf);
    assert_null(l);
    eos_tensor_free(&flat);
    eos_tensor_free(&x);
    eos_embeddings_free(&in);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eos),
        cmocka_unit_test(test_eos_ref),
        cmocka_unit_test(test_ros),
        cmocka_unit_test(test_smote),
        cmocka_unit_test(test_borderline),
        cmocka_unit_test(test_borderline_km),
        cmocka_unit_test(test_adasyn),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_golden_imblearn),
        cmocka_unit_test(test_golden_eos),
        cmocka_unit_test(test_parse_and_edges),
        cmocka_unit_test(test_knn_failure),
        cmocka_unit_test(test_many_classes),
        cmocka_unit_test(test_empty_class_refused),
        cmocka_unit_test(test_targets),
        cmocka_unit_test(test_pixel_smote),
        cmocka_unit_test(test_pixel_ros),
        cmocka_unit_test(test_pixel_errors),
        cmocka_unit_test(test_rows_kernel),
        cmocka_unit_test(test_device_rows_match_host),
        cmocka_unit_test(test_resample_device_matches_host),
    };
    return cmocka_run_group_tests(tests, test_runtime_setup, test_runtime_teardown);
}
