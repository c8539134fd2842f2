/* PCG32 (XSH-RR 64/32) and the distributions built on it; see include/eos/rng.h. */
#include "eos/rng.h"

#include <math.h>

void eos_rng_seed(eos_rng *r, uint64_t seed, uint64_t stream) {
    r->state = 0;
    r->inc = (stream << 1u) | 1u;
    eos_rng_u32(r);
    r->state += seed;
    eos_rng_u32(r);
}

uint32_t eos_rng_u32(eos_rng *r) {
    uint64_t old = r->state;
    r->state = old * 6364136223846793005ULL + r->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31u));
}

float eos_rng_uniform(eos_rng *r) { return (float)(eos_rng_u32(r) >> 8) * (1.0f / 16777216.0f); }

uint32_t eos_rng_below(eos_rng *r, uint32_t bound) {
    /* reject the low values that would make some residues more likely */
    uint32_t threshold = (uint32_t)(-bound) % bound;
    for (;;) {
        uint32_t x = eos_rng_u32(r);
        if (x >= threshold) return x % bound;
    }
}

float eos_rng_normal(eos_rng *r) {
    double u1 = ((double)eos_rng_u32(r) + 1.0) / 4294967297.0;  /* (0, 1]: log is finite */
    double u2 = (double)eos_rng_u32(r) / 4294967296.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}
