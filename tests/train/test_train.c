/* Phase 1 end to end on a small generated dataset (a tiny network, a few steps: the loss must
 * fall), the learning-rate schedule against LDAM-DRW's adjust_learning_rate, the stratified
 * hold-out, the imbalance metrics on hand-checked confusion matrices, and reliability: interrupt
 * and resume to the same weights bit for bit, damaged checkpoints, NaN and out-of-memory stops. */
#include "test_common.h"
#include "internal.h"

#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

/* Tiny mode (EOS_TEST_TINY=1, tests/oclgrind.sh). Under Oclgrind a training step or an
 * evaluation batch costs about a minute whatever the batch (some 150 kernel launches, each
 * interpreted work-group by work-group), so tiny mode runs each device path of training once:
 * every loss and every rule for one step of one epoch, and the 300-class run of LDAM-DRW. The
 * other tests check what the host does around the same kernels (learning, files, resume bit for
 * bit, damaged checkpoints, NaN and out-of-memory stops: hundreds of steps under Oclgrind); they
 * run on PoCL, its basic device and rusticl in every ctest run, and in tiny mode on PoCL
 * (EOS_TEST_TINY=1 without Oclgrind) with at most TINY_STEPS steps an epoch and cut splits. */
enum { TINY_STEPS = 3 };

/* under Oclgrind (tests/oclgrind.sh sets EOS_TEST_OCLGRIND=1): a test about host behaviour only */
static int oclgrind_skip(const char *test) {
    const char *e = getenv("EOS_TEST_OCLGRIND");
    if (!test_tiny() || !e || strcmp(e, "1")) return 0;
    printf("# %s: skipped under Oclgrind (host behaviour around kernels the other tests run)\n", test);
    return 1;
}

/* batches per epoch: max_steps (0: all), capped in tiny mode */
static int steps_cap(int max_steps) {
    if (!test_tiny()) return max_steps;
    return max_steps > 0 && max_steps < TINY_STEPS ? max_steps : TINY_STEPS;
}

static void test_lr_schedule(void **state) {
    (void)state;
    /* 200 epochs: warm-up 0.02, 0.04, ..., 0.1 over epochs 1-5; 0.1 to 160; 0.001 to 180; 1e-5 after */
    assert_float_equal(eos_lr_schedule(0.1f, 0, 200), 0.02f, 1e-7);
    assert_float_equal(eos_lr_schedule(0.1f, 4, 200), 0.1f, 1e-7);
    assert_float_equal(eos_lr_schedule(0.1f, 5, 200), 0.1f, 1e-7);
    assert_float_equal(eos_lr_schedule(0.1f, 159, 200), 0.1f, 1e-7);
    assert_float_equal(eos_lr_schedule(0.1f, 160, 200), 0.001f, 1e-9);
    assert_float_equal(eos_lr_schedule(0.1f, 179, 200), 0.001f, 1e-9);
    assert_float_equal(eos_lr_schedule(0.1f, 180, 200), 1e-5f, 1e-11);
    assert_float_equal(eos_lr_schedule(0.1f, 199, 200), 1e-5f, 1e-11);
    /* scaled to 20 epochs: warm-up over 0.5 epoch (so none), decay after 16 and 18 */
    assert_float_equal(eos_lr_schedule(0.1f, 0, 20), 0.1f, 1e-7);
    assert_float_equal(eos_lr_schedule(0.1f, 15, 20), 0.1f, 1e-7);
    assert_float_equal(eos_lr_schedule(0.1f, 16, 20), 0.001f, 1e-9);
    assert_float_equal(eos_lr_schedule(0.1f, 18, 20), 1e-5f, 1e-11);
    /* short runs (issue 16): the decays after round(0.8 E) and round(0.9 E) epochs, so lr 0.1
     * holds for most of any run. Unrounded, 1 epoch ran at 1e-5 and 2 epochs half at 1e-5. */
    assert_float_equal(eos_lr_schedule(0.1f, 0, 1), 0.1f, 1e-7);
    assert_float_equal(eos_lr_schedule(0.1f, 0, 2), 0.1f, 1e-7);
    assert_float_equal(eos_lr_schedule(0.1f, 1, 2), 0.1f, 1e-7);
    assert_float_equal(eos_lr_schedule(0.1f, 1, 3), 0.1f, 1e-7);
    assert_float_equal(eos_lr_schedule(0.1f, 2, 3), 0.001f, 1e-9);
    /* the quick profile's 10 epochs: 8 at 0.1, one at 0.001, one at 1e-5 */
    int at_base = 0;
    for (int e = 0; e < 10; e++) at_base += eos_lr_schedule(0.1f, e, 10) == 0.1f;
    assert_int_equal(at_base, 8);
    assert_float_equal(eos_lr_schedule(0.1f, 8, 10), 0.001f, 1e-9);
    assert_float_equal(eos_lr_schedule(0.1f, 9, 10), 1e-5f, 1e-11);
    /* every length up to 400: most epochs before the first decay (warm-up included), and the
     * milestones are the paper's at 200 */
    for (int E = 1; E <= 400; E++) {
        int undecayed = 0;
        for (int e = 0; e < E; e++) undecayed += eos_lr_schedule(0.1f, e, E) > 0.0015f;
        assert_int_equal(undecayed, eos_lr_milestone(E, 0));
        assert_true(2 * undecayed > E);
    }
    assert_int_equal(eos_lr_milestone(200, 0), 160);
    assert_int_equal(eos_lr_milestone(200, 1), 180);
}

static void test_metrics(void **state) {
    (void)state;
    /* 3 classes; confusion rows = truth: [[3,1,0],[0,1,1],[0,0,2]] */
    int32_t t[] = {0, 0, 0, 0, 1, 1, 2, 2};
    int32_t p[] = {0, 0, 0, 1, 1, 2, 2, 2};
    eos_metrics m;
    EOS_ASSERT_OK(eos_metrics_compute(3, t, p, 8, &m));
    assert_float_equal(m.acc, 6.0 / 8, 1e-12);
    assert_float_equal(m.recall[0], 0.75, 1e-12);
    assert_float_equal(m.recall[1], 0.5, 1e-12);
    assert_float_equal(m.recall[2], 1.0, 1e-12);
    assert_float_equal(m.bac, (0.75 + 0.5 + 1.0) / 3, 1e-12);
    /* F1: class 0 P=1 R=.75 -> 6/7; class 1 P=.5 R=.5 -> .5; class 2 P=2/3 R=1 -> .8 */
    assert_float_equal(m.fm, (6.0 / 7 + 0.5 + 0.8) / 3, 1e-12);
    /* GM (imbalanced-learn, macro): sqrt(mean sensitivity x mean specificity); specificities
     * 1, 5/6, 5/6 */
    assert_float_equal(m.gm, sqrt((0.75 + 0.5 + 1.0) / 3 * (1.0 + 5.0 / 6 + 5.0 / 6) / 3), 1e-12);
    assert_int_equal(m.confusion[0 * 3 + 1], 1);
    assert_int_equal(m.confusion[1 * 3 + 2], 1);
    eos_metrics_free(&m);
    /* a class never predicted and one never present */
    int32_t t2[] = {0, 0, 1, 1};
    int32_t p2[] = {0, 0, 0, 0};
    EOS_ASSERT_OK(eos_metrics_compute(3, t2, p2, 4, &m));
    assert_float_equal(m.bac, 0.5, 1e-12);  /* over the classes present, as scikit-learn */
    assert_float_equal(m.fm, (2 * 0.5 * 1 / 1.5) / 3, 1e-12);
    eos_metrics_free(&m);
    int32_t bad[] = {0, 5};
    assert_int_equal(eos_metrics_compute(3, bad, bad, 2, &m), EOS_ERR_INVALID_ARG);
}

