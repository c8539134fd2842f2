/* Batch norm (host/nn/batchnorm.c, cl/batchnorm.cl) against its plain-C reference: forward,
 * backward, the fused ReLU, --sync-bn on one rank, the two-stage reductions and the bias
 * gradients' channel sum; and test_loop_cap, these reductions and conv's weight gradient (run_conv,
 * test_conv.c) split under a loop cap. Part of the test_layers program (tests/nn/test_layers.c). */
#include "layers_test_common.h"
#include "dist.h"

/* ---- batch norm ------------------------------------------------------------------------- */

static void bn_all(eos_runtime_t rt) {
    enum { N = 4, C = 3, HW = 10 };
    size_t n = N * C * HW;
    for (int variant = 0; variant < 3; variant++) {  /* plain, + ReLU, + residual + ReLU */
        int relu = variant > 0, with_res = variant == 2;
        float *x = rnd(n, -2, 3), *g = rnd(C, 0.5f, 1.5f), *b = rnd(C, -0.5f, 0.5f), *res = rnd(n, -1, 1);
        float rm[C] = {0.1f, -0.2f, 0.3f}, rv[C] = {1.0f, 2.0f, 0.5f}, rm_ref[C], rv_ref[C];
        memcpy(rm_ref, rm, sizeof rm);
        memcpy(rv_ref, rv, sizeof rv);
        eos_tensor X = dev(rt, x, n), G = dev(rt, g, C), B = dev(rt, b, C), RM = dev(rt, rm, C), RV = dev(rt, rv, C);
        eos_tensor MEAN = dev(rt, NULL, C), IS = dev(rt, NULL, C), Y = dev(rt, NULL, n), RES = dev(rt, res, n);
        EOS_ASSERT_OK(eos_batchnorm_forward_train(rt, N, C, HW, &X, &G, &B, &RM, &RV, &MEAN, &IS,
                                                  with_res ? &RES : NULL, relu, 0.1f, 1e-5f, &Y));
        float *y = host(&Y, n), *want = malloc(n * sizeof *want);
        eos_ref_bn_forward_train(N, C, HW, x, g, b, rm_ref, rv_ref, 0.1f, 1e-5f, with_res ? res : NULL, relu, want);
        expect_close("bn forward", y, want, n, 1e-5, 1e-4);
        float *rm_got = host(&RM, C), *rv_got = host(&RV, C);
        expect_close("bn running_mean", rm_got, rm_ref, C, 1e-6, 1e-5);
        expect_close("bn running_var", rv_got, rv_ref, C, 1e-6, 1e-5);
        /* evaluation with the updated running statistics */
        EOS_ASSERT_OK(eos_batchnorm_forward_eval(rt, N, C, HW, &X, &G, &B, &RM, &RV, &MEAN, &IS, NULL, 0, 1e-5f, &Y));
        free(y);
        y = host(&Y, n);
        eos_ref_bn_forward_eval(N, C, HW, x, g, b, rm_ref, rv_ref, 1e-5f, want);
        expect_close("bn eval", y, want, n, 1e-5, 1e-4);
        if (variant == 0) {
            /* backward: against the reference, then finite differences of L = sum(bn(x) * r) */
            EOS_ASSERT_OK(eos_batchnorm_forward_train(rt, N, C, HW, &X, &G, &B, &RM, &RV, &MEAN, &IS, NULL, 0, 0.1f,
                                                      1e-5f, &Y));
            float *r = rnd(n, -1, 1);
            eos_tensor DY = dev(rt, r, n), DX = dev(rt, NULL, n), DG = dev(rt, NULL, C), DB = dev(rt, NULL, C);
            EOS_ASSERT_OK(eos_batchnorm_backward(rt, N, C, HW, &DY, &X, &MEAN, &IS, &G, &DX, &DG, &DB));
            float *dx = host(&DX, n), *dg = host(&DG, C), *db = host(&DB, C);
            float wdx[N * C * HW], wdg[C], wdb[C];
            eos_ref_bn_backward(N, C, HW, x, g, 1e-5f, r, wdx, wdg, wdb);
            expect_close("bn dx", dx, wdx, n, 1e-5, 1e-3);
            expect_close("bn dgamma", dg, wdg, C, 1e-5, 1e-4);
            expect_close("bn dbeta", db, wdb, C, 1e-5, 1e-4);
            float scratch_m[C], scratch_v[C], *yy = malloc(n * sizeof *yy);
            for (int t = 0; t < 10; t++) {
                size_t i = eos_rng_below(&g_rng, (uint32_t)n);
                float h = 1e-2f, keep = x[i];
                double l[2];
                for (int s = 0; s < 2; s++) {
                    x[i] = keep + (s ? -h : h);
                    eos_ref_bn_forward_train(N, C, HW, x, g, b, scratch_m, scratch_v, 0.1f, 1e-5f, NULL, 0, yy);
                    l[s] = dot(yy, r, n);
                }
                x[i] = keep;
                assert_float_equal(dx[i], (l[0] - l[1]) / (2 * h), 2e-3 * (1 + fabs(dx[i])));
            }
            free(yy); free(r); free(dx); free(dg); free(db);
            eos_tensor_free(&DY); eos_tensor_free(&DX); eos_tensor_free(&DG); eos_tensor_free(&DB);
        }
        eos_tensor *all[] = {&X, &G, &B, &RM, &RV, &MEAN, &IS, &Y, &RES};
        for (size_t k = 0; k < 9; k++) eos_tensor_free(all[k]);
        free(x); free(g); free(b); free(res); free(y); free(want); free(rm_got); free(rv_got);
    }
}

