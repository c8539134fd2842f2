/* The run report: reads what `eos pipeline` leaves in its folder (summary.json, the phase-1
 * logs and metrics, each head's metrics, the embedding gap and the 2-d projection) and writes
 * one self-contained HTML page of SVG charts (host/report/svg.c): no scripts, no external resources. */
#include "internal.h"
#include "json.h"
#include "svg.h"

#include "eos/report.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* MAX_CLASSES: the image-folder loader's own bound; a run's JSON files (64 MiB at most) bound it
 * further. Above HEATMAP_MAX classes a confusion matrix would not be legible as cells. */
enum { PAGE_W = 1100, MAX_CLASSES = 1000000, MAX_RESULTS = 64, HEATMAP_MAX = 200 };

typedef struct {
    const char *name, *dir;
    double acc, bac, gm, fm;
    double *recall;       /* (C) */
    int64_t *confusion;   /* (C, C) */
    double *before, *after;  /* (C) class counts around the re-balancing; NULL for phase-1 rows */
    double synthetic;
    /* wall time (summary.json's "seconds" and its parts; NAN in runs before they existed) */
    double seconds, s_phase1, s_embed, s_resample, s_head;
    int phase;  /* 1 or 3; 0 when summary.json does not say */
} result;

typedef struct {
    const char *name;
    size_t n;
    double *epoch, *loss, *acc, *bac, *ips, *seconds;  /* (n) each, one block */
} curve;

typedef struct {
    const char *dir;
    eos__json *summary;
    int C;
    const char **classes;  /* (C), into summary */
    result res[MAX_RESULTS];
    int nres;
    curve curves[MAX_RESULTS];
    int ncurves;
    double *test_gap, *train_gap;  /* (C) or NULL */
    size_t np;
    double *px, *py;
    int32_t *plab;
    uint8_t *psyn;
} run;

static void run_free(run *r) {
    eos__json_free(r->summary);
    free(r->classes);
    for (int i = 0; i < r->nres; i++) {
        free(r->res[i].recall);
        free(r->res[i].confusion);
        free(r->res[i].before);
        free(r->res[i].after);
    }
    for (int i = 0; i < r->ncurves; i++) free(r->curves[i].epoch);
    free(r->test_gap);
    free(r->train_gap);
    free(r->px);
    free(r->py);
    free(r->plab);
    free(r->psyn);
}

static eos_status need_file(const char *path, const char *run_dir) {
    struct stat sb;
    if (stat(path, &sb) != 0)
        return eos__error_set(EOS_ERR_IO, __FILE__, __LINE__, NULL,
                              "run `eos pipeline` to the end into this folder, or name another one",
                              "%s is missing (%s): %s is not a finished `eos pipeline` run", path, strerror(errno), run_dir);
    return EOS_OK;
}

static eos_status read_json(const run *r, const char *rel, eos__json **out) {
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", r->dir, rel);
    EOS_TRY(need_file(path, r->dir));
    return eos__json_read(path, out);
}

/* An array member of n numbers (null -> NaN) into a new (n) array. */
static eos_status num_array(const eos__json *obj, const char *key, size_t n, const char *file, double **out) {
    const eos__json *a = eos__json_get(obj, key);
    *out = NULL;
    if (!a || a->kind != EOS__JSON_ARRAY || a->n != n)
        EOS_FAIL(EOS_ERR_FORMAT, "the file is damaged or from another run", "%s: \"%s\" is missing or does not have %zu numbers",
                 file, key, n);
    double *v = malloc((n ? n : 1) * sizeof *v);
    if (!v) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "%s: %s", file, key);
    for (size_t i = 0; i < n; i++) {
        const eos__json *e = &a->items[i];
        if (e->kind != EOS__JSON_NUMBER && e->kind != EOS__JSON_NULL) {
            free(v);
            EOS_FAIL(EOS_ERR_FORMAT, NULL, "%s: \"%s\"[%zu] is not a number", file, key, i);
        }
        v[i] = e->kind == EOS__JSON_NUMBER ? e->num : NAN;
    }
    *out = v;
    return EOS_OK;
}

/* metrics.json of a result: the confusion matrix, and the counts of a re-balanced head */
static eos_status load_metrics(run *r, result *res) {
    char rel[600];
    snprintf(rel, sizeof rel, "%s/metrics.json", res->dir);
    eos__json *m;
    EOS_TRY(read_json(r, rel, &m));
    size_t C = (size_t)r->C;
    const eos__json *conf = eos__json_get(m, "confusion");
    eos_status st = EOS_OK;
    if (!conf || conf->kind != EOS__JSON_ARRAY || conf->n != C)  /* checked first: C x C is only allocated when there */
        st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, "the file is damaged or from another run",
                            "%s/%s: \"confusion\" is not a %zu x %zu matrix", r->dir, rel, C, C);
    else if (!(res->confusion = malloc(C * C * sizeof *res->confusion)))
        st = eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "%s", rel);
    for (size_t i = 0; st == EOS_OK && i < C; i++) {
        const eos__json *row = &conf->items[i];
        if (row->kind != EOS__JSON_ARRAY || row->n != C) {
            st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, NULL, "%s/%s: confusion row %zu is not %zu numbers",
                                r->dir, rel, i, C);
            break;
        }
        for (size_t j = 0; j < C; j++) {
            const eos__json *e = &row->items[j];
            if (e->kind != EOS__JSON_NUMBER || e->num < 0 || e->num > 1e15) {
                st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, NULL,
                                    "%s/%s: confusion[%zu][%zu] is not a count", r->dir, rel, i, j);
                break;
            }
            res->confusion[i * C + j] = (int64_t)e->num;
        }
    }
    if (st == EOS_OK && eos__json_get(m, "counts_before")) {
        st = num_array(m, "counts_before", C, rel, &res->before);
        if (st == EOS_OK) st = num_array(m, "counts_after", C, rel, &res->after);
        res->synthetic = eos__json_num(m, "synthetic", NAN);
    }
    eos__json_free(m);
    return st;
}

