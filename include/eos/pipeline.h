/* The paper's whole protocol as one library call: phase 1 (ResNet-s with cross-entropy on the
 * exp:100 long-tailed training set, plus any cost-sensitive baselines), phase 2 (embeddings of
 * the CE model, then each re-balancing method) and phase 3 (a linear head trained on each
 * balanced set), with the files `eos pipeline` writes. The library never prints: a progress
 * callback receives every step, so a program draws its own display (the CLI draws its bars). */
#ifndef EOS_PIPELINE_H
#define EOS_PIPELINE_H

#include "eos/finetune.h"
#include "eos/metrics.h"
#include "eos/runtime.h"
#include "eos/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Usage:
 *     eos_pipeline_config cfg = eos_pipeline_defaults();      // the paper profile
 *     eos_pipeline_profile("quick", &cfg);                     // resnet8, 10 epochs
 *     cfg.data = "data/cifar10-jpg";  cfg.out_dir = "runs/quick";  cfg.methods = "eos,ros";
 *     eos_pipeline_result res;
 *     if (eos_pipeline_run(rt, &cfg, NULL, NULL, &res) != EOS_OK)
 *         fprintf(stderr, "%s: %s\n", res.failed, eos_last_error_message());
 *     for (int r = 0; r < res.nrows; r++) printf("%s %.4f\n", res.rows[r].name, res.rows[r].metrics.bac);
 *     eos_pipeline_result_free(&res);
 *
 * Files in out_dir: phase1/ (the CE model: model.safetensors, train_log.csv, metrics.json,
 * checkpoint.safetensors), phase1-<variant>/ per baseline, embeddings/ (train_emb.csv,
 * test_emb.csv, val_emb.csv with val_split, embed_metrics.json, projection.csv), <method>/
 * (head.safetensors, metrics.json with the class counts before and after), pixel-ros/ and
 * pixel-smote/ (as phase1/; metrics.json adds images_before and images_after), summary.json
 * (every row's wall time and its parts) and report.html. Each file is written whole or not at all.
 */

enum { EOS_PIPELINE_MAX_METHODS = 16, EOS_PIPELINE_MAX_OUTPUTS = 2 * EOS_PIPELINE_MAX_METHODS + 4 };

typedef struct eos_pipeline_config {
    const char *data;     /* the dataset (eos_dataset_load: any layout it detects) */
    const char *out_dir;  /* the results folder, created if missing */
    const char *profile;  /* the profile's name, kept in summary.json ("quick", "paper") */
    const char *arch;     /* resnet8, resnet20, resnet32, ... */
    int epochs;           /* phase 1 (eos_lr_schedule scales the paper's schedule to them) */
    int batch;            /* phase 1 (default 128) */
    int max_steps;        /* > 0: at most this many batches per epoch (smoke runs) */
    int eval_every;       /* test BAC every this many epochs for the report's curve; 0: epochs/20, at least 1 */
    /* comma-separated, of three kinds: re-balancing methods of the CE model's embeddings (any
     * name eos_resample_parse takes: eos, ros, smote, ...), phase-1 baselines LOSS[-RULE]
     * (eos_train_variant_parse: focal, ldam-drw, ...), and pixel-space re-balancing before
     * phase 1 (pixel-ros, pixel-smote: eos_dataset_resample_pixels with k = 5 balances the
     * training images, hold-out excluded, and a fresh CE network of the same architecture, seed
     * and schedule trains on them, validated on the same hold-out). The CE model is always trained. */
    const char *methods;
    uint64_t seed;        /* of everything */
    /* 0: phase 1 keeps its last epoch and phase 3 each head's last epoch. Else this stratified
     * fraction of the long-tailed training images is held out: phase 1 keeps the epoch with the
     * best validation macro-F1, phase 2 balances the rest, phase 3 keeps each head's best epoch
     * on their embeddings. The test set never chooses. */
    double val_split;
    eos_head_mode head;   /* phase 3 starts from a fresh head (default) or the phase-1 head (warm) */
    int overwrite;        /* 0: refuse an out_dir that already holds results of a run */
    int resize_h, resize_w;  /* > 0: every image resized to resize_h x resize_w at load (eos_dataset_options) */
} eos_pipeline_config;

/* The paper profile: resnet32, 200 epochs, batch 128, eos,ros,smote,borderline,adasyn, seed 0,
 * fresh heads, no hold-out. data and out_dir are NULL: set them. */
eos_pipeline_config eos_pipeline_defaults(void);
/* Set arch, epochs and profile from a named profile: "paper" (resnet32, 200 epochs) or "quick"
 * (resnet8, 10 epochs: minutes on a 2-core CPU, and the schedule still spends 8 of them at
 * lr 0.1). EOS_ERR_INVALID_ARG for another name. */
eos_status eos_pipeline_profile(const char *name, eos_pipeline_config *cfg);

/* Check a configuration without touching any file or device: the architecture, the methods
 * (each known, none twice, at most EOS_PIPELINE_MAX_METHODS), the numbers. The messages name
 * the field ("methods: unknown method 'x': ..."). */
eos_status eos_pipeline_check(const eos_pipeline_config *cfg);

/* The names under out_dir that a run writes (files and folders), for a caller's own checks. */
typedef struct eos_pipeline_outputs {
    int n;
    char name[EOS_PIPELINE_MAX_OUTPUTS][48];
} eos_pipeline_outputs;
eos_status eos_pipeline_list_outputs(const eos_pipeline_config *cfg, eos_pipeline_outputs *out);

/* One row of the results table. */
typedef struct eos_pipeline_row {
    char name[40];        /* "ce", "ldam-drw", "ce + eos" */
    char dir[48];         /* its folder under out_dir */
    int phase;            /* 1: a phase-1 network (pixel methods too); 3: the CE backbone with a re-balanced head */
    int pixel;            /* 1: a pixel method's network (phase 1 on re-balanced images) */
    eos_metrics metrics;  /* on the test set */
    /* Wall time of the row's method, everything it needs: seconds = seconds_phase1 +
     * seconds_embed + seconds_resample + seconds_head. Phase-1 networks: their training (pixel
     * methods: plus the pixel re-balancing before it). Phase-3 rows: the CE model's training and
     * the embedding pass (both shared by every phase-3 row and counted in each), then the row's
     * own re-balancing and head (with its files). */
    double seconds;
    double seconds_phase1, seconds_embed, seconds_resample, seconds_head;
    /* phase 3 and pixel rows only (else 0 / NULL): the training rows (pixel: images) per class
     * before and after re-balancing (classes), their totals, and the head's last-epoch loss
     * (phase 3) */
    size_t *counts_before, *counts_after;
    size_t rows_before, rows_after;
    float head_loss;
} eos_pipeline_row;

typedef struct eos_pipeline_result {
    int classes;
    char **class_names;   /* (classes) */
    size_t train_images;  /* the long-tailed subset, hold-out excluded */
    size_t val_images, test_images;
    int nrows;
    eos_pipeline_row *rows;  /* phase-1 networks first (CE, then the baselines), then CE + each method */
    double seconds;          /* the whole run */
    const char *failed;      /* after a failure: the step that failed ("phase 1", "re-balancing"), else "" */
} eos_pipeline_result;
void eos_pipeline_result_free(eos_pipeline_result *r);

typedef enum {
    EOS_PIPELINE_START = 0,   /* the dataset is loaded and the subset chosen (result: classes, counts) */
    EOS_PIPELINE_PHASE1,      /* a phase-1 network starts: method (the variant or pixel method), rule,
                               * index of count; a pixel method's: done images re-balanced into total */
    EOS_PIPELINE_TRAIN,       /* its training progress: train (eos_train_progress; epoch_done once per epoch) */
    EOS_PIPELINE_PHASE2,      /* phase 2 starts */
    EOS_PIPELINE_EMBED,       /* an embedding pass over split: done images of total (0 at its start) */
    EOS_PIPELINE_EMBEDDINGS,  /* the embeddings are written in path (a folder) */
    EOS_PIPELINE_GAP,         /* the per-class embedding gap: test_gap, train_gap (classes) */
    EOS_PIPELINE_METHOD,      /* one re-balancing method starts (phases 2 and 3): method, index of count,
                               * total (the rows it balances) */
    EOS_PIPELINE_ROW,         /* a row of the table is done: row (phase 1 or 3) */
    EOS_PIPELINE_RESULTS,     /* every row is done; summary.json is next */
    EOS_PIPELINE_SUMMARY,     /* path: summary.json is written */
    EOS_PIPELINE_REPORT       /* path: report.html is written (the last event) */
} eos_pipeline_event;

typedef enum { EOS_PIPELINE_SPLIT_TRAIN = 0, EOS_PIPELINE_SPLIT_VAL, EOS_PIPELINE_SPLIT_TEST } eos_pipeline_split;

typedef struct eos_pipeline_progress {
    eos_pipeline_event event;
    int phase;                        /* 1, 2 or 3 where the event belongs to one, else 0 */
    const char *method;               /* PHASE1, TRAIN: the variant; METHOD: the method; ROW: the row's name */
    const char *rule;                 /* PHASE1, TRAIN: the variant's rule ("none", "drw", ...) */
    int index, count;                 /* PHASE1, TRAIN: variant index of count; METHOD: method index of count */
    const eos_train_progress *train;  /* TRAIN */
    eos_pipeline_split split;         /* EMBED */
    size_t done, total;               /* EMBED: images; METHOD: total = rows before re-balancing */
    const double *test_gap, *train_gap; /* GAP: (classes) */
    const eos_pipeline_row *row;      /* ROW */
    const char *path;                 /* EMBEDDINGS, SUMMARY, REPORT */
    const eos_pipeline_result *result;  /* every event: the run so far */
} eos_pipeline_progress;
typedef void (*eos_pipeline_progress_fn)(const eos_pipeline_progress *p, void *user);

/* Run the pipeline on rt (NULL: the default device). progress may be NULL. *out receives the
 * results (free with eos_pipeline_result_free, after a failure too: the rows done so far, and
 * out->failed names the step). Besides the library's usual errors: EOS_ERR_INVALID_ARG for a
 * bad configuration (eos_pipeline_check), an out_dir holding results without overwrite, or a
 * dataset whose exp:100 subset empties a class. */
eos_status eos_pipeline_run(eos_runtime_t rt, const eos_pipeline_config *cfg, eos_pipeline_progress_fn progress,
                            void *user, eos_pipeline_result *out);

#ifdef __cplusplus
}
#endif
#endif /* EOS_PIPELINE_H */
