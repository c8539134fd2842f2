/* Local-memory tiled implicit-GEMM convolution (host/nn/conv_tiled.c, algorithm "tiled"): the
 * GPU-shaped candidate beside the float8 kernels written for CPUs. Any R, stride and pad; no
 * column matrix in memory: each work-group gathers the slices of the operands it needs.
 * Legend: x (N, C, H, W), w (K, C, R, R), y and dy (N, K, OH, OW); RR = R*R, Kc = C*RR,
 * P = N*OH*OW. Each direction is one GEMM, C (M, NC) = A (M, KR) x B (KR, NC):
 *   forward      y  (K, P)     = w (K, Kc) x col (Kc, P)            (+ b per row)
 *                col[(c,r,s), (n,oh,ow)] = x[n, c, oh*stride-pad+r, ow*stride-pad+s] (0 outside)
 *   data grad    dx (C, N*H*W) = wt (C, K*RR) x dcol (K*RR, N*H*W)  (gather form, no atomics)
 *                wt[c, (k,r,s)] = w[k, c, r, s]
 *                dcol[(k,r,s), (n,h,w)] = dy[n, k, (h+pad-r)/stride, (w+pad-s)/stride] where both
 *                divisions are exact and inside (OH, OW), else 0
 *   weight grad  dw (K, Kc)    = dy (K, P) x col^T (P, Kc), the long reduction over P split in
 *                S chunks: part (S, K, Kc), then dw = part summed over the chunks in order
 *                (eos_tiled_dw_sum; deterministic, no float atomics)
 * (the C row index of dx and y is the channel; their column (n, ...) is scattered back to NCHW
 * on the store).
 *
 * The GPU way: a work-group of WG x WG work-items owns a TM x TN = (WG*TL_WPT)^2 tile of C. The
 * reduction advances TL_TK at a time: the group copies a TM x TL_TK slice of A and a TL_TK x TN
 * slice of B into local memory (neighbouring work-items read neighbouring addresses: coalesced),
 * barrier, then each work-item does TL_TK rank-1 updates of its TL_WPT x TL_WPT register
 * micro-tile from local memory, barrier. Forward and dx run their reduction tap by tap (r, s),
 * TL_TK channels at a time within a tap, so that gathering a slice takes no division and one
 * bounds test per work-item and tap (a channel count that is no multiple of TL_TK pads the
 * tap's last slice with zeros); dw runs along P, TL_TK pixels at a time. Work-item (tx, ty) owns rows ty + WG*i and columns
 * tx + WG*j: strided, so that neighbouring work-items store neighbouring outputs (coalesced) and
 * read distinct local banks. Local tiles are stored k-major with one float of padding per row
 * (no bank conflicts when a slice is written across k). Rows and columns past the matrix load as
 * 0 and are not stored: any shape runs, the host rounds the nd-range up to whole groups.
 * Two variants of each kernel: _big (TL_WG_BIG^2 work-items, 16x16 = 64x64 outputs by default)
 * and _small (TL_WG_SMALL^2, 8x8 = 32x32) for devices that allow fewer work-items per group or
 * less local memory; their reqd_work_group_size tells the host the local size. */

/* Tuning knobs (GUIDE 3.6): outputs per work-item per side, reduction step, work-group sides.
 * host/nn/conv_tiled.c mirrors TL_WPT (it sizes the nd-range from the tile). */
#ifndef TL_WPT
#define TL_WPT 4
#endif
#ifndef TL_TK
#define TL_TK 16
#endif
#ifndef TL_WG_BIG
#define TL_WG_BIG 16
#endif
#ifndef TL_WG_SMALL
#define TL_WG_SMALL 8
#endif
/* a B slot's column is fixed per work-item only when a group's work-items cover whole rows */
#if TL_WG_BIG % TL_WPT || TL_WG_SMALL % TL_WPT || (TL_WG_BIG * TL_WG_BIG) % TL_TK || (TL_WG_SMALL * TL_WG_SMALL) % TL_TK
#error "TL_WG_BIG and TL_WG_SMALL must be multiples of TL_WPT, their squares multiples of TL_TK"
#endif

