/* The two binary dataset formats: the CIFAR-10 binary release (records of a label byte and
 * 3072 pixel bytes) and IDX files (MNIST / Fashion-MNIST, plain or gzip). Parsers work on
 * memory so the fuzz targets can drive them; every check names the file and the field. */
#include "internal.h"
#include "data_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CIFAR_RECORD 3073u
#define MAX_DATASET_FILE ((size_t)4 << 30)

/* ---- CIFAR-10 ------------------------------------------------------------------------ */

eos_status eos_cifar10_parse(const uint8_t *buf, size_t size, const char *name, eos_split *out) {
    memset(out, 0, sizeof *out);
    if (size == 0 || size % CIFAR_RECORD)
        EOS_FAIL(EOS_ERR_FORMAT, "re-download or re-extract the CIFAR-10 binary release",
                 "%s: %zu bytes is not a whole number of 3073-byte CIFAR-10 records (1 label + 3x32x32 pixels); "
                 "the file is truncated or not CIFAR-10", name, size);
    size_t n = size / CIFAR_RECORD;
    for (size_t i = 0; i < n; i++)
        if (buf[i * CIFAR_RECORD] > 9)
            EOS_FAIL(EOS_ERR_FORMAT, NULL, "%s: record %zu has label %u, expected 0..9", name, i,
                     buf[i * CIFAR_RECORD]);
    out->pixels = malloc(n * 3072);
    out->labels = malloc(n * sizeof *out->labels);
    if (!out->pixels || !out->labels) {
        eos_split_free(out);
        EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "%s: %zu images", name, n);
    }
    for (size_t i = 0; i < n; i++) {
        out->labels[i] = buf[i * CIFAR_RECORD];
        memcpy(out->pixels + i * 3072, buf + i * CIFAR_RECORD + 1, 3072);  /* already (C, H, W) */
    }
    out->n = n;
    return EOS_OK;
}

static eos_status append_split(eos_split *dst, const eos_split *src, size_t image_bytes) {
    uint8_t *p = realloc(dst->pixels, (dst->n + src->n) * image_bytes);
    if (p) dst->pixels = p;
    int32_t *l = realloc(dst->labels, (dst->n + src->n) * sizeof *l);
    if (l) dst->labels = l;
    if (!p || !l) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "growing a split to %zu images", dst->n + src->n);
    memcpy(dst->pixels + dst->n * image_bytes, src->pixels, src->n * image_bytes);
    memcpy(dst->labels + dst->n, src->labels, src->n * sizeof *l);
    dst->n += src->n;
    return EOS_OK;
}

static eos_status load_cifar_file(const char *path, eos_split *into) {
    uint8_t *buf;
    size_t size;
    EOS_TRY(eos__read_file(path, 0, MAX_DATASET_FILE, &buf, &size));
    eos_split part;
    eos_status st = eos_cifar10_parse(buf, size, path, &part);
    free(buf);
    if (st == EOS_OK) st = append_split(into, &part, 3072);
    eos_split_free(&part);
    return st;
}

static const char *k_cifar10_names[10] = {"airplane", "automobile", "bird", "cat", "deer",
                                          "dog", "frog", "horse", "ship", "truck"};

static eos_status set_class_names(eos_dataset *d, int classes, const char *const *names) {
    d->classes = classes;
    d->class_names = calloc((size_t)classes, sizeof *d->class_names);
    if (!d->class_names) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "class names");
    for (int c = 0; c < classes; c++) {
        char num[16];
        snprintf(num, sizeof num, "%d", c);
        if (!(d->class_names[c] = strdup(names ? names[c] : num))) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "class names");
    }
    return EOS_OK;
}

