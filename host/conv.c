/* conv2d, forward and backward, with two algorithms behind one pair of functions:
 *   gemm   im2col + CLBlast GEMM (cl/im2col.cl), for any device:
 *            forward:  col = im2col(x) (Kc, P); tmp (K, P) = w (K, Kc) x col; y = swap(tmp) (+ b)
 *            backward: tmp = swap(dy) (K, P); dw = tmp x col^T; db = sum dy; dcol = w^T x tmp;
 *                      dx = col2im(dcol)
 *   panel  the same products on packed 32-pixel panels with float8-tiled kernels of our own
 *          (cl/conv_panel.cl), written for CPUs, split over the pixels for dw (no atomics)
 *   direct 3x3, stride 1, pad 1 on rows of 32, 16 or 8 pixels without any column matrix
 *          (cl/conv_direct.cl): dx is the forward kernel on flipped weights
 *   winograd  3x3, stride 1, pad 1, any size: Winograd F(2x2,3x3) (cl/conv_winograd.cl), the
 *          16 products of the transformed domain as float8-tiled kernels on 32-tile panels (CPUs)
 *          or CLBlast's strided-batched SGEMM (elsewhere); dx and dw in the Winograd domain too
 * Legend: x (N, C, H, W), w (K, C, R, R), y (N, K, OH, OW); Kc = C*R*R rows and P = N*OH*OW
 * columns of the column matrix. Which algorithm runs is chosen per device and layer shape by
 * timing those that apply on the first call (eos_conv_algo_for), remembered in the runtime and in
 * <kernel cache>/conv-algos.txt, and can be forced (eos_runtime_set_conv_algo, EOS_CONV_ALGO).
 * While event profiling is on, kernel time is also charged per (shape, direction) for `eos bench
 * layers` (eos_conv_profile_read). */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void eos_workspace_free(eos_workspace *ws) {
    eos_tensor_free(&ws->col);
    eos_tensor_free(&ws->tmp);
    eos_tensor_free(&ws->dcol);
    eos_tensor_free(&ws->part);
    eos_tensor_free(&ws->wt);
}

eos_status eos_tensor_reserve(eos_runtime_t rt, eos_tensor *t, size_t numel) {
    if (t->buf && t->numel >= numel) return EOS_OK;
    eos_tensor_free(t);
    return eos_tensor_alloc(rt, t, 1, &numel);
}

/* ---- time by shape and direction (eos bench layers) ---------------------------------------- */

const char *eos_conv_dir_name(eos_conv_dir d) {
    return d == EOS_CONV_FORWARD ? "forward" : d == EOS_CONV_DATA_GRAD ? "data grad"
         : d == EOS_CONV_WEIGHT_GRAD ? "weight grad" : "?";
}

/* While event profiling is on, the kernels launched from here on are charged to (s, dir, algo)
 * as well (eos__prof_seconds adds to rt->conv_ev[conv_scope - 1]); s NULL closes the scope.
 * Only the entry points open one, so the timing runs of measure() below charge nothing. */
static void charge(eos_runtime_t rt, const eos_conv_shape *s, eos_conv_dir dir, eos_conv_algo algo) {
    rt->conv_scope = 0;
    if (!rt->ev_prof || !s) return;
    int i = 0;
    while (i < rt->nconv_ev && (memcmp(&rt->conv_ev[i].shape, s, sizeof *s) || rt->conv_ev[i].dir != dir ||
                                rt->conv_ev[i].algo != algo))
        i++;
    if (i == (int)(sizeof rt->conv_ev / sizeof rt->conv_ev[0])) return;  /* full: the kernel table still has it */
    if (i == rt->nconv_ev) {
        eos_conv_time *e = &rt->conv_ev[rt->nconv_ev++];
        int OH = eos_conv_out(s->H, s->R, s->stride, s->pad), OW = eos_conv_out(s->W, s->R, s->stride, s->pad);
        memset(e, 0, sizeof *e);
        e->shape = *s;
        e->dir = dir;
        e->algo = algo;
        e->flops = 2.0 * s->N * s->K * s->C * s->R * s->R * (double)OH * OW;
    }
    rt->conv_ev[i].calls++;
    rt->conv_scope = i + 1;
}

/* In a backward, after the weight gradient: what follows computes dx. */
static void charge_dx(eos_runtime_t rt, const eos_conv_shape *s) {
    if (rt->conv_scope > 0) charge(rt, s, EOS_CONV_DATA_GRAD, rt->conv_ev[rt->conv_scope - 1].algo);
}

