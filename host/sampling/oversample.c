/* EOS and the over-sampling baselines in embedding space (include/eos/oversample.h). kNN runs
 * on the device and the draws here (one generator, so a seed gives the same rows on every
 * device); the new rows are formed in one go at the end, by cl/oversample.cl when there is a
 * runtime (issue 20) or by form_rows_host, the reference it matches bit for bit. The baselines follow imbalanced-learn 0.10 (imblearn/over_sampling/_smote/base.py,
 * filter.py, _adasyn.py), eos the paper and eos-ref the authors' EOS.py; tests/golden/ holds the
 * scripts that pin each. */
#include "internal.h"
#include "sampling_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* indexed by eos_resample_method; eos-ref came last so the older values kept their numbers */
static const char *k_names[] = {"none", "eos", "ros", "smote", "borderline", "adasyn", "eos-ref"};
enum { NMETHODS = sizeof k_names / sizeof k_names[0] };

eos_status eos_resample_parse(const char *name, eos_resample_method *out) {
    for (int i = 0; i < NMETHODS; i++)
        if (name && !strcasecmp(name, k_names[i])) {
            *out = (eos_resample_method)i;
            return EOS_OK;
        }
    EOS_FAIL(EOS_ERR_INVALID_ARG, NULL,
             "unknown method '%s': expected eos, eos-ref, ros, smote, borderline, adasyn or none", name ? name : "");
}

const char *eos_resample_name(eos_resample_method m) { return (unsigned)m < NMETHODS ? k_names[m] : "?"; }

eos_resample_config eos_resample_defaults(void) {
    eos_resample_config c = {0, 0, 0, NULL};
    return c;
}

/* imbalanced-learn's k_neighbors / n_neighbors for its methods; the paper's k for EOS */
int eos_resample_default_k(eos_resample_method m) {
    return m == EOS_RESAMPLE_SMOTE || m == EOS_RESAMPLE_BORDERLINE || m == EOS_RESAMPLE_ADASYN ? 5 : 10;
}

/* imbalanced-learn's BorderlineSMOTE m_neighbors */
enum { DEFAULT_M = 10 };

/* The output so far, one entry per row: its label, the input row it came from, the one it moves
 * toward (-1: none, a copy) and the gap r. The features are formed at the end, all new rows in
 * one go (form_rows: on the device, or on the host as the reference). */
typedef struct {
    int32_t *y, *from, *to;
    float *gap;
    size_t n, cap;
} rows;

static int push(rows *r, int32_t label, int32_t from, int32_t to, float gap) {
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 1024;
        int32_t *y = realloc(r->y, cap * sizeof *y);
        if (y) r->y = y;
        int32_t *f = realloc(r->from, cap * sizeof *f);
        if (f) r->from = f;
        int32_t *t = realloc(r->to, cap * sizeof *t);
        if (t) r->to = t;
        float *g = realloc(r->gap, cap * sizeof *g);
        if (g) r->gap = g;
        if (!y || !f || !t || !g) return -1;
        r->cap = cap;
    }
    r->y[r->n] = label;
    r->from[r->n] = from;
    r->to[r->n] = to;
    r->gap[r->n++] = gap;
    return 0;
}

/* Where the draws come from: the seeded generator, or (tests, eos and eos-ref only) one given
 * triple per new row, so a numpy transcription fed the same triples can be compared row by row:
 * bind = the base's place among its class's bases, pos = the chosen enemy's position among the
 * base's k neighbours, gap = r. */
typedef struct {
    eos_rng g;
    const uint32_t *bind, *pos;  /* NULL: the generator */
    const float *gap;
    size_t n, at;
} draws;
/* The new rows on the host: base + r (other - base), a copy where other < 0. The reference for
 * cl/oversample.cl, which must give the same bits: this file is built -std=c11 (CMake's
 * C_EXTENSIONS OFF), under which GCC does not contract the product and the sum into an FMA
 * (-ffp-contract=off; GNU modes default to =fast), so d, r * d and the sum are each rounded. */
static void form_rows_host(const float *x, size_t dim, const int32_t *base, const int32_t *other, const float *gap,
                           size_t s, float *out) {
    for (size_t i = 0; i < s; i++) {
        const float *b = x + (size_t)base[i] * dim;
        float *o = out + i * dim;
        if (other[i] < 0) {
            memcpy(o, b, dim * sizeof *o);
            continue;
        }
        const float *p = x + (size_t)other[i] * dim, r = gap[i];
        for (size_t j = 0; j < dim; j++) o[j] = b[j] + r * (p[j] - b[j]);
    }
}

