/* Phase 1 training loop (GUIDE section 5). The loop runs on the device end to end: only the
 * batch goes up and the per-sample losses and logits come down. It checkpoints every epoch (and
 * when asked to stop; host/train/train_checkpoint.c) and resumes exactly, mid-epoch included.
 * Its settings: train_config.c; its evaluations: predict.c; the schedule: host/nn/optim.c. */
#include "train_internal.h"
#include "data_internal.h"
#include "dist.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* One run of eos_train_run: what its pieces below share. */
typedef struct {
    eos_resnet_t m;
    const eos_dataset *d;
    const eos_train_config *cfg;
    int C, rank, ranks, lead;
    const size_t *va;        /* the validation images (nva), NULL when none */
    size_t ntr, nva, steps;  /* training images, validation images, steps per epoch */
    const float *cbw;        /* (classes) class-balanced weights */
    eos_loss_spec spec;
    eos_loader L;
    float *x;                /* (B, C, H, W) */
    float *logits;           /* (B, classes) */
    int32_t *y;              /* (B) */
    char model_path[4096], log_path[4096], ckpt_path[4096], metrics_path[4096];
    eos__ckpt_ctx ck;
    eos__run_state rs;
    eos__text log;
    int saved;               /* the checkpoint on disk is the state in memory */
    int ck_epoch;            /* the last good checkpoint's position, for messages (-1: none) */
    size_t ck_step;
    double t_session;
    eos_train_progress p;
    eos_named_tensor *snap;  /* the state at the end of the epoch's steps */
    size_t nsnap;
} run;

static double session_seconds(const run *r) { return r->rs.seconds + (eos__now() - r->t_session); }

/* Save the state in memory (unless it is on disk already) and stop: the EOS_ERR_INTERRUPTED
 * that says where, or the failure of the save. */
static eos_status stop_here(run *r) {
    eos_status st = EOS_OK;
    if (!r->saved && r->lead) {
        if (!r->snap) st = eos__train_snapshot(r->m, &r->rs, r->steps, &r->snap, &r->nsnap);
        if (st == EOS_OK) st = eos__train_checkpoint_write(&r->ck, r->snap, r->nsnap, &r->rs, session_seconds(r), &r->log);
    }
    if (st != EOS_OK) return st;
    if (r->rs.epoch >= r->cfg->epochs)
        return eos__error_set(EOS_ERR_INTERRUPTED, __FILE__, __LINE__, NULL,
                              "continue the run with eos train --resume DIR (or eos_train_config.resume)",
                              "interrupted in the final evaluation, after all %d epochs: the state is saved in %s",
                              r->cfg->epochs, r->ckpt_path);
    return eos__error_set(EOS_ERR_INTERRUPTED, __FILE__, __LINE__, NULL,
                          "continue the run with eos train --resume DIR (or eos_train_config.resume)",
                          "interrupted in epoch %d of %d after step %zu of %zu: the state is saved in %s",
                          r->rs.epoch + 1, r->cfg->epochs, r->rs.step, r->steps, r->ckpt_path);
}

/* The arguments that need no allocation to check. */
static eos_status check_run(eos_resnet_t m, const eos_dataset *d, const size_t *indices, size_t n,
                            const eos_train_config *cfg) {
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
    return EOS_OK;
}

/* The images trained on and held out: *all lists every training image when indices is NULL
 * (then *indices points at it); *tr and *va (malloc'd, or NULL: train on all of *indices) from
 * cfg's val_indices or its stratified val_split. On failure everything is freed. */
