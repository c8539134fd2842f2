/* Pooling (cl/pool.cl): global average pool and max pool, forward and backward. */
#include "internal.h"

eos_status eos_avgpool_forward(eos_runtime_t rt, int N, int C, int HW, const eos_tensor *x, eos_tensor *y) {
    cl_uint nc = (cl_uint)((size_t)N * C);
    EOS_TRY(eos__need(x, (size_t)nc * HW, "avgpool x"));
    EOS_TRY(eos__need(y, nc, "avgpool y"));
    eos__arg a[] = {EOS_ARG(x->buf), EOS_ARG(y->buf), EOS_ARG(HW), EOS_ARG(nc)};
    return eos__run_1d(rt, "pool.cl", "eos_avgpool_forward", nc, a, EOS_NARGS(a));
}

eos_status eos_avgpool_backward(eos_runtime_t rt, int N, int C, int HW, const eos_tensor *dy, eos_tensor *dx) {
    cl_uint n = (cl_uint)((size_t)N * C * HW);
    EOS_TRY(eos__need(dy, (size_t)N * C, "avgpool dy"));
    EOS_TRY(eos__need(dx, n, "avgpool dx"));
    eos__arg a[] = {EOS_ARG(dy->buf), EOS_ARG(dx->buf), EOS_ARG(HW), EOS_ARG(n)};
    return eos__run_1d(rt, "pool.cl", "eos_avgpool_backward", n, a, EOS_NARGS(a));
}

static eos_status check_max(int N, int C, int H, int W, int K, int S, int *OH, int *OW) {
    if (N < 1 || C < 1 || K < 1 || S < 1 || H < K || W < K)
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "maxpool: N=%d C=%d H=%d W=%d window %d stride %d", N, C, H, W, K, S);
    *OH = (H - K) / S + 1;
    *OW = (W - K) / S + 1;
    return EOS_OK;
}

eos_status eos_maxpool_forward(eos_runtime_t rt, int N, int C, int H, int W, int K, int S, const eos_tensor *x,
                               eos_tensor *y, eos_tensor *arg) {
    int OH = 0, OW = 0;
    EOS_TRY(check_max(N, C, H, W, K, S, &OH, &OW));
    cl_uint n = (cl_uint)((size_t)N * C * OH * OW);
    EOS_TRY(eos__need(x, (size_t)N * C * H * W, "maxpool x"));
    EOS_TRY(eos__need(y, n, "maxpool y"));
    EOS_TRY(eos__need(arg, n, "maxpool arg"));
    eos__arg a[] = {EOS_ARG(x->buf), EOS_ARG(y->buf), EOS_ARG(arg->buf), EOS_ARG(H), EOS_ARG(W),
                    EOS_ARG(K), EOS_ARG(S), EOS_ARG(OH), EOS_ARG(OW), EOS_ARG(n)};
    return eos__run_1d(rt, "pool.cl", "eos_maxpool_forward", n, a, EOS_NARGS(a));
}

eos_status eos_maxpool_backward(eos_runtime_t rt, int N, int C, int H, int W, int K, int S, const eos_tensor *dy,
                                const eos_tensor *arg, eos_tensor *dx) {
    int OH = 0, OW = 0;
    EOS_TRY(check_max(N, C, H, W, K, S, &OH, &OW));
    cl_uint n = (cl_uint)((size_t)N * C * H * W);
    EOS_TRY(eos__need(dy, (size_t)N * C * OH * OW, "maxpool dy"));
    EOS_TRY(eos__need(arg, (size_t)N * C * OH * OW, "maxpool arg"));
    EOS_TRY(eos__need(dx, n, "maxpool dx"));
    eos__arg a[] = {EOS_ARG(dy->buf), EOS_ARG(arg->buf), EOS_ARG(dx->buf), EOS_ARG(H), EOS_ARG(W),
                    EOS_ARG(K), EOS_ARG(S), EOS_ARG(OH), EOS_ARG(OW), EOS_ARG(n)};
    return eos__run_1d(rt, "pool.cl", "eos_maxpool_backward", n, a, EOS_NARGS(a));
}
