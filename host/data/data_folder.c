/* Image-folder datasets: ROOT/{train,test}/<class>/ with PNG, JPEG or BMP files, and list-file
 * datasets (ROOT/train.txt + test.txt or val.txt, `path label` lines), decoded once with
 * stb_image into (N, C, H, W) uint8 on several threads, resized with stb_image_resize when a
 * size is asked for. Folders: class index = sorted folder name order, images in sorted file
 * name order; list files: the labels and the order of the lines. */
#include "internal.h"
#include "data_internal.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stb_image.h>
#include <stb_image_resize.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* IMG_CORRUPT, IMG_LARGE and IMG_IO are bad files (--skip-bad skips them); IMG_SIZE and
 * IMG_CHANNELS are good images that do not fit the dataset (always an error). */
enum { IMG_OK = 0, IMG_CORRUPT, IMG_SIZE, IMG_CHANNELS, IMG_IO, IMG_LARGE };

#define MAX_SIDE 4096  /* pixels a side; also keeps a decoded image far below 2^31 bytes */

/* A symbolic link that cannot be followed (dangling, or a loop): lstat sees it, stat does not. */
static int is_broken_link(const char *path) {
    struct stat sb;
    return lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode) && stat(path, &sb) != 0;
}

typedef struct {
    char **paths;     /* (n) */
    int32_t *labels;  /* (n) */
    size_t n, cap;
    const size_t *lines;  /* (n) list files: the line of each image in `listed`, for messages */
    const char *listed;
} file_list;

static void list_free(file_list *l) {
    for (size_t i = 0; i < l->n; i++) free(l->paths[i]);
    free(l->paths);
    free(l->labels);
    memset(l, 0, sizeof *l);
}

/* Resize one (h, w, C) interleaved image to (H, W, C), as torchvision's Resize((H, W)) with
 * antialiasing: along an axis that shrinks the box filter averages every source pixel the
 * output pixel covers (the area filter), along one that grows the triangle filter interpolates
 * bilinearly; no gamma (PIL resizes the stored values); edges clamped. */
static int resize_hwc(const uint8_t *src, int w, int h, uint8_t *dst, int W, int H, int C) {
    stbir_filter fx = W < w ? STBIR_FILTER_BOX : STBIR_FILTER_TRIANGLE;
    stbir_filter fy = H < h ? STBIR_FILTER_BOX : STBIR_FILTER_TRIANGLE;
    return stbir_resize(src, w, h, 0, dst, W, H, 0, STBIR_TYPE_UINT8, C, STBIR_ALPHA_CHANNEL_NONE, 0,
                        STBIR_EDGE_CLAMP, STBIR_EDGE_CLAMP, fx, fy, STBIR_COLORSPACE_LINEAR, NULL);
}

eos_status eos__resize_split(eos_split *s, int C, int h, int w, int H, int W) {
    size_t in = (size_t)C * h * w, outb = (size_t)C * H * W;
    uint8_t *dst = malloc(s->n ? s->n * outb : 1), *a = malloc(in), *b = malloc(outb);
    if (!dst || !a || !b) {
        free(dst); free(a); free(b);
        EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "resizing %zu images to %d x %d", s->n, H, W);
    }
    for (size_t i = 0; i < s->n; i++) {
        const uint8_t *src = s->pixels + i * in;
        for (size_t p = 0; p < (size_t)h * w; p++)  /* (C, h, w) -> (h, w, C) */
            for (int c = 0; c < C; c++) a[p * C + c] = src[c * (size_t)h * w + p];
        resize_hwc(a, w, h, b, W, H, C);
        for (size_t p = 0; p < (size_t)H * W; p++)
            for (int c = 0; c < C; c++) dst[i * outb + c * (size_t)H * W + p] = b[p * C + c];
    }
    free(a);
    free(b);
    free(s->pixels);
    s->pixels = dst;
    return EOS_OK;
}

