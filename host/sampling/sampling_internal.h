/* Private helpers of the sampling layer (host/sampling/): the device paths of the neighbour
 * search and of the new rows, which train/finetune.c reuses for the head's batches, and the
 * hooks the tests of knn and oversample set. Nothing here is part of the public API. */
#ifndef EOS_SAMPLING_INTERNAL_H
#define EOS_SAMPLING_INTERNAL_H

#include "eos/eos.h"

#include <stddef.h>
#include <stdint.h>

/* eos_knn over device tensors Q (nq, dim) and R (nr, dim) (the same tensor may be both) */
eos_status eos__knn_device(eos_runtime_t rt, const eos_tensor *Q, size_t nq, const eos_tensor *R, size_t nr, int dim,
                           int k, int exclude_self, int32_t *indices, float *dist2);

/* out (s, dim) = X's rows idx (s): cl/oversample.cl's gather, on the device (the head's batches
 * and a class's rows for its neighbour search when the embeddings live there) */
eos_status eos__gather_rows(eos_runtime_t rt, const eos_tensor *X, size_t dim, const eos_tensor *idx, size_t s,
                            eos_tensor *O);

/* The new rows out (s, dim) = x[base] + gap (x[other] - x[base]), a copy of x[base] where
 * other < 0, from x (n, dim): cl/oversample.cl on rt's device, or the host's loop when rt is NULL
 * (the reference, host/sampling/oversample.c). The same bits either way. */
eos_status eos__oversample_rows(eos_runtime_t rt, const float *x, size_t n, size_t dim, const int32_t *base,
                                const int32_t *other, const float *gap, size_t s, float *out);

/* kNN tile sizes (queries, references); 0 restores the defaults. For tests. */
void eos__knn_set_tiles(size_t tile_q, size_t tile_r);

/* Fault injection, for the tests of the error paths: after n more successful calls, the next
 * eos_knn fails with EOS_ERR_INTERNAL (once; then the hook is off again). n < 0 turns it off,
 * which is the state at start: nothing outside the tests calls this. */
void eos__knn_fail_after(long n);

/* Test hook (host/sampling/oversample.c): eos or eos-ref from a given neighbour list nbr (n, k; nearest
 * first, the row itself left out) and given draws, one triple per new row in output order:
 * bind[s] = the base's place among its class's bases (rows with an enemy, in row order),
 * pos[s] = the enemy's position 0..k-1 in the base's list, gap[s] = r. So a numpy
 * transcription fed the same (tests/golden/make_eos_golden.py) gives the same rows. */
eos_status eos__resample_scripted(const eos_embeddings *in, int classes, eos_resample_method method, int k,
                                  const int32_t *nbr, const uint32_t *bind, const uint32_t *pos, const float *gap,
                                  size_t ndraws, eos_embeddings *out, eos_resample_report *rep);

#endif /* EOS_SAMPLING_INTERNAL_H */
