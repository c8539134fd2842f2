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
    EOS_TRY(eos__channel_sum(rt, dy, db, N, K, 1));
    if (dx)
        EOS_TRY(eos_gemm(rt, EOS_NO_TRANS, EOS_NO_TRANS, (size_t)N, (size_t)F, (size_t)K, 1.0f, dy, 0, (size_t)K, w, 0,
                         (size_t)F, 0.0f, dx, 0, (size_t)F));
    return EOS_OK;
}

/* ---- LDAM's normalised head: cos = normalize(x, rows) x normalize(w, columns) ---------- */

static eos_status normalize(eos_runtime_t rt, const eos_tensor *x, eos_tensor *y, eos_tensor *norms, int count, int L,
                            int S, int V) {
    eos__arg a[] = {EOS_ARG(x->buf), EOS_ARG(y->buf), EOS_ARG(norms->buf), EOS_ARG(count), EOS_ARG(L), EOS_ARG(S), EOS_ARG(V)};
    return eos__run_1d(rt, "linear.cl", "eos_normalize_vectors", (size_t)count, a, EOS_NARGS(a));
}

static eos_status normalize_backward(eos_runtime_t rt, const eos_tensor *dy, const eos_tensor *y,
                                     const eos_tensor *norms, eos_tensor *dx, int count, int L, int S, int V) {
    eos__arg a[] = {EOS_ARG(dy->buf), EOS_ARG(y->buf), EOS_ARG(norms->buf), EOS_ARG(dx->buf), EOS_ARG(count),
                    EOS_ARG(L), EOS_ARG(S), EOS_ARG(V)};
    return eos__run_1d(rt, "linear.cl", "eos_normalize_vectors_backward", (size_t)count, a, EOS_NARGS(a));
}

eos_status eos_normed_linear_forward(eos_runtime_t rt, int N, int F, int K, const eos_tensor *x, const eos_tensor *w,
                                     eos_tensor *xn, eos_tensor *xnorm, eos_tensor *wn, eos_tensor *wnorm,
                                     eos_tensor *cosv) {
    EOS_TRY(eos__need(x, (size_t)N * F, "normed linear x"));
    EOS_TRY(eos__need(w, (size_t)F * K, "normed linear w"));
    EOS_TRY(eos_tensor_reserve(rt, xn, (size_t)N * F));
    EOS_TRY(eos_tensor_reserve(rt, xnorm, (size_t)N));
    EOS_TRY(eos_tensor_reserve(rt, wn, (size_t)F * K));
    EOS_TRY(eos_tensor_reserve(rt, wnorm, (size_t)K));
    EOS_TRY(normalize(rt, x, xn, xnorm, N, F, 1, F));
    EOS_TRY(normalize(rt, w, wn, wnorm, K, F, K, 1));
    return eos_gemm(rt, EOS_NO_TRANS, EOS_NO_TRANS, (size_t)N, (size_t)K, (size_t)F, 1.0f, xn, 0, (size_t)F, wn, 0,
                    (size_t)K, 0.0f, cosv, 0, (size_t)K);
}

eos_status eos_normed_linear_backward(eos_runtime_t rt, int N, int F, int K, const eos_tensor *xn,
                                      const eos_tensor *xnorm, const eos_tensor *wn, const eos_tensor *wnorm,
                                      const eos_tensor *dcos, eos_tensor *dx, eos_tensor *dw, eos_tensor *scratch) {
    EOS_TRY(eos__need(dw, (size_t)F * K, "normed linear dw"));
    EOS_TRY(eos_tensor_reserve(rt, scratch, (size_t)(N > K ? N : K) * F));
    /* d wn (F, K) = xn^T dcos, then through the column normalisation */
    EOS_TRY(eos_gemm(rt, EOS_TRANS, EOS_NO_TRANS, (size_t)F, (size_t)K, (size_t)N, 1.0f, xn, 0, (size_t)F, dcos, 0,
                     (size_t)K, 0.0f, scratch, 0, (size_t)K));
    EOS_TRY(normalize_backward(rt, scratch, wn, wnorm, dw, K, F, K, 1));
    if (dx) {
        /* d xn (N, F) = dcos wn^T, then through the row normalisation */
        EOS_TRY(eos_gemm(rt, EOS_NO_TRANS, EOS_TRANS, (size_t)N, (size_t)F, (size_t)K, 1.0f, dcos, 0, (size_t)K, wn, 0,
                         (size_t)K, 0.0f, scratch, 0, (size_t)F));
        EOS_TRY(normalize_backward(rt, scratch, xn, xnorm, dx, N, F, 1, F));
    }
    return EOS_OK;
}