/* One number from a CSV field; "" or a negative value (the log's "not measured") -> NaN */
static double field(const char *s, size_t len, int negative_is_missing) {
    char buf[64];
    if (len == 0 || len >= sizeof buf) return NAN;
    memcpy(buf, s, len);
    buf[len] = 0;
    char *e;
    double v = strtod(buf, &e);
    if (*e || !isfinite(v) || (negative_is_missing && v < 0)) return NAN;
    return v;
}

/* phase-1 train_log.csv: columns found by name, so added columns do not matter */
static eos_status load_curve(run *r, const char *name, const char *dir_rel) {
    char path[4400];
    snprintf(path, sizeof path, "%s/%s/train_log.csv", r->dir, dir_rel);
    EOS_TRY(need_file(path, r->dir));
    uint8_t *buf;
    size_t size;
    EOS_TRY(eos__read_file(path, 0, (size_t)64 << 20, &buf, &size));
    static const char *k_cols[6] = {"epoch", "train_loss", "train_acc", "test_bac", "images_per_second", "seconds"};
    int at[6] = {-1, -1, -1, -1, -1, -1};
    size_t lines = 0;
    for (size_t i = 0; i < size; i++) lines += buf[i] == '\n';
    curve *c = &r->curves[r->ncurves];
    memset(c, 0, sizeof *c);
    c->name = name;
    double *block = malloc(6 * (lines + 1) * sizeof *block);
    if (!block) {
        free(buf);
        EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "%s", path);
    }
    double *col[6];
    for (int k = 0; k < 6; k++) col[k] = block + k * (lines + 1);
    c->epoch = col[0], c->loss = col[1], c->acc = col[2], c->bac = col[3], c->ips = col[4], c->seconds = col[5];
    r->ncurves++;  /* owned by r from here on */
    const char *p = (const char *)buf, *end = p + size;
    eos_status st = EOS_OK;
    int header = 1;  /* the first line names the columns */
    for (int line = 1; p < end; line++) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        const char *next = eol + 1;
        if (eol > p && eol[-1] == '\r') eol--;
        if (eol == p) { p = next; continue; }
        double v[64];
        int nf = 0;
        for (const char *q = p; nf < 64;) {
            const char *comma = memchr(q, ',', (size_t)(eol - q));
            const char *fe = comma ? comma : eol;
            if (header) {
                for (int k = 0; k < 6; k++)
                    if ((size_t)(fe - q) == strlen(k_cols[k]) && !memcmp(q, k_cols[k], (size_t)(fe - q))) at[k] = nf;
            } else {
                v[nf] = field(q, (size_t)(fe - q), 1);
            }
            nf++;
            if (!comma) break;
            q = comma + 1;
        }
        if (header) {
            header = 0;
            for (int k = 0; k < 6 && st == EOS_OK; k++)
                if (at[k] < 0)
                    st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, "the file is damaged or not a training log",
                                        "%s: no column \"%s\" in the header", path, k_cols[k]);
        } else {
            for (int k = 0; k < 6; k++) col[k][c->n] = at[k] < nf ? v[at[k]] : NAN;
            if (!isfinite(c->epoch[c->n]))
                st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, NULL, "%s, line %d: no epoch number", path, line);
            c->n++;
        }
        if (st != EOS_OK) break;
        p = next;
    }
    free(buf);
    if (st == EOS_OK && c->n == 0)
        st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, "the run stopped before its first epoch ended",
                            "%s: no epochs", path);
    return st;
}