/* load slots of a B slice per work-item in the weight gradient, at most (the small variant's) */
#if (TL_WPT * TL_TK) % TL_WG_BIG || (TL_WPT * TL_TK) % TL_WG_SMALL || TL_WG_SMALL > TL_WG_BIG
#error "TL_WPT * TL_TK must be a multiple of TL_WG_BIG and TL_WG_SMALL, TL_WG_SMALL <= TL_WG_BIG"
#endif
#define TL_DW_SLOTS (TL_WPT * TL_TK / TL_WG_SMALL)

/* floats of one local tile (TL_TK rows of WG*TL_WPT + 1) */
#define TL_LOCAL(WG) (TL_TK * ((WG) * TL_WPT + 1))

/* a * b + c, contracted to an FMA where the device has one (see conv_panel.cl) */
#define EOS_MAD(a, b, c) ((a) * (b) + (c))

/* TL_TK rank-1 updates of the micro-tile acc from the local slices As (TL_TK, TM + 1) and
 * Bs (TL_TK, TN + 1) */
#define TL_MULTIPLY(WG, As, Bs, acc, tx, ty)                                                     \
    for (int kk = 0; kk < TL_TK; kk++) {                                                      \
        float a_[TL_WPT], b_[TL_WPT];                                                        \
        for (int i = 0; i < TL_WPT; i++) a_[i] = (As)[kk * ((WG) * TL_WPT + 1) + (ty) + (WG) * i]; \
        for (int j = 0; j < TL_WPT; j++) b_[j] = (Bs)[kk * ((WG) * TL_WPT + 1) + (tx) + (WG) * j]; \
        for (int i = 0; i < TL_WPT; i++)                                                     \
            for (int j = 0; j < TL_WPT; j++) (acc)[i][j] = EOS_MAD(a_[i], b_[j], (acc)[i][j]);  \
    }

/* ---- forward: y (N, K, OH, OW) = w (K, Kc) x col(x) (Kc, P) + b ------------------------------ */

inline void tiled_fwd(const int WG, __local float *As, __local float *Bs,
                      __global const float *x,  /* (N, C, H, W) */
                      __global const float *w,  /* (K, C, R, R) = (K, Kc) */
                      __global const float *b,  /* (K), read when has_b */
                      const int has_b,
                      __global float *y,        /* (N, K, OH, OW) */
                      const int N, const int C, const int H, const int W, const int K, const int R,
                      const int stride, const int pad, const int OH, const int OW) {
    const int TM = WG * TL_WPT, TN = WG * TL_WPT, NT = WG * WG;
    const int tx = get_local_id(0), ty = get_local_id(1), lid = ty * WG + tx;
    const int n0 = get_group_id(0) * TN, m0 = get_group_id(1) * TM;
    const int RR = R * R, OHW = OH * OW, P = N * OHW;
    /* this work-item's column of every B slice it loads: l % TN == lid % TN (NT % TN == 0) */
    const int bn = n0 + lid % TN, bimg = bn / OHW, bohw = bn - bimg * OHW, boh = bohw / OW;
    const int ih0 = boh * stride - pad, iw0 = (bohw - boh * OW) * stride - pad;
    const size_t HW = (size_t)H * W;
    float acc[TL_WPT][TL_WPT];
    for (int i = 0; i < TL_WPT; i++)
        for (int j = 0; j < TL_WPT; j++) acc[i][j] = 0.0f;
    /* the reduction as (r, s) outside, channels inside: a slice is TL_TK channels of one tap, so
     * its gather needs no division and one bounds test per tap */
    for (int rs = 0; rs < RR; rs++) {
        const int r = rs / R, ih = ih0 + r, iw = iw0 + rs - r * R;
        const int inside = bn < P && ih >= 0 && ih < H && iw >= 0 && iw < W;
        __global const float *xp = inside ? x + ((size_t)bimg * C * H + ih) * W + iw : x;
        for (int c0 = 0; c0 < C; c0 += TL_TK) {
            for (int l = lid; l < TM * TL_TK; l += NT) {  /* A = w (K, C, tap rs) */
                const int c = c0 + l % TL_TK, m = l / TL_TK, gm = m0 + m;
                As[(l % TL_TK) * (TM + 1) + m] = gm < K && c < C ? w[((size_t)gm * C + c) * RR + rs] : 0.0f;
            }
            for (int l = lid; l < TN * TL_TK; l += NT) {  /* B = col(x): along output pixels */
                const int kk = l / TN, c = c0 + kk;
                Bs[kk * (TN + 1) + lid % TN] = inside && c < C ? xp[c * HW] : 0.0f;
            }
            barrier(CLK_LOCAL_MEM_FENCE);
            TL_MULTIPLY(WG, As, Bs, acc, tx, ty)
            barrier(CLK_LOCAL_MEM_FENCE);
        }
    }
    for (int j = 0; j < TL_WPT; j++) {
        const int n = n0 + tx + WG * j;
        if (n >= P) continue;
        const int img = n / OHW, ohw = n - img * OHW;
        for (int i = 0; i < TL_WPT; i++) {
            const int m = m0 + ty + WG * i;
            if (m < K) y[((size_t)img * K + m) * OHW + ohw] = acc[i][j] + (has_b ? b[m] : 0.0f);
        }
    }
}

