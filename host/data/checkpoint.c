/* safetensors read/write (with string metadata) and the name/shape check of a file against a
 * network. The JSON header is parsed by a small strict parser written for this format: objects,
 * arrays, strings and integers, with a depth limit, so a hostile file cannot crash us. Every file
 * written carries a CRC-32 of its header and one per tensor (EOS_SAFETENSORS_HEADER_CRC_KEY,
 * EOS_SAFETENSORS_CRC_KEY), checked on every read together with the finiteness of every F32
 * value, so a damaged or diverged model is never used. */
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define MAX_HEADER ((uint64_t)100 << 20)
#define MAX_FILE ((size_t)16 << 30)
#define MAX_META 4096                 /* metadata entries */
#define MAX_META_VALUE ((size_t)16 << 20)
/* tensors in one file: a ResNet-s of EOS_RESNET_MAX_BLOCKS blocks per stage has about 7,200 with
 * its momenta; the bound keeps a hostile header from costing minutes of name comparisons */
#define MAX_TENSORS ((size_t)1 << 16)

/* ---- a minimal JSON reader ------------------------------------------------------------ */

typedef struct {
    const char *p, *end;
    const char *name;  /* file, for messages */
    const char *start;
} json;

static eos_status jerr(json *j, const char *what) {
    EOS_FAIL(EOS_ERR_FORMAT, "the file is not a valid safetensors file (damaged or truncated?)",
             "%s: safetensors header, byte %ld: %s", j->name, (long)(j->p - j->start), what);
}

static void ws(json *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

static int eat(json *j, char c) {
    ws(j);
    if (j->p < j->end && *j->p == c) {
        j->p++;
        return 1;
    }
    return 0;
}

/* A string into buf (escapes decoded; \u outside ASCII kept as '?'). */
static eos_status jstring(json *j, char *buf, size_t n) {
    ws(j);
    if (j->p >= j->end || *j->p != '"') return jerr(j, "expected a string");
    j->p++;
    size_t k = 0;
    while (j->p < j->end && *j->p != '"') {
        char c = *j->p++;
        if ((unsigned char)c < 0x20) return jerr(j, "control character in a string");
        if (c == '\\') {
            if (j->p >= j->end) break;
            char e = *j->p++;
            switch (e) {
            case '"': case '\\': case '/': c = e; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'u': {
                if (j->end - j->p < 4) return jerr(j, "short \\u escape");
                unsigned v = 0;
                for (int i = 0; i < 4; i++) {
                    char h = *j->p++;
                    int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
                          : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
                    if (d < 0) return jerr(j, "bad \\u escape");
                    v = v * 16 + (unsigned)d;
                }
                c = v < 0x80 ? (char)v : '?';
                break;
            }
            default: return jerr(j, "bad escape in a string");
            }
        }
        if (k + 1 >= n) return jerr(j, "string too long");
        buf[k++] = c;
    }
    if (j->p >= j->end) return jerr(j, "unterminated string");
    j->p++;
    buf[k] = 0;
    return EOS_OK;
}

/* A string of any length (up to max bytes) into a malloc'd buffer: its raw length bounds the
 * decoded one, so the buffer is sized by a first scan to the closing quote. */
static eos_status jstring_alloc(json *j, size_t max, char **out) {
    *out = NULL;
    ws(j);
    if (j->p >= j->end || *j->p != '"') return jerr(j, "expected a string");
    const char *q = j->p + 1;
    while (q < j->end && *q != '"') q += *q == '\\' ? 2 : 1;
    if (q >= j->end) return jerr(j, "unterminated string");
    size_t raw = (size_t)(q - j->p - 1);
    if (raw > max) return jerr(j, "metadata value too long");
    char *buf = malloc(raw + 1);
    if (!buf) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "%s: metadata value of %zu bytes", j->name, raw);
    eos_status st = jstring(j, buf, raw + 1);
    if (st != EOS_OK) {
        free(buf);
        return st;
    }
    *out = buf;
    return EOS_OK;
}

