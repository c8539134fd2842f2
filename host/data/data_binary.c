/* The binary dataset formats: the CIFAR-10 binary release (records of a label byte and 3072
 * pixel bytes), the CIFAR-100 one (a coarse and a fine label byte, then the pixels) and IDX files (MNIST / Fashion-MNIST, plain or gzip). Parsers work on
 * memory so the fuzz targets can drive them; every check names the file and the field. A gzip
 * IDX is inflated header first: never more than the size its header declares (no gzip bombs). */
#include "internal.h"
#include "data_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

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

/* ---- CIFAR-100 ----------------------------------------------------------------------- */

#define CIFAR100_RECORD 3074u

eos_status eos_cifar100_parse(const uint8_t *buf, size_t size, const char *name, eos_split *out) {
    memset(out, 0, sizeof *out);
    if (size == 0 || size % CIFAR100_RECORD)
        EOS_FAIL(EOS_ERR_FORMAT, "re-download or re-extract the CIFAR-100 binary release (cifar-100-binary.tar.gz)",
                 "%s: %zu bytes is not a whole number of 3074-byte CIFAR-100 records (coarse label + fine label + "
                 "3x32x32 pixels)%s", name, size,
                 size % CIFAR_RECORD == 0 && size ? "; its size fits CIFAR-10 records: is it a CIFAR-10 file?"
                                                  : "; the file is truncated or not CIFAR-100");
    size_t n = size / CIFAR100_RECORD;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *r = buf + i * CIFAR100_RECORD;
        if (r[0] > 19)
            EOS_FAIL(EOS_ERR_FORMAT, "the file is damaged or not CIFAR-100: re-download it",
                     "%s: record %zu (byte %zu) has coarse label %u, expected 0..19", name, i, i * CIFAR100_RECORD, r[0]);
        if (r[1] > 99)
            EOS_FAIL(EOS_ERR_FORMAT, "the file is damaged or not CIFAR-100: re-download it",
                     "%s: record %zu (byte %zu) has fine label %u, expected 0..99", name, i, i * CIFAR100_RECORD + 1,
                     r[1]);
    }
    out->pixels = malloc(n * 3072);
    out->labels = malloc(n * sizeof *out->labels);
    if (!out->pixels || !out->labels) {
        eos_split_free(out);
        EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "%s: %zu images", name, n);
    }
    for (size_t i = 0; i < n; i++) {
        out->labels[i] = buf[i * CIFAR100_RECORD + 1];
        memcpy(out->pixels + i * 3072, buf + i * CIFAR100_RECORD + 2, 3072);
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

static eos_status load_cifar_file(const char *path, eos_split *into, int hundred) {
    uint8_t *buf;
    size_t size;
    EOS_TRY(eos__read_file(path, 0, MAX_DATASET_FILE, &buf, &size));
    eos_split part;
    eos_status st = hundred ? eos_cifar100_parse(buf, size, path, &part) : eos_cifar10_parse(buf, size, path, &part);
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
        else st = load_cifar_file(path, &out->train, 0);
    }
    snprintf(path, sizeof path, "%s/test_batch.bin", dir);
    if (st == EOS_OK && !eos__is_file(path))
        st = eos__error_set(EOS_ERR_IO, __FILE__, __LINE__, NULL, NULL, "CIFAR-10 dataset %s: missing %s", dir, path);
    else if (st == EOS_OK) st = load_cifar_file(path, &out->test, 0);
    if (st == EOS_OK) st = set_class_names(out, 10, k_cifar10_names);
    if (st == EOS_OK) {
        char what[2100];
        snprintf(what, sizeof what, "%s/data_batch_1..5.bin", dir);
        st = eos__check_classes(out, what, NULL);
    }
    if (st != EOS_OK) eos_dataset_free(out);
    return st;
}

/* The fine label names of the release's fine_label_names.txt, in label order. */
static const char *const k_cifar100_names[100] = {
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
    "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
    "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
    "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
    "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain",
    "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket",
    "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
    "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor",
    "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm"};

