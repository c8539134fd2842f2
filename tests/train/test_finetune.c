/* Phase 3: the linear head learns separable embeddings, is deterministic for a seed, keeps
 * PyTorch's layout, and reports bad input; a fresh head has nn.Linear's statistics, a warm one
 * is the model's head exactly, and a validation set keeps its best epoch; plus the embedding gap
 * against a host computation. */
#include "test_common.h"

#include <math.h>
#include <string.h>

/* 3 classes in 4-d, centred on the axes at distance 3 with unit noise */
static void make(eos_embeddings *e, size_t per, uint64_t seed) {
    e->n = 3 * per;
    e->dim = 4;
    e->x = malloc(e->n * 4 * sizeof(float));
    e->labels = malloc(e->n * sizeof(int32_t));
    eos_rng r;
    eos_rng_seed(&r, seed, 1);
    for (size_t i = 0; i < e->n; i++) {
        int c = (int)(i % 3);
        e->labels[i] = c;
        for (int j = 0; j < 4; j++) e->x[i * 4 + j] = eos_rng_normal(&r) * 0.7f + (j == c ? 3.0f : 0.0f);
    }
}

static void test_head_learns(void **state) {
    eos_runtime_t rt = *state;
    eos_embeddings tr, te;
    make(&tr, 100, 1);
    make(&te, 50, 2);
    eos_head h, h2;
    EOS_ASSERT_OK(eos_head_init(&h, 3, 4, 5));
    EOS_ASSERT_OK(eos_head_init(&h2, 3, 4, 5));
    int32_t pred[150];
    eos_head_predict(&h, &te, pred);
    int before = 0;
    for (int i = 0; i < 150; i++) before += pred[i] == te.labels[i];
    eos_finetune_config cfg = eos_finetune_defaults();
    cfg.batch = 32;
    float loss, loss2;
    EOS_ASSERT_OK(eos_finetune(rt, &h, &tr, &cfg, &loss));
    EOS_ASSERT_OK(eos_finetune(rt, &h2, &tr, &cfg, &loss2));
    assert_memory_equal(h.weight, h2.weight, 12 * sizeof(float));  /* same seed, same head */
    eos_head_predict(&h, &te, pred);
    int after = 0;
    for (int i = 0; i < 150; i++) after += pred[i] == te.labels[i];
    printf("# head: %d/150 correct before, %d after, final loss %.4f\n", before, after, loss);
    assert_true(after >= 140);
    assert_true(loss < 0.2f);
    /* labels beyond the head */
    tr.labels[7] = 3;
    assert_int_equal(eos_finetune(rt, &h, &tr, &cfg, &loss), EOS_ERR_INVALID_ARG);
    eos_head_free(&h);
    eos_head_free(&h2);
    eos_embeddings_free(&tr);
    eos_embeddings_free(&te);
}

static void test_embedding_gap(void **state) {
    eos_runtime_t rt = *state;
    eos_embeddings tr, te;
    make(&tr, 40, 3);
    make(&te, 20, 4);
    double tg[3], trg[3];
    EOS_ASSERT_OK(eos_embedding_gap(rt, tr.x, tr.labels, tr.n, te.x, te.labels, te.n, 4, 3, tg, trg));
    for (int c = 0; c < 3; c++) {
        double st = 0, sr = 0;
        int nt = 0, nr = 0;
        for (size_t i = 0; i < te.n; i++) {
            if (te.labels[i] != c) continue;
            double best = INFINITY;
            for (size_t j = 0; j < tr.n; j++) {
                if (tr.labels[j] != c) continue;
                double s = 0;
                for (int d = 0; d < 4; d++) s += pow((double)te.x[i * 4 + d] - tr.x[j * 4 + d], 2);
                best = fmin(best, s);
            }
            st += sqrt(best);
            nt++;
        }
        for (size_t i = 0; i < tr.n; i++) {
            if (tr.labels[i] != c) continue;
            double best = INFINITY;
            for (size_t j = 0; j < tr.n; j++) {
                if (j == i || tr.labels[j] != c) continue;
                double s = 0;
                for (int d = 0; d < 4; d++) s += pow((double)tr.x[i * 4 + d] - tr.x[j * 4 + d], 2);
                best = fmin(best, s);
            }
            sr += sqrt(best);
            nr++;
        }
        assert_float_equal(tg[c], st / nt, 1e-4);
        assert_float_equal(trg[c], sr / nr, 1e-4);
    }
    eos_embeddings_free(&tr);
    eos_embeddings_free(&te);
}

/* A fresh head is PyTorch's nn.Linear: weight and bias uniform in +-1/sqrt(fan_in), so mean 0
 * and variance 1/(3 fan_in). 100 x 256 weights: the sample mean's standard error is 2.3e-4, the
 * sample variance's relative one 0.56%; the bounds 5 and 5.4 standard errors out. Kaiming-normal
 * (the old init, sd sqrt(2/256) = 0.088) breaks the bound 1/16 at once. */
