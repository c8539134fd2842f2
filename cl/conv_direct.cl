/* Direct 3x3 convolution, stride 1, pad 1, on rows of 32, 16 or 8 pixels (ResNet-s's three
 * stages): no column matrix at all (host/nn/conv.c, algorithms "direct" and "direct16"). For
 * PoCL's CPU device like conv_panel.cl: one work-item per work-group, a row held in vector
 * registers, the kw = 0 and 2 taps as the row one pixel off (unaligned loads inside the row, lane
 * shifts at its ends), every accumulator a named register (arrays indexed in loops measured 3x
 * slower: PoCL kept them in memory).
 * Two widths of the same kernels: "direct" holds rows in float8 (an AVX2 register), "direct16"
 * in float16 (an AVX-512 register: twice the multiply-adds per instruction where the device has
 * them, `eos bench peak`, and two registers' worth of work where it has not). The host times both
 * and keeps the faster (host/nn/conv.c). Rows of 8 in float16 hold two rows of the plane.
 * Legend: x (N, C, H, W), w (K, C, 3, 3), y (N, K, H, W).
 *   forward:          y = conv(x, w)
 *   backward data:    dx = conv(dy, w') with w' (C, K, 3, 3) = w transposed and flipped
 *   backward weights: dw (K, C, 3, 3) = sum over images and rows of dy x shifted x rows
 * The forward kernels read the weights packed for their group of G output channels,
 * wp (ceil(K / G), C, 3, 3, G) (eos_conv3x3_pack, which also transposes and flips for dx): the G
 * weights of one tap side by side, zero past K, so every weight of a work-item's step is one
 * base pointer plus a constant (with G pointers into w, PoCL's code rebuilt and spilled them for
 * every input channel).
 * The file ends with Winograd F(2x2,3x3) fused into one kernel (algorithm "winograd" on the CPU
 * paths), here for the epilogue and statistics it shares with the direct kernels. */

/* a * b + c as one fused multiply-add: PoCL 3.1 compiles mad() to a multiply and a separate add
 * (no FMA instruction, about 60% of the FMA peak: `eos bench peak`), while the plain expression
 * is contracted to an FMA (OpenCL C's default FP_CONTRACT ON); GPUs fuse both. */
#define EOS_MAD(a, b, c) ((a) * (b) + (c))

/* a vector moved one pixel right (x[i - 1], zero in front: SHL) and left (x[i + 1], zero after:
 * SHR), by width; SHL2 / SHR2 the same for the two 8-pixel rows inside a float16 */
#define EOS_SHL8(r) ((float8)(0.0f, (r).s0, (r).s1, (r).s2, (r).s3, (r).s4, (r).s5, (r).s6))
#define EOS_SHR8(r) ((float8)((r).s1, (r).s2, (r).s3, (r).s4, (r).s5, (r).s6, (r).s7, 0.0f))
#define EOS_SHL16(r)                                                                                   \
    ((float16)(0.0f, (r).s0, (r).s1, (r).s2, (r).s3, (r).s4, (r).s5, (r).s6, (r).s7, (r).s8, (r).s9, \
               (r).sa, (r).sb, (r).sc, (r).sd, (r).se))
#define EOS_SHR16(r)                                                                                   \
    ((float16)((r).s1, (r).s2, (r).s3, (r).s4, (r).s5, (r).s6, (r).s7, (r).s8, (r).s9, (r).sa, (r).sb, \
               (r).sc, (r).sd, (r).se, (r).sf, 0.0f))
#define EOS_SHL2(r)                                                                                    \
    ((float16)(0.0f, (r).s0, (r).s1, (r).s2, (r).s3, (r).s4, (r).s5, (r).s6, 0.0f, (r).s8, (r).s9,   \
               (r).sa, (r).sb, (r).sc, (r).sd, (r).se))
#define EOS_SHR2(r)                                                                                    \
    ((float16)((r).s1, (r).s2, (r).s3, (r).s4, (r).s5, (r).s6, (r).s7, 0.0f, (r).s9, (r).sa, (r).sb, \
               (r).sc, (r).sd, (r).se, (r).sf, 0.0f))
/* The forward kernels' epilogue, for inference with the batch norm folded in (host/nn/conv.c,
 * eos__conv2d_forward_fused): epi bit 0 adds shift[m] to output channel m, bit 1 adds res (the
 * residual, laid out like y), bit 2 takes max(., 0); epi 0 stores the sums as they are (shift
 * and res may then be NULL). v is stored as vector i of p, output channel m. EOS_STORE_MORE is
 * a hook for what one kernel adds to it (the fused Winograd kernel's batch-norm backward sums,
 * epi bit 4): empty for the direct kernels, redefined before that kernel. */