eos_status eos__load_cifar100(const char *dir, eos_dataset *out) {
    eos_status st = EOS_OK;
    char path[2048];
    out->layout = EOS_LAYOUT_CIFAR100_BIN;
    out->channels = 3;
    out->height = out->width = 32;
    const char *files[2] = {"train.bin", "test.bin"};
    eos_split *splits[2] = {&out->train, &out->test};
    for (int k = 0; k < 2 && st == EOS_OK; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[k]);
        if (!eos__is_file(path))
            st = eos__error_set(EOS_ERR_IO, __FILE__, __LINE__, NULL,
                                "the CIFAR-100 binary release (cifar-100-binary/) has train.bin and test.bin",
                                "CIFAR-100 dataset %s: missing %s", dir, path);
        else st = load_cifar_file(path, splits[k], 1);
    }
    if (st == EOS_OK) st = set_class_names(out, 100, k_cifar100_names);
    if (st == EOS_OK) {
        snprintf(path, sizeof path, "%s/train.bin", dir);
        st = eos__check_classes(out, path, NULL);
    }
    if (st != EOS_OK) eos_dataset_free(out);
    return st;
}

/* ---- IDX ---------------------------------------------------------------------------- */

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The 16-byte image header: magic, count, rows, columns; *need = the whole file's size. */
static eos_status images_header(const uint8_t *buf, size_t size, const char *name, size_t *need) {
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
    *need = 16 + (size_t)n * h * w;
    return EOS_OK;
}

/* The 8-byte label header: magic, count. */
static eos_status labels_header(const uint8_t *buf, size_t size, const char *name, size_t *need) {
    if (size < 8) EOS_FAIL(EOS_ERR_FORMAT, NULL, "%s: %zu bytes is shorter than an IDX label header (8 bytes)", name, size);
    uint32_t magic = be32(buf);
    if (magic != 0x00000801)
        EOS_FAIL(EOS_ERR_FORMAT, NULL,
                 "%s: magic number 0x%08x, expected 0x00000801 (IDX, unsigned bytes, 1 dimension: labels)", name, magic);
    *need = 8 + (size_t)be32(buf + 4);
    return EOS_OK;
}

