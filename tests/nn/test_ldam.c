/* LDAM against PyTorch (tests/golden/make_ldam_golden.py): LDAM-DRW's normalised head and margin
 * loss, with and without class weights: the loss and the gradients with respect to the
 * features and to the head's weight. */
#include "test_common.h"
#include "ref/gemm_ref.h"

#include <math.h>
#include <string.h>

enum { N = 12, F = 64, K = 10 };

typedef struct {
    char name[64];
    size_t numel;
    float *data;
} golden;

static golden g[16];
static size_t ng;

static const float *get(const char *name) {
    if (!ng) {
        FILE *f = fopen(EOS_GOLDEN_DIR "/ldam_golden.bin", "rb");
        if (!f) fail_msg("cannot open ldam_golden.bin");
        char magic[8];
        uint32_t hdr[2];
        assert_int_equal(fread(magic, 1, 8, f), 8);
        assert_memory_equal(magic, "EOSGOLD1", 8);
        assert_int_equal(fread(hdr, 4, 2, f), 2);
        assert_true(hdr[1] <= 16);
        for (ng = 0; ng < hdr[1]; ng++) {
            uint32_t len, nd, dims[8];
            assert_int_equal(fread(&len, 4, 1, f), 1);
            assert_true(len < sizeof g[ng].name);
            assert_int_equal(fread(g[ng].name, 1, len, f), len);
            g[ng].name[len] = 0;
            assert_int_equal(fread(&nd, 4, 1, f), 1);
            assert_int_equal(fread(dims, 4, nd, f), nd);
            g[ng].numel = 1;
            for (uint32_t d = 0; d < nd; d++) g[ng].numel *= dims[d];
            g[ng].data = malloc(g[ng].numel * sizeof(float));
            assert_int_equal(fread(g[ng].data, 4, g[ng].numel, f), g[ng].numel);
        }
        fclose(f);
    }
    for (size_t i = 0; i < ng; i++)
        if (!strcmp(g[i].name, name)) return g[i].data;
    fail_msg("golden %s missing", name);
    return NULL;
}

static void expect(const char *what, const float *got, const float *want, size_t n, double atol) {
    size_t worst;
    if (eos_ref_max_violation(got, want, n, atol, 1e-3, &worst) > 1.0)
        fail_msg("%s element %zu: %.7g, PyTorch %.7g", what, worst, got[worst], want[worst]);
}

static void run(eos_runtime_t rt, const char *variant, int weighted) {
    const float *x = get("x"), *w = get("w"), *yl = get("labels"), *cnt = get("counts"), *cw = get("weights");
    int32_t y[N];
    size_t counts[K];
    for (int i = 0; i < N; i++) y[i] = (int32_t)yl[i];
    for (int c = 0; c < K; c++) counts[c] = (size_t)cnt[c];
    float margins[K];
    eos_ldam_margins(counts, K, 0.5f, margins);
    assert_float_equal(margins[K - 1], 0.5f, 1e-7);  /* the rarest class gets the largest margin */
    eos_tensor X = {0}, W = {0}, COS = {0}, DCOS = {0}, DX = {0}, DW = {0};
    eos_tensor xn = {0}, xnorm = {0}, wn = {0}, wnorm = {0}, sc = {0}, z = {0}, ld = {0}, md = {0}, wd = {0}, ps = {0}, dz = {0};
    EOS_ASSERT_OK(eos_tensor_reserve(rt, &X, N * F));
    EOS_ASSERT_OK(eos_tensor_reserve(rt, &W, F * K));
    EOS_ASSERT_OK(eos_tensor_reserve(rt, &COS, N * K));
    EOS_ASSERT_OK(eos_tensor_reserve(rt, &DCOS, N * K));
    EOS_ASSERT_OK(eos_tensor_reserve(rt, &DX, N * F));
    EOS_ASSERT_OK(eos_tensor_reserve(rt, &DW, F * K));
    EOS_ASSERT_OK(eos_tensor_upload(&X, x, N * F));
    EOS_ASSERT_OK(eos_tensor_upload(&W, w, F * K));
    float loss;
    EOS_ASSERT_OK(eos_normed_linear_forward(rt, N, F, K, &X, &W, &xn, &xnorm, &wn, &wnorm, &COS));
    EOS_ASSERT_OK(eos_ldam_loss(rt, N, K, &COS, y, margins, 30.0f, weighted ? cw : NULL, &z, &ld, &md, &wd, &ps, &dz, &DCOS, &loss));
    EOS_ASSERT_OK(eos_normed_linear_backward(rt, N, F, K, &xn, &xnorm, &wn, &wnorm, &DCOS, &DX, &DW, &sc));
    char key[64];
    snprintf(key, sizeof key, "%s.loss", variant);
    assert_float_equal(loss, get(key)[0], 1e-4 * (1 + fabs(get(key)[0])));
    float dx[N * F], dw[F * K];
    EOS_ASSERT_OK(eos_tensor_download(&DX, dx, N * F));
    EOS_ASSERT_OK(eos_tensor_download(&DW, dw, F * K));
    snprintf(key, sizeof key, "%s.dx", variant);
    expect(key, dx, get(key), N * F, 1e-5);
    snprintf(key, sizeof key, "%s.dw", variant);
    expect(key, dw, get(key), F * K, 1e-5);
    eos_tensor *all[] = {&X, &W, &COS, &DCOS, &DX, &DW, &xn, &xnorm, &wn, &wnorm, &sc, &z, &ld, &md, &wd, &ps, &dz};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) eos_tensor_free(all[i]);
}

static void test_ldam_matches_pytorch(void **state) {
    run(*state, "plain", 0);
    run(*state, "weighted", 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_ldam_matches_pytorch)};
    int rc = cmocka_run_group_tests(tests, test_runtime_setup, test_runtime_teardown);
    for (size_t i = 0; i < ng; i++) free(g[i].data);
    return rc;
}