/* 4 classes of S x S RGB images: a bright square in a class-specific quadrant, with noise. */
static void make_dataset_sized(eos_dataset *d, size_t per_class_train, size_t per_class_test, uint64_t seed, int S) {
    memset(d, 0, sizeof *d);
    d->classes = 4;
    d->channels = 3;
    d->height = d->width = S;
    d->class_names = calloc(4, sizeof *d->class_names);
    for (int c = 0; c < 4; c++) {
        d->class_names[c] = malloc(8);
        snprintf(d->class_names[c], 8, "q%d", c);
    }
    eos_rng r;
    eos_rng_seed(&r, seed, 9);
    eos_split *sp[2] = {&d->train, &d->test};
    size_t per[2] = {per_class_train, per_class_test};
    for (int s = 0; s < 2; s++) {
        size_t n = per[s] * 4;
        sp[s]->n = n;
        size_t img = (size_t)3 * S * S;
        sp[s]->pixels = malloc(n * img);
        sp[s]->labels = malloc(n * sizeof(int32_t));
        for (size_t i = 0; i < n; i++) {
            int c = (int)(i % 4);
            sp[s]->labels[i] = c;
            for (int ch = 0; ch < 3; ch++)
                for (int y = 0; y < S; y++)
                    for (int x = 0; x < S; x++) {
                        int in = (y < S / 2) == (c < 2) && (x < S / 2) == (c % 2 == 0);
                        int v = (in ? 180 : 60) + (int)(eos_rng_below(&r, 60)) - 30;
                        sp[s]->pixels[i * img + (ch * S + y) * S + x] = (uint8_t)v;
                    }
        }
    }
}

static void make_dataset(eos_dataset *d, size_t per_class_train, size_t per_class_test, uint64_t seed) {
    make_dataset_sized(d, per_class_train, per_class_test, seed, 8);
}

static void test_training_smoke(void **state) {
    eos_runtime_t rt = *state;
    if (oclgrind_skip(__func__)) return;
    eos_dataset d;
    /* tiny: 8 images a class in batches of 8, the same 24 steps */
    const int per = test_tiny() ? 8 : 32, B = test_tiny() ? 8 : 32;
    make_dataset(&d, (size_t)per, 8, 1);
    eos_resnet_t m;
    EOS_ASSERT_OK(eos_resnet_create(rt, 1, 3, 4, EOS_RESNET_HEAD_LINEAR, 5, &m));
    eos_loader L;
    eos_loader_options o = eos_loader_defaults(&d, (size_t)B);
    o.shuffle = 1;
    EOS_ASSERT_OK(eos_loader_init(&L, &d, &d.train, NULL, 0, &o));
    float x[32 * 192], first = 0, last = 0;
    int32_t y[32];
    for (int e = 0; e < 6; e++) {
        eos_loader_start_epoch(&L, (unsigned)e);
        size_t b;
        double sum = 0;
        int steps = 0;
        while ((b = eos_loader_next(&L, x, y)) > 0) {
            float loss;
            EOS_ASSERT_OK(eos_resnet_forward(m, 1, (int)b, 8, 8, x));
            EOS_ASSERT_OK(eos_resnet_backward(m, (int)b, y, NULL, &loss));
            EOS_ASSERT_OK(eos_resnet_sgd_step(m, 0.05f, 0.9f, 2e-4f));
            sum += loss;
            steps++;
        }
        if (e == 0) first = (float)(sum / steps);
        last = (float)(sum / steps);
    }
    printf("# smoke: mean loss epoch 1 %.4f, epoch 6 %.4f\n", first, last);
    assert_true(last < 0.5f * first);  /* 24 steps of SGD learn the quadrant */
    int32_t pred[32];
    EOS_ASSERT_OK(eos_predict(m, &d, &d.test, NULL, 0, 16, pred, NULL));
    int correct = 0;
    for (int i = 0; i < 32; i++) correct += pred[i] == d.test.labels[i];
    assert_true(correct >= 24);
    eos_loader_free(&L);
    eos_resnet_free(m);
    eos_dataset_free(&d);
}

static void test_train_run_writes_files(void **state) {
    eos_runtime_t rt = *state;
    if (oclgrind_skip(__func__)) return;
    eos_dataset d;
    make_dataset(&d, 20, 5, 2);
    const char *base = getenv("EOS_TEST_TMP");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/train-XXXXXX", base && base[0] ? base : "/tmp");
    mkdir(base && base[0] ? base : "/tmp", 0755);
    assert_non_null(mkdtemp(dir));
    eos_resnet_t m;
    EOS_ASSERT_OK(eos_resnet_create(rt, 1, 3, 4, EOS_RESNET_HEAD_LINEAR, 3, &m));
    eos_train_config cfg = eos_train_defaults();
    cfg.epochs = 3;
    cfg.batch = 16;
    cfg.max_steps = steps_cap(0);
    cfg.out_dir = dir;
    cfg.val_split = 0.25;
    eos_metrics met;
    size_t idx[80];
    assert_int_equal(eos_train_run(rt, m, &d, idx, 0, &cfg, &met), EOS_ERR_INVALID_ARG);  /* no images */
    for (size_t i = 0; i < 80; i++) idx[i] = i;
    EOS_ASSERT_OK(eos_train_run(rt, m, &d, idx, 80, &cfg, &met));
    assert_int_equal(met.n, 20);
    eos_metrics_free(&met);
    cfg.epochs = 1;
    EOS_ASSERT_OK(eos_train_run(rt, m, &d, NULL, 0, &cfg, &met));  /* NULL: every training image */
    eos_metrics_free(&met);
    cfg.epochs = 3;
    EOS_ASSERT_OK(eos_train_run(rt, m, &d, idx, 80, &cfg, &met));
    eos_metrics_free(&met);
    const char *files[] = {"model.safetensors", "train_log.csv", "metrics.json"};
    for (int i = 0; i < 3; i++) {
        char p[1200];
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        assert_int_equal(stat(p, &sb), 0);
        assert_true(sb.st_size > 0);
    }
    char p[1200], line[512];
    snprintf(p, sizeof p, "%s/train_log.csv", dir);
    FILE *f = fopen(p, "r");
    int lines = 0;
    while (fgets(line, sizeof line, f)) lines++;
    fclose(f);
    assert_int_equal(lines, 4);  /* header + 3 epochs */
    snprintf(p, sizeof p, "%s/metrics.json", dir);
    f = fopen(p, "r");
    char json[4096] = {0};
    assert_true(fread(json, 1, sizeof json - 1, f) > 0);
    fclose(f);
    const char *keys[] = {"\"acc\"", "\"bac\"", "\"gm\"", "\"fm\"", "\"per_class_recall\"", "\"confusion\"", "best validation macro-F1"};
    for (int i = 0; i < 7; i++) assert_non_null(strstr(json, keys[i]));
    eos_resnet_free(m);

    /* an explicit hold-out (the pipeline's pixel methods): the split val_split would draw, given
     * as val_indices with the rest as the list, trains the same weights and keeps the same epoch */
    size_t *tr, *va, ntr, nva;
    EOS_ASSERT_OK(eos_split_stratified(&d.train, 4, idx, 80, 0.25, cfg.seed, &tr, &ntr, &va, &nva));
    eos_metrics drawn, given;
    EOS_ASSERT_OK(eos_resnet_create(rt, 1, 3, 4, EOS_RESNET_HEAD_LINEAR, 3, &m));
    EOS_ASSERT_OK(eos_train_run(rt, m, &d, idx, 80, &cfg, &drawn));
    eos_resnet_free(m);
    EOS_ASSERT_OK(eos_resnet_create(rt, 1, 3, 4, EOS_RESNET_HEAD_LINEAR, 3, &m));
    cfg.val_split = 0;
    cfg.val_indices = va;
    cfg.val_n = nva;
    EOS_ASSERT_OK(eos_train_run(rt, m, &d, tr, ntr, &cfg, &given));
    assert_int_equal(given.n, drawn.n);
    for (int c = 0; c < 4; c++)
        for (int k = 0; k < 4; k++) assert_int_equal(given.confusion[c * 4 + k], drawn.confusion[c * 4 + k]);
    assert_true(given.bac == drawn.bac);
    eos_metrics_free(&drawn);
    eos_metrics_free(&given);
    snprintf(p, sizeof p, "%s/metrics.json", dir);
    f = fopen(p, "r");
    memset(json, 0, sizeof json);
    assert_true(fread(json, 1, sizeof json - 1, f) > 0);
    fclose(f);
    assert_non_null(strstr(json, "best validation macro-F1"));
    /* refused: both hold-outs at once, a position past the split */
    cfg.val_split = 0.25;
    assert_int_equal(eos_train_run(rt, m, &d, tr, ntr, &cfg, &given), EOS_ERR_INVALID_ARG);
    assert_non_null(strstr(eos_last_error()->message, "expected one hold-out"));
    cfg.val_split = 0;
    va[0] = d.train.n;
    assert_int_equal(eos_train_run(rt, m, &d, tr, ntr, &cfg, &given), EOS_ERR_INVALID_ARG);
    assert_non_null(strstr(eos_last_error()->message, "past the 80 training images"));
    free(tr);
    free(va);
    eos_resnet_free(m);
    eos_dataset_free(&d);
}