/* the new rows from X (device, (n, dim)) into O from row row0 on: the draws go up, three numbers
 * a row, and cl/oversample.cl forms the rows */
static eos_status rows_on_device(eos_runtime_t rt, const eos_tensor *X, size_t dim, const int32_t *base,
                                 const int32_t *other, const float *gap, size_t s, eos_tensor *O, size_t row0) {
    eos_tensor B = {0}, P = {0}, G = {0};
    eos_status st = eos_tensor_alloc(rt, &B, 1, &s);  /* ints in float-sized slots, as knn.c's lists */
    if (st == EOS_OK) st = eos_tensor_alloc(rt, &P, 1, &s);
    if (st == EOS_OK) st = eos_tensor_alloc(rt, &G, 1, &s);
    if (st == EOS_OK) st = eos_tensor_upload(&B, (const float *)base, s);
    if (st == EOS_OK) st = eos_tensor_upload(&P, (const float *)other, s);
    if (st == EOS_OK) st = eos_tensor_upload(&G, gap, s);
    if (st == EOS_OK) {
        int D = (int)dim;
        cl_ulong total = (cl_ulong)s * dim, out0 = (cl_ulong)row0 * dim;
        eos__arg a[] = {EOS_ARG(X->buf), EOS_ARG(B.buf), EOS_ARG(P.buf), EOS_ARG(G.buf), EOS_ARG(O->buf), EOS_ARG(D),
                        EOS_ARG(total), EOS_ARG(out0)};
        st = eos__run_1d(rt, "oversample.cl", "eos_oversample_rows", s * dim, a, EOS_NARGS(a));
    }
    eos_tensor_free(&B);
    eos_tensor_free(&P);
    eos_tensor_free(&G);
    return st;
}

eos_status eos__gather_rows(eos_runtime_t rt, const eos_tensor *X, size_t dim, const eos_tensor *idx, size_t s,
                            eos_tensor *O) {
    if (s == 0) return EOS_OK;
    EOS_TRY(eos__need(idx, s, "gather indices"));
    EOS_TRY(eos__need(O, s * dim, "gathered rows"));
    int D = (int)dim;
    cl_ulong total = (cl_ulong)s * dim;
    eos__arg a[] = {EOS_ARG(X->buf), EOS_ARG(idx->buf), EOS_ARG(O->buf), EOS_ARG(D), EOS_ARG(total)};
    return eos__run_1d(rt, "oversample.cl", "eos_gather_rows", s * dim, a, EOS_NARGS(a));
}

eos_status eos__oversample_rows(eos_runtime_t rt, const float *x, size_t n, size_t dim, const int32_t *base,
                                const int32_t *other, const float *gap, size_t s, float *out) {
    if (s == 0) return EOS_OK;
    if (!rt) {
        form_rows_host(x, dim, base, other, gap, s, out);
        return EOS_OK;
    }
    if (dim < 1 || dim > 0x7fffffff || n < 1 || n > 0x7fffffff || s > 0x7fffffff)
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "oversample rows: %zu new rows from %zu of %zu features", s, n, dim);
    eos_tensor X = {0}, O = {0};
    eos_status st = eos_tensor_alloc(rt, &X, 2, (size_t[]){n, dim});
    if (st == EOS_OK) st = eos_tensor_alloc(rt, &O, 2, (size_t[]){s, dim});
    if (st == EOS_OK) st = eos_tensor_upload(&X, x, n * dim);
    if (st == EOS_OK) st = rows_on_device(rt, &X, dim, base, other, gap, s, &O, 0);
    if (st == EOS_OK) st = eos_tensor_download(&O, out, s * dim);
    eos_tensor_free(&X);
    eos_tensor_free(&O);
    return st;
}

void eos_resample_set_host_rows(eos_runtime_t rt, int on_host) {
    if (rt) rt->resample_host_rows = on_host != 0;
}

eos_resample_timing eos_resample_last_timing(eos_runtime_t rt) {
    eos_resample_timing t = {0, 0, 0};
    if (rt) t = rt->resample_timing;
    return t;
}

/* kNN within class c: nbr (m, kc) indices into members (m); the class's rows gathered on the
 * device when the embeddings are there (xd), else on the host */