eos_status eos__load_cifar10(const char *dir, eos_dataset *out) {
    eos_status st = EOS_OK;
    char path[2048];
    out->layout = EOS_LAYOUT_CIFAR10_BIN;
    out->channels = 3;
    out->height = out->width = 32;
    for (int b = 1; b <= 5 && st == EOS_OK; b++) {
        snprintf(path, sizeof path, "%s/data_batch_%d.bin", dir, b);
        if (!eos__is_file(path))
            st = eos__error_set(EOS_ERR_IO, __FILE__, __LINE__, NULL,
                                "the CIFAR-10 binary release has data_batch_1.bin .. data_batch_5.bin and test_batch.bin",
                                "CIFAR-10 dataset %s: missing %s", dir, path);
        else st = load_cifar_file(path, &out->train);
    }
    snprintf(path, sizeof path, "%s/test_batch.bin", dir);
    if (st == EOS_OK && !eos__is_file(path))
        st = eos__error_set(EOS_ERR_IO, __FILE__, __LINE__, NULL, NULL, "CIFAR-10 dataset %s: missing %s", dir, path);
    else if (st == EOS_OK) st = load_cifar_file(path, &out->test);
    if (st == EOS_OK) st = set_class_names(out, 10, k_cifar10_names);
    if (st != EOS_OK) eos_dataset_free(out);
    return st;
}

/* ---- IDX ---------------------------------------------------------------------------- */

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

eos_status eos_idx_parse_images(const uint8_t *buf, size_t size, const char *name, eos_split *out, int *height,
                                int *width) {
    memset(out, 0, sizeof *out);
    if (size < 16)
        EOS_FAIL(EOS_ERR_FORMAT, NULL, "%s: %zu bytes is shorter than an IDX image header (16 bytes)", name, size);
    uint32_t magic = be32(buf);
    if (magic != 0x00000803)
        EOS_FAIL(EOS_ERR_FORMAT, NULL,
                 "%s: magic number 0x%08x, expected 0x00000803 (IDX, unsigned bytes, 3 dimensions: images)", name,
                 magic);
    uint32_t n = be32(buf + 4), h = be32(buf + 8), w = be32(buf + 12);
    if (h == 0 || w == 0 || h > 4096 || w > 4096)
        EOS_FAIL(EOS_ERR_FORMAT, NULL, "%s: image size %u x %u, expected 1..4096 on each side", name, h, w);
    size_t need = 16 + (size_t)n * h * w;
    if (size != need)
        EOS_FAIL(EOS_ERR_FORMAT, NULL, "%s: header says %u images of %u x %u (%zu bytes), the file has %zu bytes%s",
                 name, n, h, w, need, size, size < need ? " (truncated)" : "");
    out->pixels = malloc(n ? (size_t)n * h * w : 1);
    out->labels = calloc(n ? n : 1, sizeof *out->labels);
    if (!out->pixels || !out->labels) {
        eos_split_free(out);
        EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "%s: %u images", name, n);
    }
    memcpy(out->pixels, buf + 16, (size_t)n * h * w);
    out->n = n;
    *height = (int)h;
    *width = (int)w;
    return EOS_OK;
}

eos_status eos_idx_parse_labels(const uint8_t *buf, size_t size, const char *name, int32_t **labels, size_t *n) {
    *labels = NULL;
    *n = 0;
    if (size < 8) EOS_FAIL(EOS_ERR_FORMAT, NULL, "%s: %zu bytes is shorter than an IDX label header (8 bytes)", name, size);
    uint32_t magic = be32(buf);
    if (magic != 0x00000801)
        EOS_FAIL(EOS_ERR_FORMAT, NULL,
                 "%s: magic number 0x%08x, expected 0x00000801 (IDX, unsigned bytes, 1 dimension: labels)", name, magic);
    uint32_t count = be32(buf + 4);
    if (size != 8 + (size_t)count)
        EOS_FAIL(EOS_ERR_FORMAT, NULL, "%s: header says %u labels, the file has %zu%s", name, count, size - 8,
                 size - 8 < count ? " (truncated)" : "");
    int32_t *l = malloc((count ? count : 1) * sizeof *l);
    if (!l) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "%s: %u labels", name, count);
    for (uint32_t i = 0; i < count; i++) l[i] = buf[8 + i];
    *labels = l;
    *n = count;
    return EOS_OK;
}