static void test_stratified_split(void **state) {
    (void)state;
    eos_dataset d;
    make_dataset(&d, 10, 1, 3);
    size_t idx[40], *tr, *va, ntr, nva;
    for (size_t i = 0; i < 40; i++) idx[i] = i;
    EOS_ASSERT_OK(eos_split_stratified(&d.train, 4, idx, 40, 0.2, 1, &tr, &ntr, &va, &nva));
    assert_int_equal(nva, 8);  /* 2 of each class */
    assert_int_equal(ntr, 32);
    int per[4] = {0};
    for (size_t i = 0; i < nva; i++) per[d.train.labels[va[i]]]++;
    for (int c = 0; c < 4; c++) assert_int_equal(per[c], 2);
    char seen[40] = {0};
    for (size_t i = 0; i < ntr; i++) seen[tr[i]]++;
    for (size_t i = 0; i < nva; i++) seen[va[i]]++;
    for (int i = 0; i < 40; i++) assert_int_equal(seen[i], 1);  /* a partition */
    free(tr);
    free(va);
    assert_int_equal(eos_split_stratified(&d.train, 4, idx, 40, 1.5, 1, &tr, &ntr, &va, &nva), EOS_ERR_INVALID_ARG);
    eos_dataset_free(&d);
}

/* every loss and rule runs through eos_train_run (two short epochs) and gives finite results */
static void test_losses_and_rules_run(void **state) {
    eos_runtime_t rt = *state;
    eos_dataset d;
    /* tiny (Oclgrind): 4 test images and batches of 4, a third of the images through the network
     * (the convolutions took 300 of the test's 350 s there) */
    make_dataset(&d, 16, test_tiny() ? 1 : 4, 4);
    size_t idx[40];
    size_t k = 0;
    for (size_t i = 0; i < 64 && k < 40; i++)
        if (d.train.labels[i] != 3 || i % 8 == 3) idx[k++] = i;  /* class 3 made rare */
    const char *losses[] = {"ce", "focal", "asl", "ldam"};
    for (int l = 0; l < 4; l++)
        for (int r = 0; r < 4; r++) {
            if (test_tiny() && r != l) continue;  /* tiny: each loss once, each rule once */
            char dir[1024];
            test_tmpdir(dir, sizeof dir, "rules");
            eos_resnet_t m;
            EOS_ASSERT_OK(eos_resnet_create(rt, 1, 3, 4, l == 3 ? EOS_RESNET_HEAD_NORMED : EOS_RESNET_HEAD_LINEAR, 1, &m));
            eos_train_config cfg = eos_train_defaults();
            cfg.epochs = test_tiny() ? 1 : 2;  /* tiny: one step of one epoch */
            cfg.batch = test_tiny() ? 4 : 8;
            cfg.max_steps = test_tiny() ? 1 : 2;
            cfg.out_dir = dir;
            EOS_ASSERT_OK(eos_loss_parse(losses[l], &cfg.loss));
            cfg.rule = (eos_train_rule)r;
            eos_metrics met;
            EOS_ASSERT_OK(eos_train_run(rt, m, &d, idx, k, &cfg, &met));
            assert_true(met.acc >= 0 && met.acc <= 1 && isfinite(met.fm));
            eos_metrics_free(&met);
            eos_resnet_free(m);
        }
    eos_train_rule rule;
    assert_int_equal(eos_rule_parse("sometimes", &rule), EOS_ERR_INVALID_ARG);
    /* a loss and a head that do not belong together are refused before any step */
    {
        char dir[1024];
        test_tmpdir(dir, sizeof dir, "mismatch");
        eos_resnet_t m;
        EOS_ASSERT_OK(eos_resnet_create(rt, 1, 3, 4, EOS_RESNET_HEAD_LINEAR, 1, &m));
        eos_train_config cfg = eos_train_defaults();
        cfg.epochs = 1;
        cfg.out_dir = dir;
        EOS_ASSERT_OK(eos_loss_parse("ldam", &cfg.loss));
        eos_metrics met;
        assert_int_equal(eos_train_run(rt, m, &d, idx, k, &cfg, &met), EOS_ERR_INVALID_ARG);
        assert_non_null(strstr(eos_last_error()->message, "normalised"));
        eos_resnet_free(m);
    }
    /* phase-1 variant names */
    eos_loss_spec loss;
    EOS_ASSERT_OK(eos_train_variant_parse("ldam-drw", &loss, &rule));
    assert_int_equal(loss.kind, EOS_LOSS_LDAM);
    assert_int_equal(rule, EOS_RULE_DRW);
    assert_float_equal(loss.s, 30.0f, 0);
    assert_float_equal(loss.max_m, 0.5f, 0);
    EOS_ASSERT_OK(eos_train_variant_parse("focal", &loss, &rule));
    assert_int_equal(loss.kind, EOS_LOSS_FOCAL);
    assert_int_equal(rule, EOS_RULE_NONE);
    assert_float_equal(loss.gamma, 2.0f, 0);
    EOS_ASSERT_OK(eos_train_variant_parse("ce-resample", &loss, &rule));
    assert_int_equal(rule, EOS_RULE_RESAMPLE);
    assert_int_equal(eos_train_variant_parse("ldam-often", &loss, &rule), EOS_ERR_INVALID_ARG);
    assert_int_equal(eos_train_variant_parse("hinge", &loss, &rule), EOS_ERR_INVALID_ARG);
    eos_dataset_free(&d);
}

/* More than 256 classes (issue 13): class-balanced rules and LDAM's margins used fixed tables
 * of 256 and refused larger data; 300 classes of 8 x 8 grey images, one or two of each, a
 * step of each rule and of LDAM-DRW. */
