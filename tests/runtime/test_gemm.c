/* The GEMM wrapper against the plain-C reference (tests/ref/gemm_ref.c): tiny, odd, thin and
 * large shapes, every transpose combination, alpha/beta, padded leading dimensions, buffer
 * offsets, the strided-batched form, and the errors for operands that do not fit. */
#include "test_common.h"
#include "ref/gemm_ref.h"

#include <math.h>
#include <string.h>

typedef struct {
    size_t M, N, K;
    int ta, tb;
    float alpha, beta;
    size_t pad;   /* extra elements per stored row (ld = row length + pad) */
    size_t off;   /* elements before each operand */
    size_t batch; /* 1: eos_gemm; more: eos_gemm_batched */
} gemm_case;

/* float32 accumulation over K terms of size <= 1: error grows about like K * eps */
static double atol_for(size_t K) { return 1e-6 * (double)K + 1e-6; }

static void run_case(eos_runtime_t rt, const gemm_case *c, eos_rng *r) {
    size_t ra = c->ta ? c->K : c->M, ca = c->ta ? c->M : c->K;  /* stored rows, cols */
    size_t rb = c->tb ? c->N : c->K, cb = c->tb ? c->K : c->N;
    size_t lda = ca + c->pad, ldb = cb + c->pad, ldc = c->N + c->pad;
    size_t sa = ra * lda + 3, sb = rb * ldb + 5, sc = c->M * ldc + 1;  /* strides with gaps */
    size_t na = c->off + c->batch * sa, nb = c->off + c->batch * sb, nc = c->off + c->batch * sc;
    float *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b);
    float *cc = malloc(nc * sizeof *cc), *want = malloc(nc * sizeof *want);
    test_fill_uniform(r, a, na, -1, 1);
    test_fill_uniform(r, b, nb, -1, 1);
    test_fill_uniform(r, cc, nc, -1, 1);
    memcpy(want, cc, nc * sizeof *cc);
    eos_tensor A, B, C;
    EOS_ASSERT_OK(eos_tensor_alloc(rt, &A, 1, &na));
    EOS_ASSERT_OK(eos_tensor_alloc(rt, &B, 1, &nb));
    EOS_ASSERT_OK(eos_tensor_alloc(rt, &C, 1, &nc));
    EOS_ASSERT_OK(eos_tensor_upload(&A, a, na));
    EOS_ASSERT_OK(eos_tensor_upload(&B, b, nb));
    EOS_ASSERT_OK(eos_tensor_upload(&C, cc, nc));
    if (c->batch == 1)
        EOS_ASSERT_OK(eos_gemm(rt, c->ta, c->tb, c->M, c->N, c->K, c->alpha, &A, c->off, lda, &B, c->off, ldb,
                               c->beta, &C, c->off, ldc));
    else
        EOS_ASSERT_OK(eos_gemm_batched(rt, c->ta, c->tb, c->M, c->N, c->K, c->alpha, &A, c->off, lda, sa, &B,
                                       c->off, ldb, sb, c->beta, &C, c->off, ldc, sc, c->batch));
    EOS_ASSERT_OK(eos_tensor_download(&C, cc, nc));
    for (size_t i = 0; i < c->batch; i++)
        eos_ref_gemm(c->ta, c->tb, c->M, c->N, c->K, c->alpha, a + c->off + i * sa, lda, b + c->off + i * sb, ldb,
                     c->beta, want + c->off + i * sc, ldc);
    /* every element is compared, the padding and gaps too: they must be untouched */
    size_t worst;
    double v = eos_ref_max_violation(cc, want, nc, atol_for(c->K), 1e-4, &worst);
    if (v > 1.0)
        fail_msg("gemm %c%c M=%zu N=%zu K=%zu alpha=%g beta=%g pad=%zu off=%zu batch=%zu: element %zu got %.7g "
                 "want %.7g (%.2fx the tolerance)",
                 c->ta ? 'T' : 'N', c->tb ? 'T' : 'N', c->M, c->N, c->K, c->alpha, c->beta, c->pad, c->off, c->batch,
                 worst, cc[worst], want[worst], v);
    eos_tensor_free(&A);
    eos_tensor_free(&B);
    eos_tensor_free(&C);
    free(a); free(b); free(cc); free(want);
}