/* both kernels of the element-wise passes: rows (CPUs) and one work-item per element (GPUs) */
static void test_batchnorm(void **state) {
    eos_runtime_t rt = *state;
    setenv("EOS_BN_PATH", "rows", 1);
    bn_all(rt);
    setenv("EOS_BN_PATH", "elements", 1);
    bn_all(rt);
    unsetenv("EOS_BN_PATH");
}

/* ---- batch norm: statistics in one pass, the ReLU's backward folded in ------------------- */

typedef struct { int N, C, HW; } bn_shape;

/* odd sizes: rows shorter than, equal to and longer than a float8, with and without a tail */
static const bn_shape k_bn_shapes[] = {{3, 5, 13}, {2, 4, 8}, {5, 3, 1}, {4, 2, 67}, {2, 3, 64}, {16, 2, 7}};

/* Statistics of x = offset + U(-1, 1) against the double reference: momentum 1 makes the
 * running estimates the batch's mean and unbiased variance. With offset 50 the textbook
 * one-pass float formula E[x^2] - E[x]^2 loses about 3 of float's 7 digits (E[x^2] = 2500.3
 * has ulp 2.4e-4 against a variance of 0.33), so rtol 1e-4 on the variance tells a careful
 * method from it; a merge of per-row mean and M2 (Chan et al.) stays near 1e-6. */
static void bn_stats_case(eos_runtime_t rt, const bn_shape *s, float offset) {
    int N = s->N, C = s->C, HW = s->HW;
    size_t n = (size_t)N * C * HW;
    float *x = rnd(n, offset - 1, offset + 1), *g = rnd(C, 0.5f, 1.5f), *b = rnd(C, -0.5f, 0.5f);
    float *rm = calloc(C, sizeof *rm), *rv = calloc(C, sizeof *rv), *y = malloc(n * sizeof *y);
    for (int c = 0; c < C; c++) rv[c] = 1.0f;
    eos_tensor X = dev(rt, x, n), G = dev(rt, g, C), B = dev(rt, b, C), RM = dev(rt, rm, C), RV = dev(rt, rv, C);
    eos_tensor MEAN = dev(rt, NULL, C), IS = dev(rt, NULL, C), Y = dev(rt, NULL, n);
    EOS_ASSERT_OK(eos_batchnorm_forward_train(rt, N, C, HW, &X, &G, &B, &RM, &RV, &MEAN, &IS, NULL, 0, 1.0f, 1e-5f, &Y));
    eos_ref_bn_forward_train(N, C, HW, x, g, b, rm, rv, 1.0f, 1e-5f, NULL, 0, y);
    float *mean = host(&MEAN, C), *rm_got = host(&RM, C), *rv_got = host(&RV, C);
    /* the mean: float's rounding of values near offset (ulp 4e-6 at 50) */
    expect_close("bn stats mean", mean, rm, C, 1e-6 * (1 + fabs(offset)), 1e-6);
    expect_close("bn stats running_mean", rm_got, rm, C, 1e-6 * (1 + fabs(offset)), 1e-6);
    if (N * HW > 1) expect_close("bn stats unbiased variance", rv_got, rv, C, 0, 1e-4);
    eos_tensor *all[] = {&X, &G, &B, &RM, &RV, &MEAN, &IS, &Y};
    for (size_t k = 0; k < 8; k++) eos_tensor_free(all[k]);
    free(x); free(g); free(b); free(rm); free(rv); free(y); free(mean); free(rm_got); free(rv_got);
}