eos_status eos_idx_parse_images(const uint8_t *buf, size_t size, const char *name, eos_split *out, int *height,
                                int *width) {
    memset(out, 0, sizeof *out);
    size_t need = 0;
    EOS_TRY(images_header(buf, size, name, &need));
    uint32_t n = be32(buf + 4), h = be32(buf + 8), w = be32(buf + 12);
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
    size_t need = 0;
    EOS_TRY(labels_header(buf, size, name, &need));
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

/* ---- gzip IDX, header first ------------------------------------------------------------ */

/* Deflate never expands more than 1032:1, so a stream of gz_size bytes cannot hold more. */
#define DEFLATE_MAX_RATIO 1032u

typedef eos_status (*header_fn)(const uint8_t *buf, size_t size, const char *name, size_t *need);

/* Inflate into dst[*len .. want) from the stream; stops at want or at the end of the data.
 * Concatenated gzip members are read on as gzread would; bytes after the last member that
 * are not another member are ignored, as gzread ignores them. */
static eos_status inflate_some(z_stream *z, size_t *left, int *ended, uint8_t *dst, size_t want, size_t *len,
                               const char *name) {
    while (*len < want && !*ended) {
        if (z->avail_in == 0 && *left > 0) {  /* zlib counts input in uInt: hand it over in pieces */
            z->avail_in = *left < (1u << 30) ? (uInt)*left : (1u << 30);
            *left -= z->avail_in;
        }
        size_t room = want - *len;
        z->next_out = dst + *len;
        z->avail_out = room < (1u << 30) ? (uInt)room : (1u << 30);
        int r = inflate(z, Z_NO_FLUSH);
        *len = (size_t)(z->next_out - dst);
        if (r == Z_STREAM_END) {
            if (z->avail_in < 2 && *left > 0) {  /* the input is one block: extend the window over it */
                uInt more = *left < (1u << 30) ? (uInt)*left : (1u << 30);
                z->avail_in += more;
                *left -= more;
            }
            if (z->avail_in >= 2 && z->next_in[0] == 0x1f && z->next_in[1] == 0x8b) {
                if (inflateReset(z) != Z_OK) EOS_FAIL(EOS_ERR_FORMAT, NULL, "%s: cannot restart the gzip stream", name);
            } else {
                *ended = 1;
            }
        } else if (r == Z_BUF_ERROR && z->avail_in == 0 && *left == 0) {
            *ended = 2;  /* the input ran out inside a member: truncated */
        } else if (r != Z_OK) {
            EOS_FAIL(EOS_ERR_FORMAT, "re-download the file", "%s is not a valid gzip file or is damaged: %s", name,
                     z->msg ? z->msg : "inflate failed");
        }
    }
    return EOS_OK;
}

/* Inflate an IDX gzip file in memory: the header first (hdr bytes, checked by check), then
 * exactly the size it declares. Never inflates more than that plus one byte. */
static eos_status idx_gunzip(const uint8_t *gz, size_t gz_size, const char *name, size_t hdr, header_fn check,
                             uint8_t **out, size_t *out_size) {
    *out = NULL;
    *out_size = 0;
    if (gz_size < 2 || gz[0] != 0x1f || gz[1] != 0x8b) {  /* not gzip at all: read as it is, as gzread does */
        size_t need;
        EOS_TRY(check(gz, gz_size, name, &need));
        uint8_t *b = malloc(gz_size ? gz_size : 1);
        if (!b) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "%s: %zu bytes", name, gz_size);
        memcpy(b, gz, gz_size);
        *out = b;
        *out_size = gz_size;
        return EOS_OK;
    }
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "%s: starting zlib", name);
    z.next_in = (Bytef *)(uintptr_t)gz;
    size_t left = gz_size;
    uint8_t head[16], *b = NULL;
    size_t len = 0, need = 0;
    int ended = 0;
    eos_status st = inflate_some(&z, &left, &ended, head, hdr, &len, name);
    if (st == EOS_OK) st = check(head, len, name, &need);  /* names a short header as such */
    if (st == EOS_OK && (need > MAX_DATASET_FILE || need / DEFLATE_MAX_RATIO > gz_size))
        st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, "the file is damaged or not IDX: re-download it",
                            "%s: the header declares %zu bytes, more than %s (%zu bytes compressed)", name, need,
                            need > MAX_DATASET_FILE ? "a dataset file may hold (4 GiB)" : "this gzip file can hold",
                            gz_size);
    if (st == EOS_OK && !(b = malloc(need)))
        st = eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "%s: %zu bytes", name, need);
    if (st == EOS_OK) {
        memcpy(b, head, hdr);
        st = inflate_some(&z, &left, &ended, b, need, &len, name);
    }
    if (st == EOS_OK && len < need)
        st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, "re-download the file",
                            "%s: the header declares %zu bytes, the gzip stream ends after %zu (truncated%s)", name, need,
                            len, ended == 2 ? "" : " data");
    if (st == EOS_OK) {  /* one byte more: the stream must end here, and its checksum be right */
        uint8_t extra;
        size_t got = 0;
        st = inflate_some(&z, &left, &ended, &extra, 1, &got, name);
        if (st == EOS_OK && got)
            st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, "the file is damaged or not IDX: re-download it",
                                "%s holds more data than its header declares (%zu bytes): stopped reading there", name,
                                need);
        else if (st == EOS_OK && ended == 2)
            st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, "re-download the file",
                                "%s: the gzip stream is truncated or damaged", name);
    }
    inflateEnd(&z);
    if (st != EOS_OK) {
        free(b);
        return st;
    }
    *out = b;
    *out_size = need;
    return EOS_OK;
}

eos_status eos_idx_parse_images_gz(const uint8_t *gz, size_t size, const char *name, eos_split *out, int *height,
                                   int *width) {
    memset(out, 0, sizeof *out);
    uint8_t *buf;
    size_t n;
    EOS_TRY(idx_gunzip(gz, size, name, 16, images_header, &buf, &n));
    eos_status st = eos_idx_parse_images(buf, n, name, out, height, width);
    free(buf);
    return st;
}