static eos_status class_knn_device(eos_runtime_t rt, const eos_tensor *xd, size_t dim, const size_t *members, size_t m,
                                   int kc, int32_t *nbr) {
    eos_tensor I = {0}, G = {0};
    int32_t *idx = malloc(m * sizeof *idx);
    if (!idx) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "class neighbours of %zu samples", m);
    for (size_t i = 0; i < m; i++) idx[i] = (int32_t)members[i];
    eos_status st = eos_tensor_alloc(rt, &I, 1, &m);
    if (st == EOS_OK) st = eos_tensor_alloc(rt, &G, 2, (size_t[]){m, dim});
    if (st == EOS_OK) st = eos_tensor_upload(&I, (const float *)idx, m);
    if (st == EOS_OK) st = eos__gather_rows(rt, xd, dim, &I, m, &G);
    if (st == EOS_OK) st = eos__knn_device(rt, &G, m, &G, m, (int)dim, kc, 1, nbr, NULL);
    eos_tensor_free(&I);
    eos_tensor_free(&G);
    free(idx);
    return st;
}

static eos_status class_knn(eos_runtime_t rt, const eos_embeddings *in, const eos_tensor *xd, const size_t *members,
                            size_t m, int kc, int32_t **nbr) {
    if (xd) {
        *nbr = malloc(m * (size_t)kc * sizeof **nbr);
        if (!*nbr) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "class neighbours of %zu samples", m);
        eos_status st = class_knn_device(rt, xd, in->dim, members, m, kc, *nbr);
        if (st != EOS_OK) {
            free(*nbr);
            *nbr = NULL;
        }
        return st;
    }
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
    free(rep->candidate);
    free(rep->origin);
    free(rep->partner);
    memset(rep, 0, sizeof *rep);
}

/* One call's state, shared by its steps. Every buffer is NULL until it is allocated and freed
 * once, by resample's one way out, whichever step failed (the neighbour lists used to be freed
 * before a failure jumped to a cleanup that freed them again). */
typedef struct {
    eos_runtime_t rt;
    const eos_embeddings *in;
    const eos_tensor *xd;          /* in's rows on the device, or NULL */
    eos_resample_method method;
    const eos_resample_config *cfg;
    draws *d;
    eos_resample_report *rep;
    rows r;                        /* the output's rows so far: the n originals, then the draws */
    int k, kk;                     /* neighbours within a class; over all classes */
    int needs_global;              /* eos, borderline, adasyn: the search over all classes */
    int32_t *nbr, *cn;             /* (n, kk) over all classes; (m, kc) within the current class */
    size_t *members, *bases, *quota;  /* the class's rows (m); its bases (nb), as places in members; adasyn's counts */
    double *weight;                /* per member: its enemies among its kk neighbours / kk */
    double t_knn;                  /* seconds in neighbour searches */
} resampling;

static eos_status rs_oom(const resampling *R) {
    return eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "resample: %zu rows of %zu", R->r.n,
                          R->in->dim);
}

/* rep's per-class counts, every class checked non-empty and against its target; *nmax the
 * largest class; the n original rows first in the output */
static eos_status count_classes(resampling *R, int classes, size_t *nmax) {
    const eos_embeddings *in = R->in;
    eos_resample_report *rep = R->rep;
    size_t n = in->n;
    rep->before = calloc((size_t)classes, sizeof *rep->before);
    rep->after = calloc((size_t)classes, sizeof *rep->after);
    rep->eligible = calloc((size_t)classes, sizeof *rep->eligible);
    rep->fallback = calloc((size_t)classes, sizeof *rep->fallback);
    rep->candidate = calloc(n ? n : 1, 1);
    if (!rep->before || !rep->after || !rep->eligible || !rep->fallback || !rep->candidate) return rs_oom(R);
    for (size_t i = 0; i < n; i++) rep->before[in->labels[i]]++;
    for (int c = 0; c < classes; c++) {
        /* an empty class cannot be grown (no base to copy or interpolate from) and would leave
         * the head a class it never sees: refused, as image folders refuse an empty class */
        if (rep->before[c] == 0)
            return eos__error_set(EOS_ERR_INVALID_ARG, __FILE__, __LINE__, NULL,
                                  "every class 0..classes-1 needs at least one row: add rows of it or number the classes "
                                  "without gaps",
                                  "resample: class %d has no rows (classes 0..%d, %zu rows)", c, classes - 1, n);
        if (rep->before[c] > *nmax) *nmax = rep->before[c];
    }
    for (int c = 0; R->cfg->target && c < classes; c++)
        if (R->cfg->target[c] < rep->before[c])
            return eos__error_set(EOS_ERR_INVALID_ARG, __FILE__, __LINE__, NULL,
                                  "over-sampling only adds rows: ask for at least the class's count",
                                  "resample: class %d has %zu rows, target %zu", c, rep->before[c], R->cfg->target[c]);
    for (size_t i = 0; i < n; i++)
        if (push(&R->r, in->labels[i], (int32_t)i, -1, 0.0f)) return rs_oom(R);
    return EOS_OK;
}

