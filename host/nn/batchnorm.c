/* batchnorm2d (cl/batchnorm.cl), PyTorch semantics (GUIDE section 5): training normalises with
 * the batch's biased variance and moves the running estimates by momentum, with the unbiased
 * variance; evaluation uses the running estimates. The forward pass can fuse the residual add
 * and the ReLU that follow it in a ResNet block, and the backward pass folds in that ReLU's
 * backward (eos_batchnorm_relu_backward). Shapes: x, y (N, C, HW); per-channel (C). */
#include "internal.h"
#include "dist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static eos_status check(int N, int C, int HW, const eos_tensor *x, const eos_tensor *gamma, const eos_tensor *beta,
                        const eos_tensor *mean, const eos_tensor *invstd, const eos_tensor *residual,
                        const eos_tensor *y) {
    if (N < 1 || C < 1 || HW < 1) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "batchnorm: bad shape N=%d C=%d HW=%d", N, C, HW);
    size_t n = (size_t)N * C * HW;
    EOS_TRY(eos__need(x, n, "batchnorm x"));
    EOS_TRY(eos__need(y, n, "batchnorm y"));
    EOS_TRY(eos__need(gamma, (size_t)C, "batchnorm gamma"));
    EOS_TRY(eos__need(beta, (size_t)C, "batchnorm beta"));
    EOS_TRY(eos__need(mean, (size_t)C, "batchnorm mean"));
    EOS_TRY(eos__need(invstd, (size_t)C, "batchnorm invstd"));
    if (residual) EOS_TRY(eos__need(residual, n, "batchnorm residual"));
    return EOS_OK;
}

/* Two-stage reductions (cl/batchnorm.cl): on GPU paths enough (channel, chunk) groups for about
 * 4 per compute unit, each chunk at least 4096 values (fewer and the partials' second pass
 * costs more than the parallelism brings); one chunk means the one-stage kernel. CPU paths keep
 * the one-stage kernel: one work-item per channel already gives every core work when C >= the
 * cores, the ResNet case. rt->reduce_chunks_force (tests) forces P chunks on every path. */
#define EOS__CHUNK_MIN 4096
#define EOS__CHUNK_MAX 1024

int eos__reduce_chunks(eos_runtime_t rt, size_t channels, size_t per_channel) {
    if (rt->reduce_chunks_force) return (int)rt->reduce_chunks_force;
    if (!eos__gpu_paths(rt) || channels == 0) return 0;
    size_t target = 4 * (size_t)(rt->dev.compute_units ? rt->dev.compute_units : 1);
    size_t p = target / channels, most = per_channel / EOS__CHUNK_MIN;
    if (p > most) p = most;
    if (p > EOS__CHUNK_MAX) p = EOS__CHUNK_MAX;
    return p >= 2 ? (int)p : 0;
}

/* The chunks per channel of a reduction over N rows of HW values each: eos__reduce_chunks'
 * choice, raised on a device that caps a work-item's loop trips (eos__loop_cap; Mesa's llvmpipe)
 * until one chunk's loops fit. A chunk of m values over r rows costs a work-item at most 2 m
 * trips (two passes, one value a trip in the worst case) + 20 r (the row loop and the tails of
 * the float8 loops) + 64 (the group sum's halvings), whichever kernel (stats, backward or
 * channel sum, one- or two-stage) runs it. */
static size_t chunk_trips(size_t P, size_t N, size_t HW) {
    size_t M = N * HW, m, rows;
    if (P <= N) {
        rows = (N + P - 1) / P;
        m = rows * HW;
    } else {
        m = (M + P - 1) / P + 1;
        rows = m / HW + 2;
    }
    return 2 * m + 20 * rows + 64;
}

