/* Datasets: layout detection, long-tailed selection (GUIDE section 5), normalisation and the
 * batch loader with pad-and-crop and flip augmentation. The file formats live in
 * data_folder.c (image folders, list files), data_binary.c (CIFAR-10 and CIFAR-100 binary, IDX)
 * and data_mat.c (SVHN's MATLAB files). */
#include "internal.h"
#include "data_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

const char *eos_data_layout_str(eos_data_layout l) {
    switch (l) {
    case EOS_LAYOUT_IMAGE_FOLDER: return "image folders";
    case EOS_LAYOUT_CIFAR10_BIN: return "CIFAR-10 binary";
    case EOS_LAYOUT_IDX: return "IDX (MNIST layout)";
    case EOS_LAYOUT_CIFAR100_BIN: return "CIFAR-100 binary (fine labels)";
    case EOS_LAYOUT_SVHN_MAT: return "SVHN (MATLAB .mat)";
    case EOS_LAYOUT_LIST_FILE: return "list files (path label)";
    default: return "unknown";
    }
}

int eos__is_dir(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int eos__is_file(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

void eos_split_free(eos_split *s) {
    free(s->pixels);
    free(s->labels);
    memset(s, 0, sizeof *s);
}

void eos_dataset_free(eos_dataset *d) {
    if (!d) return;
    eos_split_free(&d->train);
    eos_split_free(&d->test);
    for (int c = 0; d->class_names && c < d->classes; c++) free(d->class_names[c]);
    free(d->class_names);
    memset(d, 0, sizeof *d);
}

eos_status eos_resize_parse(const char *text, int *h, int *w) {
    *h = *w = 0;
    char *end = NULL;
    long a = -1, b = -1;
    if (text && text[0] >= '0' && text[0] <= '9') a = strtol(text, &end, 10);
    if (end && (*end == 'x' || *end == 'X') && end[1] >= '0' && end[1] <= '9') b = strtol(end + 1, &end, 10);
    if (a < 1 || b < 1 || a > 4096 || b > 4096 || !end || *end)
        EOS_FAIL(EOS_ERR_INVALID_ARG, "write it as height x width, e.g. --resize 32x32",
                 "--resize '%s': expected HxW with H and W whole numbers 1..4096", text ? text : "");
    *h = (int)a;
    *w = (int)b;
    return EOS_OK;
}

/* The layout found in path, loaded (before any resize). */
static eos_status load_layout(const char *path, const eos_dataset_options *opt, eos_dataset *out) {
    char probe[2048];
    snprintf(probe, sizeof probe, "%s/data_batch_1.bin", path);
    if (eos__is_file(probe)) return eos__load_cifar10(path, out);
    snprintf(probe, sizeof probe, "%s/cifar-10-batches-bin/data_batch_1.bin", path);
    if (eos__is_file(probe)) {
        snprintf(probe, sizeof probe, "%s/cifar-10-batches-bin", path);
        return eos__load_cifar10(probe, out);
    }
    snprintf(probe, sizeof probe, "%s/train.bin", path);
    if (eos__is_file(probe)) return eos__load_cifar100(path, out);
    snprintf(probe, sizeof probe, "%s/cifar-100-binary/train.bin", path);
    if (eos__is_file(probe)) {
        snprintf(probe, sizeof probe, "%s/cifar-100-binary", path);
        return eos__load_cifar100(probe, out);
    }
    snprintf(probe, sizeof probe, "%s/train_32x32.mat", path);
    if (eos__is_file(probe)) return eos__load_svhn(path, out);
    const char *idx_names[] = {"train-images-idx3-ubyte", "train-images-idx3-ubyte.gz", "train-images.idx3-ubyte"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(probe, sizeof probe, "%s/%s", path, idx_names[i]);
        if (eos__is_file(probe)) return eos__load_idx(path, out);
    }
    /* before the folders: ImageNet-LT's root holds train/ too, as the images' folder */
    snprintf(probe, sizeof probe, "%s/train.txt", path);
    if (eos__is_file(probe)) return eos__load_list(path, opt, out);
    char train[2048], test[2048];
    snprintf(train, sizeof train, "%s/train", path);
    snprintf(test, sizeof test, "%s/test", path);
    if (eos__is_dir(train) || eos__is_dir(test)) {
        if (!eos__is_dir(train)) EOS_FAIL(EOS_ERR_IO, "an image-folder dataset has train/<class>/ and test/<class>/",
                                          "dataset %s has test/ but no train/ folder", path);
        if (!eos__is_dir(test)) EOS_FAIL(EOS_ERR_IO, "an image-folder dataset has train/<class>/ and test/<class>/",
                                         "dataset %s has train/ but no test/ folder", path);
        return eos__load_folders(path, opt, out);
    }
    EOS_FAIL(EOS_ERR_FORMAT,
             "expected one of: train/<class>/ and test/<class>/ image folders; train.txt and test.txt (or val.txt) "
             "list files; CIFAR-10 data_batch_1..5.bin and test_batch.bin; CIFAR-100 train.bin and test.bin; SVHN "
             "train_32x32.mat and test_32x32.mat; IDX train-images-idx3-ubyte[.gz] and companions",
             "cannot tell the layout of dataset %s: it holds no train/ and test/ folders, no train.txt, no CIFAR-10 "
             "or CIFAR-100 .bin files, no SVHN .mat files and no IDX files", path);
}

eos_status eos_dataset_load(const char *path, const eos_dataset_options *opt, eos_dataset *out) {
    memset(out, 0, sizeof *out);
    eos_dataset_options defaults = {0, 0, 0, 0};
    if (!opt) opt = &defaults;
    if (!path || !path[0]) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "no dataset path given");
    if ((opt->resize_h != 0 || opt->resize_w != 0) &&
        (opt->resize_h < 1 || opt->resize_w < 1 || opt->resize_h > 4096 || opt->resize_w > 4096))
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "resize %d x %d: expected 1..4096 on each side (or 0 x 0: keep)",
                 opt->resize_h, opt->resize_w);
    if (!eos__is_dir(path))
        EOS_FAIL(EOS_ERR_IO, "give the folder that holds train/ and test/, train.txt and test.txt, or the CIFAR, "
                 "SVHN or IDX files",
                 "dataset folder %s does not exist or is not a folder", path);
    EOS_TRY(load_layout(path, opt, out));
    /* folders and list files resize while decoding; the fixed-size layouts here, all at once */
    if (opt->resize_h > 0 && (out->height != opt->resize_h || out->width != opt->resize_w)) {
        eos_status st = eos__resize_split(&out->train, out->channels, out->height, out->width, opt->resize_h,
                                          opt->resize_w);
        if (st == EOS_OK)
            st = eos__resize_split(&out->test, out->channels, out->height, out->width, opt->resize_h, opt->resize_w);
        if (st != EOS_OK) {
            eos_dataset_free(out);
            return st;
        }
        out->height = opt->resize_h;
        out->width = opt->resize_w;
    }
    return EOS_OK;
}

