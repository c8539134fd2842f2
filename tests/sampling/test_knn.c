/* kNN on the device against a brute-force host search in double: random embeddings across
 * several tiles, duplicates (ties go to the smaller index), self-exclusion and bad arguments. */
#include "test_common.h"
#include "dist.h"
#include "internal.h"
#include "sampling_internal.h"

#include <math.h>
#include <string.h>

/* The k nearest in double, ties by index. */
static void brute(const float *q, size_t nq, const float *r, size_t nr, int dim, int k, int self, int32_t *idx,
                  double *dist) {
    for (size_t i = 0; i < nq; i++) {
        for (int j = 0; j < k; j++) { dist[i * k + j] = INFINITY; idx[i * k + j] = -1; }
        for (size_t t = 0; t < nr; t++) {
            if (self && t == i) continue;
            double s = 0;
            for (int d = 0; d < dim; d++) {
                double v = (double)q[i * dim + d] - r[t * dim + d];
                s += v * v;
            }
            int j = k - 1;
            if (!(s < dist[i * k + j])) continue;
            while (j > 0 && s < dist[i * k + j - 1]) {
                dist[i * k + j] = dist[i * k + j - 1];
                idx[i * k + j] = idx[i * k + j - 1];
                j--;
            }
            dist[i * k + j] = s;
            idx[i * k + j] = (int32_t)t;
        }
    }
}

static void check(eos_runtime_t rt, size_t nq, size_t nr, int dim, int k, int self, size_t tq, size_t tr) {
    eos_rng g;
    eos_rng_seed(&g, nq + nr, (uint64_t)k);
    float *q = malloc(nq * dim * sizeof *q), *r = self ? q : malloc(nr * dim * sizeof *r);
    for (size_t i = 0; i < nq * dim; i++) q[i] = eos_rng_normal(&g);
    if (!self) for (size_t i = 0; i < nr * dim; i++) r[i] = eos_rng_normal(&g);
    int32_t *got = malloc(nq * k * sizeof *got), *want = malloc(nq * k * sizeof *want);
    float *gd = malloc(nq * k * sizeof *gd);
    double *wd = malloc(nq * k * sizeof *wd);
    eos__knn_set_tiles(tq, tr);
    EOS_ASSERT_OK(eos_knn(rt, q, nq, r, nr, dim, k, self, got, gd));
    eos__knn_set_tiles(0, 0);
    brute(q, nq, r, nr, dim, k, self, want, wd);
    size_t differ = 0;
    for (size_t i = 0; i < nq * k; i++) {
        /* the distances agree; an index may differ only where two candidates are as near as
         * float32 can tell, which random normal data makes rare */
        assert_float_equal(gd[i], wd[i], 1e-4 * (1 + wd[i]));
        differ += got[i] != want[i];
    }
    assert_true(differ <= nq * k / 1000);
    free(q); if (!self) free(r);
    free(got); free(want); free(gd); free(wd);
}

static void test_against_brute_force(void **state) {
    eos_runtime_t rt = *state;
    /* both paths, whatever the device; the tiled one in both tile layouts (GPU paths: (R, Q)) */
    static const char *algos[] = {"gemm", "fused", "gemm"};
    const int gpu_paths = rt->gpu_paths;
    for (int a = 0; a < 3; a++) {
        setenv("EOS_KNN_ALGO", algos[a], 1);
        rt->gpu_paths = a == 2;
        /* tiny mode (Oclgrind): the small cases only; test_tiles_exact covers the tile tails */
        if (!test_tiny()) {
            check(rt, 700, 700, 64, 10, 1, 256, 300);    /* self-neighbours, 3 x 3 tiles, partial tiles */
            check(rt, 333, 1500, 16, 5, 0, 128, 1000);   /* separate query and reference sets */
            check(rt, 200, 200, 64, 1, 1, 0, 0);
        }
        check(rt, 50, 50, 3, 49, 1, 0, 0);           /* k = every other point */
        check(rt, 37, 45, 7, 3, 0, 0, 0);            /* odd counts: partial panels and query blocks */
    }
    rt->gpu_paths = gpu_paths;
    unsetenv("EOS_KNN_ALGO");
}