/* embeddings/projection.csv: label,synthetic,pc1,pc2 */
static eos_status load_projection(run *r, const char *rel) {
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", r->dir, rel);
    EOS_TRY(need_file(path, r->dir));
    uint8_t *buf;
    size_t size;
    EOS_TRY(eos__read_file(path, 0, (size_t)64 << 20, &buf, &size));
    size_t lines = 0;
    for (size_t i = 0; i < size; i++) lines += buf[i] == '\n';
    r->px = malloc((lines + 1) * sizeof *r->px);
    r->py = malloc((lines + 1) * sizeof *r->py);
    r->plab = malloc((lines + 1) * sizeof *r->plab);
    r->psyn = malloc(lines + 1);
    eos_status st = EOS_OK;
    if (!r->px || !r->py || !r->plab || !r->psyn) st = eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "%s", path);
    const char *p = (const char *)buf, *end = p + size;
    static const char k_header[] = "label,synthetic,pc1,pc2";
    if (st == EOS_OK && (size < sizeof k_header - 1 || memcmp(p, k_header, sizeof k_header - 1)))
        st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, NULL, "%s: the header is not \"%s\"", path, k_header);
    for (int line = 1; st == EOS_OK && p < end; line++) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        if (line > 1 && eol > p) {
            double v[4];
            int nf = 0;
            for (const char *q = p; nf < 4;) {
                const char *comma = memchr(q, ',', (size_t)(eol - q));
                const char *fe = comma ? comma : eol;
                v[nf++] = field(q, (size_t)(fe - q), 0);
                if (!comma) break;
                q = comma + 1;
            }
            if (nf != 4 || !isfinite(v[0]) || !isfinite(v[1]) || !isfinite(v[2]) || !isfinite(v[3]) || v[0] < 0 ||
                v[0] >= r->C || (v[1] != 0 && v[1] != 1) || v[0] != floor(v[0])) {
                st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, NULL,
                                    "%s, line %d: expected label (0..%d), synthetic (0 or 1), pc1, pc2", path, line, r->C - 1);
                break;
            }
            r->plab[r->np] = (int32_t)v[0];
            r->psyn[r->np] = (uint8_t)v[1];
            r->px[r->np] = v[2];
            r->py[r->np] = v[3];
            r->np++;
        }
        p = eol + 1;
    }
    free(buf);
    return st;
}

/* the folder of a result: "dir" in summary.json */
static eos_status load_run(const char *run_dir, run *r) {
    memset(r, 0, sizeof *r);
    r->dir = run_dir;
    EOS_TRY(read_json(r, "summary.json", &r->summary));
    const eos__json *cls = eos__json_get(r->summary, "classes"), *results = eos__json_get(r->summary, "results");
    if (!cls || cls->kind != EOS__JSON_ARRAY || cls->n < 1 || cls->n > MAX_CLASSES || !results ||
        results->kind != EOS__JSON_ARRAY || results->n < 1 || results->n > MAX_RESULTS)
        EOS_FAIL(EOS_ERR_FORMAT, "the file is damaged or not one `eos pipeline` wrote",
                 "%s/summary.json: expected \"classes\" (1 to %d names) and \"results\" (1 to %d rows)", run_dir, MAX_CLASSES,
                 MAX_RESULTS);
    r->C = (int)cls->n;
    r->classes = malloc(cls->n * sizeof *r->classes);
    if (!r->classes) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "class names");
    for (size_t c = 0; c < cls->n; c++) {
        if (cls->items[c].kind != EOS__JSON_STRING)
            EOS_FAIL(EOS_ERR_FORMAT, NULL, "%s/summary.json: class name %zu is not a string", run_dir, c);
        r->classes[c] = cls->items[c].str;
    }
    char rel[600];
    for (size_t i = 0; i < results->n; i++) {
        const eos__json *e = &results->items[i];
        result *res = &r->res[r->nres];
        res->name = eos__json_str(e, "method", NULL);
        res->dir = eos__json_str(e, "dir", NULL);
        if (!res->name || !res->dir)
            EOS_FAIL(EOS_ERR_FORMAT, "summary.json files written before the report existed lack it: run the pipeline again",
                     "%s/summary.json: result %zu has no \"method\" or \"dir\"", run_dir, i);
        if (!*res->dir || strstr(res->dir, "..") || strchr(res->dir, '/'))
            EOS_FAIL(EOS_ERR_FORMAT, NULL, "%s/summary.json: result %zu: \"dir\" must name a folder of the run", run_dir, i);
        res->acc = eos__json_num(e, "acc", NAN);
        res->bac = eos__json_num(e, "bac", NAN);
        res->gm = eos__json_num(e, "gm", NAN);
        res->fm = eos__json_num(e, "fm", NAN);
        res->seconds = eos__json_num(e, "seconds", NAN);
        res->s_phase1 = eos__json_num(e, "seconds_phase1", NAN);
        res->s_embed = eos__json_num(e, "seconds_embed", NAN);
        res->s_resample = eos__json_num(e, "seconds_resample", NAN);
        res->s_head = eos__json_num(e, "seconds_head", NAN);
        double ph = eos__json_num(e, "phase", 0);
        res->phase = ph == 1 || ph == 3 ? (int)ph : 0;
        r->nres++;
        snprintf(rel, sizeof rel, "summary.json: result %zu", i);
        EOS_TRY(num_array(e, "per_class_recall", (size_t)r->C, rel, &res->recall));
        EOS_TRY(load_metrics(r, res));
        /* the phase-1 networks' curves, the pixel methods' networks included */
        if (!strncmp(res->dir, "phase1", 6) || !strncmp(res->dir, "pixel-", 6)) EOS_TRY(load_curve(r, res->name, res->dir));
    }
    if (r->ncurves == 0)
        EOS_FAIL(EOS_ERR_FORMAT, NULL, "%s/summary.json: no phase-1 result (a \"dir\" phase1...)", run_dir);
    const eos__json *proj = eos__json_get(r->summary, "projection");
    if (proj) {
        eos__json *gap;
        EOS_TRY(read_json(r, "embeddings/embed_metrics.json", &gap));
        eos_status st = num_array(gap, "test_gap", (size_t)r->C, "embeddings/embed_metrics.json", &r->test_gap);
        if (st == EOS_OK) st = num_array(gap, "train_gap", (size_t)r->C, "embeddings/embed_metrics.json", &r->train_gap);
        eos__json_free(gap);
        EOS_TRY(st);
        const char *file = eos__json_str(proj, "file", "embeddings/projection.csv");
        if (strstr(file, "..") || file[0] == '/')
            EOS_FAIL(EOS_ERR_FORMAT, NULL, "%s/summary.json: projection file %s is outside the run", run_dir, file);
        EOS_TRY(load_projection(r, file));
    }
    return EOS_OK;
}