static int list_push(file_list *l, const char *path, int32_t label) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 1024;
        char **p = realloc(l->paths, cap * sizeof *p);
        if (p) l->paths = p;
        int32_t *q = realloc(l->labels, cap * sizeof *q);
        if (q) l->labels = q;
        if (!p || !q) return -1;
        l->cap = cap;
    }
    if (!(l->paths[l->n] = strdup(path))) return -1;
    l->labels[l->n++] = label;
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int has_image_ext(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") ||
                   !strcasecmp(dot, ".bmp"));
}

/* Sorted names in dir: folders (want_dirs) or image files; hidden entries are ignored. */
static eos_status sorted_entries(const char *dir, int want_dirs, char ***names, size_t *count) {
    *names = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d) EOS_FAIL(EOS_ERR_IO, NULL, "cannot open folder %s: %s", dir, strerror(errno));
    size_t n = 0, cap = 0;
    char **v = NULL;
    struct dirent *e;
    eos_status st = EOS_OK;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[4096 + 512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        /* a link that leads nowhere may have been an image or a class: never ignored quietly. In a
         * class folder it is listed, and fails to read like any unreadable image (or is skipped
         * and counted with --skip-bad); as a class folder it is an error. */
        int broken = is_broken_link(path);
        if (broken && want_dirs) {
            st = eos__error_set(EOS_ERR_IO, __FILE__, __LINE__, NULL, "remove the link or point it at a class folder",
                                "%s is a symbolic link that cannot be followed (%s)", path,
                                stat(path, &(struct stat){0}) != 0 && errno == ELOOP ? "a loop" : "dangling");
            break;
        }
        int keep = want_dirs ? eos__is_dir(path) : broken || (has_image_ext(e->d_name) && eos__is_file(path));
        if (!keep) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **g = realloc(v, cap * sizeof *g);
            if (!g) { st = eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "listing %s", dir); break; }
            v = g;
        }
        if (!(v[n] = strdup(e->d_name))) { st = eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "listing %s", dir); break; }
        n++;
    }
    closedir(d);
    if (st != EOS_OK) {
        for (size_t i = 0; i < n; i++) free(v[i]);
        free(v);
        return st;
    }
    if (n) qsort(v, n, sizeof *v, cmp_str);
    *names = v;
    *count = n;
    return EOS_OK;
}

static void free_names(char **v, size_t n) {
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

/* ---- decoding ------------------------------------------------------------------------- */

typedef struct {
    uint8_t *data;
    size_t cap;
} file_buf;

static int read_whole(const char *path, file_buf *b, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t len = 0;
    for (;;) {
        if (len == b->cap) {
            size_t cap = b->cap ? 2 * b->cap : 65536;
            uint8_t *g = realloc(b->data, cap);
            if (!g) { fclose(f); return -1; }
            b->data = g;
            b->cap = cap;
        }
        size_t got = fread(b->data + len, 1, b->cap - len, f);
        if (got == 0) break;
        len += got;
    }
    int bad = ferror(f);
    fclose(f);
    *size = len;
    return bad ? -1 : 0;
}

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* The size a PNG, BMP or JPEG header declares, read by hand: stb_image refuses a huge image
 * in every format in turn and then only says "unknown image type". 0 if there is none. */
static int declared_size(const uint8_t *b, size_t n, long long *w, long long *h) {
    if (n >= 24 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8) && !memcmp(b + 12, "IHDR", 4)) {
        *w = be32(b + 16);
        *h = be32(b + 20);
        return 1;
    }
    if (n >= 26 && b[0] == 'B' && b[1] == 'M') {
        int32_t bw = (int32_t)((uint32_t)b[18] | (uint32_t)b[19] << 8 | (uint32_t)b[20] << 16 | (uint32_t)b[21] << 24);
        int32_t bh = (int32_t)((uint32_t)b[22] | (uint32_t)b[23] << 8 | (uint32_t)b[24] << 16 | (uint32_t)b[25] << 24);
        *w = bw < 0 ? -(long long)bw : bw;
        *h = bh < 0 ? -(long long)bh : bh;  /* negative: stored top-down */
        return 1;
    }
    if (n >= 4 && b[0] == 0xff && b[1] == 0xd8) {  /* JPEG: walk the segments to the frame header */
        for (size_t p = 2; p + 9 <= n;) {
            if (b[p] != 0xff) return 0;
            uint8_t m = b[p + 1];
            if (m == 0xff) { p++; continue; }
            size_t len = (size_t)b[p + 2] << 8 | b[p + 3];
            if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {
                *h = (long long)b[p + 5] << 8 | b[p + 6];
                *w = (long long)b[p + 7] << 8 | b[p + 8];
                return 1;
            }
            if (len < 2) return 0;
            p += 2 + len;
        }
    }
    return 0;
}

