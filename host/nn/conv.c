/* conv2d, forward and backward, with six algorithms behind one pair of functions:
 *   gemm   im2col + CLBlast GEMM (cl/im2col.cl), for any device:
 *            forward:  col = im2col(x) (Kc, P); tmp (K, P) = w (K, Kc) x col; y = swap(tmp) (+ b)
 *            backward: tmp = swap(dy) (K, P); dw = tmp x col^T; db = sum dy; dcol = w^T x tmp;
 *                      dx = col2im(dcol)
 *   panel  the same products on packed 32-pixel panels with float8-tiled kernels of our own
 *          (cl/conv_panel.cl), written for CPUs, split over the pixels for dw (no atomics)
 *   direct 3x3, stride 1, pad 1 on rows of 32, 16 or 8 pixels without any column matrix
 *          (cl/conv_direct.cl), rows in float8: dx is the forward kernel on flipped weights, both
 *          reading weights packed per group of output channels (eos_conv3x3_pack); dw in slices
 *          of the batch summed in order
 *   direct16  the same kernels on float16 rows (AVX-512), plus the forward of 3x3 stride-2 pad-1
 *          layers on rows of 32 and 16; in inference both also fold a batch norm, residual and
 *          ReLU into the forward's stores (eos__conv2d_forward_fused)
 *   winograd  3x3, stride 1, pad 1, any size: Winograd F(2x2,3x3) (cl/conv_winograd.cl), the
 *          16 products of the transformed domain as float8-tiled kernels on 32-tile panels (CPUs)
 *          or CLBlast's strided-batched SGEMM (elsewhere); dx and dw in the Winograd domain too.
 *          On the CPU paths, on rows of 32, 16 or 8, the forward and dx are one fused kernel
 *          each (cl/conv_direct.cl eos_wino_w32/16/8: transforms in local memory, the direct
 *          kernels' epilogue)
 *   tiled  any shape: implicit GEMMs in local-memory tiles on 2-D work-groups, written the way
 *          GPU kernels are (host/nn/conv_tiled.c, cl/conv_tiled.cl): the operands gathered on the
 *          fly (no column matrix), dx in gather form, dw split over the pixels into partial sums
 *          added in a fixed order; timed like the others, so a GPU picks it where it wins
 * Legend: x (N, C, H, W), w (K, C, R, R), y (N, K, OH, OW); Kc = C*R*R rows and P = N*OH*OW
 * columns of the column matrix. Which algorithm runs is chosen per device, layer shape, batch
 * size and direction (forward, dx, dw) by timing that direction alone with each algorithm that
 * applies on its first call (eos_conv_algo_for_dir), remembered in a table of the conv module's
 * own (grown as needed) and in <kernel cache>/conv-algos.txt, carried by checkpoints
 * (eos__conv_choices_export/import), and can be forced (eos_runtime_set_conv_algo,
 * EOS_CONV_ALGO). A backward runs dw, then dx, each with its own choice; when they are the same
 * algorithm dx reuses dw's re-layout of dy, so the kernels are exactly those of one backward.
 * While event profiling is on, kernel time is also charged per (shape, direction) for `eos bench
 * layers` (eos_conv_profile_read). */
#include "dist.h"
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

