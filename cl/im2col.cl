/* Convolution data movement: im2col, its adjoint col2im, and a swap of the two outer axes.
 * Legend: N batch, C in channels, H x W input, KH x KW kernel, OH x OW output,
 * K = C*KH*KW rows of the column matrix, P = N*OH*OW its columns (n major, then oh, ow).
 * col2im gathers (no atomics): each input pixel sums the column entries it fed. */

/* x: (N, C, H, W) -> col: (K, P), row (c*KH + kh)*KW + kw. One work-item per (row, n, oh)
 * writes OW consecutive columns: few divisions, contiguous stores. */
__kernel void eos_im2col(__global const float *x, __global float *col, const int N, const int C, const int H,
                         const int W, const int KH, const int KW, const int stride, const int pad, const int OH,
                         const int OW) {
    const uint i = get_global_id(0);
    if (i >= (uint)(C * KH * KW * N * OH)) return;
    const int oh = (int)(i % (uint)OH), n = (int)((i / (uint)OH) % (uint)N), r = (int)(i / (uint)(OH * N));
    const int kw = r % KW, kh = (r / KW) % KH, c = r / (KW * KH);
    const int ih = oh * stride - pad + kh;
    __global float *dst = col + (size_t)r * (size_t)(N * OH * OW) + (size_t)((n * OH + oh) * OW);
    if (ih < 0 || ih >= H) {
        for (int ow = 0; ow < OW; ow++) dst[ow] = 0.0f;
        return;
    }
    __global const float *src = x + ((size_t)(n * C + c) * H + ih) * W;
    for (int ow = 0; ow < OW; ow++) {
        const int iw = ow * stride - pad + kw;
        dst[ow] = (iw >= 0 && iw < W) ? src[iw] : 0.0f;
    }
}

/* col: (K, P) -> x: (N, C, H, W), x = sum of the entries each pixel was copied to. One
 * work-item per input row (n, c, ih). */
__kernel void eos_col2im(__global const float *col, __global float *x, const int N, const int C, const int H,
                         const int W, const int KH, const int KW, const int stride, const int pad, const int OH,
                         const int OW) {
    const uint i = get_global_id(0);
    if (i >= (uint)(N * C * H)) return;
    const int ih = (int)(i % (uint)H), c = (int)((i / (uint)H) % (uint)C), n = (int)(i / (uint)(H * C));
    const size_t P = (size_t)(N * OH * OW);
    __global float *dst = x + ((size_t)(n * C + c) * H + ih) * W;
    for (int iw = 0; iw < W; iw++) dst[iw] = 0.0f;
    for (int kh = 0; kh < KH; kh++) {
        const int t = ih + pad - kh;
        if (t < 0 || t % stride) continue;
        const int oh = t / stride;
        if (oh >= OH) continue;
        for (int kw = 0; kw < KW; kw++) {
            __global const float *src = col + (size_t)((c * KH + kh) * KW + kw) * P + (size_t)((n * OH + oh) * OW);
            for (int iw = 0; iw < W; iw++) {
                const int u = iw + pad - kw;
                if (u < 0 || u % stride) continue;
                const int ow = u / stride;
                if (ow < OW) dst[iw] += src[ow];
            }
        }
    }
}

/* src: (A, B, S) -> dst: (B, A, S); turns (N, C, HW) into (C, N, HW) and back */
__kernel void eos_swap01(__global const float *src, __global float *dst, const int A, const int B, const int S) {
    const uint i = get_global_id(0);
    if (i >= (uint)(A * B * S)) return;
    const uint s = i % (uint)S, b = (i / (uint)S) % (uint)B, a = i / (uint)(S * B);
    dst[(b * (uint)A + a) * (uint)S + s] = src[i];
}
