/* ResNet-s pinned to PyTorch (tests/golden/make_resnet_golden.py): a ResNet-8 on a fixed batch
 * of 8 images: logits, loss, every parameter gradient and the BN running statistics after one
 * training step, the losses of 5 SGD steps and two weights after them, and the evaluation
 * logits of a PyTorch-made model. Plus save/load round trips and the initialisation. */
#include "test_common.h"
#include "internal.h"
#include "ref/gemm_ref.h"

#include <math.h>
#include <string.h>

typedef struct {
    char name[128];
    int ndim;
    uint32_t dims[8];
    size_t numel;
    float *data;
} golden;

static golden *g_gold;
static size_t g_ngold;

/* read an EOSGOLD1 file into g_gold (freeing what was there) */
static void load_golden(const char *path) {
    for (size_t i = 0; i < g_ngold; i++) free(g_gold[i].data);
    free(g_gold);
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    char magic[8];
    uint32_t hdr[2];
    assert_int_equal(fread(magic, 1, 8, f), 8);
    assert_memory_equal(magic, "EOSGOLD1", 8);
    assert_int_equal(fread(hdr, 4, 2, f), 2);
    assert_int_equal(hdr[0], 1);
    g_ngold = hdr[1];
    g_gold = calloc(g_ngold, sizeof *g_gold);
    for (size_t i = 0; i < g_ngold; i++) {
        uint32_t len, nd;
        assert_int_equal(fread(&len, 4, 1, f), 1);
        assert_true(len < sizeof g_gold[i].name);
        assert_int_equal(fread(g_gold[i].name, 1, len, f), len);
        assert_int_equal(fread(&nd, 4, 1, f), 1);
        g_gold[i].ndim = (int)nd;
        assert_int_equal(fread(g_gold[i].dims, 4, nd, f), nd);
        g_gold[i].numel = 1;
        for (uint32_t d = 0; d < nd; d++) g_gold[i].numel *= g_gold[i].dims[d];
        g_gold[i].data = malloc(g_gold[i].numel * sizeof(float));
        assert_int_equal(fread(g_gold[i].data, 4, g_gold[i].numel, f), g_gold[i].numel);
    }
    fclose(f);
}

static const golden *gold(const char *name) {
    for (size_t i = 0; i < g_ngold; i++)
        if (!strcmp(g_gold[i].name, name)) return &g_gold[i];
    fail_msg("golden tensor %s missing", name);
    return NULL;
}

static void expect_close(const char *what, const float *got, const float *want, size_t n, double atol, double rtol) {
    size_t worst;
    double v = eos_ref_max_violation(got, want, n, atol, rtol, &worst);
    if (v > 1.0) fail_msg("%s: element %zu got %.7g, PyTorch %.7g (%.2fx tolerance)", what, worst, got[worst], want[worst], v);
}

static double max_abs(const float *v, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(v[i]));
    return m;
}

/* The golden of the tests below: 8 images of 32 x 32 and 5 SGD steps, or in tiny mode (Oclgrind)
 * resnet8_tiny_golden.bin (make_resnet_golden.py --tiny): the same network and checks on 2
 * images of 8 x 8 and 2 steps. */
static void golden_shape(int *B, int *S, int *steps) {
    *B = test_tiny() ? 2 : 8;
    *S = test_tiny() ? 8 : 32;
    *steps = test_tiny() ? 2 : 5;
    load_golden(test_tiny() ? EOS_GOLDEN_DIR "/resnet8_tiny_golden.bin" : EOS_GOLDEN_DIR "/resnet8_golden.bin");
}

