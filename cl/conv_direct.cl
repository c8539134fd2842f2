/* Direct 3x3 convolution, stride 1, pad 1, on rows of 32, 16 or 8 pixels (ResNet-s's three
 * stages): no column matrix at all (host/nn/conv.c, algorithm "direct"). For PoCL's CPU device like
 * conv_panel.cl: one work-item per work-group, a row held in float8 registers, the kw = 0 and 2
 * taps as the row one pixel off (unaligned loads inside the row, lane shifts at its ends), every
 * accumulator a named register (arrays indexed in loops measured 3x slower: PoCL kept them in
 * memory).
 * Legend: x (N, C, H, W), w (K, C, 3, 3), y (N, K, H, W).
 *   forward:          y = conv(x, w)
 *   backward data:    dx = conv(dy, w') with w' (C, K, 3, 3) = w transposed and flipped
 *   backward weights: dw (K, C, 3, 3) = sum over images and rows of dy x shifted x rows */

/* a * b + c as one fused multiply-add: PoCL 3.1 compiles mad() to a multiply and a separate add
 * (no FMA instruction, about 60% of the FMA peak: `eos bench peak`), while the plain expression
 * is contracted to an FMA (OpenCL C's default FP_CONTRACT ON); GPUs fuse both. */
#define EOS_MAD(a, b, c) ((a) * (b) + (c))

/* a row of 8 moved one pixel right (x[i - 1], zero in front) and left (x[i + 1], zero after) */
#define EOS_SHIFTS1(r, L, R)                                                                 \
    const float8 L = (float8)(0.0f, r.s0, r.s1, r.s2, r.s3, r.s4, r.s5, r.s6);              \
    const float8 R = (float8)(r.s1, r.s2, r.s3, r.s4, r.s5, r.s6, r.s7, 0.0f)

/* The same rows and shifts read from memory: the interior shifts are unaligned loads one float
 * left or right of the row's own (cheaper than cross-register shuffles on CPUs: `eos bench
 * layers`), only the row's two ends are shifted in registers, so nothing outside the row is read. */
#define EOS_LOADS4(row, r0, r1, r2, r3, L0, L1, L2, L3, R0, R1, R2, R3)                      \
    const float8 r0 = vload8(0, row), r1 = vload8(1, row), r2 = vload8(2, row), r3 = vload8(3, row); \
    const float8 L0 = (float8)(0.0f, r0.s0, r0.s1, r0.s2, r0.s3, r0.s4, r0.s5, r0.s6);      \
    const float8 L1 = vload8(0, row + 7), L2 = vload8(0, row + 15), L3 = vload8(0, row + 23);  \
    const float8 R0 = vload8(0, row + 1), R1 = vload8(0, row + 9), R2 = vload8(0, row + 17);   \
    const float8 R3 = (float8)(r3.s1, r3.s2, r3.s3, r3.s4, r3.s5, r3.s6, r3.s7, 0.0f)
#define EOS_LOADS2(row, r0, r1, L0, L1, R0, R1)                                               \
    const float8 r0 = vload8(0, row), r1 = vload8(1, row);                                  \
    const float8 L0 = (float8)(0.0f, r0.s0, r0.s1, r0.s2, r0.s3, r0.s4, r0.s5, r0.s6);      \
    const float8 L1 = vload8(0, row + 7), R0 = vload8(0, row + 1);                          \
    const float8 R1 = (float8)(r1.s1, r1.s2, r1.s3, r1.s4, r1.s5, r1.s6, r1.s7, 0.0f)

/* Rows of 32. Work-item (output row oh, output channel pair, image n): 2 x 32 outputs in 8
 * accumulators. */