static void test_shapes_against_reference(void **state) {
    eos_runtime_t rt = *state;
    static const gemm_case cases[] = {
        /* M     N    K  ta tb alpha  beta  pad off batch */
        {1, 1, 1, 0, 0, 1.0f, 0.0f, 0, 0, 1},
        {7, 13, 5, 0, 0, 1.0f, 0.0f, 0, 0, 1},
        {7, 13, 5, 0, 1, 1.0f, 0.0f, 0, 0, 1},
        {7, 13, 5, 1, 0, 1.0f, 0.0f, 0, 0, 1},
        {7, 13, 5, 1, 1, 1.0f, 0.0f, 0, 0, 1},
        {1, 300, 17, 0, 1, 2.0f, 1.0f, 0, 0, 1},   /* a row vector times a matrix */
        {300, 1, 17, 1, 0, 1.0f, -0.5f, 0, 0, 1},  /* a matrix times a column */
        {33, 17, 65, 1, 0, 0.5f, 0.25f, 3, 7, 1},  /* padded ld and offsets */
        {64, 64, 64, 1, 1, -1.0f, 1.0f, 0, 0, 1},
        {10, 64, 128, 0, 1, 1.0f, 0.0f, 0, 0, 1},  /* a classifier head: (B, 64) x (64, C)^T style */
        {16, 1024, 144, 0, 0, 1.0f, 0.0f, 0, 0, 1},/* a thin im2col GEMM of ResNet-s's first stage */
        {200, 3, 7, 1, 1, 1.0f, 2.0f, 1, 2, 1},
        {128, 4096, 576, 0, 0, 1.0f, 0.0f, 0, 0, 1},/* large: 64 channels x 4096 pixels x 64*9 */
    };
    eos_rng r;
    eos_rng_seed(&r, 2024, 1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* tiny mode (Oclgrind): up to 64^3 multiply-adds, every layout and tail still covered */
        if (test_tiny() && (double)cases[i].M * cases[i].N * cases[i].K > 64.0 * 64 * 64) continue;
        run_case(rt, &cases[i], &r);
    }
}

/* Parameters from clblast-tuned.txt in the kernel cache (benchmarks/clblast_tune.sh) are applied
 * when a runtime opens the device: a line for this device (CLBlast's defaults for a CPU, spelled
 * out) and malformed ones that must be skipped; the GEMM stays right either way. */
static void test_tuned_file(void **state) {
    eos_runtime_t rt0 = *state;
    const char *dir = eos_runtime_cache_dir(rt0);
    if (!dir[0]) skip();
    char path[1200], dev[300];
    snprintf(path, sizeof path, "%s/clblast-tuned.txt", dir);
    snprintf(dev, sizeof dev, "%s", eos_runtime_device(rt0)->name);
    for (char *c = dev; *c; c++) if (*c == ' ') *c = '_';
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "%s Xgemm GEMMK=0 KREG=1 KWG=16 KWI=2 MDIMA=8 MDIMC=8 MWG=32 NDIMB=8 NDIMC=8 NWG=32 SA=0 SB=0 STRM=0 "
               "STRN=0 VWM=1 VWN=1\n", dev);
    fprintf(f, "%s Xgemm MWG=lots\n%s\nsome_other_device Xgemm MWG=64\n", dev, dev);
    fclose(f);
    eos_runtime_t rt;
    EOS_ASSERT_OK(eos_runtime_init(&rt, eos_runtime_device(rt0)->name));
    static const gemm_case cases[] = {
        {64, 64, 64, 1, 1, -1.0f, 1.0f, 0, 0, 1},
        {128, 256, 160, 0, 0, 1.0f, 0.0f, 0, 0, 1},  /* 128^3 and up take the indirect Xgemm kernel */
    };
    eos_rng r;
    eos_rng_seed(&r, 77, 1);
    for (size_t i = 0; i < (test_tiny() ? 1 : sizeof cases / sizeof cases[0]); i++) run_case(rt, &cases[i], &r);
    eos_runtime_free(rt);
    remove(path);
}

static void test_batched_against_reference(void **state) {
    eos_runtime_t rt = *state;
    static const gemm_case cases[] = {
        {5, 7, 9, 0, 0, 1.0f, 0.0f, 0, 0, 3},
        {5, 7, 9, 0, 1, 1.0f, 0.5f, 2, 4, 3},
        {5, 7, 9, 1, 0, -2.0f, 0.0f, 0, 1, 4},
        {5, 7, 9, 1, 1, 1.0f, 1.0f, 1, 0, 2},
        {32, 64, 27, 0, 0, 1.0f, 0.0f, 0, 0, 8},
        {1, 1, 1, 0, 0, 1.0f, 0.0f, 0, 0, 5},
    };
    eos_rng r;
    eos_rng_seed(&r, 99, 2);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(rt, &cases[i], &r);
}

