/* Phase 1 training loop (GUIDE section 5) and evaluation-mode prediction. The loop runs on the
 * device end to end: only the batch goes up and the per-sample losses and logits come down.
 * It checkpoints every epoch (and when asked to stop) and resumes exactly, mid-epoch included. */
#include "internal.h"
#include "dist.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* The paper's milestones (160 and 180 of 200) scaled to the run and rounded to whole epochs:
 * round(0.8 E) and round(0.9 E). Unrounded ("t > 0.8 E") a short run spent its last epoch,
 * half of a 2-epoch run and all of a 1-epoch one, at lr x 0.0001; rounded, lr stays at base_lr
 * for round(0.8 E) epochs, most of any run (1 or 2 epochs: all of it). */
int eos_lr_milestone(int epochs, int which) {
    return (int)lround((which ? 0.9 : 0.8) * epochs);
}

float eos_lr_schedule(float base_lr, int epoch, int epochs) {
    double scale = epochs / 200.0, t = epoch + 1;  /* LDAM-DRW counts epochs from 1 */
    /* warm-up over 5/200 of the run: none below 40 epochs (less than one epoch to spread it over) */
    if (t <= 5 * scale) return (float)(base_lr * t / (5 * scale));
    if (t > eos_lr_milestone(epochs, 1)) return base_lr * 1e-4f;
    if (t > eos_lr_milestone(epochs, 0)) return base_lr * 1e-2f;
    return base_lr;
}

static const char *k_rules[] = {"none", "reweight", "resample", "drw"};

eos_status eos_rule_parse(const char *name, eos_train_rule *out) {
    for (int i = 0; i < 4; i++)
        if (name && !strcmp(name, k_rules[i])) {
            *out = (eos_train_rule)i;
            return EOS_OK;
        }
    EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "unknown rule '%s': expected none, reweight, resample or drw", name ? name : "");
}

const char *eos_rule_name(eos_train_rule r) { return (unsigned)r < 4 ? k_rules[r] : "?"; }

eos_status eos_train_variant_parse(const char *name, eos_loss_spec *loss, eos_train_rule *rule) {
    char buf[64];
    if (!name || strlen(name) >= sizeof buf)
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "phase-1 variant '%s': expected LOSS or LOSS-RULE", name ? name : "");
    snprintf(buf, sizeof buf, "%s", name);
    char *dash = strchr(buf, '-');
    if (dash) *dash = 0;
    *rule = EOS_RULE_NONE;
    if (eos_loss_parse(buf, loss) != EOS_OK || (dash && eos_rule_parse(dash + 1, rule) != EOS_OK))
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL,
                 "phase-1 variant '%s': expected LOSS or LOSS-RULE with LOSS ce, focal, asl or ldam and RULE reweight, "
                 "resample or drw (for example ldam-drw)", name);
    return EOS_OK;
}

eos_train_config eos_train_defaults(void) {
    eos_train_config c;
    memset(&c, 0, sizeof c);
    c.epochs = 200;
    c.batch = 128;
    c.lr = 0.1f;
    c.momentum = 0.9f;
    c.weight_decay = 2e-4f;
    c.eval_every = 1;
    c.beta = 0.9999;
    return c;
}

static int32_t argmax(const float *v, int n) {
    int32_t b = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[b]) b = i;
    return b;
}

eos_status eos_predict(eos_resnet_t m, const eos_dataset *d, const eos_split *split, const size_t *indices, size_t n,
                       int batch, int32_t *pred, float *features) {
    return eos_predict_progress(m, d, split, indices, n, batch, pred, features, NULL, NULL);
}

static int stopped(volatile sig_atomic_t *stop) { return stop && *stop; }

/* Whether any rank was asked to stop (data parallel: every rank stops at the same point). */
static int stop_agreed(volatile sig_atomic_t *stop, int ranks) {
    double any = stopped(stop) ? 1 : 0;
    if (ranks > 1 && eos__dist_allreduce_sum_double(&any, 1) != 0) return 1;
    return any > 0;
}

/* eos_predict_progress, stopping between batches (EOS_ERR_INTERRUPTED) once *stop is set */
static eos_status predict(eos_resnet_t m, const eos_dataset *d, const eos_split *split, const size_t *indices,
                          size_t n, int batch, int32_t *pred, float *features, eos_progress_fn progress, void *user,
                          volatile sig_atomic_t *stop) {
    if (!indices) n = split->n;
    if (batch < 1) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "predict: batch %d must be positive", batch);
    size_t B = n && (size_t)batch > n ? n : (size_t)batch;  /* host buffers for the batches there are */
    eos_loader L;
    eos_loader_options o = eos_loader_defaults(d, B);
    EOS_TRY(eos_loader_init(&L, d, split, indices, n, &o));
    int C = eos_resnet_classes(m);
    size_t img = (size_t)d->channels * d->height * d->width;
    float *x = malloc(B * img * sizeof *x);          /* (B, C, H, W) */
    float *logits = malloc(B * C * sizeof *logits);  /* (B, classes) */
    int32_t *y = malloc(B * sizeof *y);              /* (B) */
    eos_status st = (x && logits && y) ? EOS_OK
                                       : eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "predict buffers");
    size_t done = 0, b;
    /* the partial last batch takes the full batch's convolution choices (unless training set its own) */
    eos_runtime_t rt = eos_resnet_runtime(m);
    int prev_batch = eos__conv_set_choice_batch(rt, 0);
    eos__conv_set_choice_batch(rt, prev_batch ? prev_batch : (int)B);
    while (st == EOS_OK && (b = eos_loader_next(&L, x, y)) > 0) {
        if (stopped(stop)) {
            st = EOS_ERR_INTERRUPTED;  /* the caller says what was saved */
            break;
        }
        st = eos_resnet_forward(m, 0, (int)b, d->height, d->width, x);
        if (st == EOS_OK) st = eos_resnet_outputs(m, (int)b, logits, features ? features + done * 64 : NULL);
        for (size_t i = 0; st == EOS_OK && pred && i < b; i++) pred[done + i] = argmax(logits + i * C, C);
        done += b;
        if (st == EOS_OK && progress) progress(done, n, user);
    }
    eos__conv_set_choice_batch(rt, prev_batch);
    free(x); free(logits); free(y);
    eos_loader_free(&L);
    return st;
}

eos_status eos_predict_progress(eos_resnet_t m, const eos_dataset *d, const eos_split *split, const size_t *indices,
                                size_t n, int batch, int32_t *pred, float *features, eos_progress_fn progress,
                                void *user) {
    return predict(m, d, split, indices, n, batch, pred, features, progress, user, NULL);
}

