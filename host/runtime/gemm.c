/* The one GEMM wrapper over CLBlast (row-major SGEMM and its strided-batched form).
 * It checks every extent against the tensors before calling CLBlast, so a wrong leading
 * dimension is a clear message instead of a silent overrun, and it applies the measured
 * CLBlast parameters for devices CLBlast's own database does not know (table below), and those
 * CLBlast's tuner measured on this device (benchmarks/clblast_tune.sh, kept in the kernel cache). */
#include "internal.h"

#include <clblast_c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef EOS_POCL_MIN_INDIRECT
#define EOS_POCL_MIN_INDIRECT 128
#endif

/* CLBlast parameters per device, for devices its own database does not know, measured with
 * clblast_tuner_xgemm and benchmarks/gemm_tuning.sh (see benchmarks/RESULTS.md). Matched by
 * platform name substring and device type; every matching row is applied.
 * EOS_CLBLAST_TUNED=0 turns the table off to compare with CLBlast's defaults. */
#define MAX_PARAMS 16
static const struct {
    const char *platform;
    eos_device_type type;
    const char *kernel;             /* CLBlast's kernel family name */
    size_t count;
    const char *names[MAX_PARAMS];
    size_t values[MAX_PARAMS];
} k_clblast_table[] = {
    /* PoCL on an AVX2 CPU: the indirect kernel at 81 GFLOP/s (512^3) against 7 with defaults */
    {"Portable Computing Language", EOS_DEVICE_CPU, "Xgemm", 16,
     {"GEMMK", "MWG", "NWG", "KWG", "MDIMC", "NDIMC", "MDIMA", "NDIMB", "KWI", "VWM", "VWN", "STRM", "STRN", "SA",
      "SB", "KREG"},
     {0, 64, 128, 32, 8, 8, 8, 32, 2, 8, 4, 0, 0, 0, 0, 1}},
    /* ... and that kernel only pays from this size on (cube root of M*N*K) */
    {"Portable Computing Language", EOS_DEVICE_CPU, "GemmRoutine", 1, {"XGEMM_MIN_INDIRECT_SIZE"}, {EOS_POCL_MIN_INDIRECT}},
};

/* Parameters measured on this very device by CLBlast's own tuner (benchmarks/clblast_tune.sh):
 * <kernel cache>/clblast-tuned.txt, lines "DEVICE KERNEL NAME=VALUE ...", DEVICE the device name
 * with '_' for spaces. Applied after the table above, so they win; bad lines are skipped. */
static void apply_tuned_file(eos_runtime_t rt) {
    if (!rt->cache_dir[0]) return;
    char path[1200], dev[300], line[4096];
    snprintf(path, sizeof path, "%s/clblast-tuned.txt", rt->cache_dir);
    FILE *f = eos__fopen_regular(path, "r");  /* a FIFO there must not hang the run */
    if (!f) return;
    snprintf(dev, sizeof dev, "%s", rt->dev.name);
    for (char *c = dev; *c; c++)
        if (*c == ' ') *c = '_';
    while (fgets(line, sizeof line, f)) {
        char *save = NULL, *tok = strtok_r(line, " \t\n", &save);
        if (!tok || strcmp(tok, dev)) continue;
        const char *kernel = strtok_r(NULL, " \t\n", &save);
        char *names[MAX_PARAMS * 2];
        size_t values[MAX_PARAMS * 2], n = 0;
        int bad = !kernel;
        while (!bad && (tok = strtok_r(NULL, " \t\n", &save)) != NULL) {
            char *eq = strchr(tok, '='), *end;
            if (!eq || n == MAX_PARAMS * 2) { bad = 1; break; }
            *eq = 0;
            unsigned long v = strtoul(eq + 1, &end, 10);
            if (*end || eq[1] == 0) { bad = 1; break; }
            names[n] = tok;
            values[n++] = v;
        }
        if (bad || n == 0) {
            eos__log(EOS_LOG_WARN, "%s: skipping a malformed line for %s", path, rt->dev.name);
            continue;
        }
        CLBlastStatusCode s = CLBlastOverrideParameters(rt->dev.device, kernel, CLBlastPrecisionSingle, n,
                                                        (const char **)names, values);
        if (s != CLBlastSuccess)
            eos__log(EOS_LOG_WARN, "CLBlast refused the %s parameters of %s for %s (%s)", kernel, path, rt->dev.name,
                     eos_status_str(s));
        else
            eos__log(EOS_LOG_INFO, "CLBlast %s parameters for %s from %s", kernel, rt->dev.name, path);
    }
    fclose(f);
}

