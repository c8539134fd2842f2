/* The linear layer (host/nn/linear.c) against the reference GEMM, forward and backward. Part
 * of the test_layers program (tests/nn/test_layers.c). */
#include "layers_test_common.h"

static void test_linear(void **state) {
    eos_runtime_t rt = *state;
    enum { N = 5, F = 64, K = 10 };
    float *x = rnd(N * F, -1, 1), *w = rnd(K * F, -1, 1), *b = rnd(K, -1, 1), *r = rnd(N * K, -1, 1);
    eos_tensor X = dev(rt, x, N * F), Wt = dev(rt, w, K * F), B = dev(rt, b, K), Y = dev(rt, NULL, N * K);
    eos_tensor R = dev(rt, r, N * K), DX = dev(rt, NULL, N * F), DW = dev(rt, NULL, K * F), DB = dev(rt, NULL, K);
    EOS_ASSERT_OK(eos_linear_forward(rt, N, F, K, &X, &Wt, &B, &Y));
    EOS_ASSERT_OK(eos_linear_backward(rt, N, F, K, &X, &Wt, &R, &DX, &DW, &DB));
    float *y = host(&Y, N * K), *dx = host(&DX, N * F), *dw = host(&DW, K * F), *db = host(&DB, K);
    float want[N * F > K * F ? N * F : K * F];
    for (int i = 0; i < N; i++)
        for (int k = 0; k < K; k++) want[i * K + k] = b[k];
    eos_ref_gemm(0, 1, N, K, F, 1.0f, x, F, w, F, 1.0f, want, K);
    expect_close("linear forward", y, want, N * K, 1e-5, 1e-4);
    eos_ref_gemm(1, 0, K, F, N, 1.0f, r, K, x, F, 0.0f, want, F);
    expect_close("linear dw", dw, want, K * F, 1e-5, 1e-4);
    eos_ref_gemm(0, 0, N, F, K, 1.0f, r, K, w, F, 0.0f, want, F);
    expect_close("linear dx", dx, want, N * F, 1e-5, 1e-4);
    for (int k = 0; k < K; k++) {
        double s = 0;
        for (int i = 0; i < N; i++) s += r[i * K + k];
        assert_float_equal(db[k], s, 1e-5);
    }
    eos_tensor *all[] = {&X, &Wt, &B, &Y, &R, &DX, &DW, &DB};
    for (size_t k = 0; k < 8; k++) eos_tensor_free(all[k]);
    free(x); free(w); free(b); free(r); free(y); free(dx); free(dw); free(db);
}

/* run in this order by tests/nn/test_layers.c */
const struct CMUnitTest eos_tests_linear[] = {
    cmocka_unit_test(test_linear),
};
const size_t eos_tests_linear_n = sizeof eos_tests_linear / sizeof eos_tests_linear[0];