eos_status eos_split_stratified(const eos_split *s, int classes, const size_t *indices, size_t n, double fraction,
                                uint64_t seed, size_t **train, size_t *ntrain, size_t **val, size_t *nval) {
    *train = *val = NULL;
    *ntrain = *nval = 0;
    if (!(fraction > 0 && fraction < 1)) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "--val-split %g: expected a fraction in (0, 1)", fraction);
    size_t *by = malloc((n ? n : 1) * sizeof *by), *cnt = calloc((size_t)classes + 1, sizeof *cnt);
    unsigned char *is_val = calloc(n ? n : 1, 1);
    *train = malloc((n ? n : 1) * sizeof **train);
    *val = malloc((n ? n : 1) * sizeof **val);
    if (!by || !cnt || !is_val || !*train || !*val) {
        free(by); free(cnt); free(is_val); free(*train); free(*val);
        *train = *val = NULL;
        EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "validation split");
    }
    eos_rng r;
    eos_rng_seed(&r, seed, 0x56414c);  /* "VAL" */
    for (int c = 0; c < classes; c++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (s->labels[indices[i]] == c) by[m++] = i;
        for (size_t i = m; i > 1; i--) {
            size_t j = eos_rng_below(&r, (uint32_t)i), t = by[i - 1];
            by[i - 1] = by[j];
            by[j] = t;
        }
        size_t k = (size_t)floor(fraction * (double)m + 0.5);
        if (k == 0 && m >= 2) k = 1;
        if (k >= m && m > 0) k = m - 1;  /* never the whole class */
        for (size_t i = 0; i < k; i++) is_val[by[i]] = 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (is_val[i]) (*val)[(*nval)++] = indices[i];
        else (*train)[(*ntrain)++] = indices[i];
    }
    free(by); free(cnt); free(is_val);
    return EOS_OK;
}

static eos_status evaluate(eos_resnet_t m, const eos_dataset *d, const eos_split *s, const size_t *idx, size_t n,
                           int batch, eos_metrics *out, volatile sig_atomic_t *stop) {
    if (!idx) n = s->n;
    int32_t *pred = malloc((n ? n : 1) * sizeof *pred), *truth = malloc((n ? n : 1) * sizeof *truth);
    if (!pred || !truth) {
        free(pred); free(truth);
        EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "evaluation of %zu images", n);
    }
    eos_status st = predict(m, d, s, idx, n, batch, pred, NULL, NULL, NULL, stop);
    for (size_t i = 0; i < n; i++) truth[i] = s->labels[idx ? idx[i] : i];
    if (st == EOS_OK) st = eos_metrics_compute(d->classes, truth, pred, n, out);
    free(pred); free(truth);
    return st;
}


/* ---- checkpoints ----------------------------------------------------------------------------
 * DIR/checkpoint.safetensors holds the network's state dict, "mom.<name>" for the SGD momentum,
 * and string metadata: eos.format, eos.config and eos.data (what the run is: compared on
 * resume), eos.args, eos.epoch/eos.step (the epoch in progress and its batches done), the
 * epoch's running sums, the best validation FM, the loader's generator state (checked after the
 * replay), the base lr, the seconds spent and the log so far. Every source of randomness is a
 * function of (seed, epoch) and the number of batches drawn, so the replay is exact. */

#define CKPT_FORMAT "eos-cl training checkpoint 1"
#define LOG_HEADER "epoch,lr,train_loss,train_acc,val_fm,test_acc,test_bac,seconds,images_per_second\n"

typedef struct {
    int epoch;            /* the epoch in progress, 0-based */
    size_t step;          /* its batches done */
    double loss_sum;      /* over its images so far */
    size_t seen, correct;
    double best_fm;       /* best validation macro-F1 so far (-1: none) */
    double seconds;       /* training time of the earlier sessions */
    eos_rng rng;          /* the loader's generator after those batches */
} run_state;

typedef struct {
    char *s;
    size_t n, cap;
} text;

static eos_status text_put(text *t, const char *fmt, ...) EOS_PRINTF(2, 3);
static eos_status text_put(text *t, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(t->s ? t->s + t->n : NULL, t->s ? t->cap - t->n : 0, fmt, ap);
        va_end(ap);
        if (w < 0) EOS_FAIL(EOS_ERR_INTERNAL, NULL, "formatting the training log");
        if (t->s && t->n + (size_t)w < t->cap) {
            t->n += (size_t)w;
            return EOS_OK;
        }
        size_t cap = 2 * t->cap + (size_t)w + 256;
        char *g = realloc(t->s, cap);
        if (!g) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "training log");
        t->s = g;
        t->cap = cap;
    }
}

/* Everything that shapes the weights except the data and the learning rate, as key=value words. */
static void config_string(char *buf, size_t n, eos_resnet_t m, const eos_train_config *c) {
    const eos_loss_spec *l = &c->loss;
    static const char *losses[] = {"ce", "focal", "asl", "ldam"};
    snprintf(buf, n,
             "arch=resnet%d head=%s epochs=%d batch=%d momentum=%.9g weight_decay=%.9g seed=%llu val_split=%.17g "
             "loss=%s gamma=%.9g gamma_pos=%.9g gamma_neg=%.9g smoothing=%.9g ldam_s=%.9g max_m=%.9g rule=%s "
             "beta=%.17g max_steps=%d",
             6 * eos_resnet_blocks_per_stage(m) + 2, eos_resnet_head_kind(m) == EOS_RESNET_HEAD_NORMED ? "normed" : "linear",
             c->epochs, c->batch, c->momentum, c->weight_decay, (unsigned long long)c->seed, c->val_split,
             (unsigned)l->kind < 4 ? losses[l->kind] : "?", l->gamma, l->gamma_pos, l->gamma_neg, l->eps, l->s, l->max_m,
             eos_rule_name(c->rule), c->beta, c->max_steps);
    /* data parallel (host/runtime/dist.c): the ranks and --sync-bn shape the weights too (per-rank batch
     * norm statistics, the shards' float sums); absent in a one-process run's text */
    size_t len = strlen(buf);
    if (eos__dist_size() > 1 && len < n)
        snprintf(buf + len, n - len, " ranks=%d sync_bn=%d", eos__dist_size(), c->sync_bn ? 1 : 0);
}

/* The MPI ranks a checkpoint's run had: its config's ranks= word, 1 when there is none. */
static int config_ranks(const char *cfg) {
    const char *r = cfg ? strstr(cfg, " ranks=") : NULL;
    return r ? atoi(r + 7) : 1;
}

