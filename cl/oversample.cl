/* The new rows of EOS, eos-ref, SMOTE, Borderline-SMOTE and ADASYN (host/sampling/oversample.c draws
 * base, partner and r on the host; this kernel only forms the rows, issue 20).
 * Legend: N input rows, S new rows, D features. out[s] = x[base] + r (x[partner] - x[base]),
 * or a copy of x[base] where partner < 0 (ros, a class with no base to interpolate from). */

/* Bit for bit the host's rows (host/sampling/oversample.c, built -std=c11, which is GCC's
 * -ffp-contract=off): no a * b + c may become one fused multiply-add here either, whatever the
 * compiler's default (OpenCL C's FP_CONTRACT is ON unless switched off). The difference, the
 * product and the sum are each rounded once, as on the host. */
#pragma OPENCL FP_CONTRACT OFF

/* one work-item per output element: S * D of them, written from element out0 of out (the new
 * rows follow the N originals when the whole balanced set lives on the device) */
__kernel void eos_oversample_rows(__global const float *x,     /* (N, D) */
                                  __global const int *base,    /* (S) */
                                  __global const int *partner, /* (S) -1: a copy */
                                  __global const float *gap,   /* (S) r in [0, 1) */
                                  __global float *out,         /* (out0 / D + S, D) */
                                  const int D, const ulong total, const ulong out0) {
    const size_t g = get_global_id(0);
    if (g >= total) return;
    const size_t s = g / (size_t)D, j = g % (size_t)D;
    const float xb = x[(size_t)base[s] * D + j];
    const int p = partner[s];
    if (p < 0) {
        out[out0 + g] = xb;
        return;
    }
    const float d = x[(size_t)p * D + j] - xb;
    const float t = gap[s] * d;
    out[out0 + g] = xb + t;
}

/* out[s] = x[idx[s]]: a class's rows for its own neighbour search, a shuffled batch of the head's
 * training rows (host/train/finetune.c), without the rows leaving the device. */
__kernel void eos_gather_rows(__global const float *x,   /* (N, D) */
                              __global const int *idx,   /* (S) */
                              __global float *out,       /* (S, D) */
                              const int D, const ulong total) {
    const size_t g = get_global_id(0);
    if (g >= total) return;
    const size_t s = g / (size_t)D, j = g % (size_t)D;
    out[g] = x[(size_t)idx[s] * D + j];
}
