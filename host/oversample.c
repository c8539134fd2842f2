/* EOS and the over-sampling baselines in embedding space (include/eos/oversample.h). kNN runs
 * on the device; the draws and the interpolation run here, where they are a few microseconds
 * per new row. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *k_names[] = {"none", "eos", "ros", "smote", "borderline", "adasyn"};

eos_status eos_resample_parse(const char *name, eos_resample_method *out) {
    for (int i = 0; i < 6; i++)
        if (name && !strcasecmp(name, k_names[i])) {
            *out = (eos_resample_method)i;
            return EOS_OK;
        }
    EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "unknown method '%s': expected eos, ros, smote, borderline, adasyn or none",
             name ? name : "");
}

const char *eos_resample_name(eos_resample_method m) { return (unsigned)m < 6 ? k_names[m] : "?"; }

typedef struct {
    float *x;
    int32_t *y;
    size_t n, cap, dim;
} rows;

static int push(rows *r, const float *v, int32_t label) {
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 1024;
        float *x = realloc(r->x, cap * r->dim * sizeof *x);
        if (x) r->x = x;
        int32_t *y = realloc(r->y, cap * sizeof *y);
        if (y) r->y = y;
        if (!x || !y) return -1;
        r->cap = cap;
    }
    memcpy(r->x + r->n * r->dim, v, r->dim * sizeof *v);
    r->y[r->n++] = label;
    return 0;
}

/* base + r (other - base) */
static void interpolate(const float *base, const float *other, float r, size_t dim, float *out) {
    for (size_t j = 0; j < dim; j++) out[j] = base[j] + r * (other[j] - base[j]);
}

/* kNN within class c: nbr (m, kc) indices into members (m) */
static eos_status class_knn(eos_runtime_t rt, const eos_embeddings *in, const size_t *members, size_t m, int kc,
                            int32_t **nbr) {
    float *x = malloc(m * in->dim * sizeof *x);
    *nbr = malloc(m * (size_t)kc * sizeof **nbr);
    if (!x || !*nbr) {
        free(x);
        free(*nbr);
        *nbr = NULL;
        EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "class neighbours of %zu samples", m);
    }
    for (size_t i = 0; i < m; i++) memcpy(x + i * in->dim, in->x + members[i] * in->dim, in->dim * sizeof *x);
    eos_status st = eos_knn(rt, x, m, x, m, (int)in->dim, kc, 1, *nbr, NULL);
    free(x);
    if (st != EOS_OK) {
        free(*nbr);
        *nbr = NULL;
    }
    return st;
}

