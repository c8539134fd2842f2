/* ReLU, in-place add and the option-A shortcut (cl/elementwise.cl), forward and backward. */
#include "internal.h"

eos_status eos_relu_forward(eos_runtime_t rt, size_t n, const eos_tensor *x, eos_tensor *y) {
    EOS_TRY(eos__need(x, n, "relu x"));
    EOS_TRY(eos__need(y, n, "relu y"));
    cl_uint nn = (cl_uint)n;
    eos__arg a[] = {EOS_ARG(x->buf), EOS_ARG(y->buf), EOS_ARG(nn)};
    return eos__run_1d(rt, "elementwise.cl", "eos_relu_forward", n, a, EOS_NARGS(a));
}

eos_status eos_relu_backward(eos_runtime_t rt, size_t n, const eos_tensor *dy, const eos_tensor *y, eos_tensor *dx) {
    EOS_TRY(eos__need(dy, n, "relu dy"));
    EOS_TRY(eos__need(y, n, "relu y"));
    EOS_TRY(eos__need(dx, n, "relu dx"));
    cl_uint nn = (cl_uint)n;
    eos__arg a[] = {EOS_ARG(dy->buf), EOS_ARG(y->buf), EOS_ARG(dx->buf), EOS_ARG(nn)};
    return eos__run_1d(rt, "elementwise.cl", "eos_relu_backward", n, a, EOS_NARGS(a));
}

eos_status eos_add_inplace(eos_runtime_t rt, size_t n, eos_tensor *y, const eos_tensor *x) {
    EOS_TRY(eos__need(x, n, "add x"));
    EOS_TRY(eos__need(y, n, "add y"));
    cl_uint nn = (cl_uint)n;
    eos__arg a[] = {EOS_ARG(y->buf), EOS_ARG(x->buf), EOS_ARG(nn)};
    return eos__run_1d(rt, "elementwise.cl", "eos_add_inplace", n, a, EOS_NARGS(a));
}

static eos_status check_shortcut(int N, int Ci, int H, int W, int Co) {
    if (N < 1 || Ci < 1 || H < 1 || W < 1 || Co < Ci || (Co - Ci) % 2)
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL,
                 "option-A shortcut: N=%d Ci=%d H=%d W=%d Co=%d (Co - Ci must be even and >= 0)", N, Ci, H, W, Co);
    return EOS_OK;
}

eos_status eos_shortcut_a_forward(eos_runtime_t rt, int N, int Ci, int H, int W, int Co, const eos_tensor *x,
                                  eos_tensor *y) {
    EOS_TRY(check_shortcut(N, Ci, H, W, Co));
    size_t out = (size_t)N * Co * ((H + 1) / 2) * ((W + 1) / 2);
    EOS_TRY(eos__need(x, (size_t)N * Ci * H * W, "shortcut x"));
    EOS_TRY(eos__need(y, out, "shortcut y"));
    eos__arg a[] = {EOS_ARG(x->buf), EOS_ARG(y->buf), EOS_ARG(N), EOS_ARG(Ci), EOS_ARG(H), EOS_ARG(W), EOS_ARG(Co)};
    return eos__run_1d(rt, "elementwise.cl", "eos_shortcut_a_forward", (size_t)N * Co * ((H + 1) / 2), a, EOS_NARGS(a));
}

eos_status eos_shortcut_a_backward(eos_runtime_t rt, int N, int Ci, int H, int W, int Co, const eos_tensor *dy,
                                   eos_tensor *dx, int accumulate) {
    EOS_TRY(check_shortcut(N, Ci, H, W, Co));
    size_t in = (size_t)N * Ci * H * W;
    EOS_TRY(eos__need(dy, (size_t)N * Co * ((H + 1) / 2) * ((W + 1) / 2), "shortcut dy"));
    EOS_TRY(eos__need(dx, in, "shortcut dx"));
    eos__arg a[] = {EOS_ARG(dy->buf), EOS_ARG(dx->buf), EOS_ARG(N), EOS_ARG(Ci), EOS_ARG(H),
                    EOS_ARG(W), EOS_ARG(Co), EOS_ARG(accumulate)};
    return eos__run_1d(rt, "elementwise.cl", "eos_shortcut_a_backward", (size_t)N * Ci * H, a, EOS_NARGS(a));
}