/* y = relu(bn(x) [+ res]); the fused backward (EOS_BN_FUSE unset) against the unfused one
 * (EOS_BN_FUSE=0: eos_relu_backward, then eos_batchnorm_backward) and against the plain-C
 * reference on dy * (y > 0). Fused and unfused do the same float operations in the same order
 * (the mask is a selection, not arithmetic), so they agree to a few ulps at most (the compiler
 * may contract the branches differently); the reference differs by float against double
 * sums, the tolerance of test_batchnorm. */
static void bn_fused_case(eos_runtime_t rt, const bn_shape *s, int with_res) {
    int N = s->N, C = s->C, HW = s->HW;
    size_t n = (size_t)N * C * HW;
    float *x = rnd(n, -2, 3), *g = rnd(C, 0.5f, 1.5f), *b = rnd(C, -0.5f, 0.5f), *res = rnd(n, -1, 1);
    float *r = rnd(n, -1, 1), *rm = calloc(C, sizeof *rm), *rv = calloc(C, sizeof *rv);
    eos_tensor X = dev(rt, x, n), G = dev(rt, g, C), B = dev(rt, b, C), RM = dev(rt, rm, C), RV = dev(rt, rv, C);
    eos_tensor MEAN = dev(rt, NULL, C), IS = dev(rt, NULL, C), Y = dev(rt, NULL, n), RES = dev(rt, res, n);
    EOS_ASSERT_OK(eos_batchnorm_forward_train(rt, N, C, HW, &X, &G, &B, &RM, &RV, &MEAN, &IS, with_res ? &RES : NULL,
                                              1, 0.1f, 1e-5f, &Y));
    float *y = host(&Y, n), *ywant = malloc(n * sizeof *ywant);
    eos_ref_bn_forward_train(N, C, HW, x, g, b, rm, rv, 0.1f, 1e-5f, with_res ? res : NULL, 1, ywant);
    expect_close("bn+relu forward", y, ywant, n, 1e-5, 1e-4);
    float *got[2][4];  /* [unfused, fused][dy masked, dx, dgamma, dbeta] */
    for (int fuse = 0; fuse < 2; fuse++) {
        if (fuse) unsetenv("EOS_BN_FUSE");
        else setenv("EOS_BN_FUSE", "0", 1);
        eos_tensor DY = dev(rt, r, n), DX = dev(rt, NULL, n), DG = dev(rt, NULL, C), DB = dev(rt, NULL, C);
        EOS_ASSERT_OK(eos_batchnorm_relu_backward(rt, N, C, HW, &DY, &Y, &X, &MEAN, &IS, &G, &DX, &DG, &DB));
        got[fuse][0] = host(&DY, n);
        got[fuse][1] = host(&DX, n);
        got[fuse][2] = host(&DG, C);
        got[fuse][3] = host(&DB, C);
        eos_tensor_free(&DY); eos_tensor_free(&DX); eos_tensor_free(&DG); eos_tensor_free(&DB);
    }
    unsetenv("EOS_BN_FUSE");
    /* the reference: the mask from the device's own y (a value at exactly 0 decides the same) */
    float *dym = malloc(n * sizeof *dym), *wdx = malloc(n * sizeof *wdx), *wdg = malloc(C * sizeof *wdg);
    float *wdb = malloc(C * sizeof *wdb);
    for (size_t i = 0; i < n; i++) dym[i] = y[i] > 0 ? r[i] : 0.0f;
    eos_ref_bn_backward(N, C, HW, x, g, 1e-5f, dym, wdx, wdg, wdb);
    /* dgamma and dbeta are float sums of M = N HW terms of either sign, each below 1 in size:
     * against the double reference, plain recursive summation may err by up to about eps M (its
     * partial sums wander to sqrt(M), each addition rounds by eps times that); the kernels sum a
     * row at a time and merge, which errs far less (1.4e-5 seen at M = 8192, where 1e-5 absolute
     * failed on a channel whose dbeta was 0.007). So 1e-5 per 1024 terms, a twelfth of eps M. */
    const double sum_atol = 1e-5 * fmax(1.0, (double)N * HW / 1024.0);
    for (int fuse = 0; fuse < 2; fuse++) {
        expect_close(fuse ? "fused masked dy" : "unfused masked dy", got[fuse][0], dym, n, 0, 0);
        expect_close(fuse ? "fused dx" : "unfused dx", got[fuse][1], wdx, n, 1e-5, 1e-3);
        expect_close(fuse ? "fused dgamma" : "unfused dgamma", got[fuse][2], wdg, C, sum_atol, 1e-4);
        expect_close(fuse ? "fused dbeta" : "unfused dbeta", got[fuse][3], wdb, C, sum_atol, 1e-4);
    }
    expect_close("fused dx against unfused", got[1][1], got[0][1], n, 1e-6, 1e-6);
    expect_close("fused dgamma against unfused", got[1][2], got[0][2], C, 1e-6, 1e-6);
    expect_close("fused dbeta against unfused", got[1][3], got[0][3], C, 1e-6, 1e-6);
    for (int f = 0; f < 2; f++)
        for (int k = 0; k < 4; k++) free(got[f][k]);
    eos_tensor *all[] = {&X, &G, &B, &RM, &RV, &MEAN, &IS, &Y, &RES};
    for (size_t k = 0; k < 9; k++) eos_tensor_free(all[k]);
    free(x); free(g); free(b); free(res); free(r); free(rm); free(rv); free(y); free(ywant);
    free(dym); free(wdx); free(wdg); free(wdb);
}