static void test_one_step_matches_pytorch(void **state) {
    eos_runtime_t rt = *state;
    eos_resnet_t m;
    int B, S, steps;
    golden_shape(&B, &S, &steps);
    EOS_ASSERT_OK(eos_resnet_load(rt, EOS_GOLDEN_DIR "/resnet8_init.safetensors", &m));
    assert_int_equal(eos_resnet_blocks_per_stage(m), 1);
    assert_int_equal(eos_resnet_classes(m), 10);
    const golden *x = gold("input"), *yl = gold("labels");
    assert_int_equal(x->numel, (size_t)B * 3 * S * S);
    int32_t labels[8];
    for (int i = 0; i < B; i++) labels[i] = (int32_t)yl->data[i];
    EOS_ASSERT_OK(eos_resnet_forward(m, 1, B, S, S, x->data));
    float logits[80], loss;
    EOS_ASSERT_OK(eos_resnet_outputs(m, B, logits, NULL));
    /* tolerances: float32 through 8 layers; PyTorch and CLBlast sum in different orders. The
     * golden batch keeps every ReLU input >= 5e-6 from zero, so both sides agree on every mask. */
    expect_close("logits", logits, gold("logits")->data, (size_t)B * 10, 1e-4, 1e-4);
    EOS_ASSERT_OK(eos_resnet_backward(m, B, labels, NULL, &loss));
    assert_float_equal(loss, gold("loss")->data[0], 1e-5);
    size_t checked = 0;
    for (size_t i = 0; i < g_ngold; i++) {
        const golden *g = &g_gold[i];
        int is_grad = !strncmp(g->name, "grad.", 5), is_state = !strncmp(g->name, "state.", 6);
        if (!is_grad && !is_state) continue;
        float *got = malloc(g->numel * sizeof *got);
        EOS_ASSERT_OK(eos_resnet_get(m, g->name + (is_grad ? 5 : 6), is_grad, got, g->numel));
        /* gradients: relative to the tensor's largest entry (small entries are cancellation noise) */
        double atol = is_grad ? 2e-4 * max_abs(g->data, g->numel) + 1e-7 : 1e-5;
        expect_close(g->name, got, g->data, g->numel, atol, 1e-3);
        free(got);
        checked++;
    }
    assert_int_equal(checked, 23 + 14);  /* 23 learnable tensors, running mean and var of 7 BNs */
    float nbt;
    EOS_ASSERT_OK(eos_resnet_get(m, "layer2.0.bn2.num_batches_tracked", 0, &nbt, 1));
    assert_float_equal(nbt, 1.0f, 0);

    /* SGD steps on the same batch (the first one uses the gradients above): 5, tiny 2 */
    char key[64];
    snprintf(key, sizeof key, "losses%d", steps);
    const golden *ls = gold(key);
    float losses[5] = {loss};
    EOS_ASSERT_OK(eos_resnet_sgd_step(m, 0.1f, 0.9f, 2e-4f));
    for (int s = 1; s < steps; s++) {
        EOS_ASSERT_OK(eos_resnet_forward(m, 1, B, S, S, x->data));
        EOS_ASSERT_OK(eos_resnet_backward(m, B, labels, NULL, &losses[s]));
        EOS_ASSERT_OK(eos_resnet_sgd_step(m, 0.1f, 0.9f, 2e-4f));
    }
    expect_close("losses of the SGD steps", losses, ls->data, (size_t)steps, 1e-4, 2e-3);
    const char *after[] = {"linear.weight", "conv1.weight"};
    for (int k = 0; k < 2; k++) {
        snprintf(key, sizeof key, "after%d.%s", steps, after[k]);
        const golden *g = gold(key);
        float *got = malloc(g->numel * sizeof *got);
        EOS_ASSERT_OK(eos_resnet_get(m, after[k], 0, got, g->numel));
        expect_close(key, got, g->data, g->numel, 1e-4 * max_abs(g->data, g->numel), 1e-3);
        free(got);
    }
    eos_resnet_free(m);
}

static void test_pytorch_model_predictions(void **state) {
    eos_runtime_t rt = *state;
    eos_resnet_t m;
    int B, S, steps;
    golden_shape(&B, &S, &steps);
    EOS_ASSERT_OK(eos_resnet_load(rt, EOS_GOLDEN_DIR "/resnet8_torch.safetensors", &m));
    EOS_ASSERT_OK(eos_resnet_forward(m, 0, B, S, S, gold("input")->data));
    float logits[80];
    EOS_ASSERT_OK(eos_resnet_outputs(m, B, logits, NULL));
    const float *want = gold("eval_logits")->data;
    expect_close("eval logits", logits, want, (size_t)B * 10, 1e-4, 1e-4);
    for (int i = 0; i < B; i++) {  /* the same predicted class */
        int a = 0, b = 0;
        for (int c = 1; c < 10; c++) {
            if (logits[i * 10 + c] > logits[i * 10 + a]) a = c;
            if (want[i * 10 + c] > want[i * 10 + b]) b = c;
        }
        assert_int_equal(a, b);
    }
    /* evaluation does not move the running statistics */
    float nbt;
    EOS_ASSERT_OK(eos_resnet_get(m, "bn1.num_batches_tracked", 0, &nbt, 1));
    assert_float_equal(nbt, 7.0f, 0);
    eos_resnet_free(m);
}