static void test_many_classes_rules_and_ldam(void **state) {
    eos_runtime_t rt = *state;
    enum { K = 300, S = 8 };
    eos_dataset d;
    memset(&d, 0, sizeof d);
    d.classes = K;
    d.channels = 1;
    d.height = d.width = S;
    d.class_names = calloc(K, sizeof *d.class_names);
    for (int c = 0; c < K; c++) {  /* heap strings, owned by the dataset */
        d.class_names[c] = malloc(16);
        snprintf(d.class_names[c], 16, "c%d", c);
    }
    eos_split *sp[2] = {&d.train, &d.test};
    eos_rng r;
    eos_rng_seed(&r, 3, 9);
    for (int s = 0; s < 2; s++) {
        /* training: every class once, the first half twice; tiny: a test split of 16 images */
        size_t n = s == 0 ? K + K / 2 : test_tiny() ? 16 : K;
        sp[s]->n = n;
        sp[s]->pixels = malloc(n * S * S);
        sp[s]->labels = malloc(n * sizeof(int32_t));
        for (size_t i = 0; i < n; i++) {
            sp[s]->labels[i] = (int32_t)(i % K);
            for (int p = 0; p < S * S; p++) sp[s]->pixels[i * S * S + p] = (uint8_t)eos_rng_below(&r, 256);
        }
    }
    static const struct { const char *variant; eos_resnet_head head; } runs[] = {
        {"ce-reweight", EOS_RESNET_HEAD_LINEAR}, {"ce-resample", EOS_RESNET_HEAD_LINEAR}, {"ldam-drw", EOS_RESNET_HEAD_NORMED}};
    for (size_t v = 0; v < sizeof runs / sizeof runs[0]; v++) {
        if (test_tiny() && v != 2) continue;  /* tiny: LDAM-DRW (the rules ran in the test above) */
        char dir[1024];
        test_tmpdir(dir, sizeof dir, "classes300");
        eos_resnet_t m;
        EOS_ASSERT_OK(eos_resnet_create(rt, 1, 1, K, runs[v].head, 1, &m));
        eos_train_config cfg = eos_train_defaults();
        cfg.epochs = 1;
        cfg.batch = test_tiny() ? 16 : 64;  /* tiny: the 300 classes' tables, a quarter of the images */
        cfg.max_steps = 1;
        cfg.out_dir = dir;
        EOS_ASSERT_OK(eos_train_variant_parse(runs[v].variant, &cfg.loss, &cfg.rule));
        eos_metrics met;
        EOS_ASSERT_OK(eos_train_run(rt, m, &d, NULL, 0, &cfg, &met));
        assert_int_equal(met.classes, K);
        assert_true(met.acc >= 0 && met.acc <= 1);
        eos_metrics_free(&met);
        eos_resnet_free(m);
    }
    eos_dataset_free(&d);
}


/* ---- reliability: interrupt and resume, damaged checkpoints, NaN, out of memory ------------- */

static volatile sig_atomic_t g_stop;

/* Acts once, at (epoch, step) after that step (step -1: the epoch's last step; 0: at the end
 * of the epoch, after its evaluations): sets g_stop, or injects a NaN. */
typedef struct {
    int epoch;
    long step;
    int inject;  /* 0: stop; 1: NaN into linear.bias (the loss sees it); 2: NaN into bn1.running_var or
                  * 3: conv1.weight (the loss does not: BN statistics, and ReLU's fmax drops NaN) */
    int fired;
    eos_resnet_t m;
} trigger;

static const char *g_damage;  /* a file the trigger damages on disk (one flipped bit) as it acts */

/* one exponent bit of the first value in the data section of a safetensors file, flipped in place */
static void flip_data_bit(const char *path) {
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    uint8_t len8[8], byte;
    assert_int_equal(fread(len8, 1, 8, f), 8);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | len8[i];
    assert_int_equal(fseek(f, (long)(8 + hlen + 3), SEEK_SET), 0);
    assert_int_equal(fread(&byte, 1, 1, f), 1);
    byte ^= 0x40;
    assert_int_equal(fseek(f, (long)(8 + hlen + 3), SEEK_SET), 0);
    assert_int_equal(fwrite(&byte, 1, 1, f), 1);
    fclose(f);
}

static void trigger_cb(const eos_train_progress *p, void *user) {
    trigger *t = user;
    if (!t || t->fired || p->epoch != t->epoch) return;
    int hit = t->step == 0 ? p->epoch_done
                           : !p->epoch_done && p->step == (t->step < 0 ? p->steps : (size_t)t->step);
    if (!hit) return;
    t->fired = 1;
    if (g_damage) flip_data_bit(g_damage);
    if (!t->inject) {
        g_stop = 1;
        return;
    }
    const char *name = t->inject == 1 ? "linear.bias" : t->inject == 2 ? "bn1.running_var" : "conv1.weight";
    size_t n = t->inject == 1 ? 4 : t->inject == 2 ? 16 : 16 * 3 * 9;
    float v[16 * 3 * 9];
    for (size_t i = 0; i < n; i++) v[i] = NAN;
    EOS_ASSERT_OK(eos_resnet_set(t->m, name, v, n));
}

typedef struct {
    const char *loss;
    eos_train_rule rule;
    double val_split;
    int max_steps;
} run_kind;

/* A 3-epoch resnet8 run into dir; init_seed picks the initial weights (a resumed run's must not matter). */
static eos_status train_once(eos_runtime_t rt, const eos_dataset *d, const size_t *idx, size_t n, const run_kind *k,
                             const char *dir, uint64_t init_seed, int resume, int batch, float lr, trigger *t,
                             eos_metrics *met) {
    eos_resnet_t m;
    int ldam = !strcmp(k->loss, "ldam");
    EOS_ASSERT_OK(eos_resnet_create(rt, 1, 3, 4, ldam ? EOS_RESNET_HEAD_NORMED : EOS_RESNET_HEAD_LINEAR, init_seed, &m));
    eos_train_config cfg = eos_train_defaults();
    cfg.epochs = 3;
    cfg.batch = batch;
    cfg.lr = lr;
    cfg.seed = 7;
    cfg.val_split = k->val_split;
    cfg.max_steps = steps_cap(k->max_steps);
    cfg.rule = k->rule;
    EOS_ASSERT_OK(eos_loss_parse(k->loss, &cfg.loss));
    cfg.out_dir = dir;
    cfg.resume = resume;
    cfg.stop = &g_stop;
    cfg.run_args = "test";
    if (t) {
        t->m = m;
        cfg.progress = trigger_cb;
        cfg.user = t;
    }
    g_stop = 0;
    eos_status st = eos_train_run(rt, m, d, idx, n, &cfg, met);
    eos_resnet_free(m);
    return st;
}

/* The header checksum made to match an edited header again (as a tool that rewrites the metadata
 * would), so that the checks behind it are reached: the 8 digits after the header's opening. */
static void reseal(uint8_t *b, size_t n) {
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | b[i];
    const char *prefix = "{\"__metadata__\":{\"" EOS_SAFETENSORS_HEADER_CRC_KEY "\":\"";
    size_t pl = strlen(prefix);
    if (n < 8 + hlen || hlen < pl + 8 || memcmp(b + 8, prefix, pl)) return;  /* cut short: nothing to seal */
    memcpy(b + 8 + pl, "00000000", 8);
    char crc[9];
    snprintf(crc, sizeof crc, "%08lx", crc32(0, b + 8, (uInt)hlen));
    memcpy(b + 8 + pl, crc, 8);
}