/* Why path cannot be read, for a message: a link that leads nowhere says so. */
static void io_reason(const char *path, int err, char *out, size_t n) {
    struct stat sb;
    if (lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode)) {
        char to[1024];
        ssize_t k = readlink(path, to, sizeof to - 1);
        to[k > 0 ? k : 0] = 0;
        if (err == ELOOP) snprintf(out, n, "a symbolic link loop (to '%s')", to);
        else snprintf(out, n, "a dangling symbolic link (to '%s': %s)", to, strerror(err));
        return;
    }
    snprintf(out, n, "%s", strerror(err));
}

/* Read and check the header of one image: IMG_OK with its size and channels, or why not. */
static int probe_one(const char *path, file_buf *fb, size_t *size, int *w, int *h, int *comp, char *msg, size_t msgn) {
    if (read_whole(path, fb, size) != 0) {
        if (msg) {
            char why[1200];
            io_reason(path, errno, why, sizeof why);
            snprintf(msg, msgn, "cannot read image %s: %s", path, why);
        }
        return IMG_IO;
    }
    long long dw, dh;
    int ok = *size <= 0x7fffffff && stbi_info_from_memory(fb->data, (int)*size, w, h, comp);
    if (ok ? (*w > MAX_SIDE || *h > MAX_SIDE) : declared_size(fb->data, *size, &dw, &dh) && (dw > MAX_SIDE || dh > MAX_SIDE)) {
        if (ok) dw = *w, dh = *h;
        if (msg) snprintf(msg, msgn, "image %s declares %lld x %lld pixels, more than the limit of %d x %d", path, dw, dh,
                          MAX_SIDE, MAX_SIDE);
        return IMG_LARGE;
    }
    if (!ok) {
        if (msg) snprintf(msg, msgn, "cannot decode image %s: %s (expected a PNG, JPEG or BMP file)", path,
                          stbi_failure_reason() ? stbi_failure_reason() : "unknown format");
        return IMG_CORRUPT;
    }
    return IMG_OK;
}

/* Decode one image into dst (C, H, W); resize: any size, brought to H x W. With msg, explain
 * a failure. */