#define TL_FWD_ARGS                                                                                              \
    __global const float *x, __global const float *w, __global const float *b, const int has_b, __global float *y, \
        const int N, const int C, const int H, const int W, const int K, const int R, const int stride,            \
        const int pad, const int OH, const int OW
#define TL_FWD_PASS x, w, b, has_b, y, N, C, H, W, K, R, stride, pad, OH, OW

/* global (ceil(P / TN) * WG, ceil(K / TM) * WG) */
__kernel __attribute__((reqd_work_group_size(TL_WG_BIG, TL_WG_BIG, 1))) void eos_tiled_fwd_big(TL_FWD_ARGS) {
    __local float As[TL_LOCAL(TL_WG_BIG)], Bs[TL_LOCAL(TL_WG_BIG)];
    tiled_fwd(TL_WG_BIG, As, Bs, TL_FWD_PASS);
}

__kernel __attribute__((reqd_work_group_size(TL_WG_SMALL, TL_WG_SMALL, 1))) void eos_tiled_fwd_small(TL_FWD_ARGS) {
    __local float As[TL_LOCAL(TL_WG_SMALL)], Bs[TL_LOCAL(TL_WG_SMALL)];
    tiled_fwd(TL_WG_SMALL, As, Bs, TL_FWD_PASS);
}

/* ---- data gradient: dx (N, C, H, W) = wt (C, K*RR) x dcol(dy) (K*RR, N*H*W) ------------------- */

inline void tiled_dx(const int WG, __local float *As, __local float *Bs,
                     __global const float *w,   /* (K, C, R, R) */
                     __global const float *dy,  /* (N, K, OH, OW) */
                     __global float *dx,        /* (N, C, H, W) */
                     const int N, const int C, const int H, const int W, const int K, const int R,
                     const int stride, const int pad, const int OH, const int OW) {
    const int TM = WG * TL_WPT, TN = WG * TL_WPT, NT = WG * WG;
    const int tx = get_local_id(0), ty = get_local_id(1), lid = ty * WG + tx;
    const int n0 = get_group_id(0) * TN, m0 = get_group_id(1) * TM;
    const int RR = R * R, HW = H * W, NC = N * HW;
    /* this work-item's input pixel (column) of every B slice it loads; h + pad, w + pad */
    const int bn = n0 + lid % TN, bimg = bn / HW, bhw = bn - bimg * HW, bh = bhw / W;
    const int hp = bh + pad, wp = bhw - bh * W + pad, OHW = OH * OW;
    float acc[TL_WPT][TL_WPT];
    for (int i = 0; i < TL_WPT; i++)
        for (int j = 0; j < TL_WPT; j++) acc[i][j] = 0.0f;
    /* (r, s) outside, output channels inside, as in the forward */
    for (int rs = 0; rs < RR; rs++) {
        const int r = rs / R, oh_s = hp - r, ow_s = wp - (rs - r * R);  /* oh * stride, ow * stride if exact */
        const int oh = oh_s / stride, ow = ow_s / stride;
        const int inside = bn < NC && oh_s >= 0 && ow_s >= 0 && oh * stride == oh_s && ow * stride == ow_s &&
                           oh < OH && ow < OW;
        __global const float *dyp = inside ? dy + (size_t)bimg * K * OHW + oh * OW + ow : dy;
        for (int k0 = 0; k0 < K; k0 += TL_TK) {
            for (int l = lid; l < TM * TL_TK; l += NT) {  /* A = wt (C, K, tap rs) */
                const int k = k0 + l % TL_TK, m = l / TL_TK, gm = m0 + m;
                As[(l % TL_TK) * (TM + 1) + m] = gm < C && k < K ? w[((size_t)k * C + gm) * RR + rs] : 0.0f;
            }
            for (int l = lid; l < TN * TL_TK; l += NT) {  /* B = dcol(dy): along input pixels */
                const int kk = l / TN, k = k0 + kk;
                Bs[kk * (TN + 1) + lid % TN] = inside && k < K ? dyp[(size_t)k * OHW] : 0.0f;
            }
            barrier(CLK_LOCAL_MEM_FENCE);
            TL_MULTIPLY(WG, As, Bs, acc, tx, ty)
            barrier(CLK_LOCAL_MEM_FENCE);
        }
    }
    for (int j = 0; j < TL_WPT; j++) {
        const int n = n0 + tx + WG * j;
        if (n >= NC) continue;
        const int img = n / HW, hw = n - img * HW;
        for (int i = 0; i < TL_WPT; i++) {
            const int m = m0 + ty + WG * i;
            if (m < C) dx[((size_t)img * C + m) * HW + hw] = acc[i][j];
        }
    }
}

