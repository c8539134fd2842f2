/* The paper's three phases as one library call (include/eos/pipeline.h): what `eos pipeline`
 * runs, with every step reported through a callback instead of printed, and every failure an
 * eos_status with the step named in the result. The files are the CLI's, byte for byte. */
#include "dist.h"
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { PROJECTION_POINTS = 2400, MAX_TIMINGS = 4 * EOS_PIPELINE_MAX_METHODS + 4, DIM = EOS_RESNET_FEATURES };

typedef struct {
    char name[32];
    eos_loss_spec loss;
    eos_train_rule rule;
} variant;

/* the methods list, parsed: re-balancing methods, phase-1 variants with "ce" first, and
 * pixel methods */
typedef struct {
    int nm, nv, np;
    eos_resample_method list[EOS_PIPELINE_MAX_METHODS];
    variant vars[EOS_PIPELINE_MAX_METHODS + 1];
    eos_pixel_method pix[EOS_PIPELINE_MAX_METHODS];
} plan;

typedef struct {
    char step[48];
    double seconds;
} timing;

static const char k_default_methods[] = "eos,ros,smote,borderline,adasyn";

eos_pipeline_config eos_pipeline_defaults(void) {
    eos_pipeline_config c;
    memset(&c, 0, sizeof c);
    c.profile = "paper";
    c.arch = "resnet32";
    c.epochs = 200;
    c.batch = 128;
    c.methods = k_default_methods;
    c.head = EOS_HEAD_FRESH;
    return c;
}

eos_status eos_pipeline_profile(const char *name, eos_pipeline_config *cfg) {
    /* quick: 10 epochs is the shortest run whose backbone separates CIFAR-10's classes well
     * enough for the re-balanced heads to show the paper's effect (issue 16: CE BAC 0.36 -> EOS
     * 0.54 in about 6 minutes on 2 cores); 2 epochs gave a backbone of BAC 0.24 */
    if (name && !strcmp(name, "quick")) {
        cfg->profile = "quick";
        cfg->arch = "resnet8";
        cfg->epochs = 10;
    } else if (name && !strcmp(name, "paper")) {
        cfg->profile = "paper";
        cfg->arch = "resnet32";
        cfg->epochs = 200;
    } else {
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "profile '%s': expected quick or paper", name ? name : "");
    }
    return EOS_OK;
}

static eos_status parse_methods(const char *methods, plan *p) {
    memset(p, 0, sizeof *p);
    p->nv = 1;
    snprintf(p->vars[0].name, sizeof p->vars[0].name, "ce");
    eos_train_variant_parse("ce", &p->vars[0].loss, &p->vars[0].rule);
    char *buf = strdup(methods ? methods : "");
    if (!buf) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "methods");
    eos_status st = EOS_OK;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok && st == EOS_OK; tok = strtok_r(NULL, ",", &save)) {
        if (p->nm + p->nv + p->np > EOS_PIPELINE_MAX_METHODS) {
            st = eos__error_set(EOS_ERR_INVALID_ARG, __FILE__, __LINE__, NULL, NULL, "methods: at most %d",
                                EOS_PIPELINE_MAX_METHODS);
            break;
        }
        variant w;
        memset(&w, 0, sizeof w);
        eos_pixel_method pm = EOS_PIXEL_NONE;
        if (eos_resample_parse(tok, &p->list[p->nm]) == EOS_OK) {
            for (int k = 0; k < p->nm && st == EOS_OK; k++)
                if (p->list[k] == p->list[p->nm])
                    st = eos__error_set(EOS_ERR_INVALID_ARG, __FILE__, __LINE__, NULL, NULL, "methods: '%s' is listed twice", tok);
            p->nm++;
        } else if (eos_pixel_method_parse(tok, &pm) == EOS_OK && pm != EOS_PIXEL_NONE) {
            for (int k = 0; k < p->np && st == EOS_OK; k++)
                if (p->pix[k] == pm)
                    st = eos__error_set(EOS_ERR_INVALID_ARG, __FILE__, __LINE__, NULL, NULL, "methods: '%s' is listed twice", tok);
            p->pix[p->np++] = pm;
        } else if (eos_train_variant_parse(tok, &w.loss, &w.rule) == EOS_OK) {
            snprintf(w.name, sizeof w.name, "%s", tok);
            int dup = 0;
            for (int k = 0; k < p->nv; k++) dup |= p->vars[k].loss.kind == w.loss.kind && p->vars[k].rule == w.rule;
            if (dup && strcmp(tok, "ce"))
                st = eos__error_set(EOS_ERR_INVALID_ARG, __FILE__, __LINE__, NULL, NULL, "methods: '%s' is listed twice", tok);
            else if (!dup) p->vars[p->nv++] = w;
        } else {
            st = eos__error_set(EOS_ERR_INVALID_ARG, __FILE__, __LINE__, NULL, NULL,
                                "methods: unknown method '%s': expected eos, eos-ref, ros, smote, borderline, adasyn, none, "
                                "pixel-ros, pixel-smote, or a phase-1 baseline LOSS[-RULE] (ce, focal, asl, ldam; "
                                "reweight, resample, drw)", tok);
        }
    }
    free(buf);
    return st;
}

eos_status eos_pipeline_check(const eos_pipeline_config *cfg) {
    int blocks;
    plan p;
    if (!cfg) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "pipeline: no configuration");
    EOS_TRY(eos_resnet_blocks(cfg->arch ? cfg->arch : "", &blocks));
    EOS_TRY(parse_methods(cfg->methods, &p));
    if (cfg->epochs < 1) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "epochs %d: expected a positive integer", cfg->epochs);
    if (cfg->batch < 1) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "batch %d: expected a positive integer", cfg->batch);
    if (cfg->max_steps < 0 || cfg->eval_every < 0)
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "max_steps %d, eval_every %d: expected 0 (default) or positive", cfg->max_steps,
                 cfg->eval_every);
    if (!(cfg->val_split >= 0 && cfg->val_split < 1))
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "val_split %g: expected a fraction in [0, 1)", cfg->val_split);
    if (cfg->head != EOS_HEAD_FRESH && cfg->head != EOS_HEAD_WARM)
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "head %d: expected EOS_HEAD_FRESH or EOS_HEAD_WARM", (int)cfg->head);
    return EOS_OK;
}

static void list_outputs(const plan *p, eos_pipeline_outputs *o) {
    o->n = 0;
    snprintf(o->name[o->n++], sizeof o->name[0], "summary.json");
    snprintf(o->name[o->n++], sizeof o->name[0], "report.html");
    for (int k = 0; k < p->nv; k++)
        snprintf(o->name[o->n++], sizeof o->name[0], k ? "phase1-%.31s" : "phase1", p->vars[k].name);
    for (int k = 0; k < p->np; k++) snprintf(o->name[o->n++], sizeof o->name[0], "%s", eos_pixel_method_name(p->pix[k]));
    if (p->nm > 0) snprintf(o->name[o->n++], sizeof o->name[0], "embeddings");
    for (int k = 0; k < p->nm; k++) snprintf(o->name[o->n++], sizeof o->name[0], "%.47s", eos_resample_name(p->list[k]));
}