static eos_status jint(json *j, int64_t *out) {
    ws(j);
    int neg = 0;
    if (j->p < j->end && *j->p == '-') { neg = 1; j->p++; }
    if (j->p >= j->end || *j->p < '0' || *j->p > '9') return jerr(j, "expected an integer");
    uint64_t v = 0;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
        if (v > (UINT64_MAX / 10) - 1) return jerr(j, "integer too large");
        v = v * 10 + (uint64_t)(*j->p++ - '0');
    }
    if (j->p < j->end && (*j->p == '.' || *j->p == 'e' || *j->p == 'E')) return jerr(j, "expected an integer, got a fraction");
    if (v > (uint64_t)INT64_MAX) return jerr(j, "integer too large");
    *out = neg ? -(int64_t)v : (int64_t)v;
    return EOS_OK;
}

static eos_status jskip(json *j, int depth) {
    if (depth > 32) return jerr(j, "nested too deeply");
    ws(j);
    if (j->p >= j->end) return jerr(j, "unexpected end");
    char c = *j->p;
    if (c == '"') {
        char tmp[4096];
        return jstring(j, tmp, sizeof tmp);
    }
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        j->p++;
        if (eat(j, close)) return EOS_OK;
        do {
            if (c == '{') {
                char key[4096];
                EOS_TRY(jstring(j, key, sizeof key));
                if (!eat(j, ':')) return jerr(j, "expected ':'");
            }
            EOS_TRY(jskip(j, depth + 1));
        } while (eat(j, ','));
        if (!eat(j, close)) return jerr(j, c == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
        return EOS_OK;
    }
    static const char *lits[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(lits[i]);
        if ((size_t)(j->end - j->p) >= n && !memcmp(j->p, lits[i], n)) {
            j->p += n;
            return EOS_OK;
        }
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        j->p++;
        while (j->p < j->end && strchr("0123456789.eE+-", *j->p)) j->p++;
        return EOS_OK;
    }
    return jerr(j, "unexpected character");
}

/* ---- reading ------------------------------------------------------------------------- */

typedef struct {
    uint64_t begin, end;
} span;

static eos_status parse_entry(json *j, eos_named_tensor *t, span *s) {
    int have_dtype = 0, have_shape = 0, have_off = 0;
    char dtype[32];
    if (!eat(j, '{')) return jerr(j, "expected '{' for a tensor entry");
    if (!eat(j, '}')) {
        do {
            char key[64];
            EOS_TRY(jstring(j, key, sizeof key));
            if (!eat(j, ':')) return jerr(j, "expected ':'");
            if (!strcmp(key, "dtype")) {
                EOS_TRY(jstring(j, dtype, sizeof dtype));
                have_dtype = 1;
            } else if (!strcmp(key, "shape")) {
                if (!eat(j, '[')) return jerr(j, "expected '[' for a shape");
                t->ndim = 0;
                if (!eat(j, ']')) {
                    do {
                        int64_t v;
                        EOS_TRY(jint(j, &v));
                        if (t->ndim == EOS_MAX_TENSOR_DIMS) return jerr(j, "more than 8 dimensions");
                        if (v < 0) return jerr(j, "negative dimension");
                        t->shape[t->ndim++] = v;
                    } while (eat(j, ','));
                    if (!eat(j, ']')) return jerr(j, "expected ',' or ']' in a shape");
                }
                have_shape = 1;
            } else if (!strcmp(key, "data_offsets")) {
                int64_t b, e;
                if (!eat(j, '[')) return jerr(j, "expected '[' for data_offsets");
                EOS_TRY(jint(j, &b));
                if (!eat(j, ',')) return jerr(j, "data_offsets needs two numbers");
                EOS_TRY(jint(j, &e));
                if (!eat(j, ']')) return jerr(j, "data_offsets needs exactly two numbers");
                if (b < 0 || e < b) return jerr(j, "data_offsets [begin, end] with end < begin or negative");
                s->begin = (uint64_t)b;
                s->end = (uint64_t)e;
                have_off = 1;
            } else {
                EOS_TRY(jskip(j, 1));
            }
        } while (eat(j, ','));
        if (!eat(j, '}')) return jerr(j, "expected ',' or '}' in a tensor entry");
    }
    if (!have_dtype || !have_shape || !have_off)
        EOS_FAIL(EOS_ERR_FORMAT, NULL, "%s: tensor '%s' lacks %s", j->name, t->name,
                 !have_dtype ? "\"dtype\"" : !have_shape ? "\"shape\"" : "\"data_offsets\"");
    if (!strcmp(dtype, "F32")) t->dtype = EOS_DTYPE_F32;
    else if (!strcmp(dtype, "I64")) t->dtype = EOS_DTYPE_I64;
    else
        EOS_FAIL(EOS_ERR_FORMAT, "convert the model to float32 first (PyTorch: model.float())",
                 "%s: tensor '%s' has dtype %s, expected F32 (or I64)", j->name, t->name, dtype);
    return EOS_OK;
}


