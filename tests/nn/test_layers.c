/* Every layer against its plain-C reference (tests/ref/layers_ref.c), forward and backward,
 * plus finite-difference checks of the backward passes: for L = sum(y * r) the device's
 * gradient with dy = r must match (L(v + h) - L(v - h)) / 2h evaluated with the reference. */
#include "test_common.h"
#include "internal.h"
#include "dist.h"
#include "ref/gemm_ref.h"
#include "ref/layers_ref.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

static eos_rng g_rng;

static float *rnd(size_t n, float lo, float hi) {
    float *v = malloc(n * sizeof *v);
    test_fill_uniform(&g_rng, v, n, lo, hi);
    return v;
}

static eos_tensor dev(eos_runtime_t rt, const float *host, size_t n) {
    eos_tensor t;
    EOS_ASSERT_OK(eos_tensor_alloc(rt, &t, 1, &n));
    if (host) EOS_ASSERT_OK(eos_tensor_upload(&t, host, n));
    else EOS_ASSERT_OK(eos_tensor_fill(&t, 0.0f));
    return t;
}

static float *host(const eos_tensor *t, size_t n) {
    float *v = malloc(t->numel * sizeof *v);
    EOS_ASSERT_OK(eos_tensor_download(t, v, t->numel));
    (void)n;
    return v;
}

static void expect_close(const char *what, const float *got, const float *want, size_t n, double atol, double rtol) {
    size_t worst;
    double v = eos_ref_max_violation(got, want, n, atol, rtol, &worst);
    if (v > 1.0) fail_msg("%s: element %zu got %.7g want %.7g (%.2fx tolerance)", what, worst, got[worst], want[worst], v);
}

static double dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* ---- conv2d ---------------------------------------------------------------------------- */

typedef struct { int N, C, H, W, K, R, stride, pad, bias; } conv_case;

static double conv_loss(const conv_case *c, const float *x, const float *w, const float *b, const float *r, size_t ny) {
    float *y = malloc(ny * sizeof *y);
    eos_ref_conv2d_forward(c->N, c->C, c->H, c->W, c->K, c->R, c->stride, c->pad, x, w, b, y);
    double l = dot(y, r, ny);
    free(y);
    return l;
}

static void run_conv(eos_runtime_t rt, const conv_case *c, eos_workspace *ws) {
    int OH = eos_conv_out(c->H, c->R, c->stride, c->pad), OW = eos_conv_out(c->W, c->R, c->stride, c->pad);
    size_t nx = (size_t)c->N * c->C * c->H * c->W, nw = (size_t)c->K * c->C * c->R * c->R;
    size_t ny = (size_t)c->N * c->K * OH * OW;
    float *x = rnd(nx, -1, 1), *w = rnd(nw, -1, 1), *b = rnd((size_t)c->K, -1, 1), *r = rnd(ny, -1, 1);
    eos_tensor X = dev(rt, x, nx), Wt = dev(rt, w, nw), B = dev(rt, b, (size_t)c->K), Y = dev(rt, NULL, ny);
    eos_tensor DY = dev(rt, r, ny), DX = dev(rt, NULL, nx), DW = dev(rt, NULL, nw), DB = dev(rt, NULL, (size_t)c->K);
    eos_conv_shape s = {c->N, c->C, c->H, c->W, c->K, c->R, c->stride, c->pad};
    EOS_ASSERT_OK(eos_conv2d_forward(rt, &s, &X, &Wt, c->bias ? &B : NULL, &Y, ws));
    EOS_ASSERT_OK(eos_conv2d_backward(rt, &s, &X, &Wt, &DY, &DX, &DW, c->bias ? &DB : NULL, ws));
    float *y = host(&Y, ny), *dx = host(&DX, nx), *dw = host(&DW, nw), *db = host(&DB, (size_t)c->K);
    float *want = malloc((ny > nx ? (ny > nw ? ny : nw) : (nx > nw ? nx : nw)) * sizeof *want);
    double tol = 1e-5 * c->C * c->R * c->R;
    eos_ref_conv2d_forward(c->N, c->C, c->H, c->W, c->K, c->R, c->stride, c->pad, x, w, c->bias ? b : NULL, want);
    expect_close("conv forward", y, want, ny, tol, 1e-4);
    float *wdb = malloc((size_t)c->K * sizeof *wdb);
    float *wdx = malloc(nx * sizeof *wdx);
    eos_ref_conv2d_backward(c->N, c->C, c->H, c->W, c->K, c->R, c->stride, c->pad, x, w, r, wdx, want, wdb);
    expect_close("conv dw", dw, want, nw, 1e-5 * ny / c->K, 1e-4);
    expect_close("conv dx", dx, wdx, nx, tol, 1e-4);
    if (c->bias) expect_close("conv db", db, wdb, (size_t)c->K, 1e-5 * ny / c->K, 1e-4);
    /* finite differences on a few inputs and weights (the loss is linear in each: exact up to rounding) */
    for (int t = 0; t < 6; t++) {
        size_t i = eos_rng_below(&g_rng, (uint32_t)nx), j = eos_rng_below(&g_rng, (uint32_t)nw);
        float h = 0.01f, keep = x[i];
        x[i] = keep + h;
        double lp = conv_loss(c, x, w, c->bias ? b : NULL, r, ny);
        x[i] = keep - h;
        double lm = conv_loss(c, x, w, c->bias ? b : NULL, r, ny);
        x[i] = keep;
        assert_float_equal(dx[i], (lp - lm) / (2 * h), 1e-3 * (1 + fabs(dx[i])));
        keep = w[j];
        w[j] = keep + h;
        lp = conv_loss(c, x, w, c->bias ? b : NULL, r, ny);
        w[j] = keep - h;
        lm = conv_loss(c, x, w, c->bias ? b : NULL, r, ny);
        w[j] = keep;
        assert_float_equal(dw[j], (lp - lm) / (2 * h), 1e-3 * (1 + fabs(dw[j])));
    }
    eos_tensor *all[] = {&X, &Wt, &B, &Y, &DY, &DX, &DW, &DB};
    for (size_t k = 0; k < 8; k++) eos_tensor_free(all[k]);
    free(x); free(w); free(b); free(r); free(y); free(dx); free(dw); free(db); free(want); free(wdb); free(wdx);
}

static void test_conv2d(void **state) {
    eos_runtime_t rt = *state;
    static const conv_case cases[] = {
        {2, 3, 7, 6, 4, 3, 1, 1, 1},   /* odd image, bias */
        {2, 5, 8, 8, 6, 3, 2, 1, 0},   /* stride 2 (ResNet-s down-sampling) */
        {1, 2, 5, 5, 3, 1, 1, 0, 1},   /* 1x1 */
        {3, 4, 9, 7, 2, 5, 2, 2, 0},   /* 5x5, stride 2, pad 2 */
        {4, 16, 16, 16, 32, 3, 2, 1, 0},
        {2, 3, 4, 4, 2, 4, 1, 0, 1},   /* kernel as large as the image: 1x1 output */
        {2, 3, 4, 32, 5, 3, 1, 1, 1},  /* direct's shape (rows of 32): odd channel count, bias */
        {1, 3, 3, 32, 4, 3, 1, 1, 0},
        {2, 4, 5, 16, 6, 3, 1, 1, 0},  /* rows of 16, an output channel group cut short */
        {2, 9, 3, 8, 11, 3, 1, 1, 1},  /* rows of 8, an output channel group cut short */
        {1, 2, 4, 24, 3, 3, 1, 1, 0},  /* rows of 24: direct does not apply */
    };
    /* every algorithm against the plain-C reference, then the automatic choice */
    static const eos_conv_algo algos[] = {EOS_CONV_GEMM,  EOS_CONV_PANEL, EOS_CONV_DIRECT, EOS_CONV_WINOGRAD,
                                          EOS_CONV_TILED, EOS_CONV_AUTO};
    for (size_t a = 0; a < sizeof algos / sizeof algos[0]; a++) {
        /* tiny (Oclgrind): tiled is test_conv2d_tiled's, whose launches take 15-90 s there */
        if (test_tiny() && algos[a] == EOS_CONV_TILED) continue;
        eos_runtime_set_conv_algo(rt, algos[a]);
        eos_workspace ws = {0};
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            if (test_tiny() && cases[i].C >= 16) continue;  /* Oclgrind: the one large case, minutes */
            eos_conv_shape s = {cases[i].N, cases[i].C, cases[i].H, cases[i].W, cases[i].K, cases[i].R, cases[i].stride,
                                cases[i].pad};
            eos_conv_algo used;
            EOS_ASSERT_OK(eos_conv_algo_for(rt, &s, &used));
            int wfits = s.R == 3 && s.stride == 1 && s.pad == 1;
            int fits = wfits && (s.W == 8 || s.W == 16 || s.W == 32);
            /* tiny (Oclgrind): direct and winograd only where they apply (elsewhere they run
             * panel, which its own pass checks), and the automatic choice, which times every
             * candidate three times, on two shapes (the one whose choices are read back below) */
            if (test_tiny() && ((algos[a] == EOS_CONV_DIRECT && !fits) || (algos[a] == EOS_CONV_WINOGRAD && !wfits) ||
                                (algos[a] == EOS_CONV_AUTO && i > 1)))
                continue;
            if (algos[a] == EOS_CONV_AUTO)
                assert_true(used != EOS_CONV_AUTO && (used != EOS_CONV_DIRECT || fits) &&
                            (used != EOS_CONV_WINOGRAD || wfits));
            else if (algos[a] == EOS_CONV_DIRECT) assert_int_equal(used, fits ? EOS_CONV_DIRECT : EOS_CONV_PANEL);
            else if (algos[a] == EOS_CONV_WINOGRAD) assert_int_equal(used, wfits ? EOS_CONV_WINOGRAD : EOS_CONV_PANEL);
            else if (algos[a] == EOS_CONV_TILED)  /* panel where the device's work-groups are too small */
                assert_int_equal(used, eos__conv_tiled_usable(rt) ? EOS_CONV_TILED : EOS_CONV_PANEL);
            else assert_int_equal(used, algos[a]);
            run_conv(rt, &cases[i], &ws);
        }
        eos_workspace_free(&ws);
    }
    eos_conv_algo parsed;
    assert_int_equal(eos_conv_algo_parse("winograd-9", &parsed), EOS_ERR_INVALID_ARG);
    /* the automatic choices were written to the cache, one line per shape, for the next run */
    const char *dir = eos_runtime_cache_dir(rt);
    if (dir[0]) {
        char path[1200], line[1024];
        snprintf(path, sizeof path, "%s/conv-algos.txt", dir);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        int found[3] = {0, 0, 0};  /* one line per direction, with the batch size */
        while (fgets(line, sizeof line, f)) {
            found[0] |= strstr(line, " 2 3 7 6 4 3 1 1 fwd ") != NULL;
            found[1] |= strstr(line, " 2 3 7 6 4 3 1 1 dx ") != NULL;
            found[2] |= strstr(line, " 2 3 7 6 4 3 1 1 dw ") != NULL;
        }
        fclose(f);
        assert_true(found[0] && found[1] && found[2]);
    }
    /* a checkpoint's list of choices in the format before v10 (one algorithm per shape, N 0)
     * overrides the measured ones for all three directions and every batch size, and comes back
     * out in the new format */
    eos_conv_shape s0 = {2, 3, 7, 6, 4, 3, 1, 1}, s0b = {5, 3, 7, 6, 4, 3, 1, 1};
    eos_conv_algo used;
    static const char *lists[] = {"0 3 7 6 4 3 1 1 gemm;", "1 1 1 1 1 1 1 1 nonsense; 0 3 7 6 4 3 1 1 panel;",
                                  "0 3 7 6 4 3 1 1 winograd;"};
    static const eos_conv_algo listed[] = {EOS_CONV_GEMM, EOS_CONV_PANEL, EOS_CONV_WINOGRAD};
    char list[4096];
    for (int i = 0; i < 3; i++) {
        EOS_ASSERT_OK(eos__conv_choices_import(rt, lists[i]));
        for (int d = 0; d < 3; d++) {
            EOS_ASSERT_OK(eos_conv_algo_for_dir(rt, d ? &s0b : &s0, (eos_conv_dir)d, &used));
            assert_int_equal(used, listed[i]);
        }
        eos__conv_choices_export(rt, list, sizeof list);
        static const char *dirs[] = {"fwd", "dx", "dw"};
        for (int d = 0; d < 3; d++) {
            char want[64];
            snprintf(want, sizeof want, "0 3 7 6 4 3 1 1 %s %s;", dirs[d], eos_conv_algo_name(listed[i]));
            assert_non_null(strstr(list, want));
        }
    }
    /* a winograd choice for a shape it cannot run (stride 2) is not taken */
    eos_conv_shape s2 = {2, 3, 8, 8, 4, 3, 2, 1};
    EOS_ASSERT_OK(eos__conv_choices_import(rt, "0 3 8 8 4 3 2 1 winograd;"));
    EOS_ASSERT_OK(eos_conv_algo_for(rt, &s2, &used));
    assert_true(used != EOS_CONV_WINOGRAD && used != EOS_CONV_AUTO);
}