static eos_status gemm_prepare(eos_runtime_t rt) {
    if (rt->gemm_ready) return EOS_OK;
    rt->gemm_ready = 1;
    const char *env = getenv("EOS_CLBLAST_TUNED");
    if (env && !strcmp(env, "0")) return EOS_OK;
    for (size_t i = 0; i < sizeof k_clblast_table / sizeof k_clblast_table[0]; i++) {
        if (k_clblast_table[i].type != rt->dev.type || !strstr(rt->dev.platform_name, k_clblast_table[i].platform))
            continue;
        CLBlastStatusCode s = CLBlastOverrideParameters(rt->dev.device, k_clblast_table[i].kernel, CLBlastPrecisionSingle,
                                                        k_clblast_table[i].count, (const char **)k_clblast_table[i].names,
                                                        k_clblast_table[i].values);
        if (s != CLBlastSuccess)
            eos__log(EOS_LOG_WARN, "CLBlast refused the tuned %s parameters for %s (%s); using its defaults",
                     k_clblast_table[i].kernel, rt->dev.name, eos_status_str(s));
    }
    apply_tuned_file(rt);  /* after the table: this device's own measurements win */
    return EOS_OK;
}

void eos__gemm_release(eos_runtime_t rt) {
    /* CLBlast caches programs per context without retaining it; drop them before the
     * context is released so a later context at the same address never meets them. */
    if (rt->gemm_ready) CLBlastClearCache();
    rt->gemm_ready = 0;
}

/* Check that a (rows, cols) matrix with leading dimension ld, repeated batch times at
 * stride, fits in t starting at off. */
static eos_status check_operand(const char *name, const eos_tensor *t, size_t rows, size_t cols,
                                size_t off, size_t ld, size_t stride, size_t batch) {
    if (!t || !t->buf) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "gemm: %s is not an allocated tensor", name);
    if (ld < cols)
        EOS_FAIL(EOS_ERR_INVALID_ARG, "row-major: the leading dimension is the stored row length",
                 "gemm: ld%s = %zu is smaller than %s's stored row length %zu", name, ld, name, cols);
    size_t last = off + (rows - 1) * ld + cols;  /* one past the last element of matrix 0 */
    size_t need = last + (batch - 1) * stride;
    if (need > t->numel) {
        char s[128];
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL,
                 "gemm: %s needs %zu floats (%zu x %zu, ld %zu, offset %zu, %zu batch(es) at stride %zu) "
                 "but tensor %s holds %zu", name, need, rows, cols, ld, off, batch, stride,
                 eos_tensor_shape_str(t, s, sizeof s), t->numel);
    }
    return EOS_OK;
}

static eos_status gemm_check(eos_runtime_t rt, eos_transpose ta, eos_transpose tb, size_t M, size_t N, size_t K,
                             const eos_tensor *A, size_t off_a, size_t lda, size_t stride_a,
                             const eos_tensor *B, size_t off_b, size_t ldb, size_t stride_b,
                             const eos_tensor *C, size_t off_c, size_t ldc, size_t stride_c, size_t batch) {
    if (!rt) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "gemm: runtime is NULL");
    if (K == 0) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "gemm: K = 0 (M = %zu, N = %zu); there is nothing to multiply", M, N);
    EOS_TRY(check_operand("A", A, ta ? K : M, ta ? M : K, off_a, lda, stride_a, batch));
    EOS_TRY(check_operand("B", B, tb ? N : K, tb ? K : N, off_b, ldb, stride_b, batch));
    EOS_TRY(check_operand("C", C, M, N, off_c, ldc, stride_c, batch));
    if ((A->rt != rt) || (B->rt != rt) || (C->rt != rt))
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "gemm: tensors belong to another runtime");
    return gemm_prepare(rt);
}