/* ---- the page --------------------------------------------------------------------------- */

static const char k_style[] =
    "body{margin:0;background:#fff;color:#222;font:14px/1.45 system-ui,-apple-system,\"Segoe UI\",Roboto,\"DejaVu Sans\",sans-serif}\n"
    "main{width:1100px;margin:0 auto;padding:18px 0 40px}\n"
    "h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:34px 0 6px;padding-top:10px;border-top:1px solid #ddd}\n"
    "p{margin:6px 0 10px;max-width:1000px}.sub{color:#555}\n"
    ".cards{display:flex;gap:12px;margin:16px 0}.card{flex:1;border:1px solid #ddd;border-radius:6px;padding:10px 14px}\n"
    ".card b{display:block;font-size:24px}.card span{color:#555;font-size:12px}\n"
    "table{border-collapse:collapse;margin:8px 0 14px}td,th{padding:3px 10px;text-align:right;border-bottom:1px solid #eee}\n"
    "th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}.best{font-weight:700}\n"
    "table.kv td{text-align:left}table.kv td:first-child{color:#555}\n"
    ".row{display:flex;gap:10px;flex-wrap:wrap;align-items:flex-start}svg.chart{display:block;margin:6px 0}\n"
    "svg .t{font-size:14px;font-weight:600;fill:#222}svg .ax{font-size:12px;fill:#333}svg .tk{font-size:11px;fill:#555}\n"
    "svg .val{font-size:10px;fill:#333}svg .grid{stroke:#e6e6e6}svg .axis{stroke:#888}svg .frame{stroke:#888}\n"
    "footer{margin-top:30px;color:#777;font-size:12px}\n";

static void esc(FILE *f, const char *s) { eos__svg_text(f, s); }

/* Every number the page prints goes through here: "-" for a missing (or non-finite) value,
 * fmt up to 1e9 and %.4g beyond, so a doctored 1e300 is 6 characters, not 300 digits. */
static const char *num(char *buf, size_t n, const char *fmt, double v) {
    if (!isfinite(v)) snprintf(buf, n, "-");
    else if (fabs(v) >= 1e9) snprintf(buf, n, "%.4g", v);
    else snprintf(buf, n, fmt, v);
    return buf;
}

/* An integer setting from summary.json, clamped (a huge number is no int to convert) */
static int json_int(const eos__json *j, const char *key, int fallback) {
    double v = eos__json_num(j, key, fallback);
    return !(v > -1e9) ? -1000000000 : v > 1e9 ? 1000000000 : (int)v;
}

static void fmt_seconds(double s, char *buf, size_t n) {
    if (!isfinite(s) || s < 0 || s > 1e12) snprintf(buf, n, "-");
    else if (s < 60) snprintf(buf, n, "%.1f s", s);
    else if (s < 3600) snprintf(buf, n, "%d min %02d s", (int)(s / 60), (int)s % 60);
    else snprintf(buf, n, "%d h %02d min", (int)(s / 3600), (int)(s / 60) % 60);
}

/* mean images per second over a network's epochs */
static double mean_ips(const curve *c) {
    double s = 0;
    int k = 0;
    for (size_t i = 0; i < c->n; i++)
        if (isfinite(c->ips[i]) && c->ips[i] <= 1e12) s += c->ips[i], k++;  /* no sum of 1e308s to inf */
    return k ? s / k : NAN;
}

static void kv(FILE *f, const char *key, const char *value) {
    fprintf(f, "<tr><td>");
    esc(f, key);
    fprintf(f, "</td><td>");
    esc(f, value);
    fprintf(f, "</td></tr>\n");
}

static void card(FILE *f, const char *value, const char *what) {
    fprintf(f, "<div class=\"card\"><b>");
    esc(f, value);
    fprintf(f, "</b><span>");
    esc(f, what);
    fprintf(f, "</span></div>\n");
}

