/* EOS and the baselines on small 2-d and 8-d sets: every class reaches the largest count, the
 * original rows come first unchanged, and every new row is checked against the method's
 * definition with an independent brute-force neighbour search: on a segment from an eligible
 * base to an allowed partner, at a fraction in [0, 1). */
#include "test_common.h"

#include "internal.h"  /* eos__knn_fail_after: the fault-injection hook */

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
    for (int j = 0; j < k; j++) best[j] = INFINITY, out[j] = (size_t)-1;
    for (size_t t = 0; t < e->n; t++) {
        if (t == i || (only >= 0 && e->labels[t] != only)) continue;
        double s = 0;
        for (int d = 0; d < DIM; d++) s += pow((double)e->x[i * DIM + d] - e->x[t * DIM + d], 2);
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
static int on_segment(const float *v, const float *a, const float *b) {
    double num = 0, den = 0;
    for (int d = 0; d < DIM; d++) {
        num += ((double)v[d] - a[d]) * ((double)b[d] - a[d]);
        den += ((double)b[d] - a[d]) * ((double)b[d] - a[d]);
    }
    double r = den > 0 ? num / den : 0;
    if (r < -1e-6 || r > 1 + 1e-6) return 0;
    for (int d = 0; d < DIM; d++)
        if (fabs(a[d] + r * (b[d] - a[d]) - v[d]) > 1e-4) return 0;
    return 1;
}

static void run(eos_runtime_t rt, eos_resample_method method, int k) {
    eos_embeddings in, out;
    make_set(&in, 5);
    eos_resample_report rep;
    EOS_ASSERT_OK(eos_resample(rt, &in, 3, method, k, 9, &out, &rep));
    assert_int_equal(out.n, 360);
    for (int c = 0; c < 3; c++) assert_int_equal(rep.after[c], 120);
    assert_memory_equal(out.x, in.x, in.n * DIM * sizeof(float));
    assert_memory_equal(out.labels, in.labels, in.n * sizeof(int32_t));
    for (size_t s = in.n; s < out.n; s++) {
        int c = out.labels[s];
        const float *v = out.x + s * DIM;
        int ok = 0;
        for (size_t i = 0; i < in.n && !ok; i++) {
            if (in.labels[i] != c) continue;
            const float *a = in.x + i * DIM;
            if (method == EOS_RESAMPLE_ROS) {
                ok = !memcmp(v, a, DIM * sizeof(float));
                continue;
            }
            size_t nb[64];
            int e = enemies_of(&in, i, k);
            if (method == EOS_RESAMPLE_EOS) {
                if (e == 0) continue;  /* not a base */
                brute_knn(&in, i, k, -1, nb);
                for (int j = 0; j < k && !ok; j++)
                    ok = in.labels[nb[j]] != c && on_segment(v, a, in.x + nb[j] * DIM);
            } else {
                if (method == EOS_RESAMPLE_BORDERLINE && !(2 * e >= k && e < k)) continue;
                if (method == EOS_RESAMPLE_ADASYN && e == 0) continue;
                int kc = (int)(rep.before[c] - 1 < (size_t)k ? rep.before[c] - 1 : (size_t)k);
                brute_knn(&in, i, kc, c, nb);
                for (int j = 0; j < kc && !ok; j++) ok = on_segment(v, a, in.x + nb[j] * DIM);
            }
        }
        if (!ok) fail_msg("%s: new row %zu (class %d) is not on a segment the method allows", eos_resample_name(method), s, c);
    }
    /* the same seed gives the same rows */
    eos_embeddings again;
    eos_resample_report_free(&rep);
    EOS_ASSERT_OK(eos_resample(rt, &in, 3, method, k, 9, &again, &rep));
    eos_resample_report_free(&rep);
    assert_memory_equal(again.x, out.x, out.n * DIM * sizeof(float));
    eos_embeddings_free(&again);
    eos_embeddings_free(&out);
    eos_embeddings_free(&in);
}

static void test_eos(void **state) { run(*state, EOS_RESAMPLE_EOS, 10); }
static void test_ros(void **state) { run(*state, EOS_RESAMPLE_ROS, 10); }
static void test_smote(void **state) { run(*state, EOS_RESAMPLE_SMOTE, 5); }
static void test_borderline(void **state) { run(*state, EOS_RESAMPLE_BORDERLINE, 10); }
static void test_adasyn(void **state) { run(*state, EOS_RESAMPLE_ADASYN, 10); }

static void test_parse_and_edges(void **state) {
    eos_runtime_t rt = *state;
    eos_resample_method m;
    EOS_ASSERT_OK(eos_resample_parse("EOS", &m));
    assert_int_equal(m, EOS_RESAMPLE_EOS);
    assert_int_equal(eos_resample_parse("smoteish", &m), EOS_ERR_INVALID_ARG);
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
                                                  EOS_RESAMPLE_ADASYN};
    eos_embeddings in, out;
    make_set(&in, 5);
    for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++)
        for (long after = 0; after <= 1; after++) {
            eos_resample_report rep;
            eos__knn_fail_after(after);
            eos_status st = eos_resample(rt, &in, 3, methods[m], 10, 9, &out, &rep);
            eos__knn_fail_after(-1);
            /* eos searches once (n = 1 is never reached), smote only within classes */
            int fails = methods[m] != EOS_RESAMPLE_EOS || after == 0;
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
            cfg.epochs = 2;
            cfg.batch = 64;
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
    for (int m = EOS_RESAMPLE_NONE; m <= EOS_RESAMPLE_ADASYN; m++)
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eos),
        cmocka_unit_test(test_ros),
        cmocka_unit_test(test_smote),
        cmocka_unit_test(test_borderline),
        cmocka_unit_test(test_adasyn),
        cmocka_unit_test(test_parse_and_edges),
        cmocka_unit_test(test_knn_failure),
        cmocka_unit_test(test_many_classes),
        cmocka_unit_test(test_empty_class_refused),
    };
    return cmocka_run_group_tests(tests, test_runtime_setup, test_runtime_teardown);
}