eos_status eos_idx_parse_labels_gz(const uint8_t *gz, size_t size, const char *name, int32_t **labels, size_t *count) {
    *labels = NULL;
    *count = 0;
    uint8_t *buf;
    size_t n;
    EOS_TRY(idx_gunzip(gz, size, name, 8, labels_header, &buf, &n));
    eos_status st = eos_idx_parse_labels(buf, n, name, labels, count);
    free(buf);
    return st;
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

/* One split; ipath and lpath (2048 bytes each) get the paths of its files. */
static eos_status load_idx_split(const char *dir, const char *images, const char *images_dotted, const char *labels,
                                 const char *labels_dotted, eos_split *out, int *h, int *w, char *ipath, char *lpath) {
    int igz, lgz;
    EOS_TRY(find_idx(dir, images, images_dotted, ipath, 2048, &igz));
    EOS_TRY(find_idx(dir, labels, labels_dotted, lpath, 2048, &lgz));
    uint8_t *buf;
    size_t size;
    /* a .gz file is read compressed and inflated header first, never past what it declares */
    EOS_TRY(eos__read_file(ipath, 0, MAX_DATASET_FILE, &buf, &size));
    eos_status st = igz ? eos_idx_parse_images_gz(buf, size, ipath, out, h, w)
                        : eos_idx_parse_images(buf, size, ipath, out, h, w);
    free(buf);
    EOS_TRY(st);
    st = eos__read_file(lpath, 0, MAX_DATASET_FILE, &buf, &size);
    int32_t *lab = NULL;
    size_t nl = 0;
    if (st == EOS_OK) {
        st = lgz ? eos_idx_parse_labels_gz(buf, size, lpath, &lab, &nl) : eos_idx_parse_labels(buf, size, lpath, &lab, &nl);
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
    char ipath[2048], lpath[2048], tipath[2048], tlpath[2048];
    out->layout = EOS_LAYOUT_IDX;
    out->channels = 1;
    eos_status st = load_idx_split(dir, "train-images-idx3-ubyte", "train-images.idx3-ubyte", "train-labels-idx1-ubyte",
                                   "train-labels.idx1-ubyte", &out->train, &h, &w, ipath, lpath);
    if (st == EOS_OK && out->train.n == 0)
        st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, "the training images file must hold images",
                            "IDX dataset %s: %s holds no images (its header counts 0)", dir, ipath);
    if (st == EOS_OK)
        st = load_idx_split(dir, "t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte", "t10k-labels-idx1-ubyte",
                            "t10k-labels.idx1-ubyte", &out->test, &th, &tw, tipath, tlpath);
    if (st == EOS_OK && (th != h || tw != w))
        st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, NULL,
                            "IDX dataset %s: training images are %d x %d but test images %d x %d", dir, h, w, th, tw);
    /* the class count is the largest training label + 1; every class below it needs images
     * (eos__check_classes), so a stray large label is refused rather than making empty classes */
    int classes = 0;
    size_t at = 0;
    for (size_t i = 0; st == EOS_OK && i < out->train.n; i++)
        if (out->train.labels[i] + 1 > classes) classes = out->train.labels[i] + 1, at = i;
    for (size_t i = 0; st == EOS_OK && i < out->test.n; i++)
        if (out->test.labels[i] >= classes)
            st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, NULL,
                                "IDX dataset %s: %s: test label %d at position %zu never occurs in training (classes "
                                "0..%d)", dir, tlpath, out->test.labels[i], i, classes - 1);
    if (st == EOS_OK) {
        out->height = h;
        out->width = w;
        st = set_class_names(out, classes, NULL);
    }
    if (st == EOS_OK) {
        char note[160];
        snprintf(note, sizeof note, " (the class count comes from the largest label, %d at position %zu; labels must "
                 "run 0..C-1 with every class present)", classes - 1, at);
        st = eos__check_classes(out, lpath, note);
    }
    if (st != EOS_OK) eos_dataset_free(out);
    return st;
}