/* The choice per (shape, batch, direction): a mix of algorithms in one backward computes what the
 * reference does (dx reusing dw's re-layout of dy only when both are the same algorithm); the
 * batch size is part of the key (and a caller's choice batch replaces it); the list a checkpoint
 * carries survives a round trip; conv-algos.txt lines of the format before v10 are ignored. */
static void test_conv_choices(void **state) {
    eos_runtime_t rt = *state;
    eos_runtime_set_conv_algo(rt, EOS_CONV_AUTO);
    static const conv_case c = {2, 3, 4, 32, 5, 3, 1, 1, 1};  /* every algorithm applies */
    eos_conv_shape s = {2, 3, 4, 32, 5, 3, 1, 1};
    static const eos_conv_algo algos[] = {EOS_CONV_GEMM, EOS_CONV_PANEL, EOS_CONV_DIRECT, EOS_CONV_WINOGRAD,
                                          EOS_CONV_TILED};
    eos_workspace ws = {0};
    eos_conv_algo used;
    /* every (dw, dx) pair, the forward rotating through the five; tiny (Oclgrind): the pairs of
     * the first four (a tiled launch takes 15-90 s there; test_conv2d_tiled checks it) */
    const int na = test_tiny() ? 4 : 5;
    for (int i = 0; i < na * na; i++) {
        eos_conv_algo f = algos[(i + 1) % na], dw = algos[i / na], dx = algos[i % na];
        char list[256];
        snprintf(list, sizeof list, "2 3 4 32 5 3 1 1 fwd %s; 2 3 4 32 5 3 1 1 dw %s; 2 3 4 32 5 3 1 1 dx %s;",
                 eos_conv_algo_name(f), eos_conv_algo_name(dw), eos_conv_algo_name(dx));
        EOS_ASSERT_OK(eos__conv_choices_import(rt, list));
        /* tiled is panel where the device's work-groups are too small for it (llvmpipe) */
        const int tiled = eos__conv_tiled_usable(rt);
        EOS_ASSERT_OK(eos_conv_algo_for_dir(rt, &s, EOS_CONV_FORWARD, &used));
        assert_int_equal(used, f == EOS_CONV_TILED && !tiled ? EOS_CONV_PANEL : f);
        EOS_ASSERT_OK(eos_conv_algo_for_dir(rt, &s, EOS_CONV_WEIGHT_GRAD, &used));
        assert_int_equal(used, dw == EOS_CONV_TILED && !tiled ? EOS_CONV_PANEL : dw);
        EOS_ASSERT_OK(eos_conv_algo_for_dir(rt, &s, EOS_CONV_DATA_GRAD, &used));
        assert_int_equal(used, dx == EOS_CONV_TILED && !tiled ? EOS_CONV_PANEL : dx);
        /* the workspace keeps the last pair's buffers: a stale re-layout would show */
        run_conv(rt, &c, &ws);
    }
    /* bench layers' rows carry each direction's own algorithm */
    {
        EOS_ASSERT_OK(eos__conv_choices_import(rt, "2 3 4 32 5 3 1 1 fwd direct; 2 3 4 32 5 3 1 1 dw panel; "
                                                   "2 3 4 32 5 3 1 1 dx gemm;"));
        size_t nx = 2 * 3 * 4 * 32, nw = 5 * 3 * 9, ny = 2 * 5 * 4 * 32;
        eos_tensor X = dev(rt, NULL, nx), Wt = dev(rt, NULL, nw), Y = dev(rt, NULL, ny), DX = dev(rt, NULL, nx),
                   DW = dev(rt, NULL, nw);
        eos_runtime_profile_start(rt);
        EOS_ASSERT_OK(eos_conv2d_forward(rt, &s, &X, &Wt, NULL, &Y, &ws));
        EOS_ASSERT_OK(eos_conv2d_backward(rt, &s, &X, &Wt, &Y, &DX, &DW, NULL, &ws));
        EOS_ASSERT_OK(eos_runtime_finish(rt));
        eos_conv_time rows[4];
        assert_int_equal(eos_conv_profile_read(rt, rows, 4), 3);
        eos_runtime_profile_stop(rt);
        static const eos_conv_dir dirs[3] = {EOS_CONV_FORWARD, EOS_CONV_WEIGHT_GRAD, EOS_CONV_DATA_GRAD};
        static const eos_conv_algo want[3] = {EOS_CONV_DIRECT, EOS_CONV_PANEL, EOS_CONV_GEMM};
        for (int i = 0; i < 3; i++) {
            assert_int_equal(rows[i].dir, dirs[i]);
            assert_int_equal(rows[i].algo, want[i]);
        }
        eos_tensor *all[] = {&X, &Wt, &Y, &DX, &DW};
        for (size_t k = 0; k < 5; k++) eos_tensor_free(all[k]);
    }
    eos_workspace_free(&ws);
    /* the batch size is part of the key */
    EOS_ASSERT_OK(eos__conv_choices_import(rt, "7 3 4 32 5 3 1 1 fwd winograd; 9 3 4 32 5 3 1 1 fwd gemm;"));
    eos_conv_shape s7 = s, s9 = s, s8 = s;
    s7.N = 7;
    s9.N = 9;
    s8.N = 8;
    EOS_ASSERT_OK(eos_conv_algo_for(rt, &s7, &used));
    assert_int_equal(used, EOS_CONV_WINOGRAD);
    EOS_ASSERT_OK(eos_conv_algo_for(rt, &s9, &used));
    assert_int_equal(used, EOS_CONV_GEMM);
    /* with a choice batch set (training, prediction), a partial batch takes the full batch's */
    assert_int_equal(eos__conv_set_choice_batch(rt, 9), 0);
    EOS_ASSERT_OK(eos_conv_algo_for(rt, &s8, &used));
    assert_int_equal(used, EOS_CONV_GEMM);
    EOS_ASSERT_OK(eos_conv_algo_for(rt, &s7, &used));
    assert_int_equal(used, EOS_CONV_GEMM);
    assert_int_equal(eos__conv_set_choice_batch(rt, 0), 9);
    EOS_ASSERT_OK(eos_conv_algo_for(rt, &s7, &used));
    assert_int_equal(used, EOS_CONV_WINOGRAD);

    /* the rest on a table of its own in a cache folder of its own (the kernels are built already) */
    char keep[sizeof rt->cache_dir], dir[1024], path[1200];
    memcpy(keep, rt->cache_dir, sizeof keep);
    test_tmpdir(dir, sizeof dir, "conv-choices");
    snprintf(rt->cache_dir, sizeof rt->cache_dir, "%s", dir);
    snprintf(path, sizeof path, "%s/conv-algos.txt", dir);
    eos__conv_choices_free(rt);
    /* what a checkpoint carries: the choices used, timed (batch 8: not known) or imported */
    EOS_ASSERT_OK(eos__conv_choices_import(rt, "0 3 7 6 4 3 1 1 panel; 2 3 4 32 5 3 1 1 dw winograd;"));
    eos_conv_algo timed;
    EOS_ASSERT_OK(eos_conv_algo_for_dir(rt, &s8, EOS_CONV_DATA_GRAD, &timed));
    char list[4096], list2[4096];
    eos__conv_choices_export(rt, list, sizeof list);
    char want[128];
    snprintf(want, sizeof want, "8 3 4 32 5 3 1 1 dx %s;", eos_conv_algo_name(timed));
    assert_non_null(strstr(list, want));
    assert_non_null(strstr(list, "0 3 7 6 4 3 1 1 fwd panel;0 3 7 6 4 3 1 1 dx panel;0 3 7 6 4 3 1 1 dw panel;"));
    assert_non_null(strstr(list, "2 3 4 32 5 3 1 1 dw winograd;"));
    eos__conv_choices_free(rt);
    EOS_ASSERT_OK(eos__conv_choices_import(rt, list));
    eos__conv_choices_export(rt, list2, sizeof list2);
    assert_int_equal(strlen(list2), strlen(list));
    for (char *p = list, *semi; (semi = strchr(p, ';')) != NULL; p = semi + 1) {  /* the same entries */
        char e[128];
        snprintf(e, sizeof e, "%.*s", (int)(semi - p + 1), p);
        assert_non_null(strstr(list2, e));
    }
    /* the timed choice went to conv-algos.txt, under the new marker, and a new table reads it back */
    char *text = test_read_file(path, NULL);
    assert_true(strncmp(text, EOS__CONV_ALGOS_MARKER "\n", strlen(EOS__CONV_ALGOS_MARKER) + 1) == 0);
    assert_non_null(strstr(text, " 8 3 4 32 5 3 1 1 dx "));
    free(text);
    /* a checkpoint's old-format entry wins over the file for every direction */
    eos_conv_algo other = timed == EOS_CONV_GEMM ? EOS_CONV_PANEL : EOS_CONV_GEMM;
    eos__conv_choices_free(rt);
    snprintf(want, sizeof want, "0 3 4 32 5 3 1 1 %s;", eos_conv_algo_name(other));
    EOS_ASSERT_OK(eos__conv_choices_import(rt, want));
    EOS_ASSERT_OK(eos_conv_algo_for_dir(rt, &s8, EOS_CONV_DATA_GRAD, &used));
    assert_int_equal(used, other);
    eos__conv_choices_free(rt);
    EOS_ASSERT_OK(eos_conv_algo_for_dir(rt, &s8, EOS_CONV_DATA_GRAD, &used));
    assert_int_equal(used, timed);  /* from the file */
    /* the format before v10 is ignored, not misread: an old marker and old lines (even one that
     * names this device with the new token) leave the choice to a new timing, appended */
    const eos_device_info *d = eos_runtime_device(rt);
    char id[700];
    snprintf(id, sizeof id, "v11|%s|%s|%s", d->name, d->platform_name, d->driver_version);
    for (char *q = id; *q; q++)
        if (*q == ' ' || *q == '\t' || *q == '\n') *q = '_';
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    /* v10 lines, the format of today timed before tiled existed, are timed again too */
    fprintf(f, "%s\nv9%s 0 3 4 32 5 3 1 1 direct\n%s 4 3 4 32 5 3 1 1 direct\nv10%s 4 3 4 32 5 3 1 1 fwd direct\n",
            EOS__CONV_ALGOS_MARKER_V9, strchr(id, '|'), id, strchr(id, '|'));
    fclose(f);
    eos_conv_shape s4 = s;
    s4.N = 4;
    eos__conv_choices_free(rt);
    EOS_ASSERT_OK(eos_conv_algo_for_dir(rt, &s4, EOS_CONV_FORWARD, &used));
    text = test_read_file(path, NULL);
    char timed_line[800];
    snprintf(timed_line, sizeof timed_line, "%s 4 3 4 32 5 3 1 1 fwd ", id);
    assert_non_null(strstr(text, timed_line));  /* timed, so appended */
    free(text);
    assert_int_equal(eos__conv_algos_recognise(EOS__CONV_ALGOS_MARKER_V9 "\n", strlen(EOS__CONV_ALGOS_MARKER_V9) + 1), 1);
    /* EOS_CONV_AUTO_SKIP (tests/oclgrind.sh): the algorithms it names are neither timed nor
     * picked; may[a - 1]: algorithm a may be picked (gemm, panel, direct, winograd, tiled) */
    static const struct { const char *skip; int may[5]; } skips[] = {
        {"gemm,panel,direct,tiled", {0, 0, 0, 1, 0}}, {"winograd,gemm", {0, 1, 1, 0, 1}}, {"tiled", {1, 1, 1, 1, 0}}};
    const char *given = getenv("EOS_CONV_AUTO_SKIP");  /* the caller's (tests/oclgrind.sh sets it), put back */
    char *keep_skip = given ? strdup(given) : NULL;
    for (int k = 0; k < 3; k++) {
        setenv("EOS_CONV_AUTO_SKIP", skips[k].skip, 1);
        eos_conv_shape sk = s;
        sk.N = 3 + k;  /* a key not timed yet; one direction each */
        EOS_ASSERT_OK(eos_conv_algo_for_dir(rt, &sk, (eos_conv_dir)k, &used));
        if (used < EOS_CONV_GEMM || used > EOS_CONV_TILED || !skips[k].may[used - EOS_CONV_GEMM])
            fail_msg("EOS_CONV_AUTO_SKIP=%s: %s picked", skips[k].skip, eos_conv_algo_name(used));
    }
    if (keep_skip) setenv("EOS_CONV_AUTO_SKIP", keep_skip, 1);
    else unsetenv("EOS_CONV_AUTO_SKIP");
    free(keep_skip);
    unlink(path);
    rmdir(dir);
    eos__conv_choices_free(rt);
    memcpy(rt->cache_dir, keep, sizeof keep);
}

