/* Convolution as GEMM on packed panels, the CPU path (host/nn/conv.c, algorithm "panel").
 * Legend: x (N, C, H, W), w (K, C, R, R), y (N, K, OH, OW); Kc = C*R*R, P = N*OH*OW pixels,
 * Pp = P rounded up to 32, NB = Pp / 32 panels.
 * A panel matrix (rows, Pp) stores element (r, p) at ((p / 32) * rows + r) * 32 + p % 32: each
 * block of 32 pixels is contiguous for every row, so a work-item streams through it. Padding
 * pixels (p >= P) hold zeros. colT (Pp, Kcp) is the column matrix transposed, rows padded to
 * Kcp (a multiple of 32) with zeros.
 * Written for PoCL's CPU device (measured in ../shared/tuning/README.md): one work-item per
 * work-group, explicit float8 register tiles of 2 rows x 32 pixels, no local memory. */

/* a * b + c as one fused multiply-add: PoCL 3.1 compiles mad() to a multiply and a separate add
 * (no FMA instruction, about 60% of the FMA peak: `eos bench peak`), while the plain expression
 * is contracted to an FMA (OpenCL C's default FP_CONTRACT ON); GPUs fuse both. */
#define EOS_MAD(a, b, c) ((a) * (b) + (c))

#define TILE 32

/* colp panel(Kc, P) = im2col(x); one work-item per (channel c, panel b) writes the R*R rows of
 * channel c, 32 contiguous values each, from pixel positions worked out once per panel. */
__kernel void eos_im2col_panel(__global const float *x, __global float *colp, const int N, const int C, const int H,
                               const int W, const int R, const int stride, const int pad, const int OH,
                               const int OW, const int Kc) {
    const int c = get_global_id(0), b = get_global_id(1);
    const int P = N * OH * OW, HWo = OH * OW;
    if (c >= C || b * TILE >= P) return;  /* panels: NB = ceil(P / 32) */
    int base[TILE], ih0[TILE], iw0[TILE];
    int p = b * TILE, n = p / HWo, rem = p - n * HWo, oh = rem / OW, ow = rem - oh * OW;
    for (int j = 0; j < TILE; j++, p++) {
        if (p < P) {
            base[j] = (n * C + c) * H * W;
            ih0[j] = oh * stride - pad;
            iw0[j] = ow * stride - pad;
            if (++ow == OW) {
                ow = 0;
                if (++oh == OH) { oh = 0; n++; }
            }
        } else {  /* padding pixels: out of every image */
            base[j] = 0;
            ih0[j] = -2 * H - 2 * R;
            iw0[j] = 0;
        }
    }
    __global float *dst = colp + ((size_t)b * Kc + (size_t)c * R * R) * TILE;
    for (int kh = 0; kh < R; kh++)
        for (int kw = 0; kw < R; kw++, dst += TILE)
            for (int j = 0; j < TILE; j++) {
                const int ih = ih0[j] + kh, iw = iw0[j] + kw;
                dst[j] = (ih >= 0 && ih < H && iw >= 0 && iw < W) ? x[base[j] + ih * W + iw] : 0.0f;
            }
}

/* colT (Pp, Kcp) = im2col(x) transposed; one work-item per pixel p < Pp: Kcp contiguous stores */
__kernel void eos_im2col_t(__global const float *x, __global float *colT, const int N, const int C, const int H,
                           const int W, const int R, const int stride, const int pad, const int OH, const int OW,
                           const int Kc, const int Kcp, const int Pp) {
    const int p = get_global_id(0);
    const int P = N * OH * OW, HWo = OH * OW;
    if (p >= Pp) return;
    __global float *dst = colT + (size_t)p * Kcp;
    if (p >= P) {
        for (int k = 0; k < Kcp; k++) dst[k] = 0.0f;
        return;
    }
    const int n = p / HWo, rem = p - n * HWo, oh = rem / OW, ow = rem - oh * OW;
    int k = 0;
    for (int c = 0; c < C; c++) {
        __global const float *xc = x + ((size_t)n * C + c) * H * W;
        for (int kh = 0; kh < R; kh++) {
            const int ih = oh * stride - pad + kh;
            for (int kw = 0; kw < R; kw++, k++) {
                const int iw = ow * stride - pad + kw;
                dst[k] = (ih >= 0 && ih < H && iw >= 0 && iw < W) ? xc[ih * W + iw] : 0.0f;
            }
        }
    }
    for (; k < Kcp; k++) dst[k] = 0.0f;
}

