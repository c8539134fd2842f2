/* The pipeline as a library call (eos_pipeline_run): a tiny CIFAR-10-format dataset written
 * here, one short epoch, and the run checked against its own files: every file there, each
 * row's metrics equal to summary.json's and to the saved head's predictions on the saved test
 * embeddings, EOS's class counts balanced, and the progress events in the phases' order. */
#include "test_common.h"
#include "json.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

enum { CLASSES = 10, TRAIN_PER_CLASS = 100, TEST_PER_CLASS = 6, RECORD = 3073 };

/* CIFAR-10 binary files in dir: 5 training batches (20 images of every class each) and a test
 * batch; class c is a flat colour of its own plus noise, so one step already separates some */
static void write_cifar(const char *dir) {
    eos_rng r;
    eos_rng_seed(&r, 5, 1);
    unsigned char *rec = malloc((size_t)RECORD * CLASSES * (TRAIN_PER_CLASS / 5));
    char path[4200];
    for (int b = 0; b <= 5; b++) {
        int per = b < 5 ? TRAIN_PER_CLASS / 5 : TEST_PER_CLASS, k = 0;
        for (int i = 0; i < per; i++)
            for (int c = 0; c < CLASSES; c++, k++) {
                unsigned char *p = rec + (size_t)k * RECORD;
                p[0] = (unsigned char)c;
                for (int j = 0; j < 3072; j++) {
                    int ch = j / 1024, v = 40 + 20 * ((c + ch * 3) % CLASSES) + (int)(eos_rng_uniform(&r) * 30);
                    p[1 + j] = (unsigned char)(v > 255 ? 255 : v);
                }
            }
        if (b < 5) snprintf(path, sizeof path, "%s/data_batch_%d.bin", dir, b + 1);
        else snprintf(path, sizeof path, "%s/test_batch.bin", dir);
        test_write_file(path, rec, (size_t)k * RECORD);
    }
    free(rec);
}

/* what the callback saw: one letter per phase change, and checks made on the way */
typedef struct {
    char trace[256];
    int n, last_phase, trained_epochs, embed_passes, rows, bad_order;
    eos_pipeline_event last;
    /* the counted copies host -> device (eos_runtime_stats) at phase 2's start, after the gap,
     * at the first method's start, and at the results */
    eos_runtime_t rt;
    unsigned long long up_phase2, up_gap, up_method, up_results;
} seen;

static void on_progress(const eos_pipeline_progress *p, void *user) {
    seen *s = user;
    static const char letter[] = "S1tPEWGMRrsh";  /* START, PHASE1, TRAIN, PHASE2, EMBED, EMBEDDINGS, ... */
    assert_non_null(p->result);
    /* phase 1 is over before phase 2 starts; phase 3 (a head) never comes before phase 2 (the
     * embeddings); the methods then take turns in 2 and 3 */
    if ((p->phase == 1 && s->last_phase > 1) || (p->phase == 3 && s->last_phase < 2)) s->bad_order = 1;
    if (p->phase > s->last_phase) s->last_phase = p->phase;
    if (p->event == EOS_PIPELINE_TRAIN) {
        s->trained_epochs += p->train->epoch_done;
        assert_string_equal(p->rule, "none");
    }
    if (p->event == EOS_PIPELINE_EMBED && p->done == 0) s->embed_passes++;
    if (s->rt) {
        unsigned long long up = eos_runtime_get_stats(s->rt).bytes_to_device;
        if (p->event == EOS_PIPELINE_PHASE2) s->up_phase2 = up;
        if (p->event == EOS_PIPELINE_GAP) s->up_gap = up;
        if (p->event == EOS_PIPELINE_METHOD && p->index == 0) s->up_method = up;
        if (p->event == EOS_PIPELINE_RESULTS) s->up_results = up;
    }
    if (p->event == EOS_PIPELINE_ROW) {
        assert_ptr_equal(p->row, &p->result->rows[p->result->nrows - 1]);
        s->rows++;
    }
    /* one letter per run of equal events (a pass's or an epoch's many updates are one) */
    if (s->n == 0 || p->event != s->last || p->event == EOS_PIPELINE_PHASE1 || p->event == EOS_PIPELINE_METHOD ||
        p->event == EOS_PIPELINE_ROW) {
        if (s->n + 1 < (int)sizeof s->trace) s->trace[s->n++] = letter[p->event];
    }
    s->last = p->event;
}