/* The search over all classes into R->nbr: eos's enemies, adasyn's ratio (both k), borderline's
 * danger (m); given_nbr (the test hook) instead of the search when not NULL */
static eos_status global_neighbours(resampling *R, const int32_t *given_nbr) {
    const eos_embeddings *in = R->in;
    size_t n = in->n;
    if ((size_t)R->kk > n - 1) R->kk = (int)(n - 1);
    if (R->kk < 1) return eos__error_set(EOS_ERR_INVALID_ARG, __FILE__, __LINE__, NULL, NULL, "resample: too few rows (%zu)", n);
    int kk = R->kk;
    R->nbr = malloc(n * (size_t)kk * sizeof *R->nbr);
    if (!R->nbr) return rs_oom(R);
    if (given_nbr) {
        memcpy(R->nbr, given_nbr, n * (size_t)kk * sizeof *R->nbr);  /* the hook checked kk == k */
        return EOS_OK;
    }
    double t0 = eos__now();
    eos_status st = R->xd ? eos__knn_device(R->rt, R->xd, n, R->xd, n, (int)in->dim, kk, 1, R->nbr, NULL)
                          : eos_knn(R->rt, in->x, n, in->x, n, (int)in->dim, kk, 1, R->nbr, NULL);
    R->t_knn += eos__now() - t0;
    return st;
}

/* the bases of class c among its m members: the rows with an enemy among their kk neighbours
 * (borderline: the danger rows, kk/2 <= enemies < kk); each member's enemy fraction in weight */
static size_t enemy_bases(resampling *R, int c, size_t m) {
    const int32_t *labels = R->in->labels;
    int kk = R->kk;
    size_t nb = 0;
    for (size_t t = 0; t < m; t++) {
        size_t i = R->members[t], enemies = 0;
        for (int j = 0; j < kk; j++) enemies += labels[R->nbr[i * kk + j]] != c;
        /* imblearn's ratio_nn: enemies / n_neighbors */
        R->weight[t] = (double)enemies / kk;
        /* borderline: imblearn's _in_danger_noise "danger", m/2 <= m' < m */
        int eligible = R->method == EOS_RESAMPLE_BORDERLINE ? 2 * enemies >= (size_t)kk && enemies < (size_t)kk : enemies > 0;
        if (eligible) R->bases[nb++] = t;
    }
    return nb;
}

/* ROS, and the fallback of the others when a class has nothing to interpolate from (say so):
 * copies of the class's rows, drawn uniformly */
static eos_status draw_copies(resampling *R, int c, size_t m, size_t need) {
    if (R->d->bind)
        return eos__error_set(EOS_ERR_INVALID_ARG, __FILE__, __LINE__, NULL, NULL,
                              "resample: class %d has no base for the given draws", c);
    if (R->method != EOS_RESAMPLE_ROS) R->rep->fallback[c] = 1;
    R->rep->eligible[c] = m;
    for (size_t t = 0; t < m; t++) R->rep->candidate[R->members[t]] = 1;
    for (size_t s = 0; s < need; s++) {
        size_t i = R->members[eos_rng_below(&R->d->g, (uint32_t)m)];
        if (push(&R->r, c, (int32_t)i, -1, 0.0f)) return rs_oom(R);
    }
    return EOS_OK;
}

/* ADASYN: each base makes its share of need, by its enemy fraction, each row towards one of its
 * kc nearest of the class */
