/* The tiled convolution's host side (algorithm "tiled" of host/nn/conv.c; kernels in
 * cl/conv_tiled.cl): local-memory tiled implicit GEMMs on 2-D work-groups, the GPU-shaped
 * candidate of the timed choice. Each launch picks the kernel variant the device allows and
 * gives its local size explicitly (eos__run_nd_local), the nd-range rounded up to whole groups.
 * Legend: x (N, C, H, W), w (K, C, R, R), y and dy (N, K, OH, OW); Kc = C*R*R, P = N*OH*OW. */
#include "internal.h"

#include <limits.h>
#include <stdio.h>

/* outputs per work-item per side: TL_WPT of cl/conv_tiled.cl (a work-group's tile is WG * this) */
enum { TL_WPT = 4 };

/* The weight gradient's reduction over P is split into chunks until about DW_GROUPS work-groups
 * run (a GPU needs several per compute unit; dw alone has only ceil(K/TM) * ceil(Kc/TN) output
 * tiles, 3 to 9 in ResNet-s), but no chunk shorter than DW_MIN_CHUNK pixels, so the partial sums
 * (S * K * Kc floats, summed by a second pass) stay small against the reduction. Fixed numbers,
 * not the device's compute units: the chunks, and so the rounding, depend only on the shape and
 * the variant, and a resumed run computes what the interrupted one did. */
enum { DW_GROUPS = 256, DW_MIN_CHUNK = 256, DW_ALIGN = 16 };

static int g_variant = -1;
void eos__conv_set_tiled_variant(int mode) { g_variant = mode < 0 ? -1 : mode > 0; }

/* the kernels of each direction, small and big variant; static strings (the profiler keeps the
 * name's pointer) */
enum { FWD, DX, DW };
static const char *const k_names[3][2] = {{"eos_tiled_fwd_small", "eos_tiled_fwd_big"},
                                          {"eos_tiled_dx_small", "eos_tiled_dx_big"},
                                          {"eos_tiled_dw_small", "eos_tiled_dw_big"}};

/* Kernel `name`'s work-group side (its reqd_work_group_size) and whether the device runs it:
 * wg x wg work-items within the kernel's CL_KERNEL_WORK_GROUP_SIZE (registers can make it less
 * than the device's maximum), its local memory within the device's. */
static eos_status variant_fits(eos_runtime_t rt, const char *name, size_t *wg, int *fits, char *why, size_t nwhy) {
    cl_kernel k;
    EOS_TRY(eos_runtime_kernel(rt, "conv_tiled.cl", name, &k));
    size_t req[3] = {0, 0, 0}, kwg = 0;
    cl_ulong lmem = 0;
    cl_device_id d = rt->dev.device;
    EOS_CL_CHECK(clGetKernelWorkGroupInfo(k, d, CL_KERNEL_COMPILE_WORK_GROUP_SIZE, sizeof req, req, NULL),
                 "querying %s's work-group size", name);
    EOS_CL_CHECK(clGetKernelWorkGroupInfo(k, d, CL_KERNEL_WORK_GROUP_SIZE, sizeof kwg, &kwg, NULL),
                 "querying %s's largest work-group", name);
    EOS_CL_CHECK(clGetKernelWorkGroupInfo(k, d, CL_KERNEL_LOCAL_MEM_SIZE, sizeof lmem, &lmem, NULL),
                 "querying %s's local memory", name);
    *wg = req[0];
    *fits = req[0] > 0 && req[0] == req[1] && req[0] * req[1] <= kwg && lmem <= rt->dev.local_mem_bytes;
    if (!*fits)
        snprintf(why, nwhy, "%s needs %zux%zu work-items and %llu bytes of local memory, %s allows %zu and %llu",
                 name, req[0], req[1], (unsigned long long)lmem, rt->dev.name, kwg, rt->dev.local_mem_bytes);
    return EOS_OK;
}

/* The variant of direction dir to run: the big work-group where it fits (unless the tests force
 * one), else the small one; *wg its side. */