static int exists(const char *dir, const char *name) {
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* the row's metrics again, from the files: head.safetensors on test_emb.csv */
static void check_row_from_files(const char *out, const eos_pipeline_row *row) {
    char path[4400];
    eos_safetensors f;
    eos_embeddings te;
    snprintf(path, sizeof path, "%s/%s/head.safetensors", out, row->dir);
    EOS_ASSERT_OK(eos_safetensors_read(path, &f));
    snprintf(path, sizeof path, "%s/embeddings/test_emb.csv", out);
    EOS_ASSERT_OK(eos_embeddings_read_csv(path, CLASSES, &te));
    const eos_named_tensor *w = eos_safetensors_find(&f, "linear.weight"), *b = eos_safetensors_find(&f, "linear.bias");
    assert_non_null(w);
    assert_non_null(b);
    eos_head h = {CLASSES, 64, (float *)w->data, (float *)b->data};
    int32_t *pred = malloc(te.n * sizeof *pred);
    eos_metrics m;
    eos_head_predict(&h, &te, pred);
    EOS_ASSERT_OK(eos_metrics_compute(CLASSES, te.labels, pred, te.n, &m));
    /* the CSV keeps 9 significant digits: the argmax may differ only on a near tie, never here */
    assert_float_equal(m.bac, row->metrics.bac, 1e-12);
    assert_float_equal(m.acc, row->metrics.acc, 1e-12);
    eos_metrics_free(&m);
    free(pred);
    eos_embeddings_free(&te);
    eos_safetensors_free(&f);
}

static void test_pipeline_run(void **state) {
    eos_runtime_t rt = *state;
    char data[4096], out[4200], path[4400];
    test_tmpdir(data, sizeof data, "pipeline");
    write_cifar(data);
    snprintf(out, sizeof out, "%s/run", data);
    eos_pipeline_config cfg = eos_pipeline_defaults();
    EOS_ASSERT_OK(eos_pipeline_profile("quick", &cfg));
    assert_string_equal(cfg.arch, "resnet8");
    assert_int_equal(cfg.epochs, 10);
    cfg.data = data;
    cfg.out_dir = out;
    cfg.epochs = 1;
    cfg.max_steps = 2;
    cfg.methods = "eos,ros,focal";
    cfg.seed = 3;
    seen s;
    memset(&s, 0, sizeof s);
    s.rt = rt;
    eos_pipeline_result res;
    EOS_ASSERT_OK(eos_pipeline_run(rt, &cfg, on_progress, &s, &res));
    printf("# events: %s\n", s.trace);
    /* issue 20: the network wrote the training embeddings into the device tensor the
     * re-balancing reads, so nothing goes up between the gap and the first method (before, the
     * ntrain x 64 floats did) */
    printf("# phases 2-3: %llu bytes host -> device (%llu up to the gap, %llu after it before the first method)\n",
           s.up_results - s.up_phase2, s.up_gap - s.up_phase2, s.up_method - s.up_gap);
    assert_true(s.up_method >= s.up_gap && s.up_gap > 0);
    assert_int_equal(s.up_method - s.up_gap, 0);
    /* the embedding gap reads both tensors there too: only every row's number goes up (before,
     * the rows themselves, the training ones three times) */
    assert_int_equal(s.up_gap - s.up_phase2, (res.train_images + res.test_images) * sizeof(int32_t));
    /* START; phase 1 of ce (its epoch's updates, its row), of focal; phase 2: the passes, the
     * files, the gap; per method its start and its row; the table, summary.json, report.html */
    assert_string_equal(s.trace, "S1tR1tRPEWGMRMRrsh");
    assert_false(s.bad_order);
    assert_int_equal(s.trained_epochs, 2);
    assert_int_equal(s.embed_passes, 2);
    assert_int_equal(s.rows, 4);
    assert_string_equal(res.failed, "");

    /* the files */
    const char *files[] = {"summary.json", "report.html", "phase1/model.safetensors", "phase1/metrics.json",
                           "phase1/train_log.csv", "phase1-focal/model.safetensors", "embeddings/train_emb.csv",
                           "embeddings/test_emb.csv", "embeddings/embed_metrics.json", "embeddings/projection.csv",
                           "eos/head.safetensors", "eos/metrics.json", "ros/head.safetensors", "ros/metrics.json"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        if (!exists(out, files[i])) fail_msg("%s/%s is missing", out, files[i]);
    assert_false(exists(out, "embeddings/val_emb.csv"));

    /* the rows: names, order, and the values summary.json holds */
    assert_int_equal(res.classes, CLASSES);
    assert_int_equal(res.test_images, CLASSES * TEST_PER_CLASS);
    assert_int_equal(res.nrows, 4);
    const char *names[] = {"ce", "focal", "ce + eos", "ce + ros"};
    eos__json *sum;
    snprintf(path, sizeof path, "%s/summary.json", out);
    EOS_ASSERT_OK(eos__json_read(path, &sum));
    const eos__json *results = eos__json_get(sum, "results");
    assert_non_null(results);
    assert_int_equal(results->n, 4);
    assert_int_equal((int)eos__json_num(sum, "train_images", -1), (int)res.train_images);
    assert_string_equal(eos__json_str(sum, "head", ""), "fresh");
    for (int r = 0; r < 4; r++) {
        const eos_pipeline_row *row = &res.rows[r];
        const eos__json *j = &results->items[r];
        assert_string_equal(row->name, names[r]);
        assert_string_equal(eos__json_str(j, "method", ""), row->name);
        assert_string_equal(eos__json_str(j, "dir", ""), row->dir);
        assert_int_equal(row->phase, r < 2 ? 1 : 3);
        /* summary.json writes 6 decimals */
        assert_float_equal(eos__json_num(j, "acc", -1), row->metrics.acc, 5e-7);
        assert_float_equal(eos__json_num(j, "bac", -1), row->metrics.bac, 5e-7);
        assert_float_equal(eos__json_num(j, "gm", -1), row->metrics.gm, 5e-7);
        assert_float_equal(eos__json_num(j, "fm", -1), row->metrics.fm, 5e-7);
        const eos__json *rec = eos__json_get(j, "per_class_recall");
        assert_int_equal(rec->n, CLASSES);
        double bac = 0;
        for (int c = 0; c < CLASSES; c++) {
            assert_float_equal(rec->items[c].num, row->metrics.recall[c], 5e-7);
            bac += row->metrics.recall[c] / CLASSES;
        }
        assert_float_equal(bac, row->metrics.bac, 1e-12);
        printf("# %-9s BAC %.4f\n", row->name, row->metrics.bac);
    }
    eos__json_free(sum);
    check_row_from_files(out, &res.rows[2]);
    check_row_from_files(out, &res.rows[3]);

    /* EOS balanced the classes: before, the long-tailed subset (the labels of train_emb.csv);
     * after, every class as large as the largest; metrics.json says the same */
    eos_embeddings tr;
    snprintf(path, sizeof path, "%s/embeddings/train_emb.csv", out);
    EOS_ASSERT_OK(eos_embeddings_read_csv(path, CLASSES, &tr));
    assert_int_equal(tr.n, res.train_images);
    size_t count[CLASSES] = {0}, most = 0;
    for (size_t i = 0; i < tr.n; i++) count[tr.labels[i]]++;
    for (int c = 0; c < CLASSES; c++) most = count[c] > most ? count[c] : most;
    assert_int_equal(most, TRAIN_PER_CLASS);
    assert_true(count[CLASSES - 1] < count[0] / 10);  /* exp:100: a long tail */
    const eos_pipeline_row *eos = &res.rows[2];
    eos__json *mj;
    snprintf(path, sizeof path, "%s/eos/metrics.json", out);
    EOS_ASSERT_OK(eos__json_read(path, &mj));
    const eos__json *after = eos__json_get(mj, "counts_after");
    assert_int_equal(after->n, CLASSES);
    for (int c = 0; c < CLASSES; c++) {
        assert_int_equal(eos->counts_before[c], count[c]);
        assert_int_equal(eos->counts_after[c], most);
        assert_int_equal((size_t)after->items[c].num, most);
    }
    assert_int_equal(eos->rows_before, tr.n);
    assert_int_equal(eos->rows_after, most * CLASSES);
    assert_string_equal(eos__json_str(mj, "kept", ""), "last epoch");
    eos__json_free(mj);
    size_t subset = tr.n;
    eos_embeddings_free(&tr);
    eos_pipeline_result_free(&res);

    /* the same out_dir again: refused, nothing touched; a bad method: refused before anything */
    assert_int_equal(eos_pipeline_run(rt, &cfg, NULL, NULL, &res), EOS_ERR_INVALID_ARG);
    assert_string_equal(res.failed, "checking out_dir");
    assert_non_null(strstr(eos_last_error()->message, "already holds results"));
    eos_pipeline_result_free(&res);
    cfg.methods = "eos,magic";
    assert_int_equal(eos_pipeline_check(&cfg), EOS_ERR_INVALID_ARG);
    assert_non_null(strstr(eos_last_error()->message, "methods: unknown method 'magic'"));
    cfg.methods = "eos,ros,eos";
    assert_int_equal(eos_pipeline_check(&cfg), EOS_ERR_INVALID_ARG);
    assert_non_null(strstr(eos_last_error()->message, "'eos' is listed twice"));

    /* a hold-out and warm heads: the validation rows leave the training set, have embeddings of
     * their own, and choose the kept epochs */
    snprintf(out, sizeof out, "%s/run-val", data);
    cfg.out_dir = out;
    cfg.methods = "eos";
    cfg.val_split = 0.2;
    cfg.head = EOS_HEAD_WARM;
    memset(&s, 0, sizeof s);
    EOS_ASSERT_OK(eos_pipeline_run(rt, &cfg, on_progress, &s, &res));
    printf("# events with a hold-out: %s\n", s.trace);
    assert_string_equal(s.trace, "S1tRPEWGMRrsh");
    assert_int_equal(s.embed_passes, 3);
    assert_true(res.val_images > 0);
    assert_int_equal(res.train_images + res.val_images, subset);
    assert_true(exists(out, "embeddings/val_emb.csv"));
    snprintf(path, sizeof path, "%s/eos/metrics.json", out);
    EOS_ASSERT_OK(eos__json_read(path, &mj));
    assert_string_equal(eos__json_str(mj, "kept", ""), "best validation macro-F1");
    assert_string_equal(eos__json_str(mj, "head", ""), "warm");
    eos__json_free(mj);
    snprintf(path, sizeof path, "%s/phase1/metrics.json", out);
    EOS_ASSERT_OK(eos__json_read(path, &mj));
    assert_string_equal(eos__json_str(mj, "kept", ""), "best validation macro-F1");
    eos__json_free(mj);
    eos_pipeline_result_free(&res);
}

/* the pixel methods: the CE model's training part balanced in pixel space (its hold-out never
 * among the balanced images), a network trained on it and validated on that hold-out, its row
 * the kept model's test metrics; every row's wall time and its parts, summing as stated */
static void test_pipeline_pixel(void **state) {
    eos_runtime_t rt = *state;
    char data[4096], out[4200], path[4400];
    test_tmpdir(data, sizeof data, "pipeline-pixel");
    write_cifar(data);
    snprintf(out, sizeof out, "%s/run", data);
    eos_pipeline_config cfg = eos_pipeline_defaults();
    EOS_ASSERT_OK(eos_pipeline_profile("quick", &cfg));
    cfg.data = data;
    cfg.out_dir = out;
    cfg.epochs = 1;
    cfg.max_steps = 2;
    cfg.methods = "pixel-ros,eos,pixel-smote";
    cfg.seed = 3;
    cfg.batch = 32;  /* 6 steps of 32: enough for the networks to tell some classes apart, so the
                      * validation FM compared below is not a trivial 0 */
    cfg.max_steps = 6;
    cfg.val_split = 0.2;
    seen s;
    memset(&s, 0, sizeof s);
    eos_pipeline_result res;
    EOS_ASSERT_OK(eos_pipeline_run(rt, &cfg, on_progress, &s, &res));
    printf("# events: %s\n", s.trace);
    /* phase 1: ce, pixel-ros, pixel-smote (each an epoch and a row); then phase 2 and 3 of eos */
    assert_string_equal(s.trace, "S1tR1tR1tRPEWGMRrsh");
    assert_false(s.bad_order);
    assert_int_equal(s.trained_epochs, 3);
    assert_int_equal(res.nrows, 4);
    const char *names[] = {"ce", "pixel-ros", "pixel-smote", "ce + eos"};
    for (int r = 0; r < 4; r++) assert_string_equal(res.rows[r].name, names[r]);
    const char *files[] = {"pixel-ros/model.safetensors", "pixel-ros/metrics.json", "pixel-ros/train_log.csv",
                           "pixel-smote/model.safetensors", "pixel-smote/metrics.json", "pixel-smote/train_log.csv"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        if (!exists(out, files[i])) fail_msg("%s/%s is missing", out, files[i]);

    /* the training part, as the CE model's embeddings list it: what the pixel methods balance */
    eos_embeddings tr;
    snprintf(path, sizeof path, "%s/embeddings/train_emb.csv", out);
    EOS_ASSERT_OK(eos_embeddings_read_csv(path, CLASSES, &tr));
    size_t count[CLASSES] = {0}, most = 0;
    for (size_t i = 0; i < tr.n; i++) count[tr.labels[i]]++;
    for (int c = 0; c < CLASSES; c++) most = count[c] > most ? count[c] : most;
    assert_true(res.val_images > 0);

    /* the hold-out drawn again from the dataset: the pixel networks' validation FM is their
     * kept model's macro-F1 on exactly these images */
    eos_dataset d;
    EOS_ASSERT_OK(eos_dataset_load(data, NULL, &d));
    eos_imbalance imb = {EOS_IMBALANCE_EXP, 100.0};
    size_t *idx, n, *ktr, ntr, *kva, nva;
    EOS_ASSERT_OK(eos_imbalance_select(&d, &imb, cfg.seed, &idx, &n, NULL));
    EOS_ASSERT_OK(eos_split_stratified(&d.train, CLASSES, idx, n, cfg.val_split, cfg.seed, &ktr, &ntr, &kva, &nva));
    assert_int_equal(nva, res.val_images);
    assert_int_equal(ntr, tr.n);

    for (int r = 1; r <= 2; r++) {
        const eos_pipeline_row *row = &res.rows[r];
        assert_int_equal(row->phase, 1);
        assert_true(row->pixel);
        assert_int_equal(row->rows_before, tr.n);
        assert_int_equal(row->rows_after, most * CLASSES);
        eos__json *mj;
        snprintf(path, sizeof path, "%s/%s/metrics.json", out, row->dir);
        EOS_ASSERT_OK(eos__json_read(path, &mj));
        const eos__json *before = eos__json_get(mj, "images_before"), *after = eos__json_get(mj, "images_after");
        assert_non_null(before);
        assert_non_null(after);
        assert_int_equal(before->n, CLASSES);
        assert_int_equal(after->n, CLASSES);
        for (int c = 0; c < CLASSES; c++) {
            assert_int_equal((size_t)before->items[c].num, count[c]);
            assert_int_equal((size_t)after->items[c].num, most);
            assert_int_equal(row->counts_before[c], count[c]);
            assert_int_equal(row->counts_after[c], most);
        }
        assert_string_equal(eos__json_str(mj, "method", ""), row->name);
        assert_int_equal((int)eos__json_num(mj, "k", -1), EOS_PIXEL_SMOTE_K);
        assert_int_equal((size_t)eos__json_num(mj, "train_images", -1), most * CLASSES);
        assert_int_equal((size_t)eos__json_num(mj, "val_images", -1), res.val_images);
        assert_string_equal(eos__json_str(mj, "kept", ""), "best validation macro-F1");
        if (r == 2) assert_true(eos__json_num(mj, "synthetic", 0) > 0);  /* SMOTE made new images */
        else assert_int_equal((int)eos__json_num(mj, "synthetic", -1), 0);
        assert_float_equal(eos__json_num(mj, "bac", -1), row->metrics.bac, 5e-7);
        eos__json_free(mj);

        /* the row: the saved model's test metrics; its validation FM: on the CE model's hold-out */
        eos_resnet_t m;
        snprintf(path, sizeof path, "%s/%s/model.safetensors", out, row->dir);
        EOS_ASSERT_OK(eos_resnet_load(rt, path, &m));
        int32_t *pred = malloc((d.test.n > nva ? d.test.n : nva) * sizeof *pred), *yva = malloc(nva * sizeof *yva);
        eos_metrics tm, vm;
        EOS_ASSERT_OK(eos_predict(m, &d, &d.test, NULL, 0, 64, pred, NULL));
        EOS_ASSERT_OK(eos_metrics_compute(CLASSES, d.test.labels, pred, d.test.n, &tm));
        assert_float_equal(tm.bac, row->metrics.bac, 1e-12);
        EOS_ASSERT_OK(eos_predict(m, &d, &d.train, kva, nva, 64, pred, NULL));
        for (size_t i = 0; i < nva; i++) yva[i] = d.train.labels[kva[i]];
        EOS_ASSERT_OK(eos_metrics_compute(CLASSES, yva, pred, nva, &vm));
        snprintf(path, sizeof path, "%s/%s/train_log.csv", out, row->dir);
        char *log = test_read_file(path, NULL);
        const char *line = strchr(log, '\n');  /* epoch 1: epoch,lr,train_loss,train_acc,val_fm,... */
        assert_non_null(line);
        double lr, loss, acc, val_fm;
        int epoch;
        assert_int_equal(sscanf(line + 1, "%d,%lf,%lf,%lf,%lf", &epoch, &lr, &loss, &acc, &val_fm), 5);
        assert_float_equal(val_fm, vm.fm, 5e-6);  /* the log writes 6 decimals */
        assert_true(vm.fm > 0);
        printf("# %-11s BAC %.4f, validation FM %.4f on the %zu held-out images\n", row->name, tm.bac, vm.fm, nva);
        free(log);
        eos_metrics_free(&tm);
        eos_metrics_free(&vm);
        free(pred);
        free(yva);
        eos_resnet_free(m);
    }

    /* the times: present, positive, the parts summing to the whole; CE + eos counts the CE
     * model's training and the embeddings, shared; summary.json holds the same */
    eos__json *sum;
    snprintf(path, sizeof path, "%s/summary.json", out);
    EOS_ASSERT_OK(eos__json_read(path, &sum));
    const eos__json *results = eos__json_get(sum, "results");
    assert_int_equal(results->n, 4);
    for (int r = 0; r < 4; r++) {
        const eos_pipeline_row *row = &res.rows[r];
        const eos__json *j = &results->items[r];
        assert_true(row->seconds > 0);
        assert_float_equal(row->seconds,
                           row->seconds_phase1 + row->seconds_embed + row->seconds_resample + row->seconds_head, 1e-9);
        assert_true(row->seconds_phase1 > 0);
        if (r == 0) assert_true(row->seconds_embed == 0 && row->seconds_resample == 0 && row->seconds_head == 0);
        if (r == 1 || r == 2) assert_true(row->seconds_resample > 0 && row->seconds_embed == 0 && row->seconds_head == 0);
        if (r == 3) {
            assert_float_equal(row->seconds_phase1, res.rows[0].seconds, 1e-12);
            assert_true(row->seconds_embed > 0 && row->seconds_head > 0);
        }
        const char *keys[] = {"seconds", "seconds_phase1", "seconds_embed", "seconds_resample", "seconds_head"};
        const double want[] = {row->seconds, row->seconds_phase1, row->seconds_embed, row->seconds_resample,
                               row->seconds_head};
        for (int k = 0; k < 5; k++) assert_float_equal(eos__json_num(j, keys[k], -1), want[k], 5e-4);
        assert_int_equal((int)eos__json_num(j, "phase", -1), row->phase);
        printf("# %-11s %.2f s = %.2f + %.2f + %.3f + %.3f\n", row->name, row->seconds, row->seconds_phase1,
               row->seconds_embed, row->seconds_resample, row->seconds_head);
    }
    eos__json_free(sum);

    /* the report's table has the column */
    snprintf(path, sizeof path, "%s/report.html", out);
    char *html = test_read_file(path, NULL);
    assert_non_null(strstr(html, "<th>wall time</th>"));
    assert_non_null(strstr(html, "<td>pixel-smote</td>"));
    free(html);

    /* a pixel method listed twice: refused before anything */
    cfg.methods = "pixel-smote,eos,pixel-smote";
    assert_int_equal(eos_pipeline_check(&cfg), EOS_ERR_INVALID_ARG);
    assert_non_null(strstr(eos_last_error()->message, "'pixel-smote' is listed twice"));

    free(idx);
    free(ktr);
    free(kva);
    eos_dataset_free(&d);
    eos_embeddings_free(&tr);
    eos_pipeline_result_free(&res);
}

/* eos_embed_device against eos_predict's host features, bit for bit: the training images of the
 * tiny CIFAR set, a listed subset with a partial last batch and the whole test split, on a
 * fresh resnet8; nothing counted crosses the bus on the way */
static void test_embed_device(void **state) {
    eos_runtime_t rt = *state;
    char data[4096];
    test_tmpdir(data, sizeof data, "embed-device");
    write_cifar(data);
    eos_dataset d;
    EOS_ASSERT_OK(eos_dataset_load(data, NULL, &d));
    eos_resnet_t m;
    EOS_ASSERT_OK(eos_resnet_create(rt, 1, d.channels, d.classes, EOS_RESNET_HEAD_LINEAR, 11, &m));
    size_t n = 37, idx[37];
    for (size_t i = 0; i < n; i++) idx[i] = (i * 131 + 7) % d.train.n;  /* out of order, some repeated */
    for (int pass = 0; pass < 2; pass++) {
        const eos_split *sp = pass ? &d.test : &d.train;
        const size_t *list = pass ? NULL : idx;
        size_t rows = pass ? d.test.n : n;
        float *want = malloc(rows * 64 * sizeof *want), *got = malloc(rows * 64 * sizeof *got);
        assert_non_null(want);
        assert_non_null(got);
        EOS_ASSERT_OK(eos_predict(m, &d, sp, list, rows, 8, NULL, want));
        eos_tensor t;
        eos_runtime_stats s0 = eos_runtime_get_stats(rt);
        EOS_ASSERT_OK(eos_embed_device(m, &d, sp, list, rows, 8, &t, NULL, NULL));
        eos_runtime_stats s1 = eos_runtime_get_stats(rt);
        assert_int_equal(s1.bytes_to_device - s0.bytes_to_device, 0);
        assert_int_equal(s1.bytes_from_device - s0.bytes_from_device, 0);
        assert_int_equal(t.ndim, 2);
        assert_int_equal(t.shape[0], rows);
        assert_int_equal(t.shape[1], 64);
        EOS_ASSERT_OK(eos_tensor_download(&t, got, rows * 64));
        double norm = 0;
        for (size_t i = 0; i < rows * 64; i++) norm += (double)want[i] * want[i];
        assert_true(norm > 0);  /* real features, not a zeroed buffer on both sides */
        for (size_t i = 0; i < rows * 64; i++)
            if (memcmp(&got[i], &want[i], sizeof *got))
                fail_msg("%s row %zu feature %zu: device %.9g, eos_predict %.9g", pass ? "test" : "train", i / 64,
                         i % 64, got[i], want[i]);
        eos_tensor_free(&t);
        free(want);
        free(got);
    }
    /* refused: no images */
    eos_tensor t;
    assert_int_equal(eos_embed_device(m, &d, &d.train, idx, 0, 8, &t, NULL, NULL), EOS_ERR_INVALID_ARG);
    assert_null(t.buf);
    eos_resnet_free(m);
    eos_dataset_free(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embed_device),
        cmocka_unit_test(test_pipeline_run),
        cmocka_unit_test(test_pipeline_pixel),
    };
    return cmocka_run_group_tests(tests, test_runtime_setup, test_runtime_teardown);
}