static int reduce_chunks_capped(eos_runtime_t rt, size_t C, int N, int HW) {
    int P = eos__reduce_chunks(rt, C, (size_t)N * HW);
    size_t cap = eos__loop_cap(rt), p = P > 0 ? (size_t)P : 1, M = (size_t)N * HW;
    if (!cap || rt->reduce_chunks_force || chunk_trips(p, (size_t)N, (size_t)HW) <= cap) return P;
    while (p < M && chunk_trips(p, (size_t)N, (size_t)HW) > cap) p *= 2;
    return p > 0x7fffffff ? 0x7fffffff : (int)p;
}

eos_status eos__reduce_partials(eos_runtime_t rt, size_t n, cl_mem *buf) {
    if (rt->reduce_part.numel < n) {
        eos_tensor_free(&rt->reduce_part);
        size_t want = n < 4096 ? 4096 : n;
        EOS_TRY(eos_tensor_alloc(rt, &rt->reduce_part, 1, &want));
    }
    *buf = rt->reduce_part.buf;
    return EOS_OK;
}

eos_status eos__channel_sum(eos_runtime_t rt, const eos_tensor *x, eos_tensor *out, int N, int C, int S) {
    int P = reduce_chunks_capped(rt, (size_t)C, N, S);
    if (P == 0) {
        eos__arg a[] = {EOS_ARG(x->buf), EOS_ARG(out->buf), EOS_ARG(N), EOS_ARG(C), EOS_ARG(S)};
        return eos__run_groups(rt, "elementwise.cl", "eos_channel_sum", (size_t)C, (size_t)N * S, a, EOS_NARGS(a));
    }
    cl_mem part;
    EOS_TRY(eos__reduce_partials(rt, (size_t)C * P, &part));
    eos__arg a1[] = {EOS_ARG(x->buf), EOS_ARG(part), EOS_ARG(N), EOS_ARG(C), EOS_ARG(S), EOS_ARG(P)};
    EOS_TRY(eos__run_groups(rt, "elementwise.cl", "eos_channel_sum_partial", (size_t)C * P, (size_t)S, a1,
                            EOS_NARGS(a1)));
    eos__arg a2[] = {EOS_ARG(part), EOS_ARG(out->buf), EOS_ARG(C), EOS_ARG(P)};
    return eos__run_1d(rt, "elementwise.cl", "eos_channel_sum_merge", (size_t)C, a2, EOS_NARGS(a2));
}

/* CPUs take the row kernels (one work-item per (n, c) row, float8 along it), other devices
 * one work-item per element; EOS_BN_PATH=rows|elements forces one (the tests run both). */
static int by_rows(eos_runtime_t rt) {
    const char *e = getenv("EOS_BN_PATH");
    if (e && e[0]) return !strcmp(e, "rows");
    return !eos__gpu_paths(rt);
}

static eos_status apply(eos_runtime_t rt, int N, int C, int HW, const eos_tensor *x, const eos_tensor *gamma,
                        const eos_tensor *beta, const eos_tensor *mean, const eos_tensor *invstd,
                        const eos_tensor *residual, int relu, eos_tensor *y) {
    cl_uint total = (cl_uint)((size_t)N * C * HW);
    cl_mem res = residual ? residual->buf : NULL;
    int has_res = residual != NULL;
    if (by_rows(rt)) {
        int rows = N * C;
        eos__arg a[] = {EOS_ARG(x->buf), EOS_ARG(y->buf), EOS_ARG(mean->buf), EOS_ARG(invstd->buf), EOS_ARG(gamma->buf),
                        EOS_ARG(beta->buf), EOS_ARG(res), EOS_ARG(has_res), EOS_ARG(relu), EOS_ARG(C), EOS_ARG(HW),
                        EOS_ARG(rows)};
        size_t g = (size_t)rows;
        return eos__run_nd(rt, "batchnorm.cl", "eos_bn_apply_rows", 1, &g, a, EOS_NARGS(a));
    }
    eos__arg a[] = {EOS_ARG(x->buf), EOS_ARG(y->buf), EOS_ARG(mean->buf), EOS_ARG(invstd->buf), EOS_ARG(gamma->buf),
                    EOS_ARG(beta->buf), EOS_ARG(res), EOS_ARG(has_res), EOS_ARG(relu), EOS_ARG(C), EOS_ARG(HW),
                    EOS_ARG(total)};
    return eos__run_1d(rt, "batchnorm.cl", "eos_bn_apply", total, a, EOS_NARGS(a));
}