static eos_status hold_out(const eos_dataset *d, const eos_train_config *cfg, const size_t **indices, size_t *n,
                           size_t **all, size_t **tr, size_t *ntr, size_t **va, size_t *nva) {
    *all = *tr = *va = NULL;
    if (!*indices) {  /* every training image */
        *n = d->train.n;
        if (*n == 0) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "train: the training split is empty");
        *all = malloc(*n * sizeof **all);
        if (!*all) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "train: index of %zu images", *n);
        for (size_t i = 0; i < *n; i++) (*all)[i] = i;
        *indices = *all;
    }
    *ntr = *n;
    *nva = 0;
    eos_status st = EOS_OK;
    if (cfg->val_indices && cfg->val_n > 0) {
        if (cfg->val_split > 0)
            st = eos__error_set(EOS_ERR_INVALID_ARG, __FILE__, __LINE__, NULL, NULL,
                                "train: val_split %g and val_indices: expected one hold-out, not both", cfg->val_split);
        else if (!(*va = malloc(cfg->val_n * sizeof **va)))
            st = eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "train: %zu validation images",
                                cfg->val_n);
        for (size_t i = 0; st == EOS_OK && i < cfg->val_n; i++) {
            if (cfg->val_indices[i] >= d->train.n)
                st = eos__error_set(EOS_ERR_INVALID_ARG, __FILE__, __LINE__, NULL, NULL,
                                    "train: validation image %zu of %zu is position %zu, past the %zu training images", i,
                                    cfg->val_n, cfg->val_indices[i], d->train.n);
            else
                (*va)[i] = cfg->val_indices[i];
        }
        *nva = cfg->val_n;
    } else if (cfg->val_split > 0) {
        st = eos_split_stratified(&d->train, d->classes, *indices, *n, cfg->val_split, cfg->seed, tr, ntr, va, nva);
    }
    if (st != EOS_OK) {
        free(*all); free(*tr); free(*va);
        *all = *tr = *va = NULL;
    }
    return st;
}

/* One step on this rank's shard, rows nb of the global batch's b (r->x, r->y): forward, backward,
 * the gradients summed over the ranks, SGD. sums: the global batch's loss sum and hits. */
static eos_status train_step(run *r, float lr, const float *weights, size_t b, size_t nb, double sums[2]) {
    const eos_train_config *cfg = r->cfg;
    eos_resnet_t m = r->m;
    float loss;
    eos_runtime_t mrt = eos_resnet_runtime(m);
    mrt->bn_sync.on = r->ranks > 1 && cfg->sync_bn;
    mrt->bn_sync.rows = (int)nb;
    mrt->bn_sync.rows_total = (int)b;
    eos_status st = eos_resnet_forward(m, 1, (int)nb, r->d->height, r->d->width, r->x);
    if (st == EOS_OK) st = eos_resnet_backward_loss(m, (int)nb, r->y, &r->spec, weights, &loss);
    mrt->bn_sync.on = 0;
    if (st == EOS_OK) st = eos_resnet_outputs(m, (int)nb, r->logits, NULL);
    /* the global batch's mean gradient: each rank's weighted by its share (exact for a
     * partial last batch too), then one step everywhere from the same numbers */
    if (st == EOS_OK && r->ranks > 1) st = eos__resnet_grads_allreduce(m, (float)((double)nb / (double)b));
    if (st == EOS_OK) st = eos_resnet_sgd_step(m, lr, cfg->momentum, cfg->weight_decay);
    if (st != EOS_OK) return eos__train_oom_hint(st, m, r->d, cfg->batch, r->ntr, r->ntr);
    /* the step's loss and hits over the global batch */
    sums[0] = (double)loss * nb;
    sums[1] = 0;
    for (size_t i = 0; i < nb; i++) sums[1] += eos__argmax(r->logits + i * r->C, r->C) == r->y[i];
    if (r->ranks > 1 && eos__dist_allreduce_sum_double(sums, 2) != 0)
        return eos__error_set(EOS_ERR_INTERNAL, __FILE__, __LINE__, "MPI_Allreduce", NULL,
                              "the allreduce of the step's loss across the MPI ranks failed");
    return EOS_OK;
}

/* Epoch e's remaining steps (from r->rs.step), with progress reports; stops after any step once
 * asked to. *seen: the images this session trained on in the epoch. */
