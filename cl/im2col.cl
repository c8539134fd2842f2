/* Convolution data movement: im2col, its adjoint col2im, and a swap of the two outer axes.
 * Legend: N batch, C in channels, H x W input, KH x KW kernel, OH x OW output,
 * K = C*KH*KW rows of the column matrix, P = N*OH*OW its columns (n major, then oh, ow).
 * col2im gathers (no atomics): each input pixel sums the column entries it fed. */

/* x: (N, C, H, W) -> col: (K, P), row (c*KH + kh)*KW + kw */
__kernel void eos_im2col(__global const float *x, __global float *col, const int N, const int C, const int H,
                         const int W, const int KH, const int KW, const int stride, const int pad, const int OH,
                         const int OW) {
    const uint i = get_global_id(0);
    const uint P = (uint)(N * OH * OW);
    if (i >= (uint)(C * KH * KW) * P) return;
    const uint r = i / P, p = i % P;
    const int kw = (int)(r % (uint)KW), kh = (int)((r / (uint)KW) % (uint)KH), c = (int)(r / (uint)(KW * KH));
    const int ow = (int)(p % (uint)OW), oh = (int)((p / (uint)OW) % (uint)OH), n = (int)(p / (uint)(OW * OH));
    const int ih = oh * stride - pad + kh, iw = ow * stride - pad + kw;
    col[i] = (ih >= 0 && ih < H && iw >= 0 && iw < W) ? x[((n * C + c) * H + ih) * W + iw] : 0.0f;
}

/* col: (K, P) -> x: (N, C, H, W), x = sum of the entries each pixel was copied to */
__kernel void eos_col2im(__global const float *col, __global float *x, const int N, const int C, const int H,
                         const int W, const int KH, const int KW, const int stride, const int pad, const int OH,
                         const int OW) {
    const uint i = get_global_id(0);
    if (i >= (uint)(N * C * H * W)) return;
    const int iw = (int)(i % (uint)W), ih = (int)((i / (uint)W) % (uint)H);
    const int c = (int)((i / (uint)(W * H)) % (uint)C), n = (int)(i / (uint)(W * H * C));
    const uint P = (uint)(N * OH * OW);
    float acc = 0.0f;
    for (int kh = 0; kh < KH; kh++) {
        const int t = ih + pad - kh;
        if (t < 0 || t % stride) continue;
        const int oh = t / stride;
        if (oh >= OH) continue;
        for (int kw = 0; kw < KW; kw++) {
            const int u = iw + pad - kw;
            if (u < 0 || u % stride) continue;
            const int ow = u / stride;
            if (ow >= OW) continue;
            acc += col[(uint)((c * KH + kh) * KW + kw) * P + (uint)((n * OH + oh) * OW + ow)];
        }
    }
    x[i] = acc;
}

/* src: (A, B, S) -> dst: (B, A, S); turns (N, C, HW) into (C, N, HW) and back */
__kernel void eos_swap01(__global const float *src, __global float *dst, const int A, const int B, const int S) {
    const uint i = get_global_id(0);
    if (i >= (uint)(A * B * S)) return;
    const uint s = i % (uint)S, b = (i / (uint)S) % (uint)B, a = i / (uint)(S * B);
    dst[(b * (uint)A + a) * (uint)S + s] = src[i];
}