eos_status eos_pipeline_list_outputs(const eos_pipeline_config *cfg, eos_pipeline_outputs *out) {
    plan p;
    out->n = 0;
    EOS_TRY(parse_methods(cfg->methods, &p));
    list_outputs(&p, out);
    return EOS_OK;
}

void eos_pipeline_result_free(eos_pipeline_result *r) {
    if (!r) return;
    for (int i = 0; r->rows && i < r->nrows; i++) {
        eos_metrics_free(&r->rows[i].metrics);
        free(r->rows[i].counts_before);
        free(r->rows[i].counts_after);
    }
    free(r->rows);
    for (int c = 0; r->class_names && c < r->classes; c++) free(r->class_names[c]);
    free(r->class_names);
    memset(r, 0, sizeof *r);
    r->failed = "";
}

/* mkdir -p */
static eos_status mkdirs(const char *dir) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "the folder name %.60s... is longer than %d bytes", dir, (int)sizeof buf - 1);
    for (char *s = buf + 1;; s++) {
        if (*s == '/' || !*s) {
            char c = *s;
            *s = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                EOS_FAIL(EOS_ERR_IO, "check the permissions of out_dir", "cannot create folder %s: %s", buf, strerror(errno));
            *s = c;
            if (!c) break;
        }
    }
    struct stat sb;  /* mkdir says EEXIST for a file too: only a folder will do */
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        EOS_FAIL(EOS_ERR_IO, NULL, "cannot create folder %s: %s", dir, stat(dir, &sb) != 0 ? strerror(errno) : "a file has that name");
    return EOS_OK;
}

/* ---- the run ------------------------------------------------------------------------------ */

typedef struct {
    const eos_pipeline_config *cfg;
    eos_pipeline_progress_fn progress;
    void *user;
    eos_pipeline_result *out;
} run_ctx;

static void emit(run_ctx *r, eos_pipeline_progress *p) {
    p->result = r->out;
    if (r->progress) r->progress(p, r->user);
}

/* the ROW event: a row of the table is complete (phase 1: a network, phase 3: CE + a method) */
static void emit_row(run_ctx *r, int phase, const eos_pipeline_row *row) {
    eos_pipeline_progress p;
    memset(&p, 0, sizeof p);
    p.event = EOS_PIPELINE_ROW;
    p.phase = phase;
    p.method = row->name;
    p.row = row;
    emit(r, &p);
}

typedef struct {
    run_ctx *r;
    const variant *v;
    int index, count;
} train_ctx;

static void on_train(const eos_train_progress *tp, void *user) {
    train_ctx *t = user;
    eos_pipeline_progress p;
    memset(&p, 0, sizeof p);
    p.event = EOS_PIPELINE_TRAIN;
    p.phase = 1;
    p.method = t->v->name;
    p.rule = eos_rule_name(t->v->rule);
    p.index = t->index;
    p.count = t->count;
    p.train = tp;
    emit(t->r, &p);
}

typedef struct {
    run_ctx *r;
    eos_pipeline_split split;
} embed_ctx;

static void on_embed(size_t done, size_t total, void *user) {
    embed_ctx *e = user;
    eos_pipeline_progress p;
    memset(&p, 0, sizeof p);
    p.event = EOS_PIPELINE_EMBED;
    p.phase = 2;
    p.split = e->split;
    p.done = done;
    p.total = total;
    emit(e->r, &p);
}

/* the embeddings of the listed images of split (all when idx is NULL), with their events */
static eos_status embed(run_ctx *r, eos_resnet_t m, const eos_dataset *d, const eos_split *s, const size_t *idx,
                        size_t n, eos_pipeline_split which, float *features) {
    embed_ctx e = {r, which};
    on_embed(0, idx ? n : s->n, &e);
    return eos_predict_progress(m, d, s, idx, n, 256, NULL, features, on_embed, &e);
}

/* the same into a new device tensor *out (n, 64), which phases 2 and 3 read where it is */
static eos_status embed_device(run_ctx *r, eos_resnet_t m, const eos_dataset *d, const eos_split *s, const size_t *idx,
                               size_t n, eos_pipeline_split which, eos_tensor *out) {
    embed_ctx e = {r, which};
    on_embed(0, idx ? n : s->n, &e);
    return eos_embed_device(m, d, s, idx, n, 256, out, on_embed, &e);
}

/* Train one phase-1 network (variant v) into dir; *keep receives the kept model when keep is
 * not NULL (the best validation epoch's, from disk, with a hold-out; else the last). given: the
 * hold-out is va (nva images, none when 0) instead of eos_train_run's own split of idx. */
static eos_status train_variant(run_ctx *r, eos_runtime_t rt, const eos_dataset *d, const size_t *idx, size_t n,
                                int given, const size_t *va, size_t nva, int blocks, int eval_every, const variant *v, int index,
                                int count, const char *dir, eos_resnet_t *keep, eos_metrics *met) {
    const eos_pipeline_config *cfg = r->cfg;
    eos_resnet_t m = NULL;
    eos_resnet_head head = v->loss.kind == EOS_LOSS_LDAM ? EOS_RESNET_HEAD_NORMED : EOS_RESNET_HEAD_LINEAR;
    r->out->failed = "creating the network";
    if (eos__dist_rank() == 0) EOS_TRY(mkdirs(dir));  /* under mpirun rank 0 alone writes */
    EOS_TRY(eos_resnet_create(rt, blocks, d->channels, d->classes, head, cfg->seed, &m));
    eos_train_config tc = eos_train_defaults();
    tc.epochs = cfg->epochs;
    tc.batch = cfg->batch;
    tc.seed = cfg->seed;
    tc.out_dir = dir;
    tc.eval_every = eval_every;  /* the report's test-BAC curve; always after the last epoch */
    tc.loss = v->loss;
    tc.rule = v->rule;
    tc.max_steps = cfg->max_steps;
    tc.val_split = cfg->val_split;
    if (given) {  /* a hold-out drawn by the caller (pixel methods: the CE model's), even an empty one */
        tc.val_split = 0;
        tc.val_indices = va;
        tc.val_n = nva;
    }
    train_ctx t = {r, v, index, count};
    tc.progress = on_train;
    tc.user = &t;
    r->out->failed = "phase 1";
    eos_status st = eos_train_run(rt, m, d, idx, n, &tc, met);
    if (st == EOS_OK && keep && (cfg->val_split > 0 || nva > 0)) {
        /* the model in memory is the last epoch's; the kept one is on disk */
        char path[4300];
        eos_resnet_t best = NULL;
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        r->out->failed = "loading the kept phase-1 model";
        st = eos_resnet_load(rt, path, &best);
        eos_resnet_free(m);
        m = best;
    }
    if (st != EOS_OK) {
        eos_resnet_free(m);
        return st;
    }
    if (keep) *keep = m;
    else eos_resnet_free(m);
    return EOS_OK;
}

