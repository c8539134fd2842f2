/* The baselines' losses against PyTorch (tests/golden/make_loss_golden.py): weighted cross-entropy,
 * focal loss with and without class-balanced weights, and ASL single-label, loss and gradient, on
 * logits that include extreme rows (|logit| 50-95), so the kernels are numerically stable; plus the
 * class-balanced weights of Cui et al. */
#include "test_common.h"
#include "ref/gemm_ref.h"

#include <math.h>
#include <string.h>

typedef struct {
    char name[64];
    size_t numel;
    float *data;
} golden;

static golden g[32];
static size_t ng;

static void load(void) {
    FILE *f = fopen(EOS_GOLDEN_DIR "/losses_golden.bin", "rb");
    if (!f) fail_msg("cannot open losses_golden.bin");
    char magic[8];
    uint32_t hdr[2];
    assert_int_equal(fread(magic, 1, 8, f), 8);
    assert_memory_equal(magic, "EOSGOLD1", 8);
    assert_int_equal(fread(hdr, 4, 2, f), 2);
    ng = hdr[1];
    assert_true(ng <= 32);
    for (size_t i = 0; i < ng; i++) {
        uint32_t len, nd, dims[8];
        assert_int_equal(fread(&len, 4, 1, f), 1);
        assert_true(len < sizeof g[i].name);
        assert_int_equal(fread(g[i].name, 1, len, f), len);
        g[i].name[len] = 0;
        assert_int_equal(fread(&nd, 4, 1, f), 1);
        assert_int_equal(fread(dims, 4, nd, f), nd);
        g[i].numel = 1;
        for (uint32_t d = 0; d < nd; d++) g[i].numel *= dims[d];
        g[i].data = malloc(g[i].numel * sizeof(float));
        assert_int_equal(fread(g[i].data, 4, g[i].numel, f), g[i].numel);
    }
    fclose(f);
}

static const float *get(const char *name) {
    for (size_t i = 0; i < ng; i++)
        if (!strcmp(g[i].name, name)) return g[i].data;
    fail_msg("golden %s missing", name);
    return NULL;
}

static void check(eos_runtime_t rt, const char *loss_name, const char *key, int weighted) {
    enum { N = 24, K = 10 };
    const float *z = get("logits"), *yl = get("labels"), *w = get("cb_weights");
    int32_t y[N];
    for (int i = 0; i < N; i++) y[i] = (int32_t)yl[i];
    eos_loss_spec spec;
    EOS_ASSERT_OK(eos_loss_parse(loss_name, &spec));
    eos_tensor Z, DZ, LD = {0}, WD = {0}, PS = {0};
    size_t n = N * K;
    EOS_ASSERT_OK(eos_tensor_alloc(rt, &Z, 1, &n));
    EOS_ASSERT_OK(eos_tensor_alloc(rt, &DZ, 1, &n));
    EOS_ASSERT_OK(eos_tensor_upload(&Z, z, n));
    float loss, dz[N * K];
    EOS_ASSERT_OK(eos_loss_forward_backward(rt, &spec, N, K, &Z, y, weighted ? w : NULL, &LD, &WD, &PS, &DZ, &loss));
    EOS_ASSERT_OK(eos_tensor_download(&DZ, dz, n));
    char k1[64], k2[64];
    snprintf(k1, sizeof k1, "%s.loss", key);
    snprintf(k2, sizeof k2, "%s.grad", key);
    float want = get(k1)[0];
    if (!(fabsf(loss - want) <= 1e-5f * (1 + fabsf(want)))) fail_msg("%s loss %.7g, PyTorch %.7g", key, loss, want);
    size_t worst;
    double v = eos_ref_max_violation(dz, get(k2), n, 1e-6, 1e-4, &worst);
    if (v > 1.0) fail_msg("%s grad element %zu: %.7g, PyTorch %.7g", key, worst, dz[worst], get(k2)[worst]);
    for (size_t i = 0; i < n; i++) assert_true(isfinite(dz[i]));
    eos_tensor_free(&Z); eos_tensor_free(&DZ); eos_tensor_free(&LD); eos_tensor_free(&WD); eos_tensor_free(&PS);
}

static void test_losses_match_pytorch(void **state) {
    eos_runtime_t rt = *state;
    check(rt, "ce", "ce_w", 1);
    check(rt, "focal", "focal", 0);
    check(rt, "focal", "focal_w", 1);
    check(rt, "asl", "asl", 0);
    eos_loss_spec s;
    assert_int_equal(eos_loss_parse("hinge", &s), EOS_ERR_INVALID_ARG);
}

static void test_class_balanced_weights(void **state) {
    (void)state;
    size_t counts[10] = {5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50};
    float w[10];
    eos_class_balanced_weights(counts, 10, 0.9999, w);
    const float *want = get("cb_weights");
    double sum = 0;
    for (int c = 0; c < 10; c++) {
        assert_float_equal(w[c], want[c], 1e-5 * want[c]);
        sum += w[c];
    }
    assert_float_equal(sum, 10.0, 1e-5);
    assert_true(w[9] > w[0]);
}

int main(void) {
    load();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_losses_match_pytorch),
        cmocka_unit_test(test_class_balanced_weights),
    };
    int rc = cmocka_run_group_tests(tests, test_runtime_setup, test_runtime_teardown);
    for (size_t i = 0; i < ng; i++) free(g[i].data);
    return rc;
}