/* ---- tiled: local-memory tiles on 2-D work-groups, any shape ------------------------------- */

/* the tiled convolution's variant outside test_conv2d_tiled: the device's choice, or in tiny mode
 * the 8x8 one (a 16x16 group of work-items takes Oclgrind about 12 s a launch) */
static int default_tiled_variant(void) { return test_tiny() ? 0 : -1; }

/* The tiled kernels against the reference on shapes whose sizes are no multiples of the tiles
 * (32x32 or 64x64 outputs, reductions of 16): every tile of every direction has a cut edge, the
 * weight gradient's chunks of pixels end inside a reduction step, and both work-group variants
 * run (the small one is what a device with fewer work-items per group gets). run_conv's
 * tolerance is the one of every algorithm: each output is a float sum of n products (forward
 * n = C*R*R, dx K*R*R, dw N*OH*OW) that tiled adds in another order (slices of 16 into one
 * register; dw: chunk by chunk, then the chunks in order). The order changes only the rounding,
 * a random walk of about sqrt(n) steps of u |partial sum| <= u n for inputs in [-1, 1], far
 * under the atol of 1e-5 n (u = 6e-8). The finite differences check the gradients apart. */
static void test_conv2d_tiled(void **state) {
    eos_runtime_t rt = *state;
    static const conv_case cases[] = {
        {3, 5, 9, 11, 7, 3, 1, 1, 1},    /* tails everywhere, bias */
        {3, 5, 9, 11, 7, 3, 2, 1, 0},    /* stride 2: dx's gather skips the odd taps */
        {3, 5, 9, 11, 7, 1, 2, 0, 1},    /* 1x1 stride 2 (a projection shortcut) */
        {2, 3, 7, 8, 4, 5, 2, 2, 0},     /* 5x5, pad 2 */
        {2, 70, 5, 6, 67, 3, 1, 1, 1},   /* several row tiles (K, C > 64) */
        {2, 1, 6, 5, 3, 3, 1, 0, 1},     /* one input channel, no padding */
        {1, 17, 5, 5, 18, 3, 1, 1, 0},   /* one channel past a slice of 16, in and out */
        {2, 16, 32, 32, 16, 3, 1, 1, 0}, /* ResNet-s stage 1: dw in several chunks */
        {2, 32, 16, 16, 32, 3, 1, 1, 0}, /* stage 2 */
        {2, 64, 8, 8, 64, 3, 1, 1, 0},   /* stage 3 */
        {2, 16, 32, 32, 32, 3, 2, 1, 0}, /* down-sampling 16 -> 32 */
    };
    /* tiny (Oclgrind, where a launch costs about a second per work-group and reduction step):
     * the same paths on the 8x8 groups' 32x32 tiles, at a fraction of the groups and steps */
    static const conv_case tiny[] = {
        {2, 5, 5, 7, 7, 3, 1, 1, 1},    /* tails everywhere (P 70: three column tiles), bias */
        {2, 5, 5, 7, 7, 3, 2, 1, 0},    /* stride 2: dx's gather skips the odd taps */
        {2, 5, 5, 7, 7, 1, 2, 0, 1},    /* 1x1 stride 2 (a projection shortcut) */
        {1, 3, 7, 8, 4, 5, 2, 2, 0},    /* 5x5, pad 2 */
        {1, 33, 3, 3, 34, 3, 1, 1, 1},  /* two row tiles (K, C > 32) */
        {1, 1, 6, 5, 3, 3, 1, 0, 1},    /* one input channel, no padding */
        {1, 17, 3, 3, 18, 3, 1, 1, 0},  /* one channel past a slice of 16, in and out */
        {1, 2, 17, 17, 3, 1, 1, 0, 0},  /* dw in two chunks (P 289 > 256), the last ending inside a step */
    };
    const conv_case *list = test_tiny() ? tiny : cases;
    const size_t ncases = test_tiny() ? sizeof tiny / sizeof tiny[0] : sizeof cases / sizeof cases[0];
    if (!eos__conv_tiled_usable(rt)) {  /* Mesa's llvmpipe: 32 work-items a group at most */
        printf("SKIPPED test_conv2d_tiled: %s cannot run 8x8 work-item groups (conv falls back to panel)\n",
               rt->dev.name);
        return;
    }
    eos_runtime_set_conv_algo(rt, EOS_CONV_TILED);
    for (int variant = 1; variant >= 0; variant--) {  /* 16x16 work-items, then 8x8 */
        eos__conv_set_tiled_variant(variant);
        eos_workspace ws = {0};
        for (size_t i = 0; i < ncases; i++) {
            if (test_tiny() && variant == 1 && i > 0) continue;  /* 16x16 groups: the first case only */
            const conv_case *c = &list[i];
            eos_conv_shape s = {c->N, c->C, c->H, c->W, c->K, c->R, c->stride, c->pad};
            for (int d = 0; d < 3; d++) {
                eos_conv_algo used;
                EOS_ASSERT_OK(eos_conv_algo_for_dir(rt, &s, (eos_conv_dir)d, &used));
                assert_int_equal(used, EOS_CONV_TILED);
            }
            run_conv(rt, c, &ws);
        }
        eos_workspace_free(&ws);
    }
    eos__conv_set_tiled_variant(default_tiled_variant());
    eos_runtime_set_conv_algo(rt, EOS_CONV_AUTO);
}

/* ---- Winograd F(2x2,3x3) against the reference, with a rounding bound --------------------- */

/* The bound. Each output of F(2x2,3x3) is y = A^T [(G g G^T) .* (B^T d B)] A summed over the C
 * channels: expanded, a sum of products d_pq * g_rs whose coefficients are products of entries
 * of A^T, G and B^T (0, +-1, +-1/2). The usual forward-error bound of a sum evaluated in float
 * (Higham, Accuracy and Stability, 3.1) is |got - y| <= gamma_n * S with gamma_n = n u / (1 - n u),
 * u = 2^-24, n the longest chain of roundings (input transform 2, filter transform 4, product 1,
 * the channel sum C, output transform 4, bias 1: n = C + 12) and S the sum of the ABSOLUTE
 * values of every term of the expansion: S = sum_c sum_{p,q,r,s} c_i(r,p) c_j(s,q) |d_pq||g_rs|
 * (+ |b|), with c_i(r,p) = sum_a |A^T_ia||G_ar||B^T_ap| the 1-d coefficient for output i of
 * the tile. S counts the 4x4 patch's terms that cancel exactly in real arithmetic, which is where
 * Winograd loses accuracy against the direct sum (S is about (8/3)^2 = 7 times sum |x||w|
 * for inputs of even size). dx is the same convolution on dy with the turned filters (n = K + 12);
 * dw is the adjoint, a sum over the T tiles of the same kind of products of dy and x terms
 * (n = T + 9: dy transform 2, input transform 2, product 1, the tile sum T, dw transform 4).
 * The reference is exact up to its final rounding to float (u |want|). We allow 2x the bound for
 * devices that contract or reorder (mad, FMA): they only shorten the chains. */
static const double k_AT[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
static const double k_G[4][3] = {{1, 0, 0}, {.5, .5, .5}, {.5, -.5, .5}, {0, 0, 1}};
static const double k_BT[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};

static double wino_coef(int i, int r, int p) {
    double c = 0;
    for (int a = 0; a < 4; a++) c += fabs(k_AT[i][a]) * fabs(k_G[a][r]) * fabs(k_BT[a][p]);
    return c;
}

static double gamma_n(double n) { double u = 0x1p-24; return n * u / (1 - n * u); }

/* S per output (N, K, H, W) of conv(x (N, C, H, W), w (K, C, 3, 3)) (+ |b|), turned: w is
 * (C, K, 3, 3) used turned by 180 degrees and transposed (the data gradient's filters) */
static double *wino_abs_sum(int N, int C, int H, int W, int K, const float *x, const float *w, int turned,
                            const float *b) {
    double *S = calloc((size_t)N * K * H * W, sizeof *S);
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++)
            for (int oy = 0; oy < H; oy++)
                for (int ox = 0; ox < W; ox++) {
                    int i = oy % 2, j = ox % 2, y0 = oy - i - 1, x0 = ox - j - 1;
                    double acc = b ? fabs(b[k]) : 0;
                    for (int c = 0; c < C; c++)
                        for (int p = 0; p < 4; p++)
                            for (int q = 0; q < 4; q++) {
                                int iy = y0 + p, ix = x0 + q;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                double d = fabs(x[(((size_t)n * C + c) * H + iy) * W + ix]);
                                for (int r = 0; r < 3; r++)
                                    for (int s = 0; s < 3; s++) {
                                        float g = turned ? w[(((size_t)c * K + k) * 3 + 2 - r) * 3 + 2 - s]
                                                         : w[(((size_t)k * C + c) * 3 + r) * 3 + s];
                                        acc += wino_coef(i, r, p) * wino_coef(j, s, q) * d * fabs(g);
                                    }
                            }
                    S[(((size_t)n * K + k) * H + oy) * W + ox] = acc;
                }
    return S;
}

/* S per weight (K, C, 3, 3) of dw = sum over tiles of dy and x terms */
static double *wino_abs_sum_dw(int N, int C, int H, int W, int K, const float *x, const float *dy) {
    double *S = calloc((size_t)K * C * 9, sizeof *S);
    for (int k = 0; k < K; k++)
        for (int c = 0; c < C; c++)
            for (int r = 0; r < 3; r++)
                for (int s = 0; s < 3; s++) {
                    double acc = 0;
                    for (int n = 0; n < N; n++)
                        for (int oy = 0; oy < H; oy++)
                            for (int ox = 0; ox < W; ox++) {
                                int i = oy % 2, j = ox % 2, y0 = oy - i - 1, x0 = ox - j - 1;
                                double g = fabs(dy[(((size_t)n * K + k) * H + oy) * W + ox]);
                                for (int p = 0; p < 4; p++)
                                    for (int q = 0; q < 4; q++) {
                                        int iy = y0 + p, ix = x0 + q;
                                        if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                        acc += wino_coef(i, r, p) * wino_coef(j, s, q) * g *
                                               fabs(x[(((size_t)n * C + c) * H + iy) * W + ix]);
                                    }
                            }
                    S[((size_t)k * C + c) * 9 + r * 3 + s] = acc;
                }
    return S;
}

static void expect_bound(const char *what, int own, const float *got, const float *want, const double *S, size_t n,
                         double gam) {
    for (size_t i = 0; i < n; i++) {
        double tol = 2 * gam * S[i] + 0x1p-24 * fabs((double)want[i]);
        if (!(fabs((double)got[i] - want[i]) <= tol))
            fail_msg("%s (%s GEMMs): element %zu got %.9g want %.9g, bound %.3g", what, own ? "panel" : "CLBlast", i,
                     got[i], want[i], tol);
    }
}