static void json_str(FILE *f, const char *s) { eos_json_write_string(f, s); }

/* embeddings/embed_metrics.json: the per-class embedding gap, as `eos embed` writes it, plus
 * the per-class counts of both splits */
static eos_status write_gap(const char *path, const char *model, const eos_dataset *d, int C, const double *tg,
                            const double *trg, const size_t *ntrain, const size_t *ntest) {
    eos__atomic_file a;
    EOS_TRY(eos__atomic_open(&a, path));
    FILE *f = a.f;
    fprintf(f, "{\n  \"model\": ");
    json_str(f, model);
    fprintf(f, ",\n  \"classes\": [");
    for (int c = 0; c < C; c++) {
        fprintf(f, "%s", c ? ", " : "");
        json_str(f, d->class_names[c]);
    }
    fprintf(f, "],\n  \"test_gap\": [");
    for (int c = 0; c < C; c++) fprintf(f, isfinite(tg[c]) ? "%s%.6f" : "%snull", c ? ", " : "", tg[c]);
    fprintf(f, "],\n  \"train_gap\": [");
    for (int c = 0; c < C; c++) fprintf(f, isfinite(trg[c]) ? "%s%.6f" : "%snull", c ? ", " : "", trg[c]);
    fprintf(f, "],\n  \"train_count\": [");
    for (int c = 0; c < C; c++) fprintf(f, "%s%zu", c ? ", " : "", ntrain[c]);
    fprintf(f, "],\n  \"test_count\": [");
    for (int c = 0; c < C; c++) fprintf(f, "%s%zu", c ? ", " : "", ntest[c]);
    fprintf(f, "]\n}\n");
    return eos__atomic_commit(&a);
}

/* the extra members of DIR/<method>/metrics.json: what the re-balancing did and how the head
 * was kept */
static void resample_extra(char *buf, size_t cap, const char *method, const eos_resample_report *rep, int C,
                           double seconds_resample, double seconds_head, float loss, eos_head_mode head, int val) {
    size_t k = 0;
#define ADD(...) do { if (k < cap) k += (size_t)snprintf(buf + k, cap - k, __VA_ARGS__); } while (0)
    ADD("\"method\": \"%s\",\n  \"counts_before\": [", method);
    for (int c = 0; c < C; c++) ADD("%s%zu", c ? ", " : "", rep->before[c]);
    ADD("],\n  \"counts_after\": [");
    for (int c = 0; c < C; c++) ADD("%s%zu", c ? ", " : "", rep->after[c]);
    ADD("],\n  \"fallback\": [");
    for (int c = 0; c < C; c++) ADD("%s%d", c ? ", " : "", rep->fallback[c]);
    ADD("],\n  \"synthetic\": %zu,\n  \"seconds_resample\": %.3f,\n  \"seconds_head\": %.3f,\n  \"head_loss\": %.6f,\n"
        "  \"head\": \"%s\",\n  \"kept\": \"%s\"",
        rep->synthetic, seconds_resample, seconds_head, isfinite(loss) ? loss : -1.0, eos_head_mode_name(head),
        val ? "best validation macro-F1" : "last epoch");
#undef ADD
    if (k >= cap && cap) buf[0] = 0;  /* cannot happen: the caller sizes buf by the class count; never half a member */
}

static double now(void) { return eos__now(); }

/* Append the images pos (k positions in src) to dst's training split; *first receives the
 * position of the first. The pixel methods' hold-out goes into their balanced dataset this way,
 * so the network validates on the CE model's held-out images, never on copies or blends. */
static eos_status append_images(eos_dataset *dst, const eos_split *src, const size_t *pos, size_t k, size_t *first) {
    size_t len = (size_t)dst->channels * dst->height * dst->width, n = dst->train.n;
    *first = n;
    if (k == 0) return EOS_OK;
    uint8_t *px = realloc(dst->train.pixels, (n + k) * len);
    if (!px) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "pipeline: %zu validation images", k);
    dst->train.pixels = px;
    int32_t *lab = realloc(dst->train.labels, (n + k) * sizeof *lab);
    if (!lab) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "pipeline: %zu validation labels", k);
    dst->train.labels = lab;
    for (size_t i = 0; i < k; i++) {
        memcpy(px + (n + i) * len, src->pixels + pos[i] * len, len);
        lab[n + i] = src->labels[pos[i]];
    }
    dst->train.n = n + k;
    return EOS_OK;
}

/* the extra members of a pixel method's metrics.json: eos_train_run's, and what the pixel
 * re-balancing did */
static void pixel_extra(char *buf, size_t cap, const char *method, int k, const eos_pixel_report *rep, int C,
                        int epochs, size_t ntrain, size_t nval, double seconds_resample, double seconds_train) {
    size_t o = 0;
#define ADD(...) do { if (o < cap) o += (size_t)snprintf(buf + o, cap - o, __VA_ARGS__); } while (0)
    ADD("\"epochs\": %d, \"kept\": \"%s\", \"train_images\": %zu, \"val_images\": %zu, \"seconds\": %.1f,\n"
        "  \"method\": \"%s\",\n  \"k\": %d,\n  \"images_before\": [",
        epochs, nval ? "best validation macro-F1" : "last epoch", ntrain, nval, seconds_train, method, k);
    for (int c = 0; c < C; c++) ADD("%s%zu", c ? ", " : "", rep->before[c]);
    ADD("],\n  \"images_after\": [");
    for (int c = 0; c < C; c++) ADD("%s%zu", c ? ", " : "", rep->after[c]);
    ADD("],\n  \"fallback\": [");
    for (int c = 0; c < C; c++) ADD("%s%d", c ? ", " : "", rep->fallback[c]);
    ADD("],\n  \"added\": %zu,\n  \"synthetic\": %zu,\n  \"seconds_resample\": %.3f,\n  \"seconds_train\": %.3f",
        rep->added, rep->made, seconds_resample, seconds_train);
#undef ADD
    if (o >= cap && cap) buf[0] = 0;  /* the caller sizes buf by the class count; never half a member */
}

