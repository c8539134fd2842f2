/* Plain-C reference of the over-sampling rows (tests/ref/oversample_ref.h). Written out step
 * by step through volatile floats, so no compiler setting can fuse the product and the sum into
 * one FMA: ISO C contracts only within one expression (C11 6.5 p8), but GCC's
 * -ffp-contract=fast (its default in the GNU modes) fuses across statements too. */
#include "ref/oversample_ref.h"

#include <string.h>

void eos_ref_oversample_rows(const float *x, size_t dim, const int32_t *base, const int32_t *other, const float *gap,
                             size_t s, float *out) {
    for (size_t i = 0; i < s; i++) {
        const float *b = x + (size_t)base[i] * dim;
        if (other[i] < 0) {
            memcpy(out + i * dim, b, dim * sizeof *out);
            continue;
        }
        const float *p = x + (size_t)other[i] * dim;
        for (size_t j = 0; j < dim; j++) {
            volatile float d = p[j] - b[j];
            volatile float t = gap[i] * d;
            out[i * dim + j] = b[j] + t;
        }
    }
}
