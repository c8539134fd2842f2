/* Image-folder datasets: ROOT/{train,test}/<class>/ with PNG, JPEG or BMP files, decoded once
 * with stb_image into (N, C, H, W) uint8 on several threads. Class index = sorted folder name
 * order; images are taken in sorted file name order. */
#include "internal.h"
#include "data_internal.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stb_image.h>
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
} file_list;

static void list_free(file_list *l) {
    for (size_t i = 0; i < l->n; i++) free(l->paths[i]);
    free(l->paths);
    free(l->labels);
    memset(l, 0, sizeof *l);
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

/* Decode one image into dst (C, H, W). With msg, explain a failure. */
static int decode_one(const char *path, int C, int H, int W, uint8_t *dst, file_buf *fb, char *msg, size_t msgn) {
    size_t size;
    int w, h, comp;
    int r = probe_one(path, fb, &size, &w, &h, &comp, msg, msgn);
    if (r != IMG_OK) return r;
    int dw, dh, dc;
    uint8_t *px;
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
        if (msg) snprintf(msg, msgn, "image %s is %d x %d pixels, expected %d x %d like the first image", path, w, h,
                          W, H);
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
    int C, H, W;
    size_t first, step;
} decode_job;

static void *decode_worker(void *arg) {
    decode_job *j = arg;
    size_t image = (size_t)j->C * j->H * j->W;
    file_buf fb = {0};
    for (size_t i = j->first; i < j->files->n; i += j->step)
        j->status[i] = (uint8_t)decode_one(j->files->paths[i], j->C, j->H, j->W, j->pixels + i * image, &fb, NULL, 0);
    free(fb.data);
    return NULL;
}

/* Decode every file of a split, then drop (skip_bad) or report the bad ones. */
static eos_status decode_split(const file_list *files, int C, int H, int W, int threads, int skip_bad,
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
        jobs[t] = (decode_job){files, out->pixels, status, C, H, W, (size_t)t, (size_t)threads};
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
            decode_one(files->paths[i], C, H, W, tmp ? tmp : out->pixels, &fb, msg, sizeof msg);  /* again, for the message */
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

    /* The first training image that decodes whole sets the size and channels. A header alone is
     * not enough: a damaged file with a readable header would otherwise set a size that every
     * good image then fails (and --skip-bad could skip only the damaged one). */
    int C = 0, H = 0, W = 0;
    size_t first = 0;
    for (size_t i = 0; st == EOS_OK && i < train.n && !C; i++) {
        file_buf fb = {0};
        size_t size;
        int w, h, comp;
        char msg[4200];
        int r = probe_one(train.paths[i], &fb, &size, &w, &h, &comp, msg, sizeof msg);
        if (r == IMG_OK) {
            int dw, dh, dc;
            uint8_t *px = stbi_load_from_memory(fb.data, (int)size, &dw, &dh, &dc, comp);
            if (px) C = comp, H = h, W = w, first = i;
            else {
                r = IMG_CORRUPT;
                snprintf(msg, sizeof msg, "cannot decode image %s: %s", train.paths[i],
                         stbi_failure_reason() ? stbi_failure_reason() : "corrupt data");
            }
            stbi_image_free(px);
        }
        if (r != IMG_OK && !opt->skip_bad)
            st = eos__error_set(r == IMG_IO ? EOS_ERR_IO : EOS_ERR_FORMAT, __FILE__, __LINE__, NULL,
                                "--skip-bad skips unreadable images and reports how many", "%s", msg);
        free(fb.data);
    }
    if (st == EOS_OK && !C)
        st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, NULL, "no decodable image under %s", train_dir);
    if (st == EOS_OK && (C < 1 || C > EOS_MAX_CHANNELS || H < 1 || W < 1 || H > MAX_SIDE || W > MAX_SIDE))
        st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, NULL,
                            "first image %s is %d x %d with %d channels; expected 1..%d pixels a side and 1..%d channels",
                            train.paths[first], W, H, C, MAX_SIDE, EOS_MAX_CHANNELS);
    if (st == EOS_OK) {
        int threads = opt->threads > 0 ? opt->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
        if (threads < 1) threads = 1;
        if (threads > 16) threads = 16;
        out->layout = EOS_LAYOUT_IMAGE_FOLDER;
        out->channels = C;
        out->height = H;
        out->width = W;
        st = decode_split(&train, C, H, W, threads, opt->skip_bad, &out->train, &out->skipped);
        if (st == EOS_OK) st = decode_split(&test, C, H, W, threads, opt->skip_bad, &out->test, &out->skipped);
    }
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