/* The training and validation images: counts, shape and a hash of their labels and pixels. */
static void data_string(char *buf, size_t n, const eos_dataset *d, const size_t *tr, size_t ntr, const size_t *va,
                        size_t nva) {
    unsigned long long h = EOS_FNV_OFFSET;
    size_t img = (size_t)d->channels * d->height * d->width;
    for (int part = 0; part < 2; part++) {
        const size_t *idx = part ? va : tr;
        size_t k = part ? nva : ntr;
        h = eos__fnv1a(h, &k, sizeof k);
        for (size_t i = 0; i < k; i++) {
            h = eos__fnv1a(h, &d->train.labels[idx[i]], sizeof(int32_t));
            h = eos__fnv1a(h, d->train.pixels + idx[i] * img, img);
        }
    }
    snprintf(buf, n, "classes=%d image=%dx%dx%d train_images=%zu val_images=%zu data_hash=%016llx", d->classes,
             d->channels, d->height, d->width, ntr, nva, h);
}

/* "key: A in the checkpoint, B now" for every word that differs */
static void config_diff(const char *was, const char *now, char *out, size_t n) {
    size_t off = 0;
    out[0] = 0;
    const char *p = now;
    while (*p && off < n) {
        const char *e = strchr(p, ' '), *eq = strchr(p, '=');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (eq && eq < p + len) {
            size_t klen = (size_t)(eq - p) + 1;
            const char *q = was, *match = NULL;
            while (q && *q) {
                if (!strncmp(q, p, klen) && (q == was || q[-1] == ' ')) { match = q; break; }
                q = strchr(q, ' ');
                if (q) q++;
            }
            const char *qe = match ? strchr(match, ' ') : NULL;
            size_t qlen = match ? (qe ? (size_t)(qe - match) : strlen(match)) : 0;
            if (!match || qlen != len || strncmp(match, p, len))
                off += (size_t)snprintf(out + off, n - off, "%s%.*s %.*s in the checkpoint, %.*s now", off ? "; " : "",
                                        (int)(klen - 1), p, match ? (int)(qlen - klen) : 4,
                                        match ? match + klen : "none", (int)(len - klen), p + klen);
        }
        p += len;
        while (*p == ' ') p++;
    }
}

static eos_status meta_get(const eos_safetensors *f, const char *path, const char *key, const char **out) {
    *out = eos_safetensors_meta(f, key);
    if (!*out)
        EOS_FAIL(EOS_ERR_FORMAT, "the file is damaged or not a training checkpoint; start again with --force",
                 "%s: the training checkpoint lacks '%s'", path, key);
    return EOS_OK;
}

static eos_status meta_u64(const eos_safetensors *f, const char *path, const char *key, unsigned long long hi,
                           unsigned long long *out) {
    const char *v;
    EOS_TRY(meta_get(f, path, key, &v));
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (!*v || *v == '-' || *end || errno || x > hi)
        EOS_FAIL(EOS_ERR_FORMAT, "the checkpoint is damaged; start again with --force",
                 "%s: checkpoint entry '%s' is '%.40s', expected an integer in [0, %llu]", path, key, v, hi);
    *out = x;
    return EOS_OK;
}

static eos_status meta_real(const eos_safetensors *f, const char *path, const char *key, double *out) {
    const char *v;
    EOS_TRY(meta_get(f, path, key, &v));
    char *end;
    double x = strtod(v, &end);
    if (!*v || *end || !isfinite(x))
        EOS_FAIL(EOS_ERR_FORMAT, "the checkpoint is damaged; start again with --force",
                 "%s: checkpoint entry '%s' is '%.40s', expected a finite number", path, key, v);
    *out = x;
    return EOS_OK;
}

/* The metadata every reader needs, checked for consistency. */
static eos_status read_info(const eos_safetensors *f, const char *path, eos_train_checkpoint_info *info) {
    memset(info, 0, sizeof *info);
    const char *fmt;
    EOS_TRY(meta_get(f, path, "eos.format", &fmt));
    if (strcmp(fmt, CKPT_FORMAT))
        EOS_FAIL(EOS_ERR_FORMAT, NULL, "%s: checkpoint format '%.60s', expected '%s'", path, fmt, CKPT_FORMAT);
    unsigned long long epochs, epoch, steps, step;
    EOS_TRY(meta_u64(f, path, "eos.epochs", 1000000000ULL, &epochs));
    EOS_TRY(meta_u64(f, path, "eos.epoch", epochs, &epoch));
    EOS_TRY(meta_u64(f, path, "eos.steps", (unsigned long long)SIZE_MAX / 2, &steps));
    EOS_TRY(meta_u64(f, path, "eos.step", steps, &step));
    if (epochs < 1 || (epoch == epochs && step))
        EOS_FAIL(EOS_ERR_FORMAT, "the checkpoint is damaged; start again with --force",
                 "%s: checkpoint at epoch %llu step %llu of %llu epochs is impossible", path, epoch, step, epochs);
    EOS_TRY(meta_real(f, path, "eos.lr", &info->lr));
    const char *args = eos_safetensors_meta(f, "eos.args");
    info->run_args = malloc(strlen(args ? args : "") + 1);
    if (!info->run_args) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "checkpoint arguments");
    strcpy(info->run_args, args ? args : "");
    info->epochs = (int)epochs;
    info->epoch = (int)epoch;
    info->steps = (size_t)steps;
    info->step = (size_t)step;
    return EOS_OK;
}

void eos_train_checkpoint_info_free(eos_train_checkpoint_info *info) {
    if (!info) return;
    free(info->run_args);
    memset(info, 0, sizeof *info);
}

eos_status eos_train_checkpoint_read(const char *path, eos_train_checkpoint_info *info) {
    memset(info, 0, sizeof *info);
    eos_safetensors f;
    EOS_TRY(eos_safetensors_read(path, &f));
    eos_status st = read_info(&f, path, info);
    eos_safetensors_free(&f);
    return st;
}

eos_status eos_train_checkpoint_parse(const uint8_t *buf, size_t size, const char *name, eos_train_checkpoint_info *info) {
    memset(info, 0, sizeof *info);
    eos_safetensors f;
    EOS_TRY(eos_safetensors_parse(buf, size, name, &f));
    eos_status st = read_info(&f, name, info);
    eos_safetensors_free(&f);
    return st;
}