static void page_head(FILE *f, const run *r) {
    const eos__json *s = r->summary;
    char where[4096];  /* the run folder as an absolute path, so the page says where it came from */
    if (r->dir[0] == '/' || !getcwd(where, 2048)) {
        snprintf(where, sizeof where, "%s", r->dir);
    } else if (strcmp(r->dir, ".")) {
        size_t k = strlen(where);
        snprintf(where + k, sizeof where - k, "/%s", !strncmp(r->dir, "./", 2) ? r->dir + 2 : r->dir);
    }
    for (size_t k = strlen(where); k > 1 && where[k - 1] == '/'; k--) where[k - 1] = 0;
    char secs[64];
    fmt_seconds(eos__json_num(s, "seconds", NAN), secs, sizeof secs);
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
               "<meta name=\"viewport\" content=\"width=1140\">\n<title>EOS-CL report: ");
    esc(f, where);
    fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<main>\n<h1>EOS-CL run report</h1>\n<p class=\"sub\">", k_style);
    esc(f, where);
    fprintf(f, " &middot; profile ");
    esc(f, eos__json_str(s, "profile", "?"));
    fprintf(f, " &middot; ");
    esc(f, eos__json_str(s, "arch", "?"));
    fprintf(f, ", %d epochs, ", json_int(s, "epochs", 0));
    esc(f, eos__json_str(s, "imbalance", "?"));
    fprintf(f, " &middot; ");
    esc(f, eos__json_str(s, "device", "?"));
    fprintf(f, " &middot; %s</p>\n", secs);
    /* the cards: the phase-1 model, the EOS head (or the best head), speed, time */
    const result *p1 = &r->res[0], *eos = NULL, *best = NULL;
    for (int i = 0; i < r->nres; i++) {
        if (!strcmp(r->res[i].dir, "eos")) eos = &r->res[i];
        if (r->res[i].before && (!best || r->res[i].bac > best->bac)) best = &r->res[i];
    }
    char v[64], w[160];
    fprintf(f, "<div class=\"cards\">\n");
    num(v, sizeof v, "%.3f", p1->bac);
    snprintf(w, sizeof w, "test BAC of the phase-1 model (%s)", p1->name);
    card(f, v, w);
    if (eos) {
        num(v, sizeof v, "%.3f", eos->bac);
        snprintf(w, sizeof w, "test BAC after EOS and a new head (%s)", eos->name);
        card(f, v, w);
    }
    if (best && best != eos) {
        num(v, sizeof v, "%.3f", best->bac);
        snprintf(w, sizeof w, "best re-balanced head: %s", best->name);
        card(f, v, w);
    }
    num(v, sizeof v - 8, "%.0f", mean_ips(&r->curves[0]));
    strcat(v, " img/s");
    snprintf(w, sizeof w, "phase-1 training speed (%s)", r->curves[0].name);
    card(f, v, w);
    card(f, secs, "the whole run");
    fprintf(f, "</div>\n");
}

/* Above SORT_MIN classes the per-class charts show the classes in order of their long-tailed
 * training-set size, largest first (ties: class order), so the head and the tail read left to
 * right whatever the class numbering (a list file's labels need not follow the sizes).
 * *order (malloc'd) gets the permutation, *names the names in it; both NULL: class order. */
enum { SORT_MIN = 12 };

static const double *train_counts(const run *r) {
    for (int i = 0; i < r->nres; i++)
        if (r->res[i].before) return r->res[i].before;
    return NULL;
}

static void size_order(const run *r, int **order, const char ***names) {
    *order = NULL;
    *names = NULL;
    const double *n = train_counts(r);
    if (r->C <= SORT_MIN || !n) return;
    int *o = malloc((size_t)r->C * sizeof *o);
    const char **nm = malloc((size_t)r->C * sizeof *nm);
    if (!o || !nm) { free(o); free(nm); return; }
    for (int c = 0; c < r->C; c++) o[c] = c;
    for (int i = 1; i < r->C; i++) {  /* insertion sort: stable, and C is at most thousands here */
        int x = o[i], j = i;
        while (j > 0 && n[o[j - 1]] < n[x]) { o[j] = o[j - 1]; j--; }
        o[j] = x;
    }
    for (int c = 0; c < r->C; c++) nm[c] = r->classes[o[c]];
    *order = o;
    *names = nm;
}

/* rows of v (nrows, C) put in order (NULL: as they are) */
static void apply_order(double *v, int nrows, int C, const int *order) {
    if (!order) return;
    double *t = malloc((size_t)C * sizeof *t);
    if (!t) return;
    for (int k = 0; k < nrows; k++) {
        for (int c = 0; c < C; c++) t[c] = v[(size_t)k * C + order[c]];
        memcpy(v + (size_t)k * C, t, (size_t)C * sizeof *t);
    }
    free(t);
}

static const char *order_note(int sorted) {
    return sorted ? " Classes are sorted by their training-set size, largest first; every bar's tooltip names its class." : "";
}