static eos_status stats(eos_runtime_t rt, int N, int C, int HW, const eos_tensor *x, eos_tensor *running_mean,
                        eos_tensor *running_var, eos_tensor *mean, eos_tensor *invstd, float momentum, float eps);

/* --sync-bn (rt->bn_sync): the statistics of the global batch from every rank's. Each rank's
 * kernel has written its own mean and invstd and moved the running estimates by them; here the
 * per-rank count, sum and sum of squares (in double: var = E[x^2] - mean^2 cancels, and the
 * rank's variance comes back from invstd as 1/invstd^2 - eps) are summed over the ranks, and
 * mean, invstd and the running estimates are rewritten from the merged ones, as one process
 * with the whole batch computes them (PyTorch's SyncBatchNorm does the same merge). */
static eos_status sync_stats(int N, int C, int HW, const float *rm_old, const float *rv_old,
                             eos_tensor *mean, eos_tensor *invstd, eos_tensor *running_mean, eos_tensor *running_var,
                             float momentum, float eps) {
    size_t c = (size_t)C;
    float *f = malloc(4 * c * sizeof *f);          /* mean, invstd, running mean, running var (C) each */
    double *s = malloc((2 * c + 1) * sizeof *s);   /* n mean, n E[x^2] (C) each, then n */
    if (!f || !s) {
        free(f); free(s);
        EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "batchnorm --sync-bn statistics of %d channels", C);
    }
    eos_status st = eos_tensor_download(mean, f, c);
    if (st == EOS_OK) st = eos_tensor_download(invstd, f + c, c);
    double n = (double)N * HW;
    for (size_t k = 0; st == EOS_OK && k < c; k++) {
        double mu = f[k], is = f[c + k], var = 1.0 / (is * is) - eps;
        if (var < 0) var = 0;
        s[k] = n * mu;
        s[c + k] = n * (var + mu * mu);
    }
    s[2 * c] = n;
    if (st == EOS_OK && eos__dist_allreduce_sum_double(s, 2 * c + 1) != 0)
        st = eos__error_set(EOS_ERR_INTERNAL, __FILE__, __LINE__, "MPI_Allreduce", NULL,
                            "batchnorm --sync-bn: the allreduce of the batch statistics failed");
    double M = s[2 * c];
    for (size_t k = 0; st == EOS_OK && k < c; k++) {
        double mu = s[k] / M, var = s[c + k] / M - mu * mu;
        if (var < 0) var = 0;
        double unbiased = M > 1 ? var * M / (M - 1) : var;
        f[k] = (float)mu;
        f[c + k] = (float)(1.0 / sqrt(var + eps));
        f[2 * c + k] = (1.0f - momentum) * rm_old[k] + momentum * (float)mu;
        f[3 * c + k] = (1.0f - momentum) * rv_old[k] + momentum * (float)unbiased;
    }
    if (st == EOS_OK) st = eos_tensor_upload(mean, f, c);
    if (st == EOS_OK) st = eos_tensor_upload(invstd, f + c, c);
    if (st == EOS_OK) st = eos_tensor_upload(running_mean, f + 2 * c, c);
    if (st == EOS_OK) st = eos_tensor_upload(running_var, f + 3 * c, c);
    free(f); free(s);
    return st;
}

static eos_status forward_train(eos_runtime_t rt, int N, int C, int HW, const eos_tensor *x, const eos_tensor *gamma,
                                const eos_tensor *beta, eos_tensor *running_mean, eos_tensor *running_var,
                                eos_tensor *mean, eos_tensor *invstd, const eos_tensor *residual, int relu,
                                float momentum, float eps, cl_mem part, int P, eos_tensor *y);

