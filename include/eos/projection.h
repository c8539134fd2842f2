/* The 2-d view of phase 2 that the run report plots: PCA of the real training embeddings
 * (host, double precision) and a capped per-class sample of a balanced set, real and synthetic
 * rows marked apart, projected onto that plane and written as CSV. */
#ifndef EOS_PROJECTION_H
#define EOS_PROJECTION_H

#include "eos/embeddings.h"
#include "eos/status.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Usage:
 *     double var[2];
 *     eos_projection_write("run/embeddings/projection.csv", &balanced, n_real, 120, seed, var);
 */

/* The first two principal components of x (n, dim) (n >= 2): mean (dim), comp (2, dim) with
 * unit rows, each signed so its largest entry is positive; var (2): the fraction of the total
 * variance each explains (may be NULL). */
eos_status eos_projection_fit(const float *x, size_t n, size_t dim, double *mean, double *comp, double var[2]);

/* Project a sample of a balanced set onto the PCA plane of its first n_real rows (the real
 * samples; the resamplers append the synthetic ones after them) and write a CSV
 * "label,synthetic,pc1,pc2": at most per_class real and per_class synthetic rows of each class,
 * drawn without replacement (PCG32, seed). var receives the explained fractions (may be NULL). */
eos_status eos_projection_write(const char *path, const eos_embeddings *balanced, size_t n_real, size_t per_class,
                                uint64_t seed, double var[2]);

#ifdef __cplusplus
}
#endif
#endif