__kernel void eos_conv3x3_w32(__global const float *x, __global const float *w, __global float *y, const int C,
                              const int K, const int H, const int N) {
    const int oh = get_global_id(0), m0 = get_global_id(1) * 2, n = get_global_id(2);
    if (oh >= H || m0 >= K || n >= N) return;
    const int two = m0 + 1 < K;
    float8 a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
    for (int c = 0; c < C; c++) {
        __global const float *xc = x + ((size_t)n * C + c) * H * 32;
        __global const float *w0 = w + ((size_t)m0 * C + c) * 9, *w1 = w + ((size_t)(m0 + two) * C + c) * 9;
        for (int kh = 0; kh < 3; kh++) {
            const int ih = oh + kh - 1;
            if (ih < 0 || ih >= H) continue;
            __global const float *row = xc + ih * 32;
            EOS_LOADS4(row, r0, r1, r2, r3, L0, L1, L2, L3, R0, R1, R2, R3);
            const float u0 = w0[kh * 3], u1 = w0[kh * 3 + 1], u2 = w0[kh * 3 + 2];
            const float v0 = w1[kh * 3], v1 = w1[kh * 3 + 1], v2 = w1[kh * 3 + 2];
            a0 = EOS_MAD((float8)u0, L0, EOS_MAD((float8)u1, r0, EOS_MAD((float8)u2, R0, a0)));
            a1 = EOS_MAD((float8)u0, L1, EOS_MAD((float8)u1, r1, EOS_MAD((float8)u2, R1, a1)));
            a2 = EOS_MAD((float8)u0, L2, EOS_MAD((float8)u1, r2, EOS_MAD((float8)u2, R2, a2)));
            a3 = EOS_MAD((float8)u0, L3, EOS_MAD((float8)u1, r3, EOS_MAD((float8)u2, R3, a3)));
            b0 = EOS_MAD((float8)v0, L0, EOS_MAD((float8)v1, r0, EOS_MAD((float8)v2, R0, b0)));
            b1 = EOS_MAD((float8)v0, L1, EOS_MAD((float8)v1, r1, EOS_MAD((float8)v2, R1, b1)));
            b2 = EOS_MAD((float8)v0, L2, EOS_MAD((float8)v1, r2, EOS_MAD((float8)v2, R2, b2)));
            b3 = EOS_MAD((float8)v0, L3, EOS_MAD((float8)v1, r3, EOS_MAD((float8)v2, R3, b3)));
        }
    }
    __global float *y0 = y + (((size_t)n * K + m0) * H + oh) * 32;
    vstore8(a0, 0, y0); vstore8(a1, 1, y0); vstore8(a2, 2, y0); vstore8(a3, 3, y0);
    if (two) {
        __global float *y1 = y0 + (size_t)H * 32;
        vstore8(b0, 0, y1); vstore8(b1, 1, y1); vstore8(b2, 2, y1); vstore8(b3, 3, y1);
    }
}


/* Rows of 16. Work-item (output row oh, group of 4 output channels, image n): 4 x 16 outputs in
 * 8 accumulators; channels past K reuse the last weights and are not stored. */
#define EOS_W16_TAP(g, a, b)                                                                   \
    {                                                                                          \
        __global const float *wg = w + ((size_t)min(m0 + (g), K - 1) * C + c) * 9 + kh * 3;    \
        const float u0 = wg[0], u1 = wg[1], u2 = wg[2];                                        \
        a = EOS_MAD((float8)u0, L0, EOS_MAD((float8)u1, r0, EOS_MAD((float8)u2, R0, a)));                 \
        b = EOS_MAD((float8)u0, L1, EOS_MAD((float8)u1, r1, EOS_MAD((float8)u2, R1, b)));                 \
    }