/* everything a run holds, released in one place */
typedef struct {
    eos_dataset d;
    eos_resnet_t m;
    size_t *idx, *tr, *va;
    float *ftr, *fte, *fva;
    int32_t *ytr, *yva, *pred;
    double *tg, *trg;
    size_t *ntr_c, *nte_c;
    char *extra;
    eos_embeddings bal;  /* labels; rows only where the projection needs them on the host */
    eos_tensor emb, balx; /* the training embeddings and a method's balanced set, on the device */
    eos_tensor tee;       /* the test embeddings on the device, until the gap is measured */
    eos_resample_report rep;
    eos_head h;
    eos_dataset px;   /* a pixel method's balanced images (and the hold-out appended) */
    size_t *px_idx, *px_va;
    eos_pixel_report prep;
} held;

static void pixel_free(held *h) {
    eos_dataset_free(&h->px);
    eos_pixel_report_free(&h->prep);
    free(h->px_idx);
    free(h->px_va);
    h->px_idx = h->px_va = NULL;
}

static void held_free(held *h) {
    pixel_free(h);
    eos_head_free(&h->h);
    eos_embeddings_free(&h->bal);
    eos_tensor_free(&h->balx);
    eos_tensor_free(&h->emb);
    eos_tensor_free(&h->tee);
    eos_resample_report_free(&h->rep);
    free(h->extra);
    free(h->tg); free(h->trg); free(h->ntr_c); free(h->nte_c);
    free(h->ftr); free(h->fte); free(h->fva); free(h->ytr); free(h->yva); free(h->pred);
    free(h->idx); free(h->tr); free(h->va);
    eos_resnet_free(h->m);
    eos_dataset_free(&h->d);
}

/* One run: what its phases share. The phases below each return the first failure with
 * out->failed naming the step; eos_pipeline_run releases everything in one place. */
typedef struct {
    run_ctx rc;                 /* cfg, the callback and the result */
    eos_runtime_t rt;
    plan pl;
    held H;
    const char *od;             /* cfg->out_dir */
    int lead;                   /* rank 0 of an mpirun job, or the one process: it alone writes */
    int blocks, C, eval_every;
    size_t n, ntr, nva;         /* the long-tailed subset, its training part and its hold-out */
    const size_t *train_idx;    /* the subset's training part (H.tr, or H.idx without a hold-out) */
    timing times[MAX_TIMINGS];  /* summary.json's "timings" */
    int ntimes;
    double embed_rate, embed_s, pvar[2];
    size_t proj_real, proj_syn, proj_cap;
    const char *proj_method;    /* the method whose balanced set the projection shows, NULL if none */
    eos_embeddings train_emb, test_emb, val_emb;
} run;

/* fail the phase at step what with the call's status (the callee recorded the error) */
#define STEP(call, what)                        \
    do {                                        \
        R->rc.out->failed = (what);             \
        eos_status step_st = (call);            \
        if (step_st != EOS_OK) return step_st;  \
    } while (0)
/* the same for a write: under mpirun rank 0 alone writes (every rank holds the same results) */
#define WRITE(call, what) STEP(R->lead ? (call) : EOS_OK, what)
#define OOM(what) eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "pipeline: %s", (what))

static void add_timing(run *R, const char *step, double seconds) {
    snprintf(R->times[R->ntimes].step, sizeof R->times[0].step, "%s", step);
    R->times[R->ntimes++].seconds = seconds;
}

/* an event with no payload but its kind and phase */
static void emit_event(run *R, eos_pipeline_event event, int phase) {
    eos_pipeline_progress p;
    memset(&p, 0, sizeof p);
    p.event = event;
    p.phase = phase;
    emit(&R->rc, &p);
}

/* results already there, an unfinished run's included, are the user's (rank 0 alone looks:
 * under mpirun it may already have written when another rank would) */
static eos_status check_out_dir(const run *R) {
    if (R->rc.cfg->overwrite || !R->lead) return EOS_OK;
    eos_pipeline_outputs o;
    list_outputs(&R->pl, &o);
    for (int i = 0; i < o.n; i++) {
        char path[4200];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", R->od, o.name[i]);
        if (lstat(path, &sb) == 0)
            EOS_FAIL(EOS_ERR_INVALID_ARG, "set overwrite (the CLI's --force) to replace them, or choose another out_dir",
                     "%s already holds results (%s)", R->od, path);
    }
    return EOS_OK;
}

/* The dataset, its exp:100 subset and the hold-out (as eos_train_run draws it: same images,
 * fraction and seed); the result's class names and counts; then the START event. */
static eos_status load_data(run *R) {
    const eos_pipeline_config *cfg = R->rc.cfg;
    eos_pipeline_result *out = R->rc.out;
    eos_dataset *d = &R->H.d;
    eos_dataset_options dopt = {0, 0, cfg->resize_h, cfg->resize_w};
    STEP(eos_dataset_load(cfg->data, &dopt, d), "loading the dataset");
    int C = R->C = d->classes;
    eos_imbalance imb = {EOS_IMBALANCE_EXP, 100.0};
    out->failed = "selecting the long-tailed subset";
    eos_status st = eos_imbalance_select(d, &imb, cfg->seed, &R->H.idx, &R->n, NULL);
    if (st == EOS_ERR_INVALID_ARG) {
        /* the library's hint names --imbalance, which the pipeline does not take: its own advice */
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", eos_last_error()->message);
        st = eos__error_set(EOS_ERR_INVALID_ARG, __FILE__, __LINE__, NULL,
                            "use a dataset with at least 100 training images in every class",
                            "%s; the pipeline trains on the exp:100 subset (the paper's protocol), which keeps 1/100 of "
                            "the rarest class's images and needs at least one of every class", msg);
    }
    if (st != EOS_OK) return st;
    if (R->pl.nm > 0 && C > EOS_MAX_CLASSES) {  /* refused before any training, not after phase 1 */
        out->failed = "checking the dataset";
        return eos__error_set(EOS_ERR_INVALID_ARG, __FILE__, __LINE__, NULL, NULL,
                              "%s has %d classes; the re-balancing methods take at most %d", cfg->data, C, EOS_MAX_CLASSES);
    }
    R->ntr = R->n;
    if (cfg->val_split > 0)
        STEP(eos_split_stratified(&d->train, C, R->H.idx, R->n, cfg->val_split, cfg->seed, &R->H.tr, &R->ntr, &R->H.va,
                                  &R->nva),
             "holding out the validation images");
    R->train_idx = R->H.tr ? R->H.tr : R->H.idx;
    out->classes = C;
    out->class_names = calloc((size_t)C, sizeof *out->class_names);
    if (!out->class_names) STEP(OOM("class names"), "loading the dataset");
    for (int c = 0; c < C; c++)
        if (!(out->class_names[c] = strdup(d->class_names[c]))) STEP(OOM("class names"), "loading the dataset");
    out->train_images = R->ntr;
    out->val_images = R->nva;
    out->test_images = d->test.n;
    emit_event(R, EOS_PIPELINE_START, 0);
    return EOS_OK;
}