/* Cp panel(M, P) = A (M, Kr) x Bp panel(Kr, P), A(m, k) = A[m * a_rs + k * a_cs] (so w or w^T),
 * NB panels. One work-item per (row pair, panel b): 2 x 32 outputs in 8 float8 accumulators. */
__kernel void eos_gemm_panel(__global const float *A, const int a_rs, const int a_cs, __global const float *Bp,
                             __global float *Cp, const int M, const int Kr, const int NB) {
    const int m0 = get_global_id(0) * 2, b = get_global_id(1);
    if (m0 >= M || b >= NB) return;
    const int two = m0 + 1 < M;
    __global const float *a0 = A + (size_t)m0 * a_rs, *a1 = A + (size_t)(m0 + two) * a_rs;
    __global const float *B = Bp + (size_t)b * Kr * TILE;
    float8 c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
    for (int k = 0; k < Kr; k++, B += TILE) {
        const float8 b0 = vload8(0, B), b1 = vload8(1, B), b2 = vload8(2, B), b3 = vload8(3, B);
        const float x0 = a0[(size_t)k * a_cs], x1 = a1[(size_t)k * a_cs];
        c00 = EOS_MAD((float8)x0, b0, c00); c01 = EOS_MAD((float8)x0, b1, c01);
        c02 = EOS_MAD((float8)x0, b2, c02); c03 = EOS_MAD((float8)x0, b3, c03);
        c10 = EOS_MAD((float8)x1, b0, c10); c11 = EOS_MAD((float8)x1, b1, c11);
        c12 = EOS_MAD((float8)x1, b2, c12); c13 = EOS_MAD((float8)x1, b3, c13);
    }
    __global float *C0 = Cp + ((size_t)b * M + m0) * TILE;
    vstore8(c00, 0, C0); vstore8(c01, 1, C0); vstore8(c02, 2, C0); vstore8(c03, 3, C0);
    if (two) {
        __global float *C1 = C0 + TILE;
        vstore8(c10, 0, C1); vstore8(c11, 1, C1); vstore8(c12, 2, C1); vstore8(c13, 3, C1);
    }
}

/* Partial weight gradients: part (S, K, Kcp), part[s] = sum over the pixels of split s of
 * Dp(m, p) colT(p, :), S = ceil(NB / per_split) splits. Work-item (column block of 32, row pair,
 * split): 8 float8 accumulators. */
__kernel void eos_conv_dw_partial(__global const float *Dp, __global const float *colT, __global float *part,
                                  const int K, const int Kcp, const int NB, const int per_split, const int S) {
    const int j0 = get_global_id(0) * TILE, m0 = get_global_id(1) * 2, s = get_global_id(2);
    if (m0 >= K || j0 >= Kcp || s >= S) return;
    const int two = m0 + 1 < K;
    const int b_end = min(NB, (s + 1) * per_split);
    float8 c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
    for (int b = s * per_split; b < b_end; b++) {
        __global const float *d0 = Dp + ((size_t)b * K + m0) * TILE, *d1 = d0 + (two ? TILE : 0);
        __global const float *X = colT + (size_t)b * TILE * Kcp + j0;
        for (int j = 0; j < TILE; j++, X += Kcp) {
            const float8 x0 = vload8(0, X), x1 = vload8(1, X), x2 = vload8(2, X), x3 = vload8(3, X);
            const float y0 = d0[j], y1 = d1[j];
            c00 = EOS_MAD((float8)y0, x0, c00); c01 = EOS_MAD((float8)y0, x1, c01);
            c02 = EOS_MAD((float8)y0, x2, c02); c03 = EOS_MAD((float8)y0, x3, c03);
            c10 = EOS_MAD((float8)y1, x0, c10); c11 = EOS_MAD((float8)y1, x1, c11);
            c12 = EOS_MAD((float8)y1, x2, c12); c13 = EOS_MAD((float8)y1, x3, c13);
        }
    }
    __global float *P0 = part + ((size_t)s * K + m0) * Kcp + j0;
    vstore8(c00, 0, P0); vstore8(c01, 1, P0); vstore8(c02, 2, P0); vstore8(c03, 3, P0);
    if (two) {
        __global float *P1 = P0 + Kcp;
        vstore8(c10, 0, P1); vstore8(c11, 1, P1); vstore8(c12, 2, P1); vstore8(c13, 3, P1);
    }
}