static int decode_one(const char *path, int C, int H, int W, int resize, uint8_t *dst, file_buf *fb, char *msg,
                      size_t msgn) {
    size_t size;
    int w, h, comp;
    int r = probe_one(path, fb, &size, &w, &h, &comp, msg, msgn);
    if (r != IMG_OK) return r;
    int dw, dh, dc;
    uint8_t *px;
    if (resize && (w != W || h != H) && comp == C) {
        px = stbi_load_from_memory(fb->data, (int)size, &dw, &dh, &dc, C);
        uint8_t *tmp = px ? malloc((size_t)H * W * C) : NULL;
        if (!px || !tmp || !resize_hwc(px, dw, dh, tmp, W, H, C)) {
            if (msg) snprintf(msg, msgn, "cannot decode image %s: %s", path,
                              !px && stbi_failure_reason() ? stbi_failure_reason() : "corrupt data or out of memory");
            stbi_image_free(px);
            free(tmp);
            return IMG_CORRUPT;
        }
        size_t plane = (size_t)H * W;
        for (size_t p = 0; p < plane; p++)
            for (int c = 0; c < C; c++) dst[c * plane + p] = tmp[p * C + c];
        stbi_image_free(px);
        free(tmp);
        return IMG_OK;
    }
    if (w != W || h != H || comp != C) {  /* a damaged file's header may say anything: corrupt first */
        px = stbi_load_from_memory(fb->data, (int)size, &dw, &dh, &dc, comp);
        if (!px) {
            if (msg) snprintf(msg, msgn, "cannot decode image %s: %s", path,
                              stbi_failure_reason() ? stbi_failure_reason() : "corrupt data");
            return IMG_CORRUPT;
        }
        stbi_image_free(px);
    }
    if (w != W || h != H) {
        if (msg) snprintf(msg, msgn, "image %s is %d x %d pixels, expected %d x %d like the first image (width x height; "
                          "--resize HxW brings every image to one size)", path, w, h, W, H);
        return IMG_SIZE;
    }
    if (comp != C) {
        if (msg) snprintf(msg, msgn, "image %s has %d channel(s), expected %d like the first image", path, comp, C);
        return IMG_CHANNELS;
    }
    px = stbi_load_from_memory(fb->data, (int)size, &dw, &dh, &dc, C);
    if (!px) {
        if (msg) snprintf(msg, msgn, "cannot decode image %s: %s", path,
                          stbi_failure_reason() ? stbi_failure_reason() : "corrupt data");
        return IMG_CORRUPT;
    }
    size_t plane = (size_t)H * W;
    for (size_t p = 0; p < plane; p++)  /* (H, W, C) -> (C, H, W) */
        for (int c = 0; c < C; c++) dst[c * plane + p] = px[p * C + c];
    stbi_image_free(px);
    return IMG_OK;
}

typedef struct {
    const file_list *files;
    uint8_t *pixels;
    uint8_t *status;  /* (n) IMG_* */
    int C, H, W, resize;
    size_t first, step;
} decode_job;

static void *decode_worker(void *arg) {
    decode_job *j = arg;
    size_t image = (size_t)j->C * j->H * j->W;
    file_buf fb = {0};
    for (size_t i = j->first; i < j->files->n; i += j->step)
        j->status[i] = (uint8_t)decode_one(j->files->paths[i], j->C, j->H, j->W, j->resize, j->pixels + i * image, &fb, NULL,
                                           0);
    free(fb.data);
    return NULL;
}

/* Decode every file of a split, then drop (skip_bad) or report the bad ones. */
static eos_status decode_split(const file_list *files, int C, int H, int W, int resize, int threads, int skip_bad,
                               eos_split *out, size_t *skipped) {
    size_t image = (size_t)C * H * W;
    memset(out, 0, sizeof *out);
    out->pixels = malloc(files->n * image);
    out->labels = malloc(files->n * sizeof *out->labels);
    uint8_t *status = calloc(files->n, 1);
    if (!out->pixels || !out->labels || !status) {
        free(status);
        eos_split_free(out);
        EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, "the dataset is decoded to uint8 in memory: free some memory",
                 "decoding %zu images of %d x %d x %d needs %.1f MiB", files->n, C, H, W,
                 files->n * image / (1024.0 * 1024.0));
    }
    decode_job jobs[16];
    pthread_t tid[16];
    int started[16] = {0};
    for (int t = 0; t < threads; t++) {
        jobs[t] = (decode_job){files, out->pixels, status, C, H, W, resize, (size_t)t, (size_t)threads};
        started[t] = t > 0 && pthread_create(&tid[t], NULL, decode_worker, &jobs[t]) == 0;
    }
    /* this thread does share 0, and the share of any thread that could not start */
    for (int t = 0; t < threads; t++) if (!started[t]) decode_worker(&jobs[t]);
    for (int t = 1; t < threads; t++) if (started[t]) pthread_join(tid[t], NULL);

    size_t k = 0;
    for (size_t i = 0; i < files->n; i++) {
        int s = status[i];
        if (s == IMG_OK) {
            if (k != i) memmove(out->pixels + k * image, out->pixels + i * image, image);
            out->labels[k++] = files->labels[i];
        } else if (skip_bad && (s == IMG_CORRUPT || s == IMG_IO || s == IMG_LARGE)) {
            (*skipped)++;
        } else {
            char msg[4200];
            file_buf fb = {0};
            uint8_t *tmp = malloc(image);
            decode_one(files->paths[i], C, H, W, resize, tmp ? tmp : out->pixels, &fb, msg, sizeof msg);  /* again, for the message */
            if (files->lines) {
                size_t len = strlen(msg);
                snprintf(msg + len, sizeof msg - len, " (%s line %zu)", files->listed, files->lines[i]);
            }
            free(tmp);
            free(fb.data);
            free(status);
            eos_split_free(out);
            EOS_FAIL(s == IMG_IO ? EOS_ERR_IO : EOS_ERR_FORMAT,
                     s == IMG_CORRUPT || s == IMG_IO || s == IMG_LARGE ? "--skip-bad skips unreadable images and reports how many"
                                                     : "every image of a dataset must have the same size and channels",
                     "%s", msg);
        }
    }
    free(status);
    out->n = k;
    return EOS_OK;
}

