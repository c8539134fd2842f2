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

void eos_resample_report_free(eos_resample_report *rep) {
    if (!rep) return;
    free(rep->before);
    free(rep->after);
    free(rep->eligible);
    free(rep->fallback);
    memset(rep, 0, sizeof *rep);
}

/* One way out of eos_resample: every buffer is NULL until it is allocated and freed once, at
 * done:, whichever path led there (the neighbour lists used to be freed before a failure
 * jumped to a cleanup that freed them again). */
eos_status eos_resample(eos_runtime_t rt, const eos_embeddings *in, int classes, eos_resample_method method, int k,
                        uint64_t seed, eos_embeddings *out, eos_resample_report *rep) {
    memset(out, 0, sizeof *out);
    memset(rep, 0, sizeof *rep);
    if (classes < 1 || classes > EOS_MAX_CLASSES)
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "resample: %d classes, expected 1..%d", classes, EOS_MAX_CLASSES);
    if (k < 1 || k > EOS_KNN_MAX_K) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "resample: k = %d (1..%d)", k, EOS_KNN_MAX_K);
    size_t dim = in->dim, n = in->n, nmax = 0;
    for (size_t i = 0; i < n; i++)
        if (in->labels[i] < 0 || in->labels[i] >= classes)
            EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "resample: row %zu has label %d, expected 0..%d", i, in->labels[i], classes - 1);
    rows r = {NULL, NULL, 0, 0, dim};
    int32_t *nbr = NULL, *cn = NULL;  /* (n, kk) over all classes; (m, kc) within the class */
    float *tmp = NULL;
    size_t *members = NULL, *bases = NULL, *quota = NULL;
    double *weight = NULL;
    eos_status st = EOS_OK;
    rep->classes = classes;
    rep->before = calloc((size_t)classes, sizeof *rep->before);
    rep->after = calloc((size_t)classes, sizeof *rep->after);
    rep->eligible = calloc((size_t)classes, sizeof *rep->eligible);
    rep->fallback = calloc((size_t)classes, sizeof *rep->fallback);
    if (!rep->before || !rep->after || !rep->eligible || !rep->fallback) goto oom;
    for (size_t i = 0; i < n; i++) rep->before[in->labels[i]]++;
    for (int c = 0; c < classes; c++) {
        /* an empty class cannot be grown (no base to copy or interpolate from) and would leave
         * the head a class it never sees: refused, as image folders refuse an empty class */
        if (rep->before[c] == 0) {
            st = eos__error_set(EOS_ERR_INVALID_ARG, __FILE__, __LINE__, NULL,
                                "every class 0..classes-1 needs at least one row: add rows of it or number the classes "
                                "without gaps",
                                "resample: class %d has no rows (classes 0..%d, %zu rows)", c, classes - 1, n);
            goto done;
        }
        if (rep->before[c] > nmax) nmax = rep->before[c];
    }
    for (size_t i = 0; i < n; i++)
        if (push(&r, in->x + i * dim, in->labels[i])) goto oom;

    int needs_global = method == EOS_RESAMPLE_EOS || method == EOS_RESAMPLE_BORDERLINE || method == EOS_RESAMPLE_ADASYN;
    int kk = k;
    if (needs_global) {
        if ((size_t)kk > n - 1) kk = (int)(n - 1);
        if (kk < 1) {
            st = eos__error_set(EOS_ERR_INVALID_ARG, __FILE__, __LINE__, NULL, NULL, "resample: too few rows (%zu)", n);
            goto done;
        }
        nbr = malloc(n * (size_t)kk * sizeof *nbr);
        if (!nbr) goto oom;
        if ((st = eos_knn(rt, in->x, n, in->x, n, (int)dim, kk, 1, nbr, NULL)) != EOS_OK) goto done;
    }
    eos_rng g;
    eos_rng_seed(&g, seed, 0x454f53);  /* "EOS" */
    tmp = malloc(dim * sizeof *tmp);
    members = malloc((n ? n : 1) * sizeof *members);
    bases = malloc((n ? n : 1) * sizeof *bases);
    weight = malloc((n ? n : 1) * sizeof *weight);
    quota = malloc((n ? n : 1) * sizeof *quota);
    if (!tmp || !members || !bases || !weight || !quota) goto oom;
    for (int c = 0; method != EOS_RESAMPLE_NONE && c < classes; c++) {
        size_t m = 0, need = nmax - rep->before[c];
        for (size_t i = 0; i < n; i++) if (in->labels[i] == c) members[m++] = i;
        if (need == 0) continue;
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
                if (push(&r, in->x + members[eos_rng_below(&g, (uint32_t)m)] * dim, c)) goto oom;
            continue;
        }
        rep->eligible[c] = nb;
        if (within && (st = class_knn(rt, in, members, m, kc, &cn)) != EOS_OK) goto done;
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
                    if (push(&r, tmp, c)) goto oom;
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
                if (push(&r, tmp, c)) goto oom;
            }
        }
        free(cn);
        cn = NULL;
    }
    for (size_t i = 0; i < r.n; i++) rep->after[r.y[i]]++;
    rep->synthetic = r.n - n;
    out->n = r.n;
    out->dim = dim;
    out->x = r.x;
    out->labels = r.y;
    r.x = NULL;
    r.y = NULL;
    goto done;
oom:
    st = eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "resample: %zu rows of %zu", r.n, dim);
done:
    free(cn); free(nbr); free(tmp); free(members); free(bases); free(weight); free(quota);
    free(r.x);
    free(r.y);
    if (st != EOS_OK) eos_resample_report_free(rep);
    return st;
}
