/* Pixel-space re-balancing of a training list (include/eos/data.h): the paper's "pre-processing"
 * baselines, random over-sampling and SMOTE on flattened images, which cost a whole retraining
 * where EOS re-balances embeddings. Neighbours come from the device kNN, re-ranked exactly here. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *k_pixel_names[] = {"none", "pixel-ros", "pixel-smote"};

eos_status eos_pixel_method_parse(const char *name, eos_pixel_method *out) {
    for (int i = 0; i < 3; i++)
        if (name && !strcasecmp(name, k_pixel_names[i])) {
            *out = (eos_pixel_method)i;
            return EOS_OK;
        }
    EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "unknown pixel re-balancing '%s': expected pixel-ros, pixel-smote or none",
             name ? name : "");
}

const char *eos_pixel_method_name(eos_pixel_method m) { return (unsigned)m < 3 ? k_pixel_names[m] : "?"; }

void eos_pixel_report_free(eos_pixel_report *rep) {
    if (!rep) return;
    free(rep->before);
    free(rep->after);
    free(rep->fallback);
    free(rep->base);
    free(rep->other);
    free(rep->gap);
    memset(rep, 0, sizeof *rep);
}

/* Exact squared distance of two uint8 images: at most 255^2 x the image size, which float
 * cannot hold exactly beyond 2^24 (258 pixels), hence the re-ranking in integers. */
static uint64_t dist2_u8(const uint8_t *a, const uint8_t *b, size_t len) {
    uint64_t s = 0;
    for (size_t j = 0; j < len; j++) {
        int d = (int)a[j] - (int)b[j];
        s += (uint64_t)(d * d);
    }
    return s;
}

typedef struct {
    uint64_t d2;
    int32_t t;  /* member number within the class */
} cand;

static int cand_cmp(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->d2 != y->d2) return x->d2 < y->d2 ? -1 : 1;
    return (x->t > y->t) - (x->t < y->t);
}

/* The kc exact nearest of every member among the others (nbr (m, kc), member numbers).
 * The device proposes kq >= kc candidates in float on centred pixels (centring keeps the
 * |q|^2 + |r|^2 - 2 q.r expansion's cancellation small); the host keeps the kc nearest by
 * integer distance. The true kc nearest fall outside the kq proposed only if float error
 * reorders more than kq - kc points around the kc-th distance, i.e. a dozen images within
 * rounding of one distance. */
static eos_status class_neighbours(eos_runtime_t rt, const uint8_t *pix, size_t len, const size_t *members, size_t m,
                                   int kc, int32_t *nbr) {
    int kq = 2 * kc > kc + 8 ? 2 * kc : kc + 8;
    if (kq > EOS_KNN_MAX_K) kq = EOS_KNN_MAX_K;
    if ((size_t)kq > m - 1) kq = (int)(m - 1);
    float *x = malloc(m * len * sizeof *x);
    double *mean = calloc(len, sizeof *mean);
    int32_t *prop = malloc(m * (size_t)kq * sizeof *prop);
    cand *c = malloc((size_t)kq * sizeof *c);
    eos_status st = EOS_OK;
    if (!x || !mean || !prop || !c) {
        st = eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL,
                            "pixel SMOTE: neighbours of %zu images of %zu values", m, len);
        goto done;
    }
    for (size_t t = 0; t < m; t++)
        for (size_t j = 0; j < len; j++) mean[j] += pix[members[t] * len + j];
    for (size_t j = 0; j < len; j++) mean[j] /= (double)m;
    for (size_t t = 0; t < m; t++)
        for (size_t j = 0; j < len; j++) x[t * len + j] = (float)(pix[members[t] * len + j] - mean[j]);
    if ((st = eos_knn(rt, x, m, x, m, (int)len, kq, 1, prop, NULL)) != EOS_OK) goto done;
    for (size_t t = 0; t < m; t++) {
        const uint8_t *q = pix + members[t] * len;
        for (int j = 0; j < kq; j++) {
            c[j].t = prop[t * (size_t)kq + (size_t)j];
            c[j].d2 = dist2_u8(q, pix + members[c[j].t] * len, len);
        }
        qsort(c, (size_t)kq, sizeof *c, cand_cmp);
        for (int j = 0; j < kc; j++) nbr[t * (size_t)kc + (size_t)j] = c[j].t;
    }
done:
    free(x);
    free(mean);
    free(prop);
    free(c);
    return st;
}

/* The method, k, the device, the classes, the image size and every list entry (n of them, or
 * the whole training split when idx is NULL). */