eos_status eos_batchnorm_forward_train(eos_runtime_t rt, int N, int C, int HW, const eos_tensor *x,
                                       const eos_tensor *gamma, const eos_tensor *beta, eos_tensor *running_mean,
                                       eos_tensor *running_var, eos_tensor *mean, eos_tensor *invstd,
                                       const eos_tensor *residual, int relu, float momentum, float eps, eos_tensor *y) {
    return forward_train(rt, N, C, HW, x, gamma, beta, running_mean, running_var, mean, invstd, residual, relu,
                         momentum, eps, NULL, 0, y);
}

eos_status eos__batchnorm_forward_train_part(eos_runtime_t rt, int N, int C, int HW, const eos_tensor *x,
                                             const eos_tensor *gamma, const eos_tensor *beta,
                                             eos_tensor *running_mean, eos_tensor *running_var, eos_tensor *mean,
                                             eos_tensor *invstd, const eos_tensor *residual, int relu,
                                             float momentum, float eps, cl_mem part, int P, eos_tensor *y) {
    if (!part || P < 1) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "batchnorm: no statistics partials (P=%d)", P);
    return forward_train(rt, N, C, HW, x, gamma, beta, running_mean, running_var, mean, invstd, residual, relu,
                         momentum, eps, part, P, y);
}

/* part (C, P, 3) of (count, mean, M2) merged per channel into mean, invstd and the running
 * estimates (eos_bn_stats_merge) */
static eos_status merge(eos_runtime_t rt, int C, cl_mem part, int P, eos_tensor *running_mean,
                        eos_tensor *running_var, eos_tensor *mean, eos_tensor *invstd, float momentum, float eps) {
    eos__arg a[] = {EOS_ARG(part), EOS_ARG(mean->buf), EOS_ARG(invstd->buf), EOS_ARG(running_mean->buf),
                    EOS_ARG(running_var->buf), EOS_ARG(C), EOS_ARG(P), EOS_ARG(eps), EOS_ARG(momentum)};
    return eos__run_1d(rt, "batchnorm.cl", "eos_bn_stats_merge", (size_t)C, a, EOS_NARGS(a));
}

static eos_status forward_train(eos_runtime_t rt, int N, int C, int HW, const eos_tensor *x, const eos_tensor *gamma,
                                const eos_tensor *beta, eos_tensor *running_mean, eos_tensor *running_var,
                                eos_tensor *mean, eos_tensor *invstd, const eos_tensor *residual, int relu,
                                float momentum, float eps, cl_mem part, int P, eos_tensor *y) {
    EOS_TRY(check(N, C, HW, x, gamma, beta, mean, invstd, residual, y));
    EOS_TRY(eos__need(running_mean, (size_t)C, "batchnorm running_mean"));
    EOS_TRY(eos__need(running_var, (size_t)C, "batchnorm running_var"));
    float *old = NULL;  /* --sync-bn: the running estimates before this batch (2 C) */
    if (rt->bn_sync.on) {
        old = malloc(2 * (size_t)C * sizeof *old);
        if (!old) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "batchnorm --sync-bn running estimates");
        eos_status st = eos_tensor_download(running_mean, old, (size_t)C);
        if (st == EOS_OK) st = eos_tensor_download(running_var, old + C, (size_t)C);
        if (st != EOS_OK) {
            free(old);
            return st;
        }
    }
    eos_status st = part ? merge(rt, C, part, P, running_mean, running_var, mean, invstd, momentum, eps)
                         : stats(rt, N, C, HW, x, running_mean, running_var, mean, invstd, momentum, eps);
    if (st == EOS_OK && old) st = sync_stats(N, C, HW, old, old + C, mean, invstd, running_mean, running_var, momentum, eps);
    free(old);
    EOS_TRY(st);
    return apply(rt, N, C, HW, x, gamma, beta, mean, invstd, residual, relu, y);
}

