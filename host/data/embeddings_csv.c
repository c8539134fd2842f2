/* Embedding CSV files (GUIDE section 6): "label,f0,...,f{d-1}" then one row per sample.
 * The reader is strict: ragged rows, non-numeric or non-finite fields and labels out of range
 * are errors naming the line (and column); the writer is atomic. */
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_CSV ((size_t)8 << 30)

void eos_embeddings_free(eos_embeddings *e) {
    if (!e) return;
    free(e->labels);
    free(e->x);
    memset(e, 0, sizeof *e);
}

/* One line: [p, eol) without the line break. */
static const char *line_end(const char *p, const char *end) {
    const char *q = memchr(p, '\n', (size_t)(end - p));
    return q ? q : end;
}

static size_t count_fields(const char *p, const char *e) {
    size_t n = 1;
    for (; p < e; p++) n += *p == ',';
    return n;
}

/* Parse field [p, q) as a float; spaces around it are allowed. Any length is taken (a long
 * number is copied to the heap): 0.000...1 with many digits is still a number. -2: no memory. */
static int parse_float(const char *p, const char *q, float *out) {
    char small[64];
    while (p < q && (*p == ' ' || *p == '\t')) p++;
    while (q > p && (q[-1] == ' ' || q[-1] == '\t')) q--;
    size_t len = (size_t)(q - p);
    if (len == 0) return -1;
    char *tmp = len < sizeof small ? small : malloc(len + 1);
    if (!tmp) return -2;
    memcpy(tmp, p, len);
    tmp[len] = 0;
    char *endp;
    errno = 0;
    float v = strtof(tmp, &endp);
    int bad = *endp || !isfinite(v);
    if (tmp != small) free(tmp);
    if (bad) return -1;
    *out = v;
    return 0;
}

static int parse_label(const char *p, const char *q, long *out) {
    while (p < q && (*p == ' ' || *p == '\t')) p++;
    while (q > p && (q[-1] == ' ' || q[-1] == '\t')) q--;
    if (p == q) return -1;
    long v = 0;
    int neg = 0;
    if (*p == '-') { neg = 1; p++; }
    if (p == q) return -1;
    for (; p < q; p++) {
        if (*p < '0' || *p > '9' || v > 100000000) return -1;
        v = v * 10 + (*p - '0');
    }
    *out = neg ? -v : v;
    return 0;
}

eos_status eos_embeddings_parse_csv(const char *buf, size_t size, const char *name, int classes, eos_embeddings *out) {
    memset(out, 0, sizeof *out);
    const char *p = buf, *end = buf + size;
    if (size >= 3 && (unsigned char)p[0] == 0xef && (unsigned char)p[1] == 0xbb && (unsigned char)p[2] == 0xbf) p += 3;
    const char *eol = line_end(p, end);
    const char *hend = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
    if (p == end || hend == p)
        EOS_FAIL(EOS_ERR_FORMAT, "the first line is a header: label,f0,f1,...", "%s: empty file, expected a header line", name);
    const char *comma = memchr(p, ',', (size_t)(hend - p));
    float dummy;
    if (!comma || parse_float(p, comma, &dummy) == 0)
        EOS_FAIL(EOS_ERR_FORMAT, "the first line is a header: label,f0,f1,...",
                 "%s line 1: expected a header line \"label,f0,f1,...\" with at least one feature", name);
    size_t dim = count_fields(p, hend) - 1;
    /* at most one row per line break after the header: allocate once */
    size_t rows = 1;
    for (const char *q = eol; q < end; q++) rows += *q == '\n';
    if (dim > 1000000 || (rows && dim > SIZE_MAX / sizeof(float) / rows))
        EOS_FAIL(EOS_ERR_FORMAT, NULL, "%s: %zu features per row is too many", name, dim);
    out->labels = malloc((rows ? rows : 1) * sizeof *out->labels);
    out->x = malloc((rows * dim > 0 ? rows * dim : 1) * sizeof *out->x);
    if (!out->labels || !out->x) {
        eos_embeddings_free(out);
        EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "%s: %zu rows of %zu features", name, rows, dim);
    }
    out->dim = dim;
    size_t line = 1, r = 0;
    for (const char *s = eol < end ? eol + 1 : end; s < end; s = eol < end ? eol + 1 : end) {
        line++;
        eol = line_end(s, end);
        const char *e = eol > s && eol[-1] == '\r' ? eol - 1 : eol;
        if (e == s) continue;  /* blank line */
        size_t nf = count_fields(s, e);
        if (nf != dim + 1) {
            eos_embeddings_free(out);
            EOS_FAIL(EOS_ERR_FORMAT, "every row has the label and the same number of features as the header",
                     "%s line %zu: %zu fields, expected %zu (label + %zu features, as in the header)", name, line, nf,
                     dim + 1, dim);
        }
        const char *f = s;
        const char *c = memchr(f, ',', (size_t)(e - f));
        long label;
        if (parse_label(f, c, &label) != 0 || label < 0 || (classes > 0 && label >= classes)) {
            int len = (int)(c - f) < 40 ? (int)(c - f) : 40;
            eos_embeddings_free(out);
            if (classes > 0)
                EOS_FAIL(EOS_ERR_FORMAT, NULL, "%s line %zu: label '%.*s', expected an integer 0..%d", name, line, len, f,
                         classes - 1);
            EOS_FAIL(EOS_ERR_FORMAT, NULL, "%s line %zu: label '%.*s', expected a non-negative integer", name, line, len, f);
        }
        out->labels[r] = (int32_t)label;
        for (size_t k = 0; k < dim; k++) {
            f = c + 1;
            c = memchr(f, ',', (size_t)(e - f));
            if (!c) c = e;
            int pr = parse_float(f, c, &out->x[r * dim + k]);
            if (pr != 0) {
                int len = (int)(c - f) < 40 ? (int)(c - f) : 40;
                eos_embeddings_free(out);
                if (pr == -2) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "%s line %zu: a %zu-character number", name, line,
                                       (size_t)(c - f));
                EOS_FAIL(EOS_ERR_FORMAT, NULL, "%s line %zu, column %zu (f%zu): '%.*s%s' is not a finite number", name,
                         line, k + 2, k, len, f, c - f > len ? "..." : "");
            }
        }
        r++;
    }
    out->n = r;
    return EOS_OK;
}

eos_status eos_embeddings_read_csv(const char *path, int classes, eos_embeddings *out) {
    memset(out, 0, sizeof *out);
    uint8_t *buf;
    size_t size;
    EOS_TRY(eos__read_file(path, 0, MAX_CSV, &buf, &size));
    eos_status st = eos_embeddings_parse_csv((const char *)buf, size, path, classes, out);
    free(buf);
    return st;
}

eos_status eos_embeddings_write_csv(const char *path, const eos_embeddings *e) {
    if (!e || e->dim == 0) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "writing %s: embeddings need at least one feature", path);
    eos__atomic_file a;
    EOS_TRY(eos__atomic_open(&a, path));
    fputs("label", a.f);
    for (size_t k = 0; k < e->dim; k++) fprintf(a.f, ",f%zu", k);
    fputc('\n', a.f);
    for (size_t i = 0; i < e->n; i++) {
        fprintf(a.f, "%d", e->labels[i]);
        for (size_t k = 0; k < e->dim; k++) fprintf(a.f, ",%.9g", e->x[i * e->dim + k]);
        fputc('\n', a.f);
    }
    return eos__atomic_commit(&a);
}