/* The final weights, BN statistics and momentum of two runs agree bit for bit, and so do their
 * models and their logs (but for the timing columns). */
static void assert_same_run(const char *a, const char *b) {
    char pa[1200], pb[1200];
    snprintf(pa, sizeof pa, "%s/%s", a, EOS_TRAIN_CHECKPOINT);
    snprintf(pb, sizeof pb, "%s/%s", b, EOS_TRAIN_CHECKPOINT);
    eos_safetensors fa, fb;
    EOS_ASSERT_OK(eos_safetensors_read(pa, &fa));
    EOS_ASSERT_OK(eos_safetensors_read(pb, &fb));
    assert_int_equal(fa.count, fb.count);
    size_t moms = 0;
    for (size_t i = 0; i < fa.count; i++) {
        const eos_named_tensor *x = &fa.tensors[i], *y = eos_safetensors_find(&fb, x->name);
        if (!y) fail_msg("%s lacks %s", pb, x->name);
        assert_int_equal(x->numel, y->numel);
        if (memcmp(x->data, y->data, x->numel * (x->dtype == EOS_DTYPE_I64 ? 8 : 4)))
            fail_msg("%s differs between %s and %s", x->name, a, b);
        moms += !strncmp(x->name, "mom.", 4);
    }
    assert_true(moms > 10);
    const char *keys[] = {"eos.epoch", "eos.step", "eos.best_fm", "eos.config", "eos.data"};
    for (int k = 0; k < 5; k++) assert_string_equal(eos_safetensors_meta(&fa, keys[k]), eos_safetensors_meta(&fb, keys[k]));
    eos_safetensors_free(&fa);
    eos_safetensors_free(&fb);
    size_t na, nb;
    snprintf(pa, sizeof pa, "%s/model.safetensors", a);
    snprintf(pb, sizeof pb, "%s/model.safetensors", b);
    uint8_t *ma = (uint8_t *)test_read_file(pa, &na), *mb = (uint8_t *)test_read_file(pb, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(ma, mb, na);
    free(ma);
    free(mb);
    /* the log: the first 7 columns (epoch .. test_bac) of every line */
    snprintf(pa, sizeof pa, "%s/train_log.csv", a);
    snprintf(pb, sizeof pb, "%s/train_log.csv", b);
    char *la = test_read_file(pa, &na), *lb = test_read_file(pb, &nb);
    char *sa, *sb, *ra = strtok_r(la, "\n", &sa), *rb = strtok_r(lb, "\n", &sb);
    int lines = 0;
    for (; ra && rb; ra = strtok_r(NULL, "\n", &sa), rb = strtok_r(NULL, "\n", &sb), lines++) {
        char *ca = ra, *cb = rb;
        for (int c = 0; c < 7; c++) {
            ca = strchr(ca, ',');
            cb = strchr(cb, ',');
            assert_non_null(ca);
            assert_non_null(cb);
            ca++;
            cb++;
        }
        if ((size_t)(ca - ra) != (size_t)(cb - rb) || strncmp(ra, rb, (size_t)(ca - ra))) fail_msg("log lines differ:\n%s\n%s", ra, rb);
    }
    assert_null(ra);
    assert_null(rb);
    assert_int_equal(lines, 4);
    free(la);
    free(lb);
}

static void test_resume_is_bit_identical(void **state) {
    eos_runtime_t rt = *state;
    if (oclgrind_skip(__func__)) return;
    eos_dataset d;
    make_dataset_sized(&d, 12, 4, 21, 16);  /* 16 x 16: crops and flips on */
    size_t idx[48];
    for (size_t i = 0; i < 48; i++) idx[i] = i;
    const run_kind kinds[] = {{"ce", EOS_RULE_NONE, 0.25, 0}, {"focal", EOS_RULE_RESAMPLE, 0, 0}, {"ldam", EOS_RULE_DRW, 0, 3}};
    /* where to stop: mid-epoch, after an epoch's last step (its evaluations pending), at an epoch's
     * end, at the last epoch's end (the final evaluation), and twice in one run */
    const trigger points[][2] = {{{0, 2, 0, 0, NULL}, {-1, 0, 0, 0, NULL}},
                                 {{1, -1, 0, 0, NULL}, {-1, 0, 0, 0, NULL}},
                                 {{0, 0, 0, 0, NULL}, {-1, 0, 0, 0, NULL}},
                                 {{2, 0, 0, 0, NULL}, {-1, 0, 0, 0, NULL}},
                                 {{0, 1, 0, 0, NULL}, {1, 3, 0, 0, NULL}}};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        char ref[1024];
        test_tmpdir(ref, sizeof ref, "resume-ref");
        eos_metrics want, got;
        EOS_ASSERT_OK(train_once(rt, &d, idx, 48, &kinds[k], ref, 5, 0, 8, 0.05f, NULL, &want));
        size_t npoints = k == 0 ? sizeof points / sizeof points[0] : 1;
        for (size_t p = 0; p < npoints; p++) {
            /* tiny: after an epoch's last step (its evaluations pending) and twice in one run
             * (mid-epoch both times); the ends of epochs are where every run saves anyway */
            if (test_tiny() && k == 0 && p != 1 && p != 4) continue;
            char dir[1024];
            test_tmpdir(dir, sizeof dir, "resume");
            int resume = 0, stops = 0;
            for (int round = 0; round < 3; round++) {
                trigger t = round < 2 ? points[p][round] : (trigger){-1, 0, 0, 0, NULL};
                /* the resumed sessions start from other weights: the checkpoint's must replace them all */
                eos_status st = train_once(rt, &d, idx, 48, &kinds[k], dir, round ? 100 + (uint64_t)round : 5, resume, 8, 0.05f,
                                           t.epoch >= 0 ? &t : NULL, &got);
                if (st == EOS_OK) break;
                if (st != EOS_ERR_INTERRUPTED) fail_msg("%s: %s", kinds[k].loss, eos_last_error_message());
                assert_non_null(strstr(eos_last_error()->message, "the state is saved in"));
                stops++;
                char ck[1100];
                snprintf(ck, sizeof ck, "%s/%s", dir, EOS_TRAIN_CHECKPOINT);
                eos_train_checkpoint_info info;
                EOS_ASSERT_OK(eos_train_checkpoint_read(ck, &info));
                if (t.step > 0) {  /* stopped right after that step */
                    assert_int_equal(info.epoch, t.epoch);
                    assert_int_equal(info.step, (size_t)t.step);
                } else if (t.step < 0) {
                    assert_int_equal(info.epoch, t.epoch);
                    assert_int_equal(info.step, info.steps);
                } else {
                    assert_int_equal(info.epoch, t.epoch + 1);
                    assert_int_equal(info.step, 0);
                }
                assert_string_equal(info.run_args, "test");
                eos_train_checkpoint_info_free(&info);
                resume = 1;
            }
            printf("# %s: stopped %d time(s) at point %zu, resumed to the same weights\n", kinds[k].loss, stops, p);
            assert_true(stops >= (p == 3 && kinds[k].val_split == 0 ? 0 : 1));
            assert_same_run(ref, dir);
            assert_float_equal(got.acc, want.acc, 0);
            assert_float_equal(got.fm, want.fm, 0);
            eos_metrics_free(&got);
        }
        eos_metrics_free(&want);
    }
    eos_dataset_free(&d);
}

/* A checkpoint written before the convolution choice was per direction and batch size lists one
 * algorithm per layer shape ("0 C H W K R stride pad algo;"): it resumes to the weights of the run
 * it came from, bit for bit, every direction running that algorithm whatever conv-algos.txt
 * says now. The run is made with one algorithm X forced; its checkpoint's list is rewritten in
 * the old format naming X, and the resume runs with the automatic choice (which, on the device
 * at hand, picked something other than X for at least one direction, or X is changed to make it so). */
