/* Plain-C reference of the over-sampling rows (cl/oversample.cl): the yardstick of
 * tests/sampling/test_oversample.c, which holds the kernel to it bit for bit. */
#ifndef EOS_OVERSAMPLE_REF_H
#define EOS_OVERSAMPLE_REF_H
#include <stddef.h>
#include <stdint.h>

/* out (s, dim) = x[base] + gap (x[other] - x[base]) for each new row, x[base] copied where
 * other < 0; x (n, dim). Each operation rounded on its own, as the host path of
 * host/sampling/oversample.c computes it (built -std=c11: GCC's -ffp-contract=off). */
void eos_ref_oversample_rows(const float *x, size_t dim, const int32_t *base, const int32_t *other, const float *gap,
                             size_t s, float *out);
#endif