/* Phase 1, network k of the list: the CE model (k 0, kept in H.m for phase 2) or a baseline. */
static eos_status phase1_variant(run *R, int k) {
    eos_pipeline_result *out = R->rc.out;
    const plan *pl = &R->pl;
    const variant *w = &pl->vars[k];
    char dir[4200], step[48];
    if (k == 0) snprintf(dir, sizeof dir, "%s/phase1", R->od);
    else snprintf(dir, sizeof dir, "%s/phase1-%s", R->od, w->name);
    eos_pipeline_progress p;
    memset(&p, 0, sizeof p);
    p.event = EOS_PIPELINE_PHASE1;
    p.phase = 1;
    p.method = w->name;
    p.rule = eos_rule_name(w->rule);
    p.index = k;
    p.count = pl->nv + pl->np;
    emit(&R->rc, &p);
    double tv = now();
    eos_pipeline_row *row = &out->rows[out->nrows];
    EOS_TRY(train_variant(&R->rc, R->rt, &R->H.d, R->H.idx, R->n, 0, NULL, 0, R->blocks, R->eval_every, w, k,
                          pl->nv + pl->np, dir, k == 0 ? &R->H.m : NULL, &row->metrics));
    snprintf(row->name, sizeof row->name, "%.31s", w->name);
    snprintf(row->dir, sizeof row->dir, k ? "phase1-%.31s" : "phase1", w->name);
    row->phase = 1;
    row->seconds = row->seconds_phase1 = now() - tv;
    out->nrows++;
    snprintf(step, sizeof step, "phase 1: train %.31s", w->name);
    add_timing(R, step, row->seconds);
    emit_row(&R->rc, 1, row);
    return EOS_OK;
}

/* Phase 1, pixel method k: the training images (the hold-out excluded) balanced in pixel space,
 * then a fresh CE network of the same architecture, seed and schedule, as the paper's
 * pre-processing baselines; with a hold-out, the CE model's, appended to the balanced set. */
static eos_status phase1_pixel(run *R, int k) {
    const eos_pipeline_config *cfg = R->rc.cfg;
    eos_pipeline_result *out = R->rc.out;
    const plan *pl = &R->pl;
    held *H = &R->H;
    const eos_dataset *d = &H->d;
    const size_t ntr = R->ntr, nva = R->nva;
    const int C = R->C;
    const char *name = eos_pixel_method_name(pl->pix[k]);
    char dir[4200], path[4300], step[48];
    variant w;
    memset(&w, 0, sizeof w);
    snprintf(w.name, sizeof w.name, "%s", name);
    eos_train_variant_parse("ce", &w.loss, &w.rule);
    snprintf(dir, sizeof dir, "%s/%s", R->od, name);
    double tb = now();
    size_t nb = 0, vfirst = 0;
    STEP(eos_dataset_resample_pixels(R->rt, d, R->train_idx, ntr, pl->pix[k], EOS_PIXEL_SMOTE_K, cfg->seed, &H->px,
                                     &H->px_idx, &nb, &H->prep),
         "pixel re-balancing");
    if (nva) {
        STEP(append_images(&H->px, &d->train, H->va, nva, &vfirst), "pixel re-balancing");
        H->px_va = malloc(nva * sizeof *H->px_va);
        if (!H->px_va) STEP(OOM("validation list"), "pixel re-balancing");
        for (size_t i = 0; i < nva; i++) H->px_va[i] = vfirst + i;
    }
    double tb_s = now() - tb;
    eos_pipeline_progress p;
    memset(&p, 0, sizeof p);
    p.event = EOS_PIPELINE_PHASE1;
    p.phase = 1;
    p.method = name;
    p.rule = eos_rule_name(w.rule);
    p.index = pl->nv + k;
    p.count = pl->nv + pl->np;
    p.done = ntr;
    p.total = nb;
    emit(&R->rc, &p);
    double tv = now();
    eos_pipeline_row *row = &out->rows[out->nrows];
    EOS_TRY(train_variant(&R->rc, R->rt, &H->px, H->px_idx, nb, 1, H->px_va, nva, R->blocks, R->eval_every, &w, pl->nv + k,
                          pl->nv + pl->np, dir, NULL, &row->metrics));
    double tv_s = now() - tv;
    snprintf(row->name, sizeof row->name, "%s", name);
    snprintf(row->dir, sizeof row->dir, "%s", name);
    row->phase = 1;
    row->pixel = 1;
    row->seconds_resample = tb_s;
    row->seconds_phase1 = tv_s;
    row->seconds = tb_s + tv_s;
    row->rows_before = ntr;
    row->rows_after = nb;
    out->nrows++;
    row->counts_before = malloc((size_t)C * sizeof *row->counts_before);
    row->counts_after = malloc((size_t)C * sizeof *row->counts_after);
    if (!row->counts_before || !row->counts_after) STEP(OOM("class counts"), "pixel re-balancing");
    memcpy(row->counts_before, H->prep.before, (size_t)C * sizeof *row->counts_before);
    memcpy(row->counts_after, H->prep.after, (size_t)C * sizeof *row->counts_after);
    /* metrics.json again, eos_train_run's members and what the re-balancing did */
    size_t cap = 1024 + 3 * 24 * (size_t)C;
    free(H->extra);
    H->extra = malloc(cap);
    if (!H->extra) STEP(OOM("metrics.json"), "writing metrics.json");
    pixel_extra(H->extra, cap, name, EOS_PIXEL_SMOTE_K, &H->prep, C, cfg->epochs, nb, nva, tb_s, tv_s);
    snprintf(path, sizeof path, "%s/metrics.json", dir);
    WRITE(eos_metrics_write_json(path, &row->metrics, (const char *const *)d->class_names, H->extra), "writing metrics.json");
    snprintf(step, sizeof step, "phase 1: %s re-balancing", name);
    add_timing(R, step, tb_s);
    snprintf(step, sizeof step, "phase 1: train %s", name);
    add_timing(R, step, tv_s);
    pixel_free(H);
    emit_row(&R->rc, 1, row);
    return EOS_OK;
}

/* Phase 2: the CE model's embeddings of the training part (into the device tensor H.emb, where
 * phase 3 reads them), the hold-out and the test set, and their CSVs under dir. */