static eos_status clblast_status(CLBlastStatusCode s, const char *what, size_t M, size_t N, size_t K) {
    if (s == CLBlastSuccess) return EOS_OK;
    return eos__error_set((eos_status)s, __FILE__, __LINE__, what, eos__status_hint((eos_status)s),
                          "CLBlast %s failed for M=%zu N=%zu K=%zu: %s", what, M, N, K, eos_status_str(s));
}

eos_status eos_gemm(eos_runtime_t rt, eos_transpose ta, eos_transpose tb, size_t M, size_t N, size_t K,
                    float alpha, const eos_tensor *A, size_t off_a, size_t lda,
                    const eos_tensor *B, size_t off_b, size_t ldb, float beta,
                    eos_tensor *C, size_t off_c, size_t ldc) {
    if (M == 0 || N == 0) return EOS_OK;
    EOS_TRY(gemm_check(rt, ta, tb, M, N, K, A, off_a, lda, 0, B, off_b, ldb, 0, C, off_c, ldc, 0, 1));
    int prof = eos__profile_on() || rt->ev_prof;
    double t0 = prof ? (clFinish(rt->queue), eos__now()) : 0;
    CLBlastStatusCode s = CLBlastSgemm(CLBlastLayoutRowMajor, ta ? CLBlastTransposeYes : CLBlastTransposeNo,
                                       tb ? CLBlastTransposeYes : CLBlastTransposeNo, M, N, K, alpha,
                                       A->buf, off_a, lda, B->buf, off_b, ldb, beta, C->buf, off_c, ldc,
                                       &rt->queue, NULL);
    if (prof) {
        clFinish(rt->queue);
        static const char *names[4] = {"gemm NN (CLBlast)", "gemm NT (CLBlast)", "gemm TN (CLBlast)", "gemm TT (CLBlast)"};
        const char *name = names[(ta ? 2 : 0) + (tb ? 1 : 0)];
        if (rt->ev_prof) eos__prof_seconds(rt, name, eos__now() - t0);
        else eos__profile_add(name, eos__now() - t0);
    }
    return clblast_status(s, "CLBlastSgemm", M, N, K);
}

eos_status eos_gemm_batched(eos_runtime_t rt, eos_transpose ta, eos_transpose tb, size_t M, size_t N, size_t K,
                            float alpha, const eos_tensor *A, size_t off_a, size_t lda, size_t stride_a,
                            const eos_tensor *B, size_t off_b, size_t ldb, size_t stride_b, float beta,
                            eos_tensor *C, size_t off_c, size_t ldc, size_t stride_c, size_t batch) {
    if (M == 0 || N == 0 || batch == 0) return EOS_OK;
    EOS_TRY(gemm_check(rt, ta, tb, M, N, K, A, off_a, lda, stride_a, B, off_b, ldb, stride_b,
                       C, off_c, ldc, stride_c, batch));
    if (batch > 1 && stride_c < (M - 1) * ldc + N)
        EOS_FAIL(EOS_ERR_INVALID_ARG, "stride_c must be at least (M - 1) * ldc + N",
                 "gemm_batched: output matrices overlap (stride_c %zu, M %zu, N %zu, ldc %zu)", stride_c, M, N, ldc);
    int prof = eos__profile_on() || rt->ev_prof;
    double t0 = prof ? (clFinish(rt->queue), eos__now()) : 0;
    CLBlastStatusCode s = CLBlastSgemmStridedBatched(
        CLBlastLayoutRowMajor, ta ? CLBlastTransposeYes : CLBlastTransposeNo,
        tb ? CLBlastTransposeYes : CLBlastTransposeNo, M, N, K, alpha, A->buf, off_a, lda, stride_a,
        B->buf, off_b, ldb, stride_b, beta, C->buf, off_c, ldc, stride_c, batch, &rt->queue, NULL);
    if (prof) {
        clFinish(rt->queue);
        if (rt->ev_prof) eos__prof_seconds(rt, "gemm batched (CLBlast)", eos__now() - t0);
        else eos__profile_add("gemm batched (CLBlast)", eos__now() - t0);
    }
    return clblast_status(s, "CLBlastSgemmStridedBatched", M, N, K);
}
