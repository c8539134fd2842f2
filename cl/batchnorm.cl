/* Batch normalisation over (N, C, HW): per-channel statistics, normalise (+ residual, + ReLU),
 * and the backward pass. PyTorch semantics: biased variance to normalise, unbiased variance in
 * the running estimate, running = (1 - momentum) * running + momentum * batch.
 * Reductions: one work-group of L work-items per channel, tree-summed in local memory
 * (L is a power of two chosen on the host from the device's limits and the row length HW:
 * runtime.c eos__reduce_local). M = N * HW.
 * Two-stage reductions (GPU paths, host/nn/batchnorm.c): with few channels one group per channel
 * leaves most of a GPU idle, so stage 1 runs P groups per channel, each over a contiguous chunk
 * of that channel's M values (whole rows of HW when P <= N, so reads coalesce), and writes a
 * partial; stage 2, one work-item per channel, merges the P partials in chunk order (fixed
 * order, no atomics: the same result on every run). */

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

/* A work-item's share of one row of HW values: the whole row when the group has one work-item
 * (CPUs: read as float8), else every L-th value from l (GPUs: neighbouring work-items read
 * neighbouring values). */
static uint eos_row_count(const int HW, const uint l, const uint L) {
    return l < (uint)HW ? ((uint)HW - 1 - l) / L + 1 : 0;
}

static float eos_sum8(const float8 v) {
    const float4 a = v.lo + v.hi;
    const float2 b = a.lo + a.hi;
    return b.x + b.y;
}

/* sum of (row[h] - shift) over the share; a second call with shift = the share's mean and sq
 * set gives its sum of squared deviations */
static float eos_row_sum(__global const float *row, const int HW, const uint l, const uint L, const float shift,
                         const int sq) {
    float s = 0.0f;
    if (L == 1) {
        float8 s8 = (float8)0.0f;
        int h = 0;
        for (; h + 8 <= HW; h += 8) {
            const float8 d = vload8(0, row + h) - (float8)shift;
            s8 += sq ? d * d : d;
        }
        for (; h < HW; h++) {
            const float d = row[h] - shift;
            s += sq ? d * d : d;
        }
        return eos_sum8(s8) + s;
    }
    for (uint h = l; h < (uint)HW; h += L) {
        const float d = row[h] - shift;
        s += sq ? d * d : d;
    }
    return s;
}

/* Chunk j of P over a channel's M = N * HW values (flattened as n * HW + h): its first index.
 * Whole rows when P <= N (row boundaries j * N / P), else an even split of the M values. */
static uint eos_chunk_start(const uint j, const uint P, const int N, const int HW) {
    if (P <= (uint)N) return (uint)(((ulong)j * (uint)N) / P) * (uint)HW;
    return (uint)(((ulong)j * (uint)N * (uint)HW) / P);
}

/* Stage 1 of the statistics: group g = c * P + j summarises chunk j of channel c as (count,
 * mean, M2) in part[3 g ..], by the same per-row-share Chan merge as eos_bn_stats, each row
 * clipped to the chunk. A chunk may be empty (P > M): count 0, mean 0, M2 0. */
__kernel void eos_bn_stats_partial(__global const float *x, __global float *part, const int N, const int C,
                                   const int HW, const int P, __local float *scratch) {
    const uint g = get_group_id(0), c = g / (uint)P, j = g % (uint)P;
    const uint l = get_local_id(0), L = get_local_size(0);
    const uint k0 = eos_chunk_start(j, (uint)P, N, HW), k1 = eos_chunk_start(j + 1, (uint)P, N, HW);
    float na = 0.0f, ma = 0.0f, qa = 0.0f;
    if (k1 > k0)
        for (uint n = k0 / (uint)HW; n * (uint)HW < k1; n++) {
            const uint h0 = max(k0, n * (uint)HW) - n * (uint)HW, h1 = min(k1 - n * (uint)HW, (uint)HW);
            const int len = (int)(h1 - h0);
            const uint nb = eos_row_count(len, l, L);
            if (nb == 0) continue;
            __global const float *seg = x + ((size_t)n * C + c) * HW + h0;
            const float mb = eos_row_sum(seg, len, l, L, 0.0f, 0) / (float)nb;
            const float qb = eos_row_sum(seg, len, l, L, mb, 1);
            const float nn = na + (float)nb, delta = mb - ma;
            ma += delta * ((float)nb / nn);
            qa += qb + delta * delta * (na * (float)nb / nn);
            na = nn;
        }
    const float cnt = (float)(k1 - k0);
    const float mu = k1 > k0 ? eos_group_sum(na * ma, scratch) / cnt : 0.0f;
    const float dm = ma - mu;
    const float q = eos_group_sum(qa + na * dm * dm, scratch);
    if (l == 0) {
        part[3 * (size_t)g] = cnt;
        part[3 * (size_t)g + 1] = mu;
        part[3 * (size_t)g + 2] = k1 > k0 ? q : 0.0f;
    }
}