/* Decode the images of both lists into out (channels, size, splits). The first training image
 * that decodes whole sets the channels, and the size unless opt asks for one. */
static eos_status decode_lists(const file_list *train, const file_list *test, const char *what,
                               const eos_dataset_options *opt, eos_dataset *out) {
    int resize = opt->resize_h > 0 && opt->resize_w > 0;
    /* The first training image that decodes whole sets the size and channels. A header alone is
     * not enough: a damaged file with a readable header would otherwise set a size that every
     * good image then fails (and --skip-bad could skip only the damaged one). */
    eos_status st = EOS_OK;
    int C = 0, H = 0, W = 0;
    size_t first = 0;
    for (size_t i = 0; st == EOS_OK && i < train->n && !C; i++) {
        file_buf fb = {0};
        size_t size;
        int w, h, comp;
        char msg[4200];
        int r = probe_one(train->paths[i], &fb, &size, &w, &h, &comp, msg, sizeof msg);
        if (r == IMG_OK) {
            int dw, dh, dc;
            uint8_t *px = stbi_load_from_memory(fb.data, (int)size, &dw, &dh, &dc, comp);
            if (px) C = comp, H = h, W = w, first = i;
            else {
                r = IMG_CORRUPT;
                snprintf(msg, sizeof msg, "cannot decode image %s: %s", train->paths[i],
                         stbi_failure_reason() ? stbi_failure_reason() : "corrupt data");
            }
            stbi_image_free(px);
        }
        if (r != IMG_OK && train->lines) {
            size_t len = strlen(msg);
            snprintf(msg + len, sizeof msg - len, " (%s line %zu)", train->listed, train->lines[i]);
        }
        if (r != IMG_OK && !opt->skip_bad)
            st = eos__error_set(r == IMG_IO ? EOS_ERR_IO : EOS_ERR_FORMAT, __FILE__, __LINE__, NULL,
                                "--skip-bad skips unreadable images and reports how many", "%s", msg);
        free(fb.data);
    }
    if (st == EOS_OK && !C)
        st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, NULL, "no decodable image under %s", what);
    if (st == EOS_OK && (C < 1 || C > EOS_MAX_CHANNELS || H < 1 || W < 1 || H > MAX_SIDE || W > MAX_SIDE))
        st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, NULL,
                            "first image %s is %d x %d with %d channels; expected 1..%d pixels a side and 1..%d channels",
                            train->paths[first], W, H, C, MAX_SIDE, EOS_MAX_CHANNELS);
    if (st == EOS_OK && resize) H = opt->resize_h, W = opt->resize_w;
    if (st == EOS_OK) {
        int threads = opt->threads > 0 ? opt->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
        if (threads < 1) threads = 1;
        if (threads > 16) threads = 16;
        out->channels = C;
        out->height = H;
        out->width = W;
        st = decode_split(train, C, H, W, resize, threads, opt->skip_bad, &out->train, &out->skipped);
        if (st == EOS_OK) st = decode_split(test, C, H, W, resize, threads, opt->skip_bad, &out->test, &out->skipped);
    }
    return st;
}