/* The batch's per-channel mean and invstd, and the running estimates moved by them. */
static eos_status stats(eos_runtime_t rt, int N, int C, int HW, const eos_tensor *x, eos_tensor *running_mean,
                        eos_tensor *running_var, eos_tensor *mean, eos_tensor *invstd, float momentum, float eps) {
    int P = reduce_chunks_capped(rt, (size_t)C, N, HW);
    if (P > 0) {
        cl_mem part;
        EOS_TRY(eos__reduce_partials(rt, 3 * (size_t)C * P, &part));
        eos__arg a1[] = {EOS_ARG(x->buf), EOS_ARG(part), EOS_ARG(N), EOS_ARG(C), EOS_ARG(HW), EOS_ARG(P)};
        EOS_TRY(eos__run_groups(rt, "batchnorm.cl", "eos_bn_stats_partial", (size_t)C * P, (size_t)HW, a1,
                                EOS_NARGS(a1)));
        eos__arg a2[] = {EOS_ARG(part), EOS_ARG(mean->buf), EOS_ARG(invstd->buf), EOS_ARG(running_mean->buf),
                         EOS_ARG(running_var->buf), EOS_ARG(C), EOS_ARG(P), EOS_ARG(eps), EOS_ARG(momentum)};
        EOS_TRY(eos__run_1d(rt, "batchnorm.cl", "eos_bn_stats_merge", (size_t)C, a2, EOS_NARGS(a2)));
    } else {
        eos__arg a[] = {EOS_ARG(x->buf), EOS_ARG(mean->buf), EOS_ARG(invstd->buf), EOS_ARG(running_mean->buf),
                        EOS_ARG(running_var->buf), EOS_ARG(N), EOS_ARG(C), EOS_ARG(HW), EOS_ARG(eps),
                        EOS_ARG(momentum)};
        EOS_TRY(eos__run_groups(rt, "batchnorm.cl", "eos_bn_stats", (size_t)C, (size_t)HW, a, EOS_NARGS(a)));
    }
    return EOS_OK;
}

eos_status eos_batchnorm_forward_eval(eos_runtime_t rt, int N, int C, int HW, const eos_tensor *x,
                                      const eos_tensor *gamma, const eos_tensor *beta, const eos_tensor *running_mean,
                                      const eos_tensor *running_var, eos_tensor *mean, eos_tensor *invstd,
                                      const eos_tensor *residual, int relu, float eps, eos_tensor *y) {
    EOS_TRY(check(N, C, HW, x, gamma, beta, mean, invstd, residual, y));
    EOS_TRY(eos__need(running_mean, (size_t)C, "batchnorm running_mean"));
    EOS_TRY(eos__need(running_var, (size_t)C, "batchnorm running_var"));
    eos__arg a[] = {EOS_ARG(running_mean->buf), EOS_ARG(running_var->buf), EOS_ARG(mean->buf), EOS_ARG(invstd->buf),
                    EOS_ARG(C), EOS_ARG(eps)};
    EOS_TRY(eos__run_1d(rt, "batchnorm.cl", "eos_bn_eval_params", (size_t)C, a, EOS_NARGS(a)));
    return apply(rt, N, C, HW, x, gamma, beta, mean, invstd, residual, relu, y);
}

/* EOS_BN_FUSE=0 runs the ReLU's backward as a pass of its own before the batch norm's, and
 * inference's batch norm as a pass of its own after the convolution (host/nn/resnet.c): the
 * references the tests compare the fused kernels with; unset or 1 fuses both. */
int eos__bn_fuse(void) {
    const char *e = getenv("EOS_BN_FUSE");
    return !(e && !strcmp(e, "0"));
}

static eos_status backward_apply(eos_runtime_t rt, int N, int C, int HW, const eos_tensor *dy, const eos_tensor *x,
                                 const eos_tensor *mean, const eos_tensor *invstd, const eos_tensor *gamma,
                                 const eos_tensor *dgamma, const eos_tensor *dbeta, eos_tensor *dx, float inv_m);