/* Inference with each batch norm folded into its convolution (host/nn/resnet.c conv_bn: the
 * scale in the packed or transformed weights, shift, residual and ReLU in the direct kernels'
 * epilogue) against the unfused passes (EOS_BN_FUSE=0) on the PyTorch model, whose running
 * statistics are not the identity: both direct widths and fused winograd, the logits and the
 * features; the profile shows the fold ran (direct and winograd leave the two stride-2
 * convolutions to panel, so their batch norms stay passes of their own). */
/* the convolutions of the ResNet-8 on S x S images that fused winograd runs: the stride-1 ones
 * (the stem, layer1's two, layer2.0.conv2, layer3.0.conv2) where the device allows it */
static int wino_fused_convs(eos_runtime_t rt, int S) {
    return eos__conv_wino_fused(rt, S, S, 3, 16) + 2 * eos__conv_wino_fused(rt, S, S, 16, 16) +
           eos__conv_wino_fused(rt, S / 2, S / 2, 32, 32) + eos__conv_wino_fused(rt, S / 4, S / 4, 64, 64);
}

static void test_eval_fold_matches_unfused(void **state) {
    eos_runtime_t rt = *state;
    eos_resnet_t m;
    int B, S, steps;
    golden_shape(&B, &S, &steps);
    EOS_ASSERT_OK(eos_resnet_load(rt, EOS_GOLDEN_DIR "/resnet8_torch.safetensors", &m));
    const char *given = getenv("EOS_BN_FUSE");
    char *keep = given ? strdup(given) : NULL;
    static const eos_conv_algo algos[3] = {EOS_CONV_DIRECT, EOS_CONV_DIRECT16, EOS_CONV_WINOGRAD};
    float want[80], got[80], fw[8 * 64], fg[8 * 64];
    for (int a = 0; a < 3; a++) {
        eos_runtime_set_conv_algo(rt, algos[a]);
        setenv("EOS_BN_FUSE", "0", 1);
        EOS_ASSERT_OK(eos_resnet_forward(m, 0, B, S, S, gold("input")->data));
        EOS_ASSERT_OK(eos_resnet_outputs(m, B, want, fw));
        unsetenv("EOS_BN_FUSE");
        eos_runtime_profile_start(rt);
        EOS_ASSERT_OK(eos_resnet_forward(m, 0, B, S, S, gold("input")->data));
        EOS_ASSERT_OK(eos_resnet_outputs(m, B, got, fg));
        long packs = test_kernel_calls(rt, a == 2 ? "eos_wino_pack" : "eos_conv3x3_pack", 0);
        long applies = test_kernel_calls(rt, "eos_bn_apply", 1);
        eos_runtime_profile_stop(rt);
        assert_int_equal(packs + applies, 7);  /* the stem and 3 blocks x 2: folded, or a pass of its own */
        /* direct: the two stride-2 convolutions' batch norms, direct16 none (it runs their forward
         * too); tiny (8 x 8 images): also those of the rows of 4 and 2, where neither applies;
         * winograd: those its fused kernel does not run (the device's local memory decides) */
        assert_int_equal(applies, a == 2 ? 7 - wino_fused_convs(rt, S) : test_tiny() ? 4 : a == 1 ? 0 : 2);
        expect_close("folded eval logits", got, want, (size_t)B * 10, 1e-5, 1e-5);
        expect_close("folded eval features", fg, fw, (size_t)B * 64, 1e-5, 1e-5);
    }
    if (keep) setenv("EOS_BN_FUSE", keep, 1);
    free(keep);
    eos_runtime_set_conv_algo(rt, EOS_CONV_AUTO);
    eos_resnet_free(m);
}

/* Training's batch-norm statistics taken in the direct convolutions' epilogue (host/nn/resnet.c
 * conv_bn, eos__conv2d_forward_stats), and the backward's sums in fused winograd's data gradient
 * (eos__conv2d_backward_bn, forced on every layer), against the batch norm's own pass (EOS_BN_FUSE=0), on the
 * PyTorch model, a training step each from the same state: both direct widths and fused
 * winograd (statistics per block of 16 tiles), the logits
 * (normalised by the batch's statistics), the running estimates they move, the loss and the
 * gradients from the last block back to the stem (the backward uses the mean and invstd); the
 * profile shows
 * which convolutions took the statistics (direct16 also the stride-2 ones; tiny 8 x 8 images:
 * only the rows of 8). */