static eos_status pick(eos_runtime_t rt, int dir, const char **name, size_t *wg) {
    char why[2][400] = {"", ""};
    int fits = 0;
    if (g_variant != 0) {
        *name = k_names[dir][1];
        EOS_TRY(variant_fits(rt, *name, wg, &fits, why[1], sizeof why[1]));
        if (fits || g_variant == 1) goto done;
    }
    *name = k_names[dir][0];
    EOS_TRY(variant_fits(rt, *name, wg, &fits, why[0], sizeof why[0]));
done:
    if (!fits)
        EOS_FAIL(CL_INVALID_WORK_GROUP_SIZE, "choose another convolution algorithm (EOS_CONV_ALGO, eos bench --conv)",
                 "conv2d tiled: %s%s%s", why[1], why[1][0] && why[0][0] ? "; " : "", why[0]);
    return EOS_OK;
}

int eos__conv_tiled_usable(eos_runtime_t rt) {
    size_t wg;
    int fits = 0;
    char why[400];
    return variant_fits(rt, k_names[FWD][0], &wg, &fits, why, sizeof why) == EOS_OK && fits &&
           variant_fits(rt, k_names[DX][0], &wg, &fits, why, sizeof why) == EOS_OK && fits &&
           variant_fits(rt, k_names[DW][0], &wg, &fits, why, sizeof why) == EOS_OK && fits;
}

static size_t groups(size_t n, size_t tile) { return (n + tile - 1) / tile; }

/* The kernels index with int: every tensor, and a tile's worth past the last column, must fit. */
static eos_status check_int_range(const eos_conv_shape *s, int OH, int OW) {
    size_t nx = (size_t)s->N * s->C * s->H * s->W, ny = (size_t)s->N * s->K * OH * OW,
           nw = (size_t)s->K * s->C * s->R * s->R, lim = (size_t)INT_MAX - 1024;
    if (nx > lim || ny > lim || nw > lim)
        EOS_FAIL(EOS_ERR_INVALID_ARG, "use a smaller batch", "conv2d tiled: tensors of %zu, %zu and %zu elements: over 2^31",
                 nx, ny, nw);
    return EOS_OK;
}

eos_status eos__conv_tiled_forward(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *x,
                                   const eos_tensor *w, const eos_tensor *b, eos_tensor *y) {
    int OH = eos_conv_out(s->H, s->R, s->stride, s->pad), OW = eos_conv_out(s->W, s->R, s->stride, s->pad);
    EOS_TRY(check_int_range(s, OH, OW));
    const char *name;
    size_t wg;
    EOS_TRY(pick(rt, FWD, &name, &wg));
    size_t tile = wg * TL_WPT, P = (size_t)s->N * OH * OW;
    size_t global[2] = {groups(P, tile) * wg, groups((size_t)s->K, tile) * wg}, local[2] = {wg, wg};
    int has_b = b != NULL;
    cl_mem bb = b ? b->buf : w->buf;  /* any valid buffer when unused */
    eos__arg a[] = {EOS_ARG(x->buf), EOS_ARG(w->buf), EOS_ARG(bb),        EOS_ARG(has_b), EOS_ARG(y->buf),
                    EOS_ARG(s->N),   EOS_ARG(s->C),   EOS_ARG(s->H),      EOS_ARG(s->W),  EOS_ARG(s->K),
                    EOS_ARG(s->R),   EOS_ARG(s->stride), EOS_ARG(s->pad), EOS_ARG(OH),    EOS_ARG(OW)};
    return eos__run_nd_local(rt, "conv_tiled.cl", name, 2, global, local, a, EOS_NARGS(a));
}

