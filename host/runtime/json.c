/* A strict, bounded JSON reader (RFC 8259 values, nesting at most 64 deep) for the report's
 * inputs: the JSON files EOS-CL writes. Errors name the file and the line. Also the one JSON
 * string writer (eos/json.h), which keeps every file valid UTF-8 whatever bytes a name holds. */
#include "json.h"

#include "internal.h"

#include "eos/json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_DEPTH = 64 };

typedef struct {
    const char *p, *end, *name;
    int line;
} cursor;

static eos_status bad(const cursor *c, const char *what) {
    return eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, "the file is damaged or not one EOS-CL wrote",
                          "%s, line %d: %s", c->name, c->line, what);
}

static void skip_ws(cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r' || *c->p == '\n')) {
        if (*c->p == '\n') c->line++;
        c->p++;
    }
}

static int put_utf8(char *o, unsigned cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xc0 | cp >> 6); o[1] = (char)(0x80 | (cp & 0x3f)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12); o[1] = (char)(0x80 | ((cp >> 6) & 0x3f)); o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18); o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f)); o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static int hex4(const char *p, unsigned *v) {
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char h = p[i];
        unsigned d = h >= '0' && h <= '9' ? (unsigned)(h - '0') : h >= 'a' && h <= 'f' ? (unsigned)(h - 'a' + 10)
                   : h >= 'A' && h <= 'F' ? (unsigned)(h - 'A' + 10) : 16u;
        if (d > 15) return -1;
        *v = *v << 4 | d;
    }
    return 0;
}

/* At the opening quote; the decoded string is never longer than the source. */
static eos_status parse_string(cursor *c, char **out) {
    const char *s = ++c->p;
    while (c->p < c->end && *c->p != '"') c->p += *c->p == '\\' && c->p + 1 < c->end ? 2 : 1;
    if (c->p >= c->end) return bad(c, "a string is not closed");
    char *o = malloc((size_t)(c->p - s) + 1);
    if (!o) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "%s: a string", c->name);
    size_t k = 0;
    for (const char *q = s; q < c->p; q++) {
        if ((unsigned char)*q < 0x20) { free(o); return bad(c, "a control character inside a string"); }
        if (*q != '\\') { o[k++] = *q; continue; }
        q++;
        switch (*q) {
        case '"': case '\\': case '/': o[k++] = *q; break;
        case 'b': o[k++] = '\b'; break;
        case 'f': o[k++] = '\f'; break;
        case 'n': o[k++] = '\n'; break;
        case 'r': o[k++] = '\r'; break;
        case 't': o[k++] = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (c->p - q < 5 || hex4(q + 1, &cp)) { free(o); return bad(c, "a bad \\u escape"); }
            q += 4;
            if (cp >= 0xd800 && cp < 0xdc00 && c->p - q >= 7 && q[1] == '\\' && q[2] == 'u' && !hex4(q + 3, &lo) &&
                lo >= 0xdc00 && lo < 0xe000) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                q += 6;
            } else if (cp >= 0xd800 && cp < 0xe000) {
                cp = 0xfffd;  /* a lone surrogate */
            }
            /* \uXXXX is 6 bytes of source, at most 4 of output (a pair: 12 and 4) */
            k += (size_t)put_utf8(o + k, cp);
            break;
        }
        default: free(o); return bad(c, "an unknown escape in a string");
        }
    }
    o[k] = 0;
    c->p++;  /* the closing quote */
    *out = o;
    return EOS_OK;
}

static eos_status parse_number(cursor *c, double *out) {
    char buf[64];
    size_t k = 0;
    const char *q = c->p;
    if (q < c->end && *q == '-') q++;
    if (q >= c->end || *q < '0' || *q > '9') return bad(c, "expected a value");
    while (q < c->end && *q && strchr("0123456789+-.eE", *q)) q++;
    k = (size_t)(q - c->p);
    if (k >= sizeof buf) return bad(c, "a number is too long");
    memcpy(buf, c->p, k);
    buf[k] = 0;
    char *e;
    *out = strtod(buf, &e);
    if (*e || !isfinite(*out)) return bad(c, "a bad number");
    c->p = q;
    return EOS_OK;
}