static eos_status phase2_embeddings(run *R, const char *dir) {
    held *H = &R->H;
    const eos_dataset *d = &H->d;
    const size_t ntr = R->ntr, nva = R->nva;
    char path[4300];
    emit_event(R, EOS_PIPELINE_PHASE2, 2);
    H->ftr = malloc((ntr ? ntr : 1) * DIM * sizeof *H->ftr);
    H->fte = malloc((d->test.n ? d->test.n : 1) * DIM * sizeof *H->fte);
    H->fva = malloc((nva ? nva : 1) * DIM * sizeof *H->fva);
    H->ytr = malloc((ntr ? ntr : 1) * sizeof *H->ytr);
    H->yva = malloc((nva ? nva : 1) * sizeof *H->yva);
    H->pred = malloc((d->test.n ? d->test.n : 1) * sizeof *H->pred);
    if (!H->ftr || !H->fte || !H->fva || !H->ytr || !H->yva || !H->pred) STEP(OOM("embedding buffers"), "computing embeddings");
    WRITE(mkdirs(dir), "computing embeddings");
    for (size_t i = 0; i < ntr; i++) H->ytr[i] = d->train.labels[R->train_idx[i]];
    for (size_t i = 0; i < nva; i++) H->yva[i] = d->train.labels[H->va[i]];
    R->train_emb.labels = H->ytr;
    R->train_emb.x = H->ftr;
    R->test_emb.x = H->fte;
    R->val_emb.labels = H->yva;
    R->val_emb.x = H->fva;
    double te = now();
    /* the training and test rows straight into device tensors (the gap, the re-balancing and
     * the heads read them there); down once each, for the CSVs and the test predictions */
    STEP(embed_device(&R->rc, H->m, d, &d->train, R->train_idx, ntr, EOS_PIPELINE_SPLIT_TRAIN, &H->emb),
         "computing embeddings");
    STEP(eos_tensor_download(&H->emb, H->ftr, ntr * DIM), "computing embeddings");
    if (nva) STEP(embed(&R->rc, H->m, d, &d->train, H->va, nva, EOS_PIPELINE_SPLIT_VAL, H->fva), "computing embeddings");
    if (d->test.n) {
        STEP(embed_device(&R->rc, H->m, d, &d->test, NULL, 0, EOS_PIPELINE_SPLIT_TEST, &H->tee), "computing embeddings");
        STEP(eos_tensor_download(&H->tee, H->fte, d->test.n * DIM), "computing embeddings");
    } else {  /* no rows, no tensor: the pass's events all the same */
        STEP(embed(&R->rc, H->m, d, &d->test, NULL, 0, EOS_PIPELINE_SPLIT_TEST, H->fte), "computing embeddings");
    }
    R->embed_s = now() - te;
    R->embed_rate = (double)(ntr + nva + d->test.n) / R->embed_s;
    add_timing(R, "phase 2: embeddings", R->embed_s);
    snprintf(path, sizeof path, "%s/train_emb.csv", dir);
    WRITE(eos_embeddings_write_csv(path, &R->train_emb), "writing train_emb.csv");
    snprintf(path, sizeof path, "%s/test_emb.csv", dir);
    WRITE(eos_embeddings_write_csv(path, &R->test_emb), "writing test_emb.csv");
    if (nva) {
        snprintf(path, sizeof path, "%s/val_emb.csv", dir);
        WRITE(eos_embeddings_write_csv(path, &R->val_emb), "writing val_emb.csv");
    }
    eos_pipeline_progress p;
    memset(&p, 0, sizeof p);
    p.event = EOS_PIPELINE_EMBEDDINGS;
    p.phase = 2;
    p.path = dir;
    emit(&R->rc, &p);
    return EOS_OK;
}

/* Phase 2: the per-class embedding gap (as `eos embed` measures it), dir/embed_metrics.json. */
static eos_status phase2_gap(run *R, const char *dir) {
    held *H = &R->H;
    const eos_dataset *d = &H->d;
    const int C = R->C;
    const size_t ntr = R->ntr;
    double tgap = now();
    char path[4300], model[4300];
    H->tg = malloc((size_t)C * sizeof *H->tg);
    H->trg = malloc((size_t)C * sizeof *H->trg);
    H->ntr_c = calloc((size_t)C, sizeof *H->ntr_c);
    H->nte_c = calloc((size_t)C, sizeof *H->nte_c);
    if (!H->tg || !H->trg || !H->ntr_c || !H->nte_c) STEP(OOM("embedding gap"), "measuring the embedding gap");
    for (size_t i = 0; i < ntr; i++) H->ntr_c[H->ytr[i]]++;
    for (size_t i = 0; i < d->test.n; i++) H->nte_c[d->test.labels[i]]++;
    STEP(d->test.n ? eos_embedding_gap_device(R->rt, &H->emb, H->ytr, &H->tee, d->test.labels, C, H->tg, H->trg)
                   : eos_embedding_gap(R->rt, H->ftr, H->ytr, ntr, H->fte, d->test.labels, 0, DIM, C, H->tg, H->trg),
         "measuring the embedding gap");
    eos_tensor_free(&H->tee);
    snprintf(path, sizeof path, "%s/embed_metrics.json", dir);
    snprintf(model, sizeof model, "%s/phase1/model.safetensors", R->od);
    WRITE(write_gap(path, model, d, C, H->tg, H->trg, H->ntr_c, H->nte_c), "writing embed_metrics.json");
    eos_pipeline_progress p;
    memset(&p, 0, sizeof p);
    p.event = EOS_PIPELINE_GAP;
    p.phase = 2;
    p.test_gap = H->tg;
    p.train_gap = H->trg;
    emit(&R->rc, &p);
    add_timing(R, "phase 2: embedding gap", now() - tgap);
    return EOS_OK;
}

/* the projection shows the EOS-balanced set, or the first other method's, at most proj_cap
 * points a class */
static void choose_projection(run *R) {
    const plan *pl = &R->pl;
    for (int k = 0; k < pl->nm && !R->proj_method; k++)
        if (pl->list[k] == EOS_RESAMPLE_EOS) R->proj_method = "eos";
    for (int k = 0; k < pl->nm && !R->proj_method; k++)
        if (pl->list[k] != EOS_RESAMPLE_NONE) R->proj_method = eos_resample_name(pl->list[k]);
    if (!R->proj_method && pl->nm > 0) R->proj_method = "none";
    R->proj_cap = R->C > 0 ? PROJECTION_POINTS / (2 * (size_t)R->C) : 1;
    if (R->proj_cap < 10) R->proj_cap = 10;
}

/* Phases 2 and 3 for re-balancing method k, on the device (issue 20): the network wrote the
 * training embeddings into H.emb; the neighbour searches read them there, the balanced set is
 * written there and the head trains from there. Down come the neighbour lists, the head, and
 * the balanced rows only for the projection (a file). The same numbers as eos_resample +
 * eos_finetune. Writes DIR/<method>/ and the row CE + method. */