/* Every class needs training images: a class with none cannot be learnt and leaves the per-class
 * metrics undefined, so it is refused for every layout. Lists the empty classes as ranges. */
eos_status eos__check_classes(const eos_dataset *d, const char *what, const char *note) {
    size_t *n = calloc((size_t)d->classes ? (size_t)d->classes : 1, sizeof *n);
    if (!n) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "counting the classes of %s", what);
    for (size_t i = 0; i < d->train.n; i++)
        if (d->train.labels[i] >= 0 && d->train.labels[i] < d->classes) n[d->train.labels[i]]++;
    char list[1024];
    size_t off = 0;
    int empty = 0;
    for (int c = 0; c < d->classes; c++) {
        if (n[c]) continue;
        /* a name only where it says more than the number (IDX classes are named "0", "1", ...);
         * runs of unnamed classes as ranges */
        const char *name = d->class_names ? d->class_names[c] : "";
        char num[16], label[96] = "";
        snprintf(num, sizeof num, "%d", c);
        if (name[0] && strcmp(name, num)) snprintf(label, sizeof label, " (%.60s)", name);
        int e = c;
        while (!label[0] && e + 1 < d->classes && !n[e + 1]) e++;
        if (off < sizeof list - 64) {
            if (e > c) off += (size_t)snprintf(list + off, sizeof list - off, "%s%d..%d", empty ? ", " : "", c, e);
            else off += (size_t)snprintf(list + off, sizeof list - off, "%s%d%s", empty ? ", " : "", c, label);
        } else if (off < sizeof list - 4) {
            off += (size_t)snprintf(list + off, sizeof list - off, ", ...");
        }
        empty += e - c + 1;
        c = e;
    }
    free(n);
    if (empty)
        EOS_FAIL(EOS_ERR_FORMAT, "every class 0..C-1 needs at least one training image: add images, or remove the class",
                 "%s (%s): %d of its %d classes have no training images: %s%s", what, eos_data_layout_str(d->layout),
                 empty, d->classes, list, note ? note : "");
    return EOS_OK;
}