size_t eos_conv_profile_read(eos_runtime_t rt, eos_conv_time *out, size_t max) {
    size_t n = (size_t)rt->nconv_ev < max ? (size_t)rt->nconv_ev : max;
    memcpy(out, rt->conv_ev, n * sizeof *out);
    return n;
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

static eos_status bias_grad(eos_runtime_t rt, const eos_conv_shape *s, int HW, const eos_tensor *dy, eos_tensor *db) {
    int N = s->N, K = s->K;
    eos__arg a[] = {EOS_ARG(dy->buf), EOS_ARG(db->buf), EOS_ARG(N), EOS_ARG(K), EOS_ARG(HW)};
    return eos__run_groups(rt, "elementwise.cl", "eos_channel_sum", (size_t)K, a, EOS_NARGS(a));
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

static eos_status forward_gemm(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *x, const eos_tensor *w,
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

static eos_status backward_gemm(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *x, const eos_tensor *w,
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
    if (db) EOS_TRY(bias_grad(rt, s, (int)HW, dy, db));
    if (dx) {
        charge_dx(rt, s);
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

/* ---- panel: float8-tiled kernels on packed panels (cl/conv_panel.cl) ---------------------- */

enum { TILE = 32, PANELS_PER_SPLIT = 16 };

static size_t round_up(size_t v, size_t m) { return (v + m - 1) / m * m; }

static eos_status forward_panel(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *x, const eos_tensor *w,
                                const eos_tensor *b, eos_tensor *y, eos_workspace *ws) {
    int OH = 0, OW = 0;
    EOS_TRY(check_shape(s, &OH, &OW));
    int Kc = s->C * s->R * s->R, HW = OH * OW;
    size_t P = (size_t)s->N * HW, Pp = round_up(P, TILE), NB = Pp / TILE;
    EOS_TRY(eos__need(x, (size_t)s->N * s->C * s->H * s->W, "conv2d x"));
    EOS_TRY(eos__need(w, (size_t)s->K * Kc, "conv2d w"));
    EOS_TRY(eos__need(y, (size_t)s->K * P, "conv2d y"));
    if (b) EOS_TRY(eos__need(b, (size_t)s->K, "conv2d b"));
    EOS_TRY(eos_tensor_reserve(rt, &ws->col, (size_t)Kc * Pp));   /* colp panel(Kc, P) */
    EOS_TRY(eos_tensor_reserve(rt, &ws->tmp, (size_t)s->K * Pp)); /* yp panel(K, P) */
    {
        eos__arg a[] = {EOS_ARG(x->buf), EOS_ARG(ws->col.buf), EOS_ARG(s->N), EOS_ARG(s->C), EOS_ARG(s->H),
                        EOS_ARG(s->W), EOS_ARG(s->R), EOS_ARG(s->stride), EOS_ARG(s->pad), EOS_ARG(OH), EOS_ARG(OW),
                        EOS_ARG(Kc)};
        size_t g[2] = {(size_t)s->C, NB};
        EOS_TRY(eos__run_nd(rt, "conv_panel.cl", "eos_im2col_panel", 2, g, a, EOS_NARGS(a)));
    }
    {
        int one = 1;
        eos__arg a[] = {EOS_ARG(w->buf), EOS_ARG(Kc), EOS_ARG(one), EOS_ARG(ws->col.buf), EOS_ARG(ws->tmp.buf),
                        EOS_ARG(s->K), EOS_ARG(Kc)};
        size_t g[2] = {(size_t)(s->K + 1) / 2, NB};
        EOS_TRY(eos__run_nd(rt, "conv_panel.cl", "eos_gemm_panel", 2, g, a, EOS_NARGS(a)));
    }
    int has_b = b != NULL;
    cl_mem bb = b ? b->buf : w->buf;  /* any valid buffer when unused */
    eos__arg a[] = {EOS_ARG(ws->tmp.buf), EOS_ARG(y->buf), EOS_ARG(bb), EOS_ARG(has_b), EOS_ARG(s->N), EOS_ARG(s->K),
                    EOS_ARG(HW)};
    size_t g = (size_t)s->N * s->K;
    return eos__run_nd(rt, "conv_panel.cl", "eos_panel_to_nchw", 1, &g, a, EOS_NARGS(a));
}

static eos_status backward_panel(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *x, const eos_tensor *w,
                                 const eos_tensor *dy, eos_tensor *dx, eos_tensor *dw, eos_tensor *db,
                                 eos_workspace *ws) {
    int OH = 0, OW = 0;
    EOS_TRY(check_shape(s, &OH, &OW));
    int Kc = s->C * s->R * s->R, Kcp = (int)round_up((size_t)Kc, TILE), HW = OH * OW;
    size_t P = (size_t)s->N * HW, Pp = round_up(P, TILE);
    int NB = (int)(Pp / TILE), per = PANELS_PER_SPLIT, S = (NB + per - 1) / per;
    EOS_TRY(eos__need(x, (size_t)s->N * s->C * s->H * s->W, "conv2d backward x"));
    EOS_TRY(eos__need(w, (size_t)s->K * Kc, "conv2d backward w"));
    EOS_TRY(eos__need(dy, (size_t)s->K * P, "conv2d backward dy"));
    EOS_TRY(eos__need(dw, (size_t)s->K * Kc, "conv2d backward dw"));
    if (dx) EOS_TRY(eos__need(dx, (size_t)s->N * s->C * s->H * s->W, "conv2d backward dx"));
    if (db) EOS_TRY(eos__need(db, (size_t)s->K, "conv2d backward db"));
    EOS_TRY(eos_tensor_reserve(rt, &ws->tmp, (size_t)s->K * Pp));          /* dyp panel(K, P) */
    EOS_TRY(eos_tensor_reserve(rt, &ws->col, Pp * (size_t)Kcp));           /* colT (Pp, Kcp) */
    EOS_TRY(eos_tensor_reserve(rt, &ws->part, (size_t)S * s->K * Kcp));    /* (S, K, Kcp) */
    {
        eos__arg a[] = {EOS_ARG(dy->buf), EOS_ARG(ws->tmp.buf), EOS_ARG(s->N), EOS_ARG(s->K), EOS_ARG(HW)};
        size_t g[2] = {(size_t)s->K, (size_t)NB};
        EOS_TRY(eos__run_nd(rt, "conv_panel.cl", "eos_nchw_to_panel", 2, g, a, EOS_NARGS(a)));
    }
    {
        eos__arg a[] = {EOS_ARG(x->buf), EOS_ARG(ws->col.buf), EOS_ARG(s->N), EOS_ARG(s->C), EOS_ARG(s->H),
                        EOS_ARG(s->W), EOS_ARG(s->R), EOS_ARG(s->stride), EOS_ARG(s->pad), EOS_ARG(OH), EOS_ARG(OW),
                        EOS_ARG(Kc), EOS_ARG(Kcp)};
        EOS_TRY(eos__run_nd(rt, "conv_panel.cl", "eos_im2col_t", 1, &Pp, a, EOS_NARGS(a)));
    }
    {
        eos__arg a[] = {EOS_ARG(ws->tmp.buf), EOS_ARG(ws->col.buf), EOS_ARG(ws->part.buf), EOS_ARG(s->K), EOS_ARG(Kcp),
                        EOS_ARG(NB), EOS_ARG(per)};
        size_t g[3] = {(size_t)Kcp / TILE, (size_t)(s->K + 1) / 2, (size_t)S};
        EOS_TRY(eos__run_nd(rt, "conv_panel.cl", "eos_conv_dw_partial", 3, g, a, EOS_NARGS(a)));
    }
    {
        eos__arg a[] = {EOS_ARG(ws->part.buf), EOS_ARG(dw->buf), EOS_ARG(S), EOS_ARG(s->K), EOS_ARG(Kc), EOS_ARG(Kcp)};
        size_t g = (size_t)s->K * Kc;
        EOS_TRY(eos__run_nd(rt, "conv_panel.cl", "eos_conv_dw_reduce", 1, &g, a, EOS_NARGS(a)));
    }
    if (db) EOS_TRY(bias_grad(rt, s, HW, dy, db));
    if (!dx) return EOS_OK;
    charge_dx(rt, s);
    EOS_TRY(eos_tensor_reserve(rt, &ws->dcol, (size_t)Kc * Pp));  /* dcolp panel(Kc, P) */
    {
        int one = 1;  /* A = w^T: A(m, k) = w[k * Kc + m] */
        eos__arg a[] = {EOS_ARG(w->buf), EOS_ARG(one), EOS_ARG(Kc), EOS_ARG(ws->tmp.buf), EOS_ARG(ws->dcol.buf),
                        EOS_ARG(Kc), EOS_ARG(s->K)};
        size_t g[2] = {(size_t)(Kc + 1) / 2, (size_t)NB};
        EOS_TRY(eos__run_nd(rt, "conv_panel.cl", "eos_gemm_panel", 2, g, a, EOS_NARGS(a)));
    }
    eos__arg a[] = {EOS_ARG(ws->dcol.buf), EOS_ARG(dx->buf), EOS_ARG(s->N), EOS_ARG(s->C), EOS_ARG(s->H), EOS_ARG(s->W),
                    EOS_ARG(s->R), EOS_ARG(s->stride), EOS_ARG(s->pad), EOS_ARG(OH), EOS_ARG(OW), EOS_ARG(Kc)};
    size_t g = (size_t)s->N * s->C * s->H;
    return eos__run_nd(rt, "conv_panel.cl", "eos_col2im_panel", 1, &g, a, EOS_NARGS(a));
}

/* ---- direct: 3x3 stride-1 convolution without a column matrix (cl/conv_direct.cl) ----------- */

static int direct_fits(const eos_conv_shape *s) {
    return s->R == 3 && s->stride == 1 && s->pad == 1 && (s->W == 8 || s->W == 16 || s->W == 32);
}

static eos_status direct_run(eos_runtime_t rt, int N, int C, int H, int W, int K, const eos_tensor *x,
                             const eos_tensor *w, eos_tensor *y) {
    const char *name = W == 32 ? "eos_conv3x3_w32" : W == 16 ? "eos_conv3x3_w16" : "eos_conv3x3_w8";
    int G = 64 / W;  /* output channels per work-item: 2, 4, 8 */
    eos__arg a[] = {EOS_ARG(x->buf), EOS_ARG(w->buf), EOS_ARG(y->buf), EOS_ARG(C), EOS_ARG(K), EOS_ARG(H)};
    size_t g[3] = {(size_t)H, (size_t)((K + G - 1) / G), (size_t)N};
    return eos__run_nd(rt, "conv_direct.cl", name, 3, g, a, EOS_NARGS(a));
}

static eos_status forward_direct(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *x, const eos_tensor *w,
                                 const eos_tensor *b, eos_tensor *y) {
    int OH = 0, OW = 0;
    EOS_TRY(check_shape(s, &OH, &OW));
    size_t P = (size_t)s->N * OH * OW;
    EOS_TRY(eos__need(x, (size_t)s->N * s->C * s->H * s->W, "conv2d x"));
    EOS_TRY(eos__need(w, (size_t)s->K * s->C * 9, "conv2d w"));
    EOS_TRY(eos__need(y, (size_t)s->K * P, "conv2d y"));
    EOS_TRY(direct_run(rt, s->N, s->C, s->H, s->W, s->K, x, w, y));
    if (!b) return EOS_OK;
    EOS_TRY(eos__need(b, (size_t)s->K, "conv2d b"));
    int K = s->K, S = OH * OW;
    cl_uint n = (cl_uint)((size_t)s->K * P);
    eos__arg a[] = {EOS_ARG(y->buf), EOS_ARG(b->buf), EOS_ARG(K), EOS_ARG(S), EOS_ARG(n)};
    return eos__run_1d(rt, "elementwise.cl", "eos_bias_add", n, a, EOS_NARGS(a));
}

static eos_status backward_direct(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *x, const eos_tensor *w,
                                  const eos_tensor *dy, eos_tensor *dx, eos_tensor *dw, eos_tensor *db,
                                  eos_workspace *ws) {
    int OH = 0, OW = 0;
    EOS_TRY(check_shape(s, &OH, &OW));
    size_t nw = (size_t)s->K * s->C * 9;
    EOS_TRY(eos__need(x, (size_t)s->N * s->C * s->H * s->W, "conv2d backward x"));
    EOS_TRY(eos__need(w, nw, "conv2d backward w"));
    EOS_TRY(eos__need(dy, (size_t)s->N * s->K * OH * OW, "conv2d backward dy"));
    EOS_TRY(eos__need(dw, nw, "conv2d backward dw"));
    if (dx) EOS_TRY(eos__need(dx, (size_t)s->N * s->C * s->H * s->W, "conv2d backward dx"));
    if (db) EOS_TRY(eos__need(db, (size_t)s->K, "conv2d backward db"));
    {
        const char *name = s->W == 32 ? "eos_conv3x3_dw_w32" : s->W == 16 ? "eos_conv3x3_dw_w16" : "eos_conv3x3_dw_w8";
        eos__arg a[] = {EOS_ARG(x->buf), EOS_ARG(dy->buf), EOS_ARG(dw->buf), EOS_ARG(s->N), EOS_ARG(s->C), EOS_ARG(s->K),
                        EOS_ARG(s->H)};
        size_t g[2] = {(size_t)s->C, (size_t)s->K};
        EOS_TRY(eos__run_nd(rt, "conv_direct.cl", name, 2, g, a, EOS_NARGS(a)));
    }
    if (db) EOS_TRY(bias_grad(rt, s, OH * OW, dy, db));
    if (!dx) return EOS_OK;
    charge_dx(rt, s);
    EOS_TRY(eos_tensor_reserve(rt, &ws->wt, nw));  /* w' (C, K, 3, 3) */
    {
        eos__arg a[] = {EOS_ARG(w->buf), EOS_ARG(ws->wt.buf), EOS_ARG(s->K), EOS_ARG(s->C)};
        EOS_TRY(eos__run_nd(rt, "conv_direct.cl", "eos_conv3x3_flip", 1, &nw, a, EOS_NARGS(a)));
    }
    return direct_run(rt, s->N, s->K, s->H, s->W, s->C, dy, &ws->wt, dx);
}

/* ---- winograd: F(2x2,3x3) for 3x3, stride 1, pad 1 (cl/conv_winograd.cl) ------------------- */

/* 2.25x fewer multiplications than the direct sum (16 per 2x2 tile instead of 36), paid for with
 * transforms that move 4x the input through memory; whether that wins is a matter of the device,
 * so it is one more candidate of the timed choice, not a replacement. */
static int wino_fits(const eos_conv_shape *s) { return s->R == 3 && s->stride == 1 && s->pad == 1; }

/* The 16 products: our float8 kernels on 32-tile panels on CPUs (on PoCL several times faster
 * than CLBlast's strided-batched SGEMM on these thin shapes), CLBlast's strided-batched SGEMM
 * elsewhere (tuned per device by CLBlast). eos__conv_set_wino_gemm forces one, so that the tests
 * check both paths on any device. */
static int g_wino_gemm = -1;
void eos__conv_set_wino_gemm(int mode) { g_wino_gemm = mode < 0 ? -1 : mode > 0; }
static int wino_panel(eos_runtime_t rt) {
    return g_wino_gemm >= 0 ? g_wino_gemm : eos_runtime_device(rt)->type == EOS_DEVICE_CPU;
}

/* floats of V (C = R) or M (K = R) in the layout of the GEMM in use: (16, R, T) or (16, NB, R, 32) */
static size_t wino_size(int panel, int R, size_t T) { return 16 * (size_t)R * (panel ? round_up(T, TILE) : T); }

/* y (N, K, H, W) = conv(x (N, C, H, W)) with filters already transformed: U (16, K, C); V and M
 * are scratch of 16*C*T and 16*K*T floats */
static eos_status wino_run(eos_runtime_t rt, int N, int C, int H, int W, int K, const eos_tensor *x, const eos_tensor *U,
                           const eos_tensor *b, eos_tensor *y, eos_tensor *V, eos_tensor *M) {
    int TH = (H + 1) / 2, TW = (W + 1) / 2, panel = wino_panel(rt);
    size_t T = (size_t)N * TH * TW;
    EOS_TRY(eos_tensor_reserve(rt, V, wino_size(panel, C, T)));
    EOS_TRY(eos_tensor_reserve(rt, M, wino_size(panel, K, T)));
    {
        eos__arg a[] = {EOS_ARG(x->buf), EOS_ARG(V->buf), EOS_ARG(N), EOS_ARG(C), EOS_ARG(H), EOS_ARG(W), EOS_ARG(TH),
                        EOS_ARG(TW), EOS_ARG(panel)};
        size_t g[3] = {(size_t)TH, (size_t)C, (size_t)N};
        EOS_TRY(eos__run_nd(rt, "conv_winograd.cl", "eos_wino_input", 3, g, a, EOS_NARGS(a)));
    }
    /* M[e] (K, T) = U[e] (K, C) x V[e] (C, T), e = 0..15 */
    if (panel) {
        int NB = (int)(round_up(T, TILE) / TILE);
        eos__arg a[] = {EOS_ARG(U->buf), EOS_ARG(V->buf), EOS_ARG(M->buf), EOS_ARG(K), EOS_ARG(C), EOS_ARG(NB)};
        size_t g[3] = {(size_t)(K + 1) / 2, (size_t)NB, 16};
        EOS_TRY(eos__run_nd(rt, "conv_winograd.cl", "eos_wino_gemm", 3, g, a, EOS_NARGS(a)));
    } else {
        EOS_TRY(eos_gemm_batched(rt, EOS_NO_TRANS, EOS_NO_TRANS, (size_t)K, T, (size_t)C, 1.0f, U, 0, (size_t)C,
                                 (size_t)K * C, V, 0, T, (size_t)C * T, 0.0f, M, 0, T, (size_t)K * T, 16));
    }
    int has_b = b != NULL;
    cl_mem bb = b ? b->buf : U->buf;  /* any valid buffer when unused */
    eos__arg a[] = {EOS_ARG(M->buf), EOS_ARG(y->buf), EOS_ARG(bb), EOS_ARG(has_b), EOS_ARG(N), EOS_ARG(K), EOS_ARG(H),
                    EOS_ARG(W), EOS_ARG(TH), EOS_ARG(TW), EOS_ARG(panel)};
    size_t g[3] = {(size_t)TH, (size_t)K, (size_t)N};
    return eos__run_nd(rt, "conv_winograd.cl", "eos_wino_output", 3, g, a, EOS_NARGS(a));
}

/* U (16, Ko, Ci) from w: (Ko, Ci, 3, 3) as it is (flip 0), or (Ci, Ko, 3, 3) turned (flip 1) */
static eos_status wino_filter(eos_runtime_t rt, const eos_tensor *w, int Ko, int Ci, int flip, eos_tensor *U) {
    size_t n = (size_t)Ko * Ci;
    EOS_TRY(eos_tensor_reserve(rt, U, 16 * n));
    eos__arg a[] = {EOS_ARG(w->buf), EOS_ARG(U->buf), EOS_ARG(Ko), EOS_ARG(Ci), EOS_ARG(flip)};
    return eos__run_nd(rt, "conv_winograd.cl", "eos_wino_filter", 1, &n, a, EOS_NARGS(a));
}

static eos_status forward_wino(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *x, const eos_tensor *w,
                               const eos_tensor *b, eos_tensor *y, eos_workspace *ws) {
    int OH = 0, OW = 0;
    EOS_TRY(check_shape(s, &OH, &OW));
    if (!wino_fits(s)) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "conv2d winograd: needs 3x3, stride 1, pad 1");
    EOS_TRY(eos__need(x, (size_t)s->N * s->C * s->H * s->W, "conv2d x"));
    EOS_TRY(eos__need(w, (size_t)s->K * s->C * 9, "conv2d w"));
    EOS_TRY(eos__need(y, (size_t)s->N * s->K * OH * OW, "conv2d y"));
    if (b) EOS_TRY(eos__need(b, (size_t)s->K, "conv2d b"));
    /* the filters are transformed on every forward call: once per weight update in training */
    EOS_TRY(wino_filter(rt, w, s->K, s->C, 0, &ws->wt));
    return wino_run(rt, s->N, s->C, s->H, s->W, s->K, x, &ws->wt, b, y, &ws->col, &ws->tmp);
}

/* Both gradients in the Winograd domain: dx is the forward on dy with the turned, transposed
 * filters; dw is the adjoint of the forward's three steps (see cl/conv_winograd.cl), exact up to
 * rounding because the forward is the convolution exactly in real arithmetic. */
static eos_status backward_wino(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *x, const eos_tensor *w,
                                const eos_tensor *dy, eos_tensor *dx, eos_tensor *dw, eos_tensor *db,
                                eos_workspace *ws) {
    int OH = 0, OW = 0;
    EOS_TRY(check_shape(s, &OH, &OW));
    if (!wino_fits(s)) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "conv2d winograd: needs 3x3, stride 1, pad 1");
    int N = s->N, C = s->C, H = s->H, W = s->W, K = s->K, TH = (H + 1) / 2, TW = (W + 1) / 2, panel = wino_panel(rt);
    size_t nw = (size_t)K * C * 9, T = (size_t)N * TH * TW;
    int NB = (int)(round_up(T, TILE) / TILE);
    EOS_TRY(eos__need(x, (size_t)N * C * H * W, "conv2d backward x"));
    EOS_TRY(eos__need(w, nw, "conv2d backward w"));
    EOS_TRY(eos__need(dy, (size_t)N * K * OH * OW, "conv2d backward dy"));
    EOS_TRY(eos__need(dw, nw, "conv2d backward dw"));
    if (dx) EOS_TRY(eos__need(dx, (size_t)N * C * H * W, "conv2d backward dx"));
    if (db) EOS_TRY(eos__need(db, (size_t)K, "conv2d backward db"));
    EOS_TRY(eos_tensor_reserve(rt, &ws->col, wino_size(panel, C, T)));  /* V (16, C, T) of x */
    EOS_TRY(eos_tensor_reserve(rt, &ws->tmp, wino_size(panel, K, T)));  /* dM (16, K, T) of dy */
    EOS_TRY(eos_tensor_reserve(rt, &ws->part, 16 * (size_t)K * C));  /* dU (16, K, C) */
    {
        eos__arg a[] = {EOS_ARG(x->buf), EOS_ARG(ws->col.buf), EOS_ARG(N), EOS_ARG(C), EOS_ARG(H), EOS_ARG(W),
                        EOS_ARG(TH), EOS_ARG(TW), EOS_ARG(panel)};
        size_t g[3] = {(size_t)TH, (size_t)C, (size_t)N};
        EOS_TRY(eos__run_nd(rt, "conv_winograd.cl", "eos_wino_input", 3, g, a, EOS_NARGS(a)));
    }
    {
        eos__arg a[] = {EOS_ARG(dy->buf), EOS_ARG(ws->tmp.buf), EOS_ARG(N), EOS_ARG(K), EOS_ARG(H), EOS_ARG(W),
                        EOS_ARG(TH), EOS_ARG(TW), EOS_ARG(panel)};
        size_t g[3] = {(size_t)TH, (size_t)K, (size_t)N};
        EOS_TRY(eos__run_nd(rt, "conv_winograd.cl", "eos_wino_dy", 3, g, a, EOS_NARGS(a)));
    }
    /* dU[e] (K, C) = dM[e] (K, T) x V[e]^T (T, C) */
    if (panel) {
        eos__arg a[] = {EOS_ARG(ws->tmp.buf), EOS_ARG(ws->col.buf), EOS_ARG(ws->part.buf), EOS_ARG(K), EOS_ARG(C),
                        EOS_ARG(NB)};
        size_t g[3] = {(size_t)(C + 3) / 4, (size_t)(K + 1) / 2, 16};
        EOS_TRY(eos__run_nd(rt, "conv_winograd.cl", "eos_wino_gemm_dw", 3, g, a, EOS_NARGS(a)));
    } else {
        EOS_TRY(eos_gemm_batched(rt, EOS_NO_TRANS, EOS_TRANS, (size_t)K, (size_t)C, T, 1.0f, &ws->tmp, 0, T,
                                 (size_t)K * T, &ws->col, 0, T, (size_t)C * T, 0.0f, &ws->part, 0, (size_t)C,
                                 (size_t)K * C, 16));
    }
    {
        size_t n = (size_t)K * C;
        eos__arg a[] = {EOS_ARG(ws->part.buf), EOS_ARG(dw->buf), EOS_ARG(K), EOS_ARG(C)};
        EOS_TRY(eos__run_nd(rt, "conv_winograd.cl", "eos_wino_dw", 1, &n, a, EOS_NARGS(a)));
    }
    if (db) EOS_TRY(bias_grad(rt, s, OH * OW, dy, db));
    if (!dx) return EOS_OK;
    charge_dx(rt, s);
    EOS_TRY(wino_filter(rt, w, C, K, 1, &ws->wt));  /* U' (16, C, K) of w' (C, K, 3, 3) */
    return wino_run(rt, N, K, H, W, C, dy, &ws->wt, NULL, dx, &ws->col, &ws->dcol);
}

/* ---- the choice per device and shape ------------------------------------------------------ */

static const char *k_algo_names[] = {"auto", "gemm", "panel", "direct", "winograd"};
enum { NALGO = (int)(sizeof k_algo_names / sizeof k_algo_names[0]) };

const char *eos_conv_algo_name(eos_conv_algo a) { return (unsigned)a < NALGO ? k_algo_names[a] : "?"; }

/* whether algorithm a can run shape s (gemm and panel run every shape) */
static int algo_fits(int a, const eos_conv_shape *s) {
    return a == EOS_CONV_DIRECT ? direct_fits(s) : a == EOS_CONV_WINOGRAD ? wino_fits(s) : 1;
}

eos_status eos_conv_algo_parse(const char *name, eos_conv_algo *out) {
    *out = EOS_CONV_AUTO;
    for (int i = 0; i < NALGO; i++)
        if (name && !strcmp(name, k_algo_names[i])) {
            *out = (eos_conv_algo)i;
            return EOS_OK;
        }
    EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "unknown convolution algorithm '%s': expected auto, gemm, panel, direct or winograd",
             name ? name : "");
}

void eos_runtime_set_conv_algo(eos_runtime_t rt, eos_conv_algo a) { rt->conv_force = (int)a; }

/* The batch size is left out (0): one choice per layer shape, made at its first call, holds for
 * every batch (a partial last batch, evaluation batches), so a run's first step fixes every
 * choice it will use and a checkpoint taken after it carries them all. */
static void shape_key(const eos_conv_shape *s, int k[8]) {
    k[0] = 0; k[1] = s->C; k[2] = s->H; k[3] = s->W; k[4] = s->K; k[5] = s->R; k[6] = s->stride; k[7] = s->pad;
}

static void remember(eos_runtime_t rt, const int key[8], int algo) {
    int n = rt->nconv_choice;
    if (n == (int)(sizeof rt->conv_choice / sizeof rt->conv_choice[0])) n = 0;  /* full: start over */
    memcpy(rt->conv_choice[n].shape, key, sizeof rt->conv_choice[n].shape);
    rt->conv_choice[n].algo = algo;
    rt->nconv_choice = n + 1;
}

static const char *device_id(eos_runtime_t rt, char *buf, size_t n) {
    /* one token: the set of algorithms (bump when one is added or changed), the device, its
     * platform and driver (spaces -> '_'); lines of another token are ignored */
    snprintf(buf, n, "v9|%s|%s|%s", rt->dev.name, rt->dev.platform_name, rt->dev.driver_version);
    for (char *c = buf; *c; c++)
        if (*c == ' ' || *c == '\t' || *c == '\n') *c = '_';
    return buf;
}

/* One line of conv-algos.txt, "device N C H W K R stride pad algo": 1 when well formed. */
static int parse_choice_line(const char *line, char dev[700], int k[8], eos_conv_algo *a) {
    char algo[16];
    *a = EOS_CONV_AUTO;
    if (sscanf(line, "%699s %d %d %d %d %d %d %d %d %15s", dev, &k[0], &k[1], &k[2], &k[3], &k[4], &k[5], &k[6], &k[7],
               algo) != 10)
        return 0;
    for (int i = EOS_CONV_AUTO + 1; i < NALGO; i++)  /* not eos_conv_algo_parse: no last-error for a bad line */
        if (!strcmp(algo, k_algo_names[i])) *a = (eos_conv_algo)i;
    return *a != EOS_CONV_AUTO;
}

int eos__conv_algos_recognise(const char *text, size_t n) {
    size_t m = strlen(EOS__CONV_ALGOS_MARKER);
    if (n > m && !memcmp(text, EOS__CONV_ALGOS_MARKER, m) && text[m] == '\n') return 1;
    /* written before the marker existed: every whole line a choice whose device token is
     * "v<digits>|..." (device_id below); a last line without '\n' is a torn append or the end
     * of what was read */
    int lines = 0;
    for (size_t i = 0; i < n;) {
        const char *nl = memchr(text + i, '\n', n - i);
        if (!nl) break;
        size_t len = (size_t)(nl - (text + i));
        char line[1024], dev[700];
        int k[8];
        eos_conv_algo a;
        if (len >= sizeof line) return 0;
        memcpy(line, text + i, len);
        line[len] = 0;
        if (!parse_choice_line(line, dev, k, &a) || dev[0] != 'v' || !strchr(dev, '|') ||
            strspn(dev + 1, "0123456789") != (size_t)(strchr(dev, '|') - dev - 1) || dev[1] == '|')
            return 0;
        lines++;
        i += len + 1;
    }
    return lines > 0;
}

/* <cache>/conv-algos.txt: the marker line, then "device N C H W K R stride pad algo" per line;
 * bad lines are ignored. Only a regular file is read (a FIFO there must not hang the run). */
static void load_choices(eos_runtime_t rt) {
    rt->conv_loaded = 1;
    if (!rt->cache_dir[0]) return;
    char path[1200], id[700], line[1024], dev[700];
    snprintf(path, sizeof path, "%s/conv-algos.txt", rt->cache_dir);
    FILE *f = eos__fopen_regular(path, "r");
    if (!f) {
        if (errno == EINVAL) eos__log(EOS_LOG_INFO, "%s ignored: not a regular file", path);
        return;
    }
    device_id(rt, id, sizeof id);
    while (fgets(line, sizeof line, f)) {
        int k[8];
        eos_conv_algo a;
        if (parse_choice_line(line, dev, k, &a) && !strcmp(dev, id)) remember(rt, k, (int)a);
    }
    fclose(f);
}

static void store_choice(eos_runtime_t rt, const int k[8], int algo) {
    if (!rt->cache_dir[0]) return;
    char path[1200], id[700];
    snprintf(path, sizeof path, "%s/conv-algos.txt", rt->cache_dir);
    FILE *f = eos__fopen_regular(path, "a");  /* one short line per append: a torn line is just ignored */
    if (!f) return;
    struct stat sb;
    /* a new file starts with the marker: `eos cache --clear` deletes only a file that has it */
    if (fstat(fileno(f), &sb) == 0 && sb.st_size == 0) fprintf(f, "%s\n", EOS__CONV_ALGOS_MARKER);
    fprintf(f, "%s %d %d %d %d %d %d %d %d %s\n", device_id(rt, id, sizeof id), k[0], k[1], k[2], k[3], k[4], k[5], k[6],
            k[7], k_algo_names[algo]);
    fclose(f);
}

void eos__conv_choices_export(eos_runtime_t rt, char *buf, size_t n) {
    size_t used = 0;
    if (n) buf[0] = 0;
    for (int i = 0; i < rt->nconv_choice && used < n; i++) {
        const int *k = rt->conv_choice[i].shape;
        int w = snprintf(buf + used, n - used, "%d %d %d %d %d %d %d %d %s;", k[0], k[1], k[2], k[3], k[4], k[5], k[6],
                         k[7], k_algo_names[rt->conv_choice[i].algo]);
        if (w < 0 || (size_t)w >= n - used) {  /* never a cut entry */
            buf[used] = 0;
            break;
        }
        used += (size_t)w;
    }
}

void eos__conv_choices_import(eos_runtime_t rt, const char *list) {
    if (!rt->conv_loaded) load_choices(rt);  /* the file first, so the list has the last word */
    for (const char *p = list; p && *p;) {
        int k[8], used = 0;
        char algo[16];
        eos_conv_algo a = EOS_CONV_AUTO;
        if (sscanf(p, "%d %d %d %d %d %d %d %d %15[a-z]%n", &k[0], &k[1], &k[2], &k[3], &k[4], &k[5], &k[6], &k[7], algo,
                   &used) == 9 &&
            eos_conv_algo_parse(algo, &a) == EOS_OK && a != EOS_CONV_AUTO)
            remember(rt, k, (int)a);
        const char *semi = strchr(p, ';');
        if (!semi) break;
        p = semi + 1;
    }
}

/* forward + backward (with dx) of one algorithm, seconds */
static eos_status time_once(eos_runtime_t rt, int algo, const eos_conv_shape *s, eos_tensor *t, eos_workspace *ws,
                            double *sec) {
    EOS_CL_CHECK(clFinish(rt->queue), "conv timing");
    double t0 = eos__now();
    if (algo == EOS_CONV_WINOGRAD) {
        EOS_TRY(forward_wino(rt, s, &t[0], &t[1], NULL, &t[2], ws));
        EOS_TRY(backward_wino(rt, s, &t[0], &t[1], &t[2], &t[3], &t[4], NULL, ws));
    } else if (algo == EOS_CONV_DIRECT) {
        EOS_TRY(forward_direct(rt, s, &t[0], &t[1], NULL, &t[2]));
        EOS_TRY(backward_direct(rt, s, &t[0], &t[1], &t[2], &t[3], &t[4], NULL, ws));
    } else if (algo == EOS_CONV_PANEL) {
        EOS_TRY(forward_panel(rt, s, &t[0], &t[1], NULL, &t[2], ws));
        EOS_TRY(backward_panel(rt, s, &t[0], &t[1], &t[2], &t[3], &t[4], NULL, ws));
    } else {
        EOS_TRY(forward_gemm(rt, s, &t[0], &t[1], NULL, &t[2], ws));
        EOS_TRY(backward_gemm(rt, s, &t[0], &t[1], &t[2], &t[3], &t[4], NULL, ws));
    }
    EOS_CL_CHECK(clFinish(rt->queue), "conv timing");
    *sec = eos__now() - t0;
    return EOS_OK;
}

static eos_status measure(eos_runtime_t rt, const eos_conv_shape *s, int *algo) {
    int OH = 0, OW = 0;
    EOS_TRY(check_shape(s, &OH, &OW));
    size_t nx = (size_t)s->N * s->C * s->H * s->W, nw = (size_t)s->K * s->C * s->R * s->R,
           ny = (size_t)s->N * s->K * OH * OW;
    size_t sizes[5] = {nx, nw, ny, nx, nw};  /* x, w, y (= dy), dx, dw */
    eos_tensor t[5];
    memset(t, 0, sizeof t);
    eos_workspace ws;
    memset(&ws, 0, sizeof ws);
    eos_status st = EOS_OK;
    for (int i = 0; st == EOS_OK && i < 5; i++) {
        st = eos_tensor_alloc(rt, &t[i], 1, &sizes[i]);
        if (st == EOS_OK) st = eos_tensor_fill(&t[i], 0.25f);
    }
    double best[NALGO] = {1e30, 1e30, 1e30, 1e30, 1e30};
    for (int rep = 0; st == EOS_OK && rep < 3; rep++)  /* the first round warms up (builds, caches) */
        for (int a = EOS_CONV_GEMM; st == EOS_OK && a < NALGO; a++) {
            if (!algo_fits(a, s)) continue;
            double sec = 0;
            st = time_once(rt, a, s, t, &ws, &sec);
            if (st == EOS_OK && rep > 0 && sec < best[a]) best[a] = sec;
        }
    for (int i = 0; i < 5; i++) eos_tensor_free(&t[i]);
    eos_workspace_free(&ws);
    if (st != EOS_OK) return st;
    *algo = EOS_CONV_GEMM;
    for (int a = EOS_CONV_PANEL; a < NALGO; a++)
        if (algo_fits(a, s) && best[a] < best[*algo]) *algo = a;
    const char *verbose = getenv("EOS_CONV_VERBOSE");
    if (verbose && !strcmp(verbose, "1"))  /* -1 for an algorithm that does not apply */
        fprintf(stderr,
                "eos: conv N%d C%d %dx%d K%d R%d s%d: gemm %.2f ms, panel %.2f ms, direct %.2f ms, winograd %.2f ms -> %s\n",
                s->N, s->C, s->H, s->W, s->K, s->R, s->stride, 1e3 * best[EOS_CONV_GEMM], 1e3 * best[EOS_CONV_PANEL],
                direct_fits(s) ? 1e3 * best[EOS_CONV_DIRECT] : -1.0, wino_fits(s) ? 1e3 * best[EOS_CONV_WINOGRAD] : -1.0,
                k_algo_names[*algo]);
    return EOS_OK;
}

eos_status eos_conv_algo_for(eos_runtime_t rt, const eos_conv_shape *s, eos_conv_algo *out) {
    if (rt->conv_force == EOS_CONV_AUTO) {
        const char *env = getenv("EOS_CONV_ALGO");
        eos_conv_algo a = EOS_CONV_AUTO;
        if (env && env[0] && eos_conv_algo_parse(env, &a) == EOS_OK && a != EOS_CONV_AUTO) rt->conv_force = (int)a;
    }
    if (rt->conv_force != EOS_CONV_AUTO) {  /* direct and winograd only where they apply; panel elsewhere */
        *out = !algo_fits(rt->conv_force, s) ? EOS_CONV_PANEL : (eos_conv_algo)rt->conv_force;
        return EOS_OK;
    }
    if (!rt->conv_loaded) load_choices(rt);
    int key[8];
    shape_key(s, key);
    for (int i = rt->nconv_choice - 1; i >= 0; i--)
        if (!memcmp(rt->conv_choice[i].shape, key, sizeof key) &&
            algo_fits(rt->conv_choice[i].algo, s)) {
            *out = (eos_conv_algo)rt->conv_choice[i].algo;
            return EOS_OK;
        }
    int algo;
    EOS_TRY(measure(rt, s, &algo));
    remember(rt, key, algo);
    store_choice(rt, key, algo);
    *out = (eos_conv_algo)algo;
    return EOS_OK;
}

eos_status eos_conv2d_forward(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *x, const eos_tensor *w,
                              const eos_tensor *b, eos_tensor *y, eos_workspace *ws) {
    eos_conv_algo a;
    EOS_TRY(eos_conv_algo_for(rt, s, &a));
    charge(rt, s, EOS_CONV_FORWARD, a);
    eos_status st = a == EOS_CONV_WINOGRAD ? forward_wino(rt, s, x, w, b, y, ws)
                  : a == EOS_CONV_DIRECT   ? forward_direct(rt, s, x, w, b, y)
                  : a == EOS_CONV_PANEL    ? forward_panel(rt, s, x, w, b, y, ws)
                                           : forward_gemm(rt, s, x, w, b, y, ws);
    charge(rt, NULL, EOS_CONV_FORWARD, a);
    return st;
}

eos_status eos_conv2d_backward(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *x, const eos_tensor *w,
                               const eos_tensor *dy, eos_tensor *dx, eos_tensor *dw, eos_tensor *db,
                               eos_workspace *ws) {
    eos_conv_algo a;
    EOS_TRY(eos_conv_algo_for(rt, s, &a));
    charge(rt, s, EOS_CONV_WEIGHT_GRAD, a);  /* each backward switches to the data gradient (charge_dx) */
    eos_status st = a == EOS_CONV_WINOGRAD ? backward_wino(rt, s, x, w, dy, dx, dw, db, ws)
                  : a == EOS_CONV_DIRECT   ? backward_direct(rt, s, x, w, dy, dx, dw, db, ws)
                  : a == EOS_CONV_PANEL    ? backward_panel(rt, s, x, w, dy, dx, dw, db, ws)
                                           : backward_gemm(rt, s, x, w, dy, dx, dw, db, ws);
    charge(rt, NULL, EOS_CONV_WEIGHT_GRAD, a);
    return st;
}
