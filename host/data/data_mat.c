/* SVHN's cropped-digit release (train_32x32.mat, test_32x32.mat): MATLAB files read with
 * libmatio (Debian's libmatio-dev), never by hand. X is H x W x C x N uint8 in MATLAB's
 * column-major order, y the N labels 1..10 (10 = digit 0, class 0 as in torchvision's SVHN). */
#include "internal.h"
#include "data_internal.h"

#include <math.h>
#include <matio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAT_MAX_BYTES ((size_t)4 << 30)

/* libmatio reports through a process-wide log function and its default one prints to stderr
 * (the library never prints): ours keeps the last message of this thread for our errors. */
static _Thread_local char mat_log_msg[512];

static void mat_log(int level, char *message) {
    (void)level;
    snprintf(mat_log_msg, sizeof mat_log_msg, "%s", message ? message : "");
}

static void mat_log_install(void) {
    static int done;  /* idempotent; a race would install the same function twice */
    if (!done) {
        Mat_LogInitFunc("eos", mat_log);
        done = 1;
    }
}

static const char *class_str(enum matio_classes c) {
    static const char *names[] = {"empty", "cell", "struct", "object", "char", "sparse", "double", "single",
                                  "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
                                  "function", "opaque"};
    return (unsigned)c < sizeof names / sizeof names[0] ? names[c] : "unknown";
}

static size_t var_elems(const matvar_t *v) {
    size_t n = 1;
    for (int i = 0; i < v->rank; i++) {
        if (v->dims[i] && n > SIZE_MAX / v->dims[i]) return SIZE_MAX;
        n *= v->dims[i];
    }
    return n;
}

static void dims_str(const matvar_t *v, char *out, size_t n) {
    size_t off = 0;
    out[0] = 0;
    for (int i = 0; i < v->rank && off + 24 < n; i++)
        off += (size_t)snprintf(out + off, n - off, "%s%zu", i ? " x " : "", v->dims[i]);
}

/* Label i of y as a double, whatever numeric class y has (SVHN stores double). */
static int label_at(const matvar_t *y, size_t i, double *out) {
    const void *p = y->data;
    switch (y->class_type) {
    case MAT_C_DOUBLE: *out = ((const double *)p)[i]; return 1;
    case MAT_C_SINGLE: *out = ((const float *)p)[i]; return 1;
    case MAT_C_INT8: *out = ((const int8_t *)p)[i]; return 1;
    case MAT_C_UINT8: *out = ((const uint8_t *)p)[i]; return 1;
    case MAT_C_INT16: *out = ((const int16_t *)p)[i]; return 1;
    case MAT_C_UINT16: *out = ((const uint16_t *)p)[i]; return 1;
    case MAT_C_INT32: *out = ((const int32_t *)p)[i]; return 1;
    case MAT_C_UINT32: *out = ((const uint32_t *)p)[i]; return 1;
    case MAT_C_INT64: *out = (double)((const int64_t *)p)[i]; return 1;
    case MAT_C_UINT64: *out = (double)((const uint64_t *)p)[i]; return 1;
    default: return 0;
    }
}

static int numeric_class(enum matio_classes c) { return c >= MAT_C_DOUBLE && c <= MAT_C_UINT64; }

static size_t class_bytes(enum matio_classes c) {
    switch (c) {
    case MAT_C_DOUBLE: case MAT_C_INT64: case MAT_C_UINT64: return 8;
    case MAT_C_SINGLE: case MAT_C_INT32: case MAT_C_UINT32: return 4;
    case MAT_C_INT16: case MAT_C_UINT16: return 2;
    default: return 1;
    }
}