/* calls of one kernel in the profile since eos_runtime_profile_start */
static long calls_of(eos_runtime_t rt, const char *name) {
    eos_kernel_time t[64];
    size_t n = eos_runtime_profile_read(rt, t, 64);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(t[i].name, name)) return t[i].calls;
    return 0;
}

/* A device that caps a work-item's loop trips (Mesa's llvmpipe: 65535, eos__loop_cap): the
 * fused kernel splits the reference panels over launches and the tiled path shrinks its tiles,
 * and the lists merged across launches still equal the brute force. The caps here are small
 * enough to split a few hundred points on any device; the launch counts prove the split ran. */
static void test_loop_cap(void **state) {
    eos_runtime_t rt = *state;
    const int gpu_paths = rt->gpu_paths;
    const size_t cap = rt->max_loop_trips;
    rt->gpu_paths = 0;
    setenv("EOS_KNN_ALGO", "fused", 1);
    rt->max_loop_trips = 3000;  /* dim 8, k 4: one 32-reference panel (2376 trips) a launch */
    eos_runtime_profile_start(rt);
    check(rt, 300, 400, 8, 4, 0, 0, 0);
    assert_int_equal(calls_of(rt, "eos_knn_fused"), 13);  /* ceil(400 / 32) panels */
    eos_runtime_profile_start(rt);
    check(rt, 333, 333, 8, 4, 1, 0, 0);
    assert_int_equal(calls_of(rt, "eos_knn_fused"), 11);
    rt->max_loop_trips = 1000;  /* not one panel fits: the tiled path, (1000 - 72) / 5 = 185 references a tile */
    eos_runtime_profile_start(rt);
    check(rt, 300, 400, 8, 4, 0, 0, 0);
    assert_int_equal(calls_of(rt, "eos_knn_fused"), 0);
    assert_int_equal(calls_of(rt, "eos_knn_merge"), 3);
    setenv("EOS_KNN_ALGO", "gemm", 1);
    eos_runtime_profile_start(rt);
    check(rt, 200, 200, 16, 10, 1, 0, 0);  /* (1000 - 84) / 11 = 83 references a tile */
    assert_int_equal(calls_of(rt, "eos_knn_merge"), 3);
    eos_runtime_profile_stop(rt);
    unsetenv("EOS_KNN_ALGO");
    rt->max_loop_trips = cap;
    rt->gpu_paths = gpu_paths;
}

static void test_ties_and_errors(void **state) {
    eos_runtime_t rt = *state;
    /* 6 copies of one point and 2 of another: neighbours of a copy are the other copies, in
     * index order, then the far points */
    float x[8 * 2] = {1, 1, 1, 1, 5, 5, 1, 1, 1, 1, 1, 1, 5, 5, 1, 1};
    int32_t idx[8 * 5];
    float d[8 * 5];
    EOS_ASSERT_OK(eos_knn(rt, x, 8, x, 8, 2, 5, 1, idx, d));
    int32_t want0[5] = {1, 3, 4, 5, 7};
    assert_memory_equal(idx, want0, sizeof want0);
    int32_t want2[5] = {6, 0, 1, 3, 4};
    assert_memory_equal(idx + 2 * 5, want2, sizeof want2);
    assert_float_equal(d[2 * 5 + 0], 0.0f, 0);
    assert_float_equal(d[2 * 5 + 1], 32.0f, 1e-4);
    assert_int_equal(eos_knn(rt, x, 8, x, 8, 2, 8, 1, idx, d), EOS_ERR_INVALID_ARG);  /* only 7 others */
    assert_int_equal(eos_knn(rt, x, 8, x, 8, 2, 0, 1, idx, d), EOS_ERR_INVALID_ARG);
    assert_int_equal(eos_knn(rt, x, 8, x, 8, 2, EOS_KNN_MAX_K + 1, 0, idx, d), EOS_ERR_INVALID_ARG);
}

