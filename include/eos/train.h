/* Phase 1: train ResNet-s end to end (GUIDE section 5), and evaluate a model on a split.
 * The schedule is the paper's, scaled when the run is shorter than 200 epochs: SGD lr 0.1,
 * momentum 0.9, weight decay 2e-4, linear warm-up over the first 5/200 of the epochs, lr x0.01
 * after round(0.8 E) epochs and x0.0001 after round(0.9 E) (160 and 180 of 200). A run checkpoints every epoch and when asked to stop,
 * and resumes from its checkpoint to the same final weights as an uninterrupted run. */
#ifndef EOS_TRAIN_H
#define EOS_TRAIN_H

#include "eos/data.h"
#include "eos/layers.h"
#include "eos/metrics.h"
#include "eos/resnet.h"

#include <signal.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Usage:
 *     eos_train_config cfg = eos_train_defaults();        // the paper's schedule
 *     cfg.epochs = 20; cfg.out_dir = "runs/ce";
 *     eos_metrics test;
 *     eos_train_run(rt, model, &dataset, indices, n, &cfg, &test);
 *
 * Interruption: point cfg.stop at a flag a signal handler sets; the run saves its whole state
 * (weights, BN statistics, SGD momentum, epoch and step, the loader's position, the log) in
 * out_dir/checkpoint.safetensors at the next safe point and returns EOS_ERR_INTERRUPTED. The
 * same call with cfg.resume = 1 continues where it stopped, mid-epoch included, and ends with
 * the weights an uninterrupted run ends with (same device, bit for bit).
 */

/* The learning-rate schedule (eos_lr_schedule, eos_lr_milestone): eos/layers.h, with SGD. */

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
 *   drw       deferred re-weighting: no weights until the first decay (round(0.8 E), 160 of 200), then the weights */
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
    /* Or an explicit hold-out (val_split must then be 0): val_n positions in d->train, none of
     * them in the training list. The pipeline's pixel methods train on a re-balanced set and
     * validate on the images its own split held out, which a split of their list cannot give. */
    const size_t *val_indices;
    size_t val_n;
    const char *out_dir;       /* model.safetensors, train_log.csv, metrics.json */
    int eval_every;            /* test BAC every this many epochs (and always at the end); 1 = each */
    eos_loss_spec loss;        /* ce (default), focal, asl, ldam (needs a NORMED head; margins from the data) */
    eos_train_rule rule;       /* none (default), reweight, resample, drw */
    double beta;               /* class-balanced weights' beta (0.9999) */
    int max_steps;             /* > 0: stop each epoch after this many batches (smoke runs) */
    void (*progress)(const eos_train_progress *p, void *user);
    void *user;
    /* Reliability. The checkpoint (EOS_TRAIN_CHECKPOINT in out_dir) is replaced atomically at
     * the end of every epoch; a run that is not resumed deletes an older one first. */
    volatile sig_atomic_t *stop; /* non-NULL: once *stop != 0, checkpoint after the current step (or
                                  * evaluation batch) and return EOS_ERR_INTERRUPTED */
    int resume;                  /* 1: continue from out_dir's checkpoint; every setting that shapes
                                  * the weights (and the training images) must be the checkpoint's,
                                  * except lr, which may change (a warning says so) */
    const char *run_args;        /* free text kept in the checkpoint (the CLI keeps its command line) */
    /* Data parallel (a program started by mpirun, in a build with EOS_MPI): each rank trains rows
     * [r B/N, (r+1) B/N) of every global batch and the gradients are averaged before the step. */
    int sync_bn;                 /* 1: batch norm's statistics over the global batch (N ranks x B/N
                                  * = one process with batch B); 0: each rank's own, as PyTorch DDP */
} eos_train_config;

#define EOS_TRAIN_CHECKPOINT "checkpoint.safetensors"

eos_train_config eos_train_defaults(void);

/* Train m on the training images listed in indices (n; NULL: all of them) of d, evaluate on d's test split, and
 * write the run's files into cfg->out_dir (which must exist). *final receives the test metrics
 * of the kept model (free with eos_metrics_free). */
eos_status eos_train_run(eos_runtime_t rt, eos_resnet_t m, const eos_dataset *d, const size_t *indices, size_t n,
                         const eos_train_config *cfg, eos_metrics *final);
/* Errors that eos_train_run adds to the library's usual ones:
 *   EOS_ERR_INTERRUPTED  *cfg->stop was set; the state is in the checkpoint
 *   EOS_ERR_NUMERIC      NaN or Inf in the loss (checked every step) or in the weights, BN
 *                        statistics or momentum (checked at every checkpoint); the message names
 *                        the epoch and step, the last good checkpoint is kept (and named as
 *                        such only when it reads back whole: checksums, finite values)
 *   EOS_ERR_FORMAT       (resume) the checkpoint is damaged: its checksums do not match; an
 *                        EOS_ERR_NUMERIC when it holds NaN or Inf (eos_safetensors_read)
 *   EOS_ERR_OUT_OF_MEMORY  the device could not hold the batch: the message gives the memory
 *                        asked for, the device's, and a --batch that would fit */

/* What a checkpoint holds besides the tensors, read without a device (the CLI's --resume). */
typedef struct eos_train_checkpoint_info {
    int epoch, epochs;  /* the epoch in progress, 0-based; epoch == epochs once all are done */
    size_t step, steps; /* its batches done, and per epoch */
    double lr;          /* the base learning rate */
    char *run_args;     /* cfg->run_args of the run (malloc'd; "" when none) */
} eos_train_checkpoint_info;
eos_status eos_train_checkpoint_read(const char *path, eos_train_checkpoint_info *info);
/* The same over a file's bytes (name is used in messages; the fuzz target's entry point). */
eos_status eos_train_checkpoint_parse(const uint8_t *buf, size_t size, const char *name, eos_train_checkpoint_info *info);
void eos_train_checkpoint_info_free(eos_train_checkpoint_info *info);

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

/* The embeddings only, kept on the device (issue 20: phase 2 without a round trip): *out, a new
 * tensor (n, 64) of m's runtime the caller frees with eos_tensor_free, receives the features of
 * the listed images (indices NULL: all of split), each batch copied there on the device from the
 * pooling's output. The same floats, bit for bit, that eos_predict writes to features. No
 * logits or features come to the host; the images still go up. n must be at least 1.
 * Usage:
 *     eos_tensor emb;
 *     eos_embed_device(m, &d, &d.train, NULL, 0, 256, &emb, NULL, NULL);
 *     eos_resample_device(rt, &emb, d.train.labels, d.classes, EOS_RESAMPLE_EOS, NULL, seed, ...);
 *     eos_tensor_free(&emb); */
eos_status eos_embed_device(eos_resnet_t m, const eos_dataset *d, const eos_split *split, const size_t *indices,
                            size_t n, int batch, eos_tensor *out, eos_progress_fn progress, void *user);

/* The stratified hold-out of the validation images (eos_split_stratified): eos/data.h. */

#ifdef __cplusplus
}
#endif
#endif