static void test_train_stats_match_unfused(void **state) {
    eos_runtime_t rt = *state;
    int B, S, steps;
    golden_shape(&B, &S, &steps);
    const char *given = getenv("EOS_BN_FUSE");
    char *keep = given ? strdup(given) : NULL;
    static const eos_conv_algo algos[3] = {EOS_CONV_DIRECT, EOS_CONV_DIRECT16, EOS_CONV_WINOGRAD};
    static const char *const bns[3] = {"bn1", "layer1.0.bn2", "layer3.0.bn1"};
    static const struct { const char *name; size_t n; } grads[] = {
        {"layer3.0.conv2.weight", 64 * 64 * 9}, {"layer3.0.bn1.weight", 64}, {"layer3.0.bn1.bias", 64},
        {"layer2.0.bn2.weight", 32},            {"layer1.0.conv2.weight", 16 * 16 * 9}, {"layer1.0.bn1.bias", 16},
        {"bn1.weight", 16},                     {"conv1.weight", 16 * 3 * 9}};
    enum { NG = sizeof grads / sizeof grads[0] };
    float want[80], got[80], rwant[3][2][64], rgot[3][2][64], lwant = 0, lgot = 0;
    float *gwant[NG], *ggot[NG];
    for (int i = 0; i < NG; i++) {
        gwant[i] = malloc(grads[i].n * sizeof(float));
        ggot[i] = malloc(grads[i].n * sizeof(float));
    }
    const golden *yl = gold("labels");
    int32_t labels[8];
    for (int i = 0; i < B; i++) labels[i] = (int32_t)yl->data[i];
    eos__conv_set_bn_sums(1);  /* the batch norm's backward sums in winograd's stores on every layer */
    for (int a = 0; a < 3; a++) {
        eos_runtime_set_conv_algo(rt, algos[a]);
        for (int fused = 0; fused < 2; fused++) {
            eos_resnet_t m;
            EOS_ASSERT_OK(eos_resnet_load(rt, EOS_GOLDEN_DIR "/resnet8_torch.safetensors", &m));
            if (fused) unsetenv("EOS_BN_FUSE");
            else setenv("EOS_BN_FUSE", "0", 1);
            eos_runtime_profile_start(rt);
            EOS_ASSERT_OK(eos_resnet_forward(m, 1, B, S, S, gold("input")->data));
            EOS_ASSERT_OK(eos_resnet_outputs(m, B, fused ? got : want, NULL));
            EOS_ASSERT_OK(eos_resnet_backward(m, B, labels, NULL, fused ? &lgot : &lwant));
            for (int i = 0; i < NG; i++)
                EOS_ASSERT_OK(eos_resnet_get(m, grads[i].name, 1, fused ? ggot[i] : gwant[i], grads[i].n));
            /* batch-norm passes that read the convolution's output for statistics, and the
             * backward's reduce passes */
            long reads = test_kernel_calls(rt, "eos_bn_stats", 0) + test_kernel_calls(rt, "eos_bn_stats_partial", 0);
            long reduces = test_kernel_calls(rt, "eos_bn_backward_reduce", 0) +
                           test_kernel_calls(rt, "eos_bn_backward_partial", 0) +
                           test_kernel_calls(rt, "eos_bn_backward_channel", 0);
            eos_runtime_profile_stop(rt);
            const long taken = a == 2 ? wino_fused_convs(rt, S) : test_tiny() ? 3 : a == 1 ? 7 : 5;
            assert_int_equal(reads, fused ? 7 - taken : 7);
            /* winograd: the backward sums of every batch norm whose gradient a fused winograd
             * data gradient writes (all of its convolutions but the stem's, which has none) */
            const long sums = a == 2 ? wino_fused_convs(rt, S) - eos__conv_wino_fused(rt, S, S, 3, 16) : 0;
            assert_int_equal(reduces, fused ? 7 - sums : 7);
            for (int b = 0; b < 3; b++) {
                const int C = b == 2 ? 64 : 16;
                char name[64];
                snprintf(name, sizeof name, "%s.running_mean", bns[b]);
                EOS_ASSERT_OK(eos_resnet_get(m, name, 0, fused ? rgot[b][0] : rwant[b][0], (size_t)C));
                snprintf(name, sizeof name, "%s.running_var", bns[b]);
                EOS_ASSERT_OK(eos_resnet_get(m, name, 0, fused ? rgot[b][1] : rwant[b][1], (size_t)C));
            }
            eos_resnet_free(m);
        }
        expect_close("training logits, statistics in the epilogue", got, want, (size_t)B * 10, 1e-4, 1e-4);
        assert_float_equal(lgot, lwant, 1e-5 * (1 + fabs(lwant)));
        for (int i = 0; i < NG; i++) {
            double scale = 0;  /* tolerances relative to the gradient's largest element */
            for (size_t j = 0; j < grads[i].n; j++) scale = fmax(scale, fabs(gwant[i][j]));
            expect_close(grads[i].name, ggot[i], gwant[i], grads[i].n, 1e-4 * scale + 1e-7, 1e-3);
        }
        for (int b = 0; b < 3; b++) {
            const size_t C = b == 2 ? 64 : 16;
            expect_close("running mean", rgot[b][0], rwant[b][0], C, 1e-5, 1e-4);
            expect_close("running var", rgot[b][1], rwant[b][1], C, 1e-5, 1e-4);
        }
    }
    for (int i = 0; i < NG; i++) {
        free(gwant[i]);
        free(ggot[i]);
    }
    if (keep) setenv("EOS_BN_FUSE", keep, 1);
    else unsetenv("EOS_BN_FUSE");
    free(keep);
    eos__conv_set_bn_sums(-1);
    eos_runtime_set_conv_algo(rt, EOS_CONV_AUTO);
}