/* Stage 2: channel c's P partials (count, mean, M2) combined in chunk order, then mean, invstd
 * and the running estimates exactly as eos_bn_stats writes them. One work-item per channel, two
 * passes over the partials: the mean first (sum of count x mean), then M2 = sum of M2_j + n_j
 * (mean_j - mean)^2, the same combination eos_bn_stats uses for its work-items; no division in
 * the loops (the convolutions' statistics epilogue gives thousands of partials a channel, which
 * Chan's pairwise update, a division a step, merged at a tenth of the speed). */
__kernel void eos_bn_stats_merge(__global const float *part, __global float *mean, __global float *invstd,
                                 __global float *running_mean, __global float *running_var, const int C, const int P,
                                 const float eps, const float momentum) {
    const int c = get_global_id(0);
    if (c >= C) return;
    __global const float *pc = part + 3 * (size_t)c * P;
    float na = 0.0f, sa = 0.0f;
    for (int j = 0; j < P; j++) {
        na += pc[3 * j];
        sa += pc[3 * j] * pc[3 * j + 1];
    }
    const float ma = sa / na;
    float qa = 0.0f;
    for (int j = 0; j < P; j++) {
        const float d = pc[3 * j + 1] - ma;
        qa += pc[3 * j + 2] + pc[3 * j] * d * d;
    }
    const float var = qa / na;
    mean[c] = ma;
    invstd[c] = rsqrt(var + eps);
    running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * ma;
    const float unbiased = na > 1.0f ? var * na / (na - 1.0f) : var;
    running_var[c] = (1.0f - momentum) * running_var[c] + momentum * unbiased;
}

/* x: (N, C, HW) -> mean, invstd: (C); running_mean, running_var: (C) updated in place.
 * One pass over memory: each row's share is summed, then its squared deviations from its own
 * mean are summed while the row is still in cache, and the (count, mean, M2) of the rows are
 * merged by Chan et al.'s update, so no large mean is ever subtracted from a large sum of
 * squares (the textbook one-pass formula's cancellation); float throughout. The work-items'
 * results are combined exactly the same way: M2 = sum M2_l + n_l (mean_l - mean)^2. */
