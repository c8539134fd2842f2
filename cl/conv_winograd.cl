/* Winograd F(2x2,3x3) for 3x3, stride-1, pad-1 convolutions (host/nn/conv.c, algorithm "winograd"):
 * 16 multiplications per 2x2 output tile and channel pair instead of 36. The transforms are the
 * kernels here; the 16 products in the transformed domain are batched GEMMs (CLBlast).
 * Legend: x (N, C, H, W), w (K, C, 3, 3), y (N, K, H, W); tiles TH = ceil(H/2), TW = ceil(W/2),
 * T = N*TH*TW, tile t = (n*TH + ty)*TW + tx covers outputs rows 2ty..2ty+1, columns 2tx..2tx+1
 * and reads the 4x4 input patch at (2ty-1, 2tx-1) (zero outside the image: the padding).
 *   V (16, C, T) = B^T d B     per tile and channel          B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
 *   U (16, K, C) = G g G^T     per filter                    G   = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]
 *   M (16, K, T) = U[e] x V[e] for each of the 16 elements e (GEMM, host)
 *   y tile       = A^T m A     per tile and output channel   A^T = [1 1 1 0; 0 1 -1 -1]
 *   backward data:    dx = the same on dy with w' (C, K, 3, 3) = w transposed and flipped
 *   backward weights: dU (16, K, C) = dM[e] x V[e]^T with dM = A dy A^T per tile (the adjoint of
 *                     the output transform; outputs past the image edge have no gradient),
 *                     dw = G^T dU G per filter (the adjoint of the filter transform)
 * One work-item per row of tiles (a channel of an image): the transforms only move data, the
 * GEMMs carry the arithmetic. Element e = 4*i + j is the transformed tile's (i, j).
 * Two layouts of V, M and dM (R rows: C or K), chosen by the host with the GEMM:
 *   plain (panel = 0): (16, R, T), row-major matrices for CLBlast's strided-batched SGEMM;
 *   panel (panel = 1): (16, NB, R, 32), T padded to NB*32 tiles, each 32-tile panel contiguous,
 *     for the float8-tiled GEMMs below (for CPUs, like conv_panel.cl: one work-item per group,
 *     8 float8 accumulators, contiguous operands). */

/* a * b + c as one fused multiply-add: PoCL 3.1 compiles mad() to a multiply and a separate add
 * (no FMA instruction, about 60% of the FMA peak: `eos bench peak`), while the plain expression
 * is contracted to an FMA (OpenCL C's default FP_CONTRACT ON); GPUs fuse both. */
#define EOS_MAD(a, b, c) ((a) * (b) + (c))

#define WTILE 32

/* where element e, row r, tile t lives */
inline size_t wino_at(const int panel, const int e, const int r, const size_t t, const int R, const size_t T,
                      const size_t Tp) {
    return panel ? (size_t)e * R * Tp + (t / WTILE) * WTILE * R + (size_t)r * WTILE + t % WTILE
                 : ((size_t)e * R + r) * T + t;
}

/* one row of B^T d B: r = B^T applied to the column (a, b, c, d) */
#define EOS_BT(a, b, c, d, r0, r1, r2, r3) \
    do {                                   \
        r0 = (a) - (c);                    \
        r1 = (b) + (c);                    \
        r2 = (c) - (b);                    \
        r3 = (b) - (d);                    \
    } while (0)

/* V (16, C, T) from x (N, C, H, W); global (TH, C, N). In the panel layout the last image's
 * last row also zeroes the padding tiles T..Tp-1. */