#define TL_DX_ARGS                                                                                              \
    __global const float *w, __global const float *dy, __global float *dx, const int N, const int C, const int H, \
        const int W, const int K, const int R, const int stride, const int pad, const int OH, const int OW
#define TL_DX_PASS w, dy, dx, N, C, H, W, K, R, stride, pad, OH, OW

/* global (ceil(N*H*W / TN) * WG, ceil(C / TM) * WG) */
__kernel __attribute__((reqd_work_group_size(TL_WG_BIG, TL_WG_BIG, 1))) void eos_tiled_dx_big(TL_DX_ARGS) {
    __local float As[TL_LOCAL(TL_WG_BIG)], Bs[TL_LOCAL(TL_WG_BIG)];
    tiled_dx(TL_WG_BIG, As, Bs, TL_DX_PASS);
}

__kernel __attribute__((reqd_work_group_size(TL_WG_SMALL, TL_WG_SMALL, 1))) void eos_tiled_dx_small(TL_DX_ARGS) {
    __local float As[TL_LOCAL(TL_WG_SMALL)], Bs[TL_LOCAL(TL_WG_SMALL)];
    tiled_dx(TL_WG_SMALL, As, Bs, TL_DX_PASS);
}

/* ---- weight gradient: part[z] (K, Kc) = dy (K, P) x col(x)^T (P, Kc) over chunk z of P ------- */