static eos_status epoch_steps(run *r, int e, float lr, const float *weights, double t0, size_t *seen) {
    const eos_train_config *cfg = r->cfg;
    size_t session_steps = 0, b, lo, nb;
    while (r->rs.step < r->steps && (b = eos__loader_next_shard(&r->L, r->x, r->y, r->rank, r->ranks, &lo, &nb)) > 0) {
        if (nb == 0)  /* only a last batch smaller than the ranks */
            return eos__error_set(EOS_ERR_INVALID_ARG, __FILE__, __LINE__, NULL,
                                  "choose --batch so that the last batch of each epoch has at least one image per rank",
                                  "train: epoch %d's last batch has %zu images, fewer than the %d MPI ranks", e + 1, b,
                                  r->ranks);
        double sums[2];
        EOS_TRY(train_step(r, lr, weights, b, nb, sums));
        float loss = (float)(sums[0] / (double)b);
        r->saved = 0;
        r->rs.rng = r->L.rng;
        if (!isfinite(loss)) {
            char kept[4300];
            eos__train_kept_state(kept, sizeof kept, r->ck_epoch, r->ck_step, r->ckpt_path);
            return eos__error_set(EOS_ERR_NUMERIC, __FILE__, __LINE__, NULL, NULL,
                                  "training diverged: the loss became %g at epoch %d, step %zu of %zu; the learning rate "
                                  "is the usual cause: try a smaller --lr (base lr %g now); %s",
                                  loss, e + 1, r->rs.step + 1, r->steps, cfg->lr, kept);
        }
        r->rs.correct += (size_t)sums[1];
        r->rs.loss_sum += sums[0];
        r->rs.seen += b;
        r->rs.step++;
        session_steps++;
        *seen += b;
        eos_train_progress *p = &r->p;
        p->step = r->rs.step;
        p->loss = r->rs.loss_sum / r->rs.seen;
        double el = eos__now() - t0;
        p->images_per_second = *seen / (el > 0 ? el : 1e-9);
        double per_step = el / session_steps;
        p->eta_seconds = per_step * ((double)(r->steps - r->rs.step) + (double)r->steps * (cfg->epochs - e - 1));
        if (cfg->progress) cfg->progress(p, cfg->user);
        if (eos__stop_agreed(cfg->stop, r->ranks)) return stop_here(r);  /* every rank stops after this same step */
    }
    return EOS_OK;
}

/* Epoch e's evaluations (rank 0): validation macro-F1 (the best model saved as it improves) and,
 * every eval_every epochs and after the last, the test split; *final takes the last epoch's test
 * metrics when there is no validation set (*have_final). */
static eos_status epoch_evaluations(run *r, int e, eos_metrics *final, int *have_final) {
    const eos_train_config *cfg = r->cfg;
    eos_train_progress *p = &r->p;
    eos_status st = EOS_OK;
    double prev_best = r->rs.best_fm;
    if (r->nva && r->lead) {
        eos_metrics vm;
        st = eos__evaluate(r->m, r->d, &r->d->train, r->va, r->nva, cfg->batch, &vm, cfg->stop);
        if (st == EOS_ERR_INTERRUPTED) st = stop_here(r);
        if (st != EOS_OK) return eos__train_oom_hint(st, r->m, r->d, cfg->batch, r->nva, r->ntr);
        p->val_fm = vm.fm;
        eos_metrics_free(&vm);
        if (p->val_fm > r->rs.best_fm) {
            r->rs.best_fm = p->val_fm;
            p->best = 1;
            EOS_TRY(eos_resnet_save(r->m, r->model_path));  /* the kept model is on disk at every moment */
        }
    }
    int last = e == cfg->epochs - 1;
    if (r->lead && (last || (cfg->eval_every > 0 && (e + 1) % cfg->eval_every == 0))) {
        eos_metrics tm;
        st = eos__evaluate(r->m, r->d, &r->d->test, NULL, 0, cfg->batch, &tm, cfg->stop);
        if (st == EOS_ERR_INTERRUPTED) {
            /* the epoch is redone from its evaluations on resume: the best FM as it was before them */
            r->rs.best_fm = prev_best;
            st = stop_here(r);
        }
        if (st != EOS_OK) return eos__train_oom_hint(st, r->m, r->d, cfg->batch, r->d->test.n, r->ntr);
        p->test_acc = tm.acc;
        p->test_bac = tm.bac;
        if (last && !r->nva) {  /* the kept model is this one: no second pass */
            *final = tm;
            *have_final = 1;
        } else {
            eos_metrics_free(&tm);
        }
    }
    return EOS_OK;
}

/* Epoch e from where r->rs stands (resumed mid-epoch: its batches done are replayed first), its
 * evaluations, then its checkpoint and the log. */
