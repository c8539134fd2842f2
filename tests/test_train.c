/* Phase 1 end to end on a small generated dataset (a tiny network, a few steps: the loss must
 * fall), the learning-rate schedule against LDAM-DRW's adjust_learning_rate, the stratified
 * hold-out, and the imbalance metrics on hand-checked confusion matrices. */
#include "test_common.h"

#include <math.h>
#include <string.h>
#include <sys/stat.h>

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

/* 4 classes of 8 x 8 RGB images: a bright square in a class-specific quadrant, with noise. */
static void make_dataset(eos_dataset *d, size_t per_class_train, size_t per_class_test, uint64_t seed) {
    memset(d, 0, sizeof *d);
    d->classes = 4;
    d->channels = 3;
    d->height = d->width = 8;
    d->class_names = calloc(4, sizeof *d->class_names);
    for (int c = 0; c < 4; c++) snprintf(d->class_names[c], 64, "q%d", c);
    eos_rng r;
    eos_rng_seed(&r, seed, 9);
    eos_split *sp[2] = {&d->train, &d->test};
    size_t per[2] = {per_class_train, per_class_test};
    for (int s = 0; s < 2; s++) {
        size_t n = per[s] * 4;
        sp[s]->n = n;
        sp[s]->pixels = malloc(n * 192);
        sp[s]->labels = malloc(n * sizeof(int32_t));
        for (size_t i = 0; i < n; i++) {
            int c = (int)(i % 4);
            sp[s]->labels[i] = c;
            for (int ch = 0; ch < 3; ch++)
                for (int y = 0; y < 8; y++)
                    for (int x = 0; x < 8; x++) {
                        int in = (y < 4) == (c < 2) && (x < 4) == (c % 2 == 0);
                        int v = (in ? 180 : 60) + (int)(eos_rng_below(&r, 60)) - 30;
                        sp[s]->pixels[i * 192 + (ch * 8 + y) * 8 + x] = (uint8_t)v;
                    }
        }
    }
}

static void test_training_smoke(void **state) {
    eos_runtime_t rt = *state;
    eos_dataset d;
    make_dataset(&d, 32, 8, 1);
    eos_resnet_t m;
    EOS_ASSERT_OK(eos_resnet_create(rt, 1, 3, 4, EOS_RESNET_HEAD_LINEAR, 5, &m));
    eos_loader L;
    eos_loader_options o = eos_loader_defaults(&d, 32);
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
    make_dataset(&d, 16, 4, 4);
    size_t idx[40];
    size_t k = 0;
    for (size_t i = 0; i < 64 && k < 40; i++)
        if (d.train.labels[i] != 3 || i % 8 == 3) idx[k++] = i;  /* class 3 made rare */
    const char *losses[] = {"ce", "focal", "asl", "ldam"};
    for (int l = 0; l < 4; l++)
        for (int r = 0; r < 4; r++) {
            char dir[1024];
            test_tmpdir(dir, sizeof dir, "rules");
            eos_resnet_t m;
            EOS_ASSERT_OK(eos_resnet_create(rt, 1, 3, 4, l == 3 ? EOS_RESNET_HEAD_NORMED : EOS_RESNET_HEAD_LINEAR, 1, &m));
            eos_train_config cfg = eos_train_defaults();
            cfg.epochs = 2;
            cfg.batch = 8;
            cfg.max_steps = 2;
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_losses_and_rules_run),
        cmocka_unit_test(test_lr_schedule),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_stratified_split),
        cmocka_unit_test(test_training_smoke),
        cmocka_unit_test(test_train_run_writes_files),
    };
    return cmocka_run_group_tests(tests, test_runtime_setup, test_runtime_teardown);
}
