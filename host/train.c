/* Phase 1 training loop (GUIDE section 5) and evaluation-mode prediction. The loop runs on the
 * device end to end: only the batch goes up and the per-sample losses and logits come down. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

float eos_lr_schedule(float base_lr, int epoch, int epochs) {
    double scale = epochs / 200.0, t = epoch + 1;  /* LDAM-DRW counts epochs from 1 */
    if (t <= 5 * scale) return (float)(base_lr * t / (5 * scale));
    if (t > 180 * scale) return base_lr * 1e-4f;
    if (t > 160 * scale) return base_lr * 1e-2f;
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

eos_status eos_predict_progress(eos_resnet_t m, const eos_dataset *d, const eos_split *split, const size_t *indices,
                                size_t n, int batch, int32_t *pred, float *features, eos_progress_fn progress,
                                void *user) {
    if (!indices) n = split->n;
    eos_loader L;
    eos_loader_options o = eos_loader_defaults(d, (size_t)batch);
    EOS_TRY(eos_loader_init(&L, d, split, indices, n, &o));
    int C = eos_resnet_classes(m);
    size_t img = (size_t)d->channels * d->height * d->width;
    float *x = malloc((size_t)batch * img * sizeof *x), *logits = malloc((size_t)batch * C * sizeof *logits);
    int32_t *y = malloc((size_t)batch * sizeof *y);
    eos_status st = (x && logits && y) ? EOS_OK
                                       : eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "predict buffers");
    size_t done = 0, b;
    while (st == EOS_OK && (b = eos_loader_next(&L, x, y)) > 0) {
        st = eos_resnet_forward(m, 0, (int)b, d->height, d->width, x);
        if (st == EOS_OK) st = eos_resnet_outputs(m, (int)b, logits, features ? features + done * 64 : NULL);
        for (size_t i = 0; st == EOS_OK && pred && i < b; i++) pred[done + i] = argmax(logits + i * C, C);
        done += b;
        if (st == EOS_OK && progress) progress(done, n, user);
    }
    free(x); free(logits); free(y);
    eos_loader_free(&L);
    return st;
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
                           int batch, eos_metrics *out) {
    if (!idx) n = s->n;
    int32_t *pred = malloc((n ? n : 1) * sizeof *pred), *truth = malloc((n ? n : 1) * sizeof *truth);
    if (!pred || !truth) {
        free(pred); free(truth);
        EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "evaluation of %zu images", n);
    }
    eos_status st = eos_predict(m, d, s, idx, n, batch, pred, NULL);
    for (size_t i = 0; i < n; i++) truth[i] = s->labels[idx ? idx[i] : i];
    if (st == EOS_OK) st = eos_metrics_compute(d->classes, truth, pred, n, out);
    free(pred); free(truth);
    return st;
}

