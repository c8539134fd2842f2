/* The 2-d view of phase 2 for the run report: PCA of the real training embeddings (host,
 * double precision, cyclic Jacobi on the dim x dim covariance), and a capped per-class sample of
 * a balanced set, real and synthetic rows marked apart, projected onto that plane as CSV. */
#include "internal.h"

#include "eos/projection.h"
#include "eos/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Eigen-decomposition of the symmetric a (d, d) in place: the diagonal ends as the eigenvalues,
 * v (d, d) holds the eigenvectors as columns. */
static void jacobi(double *a, double *v, size_t d) {
    for (size_t i = 0; i < d * d; i++) v[i] = 0;
    for (size_t i = 0; i < d; i++) v[i * d + i] = 1;
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0, total = 0;
        for (size_t i = 0; i < d; i++)
            for (size_t j = 0; j < d; j++) {
                total += a[i * d + j] * a[i * d + j];
                if (i != j) off += a[i * d + j] * a[i * d + j];
            }
        if (off <= 1e-24 * total || off == 0) break;
        for (size_t p = 0; p < d; p++)
            for (size_t q = p + 1; q < d; q++) {
                double apq = a[p * d + q];
                if (fabs(apq) < 1e-300) continue;
                double theta = (a[q * d + q] - a[p * d + p]) / (2 * apq);
                double t = (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (size_t k = 0; k < d; k++) {  /* a <- a J (columns p, q) */
                    double akp = a[k * d + p], akq = a[k * d + q];
                    a[k * d + p] = c * akp - s * akq;
                    a[k * d + q] = s * akp + c * akq;
                }
                for (size_t k = 0; k < d; k++) {  /* a <- J^T a (rows p, q) */
                    double apk = a[p * d + k], aqk = a[q * d + k];
                    a[p * d + k] = c * apk - s * aqk;
                    a[q * d + k] = s * apk + c * aqk;
                }
                for (size_t k = 0; k < d; k++) {
                    double vkp = v[k * d + p], vkq = v[k * d + q];
                    v[k * d + p] = c * vkp - s * vkq;
                    v[k * d + q] = s * vkp + c * vkq;
                }
            }
    }
}

eos_status eos_projection_fit(const float *x, size_t n, size_t dim, double *mean, double *comp, double var[2]) {
    if (!x || !mean || !comp || n < 2 || dim < 2 || dim > 4096)
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "eos_projection_fit: %zu rows of %zu features (need 2 or more of each)", n, dim);
    double *cov = calloc(dim * dim, sizeof *cov), *v = malloc(dim * dim * sizeof *v), *row = malloc(dim * sizeof *row);
    if (!cov || !v || !row) {
        free(cov); free(v); free(row);
        EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "eos_projection_fit: %zu x %zu covariance", dim, dim);
    }
    for (size_t j = 0; j < dim; j++) mean[j] = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < dim; j++) mean[j] += x[i * dim + j];
    for (size_t j = 0; j < dim; j++) mean[j] /= (double)n;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < dim; j++) row[j] = x[i * dim + j] - mean[j];
        for (size_t a = 0; a < dim; a++)
            for (size_t b = a; b < dim; b++) cov[a * dim + b] += row[a] * row[b];
    }
    double trace = 0;
    for (size_t a = 0; a < dim; a++) {
        for (size_t b = a; b < dim; b++) cov[b * dim + a] = cov[a * dim + b] /= (double)(n - 1);
        trace += cov[a * dim + a];
    }
    jacobi(cov, v, dim);
    /* the two largest eigenvalues, the smaller index first on ties */
    size_t best[2] = {0, 0};
    for (int r = 0; r < 2; r++) {
        size_t pick = dim;
        for (size_t k = 0; k < dim; k++) {
            if (r == 1 && k == best[0]) continue;
            if (pick == dim || cov[k * dim + k] > cov[pick * dim + pick]) pick = k;
        }
        best[r] = pick;
    }
    for (int r = 0; r < 2; r++) {
        size_t k = best[r], big = 0;
        for (size_t j = 0; j < dim; j++)
            if (fabs(v[j * dim + k]) > fabs(v[big * dim + k])) big = j;
        double sign = v[big * dim + k] < 0 ? -1 : 1;
        for (size_t j = 0; j < dim; j++) comp[r * dim + j] = sign * v[j * dim + k];
        if (var) var[r] = trace > 0 ? fmax(cov[k * dim + k], 0) / trace : 0;
    }
    free(cov); free(v); free(row);
    return EOS_OK;
}