static const span *g_sort_spans;  /* qsort has no context argument in C11 */
static int cmp_span(const void *a, const void *b) {
    const span *x = &g_sort_spans[*(const size_t *)a], *y = &g_sort_spans[*(const size_t *)b];
    /* a zero-length tensor sits before a non-empty one starting at the same byte */
    if (x->begin != y->begin) return (x->begin > y->begin) - (x->begin < y->begin);
    return (x->end > y->end) - (x->end < y->end);
}

static const eos_named_tensor *g_sort_tensors;
static int cmp_name(const void *a, const void *b) {
    return strcmp(g_sort_tensors[*(const size_t *)a].name, g_sort_tensors[*(const size_t *)b].name);
}

void eos_safetensors_free(eos_safetensors *f) {
    if (!f) return;
    for (size_t i = 0; i < f->count; i++) free(f->tensors[i].data);
    free(f->tensors);
    for (size_t i = 0; i < 2 * f->meta_count; i++) free(f->meta[i]);
    free(f->meta);
    memset(f, 0, sizeof *f);
}

/* "__metadata__": an object; string values are kept, any other value is skipped. */
static eos_status parse_meta(json *j, eos_safetensors *out) {
    if (out->meta) return jerr(j, "\"__metadata__\" appears twice");
    out->meta = calloc(2, sizeof *out->meta);  /* non-NULL marks "seen" */
    if (!out->meta) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "%s: metadata", j->name);
    size_t cap = 1;
    if (!eat(j, '{')) return jerr(j, "\"__metadata__\" is not an object");
    if (eat(j, '}')) return EOS_OK;
    do {
        char key[256];
        EOS_TRY(jstring(j, key, sizeof key));
        if (!eat(j, ':')) return jerr(j, "expected ':'");
        ws(j);
        if (j->p < j->end && *j->p != '"') {
            EOS_TRY(jskip(j, 2));
            continue;
        }
        if (eos_safetensors_meta(out, key)) return jerr(j, "a metadata key appears twice");
        if (out->meta_count == MAX_META) return jerr(j, "too many metadata entries");
        if (out->meta_count == cap) {
            char **g = realloc(out->meta, 4 * cap * sizeof *g);
            if (!g) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "%s: metadata", j->name);
            out->meta = g;
            cap *= 2;
        }
        char *value;
        EOS_TRY(jstring_alloc(j, MAX_META_VALUE, &value));
        size_t n = strlen(key) + 1;
        char *k = malloc(n);
        if (!k) {
            free(value);
            EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "%s: metadata", j->name);
        }
        memcpy(k, key, n);
        out->meta[2 * out->meta_count] = k;
        out->meta[2 * out->meta_count + 1] = value;
        out->meta_count++;
    } while (eat(j, ','));
    if (!eat(j, '}')) return jerr(j, "expected ',' or '}' in \"__metadata__\"");
    return EOS_OK;
}

const char *eos_safetensors_meta(const eos_safetensors *f, const char *key) {
    for (size_t i = 0; i < f->meta_count; i++)
        if (!strcmp(f->meta[2 * i], key)) return f->meta[2 * i + 1];
    return NULL;
}

/* ---- integrity: checksums and finite values -------------------------------------------- */

/* how every header EOS-CL writes begins: its checksum is the first thing in it */
#define HEADER_CRC_PREFIX "{\"__metadata__\":{\"" EOS_SAFETENSORS_HEADER_CRC_KEY "\":\""

