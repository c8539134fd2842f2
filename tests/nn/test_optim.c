/* The SGD step with momentum and weight decay (host/nn/optim.c) against a plain-C update.
 * Part of the test_layers program (tests/nn/test_layers.c). */
#include "layers_test_common.h"

static void test_sgd(void **state) {
    eos_runtime_t rt = *state;
    size_t n = 257;
    float *p = rnd(n, -1, 1), *g = rnd(n, -1, 1), buf[257] = {0}, want[257];
    memcpy(want, p, sizeof want);
    eos_tensor P = dev(rt, p, n), G = dev(rt, g, n), B = dev(rt, NULL, n);
    for (int step = 0; step < 3; step++) {
        float lr = 0.1f / (float)(step + 1);
        EOS_ASSERT_OK(eos_sgd_step(rt, n, &P, &G, &B, lr, 0.9f, 2e-4f));
        for (size_t i = 0; i < n; i++) {  /* torch.optim.SGD: d = g + wd p; buf = m buf + d; p -= lr buf */
            float d = g[i] + 2e-4f * want[i];
            buf[i] = step ? 0.9f * buf[i] + d : d;
            want[i] -= lr * buf[i];
        }
    }
    float *got = host(&P, n);
    expect_close("sgd", got, want, n, 1e-6, 1e-5);
    eos_tensor_free(&P); eos_tensor_free(&G); eos_tensor_free(&B);
    free(p); free(g); free(got);
}

/* run in this order by tests/nn/test_layers.c */
const struct CMUnitTest eos_tests_optim[] = {
    cmocka_unit_test(test_sgd),
};
const size_t eos_tests_optim_n = sizeof eos_tests_optim / sizeof eos_tests_optim[0];
