/* Element-wise kernels over flat float buffers, and the small reductions the layers share.
 * Every 1-d kernel bounds-checks against its element count because GPUs round the global size
 * up to the work-group size. */

/* x: (n) */
__kernel void eos_fill(__global float *x, const float value, const uint n) {
    const uint i = get_global_id(0);
    if (i < n) x[i] = value;
}

/* y = max(x, 0); y may alias x. (n) */
__kernel void eos_relu_forward(__global const float *x, __global float *y, const uint n) {
    const uint i = get_global_id(0);
    if (i < n) y[i] = fmax(x[i], 0.0f);
}

/* dx = dy where the ReLU's output y > 0, else 0; dx may alias dy. (n) */
__kernel void eos_relu_backward(__global const float *dy, __global const float *y, __global float *dx, const uint n) {
    const uint i = get_global_id(0);
    if (i < n) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

/* y += x (n) */
__kernel void eos_add_inplace(__global float *y, __global const float *x, const uint n) {
    const uint i = get_global_id(0);
    if (i < n) y[i] += x[i];
}

/* Option-A shortcut: x (N, Ci, H, W) -> y (N, Co, H/2, W/2): every second pixel, Co - Ci zero
 * channels split evenly before and after (pad = (Co - Ci) / 2). One work-item per output row
 * (n, c, oh): one work-item per element spent PoCL's time on index arithmetic and launches. */
__kernel void eos_shortcut_a_forward(__global const float *x, __global float *y, const int N, const int Ci,
                                     const int H, const int W, const int Co) {
    const int r = get_global_id(0), OH = (H + 1) / 2, OW = (W + 1) / 2;
    if (r >= N * Co * OH) return;
    const int oh = r % OH, c = (r / OH) % Co, n = r / (OH * Co), ci = c - (Co - Ci) / 2;
    __global float *out = y + (size_t)r * OW;
    if (ci < 0 || ci >= Ci) {
        for (int ow = 0; ow < OW; ow++) out[ow] = 0.0f;
        return;
    }
    __global const float *in = x + (((size_t)n * Ci + ci) * H + 2 * oh) * W;
    for (int ow = 0; ow < OW; ow++) out[ow] = in[2 * ow];
}

/* Its adjoint: dy (N, Co, H/2, W/2) -> dx (N, Ci, H, W), dx += when accumulate, else dx =; one
 * work-item per dx row (n, ci, h) */
__kernel void eos_shortcut_a_backward(__global const float *dy, __global float *dx, const int N, const int Ci,
                                      const int H, const int W, const int Co, const int accumulate) {
    const int r = get_global_id(0), OH = (H + 1) / 2, OW = (W + 1) / 2;
    if (r >= N * Ci * H) return;
    const int h = r % H, ci = (r / H) % Ci, n = r / (H * Ci);
    __global float *out = dx + (size_t)r * W;
    if (h & 1) {  /* an odd row: no gradient */
        if (!accumulate)
            for (int w = 0; w < W; w++) out[w] = 0.0f;
        return;
    }
    __global const float *g = dy + (((size_t)n * Co + ci + (Co - Ci) / 2) * OH + h / 2) * OW;
    for (int w = 0; w < W; w++) {
        const float v = (w & 1) ? 0.0f : g[w / 2];
        out[w] = accumulate ? out[w] + v : v;
    }
}

/* y (rows, F) += b (F) broadcast over rows; or per channel of (N, F, S) when S > 1 */
__kernel void eos_bias_add(__global float *y, __global const float *b, const int F, const int S, const uint n) {
    const uint i = get_global_id(0);
    if (i < n) y[i] += b[(i / (uint)S) % (uint)F];
}

/* out[c] = sum over n, s of x (N, C, S): one work-group of L items per channel */
__kernel void eos_channel_sum(__global const float *x, __global float *out, const int N, const int C, const int S,
                              __local float *scratch) {
    const int c = get_group_id(0);
    const uint l = get_local_id(0), L = get_local_size(0);
    const uint M = (uint)(N * S);
    float s = 0.0f;
    for (uint k = l; k < M; k += L) s += x[((k / (uint)S) * (uint)C + (uint)c) * (uint)S + k % (uint)S];
    scratch[l] = s;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint h = L / 2; h > 0; h >>= 1) {
        if (l < h) scratch[l] += scratch[l + h];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (l == 0) out[c] = scratch[0];
}

/* The same in two stages (GPU paths, host/nn/batchnorm.c eos__channel_sum): group g = c * P + j
 * sums chunk j of channel c's M = N * S values (whole rows of S when P <= N, else an even
 * split; as cl/batchnorm.cl's chunks) into part[g], neighbouring work-items reading
 * neighbouring values of a row; then one work-item per channel adds its P partials in order. */
static uint eos_sum_chunk_start(const uint j, const uint P, const int N, const int S) {
    if (P <= (uint)N) return (uint)(((ulong)j * (uint)N) / P) * (uint)S;
    return (uint)(((ulong)j * (uint)N * (uint)S) / P);
}

__kernel void eos_channel_sum_partial(__global const float *x, __global float *part, const int N, const int C,
                                      const int S, const int P, __local float *scratch) {
    const uint g = get_group_id(0), c = g / (uint)P, j = g % (uint)P;
    const uint l = get_local_id(0), L = get_local_size(0);
    const uint k0 = eos_sum_chunk_start(j, (uint)P, N, S), k1 = eos_sum_chunk_start(j + 1, (uint)P, N, S);
    float s = 0.0f;
    if (k1 > k0)
        for (uint n = k0 / (uint)S; n * (uint)S < k1; n++) {
            const uint h0 = max(k0, n * (uint)S) - n * (uint)S, h1 = min(k1 - n * (uint)S, (uint)S);
            __global const float *row = x + ((size_t)n * C + c) * S;
            for (uint h = h0 + l; h < h1; h += L) s += row[h];
        }
    scratch[l] = s;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint h = L / 2; h > 0; h >>= 1) {
        if (l < h) scratch[l] += scratch[l + h];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (l == 0) part[g] = scratch[0];
}

__kernel void eos_channel_sum_merge(__global const float *part, __global float *out, const int C, const int P) {
    const int c = get_global_id(0);
    if (c >= C) return;
    float s = 0.0f;
    for (int j = 0; j < P; j++) s += part[(size_t)c * P + j];
    out[c] = s;
}