static eos_status run_epoch(run *r, int e, const float *cbw, int drw_from, eos_metrics *final, int *have_final) {
    const eos_train_config *cfg = r->cfg;
    eos__run_state *rs = &r->rs;
    eos_train_progress *p = &r->p;
    float lr = eos_lr_schedule(cfg->lr, e, cfg->epochs);
    eos_loader_start_epoch(&r->L, (unsigned)e);
    if (e == rs->epoch && rs->step > 0) {  /* resuming mid-epoch: replay the batches done */
        eos_rng want = rs->rng;
        if (eos_loader_skip(&r->L, rs->step) != rs->step || r->L.rng.state != want.state || r->L.rng.inc != want.inc)
            return eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL,
                                  "the checkpoint is damaged or from another version of EOS-CL; start again with --force",
                                  "%s: replaying %zu batches of epoch %d did not give the checkpoint's loader state",
                                  r->ckpt_path, rs->step, e + 1);
    } else {
        rs->epoch = e;
        rs->step = 0;
        rs->loss_sum = 0;
        rs->seen = rs->correct = 0;
    }
    rs->rng = r->L.rng;
    double t0 = eos__now();
    size_t session_seen = 0;
    p->epoch = e;
    p->epoch_done = 0;
    p->step = rs->step;
    const float *weights = cfg->rule == EOS_RULE_REWEIGHT || (cfg->rule == EOS_RULE_DRW && e >= drw_from) ? cbw : NULL;
    if (eos__stop_agreed(cfg->stop, r->ranks)) return stop_here(r);
    EOS_TRY(epoch_steps(r, e, lr, weights, t0, &session_seen));
    /* the epoch's steps are done: the state is checked now, written after the evaluations */
    eos_status st = eos__train_snapshot(r->m, rs, r->steps, &r->snap, &r->nsnap);
    if (st != EOS_OK) {
        char msg[4096], kept[4300];
        snprintf(msg, sizeof msg, "%s", eos_last_error()->message);
        eos__train_kept_state(kept, sizeof kept, r->ck_epoch, r->ck_step, r->ckpt_path);
        return eos__error_set(st, __FILE__, __LINE__, NULL, "the learning rate is the usual cause: try a smaller --lr",
                              "%s (checked at the end of the epoch); %s", msg, kept);
    }
    p->epoch_seconds = eos__now() - t0;
    p->train_acc = rs->seen ? (double)rs->correct / rs->seen : 0;
    p->loss = rs->seen ? rs->loss_sum / rs->seen : 0;
    p->lr = lr;
    p->val_fm = -1;
    p->test_acc = p->test_bac = -1;
    p->best = 0;
    EOS_TRY(epoch_evaluations(r, e, final, have_final));
    st = eos__text_put(&r->log, "%d,%.6g,%.6f,%.6f,%.6f,%.6f,%.6f,%.2f,%.1f\n", e + 1, lr, p->loss, p->train_acc,
                       p->val_fm, p->test_acc, p->test_bac, p->epoch_seconds,
                       session_seen / (p->epoch_seconds > 0 ? p->epoch_seconds : 1e-9));
    /* the epoch is complete: its checkpoint, then the log */
    rs->epoch = e + 1;
    rs->step = 0;
    rs->loss_sum = 0;
    rs->seen = rs->correct = 0;
    if (st == EOS_OK && r->lead) st = eos__train_checkpoint_write(&r->ck, r->snap, r->nsnap, rs, session_seconds(r), &r->log);
    if (st == EOS_OK && r->lead) st = eos__train_log_write(r->log_path, &r->log);
    if (st != EOS_OK) return st;
    r->saved = 1;
    r->ck_epoch = rs->epoch;
    r->ck_step = 0;
    eos_named_tensors_free(r->snap, r->nsnap);
    r->snap = NULL;
    p->epoch_done = 1;
    if (cfg->progress) cfg->progress(p, cfg->user);
    if (eos__stop_agreed(cfg->stop, r->ranks) && e + 1 < cfg->epochs) return stop_here(r);
    return EOS_OK;
}

/* After the last epoch (rank 0): the kept model, the log, the final test metrics and
 * metrics.json. */