static eos_status draw_adasyn(resampling *R, int c, size_t nb, int kc, size_t need) {
    size_t *quota = R->quota, *bases = R->bases;
    double *weight = R->weight, total = 0;
    for (size_t b = 0; b < nb; b++) total += weight[bases[b]];
    if (!R->cfg->adasyn_remainder) {
        /* imblearn: ratio_nn /= sum(ratio_nn); np.rint(ratio_nn * n_samples), half to
         * even as rint in the default rounding mode; the class gets what the sum says */
        for (size_t b = 0; b < nb; b++) quota[b] = (size_t)rint(weight[bases[b]] / total * (double)need);
    } else {
        /* shares proportional to the enemy fraction, rounded by largest remainder to sum to need */
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
    }
    /* imblearn: rows = np.repeat(class rows, counts), so base after base in row order */
    for (size_t b = 0; b < nb; b++)
        for (size_t q = 0; q < quota[b]; q++) {
            size_t t = bases[b], base = R->members[t];
            size_t o = R->members[R->cn[t * kc + eos_rng_below(&R->d->g, (uint32_t)kc)]];
            if (push(&R->r, c, (int32_t)base, (int32_t)o, eos_rng_uniform(&R->d->g))) return rs_oom(R);
        }
    return EOS_OK;
}

/* the place of the next new row's base among the nb bases: drawn, or the given draw's, checked */
static eos_status next_base(resampling *R, size_t nb, size_t *bi) {
    draws *d = R->d;
    if (d->bind && d->at >= d->n)
        return eos__error_set(EOS_ERR_INVALID_ARG, __FILE__, __LINE__, NULL, NULL, "resample: %zu draws given, more rows needed",
                              d->n);
    *bi = d->bind ? d->bind[d->at] : eos_rng_below(&d->g, (uint32_t)nb);
    if (*bi >= nb)
        return eos__error_set(EOS_ERR_INVALID_ARG, __FILE__, __LINE__, NULL, NULL, "resample: draw %zu: base %zu of %zu", d->at,
                              *bi, nb);
    return EOS_OK;
}

/* the next new row's gap r: drawn, or the given draw's (which it ends) */
static float next_gap(draws *d) { return d->bind ? d->gap[d->at++] : eos_rng_uniform(&d->g); }

/* SMOTE (bases: every row of the class) and Borderline-SMOTE 1 (bases: the danger rows): a base
 * drawn uniformly, moved towards one of its kc nearest of the class */
static eos_status draw_smote(resampling *R, int c, size_t nb, int kc, size_t need) {
    for (size_t s = 0; s < need; s++) {
        size_t bi;
        EOS_TRY(next_base(R, nb, &bi));
        size_t t = R->bases[bi], base = R->members[t];
        size_t other = R->members[R->cn[t * kc + eos_rng_below(&R->d->g, (uint32_t)kc)]];
        float gap = next_gap(R->d);
        if (push(&R->r, c, (int32_t)base, (int32_t)other, gap)) return rs_oom(R);
    }
    return EOS_OK;
}

/* EOS and eos-ref: a base with an enemy drawn uniformly, moved towards one of its enemies (drawn
 * uniformly; pos is its place among the kk neighbours) */
static eos_status draw_eos(resampling *R, int c, size_t nb, size_t need) {
    const int32_t *labels = R->in->labels, *nbr = R->nbr;
    const int kk = R->kk;
    draws *d = R->d;
    for (size_t s = 0; s < need; s++) {
        size_t bi;
        EOS_TRY(next_base(R, nb, &bi));
        size_t t = R->bases[bi], base = R->members[t], other;
        int en[EOS_KNN_MAX_K], ne = 0, pos;
        for (int j = 0; j < kk; j++)
            if (labels[nbr[base * kk + j]] != c) en[ne++] = j;
        if (d->bind) {
            pos = (int)d->pos[d->at];
            if (pos >= kk || labels[nbr[base * kk + pos]] == c)
                return eos__error_set(EOS_ERR_INVALID_ARG, __FILE__, __LINE__, NULL, NULL,
                                      "resample: draw %zu: neighbour %d of row %zu is no enemy", d->at, pos, base);
        } else {
            pos = en[eos_rng_below(&d->g, (uint32_t)ne)];
        }
        /* EOS.py: ni indexes ind1[n][1:] (the neighbours without the point) but
         * the partner is read as ind2[base, ni], whose column 0 is the point
         * itself: one rank nearer than the enemy, the base itself for ni = 0 */
        other = R->method == EOS_RESAMPLE_EOS ? (size_t)nbr[base * kk + pos]
                : pos == 0                    ? base
                                              : (size_t)nbr[base * kk + pos - 1];
        float gap = next_gap(d);
        if (push(&R->r, c, (int32_t)base, (int32_t)other, gap)) return rs_oom(R);
    }
    return EOS_OK;
}