/* --sync-bn's backward: dx needs the two per-channel sums over the global batch. Rank r's dy is
 * the gradient of its own mean loss L_r, and the global loss is sum_r w_r L_r with w_r = its
 * rows / the global rows, so the global sums are sum_r w_r (rank r's sums), and rank r's dx (in
 * L_r's units, like the rest of its backward) takes them divided by w_r. The parameter
 * gradients dgamma, dbeta keep the rank's own sums (*local, put back after the apply): the
 * gradient allreduce then weights them by w_r like every other gradient. */
static eos_status sync_grads(eos_runtime_t rt, int C, eos_tensor *dgamma, eos_tensor *dbeta, float **local) {
    size_t c = (size_t)C;
    double w = (double)rt->bn_sync.rows / rt->bn_sync.rows_total;
    float *f = malloc(4 * c * sizeof *f);   /* dgamma, dbeta (C) each: local, then global / w */
    double *s = malloc(2 * c * sizeof *s);  /* w dgamma, w dbeta (C) each */
    if (!f || !s) {
        free(f); free(s);
        EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "batchnorm --sync-bn gradients of %d channels", C);
    }
    eos_status st = eos_tensor_download(dgamma, f, c);
    if (st == EOS_OK) st = eos_tensor_download(dbeta, f + c, c);
    for (size_t k = 0; k < 2 * c; k++) s[k] = w * f[k];
    if (st == EOS_OK && eos__dist_allreduce_sum_double(s, 2 * c) != 0)
        st = eos__error_set(EOS_ERR_INTERNAL, __FILE__, __LINE__, "MPI_Allreduce", NULL,
                            "batchnorm --sync-bn: the allreduce of the backward's sums failed");
    for (size_t k = 0; k < 2 * c; k++) f[2 * c + k] = (float)(s[k] / w);
    if (st == EOS_OK) st = eos_tensor_upload(dgamma, f + 2 * c, c);
    if (st == EOS_OK) st = eos_tensor_upload(dbeta, f + 3 * c, c);
    free(s);
    if (st != EOS_OK) {
        free(f);
        return st;
    }
    *local = f;
    return EOS_OK;
}

/* The reduce over (N, HW) per channel, then the element-wise dx. relu: the reduce sees
 * d = dy * (y > 0) and writes it over dy, which the apply kernel then reads. With taken (the
 * sums' partials (C, Pt, 2), taken by the convolution that wrote dy, already masked), only
 * their merge. */
