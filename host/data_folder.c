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
#include <unistd.h>

enum { IMG_OK = 0, IMG_CORRUPT, IMG_SIZE, IMG_CHANNELS, IMG_IO };

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
        int keep = want_dirs ? eos__is_dir(path) : (has_image_ext(e->d_name) && eos__is_file(path));
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

/* Decode one image into dst (C, H, W). With msg, explain a failure. */
static int decode_one(const char *path, int C, int H, int W, uint8_t *dst, file_buf *fb, char *msg, size_t msgn) {
    size_t size;
    if (read_whole(path, fb, &size) != 0) {
        if (msg) snprintf(msg, msgn, "cannot read image %s: %s", path, strerror(errno));
        return IMG_IO;
    }
    int w, h, comp;
    if (size > 0x7fffffff || !stbi_info_from_memory(fb->data, (int)size, &w, &h, &comp)) {
        if (msg) snprintf(msg, msgn, "cannot decode image %s: %s (expected a PNG, JPEG or BMP file)", path,
                          stbi_failure_reason() ? stbi_failure_reason() : "unknown format");
        return IMG_CORRUPT;
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
    int dw, dh, dc;
    uint8_t *px = stbi_load_from_memory(fb->data, (int)size, &dw, &dh, &dc, C);
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
        } else if (skip_bad && (s == IMG_CORRUPT || s == IMG_IO)) {
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
                     s == IMG_CORRUPT || s == IMG_IO ? "--skip-bad skips unreadable images and reports how many"
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

    /* the first decodable training image sets the size and channels */
    int C = 0, H = 0, W = 0;
    for (size_t i = 0; st == EOS_OK && i < train.n && !C; i++) {
        file_buf fb = {0};
        size_t size;
        int w, h, comp;
        if (read_whole(train.paths[i], &fb, &size) == 0 && size <= 0x7fffffff &&
            stbi_info_from_memory(fb.data, (int)size, &w, &h, &comp)) {
            C = comp; H = h; W = w;
        } else if (!opt->skip_bad) {
            st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL,
                                "--skip-bad skips unreadable images and reports how many",
                                "cannot decode image %s: %s", train.paths[i],
                                stbi_failure_reason() ? stbi_failure_reason() : "not a PNG, JPEG or BMP file");
        }
        free(fb.data);
    }
    if (st == EOS_OK && !C)
        st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, NULL, "no decodable image under %s", train_dir);
    if (st == EOS_OK && (C < 1 || C > EOS_MAX_CHANNELS || H < 1 || W < 1 || H > 4096 || W > 4096))
        st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, NULL,
                            "first image %s is %d x %d with %d channels; expected 1..4096 pixels a side and 1..%d channels",
                            train.paths[0], W, H, C, EOS_MAX_CHANNELS);
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
    free_names(classes, nc);
    free_names(test_classes, ntc);
    list_free(&train);
    list_free(&test);
    if (st != EOS_OK) eos_dataset_free(out);
    return st;
}