static void test_resume_from_old_conv_list(void **state) {
    eos_runtime_t rt = *state;
    if (oclgrind_skip(__func__)) return;
    eos_dataset d;
    make_dataset_sized(&d, 12, 4, 21, 16);
    size_t idx[48];
    for (size_t i = 0; i < 48; i++) idx[i] = i;
    const run_kind kind = {"ce", EOS_RULE_NONE, 0.25, 0};
    eos_metrics want, got;
    /* the automatic choices of this network's shapes (timed, or from the cache's file) */
    eos__conv_choices_free(rt);
    eos_runtime_set_conv_algo(rt, EOS_CONV_AUTO);
    char probe[1024], list[8192], old[8192] = "";
    test_tmpdir(probe, sizeof probe, "oldconv-probe");
    trigger t0 = {0, 1, 0, 0, NULL};
    assert_int_equal(train_once(rt, &d, idx, 48, &kind, probe, 5, 0, 8, 0.05f, &t0, &got), EOS_ERR_INTERRUPTED);
    eos__conv_choices_export(rt, list, sizeof list);
    eos_conv_algo x = strstr(list, " panel;") || strstr(list, " direct;") || strstr(list, " winograd;") ? EOS_CONV_GEMM
                                                                                                      : EOS_CONV_PANEL;
    int shapes = 0;
    for (char *p = list, *semi; (semi = strchr(p, ';')) != NULL; p = semi + 1) {
        int k[8];
        assert_int_equal(sscanf(p, "%d %d %d %d %d %d %d %d", &k[0], &k[1], &k[2], &k[3], &k[4], &k[5], &k[6], &k[7]), 8);
        char e[128];
        snprintf(e, sizeof e, "0 %d %d %d %d %d %d %d %s;", k[1], k[2], k[3], k[4], k[5], k[6], k[7], eos_conv_algo_name(x));
        if (!strstr(old, e)) {
            strcat(old, e);
            shapes++;
        }
    }
    assert_true(shapes >= 4);  /* resnet8: the stem, and per stage one or two 3x3 shapes */
    /* the reference, and a run stopped mid-epoch, both with X everywhere */
    eos_runtime_set_conv_algo(rt, x);
    char ref[1024], dir[1024], ck[1100];
    test_tmpdir(ref, sizeof ref, "oldconv-ref");
    test_tmpdir(dir, sizeof dir, "oldconv");
    EOS_ASSERT_OK(train_once(rt, &d, idx, 48, &kind, ref, 5, 0, 8, 0.05f, NULL, &want));
    trigger t = {0, 2, 0, 0, NULL};
    assert_int_equal(train_once(rt, &d, idx, 48, &kind, dir, 5, 0, 8, 0.05f, &t, &got), EOS_ERR_INTERRUPTED);
    /* its list in the old format, as the previous version wrote it */
    snprintf(ck, sizeof ck, "%s/%s", dir, EOS_TRAIN_CHECKPOINT);
    eos_safetensors f;
    EOS_ASSERT_OK(eos_safetensors_read(ck, &f));
    const char *meta[64];
    size_t nm = 0;
    for (size_t i = 0; i < f.meta_count && nm < 32; i++) {
        const char *key = f.meta[2 * i];
        if (!strcmp(key, "format") || !strcmp(key, "writer") || !strcmp(key, EOS_SAFETENSORS_CRC_KEY) ||
            !strcmp(key, EOS_SAFETENSORS_HEADER_CRC_KEY))
            continue;
        meta[2 * nm] = key;
        meta[2 * nm + 1] = strcmp(key, "eos.conv") ? f.meta[2 * i + 1] : old;
        nm++;
    }
    EOS_ASSERT_OK(eos_safetensors_write_meta(ck, f.tensors, f.count, meta, nm));
    eos_safetensors_free(&f);
    /* resumed with the automatic choice, on a fresh table (conv-algos.txt holds the probe's) */
    eos_runtime_set_conv_algo(rt, EOS_CONV_AUTO);
    eos__conv_choices_free(rt);
    EOS_ASSERT_OK(train_once(rt, &d, idx, 48, &kind, dir, 100, 1, 8, 0.05f, NULL, &got));
    assert_same_run(ref, dir);
    assert_float_equal(got.acc, want.acc, 0);
    /* and its checkpoint carries the old entries on, in the new format, for all three directions */
    EOS_ASSERT_OK(eos_safetensors_read(ck, &f));
    const char *conv = eos_safetensors_meta(&f, "eos.conv");
    assert_non_null(conv);
    char e[128];
    int k[8];
    assert_int_equal(sscanf(old, "%d %d %d %d %d %d %d %d", &k[0], &k[1], &k[2], &k[3], &k[4], &k[5], &k[6], &k[7]), 8);
    static const char *dirs[] = {"fwd", "dx", "dw"};
    for (int i = 0; i < 3; i++) {
        snprintf(e, sizeof e, "0 %d %d %d %d %d %d %d %s %s;", k[1], k[2], k[3], k[4], k[5], k[6], k[7], dirs[i],
                 eos_conv_algo_name(x));
        if (!strstr(conv, e)) fail_msg("%s lacks %s", conv, e);
    }
    eos_safetensors_free(&f);
    eos_metrics_free(&want);
    eos_metrics_free(&got);
    eos_dataset_free(&d);
}