__kernel void eos_conv3x3_w16(__global const float *x, __global const float *w, __global float *y, const int C,
                              const int K, const int H, const int N) {
    const int oh = get_global_id(0), m0 = get_global_id(1) * 4, n = get_global_id(2);
    if (oh >= H || m0 >= K || n >= N) return;
    float8 a0 = 0, b0 = 0, a1 = 0, b1 = 0, a2 = 0, b2 = 0, a3 = 0, b3 = 0;
    for (int c = 0; c < C; c++) {
        __global const float *xc = x + ((size_t)n * C + c) * H * 16;
        for (int kh = 0; kh < 3; kh++) {
            const int ih = oh + kh - 1;
            if (ih < 0 || ih >= H) continue;
            __global const float *row = xc + ih * 16;
            EOS_LOADS2(row, r0, r1, L0, L1, R0, R1);
            EOS_W16_TAP(0, a0, b0) EOS_W16_TAP(1, a1, b1) EOS_W16_TAP(2, a2, b2) EOS_W16_TAP(3, a3, b3)
        }
    }
    const float8 a[4] = {a0, a1, a2, a3}, b[4] = {b0, b1, b2, b3};
    for (int g = 0; g < 4 && m0 + g < K; g++) {
        __global float *out = y + (((size_t)n * K + m0 + g) * H + oh) * 16;
        vstore8(a[g], 0, out);
        vstore8(b[g], 1, out);
    }
}

/* Rows of 8. Work-item (output row oh, group of 8 output channels, image n): 8 x 8 outputs in 8
 * accumulators; channels past K reuse the last weights and are not stored. */
#define EOS_W8_TAP(g, a)                                                                       \
    {                                                                                          \
        __global const float *wg = w + ((size_t)min(m0 + (g), K - 1) * C + c) * 9 + kh * 3;    \
        a = EOS_MAD((float8)wg[0], L, EOS_MAD((float8)wg[1], r, EOS_MAD((float8)wg[2], R, a)));           \
    }
__kernel void eos_conv3x3_w8(__global const float *x, __global const float *w, __global float *y, const int C,
                             const int K, const int H, const int N) {
    const int oh = get_global_id(0), m0 = get_global_id(1) * 8, n = get_global_id(2);
    if (oh >= H || m0 >= K || n >= N) return;
    float8 a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
    for (int c = 0; c < C; c++) {
        __global const float *xc = x + ((size_t)n * C + c) * H * 8;
        for (int kh = 0; kh < 3; kh++) {
            const int ih = oh + kh - 1;
            if (ih < 0 || ih >= H) continue;
            const float8 r = vload8(0, xc + ih * 8);
            EOS_SHIFTS1(r, L, R);
            EOS_W8_TAP(0, a0) EOS_W8_TAP(1, a1) EOS_W8_TAP(2, a2) EOS_W8_TAP(3, a3)
            EOS_W8_TAP(4, a4) EOS_W8_TAP(5, a5) EOS_W8_TAP(6, a6) EOS_W8_TAP(7, a7)
        }
    }
    const float8 a[8] = {a0, a1, a2, a3, a4, a5, a6, a7};
    for (int g = 0; g < 8 && m0 + g < K; g++) vstore8(a[g], 0, y + (((size_t)n * K + m0 + g) * H + oh) * 8);
}

/* w' (C, K, 3, 3) from w (K, C, 3, 3): channels swapped, taps flipped; one work-item per tap */
__kernel void eos_conv3x3_flip(__global const float *w, __global float *wt, const int K, const int C) {
    const int i = get_global_id(0);
    if (i >= K * C * 9) return;
    const int t = i % 9, c = (i / 9) % C, k = i / (9 * C);
    wt[((size_t)c * K + k) * 9 + (8 - t)] = w[i];
}

/* dw (K, C, 3, 3): work-item (input channel c, output channels m0 and m0 + 1) sums over every
 * image and row the products of the two dy rows with the three shifted x rows above, on and below
 * them: one float8 accumulator per tap and output channel, summed across lanes at the end.
 * Two output channels at once: every x row and its shifts, read once, serve both dy planes, a
 * quarter less memory traffic than one channel per work-item; one float8 chunk of the row at a
 * time keeps the live registers at 18 accumulators + 2 dy chunks + 3 x chunks (EOS_DW2_CHUNK).
 * Images n0 .. N-1 only, added to dw when acc (host/nn/conv.c splits the batch over launches on
 * devices that cap a work-item's loop trips, eos__loop_cap; one launch with n0 = 0, acc = 0
 * elsewhere). */
