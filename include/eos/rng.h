/* The one random generator of EOS-CL: PCG32 (O'Neill, pcg-random.org, XSH-RR 64/32) on the
 * host. Every seeded draw (batches, crops, flips, initial weights, EOS samples) comes from it,
 * so a run with the same seed draws the same numbers on every device. */
#ifndef EOS_RNG_H
#define EOS_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Usage:
 *     eos_rng r;
 *     eos_rng_seed(&r, 42, 54);           // seed, stream: pcg32_srandom(42, 54)
 *     uint32_t x = eos_rng_u32(&r);       // 0xa15c02b7 for that seed
 *     float u = eos_rng_uniform(&r);      // [0, 1)
 *     uint32_t i = eos_rng_below(&r, 10); // 0..9, unbiased
 */

typedef struct eos_rng {
    uint64_t state;
    uint64_t inc;  /* odd */
} eos_rng;

void eos_rng_seed(eos_rng *r, uint64_t seed, uint64_t stream);
uint32_t eos_rng_u32(eos_rng *r);
/* Uniform in [0, 1) with 24 random bits. */
float eos_rng_uniform(eos_rng *r);
/* Uniform integer in [0, bound), bound > 0, without modulo bias. */
uint32_t eos_rng_below(eos_rng *r, uint32_t bound);
/* Standard normal (Box-Muller, computed in double). */
float eos_rng_normal(eos_rng *r);

#ifdef __cplusplus
}
#endif
#endif