/* The tiled path in both layouts ((Q, R) tiles on CPU paths, (R, Q) on GPU paths) and the
 * fused path against the brute force exactly: small integer coordinates make every q.r, norm
 * and distance exact in float, so there are many exact ties (decided by the smaller index) and
 * the lists must equal the reference index for index, and each other: EOS_KNN_ALGO=gemm and
 * fused on CPU paths, and the GPU paths (rt->gpu_paths: (R, Q) tiles, rounded-up launches, the
 * default algorithm gemm). Counts are not multiples of the tiles, so the last tiles are smaller
 * than the buffer (a merge reading beyond what its GEMM wrote would see stale values of an
 * earlier tile and fail here). */
static void exact_case(eos_runtime_t rt, size_t nq, size_t nr, int dim, int k, int self, size_t tq, size_t tr,
                       int32_t *got) {
    float *q = malloc(nq * dim * sizeof *q), *r = self ? q : malloc(nr * dim * sizeof *r);
    eos_rng g;
    eos_rng_seed(&g, 7 * nq + nr, (uint64_t)(dim + k));
    for (size_t i = 0; i < nq * dim; i++) q[i] = (float)eos_rng_below(&g, 7) - 3.0f;
    if (!self) for (size_t i = 0; i < nr * dim; i++) r[i] = (float)eos_rng_below(&g, 7) - 3.0f;
    int32_t *want = malloc(nq * k * sizeof *want);
    float *gd = malloc(nq * k * sizeof *gd);
    double *wd = malloc(nq * k * sizeof *wd);
    eos__knn_set_tiles(tq, tr);
    EOS_ASSERT_OK(eos_knn(rt, q, nq, r, nr, dim, k, self, got, gd));
    eos__knn_set_tiles(0, 0);
    brute(q, nq, r, nr, dim, k, self, want, wd);
    for (size_t i = 0; i < nq * k; i++) {
        if (got[i] != want[i] || gd[i] != (float)wd[i])
            fail_msg("knn %zux%zu dim %d k %d self %d tiles %zux%zu: query %zu neighbour %d is %d at %g, want %d at %g",
                     nq, nr, dim, k, self, tq, tr, i / k, (int)(i % k), got[i], gd[i], want[i], wd[i]);
    }
    free(q); if (!self) free(r);
    free(want); free(gd); free(wd);
}

static void test_tiles_exact(void **state) {
    eos_runtime_t rt = *state;
    static const struct { size_t nq, nr; int dim, k, self; size_t tq, tr; } cases[] = {
        {37, 45, 5, 1, 0, 16, 20},    /* 3 x 3 tiles, the last 5 x 5 */
        {37, 45, 5, 10, 0, 16, 20},
        {53, 53, 4, 10, 1, 16, 20},   /* exclude_self across tile borders */
        {53, 53, 4, 1, 1, 7, 11},
        {100, 61, 3, 10, 0, 33, 60},  /* a last reference tile of one */
        {29, 300, 6, 10, 0, 0, 0},    /* one tile */
    };
    const size_t nc = sizeof cases / sizeof cases[0];
    const int gpu_paths = rt->gpu_paths;
    for (size_t c = 0; c < nc; c++) {
        int32_t *first = NULL;
        size_t n = cases[c].nq * (size_t)cases[c].k;
        for (int v = 0; v < 3; v++) {  /* gemm, fused, the GPU paths' default (gemm) */
            rt->gpu_paths = v == 2;
            if (v < 2) setenv("EOS_KNN_ALGO", v == 0 ? "gemm" : "fused", 1);
            else unsetenv("EOS_KNN_ALGO");
            int32_t *got = malloc(n * sizeof *got);
            exact_case(rt, cases[c].nq, cases[c].nr, cases[c].dim, cases[c].k, cases[c].self, cases[c].tq,
                       cases[c].tr, got);
            if (first) assert_memory_equal(got, first, n * sizeof *got);
            else first = got;
            if (got != first) free(got);
        }
        free(first);
    }
    unsetenv("EOS_KNN_ALGO");
    rt->gpu_paths = gpu_paths;
}

