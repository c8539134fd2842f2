/* linear: y = x w^T + b through the GEMM wrapper; backward dw = dy^T x, db = sum dy, dx = dy w.
 * Shapes: x (N, F), w (K, F), b (K), y (N, K). */
#include "internal.h"

eos_status eos_linear_forward(eos_runtime_t rt, int N, int F, int K, const eos_tensor *x, const eos_tensor *w,
                              const eos_tensor *b, eos_tensor *y) {
    EOS_TRY(eos__need(b, (size_t)K, "linear b"));
    EOS_TRY(eos_gemm(rt, EOS_NO_TRANS, EOS_TRANS, (size_t)N, (size_t)K, (size_t)F, 1.0f, x, 0, (size_t)F, w, 0,
                     (size_t)F, 0.0f, y, 0, (size_t)K));
    int S = 1;
    cl_uint n = (cl_uint)((size_t)N * K);
    eos__arg a[] = {EOS_ARG(y->buf), EOS_ARG(b->buf), EOS_ARG(K), EOS_ARG(S), EOS_ARG(n)};
    return eos__run_1d(rt, "elementwise.cl", "eos_bias_add", n, a, EOS_NARGS(a));
}

eos_status eos_linear_backward(eos_runtime_t rt, int N, int F, int K, const eos_tensor *x, const eos_tensor *w,
                               const eos_tensor *dy, eos_tensor *dx, eos_tensor *dw, eos_tensor *db) {
    EOS_TRY(eos__need(db, (size_t)K, "linear db"));
    EOS_TRY(eos_gemm(rt, EOS_TRANS, EOS_NO_TRANS, (size_t)K, (size_t)F, (size_t)N, 1.0f, dy, 0, (size_t)K, x, 0,
                     (size_t)F, 0.0f, dw, 0, (size_t)F));
    int S = 1;
    eos__arg a[] = {EOS_ARG(dy->buf), EOS_ARG(db->buf), EOS_ARG(N), EOS_ARG(K), EOS_ARG(S)};
    EOS_TRY(eos__run_groups(rt, "elementwise.cl", "eos_channel_sum", (size_t)K, a, EOS_NARGS(a)));
    if (dx)
        EOS_TRY(eos_gemm(rt, EOS_NO_TRANS, EOS_NO_TRANS, (size_t)N, (size_t)F, (size_t)K, 1.0f, dy, 0, (size_t)K, w, 0,
                         (size_t)F, 0.0f, dx, 0, (size_t)F));
    return EOS_OK;
}