static eos_status phase3_method(run *R, int k) {
    const eos_pipeline_config *cfg = R->rc.cfg;
    eos_pipeline_result *out = R->rc.out;
    const plan *pl = &R->pl;
    held *H = &R->H;
    const eos_dataset *d = &H->d;
    const size_t ntr = R->ntr, nva = R->nva;
    const int C = R->C;
    char dir[4200], path[4300], step[48];
    double tm = now();
    float loss = 0;
    const char *name = eos_resample_name(pl->list[k]);
    snprintf(dir, sizeof dir, "%s/%s", R->od, name);
    WRITE(mkdirs(dir), "re-balancing");
    eos_pipeline_progress p;
    memset(&p, 0, sizeof p);
    p.event = EOS_PIPELINE_METHOD;
    p.phase = 2;
    p.method = name;
    p.index = k;
    p.count = pl->nm;
    p.total = ntr;
    emit(&R->rc, &p);
    STEP(eos_resample_device(R->rt, &H->emb, R->train_emb.labels, C, pl->list[k], NULL, cfg->seed, &H->balx, &H->bal.labels,
                             &H->rep),
         "re-balancing");
    H->bal.n = H->balx.shape[0];
    H->bal.dim = DIM;
    double tr_s = now() - tm;
    if (!strcmp(name, R->proj_method)) {
        H->bal.x = malloc(H->bal.n * DIM * sizeof *H->bal.x);
        if (!H->bal.x) STEP(OOM("the projection's rows"), "writing the 2-d projection");
        STEP(eos_tensor_download(&H->balx, H->bal.x, H->bal.n * DIM), "writing the 2-d projection");
        /* the resamplers keep the n original rows first and append the synthetic ones */
        snprintf(path, sizeof path, "%s/embeddings/projection.csv", R->od);
        WRITE(eos_projection_write(path, &H->bal, ntr, R->proj_cap, cfg->seed, R->pvar), "writing the 2-d projection");
        R->proj_real = ntr;
        R->proj_syn = H->bal.n - ntr;
    }
    double th = now();
    eos_finetune_config fc = eos_finetune_defaults();
    fc.seed = cfg->seed;
    fc.val = nva ? &R->val_emb : NULL;  /* the head's epoch chosen on the hold-out, never on the test set */
    STEP(eos_head_start(&H->h, cfg->head, H->m, C, DIM, cfg->seed), "head");
    STEP(eos_finetune_device(R->rt, &H->h, &H->balx, H->bal.labels, &fc, &loss), "fine-tuning the head");
    eos_head_predict(&H->h, &R->test_emb, H->pred);
    eos_pipeline_row *row = &out->rows[out->nrows];
    snprintf(row->name, sizeof row->name, "ce + %s", name);
    snprintf(row->dir, sizeof row->dir, "%s", name);
    row->phase = 3;
    STEP(eos_metrics_compute(C, d->test.labels, H->pred, d->test.n, &row->metrics), "metrics");
    out->nrows++;
    row->counts_before = malloc((size_t)C * sizeof *row->counts_before);
    row->counts_after = malloc((size_t)C * sizeof *row->counts_after);
    if (!row->counts_before || !row->counts_after) STEP(OOM("class counts"), "metrics");
    memcpy(row->counts_before, H->rep.before, (size_t)C * sizeof *row->counts_before);
    memcpy(row->counts_after, H->rep.after, (size_t)C * sizeof *row->counts_after);
    row->rows_before = ntr;
    row->rows_after = H->bal.n;
    row->head_loss = loss;
    eos_named_tensor t[2] = {{"linear.weight", EOS_DTYPE_F32, 2, {C, DIM}, 0, H->h.weight},
                             {"linear.bias", EOS_DTYPE_F32, 1, {C}, 0, H->h.bias}};
    snprintf(path, sizeof path, "%s/head.safetensors", dir);
    WRITE(eos_safetensors_write(path, t, 2), "writing the head");
    snprintf(path, sizeof path, "%s/metrics.json", dir);
    /* three per-class lists of at most 21 characters a number, and the fixed members */
    size_t cap = 1024 + 3 * 24 * (size_t)C;
    double th_s = now() - th;
    free(H->extra);
    H->extra = malloc(cap);
    if (!H->extra) STEP(OOM("metrics.json"), "writing metrics.json");
    resample_extra(H->extra, cap, name, &H->rep, C, tr_s, th_s, loss, cfg->head, nva > 0);
    WRITE(eos_metrics_write_json(path, &row->metrics, (const char *const *)d->class_names, H->extra), "writing metrics.json");
    snprintf(step, sizeof step, "phase 2: re-balance %s", name);
    add_timing(R, step, tr_s);
    snprintf(step, sizeof step, "phase 3: head on %s", name);
    add_timing(R, step, th_s);
    /* the row's cost: the CE model and the embeddings (shared), its re-balancing and head */
    row->seconds_phase1 = out->rows[0].seconds_phase1;
    row->seconds_embed = R->embed_s;
    row->seconds_resample = tr_s;
    row->seconds_head = now() - th;
    row->seconds = row->seconds_phase1 + row->seconds_embed + row->seconds_resample + row->seconds_head;
    eos_head_free(&H->h);
    eos_embeddings_free(&H->bal);
    eos_tensor_free(&H->balx);
    eos_resample_report_free(&H->rep);
    emit_row(&R->rc, 3, row);
    return EOS_OK;
}