static uint32_t crc_of(const uint8_t *p, uint64_t n) {
    uLong c = crc32(0L, Z_NULL, 0);
    while (n) {  /* zlib takes uInt lengths */
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, p, k);
        p += k;
        n -= k;
    }
    return (uint32_t)c;
}

/* The file's checksums (when it has them: PyTorch's files and older EOS-CL ones have none, and
 * are read as before), then every F32 value finite. order: the tensors in data order. */
static eos_status verify(const eos_safetensors *f, const uint8_t *header, uint64_t hlen, const uint8_t *data,
                         const span *spans, const size_t *order, const char *name) {
    /* the header's own checksum sits at a fixed place, the first metadata value, and is taken
     * with its 8 digits as zeros */
    const char *hcrc = eos_safetensors_meta(f, EOS_SAFETENSORS_HEADER_CRC_KEY);
    if (hcrc) {
        size_t pl = strlen(HEADER_CRC_PREFIX);
        unsigned long want = 0;
        int ok = strlen(hcrc) == 8 && hlen >= pl + 8 && !memcmp(header, HEADER_CRC_PREFIX, pl);
        for (int k = 0; ok && k < 8; k++) {
            int d = hcrc[k] >= '0' && hcrc[k] <= '9' ? hcrc[k] - '0' : hcrc[k] >= 'a' && hcrc[k] <= 'f' ? hcrc[k] - 'a' + 10 : -1;
            ok = d >= 0;
            want = want << 4 | (unsigned long)(d < 0 ? 0 : d);
        }
        if (!ok)
            EOS_FAIL(EOS_ERR_FORMAT, "the file is damaged: use a copy you have, or train again",
                     "%s is damaged: its header checksum (%s) is not 8 hex digits at the start of \"__metadata__\"", name,
                     EOS_SAFETENSORS_HEADER_CRC_KEY);
        uint32_t got = crc_of(header, pl);
        got = (uint32_t)crc32(got, (const Bytef *)"00000000", 8);
        got = (uint32_t)crc32(got, header + pl + 8, (uInt)(hlen - pl - 8));  /* hlen <= MAX_HEADER (100 MiB) */
        if (got != (uint32_t)want)
            EOS_FAIL(EOS_ERR_FORMAT, "the file is damaged (changed on disk or in a copy): use a copy you have, or "
                     "train again; a training checkpoint cannot be resumed, start the run again with --force",
                     "%s is damaged: its header (names, shapes, metadata) fails its checksum (CRC-32 %08x, the file "
                     "records %08lx)", name, got, want);
    }
    const char *crc = eos_safetensors_meta(f, EOS_SAFETENSORS_CRC_KEY);
    if (crc) {
        const char *p = crc;
        for (size_t i = 0; i < f->count; i++) {
            const span *s = &spans[order[i]];
            const eos_named_tensor *t = &f->tensors[order[i]];
            unsigned long want = 0;
            int ok = 1;
            if (i) ok = *p++ == ' ';
            for (int k = 0; ok && k < 8; k++, p++) {
                int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
                ok = d >= 0;
                want = want << 4 | (unsigned long)(d < 0 ? 0 : d);
            }
            if (!ok)
                EOS_FAIL(EOS_ERR_FORMAT, "the file is damaged: use a copy you have, or train again",
                         "%s is damaged: its metadata %s does not hold %zu checksums (8 hex digits each, one per "
                         "tensor), at tensor '%s'", name, EOS_SAFETENSORS_CRC_KEY, f->count, t->name);
            uint32_t got = crc_of(data + s->begin, s->end - s->begin);
            if (got != (uint32_t)want)
                EOS_FAIL(EOS_ERR_FORMAT, "the file is damaged (changed on disk or in a copy): use a copy you have, or "
                         "train again; a training checkpoint cannot be resumed, start the run again with --force",
                         "%s is damaged: tensor '%s' fails its checksum (CRC-32 %08x, the file records %08lx)", name,
                         t->name, got, want);
        }
        if (*p)
            EOS_FAIL(EOS_ERR_FORMAT, "the file is damaged: use a copy you have, or train again",
                     "%s is damaged: its metadata %s holds more checksums than its %zu tensors", name,
                     EOS_SAFETENSORS_CRC_KEY, f->count);
    }
    for (size_t i = 0; i < f->count; i++) {
        const eos_named_tensor *t = &f->tensors[i];
        if (t->dtype != EOS_DTYPE_F32) continue;
        const float *v = t->data;
        for (size_t k = 0; k < t->numel; k++)
            if (!isfinite(v[k]))
                EOS_FAIL(EOS_ERR_NUMERIC, "a model holding NaN or Inf cannot be used: its training diverged or the file is "
                         "damaged; use an earlier copy, or train again (with a smaller --lr)",
                         "%s: tensor '%s' holds %g at element %zu (every value must be finite)", name, t->name,
                         (double)v[k], k);
    }
    return EOS_OK;
}

