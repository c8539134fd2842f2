/* The convolution (host/nn/conv.c, cl/conv*.cl) against its plain-C reference: every algorithm
 * (gemm, panel, direct, tiled, Winograd) forward and backward with finite differences, the
 * choice table, the GPU-shaped launches and the profile's attribution. Part of test_layers. */
#include "layers_test_common.h"
#include <unistd.h>

/* ---- conv2d ---------------------------------------------------------------------------- */

static double conv_loss(const conv_case *c, const float *x, const float *w, const float *b, const float *r, size_t ny) {
    float *y = malloc(ny * sizeof *y);
    eos_ref_conv2d_forward(c->N, c->C, c->H, c->W, c->K, c->R, c->stride, c->pad, x, w, b, y);
    double l = dot(y, r, ny);
    free(y);
    return l;
}

/* One case through eos_conv2d_forward/backward with the algorithm rt is set to, against the
 * reference and finite differences (declared in layers_test_common.h: test_loop_cap runs it). */
void run_conv(eos_runtime_t rt, const conv_case *c, eos_workspace *ws) {
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
        {2, 9, 3, 8, 11, 3, 1, 1, 1},  /* rows of 8, an output channel group cut short; odd H: direct16's
                                        * last row pair is one row */
        {2, 5, 6, 8, 9, 3, 1, 1, 0},   /* rows of 8, even H: direct16's pairs of rows, inside and at the edges */
        {1, 2, 4, 24, 3, 3, 1, 1, 0},  /* rows of 24: direct does not apply */
        {2, 3, 7, 32, 5, 3, 2, 1, 1},  /* stride 2 on rows of 32 (direct16): odd H, bias */
        {2, 4, 5, 16, 17, 3, 2, 1, 0}, /* stride 2 on rows of 16 (direct16): the forward's row pairs with an
                                        * odd OH, channel groups cut short */
        {2, 5, 12, 16, 9, 3, 2, 1, 0}, /* stride 2 on rows of 16, H a multiple of 4: direct16's float16 dw
                                        * and dx (dy row pairs; dx's last rows read a dy row past OH) */
    };
    /* every algorithm against the plain-C reference, then the automatic choice */
    static const eos_conv_algo algos[] = {EOS_CONV_GEMM,  EOS_CONV_PANEL,    EOS_CONV_DIRECT, EOS_CONV_WINOGRAD,
                                          EOS_CONV_TILED, EOS_CONV_DIRECT16, EOS_CONV_AUTO};
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
            /* direct16 also runs stride 2 on rows of 32 and 16, all three directions */
            int fits16 = fits || (s.R == 3 && s.stride == 2 && s.pad == 1 && (s.W == 16 || s.W == 32));
            /* tiny (Oclgrind): direct and winograd only where they apply (elsewhere they run
             * panel, which its own pass checks), and the automatic choice, which times every
             * candidate three times, on two shapes (the one whose choices are read back below) */
            int direct = algos[a] == EOS_CONV_DIRECT || algos[a] == EOS_CONV_DIRECT16;
            if (test_tiny() && ((direct && !(algos[a] == EOS_CONV_DIRECT16 ? fits16 : fits)) ||
                                (algos[a] == EOS_CONV_WINOGRAD && !wfits) ||
                                (algos[a] == EOS_CONV_AUTO && i > 1)))
                continue;
            if (algos[a] == EOS_CONV_AUTO)
                assert_true(used != EOS_CONV_AUTO && (used != EOS_CONV_DIRECT || fits) &&
                            (used != EOS_CONV_DIRECT16 || fits16) && (used != EOS_CONV_WINOGRAD || wfits));
            else if (direct)
                assert_int_equal(used, (algos[a] == EOS_CONV_DIRECT16 ? fits16 : fits) ? algos[a] : EOS_CONV_PANEL);
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
    eos_conv_shape s = {2, 3, 4, 32, 5, 3, 1, 1};  /* every algorithm applies */
    /* the runs below on 32 columns, tiny (Oclgrind): 8 (16 pairs of three directions took 8 s
     * each there); the keys after them stay on s */
    const int W = test_tiny() ? 8 : 32;
    const conv_case c = {2, 3, 4, W, 5, 3, 1, 1, 1};
    eos_conv_shape sr = {2, 3, 4, W, 5, 3, 1, 1};
    static const eos_conv_algo algos[] = {EOS_CONV_GEMM,     EOS_CONV_PANEL, EOS_CONV_DIRECT, EOS_CONV_WINOGRAD,
                                          EOS_CONV_DIRECT16, EOS_CONV_TILED};
    eos_workspace ws = {0};
    eos_conv_algo used;
    /* every (dw, dx) pair, the forward rotating through the six; tiny (Oclgrind): the pairs of
     * the first five (a tiled launch takes 15-90 s there; test_conv2d_tiled checks it) */
    const int na = test_tiny() ? 5 : 6;
    for (int i = 0; i < na * na; i++) {
        eos_conv_algo f = algos[(i + 1) % na], dw = algos[i / na], dx = algos[i % na];
        char list[256];
        snprintf(list, sizeof list, "2 3 4 %d 5 3 1 1 fwd %s; 2 3 4 %d 5 3 1 1 dw %s; 2 3 4 %d 5 3 1 1 dx %s;", W,
                 eos_conv_algo_name(f), W, eos_conv_algo_name(dw), W, eos_conv_algo_name(dx));
        EOS_ASSERT_OK(eos__conv_choices_import(rt, list));
        /* tiled is panel where the device's work-groups are too small for it (llvmpipe) */
        const int tiled = eos__conv_tiled_usable(rt);
        EOS_ASSERT_OK(eos_conv_algo_for_dir(rt, &sr, EOS_CONV_FORWARD, &used));
        assert_int_equal(used, f == EOS_CONV_TILED && !tiled ? EOS_CONV_PANEL : f);
        EOS_ASSERT_OK(eos_conv_algo_for_dir(rt, &sr, EOS_CONV_WEIGHT_GRAD, &used));
        assert_int_equal(used, dw == EOS_CONV_TILED && !tiled ? EOS_CONV_PANEL : dw);
        EOS_ASSERT_OK(eos_conv_algo_for_dir(rt, &sr, EOS_CONV_DATA_GRAD, &used));
        assert_int_equal(used, dx == EOS_CONV_TILED && !tiled ? EOS_CONV_PANEL : dx);
        /* the workspace keeps the last pair's buffers: a stale re-layout would show */
        run_conv(rt, &c, &ws);
    }
    /* bench layers' rows carry each direction's own algorithm */
    {
        char list[256];
        snprintf(list, sizeof list, "2 3 4 %d 5 3 1 1 fwd direct; 2 3 4 %d 5 3 1 1 dw panel; 2 3 4 %d 5 3 1 1 dx gemm;",
                 W, W, W);
        EOS_ASSERT_OK(eos__conv_choices_import(rt, list));
        size_t nx = (size_t)2 * 3 * 4 * W, nw = 5 * 3 * 9, ny = (size_t)2 * 5 * 4 * W;
        eos_tensor X = dev(rt, NULL, nx), Wt = dev(rt, NULL, nw), Y = dev(rt, NULL, ny), DX = dev(rt, NULL, nx),
                   DW = dev(rt, NULL, nw);
        eos_runtime_profile_start(rt);
        EOS_ASSERT_OK(eos_conv2d_forward(rt, &sr, &X, &Wt, NULL, &Y, &ws));
        EOS_ASSERT_OK(eos_conv2d_backward(rt, &sr, &X, &Wt, &Y, &DX, &DW, NULL, &ws));
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
    snprintf(id, sizeof id, "v15|%s|%s|%s", d->name, d->platform_name, d->driver_version);
    for (char *q = id; *q; q++)
        if (*q == ' ' || *q == '\t' || *q == '\n') *q = '_';
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    /* v10 to v13 lines, the format of today timed before tiled and direct16 (and its stride-2
     * kernels) existed, are timed again too */
    fprintf(f,
            "%s\nv9%s 0 3 4 32 5 3 1 1 direct\n%s 4 3 4 32 5 3 1 1 direct\nv10%s 4 3 4 32 5 3 1 1 fwd direct\n"
            "v11%s 4 3 4 32 5 3 1 1 fwd direct\nv13%s 4 3 4 32 5 3 1 1 fwd direct\n",
            EOS__CONV_ALGOS_MARKER_V9, strchr(id, '|'), id, strchr(id, '|'), strchr(id, '|'), strchr(id, '|'));
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
     * picked; may[a - 1]: algorithm a may be picked (gemm, panel, direct, winograd, tiled, direct16) */
    static const struct { const char *skip; int may[6]; } skips[] = {{"gemm,panel,direct,tiled,direct16", {0, 0, 0, 1, 0, 0}},
                                                                     {"winograd,gemm", {0, 1, 1, 0, 1, 1}},
                                                                     {"tiled,direct", {1, 1, 0, 1, 0, 1}}};
    const char *given = getenv("EOS_CONV_AUTO_SKIP");  /* the caller's (tests/oclgrind.sh sets it), put back */
    char *keep_skip = given ? strdup(given) : NULL;
    for (int k = 0; k < 3; k++) {
        setenv("EOS_CONV_AUTO_SKIP", skips[k].skip, 1);
        eos_conv_shape sk = s;
        sk.N = 3 + k;  /* a key not timed yet; one direction each */
        EOS_ASSERT_OK(eos_conv_algo_for_dir(rt, &sk, (eos_conv_dir)k, &used));
        if (used < EOS_CONV_GEMM || used > EOS_CONV_DIRECT16 || !skips[k].may[used - EOS_CONV_GEMM])
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

/* The direct weight gradient in slices of the batch (host/nn/conv.c: (C + K) H W floats an image,
 * about 1 MiB a slice): 3 + 5 channels of 32 x 32 are 32 KiB an image, so 40 images make two
 * slices, the second short, summed by eos_conv_dw_reduce; both widths against the reference. */
static void test_conv_dw_slices(void **state) {
    eos_runtime_t rt = *state;
    if (test_tiny()) skip();  /* Oclgrind: 40 images of 32 x 32 take minutes; test_loop_cap slices small ones */
    static const conv_case c = {40, 3, 32, 32, 5, 3, 1, 1, 0};
    static const eos_conv_algo algos[2] = {EOS_CONV_DIRECT, EOS_CONV_DIRECT16};
    eos_workspace ws = {0};
    for (int a = 0; a < 2; a++) {
        eos_runtime_set_conv_algo(rt, algos[a]);
        eos_runtime_profile_start(rt);
        run_conv(rt, &c, &ws);
        long reduces = test_kernel_calls(rt, "eos_conv_dw_reduce", 0), dws = test_kernel_calls(rt, "eos_conv3x3_dw2_w32", 1);
        eos_runtime_profile_stop(rt);
        assert_true(dws >= 1 && reduces == dws);
    }
    eos_workspace_free(&ws);
    eos_runtime_set_conv_algo(rt, EOS_CONV_AUTO);
}

/* what the device allows the fused winograd kernel (host/nn/conv.c wino_fused_fits): local memory
 * for Ci KiB of tiles + 16 KiB of products, the GEMM loop's trips under a cap */
static int rt_wino_fusable(eos_runtime_t rt, int Ci, int Ko) {
    const eos_device_info *d = eos_runtime_device(rt);
    size_t cap = eos__loop_cap(rt), trips = (size_t)(Ko + 15) / 16 * 16 * Ci + 2 * (size_t)Ci + 64;
    return (size_t)Ci * 1024 + 16384 <= d->local_mem_bytes && (!cap || trips < cap);
}

/* The data gradient with a residual's gradient added (eos__conv2d_backward_add, ResNet's identity
 * shortcuts): bit for bit the data gradient, then eos_add_inplace, for every algorithm (the same
 * single addition); the add runs in the stores, no eos_add_inplace, where the algorithm has the
 * epilogue: direct, direct16 and fused winograd at stride 1. Rows of 32, 16 and 8, and a stride 2
 * (every algorithm adds separately there). */
static void test_conv_backward_add(void **state) {
    eos_runtime_t rt = *state;
    static const conv_case cases[] = {{2, 3, 4, 32, 5, 3, 1, 1, 0}, {1, 6, 8, 16, 4, 3, 1, 1, 0},
                                      {2, 5, 8, 8, 18, 3, 1, 1, 0}, {1, 4, 6, 16, 3, 3, 2, 1, 0}};
    static const eos_conv_algo algos[] = {EOS_CONV_GEMM, EOS_CONV_PANEL, EOS_CONV_DIRECT, EOS_CONV_WINOGRAD,
                                          EOS_CONV_DIRECT16};
    eos__conv_set_wino_gemm(1);  /* the panel side, where winograd runs fused */
    eos_workspace ws = {0};
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        const conv_case *c = &cases[t];
        eos_conv_shape s = {c->N, c->C, c->H, c->W, c->K, 3, c->stride, 1};
        int OH = eos_conv_out(c->H, 3, c->stride, 1), OW = eos_conv_out(c->W, 3, c->stride, 1);
        size_t nx = (size_t)c->N * c->C * c->H * c->W, nw = (size_t)c->K * c->C * 9, ny = (size_t)c->N * c->K * OH * OW;
        float *x = rnd(nx, -1, 1), *w = rnd(nw, -1, 1), *r = rnd(ny, -1, 1), *g = rnd(nx, -1, 1);
        eos_tensor X = dev(rt, x, nx), Wt = dev(rt, w, nw), DY = dev(rt, r, ny), G = dev(rt, g, nx);
        eos_tensor DX = dev(rt, NULL, nx), DX2 = dev(rt, NULL, nx), DW = dev(rt, NULL, nw);
        for (size_t a = 0; a < sizeof algos / sizeof algos[0]; a++) {
            eos_runtime_set_conv_algo(rt, algos[a]);
            eos_conv_algo used;
            EOS_ASSERT_OK(eos_conv_algo_for_dir(rt, &s, EOS_CONV_DATA_GRAD, &used));
            EOS_ASSERT_OK(eos_conv2d_backward(rt, &s, &X, &Wt, &DY, &DX, &DW, NULL, &ws));
            EOS_ASSERT_OK(eos_add_inplace(rt, nx, &DX, &G));
            eos_runtime_profile_start(rt);
            EOS_ASSERT_OK(eos__conv2d_backward_add(rt, &s, &X, &Wt, &DY, &DX2, &DW, &G, &ws));
            long adds = test_kernel_calls(rt, "eos_add_inplace", 0);
            eos_runtime_profile_stop(rt);
            int stores = c->stride == 1 && (used == EOS_CONV_DIRECT || used == EOS_CONV_DIRECT16 ||
                                            (used == EOS_CONV_WINOGRAD && eos__conv_wino_fused(rt, c->H, c->W, c->K, c->C)));
            assert_int_equal(adds, stores ? 0 : 1);
            float *want = host(&DX, nx), *got = host(&DX2, nx);
            for (size_t i = 0; i < nx; i++)
                if (got[i] != want[i])
                    fail_msg("case %zu, %s: dx + add element %zu got %.9g want %.9g", t, eos_conv_algo_name(used), i,
                             got[i], want[i]);
            free(want);
            free(got);
        }
        eos_tensor *all[] = {&X, &Wt, &DY, &G, &DX, &DX2, &DW};
        for (size_t k = 0; k < 7; k++) eos_tensor_free(all[k]);
        free(x); free(w); free(r); free(g);
    }
    eos_workspace_free(&ws);
    eos__conv_set_wino_gemm(-1);
    eos_runtime_set_conv_algo(rt, EOS_CONV_AUTO);
}

static void test_conv2d_winograd(void **state) {
    eos_runtime_t rt = *state;
    /* odd sizes (partial tiles), channel counts not multiples of 8, N 1 and 3; then the fused
     * kernel's three widths, with output channels past one group of 16 (17 and 20: a group cut
     * short) and a bias (its forward unfused) */
    static const conv_case cases[] = {
        {1, 3, 7, 7, 5, 3, 1, 1, 1},  {3, 13, 5, 9, 11, 3, 1, 1, 0}, {3, 5, 8, 8, 9, 3, 1, 1, 1},
        {1, 17, 1, 3, 6, 3, 1, 1, 0}, {3, 2, 6, 11, 3, 3, 1, 1, 1},  {2, 3, 6, 32, 17, 3, 1, 1, 0},
        {2, 20, 4, 16, 5, 3, 1, 1, 0}, {1, 7, 16, 8, 18, 3, 1, 1, 1},
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
        eos_runtime_profile_start(rt);
        EOS_ASSERT_OK(eos_conv2d_forward(rt, &s, &X, &Wt, c->bias ? &B : NULL, &Y, &ws));
        EOS_ASSERT_OK(eos_conv2d_backward(rt, &s, &X, &Wt, &DY, &DX, &DW, c->bias ? &DB : NULL, &ws));
        long fused = test_kernel_calls(rt, "eos_wino_w", 1);
        eos_runtime_profile_stop(rt);
        /* fused with the panel GEMMs where the shape fits (rows of 32, 16 or 8, H a multiple of
         * 2, 4 or 8) and the device's local memory and loop cap allow: the forward (without a
         * bias) and dx */
        int ffits = (W == 32 && H % 2 == 0) || (W == 16 && H % 4 == 0) || (W == 8 && H % 8 == 0);
        assert_int_equal(eos__conv_wino_fused(rt, H, W, C, K), t % 2 && ffits && rt_wino_fusable(rt, C, K));
        assert_int_equal(eos__conv_wino_fused(rt, H, W, K, C), t % 2 && ffits && rt_wino_fusable(rt, K, C));
        assert_int_equal(fused, (!c->bias && eos__conv_wino_fused(rt, H, W, C, K)) + eos__conv_wino_fused(rt, H, W, K, C));
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
        {3, 7, 13, 16, 11, 3, 2, 1, 1},  /* stride 2 on rows of 16 (direct16): OH 7, channel groups cut short */
        {3, 7, 20, 16, 11, 3, 2, 1, 1},  /* stride 2 on rows of 16, H a multiple of 4: direct16's float16 dw, dx */
    };
    /* tiny (Oclgrind): the same kinds of prime extents, about a hundredth of the work */
    static const conv_case tiny[] = {
        {3, 3, 5, 32, 5, 3, 1, 1, 1},    /* direct rows of 32: (3, 3, 5) ranges */
        {1, 1, 61, 8, 1, 3, 1, 1, 0},    /* rows of 8: 61 rows, winograd's 31 tile rows */
        {1, 37, 1, 16, 7, 3, 1, 1, 1},   /* rows of 16: 37 channels (Kc 333), one panel */
        {2, 2, 35, 35, 3, 3, 2, 1, 1},   /* stride 2, panel only: 21 panels in 2 splits */
        {2, 3, 7, 32, 5, 3, 2, 1, 1},    /* stride 2 on rows of 32 (direct16): odd H */
        {1, 3, 8, 16, 5, 3, 2, 1, 1},    /* stride 2 on rows of 16, H a multiple of 4 */
    };
    const conv_case *list = test_tiny() ? tiny : cases;
    static const eos_conv_algo algos[] = {EOS_CONV_GEMM,     EOS_CONV_PANEL, EOS_CONV_DIRECT, EOS_CONV_WINOGRAD,
                                          EOS_CONV_WINOGRAD, EOS_CONV_DIRECT16};
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
    static const eos_conv_algo algos[] = {EOS_CONV_GEMM, EOS_CONV_PANEL, EOS_CONV_DIRECT, EOS_CONV_DIRECT16};
    size_t nmax = 2 * 5 * 16 * 16;
    eos_tensor X = dev(rt, NULL, nmax), Wt = dev(rt, NULL, nmax), Y = dev(rt, NULL, nmax), DX = dev(rt, NULL, nmax),
               DW = dev(rt, NULL, nmax);
    EOS_ASSERT_OK(eos_tensor_fill(&X, 0.5f));
    EOS_ASSERT_OK(eos_tensor_fill(&Wt, 0.25f));
    eos_workspace ws = {0};
    for (size_t k = 0; k < 4; k++) {
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
            /* neither direct applies to stride 2 on rows of 8: panel runs it */
            const int direct = algos[k] == EOS_CONV_DIRECT || algos[k] == EOS_CONV_DIRECT16;
            assert_int_equal(rows[i].algo, direct && c == &b ? EOS_CONV_PANEL : algos[k]);
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

/* run in this order by tests/nn/test_layers.c */
const struct CMUnitTest eos_tests_conv[] = {
    cmocka_unit_test(test_conv2d),
    cmocka_unit_test(test_conv2d_tiled),
    cmocka_unit_test(test_conv_dw_slices),
    cmocka_unit_test(test_conv_backward_add),
    cmocka_unit_test(test_conv2d_winograd),
    cmocka_unit_test(test_conv_profile),
    cmocka_unit_test(test_gpu_launch_shapes),
    cmocka_unit_test(test_conv_choices),
};
const size_t eos_tests_conv_n = sizeof eos_tests_conv / sizeof eos_tests_conv[0];