/* summary.json's members, in the order readers (eos report, the tests) know */
static void write_summary_members(const run *R, FILE *f) {
    const eos_pipeline_config *cfg = R->rc.cfg;
    const eos_pipeline_result *out = R->rc.out;
    const eos_dataset *d = &R->H.d;
    fprintf(f, "{\n  \"version\": \"%s\",\n  \"profile\": ", EOS_VERSION);
    json_str(f, cfg->profile ? cfg->profile : "custom");
    fprintf(f, ",\n  \"arch\": ");
    json_str(f, cfg->arch);
    fprintf(f, ",\n  \"epochs\": %d,\n  \"imbalance\": \"exp:100\",\n  \"seed\": %llu,\n  \"max_steps\": %d,\n"
               "  \"eval_every\": %d,\n  \"head\": \"%s\",\n  \"val_split\": %g,\n  \"data\": ",
            cfg->epochs, (unsigned long long)cfg->seed, cfg->max_steps, R->eval_every, eos_head_mode_name(cfg->head),
            cfg->val_split);
    json_str(f, cfg->data);
    /* the size every image was brought to at load (a model from this run expects it) */
    if (cfg->resize_h > 0) fprintf(f, ",\n  \"resize\": \"%dx%d\"", cfg->resize_h, cfg->resize_w);
    else fprintf(f, ",\n  \"resize\": \"none\"");
    fprintf(f, ",\n  \"methods\": ");
    json_str(f, cfg->methods ? cfg->methods : "");
    fprintf(f, ",\n  \"device\": ");
    json_str(f, eos_runtime_device(R->rt)->name);
    fprintf(f, ",\n  \"train_images\": %zu,\n  \"val_images\": %zu,\n  \"test_images\": %zu,\n"
               "  \"embedding_images_per_second\": %.1f,\n  \"seconds\": %.1f,\n  \"classes\": [",
            R->ntr, R->nva, d->test.n, R->embed_rate, out->seconds);
    for (int c = 0; c < R->C; c++) {
        fprintf(f, "%s", c ? ", " : "");
        json_str(f, d->class_names[c]);
    }
    fprintf(f, "],\n  \"timings\": [");
    for (int t = 0; t < R->ntimes; t++) {
        fprintf(f, "%s\n    {\"step\": ", t ? "," : "");
        json_str(f, R->times[t].step);
        fprintf(f, ", \"seconds\": %.3f}", R->times[t].seconds);
    }
    fprintf(f, "\n  ],\n");
    if (R->proj_method)
        fprintf(f, "  \"projection\": {\"method\": \"%s\", \"file\": \"embeddings/projection.csv\", \"real\": %zu, "
                   "\"synthetic\": %zu, \"per_class\": %zu, \"variance\": [%.6f, %.6f]},\n",
                R->proj_method, R->proj_real, R->proj_syn, R->proj_cap, R->pvar[0], R->pvar[1]);
    fprintf(f, "  \"results\": [\n");
    for (int r = 0; r < out->nrows; r++) {
        const eos_pipeline_row *rw = &out->rows[r];
        const eos_metrics *m = &rw->metrics;
        fprintf(f, "    {\"method\": ");
        json_str(f, rw->name);
        fprintf(f, ", \"dir\": ");
        json_str(f, rw->dir);
        fprintf(f, ", \"acc\": %.6f, \"bac\": %.6f, \"gm\": %.6f, \"fm\": %.6f, \"phase\": %d, \"pixel\": %s, "
                   "\"seconds\": %.3f, \"seconds_phase1\": %.3f, \"seconds_embed\": %.3f, \"seconds_resample\": %.3f, "
                   "\"seconds_head\": %.3f, \"per_class_recall\": [",
                m->acc, m->bac, m->gm, m->fm, rw->phase, rw->pixel ? "true" : "false", rw->seconds, rw->seconds_phase1,
                rw->seconds_embed, rw->seconds_resample, rw->seconds_head);
        for (int c = 0; c < m->classes; c++) fprintf(f, "%s%.6f", c ? ", " : "", m->recall[c]);
        fprintf(f, "]}%s\n", r + 1 < out->nrows ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
}

/* The RESULTS event; summary.json (rank 0), written whole, then renamed: never half a summary;
 * then report.html from the files just written (`eos report DIR` makes it again). out->seconds
 * is the whole run's, t0 its start. */
static eos_status finish_run(run *R, double t0) {
    eos_pipeline_result *out = R->rc.out;
    char path[4300];
    eos_pipeline_progress p;
    emit_event(R, EOS_PIPELINE_RESULTS, 0);
    if (R->lead) {
        eos__atomic_file a;
        snprintf(path, sizeof path, "%s/summary.json", R->od);
        STEP(eos__atomic_open(&a, path), "writing summary.json");
        out->seconds = now() - t0;
        write_summary_members(R, a.f);
        STEP(eos__atomic_commit(&a), "writing summary.json");
        memset(&p, 0, sizeof p);
        p.event = EOS_PIPELINE_SUMMARY;
        p.path = path;
        emit(&R->rc, &p);
    }
    snprintf(path, sizeof path, "%s/report.html", R->od);
    WRITE(eos_report_write(R->od, path), "writing the report");
    memset(&p, 0, sizeof p);
    p.event = EOS_PIPELINE_REPORT;
    p.path = path;
    emit(&R->rc, &p);
    return EOS_OK;
}

/* the phases in order, each stopping the run at its first failure */
static eos_status run_phases(run *R, double t0) {
    const plan *pl = &R->pl;
    char dir[4200];
    EOS_TRY(load_data(R));
    /* phase 1: the CE model (kept for phase 2), then each baseline, then the pixel methods */
    for (int k = 0; k < pl->nv; k++) EOS_TRY(phase1_variant(R, k));
    for (int k = 0; k < pl->np; k++) EOS_TRY(phase1_pixel(R, k));
    /* phase 2: embeddings of the CE model */
    const eos_dataset *d = &R->H.d;
    R->train_emb = (eos_embeddings){R->ntr, DIM, NULL, NULL};
    R->test_emb = (eos_embeddings){d->test.n, DIM, d->test.labels, NULL};
    R->val_emb = (eos_embeddings){R->nva, DIM, NULL, NULL};
    if (pl->nm > 0) {
        snprintf(dir, sizeof dir, "%s/embeddings", R->od);
        EOS_TRY(phase2_embeddings(R, dir));
        EOS_TRY(phase2_gap(R, dir));
    }
    choose_projection(R);
    for (int k = 0; k < pl->nm; k++) EOS_TRY(phase3_method(R, k));
    EOS_TRY(finish_run(R, t0));
    R->rc.out->failed = "";
    return EOS_OK;
}

eos_status eos_pipeline_run(eos_runtime_t rt_in, const eos_pipeline_config *cfg, eos_pipeline_progress_fn progress,
                            void *user, eos_pipeline_result *out) {
    memset(out, 0, sizeof *out);
    out->failed = "checking the configuration";
    EOS_TRY(eos_pipeline_check(cfg));
    if (!cfg->data || !cfg->out_dir || !cfg->out_dir[0])
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "pipeline: data and out_dir are required");
    if (strlen(cfg->out_dir) >= 4096 - 64)
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "pipeline: out_dir %.60s... is longer than %d bytes", cfg->out_dir, 4096 - 64);
    run run_state, *R = &run_state;
    memset(R, 0, sizeof *R);
    R->rc = (run_ctx){cfg, progress, user, out};
    R->od = cfg->out_dir;
    R->lead = eos__dist_rank() == 0;
    EOS_TRY(parse_methods(cfg->methods, &R->pl));
    out->failed = "checking out_dir";
    EOS_TRY(check_out_dir(R));
    eos_resnet_blocks(cfg->arch, &R->blocks);  /* checked above */
    R->eval_every = cfg->eval_every ? cfg->eval_every : (cfg->epochs / 20 > 1 ? cfg->epochs / 20 : 1);
    out->rows = calloc(2 * EOS_PIPELINE_MAX_METHODS + 1, sizeof *out->rows);
    if (!out->rows) return OOM("the results table");
    eos_runtime_t rt = rt_in;
    if (!rt) {
        out->failed = "opening the device";
        EOS_TRY(eos_runtime_init(&rt, NULL));
    }
    R->rt = rt;
    /* under mpirun: phases 2-3's searches and embeddings shared among the ranks (host/dist.h) */
    int prev_split = eos__runtime_dist_split(rt, 1);
    eos_status st = run_phases(R, now());
    held_free(&R->H);
    eos__runtime_dist_split(rt, prev_split);
    if (rt != rt_in) eos_runtime_free(rt);
    return st;
}