/* ---- long-tailed subsets -------------------------------------------------------------- */

eos_status eos_imbalance_parse(const char *text, eos_imbalance *out) {
    out->profile = EOS_IMBALANCE_NONE;
    out->ratio = 1.0;
    if (!text || !strcasecmp(text, "none")) return EOS_OK;
    const char *colon = strchr(text, ':');
    char *end = NULL;
    double r = colon ? strtod(colon + 1, &end) : 0;
    int ok = colon && end && end != colon + 1 && *end == 0 && isfinite(r) && r >= 1.0;
    if (ok && !strncasecmp(text, "exp:", 4)) out->profile = EOS_IMBALANCE_EXP;
    else if (ok && !strncasecmp(text, "step:", 5)) out->profile = EOS_IMBALANCE_STEP;
    else
        EOS_FAIL(EOS_ERR_INVALID_ARG, "write it as exp:100, step:10 or none",
                 "--imbalance '%s': expected none, exp:R or step:R with a ratio R >= 1", text);
    out->ratio = r;
    return EOS_OK;
}

void eos_imbalance_counts(const eos_imbalance *imb, const size_t *available, int classes, size_t *counts) {
    size_t n_max = 0;
    for (int c = 0; c < classes; c++) if (available[c] > n_max) n_max = available[c];
    double factor = 1.0 / imb->ratio;
    for (int c = 0; c < classes; c++) {
        double keep = (double)n_max;
        if (imb->profile == EOS_IMBALANCE_EXP && classes > 1)
            keep = (double)n_max * pow(factor, (double)c / (classes - 1.0));  /* as numpy computes it */
        else if (imb->profile == EOS_IMBALANCE_STEP && c >= classes / 2)
            keep = (double)n_max * factor;
        size_t k = (size_t)floor(keep);
        counts[c] = k < available[c] ? k : available[c];
    }
}