/* Choose at most cap of the rows lo..hi-1 of class c, without replacement: a partial
 * Fisher-Yates shuffle of the candidates; the chosen are appended to pick. */
static size_t sample_class(const int32_t *labels, size_t lo, size_t hi, int32_t c, size_t cap, eos_rng *g, size_t *tmp,
                           size_t *pick) {
    size_t m = 0;
    for (size_t i = lo; i < hi; i++)
        if (labels[i] == c) tmp[m++] = i;
    size_t take = m < cap ? m : cap;
    for (size_t s = 0; s < take; s++) {
        size_t j = s + eos_rng_below(g, (uint32_t)(m - s));
        size_t t = tmp[s];
        tmp[s] = tmp[j];
        tmp[j] = t;
        pick[s] = tmp[s];
    }
    return take;
}

eos_status eos_projection_write(const char *path, const eos_embeddings *e, size_t n_real, size_t per_class, uint64_t seed,
                                double var[2]) {
    if (!e || n_real > e->n || n_real < 2 || per_class < 1 || e->n > UINT32_MAX)
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "eos_projection_write: %zu real rows of %zu (need 2 or more)", n_real,
                 e ? e->n : 0);
    size_t dim = e->dim;
    int32_t classes = 0;
    for (size_t i = 0; i < e->n; i++) {
        if (e->labels[i] < 0 || e->labels[i] > 65535) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "row %zu: label %d", i, e->labels[i]);
        if (e->labels[i] + 1 > classes) classes = e->labels[i] + 1;
    }
    double *mean = malloc(dim * sizeof *mean), *comp = malloc(2 * dim * sizeof *comp);
    size_t *tmp = malloc(e->n * sizeof *tmp), *pick = malloc(e->n * sizeof *pick);
    eos_status st = EOS_OK;
    if (!mean || !comp || !tmp || !pick)
        st = eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "projection of %zu rows", e->n);
    double v2[2];
    if (st == EOS_OK) st = eos_projection_fit(e->x, n_real, dim, mean, comp, v2);
    eos__atomic_file a;
    if (st == EOS_OK) st = eos__atomic_open(&a, path);
    if (st == EOS_OK) {
        eos_rng g;
        eos_rng_seed(&g, seed, 0x504341);  /* "PCA": a stream of its own */
        fprintf(a.f, "label,synthetic,pc1,pc2\n");
        for (int syn = 0; syn < 2; syn++)
            for (int32_t c = 0; c < classes; c++) {
                size_t k = sample_class(e->labels, syn ? n_real : 0, syn ? e->n : n_real, c, per_class, &g, tmp, pick);
                for (size_t s = 0; s < k; s++) {
                    const float *x = e->x + pick[s] * dim;
                    double p[2] = {0, 0};
                    for (int r = 0; r < 2; r++)
                        for (size_t j = 0; j < dim; j++) p[r] += (x[j] - mean[j]) * comp[r * dim + j];
                    fprintf(a.f, "%d,%d,%.5g,%.5g\n", c, syn, p[0], p[1]);
                }
            }
        st = eos__atomic_commit(&a);
    }
    if (st == EOS_OK && var) var[0] = v2[0], var[1] = v2[1];
    free(mean); free(comp); free(tmp); free(pick);
    return st;
}
