/* The device's single-precision multiply-add peak (`eos bench peak`, `eos check`; host/runtime/peak.c):
 * every work-item runs 8 independent chains x = x * a + b, as float16, float8, float4 or floats,
 * and writes one value the host knows in closed form, so no step can be dropped.
 * Legend: out (global size), one float per work-item.
 *
 * Why it cannot be optimised away: a and b are arguments (the compiler cannot fold x * 1 + 1),
 * every chain and lane starts from a different value (no two chains can be merged), and every
 * chain reaches the output. With a = b = 1 each lane ends at start + n exactly (floats hold every
 * integer below 2^24; the host keeps n below that), so lane - start = n, and the pairwise sums
 * below are n times a power of two: the output is exactly 8 * lanes * n. */

/* 8 chains (FMA latency x FMA pipes of a CPU core, 4 x 2) of 8 steps per loop trip (the loop's
 * add and branch vanish beside 64 FMAs); host/runtime/peak.c counts FLOPs with the same two numbers.
 * float8 fills an AVX2 register, float16 an AVX-512 one; on GPUs the work-items are the vectors
 * and the 8 chains a thread's ILP, so float4 or float may win there: the host keeps the best.
 * x * a + b, not mad() and not fma(): PoCL 3.1 compiles mad() to a multiply and an add, never to
 * one FMA (even with -cl-mad-enable; measured, vmulps + vaddps in the x86 code), and fma() is
 * emulated in software where the hardware has none. A contracted x * a + b is one FMA instruction
 * where there is one and a multiply-add where there is not: the device's best either way. */
#pragma OPENCL FP_CONTRACT ON
#define EOS_PEAK_STEP(T)                                                                                 \
    x0 = x0 * va + vb; x1 = x1 * va + vb; x2 = x2 * va + vb; x3 = x3 * va + vb;                           \
    x4 = x4 * va + vb; x5 = x5 * va + vb; x6 = x6 * va + vb; x7 = x7 * va + vb

/* T: the vector type, LANES its width, RAMP (0, 1, ..., LANES - 1) as a T, HSUM the sum of a T's
 * lanes as a pairwise tree. iters: loop trips, n = 8 * iters steps per chain. */
#define EOS_PEAK_KERNEL(NAME, T, LANES, RAMP, HSUM)                                                      \
    __kernel void NAME(__global float *out, const float a, const float b, const int iters) {             \
        const T va = (T)(a), vb = (T)(b), ramp = RAMP;                                                   \
        const T s0 = ramp, s1 = ramp + (T)(LANES), s2 = ramp + (T)(2 * LANES), s3 = ramp + (T)(3 * LANES), \
                s4 = ramp + (T)(4 * LANES), s5 = ramp + (T)(5 * LANES), s6 = ramp + (T)(6 * LANES),         \
                s7 = ramp + (T)(7 * LANES);                                                              \
        T x0 = s0, x1 = s1, x2 = s2, x3 = s3, x4 = s4, x5 = s5, x6 = s6, x7 = s7;                        \
        for (int i = 0; i < iters; i++) {                                                                \
            EOS_PEAK_STEP(T); EOS_PEAK_STEP(T); EOS_PEAK_STEP(T); EOS_PEAK_STEP(T);                      \
            EOS_PEAK_STEP(T); EOS_PEAK_STEP(T); EOS_PEAK_STEP(T); EOS_PEAK_STEP(T);                      \
        }                                                                                                \
        const T t = (((x0 - s0) + (x1 - s1)) + ((x2 - s2) + (x3 - s3))) +                                \
                    (((x4 - s4) + (x5 - s5)) + ((x6 - s6) + (x7 - s7)));                                 \
        out[get_global_id(0)] = HSUM(t);                                                                 \
    }

#define EOS_HSUM16(t) (EOS_HSUM8((t).lo) + EOS_HSUM8((t).hi))
#define EOS_HSUM8(t) ((((t).s0 + (t).s1) + ((t).s2 + (t).s3)) + (((t).s4 + (t).s5) + ((t).s6 + (t).s7)))
#define EOS_HSUM4(t) ((((t).s0 + (t).s1) + ((t).s2 + (t).s3)))
#define EOS_HSUM1(t) (t)

EOS_PEAK_KERNEL(eos_peak_float16, float16, 16,
                ((float16)(0.0f, 1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f, 7.0f, 8.0f, 9.0f, 10.0f, 11.0f, 12.0f, 13.0f,
                           14.0f, 15.0f)),
                EOS_HSUM16)
EOS_PEAK_KERNEL(eos_peak_float8, float8, 8, ((float8)(0.0f, 1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f, 7.0f)), EOS_HSUM8)
EOS_PEAK_KERNEL(eos_peak_float4, float4, 4, ((float4)(0.0f, 1.0f, 2.0f, 3.0f)), EOS_HSUM4)
EOS_PEAK_KERNEL(eos_peak_float1, float, 1, (0.0f), EOS_HSUM1)