static int word(cursor *c, const char *w) {
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n)) return 0;
    c->p += n;
    return 1;
}

static eos_status parse_value(cursor *c, eos__json *v, int depth);

/* An array or object body after the opening bracket; close is ']' or '}'. */
static eos_status parse_items(cursor *c, eos__json *v, int depth, char close) {
    size_t cap = 0;
    v->n = 0;
    skip_ws(c);
    if (c->p < c->end && *c->p == close) { c->p++; return EOS_OK; }
    for (;;) {
        if (v->n == cap) {
            cap = cap ? 2 * cap : 8;
            eos__json *items = realloc(v->items, cap * sizeof *items);
            if (items) v->items = items;
            char **keys = close == '}' ? realloc(v->keys, cap * sizeof *keys) : NULL;
            if (keys) v->keys = keys;
            if (!items || (close == '}' && !keys)) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "%s: %zu items", c->name, cap);
        }
        eos__json *it = &v->items[v->n];
        memset(it, 0, sizeof *it);
        skip_ws(c);
        if (close == '}') {
            v->keys[v->n] = NULL;
            if (c->p >= c->end || *c->p != '"') return bad(c, "expected a member name in quotes");
            v->n++;  /* counted now so that eos__json_free releases the key on failure */
            EOS_TRY(parse_string(c, &v->keys[v->n - 1]));
            skip_ws(c);
            if (c->p >= c->end || *c->p != ':') return bad(c, "expected ':' after a member name");
            c->p++;
        } else {
            v->n++;
        }
        EOS_TRY(parse_value(c, it, depth + 1));
        skip_ws(c);
        if (c->p < c->end && *c->p == ',') { c->p++; continue; }
        if (c->p < c->end && *c->p == close) { c->p++; return EOS_OK; }
        return bad(c, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static eos_status parse_value(cursor *c, eos__json *v, int depth) {
    if (depth > MAX_DEPTH) return bad(c, "nested too deep");
    skip_ws(c);
    if (c->p >= c->end) return bad(c, "the file ends where a value was expected");
    switch (*c->p) {
    case '{': c->p++; v->kind = EOS__JSON_OBJECT; return parse_items(c, v, depth, '}');
    case '[': c->p++; v->kind = EOS__JSON_ARRAY; return parse_items(c, v, depth, ']');
    case '"': v->kind = EOS__JSON_STRING; return parse_string(c, &v->str);
    default: break;
    }
    if (word(c, "null")) { v->kind = EOS__JSON_NULL; return EOS_OK; }
    if (word(c, "true")) { v->kind = EOS__JSON_BOOL; v->num = 1; return EOS_OK; }
    if (word(c, "false")) { v->kind = EOS__JSON_BOOL; v->num = 0; return EOS_OK; }
    v->kind = EOS__JSON_NUMBER;
    return parse_number(c, &v->num);
}

static void free_inner(eos__json *j) {
    for (size_t i = 0; i < j->n; i++) {
        if (j->items) free_inner(&j->items[i]);
        if (j->keys) free(j->keys[i]);
    }
    free(j->items);
    free(j->keys);
    free(j->str);
}

void eos__json_free(eos__json *j) {
    if (!j) return;
    free_inner(j);
    free(j);
}

eos_status eos__json_parse(const char *text, size_t len, const char *name, eos__json **out) {
    *out = NULL;
    cursor c = {text, text + len, name ? name : "JSON", 1};
    eos__json *j = calloc(1, sizeof *j);
    if (!j) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "%s", c.name);
    eos_status st = parse_value(&c, j, 0);
    if (st == EOS_OK) {
        skip_ws(&c);
        if (c.p != c.end) st = bad(&c, "text after the end of the value");
    }
    if (st != EOS_OK) {
        eos__json_free(j);
        return st;
    }
    *out = j;
    return EOS_OK;
}

eos_status eos__json_read(const char *path, eos__json **out) {
    uint8_t *buf;
    size_t size;
    *out = NULL;
    EOS_TRY(eos__read_file(path, 0, (size_t)64 << 20, &buf, &size));
    eos_status st = eos__json_parse((const char *)buf, size, path, out);
    free(buf);
    return st;
}

const eos__json *eos__json_get(const eos__json *j, const char *key) {
    if (!j || j->kind != EOS__JSON_OBJECT) return NULL;
    for (size_t i = 0; i < j->n; i++)
        if (j->keys[i] && !strcmp(j->keys[i], key)) return &j->items[i];
    return NULL;
}

double eos__json_num(const eos__json *j, const char *key, double fallback) {
    const eos__json *v = eos__json_get(j, key);
    return v && (v->kind == EOS__JSON_NUMBER || v->kind == EOS__JSON_BOOL) ? v->num : fallback;
}

const char *eos__json_str(const eos__json *j, const char *key, const char *fallback) {
    const eos__json *v = eos__json_get(j, key);
    return v && v->kind == EOS__JSON_STRING ? v->str : fallback;
}

/* ---- writing ------------------------------------------------------------------------------ */

size_t eos__utf8_char(const char *s) {
    const unsigned char *u = (const unsigned char *)s;
    unsigned char b = u[0];
    if (b < 0x80) return b ? 1 : 0;
    /* the lead byte gives the length and the allowed range of the second byte (RFC 3629,
     * table 3-7 of the Unicode standard): no overlong forms, no surrogates, nothing past U+10FFFF */
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) n = 2;
    else if (b == 0xe0) n = 3, lo = 0xa0;
    else if (b >= 0xe1 && b <= 0xec) n = 3;
    else if (b == 0xed) n = 3, hi = 0x9f;
    else if (b >= 0xee && b <= 0xef) n = 3;
    else if (b == 0xf0) n = 4, lo = 0x90;
    else if (b >= 0xf1 && b <= 0xf3) n = 4;
    else if (b == 0xf4) n = 4, hi = 0x8f;
    else return 0;
    if (u[1] < lo || u[1] > hi) return 0;  /* also stops at the terminating NUL */
    for (size_t i = 2; i < n; i++)
        if (u[i] < 0x80 || u[i] > 0xbf) return 0;
    return n;
}