/* The state on the host, refused when anything in it is NaN or Inf. */
static eos_status snapshot(eos_resnet_t m, const run_state *rs, size_t steps, eos_named_tensor **t, size_t *nt) {
    EOS_TRY(eos_resnet_state_get(m, t, nt));
    for (size_t i = 0; i < *nt; i++) {
        const eos_named_tensor *x = &(*t)[i];
        if (x->dtype != EOS_DTYPE_F32) continue;
        const float *v = x->data;
        for (size_t k = 0; k < x->numel; k++)
            if (!isfinite(v[k])) {
                char name[EOS_MAX_TENSOR_NAME];
                snprintf(name, sizeof name, "%s", x->name);
                float bad = v[k];
                eos_named_tensors_free(*t, *nt);
                *t = NULL;
                EOS_FAIL(EOS_ERR_NUMERIC, "the learning rate is the usual cause: try a smaller --lr",
                         "training diverged in epoch %d by step %zu of %zu: %s holds %g", rs->epoch + 1,
                         rs->step, steps, name, bad);
            }
    }
    return EOS_OK;
}

typedef struct {
    const char *path, *config, *data, *args;
    float lr;
    int epochs;
    size_t steps;
    eos_runtime_t rt;  /* its convolution choices go into the checkpoint (eos.conv) */
} ckpt_ctx;

static eos_status write_checkpoint(const ckpt_ctx *c, const eos_named_tensor *t, size_t nt, const run_state *rs,
                                   double seconds, const text *log) {
    char epoch[32], epochs[32], step[32], steps[32], loss[40], seen[32], correct[32], best[40], secs[40], rng[48],
        lr[40];
    snprintf(epoch, sizeof epoch, "%d", rs->epoch);
    snprintf(epochs, sizeof epochs, "%d", c->epochs);
    snprintf(step, sizeof step, "%zu", rs->step);
    snprintf(steps, sizeof steps, "%zu", c->steps);
    snprintf(loss, sizeof loss, "%.17g", rs->loss_sum);
    snprintf(seen, sizeof seen, "%zu", rs->seen);
    snprintf(correct, sizeof correct, "%zu", rs->correct);
    snprintf(best, sizeof best, "%.17g", rs->best_fm);
    snprintf(secs, sizeof secs, "%.3f", seconds);
    snprintf(rng, sizeof rng, "%016llx %016llx", (unsigned long long)rs->rng.state, (unsigned long long)rs->rng.inc);
    snprintf(lr, sizeof lr, "%.9g", c->lr);
    /* the convolution algorithm of every layer shape: a resumed run must compute what this one did */
    char conv[8192];
    eos__conv_choices_export(c->rt, conv, sizeof conv);
    const char *meta[] = {"eos.conv", conv, "eos.format", CKPT_FORMAT, "eos.config", c->config, "eos.data", c->data,
                          "eos.args", c->args ? c->args : "", "eos.epoch", epoch, "eos.epochs", epochs,
                          "eos.step", step, "eos.steps", steps, "eos.loss_sum", loss, "eos.seen", seen,
                          "eos.correct", correct, "eos.best_fm", best, "eos.seconds", secs, "eos.rng", rng,
                          "eos.lr", lr, "eos.log", log->s ? log->s : ""};
    return eos_safetensors_write_meta(c->path, t, nt, meta, sizeof meta / sizeof meta[0] / 2);
}

static eos_status write_text(const char *path, const text *t) {
    eos__atomic_file a;
    EOS_TRY(eos__atomic_open(&a, path));
    if (t->n && fwrite(t->s, 1, t->n, a.f) != t->n) {
        eos__atomic_abort(&a);
        EOS_FAIL(EOS_ERR_IO, "check free disk space", "writing %s failed", path);
    }
    return eos__atomic_commit(&a);
}

/* Read the checkpoint of cfg's run into m and *rs (and the log so far into *log). */
static eos_status resume_from(eos_resnet_t m, const ckpt_ctx *c, run_state *rs, text *log) {
    eos_safetensors f;
    eos_status st = eos_safetensors_read(c->path, &f);
    if (st != EOS_OK) {
        if (st == EOS_ERR_IO)
            EOS_FAIL(EOS_ERR_IO, "a run is resumed from the folder it was writing (--out); it has a checkpoint once it "
                     "has been interrupted or has finished an epoch",
                     "no checkpoint to resume from: %s", eos_last_error()->message);
        return st;
    }
    eos_train_checkpoint_info info;
    st = read_info(&f, c->path, &info);
    const char *was_cfg = eos_safetensors_meta(&f, "eos.config"), *was_data = eos_safetensors_meta(&f, "eos.data");
    char diff[2048];
    if (st == EOS_OK && was_cfg && config_ranks(was_cfg) != eos__dist_size())
        st = eos__error_set(EOS_ERR_INVALID_ARG, __FILE__, __LINE__, NULL,
                            "resume with as many ranks as the run had (mpirun -np N), or start again with --force",
                            "%s was written by a run on %d MPI rank%s; this one has %d: the shards of every batch, "
                            "and with them the weights, would differ", c->path, config_ranks(was_cfg),
                            config_ranks(was_cfg) == 1 ? "" : "s", eos__dist_size());
    if (st == EOS_OK && (!was_cfg || strcmp(was_cfg, c->config))) {
        config_diff(was_cfg ? was_cfg : "", c->config, diff, sizeof diff);
        st = eos__error_set(EOS_ERR_INVALID_ARG, __FILE__, __LINE__, NULL,
                            "resume with the run's own settings (eos train --resume DIR takes them from the checkpoint), "
                            "or start again with --force",
                            "%s belongs to another run: %s", c->path, diff);
    }
    if (st == EOS_OK && (!was_data || strcmp(was_data, c->data))) {
        config_diff(was_data ? was_data : "", c->data, diff, sizeof diff);
        st = eos__error_set(EOS_ERR_INVALID_ARG, __FILE__, __LINE__, NULL,
                            "resume with the same dataset, --imbalance, --seed and --val-split",
                            "%s was trained on other images: %s", c->path, diff);
    }
    if (st == EOS_OK && (info.epochs != c->epochs || info.steps != c->steps))
        st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, "the checkpoint is damaged; start again with --force",
                            "%s: %d epochs of %zu steps, this run has %d of %zu", c->path, info.epochs, info.steps,
                            c->epochs, c->steps);
    unsigned long long seen = 0, correct = 0;
    const char *rng = NULL, *lg = NULL;
    if (st == EOS_OK) st = meta_real(&f, c->path, "eos.loss_sum", &rs->loss_sum);
    if (st == EOS_OK) st = meta_u64(&f, c->path, "eos.seen", (unsigned long long)SIZE_MAX / 2, &seen);
    if (st == EOS_OK) st = meta_u64(&f, c->path, "eos.correct", seen, &correct);
    if (st == EOS_OK) st = meta_real(&f, c->path, "eos.best_fm", &rs->best_fm);
    if (st == EOS_OK) st = meta_real(&f, c->path, "eos.seconds", &rs->seconds);
    if (st == EOS_OK) st = meta_get(&f, c->path, "eos.rng", &rng);
    if (st == EOS_OK) st = meta_get(&f, c->path, "eos.log", &lg);
    if (st == EOS_OK) {
        char *end;
        rs->rng.state = strtoull(rng, &end, 16);
        int ok = end == rng + 16 && *end == ' ';
        if (ok) rs->rng.inc = strtoull(end + 1, &end, 16);
        if (!ok || *end || strncmp(lg, LOG_HEADER, strlen(LOG_HEADER)))
            st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, "the checkpoint is damaged; start again with --force",
                                "%s: the checkpoint's %s is damaged", c->path, ok && !*end ? "log" : "generator state");
    }
    if (st == EOS_OK) st = eos_resnet_state_set(m, &f, c->path);
    if (st == EOS_OK) st = eos__conv_choices_import(c->rt, eos_safetensors_meta(&f, "eos.conv"));
    if (st == EOS_OK) st = text_put(log, "%s", lg);
    if (st == EOS_OK) {
        rs->epoch = info.epoch;
        rs->step = info.step;
        rs->seen = (size_t)seen;
        rs->correct = (size_t)correct;
        if ((float)info.lr != c->lr)
            eos__log(EOS_LOG_WARN, "resuming %s with base lr %g instead of its %g: from here on it is a different run",
                     c->path, c->lr, info.lr);
    }
    eos_train_checkpoint_info_free(&info);
    eos_safetensors_free(&f);
    return st;
}