/* ---- the folder tree ------------------------------------------------------------------ */

static eos_status list_split(const char *root, const char *split, char **classes, size_t nclasses, file_list *out) {
    for (size_t c = 0; c < nclasses; c++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s/%s", root, split, classes[c]);
        char **files;
        size_t nf;
        EOS_TRY(sorted_entries(dir, 0, &files, &nf));
        if (nf == 0) {
            free_names(files, nf);
            EOS_FAIL(EOS_ERR_FORMAT, "every class folder needs at least one .png, .jpg, .jpeg or .bmp image",
                     "class folder %s has no images", dir);
        }
        for (size_t i = 0; i < nf; i++) {
            char path[8192];
            snprintf(path, sizeof path, "%s/%s", dir, files[i]);
            if (list_push(out, path, (int32_t)c) != 0) {
                free_names(files, nf);
                EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "listing images under %s", dir);
            }
        }
        free_names(files, nf);
    }
    return EOS_OK;
}

eos_status eos__load_folders(const char *root, const eos_dataset_options *opt, eos_dataset *out) {
    char train_dir[4096], test_dir[4096];
    snprintf(train_dir, sizeof train_dir, "%s/train", root);
    snprintf(test_dir, sizeof test_dir, "%s/test", root);
    char **classes = NULL, **test_classes = NULL;
    size_t nc = 0, ntc = 0;
    file_list train = {0}, test = {0};
    eos_status st = sorted_entries(train_dir, 1, &classes, &nc);
    if (st == EOS_OK) st = sorted_entries(test_dir, 1, &test_classes, &ntc);
    if (st == EOS_OK && nc == 0)
        st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, "put each class's images in train/<class>/",
                            "%s has no class folders", train_dir);
    if (st == EOS_OK && nc > 1000000)
        st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, NULL, "%s has too many class folders", train_dir);
    for (size_t i = 0; st == EOS_OK && i < (nc > ntc ? nc : ntc); i++) {
        if (i >= ntc || i >= nc || strcmp(classes[i], test_classes[i]))
            st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL,
                                "train/ and test/ must hold folders of the same names",
                                "class folders differ between %s (%zu classes) and %s (%zu classes): first difference "
                                "'%s' against '%s'", train_dir, nc, test_dir, ntc, i < nc ? classes[i] : "(none)",
                                i < ntc ? test_classes[i] : "(none)");
    }
    if (st == EOS_OK) st = list_split(root, "train", classes, nc, &train);
    if (st == EOS_OK) st = list_split(root, "test", classes, nc, &test);

    if (st == EOS_OK) st = decode_lists(&train, &test, train_dir, opt, out);
    if (st == EOS_OK) out->layout = EOS_LAYOUT_IMAGE_FOLDER;
    if (st == EOS_OK) {  /* the folder names, whole (never cut: two long names stay two classes) */
        out->classes = (int)nc;
        out->class_names = classes;
        classes = NULL;
        nc = 0;
    }
    if (st == EOS_OK) st = eos__check_classes(out, train_dir, NULL);  /* --skip-bad may have emptied a class */
    free_names(classes, nc);
    free_names(test_classes, ntc);
    list_free(&train);
    list_free(&test);
    if (st != EOS_OK) eos_dataset_free(out);
    return st;
}

/* ---- list files (ImageNet-LT, Places-LT) ----------------------------------------------- */

#define MAX_LIST_LABEL 999999