__kernel void eos_wino_input(__global const float *x, __global float *V, const int N, const int C, const int H,
                             const int W, const int TH, const int TW, const int panel) {
    const int ty = get_global_id(0), c = get_global_id(1), n = get_global_id(2);
    if (ty >= TH || c >= C || n >= N) return;
    const size_t T = (size_t)N * TH * TW, Tp = (T + WTILE - 1) / WTILE * WTILE;
    const size_t plane = panel ? (size_t)C * Tp : (size_t)C * T, t0 = ((size_t)n * TH + ty) * TW;
    __global const float *xc = x + ((size_t)n * C + c) * H * W;
    if (panel && n == N - 1 && ty == TH - 1)  /* the padding tiles: zero, never stale NaNs, as dw sums them */
        for (size_t t = T; t < Tp; t++)
            for (int e = 0; e < 16; e++) V[wino_at(panel, e, c, t, C, T, Tp)] = 0.0f;
    const int y0 = 2 * ty - 1;
    for (int tx = 0; tx < TW; tx++) {
        __global float *v = V + wino_at(panel, 0, c, t0 + tx, C, T, Tp);
        const int x0 = 2 * tx - 1;
        float d[4][4];
        for (int i = 0; i < 4; i++) {
            const int iy = y0 + i;
            const int rowok = iy >= 0 && iy < H;
            for (int j = 0; j < 4; j++) {
                const int ix = x0 + j;
                d[i][j] = rowok && ix >= 0 && ix < W ? xc[iy * W + ix] : 0.0f;
            }
        }
        float t[4][4];
        for (int j = 0; j < 4; j++) EOS_BT(d[0][j], d[1][j], d[2][j], d[3][j], t[0][j], t[1][j], t[2][j], t[3][j]);
        for (int i = 0; i < 4; i++) {
            float r0, r1, r2, r3;
            EOS_BT(t[i][0], t[i][1], t[i][2], t[i][3], r0, r1, r2, r3);
            v[(4 * i + 0) * plane] = r0;
            v[(4 * i + 1) * plane] = r1;
            v[(4 * i + 2) * plane] = r2;
            v[(4 * i + 3) * plane] = r3;
        }
    }
}

/* U (16, K, C) from the filters; global K*C. flip = 0: the filters of w (K, C, 3, 3) as they are.
 * flip = 1: w is (C, K, 3, 3) and the filter (k, c) is w's (c, k) turned by 180 degrees (the data
 * gradient's convolution), so K and C here are w's C and K. */
__kernel void eos_wino_filter(__global const float *w, __global float *U, const int K, const int C, const int flip) {
    const int id = get_global_id(0);
    if (id >= K * C) return;
    const int k = id / C, c = id % C;
    float g[3][3];
    __global const float *src = flip ? w + ((size_t)c * K + k) * 9 : w + ((size_t)k * C + c) * 9;
    for (int r = 0; r < 3; r++)
        for (int s = 0; s < 3; s++) g[r][s] = flip ? src[(2 - r) * 3 + (2 - s)] : src[r * 3 + s];
    float t[4][3];  /* G g */
    for (int s = 0; s < 3; s++) {
        t[0][s] = g[0][s];
        t[1][s] = 0.5f * (g[0][s] + g[1][s] + g[2][s]);
        t[2][s] = 0.5f * (g[0][s] - g[1][s] + g[2][s]);
        t[3][s] = g[2][s];
    }
    const size_t plane = (size_t)K * C, at = (size_t)k * C + c;
    for (int i = 0; i < 4; i++) {  /* (G g) G^T */
        U[(4 * i + 0) * plane + at] = t[i][0];
        U[(4 * i + 1) * plane + at] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
        U[(4 * i + 2) * plane + at] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
        U[(4 * i + 3) * plane + at] = t[i][2];
    }
}

/* y (N, K, H, W) (+ b (K) when has_b) from M (16, K, T); global (TH, K, N) */
__kernel void eos_wino_output(__global const float *M, __global float *y, __global const float *b, const int has_b,
                              const int N, const int K, const int H, const int W, const int TH, const int TW,
                              const int panel) {
    const int ty = get_global_id(0), k = get_global_id(1), n = get_global_id(2);
    if (ty >= TH || k >= K || n >= N) return;
    const size_t T = (size_t)N * TH * TW, Tp = (T + WTILE - 1) / WTILE * WTILE;
    const size_t plane = panel ? (size_t)K * Tp : (size_t)K * T, t0 = ((size_t)n * TH + ty) * TW;
    __global float *yk = y + ((size_t)n * K + k) * H * W;
    const float bias = has_b ? b[k] : 0.0f;
    const int oy = 2 * ty, two_rows = oy + 1 < H;
    for (int tx = 0; tx < TW; tx++) {
        __global const float *m = M + wino_at(panel, 0, k, t0 + tx, K, T, Tp);
        float e[4][4];
        for (int i = 0; i < 16; i++) e[i / 4][i % 4] = m[i * plane];
        float s[2][4];  /* A^T m */
        for (int j = 0; j < 4; j++) {
            s[0][j] = e[0][j] + e[1][j] + e[2][j];
            s[1][j] = e[1][j] - e[2][j] - e[3][j];
        }
        const int ox = 2 * tx, two_cols = ox + 1 < W;
        for (int i = 0; i < 1 + two_rows; i++) {  /* (A^T m) A */
            __global float *row = yk + (oy + i) * W + ox;
            row[0] = s[i][0] + s[i][1] + s[i][2] + bias;
            if (two_cols) row[1] = s[i][1] - s[i][2] - s[i][3] + bias;
        }
    }
}