static void test_conv2d_winograd(void **state) {
    eos_runtime_t rt = *state;
    /* odd sizes (partial tiles), channel counts not multiples of 8, N 1 and 3 */
    static const conv_case cases[] = {
        {1, 3, 7, 7, 5, 3, 1, 1, 1},  {3, 13, 5, 9, 11, 3, 1, 1, 0}, {3, 5, 8, 8, 9, 3, 1, 1, 1},
        {1, 17, 1, 3, 6, 3, 1, 1, 0}, {3, 2, 6, 11, 3, 3, 1, 1, 1},
    };
    eos_runtime_set_conv_algo(rt, EOS_CONV_WINOGRAD);
    eos_workspace ws = {0};
    /* both GEMM paths (CLBlast's strided-batched SGEMM, our panel kernels) on every shape */
    for (size_t t = 0; t < 2 * sizeof cases / sizeof cases[0]; t++) {
        const conv_case *c = &cases[t / 2];
        eos__conv_set_wino_gemm((int)(t % 2));
        int N = c->N, C = c->C, H = c->H, W = c->W, K = c->K;
        size_t nx = (size_t)N * C * H * W, nw = (size_t)K * C * 9, ny = (size_t)N * K * H * W;
        float *x = rnd(nx, -1, 1), *w = rnd(nw, -1, 1), *b = rnd((size_t)K, -1, 1), *r = rnd(ny, -1, 1);
        eos_tensor X = dev(rt, x, nx), Wt = dev(rt, w, nw), B = dev(rt, b, (size_t)K), Y = dev(rt, NULL, ny);
        eos_tensor DY = dev(rt, r, ny), DX = dev(rt, NULL, nx), DW = dev(rt, NULL, nw), DB = dev(rt, NULL, (size_t)K);
        eos_conv_shape s = {N, C, H, W, K, 3, 1, 1};
        eos_conv_algo used;
        EOS_ASSERT_OK(eos_conv_algo_for(rt, &s, &used));
        assert_int_equal(used, EOS_CONV_WINOGRAD);
        EOS_ASSERT_OK(eos_conv2d_forward(rt, &s, &X, &Wt, c->bias ? &B : NULL, &Y, &ws));
        EOS_ASSERT_OK(eos_conv2d_backward(rt, &s, &X, &Wt, &DY, &DX, &DW, c->bias ? &DB : NULL, &ws));
        float *y = host(&Y, ny), *dx = host(&DX, nx), *dw = host(&DW, nw);
        float *want = malloc(ny * sizeof *want), *wdx = malloc(nx * sizeof *wdx), *wdw = malloc(nw * sizeof *wdw);
        float *wdb = malloc((size_t)K * sizeof *wdb);
        eos_ref_conv2d_forward(N, C, H, W, K, 3, 1, 1, x, w, c->bias ? b : NULL, want);
        double *S = wino_abs_sum(N, C, H, W, K, x, w, 0, c->bias ? b : NULL);
        expect_bound("winograd forward", (int)(t % 2), y, want, S, ny, gamma_n(C + 12));
        free(S);
        eos_ref_conv2d_backward(N, C, H, W, K, 3, 1, 1, x, w, r, wdx, wdw, wdb);
        S = wino_abs_sum(N, K, H, W, C, r, w, 1, NULL);
        expect_bound("winograd dx", (int)(t % 2), dx, wdx, S, nx, gamma_n(K + 12));
        free(S);
        size_t T = (size_t)N * ((H + 1) / 2) * ((W + 1) / 2);
        S = wino_abs_sum_dw(N, C, H, W, K, x, r);
        expect_bound("winograd dw", (int)(t % 2), dw, wdw, S, nw, gamma_n((double)T + 9));
        free(S);
        eos_tensor *all[] = {&X, &Wt, &B, &Y, &DY, &DX, &DW, &DB};
        for (size_t k = 0; k < 8; k++) eos_tensor_free(all[k]);
        free(x); free(w); free(b); free(r); free(y); free(dx); free(dw); free(want); free(wdx); free(wdw); free(wdb);
    }
    eos_workspace_free(&ws);
    eos__conv_set_wino_gemm(-1);
    eos_runtime_set_conv_algo(rt, EOS_CONV_AUTO);
}

/* ---- launches rounded up to a work-group (the GPU-shaped paths) -------------------------- */

/* What a guard zone and an untouched workspace hold, compared bit for bit: element i of buffer
 * id is a finite float (about 2^61) that no kernel computes and that is different in every
 * element and buffer, so neither arithmetic on it (NaN payloads would survive that) nor a copy
 * of another guarded element can pass for it. */
#define GUARD_ZONE ((size_t)1 << 16)
/* workspace buffers: larger than any case needs (tiny mode's cases need less than 2^16) */
#define WS_FLOATS (test_tiny() ? (size_t)1 << 16 : (size_t)1 << 19)

static uint32_t guard_bits(unsigned id, size_t i) { return 0x5e000000u | (id & 15u) << 20 | (uint32_t)(i & 0xfffffu); }

static int is_guard(float v, unsigned id, size_t i) {
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return u == guard_bits(id, i);
}

static float *guard_filled(size_t n, unsigned id) {
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        uint32_t u = guard_bits(id, i);
        memcpy(&v[i], &u, sizeof u);
    }
    return v;
}

/* a device tensor of n floats followed by a guard zone, every float guard id's value */
static eos_tensor guarded(eos_runtime_t rt, size_t n, unsigned id) {
    float *g = guard_filled(n + GUARD_ZONE, id);
    eos_tensor t = dev(rt, g, n + GUARD_ZONE);
    free(g);
    return t;
}

static void expect_guard(const char *what, const float *v, size_t n, unsigned id) {
    for (size_t i = n; i < n + GUARD_ZONE; i++)
        if (!is_guard(v[i], id, i)) fail_msg("%s: written %zu floats past its %zu (%.7g)", what, i - n, n, v[i]);
}

/* One forward and backward of case c with every output guarded and every workspace buffer
 * WS_FLOATS long and full of the guard value; checks the results against the reference and
 * returns the five workspace buffers as the device left them (col, tmp, dcol, part, wt). */
static void guarded_conv(eos_runtime_t rt, const conv_case *c, float **ws_out) {
    int OH = eos_conv_out(c->H, c->R, c->stride, c->pad), OW = eos_conv_out(c->W, c->R, c->stride, c->pad);
    size_t nx = (size_t)c->N * c->C * c->H * c->W, nw = (size_t)c->K * c->C * c->R * c->R;
    size_t ny = (size_t)c->N * c->K * OH * OW, nk = (size_t)c->K;
    eos_rng r0 = g_rng;  /* the same inputs for every launch shape */
    float *x = rnd(nx, -1, 1), *w = rnd(nw, -1, 1), *b = rnd(nk, -1, 1), *r = rnd(ny, -1, 1);
    g_rng = r0;
    eos_tensor X = dev(rt, x, nx), Wt = dev(rt, w, nw), B = dev(rt, b, nk), DY = dev(rt, r, ny);
    eos_tensor Y = guarded(rt, ny, 5), DX = guarded(rt, nx, 6), DW = guarded(rt, nw, 7), DB = guarded(rt, nk, 8);
    eos_workspace ws = {0};
    eos_tensor *wt[5] = {&ws.col, &ws.tmp, &ws.dcol, &ws.part, &ws.wt};
    for (int i = 0; i < 5; i++) {
        float *g = guard_filled(WS_FLOATS, (unsigned)i);
        *wt[i] = dev(rt, g, WS_FLOATS);
        free(g);
    }
    eos_conv_shape s = {c->N, c->C, c->H, c->W, c->K, c->R, c->stride, c->pad};
    EOS_ASSERT_OK(eos_conv2d_forward(rt, &s, &X, &Wt, c->bias ? &B : NULL, &Y, &ws));
    EOS_ASSERT_OK(eos_conv2d_backward(rt, &s, &X, &Wt, &DY, &DX, &DW, c->bias ? &DB : NULL, &ws));
    for (int i = 0; i < 5; i++) {
        assert_int_equal(wt[i]->numel, WS_FLOATS);  /* nothing outgrew the guarded buffers */
        ws_out[i] = host(wt[i], WS_FLOATS);
    }
    float *y = host(&Y, ny), *dx = host(&DX, nx), *dw = host(&DW, nw), *db = host(&DB, nk);
    expect_guard("conv y", y, ny, 5);
    expect_guard("conv dx", dx, nx, 6);
    expect_guard("conv dw", dw, nw, 7);
    expect_guard("conv db", db, c->bias ? nk : 0, 8);
    float *wy = malloc(ny * sizeof *wy), *wdx = malloc(nx * sizeof *wdx), *wdw = malloc(nw * sizeof *wdw);
    float *wdb = malloc(nk * sizeof *wdb);
    double tol = 1e-5 * c->C * c->R * c->R;
    eos_ref_conv2d_forward(c->N, c->C, c->H, c->W, c->K, c->R, c->stride, c->pad, x, w, c->bias ? b : NULL, wy);
    eos_ref_conv2d_backward(c->N, c->C, c->H, c->W, c->K, c->R, c->stride, c->pad, x, w, r, wdx, wdw, wdb);
    expect_close("conv forward", y, wy, ny, tol, 1e-4);
    expect_close("conv dx", dx, wdx, nx, 1e-5 * c->K * c->R * c->R, 1e-4);
    expect_close("conv dw", dw, wdw, nw, 1e-5 * ny / c->K, 1e-4);
    if (c->bias) expect_close("conv db", db, wdb, nk, 1e-5 * ny / c->K, 1e-4);
    eos_tensor *all[] = {&X, &Wt, &B, &Y, &DY, &DX, &DW, &DB};
    for (size_t k = 0; k < 8; k++) eos_tensor_free(all[k]);
    eos_workspace_free(&ws);
    free(x); free(w); free(b); free(r); free(y); free(dx); free(dw); free(db);
    free(wy); free(wdx); free(wdw); free(wdb);
}

/* On the GPU-shaped paths (EOS_GPU_PATHS=1, forced here on whatever the test device is) every
 * launch is rounded up to a chosen work-group, so each kernel must leave alone the work-items
 * past its extent in every dimension. Prime extents (1, 7, 257, 1021) per dimension, every
 * convolution algorithm (1-d, 2-d and 3-d ranges) against the plain-C reference; a guard zone
 * after every output stays untouched, and the rounded launches write exactly the workspace
 * elements that the exact launches of the CPU paths (groups of one) write. */