/* every shape, rows and elements, one work-item per reduction group (CPUs) and several (the
 * GPUs' branch of the reduction kernels, forced here) */
static void test_batchnorm_fused(void **state) {
    eos_runtime_t rt = *state;
    static const char *paths[] = {"rows", "elements"};
    static const size_t locals[] = {0, 4, 64};
    for (size_t p = 0; p < 2; p++)
        for (size_t l = 0; l < 3; l++) {
            setenv("EOS_BN_PATH", paths[p], 1);
            rt->reduce_local_force = locals[l];
            for (size_t k = 0; k < sizeof k_bn_shapes / sizeof k_bn_shapes[0]; k++) {
                /* tiny (Oclgrind): three of the six shapes (an odd HW; HW past a group of 64;
                 * N past the groups of 4), in every path and group size */
                if (test_tiny() && k != 0 && k != 3 && k != 5) continue;
                bn_stats_case(rt, &k_bn_shapes[k], 0.0f);
                bn_stats_case(rt, &k_bn_shapes[k], 50.0f);
                bn_fused_case(rt, &k_bn_shapes[k], 0);
                bn_fused_case(rt, &k_bn_shapes[k], 1);
            }
        }
    rt->reduce_local_force = 0;
    unsetenv("EOS_BN_PATH");
}

/* --sync-bn's host side (host/nn/batchnorm.c, rt->bn_sync) in a one-process run, where the
 * allreduce (host/runtime/dist.c) leaves its input as it is: the rewrite of mean, invstd and the running
 * estimates from (count, sum, sum of squares) merged in double, and the backward's detour
 * (global sums / weight, the rank's own dgamma, dbeta put back), must give what the plain path
 * gives, against the same double references and tolerances (bn_stats_case: rtol 1e-4 on the
 * variance with offset 50, where E[x^2] - mean^2 in float would lose 3 digits). The 2-rank
 * equivalence itself is tests/test_mpi.sh. */
