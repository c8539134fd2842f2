/* kNN benchmark: k nearest neighbours of every row of an embedding CSV among all the others
 * (what EOS needs), validated on sampled rows against a brute-force host search, then timed
 * (median of --reps), one line per measurement.
 *   bench_knn FILE.csv [--k 10] [--reps 5] [--device SPEC] */
#include "eos/eos.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    const char *file = NULL, *spec = NULL;
    int k = 10, reps = 5;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--k") && i + 1 < argc) k = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--device") && i + 1 < argc) spec = argv[++i];
        else if (!file) file = argv[i];
        else { fprintf(stderr, "usage: bench_knn FILE.csv [--k 10] [--reps 5] [--device SPEC]\n"); return 2; }
    }
    if (!file || reps < 1) { fprintf(stderr, "usage: bench_knn FILE.csv [--k 10] [--reps 5] [--device SPEC]\n"); return 2; }
    eos_embeddings e;
    eos_runtime_t rt;
    if (eos_embeddings_read_csv(file, 0, &e) || eos_runtime_init(&rt, spec)) {
        fprintf(stderr, "bench_knn: %s\n", eos_last_error_message());
        return 1;
    }
    int32_t *idx = malloc(e.n * k * sizeof *idx);
    float *d = malloc(e.n * k * sizeof *d);
    double *t = malloc(reps * sizeof *t);
    if (eos_knn(rt, e.x, e.n, e.x, e.n, (int)e.dim, k, 1, idx, d)) {  /* warm-up, compiles kernels */
        fprintf(stderr, "bench_knn: %s\n", eos_last_error_message());
        return 1;
    }
    for (size_t s = 0; s < 20; s++) {  /* validate sampled rows: the k-th distance matches brute force */
        size_t i = s * (e.n / 20);
        double best[64];
        for (int j = 0; j < k; j++) best[j] = INFINITY;
        for (size_t o = 0; o < e.n; o++) {
            if (o == i) continue;
            double v = 0;
            for (size_t c = 0; c < e.dim; c++) v += pow((double)e.x[i * e.dim + c] - e.x[o * e.dim + c], 2);
            int j = k - 1;
            if (!(v < best[j])) continue;
            while (j > 0 && v < best[j - 1]) { best[j] = best[j - 1]; j--; }
            best[j] = v;
        }
        if (fabs(d[i * k + k - 1] - best[k - 1]) > 1e-3 * (1 + best[k - 1])) {
            fprintf(stderr, "bench_knn: row %zu: k-th distance %g, brute force %g\n", i, d[i * k + k - 1], best[k - 1]);
            return 1;
        }
    }
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        eos_knn(rt, e.x, e.n, e.x, e.n, (int)e.dim, k, 1, idx, d);
        t[r] = now() - t0;
    }
    qsort(t, reps, sizeof *t, cmp);
    printf("eos-cl knn %zu x %zu k %d: median %.3f s  min %.3f s  device=%s\n", e.n, e.dim, k, t[reps / 2], t[0],
           eos_runtime_device(rt)->name);
    free(idx); free(d); free(t);
    eos_embeddings_free(&e);
    eos_runtime_free(rt);
    return 0;
}