static eos_status backward(eos_runtime_t rt, int N, int C, int HW, const eos_tensor *dy, const eos_tensor *y, int relu,
                           const eos_tensor *x, const eos_tensor *mean, const eos_tensor *invstd,
                           const eos_tensor *gamma, eos_tensor *dx, eos_tensor *dgamma, eos_tensor *dbeta,
                           cl_mem taken, int Pt) {
    EOS_TRY(check(N, C, HW, x, gamma, gamma, mean, invstd, NULL, dx));
    size_t n = (size_t)N * C * HW;
    EOS_TRY(eos__need(dy, n, "batchnorm dy"));
    if (relu) EOS_TRY(eos__need(y, n, "batchnorm relu output y"));
    EOS_TRY(eos__need(dgamma, (size_t)C, "batchnorm dgamma"));
    EOS_TRY(eos__need(dbeta, (size_t)C, "batchnorm dbeta"));
    cl_mem ybuf = relu ? y->buf : NULL;
    int P = reduce_chunks_capped(rt, (size_t)C, N, HW);
    float inv_m = 1.0f / (float)((size_t)N * HW);
    if (by_rows(rt) && !rt->bn_sync.on && (taken || P <= 0)) {  /* sums and apply in one kernel */
        size_t g = (size_t)C;
        if (taken) {
            eos__arg a[] = {EOS_ARG(dy->buf),     EOS_ARG(x->buf),     EOS_ARG(mean->buf),   EOS_ARG(invstd->buf),
                            EOS_ARG(gamma->buf),  EOS_ARG(taken),      EOS_ARG(Pt),          EOS_ARG(dgamma->buf),
                            EOS_ARG(dbeta->buf),  EOS_ARG(dx->buf),    EOS_ARG(N),           EOS_ARG(C),
                            EOS_ARG(HW),          EOS_ARG(inv_m)};
            return eos__run_nd(rt, "batchnorm.cl", "eos_bn_backward_channel_merge", 1, &g, a, EOS_NARGS(a));
        }
        eos__arg a[] = {EOS_ARG(dy->buf),     EOS_ARG(ybuf),       EOS_ARG(x->buf),      EOS_ARG(mean->buf),
                        EOS_ARG(invstd->buf), EOS_ARG(gamma->buf), EOS_ARG(dgamma->buf), EOS_ARG(dbeta->buf),
                        EOS_ARG(dx->buf),     EOS_ARG(relu),       EOS_ARG(N),           EOS_ARG(C),
                        EOS_ARG(HW),          EOS_ARG(inv_m)};
        return eos__run_nd(rt, "batchnorm.cl", "eos_bn_backward_channel", 1, &g, a, EOS_NARGS(a));
    }
    if (taken) {
        eos__arg r2[] = {EOS_ARG(taken), EOS_ARG(invstd->buf), EOS_ARG(dgamma->buf), EOS_ARG(dbeta->buf), EOS_ARG(C),
                         EOS_ARG(Pt)};
        EOS_TRY(eos__run_1d(rt, "batchnorm.cl", "eos_bn_backward_merge", (size_t)C, r2, EOS_NARGS(r2)));
    } else if (P > 0) {
        cl_mem part;
        EOS_TRY(eos__reduce_partials(rt, 2 * (size_t)C * P, &part));
        eos__arg r1[] = {EOS_ARG(dy->buf), EOS_ARG(ybuf), EOS_ARG(x->buf), EOS_ARG(mean->buf), EOS_ARG(part),
                         EOS_ARG(relu), EOS_ARG(N), EOS_ARG(C), EOS_ARG(HW), EOS_ARG(P)};
        EOS_TRY(eos__run_groups(rt, "batchnorm.cl", "eos_bn_backward_partial", (size_t)C * P, (size_t)HW, r1,
                                EOS_NARGS(r1)));
        eos__arg r2[] = {EOS_ARG(part), EOS_ARG(invstd->buf), EOS_ARG(dgamma->buf), EOS_ARG(dbeta->buf), EOS_ARG(C),
                         EOS_ARG(P)};
        EOS_TRY(eos__run_1d(rt, "batchnorm.cl", "eos_bn_backward_merge", (size_t)C, r2, EOS_NARGS(r2)));
    } else {
        eos__arg r[] = {EOS_ARG(dy->buf), EOS_ARG(ybuf), EOS_ARG(x->buf), EOS_ARG(mean->buf), EOS_ARG(invstd->buf),
                        EOS_ARG(dgamma->buf), EOS_ARG(dbeta->buf), EOS_ARG(relu), EOS_ARG(N), EOS_ARG(C), EOS_ARG(HW)};
        EOS_TRY(eos__run_groups(rt, "batchnorm.cl", "eos_bn_backward_reduce", (size_t)C, (size_t)HW, r, EOS_NARGS(r)));
    }
    float *local = NULL;  /* --sync-bn: this rank's dgamma, dbeta (2 C), restored after the apply */
    if (rt->bn_sync.on) {
        EOS_TRY(sync_grads(rt, C, dgamma, dbeta, &local));
        inv_m = 1.0f / (float)((size_t)rt->bn_sync.rows_total * HW);
    }
    eos_status st = backward_apply(rt, N, C, HW, dy, x, mean, invstd, gamma, dgamma, dbeta, dx, inv_m);
    if (local) {
        if (st == EOS_OK) st = eos_tensor_upload(dgamma, local, (size_t)C);
        if (st == EOS_OK) st = eos_tensor_upload(dbeta, local + C, (size_t)C);
        free(local);
    }
    return st;
}