static void test_save_load_and_init(void **state) {
    eos_runtime_t rt = *state;
    eos_resnet_t m, back;
    EOS_ASSERT_OK(eos_resnet_create(rt, 2, 3, 7, EOS_RESNET_HEAD_LINEAR, 42, &m));  /* resnet14, 7 classes */
    /* Kaiming normal: std sqrt(2 / fan_in) */
    float w[32 * 32 * 9];
    EOS_ASSERT_OK(eos_resnet_get(m, "layer2.1.conv2.weight", 0, w, 32 * 32 * 9));
    double s = 0, s2 = 0;
    for (int i = 0; i < 32 * 32 * 9; i++) { s += w[i]; s2 += (double)w[i] * w[i]; }
    double sd = sqrt(s2 / (32 * 32 * 9) - pow(s / (32 * 32 * 9), 2));
    assert_float_equal(sd, sqrt(2.0 / (32 * 9)), 0.03 * sqrt(2.0 / (32 * 9)));
    float gamma[16];
    EOS_ASSERT_OK(eos_resnet_get(m, "layer1.0.bn1.weight", 0, gamma, 16));
    for (int i = 0; i < 16; i++) assert_float_equal(gamma[i], 1.0f, 0);

    const char *base = getenv("EOS_TEST_TMP");
    char path[1024];
    snprintf(path, sizeof path, "%s/resnet14_roundtrip.safetensors", base && base[0] ? base : "/tmp");
    EOS_ASSERT_OK(eos_resnet_save(m, path));
    EOS_ASSERT_OK(eos_resnet_load(rt, path, &back));
    assert_int_equal(eos_resnet_blocks_per_stage(back), 2);
    assert_int_equal(eos_resnet_classes(back), 7);
    eos_rng r;
    eos_rng_seed(&r, 1, 2);
    /* tiny (Oclgrind): 2 images of 8 x 8, a sixteenth of the work (the two forwards took 2 minutes) */
    const int B = test_tiny() ? 2 : 4, S = test_tiny() ? 8 : 16;
    float x[4 * 3 * 16 * 16], la[28], lb[28];
    test_fill_uniform(&r, x, (size_t)B * 3 * S * S, -1, 1);
    EOS_ASSERT_OK(eos_resnet_forward(m, 0, B, S, S, x));
    EOS_ASSERT_OK(eos_resnet_outputs(m, B, la, NULL));
    EOS_ASSERT_OK(eos_resnet_forward(back, 0, B, S, S, x));
    EOS_ASSERT_OK(eos_resnet_outputs(back, B, lb, NULL));
    assert_memory_equal(la, lb, (size_t)B * 7 * sizeof la[0]);
    eos_resnet_free(back);
    eos_resnet_free(m);
    /* a file of another network is refused, naming what is wrong */
    eos_resnet_t bad;
    assert_int_equal(eos_resnet_load(rt, EOS_GOLDEN_DIR "/resnet8_torch.txt", &bad), EOS_ERR_FORMAT);
    assert_null(bad);
}