static void test_batchnorm_sync_one_rank(void **state) {
    eos_runtime_t rt = *state;
    assert_int_equal(eos__dist_size(), 1);
    assert_int_equal(eos__dist_rank(), 0);
    float v[3] = {1.0f, -2.0f, 3.5f};
    double w[2] = {0.25, -1e300};
    assert_int_equal(eos__dist_allreduce_sum(v, 3), 0);
    assert_int_equal(eos__dist_allreduce_sum_double(w, 2), 0);
    assert_true(v[0] == 1.0f && v[1] == -2.0f && v[2] == 3.5f && w[0] == 0.25 && w[1] == -1e300);
    for (size_t k = 0; k < sizeof k_bn_shapes / sizeof k_bn_shapes[0]; k++) {
        rt->bn_sync.on = 1;
        rt->bn_sync.rows = rt->bn_sync.rows_total = k_bn_shapes[k].N;
        bn_stats_case(rt, &k_bn_shapes[k], 0.0f);
        bn_stats_case(rt, &k_bn_shapes[k], 50.0f);
        bn_fused_case(rt, &k_bn_shapes[k], 0);
        bn_fused_case(rt, &k_bn_shapes[k], 1);
    }
    rt->bn_sync.on = 0;
}

/* ---- batch norm: the two-stage reductions (GPU paths) ------------------------------------ */

/* Statistics and backward in two stages, P chunks per channel, against the same double
 * references as above, on the CPU paths and the GPU paths (rt->gpu_paths), with P forced to 1
 * (one chunk through the two-stage kernels), 2 and 3 (whole rows, uneven: N = 3 and 8 rows),
 * 50 (more chunks than rows: chunks split rows) and 200 (more chunks than the 189 values of
 * a channel of the first shape: empty chunks), one, 4 and up to 256 work-items per group. Shapes:
 * 7 x 9 rows (tails everywhere) and a ResNet stage-1 layer (16 channels of 32 x 32). */
static const bn_shape k_bn_chunk_shapes[] = {{3, 5, 63}, {8, 16, 1024}};

static void test_batchnorm_two_stage(void **state) {
    eos_runtime_t rt = *state;
    static const size_t chunks[] = {1, 2, 3, 50, 200};
    /* (gpu paths, work-items per group): CPU paths' one (float8 rows), 4 forced, and the GPU
     * paths' own choice (up to 256) */
    static const struct { int gp; size_t local; } configs[] = {{0, 0}, {0, 4}, {1, 0}};
    const int gpu_paths = rt->gpu_paths;
    for (size_t v = 0; v < 3; v++)
        for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
            rt->gpu_paths = configs[v].gp;
            rt->reduce_chunks_force = chunks[c];
            rt->reduce_local_force = configs[v].local;
            /* tiny (Oclgrind): the first shape only, 189 values a channel, still past 200 chunks */
            for (size_t k = 0; k < (test_tiny() ? 1 : sizeof k_bn_chunk_shapes / sizeof k_bn_chunk_shapes[0]); k++) {
                bn_stats_case(rt, &k_bn_chunk_shapes[k], 0.0f);
                bn_stats_case(rt, &k_bn_chunk_shapes[k], 50.0f);
                bn_fused_case(rt, &k_bn_chunk_shapes[k], v != 1);
            }
            /* momentum 0.1 on non-zero running estimates, evaluation, finite differences (tiny:
             * once per configuration, its hundreds of launches are slow under Oclgrind) */
            if (!test_tiny() || c == 0) bn_all(rt);
        }
    rt->reduce_chunks_force = 0;
    rt->reduce_local_force = 0;
    /* the device's own choice on a GPU of 132 compute units: 4 groups per unit over 16
     * channels is 33 chunks, capped at 131072 / 4096 = 32 by the smallest chunk; on CPU paths
     * and where one chunk would do, the one-stage kernel (0) */
    const unsigned cu = rt->dev.compute_units;
    rt->dev.compute_units = 132;
    rt->gpu_paths = 1;
    assert_int_equal(eos__reduce_chunks(rt, 16, 128 * 1024), 32);
    assert_int_equal(eos__reduce_chunks(rt, 16, 2 * 1024), 0);
    assert_int_equal(eos__reduce_chunks(rt, 512, 128 * 64), 0);
    if (!test_tiny()) {
        bn_stats_case(rt, &k_bn_chunk_shapes[1], 50.0f);  /* 8 x 1024 values: 2 chunks */
        bn_fused_case(rt, &k_bn_chunk_shapes[1], 1);
    }
    rt->gpu_paths = 0;
    assert_int_equal(eos__reduce_chunks(rt, 16, 128 * 1024), 0);
    rt->dev.compute_units = cu;
    rt->gpu_paths = gpu_paths;
}