/* dx from dy and the per-channel sums dgamma, dbeta over inv_m = 1 / (the batch's N HW). */
static eos_status backward_apply(eos_runtime_t rt, int N, int C, int HW, const eos_tensor *dy, const eos_tensor *x,
                                 const eos_tensor *mean, const eos_tensor *invstd, const eos_tensor *gamma,
                                 const eos_tensor *dgamma, const eos_tensor *dbeta, eos_tensor *dx, float inv_m) {
    size_t n = (size_t)N * C * HW;
    if (by_rows(rt)) {
        int rows = N * C;
        eos__arg a[] = {EOS_ARG(dy->buf), EOS_ARG(x->buf), EOS_ARG(mean->buf), EOS_ARG(invstd->buf), EOS_ARG(gamma->buf),
                        EOS_ARG(dgamma->buf), EOS_ARG(dbeta->buf), EOS_ARG(dx->buf), EOS_ARG(C), EOS_ARG(HW),
                        EOS_ARG(inv_m), EOS_ARG(rows)};
        size_t g = (size_t)rows;
        return eos__run_nd(rt, "batchnorm.cl", "eos_bn_backward_apply_rows", 1, &g, a, EOS_NARGS(a));
    }
    cl_uint total = (cl_uint)n;
    eos__arg a[] = {EOS_ARG(dy->buf), EOS_ARG(x->buf), EOS_ARG(mean->buf), EOS_ARG(invstd->buf), EOS_ARG(gamma->buf),
                    EOS_ARG(dgamma->buf), EOS_ARG(dbeta->buf), EOS_ARG(dx->buf), EOS_ARG(C), EOS_ARG(HW),
                    EOS_ARG(inv_m), EOS_ARG(total)};
    return eos__run_1d(rt, "batchnorm.cl", "eos_bn_backward_apply", n, a, EOS_NARGS(a));
}

eos_status eos_batchnorm_backward(eos_runtime_t rt, int N, int C, int HW, const eos_tensor *dy, const eos_tensor *x,
                                  const eos_tensor *mean, const eos_tensor *invstd, const eos_tensor *gamma,
                                  eos_tensor *dx, eos_tensor *dgamma, eos_tensor *dbeta) {
    return backward(rt, N, C, HW, dy, NULL, 0, x, mean, invstd, gamma, dx, dgamma, dbeta, NULL, 0);
}

eos_status eos__batchnorm_relu_backward_part(eos_runtime_t rt, int N, int C, int HW, const eos_tensor *dy,
                                             const eos_tensor *x, const eos_tensor *mean, const eos_tensor *invstd,
                                             const eos_tensor *gamma, eos_tensor *dx, eos_tensor *dgamma,
                                             eos_tensor *dbeta, cl_mem part, int P) {
    if (!part || P < 1) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "batchnorm backward: no sums' partials (P=%d)", P);
    return backward(rt, N, C, HW, dy, NULL, 0, x, mean, invstd, gamma, dx, dgamma, dbeta, part, P);
}

eos_status eos_batchnorm_relu_backward(eos_runtime_t rt, int N, int C, int HW, eos_tensor *dy, const eos_tensor *y,
                                       const eos_tensor *x, const eos_tensor *mean, const eos_tensor *invstd,
                                       const eos_tensor *gamma, eos_tensor *dx, eos_tensor *dgamma,
                                       eos_tensor *dbeta) {
    if (eos__bn_fuse()) return backward(rt, N, C, HW, dy, y, 1, x, mean, invstd, gamma, dx, dgamma, dbeta, NULL, 0);
    EOS_TRY(check(N, C, HW, x, gamma, gamma, mean, invstd, NULL, dx));
    EOS_TRY(eos_relu_backward(rt, (size_t)N * C * HW, dy, y, dy));
    return backward(rt, N, C, HW, dy, NULL, 0, x, mean, invstd, gamma, dx, dgamma, dbeta, NULL, 0);
}