eos_status eos_safetensors_parse(const uint8_t *buf, size_t size, const char *name, eos_safetensors *out) {
    memset(out, 0, sizeof *out);
    if (size < 8) EOS_FAIL(EOS_ERR_FORMAT, NULL, "%s: %zu bytes is too short for a safetensors file (8-byte header length first)", name, size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | buf[i];
    if (hlen < 2 || hlen > MAX_HEADER || hlen > size - 8)
        EOS_FAIL(EOS_ERR_FORMAT, "the file is truncated or not a safetensors file",
                 "%s: header length %llu does not fit a %zu-byte file (safetensors starts with the JSON header length)",
                 name, (unsigned long long)hlen, size);
    json j = {(const char *)buf + 8, (const char *)buf + 8 + hlen, name, (const char *)buf + 8};
    const uint8_t *data = buf + 8 + hlen;
    uint64_t data_len = size - 8 - hlen;
    size_t cap = 0;
    span *spans = NULL;
    eos_status st = EOS_OK;
    if (!eat(&j, '{')) { st = jerr(&j, "the header is not a JSON object"); goto fail; }
    if (!eat(&j, '}')) {
        do {
            char key[EOS_MAX_TENSOR_NAME + 64];
            if ((st = jstring(&j, key, sizeof key)) != EOS_OK) goto fail;
            if (!eat(&j, ':')) { st = jerr(&j, "expected ':'"); goto fail; }
            if (!strcmp(key, "__metadata__")) {
                if ((st = parse_meta(&j, out)) != EOS_OK) goto fail;
                continue;
            }
            if (strlen(key) >= EOS_MAX_TENSOR_NAME) {
                st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, NULL, "%s: tensor name '%.60s...' is longer than %d characters", name, key, EOS_MAX_TENSOR_NAME - 1);
                goto fail;
            }
            if (out->count == MAX_TENSORS) {  /* names are compared for duplicates below, sorted */
                st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, NULL, "%s: more than %zu tensors", name,
                                    MAX_TENSORS);
                goto fail;
            }
            if (out->count == cap) {
                cap = cap ? 2 * cap : 32;
                eos_named_tensor *g = realloc(out->tensors, cap * sizeof *g);
                span *h = realloc(spans, cap * sizeof *h);
                if (g) out->tensors = g;
                if (h) spans = h;
                if (!g || !h) { st = eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "%s: header", name); goto fail; }
            }
            eos_named_tensor *t = &out->tensors[out->count];
            memset(t, 0, sizeof *t);
            snprintf(t->name, sizeof t->name, "%s", key);
            out->count++;  /* counted now so that fail: frees it */
            if ((st = parse_entry(&j, t, &spans[out->count - 1])) != EOS_OK) goto fail;
            size_t numel = 1;
            for (int d = 0; d < t->ndim; d++) {
                if (t->shape[d] && numel > (MAX_FILE / 8) / (uint64_t)t->shape[d]) {
                    st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, NULL, "%s: tensor '%s' shape is too large", name, t->name);
                    goto fail;
                }
                numel *= (size_t)t->shape[d];
            }
            t->numel = numel;
            size_t esize = t->dtype == EOS_DTYPE_F32 ? 4 : 8;
            span *s = &spans[out->count - 1];
            if (s->end > data_len || s->end - s->begin != numel * esize) {
                st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, "the file is truncated or damaged",
                                    "%s: tensor '%s' (%zu elements of %zu bytes) has data_offsets [%llu, %llu] but the data "
                                    "section holds %llu bytes", name, t->name, numel, esize, (unsigned long long)s->begin,
                                    (unsigned long long)s->end, (unsigned long long)data_len);
                goto fail;
            }
            t->data = malloc(numel ? numel * esize : 1);
            if (!t->data) { st = eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "%s: tensor '%s'", name, t->name); goto fail; }
            memcpy(t->data, data + s->begin, numel * esize);  /* little-endian host assumed */
        } while (eat(&j, ','));
        if (!eat(&j, '}')) { st = jerr(&j, "expected ',' or '}' after a tensor"); goto fail; }
    }
    ws(&j);
    if (j.p != j.end) { st = jerr(&j, "trailing bytes after the header object"); goto fail; }
    /* the data section is covered exactly: no holes, no overlaps */
    if (out->count) {
        size_t *order = malloc(out->count * sizeof *order);
        if (!order) { st = eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "%s", name); goto fail; }
        for (size_t i = 0; i < out->count; i++) order[i] = i;
        g_sort_tensors = out->tensors;
        qsort(order, out->count, sizeof *order, cmp_name);
        for (size_t i = 1; i < out->count && st == EOS_OK; i++)
            if (!strcmp(out->tensors[order[i]].name, out->tensors[order[i - 1]].name))
                st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, NULL, "%s: tensor '%s' appears twice", name,
                                    out->tensors[order[i]].name);
        for (size_t i = 0; i < out->count; i++) order[i] = i;
        g_sort_spans = spans;
        qsort(order, out->count, sizeof *order, cmp_span);
        uint64_t at = 0;
        for (size_t i = 0; i < out->count && st == EOS_OK; i++) {
            const span *s = &spans[order[i]];
            if (s->begin != at)
                st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, NULL,
                                    "%s: tensor '%s' starts at byte %llu of the data section, expected %llu (%s)", name,
                                    out->tensors[order[i]].name, (unsigned long long)s->begin, (unsigned long long)at,
                                    s->begin < at ? "overlaps the previous tensor" : "a hole before it");
            at = s->end;
        }
        if (st == EOS_OK && at != data_len)
            st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, NULL,
                                "%s: the tensors cover %llu bytes but the data section has %llu", name,
                                (unsigned long long)at, (unsigned long long)data_len);
        /* the layout is sound: now the bytes themselves */
        if (st == EOS_OK) st = verify(out, buf + 8, hlen, data, spans, order, name);
        free(order);
        if (st != EOS_OK) goto fail;
    } else if (data_len) {
        st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, NULL, "%s: %llu data bytes but no tensors", name,
                            (unsigned long long)data_len);
        goto fail;
    } else if ((st = verify(out, buf + 8, hlen, data, spans, NULL, name)) != EOS_OK) {
        goto fail;
    }
    free(spans);
    return EOS_OK;