inline void tiled_dw(const int WG, __local float *As, __local float *Bs,
                     __global const float *x,   /* (N, C, H, W) */
                     __global const float *dy,  /* (N, K, OH, OW) */
                     __global float *part,      /* (S, K, Kc): chunk z's sum at part + z*K*Kc */
                     const int N, const int C, const int H, const int W, const int K, const int R,
                     const int stride, const int pad, const int OH, const int OW, const int chunk) {
    const int TM = WG * TL_WPT, TN = WG * TL_WPT, NT = WG * WG;
    const int tx = get_local_id(0), ty = get_local_id(1), lid = ty * WG + tx;
    const int n0 = get_group_id(0) * TN, m0 = get_group_id(1) * TM, z = get_group_id(2);
    const int RR = R * R, Kc = C * RR, OHW = OH * OW, P = N * OHW;
    const int p_begin = z * chunk, p_end = min(P, p_begin + chunk);
    /* both slices are loaded along P (contiguous in dy and, for stride 1, in x): every load slot
     * of this work-item has the same reduction index kk = l % TL_TK (NT % TL_TK == 0) and a
     * column (c, r, s) of its own for the whole loop, decomposed once here: xoff the offset of
     * x[n, c, r, s] from x[n, 0, 0, 0], tr and ts the tap (tr far negative past Kc: never inside) */
    const int kk = lid % TL_TK, HW = H * W;
    int xoff[TL_DW_SLOTS], tr[TL_DW_SLOTS], ts[TL_DW_SLOTS];
    for (int t = 0, l = lid; l < TN * TL_TK; l += NT, t++) {
        const int gn = n0 + l / TL_TK, c = gn / RR, rs = gn - c * RR, r = rs / R;
        tr[t] = gn < Kc ? r : -(1 << 28);
        ts[t] = rs - r * R;
        xoff[t] = c * HW + r * W + ts[t];
    }
    float acc[TL_WPT][TL_WPT];
    for (int i = 0; i < TL_WPT; i++)
        for (int j = 0; j < TL_WPT; j++) acc[i][j] = 0.0f;
    for (int p0 = p_begin; p0 < p_end; p0 += TL_TK) {
        const int p = p0 + kk, inside = p < p_end;
        const int img = p / OHW, ohw = p - img * OHW, oh = ohw / OW;
        const int ih0 = oh * stride - pad, iw0 = (ohw - oh * OW) * stride - pad;
        for (int l = lid; l < TM * TL_TK; l += NT) {  /* A = dy (K, P) */
            const int gm = m0 + l / TL_TK;
            As[kk * (TM + 1) + l / TL_TK] = inside && gm < K ? dy[((size_t)img * K + gm) * OHW + ohw] : 0.0f;
        }
        /* B = col(x)^T (P, Kc); xb: where x[img, 0, ih0, iw0] would be (ih0, iw0 may be -pad) */
        const long xb = (long)img * C * HW + ih0 * W + iw0;
        for (int t = 0, l = lid; l < TN * TL_TK; l += NT, t++) {
            const int ih = ih0 + tr[t], iw = iw0 + ts[t];
            Bs[kk * (TN + 1) + l / TL_TK] =
                inside && ih >= 0 && ih < H && iw >= 0 && iw < W ? x[xb + xoff[t]] : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        TL_MULTIPLY(WG, As, Bs, acc, tx, ty)
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    __global float *out = part + (size_t)z * K * Kc;
    for (int i = 0; i < TL_WPT; i++) {
        const int m = m0 + ty + WG * i;
        if (m >= K) continue;
        for (int j = 0; j < TL_WPT; j++) {
            const int n = n0 + tx + WG * j;
            if (n < Kc) out[(size_t)m * Kc + n] = acc[i][j];
        }
    }
}

#define TL_DW_ARGS                                                                                               \
    __global const float *x, __global const float *dy, __global float *part, const int N, const int C, const int H, \
        const int W, const int K, const int R, const int stride, const int pad, const int OH, const int OW,          \
        const int chunk
#define TL_DW_PASS x, dy, part, N, C, H, W, K, R, stride, pad, OH, OW, chunk

/* global (ceil(Kc / TN) * WG, ceil(K / TM) * WG, S); chunk: a multiple of TL_TK */
__kernel __attribute__((reqd_work_group_size(TL_WG_BIG, TL_WG_BIG, 1))) void eos_tiled_dw_big(TL_DW_ARGS) {
    __local float As[TL_LOCAL(TL_WG_BIG)], Bs[TL_LOCAL(TL_WG_BIG)];
    tiled_dw(TL_WG_BIG, As, Bs, TL_DW_PASS);
}

__kernel __attribute__((reqd_work_group_size(TL_WG_SMALL, TL_WG_SMALL, 1))) void eos_tiled_dw_small(TL_DW_ARGS) {
    __local float As[TL_LOCAL(TL_WG_SMALL)], Bs[TL_LOCAL(TL_WG_SMALL)];
    tiled_dw(TL_WG_SMALL, As, Bs, TL_DW_PASS);
}

/* dw (n) = part (S, n) summed over the S chunks in order 0..S-1: the same rounding on every run.
 * One work-item per weight, neighbours on neighbouring weights (coalesced); global rounded up. */
__kernel void eos_tiled_dw_sum(__global const float *part,  /* (S, K*Kc) */
                               __global float *dw,          /* (K, C, R, R) */
                               const int n, const int S) {
    const int i = get_global_id(0);
    if (i >= n) return;
    float acc = 0.0f;
    for (int z = 0; z < S; z++) acc += part[(size_t)z * n + i];
    dw[i] = acc;
}
