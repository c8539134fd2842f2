/* Winograd F(2x2,3x3) for 3x3, stride-1, pad-1 convolutions (host/conv.c, algorithm "winograd"):
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
 * GEMMs carry the arithmetic. Element e = 4*i + j is the transformed tile's (i, j). */

/* one row of B^T d B: r = B^T applied to the column (a, b, c, d) */
#define EOS_BT(a, b, c, d, r0, r1, r2, r3) \
    do {                                   \
        r0 = (a) - (c);                    \
        r1 = (b) + (c);                    \
        r2 = (c) - (b);                    \
        r3 = (b) - (d);                    \
    } while (0)

/* V (16, C, T) from x (N, C, H, W); global (TH, C, N) */
__kernel void eos_wino_input(__global const float *x, __global float *V, const int N, const int C, const int H,
                             const int W, const int TH, const int TW) {
    const int ty = get_global_id(0), c = get_global_id(1), n = get_global_id(2);
    if (ty >= TH || c >= C || n >= N) return;
    const size_t T = (size_t)N * TH * TW, plane = (size_t)C * T;
    __global const float *xc = x + ((size_t)n * C + c) * H * W;
    __global float *v = V + (size_t)c * T + ((size_t)n * TH + ty) * TW;
    const int y0 = 2 * ty - 1;
    for (int tx = 0; tx < TW; tx++) {
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
            v[(4 * i + 0) * plane + tx] = r0;
            v[(4 * i + 1) * plane + tx] = r1;
            v[(4 * i + 2) * plane + tx] = r2;
            v[(4 * i + 3) * plane + tx] = r3;
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
                              const int N, const int K, const int H, const int W, const int TH, const int TW) {
    const int ty = get_global_id(0), k = get_global_id(1), n = get_global_id(2);
    if (ty >= TH || k >= K || n >= N) return;
    const size_t T = (size_t)N * TH * TW, plane = (size_t)K * T;
    __global const float *m = M + (size_t)k * T + ((size_t)n * TH + ty) * TW;
    __global float *yk = y + ((size_t)n * K + k) * H * W;
    const float bias = has_b ? b[k] : 0.0f;
    const int oy = 2 * ty, two_rows = oy + 1 < H;
    for (int tx = 0; tx < TW; tx++) {
        float e[4][4];
        for (int i = 0; i < 16; i++) e[i / 4][i % 4] = m[i * plane + tx];
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

/* dM (16, K, T) = A dy A^T per tile from dy (N, K, H, W), zero past the image; global (TH, K, N) */
__kernel void eos_wino_dy(__global const float *dy, __global float *dM, const int N, const int K, const int H,
                          const int W, const int TH, const int TW) {
    const int ty = get_global_id(0), k = get_global_id(1), n = get_global_id(2);
    if (ty >= TH || k >= K || n >= N) return;
    const size_t T = (size_t)N * TH * TW, plane = (size_t)K * T;
    __global const float *dk = dy + ((size_t)n * K + k) * H * W;
    __global float *m = dM + (size_t)k * T + ((size_t)n * TH + ty) * TW;
    const int oy = 2 * ty;
    for (int tx = 0; tx < TW; tx++) {
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
            m[(4 * i + 0) * plane + tx] = t[i][0];
            m[(4 * i + 1) * plane + tx] = t[i][0] + t[i][1];
            m[(4 * i + 2) * plane + tx] = t[i][0] - t[i][1];
            m[(4 * i + 3) * plane + tx] = -t[i][1];
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
