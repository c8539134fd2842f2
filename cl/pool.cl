/* Pooling: global average pool (ResNet-s's last step) and max pool, forward and backward.
 * Legend: x (N, C, H, W); max pool output (N, C, OH, OW) with OH = (H - K) / S + 1. */

/* x (N*C, HW) -> y (N*C) */
__kernel void eos_avgpool_forward(__global const float *x, __global float *y, const int HW, const uint NC) {
    const uint i = get_global_id(0);
    if (i >= NC) return;
    float s = 0.0f;
    for (int k = 0; k < HW; k++) s += x[i * (uint)HW + (uint)k];
    y[i] = s / (float)HW;
}

/* dy (N*C) -> dx (N*C, HW) */
__kernel void eos_avgpool_backward(__global const float *dy, __global float *dx, const int HW, const uint n) {
    const uint i = get_global_id(0);
    if (i < n) dx[i] = dy[i / (uint)HW] / (float)HW;
}

/* y (N, C, OH, OW) = max over each K x K window at stride S; arg holds the winning input
 * offset within the (H, W) plane as a float (exact below 2^24) */
__kernel void eos_maxpool_forward(__global const float *x, __global float *y, __global float *arg, const int H,
                                  const int W, const int K, const int S, const int OH, const int OW, const uint n) {
    const uint i = get_global_id(0);
    if (i >= n) return;
    const int ow = (int)(i % (uint)OW), oh = (int)((i / (uint)OW) % (uint)OH);
    const uint plane = i / (uint)(OW * OH);
    __global const float *p = x + plane * (uint)(H * W);
    float best = -INFINITY;
    int at = (oh * S) * W + ow * S;
    for (int kh = 0; kh < K; kh++)
        for (int kw = 0; kw < K; kw++) {
            const int o = (oh * S + kh) * W + ow * S + kw;
            if (p[o] > best) { best = p[o]; at = o; }  /* first maximum wins, as in PyTorch */
        }
    y[i] = best;
    arg[i] = (float)at;
}

/* dx (N, C, H, W): each input pixel gathers dy from the windows whose maximum it was */
__kernel void eos_maxpool_backward(__global const float *dy, __global const float *arg, __global float *dx,
                                   const int H, const int W, const int K, const int S, const int OH, const int OW,
                                   const uint n) {
    const uint i = get_global_id(0);
    if (i >= n) return;
    const int w = (int)(i % (uint)W), h = (int)((i / (uint)W) % (uint)H);
    const uint plane = i / (uint)(W * H);
    const int self = h * W + w;
    float g = 0.0f;
    const int oh_lo = h - K + 1 > 0 ? (h - K + S) / S : 0, ow_lo = w - K + 1 > 0 ? (w - K + S) / S : 0;
    for (int oh = oh_lo; oh <= h / S && oh < OH; oh++)
        for (int ow = ow_lo; ow <= w / S && ow < OW; ow++) {
            const uint o = plane * (uint)(OH * OW) + (uint)(oh * OW + ow);
            if ((int)arg[o] == self) g += dy[o];
        }
    dx[i] = g;
}