fail:
    free(spans);
    eos_safetensors_free(out);
    return st;
}

eos_status eos_safetensors_read(const char *path, eos_safetensors *out) {
    memset(out, 0, sizeof *out);
    uint8_t *buf;
    size_t size;
    EOS_TRY(eos__read_file(path, 0, MAX_FILE, &buf, &size));
    eos_status st = eos_safetensors_parse(buf, size, path, out);
    free(buf);
    return st;
}

const eos_named_tensor *eos_safetensors_find(const eos_safetensors *f, const char *name) {
    for (size_t i = 0; i < f->count; i++)
        if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

/* ---- writing ------------------------------------------------------------------------- */

typedef struct {
    char *s;
    size_t n, cap;
    int oom;
} strbuf;

static void sb_put(strbuf *b, const char *fmt, ...) EOS_PRINTF(2, 3);
static void sb_put(strbuf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (w < 0) { b->oom = 1; return; }
        if (b->s && b->n + (size_t)w < b->cap) { b->n += (size_t)w; return; }
        size_t cap = (b->cap ? b->cap * 2 : 4096) + (size_t)w;
        char *g = realloc(b->s, cap);
        if (!g) { b->oom = 1; return; }
        b->s = g;
        b->cap = cap;
    }
}

static void sb_json_string(strbuf *b, const char *s) {
    sb_put(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') sb_put(b, "\\%c", c);
        else if (c < 0x20) sb_put(b, "\\u%04x", c);
        else sb_put(b, "%c", c);
    }
    sb_put(b, "\"");
}

