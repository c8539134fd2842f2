/* Training checkpoints: DIR/checkpoint.safetensors written at every epoch's end and when a run is
 * stopped, read back on resume (checked against the run's settings and data), and the log that
 * travels with it. The loop that calls these is host/train/train.c. */
#include "train_internal.h"
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

/* ---- checkpoints ----------------------------------------------------------------------------
 * DIR/checkpoint.safetensors holds the network's state dict, "mom.<name>" for the SGD momentum,
 * and string metadata: eos.format, eos.config and eos.data (what the run is: compared on
 * resume), eos.args, eos.epoch/eos.step (the epoch in progress and its batches done), the
 * epoch's running sums, the best validation FM, the loader's generator state (checked after the
 * replay), the base lr, the seconds spent and the log so far. Every source of randomness is a
 * function of (seed, epoch) and the number of batches drawn, so the replay is exact. */

eos_status eos__text_put(eos__text *t, const char *fmt, ...) {
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
void eos__train_config_string(char *buf, size_t n, eos_resnet_t m, const eos_train_config *c) {
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
void eos__train_data_string(char *buf, size_t n, const eos_dataset *d, const size_t *tr, size_t ntr, const size_t *va,
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
    if (strcmp(fmt, EOS__CKPT_FORMAT))
        EOS_FAIL(EOS_ERR_FORMAT, NULL, "%s: checkpoint format '%.60s', expected '%s'", path, fmt, EOS__CKPT_FORMAT);
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
eos_status eos__train_snapshot(eos_resnet_t m, const eos__run_state *rs, size_t steps, eos_named_tensor **t, size_t *nt) {
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

eos_status eos__train_checkpoint_write(const eos__ckpt_ctx *c, const eos_named_tensor *t, size_t nt, const eos__run_state *rs,
                                   double seconds, const eos__text *log) {
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
    const char *meta[] = {"eos.conv", conv, "eos.format", EOS__CKPT_FORMAT, "eos.config", c->config, "eos.data", c->data,
                          "eos.args", c->args ? c->args : "", "eos.epoch", epoch, "eos.epochs", epochs,
                          "eos.step", step, "eos.steps", steps, "eos.loss_sum", loss, "eos.seen", seen,
                          "eos.correct", correct, "eos.best_fm", best, "eos.seconds", secs, "eos.rng", rng,
                          "eos.lr", lr, "eos.log", log->s ? log->s : ""};
    return eos_safetensors_write_meta(c->path, t, nt, meta, sizeof meta / sizeof meta[0] / 2);
}

eos_status eos__train_log_write(const char *path, const eos__text *t) {
    eos__atomic_file a;
    EOS_TRY(eos__atomic_open(&a, path));
    if (t->n && fwrite(t->s, 1, t->n, a.f) != t->n) {
        eos__atomic_abort(&a);
        EOS_FAIL(EOS_ERR_IO, "check free disk space", "writing %s failed", path);
    }
    return eos__atomic_commit(&a);
}

/* Read the checkpoint of cfg's run into m and *rs (and the log so far into *log). */
eos_status eos__train_resume(eos_resnet_t m, const eos__ckpt_ctx *c, eos__run_state *rs, eos__text *log) {
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
        if (!ok || *end || strncmp(lg, EOS__LOG_HEADER, strlen(EOS__LOG_HEADER)))
            st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, "the checkpoint is damaged; start again with --force",
                                "%s: the checkpoint's %s is damaged", c->path, ok && !*end ? "log" : "generator state");
    }
    if (st == EOS_OK) st = eos_resnet_state_set(m, &f, c->path);
    if (st == EOS_OK) st = eos__conv_choices_import(c->rt, eos_safetensors_meta(&f, "eos.conv"));
    if (st == EOS_OK) st = eos__text_put(log, "%s", lg);
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
void eos__train_kept_state(char *buf, size_t n, int ck_epoch, size_t ck_step, const char *ckpt_path) {
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
void eos__train_remove_stale_temps(const char *dir) {
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