static eos_status check_request(eos_runtime_t rt, const eos_dataset *d, const size_t *idx, size_t n,
                                eos_pixel_method method, int k) {
    if ((unsigned)method > EOS_PIXEL_SMOTE)
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "pixel re-balancing: unknown method %d", (int)method);
    if (method == EOS_PIXEL_SMOTE && (k < 1 || k > EOS_KNN_MAX_K))
        EOS_FAIL(EOS_ERR_INVALID_ARG, "imbalanced-learn's default is 5", "pixel SMOTE: k = %d, expected 1..%d", k,
                 EOS_KNN_MAX_K);
    if (method == EOS_PIXEL_SMOTE && !rt)
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "pixel SMOTE needs a device for its neighbour search (rt is NULL)");
    int C = d->classes;
    if (C < 1 || C > EOS_MAX_CLASSES)
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "pixel re-balancing: %d classes, expected 1..%d", C, EOS_MAX_CLASSES);
    const eos_split *s = &d->train;
    if (n == 0) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "pixel re-balancing: no training images in the list");
    if (n > 0x7fffffff) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "pixel re-balancing: %zu images, at most 2^31 - 1", n);
    if ((size_t)d->channels * (size_t)d->height * (size_t)d->width == 0)
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "pixel re-balancing: images of %d x %d x %d", d->channels, d->height,
                 d->width);
    for (size_t i = 0; i < n; i++) {
        size_t p = idx ? idx[i] : i;
        if (p >= s->n)
            EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "pixel re-balancing: list entry %zu is image %zu, past the %zu training images",
                     i, p, s->n);
        if (s->labels[p] < 0 || s->labels[p] >= C)
            EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "pixel re-balancing: training image %zu has label %d, expected 0..%d", p,
                     s->labels[p], C - 1);
    }
    return EOS_OK;
}