eos_status eos_safetensors_write(const char *path, const eos_named_tensor *t, size_t count) {
    return eos_safetensors_write_meta(path, t, count, NULL, 0);
}

eos_status eos_safetensors_write_meta(const char *path, const eos_named_tensor *t, size_t count,
                                      const char *const *meta, size_t meta_count) {
    for (size_t i = 0; i < meta_count; i++) {
        const char *k = meta[2 * i];
        int dup = !k || !meta[2 * i + 1] || !strcmp(k, "format") || !strcmp(k, "writer") ||
                  !strcmp(k, EOS_SAFETENSORS_CRC_KEY) || !strcmp(k, EOS_SAFETENSORS_HEADER_CRC_KEY);
        for (size_t m = 0; !dup && m < i; m++) dup = !strcmp(meta[2 * m], k);
        if (dup || strlen(k) >= 256 || strlen(meta[2 * i + 1]) > MAX_META_VALUE)
            EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "writing %s: metadata entry %zu ('%s') is missing, reserved, repeated or too long",
                     path, i, k ? k : "");
    }
    for (size_t i = 0; i < count; i++) {
        if (t[i].dtype != EOS_DTYPE_F32 && t[i].dtype != EOS_DTYPE_I64)
            EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "writing %s: tensor '%s' has an unknown dtype", path, t[i].name);
        if (t[i].ndim < 0 || t[i].ndim > EOS_MAX_TENSOR_DIMS || !t[i].name[0])
            EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "writing %s: tensor %zu ('%s') has a bad name or rank", path, i, t[i].name);
        for (size_t k = 0; k < i; k++)
            if (!strcmp(t[k].name, t[i].name))
                EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "writing %s: tensor '%s' given twice", path, t[i].name);
        /* a file we would refuse to read is never written: a diverged model stays in memory */
        if (t[i].dtype != EOS_DTYPE_F32) continue;
        size_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++) numel *= (size_t)t[i].shape[d];
        const float *v = t[i].data;
        for (size_t k = 0; k < numel; k++)
            if (!isfinite(v[k]))
                EOS_FAIL(EOS_ERR_NUMERIC, "the values come from a diverged run (try a smaller --lr)",
                         "writing %s: tensor '%s' holds %g at element %zu (every value must be finite)", path, t[i].name,
                         (double)v[k], k);
    }
    strbuf h = {0};
    uint64_t off = 0;
    sb_put(&h, "%s00000000\",\"format\":\"pt\",\"writer\":\"eos-cl %s\"", HEADER_CRC_PREFIX, EOS_VERSION);
    /* one CRC-32 per tensor, in data order (the order the tensors are written in below) */
    sb_put(&h, ",\"%s\":\"", EOS_SAFETENSORS_CRC_KEY);
    for (size_t i = 0; i < count; i++) {
        size_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++) numel *= (size_t)t[i].shape[d];
        sb_put(&h, "%s%08x", i ? " " : "", crc_of(t[i].data, (uint64_t)numel * (t[i].dtype == EOS_DTYPE_F32 ? 4 : 8)));
    }
    sb_put(&h, "\"");
    for (size_t i = 0; i < meta_count; i++) {
        sb_put(&h, ",");
        sb_json_string(&h, meta[2 * i]);
        sb_put(&h, ":");
        sb_json_string(&h, meta[2 * i + 1]);
    }
    sb_put(&h, "}");
    for (size_t i = 0; i < count; i++) {
        size_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++) numel *= (size_t)t[i].shape[d];
        uint64_t bytes = numel * (t[i].dtype == EOS_DTYPE_F32 ? 4 : 8);
        sb_put(&h, ",");
        sb_json_string(&h, t[i].name);
        sb_put(&h, ":{\"dtype\":\"%s\",\"shape\":[", t[i].dtype == EOS_DTYPE_F32 ? "F32" : "I64");
        for (int d = 0; d < t[i].ndim; d++) sb_put(&h, "%s%lld", d ? "," : "", (long long)t[i].shape[d]);
        sb_put(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off, (unsigned long long)(off + bytes));
        off += bytes;
    }
    sb_put(&h, "}");
    while (!h.oom && h.n % 8) sb_put(&h, " ");  /* keeps the data 8-byte aligned */
    if (h.oom) {
        free(h.s);
        EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "writing %s: header", path);
    }
    char hcrc[9];
    snprintf(hcrc, sizeof hcrc, "%08x", crc_of((const uint8_t *)h.s, h.n));
    memcpy(h.s + strlen(HEADER_CRC_PREFIX), hcrc, 8);
    eos__atomic_file a;
    eos_status st = eos__atomic_open(&a, path);
    if (st != EOS_OK) {
        free(h.s);
        return st;
    }
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)h.n >> (8 * i));
    int ok = fwrite(len8, 1, 8, a.f) == 8 && fwrite(h.s, 1, h.n, a.f) == h.n;
    for (size_t i = 0; ok && i < count; i++) {
        size_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++) numel *= (size_t)t[i].shape[d];
        size_t esize = t[i].dtype == EOS_DTYPE_F32 ? 4 : 8;
        ok = numel == 0 || fwrite(t[i].data, esize, numel, a.f) == numel;
    }
    free(h.s);
    if (!ok) {
        int e = errno;
        eos__atomic_abort(&a);
        EOS_FAIL(EOS_ERR_IO, "check free disk space; the previous file, if any, is untouched", "writing %s failed: %s",
                 path, strerror(e));
    }
    return eos__atomic_commit(&a);
}