static void test_gpu_launch_shapes(void **state) {
    eos_runtime_t rt = *state;
    const int keep = rt->gpu_paths;
    /* the shapes chosen: rounded up, within every limit; groups of one on the CPU paths */
    cl_kernel k;
    EOS_ASSERT_OK(eos_runtime_kernel(rt, "conv_direct.cl", "eos_conv3x3_w32", &k));
    size_t kwg = 0;
    clGetKernelWorkGroupInfo(k, rt->dev.device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kwg, &kwg, NULL);
    static const size_t shapes[][3] = {{7, 4, 7}, {1021, 1, 1}, {1, 257, 7}, {257, 1021, 1}, {1, 1, 1}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (unsigned dims = 1; dims <= 3; dims++) {
            size_t local[3], rounded[3], items = 1, extra = 0;
            rt->gpu_paths = 0;
            eos__group_shape(rt, k, dims, shapes[i], local, rounded);
            for (unsigned d = 0; d < dims; d++) assert_true(local[d] == 1 && rounded[d] == shapes[i][d]);
            rt->gpu_paths = 1;
            eos__group_shape(rt, k, dims, shapes[i], local, rounded);
            for (unsigned d = 0; d < dims; d++) {
                assert_true(local[d] >= 1 && rounded[d] % local[d] == 0 && rounded[d] >= shapes[i][d]);
                assert_true(rounded[d] - shapes[i][d] < local[d]);
                if (rt->dev.max_work_item_sizes[d]) assert_true(local[d] <= rt->dev.max_work_item_sizes[d]);
                items *= local[d];
                extra += rounded[d] - shapes[i][d];
            }
            assert_true(items <= 256 && (!kwg || items <= kwg));
            if (i == 0) assert_true(items > 1 && extra > 0);  /* (7, 4, 7) is rounded up */
        }
    rt->gpu_paths = 1;
    /* 1-d: ReLU at prime sizes, a guard zone after y */
    static const size_t sizes[] = {1, 7, 257, 1021};
    for (size_t i = 0; i < 4; i++) {
        size_t n = sizes[i];
        float *x = rnd(n, -1, 1);
        eos_tensor X = dev(rt, x, n), Y = guarded(rt, n, 9);
        EOS_ASSERT_OK(eos_relu_forward(rt, n, &X, &Y));
        float *y = host(&Y, n);
        for (size_t j = 0; j < n; j++) assert_float_equal(y[j], x[j] > 0 ? x[j] : 0.0f, 0.0);
        expect_guard("relu y", y, n, 9);
        eos_tensor_free(&X); eos_tensor_free(&Y);
        free(x); free(y);
    }
    /* the two work-group limits are read once per kernel and kept in its cache entry (issue 20):
     * more launches of relu ask the driver nothing, and the kept values are the driver's */
    {
        unsigned long q0 = rt->wg_queries;
        float *x = rnd(257, -1, 1);
        eos_tensor X = dev(rt, x, 257), Y = guarded(rt, 257, 9);
        for (int r = 0; r < 3; r++) EOS_ASSERT_OK(eos_relu_forward(rt, 257, &X, &Y));
        assert_int_equal(rt->wg_queries, q0);
        int found = 0;
        for (size_t i = 0; i < rt->nkernels; i++) {
            const eos__kernel_entry *e = &rt->kernels[i];
            if (!e->wg_known) continue;
            size_t kw = 0, pref = 0;
            clGetKernelWorkGroupInfo(e->kernel, rt->dev.device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kw, &kw, NULL);
            clGetKernelWorkGroupInfo(e->kernel, rt->dev.device, CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE, sizeof pref,
                                     &pref, NULL);
            assert_int_equal(e->wg_size, kw);
            assert_int_equal(e->wg_mult, pref);
            found++;
        }
        assert_true(found >= 1 && (unsigned long)found == rt->wg_queries);
        eos_tensor_free(&X); eos_tensor_free(&Y);
        free(x);
    }
    /* convolutions: (N, C, H, W, K, R, stride, pad, bias) */
    static const conv_case cases[] = {
        {7, 7, 7, 32, 7, 3, 1, 1, 1},    /* direct rows of 32: (7, 4, 7) ranges, 49 panels */
        {1, 1, 1021, 8, 1, 3, 1, 1, 0},  /* rows of 8: 1021 rows, winograd's 511 tile rows */
        {1, 257, 1, 16, 7, 3, 1, 1, 1},  /* rows of 16: 257 channels (Kc 2313), one panel */
        {7, 3, 53, 53, 5, 3, 2, 1, 1},   /* stride 2, panel only: 160 panels in 10 splits */
    };
    /* tiny (Oclgrind): the same kinds of prime extents, about a hundredth of the work */
    static const conv_case tiny[] = {
        {3, 3, 5, 32, 5, 3, 1, 1, 1},    /* direct rows of 32: (3, 3, 5) ranges */
        {1, 1, 61, 8, 1, 3, 1, 1, 0},    /* rows of 8: 61 rows, winograd's 31 tile rows */
        {1, 37, 1, 16, 7, 3, 1, 1, 1},   /* rows of 16: 37 channels (Kc 333), one panel */
        {2, 2, 35, 35, 3, 3, 2, 1, 1},   /* stride 2, panel only: 21 panels in 2 splits */
    };
    const conv_case *list = test_tiny() ? tiny : cases;
    static const eos_conv_algo algos[] = {EOS_CONV_GEMM, EOS_CONV_PANEL, EOS_CONV_DIRECT, EOS_CONV_WINOGRAD,
                                          EOS_CONV_WINOGRAD};
    for (size_t a = 0; a < sizeof algos / sizeof algos[0]; a++) {
        eos_runtime_set_conv_algo(rt, algos[a]);
        eos__conv_set_wino_gemm(a == 3);  /* winograd with the panel GEMMs, then with CLBlast's */
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {  /* as many tiny cases */
            float *exact[5], *round[5];
            rt->gpu_paths = 0;
            guarded_conv(rt, &list[i], exact);
            rt->gpu_paths = 1;
            guarded_conv(rt, &list[i], round);
            for (int t = 0; t < 5; t++) {
                for (size_t j = 0; j < WS_FLOATS; j++)
                    if (is_guard(exact[t][j], (unsigned)t, j) != is_guard(round[t][j], (unsigned)t, j))
                        fail_msg("%s, case %zu: workspace buffer %d element %zu %s by the rounded launch only",
                                 eos_conv_algo_name(algos[a]), i, t, j,
                                 is_guard(round[t][j], (unsigned)t, j) ? "left" : "written");
                free(exact[t]);
                free(round[t]);
            }
        }
    }
    eos__conv_set_wino_gemm(-1);
    eos_runtime_set_conv_algo(rt, EOS_CONV_AUTO);
    rt->gpu_paths = keep;
}

/* eos bench layers' attribution: with event profiling on, every kernel of a convolution is
 * charged to exactly one (shape, direction), so the rows add up to the whole kernel table, and
 * FLOPs follow 2 N K C R R OH OW, for each algorithm's own kernels. */
static void test_conv_profile(void **state) {
    eos_runtime_t rt = *state;
    static const eos_conv_shape a = {2, 4, 5, 16, 6, 3, 1, 1}, b = {2, 5, 8, 8, 6, 3, 2, 1};  /* b: stride 2 */
    static const eos_conv_algo algos[] = {EOS_CONV_GEMM, EOS_CONV_PANEL, EOS_CONV_DIRECT};
    size_t nmax = 2 * 5 * 16 * 16;
    eos_tensor X = dev(rt, NULL, nmax), Wt = dev(rt, NULL, nmax), Y = dev(rt, NULL, nmax), DX = dev(rt, NULL, nmax),
               DW = dev(rt, NULL, nmax);
    EOS_ASSERT_OK(eos_tensor_fill(&X, 0.5f));
    EOS_ASSERT_OK(eos_tensor_fill(&Wt, 0.25f));
    eos_workspace ws = {0};
    for (size_t k = 0; k < 3; k++) {
        eos_runtime_set_conv_algo(rt, algos[k]);
        /* off: nothing is charged */
        eos_runtime_profile_start(rt);
        eos_runtime_profile_stop(rt);
        EOS_ASSERT_OK(eos_conv2d_forward(rt, &a, &X, &Wt, NULL, &Y, &ws));
        eos_conv_time rows[8];
        assert_int_equal(eos_conv_profile_read(rt, rows, 8), 0);

        eos_runtime_profile_start(rt);
        EOS_ASSERT_OK(eos_conv2d_forward(rt, &a, &X, &Wt, NULL, &Y, &ws));
        EOS_ASSERT_OK(eos_conv2d_backward(rt, &a, &X, &Wt, &Y, &DX, &DW, NULL, &ws));
        EOS_ASSERT_OK(eos_conv2d_forward(rt, &b, &X, &Wt, NULL, &Y, &ws));
        EOS_ASSERT_OK(eos_conv2d_backward(rt, &b, &X, &Wt, &Y, NULL, &DW, NULL, &ws));  /* no dx: no data grad row */
        EOS_ASSERT_OK(eos_conv2d_forward(rt, &b, &X, &Wt, NULL, &Y, &ws));               /* a second call */
        EOS_ASSERT_OK(eos_runtime_finish(rt));
        size_t n = eos_conv_profile_read(rt, rows, 8);
        eos_kernel_time kt[96];
        size_t nk = eos_runtime_profile_read(rt, kt, 96);
        eos_runtime_profile_stop(rt);

        assert_int_equal(n, 5);
        const eos_conv_shape *shape[5] = {&a, &a, &a, &b, &b};
        static const eos_conv_dir dir[5] = {EOS_CONV_FORWARD, EOS_CONV_WEIGHT_GRAD, EOS_CONV_DATA_GRAD,
                                            EOS_CONV_FORWARD, EOS_CONV_WEIGHT_GRAD};
        static const long calls[5] = {1, 1, 1, 2, 1};
        double conv_s = 0, all_s = 0;
        for (size_t i = 0; i < 5; i++) {
            const eos_conv_shape *c = shape[i];
            int OH = (c->H + 2 * c->pad - c->R) / c->stride + 1, OW = (c->W + 2 * c->pad - c->R) / c->stride + 1;
            assert_memory_equal(&rows[i].shape, c, sizeof *c);
            assert_int_equal(rows[i].dir, dir[i]);
            assert_int_equal(rows[i].calls, calls[i]);
            /* direct does not apply to stride 2: panel runs it */
            assert_int_equal(rows[i].algo, algos[k] == EOS_CONV_DIRECT && c == &b ? EOS_CONV_PANEL : algos[k]);
            assert_true(rows[i].flops == 2.0 * c->N * c->K * c->C * c->R * c->R * OH * OW);
            assert_true(rows[i].seconds > 0);
            conv_s += rows[i].seconds;
        }
        for (size_t i = 0; i < nk; i++) all_s += kt[i].seconds;
        assert_true(fabs(conv_s - all_s) <= 1e-9 + 1e-9 * all_s);  /* every kernel charged once */
        assert_string_equal(eos_conv_dir_name(EOS_CONV_DATA_GRAD), "data grad");
    }
    eos_runtime_set_conv_algo(rt, EOS_CONV_AUTO);
    eos_workspace_free(&ws);
    eos_tensor *all[] = {&X, &Wt, &Y, &DX, &DW};
    for (size_t k = 0; k < 5; k++) eos_tensor_free(all[k]);
}

/* ---- batch norm ------------------------------------------------------------------------- */

static void bn_all(eos_runtime_t rt) {
    enum { N = 4, C = 3, HW = 10 };
    size_t n = N * C * HW;
    for (int variant = 0; variant < 3; variant++) {  /* plain, + ReLU, + residual + ReLU */
        int relu = variant > 0, with_res = variant == 2;
        float *x = rnd(n, -2, 3), *g = rnd(C, 0.5f, 1.5f), *b = rnd(C, -0.5f, 0.5f), *res = rnd(n, -1, 1);
        float rm[C] = {0.1f, -0.2f, 0.3f}, rv[C] = {1.0f, 2.0f, 0.5f}, rm_ref[C], rv_ref[C];
        memcpy(rm_ref, rm, sizeof rm);
        memcpy(rv_ref, rv, sizeof rv);
        eos_tensor X = dev(rt, x, n), G = dev(rt, g, C), B = dev(rt, b, C), RM = dev(rt, rm, C), RV = dev(rt, rv, C);
        eos_tensor MEAN = dev(rt, NULL, C), IS = dev(rt, NULL, C), Y = dev(rt, NULL, n), RES = dev(rt, res, n);
        EOS_ASSERT_OK(eos_batchnorm_forward_train(rt, N, C, HW, &X, &G, &B, &RM, &RV, &MEAN, &IS,
                                                  with_res ? &RES : NULL, relu, 0.1f, 1e-5f, &Y));
        float *y = host(&Y, n), *want = malloc(n * sizeof *want);
        eos_ref_bn_forward_train(N, C, HW, x, g, b, rm_ref, rv_ref, 0.1f, 1e-5f, with_res ? res : NULL, relu, want);
        expect_close("bn forward", y, want, n, 1e-5, 1e-4);
        float *rm_got = host(&RM, C), *rv_got = host(&RV, C);
        expect_close("bn running_mean", rm_got, rm_ref, C, 1e-6, 1e-5);
        expect_close("bn running_var", rv_got, rv_ref, C, 1e-6, 1e-5);
        /* evaluation with the updated running statistics */
        EOS_ASSERT_OK(eos_batchnorm_forward_eval(rt, N, C, HW, &X, &G, &B, &RM, &RV, &MEAN, &IS, NULL, 0, 1e-5f, &Y));
        free(y);
        y = host(&Y, n);
        eos_ref_bn_forward_eval(N, C, HW, x, g, b, rm_ref, rv_ref, 1e-5f, want);
        expect_close("bn eval", y, want, n, 1e-5, 1e-4);
        if (variant == 0) {
            /* backward: against the reference, then finite differences of L = sum(bn(x) * r) */
            EOS_ASSERT_OK(eos_batchnorm_forward_train(rt, N, C, HW, &X, &G, &B, &RM, &RV, &MEAN, &IS, NULL, 0, 0.1f,
                                                      1e-5f, &Y));
            float *r = rnd(n, -1, 1);
            eos_tensor DY = dev(rt, r, n), DX = dev(rt, NULL, n), DG = dev(rt, NULL, C), DB = dev(rt, NULL, C);
            EOS_ASSERT_OK(eos_batchnorm_backward(rt, N, C, HW, &DY, &X, &MEAN, &IS, &G, &DX, &DG, &DB));
            float *dx = host(&DX, n), *dg = host(&DG, C), *db = host(&DB, C);
            float wdx[N * C * HW], wdg[C], wdb[C];
            eos_ref_bn_backward(N, C, HW, x, g, 1e-5f, r, wdx, wdg, wdb);
            expect_close("bn dx", dx, wdx, n, 1e-5, 1e-3);
            expect_close("bn dgamma", dg, wdg, C, 1e-5, 1e-4);
            expect_close("bn dbeta", db, wdb, C, 1e-5, 1e-4);
            float scratch_m[C], scratch_v[C], *yy = malloc(n * sizeof *yy);
            for (int t = 0; t < 10; t++) {
                size_t i = eos_rng_below(&g_rng, (uint32_t)n);
                float h = 1e-2f, keep = x[i];
                double l[2];
                for (int s = 0; s < 2; s++) {
                    x[i] = keep + (s ? -h : h);
                    eos_ref_bn_forward_train(N, C, HW, x, g, b, scratch_m, scratch_v, 0.1f, 1e-5f, NULL, 0, yy);
                    l[s] = dot(yy, r, n);
                }
                x[i] = keep;
                assert_float_equal(dx[i], (l[0] - l[1]) / (2 * h), 2e-3 * (1 + fabs(dx[i])));
            }
            free(yy); free(r); free(dx); free(dg); free(db);
            eos_tensor_free(&DY); eos_tensor_free(&DX); eos_tensor_free(&DG); eos_tensor_free(&DB);
        }
        eos_tensor *all[] = {&X, &G, &B, &RM, &RV, &MEAN, &IS, &Y, &RES};
        for (size_t k = 0; k < 9; k++) eos_tensor_free(all[k]);
        free(x); free(g); free(b); free(res); free(y); free(want); free(rm_got); free(rv_got);
    }
}

/* both kernels of the element-wise passes: rows (CPUs) and one work-item per element (GPUs) */
static void test_batchnorm(void **state) {
    eos_runtime_t rt = *state;
    setenv("EOS_BN_PATH", "rows", 1);
    bn_all(rt);
    setenv("EOS_BN_PATH", "elements", 1);
    bn_all(rt);
    unsetenv("EOS_BN_PATH");
}

/* ---- batch norm: statistics in one pass, the ReLU's backward folded in ------------------- */

typedef struct { int N, C, HW; } bn_shape;

/* odd sizes: rows shorter than, equal to and longer than a float8, with and without a tail */
static const bn_shape k_bn_shapes[] = {{3, 5, 13}, {2, 4, 8}, {5, 3, 1}, {4, 2, 67}, {2, 3, 64}, {16, 2, 7}};

/* Statistics of x = offset + U(-1, 1) against the double reference: momentum 1 makes the
 * running estimates the batch's mean and unbiased variance. With offset 50 the textbook
 * one-pass float formula E[x^2] - E[x]^2 loses about 3 of float's 7 digits (E[x^2] = 2500.3
 * has ulp 2.4e-4 against a variance of 0.33), so rtol 1e-4 on the variance tells a careful
 * method from it; a merge of per-row mean and M2 (Chan et al.) stays near 1e-6. */
static void bn_stats_case(eos_runtime_t rt, const bn_shape *s, float offset) {
    int N = s->N, C = s->C, HW = s->HW;
    size_t n = (size_t)N * C * HW;
    float *x = rnd(n, offset - 1, offset + 1), *g = rnd(C, 0.5f, 1.5f), *b = rnd(C, -0.5f, 0.5f);
    float *rm = calloc(C, sizeof *rm), *rv = calloc(C, sizeof *rv), *y = malloc(n * sizeof *y);
    for (int c = 0; c < C; c++) rv[c] = 1.0f;
    eos_tensor X = dev(rt, x, n), G = dev(rt, g, C), B = dev(rt, b, C), RM = dev(rt, rm, C), RV = dev(rt, rv, C);
    eos_tensor MEAN = dev(rt, NULL, C), IS = dev(rt, NULL, C), Y = dev(rt, NULL, n);
    EOS_ASSERT_OK(eos_batchnorm_forward_train(rt, N, C, HW, &X, &G, &B, &RM, &RV, &MEAN, &IS, NULL, 0, 1.0f, 1e-5f, &Y));
    eos_ref_bn_forward_train(N, C, HW, x, g, b, rm, rv, 1.0f, 1e-5f, NULL, 0, y);
    float *mean = host(&MEAN, C), *rm_got = host(&RM, C), *rv_got = host(&RV, C);
    /* the mean: float's rounding of values near offset (ulp 4e-6 at 50) */
    expect_close("bn stats mean", mean, rm, C, 1e-6 * (1 + fabs(offset)), 1e-6);
    expect_close("bn stats running_mean", rm_got, rm, C, 1e-6 * (1 + fabs(offset)), 1e-6);
    if (N * HW > 1) expect_close("bn stats unbiased variance", rv_got, rv, C, 0, 1e-4);
    eos_tensor *all[] = {&X, &G, &B, &RM, &RV, &MEAN, &IS, &Y};
    for (size_t k = 0; k < 8; k++) eos_tensor_free(all[k]);
    free(x); free(g); free(b); free(rm); free(rv); free(y); free(mean); free(rm_got); free(rv_got);
}

/* y = relu(bn(x) [+ res]); the fused backward (EOS_BN_FUSE unset) against the unfused one
 * (EOS_BN_FUSE=0: eos_relu_backward, then eos_batchnorm_backward) and against the plain-C
 * reference on dy * (y > 0). Fused and unfused do the same float operations in the same order
 * (the mask is a selection, not arithmetic), so they agree to a few ulps at most (the compiler
 * may contract the branches differently); the reference differs by float against double
 * sums, the tolerance of test_batchnorm. */
static void bn_fused_case(eos_runtime_t rt, const bn_shape *s, int with_res) {
    int N = s->N, C = s->C, HW = s->HW;
    size_t n = (size_t)N * C * HW;
    float *x = rnd(n, -2, 3), *g = rnd(C, 0.5f, 1.5f), *b = rnd(C, -0.5f, 0.5f), *res = rnd(n, -1, 1);
    float *r = rnd(n, -1, 1), *rm = calloc(C, sizeof *rm), *rv = calloc(C, sizeof *rv);
    eos_tensor X = dev(rt, x, n), G = dev(rt, g, C), B = dev(rt, b, C), RM = dev(rt, rm, C), RV = dev(rt, rv, C);
    eos_tensor MEAN = dev(rt, NULL, C), IS = dev(rt, NULL, C), Y = dev(rt, NULL, n), RES = dev(rt, res, n);
    EOS_ASSERT_OK(eos_batchnorm_forward_train(rt, N, C, HW, &X, &G, &B, &RM, &RV, &MEAN, &IS, with_res ? &RES : NULL,
                                              1, 0.1f, 1e-5f, &Y));
    float *y = host(&Y, n), *ywant = malloc(n * sizeof *ywant);
    eos_ref_bn_forward_train(N, C, HW, x, g, b, rm, rv, 0.1f, 1e-5f, with_res ? res : NULL, 1, ywant);
    expect_close("bn+relu forward", y, ywant, n, 1e-5, 1e-4);
    float *got[2][4];  /* [unfused, fused][dy masked, dx, dgamma, dbeta] */
    for (int fuse = 0; fuse < 2; fuse++) {
        if (fuse) unsetenv("EOS_BN_FUSE");
        else setenv("EOS_BN_FUSE", "0", 1);
        eos_tensor DY = dev(rt, r, n), DX = dev(rt, NULL, n), DG = dev(rt, NULL, C), DB = dev(rt, NULL, C);
        EOS_ASSERT_OK(eos_batchnorm_relu_backward(rt, N, C, HW, &DY, &Y, &X, &MEAN, &IS, &G, &DX, &DG, &DB));
        got[fuse][0] = host(&DY, n);
        got[fuse][1] = host(&DX, n);
        got[fuse][2] = host(&DG, C);
        got[fuse][3] = host(&DB, C);
        eos_tensor_free(&DY); eos_tensor_free(&DX); eos_tensor_free(&DG); eos_tensor_free(&DB);
    }
    unsetenv("EOS_BN_FUSE");
    /* the reference: the mask from the device's own y (a value at exactly 0 decides the same) */
    float *dym = malloc(n * sizeof *dym), *wdx = malloc(n * sizeof *wdx), *wdg = malloc(C * sizeof *wdg);
    float *wdb = malloc(C * sizeof *wdb);
    for (size_t i = 0; i < n; i++) dym[i] = y[i] > 0 ? r[i] : 0.0f;
    eos_ref_bn_backward(N, C, HW, x, g, 1e-5f, dym, wdx, wdg, wdb);
    /* dgamma and dbeta are float sums of M = N HW terms of either sign, each below 1 in size:
     * against the double reference, plain recursive summation may err by up to about eps M (its
     * partial sums wander to sqrt(M), each addition rounds by eps times that); the kernels sum a
     * row at a time and merge, which errs far less (1.4e-5 seen at M = 8192, where 1e-5 absolute
     * failed on a channel whose dbeta was 0.007). So 1e-5 per 1024 terms, a twelfth of eps M. */
    const double sum_atol = 1e-5 * fmax(1.0, (double)N * HW / 1024.0);
    for (int fuse = 0; fuse < 2; fuse++) {
        expect_close(fuse ? "fused masked dy" : "unfused masked dy", got[fuse][0], dym, n, 0, 0);
        expect_close(fuse ? "fused dx" : "unfused dx", got[fuse][1], wdx, n, 1e-5, 1e-3);
        expect_close(fuse ? "fused dgamma" : "unfused dgamma", got[fuse][2], wdg, C, sum_atol, 1e-4);
        expect_close(fuse ? "fused dbeta" : "unfused dbeta", got[fuse][3], wdb, C, sum_atol, 1e-4);
    }
    expect_close("fused dx against unfused", got[1][1], got[0][1], n, 1e-6, 1e-6);
    expect_close("fused dgamma against unfused", got[1][2], got[0][2], C, 1e-6, 1e-6);
    expect_close("fused dbeta against unfused", got[1][3], got[0][3], C, 1e-6, 1e-6);
    for (int f = 0; f < 2; f++)
        for (int k = 0; k < 4; k++) free(got[f][k]);
    eos_tensor *all[] = {&X, &G, &B, &RM, &RV, &MEAN, &IS, &Y, &RES};
    for (size_t k = 0; k < 9; k++) eos_tensor_free(all[k]);
    free(x); free(g); free(b); free(res); free(r); free(rm); free(rv); free(y); free(ywant);
    free(dym); free(wdx); free(wdg); free(wdb);
}

/* every shape, rows and elements, one work-item per reduction group (CPUs) and several (the
 * GPUs' branch of the reduction kernels, forced here) */
static void test_batchnorm_fused(void **state) {
    eos_runtime_t rt = *state;
    static const char *paths[] = {"rows", "elements"};
    static const size_t locals[] = {0, 4, 64};
    for (size_t p = 0; p < 2; p++)
        for (size_t l = 0; l < 3; l++) {
            setenv("EOS_BN_PATH", paths[p], 1);
            rt->reduce_local_force = locals[l];
            for (size_t k = 0; k < sizeof k_bn_shapes / sizeof k_bn_shapes[0]; k++) {
                /* tiny (Oclgrind): three of the six shapes (an odd HW; HW past a group of 64;
                 * N past the groups of 4), in every path and group size */
                if (test_tiny() && k != 0 && k != 3 && k != 5) continue;
                bn_stats_case(rt, &k_bn_shapes[k], 0.0f);
                bn_stats_case(rt, &k_bn_shapes[k], 50.0f);
                bn_fused_case(rt, &k_bn_shapes[k], 0);
                bn_fused_case(rt, &k_bn_shapes[k], 1);
            }
        }
    rt->reduce_local_force = 0;
    unsetenv("EOS_BN_PATH");
}

/* --sync-bn's host side (host/nn/batchnorm.c, rt->bn_sync) in a one-process run, where the
 * allreduce (host/runtime/dist.c) leaves its input as it is: the rewrite of mean, invstd and the running
 * estimates from (count, sum, sum of squares) merged in double, and the backward's detour
 * (global sums / weight, the rank's own dgamma, dbeta put back), must give what the plain path
 * gives, against the same double references and tolerances (bn_stats_case: rtol 1e-4 on the
 * variance with offset 50, where E[x^2] - mean^2 in float would lose 3 digits). The 2-rank
 * equivalence itself is tests/test_mpi.sh. */
static void test_batchnorm_sync_one_rank(void **state) {
    eos_runtime_t rt = *state;
    assert_int_equal(eos__dist_size(), 1);
    assert_int_equal(eos__dist_rank(), 0);
    float v[3] = {1.0f, -2.0f, 3.5f};
    double w[2] = {0.25, -1e300};
    assert_int_equal(eos__dist_allreduce_sum(v, 3), 0);
    assert_int_equal(eos__dist_allreduce_sum_double(w, 2), 0);
    assert_true(v[0] == 1.0f && v[1] == -2.0f && v[2] == 3.5f && w[0] == 0.25 && w[1] == -1e300);
    for (size_t k = 0; k < sizeof k_bn_shapes / sizeof k_bn_shapes[0]; k++) {
        rt->bn_sync.on = 1;
        rt->bn_sync.rows = rt->bn_sync.rows_total = k_bn_shapes[k].N;
        bn_stats_case(rt, &k_bn_shapes[k], 0.0f);
        bn_stats_case(rt, &k_bn_shapes[k], 50.0f);
        bn_fused_case(rt, &k_bn_shapes[k], 0);
        bn_fused_case(rt, &k_bn_shapes[k], 1);
    }
    rt->bn_sync.on = 0;
}

/* ---- batch norm: the two-stage reductions (GPU paths) ------------------------------------ */

/* Statistics and backward in two stages, P chunks per channel, against the same double
 * references as above, on the CPU paths and the GPU paths (rt->gpu_paths), with P forced to 1
 * (one chunk through the two-stage kernels), 2 and 3 (whole rows, uneven: N = 3 and 8 rows),
 * 50 (more chunks than rows: chunks split rows) and 200 (more chunks than the 189 values of
 * a channel of the first shape: empty chunks), one, 4 and up to 256 work-items per group. Shapes:
 * 7 x 9 rows (tails everywhere) and a ResNet stage-1 layer (16 channels of 32 x 32). */
static const bn_shape k_bn_chunk_shapes[] = {{3, 5, 63}, {8, 16, 1024}};

static void test_batchnorm_two_stage(void **state) {
    eos_runtime_t rt = *state;
    static const size_t chunks[] = {1, 2, 3, 50, 200};
    /* (gpu paths, work-items per group): CPU paths' one (float8 rows), 4 forced, and the GPU
     * paths' own choice (up to 256) */
    static const struct { int gp; size_t local; } configs[] = {{0, 0}, {0, 4}, {1, 0}};
    const int gpu_paths = rt->gpu_paths;
    for (size_t v = 0; v < 3; v++)
        for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
            rt->gpu_paths = configs[v].gp;
            rt->reduce_chunks_force = chunks[c];
            rt->reduce_local_force = configs[v].local;
            /* tiny (Oclgrind): the first shape only, 189 values a channel, still past 200 chunks */
            for (size_t k = 0; k < (test_tiny() ? 1 : sizeof k_bn_chunk_shapes / sizeof k_bn_chunk_shapes[0]); k++) {
                bn_stats_case(rt, &k_bn_chunk_shapes[k], 0.0f);
                bn_stats_case(rt, &k_bn_chunk_shapes[k], 50.0f);
                bn_fused_case(rt, &k_bn_chunk_shapes[k], v != 1);
            }
            /* momentum 0.1 on non-zero running estimates, evaluation, finite differences (tiny:
             * once per configuration, its hundreds of launches are slow under Oclgrind) */
            if (!test_tiny() || c == 0) bn_all(rt);
        }
    rt->reduce_chunks_force = 0;
    rt->reduce_local_force = 0;
    /* the device's own choice on a GPU of 132 compute units: 4 groups per unit over 16
     * channels is 33 chunks, capped at 131072 / 4096 = 32 by the smallest chunk; on CPU paths
     * and where one chunk would do, the one-stage kernel (0) */
    const unsigned cu = rt->dev.compute_units;
    rt->dev.compute_units = 132;
    rt->gpu_paths = 1;
    assert_int_equal(eos__reduce_chunks(rt, 16, 128 * 1024), 32);
    assert_int_equal(eos__reduce_chunks(rt, 16, 2 * 1024), 0);
    assert_int_equal(eos__reduce_chunks(rt, 512, 128 * 64), 0);
    if (!test_tiny()) {
        bn_stats_case(rt, &k_bn_chunk_shapes[1], 50.0f);  /* 8 x 1024 values: 2 chunks */
        bn_fused_case(rt, &k_bn_chunk_shapes[1], 1);
    }
    rt->gpu_paths = 0;
    assert_int_equal(eos__reduce_chunks(rt, 16, 128 * 1024), 0);
    rt->dev.compute_units = cu;
    rt->gpu_paths = gpu_paths;
}

