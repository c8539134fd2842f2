/* k-nearest neighbours on the device (Euclidean): squared distances as |q|^2 + |r|^2 - 2 q.r
 * with CLBlast for the products, and a selection kernel that merges tile after tile into each
 * query's top-k, so memory stays bounded (tiles of at most 1024 queries x 16384 references)
 * for 100,000 samples and more. Ties are broken by the smaller index on every device. */
#ifndef EOS_KNN_H
#define EOS_KNN_H

#include "eos/runtime.h"
#include "eos/tensor.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Usage:
 *     int32_t idx[n * 10]; float d2[n * 10];
 *     eos_knn(rt, x, n, x, n, 64, 10, 1, idx, d2);       // 10 neighbours of every row, not itself
 */

#define EOS_KNN_MAX_K 64

/* For each of the nq queries (nq, dim), the k nearest of the nr references (nr, dim):
 * indices (nq, k) into the references and squared distances (nq, k), nearest first.
 * With exclude_self (queries and references the same array, nq == nr), a point is not its own
 * neighbour. dist2 may be NULL. */
eos_status eos_knn(eos_runtime_t rt, const float *queries, size_t nq, const float *refs, size_t nr, int dim, int k,
                   int exclude_self, int32_t *indices, float *dist2);

/* The embedding gap the paper studies, per class c (test_gap and train_gap hold classes values):
 * test_gap[c] = mean over test rows of c of the distance to the nearest training row of c;
 * train_gap[c] = the same within the training rows of c, leaving each row out. NaN where a
 * class has too few rows.
 * train_x (ntrain, dim), test_x (ntest, dim). */
eos_status eos_embedding_gap(eos_runtime_t rt, const float *train_x, const int32_t *train_y, size_t ntrain,
                             const float *test_x, const int32_t *test_y, size_t ntest, int dim, int classes,
                             double *test_gap, double *train_gap);

/* The same with the embeddings on the device (eos_embed_device's tensors): train_x (ntrain, dim)
 * and test_x (ntest, dim) tensors of rt, their labels on the host. Each class's rows are
 * gathered there (only their row numbers go up); the same numbers as eos_embedding_gap, bit for
 * bit. */
eos_status eos_embedding_gap_device(eos_runtime_t rt, const eos_tensor *train_x, const int32_t *train_y,
                                    const eos_tensor *test_x, const int32_t *test_y, int classes, double *test_gap,
                                    double *train_gap);

#ifdef __cplusplus
}
#endif
#endif