#define EOS_DW2_TAPS(kh, d, e, L, r, R)                                                              \
    if (kh == 0) { t0 = EOS_MAD(d, L, t0); t1 = EOS_MAD(d, r, t1); t2 = EOS_MAD(d, R, t2);          \
                   u0 = EOS_MAD(e, L, u0); u1 = EOS_MAD(e, r, u1); u2 = EOS_MAD(e, R, u2); }        \
    else if (kh == 1) { t3 = EOS_MAD(d, L, t3); t4 = EOS_MAD(d, r, t4); t5 = EOS_MAD(d, R, t5);     \
                        u3 = EOS_MAD(e, L, u3); u4 = EOS_MAD(e, r, u4); u5 = EOS_MAD(e, R, u5); }   \
    else { t6 = EOS_MAD(d, L, t6); t7 = EOS_MAD(d, r, t7); t8 = EOS_MAD(d, R, t8);                  \
           u6 = EOS_MAD(e, L, u6); u7 = EOS_MAD(e, r, u7); u8 = EOS_MAD(e, R, u8); }
#define EOS_DW2_STORE()                                                                                     \
    {                                                                                                      \
        const float8 t[9] = {t0, t1, t2, t3, t4, t5, t6, t7, t8}, u[9] = {u0, u1, u2, u3, u4, u5, u6, u7, u8}; \
        __global float *o = dw + ((size_t)m0 * C + c) * 9, *q = dw + ((size_t)(m0 + 1) * C + c) * 9;        \
        for (int i = 0; i < 9; i++) {                                                                      \
            o[i] = (acc ? o[i] : 0.0f) + (((t[i].s0 + t[i].s1) + (t[i].s2 + t[i].s3)) + ((t[i].s4 + t[i].s5) + (t[i].s6 + t[i].s7))); \
            if (two) q[i] = (acc ? q[i] : 0.0f) + (((u[i].s0 + u[i].s1) + (u[i].s2 + u[i].s3)) + ((u[i].s4 + u[i].s5) + (u[i].s6 + u[i].s7))); \
        }                                                                                                  \
    }

/* one chunk of 8 outputs of row oh (dy chunks d, e), against the x chunk j of the rows above, on
 * and below it: the dy chunks are read once for the three tap rows (edge: FIRST / LAST say
 * whether the left / right shift takes a zero at the row's end). The three tap rows are written
 * out, not looped over: with a loop over kh, PoCL's compiler kept the loop and chose each tap
 * row's accumulators by branches at run time (three compares and jumps per six FMAs). */
#define EOS_DW2_ROW(W, kh, j, FIRST, LAST)                                                            \
    {                                                                                              \
        __global const float *row = xc + (oh + kh - 1) * W;                                        \
        const float8 r = vload8(j, row);                                                           \
        const float8 L = FIRST ? (float8)(0.0f, r.s0, r.s1, r.s2, r.s3, r.s4, r.s5, r.s6)         \
                               : vload8(0, row + 8 * (j) - 1);                                     \
        const float8 R = LAST ? (float8)(r.s1, r.s2, r.s3, r.s4, r.s5, r.s6, r.s7, 0.0f)          \
                              : vload8(0, row + 8 * (j) + 1);                                      \
        EOS_DW2_TAPS(kh, d, e, L, r, R)                                                            \
    }
#define EOS_DW2_CHUNK(W, j, FIRST, LAST)                                                              \
    {                                                                                              \
        const float8 d = vload8(j, ra), e = vload8(j, rb);                                         \
        if (oh > 0) EOS_DW2_ROW(W, 0, j, FIRST, LAST)                                              \
        EOS_DW2_ROW(W, 1, j, FIRST, LAST)                                                          \
        if (oh + 1 < H) EOS_DW2_ROW(W, 2, j, FIRST, LAST)                                          \
    }

