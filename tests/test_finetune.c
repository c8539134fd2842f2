/* Phase 3: the linear head learns separable embeddings, is deterministic for a seed, keeps
 * PyTorch's layout, and reports bad input; plus the embedding gap against a host computation. */
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_learns),
        cmocka_unit_test(test_embedding_gap),
    };
    return cmocka_run_group_tests(tests, test_runtime_setup, test_runtime_teardown);
}