static eos_status finish_run(run *r, int have_final, eos_metrics *final) {
    const eos_train_config *cfg = r->cfg;
    eos_status st = EOS_OK;
    if (!r->nva) st = eos_resnet_save(r->m, r->model_path);  /* default: the last epoch */
    if (st == EOS_OK) st = eos__train_log_write(r->log_path, &r->log);
    if (st == EOS_OK && !have_final) {
        /* the kept model: the best validation macro-F1 (on disk), or the last epoch's when a
         * resumed run had no epoch left to evaluate */
        eos_resnet_t best = r->m;
        if (r->nva) st = eos_resnet_load(eos_resnet_runtime(r->m), r->model_path, &best);
        if (st == EOS_OK) {
            st = eos__evaluate(best, r->d, &r->d->test, NULL, 0, cfg->batch, final, cfg->stop);
            if (best != r->m) eos_resnet_free(best);
            if (st == EOS_ERR_INTERRUPTED) st = stop_here(r);
        }
    }
    if (st == EOS_OK) {
        char extra[512];
        snprintf(extra, sizeof extra, "\"epochs\": %d, \"kept\": \"%s\", \"train_images\": %zu, \"val_images\": %zu, \"seconds\": %.1f",
                 cfg->epochs, r->nva ? "best validation macro-F1" : "last epoch", r->ntr, r->nva, session_seconds(r));
        st = eos_metrics_write_json(r->metrics_path, final, (const char *const *)r->d->class_names, extra);
    }
    return st;
}