__kernel void eos_bn_stats(__global const float *x, __global float *mean, __global float *invstd,
                           __global float *running_mean, __global float *running_var, const int N, const int C,
                           const int HW, const float eps, const float momentum, __local float *scratch) {
    const int c = get_group_id(0);
    const uint l = get_local_id(0), L = get_local_size(0);
    const uint M = (uint)(N * HW);
    const uint nb = eos_row_count(HW, l, L);
    float na = 0.0f, ma = 0.0f, qa = 0.0f;  /* this work-item's count, mean, M2 so far */
    if (nb > 0)
        for (int n = 0; n < N; n++) {
            __global const float *row = x + ((size_t)n * C + c) * HW;
            const float mb = eos_row_sum(row, HW, l, L, 0.0f, 0) / (float)nb;
            const float qb = eos_row_sum(row, HW, l, L, mb, 1);
            const float nn = na + (float)nb, delta = mb - ma;
            ma += delta * ((float)nb / nn);
            qa += qb + delta * delta * (na * (float)nb / nn);
            na = nn;
        }
    const float mu = eos_group_sum(na * ma, scratch) / (float)M;
    const float dm = ma - mu;
    const float var = eos_group_sum(qa + na * dm * dm, scratch) / (float)M;
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

/* dgamma = sum d * xhat, dbeta = sum d, per channel over (N, HW), with d = dy, or when relu
 * d = dy * (y > 0), y the output of the ReLU that followed the batch norm: the ReLU's backward
 * folded in, no pass of its own. Then d is written over dy, for the apply kernel and for a
 * residual branch (the lines were just read, so the store is cheap; reading y again in the
 * apply kernel instead measured slower). One pass; float8 along the rows on CPUs. */
/* One row segment of HW-layout values at base, len long: this work-item's share of sum d and
 * sum d (x - mu), d = dy (masked by y > 0 and written back when relu). */
static void eos_bn_bwd_seg(__global float *dy, __global const float *y, __global const float *x, const size_t base,
                           const int len, const float mu, const int relu, const uint l, const uint L, float *rg,
                           float *rb) {
    float sg = 0.0f, sb = 0.0f;
    if (L == 1) {
        float8 g8 = (float8)0.0f, b8 = (float8)0.0f;
        int h = 0;
        for (; h + 8 <= len; h += 8) {
            float8 d = vload8(0, dy + base + h);
            if (relu) {
                d = select((float8)0.0f, d, isgreater(vload8(0, y + base + h), (float8)0.0f));
                vstore8(d, 0, dy + base + h);
            }
            b8 += d;
            g8 += d * (vload8(0, x + base + h) - (float8)mu);
        }
        for (; h < len; h++) {
            float d = dy[base + h];
            if (relu) dy[base + h] = d = y[base + h] > 0.0f ? d : 0.0f;
            sb += d;
            sg += d * (x[base + h] - mu);
        }
        sb += eos_sum8(b8);
        sg += eos_sum8(g8);
    } else {
        for (uint h = l; h < (uint)len; h += L) {
            float d = dy[base + h];
            if (relu) dy[base + h] = d = y[base + h] > 0.0f ? d : 0.0f;
            sb += d;
            sg += d * (x[base + h] - mu);
        }
    }
    *rg = sg;
    *rb = sb;
}

/* channel c's rows of N images: this work-item's share (l of L) of sum d (x - mu) and sum d */
static void eos_bn_bwd_channel(__global float *dy, __global const float *y, __global const float *x, const int c,
                               const int N, const int C, const int HW, const float mu, const int relu, const uint l,
                               const uint L, float *rsg, float *rsb) {
    float sg = 0.0f, sb = 0.0f;
    for (int n = 0; n < N; n++) {
        float rg, rb;  /* this row's share, added to the totals once (shorter sums) */
        eos_bn_bwd_seg(dy, y, x, ((size_t)n * C + c) * HW, HW, mu, relu, l, L, &rg, &rb);
        sb += rb;
        sg += rg;
    }
    *rsg = sg;
    *rsb = sb;
}

__kernel void eos_bn_backward_reduce(__global float *dy, __global const float *y, __global const float *x,
                                     __global const float *mean, __global const float *invstd,
                                     __global float *dgamma, __global float *dbeta, const int relu, const int N,
                                     const int C, const int HW, __local float *scratch) {
    const int c = get_group_id(0);
    const uint l = get_local_id(0), L = get_local_size(0);
    float sg, sb;
    eos_bn_bwd_channel(dy, y, x, c, N, C, HW, mean[c], relu, l, L, &sg, &sb);
    const float g = eos_group_sum(sg, scratch) * invstd[c];
    const float b = eos_group_sum(sb, scratch);
    if (l == 0) {
        dgamma[c] = g;
        dbeta[c] = b;
    }
}

/* Stage 1 of the backward reduce: group g = c * P + j sums chunk j of channel c (chunks as in
 * eos_bn_stats_partial) into part[2 g] = sum d (x - mu), part[2 g + 1] = sum d. */
__kernel void eos_bn_backward_partial(__global float *dy, __global const float *y, __global const float *x,
                                      __global const float *mean, __global float *part, const int relu, const int N,
                                      const int C, const int HW, const int P, __local float *scratch) {
    const uint g = get_group_id(0), c = g / (uint)P, j = g % (uint)P;
    const uint l = get_local_id(0), L = get_local_size(0);
    const uint k0 = eos_chunk_start(j, (uint)P, N, HW), k1 = eos_chunk_start(j + 1, (uint)P, N, HW);
    const float mu = mean[c];
    float sg = 0.0f, sb = 0.0f;
    if (k1 > k0)
        for (uint n = k0 / (uint)HW; n * (uint)HW < k1; n++) {
            const uint h0 = max(k0, n * (uint)HW) - n * (uint)HW, h1 = min(k1 - n * (uint)HW, (uint)HW);
            float rg, rb;
            eos_bn_bwd_seg(dy, y, x, ((size_t)n * C + c) * HW + h0, (int)(h1 - h0), mu, relu, l, L, &rg, &rb);
            sb += rb;
            sg += rg;
        }
    const float tg = eos_group_sum(sg, scratch);
    const float tb = eos_group_sum(sb, scratch);
    if (l == 0) {
        part[2 * (size_t)g] = tg;
        part[2 * (size_t)g + 1] = tb;
    }
}

/* Stage 2: dgamma = invstd * sum of the P partials, dbeta = their sum, in chunk order. */
static void eos_bn_bwd_merge(__global const float *part, const int c, const int P, float *rsg, float *rsb) {
    float sg = 0.0f, sb = 0.0f;
    for (int j = 0; j < P; j++) {
        sg += part[2 * ((size_t)c * P + j)];
        sb += part[2 * ((size_t)c * P + j) + 1];
    }
    *rsg = sg;
    *rsb = sb;
}
__kernel void eos_bn_backward_merge(__global const float *part, __global const float *invstd,
                                    __global float *dgamma, __global float *dbeta, const int C, const int P) {
    const int c = get_global_id(0);
    if (c >= C) return;
    float sg, sb;
    eos_bn_bwd_merge(part, c, P, &sg, &sb);
    dgamma[c] = sg * invstd[c];
    dbeta[c] = sb;
}

/* one row of HW values at base: dx = k (dy - b - (x - mu) g), float8 along the row (the CPU path) */
static void eos_bn_bwd_apply_row(__global const float *dy, __global const float *x, __global float *dx,
                                 const size_t base, const int HW, const float k, const float b, const float g,
                                 const float mu) {
    int h = 0;
    for (; h + 8 <= HW; h += 8) {
        const float8 xv = vload8(0, x + base + h), d = vload8(0, dy + base + h);
        vstore8((float8)k * (d - (float8)b - (xv - (float8)mu) * (float8)g), 0, dx + base + h);
    }
    for (; h < HW; h++) dx[base + h] = k * (dy[base + h] - b - (x[base + h] - mu) * g);
}

/* The backward's sums and its apply in one kernel, one work-item per channel (the CPU path,
 * host/nn/batchnorm.c): the sums as eos_bn_backward_reduce with one work-item a group takes them
 * (P 0; with relu, dy masked and written back), or merged from the partials (C, P, 2) that the
 * convolution before took (P > 0, dy already masked) as eos_bn_backward_merge does; then dx over
 * the channel's rows as eos_bn_backward_apply_rows computes it. The same numbers as those
 * kernels, a launch fewer, and the apply reads the channel's dy and x while the sums' pass has
 * left them in the core's cache (a channel of ResNet's: 64 KiB to 1 MiB). */
static void eos_bn_backward_channel_of(const int c, __global float *dy, __global const float *y,
                                       __global const float *x, __global const float *mean,
                                       __global const float *invstd, __global const float *gamma,
                                       __global const float *part, const int P, __global float *dgamma,
                                       __global float *dbeta, __global float *dx, const int relu, const int N,
                                       const int C, const int HW, const float inv_m) {
    const float mu = mean[c], is = invstd[c];
    float sg, sb;
    if (P > 0) eos_bn_bwd_merge(part, c, P, &sg, &sb);
    else eos_bn_bwd_channel(dy, y, x, c, N, C, HW, mu, relu, 0, 1, &sg, &sb);
    const float dg = sg * is;
    dgamma[c] = dg;
    dbeta[c] = sb;
    for (int n = 0; n < N; n++)
        eos_bn_bwd_apply_row(dy, x, dx, ((size_t)n * C + c) * HW, HW, gamma[c] * is, sb * inv_m, dg * inv_m * is, mu);
}
/* two names, so a profile tells the sums' pass from the merge of sums already taken */
__kernel void eos_bn_backward_channel(__global float *dy, __global const float *y, __global const float *x,
                                      __global const float *mean, __global const float *invstd,
                                      __global const float *gamma, __global float *dgamma, __global float *dbeta,
                                      __global float *dx, const int relu, const int N, const int C, const int HW,
                                      const float inv_m) {
    const int c = get_global_id(0);
    if (c < C) eos_bn_backward_channel_of(c, dy, y, x, mean, invstd, gamma, NULL, 0, dgamma, dbeta, dx, relu, N, C, HW, inv_m);
}
__kernel void eos_bn_backward_channel_merge(__global float *dy, __global const float *x, __global const float *mean,
                                            __global const float *invstd, __global const float *gamma,
                                            __global const float *part, const int P, __global float *dgamma,
                                            __global float *dbeta, __global float *dx, const int N, const int C,
                                            const int HW, const float inv_m) {
    const int c = get_global_id(0);
    if (c < C) eos_bn_backward_channel_of(c, dy, NULL, x, mean, invstd, gamma, part, P, dgamma, dbeta, dx, 0, N, C, HW, inv_m);
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
 * division per element and float8 arithmetic along the row (the CPU path, host/nn/batchnorm.c). */
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
    const float is = invstd[c];
    eos_bn_bwd_apply_row(dy, x, dx, (size_t)i * HW, HW, gamma[c] * is, dbeta[c] * inv_m, dgamma[c] * inv_m * is,
                         mean[c]);
}
