/* Private to host/train/: what the training loop (train.c) shares with its checkpoints
 * (train_checkpoint.c), its evaluations (predict.c) and its out-of-memory message (oom_hint.c).
 * Nothing outside host/train/ includes it. */
#ifndef EOS_TRAIN_INTERNAL_H
#define EOS_TRAIN_INTERNAL_H

#include "internal.h"

#include <signal.h>

/* ---- predict.c -------------------------------------------------------------------------- */

/* the index of the largest of v[0..n) (the first of equals) */
int32_t eos__argmax(const float *v, int n);
/* Whether any rank was asked to stop (data parallel: every rank stops at the same point). */
int eos__stop_agreed(volatile sig_atomic_t *stop, int ranks);
/* The metrics of m on split s's images idx (n; NULL: all of s), stopping between batches with
 * EOS_ERR_INTERRUPTED once *stop is set. */
eos_status eos__evaluate(eos_resnet_t m, const eos_dataset *d, const eos_split *s, const size_t *idx, size_t n,
                         int batch, eos_metrics *out, volatile sig_atomic_t *stop);

/* ---- train_checkpoint.c: DIR/checkpoint.safetensors and the log ---------------------------- */

#define EOS__CKPT_FORMAT "eos-cl training checkpoint 1"
#define EOS__LOG_HEADER "epoch,lr,train_loss,train_acc,val_fm,test_acc,test_bac,seconds,images_per_second\n"

/* Where a run stands: what a checkpoint carries besides the weights. */
typedef struct {
    int epoch;            /* the epoch in progress, 0-based */
    size_t step;          /* its batches done */
    double loss_sum;      /* over its images so far */
    size_t seen, correct;
    double best_fm;       /* best validation macro-F1 so far (-1: none) */
    double seconds;       /* training time of the earlier sessions */
    eos_rng rng;          /* the loader's generator after those batches */
} eos__run_state;

/* The training log in memory (train_log.csv, also carried by the checkpoint). */
typedef struct {
    char *s;
    size_t n, cap;
} eos__text;
eos_status eos__text_put(eos__text *t, const char *fmt, ...) EOS_PRINTF(2, 3);

/* What identifies the run: its checkpoint path and the words compared on resume. */
typedef struct {
    const char *path, *config, *data, *args;
    float lr;
    int epochs;
    size_t steps;
    eos_runtime_t rt;  /* its convolution choices go into the checkpoint (eos.conv) */
} eos__ckpt_ctx;

/* Everything that shapes the weights except the data and the learning rate, as key=value words. */
void eos__train_config_string(char *buf, size_t n, eos_resnet_t m, const eos_train_config *c);
/* The training and validation images: counts, shape and a hash of their labels and pixels. */
void eos__train_data_string(char *buf, size_t n, const eos_dataset *d, const size_t *tr, size_t ntr, const size_t *va,
                            size_t nva);
/* The state on the host, refused when anything in it is NaN or Inf. */
eos_status eos__train_snapshot(eos_resnet_t m, const eos__run_state *rs, size_t steps, eos_named_tensor **t, size_t *nt);
eos_status eos__train_checkpoint_write(const eos__ckpt_ctx *c, const eos_named_tensor *t, size_t nt,
                                       const eos__run_state *rs, double seconds, const eos__text *log);
/* the log to path, atomically */
eos_status eos__train_log_write(const char *path, const eos__text *t);
/* Read the checkpoint of c's run into m and *rs (and the log so far into *log). */
eos_status eos__train_resume(eos_resnet_t m, const eos__ckpt_ctx *c, eos__run_state *rs, eos__text *log);
/* What a diverged run says about its checkpoint (ck_epoch < 0: none written yet). */
void eos__train_kept_state(char *buf, size_t n, int ck_epoch, size_t ck_step, const char *ckpt_path);
/* Temporary files that a killed process left behind in dir (NAME.tmp.PID of a PID that is gone). */
void eos__train_remove_stale_temps(const char *dir);

/* ---- oom_hint.c --------------------------------------------------------------------------- */

/* st unchanged unless it is an out-of-memory failure; then the same failure with what the batch
 * needs and what would fit (see oom_hint.c). */
eos_status eos__train_oom_hint(eos_status st, eos_resnet_t m, const eos_dataset *d, int batch, size_t images,
                               size_t train_images);

#endif /* EOS_TRAIN_INTERNAL_H */