eos_status eos_imbalance_select(const eos_dataset *d, const eos_imbalance *imb, uint64_t seed, size_t **indices,
                                size_t *n, size_t *counts_out) {
    *indices = NULL;
    *n = 0;
    int C = d->classes;
    const eos_split *s = &d->train;
    size_t *avail = calloc((size_t)C, sizeof *avail), *counts = calloc((size_t)C, sizeof *counts);
    size_t *start = calloc((size_t)C + 1, sizeof *start), *pos = malloc((s->n ? s->n : 1) * sizeof *pos);
    unsigned char *keep = calloc(s->n ? s->n : 1, 1);
    size_t *fill = calloc((size_t)C, sizeof *fill);
    eos_status st = EOS_OK;
    if (!avail || !counts || !start || !pos || !keep || !fill) {
        st = eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "long-tail selection of %zu images", s->n);
        goto done;
    }
    for (size_t i = 0; i < s->n; i++) avail[s->labels[i]]++;
    eos_imbalance_counts(imb, avail, C, counts);
    int zero = 0;
    for (int c = 0; c < C; c++) zero += counts[c] == 0;
    for (int c = 0; c < C && st == EOS_OK; c++) {
        if (counts[c]) continue;
        const char *name = d->class_names ? d->class_names[c] : "";
        if (!avail[c]) {
            st = eos__error_set(EOS_ERR_INVALID_ARG, __FILE__, __LINE__, NULL, NULL,
                                "class %d (%s) has no training images to take a long-tailed subset from", c, name);
            break;
        }
        /* the largest ratio that keeps one image of every class (as the formula computes it) */
        size_t n_max = 0;
        for (int k = 0; k < C; k++) if (avail[k] > n_max) n_max = avail[k];
        eos_imbalance t = *imb;
        size_t *tc = malloc((size_t)C * sizeof *tc);
        double best = 1;
        for (double r = (double)n_max; tc && r >= 1; r = r > 2 ? floor(r * 0.9) : r - 1) {
            t.ratio = r;
            eos_imbalance_counts(&t, avail, C, tc);
            int ok = 1;
            for (int k = 0; k < C; k++) ok &= tc[k] > 0;
            if (ok) { best = r; break; }
        }
        free(tc);
        const char *prof = imb->profile == EOS_IMBALANCE_STEP ? "step" : "exp";
        char formula[160];
        if (imb->profile == EOS_IMBALANCE_STEP)
            snprintf(formula, sizeof formula, "floor(%zu / %g) = 0", n_max, imb->ratio);
        else
            snprintf(formula, sizeof formula, "floor(%zu * (1/%g)^(%d/%d)) = 0", n_max, imb->ratio, c, C - 1);
        char hint[200];
        snprintf(hint, sizeof hint, "use a smaller ratio, e.g. --imbalance %s:%g (the largest class has %zu images), or "
                 "a dataset with more images per class", prof, best, n_max);
        char more[64] = "";
        if (zero > 1) snprintf(more, sizeof more, " and %d more class(es) after it", zero - 1);
        st = eos__error_set(EOS_ERR_INVALID_ARG, __FILE__, __LINE__, NULL, hint,
                            "the long-tailed subset %s:%g leaves class %d (%s)%s with no training images: class %d keeps "
                            "%s of its %zu", prof, imb->ratio, c, name, more, c, formula, avail[c]);
    }
    if (st != EOS_OK) goto done;
    /* positions of each class, in dataset order */
    for (int c = 0; c < C; c++) start[c + 1] = start[c] + avail[c];
    for (size_t i = 0; i < s->n; i++) pos[start[s->labels[i]] + fill[s->labels[i]]++] = i;
    eos_rng r;
    eos_rng_seed(&r, seed, 0x4c54);
    size_t total = 0;
    for (int c = 0; c < C; c++) {
        size_t *p = pos + start[c], m = avail[c];
        for (size_t i = m; i > 1; i--) {  /* Fisher-Yates */
            size_t j = eos_rng_below(&r, (uint32_t)i);
            size_t t = p[i - 1]; p[i - 1] = p[j]; p[j] = t;
        }
        for (size_t i = 0; i < counts[c]; i++) keep[p[i]] = 1;
        total += counts[c];
    }
    *indices = malloc((total ? total : 1) * sizeof **indices);
    if (!*indices) {
        st = eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "long-tail index list");
        goto done;
    }
    for (size_t i = 0, k = 0; i < s->n; i++) if (keep[i]) (*indices)[k++] = i;
    *n = total;
    if (counts_out) memcpy(counts_out, counts, (size_t)C * sizeof *counts);
done:
    free(avail); free(counts); free(start); free(pos); free(keep); free(fill);
    return st;
}

/* ---- normalisation and batches -------------------------------------------------------- */