eos_status eos_train_run(eos_runtime_t rt, eos_resnet_t m, const eos_dataset *d, const size_t *indices, size_t n,
                         const eos_train_config *cfg, eos_metrics *final) {
    (void)rt;  /* the network carries its runtime; the argument keeps the call explicit */
    memset(final, 0, sizeof *final);
    EOS_TRY(check_run(m, d, indices, n, cfg));
    size_t *all, *tr, *va, ntr, nva;
    EOS_TRY(hold_out(d, cfg, &indices, &n, &all, &tr, &ntr, &va, &nva));
    run r;
    memset(&r, 0, sizeof r);
    r.m = m;
    r.d = d;
    r.cfg = cfg;
    r.va = va;
    r.ntr = ntr;
    r.nva = nva;
    const size_t *train_idx = tr ? tr : indices;
    snprintf(r.model_path, sizeof r.model_path, "%s/model.safetensors", cfg->out_dir);
    snprintf(r.log_path, sizeof r.log_path, "%s/train_log.csv", cfg->out_dir);
    snprintf(r.ckpt_path, sizeof r.ckpt_path, "%s/" EOS_TRAIN_CHECKPOINT, cfg->out_dir);
    snprintf(r.metrics_path, sizeof r.metrics_path, "%s/metrics.json", cfg->out_dir);

    /* class-balanced weights (reweight, resample, drw) and LDAM's margins, from the images trained on */
    int C = r.C = d->classes;
    float *cbw = calloc((size_t)C, sizeof *cbw), *margins = calloc((size_t)C, sizeof *margins);  /* (classes) */
    size_t *counts = calloc((size_t)C, sizeof *counts);                                            /* (classes) */
    r.spec = cfg->loss;
    if (!cbw || !margins || !counts) {
        free(cbw); free(margins); free(counts); free(tr); free(va); free(all);
        EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "train: per-class tables of %d classes", C);
    }
    if (cfg->rule != EOS_RULE_NONE || cfg->loss.kind == EOS_LOSS_LDAM) {
        for (size_t i = 0; i < ntr; i++) counts[d->train.labels[train_idx[i]]]++;
        eos_class_balanced_weights(counts, C, cfg->beta, cbw);
        eos_ldam_margins(counts, C, cfg->loss.max_m, margins);
        r.spec.margins = margins;
    }
    eos_loader_options o = eos_loader_defaults(d, (size_t)cfg->batch);
    o.shuffle = 1;
    if (cfg->rule == EOS_RULE_RESAMPLE) o.class_weights = cbw;
    o.augment = d->height >= 16 && d->width >= 16;  /* pad-4 crops only make sense on real images */
    o.seed = cfg->seed;
    eos_status st = eos_loader_init(&r.L, d, &d->train, train_idx, ntr, &o);
    size_t img = (size_t)d->channels * d->height * d->width, B = (size_t)cfg->batch < ntr ? (size_t)cfg->batch : ntr;
    r.x = malloc(B * img * sizeof *r.x);
    r.logits = malloc(B * C * sizeof *r.logits);
    r.y = malloc(B * sizeof *r.y);
    if (st == EOS_OK && (!r.x || !r.logits || !r.y)) st = eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "training buffers");
    r.steps = st == EOS_OK ? eos_loader_batches(&r.L) : 0;
    /* Data parallel (host/runtime/dist.c): every rank draws the same global batches (same seed, same
     * loader) and trains rows [r b/N, (r+1) b/N) of each; rank 0 alone evaluates and writes. */
    r.rank = eos__dist_rank();
    r.ranks = eos__dist_size();
    r.lead = r.rank == 0;
    if (st == EOS_OK && B < (size_t)r.ranks)
        st = eos__error_set(EOS_ERR_INVALID_ARG, __FILE__, __LINE__, NULL, "use a --batch of at least the number of ranks",
                            "train: a batch of %zu images cannot be split across %d MPI ranks", B, r.ranks);
    size_t shard_max = (B + (size_t)r.ranks - 1) / (size_t)r.ranks;  /* the most rows a rank trains per step */
    /* every convolution choice of the run is made for the full batch B (a rank's largest
     * shard when data parallel), in its first step (the partial last batch and the evaluations
     * take B's), so the checkpoints carry them all */
    int prev_choice_batch = eos__conv_set_choice_batch(eos_resnet_runtime(m), (int)shard_max);
    /* rank 0 alone evaluates: no prediction in here may wait for the other ranks */
    int prev_split = eos__runtime_dist_split(eos_resnet_runtime(m), 0);
    if (cfg->max_steps > 0 && r.steps > (size_t)cfg->max_steps) r.steps = (size_t)cfg->max_steps;

    char config[1024], data[256];
    eos__train_config_string(config, sizeof config, m, cfg);
    eos__train_data_string(data, sizeof data, d, train_idx, ntr, va, nva);
    r.ck = (eos__ckpt_ctx){r.ckpt_path, config, data, cfg->run_args, cfg->lr, cfg->epochs, r.steps, eos_resnet_runtime(m)};
    r.rs.best_fm = -1;
    r.ck_epoch = -1;
    if (st == EOS_OK) {
        if (r.lead) eos__train_remove_stale_temps(cfg->out_dir);
        if (cfg->resume) {
            st = eos__train_resume(m, &r.ck, &r.rs, &r.log);
            r.saved = st == EOS_OK;
            r.ck_epoch = r.rs.epoch;
            r.ck_step = r.rs.step;
        } else {
            if (r.lead && unlink(r.ckpt_path) != 0 && errno != ENOENT)  /* an older run's state is not this one's */
                st = eos__error_set(EOS_ERR_IO, __FILE__, __LINE__, "unlink", NULL, "cannot remove the old %s: %s",
                                    r.ckpt_path, strerror(errno));
            if (st == EOS_OK) st = eos__text_put(&r.log, EOS__LOG_HEADER);
        }
    }
    r.t_session = eos__now();
    int drw_from = eos_lr_milestone(cfg->epochs, 0);  /* LDAM-DRW: at the first decay, epoch 160 of 200 */
    r.p.epochs = cfg->epochs;
    r.p.steps = r.steps;
    int have_final = 0;
    for (int e = r.rs.epoch; st == EOS_OK && e < cfg->epochs; e++) st = run_epoch(&r, e, cbw, drw_from, final, &have_final);
    if (st == EOS_OK && r.lead) st = finish_run(&r, have_final, final);
    if (st != EOS_OK) eos_metrics_free(final);
    eos_named_tensors_free(r.snap, r.nsnap);
    free(r.log.s);
    eos_loader_free(&r.L);
    free(r.x); free(r.logits); free(r.y); free(tr); free(va); free(all);
    free(cbw); free(margins); free(counts);
    eos__conv_set_choice_batch(eos_resnet_runtime(m), prev_choice_batch);
    eos__runtime_dist_split(eos_resnet_runtime(m), prev_split);
    /* per-rank batch norm leaves each rank its own running statistics: rank 0's, which it saved,
     * everywhere (a caller computes with the model next: the pipeline's embeddings); then every
     * rank leaves once rank 0's files are whole (the pipeline loads the kept model on every rank) */
    if (st == EOS_OK && r.ranks > 1) st = eos__resnet_state_bcast(m);
    if (st == EOS_OK && r.ranks > 1 && eos__dist_barrier() != 0)
        st = eos__error_set(EOS_ERR_INTERNAL, __FILE__, __LINE__, "MPI_Barrier", NULL,
                            "train: waiting for the other MPI ranks at the end of the run failed");
    return st;
}