/* ---- checking against a network ------------------------------------------------------- */

static void shape_str(char *buf, size_t n, int ndim, const int64_t *shape) {
    size_t off = (size_t)snprintf(buf, n, "(");
    for (int d = 0; d < ndim && off < n; d++)
        off += (size_t)snprintf(buf + off, n - off, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (off < n) snprintf(buf + off, n - off, ")");
}

eos_status eos_safetensors_check(const eos_safetensors *f, const eos_param_spec *spec, size_t count, const char *path) {
    strbuf r = {0};
    size_t problems = 0;
    for (size_t i = 0; i < count; i++) {
        const eos_named_tensor *t = eos_safetensors_find(f, spec[i].name);
        char want[96], got[96];
        shape_str(want, sizeof want, spec[i].ndim, spec[i].shape);
        if (!t) {
            sb_put(&r, "\n  missing: %s %s", spec[i].name, want);
            problems++;
            continue;
        }
        int same = t->ndim == spec[i].ndim;
        for (int d = 0; same && d < t->ndim; d++) same = t->shape[d] == spec[i].shape[d];
        if (!same) {
            shape_str(got, sizeof got, t->ndim, t->shape);
            sb_put(&r, "\n  wrong shape: %s is %s, expected %s", spec[i].name, got, want);
            problems++;
        } else if (t->dtype != spec[i].dtype) {
            sb_put(&r, "\n  wrong dtype: %s is %s, expected %s", spec[i].name, t->dtype == EOS_DTYPE_F32 ? "F32" : "I64",
                   spec[i].dtype == EOS_DTYPE_F32 ? "F32" : "I64");
            problems++;
        }
    }
    for (size_t i = 0; i < f->count; i++) {
        int known = 0;
        for (size_t k = 0; k < count && !known; k++) known = !strcmp(f->tensors[i].name, spec[k].name);
        if (!known) {
            sb_put(&r, "\n  unexpected: %s", f->tensors[i].name);
            problems++;
        }
    }
    if (!problems) {
        free(r.s);
        return EOS_OK;
    }
    eos_status st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL,
                                   "is the file for another architecture or number of classes (--arch)?",
                                   "%s does not match the network (%zu problem%s):%s", path, problems,
                                   problems == 1 ? "" : "s", r.s ? r.s : "");
    free(r.s);
    return st;
}