/* Find NAME, NAME.gz or the MNIST mirror spelling (train-images.idx3-ubyte) in dir. */
static eos_status find_idx(const char *dir, const char *stem, const char *dotted, char *path, size_t n, int *gz) {
    const char *cands[4][2] = {{stem, ""}, {stem, ".gz"}, {dotted, ""}, {dotted, ".gz"}};
    for (int i = 0; i < 4; i++) {
        snprintf(path, n, "%s/%s%s", dir, cands[i][0], cands[i][1]);
        if (eos__is_file(path)) {
            *gz = cands[i][1][0] != 0;
            return EOS_OK;
        }
    }
    EOS_FAIL(EOS_ERR_IO, "the IDX layout has train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                         "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each may end in .gz)",
             "IDX dataset %s: missing %s (or %s.gz)", dir, stem, stem);
}

static eos_status load_idx_split(const char *dir, const char *images, const char *images_dotted, const char *labels,
                                 const char *labels_dotted, eos_split *out, int *h, int *w) {
    char ipath[2048], lpath[2048];
    int igz, lgz;
    EOS_TRY(find_idx(dir, images, images_dotted, ipath, sizeof ipath, &igz));
    EOS_TRY(find_idx(dir, labels, labels_dotted, lpath, sizeof lpath, &lgz));
    uint8_t *buf;
    size_t size;
    EOS_TRY(eos__read_file(ipath, igz, MAX_DATASET_FILE, &buf, &size));
    eos_status st = eos_idx_parse_images(buf, size, ipath, out, h, w);
    free(buf);
    EOS_TRY(st);
    st = eos__read_file(lpath, lgz, MAX_DATASET_FILE, &buf, &size);
    int32_t *lab = NULL;
    size_t nl = 0;
    if (st == EOS_OK) {
        st = eos_idx_parse_labels(buf, size, lpath, &lab, &nl);
        free(buf);
    }
    if (st == EOS_OK && nl != out->n)
        st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, NULL, "%s has %zu labels but %s has %zu images",
                            lpath, nl, ipath, out->n);
    if (st != EOS_OK) {
        free(lab);
        eos_split_free(out);
        return st;
    }
    free(out->labels);
    out->labels = lab;
    return EOS_OK;
}

eos_status eos__load_idx(const char *dir, eos_dataset *out) {
    int h, w, th, tw;
    out->layout = EOS_LAYOUT_IDX;
    out->channels = 1;
    eos_status st = load_idx_split(dir, "train-images-idx3-ubyte", "train-images.idx3-ubyte", "train-labels-idx1-ubyte",
                                   "train-labels.idx1-ubyte", &out->train, &h, &w);
    if (st == EOS_OK)
        st = load_idx_split(dir, "t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte", "t10k-labels-idx1-ubyte",
                            "t10k-labels.idx1-ubyte", &out->test, &th, &tw);
    if (st == EOS_OK && (th != h || tw != w))
        st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, NULL,
                            "IDX dataset %s: training images are %d x %d but test images %d x %d", dir, h, w, th, tw);
    int classes = 0;
    for (size_t i = 0; st == EOS_OK && i < out->train.n; i++)
        if (out->train.labels[i] + 1 > classes) classes = out->train.labels[i] + 1;
    for (size_t i = 0; st == EOS_OK && i < out->test.n; i++)
        if (out->test.labels[i] >= classes)
            st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, NULL,
                                "IDX dataset %s: test label %d at position %zu never occurs in training (classes 0..%d)",
                                dir, out->test.labels[i], i, classes - 1);
    if (st == EOS_OK && out->train.n == 0)
        st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, NULL, "IDX dataset %s: no training images", dir);
    if (st == EOS_OK) {
        out->height = h;
        out->width = w;
        st = set_class_names(out, classes, NULL);
    }
    if (st != EOS_OK) eos_dataset_free(out);
    return st;
}