void eos_image_list_free(eos_image_list *l) {
    if (!l) return;
    for (size_t i = 0; l->paths && i < l->n; i++) free(l->paths[i]);
    free(l->paths);
    free(l->labels);
    free(l->lines);
    memset(l, 0, sizeof *l);
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

eos_status eos_image_list_parse(const char *text, size_t size, const char *name, eos_image_list *out) {
    memset(out, 0, sizeof *out);
    size_t cap = 0, line = 0, pos = 0;
    eos_status st = EOS_OK;
    if (size >= 3 && !memcmp(text, "\xef\xbb\xbf", 3)) pos = 3;  /* a UTF-8 byte-order mark (Windows editors) */
    while (pos < size && st == EOS_OK) {
        const char *b = text + pos;
        const char *nl = memchr(b, '\n', size - pos);
        size_t len = nl ? (size_t)(nl - b) : size - pos;
        pos += len + (nl != NULL);
        line++;
        if (memchr(b, 0, len)) {
            st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, "a list file is text: `path label` lines",
                                "%s line %zu holds a NUL byte: not a text file", name, line);
            break;
        }
        while (len && is_space(b[len - 1])) len--;  /* trailing blanks and the \r of CRLF */
        size_t start = 0;
        while (start < len && is_space(b[start])) start++;
        if (start == len) continue;  /* blank line */
        size_t lab = len;
        while (lab > start && !is_space(b[lab - 1])) lab--;
        if (lab == start) {
            st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL,
                                "each line is `relative/path.jpg label`, e.g. `train/n01440764/a.JPEG 0`",
                                "%s line %zu: '%.*s' has one field, expected two: an image path and its label", name,
                                line, (int)(len - start > 200 ? 200 : len - start), b + start);
            break;
        }
        size_t pend = lab;
        while (pend > start && is_space(b[pend - 1])) pend--;
        long v = -1;
        size_t k = lab;
        if (len - lab <= 7) {  /* at most 999999: digits only, no sign */
            v = 0;
            for (; k < len && b[k] >= '0' && b[k] <= '9'; k++) v = v * 10 + (b[k] - '0');
        }
        if (k != len || v < 0 || v > MAX_LIST_LABEL) {
            st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL,
                                "labels are class numbers counted from 0, the last field of the line",
                                "%s line %zu: label '%.*s' is not a whole number 0..%d", name, line,
                                (int)(len - lab > 40 ? 40 : len - lab), b + lab, MAX_LIST_LABEL);
            break;
        }
        if (pend - start >= 4096) {
            st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, NULL,
                                "%s line %zu: the path is %zu characters long, expected under 4096", name, line,
                                pend - start);
            break;
        }
        if (out->n == cap) {
            size_t nc = cap ? 2 * cap : 1024;
            char **p = realloc(out->paths, nc * sizeof *p);
            if (p) out->paths = p;
            int32_t *q = realloc(out->labels, nc * sizeof *q);
            if (q) out->labels = q;
            size_t *r = realloc(out->lines, nc * sizeof *r);
            if (r) out->lines = r;
            if (!p || !q || !r) {
                st = eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "reading %s", name);
                break;
            }
            cap = nc;
        }
        char *path = malloc(pend - start + 1);
        if (!path) {
            st = eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "reading %s", name);
            break;
        }
        memcpy(path, b + start, pend - start);
        path[pend - start] = 0;
        out->paths[out->n] = path;
        out->labels[out->n] = (int32_t)v;
        out->lines[out->n++] = line;
    }
    if (st != EOS_OK) eos_image_list_free(out);
    return st;
}

/* One list file into files (paths joined to root); a line naming no file is an error with its
 * line number unless skip_bad (then it fails to read and is skipped like any unreadable image). */
