/* Softmax cross-entropy (host/nn/loss.c) against the plain-C reference, loss and gradient. Part
 * of the test_layers program (tests/nn/test_layers.c); the other losses are test_losses. */
#include "layers_test_common.h"

static void test_softmax_ce(void **state) {
    eos_runtime_t rt = *state;
    enum { N = 6, K = 7 };
    float *z = rnd(N * K, -3, 3);
    z[0] = 80.0f;   /* extreme logits: exp would overflow without the max shift */
    z[9] = -95.0f;
    z[K * 2 + 3] = 60.0f;
    int32_t labels[N] = {0, 1, 3, 6, 2, 0};
    float weights[K] = {1.0f, 2.0f, 0.5f, 1.5f, 1.0f, 3.0f, 0.25f};
    eos_tensor Z = dev(rt, z, N * K), DZ = dev(rt, NULL, N * K), LD = {0}, WD = {0}, PS = {0};
    for (int weighted = 0; weighted < 2; weighted++) {
        float loss, want_dz[N * K];
        EOS_ASSERT_OK(eos_softmax_ce(rt, N, K, &Z, labels, weighted ? weights : NULL, &LD, &WD, &PS, &DZ, &loss));
        double want = eos_ref_softmax_ce(N, K, z, labels, weighted ? weights : NULL, want_dz);
        assert_true(isfinite(loss));
        assert_float_equal(loss, want, 1e-5 * (1 + fabs(want)));
        float *dz = host(&DZ, N * K);
        expect_close("softmax_ce dz", dz, want_dz, N * K, 1e-6, 1e-4);
        for (int t = 0; t < 8; t++) {  /* finite differences of the mean loss */
            size_t i = eos_rng_below(&g_rng, N * K);
            float h = 1e-3f, keep = z[i], tmp[N * K];
            z[i] = keep + h;
            double lp = eos_ref_softmax_ce(N, K, z, labels, weighted ? weights : NULL, tmp);
            z[i] = keep - h;
            double lm = eos_ref_softmax_ce(N, K, z, labels, weighted ? weights : NULL, tmp);
            z[i] = keep;
            assert_float_equal(dz[i], (lp - lm) / (2 * h), 1e-4);
        }
        free(dz);
    }
    int32_t bad[N] = {0, 1, 7, 0, 0, 0};
    float loss;
    assert_int_equal(eos_softmax_ce(rt, N, K, &Z, bad, NULL, &LD, &WD, &PS, &DZ, &loss), EOS_ERR_INVALID_ARG);
    eos_tensor_free(&Z); eos_tensor_free(&DZ); eos_tensor_free(&LD); eos_tensor_free(&WD); eos_tensor_free(&PS);
    free(z);
}

/* run in this order by tests/nn/test_layers.c */
const struct CMUnitTest eos_tests_loss[] = {
    cmocka_unit_test(test_softmax_ce),
};
const size_t eos_tests_loss_n = sizeof eos_tests_loss / sizeof eos_tests_loss[0];