eos_status eos_resample(eos_runtime_t rt, const eos_embeddings *in, int classes, eos_resample_method method, int k,
                        uint64_t seed, eos_embeddings *out, eos_resample_report *rep) {
    memset(out, 0, sizeof *out);
    memset(rep, 0, sizeof *rep);
    if (classes < 1 || classes > 256) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "resample: %d classes (1..256)", classes);
    if (k < 1 || k > EOS_KNN_MAX_K) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "resample: k = %d (1..%d)", k, EOS_KNN_MAX_K);
    rep->classes = classes;
    size_t dim = in->dim, n = in->n, nmax = 0;
    for (size_t i = 0; i < n; i++) {
        if (in->labels[i] < 0 || in->labels[i] >= classes)
            EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "resample: row %zu has label %d, expected 0..%d", i, in->labels[i], classes - 1);
        rep->before[in->labels[i]]++;
    }
    for (int c = 0; c < classes; c++) if (rep->before[c] > nmax) nmax = rep->before[c];
    rows r = {NULL, NULL, 0, 0, dim};
    int32_t *nbr = NULL;  /* (n, k) over all classes */
    eos_status st = EOS_OK;
    for (size_t i = 0; i < n; i++)
        if (push(&r, in->x + i * dim, in->labels[i])) goto oom;

    int needs_global = method == EOS_RESAMPLE_EOS || method == EOS_RESAMPLE_BORDERLINE || method == EOS_RESAMPLE_ADASYN;
    int kk = k;
    if (needs_global && method != EOS_RESAMPLE_NONE) {
        if ((size_t)kk > n - 1) kk = (int)(n - 1);
        if (kk < 1) { st = eos__error_set(EOS_ERR_INVALID_ARG, __FILE__, __LINE__, NULL, NULL, "resample: too few rows (%zu)", n); goto fail; }
        nbr = malloc(n * (size_t)kk * sizeof *nbr);
        if (!nbr) goto oom;
        if ((st = eos_knn(rt, in->x, n, in->x, n, (int)dim, kk, 1, nbr, NULL)) != EOS_OK) goto fail;
    }
    eos_rng g;
    eos_rng_seed(&g, seed, 0x454f53);  /* "EOS" */
    float *tmp = malloc(dim * sizeof *tmp);
    size_t *members = malloc((n ? n : 1) * sizeof *members), *bases = malloc((n ? n : 1) * sizeof *bases);
    double *weight = malloc((n ? n : 1) * sizeof *weight);
    size_t *quota = malloc((n ? n : 1) * sizeof *quota);
    if (!tmp || !members || !bases || !weight || !quota) {
        free(tmp); free(members); free(bases); free(weight); free(quota);
        goto oom;
    }
    for (int c = 0; method != EOS_RESAMPLE_NONE && c < classes && st == EOS_OK; c++) {
        size_t m = 0, need = nmax - rep->before[c];
        for (size_t i = 0; i < n; i++) if (in->labels[i] == c) members[m++] = i;
        if (need == 0 || m == 0) continue;
        /* per sample of the class: its enemies among the global neighbours */
        size_t nb = 0;
        if (needs_global)
            for (size_t t = 0; t < m; t++) {
                size_t i = members[t], enemies = 0;
                for (int j = 0; j < kk; j++) enemies += in->labels[nbr[i * kk + j]] != c;
                weight[t] = (double)enemies / kk;
                int eligible = method == EOS_RESAMPLE_EOS      ? enemies > 0
                               : method == EOS_RESAMPLE_ADASYN ? enemies > 0
                                                               : 2 * enemies >= (size_t)kk && enemies < (size_t)kk;
                if (eligible) bases[nb++] = t;
            }
        int within = method == EOS_RESAMPLE_SMOTE || method == EOS_RESAMPLE_BORDERLINE || method == EOS_RESAMPLE_ADASYN;
        if (method == EOS_RESAMPLE_SMOTE) {
            for (size_t t = 0; t < m; t++) bases[t] = t;
            nb = m;
        }
        int kc = m > 1 ? (int)(m - 1 < (size_t)k ? m - 1 : (size_t)k) : 0;
        if (method == EOS_RESAMPLE_ROS || nb == 0 || (within && kc < 1)) {
            /* nothing to interpolate from: copies (and say so) */
            if (method != EOS_RESAMPLE_ROS) rep->fallback[c] = 1;
            rep->eligible[c] = m;
            for (size_t s = 0; s < need; s++)
                if (push(&r, in->x + members[eos_rng_below(&g, (uint32_t)m)] * dim, c)) goto oom2;
            continue;
        }
        rep->eligible[c] = nb;
        int32_t *cn = NULL;
        if (within && (st = class_knn(rt, in, members, m, kc, &cn)) != EOS_OK) break;
        if (method == EOS_RESAMPLE_ADASYN) {
            /* shares proportional to the enemy fraction, rounded by largest remainder to sum to need */
            double total = 0;
            for (size_t b = 0; b < nb; b++) total += weight[bases[b]];
            size_t given = 0;
            for (size_t b = 0; b < nb; b++) {
                double share = need * weight[bases[b]] / total;
                quota[b] = (size_t)floor(share);
                weight[bases[b]] = share - floor(share);  /* keep the remainder */
                given += quota[b];
            }
            while (given < need) {
                size_t best = 0;
                for (size_t b = 1; b < nb; b++) if (weight[bases[b]] > weight[bases[best]]) best = b;
                quota[best]++;
                weight[bases[best]] = -1;
                given++;
            }
            for (size_t b = 0; b < nb; b++)
                for (size_t q = 0; q < quota[b]; q++) {
                    size_t t = bases[b];
                    size_t o = members[cn[t * kc + eos_rng_below(&g, (uint32_t)kc)]];
                    interpolate(in->x + members[t] * dim, in->x + o * dim, eos_rng_uniform(&g), dim, tmp);
                    if (push(&r, tmp, c)) { free(cn); goto oom2; }
                }
        } else {
            for (size_t s = 0; s < need; s++) {
                size_t t = bases[eos_rng_below(&g, (uint32_t)nb)], base = members[t], other;
                if (within) {
                    other = members[cn[t * kc + eos_rng_below(&g, (uint32_t)kc)]];
                } else {  /* EOS: one of the base's enemies, uniformly */
                    int32_t en[EOS_KNN_MAX_K];
                    int ne = 0;
                    for (int j = 0; j < kk; j++)
                        if (in->labels[nbr[base * kk + j]] != c) en[ne++] = nbr[base * kk + j];
                    other = (size_t)en[eos_rng_below(&g, (uint32_t)ne)];
                }
                interpolate(in->x + base * dim, in->x + other * dim, eos_rng_uniform(&g), dim, tmp);
                if (push(&r, tmp, c)) { free(cn); goto oom2; }
            }
        }
        free(cn);
    }
    free(tmp); free(members); free(bases); free(weight); free(quota);
    free(nbr);
    if (st != EOS_OK) goto fail;
    for (size_t i = 0; i < r.n; i++) rep->after[r.y[i]]++;
    rep->synthetic = r.n - n;
    out->n = r.n;
    out->dim = dim;
    out->x = r.x;
    out->labels = r.y;
    return EOS_OK;
oom2:
    free(tmp); free(members); free(bases); free(weight); free(quota);
oom:
    st = eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "resample: %zu rows of %zu", r.n, dim);
fail:
    free(r.x);
    free(r.y);
    free(nbr);
    return st;
}
