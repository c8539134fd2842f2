/* Batch normalisation over (N, C, HW): per-channel statistics, normalise (+ residual, + ReLU),
 * and the backward pass. PyTorch semantics: biased variance to normalise, unbiased variance in
 * the running estimate, running = (1 - momentum) * running + momentum * batch.
 * Reductions: one work-group of L work-items per channel, tree-summed in local memory
 * (L is a power of two chosen on the host from the device's limits). M = N * HW. */

static float eos_group_sum(float v, __local float *scratch) {
    const uint l = get_local_id(0), L = get_local_size(0);
    scratch[l] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint s = L / 2; s > 0; s >>= 1) {
        if (l < s) scratch[l] += scratch[l + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float total = scratch[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return total;
}

/* x: (N, C, HW) -> mean, invstd: (C); running_mean, running_var: (C) updated in place */
__kernel void eos_bn_stats(__global const float *x, __global float *mean, __global float *invstd,
                           __global float *running_mean, __global float *running_var, const int N, const int C,
                           const int HW, const float eps, const float momentum, __local float *scratch) {
    const int c = get_group_id(0);
    const uint l = get_local_id(0), L = get_local_size(0);
    const uint M = (uint)(N * HW);
    /* row by row (contiguous, no index division): one work-item per channel on CPUs vectorises */
    float s = 0.0f;
    for (int n = 0; n < N; n++) {
        __global const float *row = x + ((size_t)n * C + c) * HW;
        for (uint h = l; h < (uint)HW; h += L) s += row[h];
    }
    const float mu = eos_group_sum(s, scratch) / (float)M;
    float q = 0.0f;
    for (int n = 0; n < N; n++) {
        __global const float *row = x + ((size_t)n * C + c) * HW;
        for (uint h = l; h < (uint)HW; h += L) {
            const float d = row[h] - mu;
            q += d * d;
        }
    }
    const float var = eos_group_sum(q, scratch) / (float)M;
    if (l == 0) {
        mean[c] = mu;
        invstd[c] = rsqrt(var + eps);
        running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * mu;
        const float unbiased = M > 1 ? var * (float)M / (float)(M - 1) : var;
        running_var[c] = (1.0f - momentum) * running_var[c] + momentum * unbiased;
    }
}

/* Evaluation: mean, invstd (C) from the running statistics */
__kernel void eos_bn_eval_params(__global const float *running_mean, __global const float *running_var,
                                 __global float *mean, __global float *invstd, const int C, const float eps) {
    const int c = get_global_id(0);
    if (c >= C) return;
    mean[c] = running_mean[c];
    invstd[c] = rsqrt(running_var[c] + eps);
}

/* y = gamma * (x - mean) * invstd + beta (+ residual) (then max(., 0) when relu); all (N, C, HW).
 * residual may be a NULL buffer when has_residual is 0. y may alias x. */
__kernel void eos_bn_apply(__global const float *x, __global float *y, __global const float *mean,
                           __global const float *invstd, __global const float *gamma, __global const float *beta,
                           __global const float *residual, const int has_residual, const int relu, const int C,
                           const int HW, const uint total) {
    const uint i = get_global_id(0);
    if (i >= total) return;
    const int c = (int)((i / (uint)HW) % (uint)C);
    float v = gamma[c] * (x[i] - mean[c]) * invstd[c] + beta[c];
    if (has_residual) v += residual[i];
    y[i] = relu ? fmax(v, 0.0f) : v;
}

/* dgamma = sum dy * xhat, dbeta = sum dy, per channel over (N, HW) */
__kernel void eos_bn_backward_reduce(__global const float *dy, __global const float *x, __global const float *mean,
                                     __global const float *invstd, __global float *dgamma, __global float *dbeta,
                                     const int N, const int C, const int HW, __local float *scratch) {
    const int c = get_group_id(0);
    const uint l = get_local_id(0), L = get_local_size(0);
    const uint M = (uint)(N * HW);
    const float mu = mean[c], is = invstd[c];
    float sg = 0.0f, sb = 0.0f;
    for (int n = 0; n < N; n++) {
        const size_t base = ((size_t)n * C + c) * HW;
        for (uint h = l; h < (uint)HW; h += L) {
            sb += dy[base + h];
            sg += dy[base + h] * (x[base + h] - mu) * is;
        }
    }
    const float g = eos_group_sum(sg, scratch);
    const float b = eos_group_sum(sb, scratch);
    if (l == 0) {
        dgamma[c] = g;
        dbeta[c] = b;
    }
}

/* dx = gamma * invstd * (dy - dbeta / M - xhat * dgamma / M); all (N, C, HW) */
__kernel void eos_bn_backward_apply(__global const float *dy, __global const float *x, __global const float *mean,
                                    __global const float *invstd, __global const float *gamma,
                                    __global const float *dgamma, __global const float *dbeta, __global float *dx,
                                    const int C, const int HW, const float inv_m, const uint total) {
    const uint i = get_global_id(0);
    if (i >= total) return;
    const int c = (int)((i / (uint)HW) % (uint)C);
    const float xhat = (x[i] - mean[c]) * invstd[c];
    dx[i] = gamma[c] * invstd[c] * (dy[i] - dbeta[c] * inv_m - xhat * dgamma[c] * inv_m);
}

/* The two element-wise passes above, one work-item per (n, c) row of HW values: no index
 * division per element and float8 arithmetic along the row (the CPU path, host/batchnorm.c). */
__kernel void eos_bn_apply_rows(__global const float *x, __global float *y, __global const float *mean,
                                __global const float *invstd, __global const float *gamma, __global const float *beta,
                                __global const float *residual, const int has_residual, const int relu, const int C,
                                const int HW, const int rows) {
    const int i = get_global_id(0);
    if (i >= rows) return;
    const int c = i % C;
    const float sc = gamma[c] * invstd[c], sh = beta[c] - mean[c] * sc;
    const size_t base = (size_t)i * HW;
    int h = 0;
    for (; h + 8 <= HW; h += 8) {
        float8 v = mad(vload8(0, x + base + h), (float8)sc, (float8)sh);
        if (has_residual) v += vload8(0, residual + base + h);
        if (relu) v = fmax(v, (float8)0.0f);
        vstore8(v, 0, y + base + h);
    }
    for (; h < HW; h++) {
        float v = x[base + h] * sc + sh;
        if (has_residual) v += residual[base + h];
        y[base + h] = relu ? fmax(v, 0.0f) : v;
    }
}

__kernel void eos_bn_backward_apply_rows(__global const float *dy, __global const float *x,
                                         __global const float *mean, __global const float *invstd,
                                         __global const float *gamma, __global const float *dgamma,
                                         __global const float *dbeta, __global float *dx, const int C, const int HW,
                                         const float inv_m, const int rows) {
    const int i = get_global_id(0);
    if (i >= rows) return;
    const int c = i % C;
    const float is = invstd[c], k = gamma[c] * is, mu = mean[c];
    const float b = dbeta[c] * inv_m, g = dgamma[c] * inv_m * is;  /* dx = k (dy - b - (x - mu) g) */
    const size_t base = (size_t)i * HW;
    int h = 0;
    for (; h + 8 <= HW; h += 8) {
        const float8 xv = vload8(0, x + base + h), d = vload8(0, dy + base + h);
        vstore8((float8)k * (d - (float8)b - (xv - (float8)mu) * (float8)g), 0, dx + base + h);
    }
    for (; h < HW; h++) dx[base + h] = k * (dy[base + h] - b - (x[base + h] - mu) * g);
}