/* dw (K, Kc) = sum over s of part (S, K, Kcp); one work-item per weight */
__kernel void eos_conv_dw_reduce(__global const float *part, __global float *dw, const int S, const int K,
                                 const int Kc, const int Kcp) {
    const int i = get_global_id(0);
    if (i >= K * Kc) return;
    const int m = i / Kc, k = i - m * Kc;
    float acc = 0.0f;
    for (int s = 0; s < S; s++) acc += part[((size_t)s * K + m) * Kcp + k];
    dw[i] = acc;
}

/* Dp panel(K, P) = y (N, K, OH*OW) rearranged; one work-item per (panel b, channel k) */
__kernel void eos_nchw_to_panel(__global const float *y, __global float *Dp, const int N, const int K,
                                const int HW) {
    const int k = get_global_id(0), b = get_global_id(1);
    const int P = N * HW;
    if (k >= K || b * TILE >= P) return;  /* panels: NB = ceil(P / 32) */
    __global float *dst = Dp + ((size_t)b * K + k) * TILE;
    int p = b * TILE, n = p / HW, hw = p - n * HW;
    for (int j = 0; j < TILE; j++, p++) {
        dst[j] = p < P ? y[((size_t)n * K + k) * HW + hw] : 0.0f;
        if (++hw == HW) { hw = 0; n++; }
    }
}

/* y (N, K, OH*OW) = Cp panel(K, P) (+ bias (K) when has_bias); one work-item per (n, k) row */
__kernel void eos_panel_to_nchw(__global const float *Cp, __global float *y, __global const float *bias,
                                const int has_bias, const int N, const int K, const int HW) {
    const int i = get_global_id(0);
    if (i >= N * K) return;
    const int n = i / K, k = i - n * K;
    const float b0 = has_bias ? bias[k] : 0.0f;
    __global float *dst = y + (size_t)i * HW;
    int p = n * HW;
    for (int hw = 0; hw < HW; hw++, p++) dst[hw] = Cp[((size_t)(p / TILE) * K + k) * TILE + p % TILE] + b0;
}

/* dx (N, C, H, W) = col2im(dcolp panel(Kc, P)): each input pixel sums the column entries it
 * fed (no atomics). One work-item per input row (n, c, ih); stride 1 has its own loop. */
__kernel void eos_col2im_panel(__global const float *dcolp, __global float *dx, const int N, const int C, const int H,
                               const int W, const int R, const int stride, const int pad, const int OH,
                               const int OW, const int Kc) {
    const int i = get_global_id(0);
    if (i >= N * C * H) return;
    const int ih = i % H, c = (i / H) % C, n = i / (H * C);
    float acc[64];  /* one input row; W <= 64 here, wider rows take the general path below */
    __global float *dst = dx + (size_t)i * W;
    const int fast = stride == 1 && W <= 64;
    for (int iw = 0; iw < W; iw++) {
        if (fast) acc[iw] = 0.0f;
        else dst[iw] = 0.0f;
    }
    for (int kh = 0; kh < R; kh++) {
        const int t = ih + pad - kh;
        if (t < 0 || t % stride) continue;
        const int oh = t / stride;
        if (oh >= OH) continue;
        const uint prow = (uint)((n * OH + oh) * OW);
        for (int kw = 0; kw < R; kw++) {
            const uint k = (uint)((c * R + kh) * R + kw);
            if (fast) {
                const int lo = max(0, kw - pad), hi = min(W, OW + kw - pad);
                for (int iw = lo; iw < hi; iw++) {
                    const uint p = prow + (uint)(iw + pad - kw);
                    acc[iw] += dcolp[((p >> 5) * (uint)Kc + k) * TILE + (p & 31u)];
                }
                continue;
            }
            for (int iw = 0; iw < W; iw++) {
                const int u = iw + pad - kw;
                if (u < 0 || u % stride) continue;
                const int ow = u / stride;
                if (ow >= OW) continue;
                const uint p = prow + (uint)ow;
                dst[iw] += dcolp[((p >> 5) * (uint)Kc + k) * TILE + (p & 31u)];
            }
        }
    }
    if (fast)
        for (int iw = 0; iw < W; iw++) dst[iw] = acc[iw];
}