static eos_status read_list(const char *root, const char *file, int skip_bad, eos_image_list *l, file_list *files) {
    uint8_t *buf;
    size_t size;
    EOS_TRY(eos__read_file(file, 0, (size_t)1 << 30, &buf, &size));
    eos_status st = eos_image_list_parse((const char *)buf, size, file, l);
    free(buf);
    EOS_TRY(st);
    if (l->n == 0)
        EOS_FAIL(EOS_ERR_FORMAT, "each line is `relative/path.jpg label`", "%s lists no images", file);
    for (size_t i = 0; i < l->n; i++) {
        char path[8200];
        if (l->paths[i][0] == '/') snprintf(path, sizeof path, "%s", l->paths[i]);
        else snprintf(path, sizeof path, "%s/%s", root, l->paths[i]);
        if (!skip_bad && !eos__is_file(path))
            EOS_FAIL(EOS_ERR_IO, "paths in a list file are relative to the folder that holds it; --skip-bad skips "
                     "missing images and reports how many",
                     "%s line %zu: image '%s' not found (looked for %s)", file, l->lines[i], l->paths[i], path);
        if (list_push(files, path, l->labels[i]) != 0) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "listing %s", file);
    }
    files->lines = l->lines;
    files->listed = file;
    return EOS_OK;
}

eos_status eos__load_list(const char *root, const eos_dataset_options *opt, eos_dataset *out) {
    char train_file[4200], test_file[4200];
    snprintf(train_file, sizeof train_file, "%s/train.txt", root);
    snprintf(test_file, sizeof test_file, "%s/test.txt", root);
    if (!eos__is_file(test_file)) snprintf(test_file, sizeof test_file, "%s/val.txt", root);
    eos_image_list tl = {0}, vl = {0};
    file_list train = {0}, test = {0};
    eos_status st = EOS_OK;
    if (!eos__is_file(test_file))
        st = eos__error_set(EOS_ERR_IO, __FILE__, __LINE__, NULL,
                            "a list-file dataset has train.txt and test.txt (or val.txt) next to the images",
                            "list-file dataset %s has train.txt but neither test.txt nor val.txt", root);
    if (st == EOS_OK) st = read_list(root, train_file, opt->skip_bad, &tl, &train);
    if (st == EOS_OK) st = read_list(root, test_file, opt->skip_bad, &vl, &test);
    /* classes: the largest training label + 1, every one with images (checked before decoding) */
    int classes = 0;
    size_t at = 0;
    for (size_t i = 0; st == EOS_OK && i < tl.n; i++)
        if (tl.labels[i] + 1 > classes) classes = tl.labels[i] + 1, at = i;
    for (size_t i = 0; st == EOS_OK && i < vl.n; i++)
        if (vl.labels[i] >= classes)
            st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL,
                                "labels run 0..C-1, C = the largest training label + 1",
                                "%s line %zu: label %d never occurs in %s (classes 0..%d)", test_file, vl.lines[i],
                                vl.labels[i], train_file, classes - 1);
    char note[4400];
    if (st == EOS_OK) {
        snprintf(note, sizeof note, " (the class count comes from the largest label, %d on line %zu; labels must "
                 "run 0..C-1 with every class present)", classes - 1, tl.lines[at]);
        eos_dataset probe = {0};
        probe.layout = EOS_LAYOUT_LIST_FILE;
        probe.classes = classes;
        probe.train.n = tl.n;
        probe.train.labels = tl.labels;
        st = eos__check_classes(&probe, train_file, note);
    }
    if (st == EOS_OK) st = decode_lists(&train, &test, train_file, opt, out);
    if (st == EOS_OK) {
        out->layout = EOS_LAYOUT_LIST_FILE;
        out->classes = classes;
        out->class_names = calloc((size_t)classes, sizeof *out->class_names);
        if (!out->class_names) st = eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "class names");
        for (int c = 0; st == EOS_OK && c < classes; c++) {
            char num[16];
            snprintf(num, sizeof num, "%d", c);
            if (!(out->class_names[c] = strdup(num)))
                st = eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "class names");
        }
    }
    if (st == EOS_OK) st = eos__check_classes(out, train_file, NULL);  /* --skip-bad may have emptied a class */
    list_free(&train);
    list_free(&test);
    eos_image_list_free(&tl);
    eos_image_list_free(&vl);
    if (st != EOS_OK) eos_dataset_free(out);
    return st;
}
