/* GEMM benchmark: for each shape, validate eos_gemm against the plain-C reference on sampled
 * rows, then time it (median of --reps runs after one warm-up) and print one line per shape.
 *   bench_gemm [--device SPEC] [--reps N] [MxNxK ...]
 * Compare CLBlast's defaults with the tuned table: run with EOS_CLBLAST_TUNED=0 and without
 * (benchmarks/gemm_tuning.sh alternates the two). */
#include "eos/eos.h"
#include "ref/gemm_ref.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int bench(eos_runtime_t rt, size_t M, size_t N, size_t K, int reps) {
    eos_rng r;
    eos_rng_seed(&r, 5, 5);
    float *a = malloc(M * K * sizeof *a), *b = malloc(K * N * sizeof *b), *c = malloc(M * N * sizeof *c);
    for (size_t i = 0; i < M * K; i++) a[i] = eos_rng_uniform(&r) - 0.5f;
    for (size_t i = 0; i < K * N; i++) b[i] = eos_rng_uniform(&r) - 0.5f;
    eos_tensor A, B, C;
    if (eos_tensor_alloc(rt, &A, 2, (size_t[]){M, K}) || eos_tensor_alloc(rt, &B, 2, (size_t[]){K, N}) ||
        eos_tensor_alloc(rt, &C, 2, (size_t[]){M, N}) || eos_tensor_upload(&A, a, M * K) ||
        eos_tensor_upload(&B, b, K * N)) {
        fprintf(stderr, "bench_gemm: %s\n", eos_last_error_message());
        return 1;
    }
    /* validate: the first call (which also compiles CLBlast's kernels) against the reference
     * on up to 8 rows */
    if (eos_gemm(rt, 0, 0, M, N, K, 1.0f, &A, 0, K, &B, 0, N, 0.0f, &C, 0, N) ||
        eos_tensor_download(&C, c, M * N)) {
        fprintf(stderr, "bench_gemm: %s\n", eos_last_error_message());
        return 1;
    }
    size_t rows = M < 8 ? M : 8;
    float *want = malloc(N * sizeof *want);
    for (size_t s = 0; s < rows; s++) {
        size_t i = s * (M / rows);
        eos_ref_gemm(0, 0, 1, N, K, 1.0f, a + i * K, K, b, N, 0.0f, want, N);
        size_t worst;
        if (eos_ref_max_violation(c + i * N, want, N, 1e-6 * (double)K, 1e-4, &worst) > 1.0) {
            fprintf(stderr, "bench_gemm: %zux%zux%zu row %zu col %zu: got %g, reference %g\n", M, N, K, i, worst,
                    c[i * N + worst], want[worst]);
            return 1;
        }
    }
    double *t = malloc((size_t)reps * sizeof *t);
    for (int i = 0; i < reps; i++) {
        double t0 = now();
        eos_gemm(rt, 0, 0, M, N, K, 1.0f, &A, 0, K, &B, 0, N, 0.0f, &C, 0, N);
        eos_runtime_finish(rt);
        t[i] = now() - t0;
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    double med = t[reps / 2];
    const char *tuned = getenv("EOS_CLBLAST_TUNED");
    printf("gemm %5zu x %6zu x %4zu  median %8.3f ms  min %8.3f ms  %6.1f GFLOP/s  clblast=%s  device=%s\n", M, N, K,
           1e3 * med, 1e3 * t[0], 2e-9 * (double)M * N * K / med, tuned && !strcmp(tuned, "0") ? "default" : "tuned",
           eos_runtime_device(rt)->name);
    fflush(stdout);
    eos_tensor_free(&A);
    eos_tensor_free(&B);
    eos_tensor_free(&C);
    free(a); free(b); free(c); free(want); free(t);
    return 0;
}

int main(int argc, char **argv) {
    const char *spec = NULL;
    int reps = 11, nshapes = 0;
    size_t shapes[32][3];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--device") && i + 1 < argc) spec = argv[++i];
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (nshapes < 32 && sscanf(argv[i], "%zux%zux%zu", &shapes[nshapes][0], &shapes[nshapes][1],
                                        &shapes[nshapes][2]) == 3) nshapes++;
        else {
            fprintf(stderr, "usage: bench_gemm [--device SPEC] [--reps N] [MxNxK ...]\n");
            return 2;
        }
    }
    if (reps < 1) reps = 1;
    if (!nshapes) {
        /* 512^3, and ResNet-32's im2col GEMMs at batch 128 (out channels x batch*H*W x in*9) */
        static const size_t def[][3] = {{512, 512, 512}, {16, 131072, 144}, {32, 32768, 288}, {64, 8192, 576}};
        nshapes = 4;
        memcpy(shapes, def, sizeof def);
    }
    eos_runtime_t rt;
    if (eos_runtime_init(&rt, spec) != EOS_OK) {
        fprintf(stderr, "bench_gemm: %s\n", eos_last_error_message());
        return 1;
    }
    int rc = 0;
    for (int s = 0; s < nshapes && !rc; s++) rc = bench(rt, shapes[s][0], shapes[s][1], shapes[s][2], reps);
    eos_runtime_free(rt);
    return rc;
}