static void section_results(FILE *f, const run *r) {
    fprintf(f, "<h2>Test results</h2>\n<p>Each phase-1 network, then the phase-1 CE network with a head fine-tuned on each "
               "re-balanced embedding set. BAC is the mean per-class recall; GM the geometric mean of sensitivity and "
               "specificity; FM the macro F1. The best value of each column is bold.</p>\n");
    double best[4] = {-1, -1, -1, -1};
    for (int i = 0; i < r->nres; i++) {
        const double m[4] = {r->res[i].acc, r->res[i].bac, r->res[i].gm, r->res[i].fm};
        for (int k = 0; k < 4; k++) best[k] = fmax(best[k], m[k]);
    }
    int per_class = r->C <= 12;
    int timed = 0;  /* runs before the per-row times have none: no column of dashes */
    for (int i = 0; i < r->nres; i++) timed |= isfinite(r->res[i].seconds);
    fprintf(f, "<table id=\"metrics-table\">\n<tr><th>model</th><th>ACC</th><th>BAC</th><th>GM</th><th>FM</th>");
    if (timed) fprintf(f, "<th>wall time</th>");
    for (int c = 0; per_class && c < r->C; c++) {
        fprintf(f, "<th>");
        esc(f, r->classes[c]);
        fprintf(f, "</th>");
    }
    fprintf(f, "</tr>\n");
    for (int i = 0; i < r->nres; i++) {
        const result *x = &r->res[i];
        const double m[4] = {x->acc, x->bac, x->gm, x->fm};
        fprintf(f, "<tr><td>");
        esc(f, x->name);
        fprintf(f, "</td>");
        char b[32];
        for (int k = 0; k < 4; k++) fprintf(f, "<td%s>%s</td>", m[k] == best[k] ? " class=\"best\"" : "", num(b, sizeof b, "%.4f", m[k]));
        if (timed) {
            fmt_seconds(x->seconds, b, sizeof b);
            fprintf(f, "<td>%s</td>", b);
        }
        for (int c = 0; per_class && c < r->C; c++) fprintf(f, "<td>%s</td>", num(b, sizeof b, "%.2f", x->recall[c]));
        fprintf(f, "</tr>\n");
    }
    fprintf(f, "</table>\n");
    if (timed) {
        /* what the times count: the shared part named with its figures */
        const result *h = NULL;
        int pixel = 0;
        for (int i = 0; i < r->nres; i++) {
            if (r->res[i].phase == 3 && !h) h = &r->res[i];
            pixel |= !strncmp(r->res[i].dir, "pixel-", 6);
        }
        fprintf(f, "<p class=\"sub\">Wall time: everything the row's method needs. A phase-1 network: its training");
        if (pixel) fprintf(f, "; a pixel method (pixel-ros, pixel-smote): the re-balancing of the training images and a whole "
                              "training on the balanced set");
        if (h) {
            char a[32], b2[32];
            fmt_seconds(h->s_phase1, a, sizeof a);
            fmt_seconds(h->s_embed, b2, sizeof b2);
            fprintf(f, "; a CE + method row: the CE model's training (%s) and the embedding pass (%s), shared by every such "
                       "row and counted in each, then its own re-balancing and head", a, b2);
        }
        fprintf(f, ". summary.json gives the parts (seconds_phase1, seconds_embed, seconds_resample, seconds_head).</p>\n");
    }
    const char *names[MAX_RESULTS];
    double *v = malloc((size_t)r->nres * r->C * sizeof *v);
    if (!v) return;
    for (int i = 0; i < r->nres; i++) {
        names[i] = r->res[i].name;
        memcpy(v + (size_t)i * r->C, r->res[i].recall, (size_t)r->C * sizeof *v);
    }
    int *order;
    const char **cls;
    size_order(r, &order, &cls);
    apply_order(v, r->nres, r->C, order);
    if (order) fprintf(f, "<p>%s</p>\n", order_note(1) + 1);
    eos__svg_bar_chart(f, "chart-recall", "Per-class recall on the test set", "recall", r->C, cls ? cls : r->classes, r->nres,
                       names, v, (eos__svg_range){0, 1}, NULL, PAGE_W, 380);
    free(v);
    free(order);
    free(cls);
}

static void section_curves(FILE *f, const run *r) {
    int every = json_int(r->summary, "eval_every", 1);
    char when[64] = "after every epoch";
    if (every > 1) snprintf(when, sizeof when, "every %d epochs and after the last", every);
    fprintf(f, "<h2>Phase 1: training</h2>\n<p>Per epoch: the mean training loss and accuracy (augmented batches) and the "
               "test BAC, measured %s.</p>\n<div class=\"row\">\n", when);
    eos__svg_series s[3][MAX_RESULTS];
    for (int k = 0; k < r->ncurves; k++) {
        const curve *c = &r->curves[k];
        s[0][k] = (eos__svg_series){c->name, c->n, c->epoch, c->loss};
        s[1][k] = (eos__svg_series){c->name, c->n, c->epoch, c->acc};
        s[2][k] = (eos__svg_series){c->name, c->n, c->epoch, c->bac};
    }
    eos__svg_range unit = {0, 1}, from0 = {0, NAN};
    eos__svg_line_chart(f, "chart-loss", "Training loss", "epoch", "loss", s[0], r->ncurves, from0, 360, 300);
    eos__svg_line_chart(f, "chart-train-acc", "Training accuracy", "epoch", "accuracy", s[1], r->ncurves, unit, 360, 300);
    eos__svg_line_chart(f, "chart-test-bac", "Test BAC", "epoch", "BAC", s[2], r->ncurves, unit, 360, 300);
    fprintf(f, "</div>\n");
}

static int same(const double *a, const double *b, int n) {
    for (int i = 0; i < n; i++)
        if (!(a[i] == b[i])) return 0;
    return 1;
}