/* The draws of class c, which needs `need` new rows: its members and bases, its neighbour search
 * when the method interpolates within the class, then the method's draw function. */
static eos_status draw_class(resampling *R, int c, size_t need) {
    const eos_embeddings *in = R->in;
    const eos_resample_method method = R->method;
    size_t m = 0, nb = 0;
    for (size_t i = 0; i < in->n; i++) if (in->labels[i] == c) R->members[m++] = i;
    if (R->needs_global) nb = enemy_bases(R, c, m);
    int within = method == EOS_RESAMPLE_SMOTE || method == EOS_RESAMPLE_BORDERLINE || method == EOS_RESAMPLE_ADASYN;
    if (method == EOS_RESAMPLE_SMOTE) {
        for (size_t t = 0; t < m; t++) R->bases[t] = t;
        nb = m;
    }
    /* within the class: k, or all the class has (imblearn raises below k + 1 rows) */
    int kc = m > 1 ? (int)(m - 1 < (size_t)R->k ? m - 1 : (size_t)R->k) : 0;
    if (method == EOS_RESAMPLE_ROS || nb == 0 || (within && kc < 1)) return draw_copies(R, c, m, need);
    R->rep->eligible[c] = nb;
    for (size_t b = 0; b < nb; b++) R->rep->candidate[R->members[R->bases[b]]] = 1;
    if (within) {
        double t0 = eos__now();
        eos_status st = class_knn(R->rt, in, R->xd, R->members, m, kc, &R->cn);
        R->t_knn += eos__now() - t0;
        if (st != EOS_OK) return st;
    }
    eos_status st;
    if (method == EOS_RESAMPLE_ADASYN) st = draw_adasyn(R, c, nb, kc, need);
    else if (within) st = draw_smote(R, c, nb, kc, need);  /* smote, borderline */
    else st = draw_eos(R, c, nb, need);                    /* eos, eos-ref */
    free(R->cn);
    R->cn = NULL;
    return st;
}

/* the n original rows (n, dim) of xd to the start of out_xd, on the device */
static eos_status copy_originals(eos_runtime_t rt, const eos_tensor *xd, eos_tensor *out_xd, size_t n, size_t dim) {
    EOS_CL_CHECK(clEnqueueCopyBuffer(rt->queue, xd->buf, out_xd->buf, 0, 0, n * dim * sizeof(float), 0, NULL, NULL),
                 "resample: copying %zu rows on the device", n);
    return EOS_OK;
}

/* The balanced set from the draws: rep's counts after and the synthetic rows' origins, then the
 * features, the originals first and the new rows formed in one go: on the device into *out_xd
 * when the input is there, else into *x_out (cl/oversample.cl, or the host's loop when asked
 * for). *t_rows: the seconds that took. */
static eos_status form_output(resampling *R, float **x_out, eos_tensor *out_xd, double *t_rows) {
    eos_runtime_t rt = R->rt;
    const eos_embeddings *in = R->in;
    eos_resample_report *rep = R->rep;
    const rows *r = &R->r;
    size_t n = in->n, dim = in->dim;
    eos_status st = EOS_OK;
    for (size_t i = 0; i < r->n; i++) rep->after[r->y[i]]++;
    rep->synthetic = r->n - n;
    rep->origin = malloc((rep->synthetic ? rep->synthetic : 1) * sizeof *rep->origin);
    rep->partner = malloc((rep->synthetic ? rep->synthetic : 1) * sizeof *rep->partner);
    if (!rep->origin || !rep->partner) return rs_oom(R);
    memcpy(rep->origin, r->from + n, rep->synthetic * sizeof *rep->origin);
    memcpy(rep->partner, r->to + n, rep->synthetic * sizeof *rep->partner);
    double t0 = eos__now();
    if (R->xd) {
        /* the balanced set stays on the device: the originals copied there, the new rows after */
        st = eos_tensor_alloc(rt, out_xd, 2, (size_t[]){r->n, dim});
        if (st == EOS_OK) st = copy_originals(rt, R->xd, out_xd, n, dim);
        if (st == EOS_OK && rep->synthetic)
            st = rows_on_device(rt, R->xd, dim, r->from + n, r->to + n, r->gap + n, rep->synthetic, out_xd, n);
    } else {
        *x_out = malloc((r->n ? r->n : 1) * dim * sizeof **x_out);
        if (!*x_out) return rs_oom(R);
        memcpy(*x_out, in->x, n * dim * sizeof **x_out);
        /* the new rows in one go: on the device unless asked for the host's (the same bits) */
        t0 = eos__now();
        st = eos__oversample_rows(rt && !rt->resample_host_rows ? rt : NULL, in->x, n, dim, r->from + n, r->to + n,
                                  r->gap + n, rep->synthetic, *x_out + n * dim);
    }
    *t_rows = eos__now() - t0;
    return st;
}