#define EOS_STORE_MORE(V, i, p)
#define EOS_STORE(V, v, i, p, m)                                                                   \
    {                                                                                              \
        float##V o_ = (v);                                                                         \
        if (epi) {                                                                                 \
            if (epi & 1) o_ += (float##V)(shift[m]);                                               \
            if (epi & 2) o_ += vload##V(i, res + ((p) - y));                                       \
            if (epi & 4) o_ = fmax(o_, (float##V)(0.0f));                                          \
            EOS_STORE_MORE(V, i, p)                                                                \
        }                                                                                          \
        vstore##V(o_, i, p);                                                                       \
    }
#define EOS_EPI_ARGS __global const float *shift, __global const float *res, const int epi, __global float *part

/* the sum of a vector's lanes, as a pairwise tree */
#define EOS_HSUM8(t) ((((t).s0 + (t).s1) + ((t).s2 + (t).s3)) + (((t).s4 + (t).s5) + ((t).s6 + (t).s7)))
#define EOS_HSUM16(t) (EOS_HSUM8((t).lo) + EOS_HSUM8((t).hi))

/* Training's epilogue (epi bit 3, host/nn/conv.c eos__conv2d_forward_stats): the batch norm's
 * statistics taken from the sums in registers, so the batch norm reads nothing back for them. A
 * work-item's output row (or row pair) of channel m, its unit u of P = N ceil(OH / rows) per
 * channel, writes part (K, P, 3) = (count, mean, M2): the row's mean, then its squared deviations
 * from that mean (the layout and the numbers eos_bn_stats_partial writes; eos_bn_stats_merge
 * merges them in unit order by Chan et al.'s update). */
inline float eos_hsum8(const float8 t) { return EOS_HSUM8(t); }
inline float eos_hsum16(const float16 t) { return EOS_HSUM16(t); }
inline void eos_stat_put(__global float *part, const size_t at, const float cnt, const float mu, const float q) {
    part[3 * at] = cnt;
    part[3 * at + 1] = mu;
    part[3 * at + 2] = q;
}
#define EOS_SQ(t, mu) (((t) - (mu)) * ((t) - (mu)))
#define EOS_STAT1(V, at, a)                                                                        \
    {                                                                                              \
        const float mu_ = eos_hsum##V(a) / (float)(V);                                             \
        eos_stat_put(part, at, (float)(V), mu_, eos_hsum##V(EOS_SQ(a, mu_)));                       \
    }
#define EOS_STAT4(V, at, a, b, c, d)                                                               \
    {                                                                                              \
        const float mu_ = eos_hsum##V(((a) + (b)) + ((c) + (d))) / (float)(4 * V);                 \
        eos_stat_put(part, at, (float)(4 * V), mu_,                                                \
                     eos_hsum##V((EOS_SQ(a, mu_) + EOS_SQ(b, mu_)) + (EOS_SQ(c, mu_) + EOS_SQ(d, mu_)))); \
    }
#define EOS_STAT2(V, at, a, b)                                                                     \
    {                                                                                              \
        const float mu_ = eos_hsum##V((a) + (b)) / (float)(2 * V);                                 \
        eos_stat_put(part, at, (float)(2 * V), mu_, eos_hsum##V(EOS_SQ(a, mu_) + EOS_SQ(b, mu_))); \
    }

/* rows r and r + 1 (r >= -1) of a plane of 8-pixel rows as one float16, zero for a row outside
 * 0 .. H-1 (the padding): one load inside the plane, halves at its edges. The halves are set
 * through .lo / .hi: a (float16)(lo, hi) literal crashes Oclgrind 21.10's uninitialised-value
 * check (a segfault in its shufflevector shadow copy). */
inline float16 eos_rows2(__global const float *p, const int r, const int H) {
    if (r >= 0 && r + 1 < H) return vload16(0, p + r * 8);
    float16 v = 0.0f;
    if (r >= 0 && r < H) v.lo = vload8(r, p);
    if (r + 1 < H) v.hi = vload8(r + 1, p);
    return v;
}

/* Rows of 32 in float8. Work-item (output row oh, output channel pair, image n): 2 x 32 outputs
 * in 8 accumulators. */
__kernel void eos_conv3x3_w32(__global const float *x, __global const float *wp, __global float *y, const int C,
                              const int K, const int H, const int N, EOS_EPI_ARGS) {
    const int oh = get_global_id(0), m0 = get_global_id(1) * 2, n = get_global_id(2);
    if (oh >= H || m0 >= K || n >= N) return;
    const int two = m0 + 1 < K;
    float8 a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
    for (int c = 0; c < C; c++) {
        __global const float *xc = x + ((size_t)n * C + c) * H * 32;
        __global const float *wc = wp + ((size_t)(m0 / 2) * C + c) * 18;  /* (tap, 2) */
        for (int kh = 0; kh < 3; kh++) {
            const int ih = oh + kh - 1;
            if (ih < 0 || ih >= H) continue;
            __global const float *row = xc + ih * 32;
            const float8 r0 = vload8(0, row), r1 = vload8(1, row), r2 = vload8(2, row), r3 = vload8(3, row);
            const float8 L0 = EOS_SHL8(r0), L1 = vload8(0, row + 7), L2 = vload8(0, row + 15), L3 = vload8(0, row + 23);
            const float8 R0 = vload8(0, row + 1), R1 = vload8(0, row + 9), R2 = vload8(0, row + 17), R3 = EOS_SHR8(r3);
            const float u0 = wc[kh * 6], u1 = wc[kh * 6 + 2], u2 = wc[kh * 6 + 4];
            const float v0 = wc[kh * 6 + 1], v1 = wc[kh * 6 + 3], v2 = wc[kh * 6 + 5];
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
    EOS_STORE(8, a0, 0, y0, m0) EOS_STORE(8, a1, 1, y0, m0) EOS_STORE(8, a2, 2, y0, m0) EOS_STORE(8, a3, 3, y0, m0)
    const size_t P = (size_t)N * H, u = (size_t)n * H + oh;
    if (epi & 8) EOS_STAT4(8, m0 * P + u, a0, a1, a2, a3)
    if (two) {
        __global float *y1 = y0 + (size_t)H * 32;
        EOS_STORE(8, b0, 0, y1, m0 + 1) EOS_STORE(8, b1, 1, y1, m0 + 1) EOS_STORE(8, b2, 2, y1, m0 + 1)
        EOS_STORE(8, b3, 3, y1, m0 + 1)
        if (epi & 8) EOS_STAT4(8, (m0 + 1) * P + u, b0, b1, b2, b3)
    }
}

/* Rows of two vectors of V lanes (16 in float8, 32 in float16). Work-item (output row oh, group
 * of G output channels, image n): G x 2 vectors of outputs in 2 G accumulators (G 4 in float8, 8
 * in float16, where there are twice the registers); channels past K have zero weights and are
 * not stored. */
#define EOS_TAP2(V, G, g, a, b)                                                                    \
    {                                                                                              \
        __global const float *wg = wc + kh * 3 * G + (g);                                          \
        const float##V u0 = (float##V)(wg[0]), u1 = (float##V)(wg[G]), u2 = (float##V)(wg[2 * G]); \
        a = EOS_MAD(u0, L0, EOS_MAD(u1, r0, EOS_MAD(u2, R0, a)));                                  \
        b = EOS_MAD(u0, L1, EOS_MAD(u1, r1, EOS_MAD(u2, R1, b)));                                  \
    }
#define EOS_ACC2_4(V) float##V a0 = 0, b0 = 0, a1 = 0, b1 = 0, a2 = 0, b2 = 0, a3 = 0, b3 = 0
#define EOS_ACC2_8(V) EOS_ACC2_4(V); float##V a4 = 0, b4 = 0, a5 = 0, b5 = 0, a6 = 0, b6 = 0, a7 = 0, b7 = 0
#define EOS_TAPS2_4(V) EOS_TAP2(V, 4, 0, a0, b0) EOS_TAP2(V, 4, 1, a1, b1) EOS_TAP2(V, 4, 2, a2, b2) EOS_TAP2(V, 4, 3, a3, b3)
#define EOS_TAPS2_8(V)                                                                             \
    EOS_TAP2(V, 8, 0, a0, b0) EOS_TAP2(V, 8, 1, a1, b1) EOS_TAP2(V, 8, 2, a2, b2) EOS_TAP2(V, 8, 3, a3, b3) \
    EOS_TAP2(V, 8, 4, a4, b4) EOS_TAP2(V, 8, 5, a5, b5) EOS_TAP2(V, 8, 6, a6, b6) EOS_TAP2(V, 8, 7, a7, b7)
#define EOS_ALIST_4 a0, a1, a2, a3
#define EOS_BLIST_4 b0, b1, b2, b3
#define EOS_ALIST_8 a0, a1, a2, a3, a4, a5, a6, a7
#define EOS_BLIST_8 b0, b1, b2, b3, b4, b5, b6, b7
#define EOS_CONV_ROW2(NAME, V, G)                                                                       \
    __kernel void NAME(__global const float *x, __global const float *wp, __global float *y, const int C, \
                       const int K, const int H, const int N, EOS_EPI_ARGS) {                           \
        const int oh = get_global_id(0), m0 = get_global_id(1) * G, n = get_global_id(2);               \
        if (oh >= H || m0 >= K || n >= N) return;                                                       \
        EOS_ACC2_##G(V);                                                                                \
        for (int c = 0; c < C; c++) {                                                                   \
            __global const float *xc = x + ((size_t)n * C + c) * H * (2 * V);                           \
            __global const float *wc = wp + ((size_t)(m0 / G) * C + c) * 9 * G;                         \
            for (int kh = 0; kh < 3; kh++) {                                                            \
                const int ih = oh + kh - 1;                                                             \
                if (ih < 0 || ih >= H) continue;                                                        \
                __global const float *row = xc + ih * (2 * V);                                          \
                const float##V r0 = vload##V(0, row), r1 = vload##V(1, row);                            \
                const float##V L0 = EOS_SHL##V(r0), L1 = vload##V(0, row + (V - 1));                   \
                const float##V R0 = vload##V(0, row + 1), R1 = EOS_SHR##V(r1);                          \
                EOS_TAPS2_##G(V)                                                                        \
            }                                                                                           \
        }                                                                                               \
        const float##V a[G] = {EOS_ALIST_##G}, b[G] = {EOS_BLIST_##G};                                  \
        for (int g = 0; g < G && m0 + g < K; g++) {                                                     \
            __global float *out = y + (((size_t)n * K + m0 + g) * H + oh) * (2 * V);                    \
            EOS_STORE(V, a[g], 0, out, m0 + g)                                                          \
            EOS_STORE(V, b[g], 1, out, m0 + g)                                                          \
            if (epi & 8) EOS_STAT2(V, (size_t)(m0 + g) * N * H + (size_t)n * H + oh, a[g], b[g])        \
        }                                                                                               \
    }
EOS_CONV_ROW2(eos_conv3x3_w16, 8, 4)
EOS_CONV_ROW2(eos_conv3x3_w32_v16, 16, 8)

/* Rows of one vector (8 in float8, 16 in float16). Work-item (output row oh, group of G output
 * channels, image n): G x V outputs in G accumulators (8 in float8: AVX2 has 16 registers; 16 in
 * float16: AVX-512 has 32, and each x row and its shifts then serve twice the multiply-adds);
 * channels past K have zero weights and are not stored. */
#define EOS_TAP1(V, G, g, a)                                                                       \
    {                                                                                              \
        __global const float *wg = wc + kh * 3 * G + (g);                                          \
        a = EOS_MAD((float##V)(wg[0]), L, EOS_MAD((float##V)(wg[G]), r, EOS_MAD((float##V)(wg[2 * G]), R, a))); \
    }
#define EOS_ACC8(V) float##V a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0
#define EOS_ACC16(V) EOS_ACC8(V); float##V a8 = 0, a9 = 0, a10 = 0, a11 = 0, a12 = 0, a13 = 0, a14 = 0, a15 = 0
#define EOS_LIST8 a0, a1, a2, a3, a4, a5, a6, a7
#define EOS_LIST16 EOS_LIST8, a8, a9, a10, a11, a12, a13, a14, a15
#define EOS_TAPS8(V, G)                                                                            \
    EOS_TAP1(V, G, 0, a0) EOS_TAP1(V, G, 1, a1) EOS_TAP1(V, G, 2, a2) EOS_TAP1(V, G, 3, a3)        \
    EOS_TAP1(V, G, 4, a4) EOS_TAP1(V, G, 5, a5) EOS_TAP1(V, G, 6, a6) EOS_TAP1(V, G, 7, a7)
#define EOS_TAPS16(V, G)                                                                           \
    EOS_TAPS8(V, G) EOS_TAP1(V, G, 8, a8) EOS_TAP1(V, G, 9, a9) EOS_TAP1(V, G, 10, a10)            \
    EOS_TAP1(V, G, 11, a11) EOS_TAP1(V, G, 12, a12) EOS_TAP1(V, G, 13, a13) EOS_TAP1(V, G, 14, a14) \
    EOS_TAP1(V, G, 15, a15)
#define EOS_CONV_ROW1(NAME, V, G)                                                                       \
    __kernel void NAME(__global const float *x, __global const float *wp, __global float *y, const int C, \
                       const int K, const int H, const int N, EOS_EPI_ARGS) {                           \
        const int oh = get_global_id(0), m0 = get_global_id(1) * G, n = get_global_id(2);               \
        if (oh >= H || m0 >= K || n >= N) return;                                                       \
        EOS_ACC##G(V);                                                                                  \
        for (int c = 0; c < C; c++) {                                                                   \
            __global const float *xc = x + ((size_t)n * C + c) * H * V;                                 \
            __global const float *wc = wp + ((size_t)(m0 / G) * C + c) * 9 * G;                        \
            for (int kh = 0; kh < 3; kh++) {                                                            \
                const int ih = oh + kh - 1;                                                             \
                if (ih < 0 || ih >= H) continue;                                                        \
                const float##V r = vload##V(ih, xc), L = EOS_SHL##V(r), R = EOS_SHR##V(r);              \
                EOS_TAPS##G(V, G)                                                                       \
            }                                                                                           \
        }                                                                                               \
        const float##V a[G] = {EOS_LIST##G};                                                            \
        for (int g = 0; g < G && m0 + g < K; g++) {                                                     \
            __global float *out = y + (((size_t)n * K + m0 + g) * H + oh) * V;                          \
            EOS_STORE(V, a[g], 0, out, m0 + g)                                                          \
            if (epi & 8) EOS_STAT1(V, (size_t)(m0 + g) * N * H + (size_t)n * H + oh, a[g])             \
        }                                                                                               \
    }
EOS_CONV_ROW1(eos_conv3x3_w8, 8, 8)
EOS_CONV_ROW1(eos_conv3x3_w16_v16, 16, 16)

/* The stores of a work-item whose float16 accumulators a[g] hold output rows oh and oh + 1 of 8
 * pixels (OH output rows; an odd OH's last pair stores its first row), with the epilogue and the
 * statistics of each pair as one unit */
#define EOS_STORE_ROW_PAIRS(OH)                                                                    \
    for (int g = 0; g < 16 && m0 + g < K; g++) {                                                   \
        __global float *out = y + (((size_t)n * K + m0 + g) * (OH) + oh) * 8;                      \
        if (oh + 1 < (OH)) EOS_STORE(16, a[g], 0, out, m0 + g)                                     \
        else EOS_STORE(8, a[g].lo, 0, out, m0 + g)                                                 \
        if (epi & 8) {                                                                             \
            const size_t U = (size_t)((OH) + 1) / 2, at = (size_t)(m0 + g) * N * U + (size_t)n * U + oh / 2; \
            if (oh + 1 < (OH)) EOS_STAT1(16, at, a[g])                                             \
            else EOS_STAT1(8, at, a[g].lo)                                                         \
        }                                                                                          \
    }

/* Rows of 8 in float16: two output rows at once. Work-item (output row pair oh, oh + 1, group of
 * 16 output channels, image n): each float16 holds rows ih and ih + 1 (eos_rows2), so a weight
 * load serves 16 outputs; an odd H's last pair stores one row. */
__kernel void eos_conv3x3_w8_v16(__global const float *x, __global const float *wp, __global float *y, const int C,
                                 const int K, const int H, const int N, EOS_EPI_ARGS) {
    const int oh = get_global_id(0) * 2, m0 = get_global_id(1) * 16, n = get_global_id(2);
    if (oh >= H || m0 >= K || n >= N) return;
    EOS_ACC16(16);
    for (int c = 0; c < C; c++) {
        __global const float *xc = x + ((size_t)n * C + c) * H * 8;
        __global const float *wc = wp + ((size_t)(m0 / 16) * C + c) * 144;
        for (int kh = 0; kh < 3; kh++) {
            const float16 r = eos_rows2(xc, oh + kh - 1, H), L = EOS_SHL2(r), R = EOS_SHR2(r);
            EOS_TAPS16(16, 16)
        }
    }
    const float16 a[16] = {EOS_LIST16};
    EOS_STORE_ROW_PAIRS(H)
}

/* Stride 2 (ResNet-s's down-sampling: 3x3, pad 1), forward only, in float16 ("direct16"): output
 * pixel ow reads x[2 ow - 1], x[2 ow], x[2 ow + 1], so an input row splits into its even pixels
 * (the kw = 1 tap), its odd ones (kw = 2) and the odd ones one pixel right (kw = 0), three
 * shuffles per row against 48 multiply-adds. Work-item (output row or row pair, group of 16
 * output channels, image n); y (N, K, OH, OW), OH = (H + 1) / 2. */
#define EOS_EVENS16(a, b)                                                                               \
    ((float16)((a).s0, (a).s2, (a).s4, (a).s6, (a).s8, (a).sa, (a).sc, (a).se, (b).s0, (b).s2, (b).s4, \
               (b).s6, (b).s8, (b).sa, (b).sc, (b).se))
#define EOS_ODDS16(a, b)                                                                                \
    ((float16)((a).s1, (a).s3, (a).s5, (a).s7, (a).s9, (a).sb, (a).sd, (a).sf, (b).s1, (b).s3, (b).s5, \
               (b).s7, (b).s9, (b).sb, (b).sd, (b).sf))
/* rows of 32 in, 16 out: one output row */
__kernel void eos_conv3x3s2_w32_v16(__global const float *x, __global const float *wp, __global float *y, const int C,
                                    const int K, const int H, const int N, EOS_EPI_ARGS) {
    const int OH = (H + 1) / 2, oh = get_global_id(0), m0 = get_global_id(1) * 16, n = get_global_id(2);
    if (oh >= OH || m0 >= K || n >= N) return;
    EOS_ACC16(16);
    for (int c = 0; c < C; c++) {
        __global const float *xc = x + ((size_t)n * C + c) * H * 32;
        __global const float *wc = wp + ((size_t)(m0 / 16) * C + c) * 144;
        for (int kh = 0; kh < 3; kh++) {
            const int ih = 2 * oh + kh - 1;
            if (ih < 0 || ih >= H) continue;
            const float16 u = vload16(0, xc + ih * 32), v = vload16(1, xc + ih * 32);
            const float16 r = EOS_EVENS16(u, v), R = EOS_ODDS16(u, v), L = EOS_SHL16(R);
            EOS_TAPS16(16, 16)
        }
    }
    const float16 a[16] = {EOS_LIST16};
    for (int g = 0; g < 16 && m0 + g < K; g++) {
        __global float *out = y + (((size_t)n * K + m0 + g) * OH + oh) * 16;
        EOS_STORE(16, a[g], 0, out, m0 + g)
        if (epi & 8) EOS_STAT1(16, (size_t)(m0 + g) * N * OH + (size_t)n * OH + oh, a[g])
    }
}
/* rows of 16 in, 8 out: two output rows oh, oh + 1 per float16 (input rows 2 oh + kh - 1 and two
 * below); an odd OH's last pair stores one row */
__kernel void eos_conv3x3s2_w16_v16(__global const float *x, __global const float *wp, __global float *y, const int C,
                                    const int K, const int H, const int N, EOS_EPI_ARGS) {
    const int OH = (H + 1) / 2, oh = get_global_id(0) * 2, m0 = get_global_id(1) * 16, n = get_global_id(2);
    if (oh >= OH || m0 >= K || n >= N) return;
    EOS_ACC16(16);
    for (int c = 0; c < C; c++) {
        __global const float *xc = x + ((size_t)n * C + c) * H * 16;
        __global const float *wc = wp + ((size_t)(m0 / 16) * C + c) * 144;
        for (int kh = 0; kh < 3; kh++) {
            const int ia = 2 * oh + kh - 1, ib = ia + 2;
            float16 u = 0.0f, v = 0.0f;
            if (ia >= 0 && ia < H) u = vload16(ia, xc);
            if (ib < H && oh + 1 < OH) v = vload16(ib, xc);
            const float16 r = EOS_EVENS16(u, v), R = EOS_ODDS16(u, v), L = EOS_SHL2(R);
            EOS_TAPS16(16, 16)
        }
    }
    const float16 a[16] = {EOS_LIST16};
    EOS_STORE_ROW_PAIRS(OH)
}

/* wp (ceil(O / G), I, 3, 3, G): the weights of a convolution with O output and I input channels
 * packed for groups of G output channels, zero past O; from w (O, I, 3, 3) (forward, flip 0), or
 * from w (I, O, 3, 3) transposed and flipped (flip 1: stride 1's dx, w' (C, K, 3, 3)) or only
 * transposed (flip 2: stride 2's dx, eos_conv3x3s2_dx_*); each output channel o
 * times the batch norm's scale gamma[o] / sqrt(rvar[o] + eps) when fold (inference: the shift
 * beta[o] - rmean[o] scale goes to shift[o], for the kernels' epilogue). Work-item (input channel ci,
 * group og) writes its 9 G contiguous weights (one work-item per weight cost PoCL a work-group
 * launch each). */
__kernel void eos_conv3x3_pack(__global const float *w, __global float *wp, const int O, const int I, const int G,
                               const int flip, __global const float *gamma, __global const float *beta,
                               __global const float *rmean, __global const float *rvar, const float eps,
                               __global float *shift, const int fold) {
    const int ci = get_global_id(0), og = get_global_id(1);
    if (ci >= I || og >= (O + G - 1) / G) return;
    __global float *out = wp + ((size_t)og * I + ci) * 9 * G;
    for (int g = 0; g < G; g++) {
        const int o = og * G + g;
        const float f = o < O && fold ? gamma[o] * rsqrt(rvar[o] + eps) : 1.0f;
        if (o < O && fold && ci == 0) shift[o] = beta[o] - rmean[o] * f;
        for (int t = 0; t < 9; t++)
            out[t * G + g] = o >= O     ? 0.0f
                           : flip == 1 ? f * w[((size_t)ci * O + o) * 9 + 8 - t]
                           : flip == 2 ? f * w[((size_t)ci * O + o) * 9 + t]
                                       : f * w[((size_t)o * I + ci) * 9 + t];
    }
}

/* dw (K, C, 3, 3): work-item (input channel c, output channels m0 and m0 + 1) sums over every
 * image and row the products of the two dy rows with the three shifted x rows above, on and below
 * them: one vector accumulator per tap and output channel, summed across lanes at the end.
 * Two output channels at once: every x row and its shifts, read once, serve both dy planes, a
 * quarter less memory traffic than one channel per work-item; one vector chunk of the row at a
 * time keeps the live registers at 18 accumulators + 3 x chunks + 2 dy chunks (EOS_DW2_CHUNK).
 * The batch in slices: work-item (c, m0 / 2, slice s) sums images s * step .. (s + 1) * step - 1
 * into out (S, K, C, 3, 3), slice s's own sums; the host sums the slices in order
 * (eos_conv_dw_reduce), or out is dw itself when one slice takes the batch. A slice's x and dy
 * planes stay in the core's cache while every (c, m0) pair reads them (host/nn/conv.c sizes it),
 * and a device that caps a work-item's loop trips (eos__loop_cap) gets slices under the cap. */
#define EOS_DW2_TAPS(kh, d, e, L, r, R)                                                              \
    if (kh == 0) { t0 = EOS_MAD(d, L, t0); t1 = EOS_MAD(d, r, t1); t2 = EOS_MAD(d, R, t2);          \
                   u0 = EOS_MAD(e, L, u0); u1 = EOS_MAD(e, r, u1); u2 = EOS_MAD(e, R, u2); }        \
    else if (kh == 1) { t3 = EOS_MAD(d, L, t3); t4 = EOS_MAD(d, r, t4); t5 = EOS_MAD(d, R, t5);     \
                        u3 = EOS_MAD(e, L, u3); u4 = EOS_MAD(e, r, u4); u5 = EOS_MAD(e, R, u5); }   \
    else { t6 = EOS_MAD(d, L, t6); t7 = EOS_MAD(d, r, t7); t8 = EOS_MAD(d, R, t8);                  \
           u6 = EOS_MAD(e, L, u6); u7 = EOS_MAD(e, r, u7); u8 = EOS_MAD(e, R, u8); }

/* One x row r at a time, the outer loop: its chunk j and the chunk's shifts (edge: FIRST / LAST
 * say whether the left / right shift takes a zero at the row's end) are built once and serve the
 * three dy rows that read them, r + 1 (tap row 0), r (1) and r - 1 (2). Looping over dy rows
 * instead rebuilt every x row's shifts three times: on AVX-512 the lane shifts share a port with
 * the FMAs. The three tap rows are written out, not looped over: with a loop over kh, PoCL's
 * compiler kept the loop and chose each tap row's accumulators by branches at run time (three
 * compares and jumps per six FMAs). */
#define EOS_DW2_DY(V, W, kh, oh, j, L, r, R)                                                        \
    {                                                                                              \
        const float##V d = vload##V(j, da + (oh) * W), e = vload##V(j, db + (oh) * W);             \
        EOS_DW2_TAPS(kh, d, e, L, r, R)                                                            \
    }
#define EOS_DW2_CHUNK(V, W, j, FIRST, LAST)                                                         \
    {                                                                                              \
        __global const float *row = xc + ih * W;                                                   \
        const float##V r = vload##V(j, row);                                                       \
        const float##V L = FIRST ? EOS_SHL##V(r) : vload##V(0, row + V * (j) - 1);                 \
        const float##V R = LAST ? EOS_SHR##V(r) : vload##V(0, row + V * (j) + 1);                  \
        if (ih + 1 < H) EOS_DW2_DY(V, W, 0, ih + 1, j, L, r, R)                                    \
        EOS_DW2_DY(V, W, 1, ih, j, L, r, R)                                                        \
        if (ih > 0) EOS_DW2_DY(V, W, 2, ih - 1, j, L, r, R)                                        \
    }
/* the chunks of one row, by row width W and vector width V */
#define EOS_DW2_ROW_32_8 EOS_DW2_CHUNK(8, 32, 0, 1, 0) EOS_DW2_CHUNK(8, 32, 1, 0, 0) \
                         EOS_DW2_CHUNK(8, 32, 2, 0, 0) EOS_DW2_CHUNK(8, 32, 3, 0, 1)
#define EOS_DW2_ROW_16_8 EOS_DW2_CHUNK(8, 16, 0, 1, 0) EOS_DW2_CHUNK(8, 16, 1, 0, 1)
#define EOS_DW2_ROW_8_8 EOS_DW2_CHUNK(8, 8, 0, 1, 1)  /* one chunk: a zero at both ends of the shifts */
#define EOS_DW2_ROW_32_16 EOS_DW2_CHUNK(16, 32, 0, 1, 0) EOS_DW2_CHUNK(16, 32, 1, 0, 1)
#define EOS_DW2_ROW_16_16 EOS_DW2_CHUNK(16, 16, 0, 1, 1)

/* float16 (AVX-512's 32 registers): two x rows at a time, ih and ih + 1, against the dy rows ih - 1
 * .. ih + 2, so each dy row is loaded once for the pair instead of once for each of its x rows
 * (8 dy loads for 36 multiply-adds, not 12): 18 accumulators + 6 x chunks + 2 dy chunks live. On
 * the 2-core AVX-512 Xeon (batch 128, median of 9, four alternating pairs): rows of 32 2.36-2.48 ->
 * 2.21-2.34 ms, rows of 16 2.44-2.51 -> 2.24-2.32 ms. Three rows at a time gained nothing more;
 * float8 (AVX2's 16 registers) keeps one row. */
#define EOS_DW2_DYP(V, W, oh, j) const float##V d = vload##V(j, da + (oh) * W), e = vload##V(j, db + (oh) * W);
#define EOS_DW2_PAIR_CHUNK(V, W, j, FIRST, LAST)                                                   \
    {                                                                                              \
        __global const float *row = xc + ih * W, *row1 = row + W;                                  \
        const float##V r = vload##V(j, row), r1 = vload##V(j, row1);                               \
        const float##V L = FIRST ? EOS_SHL##V(r) : vload##V(0, row + V * (j) - 1);                 \
        const float##V R = LAST ? EOS_SHR##V(r) : vload##V(0, row + V * (j) + 1);                  \
        const float##V L1 = FIRST ? EOS_SHL##V(r1) : vload##V(0, row1 + V * (j) - 1);              \
        const float##V R1 = LAST ? EOS_SHR##V(r1) : vload##V(0, row1 + V * (j) + 1);               \
        if (ih > 0) { EOS_DW2_DYP(V, W, ih - 1, j) EOS_DW2_TAPS(2, d, e, L, r, R) }                \
        { EOS_DW2_DYP(V, W, ih, j) EOS_DW2_TAPS(1, d, e, L, r, R) EOS_DW2_TAPS(2, d, e, L1, r1, R1) } \
        { EOS_DW2_DYP(V, W, ih + 1, j) EOS_DW2_TAPS(0, d, e, L, r, R) EOS_DW2_TAPS(1, d, e, L1, r1, R1) } \
        if (ih + 2 < H) { EOS_DW2_DYP(V, W, ih + 2, j) EOS_DW2_TAPS(0, d, e, L1, r1, R1) }         \
    }
#define EOS_DW2_PAIR_32_16 EOS_DW2_PAIR_CHUNK(16, 32, 0, 1, 0) EOS_DW2_PAIR_CHUNK(16, 32, 1, 0, 1)
#define EOS_DW2_PAIR_16_16 EOS_DW2_PAIR_CHUNK(16, 16, 0, 1, 1)
#define EOS_DW2_PAIR_32_8
#define EOS_DW2_PAIR_16_8
#define EOS_DW2_PAIR_8_8

#define EOS_DW2_START(V)                                                                           \
    const int c = get_global_id(0), m0 = get_global_id(1) * 2, n0 = get_global_id(2) * step;        \
    const int n1 = min(N, n0 + step);                                                              \
    if (c >= C || m0 >= K || n0 >= N) return;                                                      \
    __global float *dw = out + (size_t)get_global_id(2) * K * C * 9;                               \
    const int two = m0 + 1 < K;                                                                    \
    float##V t0 = 0, t1 = 0, t2 = 0, t3 = 0, t4 = 0, t5 = 0, t6 = 0, t7 = 0, t8 = 0;               \
    float##V u0 = 0, u1 = 0, u2 = 0, u3 = 0, u4 = 0, u5 = 0, u6 = 0, u7 = 0, u8 = 0
#define EOS_DW2_STORE(V)                                                                           \
    {                                                                                              \
        const float##V t[9] = {t0, t1, t2, t3, t4, t5, t6, t7, t8}, u[9] = {u0, u1, u2, u3, u4, u5, u6, u7, u8}; \
        __global float *o = dw + ((size_t)m0 * C + c) * 9, *q = dw + ((size_t)(m0 + 1) * C + c) * 9; \
        for (int i = 0; i < 9; i++) {                                                              \
            o[i] = EOS_HSUM##V(t[i]);                                                              \
            if (two) q[i] = EOS_HSUM##V(u[i]);                                                     \
        }                                                                                          \
    }
#define EOS_DW2_KERNEL(NAME, V, W)                                                                      \
    __kernel void NAME(__global const float *x, __global const float *dy, __global float *out, const int N, \
                       const int C, const int K, const int H, const int step) {                         \
        EOS_DW2_START(V);                                                                               \
        for (int n = n0; n < n1; n++) {                                                                 \
            __global const float *xc = x + ((size_t)n * C + c) * H * W;                                 \
            __global const float *da = dy + ((size_t)n * K + m0) * H * W;                               \
            __global const float *db = dy + ((size_t)n * K + m0 + two) * H * W;                         \
            int ih = 0;                                                                                 \
            if (V == 16)                                                                                \
                for (; ih + 1 < H; ih += 2) {                                                           \
                    EOS_DW2_PAIR_##W##_##V                                                              \
                }                                                                                       \
            for (; ih < H; ih++) {  /* float8's rows; float16's last row of an odd H */                 \
                EOS_DW2_ROW_##W##_##V                                                                   \
            }                                                                                           \
        }                                                                                               \
        EOS_DW2_STORE(V)                                                                                \
    }
EOS_DW2_KERNEL(eos_conv3x3_dw2_w32, 8, 32)
EOS_DW2_KERNEL(eos_conv3x3_dw2_w16, 8, 16)
EOS_DW2_KERNEL(eos_conv3x3_dw2_w8, 8, 8)
EOS_DW2_KERNEL(eos_conv3x3_dw2_w32_v16, 16, 32)
EOS_DW2_KERNEL(eos_conv3x3_dw2_w16_v16, 16, 16)

/* Rows of 8 in float16: two rows of the plane per vector (eos_rows2), the dy rows oh, oh + 1
 * against the x rows oh - 1 + kh, oh + kh for the three tap rows kh, written out. The x pair
 * (oh + 1, oh + 2) of tap row 2 is the next dy pair's tap row 0: kept with its shifts, so each
 * dy pair builds two x pairs, not three. */
#define EOS_DW2_W8_PAIR(oh, H)                                                                     \
    {                                                                                              \
        const float16 d = eos_rows2(da, oh, H), e = eos_rows2(db, oh, H);                          \
        EOS_DW2_TAPS(0, d, e, pL, p, pR)                                                           \
        {                                                                                          \
            const float16 r = eos_rows2(xc, oh, H), L = EOS_SHL2(r), R = EOS_SHR2(r);              \
            EOS_DW2_TAPS(1, d, e, L, r, R)                                                         \
        }                                                                                          \
        p = eos_rows2(xc, (oh) + 1, H);                                                            \
        pL = EOS_SHL2(p);                                                                          \
        pR = EOS_SHR2(p);                                                                          \
        EOS_DW2_TAPS(2, d, e, pL, p, pR)                                                           \
    }
__kernel void eos_conv3x3_dw2_w8_v16(__global const float *x, __global const float *dy, __global float *out,
                                     const int N, const int C, const int K, const int H, const int step) {
    EOS_DW2_START(16);
    for (int n = n0; n < n1; n++) {
        __global const float *xc = x + ((size_t)n * C + c) * H * 8;
        __global const float *da = dy + ((size_t)n * K + m0) * H * 8, *db = dy + ((size_t)n * K + m0 + two) * H * 8;
        float16 p = eos_rows2(xc, -1, H), pL = EOS_SHL2(p), pR = EOS_SHR2(p);  /* rows -1 (zero), 0 */
        if (H == 8) {  /* the 8 x 8 planes of ResNet's last stage: the pairs written out */
            EOS_DW2_W8_PAIR(0, 8) EOS_DW2_W8_PAIR(2, 8) EOS_DW2_W8_PAIR(4, 8) EOS_DW2_W8_PAIR(6, 8)
        } else {
            for (int oh = 0; oh < H; oh += 2) EOS_DW2_W8_PAIR(oh, H)
        }
    }
    EOS_DW2_STORE(16)
}

/* Stride 2's data gradient (direct16): dx (N, C, H, W) from dy (N, K, OH, OW), W = 2 OW, OH =
 * (H + 1) / 2. dx row ih takes dy row oh = (ih + 1 - kh) / 2 for the tap rows kh that make it
 * whole (kh = 1 for even ih; 0 and 2 for odd ih); its even pixels 2j take the kw = 1 tap of dy
 * pixel j, its odd pixels 2j + 1 the kw = 2 tap of pixel j and the kw = 0 tap of pixel j + 1. So
 * each of the G = 8 dx channels keeps its even (E) and odd (O) pixels in two vectors of OW lanes,
 * interleaved once at the store. Work-item (dx row ih, group of 8 dx channels, image n); weights
 * packed (ceil(C / 8), K, 3, 3, 8) (eos_conv3x3_pack, flip 2). float16 for rows of 32 (OW 16),
 * float8 for rows of 16 (OW 8). */
#define EOS_S2DX_TAP(V, g, e, o)                                                                   \
    {                                                                                              \
        __global const float *wg = wc + kh * 24 + (g);                                             \
        e = EOS_MAD((float##V)(wg[8]), d, e);                                                      \
        o = EOS_MAD((float##V)(wg[0]), R, EOS_MAD((float##V)(wg[16]), d, o));                      \
    }
#define EOS_IL16(e, o, h)                                                                          \
    ((float16)((e).s##h##0, (o).s##h##0, (e).s##h##1, (o).s##h##1, (e).s##h##2, (o).s##h##2, (e).s##h##3, \
               (o).s##h##3, (e).s##h##4, (o).s##h##4, (e).s##h##5, (o).s##h##5, (e).s##h##6, (o).s##h##6,  \
               (e).s##h##7, (o).s##h##7))
#define EOS_CONV_S2_DX(NAME, V)                                                                         \
    __kernel void NAME(__global const float *dy, __global const float *wp, __global float *dx, const int C, \
                       const int K, const int H, const int N) {                                         \
        const int OH = (H + 1) / 2, ih = get_global_id(0), c0 = get_global_id(1) * 8, n = get_global_id(2); \
        if (ih >= H || c0 >= C || n >= N) return;                                                       \
        float##V e0 = 0, e1 = 0, e2 = 0, e3 = 0, e4 = 0, e5 = 0, e6 = 0, e7 = 0;                        \
        float##V o0 = 0, o1 = 0, o2 = 0, o3 = 0, o4 = 0, o5 = 0, o6 = 0, o7 = 0;                        \
        for (int m = 0; m < K; m++) {                                                                   \
            __global const float *dm = dy + ((size_t)n * K + m) * OH * V;                               \
            __global const float *wc = wp + ((size_t)(c0 / 8) * K + m) * 72;                            \
            for (int kh = 0; kh < 3; kh++) {                                                            \
                const int t = ih + 1 - kh;                                                              \
                if ((t & 1) || t < 0 || t / 2 >= OH) continue;                                          \
                const float##V d = vload##V(t / 2, dm), R = EOS_SHR##V(d);                              \
                EOS_S2DX_TAP(V, 0, e0, o0) EOS_S2DX_TAP(V, 1, e1, o1) EOS_S2DX_TAP(V, 2, e2, o2)        \
                EOS_S2DX_TAP(V, 3, e3, o3) EOS_S2DX_TAP(V, 4, e4, o4) EOS_S2DX_TAP(V, 5, e5, o5)        \
                EOS_S2DX_TAP(V, 6, e6, o6) EOS_S2DX_TAP(V, 7, e7, o7)                                   \
            }                                                                                           \
        }                                                                                               \
        const float##V e[8] = {e0, e1, e2, e3, e4, e5, e6, e7}, o[8] = {o0, o1, o2, o3, o4, o5, o6, o7}; \
        for (int g = 0; g < 8 && c0 + g < C; g++) {                                                     \
            __global float *out = dx + (((size_t)n * C + c0 + g) * H + ih) * (2 * V);                   \
            EOS_S2DX_STORE##V(e[g], o[g], out)                                                          \
        }                                                                                               \
    }
#define EOS_S2DX_STORE16(e, o, out) vstore16(EOS_IL16(e, o, ), 0, out); vstore16(EOS_IL16((e).hi, (o).hi, ), 1, out);
#define EOS_S2DX_STORE8(e, o, out) vstore16(EOS_IL16(e, o, ), 0, out);
EOS_CONV_S2_DX(eos_conv3x3s2_dx_w32_v16, 16)
EOS_CONV_S2_DX(eos_conv3x3s2_dx_w16_v8, 8)

/* dx rows of 16 in float16, H a multiple of 4: work-item (row pair p, group of 8 dx channels,
 * image n) takes dx rows ih = 4 (p / 2) + p % 2 and ih + 2, which have the same parity and so the
 * same taps, from dy rows t / 2 and t / 2 + 1 side by side (eos_rows2, zero past OH); the shift
 * by one dy pixel inside each half (EOS_SHR2). Twice the lanes of eos_conv3x3s2_dx_w16_v8 a
 * multiply-add. */
__kernel void eos_conv3x3s2_dx_w16_v16(__global const float *dy, __global const float *wp, __global float *dx,
                                       const int C, const int K, const int H, const int N) {
    const int OH = H / 2, p = get_global_id(0), c0 = get_global_id(1) * 8, n = get_global_id(2);
    const int ih = 4 * (p / 2) + p % 2;
    if (ih >= H || c0 >= C || n >= N) return;
    float16 e0 = 0, e1 = 0, e2 = 0, e3 = 0, e4 = 0, e5 = 0, e6 = 0, e7 = 0;
    float16 o0 = 0, o1 = 0, o2 = 0, o3 = 0, o4 = 0, o5 = 0, o6 = 0, o7 = 0;
    for (int m = 0; m < K; m++) {
        __global const float *dm = dy + ((size_t)n * K + m) * OH * 8;
        __global const float *wc = wp + ((size_t)(c0 / 8) * K + m) * 72;
        for (int kh = 0; kh < 3; kh++) {
            const int t = ih + 1 - kh;  /* >= 0 whenever even */
            if (t & 1) continue;
            const float16 d = eos_rows2(dm, t / 2, OH), R = EOS_SHR2(d);
            EOS_S2DX_TAP(16, 0, e0, o0) EOS_S2DX_TAP(16, 1, e1, o1) EOS_S2DX_TAP(16, 2, e2, o2)
            EOS_S2DX_TAP(16, 3, e3, o3) EOS_S2DX_TAP(16, 4, e4, o4) EOS_S2DX_TAP(16, 5, e5, o5)
            EOS_S2DX_TAP(16, 6, e6, o6) EOS_S2DX_TAP(16, 7, e7, o7)
        }
    }
    const float16 e[8] = {e0, e1, e2, e3, e4, e5, e6, e7}, o[8] = {o0, o1, o2, o3, o4, o5, o6, o7};
    for (int g = 0; g < 8 && c0 + g < C; g++) {
        __global float *out = dx + (((size_t)n * C + c0 + g) * H + ih) * 16;
        vstore16(EOS_IL16(e[g], o[g], ), 0, out);
        vstore16(EOS_IL16(e[g].hi, o[g].hi, ), 0, out + 32);
    }
}

/* Stride 2's weight gradient (direct16): dw (K, C, 3, 3) as the stride-1 kernels do it (work-item
 * (c, output channel pair, batch slice), 18 accumulators, slices summed by eos_conv_dw_reduce), the
 * dy row oh against x rows 2 oh - 1 + kh split into even pixels (kw = 1), odd ones (kw = 2) and the
 * odd ones one pixel right (kw = 0). dy rows of OW = V lanes: float16 for x rows of 32, float8 for
 * x rows of 16 (the halves as literals: float16's .even / .odd made Oclgrind 21.10 report the
 * results as uninitialised). */
#define EOS_S2DW_ROW(V, kh)                                                                        \
    {                                                                                              \
        const int ih = 2 * oh + kh - 1;                                                            \
        if (ih >= 0 && ih < H) {                                                                   \
            __global const float *row = xc + ih * (2 * V);                                         \
            EOS_S2_SPLIT##V(row)                                                                   \
            EOS_DW2_TAPS(kh, d, e, L, r, R)                                                        \
        }                                                                                          \
    }
#define EOS_S2_SPLIT16(row)                                                                        \
    const float16 u = vload16(0, row), v = vload16(1, row);                                        \
    const float16 r = EOS_EVENS16(u, v), R = EOS_ODDS16(u, v), L = EOS_SHL16(R);
#define EOS_S2_SPLIT8(row)                                                                         \
    const float16 u = vload16(0, row);                                                             \
    const float8 r = (float8)(u.s0, u.s2, u.s4, u.s6, u.s8, u.sa, u.sc, u.se);                     \
    const float8 R = (float8)(u.s1, u.s3, u.s5, u.s7, u.s9, u.sb, u.sd, u.sf), L = EOS_SHL8(R);
#define EOS_CONV_S2_DW(NAME, V)                                                                         \
    __kernel void NAME(__global const float *x, __global const float *dy, __global float *out, const int N, \
                       const int C, const int K, const int H, const int step) {                         \
        EOS_DW2_START(V);                                                                               \
        const int OH = (H + 1) / 2;                                                                     \
        for (int n = n0; n < n1; n++) {                                                                 \
            __global const float *xc = x + ((size_t)n * C + c) * H * (2 * V);                           \
            __global const float *da = dy + ((size_t)n * K + m0) * OH * V;                              \
            __global const float *db = dy + ((size_t)n * K + m0 + two) * OH * V;                        \
            for (int oh = 0; oh < OH; oh++) {                                                           \
                const float##V d = vload##V(oh, da), e = vload##V(oh, db);                              \
                EOS_S2DW_ROW(V, 0) EOS_S2DW_ROW(V, 1) EOS_S2DW_ROW(V, 2)                                \
            }                                                                                           \
        }                                                                                               \
        EOS_DW2_STORE(V)                                                                                \
    }

EOS_CONV_S2_DW(eos_conv3x3s2_dw_w32_v16, 16)
EOS_CONV_S2_DW(eos_conv3x3s2_dw_w16_v8, 8)

/* x rows of 16 in float16, H a multiple of 4: the dy row pair (oh, oh + 1) as one vector (8 lanes
 * a row), against x rows 2 oh + kh - 1 and 2 oh + kh + 1 split side by side into even pixels, odd
 * ones and the odd ones one pixel right (EOS_SHL2: a zero at the start of each half). Twice the
 * lanes of eos_conv3x3s2_dw_w16_v8 a multiply-add for the same shuffles. */
#define EOS_S2DW_PAIR(kh)                                                                          \
    {                                                                                              \
        const int ia = 2 * oh + (kh) - 1;                                                          \
        const float16 u = ia >= 0 ? vload16(0, xc + ia * 16) : Z, v = vload16(0, xc + (ia + 2) * 16); \
        const float16 r = EOS_EVENS16(u, v), R = EOS_ODDS16(u, v), L = EOS_SHL2(R);                \
        EOS_DW2_TAPS(kh, d, e, L, r, R)                                                            \
    }
__kernel void eos_conv3x3s2_dw_w16_v16(__global const float *x, __global const float *dy, __global float *out,
                                       const int N, const int C, const int K, const int H, const int step) {
    EOS_DW2_START(16);
    const int OH = H / 2;
    const float16 Z = 0.0f;
    for (int n = n0; n < n1; n++) {
        __global const float *xc = x + ((size_t)n * C + c) * H * 16;
        __global const float *da = dy + ((size_t)n * K + m0) * OH * 8;
        __global const float *db = dy + ((size_t)n * K + m0 + two) * OH * 8;
        for (int oh = 0; oh < OH; oh += 2) {
            const float16 d = vload16(0, da + oh * 8), e = vload16(0, db + oh * 8);
            EOS_S2DW_PAIR(0) EOS_S2DW_PAIR(1) EOS_S2DW_PAIR(2)
        }
    }
    EOS_DW2_STORE(16)
}

/* ---- Winograd F(2x2,3x3) in one kernel, for rows of 32, 16 and 8 (algorithm "winograd" on the
 * CPU paths, host/nn/conv.c; the transforms are those of conv_winograd.cl, which holds the
 * general, unfused form). 16 multiplications per 2x2 output tile and channel pair instead of the
 * direct sum's 36, with the transforms kept out of memory: work-item (block of 16 tiles, image n)
 * transforms its 16 tiles of every input channel into local memory (V, 16 x C float16, element
 * by element: one lane a tile), then for each group of 16 output channels takes the 16 products as 16 x 16 float16
 * accumulators summed over C (M), and transforms M back to 2x2 outputs as it stores them, with the
 * direct kernels' epilogue (EOS_STORE) and statistics. PoCL's local memory is the core's cache,
 * so V and M never leave it. A block is one tile row of a 32-pixel plane, two of a 16-pixel plane,
 * four (the whole image) of an 8-pixel plane: its 4 input rows i hold, side by side in (l, h), the
 * rows y0 + i of each of its tile rows (y0 the block's first row - 1), so one set of shuffles
 * (EOS_EVENS16 / EOS_ODDS16: the tiles' even and odd columns; the shifts by one tile inside each
 * tile row) serves all three widths. U (16, C, Kp): the transformed filters of the Kp = K rounded
 * up to 16 output channels (zero past K), eos_wino_pack. H a multiple of the block's rows. */
#define EOS_SHL4(r)                                                                                \
    ((float16)(0.0f, (r).s0, (r).s1, (r).s2, 0.0f, (r).s4, (r).s5, (r).s6, 0.0f, (r).s8, (r).s9,   \
               (r).sa, 0.0f, (r).sc, (r).sd, (r).se))
#define EOS_SHR4(r)                                                                                \
    ((float16)((r).s1, (r).s2, (r).s3, 0.0f, (r).s5, (r).s6, (r).s7, 0.0f, (r).s9, (r).sa, (r).sb, \
               0.0f, (r).sd, (r).se, (r).sf, 0.0f))
/* the shifts by one tile inside a tile row, by width: 16, 8 or 4 tiles a row */
#define EOS_WSHL_32 EOS_SHL16
#define EOS_WSHR_32 EOS_SHR16
#define EOS_WSHL_16 EOS_SHL2
#define EOS_WSHR_16 EOS_SHR2
#define EOS_WSHL_8 EOS_SHL4
#define EOS_WSHR_8 EOS_SHR4
#define EOS_WROWS_32 1
#define EOS_WROWS_16 2
#define EOS_WROWS_8 4

/* U (16, I, Op) = G g G^T of each filter g of w: (O, I, 3, 3) as it is (flip 0) or (I, O, 3, 3)
 * transposed and flipped (flip 1: the data gradient's); channels o >= O zero; with fold, each
 * output channel's filter scaled by gamma / sqrt(var + eps) and its shift written, like
 * eos_conv3x3_pack. G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]. Work-item (16 output channels o0..,
 * input channel i): the transform in float16 across the 16 filters, stored as whole vectors
 * (one filter a work-item in scalar code: 3.25 -> 1.3 ms for ResNet-32's 57 a step). */
__kernel void eos_wino_pack(__global const float *w, __global float *U, const int O, const int I, const int Op,
                            const int flip, __global const float *gamma, __global const float *beta,
                            __global const float *rmean, __global const float *rvar, const float eps,
                            __global float *shift, const int fold) {
    const int i = get_global_id(1), o0 = get_global_id(0) * 16;
    if (o0 >= Op || i >= I) return;
    float gl[9 * 16];  /* the 16 filters' taps, tap-major, gathered one filter at a time */
    for (int l = 0; l < 16; l++) {
        const int o = o0 + l;
        const float f = o < O && fold ? gamma[o] * rsqrt(rvar[o] + eps) : 1.0f;
        if (o < O && fold && i == 0) shift[o] = beta[o] - rmean[o] * f;
        for (int t = 0; t < 9; t++)
            gl[t * 16 + l] = o >= O ? 0.0f : flip ? f * w[((size_t)i * O + o) * 9 + 8 - t] : f * w[((size_t)o * I + i) * 9 + t];
    }
    float16 g[9];
    for (int t = 0; t < 9; t++) g[t] = vload16(t, gl);
    for (int r = 0; r < 4; r++) {
        float16 a[3];  /* row r of G g */
        for (int j = 0; j < 3; j++)
            a[j] = r == 0 ? g[j] : r == 3 ? g[6 + j] : 0.5f * (g[j] + (r == 1 ? g[3 + j] : -g[3 + j]) + g[6 + j]);
        const float16 u[4] = {a[0], 0.5f * (a[0] + a[1] + a[2]), 0.5f * (a[0] - a[1] + a[2]), a[2]};
        for (int j = 0; j < 4; j++) vstore16(u[j], 0, U + ((size_t)(4 * r + j) * I + i) * Op + o0);
    }
}

/* input row i of the block (see above): rows y0 + i of its 1, 2 or 4 tile rows, zero outside 0..H-1 */
inline float8 eos_wrow8(__global const float *xc, const int r, const int H) {
    return r >= 0 && r < H ? vload8(r, xc) : (float8)0.0f;
}
inline float16 eos_wrow16(__global const float *xc, const int r, const int H) {
    return r >= 0 && r < H ? vload16(r, xc) : (float16)0.0f;
}
#define EOS_WLOAD_32(i)                                                                            \
    const float16 l##i = y0 + i >= 0 && y0 + i < H ? vload16(0, xc + (y0 + i) * 32) : Z,           \
                  h##i = y0 + i >= 0 && y0 + i < H ? vload16(1, xc + (y0 + i) * 32) : Z;
#define EOS_WLOAD_16(i) const float16 l##i = eos_wrow16(xc, y0 + i, H), h##i = eos_wrow16(xc, y0 + 2 + i, H);
#define EOS_WLOAD_8(i) /* zeroed first: halves set into an unset vector read as unset in Oclgrind */ \
    float16 l##i = Z, h##i = Z;                                                                    \
    l##i.lo = eos_wrow8(xc, y0 + i, H);                                                            \
    l##i.hi = eos_wrow8(xc, y0 + 2 + i, H);                                                        \
    h##i.lo = eos_wrow8(xc, y0 + 4 + i, H);                                                        \
    h##i.hi = eos_wrow8(xc, y0 + 6 + i, H);
/* row i of B^T d B from row i of B^T d (l, h): the tiles' columns 2t - 1, 2t, 2t + 1, 2t + 2 are
 * the odd pixels one tile right (A), the even (E), the odd (O), the even one tile left (D);
 * B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1] */
#define EOS_WIN_ROW(W, l, h, i)                                                                    \
    {                                                                                              \
        const float16 E = EOS_EVENS16(l, h), O = EOS_ODDS16(l, h), A = EOS_WSHL_##W(O), D = EOS_WSHR_##W(E); \
        v[4 * (i) * C] = A - O;                                                                    \
        v[(4 * (i) + 1) * C] = E + O;                                                              \
        v[(4 * (i) + 2) * C] = O - E;                                                              \
        v[(4 * (i) + 3) * C] = E - D;                                                              \
    }
#define EOS_WFMA(j) a##j = EOS_MAD((float16)(u[j]), q, a##j);
/* an output row pair's store from its tiles' even (E) and odd (O) outputs, interleaved: rows of
 * 32: row r (two halves); 16: rows r and r + 2; 8: rows r, r + 2, r + 4, r + 6, a quarter of the
 * lanes each (float8 literals: the .hi half of an interleaved float16 read as unset in Oclgrind) */
#define EOS_WST_32(r, E, O)                                                                        \
    EOS_STORE(16, EOS_IL16(E, O, ), 0, out + (r) * 32, k) EOS_STORE(16, EOS_IL16((E).hi, (O).hi, ), 1, out + (r) * 32, k)
#define EOS_WST_16(r, E, O)                                                                        \
    EOS_STORE(16, EOS_IL16(E, O, ), 0, out + (r) * 16, k)                                          \
    EOS_STORE(16, EOS_IL16((E).hi, (O).hi, ), 0, out + ((r) + 2) * 16, k)
#define EOS_IL4(E, O, A, B, C, D) ((float8)((E).s##A, (O).s##A, (E).s##B, (O).s##B, (E).s##C, (O).s##C, (E).s##D, (O).s##D))
#define EOS_WST_8(r, E, O)                                                                         \
    EOS_STORE(8, EOS_IL4(E, O, 0, 1, 2, 3), 0, out + (r) * 8, k)                                   \
    EOS_STORE(8, EOS_IL4(E, O, 4, 5, 6, 7), 0, out + ((r) + 2) * 8, k)                             \
    EOS_STORE(8, EOS_IL4(E, O, 8, 9, a, b), 0, out + ((r) + 4) * 8, k)                             \
    EOS_STORE(8, EOS_IL4(E, O, c, d, e, f), 0, out + ((r) + 6) * 8, k)
#define EOS_WM(e) m[(e) * 16]
/* The data gradient's epilogue for the batch norm whose output gradient it is (epi bit 4,
 * host/nn/conv.c eos__conv2d_backward_bn): after the residual's gradient is added, each value d
 * is masked by the ReLU that followed the batch norm (bm, its output, > 0) and stored so, and the
 * work-item sums d and d (bx - bmu[k]) over its unit (bx the batch norm's input, like y) into
 * part (K, P, 2), P = N B units a channel in (image, block) order: what eos_bn_backward_partial
 * writes for its chunks, so eos_bn_backward_merge sums them. The batch norm then skips its
 * reduce pass, which read dy, its output and its input again. The mask as a bitwise and with
 * the comparison's all-ones lanes: select() measured no different. */
#undef EOS_STORE_MORE
#define EOS_STORE_MORE(V, i, p)                                                                    \
    if (epi & 16) {                                                                                \
        const size_t q_ = (size_t)((p) - y) + (size_t)(i) * V;                                     \
        o_ = as_float##V(as_int##V(o_) & isgreater(vload##V(0, bm + q_), (float##V)(0.0f)));       \
        bs##V += o_;                                                                               \
        bg##V = EOS_MAD(o_, vload##V(0, bx + q_) - (float##V)(mu_), bg##V);                        \
    }
/* 256 bytes at a into the core's L2 ahead of their use (EOS_PREFETCH: PoCL's CPU device, whose
 * compiler takes clang's builtin; elsewhere nothing). The sums above read each channel's 256
 * bytes of bm, bx and res at 1-4 KiB strides, long out of the caches, which the hardware
 * prefetchers do not follow: fetched one channel per product step (e below), the data gradient
 * on rows of 32 went 28.2 -> 21.7 ms for the 10 of a ResNet-32 step, rows of 16 13.9 -> 11.5 ms
 * for 9 (all fetched at the block's start: 24.3 and 12.8 ms). */
#ifdef EOS_PREFETCH
#define EOS_PF4(a)                                                                                 \
    {                                                                                              \
        __global const char *c_ = (__global const char *)(a);                                      \
        __builtin_prefetch(c_, 0, 2);                                                              \
        __builtin_prefetch(c_ + 64, 0, 2);                                                         \
        __builtin_prefetch(c_ + 128, 0, 2);                                                        \
        __builtin_prefetch(c_ + 192, 0, 2);                                                        \
    }
#else
#define EOS_PF4(a) {}
#endif
#define EOS_WINO(NAME, W)                                                                               \
    __kernel void NAME(__global const float *x, __global const float *U, __global float *y, const int C, \
                       const int K, const int H, const int N, EOS_EPI_ARGS, const int Kp,               \
                       __global const float *bm, __global const float *bx, __global const float *bmu,   \
                       __local float16 *Vl, __local float16 *Ml) {                                      \
        const int tb = get_global_id(0), n = get_global_id(1), B = H / (2 * EOS_WROWS_##W);             \
        const int y0 = 2 * EOS_WROWS_##W * tb - 1;                                                      \
        if (tb >= B || n >= N) return;                                                                  \
        const float16 Z = 0.0f;                                                                         \
        for (int c = 0; c < C; c++) {                                                                   \
            __global const float *xc = x + ((size_t)n * C + c) * H * W;                                 \
            EOS_WLOAD_##W(0) EOS_WLOAD_##W(1) EOS_WLOAD_##W(2) EOS_WLOAD_##W(3)                         \
            __local float16 *v = Vl + c;                                                                \
            { const float16 l = l0 - l2, h = h0 - h2; EOS_WIN_ROW(W, l, h, 0) }                         \
            { const float16 l = l1 + l2, h = h1 + h2; EOS_WIN_ROW(W, l, h, 1) }                         \
            { const float16 l = l2 - l1, h = h2 - h1; EOS_WIN_ROW(W, l, h, 2) }                         \
            { const float16 l = l1 - l3, h = h1 - h3; EOS_WIN_ROW(W, l, h, 3) }                         \
        }                                                                                               \
        for (int kb = 0; kb < K; kb += 16) {                                                            \
            for (int e = 0; e < 16; e++) {                                                              \
                if ((epi & 16) && kb + e < K) {                                                         \
                    const size_t b_ = ((size_t)n * K + kb + e) * H * W + (size_t)(y0 + 1) * W;          \
                    EOS_PF4(bm + b_) EOS_PF4(bx + b_)                                                   \
                    if (epi & 2) EOS_PF4(res + b_)                                                      \
                }                                                                                       \
                EOS_ACC16(16);                                                                          \
                __global const float *u = U + (size_t)e * C * Kp + kb;                                  \
                __local const float16 *v = Vl + e * C;                                                  \
                for (int c = 0; c < C; c++, u += Kp) {                                                  \
                    const float16 q = v[c];                                                             \
                    EOS_WFMA(0) EOS_WFMA(1) EOS_WFMA(2) EOS_WFMA(3) EOS_WFMA(4) EOS_WFMA(5)             \
                    EOS_WFMA(6) EOS_WFMA(7) EOS_WFMA(8) EOS_WFMA(9) EOS_WFMA(10) EOS_WFMA(11)           \
                    EOS_WFMA(12) EOS_WFMA(13) EOS_WFMA(14) EOS_WFMA(15)                                 \
                }                                                                                       \
                __local float16 *M = Ml + e * 16;                                                       \
                M[0] = a0; M[1] = a1; M[2] = a2; M[3] = a3; M[4] = a4; M[5] = a5; M[6] = a6;            \
                M[7] = a7; M[8] = a8; M[9] = a9; M[10] = a10; M[11] = a11; M[12] = a12;                 \
                M[13] = a13; M[14] = a14; M[15] = a15;                                                  \
            }                                                                                           \
            /* y = A^T m A per tile, A^T = [1 1 1 0; 0 1 -1 -1] */                                       \
            for (int j = 0; j < 16 && kb + j < K; j++) {                                                \
                const int k = kb + j;                                                                   \
                __local const float16 *m = Ml + j;                                                      \
                const float16 t00 = EOS_WM(0) + EOS_WM(4) + EOS_WM(8), t01 = EOS_WM(1) + EOS_WM(5) + EOS_WM(9); \
                const float16 t02 = EOS_WM(2) + EOS_WM(6) + EOS_WM(10), t03 = EOS_WM(3) + EOS_WM(7) + EOS_WM(11); \
                const float16 t10 = EOS_WM(4) - EOS_WM(8) - EOS_WM(12), t11 = EOS_WM(5) - EOS_WM(9) - EOS_WM(13); \
                const float16 t12 = EOS_WM(6) - EOS_WM(10) - EOS_WM(14), t13 = EOS_WM(7) - EOS_WM(11) - EOS_WM(15); \
                const float16 y00 = t00 + t01 + t02, y01 = t01 - t02 - t03;                             \
                const float16 y10 = t10 + t11 + t12, y11 = t11 - t12 - t13;                             \
                __global float *out = y + ((size_t)n * K + k) * H * W;                                  \
                const float mu_ = epi & 16 ? bmu[k] : 0.0f;                                             \
                float16 bs16 = 0.0f, bg16 = 0.0f;                                                       \
                float8 bs8 = 0.0f, bg8 = 0.0f;                                                          \
                EOS_WST_##W(y0 + 1, y00, y01)                                                           \
                EOS_WST_##W(y0 + 2, y10, y11)                                                           \
                if (epi & 8) EOS_STAT4(16, ((size_t)k * N + n) * B + tb, y00, y01, y10, y11)            \
                if (epi & 16) {                                                                         \
                    const size_t at_ = ((size_t)k * N + n) * B + tb;                                    \
                    part[2 * at_] = eos_hsum16(bg16) + eos_hsum8(bg8);                                  \
                    part[2 * at_ + 1] = eos_hsum16(bs16) + eos_hsum8(bs8);                              \
                }                                                                                       \
            }                                                                                           \
        }                                                                                               \
    }
EOS_WINO(eos_wino_w32, 32)
EOS_WINO(eos_wino_w16, 16)
EOS_WINO(eos_wino_w8, 8)
