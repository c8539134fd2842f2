/* Datasets: the on-disk layouts (image folders, list files, the CIFAR-10 and CIFAR-100 binary
 * releases, IDX files, SVHN's MATLAB files)
 * decoded once into compact uint8 memory, the long-tailed subsets of GUIDE section 5, their
 * re-balancing in pixel space (ROS, SMOTE), and the batch loader (normalisation, pad-4 random
 * crop, horizontal flip, seeded shuffling). */
#ifndef EOS_DATA_H
#define EOS_DATA_H

#include "eos/rng.h"
#include "eos/runtime.h"
#include "eos/status.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Usage:
 *     eos_dataset d;
 *     eos_dataset_load("cifar10", NULL, &d);                    // layout detected from the path
 *     eos_imbalance imb;  eos_imbalance_parse("exp:100", &imb);
 *     size_t *idx, n;  eos_imbalance_select(&d, &imb, 0, &idx, &n, NULL);
 *     eos_loader L;  eos_loader_options o = eos_loader_defaults(&d, 128);
 *     eos_loader_init(&L, &d, &d.train, idx, n, &o);
 *     eos_loader_start_epoch(&L, 0);
 *     float x[128 * 3 * 32 * 32]; int32_t y[128]; size_t b;
 *     while ((b = eos_loader_next(&L, x, y)) > 0) { ... }     // the last batch may be partial
 *     eos_loader_free(&L); free(idx); eos_dataset_free(&d);
 *
 * Layouts (detected in this order):
 *   CIFAR-10 binary  PATH/data_batch_{1..5}.bin + test_batch.bin (or PATH/cifar-10-batches-bin/)
 *   CIFAR-100 binary PATH/train.bin + test.bin (or PATH/cifar-100-binary/): records of a coarse
 *                    label byte, a fine label byte and 3072 pixel bytes; the 100 fine labels
 *                    are the classes (as torchvision's CIFAR100)
 *   SVHN             PATH/train_32x32.mat + test_32x32.mat (the cropped-digit release, read with
 *                    libmatio): X (H x W x C x N uint8), y (N labels 1..10, 10 = digit 0, which
 *                    becomes class 0 as in torchvision's SVHN)
 *   IDX              PATH/train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
 *                    t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz] (MNIST layout)
 *   list files       PATH/train.txt + PATH/test.txt (or val.txt), one image a line:
 *                    `relative/path.jpg label` (ImageNet-LT, Places-LT); paths are relative to
 *                    PATH, labels 0..C-1 with C = the largest training label + 1
 *   image folders    PATH/train/<class>/ and PATH/test/<class>/ holding .png, .jpg, .jpeg or .bmp
 *                    files; class index = sorted folder name order, images in sorted file
 *                    name order
 * Images of list files and folders must all have one size unless resize_h x resize_w is given:
 * then every image (of any layout) is resized to it at load, as torchvision's Resize((h, w)):
 * stb_image_resize, box (area) filter along an axis that shrinks, triangle (bilinear) along one
 * that grows, linear colour space, edges clamped. */

#define EOS_MAX_CHANNELS 4

typedef enum {
    EOS_LAYOUT_IMAGE_FOLDER = 1,
    EOS_LAYOUT_CIFAR10_BIN,
    EOS_LAYOUT_IDX,
    EOS_LAYOUT_CIFAR100_BIN,
    EOS_LAYOUT_SVHN_MAT,
    EOS_LAYOUT_LIST_FILE
} eos_data_layout;

typedef struct eos_split {
    size_t n;          /* images */
    uint8_t *pixels;   /* (n, C, H, W) */
    int32_t *labels;   /* (n), 0 .. classes-1 */
} eos_split;

typedef struct eos_dataset {
    eos_data_layout layout;
    int classes;
    char **class_names;       /* (classes) whole names, each malloc'd; freed by eos_dataset_free */
    int channels, height, width;
    eos_split train, test;
    size_t skipped;           /* unreadable images skipped under skip_bad */
} eos_dataset;

typedef struct eos_dataset_options {
    int skip_bad;   /* skip unreadable or corrupt images (counted in skipped) instead of failing */
    int threads;    /* decoding threads for image folders; 0 = one per core */
    int resize_h, resize_w;  /* both > 0: resize every image to resize_h x resize_w; 0: keep */
} eos_dataset_options;

/* "HxW" (e.g. "32x32", 1..4096 each) into *h, *w for eos_dataset_options. */
eos_status eos_resize_parse(const char *text, int *h, int *w);

/* Load both splits. Every bad input is an error that names the file and what was expected. */
eos_status eos_dataset_load(const char *path, const eos_dataset_options *opt, eos_dataset *out);
void eos_dataset_free(eos_dataset *d);
const char *eos_data_layout_str(eos_data_layout layout);

/* Parsers over memory, used by the loaders and the fuzz targets; name is used in messages.
 * CIFAR-10: records of 1 label byte + 3072 pixel bytes (1024 R, 1024 G, 1024 B). */
eos_status eos_cifar10_parse(const uint8_t *buf, size_t size, const char *name, eos_split *out);
/* IDX: big-endian magic 0x00000803 (uint8 images, n x rows x cols) or 0x00000801 (labels). */
eos_status eos_idx_parse_images(const uint8_t *buf, size_t size, const char *name, eos_split *out,
                                int *height, int *width);
eos_status eos_idx_parse_labels(const uint8_t *buf, size_t size, const char *name, int32_t **labels,
                                size_t *n);
/* The same from a gzip file's bytes: the header is inflated first and checked, then exactly
 * the size it declares; more data after that, or less, is an error (no gzip bombs). A buffer
 * that is not gzip is parsed as it is. */
eos_status eos_idx_parse_images_gz(const uint8_t *gz, size_t size, const char *name, eos_split *out,
                                   int *height, int *width);
eos_status eos_idx_parse_labels_gz(const uint8_t *gz, size_t size, const char *name, int32_t **labels,
                                   size_t *n);
/* CIFAR-100: records of 1 coarse label byte (0..19), 1 fine label byte (0..99) and 3072 pixel
 * bytes; labels are the fine ones. */
eos_status eos_cifar100_parse(const uint8_t *buf, size_t size, const char *name, eos_split *out);
/* SVHN from a MATLAB file (v4, v5 or v7.3 as libmatio reads them): variables X, uint8 of
 * H x W x C x N (C 1..4, H and W 1..4096), and y, N numeric labels 1..10 (any numeric class
 * holding whole numbers; 10 becomes 0). *height and *width get the image size. */
eos_status eos_svhn_load_mat(const char *path, eos_split *out, int *channels, int *height, int *width);
void eos_split_free(eos_split *s);

/* A list file (ImageNet-LT / Places-LT): one `path label` a line; the label is the last
 * whitespace-separated field, the path everything before it (so it may hold spaces); blank
 * lines are skipped, a \r before the line end ignored. Labels are whole numbers 0..999999. */
typedef struct eos_image_list {
    size_t n;
    char **paths;     /* (n) as written in the file */
    int32_t *labels;  /* (n) */
    size_t *lines;    /* (n) 1-based line numbers, for messages */
} eos_image_list;
eos_status eos_image_list_parse(const char *text, size_t size, const char *name, eos_image_list *out);
void eos_image_list_free(eos_image_list *l);

/* ---- long-tailed subsets (GUIDE section 5, after LDAM-DRW) ---------------------------- */

typedef enum { EOS_IMBALANCE_NONE = 0, EOS_IMBALANCE_EXP, EOS_IMBALANCE_STEP } eos_imbalance_profile;

typedef struct eos_imbalance {
    eos_imbalance_profile profile;
    double ratio;  /* n_max / n_min, >= 1 */
} eos_imbalance;

/* "none", "exp:R" or "step:R" with R >= 1. */
eos_status eos_imbalance_parse(const char *text, eos_imbalance *out);

/* Per-class counts. n_max = the largest available count; class c keeps
 *   exp:  floor(n_max * (1/R)^(c / (C-1)))
 *   step: n_max for c < C/2, floor(n_max / R) after
 * never more than it has. */
void eos_imbalance_counts(const eos_imbalance *imb, const size_t *available, int classes, size_t *counts);

/* The kept training images: for each class, its positions are shuffled (Fisher-Yates with
 * PCG32 seeded (seed, stream 0x4c54), classes in order) and the first counts[c] are kept.
 * *indices (malloc'd) lists them in ascending order; counts (optional, per class) is filled. */
eos_status eos_imbalance_select(const eos_dataset *d, const eos_imbalance *imb, uint64_t seed, size_t **indices,
                                size_t *n, size_t *counts);

/* ---- pixel-space re-balancing (the paper's "pre-processing" baselines) ------------------ */

/* Every class of the training list is brought to the largest class's count (imbalanced-learn's
 * sampling_strategy='auto') before phase 1, so the network trains on a balanced image set:
 *   EOS_PIXEL_ROS    random over-sampling: uniformly drawn images of the class, repeated
 *   EOS_PIXEL_SMOTE  SMOTE on flattened pixels: base drawn uniformly from the class, one of its
 *                    k nearest same-class images (Euclidean over the C*H*W pixel values) drawn
 *                    uniformly, r ~ U[0, 1); new image = base + r (neighbour - base), rounded
 *                    to the nearest uint8 (imbalanced-learn's astype on uint8 arrays would
 *                    truncate and darken by half a level on average)
 *   EOS_PIXEL_NONE   the list unchanged
 * Neighbours: the device's kNN (eos_knn, float) proposes max(2k, k + 8) candidates per image
 * (at most 64 and the class's other images), re-ranked on the host by exact integer distances
 * (ties: the earlier image in the list), so the k chosen are the exact k nearest on every
 * device unless more than the spare candidates lie within float rounding of the k-th
 * distance (a dozen near-duplicates). A class of a single image has no
 * neighbour: SMOTE repeats it (report.fallback). Draws: PCG32 seeded (seed, stream 0x504958),
 * classes in order, per new image: ROS the image; SMOTE base, neighbour, r. */
typedef enum { EOS_PIXEL_NONE = 0, EOS_PIXEL_ROS, EOS_PIXEL_SMOTE } eos_pixel_method;

#define EOS_PIXEL_SMOTE_K 5  /* imbalanced-learn's SMOTE k_neighbors */

/* "none", "pixel-ros" or "pixel-smote" (case-insensitive). */
eos_status eos_pixel_method_parse(const char *name, eos_pixel_method *out);
const char *eos_pixel_method_name(eos_pixel_method m);

/* What eos_dataset_resample_pixels did (arrays malloc'd, released by eos_pixel_report_free;
 * all zero after a failure). */
typedef struct eos_pixel_report {
    int classes;
    size_t *before, *after;  /* (classes) images per class in the list given and the list made */
    int *fallback;           /* (classes) SMOTE: 1 where the class had one image, repeated */
    size_t added;            /* entries appended to the list */
    size_t made;             /* new images among them (SMOTE's interpolations) */
    size_t *base, *other;    /* (added) positions in d->train of each entry's base image and of the
                              * neighbour it moved toward (ROS and fallback: other == base) */
    float *gap;              /* (added) r (ROS and fallback: 0) */
} eos_pixel_report;
void eos_pixel_report_free(eos_pixel_report *report);

/* Balance the training images idx (n positions in d->train; NULL: all of them) into out, a
 * dataset of its own (eos_dataset_free): d's classes, names, shape and test split, and a
 * training split holding the n images of idx, in that order, followed by the `made` new ones.
 * *out_idx (malloc'd, *out_n entries, positions in out->train) lists the balanced set:
 * 0..n-1, then one entry per added image (ROS and fallback: the repeated image's position, so
 * copies cost no memory). k: neighbours for SMOTE, 1..EOS_KNN_MAX_K (EOS_PIXEL_SMOTE_K);
 * a class of m images uses min(k, m - 1). rt may be NULL for ROS and none. report may be NULL.
 * Errors (nothing is left allocated): EOS_ERR_INVALID_ARG for a position past the split, a
 * label outside 0..classes-1, a class of d without images in the list, k out of range, no
 * device for SMOTE; EOS_ERR_OUT_OF_MEMORY; a failing kNN's own error. */
eos_status eos_dataset_resample_pixels(eos_runtime_t rt, const eos_dataset *d, const size_t *idx, size_t n,
                                       eos_pixel_method method, int k, uint64_t seed, eos_dataset *out,
                                       size_t **out_idx, size_t *out_n, eos_pixel_report *report);

/* ---- validation hold-out (host/data/split.c) ------------------------------------------ */

/* Stratified hold-out: per class, round(fraction * n_c) of the listed images (at least 1 when a
 * class has 2 or more) go to val, chosen by a seeded shuffle. Both outputs malloc'd. */
eos_status eos_split_stratified(const eos_split *s, int classes, const size_t *indices, size_t n, double fraction,
                                uint64_t seed, size_t **train, size_t *ntrain, size_t **val, size_t *nval);

/* ---- batches -------------------------------------------------------------------------- */

typedef struct eos_loader_options {
    size_t batch;
    int shuffle;       /* a new seeded order every epoch */
    int augment;       /* pad + random crop + random horizontal flip */
    int pad;           /* zero padding for the crop (4) */
    int drop_last;     /* drop the last partial batch instead of returning it */
    uint64_t seed;
    float mean[EOS_MAX_CHANNELS], std[EOS_MAX_CHANNELS];  /* on the [0, 1] scale */
    /* class-balanced resampling: when set (one weight per class), every epoch draws n images
     * with replacement, image i with probability proportional to class_weights[label_i],
     * instead of a permutation. Read at eos_loader_init. */
    const float *class_weights;
} eos_loader_options;

/* Defaults: shuffle and augment off, pad 4, keep the last batch, seed 0, and the
 * normalisation of eos_dataset_normalisation. */
eos_loader_options eos_loader_defaults(const eos_dataset *d, size_t batch);

/* Per-channel mean and std: GUIDE section 5's CIFAR-10 constants for 3 x 32 x 32 images in 10
 * classes (SVHN excepted), otherwise measured on the training split. */
void eos_dataset_normalisation(const eos_dataset *d, float *mean, float *std);

typedef struct eos_loader {
    const eos_split *split;
    int channels, height, width;
    size_t *order;     /* (n) the images of this epoch, in order */
    size_t *indices;   /* (n) the images the loader draws from */
    size_t n, pos;
    double *cum;       /* (n) cumulative sampling weights when resampling, else NULL */
    eos_loader_options opt;
    eos_rng rng;       /* this epoch's crops and flips */
} eos_loader;

eos_status eos_loader_init(eos_loader *L, const eos_dataset *d, const eos_split *split, const size_t *indices,
                           size_t n, const eos_loader_options *opt);
/* Start epoch e: the order and every crop and flip are drawn from PCG32 seeded (seed, e), so an
 * epoch is the same whenever it is replayed. Draws: the Fisher-Yates shuffle (or, when
 * resampling, n uniform draws located in the cumulative weights) first, then per image in batch
 * order: x offset, y offset (each below 2 * pad + 1), flip (below 2). */
void eos_loader_start_epoch(eos_loader *L, unsigned epoch);
/* The next batch into x (B, C, H, W) and y (B); returns B, 0 when the epoch is over. */
size_t eos_loader_next(eos_loader *L, float *x, int32_t *y);
/* Pass over the next batches of this epoch without making them (the random draws are made,
 * so the batches after are exactly those of an uninterrupted epoch); returns how many. */
size_t eos_loader_skip(eos_loader *L, size_t batches);
size_t eos_loader_batches(const eos_loader *L);
void eos_loader_free(eos_loader *L);

#ifdef __cplusplus
}
#endif
#endif /* EOS_DATA_H */