/* The common body. given_nbr (n, k), when not NULL, replaces the search over all classes (the
 * test hook); d holds the draws. The steps: the arguments checked, the classes counted (the
 * originals first in the output), the search over all classes where the method needs it, the
 * draws class by class, the rows formed. */
static eos_status resample(eos_runtime_t rt, const eos_embeddings *in, int classes, eos_resample_method method,
                           const eos_resample_config *cfg, const int32_t *given_nbr, draws *d, eos_embeddings *out,
                           eos_resample_report *rep, const eos_tensor *xd, eos_tensor *out_xd) {
    memset(out, 0, sizeof *out);
    memset(rep, 0, sizeof *rep);
    if ((unsigned)method >= NMETHODS) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "resample: method %d", (int)method);
    if (classes < 1 || classes > EOS_MAX_CLASSES)
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "resample: %d classes, expected 1..%d", classes, EOS_MAX_CLASSES);
    int k = cfg->k ? cfg->k : eos_resample_default_k(method);
    int mb = method != EOS_RESAMPLE_BORDERLINE ? 0 : cfg->m ? cfg->m : DEFAULT_M;
    if (k < 1 || k > EOS_KNN_MAX_K)
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "resample: k = %d, expected 0 (the method's default) or 1..%d", k,
                 EOS_KNN_MAX_K);
    if (cfg->m < 0 || cfg->m > EOS_KNN_MAX_K)
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "resample: m = %d, expected 0 (the default, %d) or 1..%d", cfg->m,
                 DEFAULT_M, EOS_KNN_MAX_K);
    size_t dim = in->dim, n = in->n, nmax = 0;
    for (size_t i = 0; i < n; i++)
        if (in->labels[i] < 0 || in->labels[i] >= classes)
            EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "resample: row %zu has label %d, expected 0..%d", i, in->labels[i], classes - 1);
    resampling R;
    memset(&R, 0, sizeof R);
    R.rt = rt;
    R.in = in;
    R.xd = xd;
    R.method = method;
    R.cfg = cfg;
    R.d = d;
    R.rep = rep;
    R.k = k;
    double t_start = eos__now(), t_rows = 0;
    float *x_out = NULL;
    rep->classes = classes;
    rep->k = k;
    rep->m = mb;
    eos_status st = count_classes(&R, classes, &nmax);
    R.needs_global = method == EOS_RESAMPLE_EOS || method == EOS_RESAMPLE_EOS_REF || method == EOS_RESAMPLE_BORDERLINE ||
                     method == EOS_RESAMPLE_ADASYN;
    R.kk = method == EOS_RESAMPLE_BORDERLINE ? mb : k;
    if (st == EOS_OK && R.needs_global) st = global_neighbours(&R, given_nbr);
    if (st == EOS_OK) {
        R.members = malloc((n ? n : 1) * sizeof *R.members);
        R.bases = malloc((n ? n : 1) * sizeof *R.bases);
        R.weight = malloc((n ? n : 1) * sizeof *R.weight);
        R.quota = malloc((n ? n : 1) * sizeof *R.quota);
        if (!R.members || !R.bases || !R.weight || !R.quota) st = rs_oom(&R);
    }
    for (int c = 0; st == EOS_OK && method != EOS_RESAMPLE_NONE && c < classes; c++) {
        size_t need = (cfg->target ? cfg->target[c] : nmax) - rep->before[c];
        if (need > 0) st = draw_class(&R, c, need);
    }
    if (st == EOS_OK && d->bind && d->at != d->n)
        st = eos__error_set(EOS_ERR_INVALID_ARG, __FILE__, __LINE__, NULL, NULL, "resample: %zu draws given, %zu used", d->n,
                            d->at);
    if (st == EOS_OK) st = form_output(&R, &x_out, out_xd, &t_rows);
    if (st == EOS_OK && rt) {
        rt->resample_timing.knn = R.t_knn;
        rt->resample_timing.rows = t_rows;
        rt->resample_timing.draws = eos__now() - t_start - R.t_knn - t_rows;
    }
    if (st == EOS_OK) {
        out->n = R.r.n;
        out->dim = dim;
        out->x = x_out;
        out->labels = R.r.y;
        x_out = NULL;
        R.r.y = NULL;
    }
    free(R.cn); free(R.nbr); free(x_out); free(R.members); free(R.bases); free(R.weight); free(R.quota);
    free(R.r.y);
    free(R.r.from);
    free(R.r.to);
    free(R.r.gap);
    if (st != EOS_OK) {
        eos_resample_report_free(rep);
        if (out_xd) eos_tensor_free(out_xd);
    }
    return st;
}

