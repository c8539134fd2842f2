/* Private interface between the dataset files (data.c, data_folder.c, data_binary.c, data_mat.c),
 * and the loader's per-rank shard for training (host/train/train.c). */
#ifndef EOS_DATA_INTERNAL_H
#define EOS_DATA_INTERNAL_H

#include "eos/data.h"

int eos__is_dir(const char *path);
int eos__is_file(const char *path);
eos_status eos__load_folders(const char *root, const eos_dataset_options *opt, eos_dataset *out);
eos_status eos__load_cifar10(const char *dir, eos_dataset *out);
eos_status eos__load_idx(const char *dir, eos_dataset *out);
eos_status eos__load_cifar100(const char *dir, eos_dataset *out);
eos_status eos__load_svhn(const char *dir, eos_dataset *out);
eos_status eos__load_list(const char *root, const eos_dataset_options *opt, eos_dataset *out);
/* Resize every (C, h, w) image of s to (C, H, W) (the filters of eos_dataset_options' resize). */
eos_status eos__resize_split(eos_split *s, int C, int h, int w, int H, int W);
/* EOS_ERR_FORMAT naming what (the files), the classes without training images, then note. */
eos_status eos__check_classes(const eos_dataset *d, const char *what, const char *note);

/* eos_loader_next for rank of ranks: the global batch's size B is returned and the loader moves
 * past all of it (the same generator draws), but only rows [*lo, *lo + *n) = [rank B / ranks,
 * (rank + 1) B / ranks) are loaded, into x (n, C, H, W) and y (n) from their start. */
size_t eos__loader_next_shard(eos_loader *L, float *x, int32_t *y, int rank, int ranks, size_t *lo, size_t *n);

#endif