/* What a diverged run says about its checkpoint: the file is named as the last good state only
 * when it reads back whole now (checksums, finite values), since it is what the user will resume. */
static void kept_state(char *buf, size_t n, int ck_epoch, size_t ck_step, const char *ckpt_path) {
    if (ck_epoch < 0) {
        snprintf(buf, n, "no checkpoint was written yet");
        return;
    }
    eos_safetensors f;
    if (eos_safetensors_read(ckpt_path, &f) == EOS_OK) {
        eos_safetensors_free(&f);
        snprintf(buf, n, "the last good state (epoch %d, step %zu) is kept in %s: resume from it with a smaller --lr",
                 ck_epoch + 1, ck_step, ckpt_path);
    } else {
        snprintf(buf, n, "the checkpoint %s does not pass its checks now (%s): start again with --force", ckpt_path,
                 eos_last_error()->message);
    }
}

/* Temporary files that a killed process left behind (NAME.tmp.PID of a PID that is gone). */
static void remove_stale_temps(const char *dir) {
    static const char *names[] = {EOS_TRAIN_CHECKPOINT ".tmp.", "model.safetensors.tmp.", "train_log.csv.tmp.",
                                  "metrics.json.tmp."};
    DIR *dp = opendir(dir);
    if (!dp) return;
    struct dirent *de;
    while ((de = readdir(dp))) {
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            size_t k = strlen(names[i]);
            if (strncmp(de->d_name, names[i], k)) continue;
            char *end;
            long pid = strtol(de->d_name + k, &end, 10);
            if (*end || pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
            char p[4096];
            if (snprintf(p, sizeof p, "%s/%s", dir, de->d_name) < (int)sizeof p) unlink(p);
        }
    }
    closedir(dp);
}

/* An out-of-memory failure of the training step, with what the batch needs and what would fit.
 * images: those of the pass that failed; a --batch above it runs as one batch of them all, so
 * that is what is sized, and the batch suggested is always a smaller one, never more than the
 * train_images the run trains on. */
static eos_status oom_hint(eos_status st, eos_resnet_t m, const eos_dataset *d, int batch, size_t images,
                           size_t train_images) {
    if (st != EOS_ERR_OUT_OF_MEMORY && st != CL_MEM_OBJECT_ALLOCATION_FAILURE && st != CL_OUT_OF_RESOURCES &&
        st != -2050 /* CLBlastInsufficientMemoryTemp */)
        return st;
    static _Thread_local char was[4096];
    snprintf(was, sizeof was, "%s", eos_last_error()->message);
    eos_resnet_memory mem;
    eos_resnet_memory_estimate(eos_resnet_blocks_per_stage(m), d->channels, d->classes, d->height, d->width, &mem);
    unsigned long long global, max_alloc;
    eos__device_memory(eos_resnet_runtime(m), &global, &max_alloc);
    size_t eff = images && (size_t)batch > images ? images : (size_t)batch;  /* the images of one step */
    double mib = 1024.0 * 1024.0, need = (double)mem.fixed_bytes + (double)eff * mem.per_image_bytes;
    /* leave a tenth of the device to the driver and CLBlast's own buffers */
    double room = 0.9 * (double)global - (double)mem.fixed_bytes;
    double fit = room > 0 ? room / mem.per_image_bytes : 0;
    if (max_alloc && (double)max_alloc / mem.largest_per_image_bytes < fit) fit = (double)max_alloc / mem.largest_per_image_bytes;
    /* a smaller batch than the one that failed, and no more than the training set */
    double cap = fit;
    if (eff > 1 && (double)(eff - 1) < cap) cap = (double)(eff - 1);
    if (train_images && (double)train_images < cap) cap = (double)train_images;
    long b = 1;
    while (b * 2 <= cap && b * 2 <= 1 << 20) b *= 2;  /* a power of two */
    char suggest[160], sized[96] = "";
    if (fit < 1 || eff <= 1) snprintf(suggest, sizeof suggest, "even one image of %d x %d does not fit", d->height, d->width);
    else snprintf(suggest, sizeof suggest, "--batch %ld would fit", b);
    if (eff < (size_t)batch) snprintf(sized, sizeof sized, " (%zu images per step: all there are)", eff);
    return eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL,
                          "use a smaller --batch, or a device with more memory (--device)",
                          "%s\ntraining resnet%d on %d x %d images with --batch %d%s needs about %.0f MiB of device memory "
                          "(%.1f MiB per image); the device has %.0f MiB (largest allocation %.0f MiB): %s",
                          was, 6 * eos_resnet_blocks_per_stage(m) + 2, d->height, d->width, batch, sized, need / mib,
                          mem.per_image_bytes / mib, global / mib, max_alloc / mib, suggest);
}

