/* conv2d, forward and backward, as im2col + CLBlast GEMM (cl/im2col.cl).
 * Legend: x (N, C, H, W), w (K, C, R, R), y (N, K, OH, OW); Kc = C*R*R rows and
 * P = N*OH*OW columns of the column matrix.
 *   forward:  col = im2col(x) (Kc, P); tmp (K, P) = w (K, Kc) x col; y = swap(tmp) (+ b)
 *   backward: tmp = swap(dy) (K, P); dw = tmp x col^T; db = sum dy; dcol = w^T x tmp; dx = col2im(dcol)
 * The algorithm stays behind these two functions so faster kernels can replace it per device. */
#include "internal.h"

#include <string.h>

void eos_workspace_free(eos_workspace *ws) {
    eos_tensor_free(&ws->col);
    eos_tensor_free(&ws->tmp);
    eos_tensor_free(&ws->dcol);
}

eos_status eos_tensor_reserve(eos_runtime_t rt, eos_tensor *t, size_t numel) {
    if (t->buf && t->numel >= numel) return EOS_OK;
    eos_tensor_free(t);
    return eos_tensor_alloc(rt, t, 1, &numel);
}

static eos_status check_shape(const eos_conv_shape *s, int *OH, int *OW) {
    if (s->N < 1 || s->C < 1 || s->H < 1 || s->W < 1 || s->K < 1 || s->R < 1 || s->stride < 1 || s->pad < 0)
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "conv2d: bad shape N=%d C=%d H=%d W=%d K=%d R=%d stride=%d pad=%d", s->N,
                 s->C, s->H, s->W, s->K, s->R, s->stride, s->pad);
    *OH = eos_conv_out(s->H, s->R, s->stride, s->pad);
    *OW = eos_conv_out(s->W, s->R, s->stride, s->pad);
    if (*OH < 1 || *OW < 1) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "conv2d: a %dx%d kernel does not fit a %dx%d image with pad %d", s->R, s->R, s->H, s->W, s->pad);
    return EOS_OK;
}

static eos_status im2col(eos_runtime_t rt, const eos_conv_shape *s, int OH, int OW, const eos_tensor *x,
                         eos_tensor *col) {
    size_t Kc = (size_t)s->C * s->R * s->R, P = (size_t)s->N * OH * OW;
    eos__arg a[] = {EOS_ARG(x->buf), EOS_ARG(col->buf), EOS_ARG(s->N), EOS_ARG(s->C), EOS_ARG(s->H), EOS_ARG(s->W),
                    EOS_ARG(s->R), EOS_ARG(s->R), EOS_ARG(s->stride), EOS_ARG(s->pad), EOS_ARG(OH), EOS_ARG(OW)};
    return eos__run_1d(rt, "im2col.cl", "eos_im2col", Kc * P, a, EOS_NARGS(a));
}

static eos_status swap01(eos_runtime_t rt, const eos_tensor *src, eos_tensor *dst, int A, int B, int S) {
    eos__arg a[] = {EOS_ARG(src->buf), EOS_ARG(dst->buf), EOS_ARG(A), EOS_ARG(B), EOS_ARG(S)};
    return eos__run_1d(rt, "im2col.cl", "eos_swap01", (size_t)A * B * S, a, EOS_NARGS(a));
}

eos_status eos_conv2d_forward(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *x, const eos_tensor *w,
                              const eos_tensor *b, eos_tensor *y, eos_workspace *ws) {
    int OH = 0, OW = 0;
    EOS_TRY(check_shape(s, &OH, &OW));
    size_t Kc = (size_t)s->C * s->R * s->R, P = (size_t)s->N * OH * OW, HW = (size_t)OH * OW;
    EOS_TRY(eos__need(x, (size_t)s->N * s->C * s->H * s->W, "conv2d x"));
    EOS_TRY(eos__need(w, (size_t)s->K * Kc, "conv2d w"));
    EOS_TRY(eos__need(y, (size_t)s->K * P, "conv2d y"));
    if (b) EOS_TRY(eos__need(b, (size_t)s->K, "conv2d b"));
    EOS_TRY(eos_tensor_reserve(rt, &ws->col, Kc * P));
    EOS_TRY(eos_tensor_reserve(rt, &ws->tmp, (size_t)s->K * P));
    EOS_TRY(im2col(rt, s, OH, OW, x, &ws->col));
    EOS_TRY(eos_gemm(rt, EOS_NO_TRANS, EOS_NO_TRANS, (size_t)s->K, P, Kc, 1.0f, w, 0, Kc, &ws->col, 0, P, 0.0f,
                     &ws->tmp, 0, P));
    EOS_TRY(swap01(rt, &ws->tmp, y, s->K, s->N, (int)HW));
    if (b) {
        int K = s->K, S = (int)HW;
        cl_uint n = (cl_uint)((size_t)s->K * P);
        eos__arg a[] = {EOS_ARG(y->buf), EOS_ARG(b->buf), EOS_ARG(K), EOS_ARG(S), EOS_ARG(n)};
        EOS_TRY(eos__run_1d(rt, "elementwise.cl", "eos_bias_add", n, a, EOS_NARGS(a)));
    }
    return EOS_OK;
}