eos_status eos_train_run(eos_runtime_t rt, eos_resnet_t m, const eos_dataset *d, const size_t *indices, size_t n,
                         const eos_train_config *cfg, eos_metrics *final) {
    (void)rt;  /* the network carries its runtime; the argument keeps the call explicit */
    memset(final, 0, sizeof *final);
    if (cfg->epochs < 1 || cfg->batch < 1 || !(cfg->lr > 0))
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "train: epochs %d, batch %d, lr %g must be positive", cfg->epochs, cfg->batch, cfg->lr);
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
    if (d->classes > 256 && (cfg->rule != EOS_RULE_NONE || ldam))
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "train: class-balanced rules and LDAM support up to 256 classes, the data has %d",
                 d->classes);
    size_t *all = NULL;
    if (!indices) {  /* every training image */
        n = d->train.n;
        all = malloc((n ? n : 1) * sizeof *all);
        if (!all) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "train: index of %zu images", n);
        for (size_t i = 0; i < n; i++) all[i] = i;
        indices = all;
    }
    size_t *tr = NULL, *va = NULL, ntr = n, nva = 0;
    if (cfg->val_split > 0) {
        eos_status vs = eos_split_stratified(&d->train, d->classes, indices, n, cfg->val_split, cfg->seed, &tr, &ntr, &va, &nva);
        if (vs != EOS_OK) {
            free(all);
            return vs;
        }
    }
    const size_t *train_idx = tr ? tr : indices;
    char path[4096], model_path[4096];
    snprintf(model_path, sizeof model_path, "%s/model.safetensors", cfg->out_dir);
    snprintf(path, sizeof path, "%s/train_log.csv", cfg->out_dir);

    /* class-balanced weights (reweight, resample, drw) and LDAM's margins, from the images trained on */
    float cbw[256], margins[256];
    size_t counts[256] = {0};
    int C = d->classes;
    eos_loss_spec spec = cfg->loss;
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
    size_t img = (size_t)d->channels * d->height * d->width;
    float *x = malloc((size_t)cfg->batch * img * sizeof *x), *logits = malloc((size_t)cfg->batch * C * sizeof *logits);
    int32_t *y = malloc((size_t)cfg->batch * sizeof *y);
    FILE *log = NULL;
    if (st == EOS_OK && (!x || !logits || !y)) st = eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "training buffers");
    eos__atomic_file alog;
    if (st == EOS_OK && (st = eos__atomic_open(&alog, path)) == EOS_OK) {
        log = alog.f;
        fprintf(log, "epoch,lr,train_loss,train_acc,val_fm,test_acc,test_bac,seconds,images_per_second\n");
    }
    double t_start = eos__now(), best_fm = -1;
    size_t steps = eos_loader_batches(&L);
    if (cfg->max_steps > 0 && steps > (size_t)cfg->max_steps) steps = (size_t)cfg->max_steps;
    int drw_from = (int)(0.8 * cfg->epochs);  /* LDAM-DRW: epoch 160 of 200 */
    eos_train_progress p;
    memset(&p, 0, sizeof p);
    p.epochs = cfg->epochs;
    p.steps = steps;
    for (int e = 0; st == EOS_OK && e < cfg->epochs; e++) {
        float lr = eos_lr_schedule(cfg->lr, e, cfg->epochs);
        eos_loader_start_epoch(&L, (unsigned)e);
        double t0 = eos__now(), loss_sum = 0;
        size_t seen = 0, correct = 0, b;
        p.epoch = e;
        p.epoch_done = 0;
        p.step = 0;
        const float *weights = cfg->rule == EOS_RULE_REWEIGHT || (cfg->rule == EOS_RULE_DRW && e >= drw_from) ? cbw : NULL;
        while (st == EOS_OK && p.step < steps && (b = eos_loader_next(&L, x, y)) > 0) {
            float loss;
            st = eos_resnet_forward(m, 1, (int)b, d->height, d->width, x);
            if (st == EOS_OK) st = eos_resnet_backward_loss(m, (int)b, y, &spec, weights, &loss);
            if (st == EOS_OK) st = eos_resnet_outputs(m, (int)b, logits, NULL);
            if (st == EOS_OK) st = eos_resnet_sgd_step(m, lr, cfg->momentum, cfg->weight_decay);
            if (st != EOS_OK) break;
            if (!isfinite(loss)) {
                st = eos__error_set(EOS_ERR_NUMERIC, __FILE__, __LINE__, NULL,
                                    "the learning rate is the usual cause: try a smaller --lr",
                                    "the loss became %g at epoch %d, step %zu", loss, e + 1, p.step + 1);
                break;
            }
            for (size_t i = 0; i < b; i++) correct += argmax(logits + i * C, C) == y[i];
            loss_sum += loss * b;
            seen += b;
            p.step++;
            p.loss = loss_sum / seen;
            double el = eos__now() - t0;
            p.images_per_second = seen / (el > 0 ? el : 1e-9);
            double per_epoch = el / p.step * steps;
            p.eta_seconds = per_epoch * (cfg->epochs - e) - el;
            if (cfg->progress) cfg->progress(&p, cfg->user);
        }
        if (st != EOS_OK) break;
        p.epoch_seconds = eos__now() - t0;
        p.train_acc = seen ? (double)correct / seen : 0;
        p.lr = lr;
        p.val_fm = -1;
        p.test_acc = p.test_bac = -1;
        p.best = 0;
        if (nva) {
            eos_metrics vm;
            st = evaluate(m, d, &d->train, va, nva, cfg->batch, &vm);
            if (st != EOS_OK) break;
            p.val_fm = vm.fm;
            eos_metrics_free(&vm);
            if (p.val_fm > best_fm) {
                best_fm = p.val_fm;
                p.best = 1;
                st = eos_resnet_save(m, model_path);  /* the kept model is on disk at every moment */
            }
        }
        int last = e == cfg->epochs - 1;
        if (st == EOS_OK && (last || (cfg->eval_every > 0 && (e + 1) % cfg->eval_every == 0))) {
            eos_metrics tm;
            st = evaluate(m, d, &d->test, NULL, 0, cfg->batch, &tm);
            if (st != EOS_OK) break;
            p.test_acc = tm.acc;
            p.test_bac = tm.bac;
            if (last && !nva) *final = tm;  /* the kept model is this one: no second pass */
            else eos_metrics_free(&tm);
        }
        if (st != EOS_OK) break;
        fprintf(log, "%d,%.6g,%.6f,%.6f,%.6f,%.6f,%.6f,%.2f,%.1f\n", e + 1, lr, p.loss, p.train_acc, p.val_fm, p.test_acc,
                p.test_bac, p.epoch_seconds, seen / p.epoch_seconds);
        fflush(log);
        p.epoch_done = 1;
        if (cfg->progress) cfg->progress(&p, cfg->user);
    }
    if (st == EOS_OK && !nva) st = eos_resnet_save(m, model_path);  /* default: the last epoch */
    if (st == EOS_OK && nva) {
        /* evaluate the kept (best validation macro-F1) model, not the last one */
        eos_resnet_t best;
        st = eos_resnet_load(eos_resnet_runtime(m), model_path, &best);
        if (st == EOS_OK) {
            st = evaluate(best, d, &d->test, NULL, 0, cfg->batch, final);
            eos_resnet_free(best);
        }
    }
    if (st == EOS_OK) {
        char extra[512];
        snprintf(extra, sizeof extra, "\"epochs\": %d, \"kept\": \"%s\", \"train_images\": %zu, \"val_images\": %zu, \"seconds\": %.1f",
                 cfg->epochs, nva ? "best validation macro-F1" : "last epoch", ntr, nva, eos__now() - t_start);
        snprintf(path, sizeof path, "%s/metrics.json", cfg->out_dir);
        st = eos_metrics_write_json(path, final, (const char (*)[64])d->class_names, extra);
    }
    if (log) {
        if (st == EOS_OK) st = eos__atomic_commit(&alog);
        else eos__atomic_commit(&alog);  /* keep the log of a failed run too: it says how far it got */
    }
    if (st != EOS_OK) eos_metrics_free(final);
    eos_loader_free(&L);
    free(x); free(logits); free(y); free(tr); free(va); free(all);
    return st;
}