static void section_counts(FILE *f, const run *r) {
    const double *before = NULL;
    for (int i = 0; i < r->nres && !before; i++) before = r->res[i].before;
    if (!before) return;
    fprintf(f, "<h2>Phase 2: class counts before and after re-balancing</h2>\n<p>Training embeddings per class: the "
               "long-tailed set the network was trained on, and each re-balanced set (methods with the same counts share a "
               "bar).%s</p>\n", r->C > SORT_MIN ? order_note(1) : "");
    const char *names[MAX_RESULTS + 1];
    char label[MAX_RESULTS + 1][200];
    double *v = malloc((size_t)(r->nres + 1) * r->C * sizeof *v);
    if (!v) return;
    int ns = 1;
    snprintf(label[0], sizeof label[0], "before (long-tailed)");
    memcpy(v, before, (size_t)r->C * sizeof *v);
    for (int i = 0; i < r->nres; i++) {
        if (!r->res[i].after) continue;
        int k = 1;
        while (k < ns && !same(v + (size_t)k * r->C, r->res[i].after, r->C)) k++;
        if (k == ns) {
            memcpy(v + (size_t)ns * r->C, r->res[i].after, (size_t)r->C * sizeof *v);
            snprintf(label[ns++], sizeof label[0], "after %s", r->res[i].dir);
        } else {
            size_t len = strlen(label[k]);
            snprintf(label[k] + len, sizeof label[0] - len, ", %s", r->res[i].dir);
        }
    }
    for (int k = 0; k < ns; k++) names[k] = label[k];
    int *order;
    const char **cls;
    size_order(r, &order, &cls);
    apply_order(v, ns, r->C, order);
    eos__svg_bar_chart(f, "chart-counts", "Training samples per class", "samples", r->C, cls ? cls : r->classes, ns, names, v,
                       (eos__svg_range){0, NAN}, "%.0f", PAGE_W, 360);
    free(v);
    free(order);
    free(cls);
}

static void section_confusion(FILE *f, const run *r) {
    if (r->C > HEATMAP_MAX) {
        fprintf(f, "<h2>Confusion matrices</h2>\n<p>Not drawn for %d classes (cells below a pixel): each result's "
                   "metrics.json holds its matrix.</p>\n", r->C);
        return;
    }
    fprintf(f, "<h2>Confusion matrices</h2>\n<p>Rows: the true class; columns: the predicted one. The colour is the fraction "
               "of the true class's test images, the number the count (written while the cells are large enough; "
               "every cell's tooltip has it).</p>\n<div class=\"row\" id=\"chart-confusion\">\n");
    for (int i = 0; i < r->nres; i++) {
        char id[32];
        snprintf(id, sizeof id, "chart-confusion-%d", i);
        /* three a row while the cells stay legible, else one a row at the page's width */
        eos__svg_heatmap(f, id, r->res[i].name, r->C, r->res[i].confusion, r->classes, r->C <= 20 ? 360 : PAGE_W);
    }
    fprintf(f, "</div>\n");
}

static void section_embeddings(FILE *f, const run *r) {
    const eos__json *proj = eos__json_get(r->summary, "projection");
    if (!proj) return;
    const eos__json *var = eos__json_get(proj, "variance");
    double v0 = var && var->kind == EOS__JSON_ARRAY && var->n == 2 ? var->items[0].num : NAN;
    double v1 = var && var->kind == EOS__JSON_ARRAY && var->n == 2 ? var->items[1].num : NAN;
    const char *method = eos__json_str(proj, "method", "?");
    fprintf(f, "<h2>Phase 2: where the new samples go</h2>\n<p>The 64-d training embeddings of the phase-1 CE network "
               "projected on their first two principal components (PCA of the real samples), with the samples that ");
    esc(f, method);
    char nreal[32], nsyn[32], p0[32], p1[32];
    fprintf(f, " added: at most %d real and %d synthetic points per class, drawn at random (%s real and %s synthetic "
               "rows in all).</p>\n",
            json_int(proj, "per_class", 0), json_int(proj, "per_class", 0),
            num(nreal, sizeof nreal, "%.0f", eos__json_num(proj, "real", NAN)),
            num(nsyn, sizeof nsyn, "%.0f", eos__json_num(proj, "synthetic", NAN)));
    char xl[64], yl[64], title[160];
    snprintf(xl, sizeof xl, "PC1 (%s%% of the variance)", num(p0, sizeof p0, "%.0f", 100 * v0));
    snprintf(yl, sizeof yl, "PC2 (%s%%)", num(p1, sizeof p1, "%.0f", 100 * v1));
    snprintf(title, sizeof title, "Training embeddings, real and synthetic (%s)", method);
    eos__svg_scatter(f, "chart-projection", title, xl, yl, r->np, r->px, r->py, r->plab, r->psyn, r->C, r->classes, method,
                     PAGE_W, 560);
    fprintf(f, "<p>The embedding gap: the mean distance from a test embedding to the nearest training embedding of its "
               "class, next to the same inside the training set (leaving each sample out). A test gap well above the "
               "training one means the class's training samples do not cover where its test samples fall; over-sampling in "
               "embedding space aims at that gap.</p>\n");
    const char *names[2] = {"test to training", "training (leave one out)"};
    double *v = malloc(2 * (size_t)r->C * sizeof *v);
    if (!v) return;
    memcpy(v, r->test_gap, (size_t)r->C * sizeof *v);
    memcpy(v + r->C, r->train_gap, (size_t)r->C * sizeof *v);
    int *order;
    const char **cls;
    size_order(r, &order, &cls);
    apply_order(v, 2, r->C, order);
    if (order) fprintf(f, "<p>%s</p>\n", order_note(1) + 1);
    eos__svg_bar_chart(f, "chart-gap", "Embedding gap per class", "mean distance", r->C, cls ? cls : r->classes, 2, names, v,
                       (eos__svg_range){0, NAN}, "%.2f", PAGE_W, 340);
    free(v);
    free(order);
    free(cls);
}