/* a resume that does not belong to the checkpoint, or from a damaged one, is refused and changes nothing */
static void test_resume_refusals_and_damaged_checkpoints(void **state) {
    eos_runtime_t rt = *state;
    if (oclgrind_skip(__func__)) return;
    eos_dataset d;
    make_dataset(&d, 12, 4, 22);
    size_t idx[48];
    for (size_t i = 0; i < 48; i++) idx[i] = i;
    const run_kind ce = {"ce", EOS_RULE_NONE, 0, 0};
    char dir[1024], ck[1100], other[1024];
    eos_metrics met;
    test_tmpdir(other, sizeof other, "resume-none");
    assert_int_equal(train_once(rt, &d, idx, 48, &ce, other, 1, 1, 8, 0.05f, NULL, &met), EOS_ERR_IO);
    assert_non_null(strstr(eos_last_error()->message, "no checkpoint to resume"));
    test_tmpdir(dir, sizeof dir, "resume-bad");
    snprintf(ck, sizeof ck, "%s/%s", dir, EOS_TRAIN_CHECKPOINT);
    trigger t = {1, 2, 0, 0, NULL};
    assert_int_equal(train_once(rt, &d, idx, 48, &ce, dir, 1, 0, 8, 0.05f, &t, &met), EOS_ERR_INTERRUPTED);
    size_t n;
    uint8_t *good = (uint8_t *)test_read_file(ck, &n);

    /* other settings, other images */
    assert_int_equal(train_once(rt, &d, idx, 48, &ce, dir, 1, 1, 4, 0.05f, NULL, &met), EOS_ERR_INVALID_ARG);
    assert_non_null(strstr(eos_last_error()->message, "batch 8 in the checkpoint, 4 now"));
    const run_kind focal = {"focal", EOS_RULE_NONE, 0, 0};
    assert_int_equal(train_once(rt, &d, idx, 48, &focal, dir, 1, 1, 8, 0.05f, NULL, &met), EOS_ERR_INVALID_ARG);
    assert_non_null(strstr(eos_last_error()->message, "loss ce in the checkpoint, focal now"));
    assert_int_equal(train_once(rt, &d, idx + 4, 44, &ce, dir, 1, 1, 8, 0.05f, NULL, &met), EOS_ERR_INVALID_ARG);
    assert_non_null(strstr(eos_last_error()->message, "other images"));

    /* damaged files: each is refused with EOS_ERR_FORMAT and a message naming the file */
    char past[64];  /* 48 images in batches of 8: 6 steps an epoch (tiny: TINY_STEPS) */
    snprintf(past, sizeof past, "expected an integer in [0, %d]", test_tiny() ? TINY_STEPS : 6);
    struct {
        const char *what, *find, *replace, *expect;
        size_t truncate;
    } damage[] = {
        {"truncated", NULL, NULL, "truncated", n / 2},
        {"header length", NULL, NULL, "header length", 7},
        {"step not a number", "\"eos.step\":\"2\"", "\"eos.step\":\"x\"", "expected an integer", 0},
        {"step past the epoch", "\"eos.step\":\"2\"", "\"eos.step\":\"9\"", past, 0},
        {"generator state", "\"eos.rng\":\"", "\"eos.rng\":\"#", "generator state", 0},
        {"no format", "\"eos.format\"", "\"eos.formaX\"", "lacks 'eos.format'", 0},
        {"tensor renamed", "\"layer1.0.conv2.weight\"", "\"layer1.0.conv2.weighX\"", "does not match the network", 0},
        {"bad json", "\"eos.epoch\":", "\"eos.epoch\" ", "expected ':'", 0},
    };
    for (size_t i = 0; i < sizeof damage / sizeof damage[0]; i++) {
        uint8_t *b = malloc(n);
        memcpy(b, good, n);
        size_t len = damage[i].truncate ? damage[i].truncate : n;
        if (damage[i].find) {
            uint8_t *at = NULL;
            size_t fl = strlen(damage[i].find);
            for (size_t k = 0; k + fl <= n && !at; k++)
                if (!memcmp(b + k, damage[i].find, fl)) at = b + k;
            if (!at) fail_msg("%s: '%s' not in the checkpoint", damage[i].what, damage[i].find);
            memcpy(at, damage[i].replace, strlen(damage[i].replace));  /* a longer one overwrites what follows */
            reseal(b, len);
        }
        test_write_file(ck, b, len);
        eos_status st = train_once(rt, &d, idx, 48, &ce, dir, 1, 1, 8, 0.05f, NULL, &met);
        if (st != EOS_ERR_FORMAT || !strstr(eos_last_error_message(), damage[i].expect))
            fail_msg("%s: got %s, want EOS_ERR_FORMAT with '%s':\n%s", damage[i].what, eos_status_str(st),
                     damage[i].expect, eos_last_error_message());
        eos_train_checkpoint_info info;
        st = eos_train_checkpoint_read(ck, &info);
        eos_train_checkpoint_info_free(&info);
        size_t m;
        uint8_t *after = (uint8_t *)test_read_file(ck, &m);  /* a refused resume writes nothing */
        assert_int_equal(m, len);
        assert_memory_equal(after, b, len);
        free(after);
        free(b);
    }
    /* an edited header without its checksum made to match: damage */
    uint8_t *e = malloc(n);
    memcpy(e, good, n);
    for (size_t k = 0; k + 14 <= n; k++)
        if (!memcmp(e + k, "\"eos.step\":\"2\"", 14)) e[k + 12] = '3';
    test_write_file(ck, e, n);
    free(e);
    assert_int_equal(train_once(rt, &d, idx, 48, &ce, dir, 1, 1, 8, 0.05f, NULL, &met), EOS_ERR_FORMAT);
    if (!strstr(eos_last_error()->message, "checkpoint.safetensors is damaged: its header (names, shapes, metadata) fails"))
        fail_msg("an edited header: %s", eos_last_error()->message);
    /* one flipped exponent bit in a weight: refused as damage, naming the file and the tensor */
    test_write_file(ck, good, n);
    flip_data_bit(ck);
    assert_int_equal(train_once(rt, &d, idx, 48, &ce, dir, 1, 1, 8, 0.05f, NULL, &met), EOS_ERR_FORMAT);
    const char *msg = eos_last_error()->message;
    if (!strstr(msg, ck) || !strstr(msg, "is damaged: tensor 'conv1.weight' fails its checksum"))
        fail_msg("a flipped bit: %s", msg);
    /* an Inf weight whose checksum was made to match: refused as not finite */
    uint8_t *b = malloc(n);
    memcpy(b, good, n);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | b[i];
    float inf = INFINITY;
    memcpy(b + 8 + hlen + 4 * 5, &inf, 4);  /* conv1.weight (16, 3, 3, 3) is first in the data */
    char crc[9], *key = NULL;
    snprintf(crc, sizeof crc, "%08lx", crc32(0, b + 8 + hlen, 16 * 3 * 3 * 3 * 4));
    for (size_t k = 8; k + 13 <= 8 + hlen && !key; k++)
        if (!memcmp(b + k, "\"eos.crc32\":\"", 13)) key = (char *)b + k + 13;
    assert_non_null(key);
    memcpy(key, crc, 8);
    reseal(b, n);
    test_write_file(ck, b, n);
    free(b);
    assert_int_equal(train_once(rt, &d, idx, 48, &ce, dir, 1, 1, 8, 0.05f, NULL, &met), EOS_ERR_NUMERIC);
    msg = eos_last_error()->message;
    if (!strstr(msg, ck) || !strstr(msg, "tensor 'conv1.weight' holds inf at element 5"))
        fail_msg("an Inf weight: %s", msg);
    /* a model file is no checkpoint */
    char model[1100];
    test_write_file(ck, good, n);
    EOS_ASSERT_OK(train_once(rt, &d, idx, 48, &ce, other, 1, 0, 8, 0.05f, NULL, &met));
    eos_metrics_free(&met);
    snprintf(model, sizeof model, "%s/model.safetensors", other);
    eos_train_checkpoint_info info;
    assert_int_equal(eos_train_checkpoint_read(model, &info), EOS_ERR_FORMAT);
    assert_non_null(strstr(eos_last_error()->message, "lacks 'eos.format'"));
    /* the learning rate may change on resume (after a NaN, say); the temporary file a killed
     * process left (its pid is gone: above Linux's largest) is cleared away */
    char stale[1200];
    snprintf(stale, sizeof stale, "%s.tmp.4194305", ck);
    test_write_file(stale, good, 16);
    struct stat sb;
    EOS_ASSERT_OK(train_once(rt, &d, idx, 48, &ce, dir, 1, 1, 8, 0.02f, NULL, &met));
    eos_metrics_free(&met);
    assert_int_not_equal(stat(stale, &sb), 0);
    EOS_ASSERT_OK(eos_train_checkpoint_read(ck, &info));
    assert_float_equal(info.lr, 0.02, 1e-9);
    assert_int_equal(info.epoch, 3);
    eos_train_checkpoint_info_free(&info);
    free(good);
    eos_dataset_free(&d);
}

static int all_finite(const char *path) {
    eos_safetensors f;
    EOS_ASSERT_OK(eos_safetensors_read(path, &f));
    int ok = 1;
    for (size_t i = 0; i < f.count; i++)
        for (size_t k = 0; f.tensors[i].dtype == EOS_DTYPE_F32 && k < f.tensors[i].numel; k++)
            ok &= isfinite(((float *)f.tensors[i].data)[k]) != 0;
    eos_safetensors_free(&f);
    return ok;
}