typedef struct {
    FILE *f;
    char *buf;
    size_t cap, len;
} sink;

static void put(sink *k, const char *s, size_t n) {
    if (k->f) fwrite(s, 1, n, k->f);
    for (size_t i = 0; i < n && k->buf; i++)
        if (k->len + i + 1 < k->cap) k->buf[k->len + i] = s[i];
    k->len += n;
}

static void write_string(sink *k, const char *s) {
    if (!s) { put(k, "null", 4); return; }
    put(k, "\"", 1);
    while (*s) {
        unsigned char c = (unsigned char)*s;
        size_t n = eos__utf8_char(s);
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\', esc[1] = (char)c;
            put(k, esc, 2);
        } else if (c < 0x20 || c == 0x7f) {
            const char *named = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" : c == '\b' ? "\\b"
                              : c == '\f' ? "\\f" : NULL;
            if (named) put(k, named, 2);
            else put(k, esc, (size_t)snprintf(esc, sizeof esc, "\\u%04x", c));
        } else if (n == 0) {
            put(k, "\xef\xbf\xbd", 3);  /* U+FFFD for a byte that is not UTF-8 */
            n = 1;
        } else {
            put(k, s, n);
        }
        s += n ? n : 1;
    }
    put(k, "\"", 1);
}

void eos_json_write_string(FILE *f, const char *s) {
    sink k = {f, NULL, 0, 0};
    write_string(&k, s);
}

size_t eos_json_format_string(char *buf, size_t cap, const char *s) {
    sink k = {NULL, buf, cap, 0};
    write_string(&k, s);
    if (buf && cap) buf[k.len < cap ? k.len : cap - 1] = 0;
    return k.len;
}