eos_status eos_conv2d_backward(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *x, const eos_tensor *w,
                               const eos_tensor *dy, eos_tensor *dx, eos_tensor *dw, eos_tensor *db,
                               eos_workspace *ws) {
    int OH = 0, OW = 0;
    EOS_TRY(check_shape(s, &OH, &OW));
    size_t Kc = (size_t)s->C * s->R * s->R, P = (size_t)s->N * OH * OW, HW = (size_t)OH * OW;
    EOS_TRY(eos__need(x, (size_t)s->N * s->C * s->H * s->W, "conv2d backward x"));
    EOS_TRY(eos__need(w, (size_t)s->K * Kc, "conv2d backward w"));
    EOS_TRY(eos__need(dy, (size_t)s->K * P, "conv2d backward dy"));
    EOS_TRY(eos__need(dw, (size_t)s->K * Kc, "conv2d backward dw"));
    if (dx) EOS_TRY(eos__need(dx, (size_t)s->N * s->C * s->H * s->W, "conv2d backward dx"));
    if (db) EOS_TRY(eos__need(db, (size_t)s->K, "conv2d backward db"));
    EOS_TRY(eos_tensor_reserve(rt, &ws->col, Kc * P));
    EOS_TRY(eos_tensor_reserve(rt, &ws->tmp, (size_t)s->K * P));
    EOS_TRY(swap01(rt, dy, &ws->tmp, s->N, s->K, (int)HW));  /* (N, K, HW) -> (K, N, HW) */
    EOS_TRY(im2col(rt, s, OH, OW, x, &ws->col));
    EOS_TRY(eos_gemm(rt, EOS_NO_TRANS, EOS_TRANS, (size_t)s->K, Kc, P, 1.0f, &ws->tmp, 0, P, &ws->col, 0, P, 0.0f, dw,
                     0, Kc));
    if (db) {
        int N = s->N, K = s->K, S = (int)HW;
        eos__arg a[] = {EOS_ARG(dy->buf), EOS_ARG(db->buf), EOS_ARG(N), EOS_ARG(K), EOS_ARG(S)};
        EOS_TRY(eos__run_groups(rt, "elementwise.cl", "eos_channel_sum", (size_t)K, a, EOS_NARGS(a)));
    }
    if (dx) {
        EOS_TRY(eos_tensor_reserve(rt, &ws->dcol, Kc * P));
        EOS_TRY(eos_gemm(rt, EOS_TRANS, EOS_NO_TRANS, Kc, P, (size_t)s->K, 1.0f, w, 0, Kc, &ws->tmp, 0, P, 0.0f,
                         &ws->dcol, 0, P));
        eos__arg a[] = {EOS_ARG(ws->dcol.buf), EOS_ARG(dx->buf), EOS_ARG(s->N), EOS_ARG(s->C), EOS_ARG(s->H),
                        EOS_ARG(s->W), EOS_ARG(s->R), EOS_ARG(s->R), EOS_ARG(s->stride), EOS_ARG(s->pad),
                        EOS_ARG(OH), EOS_ARG(OW)};
        EOS_TRY(eos__run_1d(rt, "im2col.cl", "eos_col2im", (size_t)s->N * s->C * s->H * s->W, a, EOS_NARGS(a)));
    }
    return EOS_OK;
}