/* eos_embedding_gap_device (issue 20: the pipeline's gap from the embeddings on the device)
 * against eos_embedding_gap bit for bit and against a brute-force double reference; a class
 * with one training row and no test rows, one with no training rows: NaN on both paths. Only
 * the row numbers go up. */
static void test_gap_device(void **state) {
    eos_runtime_t rt = *state;
    enum { C = 5, D = 24 };
    size_t ntr = 700, nte = 300;
    eos_rng g;
    eos_rng_seed(&g, 17, 4);
    float *xtr = malloc(ntr * D * sizeof *xtr), *xte = malloc(nte * D * sizeof *xte);
    int32_t *ytr = malloc(ntr * sizeof *ytr), *yte = malloc(nte * sizeof *yte);
    for (size_t i = 0; i < ntr; i++) ytr[i] = i == 5 ? 3 : (int32_t)(i % 3);  /* class 3: one row, 4: none */
    for (size_t i = 0; i < nte; i++) yte[i] = (int32_t)(i % 5 == 3 ? 4 : i % 3);  /* class 3: none */
    for (size_t i = 0; i < ntr * D; i++) xtr[i] = eos_rng_normal(&g) + (float)ytr[i / D];
    for (size_t i = 0; i < nte * D; i++) xte[i] = eos_rng_normal(&g) + (float)yte[i / D];
    double tg[C], trg[C], dtg[C], dtrg[C];
    EOS_ASSERT_OK(eos_embedding_gap(rt, xtr, ytr, ntr, xte, yte, nte, D, C, tg, trg));
    eos_tensor Tr, Te;
    EOS_ASSERT_OK(eos_tensor_alloc(rt, &Tr, 2, (size_t[]){ntr, D}));
    EOS_ASSERT_OK(eos_tensor_alloc(rt, &Te, 2, (size_t[]){nte, D}));
    EOS_ASSERT_OK(eos_tensor_upload(&Tr, xtr, ntr * D));
    EOS_ASSERT_OK(eos_tensor_upload(&Te, xte, nte * D));
    eos_runtime_stats s0 = eos_runtime_get_stats(rt);
    EOS_ASSERT_OK(eos_embedding_gap_device(rt, &Tr, ytr, &Te, yte, C, dtg, dtrg));
    eos_runtime_stats s1 = eos_runtime_get_stats(rt);
    /* every class's row numbers, int32, once: the training rows of all classes, the test rows
     * of the classes 0-2 and 4 */
    assert_int_equal(s1.bytes_to_device - s0.bytes_to_device, (ntr + nte) * sizeof(int32_t));
    for (int c = 0; c < C; c++) {
        printf("# class %d: test gap %.9g, train gap %.9g\n", c, dtg[c], dtrg[c]);
        assert_int_equal(isnan(tg[c]), isnan(dtg[c]));
        assert_int_equal(isnan(trg[c]), isnan(dtrg[c]));
        if (!isnan(tg[c])) assert_memory_equal(&tg[c], &dtg[c], sizeof tg[c]);
        if (!isnan(trg[c])) assert_memory_equal(&trg[c], &dtrg[c], sizeof trg[c]);
    }
    assert_true(isnan(dtg[3]) && isnan(dtrg[3]) && isnan(dtg[4]) && isnan(dtrg[4]));
    /* class 0 against brute force in double */
    size_t m = 0, q = 0;
    double ref_te = 0, ref_tr = 0;
    for (size_t i = 0; i < ntr; i++) m += ytr[i] == 0;
    for (size_t i = 0; i < nte; i++) {
        if (yte[i] != 0) continue;
        double best = INFINITY;
        for (size_t j = 0; j < ntr; j++) {
            if (ytr[j] != 0) continue;
            double s = 0;
            for (int d = 0; d < D; d++) s += pow((double)xte[i * D + d] - xtr[j * D + d], 2);
            best = s < best ? s : best;
        }
        ref_te += sqrt(best);
        q++;
    }
    for (size_t i = 0; i < ntr; i++) {
        if (ytr[i] != 0) continue;
        double best = INFINITY;
        for (size_t j = 0; j < ntr; j++) {
            if (ytr[j] != 0 || j == i) continue;
            double s = 0;
            for (int d = 0; d < D; d++) s += pow((double)xtr[i * D + d] - xtr[j * D + d], 2);
            best = s < best ? s : best;
        }
        ref_tr += sqrt(best);
    }
    /* float32 distances as |q|^2 + |r|^2 - 2 q.r: a relative 1e-4 of the mean distance */
    assert_float_equal(dtg[0], ref_te / q, 1e-4 * ref_te / q);
    assert_float_equal(dtrg[0], ref_tr / m, 1e-4 * ref_tr / m);
    /* refused: tensors of different widths */
    eos_tensor Bad;
    EOS_ASSERT_OK(eos_tensor_alloc(rt, &Bad, 2, (size_t[]){nte, D - 1}));
    assert_int_equal(eos_embedding_gap_device(rt, &Tr, ytr, &Bad, yte, C, dtg, dtrg), EOS_ERR_INVALID_ARG);
    eos_tensor_free(&Bad);
    eos_tensor_free(&Tr);
    eos_tensor_free(&Te);
    free(xtr); free(xte); free(ytr); free(yte);
}