eos_status eos_svhn_load_mat(const char *path, eos_split *out, int *channels, int *height, int *width) {
    memset(out, 0, sizeof *out);
    *channels = *height = *width = 0;
    mat_log_install();
    mat_log_msg[0] = 0;
    if (!eos__is_file(path)) EOS_FAIL(EOS_ERR_IO, NULL, "SVHN file %s does not exist or is not a file", path);
    mat_t *mat = Mat_Open(path, MAT_ACC_RDONLY);
    if (!mat)
        EOS_FAIL(EOS_ERR_FORMAT, "SVHN's train_32x32.mat / test_32x32.mat are MATLAB files: re-download them",
                 "%s is not a MATLAB file libmatio can read%s%s", path, mat_log_msg[0] ? ": " : "", mat_log_msg);
    eos_status st = EOS_OK;
    char dims[128];
    matvar_t *X = NULL, *y = NULL;
    /* the headers first: shapes and classes are checked before any data is read */
    X = Mat_VarReadInfo(mat, "X");
    y = X ? Mat_VarReadInfo(mat, "y") : NULL;
    if (!X || !y) {
        st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL,
                            "an SVHN file holds X (H x W x C x N uint8 images) and y (N labels 1..10)",
                            "%s has no variable '%s'", path, X ? "y" : "X");
        goto done;
    }
    if (X->class_type != MAT_C_UINT8 || X->isComplex || X->rank != 4) {
        dims_str(X, dims, sizeof dims);
        st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, "SVHN's X is 32 x 32 x 3 x N uint8",
                            "%s: X is %s%s of rank %d (%s), expected a real uint8 array of rank 4 (H x W x C x N)", path,
                            X->isComplex ? "complex " : "", class_str(X->class_type), X->rank, dims);
        goto done;
    }
    size_t H = X->dims[0], W = X->dims[1], C = X->dims[2], N = X->dims[3];
    if (H < 1 || W < 1 || H > 4096 || W > 4096 || C < 1 || C > EOS_MAX_CHANNELS || N < 1 ||
        var_elems(X) > MAT_MAX_BYTES) {
        dims_str(X, dims, sizeof dims);
        st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, "SVHN's X is 32 x 32 x 3 x N uint8",
                            "%s: X is %s, expected H x W x C x N with H, W in 1..4096, C in 1..%d, N >= 1 and at most "
                            "4 GiB", path, dims, EOS_MAX_CHANNELS);
        goto done;
    }
    size_t ny = var_elems(y);
    if (!numeric_class(y->class_type) || y->isComplex || y->isLogical || y->rank != 2 ||
        (y->dims[0] != 1 && y->dims[1] != 1) || ny != N) {
        dims_str(y, dims, sizeof dims);
        st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, "SVHN's y is an N x 1 column of labels 1..10",
                            "%s: y is %s%s %s, expected a real numeric N x 1 (or 1 x N) array with N = %zu, one label "
                            "per image of X", path, y->isComplex ? "complex " : "", class_str(y->class_type), dims, N);
        goto done;
    }
    /* now the data; a variable whose stored data is shorter than its header says fails here */
    Mat_VarFree(X);
    X = Mat_VarRead(mat, "X");
    if (!X || !X->data || X->class_type != MAT_C_UINT8 || X->rank != 4 || var_elems(X) != H * W * C * N ||
        X->nbytes < H * W * C * N) {
        st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, "the file is damaged: re-download it",
                            "%s: cannot read the data of X%s%s", path, mat_log_msg[0] ? ": " : "", mat_log_msg);
        goto done;
    }
    Mat_VarFree(y);
    y = Mat_VarRead(mat, "y");
    if (!y || !y->data || !numeric_class(y->class_type) || var_elems(y) != N ||
        y->nbytes < N * class_bytes(y->class_type)) {
        st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, "the file is damaged: re-download it",
                            "%s: cannot read the data of y%s%s", path, mat_log_msg[0] ? ": " : "", mat_log_msg);
        goto done;
    }
    out->pixels = malloc(H * W * C * N);
    out->labels = malloc(N * sizeof *out->labels);
    if (!out->pixels || !out->labels) {
        st = eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "%s: %zu images", path, N);
        goto done;
    }
    for (size_t i = 0; i < N; i++) {
        double v = 0;
        label_at(y, i, &v);
        if (!(v >= 1 && v <= 10) || v != floor(v)) {
            st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL,
                                "SVHN labels run 1..10, where 10 stands for the digit 0",
                                "%s: y(%zu) = %g, expected a whole number 1..10", path, i + 1, v);
            goto done;
        }
        out->labels[i] = (int32_t)v == 10 ? 0 : (int32_t)v;
    }
    /* MATLAB's X(h, w, c, n) sits at h + H (w + W (c + C n)); ours is (n, c, h, w) */
    const uint8_t *src = X->data;
    for (size_t n = 0; n < N; n++)
        for (size_t c = 0; c < C; c++) {
            uint8_t *dst = out->pixels + (n * C + c) * H * W;
            const uint8_t *s = src + (n * C + c) * H * W;
            for (size_t h = 0; h < H; h++)
                for (size_t w = 0; w < W; w++) dst[h * W + w] = s[h + H * w];
        }
    out->n = N;
    *channels = (int)C;
    *height = (int)H;
    *width = (int)W;
done:
    if (st != EOS_OK) eos_split_free(out);
    Mat_VarFree(X);
    Mat_VarFree(y);
    Mat_Close(mat);
    return st;
}

eos_status eos__load_svhn(const char *dir, eos_dataset *out) {
    char path[2048];
    int c, h, w, tc, th, tw;
    out->layout = EOS_LAYOUT_SVHN_MAT;
    snprintf(path, sizeof path, "%s/train_32x32.mat", dir);
    eos_status st = eos_svhn_load_mat(path, &out->train, &c, &h, &w);
    if (st == EOS_OK) {
        snprintf(path, sizeof path, "%s/test_32x32.mat", dir);
        if (!eos__is_file(path))
            st = eos__error_set(EOS_ERR_IO, __FILE__, __LINE__, NULL,
                                "SVHN's cropped-digit release has train_32x32.mat and test_32x32.mat",
                                "SVHN dataset %s: missing %s", dir, path);
        else st = eos_svhn_load_mat(path, &out->test, &tc, &th, &tw);
    }
    if (st == EOS_OK && (tc != c || th != h || tw != w))
        st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, NULL,
                            "SVHN dataset %s: training images are %d x %d x %d (H x W x C), test images %d x %d x %d",
                            dir, h, w, c, th, tw, tc);
    if (st == EOS_OK) {
        out->channels = c;
        out->height = h;
        out->width = w;
        out->classes = 10;
        out->class_names = calloc(10, sizeof *out->class_names);
        for (int k = 0; out->class_names && k < 10; k++) {
            char name[8];
            snprintf(name, sizeof name, "%d", k);
            out->class_names[k] = strdup(name);
            if (!out->class_names[k]) st = eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "names");
        }
        if (!out->class_names) st = eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "names");
    }
    if (st == EOS_OK) {
        snprintf(path, sizeof path, "%s/train_32x32.mat", dir);
        st = eos__check_classes(out, path, NULL);
    }
    if (st != EOS_OK) eos_dataset_free(out);
    return st;
}
