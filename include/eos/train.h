/* Phase 1: train ResNet-s end to end (GUIDE section 5), and evaluate a model on a split.
 * The schedule is the paper's, scaled when the run is shorter than 200 epochs: SGD lr 0.1,
 * momentum 0.9, weight decay 2e-4, linear warm-up over the first 5/200 of the epochs, lr x0.01
 * after 160/200 and x0.0001 after 180/200. */
#ifndef EOS_TRAIN_H
#define EOS_TRAIN_H

#include "eos/data.h"
#include "eos/layers.h"
#include "eos/metrics.h"
#include "eos/resnet.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Usage:
 *     eos_train_config cfg = eos_train_defaults();        // the paper's schedule
 *     cfg.epochs = 20; cfg.out_dir = "runs/ce";
 *     eos_metrics test;
 *     eos_train_run(rt, model, &dataset, indices, n, &cfg, &test);
 */

/* The learning rate of epoch e (0-based) of E, after LDAM-DRW's adjust_learning_rate. */
float eos_lr_schedule(float base_lr, int epoch, int epochs);

typedef struct eos_train_progress {
    int epoch, epochs;         /* 0-based epoch */
    size_t step, steps;        /* batches done in this epoch, and per epoch */
    double loss;               /* running mean loss of this epoch */
    double images_per_second;  /* this epoch so far */
    double eta_seconds;        /* whole run */
    int epoch_done;            /* 1 once per epoch, with the fields below */
    double train_acc, val_fm, test_acc, test_bac, lr, epoch_seconds;
    int best;                  /* this epoch is the kept one so far */
} eos_train_progress;

/* Cost-sensitive rules (GUIDE section 5's baselines, after LDAM-DRW), all with the class-balanced
 * weights of Cui et al. (beta, default 0.9999) of the training set:
 *   none      plain loss
 *   reweight  the weights in the loss from the first epoch
 *   resample  a class-balanced sampler (with replacement) instead of the weights
 *   drw       deferred re-weighting: no weights until 80% of the epochs (160 of 200), then the weights */
typedef enum { EOS_RULE_NONE = 0, EOS_RULE_REWEIGHT, EOS_RULE_RESAMPLE, EOS_RULE_DRW } eos_train_rule;
eos_status eos_rule_parse(const char *name, eos_train_rule *out);
const char *eos_rule_name(eos_train_rule rule);
/* A phase-1 variant named LOSS or LOSS-RULE ("ce", "focal", "asl", "ldam", "ldam-drw",
 * "ce-reweight", ...): the loss with its references' defaults and the rule (none if absent). */
eos_status eos_train_variant_parse(const char *name, eos_loss_spec *loss, eos_train_rule *rule);

typedef struct eos_train_config {
    int epochs, batch;
    float lr, momentum, weight_decay;
    uint64_t seed;
    double val_split;          /* 0: keep the last epoch; else hold out this stratified fraction */
    const char *out_dir;       /* model.safetensors, train_log.csv, metrics.json */
    int eval_every;            /* test BAC every this many epochs (and always at the end); 1 = each */
    eos_loss_spec loss;        /* ce (default), focal, asl, ldam (needs a NORMED head; margins from the data) */
    eos_train_rule rule;       /* none (default), reweight, resample, drw */
    double beta;               /* class-balanced weights' beta (0.9999) */
    int max_steps;             /* > 0: stop each epoch after this many batches (smoke runs) */
    void (*progress)(const eos_train_progress *p, void *user);
    void *user;
} eos_train_config;

eos_train_config eos_train_defaults(void);

/* Train m on the training images listed in indices (n; NULL: all of them) of d, evaluate on d's test split, and
 * write the run's files into cfg->out_dir (which must exist). *final receives the test metrics
 * of the kept model (free with eos_metrics_free). */
eos_status eos_train_run(eos_runtime_t rt, eos_resnet_t m, const eos_dataset *d, const size_t *indices, size_t n,
                         const eos_train_config *cfg, eos_metrics *final);

/* Predictions (argmax of the logits) of m in evaluation mode on the images of split listed in
 * indices (NULL: all), batch at a time; pred (n) receives them, features (n, 64) the
 * embeddings (either may be NULL). */
eos_status eos_predict(eos_resnet_t m, const eos_dataset *d, const eos_split *split, const size_t *indices, size_t n,
                       int batch, int32_t *pred, float *features);

/* The same, calling progress(done, total, user) after every batch (progress may be NULL). */
typedef void (*eos_progress_fn)(size_t done, size_t total, void *user);
eos_status eos_predict_progress(eos_resnet_t m, const eos_dataset *d, const eos_split *split, const size_t *indices,
                                size_t n, int batch, int32_t *pred, float *features, eos_progress_fn progress,
                                void *user);

/* Stratified hold-out: per class, round(fraction * n_c) of the listed images (at least 1 when a
 * class has 2 or more) go to val, chosen by a seeded shuffle. Both outputs malloc'd. */
eos_status eos_split_stratified(const eos_split *s, int classes, const size_t *indices, size_t n, double fraction,
                                uint64_t seed, size_t **train, size_t *ntrain, size_t **val, size_t *nval);

#ifdef __cplusplus
}
#endif
#endif