/* x = xb + r (xo - xb), rounded, per pixel value */
static void interpolate(const uint8_t *xb, const uint8_t *xo, float r, size_t len, uint8_t *x) {
    for (size_t j = 0; j < len; j++) {
        /* between the two values, so within 0..255; the clamp only guards rounding */
        float v = floorf((float)xb[j] + r * (float)((int)xo[j] - (int)xb[j]) + 0.5f);
        x[j] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}

/* d's description, class names and test split into out (0 when out of memory: the caller
 * frees out) */
static int describe_output(const eos_dataset *d, size_t len, eos_dataset *out) {
    out->layout = d->layout;
    out->classes = d->classes;
    out->channels = d->channels;
    out->height = d->height;
    out->width = d->width;
    out->skipped = d->skipped;
    if (d->class_names) {
        out->class_names = calloc((size_t)d->classes, sizeof *out->class_names);
        if (!out->class_names) return 0;
        for (int c = 0; c < d->classes; c++) {
            const char *nm = d->class_names[c] ? d->class_names[c] : "";
            if (!(out->class_names[c] = malloc(strlen(nm) + 1))) return 0;
            strcpy(out->class_names[c], nm);
        }
    }
    if (d->test.n) {
        out->test.n = d->test.n;
        out->test.pixels = malloc(d->test.n * len);
        out->test.labels = malloc(d->test.n * sizeof *out->test.labels);
        if (!out->test.pixels || !out->test.labels) return 0;
        memcpy(out->test.pixels, d->test.pixels, d->test.n * len);
        memcpy(out->test.labels, d->test.labels, d->test.n * sizeof *out->test.labels);
    }
    return 1;
}

/* One way out: every buffer NULL until allocated, freed once at done:, out and report zeroed
 * on failure, so a caller never sees half a result. */
eos_status eos_dataset_resample_pixels(eos_runtime_t rt, const eos_dataset *d, const size_t *idx, size_t n,
                                       eos_pixel_method method, int k, uint64_t seed, eos_dataset *out,
                                       size_t **out_idx, size_t *out_n, eos_pixel_report *report) {
    if (out) memset(out, 0, sizeof *out);
    if (out_idx) *out_idx = NULL;
    if (out_n) *out_n = 0;
    eos_pixel_report local, *rep = report ? report : &local;
    memset(rep, 0, sizeof *rep);
    if (!d || !out || !out_idx || !out_n)
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "pixel re-balancing: the dataset, out, out_idx and out_n are required");
    const eos_split *s = &d->train;
    if (!idx) n = s->n;
    EOS_TRY(check_request(rt, d, idx, n, method, k));
    int C = d->classes;
    size_t len = (size_t)d->channels * (size_t)d->height * (size_t)d->width;

    eos_status st = EOS_OK;
    size_t *start = NULL, *members = NULL, *list = NULL, *fillpos = NULL;
    int32_t *nbr = NULL;
    uint8_t *pix = NULL;
    int32_t *lab = NULL;
    rep->classes = C;
    rep->before = calloc((size_t)C, sizeof *rep->before);
    rep->after = calloc((size_t)C, sizeof *rep->after);
    rep->fallback = calloc((size_t)C, sizeof *rep->fallback);
    start = calloc((size_t)C + 1, sizeof *start);
    members = malloc(n * sizeof *members);
    fillpos = calloc((size_t)C, sizeof *fillpos);
    if (!rep->before || !rep->after || !rep->fallback || !start || !members || !fillpos) goto oom;

    /* the list's images per class, in list order: members[start[c] .. start[c + 1]) are list
     * positions 0..n-1 (= positions in out->train) */
    for (size_t i = 0; i < n; i++) rep->before[s->labels[idx ? idx[i] : i]]++;
    size_t nmax = 0;
    for (int c = 0; c < C; c++) {
        if (rep->before[c] == 0) {
            const char *name = d->class_names && d->class_names[c] ? d->class_names[c] : "";
            st = eos__error_set(EOS_ERR_INVALID_ARG, __FILE__, __LINE__, NULL,
                                "there is nothing to copy or interpolate from: give a list with every class",
                                "pixel re-balancing: class %d%s%s%s has no image in the training list of %zu", c,
                                name[0] ? " (" : "", name, name[0] ? ")" : "", n);
            goto done;
        }
        if (rep->before[c] > nmax) nmax = rep->before[c];
        start[c + 1] = start[c] + rep->before[c];
    }
    for (size_t i = 0; i < n; i++) {
        int c = s->labels[idx ? idx[i] : i];
        members[start[c] + fillpos[c]++] = i;
    }
    size_t added = 0, made = 0;
    if (method != EOS_PIXEL_NONE)
        for (int c = 0; c < C; c++) {
            size_t need = nmax - rep->before[c];
            added += need;
            if (method == EOS_PIXEL_SMOTE && rep->before[c] > 1) made += need;
        }
    if (n + added < n || n + made < n || (n + made) > SIZE_MAX / len) goto oom;
    list = malloc((n + added) * sizeof *list);
    pix = malloc((n + made) * len);
    lab = malloc((n + made) * sizeof *lab);
    if (added) {
        rep->base = malloc(added * sizeof *rep->base);
        rep->other = malloc(added * sizeof *rep->other);
        rep->gap = malloc(added * sizeof *rep->gap);
        if (!rep->base || !rep->other || !rep->gap) goto oom;
    }
    if (!list || !pix || !lab) goto oom;
    for (size_t i = 0; i < n; i++) {
        size_t p = idx ? idx[i] : i;
        memcpy(pix + i * len, s->pixels + p * len, len);
        lab[i] = s->labels[p];
        list[i] = i;
    }

    eos_rng g;
    eos_rng_seed(&g, seed, 0x504958);  /* "PIX" */
    size_t a = 0, next = n;  /* entries added so far; the next new image's position */
    for (int c = 0; method != EOS_PIXEL_NONE && c < C; c++) {
        size_t m = rep->before[c], need = nmax - m;
        const size_t *mem = members + start[c];
        if (need == 0) continue;
        int kc = m - 1 < (size_t)k ? (int)(m - 1) : k;
        if (method == EOS_PIXEL_ROS || kc < 1) {
            /* ROS, or SMOTE on a class of one image: repeats of the list's own entries */
            if (method == EOS_PIXEL_SMOTE) rep->fallback[c] = 1;
            for (size_t q = 0; q < need; q++, a++) {
                size_t t = mem[eos_rng_below(&g, (uint32_t)m)];
                list[n + a] = t;
                rep->base[a] = rep->other[a] = idx ? idx[t] : t;
                rep->gap[a] = 0;
            }
            continue;
        }
        nbr = malloc(m * (size_t)kc * sizeof *nbr);
        if (!nbr) goto oom;
        /* pix holds the list's images at positions 0..n-1: the class's members index it directly */
        if ((st = class_neighbours(rt, pix, len, mem, m, kc, nbr)) != EOS_OK) goto done;
        for (size_t q = 0; q < need; q++, a++) {
            uint32_t t = eos_rng_below(&g, (uint32_t)m);
            size_t b = mem[t], o = mem[nbr[t * (size_t)kc + eos_rng_below(&g, (uint32_t)kc)]];
            float r = eos_rng_uniform(&g);
            interpolate(pix + b * len, pix + o * len, r, len, pix + next * len);
            lab[next] = c;
            list[n + a] = next++;
            rep->base[a] = idx ? idx[b] : b;
            rep->other[a] = idx ? idx[o] : o;
            rep->gap[a] = r;
        }
        free(nbr);
        nbr = NULL;
    }
    for (size_t i = 0; i < n + added; i++) rep->after[lab[list[i]]]++;
    rep->added = added;
    rep->made = made;

    /* the output dataset: d's description and test split, the new training split */
    out->train.n = n + made;
    out->train.pixels = pix;
    out->train.labels = lab;
    pix = NULL;
    lab = NULL;
    if (!describe_output(d, len, out)) goto oom;
    *out_idx = list;
    *out_n = n + added;
    list = NULL;
    goto done;
oom:
    st = eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL,
                        "a smaller training list, or pixel-ros (whose copies take no memory)",
                        "pixel re-balancing: %zu images of %d x %d x %d", n, d->channels, d->height, d->width);
done:
    free(start);
    free(members);
    free(fillpos);
    free(nbr);
    free(pix);
    free(lab);
    free(list);
    if (st != EOS_OK) {
        eos_dataset_free(out);
        eos_pixel_report_free(rep);
    } else if (rep == &local) {
        eos_pixel_report_free(rep);
    }
    return st;
}
