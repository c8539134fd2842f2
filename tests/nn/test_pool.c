/* Pooling (host/nn/pool.c) against the plain-C reference, forward and backward with finite
 * differences. Part of the test_layers program (tests/nn/test_layers.c). */
#include "layers_test_common.h"

static void test_pooling(void **state) {
    eos_runtime_t rt = *state;
    enum { N = 3, C = 5, H = 7, W = 6 };
    size_t n = N * C * H * W;
    float *x = rnd(n, -1, 1), *r = rnd(N * C, -1, 1);
    eos_tensor X = dev(rt, x, n), Y = dev(rt, NULL, N * C), R = dev(rt, r, N * C), DX = dev(rt, NULL, n);
    EOS_ASSERT_OK(eos_avgpool_forward(rt, N, C, H * W, &X, &Y));
    EOS_ASSERT_OK(eos_avgpool_backward(rt, N, C, H * W, &R, &DX));
    float *y = host(&Y, N * C), *dx = host(&DX, n);
    for (int p = 0; p < N * C; p++) {
        double s = 0;
        for (int k = 0; k < H * W; k++) s += x[p * H * W + k];
        assert_float_equal(y[p], s / (H * W), 1e-6);
        for (int k = 0; k < H * W; k++) assert_float_equal(dx[p * H * W + k], r[p] / (H * W), 1e-7);
    }
    free(y); free(dx);
    eos_tensor_free(&Y); eos_tensor_free(&R);
    /* max pool 3x3 stride 2 (overlapping windows) and 2x2 stride 2 */
    static const int ks[2][2] = {{3, 2}, {2, 2}};
    for (int t = 0; t < 2; t++) {
        int K = ks[t][0], S = ks[t][1], OH = (H - K) / S + 1, OW = (W - K) / S + 1;
        size_t no = (size_t)N * C * OH * OW;
        float *ro = rnd(no, -1, 1), *want = malloc(no * sizeof *want);
        eos_tensor MY = dev(rt, NULL, no), ARG = dev(rt, NULL, no), RO = dev(rt, ro, no);
        EOS_ASSERT_OK(eos_maxpool_forward(rt, N, C, H, W, K, S, &X, &MY, &ARG));
        EOS_ASSERT_OK(eos_maxpool_backward(rt, N, C, H, W, K, S, &RO, &ARG, &DX));
        float *my = host(&MY, no), *mdx = host(&DX, n);
        eos_ref_maxpool(N, C, H, W, K, S, x, want);
        expect_close("maxpool forward", my, want, no, 0, 0);
        for (int k = 0; k < 8; k++) {  /* finite differences (values are distinct, so it is smooth locally) */
            size_t i = eos_rng_below(&g_rng, (uint32_t)n);
            float h = 1e-4f, keep = x[i];
            x[i] = keep + h;
            eos_ref_maxpool(N, C, H, W, K, S, x, want);
            double lp = dot(want, ro, no);
            x[i] = keep - h;
            eos_ref_maxpool(N, C, H, W, K, S, x, want);
            double lm = dot(want, ro, no);
            x[i] = keep;
            assert_float_equal(mdx[i], (lp - lm) / (2 * h), 1e-3);
        }
        free(ro); free(want); free(my); free(mdx);
        eos_tensor_free(&MY); eos_tensor_free(&ARG); eos_tensor_free(&RO);
    }
    free(x); free(r);
    eos_tensor_free(&X); eos_tensor_free(&DX);
}

/* run in this order by tests/nn/test_layers.c */
const struct CMUnitTest eos_tests_pool[] = {
    cmocka_unit_test(test_pooling),
};
const size_t eos_tests_pool_n = sizeof eos_tests_pool / sizeof eos_tests_pool[0];