/* dM (16, K, T) = A dy A^T per tile from dy (N, K, H, W), zero past the image; global (TH, K, N).
 * In the panel layout the last image's last row also zeroes the padding tiles T..Tp-1 (the
 * weight-gradient GEMM sums over whole panels). */
__kernel void eos_wino_dy(__global const float *dy, __global float *dM, const int N, const int K, const int H,
                          const int W, const int TH, const int TW, const int panel) {
    const int ty = get_global_id(0), k = get_global_id(1), n = get_global_id(2);
    if (ty >= TH || k >= K || n >= N) return;
    const size_t T = (size_t)N * TH * TW, Tp = (T + WTILE - 1) / WTILE * WTILE;
    const size_t plane = panel ? (size_t)K * Tp : (size_t)K * T, t0 = ((size_t)n * TH + ty) * TW;
    __global const float *dk = dy + ((size_t)n * K + k) * H * W;
    if (panel && n == N - 1 && ty == TH - 1)
        for (size_t t = T; t < Tp; t++)
            for (int e = 0; e < 16; e++) dM[wino_at(panel, e, k, t, K, T, Tp)] = 0.0f;
    const int oy = 2 * ty;
    for (int tx = 0; tx < TW; tx++) {
        __global float *m = dM + wino_at(panel, 0, k, t0 + tx, K, T, Tp);
        const int ox = 2 * tx;
        float d[2][2];
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++) d[i][j] = oy + i < H && ox + j < W ? dk[(oy + i) * W + ox + j] : 0.0f;
        float t[4][2];  /* A d: A = [1 0; 1 1; 1 -1; 0 -1] */
        for (int j = 0; j < 2; j++) {
            t[0][j] = d[0][j];
            t[1][j] = d[0][j] + d[1][j];
            t[2][j] = d[0][j] - d[1][j];
            t[3][j] = -d[1][j];
        }
        for (int i = 0; i < 4; i++) {  /* (A d) A^T */
            m[(4 * i + 0) * plane] = t[i][0];
            m[(4 * i + 1) * plane] = t[i][0] + t[i][1];
            m[(4 * i + 2) * plane] = t[i][0] - t[i][1];
            m[(4 * i + 3) * plane] = -t[i][1];
        }
    }
}

/* dw (K, C, 3, 3) = G^T dU G from dU (16, K, C); global K*C */
__kernel void eos_wino_dw(__global const float *dU, __global float *dw, const int K, const int C) {
    const int id = get_global_id(0);
    if (id >= K * C) return;
    const size_t plane = (size_t)K * C;
    float e[4][4];
    for (int i = 0; i < 16; i++) e[i / 4][i % 4] = dU[i * plane + id];
    float t[3][4];  /* G^T e: G^T = [1 .5 .5 0; 0 .5 -.5 0; 0 .5 .5 1] */
    for (int j = 0; j < 4; j++) {
        t[0][j] = e[0][j] + 0.5f * (e[1][j] + e[2][j]);
        t[1][j] = 0.5f * (e[1][j] - e[2][j]);
        t[2][j] = 0.5f * (e[1][j] + e[2][j]) + e[3][j];
    }
    __global float *out = dw + (size_t)id * 9;
    for (int r = 0; r < 3; r++) {  /* (G^T e) G */
        out[r * 3 + 0] = t[r][0] + 0.5f * (t[r][1] + t[r][2]);
        out[r * 3 + 1] = 0.5f * (t[r][1] - t[r][2]);
        out[r * 3 + 2] = 0.5f * (t[r][1] + t[r][2]) + t[r][3];
    }
}

/* The 16 products in the panel layout, M[e] panel(K, T) = U[e] (K, C) x V[e] panel(C, T).
 * Work-item (row pair, panel b, element e): 2 x 32 outputs in 8 float8 accumulators. */