__kernel void eos_conv3x3_dw2_w32(__global const float *x, __global const float *dy, __global float *dw, const int N,
                                  const int C, const int K, const int H, const int n0, const int acc) {
    const int c = get_global_id(0), m0 = get_global_id(1) * 2;
    if (c >= C || m0 >= K) return;
    const int two = m0 + 1 < K;
    float8 t0 = 0, t1 = 0, t2 = 0, t3 = 0, t4 = 0, t5 = 0, t6 = 0, t7 = 0, t8 = 0;
    float8 u0 = 0, u1 = 0, u2 = 0, u3 = 0, u4 = 0, u5 = 0, u6 = 0, u7 = 0, u8 = 0;
    for (int n = n0; n < N; n++) {
        __global const float *xc = x + ((size_t)n * C + c) * H * 32;
        __global const float *da = dy + ((size_t)n * K + m0) * H * 32, *db = dy + ((size_t)n * K + m0 + two) * H * 32;
        for (int oh = 0; oh < H; oh++) {
            __global const float *ra = da + oh * 32, *rb = db + oh * 32;
            EOS_DW2_CHUNK(32, 0, 1, 0)
            EOS_DW2_CHUNK(32, 1, 0, 0)
            EOS_DW2_CHUNK(32, 2, 0, 0)
            EOS_DW2_CHUNK(32, 3, 0, 1)
        }
    }
    EOS_DW2_STORE()
}

__kernel void eos_conv3x3_dw2_w16(__global const float *x, __global const float *dy, __global float *dw, const int N,
                                  const int C, const int K, const int H, const int n0, const int acc) {
    const int c = get_global_id(0), m0 = get_global_id(1) * 2;
    if (c >= C || m0 >= K) return;
    const int two = m0 + 1 < K;
    float8 t0 = 0, t1 = 0, t2 = 0, t3 = 0, t4 = 0, t5 = 0, t6 = 0, t7 = 0, t8 = 0;
    float8 u0 = 0, u1 = 0, u2 = 0, u3 = 0, u4 = 0, u5 = 0, u6 = 0, u7 = 0, u8 = 0;
    for (int n = n0; n < N; n++) {
        __global const float *xc = x + ((size_t)n * C + c) * H * 16;
        __global const float *da = dy + ((size_t)n * K + m0) * H * 16, *db = dy + ((size_t)n * K + m0 + two) * H * 16;
        for (int oh = 0; oh < H; oh++) {
            __global const float *ra = da + oh * 16, *rb = db + oh * 16;
            EOS_DW2_CHUNK(16, 0, 1, 0)
            EOS_DW2_CHUNK(16, 1, 0, 1)
        }
    }
    EOS_DW2_STORE()
}

__kernel void eos_conv3x3_dw2_w8(__global const float *x, __global const float *dy, __global float *dw, const int N,
                                 const int C, const int K, const int H, const int n0, const int acc) {
    const int c = get_global_id(0), m0 = get_global_id(1) * 2;
    if (c >= C || m0 >= K) return;
    const int two = m0 + 1 < K;
    float8 t0 = 0, t1 = 0, t2 = 0, t3 = 0, t4 = 0, t5 = 0, t6 = 0, t7 = 0, t8 = 0;
    float8 u0 = 0, u1 = 0, u2 = 0, u3 = 0, u4 = 0, u5 = 0, u6 = 0, u7 = 0, u8 = 0;
    for (int n = n0; n < N; n++) {
        __global const float *xc = x + ((size_t)n * C + c) * H * 8;
        __global const float *da = dy + ((size_t)n * K + m0) * H * 8, *db = dy + ((size_t)n * K + m0 + two) * H * 8;
        for (int oh = 0; oh < H; oh++) {
            __global const float *ra = da + oh * 8, *rb = db + oh * 8;
            EOS_DW2_CHUNK(8, 0, 1, 1)  /* one chunk: a zero at both ends of the shifts */
        }
    }
    EOS_DW2_STORE()
}

