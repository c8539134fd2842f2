/* What the per-op files of the test_layers program share (tests/nn/test_<op>.c, run in one
 * group by tests/nn/test_layers.c): the one random generator, device round trips, the
 * |got - want| <= atol + rtol |want| check, and each file's list of tests. */
#ifndef EOS_LAYERS_TEST_COMMON_H
#define EOS_LAYERS_TEST_COMMON_H

#include "test_common.h"
#include "internal.h"
#include "ref/gemm_ref.h"
#include "ref/layers_ref.h"

#include <math.h>
#include <string.h>

/* One generator for the whole program, seeded once in main (tests/nn/test_layers.c): each test
 * draws on from where the one before it stopped, so the inputs depend on the order of the tests
 * in test_layers.c, not on which file a test sits in. */
extern eos_rng g_rng;

static inline float *rnd(size_t n, float lo, float hi) {
    float *v = malloc(n * sizeof *v);
    test_fill_uniform(&g_rng, v, n, lo, hi);
    return v;
}

static inline eos_tensor dev(eos_runtime_t rt, const float *host, size_t n) {
    eos_tensor t;
    EOS_ASSERT_OK(eos_tensor_alloc(rt, &t, 1, &n));
    if (host) EOS_ASSERT_OK(eos_tensor_upload(&t, host, n));
    else EOS_ASSERT_OK(eos_tensor_fill(&t, 0.0f));
    return t;
}

static inline float *host(const eos_tensor *t, size_t n) {
    float *v = malloc(t->numel * sizeof *v);
    EOS_ASSERT_OK(eos_tensor_download(t, v, t->numel));
    (void)n;
    return v;
}

static inline void expect_close(const char *what, const float *got, const float *want, size_t n, double atol,
                                double rtol) {
    size_t worst;
    double v = eos_ref_max_violation(got, want, n, atol, rtol, &worst);
    if (v > 1.0) fail_msg("%s: element %zu got %.7g want %.7g (%.2fx tolerance)", what, worst, got[worst], want[worst], v);
}

static inline double dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* ---- the convolution's cases (test_conv.c), which test_loop_cap (test_batchnorm.c) reuses ---- */

typedef struct { int N, C, H, W, K, R, stride, pad, bias; } conv_case;

void run_conv(eos_runtime_t rt, const conv_case *c, eos_workspace *ws);

/* the tiled convolution's variant outside test_conv2d_tiled: the device's choice, or in tiny mode
 * the 8x8 one (a 16x16 group of work-items takes Oclgrind about 12 s a launch) */
static inline int default_tiled_variant(void) { return test_tiny() ? 0 : -1; }

/* ---- each file's tests in the order they run; test_layers.c concatenates the lists ---------- */

extern const struct CMUnitTest eos_tests_conv[];
extern const size_t eos_tests_conv_n;
extern const struct CMUnitTest eos_tests_batchnorm[];  /* and the channel sum, test_loop_cap */
extern const size_t eos_tests_batchnorm_n;
extern const struct CMUnitTest eos_tests_activation[];
extern const size_t eos_tests_activation_n;
extern const struct CMUnitTest eos_tests_pool[];
extern const size_t eos_tests_pool_n;
extern const struct CMUnitTest eos_tests_linear[];
extern const size_t eos_tests_linear_n;
extern const struct CMUnitTest eos_tests_loss[];
extern const size_t eos_tests_loss_n;
extern const struct CMUnitTest eos_tests_optim[];
extern const size_t eos_tests_optim_n;

#endif