/* LDAM-DRW on a whole ResNet-8 (make_resnet_ldam_golden.py): the normalised head read from a
 * PyTorch file (linear.weight (64, 10), no bias), the LDAM loss with class weights through every
 * layer, SGD steps without and then with the weights, and the head handed to phase 3. */
static void test_ldam_network_matches_pytorch(void **state) {
    eos_runtime_t rt = *state;
    /* tiny (Oclgrind): make_resnet_ldam_golden.py --tiny, 4 images of 8 x 8 and no steps */
    const int B = test_tiny() ? 4 : 8, S = test_tiny() ? 8 : 16;
    load_golden(test_tiny() ? EOS_GOLDEN_DIR "/resnet8_ldam_tiny_golden.bin"
                            : EOS_GOLDEN_DIR "/resnet8_ldam_golden.bin");
    eos_resnet_t m;
    EOS_ASSERT_OK(eos_resnet_load(rt, EOS_GOLDEN_DIR "/resnet8_ldam_init.safetensors", &m));
    assert_int_equal(eos_resnet_head_kind(m), EOS_RESNET_HEAD_NORMED);
    assert_int_equal(eos_resnet_classes(m), 10);
    const golden *x = gold("input"), *yl = gold("labels"), *cnt = gold("counts"), *cw = gold("weights");
    assert_int_equal(x->numel, (size_t)B * 3 * S * S);
    int32_t labels[8];
    for (int i = 0; i < B; i++) labels[i] = (int32_t)yl->data[i];
    size_t counts[10];
    for (int c = 0; c < 10; c++) counts[c] = (size_t)cnt->data[c];
    float margins[10];
    eos_ldam_margins(counts, 10, 0.5f, margins);
    eos_loss_spec spec;
    EOS_ASSERT_OK(eos_loss_parse("ldam", &spec));
    spec.margins = margins;

    EOS_ASSERT_OK(eos_resnet_forward(m, 1, B, S, S, x->data));
    float cosv[80], loss;
    EOS_ASSERT_OK(eos_resnet_outputs(m, B, cosv, NULL));
    expect_close("cosines", cosv, gold("cos")->data, (size_t)B * 10, 1e-5, 1e-4);
    /* the wrong loss for this head is refused, and leaves the gradients alone */
    eos_loss_spec ce;
    EOS_ASSERT_OK(eos_loss_parse("ce", &ce));
    assert_int_equal(eos_resnet_backward_loss(m, B, labels, &ce, NULL, &loss), EOS_ERR_INVALID_ARG);
    EOS_ASSERT_OK(eos_resnet_backward_loss(m, B, labels, &spec, cw->data, &loss));
    assert_float_equal(loss, gold("loss")->data[0], 2e-4 * gold("loss")->data[0]);
    size_t checked = 0;
    for (size_t i = 0; i < g_ngold; i++) {
        const golden *g = &g_gold[i];
        if (strncmp(g->name, "grad.", 5)) continue;
        float *got = malloc(g->numel * sizeof *got);
        EOS_ASSERT_OK(eos_resnet_get(m, g->name + 5, 1, got, g->numel));
        expect_close(g->name, got, g->data, g->numel, 5e-4 * max_abs(g->data, g->numel) + 1e-7, 2e-3);
        free(got);
        checked++;
    }
    assert_int_equal(checked, 5);
    eos_resnet_free(m);

    /* 5 SGD steps from the file: 3 unweighted, 2 weighted (DRW's switch); tiny (Oclgrind): none,
     * the phase-3 checks below hold for any weights */
    EOS_ASSERT_OK(eos_resnet_load(rt, EOS_GOLDEN_DIR "/resnet8_ldam_init.safetensors", &m));
    float losses[5];
    for (int s = 0; s < (test_tiny() ? 0 : 5); s++) {
        EOS_ASSERT_OK(eos_resnet_forward(m, 1, B, S, S, x->data));
        EOS_ASSERT_OK(eos_resnet_backward_loss(m, B, labels, &spec, s >= 3 ? cw->data : NULL, &losses[s]));
        EOS_ASSERT_OK(eos_resnet_sgd_step(m, 0.1f, 0.9f, 2e-4f));
    }
    if (!test_tiny()) {
        expect_close("LDAM losses of 5 SGD steps", losses, gold("losses5")->data, 5, 1e-3, 3e-3);
        const golden *wa = gold("after5.linear.weight");
        float w[640];
        EOS_ASSERT_OK(eos_resnet_get(m, "linear.weight", 0, w, 640));
        expect_close("linear.weight after 5 steps", w, wa->data, 640, 1e-3 * max_abs(wa->data, 640), 3e-3);
    }

    /* phase 3's view: a linear head ranking the classes as the cosines do */
    float lw[640], lb[10], lin[80];
    EOS_ASSERT_OK(eos_resnet_forward(m, 0, B, S, S, x->data));
    float feat[8 * 64];
    EOS_ASSERT_OK(eos_resnet_outputs(m, B, cosv, feat));
    EOS_ASSERT_OK(eos_resnet_linear_head(m, lw, lb));
    for (int i = 0; i < B; i++) {
        double fn = 0;
        for (int f = 0; f < 64; f++) fn += (double)feat[i * 64 + f] * feat[i * 64 + f];
        for (int c = 0; c < 10; c++) {
            double z = lb[c];
            for (int f = 0; f < 64; f++) z += (double)feat[i * 64 + f] * lw[c * 64 + f];
            lin[i * 10 + c] = (float)(z / sqrt(fn));  /* = the cosine */
        }
    }
    expect_close("linear head / |features| = cosines", lin, cosv, (size_t)B * 10, 1e-5, 1e-4);
    /* putting a plain head on turns the network into a LINEAR one, saved with linear.bias */
    for (int c = 0; c < 10; c++) lb[c] = 0.25f * (float)c;
    EOS_ASSERT_OK(eos_resnet_replace_head(m, lw, lb));
    assert_int_equal(eos_resnet_head_kind(m), EOS_RESNET_HEAD_LINEAR);
    EOS_ASSERT_OK(eos_resnet_forward(m, 0, B, S, S, x->data));
    float after[80];
    EOS_ASSERT_OK(eos_resnet_outputs(m, B, after, NULL));
    for (int i = 0; i < B; i++)
        for (int c = 0; c < 10; c++) {
            double z = lb[c];
            for (int f = 0; f < 64; f++) z += (double)feat[i * 64 + f] * lw[c * 64 + f];
            lin[i * 10 + c] = (float)z;
        }
    expect_close("logits of the replaced head", after, lin, (size_t)B * 10, 1e-5, 1e-4);
    const char *base = getenv("EOS_TEST_TMP");
    char path[1024];
    snprintf(path, sizeof path, "%s/resnet8_ldam_replaced.safetensors", base && base[0] ? base : "/tmp");
    EOS_ASSERT_OK(eos_resnet_save(m, path));
    eos_resnet_free(m);
    EOS_ASSERT_OK(eos_resnet_load(rt, path, &m));
    assert_int_equal(eos_resnet_head_kind(m), EOS_RESNET_HEAD_LINEAR);
    float bias[10];
    EOS_ASSERT_OK(eos_resnet_get(m, "linear.bias", 0, bias, 10));
    assert_float_equal(bias[9], 2.25f, 0);
    eos_resnet_free(m);
}