/* The two stages merge in a fixed order: the same input gives bit-identical statistics and
 * gradients on every run (the property resume's bit-identity rests on). */
static void test_batchnorm_two_stage_deterministic(void **state) {
    eos_runtime_t rt = *state;
    enum { N = 8, C = 4, HW = 1000 };
    size_t n = (size_t)N * C * HW;
    float *x = rnd(n, -2, 3), *g = rnd(C, 0.5f, 1.5f), *b = rnd(C, -0.5f, 0.5f), *r = rnd(n, -1, 1);
    float *got[2][5];
    rt->reduce_chunks_force = 7;
    rt->reduce_local_force = 64;
    for (int run = 0; run < 2; run++) {
        float z[C] = {0}, one[C] = {1, 1, 1, 1};
        eos_tensor X = dev(rt, x, n), G = dev(rt, g, C), B = dev(rt, b, C), RM = dev(rt, z, C), RV = dev(rt, one, C);
        eos_tensor MEAN = dev(rt, NULL, C), IS = dev(rt, NULL, C), Y = dev(rt, NULL, n), DY = dev(rt, r, n);
        eos_tensor DX = dev(rt, NULL, n), DG = dev(rt, NULL, C), DB = dev(rt, NULL, C);
        EOS_ASSERT_OK(eos_batchnorm_forward_train(rt, N, C, HW, &X, &G, &B, &RM, &RV, &MEAN, &IS, NULL, 1, 0.1f,
                                                  1e-5f, &Y));
        EOS_ASSERT_OK(eos_batchnorm_relu_backward(rt, N, C, HW, &DY, &Y, &X, &MEAN, &IS, &G, &DX, &DG, &DB));
        got[run][0] = host(&MEAN, C);
        got[run][1] = host(&IS, C);
        got[run][2] = host(&RV, C);
        got[run][3] = host(&DG, C);
        got[run][4] = host(&DX, n);
        eos_tensor *all[] = {&X, &G, &B, &RM, &RV, &MEAN, &IS, &Y, &DY, &DX, &DG, &DB};
        for (size_t k = 0; k < 12; k++) eos_tensor_free(all[k]);
    }
    rt->reduce_chunks_force = 0;
    rt->reduce_local_force = 0;
    for (int k = 0; k < 5; k++) {
        assert_memory_equal(got[0][k], got[1][k], (k == 4 ? n : C) * sizeof(float));
        free(got[0][k]);
        free(got[1][k]);
    }
    free(x); free(g); free(b); free(r);
}

/* The bias gradients' per-channel sum (eos__channel_sum: conv's (N, K, HW), linear's (N, K, 1))
 * in one stage and in two with P chunks forced, against a double sum. Tolerance: float sums of
 * up to 8192 values of U(-1, 1), partial sums near sqrt(8192) = 90 with ulp 8e-6; a lost or
 * doubled chunk is off by about sqrt(M / P), far beyond 1e-3. */