void eos_dataset_normalisation(const eos_dataset *d, float *mean, float *std) {
    static const float cifar_mean[3] = {0.4914f, 0.4822f, 0.4465f}, cifar_std[3] = {0.2023f, 0.1994f, 0.2010f};
    int C = d->channels;
    /* CIFAR-10 in any layout it comes in (binary release, the JPEG folders); SVHN has the same
     * shape and class count but other statistics */
    if (C == 3 && d->height == 32 && d->width == 32 && d->classes == 10 && d->layout != EOS_LAYOUT_SVHN_MAT) {
        memcpy(mean, cifar_mean, sizeof cifar_mean);
        memcpy(std, cifar_std, sizeof cifar_std);
        return;
    }
    size_t plane = (size_t)d->height * d->width;
    for (int c = 0; c < C; c++) {
        double s = 0, s2 = 0;
        for (size_t i = 0; i < d->train.n; i++) {
            const uint8_t *p = d->train.pixels + (i * C + c) * plane;
            for (size_t k = 0; k < plane; k++) { double v = p[k] / 255.0; s += v; s2 += v * v; }
        }
        double cnt = (double)d->train.n * plane;
        double m = cnt > 0 ? s / cnt : 0.0, var = cnt > 0 ? s2 / cnt - m * m : 1.0;
        mean[c] = (float)m;
        std[c] = var > 1e-12 ? (float)sqrt(var) : 1.0f;
    }
}

eos_loader_options eos_loader_defaults(const eos_dataset *d, size_t batch) {
    eos_loader_options o;
    memset(&o, 0, sizeof o);
    o.batch = batch;
    o.pad = 4;
    eos_dataset_normalisation(d, o.mean, o.std);
    return o;
}

eos_status eos_loader_init(eos_loader *L, const eos_dataset *d, const eos_split *split, const size_t *indices,
                           size_t n, const eos_loader_options *opt) {
    memset(L, 0, sizeof *L);
    if (!opt || opt->batch == 0) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "loader: batch size must be at least 1");
    if (opt->pad < 0 || opt->pad > 64) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "loader: padding %d is out of 0..64", opt->pad);
    for (int c = 0; c < d->channels; c++)
        if (!(opt->std[c] > 0)) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "loader: std of channel %d is %g, must be > 0", c, opt->std[c]);
    L->split = split;
    L->channels = d->channels;
    L->height = d->height;
    L->width = d->width;
    L->opt = *opt;
    L->n = indices ? n : split->n;
    L->indices = malloc((L->n ? L->n : 1) * sizeof *L->indices);
    L->order = malloc((L->n ? L->n : 1) * sizeof *L->order);
    if (!L->indices || !L->order) {
        eos_loader_free(L);
        EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "loader index of %zu images", n);
    }
    for (size_t i = 0; i < L->n; i++) {
        L->indices[i] = indices ? indices[i] : i;
        if (L->indices[i] >= split->n) {
            size_t bad = L->indices[i];
            eos_loader_free(L);
            EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "loader: index %zu is past the split's %zu images", bad, split->n);
        }
    }
    if (opt->class_weights) {
        L->cum = malloc((L->n ? L->n : 1) * sizeof *L->cum);
        if (!L->cum) {
            eos_loader_free(L);
            EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "loader sampling weights");
        }
        double acc = 0;
        for (size_t i = 0; i < L->n; i++) {
            float w = opt->class_weights[split->labels[L->indices[i]]];
            if (!(w >= 0)) {
                eos_loader_free(L);
                EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "loader: class weight %g is negative", w);
            }
            L->cum[i] = acc += w;
        }
        if (!(acc > 0)) {
            eos_loader_free(L);
            EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "loader: the class weights of the images sum to 0");
        }
    }
    L->opt.class_weights = NULL;  /* not kept: the caller's array may go */
    eos_loader_start_epoch(L, 0);
    return EOS_OK;
}

void eos_loader_start_epoch(eos_loader *L, unsigned epoch) {
    eos_rng_seed(&L->rng, L->opt.seed, epoch);
    if (L->cum) {  /* class-balanced: with replacement */
        double total = L->cum[L->n - 1];
        for (size_t k = 0; k < L->n; k++) {
            double u = (double)eos_rng_u32(&L->rng) / 4294967296.0 * total;
            size_t lo = 0, hi = L->n - 1;
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (L->cum[mid] > u) hi = mid;
                else lo = mid + 1;
            }
            L->order[k] = L->indices[lo];
        }
        L->pos = 0;
        return;
    }
    memcpy(L->order, L->indices, L->n * sizeof *L->order);
    if (L->opt.shuffle)
        for (size_t i = L->n; i > 1; i--) {
            size_t j = eos_rng_below(&L->rng, (uint32_t)i);
            size_t t = L->order[i - 1]; L->order[i - 1] = L->order[j]; L->order[j] = t;
        }
    L->pos = 0;
}