eos_status eos_resample_with(eos_runtime_t rt, const eos_embeddings *in, int classes, eos_resample_method method,
                             const eos_resample_config *cfg, uint64_t seed, eos_embeddings *out,
                             eos_resample_report *rep) {
    eos_resample_config dflt = eos_resample_defaults();
    draws d;
    memset(&d, 0, sizeof d);
    eos_rng_seed(&d.g, seed, 0x454f53);  /* "EOS" */
    return resample(rt, in, classes, method, cfg ? cfg : &dflt, NULL, &d, out, rep, NULL, NULL);
}

eos_status eos_resample_device(eos_runtime_t rt, const eos_tensor *x, const int32_t *labels, int classes,
                               eos_resample_method method, const eos_resample_config *cfg, uint64_t seed,
                               eos_tensor *out_x, int32_t **out_labels, eos_resample_report *rep) {
    memset(out_x, 0, sizeof *out_x);
    *out_labels = NULL;
    memset(rep, 0, sizeof *rep);
    if (!rt || !x || !x->buf || x->rt != rt || x->ndim != 2 || !labels)
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "resample: expected a 2-d tensor (n, dim) of this runtime and n labels");
    eos_resample_config dflt = eos_resample_defaults();
    eos_embeddings in = {x->shape[0], x->shape[1], (int32_t *)labels, NULL}, out;
    draws d;
    memset(&d, 0, sizeof d);
    eos_rng_seed(&d.g, seed, 0x454f53);  /* "EOS": the same draws as eos_resample_with */
    eos_status st = resample(rt, &in, classes, method, cfg ? cfg : &dflt, NULL, &d, &out, rep, x, out_x);
    if (st == EOS_OK) *out_labels = out.labels;
    return st;
}

eos_status eos_resample(eos_runtime_t rt, const eos_embeddings *in, int classes, eos_resample_method method, int k,
                        uint64_t seed, eos_embeddings *out, eos_resample_report *rep) {
    eos_resample_config cfg = eos_resample_defaults();
    cfg.k = k;
    return eos_resample_with(rt, in, classes, method, &cfg, seed, out, rep);
}

eos_status eos__resample_scripted(const eos_embeddings *in, int classes, eos_resample_method method, int k,
                                  const int32_t *nbr, const uint32_t *bind, const uint32_t *pos, const float *gap,
                                  size_t ndraws, eos_embeddings *out, eos_resample_report *rep) {
    memset(out, 0, sizeof *out);
    memset(rep, 0, sizeof *rep);
    if (method != EOS_RESAMPLE_EOS && method != EOS_RESAMPLE_EOS_REF)
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "resample: given draws are for eos and eos-ref, not %s",
                 eos_resample_name(method));
    if (k < 1 || k > EOS_KNN_MAX_K || (size_t)k > in->n - 1 || !nbr || !bind || !pos || !gap)
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "resample: given neighbours: k = %d for %zu rows", k, in->n);
    for (size_t i = 0; i < in->n * (size_t)k; i++)
        if (nbr[i] < 0 || (size_t)nbr[i] >= in->n || (size_t)nbr[i] == i / (size_t)k)
            EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "resample: given neighbour %zu of row %zu is %d", i % k, i / k, nbr[i]);
    eos_resample_config cfg = eos_resample_defaults();
    cfg.k = k;
    draws d;
    memset(&d, 0, sizeof d);
    d.bind = bind;
    d.pos = pos;
    d.gap = gap;
    d.n = ndraws;
    return resample(NULL, in, classes, method, &cfg, nbr, &d, out, rep, NULL, NULL);
}