/* a new NORMED network: unit-norm weight columns, no bias tensor */
static void test_normed_head_init(void **state) {
    eos_runtime_t rt = *state;
    eos_resnet_t m;
    EOS_ASSERT_OK(eos_resnet_create(rt, 1, 3, 5, EOS_RESNET_HEAD_NORMED, 9, &m));
    float w[64 * 5];
    EOS_ASSERT_OK(eos_resnet_get(m, "linear.weight", 0, w, 64 * 5));
    for (int c = 0; c < 5; c++) {
        double s2 = 0, mx = 0;
        for (int f = 0; f < 64; f++) { s2 += (double)w[f * 5 + c] * w[f * 5 + c]; mx = fmax(mx, fabs(w[f * 5 + c])); }
        assert_float_equal(s2, 1.0, 1e-5);
        assert_true(mx > 0.15 && mx < 0.4);  /* U(-1, 1) of 64 entries, scaled by about 1/sqrt(64/3) */
    }
    float b;
    assert_int_equal(eos_resnet_get(m, "linear.bias", 0, &b, 1), EOS_ERR_NOT_FOUND);
    eos_resnet_free(m);
}


/* Deeper than the 64 blocks the backward once kept sizes for on the stack: 25 blocks per stage
 * (resnet152, 75 blocks) trains a step on a tiny batch (the ASan build proves no write out of
 * bounds), and block counts past EOS_RESNET_MAX_BLOCKS are refused where networks are made. */