static void test_nan_stops_and_keeps_the_checkpoint(void **state) {
    eos_runtime_t rt = *state;
    if (oclgrind_skip(__func__)) return;
    eos_dataset d;
    make_dataset(&d, 12, 4, 23);
    size_t idx[48];
    for (size_t i = 0; i < 48; i++) idx[i] = i;
    const run_kind ce = {"ce", EOS_RULE_NONE, 0, 0};
    char dir[1024], ck[1100];
    eos_metrics met;
    test_tmpdir(dir, sizeof dir, "nan");
    snprintf(ck, sizeof ck, "%s/%s", dir, EOS_TRAIN_CHECKPOINT);
    /* a NaN in the head: the next loss is NaN; the checkpoint of epoch 1 stays */
    trigger t = {1, 2, 1, 0, NULL};
    assert_int_equal(train_once(rt, &d, idx, 48, &ce, dir, 1, 0, 8, 0.05f, &t, &met), EOS_ERR_NUMERIC);
    const char *msg = eos_last_error()->message;
    printf("# %s\n", msg);
    const int steps = test_tiny() ? TINY_STEPS : 6;  /* 48 images in batches of 8 */
    char want[96];
    snprintf(want, sizeof want, "epoch 2, step 3 of %d", steps);
    assert_non_null(strstr(msg, want));
    assert_non_null(strstr(msg, "smaller --lr"));
    assert_non_null(strstr(msg, "(epoch 2, step 0) is kept in"));
    eos_train_checkpoint_info info;
    EOS_ASSERT_OK(eos_train_checkpoint_read(ck, &info));
    assert_int_equal(info.epoch, 1);
    assert_int_equal(info.step, 0);
    eos_train_checkpoint_info_free(&info);
    assert_true(all_finite(ck));
    /* resuming from it goes on */
    EOS_ASSERT_OK(train_once(rt, &d, idx, 48, &ce, dir, 1, 1, 8, 0.05f, NULL, &met));
    eos_metrics_free(&met);
    /* the checkpoint damaged on disk after it was written: the run does not call it good */
    test_tmpdir(dir, sizeof dir, "nan-damaged");
    snprintf(ck, sizeof ck, "%s/%s", dir, EOS_TRAIN_CHECKPOINT);
    trigger dmg = {1, 2, 1, 0, NULL};
    g_damage = ck;
    assert_int_equal(train_once(rt, &d, idx, 48, &ce, dir, 1, 0, 8, 0.05f, &dmg, &met), EOS_ERR_NUMERIC);
    g_damage = NULL;
    msg = eos_last_error()->message;
    printf("# %s\n", msg);
    assert_null(strstr(msg, "last good state"));
    assert_non_null(strstr(msg, "does not pass its checks now"));
    assert_non_null(strstr(msg, "is damaged: tensor 'conv1.weight'"));
    /* a NaN the loss does not see: found when the weights are checked at the end of the epoch */
    test_tmpdir(dir, sizeof dir, "nan-conv");
    snprintf(ck, sizeof ck, "%s/%s", dir, EOS_TRAIN_CHECKPOINT);
    trigger w = {1, 2, 3, 0, NULL};
    assert_int_equal(train_once(rt, &d, idx, 48, &ce, dir, 1, 0, 8, 0.05f, &w, &met), EOS_ERR_NUMERIC);
    msg = eos_last_error()->message;
    printf("# %s\n", msg);
    snprintf(want, sizeof want, "in epoch 2 by step %d of %d: conv1.weight holds nan", steps, steps);
    assert_non_null(strstr(msg, want));
    assert_non_null(strstr(msg, "(epoch 2, step 0) is kept in"));
    assert_true(all_finite(ck));
    test_tmpdir(dir, sizeof dir, "nan-bn");
    snprintf(ck, sizeof ck, "%s/%s", dir, EOS_TRAIN_CHECKPOINT);
    trigger u = {0, -1, 2, 0, NULL};
    assert_int_equal(train_once(rt, &d, idx, 48, &ce, dir, 1, 0, 8, 0.05f, &u, &met), EOS_ERR_NUMERIC);
    msg = eos_last_error()->message;
    printf("# %s\n", msg);
    assert_non_null(strstr(msg, "bn1.running_var"));
    assert_non_null(strstr(msg, "epoch 1"));
    assert_non_null(strstr(eos_last_error()->hint, "smaller --lr"));
    struct stat sb;
    assert_int_not_equal(stat(ck, &sb), 0);  /* never written with a NaN in it */
    /* and a learning rate far too high */
    test_tmpdir(dir, sizeof dir, "nan-lr");
    assert_int_equal(train_once(rt, &d, idx, 48, &ce, dir, 1, 0, 8, 1e30f, NULL, &met), EOS_ERR_NUMERIC);
    printf("# lr 1e30: %s\n", eos_last_error()->message);
    assert_non_null(strstr(eos_last_error_message(), "smaller --lr"));
    eos_dataset_free(&d);
}

static void test_out_of_memory_names_a_batch_that_fits(void **state) {
    eos_runtime_t rt = *state;
    if (oclgrind_skip(__func__)) return;
    eos_dataset d;
    make_dataset_sized(&d, 24, 4, 24, 16);
    size_t idx[96];
    for (size_t i = 0; i < 96; i++) idx[i] = i;
    const run_kind ce = {"ce", EOS_RULE_NONE, 0, 1};
    char dir[1024];
    eos_metrics met;
    test_tmpdir(dir, sizeof dir, "oom");
    setenv("EOS_MEM_LIMIT", "24", 1);  /* MiB */
    eos_tensor x;
    assert_int_equal(eos_tensor_alloc(rt, &x, 1, (size_t[]){32u << 18}), EOS_ERR_OUT_OF_MEMORY);  /* 32 MiB */
    assert_non_null(strstr(eos_last_error()->message, "32.0 MiB"));
    assert_non_null(strstr(eos_last_error()->message, "EOS_MEM_LIMIT"));
    assert_int_equal(train_once(rt, &d, idx, 96, &ce, dir, 1, 0, 96, 0.05f, NULL, &met), EOS_ERR_OUT_OF_MEMORY);
    const char *msg = eos_last_error()->message, *fit = strstr(msg, "): --batch ");
    printf("# %s\n", msg);
    assert_non_null(strstr(msg, "with --batch 96 needs about"));
    assert_non_null(strstr(msg, "the device has 24 MiB"));
    assert_non_null(fit);
    int b = atoi(fit + 11);
    assert_true(b >= 1 && b < 96);
    test_tmpdir(dir, sizeof dir, "oom-fit");
    EOS_ASSERT_OK(train_once(rt, &d, idx, 96, &ce, dir, 1, 0, b, 0.05f, NULL, &met));  /* and it does fit */
    eos_metrics_free(&met);
    unsetenv("EOS_MEM_LIMIT");
    eos_dataset_free(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_losses_and_rules_run),
        cmocka_unit_test(test_many_classes_rules_and_ldam),
        cmocka_unit_test(test_lr_schedule),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_stratified_split),
        cmocka_unit_test(test_training_smoke),
        cmocka_unit_test(test_train_run_writes_files),
        cmocka_unit_test(test_resume_is_bit_identical),
        cmocka_unit_test(test_resume_from_old_conv_list),
        cmocka_unit_test(test_resume_refusals_and_damaged_checkpoints),
        cmocka_unit_test(test_nan_stops_and_keeps_the_checkpoint),
        cmocka_unit_test(test_out_of_memory_names_a_batch_that_fits),
    };
    return cmocka_run_group_tests(tests, test_runtime_setup, test_runtime_teardown);
}