eos_status eos_train_run(eos_runtime_t rt, eos_resnet_t m, const eos_dataset *d, const size_t *indices, size_t n,
                         const eos_train_config *cfg, eos_metrics *final) {
    (void)rt;  /* the network carries its runtime; the argument keeps the call explicit */
    memset(final, 0, sizeof *final);
    if (cfg->epochs < 1 || cfg->batch < 1 || !(cfg->lr > 0))
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "train: epochs %d, batch %d, lr %g must be positive", cfg->epochs, cfg->batch, cfg->lr);
    if (!cfg->out_dir) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "train: out_dir is required");
    if (indices && n == 0) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "train: no training images selected");
    if (eos_resnet_classes(m) != d->classes || eos_resnet_in_channels(m) != d->channels)
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "train: the network has %d classes and %d input channels, the data %d and %d",
                 eos_resnet_classes(m), eos_resnet_in_channels(m), d->classes, d->channels);
    int normed = eos_resnet_head_kind(m) == EOS_RESNET_HEAD_NORMED, ldam = cfg->loss.kind == EOS_LOSS_LDAM;
    if (normed != ldam)
        EOS_FAIL(EOS_ERR_INVALID_ARG, normed ? "a model trained with --loss ldam continues with --loss ldam"
                                             : "create the network with EOS_RESNET_HEAD_NORMED for the LDAM loss",
                 "train: the %s loss needs %s head; this network has %s one", ldam ? "ldam" : "chosen",
                 ldam ? "LDAM's normalised" : "a linear", normed ? "a normalised" : "a linear");
    size_t *all = NULL;
    if (!indices) {  /* every training image */
        n = d->train.n;
        if (n == 0) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "train: the training split is empty");
        all = malloc(n * sizeof *all);
        if (!all) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "train: index of %zu images", n);
        for (size_t i = 0; i < n; i++) all[i] = i;
        indices = all;
    }
    size_t *tr = NULL, *va = NULL, ntr = n, nva = 0;
    if (cfg->val_indices && cfg->val_n > 0) {
        if (cfg->val_split > 0) {
            free(all);
            EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "train: val_split %g and val_indices: expected one hold-out, not both",
                     cfg->val_split);
        }
        va = malloc(cfg->val_n * sizeof *va);
        if (!va) {
            free(all);
            EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "train: %zu validation images", cfg->val_n);
        }
        for (size_t i = 0; i < cfg->val_n; i++) {
            if (cfg->val_indices[i] >= d->train.n) {
                free(va);
                free(all);
                EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "train: validation image %zu of %zu is position %zu, past the %zu training images",
                         i, cfg->val_n, cfg->val_indices[i], d->train.n);
            }
            va[i] = cfg->val_indices[i];
        }
        nva = cfg->val_n;
    } else if (cfg->val_split > 0) {
        eos_status vs = eos_split_stratified(&d->train, d->classes, indices, n, cfg->val_split, cfg->seed, &tr, &ntr, &va, &nva);
        if (vs != EOS_OK) {
            free(all);
            return vs;
        }
    }
    const size_t *train_idx = tr ? tr : indices;
    char model_path[4096], log_path[4096], ckpt_path[4096], metrics_path[4096];
    snprintf(model_path, sizeof model_path, "%s/model.safetensors", cfg->out_dir);
    snprintf(log_path, sizeof log_path, "%s/train_log.csv", cfg->out_dir);
    snprintf(ckpt_path, sizeof ckpt_path, "%s/" EOS_TRAIN_CHECKPOINT, cfg->out_dir);
    snprintf(metrics_path, sizeof metrics_path, "%s/metrics.json", cfg->out_dir);

    /* class-balanced weights (reweight, resample, drw) and LDAM's margins, from the images trained on */
    int C = d->classes;
    float *cbw = calloc((size_t)C, sizeof *cbw), *margins = calloc((size_t)C, sizeof *margins);  /* (classes) */
    size_t *counts = calloc((size_t)C, sizeof *counts);                                            /* (classes) */
    eos_loss_spec spec = cfg->loss;
    if (!cbw || !margins || !counts) {
        free(cbw); free(margins); free(counts); free(tr); free(va); free(all);
        EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "train: per-class tables of %d classes", C);
    }
    if (cfg->rule != EOS_RULE_NONE || ldam) {
        for (size_t i = 0; i < ntr; i++) counts[d->train.labels[train_idx[i]]]++;
        eos_class_balanced_weights(counts, C, cfg->beta, cbw);
        eos_ldam_margins(counts, C, cfg->loss.max_m, margins);
        spec.margins = margins;
    }
    eos_loader L;
    eos_loader_options o = eos_loader_defaults(d, (size_t)cfg->batch);
    o.shuffle = 1;
    if (cfg->rule == EOS_RULE_RESAMPLE) o.class_weights = cbw;
    o.augment = d->height >= 16 && d->width >= 16;  /* pad-4 crops only make sense on real images */
    o.seed = cfg->seed;
    eos_status st = eos_loader_init(&L, d, &d->train, train_idx, ntr, &o);
    size_t img = (size_t)d->channels * d->height * d->width, B = (size_t)cfg->batch < ntr ? (size_t)cfg->batch : ntr;
    float *x = malloc(B * img * sizeof *x);          /* (B, C, H, W) */
    float *logits = malloc(B * C * sizeof *logits);  /* (B, classes) */
    int32_t *y = malloc(B * sizeof *y);              /* (B) */
    if (st == EOS_OK && (!x || !logits || !y)) st = eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "training buffers");
    size_t steps = st == EOS_OK ? eos_loader_batches(&L) : 0;
    /* Data parallel (host/runtime/dist.c): every rank draws the same global batches (same seed, same
     * loader) and trains rows [r b/N, (r+1) b/N) of each; rank 0 alone evaluates and writes. */
    const int rank = eos__dist_rank(), ranks = eos__dist_size(), lead = rank == 0;
    if (st == EOS_OK && B < (size_t)ranks)
        st = eos__error_set(EOS_ERR_INVALID_ARG, __FILE__, __LINE__, NULL, "use a --batch of at least the number of ranks",
                            "train: a batch of %zu images cannot be split across %d MPI ranks", B, ranks);
    size_t shard_max = (B + (size_t)ranks - 1) / (size_t)ranks;  /* the most rows a rank trains per step */
    /* every convolution choice of the run is made for the full batch B (a rank's largest
     * shard when data parallel), in its first step (the partial last batch and the evaluations
     * take B's), so the checkpoints carry them all */
    int prev_choice_batch = eos__conv_set_choice_batch(eos_resnet_runtime(m), (int)shard_max);
    if (cfg->max_steps > 0 && steps > (size_t)cfg->max_steps) steps = (size_t)cfg->max_steps;

    char config[1024], data[256];
    config_string(config, sizeof config, m, cfg);
    data_string(data, sizeof data, d, train_idx, ntr, va, nva);
    ckpt_ctx ck = {ckpt_path, config, data, cfg->run_args, cfg->lr, cfg->epochs, steps, eos_resnet_runtime(m)};
    run_state rs;
    memset(&rs, 0, sizeof rs);
    rs.best_fm = -1;
    text log = {0};
    int saved = 0;         /* the checkpoint on disk is the state in memory */
    int ck_epoch = -1;     /* the last good checkpoint's position, for messages (-1: none) */
    size_t ck_step = 0;
    if (st == EOS_OK) {
        if (lead) remove_stale_temps(cfg->out_dir);
        if (cfg->resume) {
            st = resume_from(m, &ck, &rs, &log);
            saved = st == EOS_OK;
            ck_epoch = rs.epoch;
            ck_step = rs.step;
        } else {
            if (lead && unlink(ckpt_path) != 0 && errno != ENOENT)  /* an older run's state is not this one's */
                st = eos__error_set(EOS_ERR_IO, __FILE__, __LINE__, "unlink", NULL, "cannot remove the old %s: %s",
                                    ckpt_path, strerror(errno));
            if (st == EOS_OK) st = text_put(&log, LOG_HEADER);
        }
    }
    double t_session = eos__now();
    int drw_from = eos_lr_milestone(cfg->epochs, 0);  /* LDAM-DRW: at the first decay, epoch 160 of 200 */
    eos_train_progress p;
    memset(&p, 0, sizeof p);
    p.epochs = cfg->epochs;
    p.steps = steps;
    int have_final = 0;
    eos_named_tensor *snap = NULL;  /* the state at the end of the epoch's steps */
    size_t nsnap = 0;