static void section_run(FILE *f, const run *r) {
    const eos__json *s = r->summary;
    char buf[512];
    fprintf(f, "<h2>The run</h2>\n<div class=\"row\">\n<table class=\"kv\" id=\"settings\">\n");
    static const char *k_text[] = {"profile", "arch", "imbalance", "methods", "data", "device", "version"};
    for (size_t k = 0; k < sizeof k_text / sizeof *k_text; k++) kv(f, k_text[k], eos__json_str(s, k_text[k], "-"));
    static const char *k_nums[] = {"epochs", "seed", "max_steps", "eval_every", "train_images", "test_images"};
    for (size_t k = 0; k < sizeof k_nums / sizeof *k_nums; k++) {
        double x = eos__json_num(s, k_nums[k], NAN);
        /* a seed is up to 20 digits, and printed whole */
        if (isfinite(x) && fabs(x) < 1e20) snprintf(buf, sizeof buf, "%.0f", x);
        else num(buf, sizeof buf, "%.0f", x);
        kv(f, k_nums[k], buf);
    }
    snprintf(buf, sizeof buf, "%d", r->C);
    kv(f, "classes", buf);
    fmt_seconds(eos__json_num(s, "seconds", NAN), buf, sizeof buf);
    kv(f, "total time", buf);
    fprintf(f, "</table>\n<table id=\"speed\">\n<tr><th>phase-1 network</th><th>epochs</th><th>time</th><th>img/s (mean)</th>"
               "</tr>\n");
    for (int k = 0; k < r->ncurves; k++) {
        const curve *c = &r->curves[k];
        double t = 0;
        for (size_t i = 0; i < c->n; i++) t += isfinite(c->seconds[i]) ? c->seconds[i] : 0;
        fmt_seconds(t, buf, sizeof buf);
        fprintf(f, "<tr><td>");
        esc(f, c->name);
        char ips[32];
        fprintf(f, "</td><td>%zu</td><td>%s</td><td>%s</td></tr>\n", c->n, buf, num(ips, sizeof ips, "%.1f", mean_ips(c)));
    }
    double er = eos__json_num(s, "embedding_images_per_second", NAN);
    if (isfinite(er)) fprintf(f, "<tr><td>embeddings (inference)</td><td></td><td></td><td>%s</td></tr>\n", num(buf, sizeof buf, "%.1f", er));
    fprintf(f, "</table>\n</div>\n");
    const eos__json *t = eos__json_get(s, "timings");
    if (t && t->kind == EOS__JSON_ARRAY && t->n > 0 && t->n <= 100000) {
        const char **labels = malloc(t->n * sizeof *labels);
        double *v = malloc(t->n * sizeof *v);
        int n = 0;
        if (!labels || !v) t = NULL;  /* no memory: the chart is left out, the page is still whole */
        for (size_t i = 0; t && i < t->n; i++) {
            const char *step = eos__json_str(&t->items[i], "step", NULL);
            double sec = eos__json_num(&t->items[i], "seconds", NAN);
            if (!step || !isfinite(sec)) continue;
            labels[n] = step;
            v[n++] = sec;
        }
        if (n) eos__svg_hbar_chart(f, "chart-timings", "Where the time went", "seconds", n, labels, v, "%.1f s", PAGE_W);
        free(labels);
        free(v);
    }
}

eos_status eos_report_write(const char *run_dir, const char *html_path) {
    if (!run_dir) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "eos_report_write: no run folder");
    run r;
    eos_status st = load_run(run_dir, &r);
    char path[4400];
    if (!html_path) snprintf(path, sizeof path, "%s/report.html", run_dir);
    else snprintf(path, sizeof path, "%s", html_path);
    eos__atomic_file a;
    if (st == EOS_OK) st = eos__atomic_open(&a, path);
    if (st == EOS_OK) {
        FILE *f = a.f;
        page_head(f, &r);
        section_results(f, &r);
        section_curves(f, &r);
        section_counts(f, &r);
        section_confusion(f, &r);
        section_embeddings(f, &r);
        section_run(f, &r);
        fprintf(f, "<footer>Made by <code>eos report</code> (EOS-CL %s) from the files of this run alone: one page, no "
                   "scripts, no external resources.</footer>\n</main>\n</body>\n</html>\n",
                EOS_VERSION);
        st = eos__atomic_commit(&a);
    }
    run_free(&r);
    return st;
}