static void test_channel_sum_two_stage(void **state) {
    eos_runtime_t rt = *state;
    static const bn_shape shapes[] = {{3, 5, 63}, {8, 16, 1024}, {128, 10, 1}};
    static const size_t chunks[] = {0, 1, 2, 3, 50, 200};
    static const struct { int gp; size_t local; } configs[] = {{0, 0}, {0, 4}, {1, 0}};
    const int gpu_paths = rt->gpu_paths;
    for (size_t k = 0; k < 3; k++) {
        if (test_tiny() && k == 1) continue;  /* Oclgrind: the ResNet-sized shape takes minutes */
        int N = shapes[k].N, C = shapes[k].C, S = shapes[k].HW;
        size_t n = (size_t)N * C * S;
        float *x = rnd(n, -1, 1), *want = malloc(C * sizeof *want);
        for (int c = 0; c < C; c++) {
            double t = 0;
            for (int i = 0; i < N; i++)
                for (int h = 0; h < S; h++) t += x[((size_t)i * C + c) * S + h];
            want[c] = (float)t;
        }
        eos_tensor X = dev(rt, x, n), OUT = dev(rt, NULL, C);
        for (size_t v = 0; v < 3; v++)
            for (size_t p = 0; p < sizeof chunks / sizeof chunks[0]; p++) {
                rt->gpu_paths = configs[v].gp;
                rt->reduce_local_force = configs[v].local;
                rt->reduce_chunks_force = chunks[p];
                EOS_ASSERT_OK(eos__channel_sum(rt, &X, &OUT, N, C, S));
                float *got = host(&OUT, C);
                expect_close("channel sum", got, want, C, 1e-3, 1e-5);
                free(got);
            }
        eos_tensor_free(&X);
        eos_tensor_free(&OUT);
        free(x);
        free(want);
    }
    rt->reduce_chunks_force = 0;
    rt->reduce_local_force = 0;
    rt->gpu_paths = gpu_paths;
}

/* ---- a device limit on loop trips (eos__loop_cap) ---------------------------------------- */

/* calls of one kernel in the profile since eos_runtime_profile_start */
static long calls_of(eos_runtime_t rt, const char *name) { return test_kernel_calls(rt, name, 0); }

/* A device that caps a work-item's loop trips (Mesa's llvmpipe: 65535 in all, eos__loop_cap)
 * gets the same values from the kernels whose loops grow with the batch: the direct weight
 * gradient in slices of a few images each (summed by eos_conv_dw_reduce), the batch-norm and
 * channel-sum reductions in chunks. A cap of 1000 splits these small shapes on any device (PoCL
 * included); the launch counts prove the splits ran, the references that their sums are whole. */
static void test_loop_cap(void **state) {
    eos_runtime_t rt = *state;
    const size_t cap = rt->max_loop_trips;
    rt->max_loop_trips = 1000;
    eos_runtime_set_conv_algo(rt, EOS_CONV_DIRECT);
    eos_workspace ws = {0};
    /* rows of 32, H 8: 1 + 8 (1 + 3 x 5) = 129 trips an image, (1000 - 64) / 129 = 7 images a
     * slice, 3 slices; rows of 8: 1 + 8 x 7 = 57 trips an image, 16 images a slice, 2 slices (the
     * cache budget alone would take each batch in one slice); each backward sums its slices */
    static const conv_case c32 = {20, 3, 8, 32, 5, 3, 1, 1, 1}, c8 = {20, 4, 8, 8, 6, 3, 1, 1, 0};
    eos_runtime_profile_start(rt);
    run_conv(rt, &c32, &ws);
    long dw_launches = calls_of(rt, "eos_conv3x3_dw2_w32");
    assert_true(dw_launches >= 1 && calls_of(rt, "eos_conv_dw_reduce") == dw_launches);
    eos_runtime_profile_start(rt);
    run_conv(rt, &c8, &ws);
    dw_launches = calls_of(rt, "eos_conv3x3_dw2_w8");
    assert_true(dw_launches >= 1 && calls_of(rt, "eos_conv_dw_reduce") == dw_launches);
    eos_workspace_free(&ws);
    eos_runtime_set_conv_algo(rt, EOS_CONV_AUTO);
    /* 8 x 1024 values a channel: chunks of at most (1000 - 64 - 60) / 2 values, two-stage */
    const int gpu_paths = rt->gpu_paths;
    rt->gpu_paths = 0;
    eos_runtime_profile_start(rt);
    bn_stats_case(rt, &k_bn_chunk_shapes[1], 50.0f);
    bn_fused_case(rt, &k_bn_chunk_shapes[1], 1);
    assert_int_equal(calls_of(rt, "eos_bn_stats"), 0);
    assert_true(calls_of(rt, "eos_bn_stats_partial") >= 1);
    assert_int_equal(calls_of(rt, "eos_bn_backward_reduce"), 0);
    assert_true(calls_of(rt, "eos_bn_backward_partial") >= 1);
    /* the bias gradient's channel sum over 8 x 1024 values */
    {
        enum { N = 8, C = 3, S = 1024 };
        size_t n = (size_t)N * C * S;
        float *x = rnd(n, -1, 1), want[C];
        for (int c = 0; c < C; c++) {
            double t = 0;
            for (int i = 0; i < N; i++)
                for (int h = 0; h < S; h++) t += x[((size_t)i * C + c) * S + h];
            want[c] = (float)t;
        }
        eos_tensor X = dev(rt, x, n), OUT = dev(rt, NULL, C);
        EOS_ASSERT_OK(eos__channel_sum(rt, &X, &OUT, N, C, S));
        float *got = host(&OUT, C);
        expect_close("channel sum under a loop cap", got, want, C, 1e-3, 1e-5);
        assert_int_equal(calls_of(rt, "eos_channel_sum"), 0);
        assert_int_equal(calls_of(rt, "eos_channel_sum_partial"), 1);
        free(got);
        free(x);
        eos_tensor_free(&X);
        eos_tensor_free(&OUT);
    }
    eos_runtime_profile_stop(rt);
    rt->gpu_paths = gpu_paths;
    rt->max_loop_trips = cap;
}