#define SESSION_SECONDS() (rs.seconds + (eos__now() - t_session))
    /* save the state in memory (unless it is on disk already) and stop */
#define STOP_HERE()                                                                                          \
    do {                                                                                                     \
        if (!saved && lead) {                                                                                \
            if (!snap) st = snapshot(m, &rs, steps, &snap, &nsnap);                                          \
            if (st == EOS_OK) st = write_checkpoint(&ck, snap, nsnap, &rs, SESSION_SECONDS(), &log);         \
        }                                                                                                    \
        if (st == EOS_OK && rs.epoch >= cfg->epochs)                                                        \
            st = eos__error_set(EOS_ERR_INTERRUPTED, __FILE__, __LINE__, NULL,                               \
                                "continue the run with eos train --resume DIR (or eos_train_config.resume)", \
                                "interrupted in the final evaluation, after all %d epochs: the state is saved in %s", \
                                cfg->epochs, ckpt_path);                                                     \
        else if (st == EOS_OK)                                                                               \
            st = eos__error_set(EOS_ERR_INTERRUPTED, __FILE__, __LINE__, NULL,                               \
                                "continue the run with eos train --resume DIR (or eos_train_config.resume)", \
                                "interrupted in epoch %d of %d after step %zu of %zu: the state is saved in %s", \
                                rs.epoch + 1, cfg->epochs, rs.step, steps, ckpt_path);                       \
    } while (0)

    for (int e = rs.epoch; st == EOS_OK && e < cfg->epochs; e++) {
        float lr = eos_lr_schedule(cfg->lr, e, cfg->epochs);
        eos_loader_start_epoch(&L, (unsigned)e);
        if (e == rs.epoch && rs.step > 0) {  /* resuming mid-epoch: replay the batches done */
            eos_rng want = rs.rng;
            if (eos_loader_skip(&L, rs.step) != rs.step || L.rng.state != want.state || L.rng.inc != want.inc) {
                st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL,
                                    "the checkpoint is damaged or from another version of EOS-CL; start again with --force",
                                    "%s: replaying %zu batches of epoch %d did not give the checkpoint's loader state",
                                    ckpt_path, rs.step, e + 1);
                break;
            }
        } else {
            rs.epoch = e;
            rs.step = 0;
            rs.loss_sum = 0;
            rs.seen = rs.correct = 0;
        }
        rs.rng = L.rng;
        double t0 = eos__now();
        size_t session_steps = 0, session_seen = 0, b;
        p.epoch = e;
        p.epoch_done = 0;
        p.step = rs.step;
        const float *weights = cfg->rule == EOS_RULE_REWEIGHT || (cfg->rule == EOS_RULE_DRW && e >= drw_from) ? cbw : NULL;
        if (stop_agreed(cfg->stop, ranks)) {
            STOP_HERE();
            break;
        }
        size_t lo, nb;
        while (st == EOS_OK && rs.step < steps && (b = eos__loader_next_shard(&L, x, y, rank, ranks, &lo, &nb)) > 0) {
            float loss;
            if (nb == 0) {  /* only a last batch smaller than the ranks */
                st = eos__error_set(EOS_ERR_INVALID_ARG, __FILE__, __LINE__, NULL,
                                    "choose --batch so that the last batch of each epoch has at least one image per rank",
                                    "train: epoch %d's last batch has %zu images, fewer than the %d MPI ranks", e + 1, b, ranks);
                break;
            }
            eos_runtime_t mrt = eos_resnet_runtime(m);
            mrt->bn_sync.on = ranks > 1 && cfg->sync_bn;
            mrt->bn_sync.rows = (int)nb;
            mrt->bn_sync.rows_total = (int)b;
            st = eos_resnet_forward(m, 1, (int)nb, d->height, d->width, x);
            if (st == EOS_OK) st = eos_resnet_backward_loss(m, (int)nb, y, &spec, weights, &loss);
            mrt->bn_sync.on = 0;
            if (st == EOS_OK) st = eos_resnet_outputs(m, (int)nb, logits, NULL);
            /* the global batch's mean gradient: each rank's weighted by its share (exact for a
             * partial last batch too), then one step everywhere from the same numbers */
            if (st == EOS_OK && ranks > 1) st = eos__resnet_grads_allreduce(m, (float)((double)nb / (double)b));
            if (st == EOS_OK) st = eos_resnet_sgd_step(m, lr, cfg->momentum, cfg->weight_decay);
            if (st != EOS_OK) {
                st = oom_hint(st, m, d, cfg->batch, ntr, ntr);
                break;
            }
            /* the step's loss and hits over the global batch */
            double sums[2] = {(double)loss * nb, 0};
            for (size_t i = 0; i < nb; i++) sums[1] += argmax(logits + i * C, C) == y[i];
            if (ranks > 1 && eos__dist_allreduce_sum_double(sums, 2) != 0) {
                st = eos__error_set(EOS_ERR_INTERNAL, __FILE__, __LINE__, "MPI_Allreduce", NULL,
                                    "the allreduce of the step's loss across the MPI ranks failed");
                break;
            }
            loss = (float)(sums[0] / (double)b);
            saved = 0;
            rs.rng = L.rng;
            if (!isfinite(loss)) {
                char kept[4300];
                kept_state(kept, sizeof kept, ck_epoch, ck_step, ckpt_path);
                st = eos__error_set(EOS_ERR_NUMERIC, __FILE__, __LINE__, NULL, NULL,
                                    "training diverged: the loss became %g at epoch %d, step %zu of %zu; the learning rate "
                                    "is the usual cause: try a smaller --lr (base lr %g now); %s",
                                    loss, e + 1, rs.step + 1, steps, cfg->lr, kept);
                break;
            }
            rs.correct += (size_t)sums[1];
            rs.loss_sum += sums[0];
            rs.seen += b;
            rs.step++;
            session_steps++;
            session_seen += b;
            p.step = rs.step;
            p.loss = rs.loss_sum / rs.seen;
            double el = eos__now() - t0;
            p.images_per_second = session_seen / (el > 0 ? el : 1e-9);
            double per_step = el / session_steps;
            p.eta_seconds = per_step * ((double)(steps - rs.step) + (double)steps * (cfg->epochs - e - 1));
            if (cfg->progress) cfg->progress(&p, cfg->user);
            if (stop_agreed(cfg->stop, ranks)) {  /* every rank stops after this same step */
                STOP_HERE();
                break;
            }
        }
        if (st != EOS_OK) break;
        /* the epoch's steps are done: the state is checked now, written after the evaluations */
        if ((st = snapshot(m, &rs, steps, &snap, &nsnap)) != EOS_OK) {
            char msg[4096], kept[4300];
            snprintf(msg, sizeof msg, "%s", eos_last_error()->message);
            kept_state(kept, sizeof kept, ck_epoch, ck_step, ckpt_path);
            st = eos__error_set(st, __FILE__, __LINE__, NULL, "the learning rate is the usual cause: try a smaller --lr",
                                "%s (checked at the end of the epoch); %s", msg, kept);
            break;
        }
        p.epoch_seconds = eos__now() - t0;
        p.train_acc = rs.seen ? (double)rs.correct / rs.seen : 0;
        p.loss = rs.seen ? rs.loss_sum / rs.seen : 0;
        p.lr = lr;
        p.val_fm = -1;
        p.test_acc = p.test_bac = -1;
        p.best = 0;
        double prev_best = rs.best_fm;
        if (nva && lead) {
            eos_metrics vm;
            st = evaluate(m, d, &d->train, va, nva, cfg->batch, &vm, cfg->stop);
            if (st == EOS_ERR_INTERRUPTED) { st = EOS_OK; STOP_HERE(); }
            if (st != EOS_OK) { st = oom_hint(st, m, d, cfg->batch, nva, ntr); break; }
            p.val_fm = vm.fm;
            eos_metrics_free(&vm);
            if (p.val_fm > rs.best_fm) {
                rs.best_fm = p.val_fm;
                p.best = 1;
                st = eos_resnet_save(m, model_path);  /* the kept model is on disk at every moment */
                if (st != EOS_OK) break;
            }
        }
        int last = e == cfg->epochs - 1;
        if (lead && (last || (cfg->eval_every > 0 && (e + 1) % cfg->eval_every == 0))) {
            eos_metrics tm;
            st = evaluate(m, d, &d->test, NULL, 0, cfg->batch, &tm, cfg->stop);
            if (st == EOS_ERR_INTERRUPTED) {
                /* the epoch is redone from its evaluations on resume: the best FM as it was before them */
                rs.best_fm = prev_best;
                st = EOS_OK;
                STOP_HERE();
            }
            if (st != EOS_OK) { st = oom_hint(st, m, d, cfg->batch, d->test.n, ntr); break; }
            p.test_acc = tm.acc;
            p.test_bac = tm.bac;
            if (last && !nva) {  /* the kept model is this one: no second pass */
                *final = tm;
                have_final = 1;
            } else {
                eos_metrics_free(&tm);
            }
        }
        st = text_put(&log, "%d,%.6g,%.6f,%.6f,%.6f,%.6f,%.6f,%.2f,%.1f\n", e + 1, lr, p.loss, p.train_acc, p.val_fm,
                      p.test_acc, p.test_bac, p.epoch_seconds, session_seen / (p.epoch_seconds > 0 ? p.epoch_seconds : 1e-9));
        /* the epoch is complete: its checkpoint, then the log */
        rs.epoch = e + 1;
        rs.step = 0;
        rs.loss_sum = 0;
        rs.seen = rs.correct = 0;
        if (st == EOS_OK && lead) st = write_checkpoint(&ck, snap, nsnap, &rs, SESSION_SECONDS(), &log);
        if (st == EOS_OK && lead) st = write_text(log_path, &log);
        if (st != EOS_OK) break;
        saved = 1;
        ck_epoch = rs.epoch;
        ck_step = 0;
        eos_named_tensors_free(snap, nsnap);
        snap = NULL;
        p.epoch_done = 1;
        if (cfg->progress) cfg->progress(&p, cfg->user);
        if (stop_agreed(cfg->stop, ranks) && e + 1 < cfg->epochs) {
            STOP_HERE();
            break;
        }
    }
    if (st == EOS_OK && !nva && lead) st = eos_resnet_save(m, model_path);  /* default: the last epoch */
    if (st == EOS_OK && lead) st = write_text(log_path, &log);
    if (st == EOS_OK && !have_final && lead) {
        /* the kept model: the best validation macro-F1 (on disk), or the last epoch's when a
         * resumed run had no epoch left to evaluate */
        eos_resnet_t best = m;
        if (nva) st = eos_resnet_load(eos_resnet_runtime(m), model_path, &best);
        if (st == EOS_OK) {
            st = evaluate(best, d, &d->test, NULL, 0, cfg->batch, final, cfg->stop);
            if (best != m) eos_resnet_free(best);
            if (st == EOS_ERR_INTERRUPTED) {
                st = EOS_OK;
                STOP_HERE();
            }
        }
    }
    if (st == EOS_OK && lead) {
        char extra[512];
        snprintf(extra, sizeof extra, "\"epochs\": %d, \"kept\": \"%s\", \"train_images\": %zu, \"val_images\": %zu, \"seconds\": %.1f",
                 cfg->epochs, nva ? "best validation macro-F1" : "last epoch", ntr, nva, SESSION_SECONDS());
        st = eos_metrics_write_json(metrics_path, final, (const char *const *)d->class_names, extra);
    }
#undef STOP_HERE
#undef SESSION_SECONDS
    if (st != EOS_OK) eos_metrics_free(final);
    eos_named_tensors_free(snap, nsnap);
    free(log.s);
    eos_loader_free(&L);
    free(x); free(logits); free(y); free(tr); free(va); free(all);
    free(cbw); free(margins); free(counts);
    eos__conv_set_choice_batch(eos_resnet_runtime(m), prev_choice_batch);
    return st;
}