/* The MPI ranks' shares of the query rows (host/runtime/dist.c, the kNN's and eos_predict's split):
 * contiguous, in rank order, covering every row once, cut only at multiples of the grain (the
 * GEMM path's query tile, prediction's batch), each rank at least one grain when there are as
 * many grains as ranks, and no two shares more than a grain apart. */
static void test_rank_shares(void **state) {
    (void)state;
    static const size_t ns[] = {0, 1, 15, 16, 17, 100, 379, 2100, 100000};
    static const size_t grains[] = {1, 16, 256, 1024};
    for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
        for (size_t g = 0; g < sizeof grains / sizeof *grains; g++)
            for (int ranks = 1; ranks <= 7; ranks++) {
                size_t n = ns[a], grain = grains[g], next = 0, units = (n + grain - 1) / grain, most = 0, least = (size_t)-1;
                for (int r = 0; r < ranks; r++) {
                    size_t lo, hi;
                    eos__dist_share(n, grain, r, ranks, &lo, &hi);
                    assert_int_equal(lo, next);
                    assert_true(hi >= lo && hi <= n);
                    assert_true(lo % grain == 0 && (hi % grain == 0 || hi == n));
                    if (units >= (size_t)ranks) assert_true(hi > lo);
                    size_t k = (hi - lo + grain - 1) / grain;
                    if (k > most) most = k;
                    if (k < least) least = k;
                    next = hi;
                }
                assert_int_equal(next, n);
                assert_true(most - least <= 1);
            }
    /* the examples of tests/test_mpi_phases.sh */
    size_t lo, hi;
    eos__dist_share(2100, 16, 1, 2, &lo, &hi);
    assert_int_equal(lo, 1056);
    eos__dist_share(2100, 1024, 1, 2, &lo, &hi);
    assert_int_equal(lo, 1024);
    assert_int_equal(hi, 2100);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rank_shares),
        cmocka_unit_test(test_against_brute_force),
        cmocka_unit_test(test_ties_and_errors),
        cmocka_unit_test(test_tiles_exact),
        cmocka_unit_test(test_loop_cap),
        cmocka_unit_test(test_gap_device),
    };
    return cmocka_run_group_tests(tests, test_runtime_setup, test_runtime_teardown);
}
