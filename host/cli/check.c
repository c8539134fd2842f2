/* `eos check`: open a device, build every kernel program (through the cache), then compare
 * the fill kernel and the CLBlast GEMM wrapper with plain-C references on a few shapes.
 * It is the quick "does this device work" command, and the cold/warm start measurement. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void usage_check(FILE *out) {
    fprintf(out,
            "usage: eos check [--device SPEC]\n\n"
            "Builds every kernel program for the device (or loads it from the kernel cache), then\n"
            "checks the fill kernel and the GEMM against plain-C references and prints the times,\n"
            "then measures the device's multiply-add peak (GFLOP/s, its output checked first).\n"
            "It also says whether the GPU-shaped kernels and launch shapes are in use (on a GPU, or\n"
            "anywhere with EOS_GPU_PATHS=1).\n"
            "Exit status 0 when every check passes, 1 otherwise.\n\n"
            "options:\n"
            "  --device SPEC   index from `eos devices`, cpu, gpu or part of a device name\n"
            "                  (default: $EOS_DEVICE, else the first GPU, else the first CPU)\n\n"
            "example:\n  eos check --device cpu\n");
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The yardstick of this check, written here rather than linked from tests/ref/ so that the
 * installed binary carries none of the test tree (issue 17): the naive row-major triple loop in
 * double, C = alpha op(A) op(B) + beta C, as tests/ref/gemm_ref.c does for the tests. */
static void reference_gemm(int ta, int tb, size_t M, size_t N, size_t K, float alpha, const float *A, size_t lda,
                           const float *B, size_t ldb, float beta, float *C, size_t ldc) {
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
            double acc = 0.0;
            for (size_t k = 0; k < K; k++)
                acc += (double)(ta ? A[k * lda + i] : A[i * lda + k]) * (tb ? B[j * ldb + k] : B[k * ldb + j]);
            C[i * ldc + j] = (float)(alpha * acc + (double)beta * C[i * ldc + j]);
        }
}

/* The largest |got - want| / (atol + rtol |want|) and where; NaN counts as infinitely bad. */
static double max_violation(const float *got, const float *want, size_t n, double atol, double rtol, size_t *worst) {
    double m = 0.0;
    *worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        double v = d == 0.0 ? 0.0 : d / (atol + rtol * fabs((double)want[i]));
        if (isnan(v)) { *worst = i; return INFINITY; }
        if (v > m) { m = v; *worst = i; }
    }
    return m;
}

typedef struct {
    size_t M, N, K;
    int ta, tb;
} shape;

/* One GEMM against the reference; returns 0 on agreement. */
static int check_gemm(eos_runtime_t rt, shape s, eos_rng *rng) {
    size_t na = s.M * s.K, nb = s.K * s.N, nc = s.M * s.N;
    float *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b);
    float *c = malloc(nc * sizeof *c), *want = malloc(nc * sizeof *want);
    eos_tensor A = {0}, B = {0}, C = {0};
    int rc = 1;
    if (!a || !b || !c || !want) {
        fprintf(stderr, "eos check: out of host memory\n");
        goto done;
    }
    for (size_t i = 0; i < na; i++) a[i] = eos_rng_uniform(rng) * 2 - 1;
    for (size_t i = 0; i < nb; i++) b[i] = eos_rng_uniform(rng) * 2 - 1;
    for (size_t i = 0; i < nc; i++) c[i] = want[i] = eos_rng_uniform(rng) * 2 - 1;
    size_t lda = s.ta ? s.M : s.K, ldb = s.tb ? s.K : s.N;
    if (eos_tensor_alloc(rt, &A, 1, &na) || eos_tensor_alloc(rt, &B, 1, &nb) || eos_tensor_alloc(rt, &C, 1, &nc) ||
        eos_tensor_upload(&A, a, na) || eos_tensor_upload(&B, b, nb) || eos_tensor_upload(&C, c, nc)) {
        rc = cli_fail("gemm check: preparing operands");
        goto done;
    }
    double t0 = now();
    if (eos_gemm(rt, s.ta, s.tb, s.M, s.N, s.K, 0.5f, &A, 0, lda, &B, 0, ldb, 0.25f, &C, 0, s.N) ||
        eos_runtime_finish(rt)) {
        rc = cli_fail("gemm check");
        goto done;
    }
    double t1 = now();
    /* a second call, now that CLBlast's kernels are compiled, gives the speed */
    if (eos_tensor_upload(&C, c, nc) != EOS_OK) { rc = cli_fail("gemm check: re-uploading C"); goto done; }
    double t2 = now();
    if (eos_gemm(rt, s.ta, s.tb, s.M, s.N, s.K, 0.5f, &A, 0, lda, &B, 0, ldb, 0.25f, &C, 0, s.N) ||
        eos_runtime_finish(rt) || eos_tensor_download(&C, c, nc)) {
        rc = cli_fail("gemm check");
        goto done;
    }
    double t3 = now();
    reference_gemm(s.ta, s.tb, s.M, s.N, s.K, 0.5f, a, lda, b, ldb, 0.25f, want, s.N);
    size_t worst;
    double v = max_violation(c, want, nc, 1e-5, 1e-4 * (double)s.K, &worst);
    rc = v <= 1.0 ? 0 : 1;
    printf("  gemm %c%c %5zu x %5zu x %4zu  first call %7.1f ms  then %7.2f ms (%6.1f GFLOP/s)  %s\n",
           s.ta ? 'T' : 'N', s.tb ? 'T' : 'N', s.M, s.N, s.K, 1e3 * (t1 - t0), 1e3 * (t3 - t2),
           2e-9 * (double)s.M * s.N * s.K / (t3 - t2), rc ? "MISMATCH" : "ok");
    if (rc)
        fprintf(stderr, "eos check: gemm %zux%zux%zu element %zu: got %g, reference %g\n", s.M, s.N, s.K, worst,
                c[worst], want[worst]);