/* run in this order by tests/nn/test_layers.c */
/* The reduction's group is no wider than the work (runtime.c eos__reduce_local): on the GPU
 * paths a group of the device's full size (up to 256) over rows of HW values leaves every
 * work-item past HW adding zeros; it is halved while half still covers the width and the
 * device's preferred multiple. A forced size (the tests' many-work-item cases) is kept. Then
 * batch norm through the narrowed groups against the reference: rows of 1 and 7 (groups of 1 and
 * 8 where the device prefers no multiple) and of 67 (128). The generator's state is put back,
 * so the tests after this one draw the inputs they always drew. */
static void test_reduce_local_width(void **state) {
    eos_runtime_t rt = *state;
    const int gpu_paths = rt->gpu_paths;
    const eos_rng saved = g_rng;
    cl_kernel k;
    EOS_ASSERT_OK(eos_runtime_kernel(rt, "batchnorm.cl", "eos_bn_stats", &k));
    size_t mult = 0;
    assert_int_equal(clGetKernelWorkGroupInfo(k, rt->dev.device, CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE,
                                              sizeof mult, &mult, NULL), CL_SUCCESS);
    rt->gpu_paths = 0;
    assert_int_equal(eos__reduce_local(rt, k, 1000), 1);  /* CPU paths: one work-item a group */
    rt->gpu_paths = 1;
    const size_t full = eos__reduce_local(rt, k, SIZE_MAX);
    assert_true(full >= 1 && full <= 256 && (full & (full - 1)) == 0);
    static const size_t widths[] = {1, 3, 4, 7, 13, 64, 67, 1024};
    for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++) {
        const size_t w = widths[i], l = eos__reduce_local(rt, k, w);
        assert_true(l >= 1 && l <= full && (l & (l - 1)) == 0);
        assert_true(l >= w || l == full);         /* covers the width where the device allows */
        assert_true(l == 1 || l / 2 < w || l / 2 < mult);  /* and is no wider than that needs */
        if (w >= full) assert_int_equal(l, full);
    }
    rt->reduce_local_force = 64;
    assert_int_equal(eos__reduce_local(rt, k, 1), full < 64 ? full : 64);
    rt->reduce_local_force = 0;
    static const bn_shape shapes[] = {{5, 3, 1}, {16, 2, 7}, {4, 2, 67}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        bn_stats_case(rt, &shapes[i], 50.0f);
        bn_fused_case(rt, &shapes[i], 1);
    }
    rt->gpu_paths = gpu_paths;
    g_rng = saved;
}

const struct CMUnitTest eos_tests_batchnorm[] = {
    cmocka_unit_test(test_batchnorm),
    cmocka_unit_test(test_batchnorm_fused),
    cmocka_unit_test(test_batchnorm_sync_one_rank),
    cmocka_unit_test(test_batchnorm_two_stage),
    cmocka_unit_test(test_batchnorm_two_stage_deterministic),
    cmocka_unit_test(test_channel_sum_two_stage),
    cmocka_unit_test(test_loop_cap),
    cmocka_unit_test(test_reduce_local_width),
};
const size_t eos_tests_batchnorm_n = sizeof eos_tests_batchnorm / sizeof eos_tests_batchnorm[0];