static void test_head_init_is_nn_linear(void **state) {
    (void)state;
    enum { C = 100, D = 256 };
    eos_head h, h2, h3;
    EOS_ASSERT_OK(eos_head_init(&h, C, D, 7));
    EOS_ASSERT_OK(eos_head_init(&h2, C, D, 7));
    EOS_ASSERT_OK(eos_head_init(&h3, C, D, 8));
    const double bound = 1.0 / 16, var = 1.0 / (3.0 * D);
    double s = 0, s2 = 0, lo = 1, hi = -1;
    for (int i = 0; i < C * D; i++) {
        double w = h.weight[i];
        s += w;
        s2 += w * w;
        lo = fmin(lo, w);
        hi = fmax(hi, w);
    }
    double mean = s / (C * D), v = s2 / (C * D) - mean * mean;
    printf("# fresh head: weight in [%.5f, %.5f], mean %.2e, variance %.3e (want %.3e)\n", lo, hi, mean, v, var);
    assert_true(lo >= -bound && hi <= bound);
    assert_true(lo < -0.99 * bound && hi > 0.99 * bound);  /* the whole interval is used */
    assert_true(fabs(mean) < 5 * sqrt(var / (C * D)));
    assert_true(fabs(v / var - 1) < 0.03);
    double bs = 0, bs2 = 0;
    for (int c = 0; c < C; c++) {
        assert_true(fabs(h.bias[c]) <= bound);
        bs += h.bias[c];
        bs2 += (double)h.bias[c] * h.bias[c];
    }
    /* 100 biases: the variance within 40% (its relative standard error is 9%) */
    assert_true(fabs(bs2 / C - (bs / C) * (bs / C) - var) < 0.4 * var);
    assert_memory_equal(h.weight, h2.weight, sizeof(float) * C * D);  /* seeded */
    assert_memory_equal(h.bias, h2.bias, sizeof(float) * C);
    assert_memory_not_equal(h.weight, h3.weight, sizeof(float) * C * D);
    eos_head_free(&h);
    eos_head_free(&h2);
    eos_head_free(&h3);
    eos_head_mode mode;
    EOS_ASSERT_OK(eos_head_mode_parse("warm", &mode));
    assert_int_equal(mode, EOS_HEAD_WARM);
    EOS_ASSERT_OK(eos_head_mode_parse("fresh", &mode));
    assert_int_equal(mode, EOS_HEAD_FRESH);
    assert_int_equal(eos_head_mode_parse("hot", &mode), EOS_ERR_INVALID_ARG);
}

/* --head warm starts phase 3 from the phase-1 network's head, bit for bit; fresh from
 * eos_head_init's, whatever the model */
static void test_head_start(void **state) {
    eos_runtime_t rt = *state;
    eos_resnet_t m;
    EOS_ASSERT_OK(eos_resnet_create(rt, 1, 3, 5, EOS_RESNET_HEAD_LINEAR, 11, &m));
    float w[5 * 64], b[5];
    EOS_ASSERT_OK(eos_resnet_linear_head(m, w, b));
    /* a trained head has a non-zero bias: put one there so the copy is checked on it too */
    for (int c = 0; c < 5; c++) b[c] = 0.25f * (float)(c + 1);
    EOS_ASSERT_OK(eos_resnet_replace_head(m, w, b));
    eos_head warm, fresh, ref;
    EOS_ASSERT_OK(eos_head_start(&warm, EOS_HEAD_WARM, m, 5, 64, 3));
    assert_int_equal(warm.classes, 5);
    assert_int_equal(warm.dim, 64);
    assert_memory_equal(warm.weight, w, sizeof w);
    assert_memory_equal(warm.bias, b, sizeof b);
    EOS_ASSERT_OK(eos_head_start(&fresh, EOS_HEAD_FRESH, m, 5, 64, 3));
    EOS_ASSERT_OK(eos_head_init(&ref, 5, 64, 3));
    assert_memory_equal(fresh.weight, ref.weight, sizeof w);
    assert_memory_equal(fresh.bias, ref.bias, sizeof b);
    assert_memory_not_equal(fresh.weight, w, sizeof w);
    eos_head none;
    assert_int_equal(eos_head_start(&none, EOS_HEAD_WARM, NULL, 5, 64, 3), EOS_ERR_INVALID_ARG);
    eos_head_free(&warm);
    eos_head_free(&fresh);
    eos_head_free(&ref);
    eos_resnet_free(m);
}

static double fm_of(const eos_head *h, const eos_embeddings *e) {
    int32_t *pred = malloc(e->n * sizeof *pred);
    eos_metrics m;
    eos_head_predict(h, e, pred);
    EOS_ASSERT_OK(eos_metrics_compute(h->classes, e->labels, pred, e->n, &m));
    double fm = m.fm;
    eos_metrics_free(&m);
    free(pred);
    return fm;
}

/* With a validation set the kept head is the epoch with the best validation macro-F1 (the
 * first of equals). The reference: runs of 1..E epochs end where the E-epoch run passes (the
 * schedule and the shuffles do not depend on E), so their scores give the best epoch. */