/* The two stages merge in a fixed order: the same input gives bit-identical statistics and
 * gradients on every run (the property resume's bit-identity rests on). */
static void test_batchnorm_two_stage_deterministic(void **state) {
    eos_runtime_t rt = *state;
    enum { N = 8, C = 4, HW = 1000 };
    size_t n = (size_t)N * C * HW;
    float *x = rnd(n, -2, 3), *g = rnd(C, 0.5f, 1.5f), *b = rnd(C, -0.5f, 0.5f), *r = rnd(n, -1, 1);
    float *got[2][5];
    rt->reduce_chunks_force = 7;
    rt->reduce_local_force = 64;
    for (int run = 0; run < 2; run++) {
        float z[C] = {0}, one[C] = {1, 1, 1, 1};
        eos_tensor X = dev(rt, x, n), G = dev(rt, g, C), B = dev(rt, b, C), RM = dev(rt, z, C), RV = dev(rt, one, C);
        eos_tensor MEAN = dev(rt, NULL, C), IS = dev(rt, NULL, C), Y = dev(rt, NULL, n), DY = dev(rt, r, n);
        eos_tensor DX = dev(rt, NULL, n), DG = dev(rt, NULL, C), DB = dev(rt, NULL, C);
        EOS_ASSERT_OK(eos_batchnorm_forward_train(rt, N, C, HW, &X, &G, &B, &RM, &RV, &MEAN, &IS, NULL, 1, 0.1f,
                                                  1e-5f, &Y));
        EOS_ASSERT_OK(eos_batchnorm_relu_backward(rt, N, C, HW, &DY, &Y, &X, &MEAN, &IS, &G, &DX, &DG, &DB));
        got[run][0] = host(&MEAN, C);
        got[run][1] = host(&IS, C);
        got[run][2] = host(&RV, C);
        got[run][3] = host(&DG, C);
        got[run][4] = host(&DX, n);
        eos_tensor *all[] = {&X, &G, &B, &RM, &RV, &MEAN, &IS, &Y, &DY, &DX, &DG, &DB};
        for (size_t k = 0; k < 12; k++) eos_tensor_free(all[k]);
    }
    rt->reduce_chunks_force = 0;
    rt->reduce_local_force = 0;
    for (int k = 0; k < 5; k++) {
        assert_memory_equal(got[0][k], got[1][k], (k == 4 ? n : C) * sizeof(float));
        free(got[0][k]);
        free(got[1][k]);
    }
    free(x); free(g); free(b); free(r);
}