size_t eos_loader_batches(const eos_loader *L) {
    size_t b = L->opt.batch;
    return L->opt.drop_last ? L->n / b : (L->n + b - 1) / b;
}

size_t eos_loader_next(eos_loader *L, float *x, int32_t *y) {
    size_t lo, n;
    return eos__loader_next_shard(L, x, y, 0, 1, &lo, &n);
}

/* Every row's augmentation draws are made, in order, so each rank's generator stays the one
 * process's; only rows [lo, lo + n) are decoded, into x and y from their first row. */
size_t eos__loader_next_shard(eos_loader *L, float *x, int32_t *y, int rank, int ranks, size_t *lo, size_t *n) {
    size_t left = L->n - L->pos, B = left < L->opt.batch ? left : L->opt.batch;
    *lo = *n = 0;
    if (B == 0 || (L->opt.drop_last && B < L->opt.batch)) return 0;
    size_t first = (size_t)rank * B / (size_t)ranks, end = (size_t)(rank + 1) * B / (size_t)ranks;
    *lo = first;
    *n = end - first;
    int C = L->channels, H = L->height, W = L->width, pad = L->opt.augment ? L->opt.pad : 0;
    size_t plane = (size_t)H * W;
    for (size_t b = 0; b < B; b++) {
        size_t img = L->order[L->pos + b];
        const uint8_t *src = L->split->pixels + img * C * plane;
        int ox = 0, oy = 0, flip = 0;  /* crop offset into the padded image, minus pad */
        if (L->opt.augment) {
            ox = (int)eos_rng_below(&L->rng, (uint32_t)(2 * pad + 1)) - pad;
            oy = (int)eos_rng_below(&L->rng, (uint32_t)(2 * pad + 1)) - pad;
            flip = (int)eos_rng_below(&L->rng, 2);
        }
        if (b < first || b >= end) continue;  /* another rank's row */
        y[b - first] = L->split->labels[img];
        for (int c = 0; c < C; c++) {
            float scale = 1.0f / (255.0f * L->opt.std[c]), shift = -L->opt.mean[c] / L->opt.std[c];
            float *dst = x + ((b - first) * C + c) * plane;
            const uint8_t *sp = src + c * plane;
            for (int i = 0; i < H; i++) {
                int si = i + oy;
                for (int j = 0; j < W; j++) {
                    int sj = (flip ? W - 1 - j : j) + ox;
                    /* outside the image is the zero padding, normalised like any pixel */
                    float v = (si >= 0 && si < H && sj >= 0 && sj < W) ? sp[si * W + sj] : 0.0f;
                    dst[i * W + j] = v * scale + shift;
                }
            }
        }
    }
    L->pos += B;
    return B;
}

size_t eos_loader_skip(eos_loader *L, size_t batches) {
    size_t done = 0;
    while (done < batches) {
        size_t left = L->n - L->pos, B = left < L->opt.batch ? left : L->opt.batch;
        if (B == 0 || (L->opt.drop_last && B < L->opt.batch)) break;
        if (L->opt.augment)  /* the same draws eos_loader_next makes, in the same order */
            for (size_t b = 0; b < B; b++) {
                eos_rng_below(&L->rng, (uint32_t)(2 * L->opt.pad + 1));
                eos_rng_below(&L->rng, (uint32_t)(2 * L->opt.pad + 1));
                eos_rng_below(&L->rng, 2);
            }
        L->pos += B;
        done++;
    }
    return done;
}

void eos_loader_free(eos_loader *L) {
    free(L->cum);
    free(L->order);
    free(L->indices);
    memset(L, 0, sizeof *L);
}