const char *eos_conv_dir_name(eos_conv_dir d) {
    return d == EOS_CONV_FORWARD ? "forward" : d == EOS_CONV_DATA_GRAD ? "data grad"
         : d == EOS_CONV_WEIGHT_GRAD ? "weight grad" : "?";
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
    return eos__channel_sum(rt, dy, db, s->N, s->K, HW);
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

/* dw = swap(dy) x col^T (+ db). Leaves swap(dy) (K, P) in ws->tmp: dx_gemm takes it from there
 * when the data gradient runs with gemm too (shared), so the pair costs what it did in one. */
static eos_status dw_gemm(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *x, const eos_tensor *dy,
                          eos_tensor *dw, eos_tensor *db, eos_workspace *ws) {
    int OH = eos_conv_out(s->H, s->R, s->stride, s->pad), OW = eos_conv_out(s->W, s->R, s->stride, s->pad);
    size_t Kc = (size_t)s->C * s->R * s->R, P = (size_t)s->N * OH * OW, HW = (size_t)OH * OW;
    EOS_TRY(eos_tensor_reserve(rt, &ws->col, Kc * P));
    EOS_TRY(eos_tensor_reserve(rt, &ws->tmp, (size_t)s->K * P));
    EOS_TRY(swap01(rt, dy, &ws->tmp, s->N, s->K, (int)HW));  /* (N, K, HW) -> (K, N, HW) */
    EOS_TRY(im2col(rt, s, OH, OW, x, &ws->col));
    EOS_TRY(eos_gemm(rt, EOS_NO_TRANS, EOS_TRANS, (size_t)s->K, Kc, P, 1.0f, &ws->tmp, 0, P, &ws->col, 0, P, 0.0f, dw,
                     0, Kc));
    if (db) EOS_TRY(bias_grad(rt, s, (int)HW, dy, db));
    return EOS_OK;
}

/* dx = col2im(w^T x swap(dy)); shared: ws->tmp already holds swap(dy) (dw_gemm just ran) */
static eos_status dx_gemm(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *w, const eos_tensor *dy,
                          eos_tensor *dx, eos_workspace *ws, int shared) {
    int OH = eos_conv_out(s->H, s->R, s->stride, s->pad), OW = eos_conv_out(s->W, s->R, s->stride, s->pad);
    size_t Kc = (size_t)s->C * s->R * s->R, P = (size_t)s->N * OH * OW, HW = (size_t)OH * OW;
    if (!shared) {
        EOS_TRY(eos_tensor_reserve(rt, &ws->tmp, (size_t)s->K * P));
        EOS_TRY(swap01(rt, dy, &ws->tmp, s->N, s->K, (int)HW));
    }
    EOS_TRY(eos_tensor_reserve(rt, &ws->dcol, Kc * P));
    EOS_TRY(eos_gemm(rt, EOS_TRANS, EOS_NO_TRANS, Kc, P, (size_t)s->K, 1.0f, w, 0, Kc, &ws->tmp, 0, P, 0.0f, &ws->dcol,
                     0, P));
    eos__arg a[] = {EOS_ARG(ws->dcol.buf), EOS_ARG(dx->buf), EOS_ARG(s->N), EOS_ARG(s->C), EOS_ARG(s->H),
                    EOS_ARG(s->W), EOS_ARG(s->R), EOS_ARG(s->R), EOS_ARG(s->stride), EOS_ARG(s->pad),
                    EOS_ARG(OH), EOS_ARG(OW)};
    return eos__run_1d(rt, "im2col.cl", "eos_col2im", (size_t)s->N * s->C * s->H * s->W, a, EOS_NARGS(a));
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
        int one = 1, nb = (int)NB;
        eos__arg a[] = {EOS_ARG(w->buf), EOS_ARG(Kc), EOS_ARG(one), EOS_ARG(ws->col.buf), EOS_ARG(ws->tmp.buf),
                        EOS_ARG(s->K), EOS_ARG(Kc), EOS_ARG(nb)};
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

/* dy (N, K, HW) -> panel(K, P) in ws->tmp: the re-layout both gradients read */
static eos_status dy_panel(eos_runtime_t rt, const eos_conv_shape *s, int HW, int NB, const eos_tensor *dy,
                           eos_workspace *ws) {
    EOS_TRY(eos_tensor_reserve(rt, &ws->tmp, (size_t)s->K * NB * TILE));
    eos__arg a[] = {EOS_ARG(dy->buf), EOS_ARG(ws->tmp.buf), EOS_ARG(s->N), EOS_ARG(s->K), EOS_ARG(HW)};
    size_t g[2] = {(size_t)s->K, (size_t)NB};
    return eos__run_nd(rt, "conv_panel.cl", "eos_nchw_to_panel", 2, g, a, EOS_NARGS(a));
}

/* dw (+ db), split over the pixels into partial sums (no atomics). Leaves dy's panel in ws->tmp
 * for dx_panel (shared). */
static eos_status dw_panel(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *x, const eos_tensor *dy,
                           eos_tensor *dw, eos_tensor *db, eos_workspace *ws) {
    int OH = eos_conv_out(s->H, s->R, s->stride, s->pad), OW = eos_conv_out(s->W, s->R, s->stride, s->pad);
    int Kc = s->C * s->R * s->R, Kcp = (int)round_up((size_t)Kc, TILE), HW = OH * OW;
    size_t P = (size_t)s->N * HW, Pp = round_up(P, TILE);
    int NB = (int)(Pp / TILE), per = PANELS_PER_SPLIT, S = (NB + per - 1) / per;
    EOS_TRY(eos_tensor_reserve(rt, &ws->col, Pp * (size_t)Kcp));           /* colT (Pp, Kcp) */
    EOS_TRY(eos_tensor_reserve(rt, &ws->part, (size_t)S * s->K * Kcp));    /* (S, K, Kcp) */
    EOS_TRY(dy_panel(rt, s, HW, NB, dy, ws));                              /* dyp panel(K, P) */
    {
        int pp = (int)Pp;
        eos__arg a[] = {EOS_ARG(x->buf), EOS_ARG(ws->col.buf), EOS_ARG(s->N), EOS_ARG(s->C), EOS_ARG(s->H),
                        EOS_ARG(s->W), EOS_ARG(s->R), EOS_ARG(s->stride), EOS_ARG(s->pad), EOS_ARG(OH), EOS_ARG(OW),
                        EOS_ARG(Kc), EOS_ARG(Kcp), EOS_ARG(pp)};
        EOS_TRY(eos__run_nd(rt, "conv_panel.cl", "eos_im2col_t", 1, &Pp, a, EOS_NARGS(a)));
    }
    {
        eos__arg a[] = {EOS_ARG(ws->tmp.buf), EOS_ARG(ws->col.buf), EOS_ARG(ws->part.buf), EOS_ARG(s->K), EOS_ARG(Kcp),
                        EOS_ARG(NB), EOS_ARG(per), EOS_ARG(S)};
        size_t g[3] = {(size_t)Kcp / TILE, (size_t)(s->K + 1) / 2, (size_t)S};
        EOS_TRY(eos__run_nd(rt, "conv_panel.cl", "eos_conv_dw_partial", 3, g, a, EOS_NARGS(a)));
    }
    {
        eos__arg a[] = {EOS_ARG(ws->part.buf), EOS_ARG(dw->buf), EOS_ARG(S), EOS_ARG(s->K), EOS_ARG(Kc), EOS_ARG(Kcp)};
        size_t g = (size_t)s->K * Kc;
        EOS_TRY(eos__run_nd(rt, "conv_panel.cl", "eos_conv_dw_reduce", 1, &g, a, EOS_NARGS(a)));
    }
    if (db) EOS_TRY(bias_grad(rt, s, HW, dy, db));
    return EOS_OK;
}

/* dx = col2im(w^T x dyp) on panels; shared: ws->tmp already holds dy's panel (dw_panel just ran) */
static eos_status dx_panel(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *w, const eos_tensor *dy,
                           eos_tensor *dx, eos_workspace *ws, int shared) {
    int OH = eos_conv_out(s->H, s->R, s->stride, s->pad), OW = eos_conv_out(s->W, s->R, s->stride, s->pad);
    int Kc = s->C * s->R * s->R, HW = OH * OW;
    size_t Pp = round_up((size_t)s->N * HW, TILE);
    int NB = (int)(Pp / TILE);
    if (!shared) EOS_TRY(dy_panel(rt, s, HW, NB, dy, ws));
    EOS_TRY(eos_tensor_reserve(rt, &ws->dcol, (size_t)Kc * Pp));  /* dcolp panel(Kc, P) */
    {
        int one = 1;  /* A = w^T: A(m, k) = w[k * Kc + m] */
        eos__arg a[] = {EOS_ARG(w->buf), EOS_ARG(one), EOS_ARG(Kc), EOS_ARG(ws->tmp.buf), EOS_ARG(ws->dcol.buf),
                        EOS_ARG(Kc), EOS_ARG(s->K), EOS_ARG(NB)};
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

/* direct16 also runs 3x3 stride-2 pad-1 convolutions on rows of 32 or 16, all three directions */
static int direct16_s2_fits(const eos_conv_shape *s) {
    return s->R == 3 && s->stride == 2 && s->pad == 1 && (s->W == 16 || s->W == 32);
}

/* The kernels by row width W and vector width (wide: float16, "direct16"; else float8, "direct"),
 * with the output channels (G) and output rows (rows) one work-item computes. */
typedef struct {
    const char *fwd, *dw;
    int G, rows;
} direct_kernels;

static direct_kernels direct_pick(int W, int wide, int stride) {
    static const direct_kernels s2[2] = {{"eos_conv3x3s2_w32_v16", "eos_conv3x3s2_dw_w32_v16", 16, 1},
                                         {"eos_conv3x3s2_w16_v16", "eos_conv3x3s2_dw_w16_v8", 16, 2}};
    if (stride == 2) return s2[W == 32 ? 0 : 1];
    static const direct_kernels k8[3] = {{"eos_conv3x3_w32", "eos_conv3x3_dw2_w32", 2, 1},
                                         {"eos_conv3x3_w16", "eos_conv3x3_dw2_w16", 4, 1},
                                         {"eos_conv3x3_w8", "eos_conv3x3_dw2_w8", 8, 1}};
    static const direct_kernels k16[3] = {{"eos_conv3x3_w32_v16", "eos_conv3x3_dw2_w32_v16", 8, 1},
                                          {"eos_conv3x3_w16_v16", "eos_conv3x3_dw2_w16_v16", 16, 1},
                                          {"eos_conv3x3_w8_v16", "eos_conv3x3_dw2_w8_v16", 16, 2}};
    int i = W == 32 ? 0 : W == 16 ? 1 : 2;
    return wide ? k16[i] : k8[i];
}

/* The epilogue of a fused forward: y = relu?(conv(x, w scale) + shift + res) (inference,
 * eos__conv2d_forward_fused), and the batch norm's per-row statistics into part (training,
 * eos__conv2d_forward_stats); every part optional (all NULL and relu 0: the plain convolution). */
typedef struct {
    const eos_tensor *bn[4];  /* gamma, beta, running mean, running var (K each) folded in; NULL: none */
    float eps;
    eos_tensor *shift;        /* (K): the folded shift, written by the pack, added as the sums are stored */
    const eos_tensor *res;    /* like y */
    int relu;
    cl_mem part;              /* (K, P, 3): P units a channel (epilogue_units); with bwd (K, P, 2) */
    const eos__bn_backward_sums *bwd; /* fused winograd's data gradient only: the batch norm's sums */
} direct_epilogue;

/* the kernels' epilogue arguments (EOS_EPI_ARGS in cl/conv_direct.cl, then the Winograd kernel's
 * bm, bx, bmu) for e (NULL: none): epi bit 0 the folded shift, 1 the residual, 2 the ReLU, 3 the
 * statistics' partials, 4 the batch norm's backward sums */
typedef struct {
    cl_mem shift, res, part, bm, bx, bmu;
    int epi;
} epilogue_args;
static epilogue_args epilogue_of(const direct_epilogue *e) {
    epilogue_args a = {NULL, NULL, NULL, NULL, NULL, NULL, 0};
    if (!e) return a;
    if (e->bn[0]) a.shift = e->shift->buf, a.epi |= 1;
    if (e->res) a.res = e->res->buf, a.epi |= 2;
    if (e->relu) a.epi |= 4;
    if (e->part) a.part = e->part, a.epi |= e->bwd ? 16 : 8;
    if (e->bwd) a.bm = e->bwd->y->buf, a.bx = e->bwd->x->buf, a.bmu = e->bwd->mean->buf;
    return a;
}

/* the statistics' units per channel of a direct forward: one per output row (or row pair) and image */
static size_t direct_units(const eos_conv_shape *s, int wide) {
    direct_kernels k = direct_pick(s->W, wide, s->stride);
    int OH = s->stride == 2 ? (s->H + 1) / 2 : s->H;
    return (size_t)s->N * (size_t)((OH + k.rows - 1) / k.rows);
}

/* a weight pack of cl/conv_direct.cl (eos_conv3x3_pack, eos_wino_pack: the same arguments, the
 * third their own) from w into out over (g0, g1), with e's batch norm folded in when it has one */
static eos_status pack_launch(eos_runtime_t rt, const char *kernel, const eos_tensor *w, cl_mem out, int O, int I,
                              int third, int flip, const direct_epilogue *e, size_t g0, size_t g1) {
    int fold = e && e->bn[0];
    cl_mem bn[4] = {NULL, NULL, NULL, NULL}, shift = fold ? e->shift->buf : NULL;
    for (int i = 0; fold && i < 4; i++) bn[i] = e->bn[i]->buf;
    float eps = fold ? e->eps : 0.0f;
    eos__arg a[] = {EOS_ARG(w->buf), EOS_ARG(out),   EOS_ARG(O),     EOS_ARG(I),     EOS_ARG(third),
                    EOS_ARG(flip),   EOS_ARG(bn[0]), EOS_ARG(bn[1]), EOS_ARG(bn[2]), EOS_ARG(bn[3]),
                    EOS_ARG(eps),    EOS_ARG(shift), EOS_ARG(fold)};
    size_t g[2] = {g0, g1};
    return eos__run_nd(rt, "conv_direct.cl", kernel, 2, g, a, EOS_NARGS(a));
}
/* ws->wt (ceil(O / G), I, 3, 3, G) = the weights packed for groups of G of the O output channels
 * (eos_conv3x3_pack: flip 0 w as it is, 1 transposed and flipped, 2 transposed), with e's batch
 * norm folded in when it has one (its shift into e->shift) */
static eos_status direct_pack(eos_runtime_t rt, const eos_tensor *w, int O, int I, int G, int flip,
                              const direct_epilogue *e, eos_workspace *ws) {
    EOS_TRY(eos_tensor_reserve(rt, &ws->wt, (size_t)((O + G - 1) / G) * G * I * 9));
    return pack_launch(rt, "eos_conv3x3_pack", w, ws->wt.buf, O, I, G, flip, e, (size_t)I, (size_t)((O + G - 1) / G));
}

/* y (N, K, H, W) = conv(x (N, C, H, W), w): w (K, C, 3, 3), or with flip w (C, K, 3, 3) transposed
 * and flipped (dx); the weights packed into ws->wt for the kernel's channel groups first; e, when
 * not NULL, the epilogue */
static eos_status direct_run(eos_runtime_t rt, int wide, int stride, int N, int C, int H, int W, int K,
                             const eos_tensor *x, const eos_tensor *w, int flip, const direct_epilogue *e,
                             eos_tensor *y, eos_workspace *ws) {
    direct_kernels k = direct_pick(W, wide, stride);
    int OH = stride == 2 ? (H + 1) / 2 : H;
    EOS_TRY(direct_pack(rt, w, K, C, k.G, flip, e, ws));
    epilogue_args ea = epilogue_of(e);
    eos__arg a[] = {EOS_ARG(x->buf), EOS_ARG(ws->wt.buf), EOS_ARG(y->buf), EOS_ARG(C), EOS_ARG(K), EOS_ARG(H), EOS_ARG(N),
                    EOS_ARG(ea.shift), EOS_ARG(ea.res), EOS_ARG(ea.epi), EOS_ARG(ea.part)};
    size_t g[3] = {(size_t)((OH + k.rows - 1) / k.rows), (size_t)((K + k.G - 1) / k.G), (size_t)N};
    return eos__run_nd(rt, "conv_direct.cl", k.fwd, 3, g, a, EOS_NARGS(a));
}

/* the tensors of a direct forward of shape s checked; *S: OH OW */
static eos_status direct_need(const eos_conv_shape *s, const eos_tensor *x, const eos_tensor *w, const eos_tensor *y,
                              int *S) {
    int OH = 0, OW = 0;
    EOS_TRY(check_shape(s, &OH, &OW));
    *S = OH * OW;
    EOS_TRY(eos__need(x, (size_t)s->N * s->C * s->H * s->W, "conv2d x"));
    EOS_TRY(eos__need(w, (size_t)s->K * s->C * 9, "conv2d w"));
    return eos__need(y, (size_t)s->N * s->K * *S, "conv2d y");
}

static eos_status forward_direct(eos_runtime_t rt, int wide, const eos_conv_shape *s, const eos_tensor *x,
                                 const eos_tensor *w, const eos_tensor *b, eos_tensor *y, eos_workspace *ws) {
    int S = 0;
    EOS_TRY(direct_need(s, x, w, y, &S));
    EOS_TRY(direct_run(rt, wide, s->stride, s->N, s->C, s->H, s->W, s->K, x, w, 0, NULL, y, ws));
    if (!b) return EOS_OK;
    EOS_TRY(eos__need(b, (size_t)s->K, "conv2d b"));
    int K = s->K;
    cl_uint n = (cl_uint)((size_t)s->N * s->K * S);
    eos__arg a[] = {EOS_ARG(y->buf), EOS_ARG(b->buf), EOS_ARG(K), EOS_ARG(S), EOS_ARG(n)};
    return eos__run_1d(rt, "elementwise.cl", "eos_bias_add", n, a, EOS_NARGS(a));
}

/* The weight gradient's slice of the batch: the images whose x and dy planes, (C + K) H W floats
 * an image, fill about EOS_DW_SLICE_BYTES, so that every (c, m0) work-item of the slice finds them
 * in the core's cache rather than streaming the whole batch each (a second-level cache's size:
 * 1-2 MiB on current x86 cores; devices report their last level, so it is a constant). Measured
 * on the 2-core AVX-512 Xeon (`eos bench layers`, direct16, ResNet-32, batch 128): the weight
 * gradient 118 -> 87 and 98 ms a step (two runs) with slices of 8, 16 and 32 images for the three
 * stages. */
#define EOS_DW_SLICE_BYTES (1u << 20)

/* dw (+ db) with the direct kernels */
static eos_status dw_direct(eos_runtime_t rt, int wide, const eos_conv_shape *s, const eos_tensor *x,
                            const eos_tensor *dy, eos_tensor *dw, eos_tensor *db, eos_workspace *ws) {
    /* two output channels per work-item: each x row read once serves both dy planes */
    const char *name = direct_pick(s->W, wide, s->stride).dw;
    /* stride 2 on rows of 16, H a multiple of 4, in float16: dy row pairs (ResNet-32 batch 128, 32 ->
     * 64 channels, `eos bench layers`, two runs: 3.31 and 3.38 -> 1.92 and 1.95 ms) */
    if (wide && s->stride == 2 && s->W == 16 && s->H % 4 == 0) name = "eos_conv3x3s2_dw_w16_v16";
    size_t image = (size_t)(s->C + s->K) * s->H * s->W * sizeof(float), step = EOS_DW_SLICE_BYTES / image;
    /* a work-item loops at most 1 + H (1 + 3 (1 + W / 8)) times an image (images, rows, taps,
     * float8 row chunks; fewer in float16): on a device that caps the trips (eos__loop_cap) a
     * slice stays under the cap */
    size_t cap = eos__loop_cap(rt), per_image = 1 + (size_t)s->H * (1 + 3 * (1 + (size_t)s->W / 8));
    size_t capped = cap > 64 ? (cap - 64) / per_image : 0;
    if (cap && capped < step) step = capped;
    if (step == 0) step = 1;  /* one image over the budget (or the cap: H > 1000 rows): slices of one */
    if (step > (size_t)s->N) step = (size_t)s->N;
    size_t S = ((size_t)s->N + step - 1) / step, nw = (size_t)s->K * s->C * 9;
    if (S > 1) EOS_TRY(eos_tensor_reserve(rt, &ws->part, S * nw));
    int st = (int)step;
    cl_mem out = S > 1 ? ws->part.buf : dw->buf;
    eos__arg a[] = {EOS_ARG(x->buf), EOS_ARG(dy->buf), EOS_ARG(out), EOS_ARG(s->N),
                    EOS_ARG(s->C), EOS_ARG(s->K), EOS_ARG(s->H), EOS_ARG(st)};
    size_t g[3] = {(size_t)s->C, (size_t)(s->K + 1) / 2, S};
    EOS_TRY(eos__run_nd(rt, "conv_direct.cl", name, 3, g, a, EOS_NARGS(a)));
    if (S > 1) {  /* the slices' sums, added in order */
        int Si = (int)S, Kc = s->C * 9;
        eos__arg r[] = {EOS_ARG(ws->part.buf), EOS_ARG(dw->buf), EOS_ARG(Si), EOS_ARG(s->K), EOS_ARG(Kc), EOS_ARG(Kc)};
        /* element-wise, so eos__run_1d: the driver's work-groups on CPUs (one item a group,
         * eos__run_nd's, measured 2.15 against 1.12 ms for ResNet-32's 31, batch 128) */
        EOS_TRY(eos__run_1d(rt, "conv_panel.cl", "eos_conv_dw_reduce", nw, r, EOS_NARGS(r)));
    }
    if (db) EOS_TRY(bias_grad(rt, s, eos_conv_out(s->H, 3, s->stride, 1) * eos_conv_out(s->W, 3, s->stride, 1), dy, db));
    return EOS_OK;
}

/* dx: the forward kernel on dy with the flipped, transposed weights w' (C, K, 3, 3); stride 2
 * (direct16): its own kernels on the transposed weights, 8 dx channels a work-item */
static eos_status dx_direct(eos_runtime_t rt, int wide, const eos_conv_shape *s, const eos_tensor *w,
                            const eos_tensor *dy, eos_tensor *dx, eos_workspace *ws) {
    if (s->stride == 1) return direct_run(rt, wide, 1, s->N, s->K, s->H, s->W, s->C, dy, w, 1, NULL, dx, ws);
    const int G = 8;
    EOS_TRY(direct_pack(rt, w, s->C, s->K, G, 2, NULL, ws));  /* transposed, not flipped */
    /* rows of 16 with H a multiple of 4 in float16, two dx rows a work-item (ResNet-32 batch 128, 32
     * -> 64 channels: 1.85 -> 1.14 ms, two runs) */
    const int v16 = s->W == 16 && s->H % 4 == 0;
    const char *name = s->W == 32 ? "eos_conv3x3s2_dx_w32_v16" : v16 ? "eos_conv3x3s2_dx_w16_v16" : "eos_conv3x3s2_dx_w16_v8";
    eos__arg a[] = {EOS_ARG(dy->buf), EOS_ARG(ws->wt.buf), EOS_ARG(dx->buf), EOS_ARG(s->C), EOS_ARG(s->K), EOS_ARG(s->H),
                    EOS_ARG(s->N)};
    size_t g[3] = {(size_t)(v16 ? s->H / 2 : s->H), (size_t)((s->C + G - 1) / G), (size_t)s->N};
    return eos__run_nd(rt, "conv_direct.cl", name, 3, g, a, EOS_NARGS(a));
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
    return g_wino_gemm >= 0 ? g_wino_gemm : !eos__gpu_paths(rt);
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

/* The fused form (cl/conv_direct.cl, eos_wino_w32/16/8): one kernel per convolution on the CPU
 * paths, where the separate transforms above moved 4x the input through memory and lost to the
 * direct kernels by 3-10x. Rows of 32, 16 or 8 with H a multiple of a block's rows (2, 4, 8); the
 * transformed tiles of all Ci input channels (Ci KiB) and the block's products (16 KiB) in local
 * memory; within a loop-trip cap (eos__loop_cap) its GEMM loop's K x Ci trips. Measured on the
 * 2-core AVX-512 Xeon (ResNet-32's three stride-1 shapes, batch 128, PoCL, forward): 1.4-1.7x the
 * direct16 kernels (1.58 / 1.36 / 1.23 ms against 2.32 / 2.39 / 2.18 ms). */
static int wino_rows(int W) { return W == 32 ? 1 : W == 16 ? 2 : 4; }
static int wino_fused_fits(eos_runtime_t rt, int H, int W, int Ci, int Ko) {
    if (!(W == 8 || W == 16 || W == 32) || H % (2 * wino_rows(W)) || !wino_panel(rt)) return 0;
    size_t local = (size_t)Ci * 16 * 16 * sizeof(float) + 16 * 16 * 16 * sizeof(float);
    size_t cap = eos__loop_cap(rt), trips = (size_t)round_up((size_t)Ko, 16) * Ci + 2 * (size_t)Ci + 64;
    return local <= rt->dev.local_mem_bytes && (!cap || trips < cap);
}
int eos__conv_wino_fused(eos_runtime_t rt, int H, int W, int Ci, int Ko) { return wino_fused_fits(rt, H, W, Ci, Ko); }
/* y (N, K, H, W) = conv(x (N, C, H, W), w) in one kernel: w (K, C, 3, 3), or with flip w (C, K, 3, 3)
 * transposed and flipped (dx); U in ws->wt; e, when not NULL, the direct kernels' epilogue */
static eos_status wino_fused_run(eos_runtime_t rt, int N, int C, int H, int W, int K, const eos_tensor *x,
                                 const eos_tensor *w, int flip, const direct_epilogue *e, eos_tensor *y,
                                 eos_workspace *ws) {
    int Kp = (int)round_up((size_t)K, 16);
    EOS_TRY(eos_tensor_reserve(rt, &ws->wt, 16 * (size_t)C * Kp));
    EOS_TRY(pack_launch(rt, "eos_wino_pack", w, ws->wt.buf, K, C, Kp, flip, e, (size_t)Kp / 16, (size_t)C));
    epilogue_args ea = epilogue_of(e);
    eos__arg a[] = {EOS_ARG(x->buf), EOS_ARG(ws->wt.buf), EOS_ARG(y->buf), EOS_ARG(C), EOS_ARG(K), EOS_ARG(H),
                    EOS_ARG(N), EOS_ARG(ea.shift), EOS_ARG(ea.res), EOS_ARG(ea.epi), EOS_ARG(ea.part), EOS_ARG(Kp),
                    EOS_ARG(ea.bm), EOS_ARG(ea.bx), EOS_ARG(ea.bmu), EOS_LOCAL((size_t)C * 16 * 16 * sizeof(float)),
                    EOS_LOCAL(16 * 16 * 16 * sizeof(float))};
    size_t g[2] = {(size_t)(H / (2 * wino_rows(W))), (size_t)N}, l[2] = {1, 1};
    const char *name = W == 32 ? "eos_wino_w32" : W == 16 ? "eos_wino_w16" : "eos_wino_w8";
    return eos__run_nd_local(rt, "conv_direct.cl", name, 2, g, l, a, EOS_NARGS(a));
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
    if (!b && wino_fused_fits(rt, s->H, s->W, s->C, s->K))
        return wino_fused_run(rt, s->N, s->C, s->H, s->W, s->K, x, w, 0, NULL, y, ws);
    /* the filters are transformed on every forward call: once per weight update in training */
    EOS_TRY(wino_filter(rt, w, s->K, s->C, 0, &ws->wt));
    return wino_run(rt, s->N, s->C, s->H, s->W, s->K, x, &ws->wt, b, y, &ws->col, &ws->tmp);
}

/* Both gradients in the Winograd domain. dw is the adjoint of the forward's three steps (see
 * cl/conv_winograd.cl), exact up to rounding because the forward is the convolution exactly in
 * real arithmetic; it transforms x and dy its own way, so it shares nothing with dx. */
static eos_status dw_wino(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *x, const eos_tensor *dy,
                          eos_tensor *dw, eos_tensor *db, eos_workspace *ws) {
    int N = s->N, C = s->C, H = s->H, W = s->W, K = s->K, TH = (H + 1) / 2, TW = (W + 1) / 2, panel = wino_panel(rt);
    size_t T = (size_t)N * TH * TW;
    int NB = (int)(round_up(T, TILE) / TILE);
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
    if (db) EOS_TRY(bias_grad(rt, s, H * W, dy, db));
    return EOS_OK;
}

/* dx: the forward on dy with the turned, transposed filters */
static eos_status dx_wino(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *w, const eos_tensor *dy,
                          eos_tensor *dx, eos_workspace *ws) {
    if (wino_fused_fits(rt, s->H, s->W, s->K, s->C))
        return wino_fused_run(rt, s->N, s->K, s->H, s->W, s->C, dy, w, 1, NULL, dx, ws);
    EOS_TRY(wino_filter(rt, w, s->C, s->K, 1, &ws->wt));  /* U' (16, C, K) of w' (C, K, 3, 3) */
    return wino_run(rt, s->N, s->K, s->H, s->W, s->C, dy, &ws->wt, NULL, dx, &ws->col, &ws->dcol);
}

/* ---- tiled: local-memory tiled implicit GEMMs (host/nn/conv_tiled.c) ------------------------- */

static eos_status forward_tiled(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *x, const eos_tensor *w,
                                const eos_tensor *b, eos_tensor *y) {
    int OH = 0, OW = 0;
    EOS_TRY(check_shape(s, &OH, &OW));
    EOS_TRY(eos__need(x, (size_t)s->N * s->C * s->H * s->W, "conv2d x"));
    EOS_TRY(eos__need(w, (size_t)s->K * s->C * s->R * s->R, "conv2d w"));
    EOS_TRY(eos__need(y, (size_t)s->N * s->K * OH * OW, "conv2d y"));
    if (b) EOS_TRY(eos__need(b, (size_t)s->K, "conv2d b"));
    return eos__conv_tiled_forward(rt, s, x, w, b, y);
}

static eos_status dw_tiled(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *x, const eos_tensor *dy,
                           eos_tensor *dw, eos_tensor *db, eos_workspace *ws) {
    EOS_TRY(eos__conv_tiled_dw(rt, s, x, dy, dw, ws));
    if (db) EOS_TRY(bias_grad(rt, s, eos_conv_out(s->H, s->R, s->stride, s->pad) *
                                         eos_conv_out(s->W, s->R, s->stride, s->pad), dy, db));
    return EOS_OK;
}

/* ---- one direction with a given algorithm -------------------------------------------------- */

static eos_status run_forward(eos_runtime_t rt, int a, const eos_conv_shape *s, const eos_tensor *x,
                              const eos_tensor *w, const eos_tensor *b, eos_tensor *y, eos_workspace *ws) {
    return a == EOS_CONV_TILED    ? forward_tiled(rt, s, x, w, b, y)
         : a == EOS_CONV_WINOGRAD ? forward_wino(rt, s, x, w, b, y, ws)
         : a == EOS_CONV_DIRECT || a == EOS_CONV_DIRECT16 ? forward_direct(rt, a == EOS_CONV_DIRECT16, s, x, w, b, y, ws)
         : a == EOS_CONV_PANEL    ? forward_panel(rt, s, x, w, b, y, ws)
                                  : forward_gemm(rt, s, x, w, b, y, ws);
}

static eos_status run_dw(eos_runtime_t rt, int a, const eos_conv_shape *s, const eos_tensor *x, const eos_tensor *dy,
                         eos_tensor *dw, eos_tensor *db, eos_workspace *ws) {
    return a == EOS_CONV_TILED    ? dw_tiled(rt, s, x, dy, dw, db, ws)
         : a == EOS_CONV_WINOGRAD ? dw_wino(rt, s, x, dy, dw, db, ws)
         : a == EOS_CONV_DIRECT || a == EOS_CONV_DIRECT16 ? dw_direct(rt, a == EOS_CONV_DIRECT16, s, x, dy, dw, db, ws)
         : a == EOS_CONV_PANEL    ? dw_panel(rt, s, x, dy, dw, db, ws)
                                  : dw_gemm(rt, s, x, dy, dw, db, ws);
}

/* shared: run_dw of the same algorithm just ran on this dy and ws (gemm and panel reuse its
 * re-layout of dy; direct, winograd and tiled share nothing) */
static eos_status run_dx(eos_runtime_t rt, int a, const eos_conv_shape *s, const eos_tensor *w, const eos_tensor *dy,
                         eos_tensor *dx, eos_workspace *ws, int shared) {
    return a == EOS_CONV_TILED    ? eos__conv_tiled_dx(rt, s, w, dy, dx)
         : a == EOS_CONV_WINOGRAD ? dx_wino(rt, s, w, dy, dx, ws)
         : a == EOS_CONV_DIRECT || a == EOS_CONV_DIRECT16 ? dx_direct(rt, a == EOS_CONV_DIRECT16, s, w, dy, dx, ws)
         : a == EOS_CONV_PANEL    ? dx_panel(rt, s, w, dy, dx, ws, shared)
                                  : dx_gemm(rt, s, w, dy, dx, ws, shared);
}

/* ---- the choice per device, shape, batch and direction ----------------------------------- */

const char *eos_conv_algo_name(eos_conv_algo a) { return (unsigned)a < EOS__CONV_NALGO ? eos__conv_algo_words[a] : "?"; }

/* whether algorithm a can run shape s (gemm, panel and tiled run every shape; tiled needs a
 * device that allows its work-groups too: tiled_ok) */
static int algo_fits(int a, const eos_conv_shape *s) {
    return a == EOS_CONV_DIRECT     ? direct_fits(s)
         : a == EOS_CONV_DIRECT16   ? direct_fits(s) || direct16_s2_fits(s)
         : a == EOS_CONV_WINOGRAD   ? wino_fits(s)
                                    : 1;
}

/* tiled's smaller work-group fits the device (a device with fewer than 64 work-items per group,
 * or too little local memory, runs panel in its place when tiled is forced) */
static int tiled_ok(eos_runtime_t rt) { return eos__conv_tiled_usable(rt); }

eos_status eos_conv_algo_parse(const char *name, eos_conv_algo *out) {
    *out = EOS_CONV_AUTO;
    int i = name ? eos__conv_word_index(name, eos__conv_algo_words, EOS__CONV_NALGO, 0) : -1;
    if (i >= 0) {
        *out = (eos_conv_algo)i;
        return EOS_OK;
    }
    EOS_FAIL(EOS_ERR_INVALID_ARG, NULL,
             "unknown convolution algorithm '%s': expected auto, gemm, panel, direct, winograd, tiled or direct16",
             name ? name : "");
}

void eos_runtime_set_conv_algo(eos_runtime_t rt, eos_conv_algo a) { rt->conv_force = (int)a; }

int eos__conv_set_choice_batch(eos_runtime_t rt, int n) {
    int prev = rt->conv_batch;
    rt->conv_batch = n > 0 ? n : 0;
    return prev;
}

/* The table: one entry per (N C H W K R stride pad, direction), grown as needed. Its own module
 * state, behind the runtime's opaque pointer: the runtime only frees it. */
typedef struct choice {
    int key[8];    /* N C H W K R stride pad; N 0: any batch (an entry of a checkpoint from before
                    * the batch and the direction were part of the key) */
    int dir, algo;
    int imported;  /* from a checkpoint's list: wins over conv-algos.txt, so a resumed run computes
                    * what the interrupted one did whatever the file says now */
    int used;      /* looked up (or imported) on this runtime: what checkpoints carry */
    int agreed;    /* under mpirun: rank 0's choice, received by every rank (eos_conv_algo_for_dir) */
} choice;

struct eos__conv_choices {
    choice *v;
    size_t n, cap;
    int loaded;        /* conv-algos.txt read */
    eos_conv_time *ev; /* eos_conv_profile_read's rows (nev of them) of profiling session `session` */
    int nev;
    unsigned session;
};

void eos__conv_choices_free(eos_runtime_t rt) {
    if (!rt->conv_choices) return;
    rt->prof_scope = NULL;  /* it may point into the rows */
    free(rt->conv_choices->ev);
    free(rt->conv_choices->v);
    free(rt->conv_choices);
    rt->conv_choices = NULL;
}

/* the module's state on rt, made on first use; NULL without memory (nothing recorded) */
static eos__conv_choices *state(eos_runtime_t rt) {
    if (!rt->conv_choices && !(rt->conv_choices = calloc(1, sizeof *rt->conv_choices))) return NULL;
    rt->conv_choices_free = eos__conv_choices_free;  /* eos_runtime_free frees it through this */
    return rt->conv_choices;
}

static eos_status table(eos_runtime_t rt, eos__conv_choices **out) {
    if (!(*out = state(rt))) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "convolution choice table");
    return EOS_OK;
}

/* ---- time by shape and direction (eos bench layers) ---------------------------------------- */

/* The rows of one profiling session (eos_runtime_profile_start), grown to CONV_PROF_ROWS: */
enum { CONV_PROF_ROWS = 64 };

/* While event profiling is on, the kernels launched from here on are charged to (s, dir, algo)
 * as well (eos__prof_seconds adds to the row's seconds through rt->prof_scope); s NULL closes
 * the scope. Only the entry points open one, so the timing runs of measure() below charge
 * nothing. Profiling only: without memory for the rows, nothing is charged and nothing fails. */
static void charge(eos_runtime_t rt, const eos_conv_shape *s, eos_conv_dir dir, eos_conv_algo algo) {
    rt->prof_scope = NULL;
    if (!rt->ev_prof || !s) return;
    eos__conv_choices *t = state(rt);
    if (!t) return;
    if (!t->ev && !(t->ev = calloc(CONV_PROF_ROWS, sizeof *t->ev))) return;
    if (t->session != rt->prof_session) {  /* a new session: the old rows go */
        t->nev = 0;
        t->session = rt->prof_session;
    }
    int i = 0;
    while (i < t->nev && (memcmp(&t->ev[i].shape, s, sizeof *s) || t->ev[i].dir != dir || t->ev[i].algo != algo)) i++;
    if (i == CONV_PROF_ROWS) return;  /* full: the kernel table still has it */
    if (i == t->nev) {
        eos_conv_time *e = &t->ev[t->nev++];
        int OH = eos_conv_out(s->H, s->R, s->stride, s->pad), OW = eos_conv_out(s->W, s->R, s->stride, s->pad);
        memset(e, 0, sizeof *e);
        e->shape = *s;
        e->dir = dir;
        e->algo = algo;
        e->flops = 2.0 * s->N * s->K * s->C * s->R * s->R * (double)OH * OW;
    }
    t->ev[i].calls++;
    rt->prof_scope = &t->ev[i].seconds;
}

size_t eos_conv_profile_read(eos_runtime_t rt, eos_conv_time *out, size_t max) {
    const eos__conv_choices *t = rt->conv_choices;
    size_t have = t && t->ev && t->session == rt->prof_session ? (size_t)t->nev : 0;
    size_t n = have < max ? have : max;
    if (n) memcpy(out, t->ev, n * sizeof *out);
    return n;
}


/* Keyed by the batch too: inference times its forward for its own batch size. A caller that runs
 * one nominal batch in pieces (training's partial last batch, evaluation's) sets the choice batch
 * (eos__conv_set_choice_batch): every piece then uses the choice made for the whole batch, so a
 * run's first step fixes every choice it will use and a checkpoint taken after it carries them. */
static void choice_key(eos_runtime_t rt, const eos_conv_shape *s, int k[8]) {
    k[0] = rt->conv_batch > 0 ? rt->conv_batch : s->N;
    k[1] = s->C; k[2] = s->H; k[3] = s->W; k[4] = s->K; k[5] = s->R; k[6] = s->stride; k[7] = s->pad;
}

/* Set (key, dir) to algo. A file's entry (imported 0) never replaces a checkpoint's. */
static eos_status remember(eos__conv_choices *t, const int key[8], int dir, int algo, int imported, choice **out) {
    choice *c = NULL;
    for (size_t i = 0; i < t->n && !c; i++)
        if (t->v[i].dir == dir && !memcmp(t->v[i].key, key, sizeof t->v[i].key)) c = &t->v[i];
    if (!c) {
        if (t->n == t->cap) {
            size_t cap = t->cap ? 2 * t->cap : 64;
            choice *v = realloc(t->v, cap * sizeof *v);
            if (!v) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "convolution choice table of %zu entries", cap);
            t->v = v;
            t->cap = cap;
        }
        c = &t->v[t->n++];
        memset(c, 0, sizeof *c);
        memcpy(c->key, key, sizeof c->key);
        c->dir = dir;
        c->algo = algo;
    }
    if (imported || !c->imported) c->algo = algo;
    c->imported |= imported;
    c->used |= imported;
    if (out) *out = c;
    return EOS_OK;
}

/* The entry for (key, dir) that shape s can run: the one the MPI ranks agreed on, then a
 * checkpoint's before the file's and the timings', the exact batch before an any-batch entry. */
static choice *find(eos__conv_choices *t, const int key[8], int dir, const eos_conv_shape *s) {
    choice *best = NULL;
    int best_rank = -1;
    for (size_t i = 0; i < t->n; i++) {
        choice *c = &t->v[i];
        if (c->dir != dir || memcmp(c->key + 1, key + 1, 7 * sizeof *key) || (c->key[0] != key[0] && c->key[0] != 0) ||
            !algo_fits(c->algo, s))
            continue;
        int rank = 4 * c->agreed + 2 * c->imported + (c->key[0] == key[0]);
        if (rank > best_rank) {
            best = c;
            best_rank = rank;
        }
    }
    return best;
}

static const char *device_id(eos_runtime_t rt, char *buf, size_t n) {
    /* one token: the set of algorithms and the file's format (bump when either changes: v10 put
     * the batch and the direction in the key, v11 added tiled and the two-channel weight
     * gradient on rows of 8, v12 direct16, v13 direct16's stride-2 forward, v14 its stride-2
     * backward, v15 winograd fused into one kernel on the CPU paths: choices timed without them
     * are timed again), the device, its platform and driver (spaces -> '_'); lines of another
     * token are ignored */
    snprintf(buf, n, "v15|%s|%s|%s", rt->dev.name, rt->dev.platform_name, rt->dev.driver_version);
    for (char *c = buf; *c; c++)
        if (*c == ' ' || *c == '\t' || *c == '\n') *c = '_';
    return buf;
}

/* <cache>/conv-algos.txt: the marker line, then one choice per line; lines of another device or
 * format are ignored, and so are bad ones. Only a regular file is read (a FIFO there must not
 * hang the run). */
static void load_choices(eos_runtime_t rt, eos__conv_choices *t) {
    t->loaded = 1;
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
        int k[8], dir, a;
        if (eos__conv_parse_choice_line(line, dev, k, &dir, &a) == 2 && !strcmp(dev, id) && k[0] > 0 &&
            remember(t, k, dir, a, 0, NULL) != EOS_OK)
            break;  /* out of memory: what is known so far is used, the rest timed again */
    }
    fclose(f);
}

static void store_choice(eos_runtime_t rt, const int k[8], int dir, int algo) {
    if (!rt->cache_dir[0]) return;
    char path[1200], id[700];
    snprintf(path, sizeof path, "%s/conv-algos.txt", rt->cache_dir);
    FILE *f = eos__fopen_regular(path, "a");  /* one short line per append: a torn line is just ignored */
    if (!f) return;
    struct stat sb;
    /* a new file starts with the marker: `eos cache --clear` deletes only a file that has it */
    if (fstat(fileno(f), &sb) == 0 && sb.st_size == 0) fprintf(f, "%s\n", EOS__CONV_ALGOS_MARKER);
    fprintf(f, "%s %d %d %d %d %d %d %d %d %s %s\n", device_id(rt, id, sizeof id), k[0], k[1], k[2], k[3], k[4], k[5],
            k[6], k[7], eos__conv_dir_words[dir], eos__conv_algo_words[algo]);
    fclose(f);
}

void eos__conv_choices_export(eos_runtime_t rt, char *buf, size_t n) {
    size_t used = 0;
    if (n) buf[0] = 0;
    eos__conv_choices *t = rt->conv_choices;
    for (size_t i = 0; t && i < t->n && used < n; i++) {
        const choice *c = &t->v[i];
        if (!c->used) continue;
        const int *k = c->key;
        int w = snprintf(buf + used, n - used, "%d %d %d %d %d %d %d %d %s %s;", k[0], k[1], k[2], k[3], k[4], k[5], k[6],
                         k[7], eos__conv_dir_words[c->dir], eos__conv_algo_words[c->algo]);
        if (w < 0 || (size_t)w >= n - used) {  /* never a cut entry */
            buf[used] = 0;
            break;
        }
        used += (size_t)w;
    }
}

eos_status eos__conv_choices_import(eos_runtime_t rt, const char *list) {
    eos__conv_choices *t = NULL;
    EOS_TRY(table(rt, &t));
    if (!t->loaded) load_choices(rt, t);  /* the file first: the list has the last word */
    for (const char *p = list; p && *p;) {
        int k[8], used = 0;
        char w1[16], w2[16];
        if (sscanf(p, "%d %d %d %d %d %d %d %d %15[a-z]%n", &k[0], &k[1], &k[2], &k[3], &k[4], &k[5], &k[6], &k[7], w1,
                   &used) == 9) {
            int dir = eos__conv_word_index(w1, eos__conv_dir_words, EOS__CONV_NDIR, 0), a = -1, more = 0;
            if (dir >= 0 && sscanf(p + used, " %15[a-z0-9]%n", w2, &more) == 1) a = eos__conv_word_index(w2, eos__conv_algo_words, EOS__CONV_NALGO, 1);
            if (dir >= 0 && a > 0 && k[0] >= 0) {
                EOS_TRY(remember(t, k, dir, a, 1, NULL));
            } else if (dir < 0 && (a = eos__conv_word_index(w1, eos__conv_algo_words, EOS__CONV_NALGO, 1)) > 0) {
                /* a list from before v10, "N C H W K R stride pad algo" with N 0: that algorithm
                 * ran all three directions at every batch size */
                k[0] = 0;
                for (int d = 0; d < EOS__CONV_NDIR; d++) EOS_TRY(remember(t, k, d, a, 1, NULL));
            }
        }
        const char *semi = strchr(p, ';');
        if (!semi) break;
        p = semi + 1;
    }
    return EOS_OK;
}

/* one direction of one algorithm, seconds; t: x, w, y (= dy), dx, dw */
static eos_status time_once(eos_runtime_t rt, int algo, int dir, const eos_conv_shape *s, eos_tensor *t,
                            eos_workspace *ws, double *sec) {
    EOS_CL_CHECK(clFinish(rt->queue), "conv timing");
    double t0 = eos__now();
    if (dir == EOS_CONV_FORWARD) EOS_TRY(run_forward(rt, algo, s, &t[0], &t[1], NULL, &t[2], ws));
    else if (dir == EOS_CONV_WEIGHT_GRAD) EOS_TRY(run_dw(rt, algo, s, &t[0], &t[2], &t[4], NULL, ws));
    else EOS_TRY(run_dx(rt, algo, s, &t[1], &t[2], &t[3], ws, 0));
    EOS_CL_CHECK(clFinish(rt->queue), "conv timing");
    *sec = eos__now() - t0;
    return EOS_OK;
}

/* EOS_CONV_AUTO_SKIP=name[,name...]: algorithms the automatic choice does not time (nor pick);
 * with one candidate left it takes that one untimed. For simulated devices (tests/oclgrind.sh):
 * there timing means nothing and costs minutes (three launches of every candidate per shape,
 * direction and batch; a tiled launch takes Oclgrind 12-90 s); forced algorithms still run. */
static int auto_skipped(int a) {
    const char *e = getenv("EOS_CONV_AUTO_SKIP");
    size_t n = strlen(eos__conv_algo_words[a]);
    for (const char *p = e; p && *p; p += strcspn(p, ","), p += *p == ',')
        if (strncmp(p, eos__conv_algo_words[a], n) == 0 && (p[n] == ',' || p[n] == 0)) return 1;
    return 0;
}

/* The fastest algorithm for direction dir alone (the data gradient with its own re-layout of dy:
 * what it costs when the weight gradient runs another algorithm). */
static eos_status measure(eos_runtime_t rt, const eos_conv_shape *s, int dir, int *algo) {
    int OH = 0, OW = 0;
    EOS_TRY(check_shape(s, &OH, &OW));
    /* tiled is timed where the GPU-shaped paths are taken (GPUs; EOS_GPU_PATHS=1): on PoCL's
     * CPU device it runs at 0.4-2.5 GFLOP/s against 50-150 for the float8 kernels (ResNet-32,
     * batch 128), and timing it there would add about half a minute to a run's first step */
    int tiled = eos__gpu_paths(rt) && tiled_ok(rt);
    /* one candidate left (EOS_CONV_AUTO_SKIP): it, untimed; none: gemm */
    int candidates = 0, only = EOS_CONV_GEMM;
    for (int a = EOS_CONV_GEMM; a < EOS__CONV_NALGO; a++)
        if (algo_fits(a, s) && (a != EOS_CONV_TILED || tiled) && !auto_skipped(a)) candidates++, only = a;
    if (candidates <= 1) {
        *algo = only;
        return EOS_OK;
    }
    size_t nx = (size_t)s->N * s->C * s->H * s->W, nw = (size_t)s->K * s->C * s->R * s->R,
           ny = (size_t)s->N * s->K * OH * OW;
    size_t sizes[5] = {nx, nw, ny, nx, nw};  /* x, w, y (= dy), dx, dw */
    eos_tensor t[5];
    memset(t, 0, sizeof t);
    eos_workspace ws;
    memset(&ws, 0, sizeof ws);
    eos_status st = EOS_OK;
    for (int i = 0; st == EOS_OK && i < 5; i++) {
        if ((dir == EOS_CONV_FORWARD && i >= 3) || (dir == EOS_CONV_WEIGHT_GRAD && (i == 1 || i == 3)) ||
            (dir == EOS_CONV_DATA_GRAD && (i == 0 || i == 4)))
            continue;  /* not read or written by this direction */
        st = eos_tensor_alloc(rt, &t[i], 1, &sizes[i]);
        if (st == EOS_OK) st = eos_tensor_fill(&t[i], 0.25f);
    }
    double best[EOS__CONV_NALGO];
    for (int a = 0; a < EOS__CONV_NALGO; a++) best[a] = 1e30;
    for (int rep = 0; st == EOS_OK && rep < 3; rep++)  /* the first round warms up (builds, caches) */
        for (int a = EOS_CONV_GEMM; st == EOS_OK && a < EOS__CONV_NALGO; a++) {
            if (!algo_fits(a, s) || (a == EOS_CONV_TILED && !tiled) || auto_skipped(a)) continue;
            double sec = 0;
            st = time_once(rt, a, dir, s, t, &ws, &sec);
            if (st == EOS_OK && rep > 0 && sec < best[a]) best[a] = sec;
        }
    for (int i = 0; i < 5; i++) eos_tensor_free(&t[i]);
    eos_workspace_free(&ws);
    if (st != EOS_OK) return st;
    *algo = EOS_CONV_GEMM;
    for (int a = EOS_CONV_PANEL; a < EOS__CONV_NALGO; a++)
        if (algo_fits(a, s) && (a != EOS_CONV_TILED || tiled) && !auto_skipped(a) && best[a] < best[*algo]) *algo = a;
    const char *verbose = getenv("EOS_CONV_VERBOSE");
    if (verbose && !strcmp(verbose, "1"))  /* -1 for an algorithm that does not apply */
        fprintf(stderr,
                "eos: conv N%d C%d %dx%d K%d R%d s%d %s: gemm %.2f ms, panel %.2f ms, direct %.2f ms, winograd %.2f ms, "
                "tiled %.2f ms, direct16 %.2f ms -> %s\n",
                s->N, s->C, s->H, s->W, s->K, s->R, s->stride, eos__conv_dir_words[dir], 1e3 * best[EOS_CONV_GEMM],
                1e3 * best[EOS_CONV_PANEL], direct_fits(s) ? 1e3 * best[EOS_CONV_DIRECT] : -1.0,
                wino_fits(s) ? 1e3 * best[EOS_CONV_WINOGRAD] : -1.0, tiled ? 1e3 * best[EOS_CONV_TILED] : -1.0,
                algo_fits(EOS_CONV_DIRECT16, s) ? 1e3 * best[EOS_CONV_DIRECT16] : -1.0, eos__conv_algo_words[*algo]);
    return EOS_OK;
}

eos_status eos_conv_algo_for_dir(eos_runtime_t rt, const eos_conv_shape *s, eos_conv_dir dir, eos_conv_algo *out) {
    *out = EOS_CONV_AUTO;
    if ((unsigned)dir >= EOS__CONV_NDIR) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "conv2d: no direction %d (0 forward, 1 data grad, 2 weight grad)", (int)dir);
    if (rt->conv_force == EOS_CONV_AUTO) {
        const char *env = getenv("EOS_CONV_ALGO");
        eos_conv_algo a = EOS_CONV_AUTO;
        if (env && env[0] && eos_conv_algo_parse(env, &a) == EOS_OK && a != EOS_CONV_AUTO) rt->conv_force = (int)a;
    }
    if (rt->conv_force != EOS_CONV_AUTO) {  /* direct, winograd and tiled only where they apply; panel elsewhere */
        int a = rt->conv_force;
        *out = !algo_fits(a, s) || (a == EOS_CONV_TILED && !tiled_ok(rt)) ? EOS_CONV_PANEL : (eos_conv_algo)a;
        return EOS_OK;
    }
    eos__conv_choices *t = NULL;
    EOS_TRY(table(rt, &t));
    if (!t->loaded) load_choices(rt, t);
    int key[8];
    choice_key(rt, s, key);
    choice *c = find(t, key, (int)dir, s);
    if (eos__dist_size() > 1 && (!c || !(c->agreed || c->imported))) {
        /* Under mpirun every rank takes rank 0's choice (its table, else its timing): ranks that
         * chose for themselves (timings differ, as may their conv-algos.txt) would round
         * differently. A collective: the ranks look up the same (shape, batch, direction) keys
         * in the same order (training's steps, phase 2's batches: host/train/). A checkpoint's
         * choices are rank 0's already (rank 0 wrote it, every rank read it), so rank 0's lone
         * evaluation at the end of a resumed run finds them without the other ranks. */
        int algo = 0;
        if (eos__dist_rank() == 0) {
            if (c) algo = c->algo;
            else {
                eos_conv_shape timed = *s;
                timed.N = key[0];
                EOS_TRY(measure(rt, &timed, (int)dir, &algo));
                store_choice(rt, key, (int)dir, algo);  /* rank 0 alone writes the file */
            }
        }
        if (eos__dist_bcast_int(&algo) != 0 || algo <= EOS_CONV_AUTO || algo >= EOS__CONV_NALGO)
            EOS_FAIL(EOS_ERR_INTERNAL, NULL, "conv2d: receiving rank 0's convolution algorithm (MPI_Bcast) failed");
        EOS_TRY(remember(t, key, (int)dir, algo, 0, &c));
        c->algo = algo;  /* over this rank's own entry, a checkpoint's included */
        c->agreed = 1;
    }
    if (!c) {
        eos_conv_shape timed = *s;  /* at the batch the choice is for */
        timed.N = key[0];
        int algo;
        EOS_TRY(measure(rt, &timed, (int)dir, &algo));
        EOS_TRY(remember(t, key, (int)dir, algo, 0, &c));
        store_choice(rt, key, (int)dir, algo);
    }
    c->used = 1;
    /* a choice imported or read back (a checkpoint, conv-algos.txt) may name tiled on a device
     * whose work-group limits cannot run it (Mesa's llvmpipe allows 32 work-items): panel then,
     * as for a forced algorithm */
    *out = c->algo == EOS_CONV_TILED && !tiled_ok(rt) ? EOS_CONV_PANEL : (eos_conv_algo)c->algo;
    return EOS_OK;
}

eos_status eos_conv_algo_for(eos_runtime_t rt, const eos_conv_shape *s, eos_conv_algo *out) {
    return eos_conv_algo_for_dir(rt, s, EOS_CONV_FORWARD, out);
}

eos_status eos_conv2d_forward(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *x, const eos_tensor *w,
                              const eos_tensor *b, eos_tensor *y, eos_workspace *ws) {
    eos_conv_algo a;
    EOS_TRY(eos_conv_algo_for_dir(rt, s, EOS_CONV_FORWARD, &a));
    charge(rt, s, EOS_CONV_FORWARD, a);
    eos_status st = run_forward(rt, a, s, x, w, b, y, ws);
    charge(rt, NULL, EOS_CONV_FORWARD, a);
    return st;
}

/* Inference's convolution + batch norm (+ residual) (+ ReLU) in one pass where the forward's
 * algorithm is direct, direct16 or winograd's fused form: the batch norm's scale folded into the
 * packed (or transformed) weights, its shift (into the scratch shift) and the residual and the
 * ReLU applied as the sums are stored.
 * *fused 0 (nothing run) for the other algorithms: the caller runs the convolution and the batch
 * norm as before. */
/* The forward's algorithm for s when it can run an epilogue (*algo: direct, direct16, or winograd
 * in its fused form; -1 for any other), with x, w and y checked for it; and that forward run with
 * the epilogue e, its kernels charged to (s, forward) like eos_conv2d_forward's */
static eos_status epilogue_forward_of(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *x,
                                      const eos_tensor *w, const eos_tensor *y, int *algo) {
    *algo = -1;
    eos_conv_algo a;
    EOS_TRY(eos_conv_algo_for_dir(rt, s, EOS_CONV_FORWARD, &a));
    if (a != EOS_CONV_DIRECT && a != EOS_CONV_DIRECT16 &&
        !(a == EOS_CONV_WINOGRAD && wino_fits(s) && wino_fused_fits(rt, s->H, s->W, s->C, s->K)))
        return EOS_OK;
    int S = 0;
    EOS_TRY(direct_need(s, x, w, y, &S));
    *algo = (int)a;
    return EOS_OK;
}
/* the statistics' units per channel: one per output row (or row pair) and image for direct, one
 * per block of 16 tiles and image for winograd */
static size_t epilogue_units(const eos_conv_shape *s, int algo) {
    if (algo == EOS_CONV_WINOGRAD) return (size_t)s->N * (size_t)(s->H / (2 * wino_rows(s->W)));
    return direct_units(s, algo == EOS_CONV_DIRECT16);
}
static eos_status epilogue_forward(eos_runtime_t rt, const eos_conv_shape *s, int algo, const eos_tensor *x,
                                   const eos_tensor *w, const direct_epilogue *e, eos_tensor *y, eos_workspace *ws) {
    charge(rt, s, EOS_CONV_FORWARD, (eos_conv_algo)algo);
    eos_status st = algo == EOS_CONV_WINOGRAD
                        ? wino_fused_run(rt, s->N, s->C, s->H, s->W, s->K, x, w, 0, e, y, ws)
                        : direct_run(rt, algo == EOS_CONV_DIRECT16, s->stride, s->N, s->C, s->H, s->W, s->K, x, w, 0,
                                     e, y, ws);
    charge(rt, NULL, EOS_CONV_FORWARD, (eos_conv_algo)algo);
    return st;
}

eos_status eos__conv2d_forward_fused(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *x,
                                     const eos_tensor *w, const eos_tensor *gamma, const eos_tensor *beta,
                                     const eos_tensor *running_mean, const eos_tensor *running_var, float eps,
                                     eos_tensor *shift, const eos_tensor *res, int relu, eos_tensor *y,
                                     eos_workspace *ws, int *fused) {
    *fused = 0;
    int algo;
    EOS_TRY(epilogue_forward_of(rt, s, x, w, y, &algo));
    if (algo < 0) return EOS_OK;
    const eos_tensor *bn[4] = {gamma, beta, running_mean, running_var};
    static const char *const what[4] = {"conv2d fused gamma", "conv2d fused beta", "conv2d fused running_mean",
                                        "conv2d fused running_var"};
    for (int i = 0; i < 4; i++) EOS_TRY(eos__need(bn[i], (size_t)s->K, what[i]));
    EOS_TRY(eos__need(shift, (size_t)s->K, "conv2d fused shift"));
    if (res) EOS_TRY(eos__need(res, (size_t)s->N * s->K * eos_conv_out(s->H, 3, s->stride, 1) *
                                         eos_conv_out(s->W, 3, s->stride, 1), "conv2d fused residual"));
    direct_epilogue e = {{gamma, beta, running_mean, running_var}, eps, shift, res, relu, NULL, NULL};
    EOS_TRY(epilogue_forward(rt, s, algo, x, w, &e, y, ws));
    *fused = 1;
    return EOS_OK;
}

/* Training's convolution with its batch norm's statistics taken as the sums are stored, where the
 * forward runs direct, direct16 or fused winograd: *part (K, *P, 3) the per-row (count, mean, M2) for
 * eos__batchnorm_forward_train_part, in the runtime's reduction scratch (valid until the next
 * reduction). *fused 0 (nothing run) for the other algorithms. Where winograd runs fused, a
 * unit is a block of 16 tiles instead of a row. */
eos_status eos__conv2d_forward_stats(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *x,
                                     const eos_tensor *w, eos_tensor *y, eos_workspace *ws, cl_mem *part, int *P,
                                     int *fused) {
    *fused = 0;
    int algo;
    EOS_TRY(epilogue_forward_of(rt, s, x, w, y, &algo));
    if (algo < 0) return EOS_OK;
    size_t units = epilogue_units(s, algo);
    EOS_TRY(eos__reduce_partials(rt, 3 * (size_t)s->K * units, part));
    direct_epilogue e = {{NULL, NULL, NULL, NULL}, 0.0f, NULL, NULL, 0, *part, NULL};
    EOS_TRY(epilogue_forward(rt, s, algo, x, w, &e, y, ws));
    *P = (int)units;
    *fused = 1;
    return EOS_OK;
}

/* whether algorithm a runs s's data gradient as fused winograd (which has the epilogue) */
static int wino_fused_dx(eos_runtime_t rt, int a, const eos_conv_shape *s) {
    return a == EOS_CONV_WINOGRAD && wino_fits(s) && wino_fused_fits(rt, s->H, s->W, s->K, s->C);
}

/* dx = the data gradient + add in one pass where algorithm a runs dx with an epilogue (direct and
 * direct16 at stride 1, winograd fused): *done 1; elsewhere nothing runs (*done 0) */
static eos_status dx_add_epilogue(eos_runtime_t rt, int a, const eos_conv_shape *s, const eos_tensor *w,
                                  const eos_tensor *dy, eos_tensor *dx, const eos_tensor *add, eos_workspace *ws,
                                  int *done) {
    direct_epilogue e = {{NULL, NULL, NULL, NULL}, 0.0f, NULL, add, 0, NULL, NULL};
    *done = 1;
    if ((a == EOS_CONV_DIRECT || a == EOS_CONV_DIRECT16) && direct_fits(s))
        return direct_run(rt, a == EOS_CONV_DIRECT16, 1, s->N, s->K, s->H, s->W, s->C, dy, w, 1, &e, dx, ws);
    if (wino_fused_dx(rt, a, s)) return wino_fused_run(rt, s->N, s->K, s->H, s->W, s->C, dy, w, 1, &e, dx, ws);
    *done = 0;
    return EOS_OK;
}

/* Where the batch norm's sums in the data gradient's stores pay (eos__conv_set_bn_sums -1): where
 * the kernels prefetch what the sums read (EOS_PREFETCH, PoCL's CPU device) and dy has 32
 * channels or more. They read the batch norm's input and output, long out of the caches, in
 * pieces of 256 bytes a channel. On the 2-core AVX-512 Xeon, ResNet-32 batch 128 (`eos bench
 * layers`): rows of 16 (32 channels) 10.8 -> 11.5 ms and rows of 8 (64) 10.2 -> 10.8 ms for 9
 * data gradients, against 0.43 and 0.21 ms a layer for the reduce pass it saves; rows of 32 (16
 * channels) 12.6 -> 21.7 ms for 10, against 0.86 ms a layer (without the prefetch 28.2). */
static int g_bn_sums = -1;
void eos__conv_set_bn_sums(int mode) { g_bn_sums = mode < 0 ? -1 : mode > 0; }
static int bn_sums_pay(eos_runtime_t rt, const eos_conv_shape *s) {
    if (g_bn_sums >= 0) return g_bn_sums;
    return eos__runtime_prefetches(rt) && s->K >= 32;
}

/* dx (+ add) as fused winograd stores it, masked by bn->y > 0, with the batch norm's backward
 * sums in bn->part, where algorithm a runs dx as fused winograd (bn->fused 1); elsewhere nothing
 * runs (bn->fused 0) */
static eos_status dx_bn_epilogue(eos_runtime_t rt, int a, const eos_conv_shape *s, const eos_tensor *w,
                                 const eos_tensor *dy, eos_tensor *dx, const eos_tensor *add,
                                 eos__bn_backward_sums *bn, eos_workspace *ws) {
    bn->fused = 0;
    if (!wino_fused_dx(rt, a, s) || !bn_sums_pay(rt, s)) return EOS_OK;
    size_t nx = (size_t)s->N * s->C * s->H * s->W, units = (size_t)s->N * (size_t)(s->H / (2 * wino_rows(s->W)));
    EOS_TRY(eos__need(bn->y, nx, "conv2d backward batch-norm output"));
    EOS_TRY(eos__need(bn->x, nx, "conv2d backward batch-norm input"));
    EOS_TRY(eos__need(bn->mean, (size_t)s->C, "conv2d backward batch-norm mean"));
    EOS_TRY(eos__reduce_partials(rt, 2 * (size_t)s->C * units, &bn->part));
    direct_epilogue e = {{NULL, NULL, NULL, NULL}, 0.0f, NULL, add, 0, bn->part, bn};
    EOS_TRY(wino_fused_run(rt, s->N, s->K, s->H, s->W, s->C, dy, w, 1, &e, dx, ws));
    bn->P = (int)units;
    bn->fused = 1;
    return EOS_OK;
}

/* The weight gradient, then the data gradient, each with its own algorithm; when both are the
 * same, dx reuses what dw left in ws (run_dx's shared), so the kernels are those of one backward.
 * With add (like dx), dx = the data gradient + add: a residual's two gradients summed, in the
 * data gradient's stores where its algorithm allows, else by eos_add_inplace. With bn, the batch
 * norm's backward sums in dx's stores where its algorithm allows (dx_bn_epilogue). */
static eos_status backward(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *x, const eos_tensor *w,
                           const eos_tensor *dy, eos_tensor *dx, eos_tensor *dw, eos_tensor *db,
                           const eos_tensor *add, eos__bn_backward_sums *bn, eos_workspace *ws) {
    int OH = 0, OW = 0;
    EOS_TRY(check_shape(s, &OH, &OW));
    size_t nx = (size_t)s->N * s->C * s->H * s->W, nw = (size_t)s->K * s->C * s->R * s->R;
    EOS_TRY(eos__need(x, nx, "conv2d backward x"));
    EOS_TRY(eos__need(w, nw, "conv2d backward w"));
    EOS_TRY(eos__need(dy, (size_t)s->N * s->K * OH * OW, "conv2d backward dy"));
    EOS_TRY(eos__need(dw, nw, "conv2d backward dw"));
    if (dx) EOS_TRY(eos__need(dx, nx, "conv2d backward dx"));
    if (db) EOS_TRY(eos__need(db, (size_t)s->K, "conv2d backward db"));
    eos_conv_algo adw, adx = EOS_CONV_AUTO;  /* both known before anything runs: timing uses the queue */
    EOS_TRY(eos_conv_algo_for_dir(rt, s, EOS_CONV_WEIGHT_GRAD, &adw));
    if (dx) EOS_TRY(eos_conv_algo_for_dir(rt, s, EOS_CONV_DATA_GRAD, &adx));
    charge(rt, s, EOS_CONV_WEIGHT_GRAD, adw);
    eos_status st = run_dw(rt, adw, s, x, dy, dw, db, ws);
    int added = 0;
    if (st == EOS_OK && dx) {
        charge(rt, s, EOS_CONV_DATA_GRAD, adx);
        if (bn) {
            st = dx_bn_epilogue(rt, adx, s, w, dy, dx, add, bn, ws);
            added = bn->fused;
        }
        if (st == EOS_OK && add && !added) st = dx_add_epilogue(rt, adx, s, w, dy, dx, add, ws, &added);
        if (st == EOS_OK && !added) st = run_dx(rt, adx, s, w, dy, dx, ws, adx == adw);
    }
    charge(rt, NULL, EOS_CONV_WEIGHT_GRAD, adw);
    if (st == EOS_OK && add && !added) st = eos_add_inplace(rt, nx, dx, add);  /* not the convolution's time */
    return st;
}

eos_status eos_conv2d_backward(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *x, const eos_tensor *w,
                               const eos_tensor *dy, eos_tensor *dx, eos_tensor *dw, eos_tensor *db,
                               eos_workspace *ws) {
    return backward(rt, s, x, w, dy, dx, dw, db, NULL, NULL, ws);
}

eos_status eos__conv2d_backward_add(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *x,
                                    const eos_tensor *w, const eos_tensor *dy, eos_tensor *dx, eos_tensor *dw,
                                    const eos_tensor *add, eos_workspace *ws) {
    if (!dx) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "conv2d backward with an add: needs dx");
    EOS_TRY(eos__need(add, (size_t)s->N * s->C * s->H * s->W, "conv2d backward add"));
    return backward(rt, s, x, w, dy, dx, dw, NULL, add, NULL, ws);
}

eos_status eos__conv2d_backward_bn(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *x,
                                   const eos_tensor *w, const eos_tensor *dy, eos_tensor *dx, eos_tensor *dw,
                                   const eos_tensor *add, eos__bn_backward_sums *bn, eos_workspace *ws) {
    bn->fused = 0;
    if (!dx) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "conv2d backward with a batch norm's sums: needs dx");
    if (add) EOS_TRY(eos__need(add, (size_t)s->N * s->C * s->H * s->W, "conv2d backward add"));
    return backward(rt, s, x, w, dy, dx, dw, NULL, add, bn, ws);
}