/* The bias gradients' per-channel sum (eos__channel_sum: conv's (N, K, HW), linear's (N, K, 1))
 * in one stage and in two with P chunks forced, against a double sum. Tolerance: float sums of
 * up to 8192 values of U(-1, 1), partial sums near sqrt(8192) = 90 with ulp 8e-6; a lost or
 * doubled chunk is off by about sqrt(M / P), far beyond 1e-3. */
static void test_channel_sum_two_stage(void **state) {
    eos_runtime_t rt = *state;
    static const bn_shape shapes[] = {{3, 5, 63}, {8, 16, 1024}, {128, 10, 1}};
    static const size_t chunks[] = {0, 1, 2, 3, 50, 200};
    static const struct { int gp; size_t local; } configs[] = {{0, 0}, {0, 4}, {1, 0}};
    const int gpu_paths = rt->gpu_paths;
    for (size_t k = 0; k < 3; k++) {
        if (test_tiny() && k == 1) continue;  /* Oclgrind: the ResNet-sized shape takes minutes */
        int N = shapes[k].N, C = shapes[k].C, S = shapes[k].HW;
        size_t n = (size_t)N * C * S;
        float *x = rnd(n, -1, 1), *want = malloc(C * sizeof *want);
        for (int c = 0; c < C; c++) {
            double t = 0;
            for (int i = 0; i < N; i++)
                for (int h = 0; h < S; h++) t += x[((size_t)i * C + c) * S + h];
            want[c] = (float)t;
        }
        eos_tensor X = dev(rt, x, n), OUT = dev(rt, NULL, C);
        for (size_t v = 0; v < 3; v++)
            for (size_t p = 0; p < sizeof chunks / sizeof chunks[0]; p++) {
                rt->gpu_paths = configs[v].gp;
                rt->reduce_local_force = configs[v].local;
                rt->reduce_chunks_force = chunks[p];
                EOS_ASSERT_OK(eos__channel_sum(rt, &X, &OUT, N, C, S));
                float *got = host(&OUT, C);
                expect_close("channel sum", got, want, C, 1e-3, 1e-5);
                free(got);
            }
        eos_tensor_free(&X);
        eos_tensor_free(&OUT);
        free(x);
        free(want);
    }
    rt->reduce_chunks_force = 0;
    rt->reduce_local_force = 0;
    rt->gpu_paths = gpu_paths;
}

/* calls of one kernel in the profile since eos_runtime_profile_start */
static long calls_of(eos_runtime_t rt, const char *name) {
    eos_kernel_time t[128];
    size_t n = eos_runtime_profile_read(rt, t, 128);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(t[i].name, name)) return t[i].calls;
    return 0;
}

/* A device that caps a work-item's loop trips (Mesa's llvmpipe: 65535 in all, eos__loop_cap)
 * gets the same values from the kernels whose loops grow with the batch: the direct weight
 * gradient split over launches of a few images each, the batch-norm and channel-sum
 * reductions in chunks. A cap of 1000 splits these small shapes on any device (PoCL included);
 * the launch counts prove the splits ran, the references that their sums are whole. */
static void test_loop_cap(void **state) {
    eos_runtime_t rt = *state;
    const size_t cap = rt->max_loop_trips;
    rt->max_loop_trips = 1000;
    eos_runtime_set_conv_algo(rt, EOS_CONV_DIRECT);
    eos_workspace ws = {0};
    /* rows of 32, H 8: 1 + 8 (1 + 3 x 5) = 129 trips an image, (1000 - 64) / 129 = 7 images a launch */
    static const conv_case c32 = {20, 3, 8, 32, 5, 3, 1, 1, 1}, c8 = {20, 4, 8, 8, 6, 3, 1, 1, 0};
    eos_runtime_profile_start(rt);
    run_conv(rt, &c32, &ws);
    long dw_launches = calls_of(rt, "eos_conv3x3_dw2_w32");
    assert_true(dw_launches >= 3 && dw_launches % 3 == 0);  /* 3 a backward (the finite differences add none) */
    /* rows of 8: 1 + 8 x 7 = 57 trips an image, 16 images a launch */
    eos_runtime_profile_start(rt);
    run_conv(rt, &c8, &ws);
    dw_launches = calls_of(rt, "eos_conv3x3_dw2_w8");
    assert_true(dw_launches >= 2 && dw_launches % 2 == 0);
    eos_workspace_free(&ws);
    eos_runtime_set_conv_algo(rt, EOS_CONV_AUTO);
    /* 8 x 1024 values a channel: chunks of at most (1000 - 64 - 60) / 2 values, two-stage */
    const int gpu_paths = rt->gpu_paths;
    rt->gpu_paths = 0;
    eos_runtime_profile_start(rt);
    bn_stats_case(rt, &k_bn_chunk_shapes[1], 50.0f);
    bn_fused_case(rt, &k_bn_chunk_shapes[1], 1);
    assert_int_equal(calls_of(rt, "eos_bn_stats"), 0);
    assert_true(calls_of(rt, "eos_bn_stats_partial") >= 1);
    assert_int_equal(calls_of(rt, "eos_bn_backward_reduce"), 0);
    assert_true(calls_of(rt, "eos_bn_backward_partial") >= 1);
    /* the bias gradient's channel sum over 8 x 1024 values */
    {
        enum { N = 8, C = 3, S = 1024 };
        size_t n = (size_t)N * C * S;
        float *x = rnd(n, -1, 1), want[C];
        for (int c = 0; c < C; c++) {
            double t = 0;
            for (int i = 0; i < N; i++)
                for (int h = 0; h < S; h++) t += x[((size_t)i * C + c) * S + h];
            want[c] = (float)t;
        }
        eos_tensor X = dev(rt, x, n), OUT = dev(rt, NULL, C);
        EOS_ASSERT_OK(eos__channel_sum(rt, &X, &OUT, N, C, S));
        float *got = host(&OUT, C);
        expect_close("channel sum under a loop cap", got, want, C, 1e-3, 1e-5);
        assert_int_equal(calls_of(rt, "eos_channel_sum"), 0);
        assert_int_equal(calls_of(rt, "eos_channel_sum_partial"), 1);
        free(got);
        free(x);
        eos_tensor_free(&X);
        eos_tensor_free(&OUT);
    }
    eos_runtime_profile_stop(rt);
    rt->gpu_paths = gpu_paths;
    rt->max_loop_trips = cap;
}

/* ---- activations, shortcut, pooling ------------------------------------------------- */