__kernel void eos_wino_gemm(__global const float *U, __global const float *Vp, __global float *Mp, const int K,
                            const int C, const int NB) {
    const int m0 = get_global_id(0) * 2, b = get_global_id(1), e = get_global_id(2);
    if (m0 >= K || b >= NB || e >= 16) return;
    const int two = m0 + 1 < K;
    __global const float *a0 = U + ((size_t)e * K + m0) * C, *a1 = a0 + (two ? C : 0);
    __global const float *B = Vp + ((size_t)e * NB + b) * C * WTILE;
    float8 c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
    for (int k = 0; k < C; k++, B += WTILE) {
        const float8 b0 = vload8(0, B), b1 = vload8(1, B), b2 = vload8(2, B), b3 = vload8(3, B);
        const float x0 = a0[k], x1 = a1[k];
        c00 = EOS_MAD((float8)x0, b0, c00); c01 = EOS_MAD((float8)x0, b1, c01);
        c02 = EOS_MAD((float8)x0, b2, c02); c03 = EOS_MAD((float8)x0, b3, c03);
        c10 = EOS_MAD((float8)x1, b0, c10); c11 = EOS_MAD((float8)x1, b1, c11);
        c12 = EOS_MAD((float8)x1, b2, c12); c13 = EOS_MAD((float8)x1, b3, c13);
    }
    __global float *C0 = Mp + (((size_t)e * NB + b) * K + m0) * WTILE;
    vstore8(c00, 0, C0); vstore8(c01, 1, C0); vstore8(c02, 2, C0); vstore8(c03, 3, C0);
    if (two) {
        __global float *C1 = C0 + WTILE;
        vstore8(c10, 0, C1); vstore8(c11, 1, C1); vstore8(c12, 2, C1); vstore8(c13, 3, C1);
    }
}

/* The weight gradient's products in the panel layout, dU[e] (K, C) = dM[e] panel(K, T) x
 * V[e] panel(C, T)^T, a sum over every tile (the padding tiles of dM are zero). Work-item
 * (4 columns, row pair, element e): 2 x 4 dot products as 8 float8 partial sums, the lanes
 * added at the end (no atomics, one work-item per output: deterministic). */
__kernel void eos_wino_gemm_dw(__global const float *dMp, __global const float *Vp, __global float *dU, const int K,
                               const int C, const int NB) {
    const int c0 = get_global_id(0) * 4, m0 = get_global_id(1) * 2, e = get_global_id(2);
    if (c0 >= C || m0 >= K || e >= 16) return;
    const int m1 = min(m0 + 1, K - 1), cc1 = min(c0 + 1, C - 1), cc2 = min(c0 + 2, C - 1), cc3 = min(c0 + 3, C - 1);
    float8 s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
    for (int b = 0; b < NB; b++) {
        __global const float *D = dMp + ((size_t)e * NB + b) * K * WTILE;
        __global const float *X = Vp + ((size_t)e * NB + b) * C * WTILE;
        __global const float *d0 = D + m0 * WTILE, *d1 = D + m1 * WTILE;
        __global const float *x0 = X + c0 * WTILE, *x1 = X + cc1 * WTILE, *x2 = X + cc2 * WTILE,
                             *x3 = X + cc3 * WTILE;
        for (int q = 0; q < 4; q++) {
            const float8 u = vload8(q, d0), v = vload8(q, d1);
            const float8 y0 = vload8(q, x0), y1 = vload8(q, x1), y2 = vload8(q, x2), y3 = vload8(q, x3);
            s00 = EOS_MAD(u, y0, s00); s01 = EOS_MAD(u, y1, s01); s02 = EOS_MAD(u, y2, s02); s03 = EOS_MAD(u, y3, s03);
            s10 = EOS_MAD(v, y0, s10); s11 = EOS_MAD(v, y1, s11); s12 = EOS_MAD(v, y2, s12); s13 = EOS_MAD(v, y3, s13);
        }
    }
    __global float *o0 = dU + ((size_t)e * K + m0) * C + c0, *o1 = dU + ((size_t)e * K + m1) * C + c0;
    const int nc = min(4, C - c0);
    const float8 r0[4] = {s00, s01, s02, s03}, r1[4] = {s10, s11, s12, s13};
    for (int j = 0; j < nc; j++) {
        const float8 a = r0[j], z = r1[j];
        const float4 a4 = a.lo + a.hi, z4 = z.lo + z.hi;
        const float2 a2 = a4.lo + a4.hi, z2 = z4.lo + z4.hi;
        o0[j] = a2.x + a2.y;
        if (m1 != m0) o1[j] = z2.x + z2.y;
    }
}