static void test_beta_zero_ignores_nan(void **state) {
    /* BLAS semantics: with beta = 0, C's old contents are not read, so NaN there is harmless */
    eos_runtime_t rt = *state;
    size_t n = 4 * 4;
    float a[16], b[16], c[16];
    for (int i = 0; i < 16; i++) { a[i] = (float)(i % 5); b[i] = 1.0f; c[i] = NAN; }
    eos_tensor A, B, C;
    EOS_ASSERT_OK(eos_tensor_alloc(rt, &A, 2, (size_t[]){4, 4}));
    EOS_ASSERT_OK(eos_tensor_alloc(rt, &B, 2, (size_t[]){4, 4}));
    EOS_ASSERT_OK(eos_tensor_alloc(rt, &C, 2, (size_t[]){4, 4}));
    EOS_ASSERT_OK(eos_tensor_upload(&A, a, n));
    EOS_ASSERT_OK(eos_tensor_upload(&B, b, n));
    EOS_ASSERT_OK(eos_tensor_upload(&C, c, n));
    EOS_ASSERT_OK(eos_gemm(rt, EOS_NO_TRANS, EOS_NO_TRANS, 4, 4, 4, 1.0f, &A, 0, 4, &B, 0, 4, 0.0f, &C, 0, 4));
    EOS_ASSERT_OK(eos_tensor_download(&C, c, n));
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            float want = a[4 * i] + a[4 * i + 1] + a[4 * i + 2] + a[4 * i + 3];
            assert_float_equal(c[4 * i + j], want, 1e-6);
        }
    eos_tensor_free(&A);
    eos_tensor_free(&B);
    eos_tensor_free(&C);
}

static void test_errors(void **state) {
    eos_runtime_t rt = *state;
    eos_tensor A, B, C;
    EOS_ASSERT_OK(eos_tensor_alloc(rt, &A, 2, (size_t[]){8, 6}));
    EOS_ASSERT_OK(eos_tensor_alloc(rt, &B, 2, (size_t[]){6, 5}));
    EOS_ASSERT_OK(eos_tensor_alloc(rt, &C, 2, (size_t[]){8, 5}));
    /* lda smaller than A's row */
    assert_int_equal(eos_gemm(rt, 0, 0, 8, 5, 6, 1, &A, 0, 5, &B, 0, 5, 0, &C, 0, 5), EOS_ERR_INVALID_ARG);
    assert_non_null(strstr(eos_last_error()->message, "ldA = 5"));
    /* A too small for the shape asked for */
    assert_int_equal(eos_gemm(rt, 0, 0, 9, 5, 6, 1, &A, 0, 6, &B, 0, 5, 0, &C, 0, 5), EOS_ERR_INVALID_ARG);
    assert_non_null(strstr(eos_last_error()->message, "A needs 54 floats"));
    assert_non_null(strstr(eos_last_error()->message, "(8, 6)"));
    /* an offset that runs past the end of C */
    assert_int_equal(eos_gemm(rt, 0, 0, 8, 5, 6, 1, &A, 0, 6, &B, 0, 5, 0, &C, 1, 5), EOS_ERR_INVALID_ARG);
    assert_non_null(strstr(eos_last_error()->message, "C needs 41 floats"));
    /* transposed B stored (N, K) = (5, 6) does not fit a (6, 5) tensor with ld 5 */
    assert_int_equal(eos_gemm(rt, 0, 1, 8, 5, 6, 1, &A, 0, 6, &B, 0, 5, 0, &C, 0, 5), EOS_ERR_INVALID_ARG);
    /* K = 0 */
    assert_int_equal(eos_gemm(rt, 0, 0, 8, 5, 0, 1, &A, 0, 6, &B, 0, 5, 0, &C, 0, 5), EOS_ERR_INVALID_ARG);
    /* M = 0 is a no-op */
    EOS_ASSERT_OK(eos_gemm(rt, 0, 0, 0, 5, 6, 1, &A, 0, 6, &B, 0, 5, 0, &C, 0, 5));
    /* batches that run past the end */
    assert_int_equal(eos_gemm_batched(rt, 0, 0, 4, 5, 6, 1, &A, 0, 6, 24, &B, 0, 5, 0, 0, &C, 0, 5, 20, 3),
                     EOS_ERR_INVALID_ARG);
    /* overlapping outputs */
    assert_int_equal(eos_gemm_batched(rt, 0, 0, 4, 5, 6, 1, &A, 0, 6, 24, &B, 0, 5, 0, 0, &C, 0, 5, 10, 2),
                     EOS_ERR_INVALID_ARG);
    assert_non_null(strstr(eos_last_error()->message, "overlap"));
    eos_tensor empty = {0};
    assert_int_equal(eos_gemm(rt, 0, 0, 8, 5, 6, 1, &empty, 0, 6, &B, 0, 5, 0, &C, 0, 5), EOS_ERR_INVALID_ARG);
    eos_tensor_free(&A);
    eos_tensor_free(&B);
    eos_tensor_free(&C);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shapes_against_reference),
        cmocka_unit_test(test_batched_against_reference),
        cmocka_unit_test(test_beta_zero_ignores_nan),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_tuned_file),
    };
    return cmocka_run_group_tests(tests, test_runtime_setup, test_runtime_teardown);
}