static void test_relu_add_shortcut(void **state) {
    eos_runtime_t rt = *state;
    size_t n = 1001;
    float *x = rnd(n, -1, 1), *r = rnd(n, -1, 1);
    eos_tensor X = dev(rt, x, n), Y = dev(rt, NULL, n), R = dev(rt, r, n), D = dev(rt, NULL, n);
    EOS_ASSERT_OK(eos_relu_forward(rt, n, &X, &Y));
    EOS_ASSERT_OK(eos_relu_backward(rt, n, &R, &Y, &D));
    float *y = host(&Y, n), *d = host(&D, n);
    for (size_t i = 0; i < n; i++) {
        assert_float_equal(y[i], x[i] > 0 ? x[i] : 0, 0);
        assert_float_equal(d[i], x[i] > 0 ? r[i] : 0, 0);
    }
    EOS_ASSERT_OK(eos_add_inplace(rt, n, &X, &R));
    free(y);
    y = host(&X, n);
    for (size_t i = 0; i < n; i++) assert_float_equal(y[i], x[i] + r[i], 0);
    free(x); free(r); free(y); free(d);
    eos_tensor_free(&X); eos_tensor_free(&Y); eos_tensor_free(&R); eos_tensor_free(&D);

    /* option A: against the reference, and the backward is its exact adjoint */
    enum { N = 2, Ci = 4, H = 6, W = 5, Co = 8 };
    size_t nin = N * Ci * H * W, nout = N * Co * 3 * 3;
    float *xi = rnd(nin, -1, 1), *ro = rnd(nout, -1, 1), want[N * Co * 9];
    eos_tensor XI = dev(rt, xi, nin), YO = dev(rt, NULL, nout), RO = dev(rt, ro, nout), DXI = dev(rt, xi, nin);
    EOS_ASSERT_OK(eos_shortcut_a_forward(rt, N, Ci, H, W, Co, &XI, &YO));
    float *yo = host(&YO, nout);
    eos_ref_shortcut_a(N, Ci, H, W, Co, xi, want);
    expect_close("shortcut forward", yo, want, nout, 0, 0);
    EOS_ASSERT_OK(eos_shortcut_a_backward(rt, N, Ci, H, W, Co, &RO, &DXI, 0));
    float *dxi = host(&DXI, nin);
    assert_float_equal(dot(yo, ro, nout), dot(xi, dxi, nin), 1e-5);  /* <Sx, r> = <x, S^T r> */
    EOS_ASSERT_OK(eos_shortcut_a_backward(rt, N, Ci, H, W, Co, &RO, &DXI, 1));  /* accumulate: twice */
    float *dxi2 = host(&DXI, nin);
    for (size_t i = 0; i < nin; i++) assert_float_equal(dxi2[i], 2 * dxi[i], 1e-6);
    assert_int_equal(eos_shortcut_a_forward(rt, N, Ci, H, W, Ci + 1, &XI, &YO), EOS_ERR_INVALID_ARG);
    free(xi); free(ro); free(yo); free(dxi); free(dxi2);
    eos_tensor_free(&XI); eos_tensor_free(&YO); eos_tensor_free(&RO); eos_tensor_free(&DXI);
}

static void test_pooling(void **state) {
    eos_runtime_t rt = *state;
    enum { N = 3, C = 5, H = 7, W = 6 };
    size_t n = N * C * H * W;
    float *x = rnd(n, -1, 1), *r = rnd(N * C, -1, 1);
    eos_tensor X = dev(rt, x, n), Y = dev(rt, NULL, N * C), R = dev(rt, r, N * C), DX = dev(rt, NULL, n);
    EOS_ASSERT_OK(eos_avgpool_forward(rt, N, C, H * W, &X, &Y));
    EOS_ASSERT_OK(eos_avgpool_backward(rt, N, C, H * W, &R, &DX));
    float *y = host(&Y, N * C), *dx = host(&DX, n);
    for (int p = 0; p < N * C; p++) {
        double s = 0;
        for (int k = 0; k < H * W; k++) s += x[p * H * W + k];
        assert_float_equal(y[p], s / (H * W), 1e-6);
        for (int k = 0; k < H * W; k++) assert_float_equal(dx[p * H * W + k], r[p] / (H * W), 1e-7);
    }
    free(y); free(dx);
    eos_tensor_free(&Y); eos_tensor_free(&R);
    /* max pool 3x3 stride 2 (overlapping windows) and 2x2 stride 2 */
    static const int ks[2][2] = {{3, 2}, {2, 2}};
    for (int t = 0; t < 2; t++) {
        int K = ks[t][0], S = ks[t][1], OH = (H - K) / S + 1, OW = (W - K) / S + 1;
        size_t no = (size_t)N * C * OH * OW;
        float *ro = rnd(no, -1, 1), *want = malloc(no * sizeof *want);
        eos_tensor MY = dev(rt, NULL, no), ARG = dev(rt, NULL, no), RO = dev(rt, ro, no);
        EOS_ASSERT_OK(eos_maxpool_forward(rt, N, C, H, W, K, S, &X, &MY, &ARG));
        EOS_ASSERT_OK(eos_maxpool_backward(rt, N, C, H, W, K, S, &RO, &ARG, &DX));
        float *my = host(&MY, no), *mdx = host(&DX, n);
        eos_ref_maxpool(N, C, H, W, K, S, x, want);
        expect_close("maxpool forward", my, want, no, 0, 0);
        for (int k = 0; k < 8; k++) {  /* finite differences (values are distinct, so it is smooth locally) */
            size_t i = eos_rng_below(&g_rng, (uint32_t)n);
            float h = 1e-4f, keep = x[i];
            x[i] = keep + h;
            eos_ref_maxpool(N, C, H, W, K, S, x, want);
            double lp = dot(want, ro, no);
            x[i] = keep - h;
            eos_ref_maxpool(N, C, H, W, K, S, x, want);
            double lm = dot(want, ro, no);
            x[i] = keep;
            assert_float_equal(mdx[i], (lp - lm) / (2 * h), 1e-3);
        }
        free(ro); free(want); free(my); free(mdx);
        eos_tensor_free(&MY); eos_tensor_free(&ARG); eos_tensor_free(&RO);
    }
    free(x); free(r);
    eos_tensor_free(&X); eos_tensor_free(&DX);
}

/* ---- linear, loss, SGD ------------------------------------------------------------------ */

static void test_linear(void **state) {
    eos_runtime_t rt = *state;
    enum { N = 5, F = 64, K = 10 };
    float *x = rnd(N * F, -1, 1), *w = rnd(K * F, -1, 1), *b = rnd(K, -1, 1), *r = rnd(N * K, -1, 1);
    eos_tensor X = dev(rt, x, N * F), Wt = dev(rt, w, K * F), B = dev(rt, b, K), Y = dev(rt, NULL, N * K);
    eos_tensor R = dev(rt, r, N * K), DX = dev(rt, NULL, N * F), DW = dev(rt, NULL, K * F), DB = dev(rt, NULL, K);
    EOS_ASSERT_OK(eos_linear_forward(rt, N, F, K, &X, &Wt, &B, &Y));
    EOS_ASSERT_OK(eos_linear_backward(rt, N, F, K, &X, &Wt, &R, &DX, &DW, &DB));
    float *y = host(&Y, N * K), *dx = host(&DX, N * F), *dw = host(&DW, K * F), *db = host(&DB, K);
    float want[N * F > K * F ? N * F : K * F];
    for (int i = 0; i < N; i++)
        for (int k = 0; k < K; k++) want[i * K + k] = b[k];
    eos_ref_gemm(0, 1, N, K, F, 1.0f, x, F, w, F, 1.0f, want, K);
    expect_close("linear forward", y, want, N * K, 1e-5, 1e-4);
    eos_ref_gemm(1, 0, K, F, N, 1.0f, r, K, x, F, 0.0f, want, F);
    expect_close("linear dw", dw, want, K * F, 1e-5, 1e-4);
    eos_ref_gemm(0, 0, N, F, K, 1.0f, r, K, w, F, 0.0f, want, F);
    expect_close("linear dx", dx, want, N * F, 1e-5, 1e-4);
    for (int k = 0; k < K; k++) {
        double s = 0;
        for (int i = 0; i < N; i++) s += r[i * K + k];
        assert_float_equal(db[k], s, 1e-5);
    }
    eos_tensor *all[] = {&X, &Wt, &B, &Y, &R, &DX, &DW, &DB};
    for (size_t k = 0; k < 8; k++) eos_tensor_free(all[k]);
    free(x); free(w); free(b); free(r); free(y); free(dx); free(dw); free(db);
}

static void test_softmax_ce(void **state) {
    eos_runtime_t rt = *state;
    enum { N = 6, K = 7 };
    float *z = rnd(N * K, -3, 3);
    z[0] = 80.0f;   /* extreme logits: exp would overflow without the max shift */
    z[9] = -95.0f;
    z[K * 2 + 3] = 60.0f;
    int32_t labels[N] = {0, 1, 3, 6, 2, 0};
    float weights[K] = {1.0f, 2.0f, 0.5f, 1.5f, 1.0f, 3.0f, 0.25f};
    eos_tensor Z = dev(rt, z, N * K), DZ = dev(rt, NULL, N * K), LD = {0}, WD = {0}, PS = {0};
    for (int weighted = 0; weighted < 2; weighted++) {
        float loss, want_dz[N * K];
        EOS_ASSERT_OK(eos_softmax_ce(rt, N, K, &Z, labels, weighted ? weights : NULL, &LD, &WD, &PS, &DZ, &loss));
        double want = eos_ref_softmax_ce(N, K, z, labels, weighted ? weights : NULL, want_dz);
        assert_true(isfinite(loss));
        assert_float_equal(loss, want, 1e-5 * (1 + fabs(want)));
        float *dz = host(&DZ, N * K);
        expect_close("softmax_ce dz", dz, want_dz, N * K, 1e-6, 1e-4);
        for (int t = 0; t < 8; t++) {  /* finite differences of the mean loss */
            size_t i = eos_rng_below(&g_rng, N * K);
            float h = 1e-3f, keep = z[i], tmp[N * K];
            z[i] = keep + h;
            double lp = eos_ref_softmax_ce(N, K, z, labels, weighted ? weights : NULL, tmp);
            z[i] = keep - h;
            double lm = eos_ref_softmax_ce(N, K, z, labels, weighted ? weights : NULL, tmp);
            z[i] = keep;
            assert_float_equal(dz[i], (lp - lm) / (2 * h), 1e-4);
        }
        free(dz);
    }
    int32_t bad[N] = {0, 1, 7, 0, 0, 0};
    float loss;
    assert_int_equal(eos_softmax_ce(rt, N, K, &Z, bad, NULL, &LD, &WD, &PS, &DZ, &loss), EOS_ERR_INVALID_ARG);
    eos_tensor_free(&Z); eos_tensor_free(&DZ); eos_tensor_free(&LD); eos_tensor_free(&WD); eos_tensor_free(&PS);
    free(z);
}

static void test_sgd(void **state) {
    eos_runtime_t rt = *state;
    size_t n = 257;
    float *p = rnd(n, -1, 1), *g = rnd(n, -1, 1), buf[257] = {0}, want[257];
    memcpy(want, p, sizeof want);
    eos_tensor P = dev(rt, p, n), G = dev(rt, g, n), B = dev(rt, NULL, n);
    for (int step = 0; step < 3; step++) {
        float lr = 0.1f / (float)(step + 1);
        EOS_ASSERT_OK(eos_sgd_step(rt, n, &P, &G, &B, lr, 0.9f, 2e-4f));
        for (size_t i = 0; i < n; i++) {  /* torch.optim.SGD: d = g + wd p; buf = m buf + d; p -= lr buf */
            float d = g[i] + 2e-4f * want[i];
            buf[i] = step ? 0.9f * buf[i] + d : d;
            want[i] -= lr * buf[i];
        }
    }
    float *got = host(&P, n);
    expect_close("sgd", got, want, n, 1e-6, 1e-5);
    eos_tensor_free(&P); eos_tensor_free(&G); eos_tensor_free(&B);
    free(p); free(g); free(got);
}

int main(void) {
    eos_rng_seed(&g_rng, 77, 7);
    eos__conv_set_tiled_variant(default_tiled_variant());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv2d),
        cmocka_unit_test(test_conv2d_tiled),
        cmocka_unit_test(test_conv2d_winograd),
        cmocka_unit_test(test_conv_profile),
        cmocka_unit_test(test_gpu_launch_shapes),
        cmocka_unit_test(test_conv_choices),
        cmocka_unit_test(test_batchnorm),
        cmocka_unit_test(test_batchnorm_fused),
        cmocka_unit_test(test_batchnorm_sync_one_rank),
        cmocka_unit_test(test_batchnorm_two_stage),
        cmocka_unit_test(test_batchnorm_two_stage_deterministic),
        cmocka_unit_test(test_channel_sum_two_stage),
        cmocka_unit_test(test_loop_cap),
        cmocka_unit_test(test_relu_add_shortcut),
        cmocka_unit_test(test_pooling),
        cmocka_unit_test(test_linear),
        cmocka_unit_test(test_softmax_ce),
        cmocka_unit_test(test_sgd),
    };
    return cmocka_run_group_tests(tests, test_runtime_setup, test_runtime_teardown);
}