static void test_finetune_keeps_best_val_epoch(void **state) {
    eos_runtime_t rt = *state;
    enum { E = 6 };
    eos_embeddings tr, va;
    make(&tr, 60, 21);
    make(&va, 30, 22);
    eos_rng r;  /* noisy rows: classes overlap there, so the epochs score differently */
    eos_rng_seed(&r, 23, 1);
    for (size_t i = 0; i < va.n * 4; i++) va.x[i] += 2.5f * eos_rng_normal(&r);
    for (size_t i = 0; i < tr.n * 4; i++) tr.x[i] += 1.5f * eos_rng_normal(&r);
    eos_finetune_config cfg = eos_finetune_defaults();
    cfg.batch = 16;
    cfg.lr = 0.5f;
    double best = -1;
    int best_e = 0;
    eos_head keep = {0};
    float loss;
    for (int e = 1; e <= E; e++) {
        eos_head h;
        EOS_ASSERT_OK(eos_head_init(&h, 3, 4, 9));
        cfg.epochs = e;
        EOS_ASSERT_OK(eos_finetune(rt, &h, &tr, &cfg, &loss));
        double fm = fm_of(&h, &va);
        printf("# epoch %d: validation FM %.4f\n", e, fm);
        if (fm > best) {
            best = fm;
            best_e = e;
            eos_head_free(&keep);
            keep = h;
        } else {
            eos_head_free(&h);
        }
    }
    eos_head h;
    EOS_ASSERT_OK(eos_head_init(&h, 3, 4, 9));
    cfg.epochs = E;
    cfg.val = &va;
    EOS_ASSERT_OK(eos_finetune(rt, &h, &tr, &cfg, &loss));
    printf("# kept epoch %d of %d (FM %.4f)\n", best_e, E, best);
    assert_memory_equal(h.weight, keep.weight, 12 * sizeof(float));
    assert_memory_equal(h.bias, keep.bias, 3 * sizeof(float));
    /* a validation set of another width is refused */
    va.dim = 3;
    assert_int_equal(eos_finetune(rt, &h, &tr, &cfg, &loss), EOS_ERR_INVALID_ARG);
    va.dim = 4;
    eos_head_free(&h);
    eos_head_free(&keep);
    eos_embeddings_free(&tr);
    eos_embeddings_free(&va);
}

/* Issue 20: the head trained from a device tensor (eos_finetune_device, each batch gathered on
 * the device) equals the host path's bit for bit, with a partial last batch (303 rows, batch 128)
 * and with a validation set choosing the epoch; and per batch only the row numbers and labels go
 * up instead of the rows. */
static void test_finetune_device_matches_host(void **state) {
    eos_runtime_t rt = *state;
    eos_embeddings tr, va;
    make(&tr, 101, 7);  /* 303 rows: a partial last batch */
    make(&va, 20, 8);
    for (int with_val = 0; with_val < 2; with_val++) {
        eos_head a, b;
        assert_int_equal(eos_head_init(&a, 3, 4, 3), EOS_OK);
        assert_int_equal(eos_head_init(&b, 3, 4, 3), EOS_OK);
        eos_finetune_config cfg = eos_finetune_defaults();
        cfg.epochs = 3;
        cfg.seed = 5;
        cfg.val = with_val ? &va : NULL;
        float la = 0, lb = 0;
        eos_runtime_stats s0 = eos_runtime_get_stats(rt);
        assert_int_equal(eos_finetune(rt, &a, &tr, &cfg, &la), EOS_OK);
        eos_runtime_stats s1 = eos_runtime_get_stats(rt);
        eos_tensor x = {0};
        assert_int_equal(eos_tensor_alloc(rt, &x, 2, (size_t[]){tr.n, tr.dim}), EOS_OK);
        assert_int_equal(eos_tensor_upload(&x, tr.x, tr.n * tr.dim), EOS_OK);
        eos_runtime_stats s2 = eos_runtime_get_stats(rt);
        assert_int_equal(eos_finetune_device(rt, &b, &x, tr.labels, &cfg, &lb), EOS_OK);
        eos_runtime_stats s3 = eos_runtime_get_stats(rt);
        assert_memory_equal(a.weight, b.weight, 3 * 4 * sizeof(float));
        assert_memory_equal(a.bias, b.bias, 3 * sizeof(float));
        assert_memory_equal(&la, &lb, sizeof la);
        /* 3 epochs x 3 batches: 128 rows of 4 floats a batch on the host path, 128 row numbers here */
        assert_int_equal((s1.bytes_to_device - s0.bytes_to_device) - (s3.bytes_to_device - s2.bytes_to_device),
                         9 * (128 * 4 - 128) * sizeof(float));
        eos_tensor_free(&x);
        eos_head_free(&a);
        eos_head_free(&b);
    }
    eos_embeddings_free(&tr);
    eos_embeddings_free(&va);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_learns),
        cmocka_unit_test(test_head_init_is_nn_linear),
        cmocka_unit_test(test_head_start),
        cmocka_unit_test(test_finetune_keeps_best_val_epoch),
        cmocka_unit_test(test_embedding_gap),
        cmocka_unit_test(test_finetune_device_matches_host),
    };
    return cmocka_run_group_tests(tests, test_runtime_setup, test_runtime_teardown);
}