static void test_deep_network(void **state) {
    eos_runtime_t rt = *state;
    eos_resnet_t m;
    /* tiny (Oclgrind): the refusals only. What the deep step checks is the host's bookkeeping
     * (ASan); its kernels are ResNet-8's, which the golden tests run, here 1500 launches more */
    if (test_tiny()) goto refusals;
    EOS_ASSERT_OK(eos_resnet_create(rt, 25, 3, 4, EOS_RESNET_HEAD_LINEAR, 7, &m));
    eos_rng r;
    eos_rng_seed(&r, 3, 4);
    float x[2 * 3 * 8 * 8], loss;
    int32_t y[2] = {1, 3};
    test_fill_uniform(&r, x, sizeof x / sizeof x[0], -1, 1);
    EOS_ASSERT_OK(eos_resnet_forward(m, 1, 2, 8, 8, x));
    EOS_ASSERT_OK(eos_resnet_backward(m, 2, y, NULL, &loss));
    assert_true(isfinite(loss) && loss > 0);
    /* the gradient reached the stem through all 75 blocks */
    float g[16 * 3 * 9];
    EOS_ASSERT_OK(eos_resnet_get(m, "conv1.weight", 1, g, sizeof g / sizeof g[0]));
    double s2 = 0;
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++) {
        assert_true(isfinite(g[i]));
        s2 += (double)g[i] * g[i];
    }
    assert_true(s2 > 0);
    eos_resnet_free(m);

refusals:;
    eos_param_spec *spec;
    size_t n;
    assert_int_equal(eos_resnet_create(rt, EOS_RESNET_MAX_BLOCKS + 1, 3, 4, EOS_RESNET_HEAD_LINEAR, 7, &m),
                     EOS_ERR_INVALID_ARG);
    assert_null(m);
    assert_non_null(strstr(eos_last_error()->message, "201 blocks per stage, expected 1..200"));
    assert_int_equal(eos_resnet_param_specs(100000, 3, 4, EOS_RESNET_HEAD_LINEAR, &spec, &n), EOS_ERR_INVALID_ARG);
    assert_null(spec);
}

/* A file naming an absurd block (layer1.100000...) is refused from its names, before anything
 * is sized by the count, with the file, the tensor and the bound in the message. */
static void test_load_refuses_absurd_blocks(void **state) {
    eos_runtime_t rt = *state;
    const char *base = getenv("EOS_TEST_TMP");
    char path[1024];
    snprintf(path, sizeof path, "%s/resnet_absurd_blocks.safetensors", base && base[0] ? base : "/tmp");
    static const char *names[] = {"layer1.100000.conv1.weight", "layer3.200.bn1.weight", "layer2.99999999999999999999999.conv2.weight"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        float v = 0.5f;
        eos_named_tensor t[4] = {{"conv1.weight", EOS_DTYPE_F32, 1, {1}, 0, &v},
                                 {"layer1.0.conv1.weight", EOS_DTYPE_F32, 1, {1}, 0, &v},
                                 {"", EOS_DTYPE_F32, 1, {1}, 0, &v},
                                 {"linear.weight", EOS_DTYPE_F32, 1, {1}, 0, &v}};
        snprintf(t[2].name, sizeof t[2].name, "%s", names[k]);
        EOS_ASSERT_OK(eos_safetensors_write(path, t, 4));
        eos_resnet_t m;
        assert_int_equal(eos_resnet_load(rt, path, &m), EOS_ERR_FORMAT);
        assert_null(m);
        const char *msg = eos_last_error()->message;
        if (!strstr(msg, path) || !strstr(msg, names[k]) || !strstr(msg, "1..200 blocks per stage"))
            fail_msg("%s: unclear message: %s", names[k], msg);
    }
    remove(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_step_matches_pytorch),
        cmocka_unit_test(test_pytorch_model_predictions),
        cmocka_unit_test(test_eval_fold_matches_unfused),
        cmocka_unit_test(test_train_stats_match_unfused),
        cmocka_unit_test(test_save_load_and_init),
        cmocka_unit_test(test_ldam_network_matches_pytorch),
        cmocka_unit_test(test_normed_head_init),
        cmocka_unit_test(test_deep_network),
        cmocka_unit_test(test_load_refuses_absurd_blocks),
    };
    int rc = cmocka_run_group_tests(tests, test_runtime_setup, test_runtime_teardown);
    for (size_t i = 0; i < g_ngold; i++) free(g_gold[i].data);
    free(g_gold);
    return rc;
}
