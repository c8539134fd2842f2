/* ReLU and the ResNet shortcut (host/nn/activation.c) against the plain-C reference, forward and
 * backward. Part of the test_layers program (tests/nn/test_layers.c). */
#include "layers_test_common.h"

static void test_relu_add_shortcut(void **state) {
    eos_runtime_t rt = *state;
    size_t n = 1001;
    float *x = rnd(n, -1, 1), *r = rnd(n, -1, 1);
    eos_tensor X = dev(rt, x, n), Y = dev(rt, NULL, n), R = dev(rt, r, n), D = dev(rt, NULL, n);
    EOS_ASSERT_OK(eos_relu_forward(rt, n, &X, &Y));
    EOS_ASSERT_OK(eos_relu_backward(rt, n, &R, &Y, &D));
    float *y = host(&Y, n), *d = host(&D, n);
    for (size_t i = 0; i < n; i++) {
        assert_float_equal(y[i], x[i] > 0 ? x[i] : 0, 0);
        assert_float_equal(d[i], x[i] > 0 ? r[i] : 0, 0);
    }
    EOS_ASSERT_OK(eos_add_inplace(rt, n, &X, &R));
    free(y);
    y = host(&X, n);
    for (size_t i = 0; i < n; i++) assert_float_equal(y[i], x[i] + r[i], 0);
    free(x); free(r); free(y); free(d);
    eos_tensor_free(&X); eos_tensor_free(&Y); eos_tensor_free(&R); eos_tensor_free(&D);

    /* option A: against the reference, and the backward is its exact adjoint */
    enum { N = 2, Ci = 4, H = 6, W = 5, Co = 8 };
    size_t nin = N * Ci * H * W, nout = N * Co * 3 * 3;
    float *xi = rnd(nin, -1, 1), *ro = rnd(nout, -1, 1), want[N * Co * 9];
    eos_tensor XI = dev(rt, xi, nin), YO = dev(rt, NULL, nout), RO = dev(rt, ro, nout), DXI = dev(rt, xi, nin);
    EOS_ASSERT_OK(eos_shortcut_a_forward(rt, N, Ci, H, W, Co, &XI, &YO));
    float *yo = host(&YO, nout);
    eos_ref_shortcut_a(N, Ci, H, W, Co, xi, want);
    expect_close("shortcut forward", yo, want, nout, 0, 0);
    EOS_ASSERT_OK(eos_shortcut_a_backward(rt, N, Ci, H, W, Co, &RO, &DXI, 0));
    float *dxi = host(&DXI, nin);
    assert_float_equal(dot(yo, ro, nout), dot(xi, dxi, nin), 1e-5);  /* <Sx, r> = <x, S^T r> */
    EOS_ASSERT_OK(eos_shortcut_a_backward(rt, N, Ci, H, W, Co, &RO, &DXI, 1));  /* accumulate: twice */
    float *dxi2 = host(&DXI, nin);
    for (size_t i = 0; i < nin; i++) assert_float_equal(dxi2[i], 2 * dxi[i], 1e-6);
    assert_int_equal(eos_shortcut_a_forward(rt, N, Ci, H, W, Ci + 1, &XI, &YO), EOS_ERR_INVALID_ARG);
    free(xi); free(ro); free(yo); free(dxi); free(dxi2);
    eos_tensor_free(&XI); eos_tensor_free(&YO); eos_tensor_free(&RO); eos_tensor_free(&DXI);
}

/* run in this order by tests/nn/test_layers.c */
const struct CMUnitTest eos_tests_activation[] = {
    cmocka_unit_test(test_relu_add_shortcut),
};
const size_t eos_tests_activation_n = sizeof eos_tests_activation / sizeof eos_tests_activation[0];