done:
    eos_tensor_free(&A);
    eos_tensor_free(&B);
    eos_tensor_free(&C);
    free(a); free(b); free(c); free(want);
    return rc;
}

int cmd_check(int argc, char **argv) {
    static const cli_command self = {"check", "", NULL, usage_check};
    const char *spec = NULL;
    for (int i = 1; i < argc; i++) {
        int r = cli_flag_value(argc, argv, &i, "--device", &spec);
        if (r < 0) return cli_usage_error(&self, "--device needs a value");
        if (r == 0) return cli_usage_error(&self, "unknown option '%s'", argv[i]);
    }
    double t0 = now();
    eos_runtime_t rt;
    if (eos_runtime_init(&rt, spec) != EOS_OK) return cli_fail("opening the device");
    const eos_device_info *d = eos_runtime_device(rt);
    double t1 = now();
    printf("device: %s (%s, %s, driver %s)\n", d->name, eos_device_type_str(d->type), d->platform_name,
           d->driver_version);
    const char *cache = eos_runtime_cache_dir(rt);
    printf("kernel cache: %s\n", cache[0] ? cache : "off");
    printf("GPU-shaped paths: %s\n", !eos_runtime_gpu_paths(rt)        ? "off (EOS_GPU_PATHS=1 forces them)"
                                      : d->type == EOS_DEVICE_GPU ? "on (a GPU)"
                                                                  : "on (EOS_GPU_PATHS=1)");
    if (eos_runtime_build_all(rt) != EOS_OK) {
        int rc = cli_fail("building kernels");
        eos_runtime_free(rt);
        return rc;
    }
    double t2 = now();
    eos_runtime_stats st = eos_runtime_get_stats(rt);
    printf("kernels: %zu program(s) ready in %.3f s (built %u, from cache %u, cache entries rejected %u)\n",
           eos_program_count(), t2 - t1, st.programs_built, st.cache_hits, st.cache_rejected);

    int failures = 0;
    /* fill */
    {
        size_t n = 1000;
        eos_tensor t;
        float host[1000];
        if (eos_tensor_alloc(rt, &t, 1, &n) || eos_tensor_fill(&t, 3.5f) || eos_tensor_download(&t, host, n)) {
            failures++;
            cli_fail("fill check");
        } else {
            int bad = 0;
            for (size_t i = 0; i < n; i++) bad += host[i] != 3.5f;
            printf("  fill %zu floats  %s\n", n, bad ? "MISMATCH" : "ok");
            failures += bad != 0;
        }
        eos_tensor_free(&t);
    }
    static const shape shapes[] = {
        {1, 1, 1, 0, 0}, {7, 13, 5, 0, 1}, {33, 17, 65, 1, 0}, {64, 64, 64, 1, 1}, {128, 4096, 576, 0, 0},
    };
    eos_rng rng;
    eos_rng_seed(&rng, 1, 1);
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) failures += check_gemm(rt, shapes[i], &rng);
    /* the multiply-add peak, short (3 launches of ~5 ms per kernel): the yardstick of `eos bench
     * layers`' "% of peak"; `eos bench peak` measures it longer */
    {
        eos_peak pk;
        double p0 = now();
        if (eos_peak_measure(rt, 3, 0.005, &pk) != EOS_OK) {
            failures++;
            cli_fail("peak check");
        } else {
            printf("  peak %.1f GFLOP/s (%s FMA, median of %d, checked; %.2f s)  ok\n", pk.gflops, pk.variant, pk.runs,
                   now() - p0);
        }
    }
    st = eos_runtime_get_stats(rt);
    double t3 = now();
    printf("device memory: %zu bytes held now, %.1f MiB at most\n", st.bytes_allocated,
           st.bytes_peak / (1024.0 * 1024.0));
    printf("total %.2f s (device open %.2f s, kernels %.2f s, checks %.2f s)\n", t3 - t0, t1 - t0, t2 - t1, t3 - t2);
    eos_runtime_free(rt);
    if (failures) {
        fprintf(stderr, "eos check: %d check(s) FAILED\n", failures);
        return 1;
    }
    printf("check passed\n");
    return 0;
}