eos_status eos__conv_tiled_dx(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *w, const eos_tensor *dy,
                              eos_tensor *dx) {
    int OH = eos_conv_out(s->H, s->R, s->stride, s->pad), OW = eos_conv_out(s->W, s->R, s->stride, s->pad);
    EOS_TRY(check_int_range(s, OH, OW));
    const char *name;
    size_t wg;
    EOS_TRY(pick(rt, DX, &name, &wg));
    size_t tile = wg * TL_WPT, NHW = (size_t)s->N * s->H * s->W;
    size_t global[2] = {groups(NHW, tile) * wg, groups((size_t)s->C, tile) * wg}, local[2] = {wg, wg};
    eos__arg a[] = {EOS_ARG(w->buf), EOS_ARG(dy->buf), EOS_ARG(dx->buf), EOS_ARG(s->N),      EOS_ARG(s->C),
                    EOS_ARG(s->H),   EOS_ARG(s->W),    EOS_ARG(s->K),    EOS_ARG(s->R),      EOS_ARG(s->stride),
                    EOS_ARG(s->pad), EOS_ARG(OH),      EOS_ARG(OW)};
    return eos__run_nd_local(rt, "conv_tiled.cl", name, 2, global, local, a, EOS_NARGS(a));
}

eos_status eos__conv_tiled_dw(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *x, const eos_tensor *dy,
                              eos_tensor *dw, eos_workspace *ws) {
    int OH = eos_conv_out(s->H, s->R, s->stride, s->pad), OW = eos_conv_out(s->W, s->R, s->stride, s->pad);
    EOS_TRY(check_int_range(s, OH, OW));
    const char *name;
    size_t wg;
    EOS_TRY(pick(rt, DW, &name, &wg));
    size_t tile = wg * TL_WPT, Kc = (size_t)s->C * s->R * s->R, P = (size_t)s->N * OH * OW, nw = (size_t)s->K * Kc;
    size_t tiles = groups(Kc, tile) * groups((size_t)s->K, tile);
    /* S chunks of `chunk` pixels (a multiple of DW_ALIGN, for aligned loads; the kernel takes any) */
    size_t S = groups(DW_GROUPS, tiles), most = groups(P, DW_MIN_CHUNK);
    if (S > most) S = most;
    if (S < 1) S = 1;
    size_t chunk = groups(groups(P, S), DW_ALIGN) * DW_ALIGN;
    S = groups(P, chunk);
    /* one chunk: straight into dw; else partial sums in ws->part, then their sum */
    eos_tensor *out = dw;
    if (S > 1) {
        EOS_TRY(eos_tensor_reserve(rt, &ws->part, S * nw));
        out = &ws->part;
    }
    int ichunk = (int)chunk;
    size_t global[3] = {groups(Kc, tile) * wg, groups((size_t)s->K, tile) * wg, S}, local[3] = {wg, wg, 1};
    {
        eos__arg a[] = {EOS_ARG(x->buf), EOS_ARG(dy->buf), EOS_ARG(out->buf),  EOS_ARG(s->N),   EOS_ARG(s->C),
                        EOS_ARG(s->H),   EOS_ARG(s->W),    EOS_ARG(s->K),      EOS_ARG(s->R),   EOS_ARG(s->stride),
                        EOS_ARG(s->pad), EOS_ARG(OH),      EOS_ARG(OW),        EOS_ARG(ichunk)};
        EOS_TRY(eos__run_nd_local(rt, "conv_tiled.cl", name, 3, global, local, a, EOS_NARGS(a)));
    }
    if (S == 1) return EOS_OK;
    /* the sum: 64 work-items per group (or what the kernel allows), neighbours on neighbours */
    cl_kernel k;
    EOS_TRY(eos_runtime_kernel(rt, "conv_tiled.cl", "eos_tiled_dw_sum", &k));
    size_t kwg = 0;
    EOS_CL_CHECK(clGetKernelWorkGroupInfo(k, rt->dev.device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kwg, &kwg, NULL),
                 "querying eos_tiled_dw_sum's largest work-group");
    size_t l1 = kwg && kwg < 64 ? kwg : 64, g1 = groups(nw, l1) * l1;
    int inw = (int)nw, iS = (int)S;
    eos__arg a[] = {EOS_ARG(ws->part.buf), EOS_ARG(dw->buf), EOS_ARG(inw), EOS_ARG(iS)};
    return eos__run_nd_local(rt, "conv_tiled.cl", "eos_tiled_dw_sum", 1, &g1, &l1, a, EOS_NARGS(a));
}
