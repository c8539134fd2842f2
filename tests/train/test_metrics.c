/* The imbalance metrics against scikit-learn and imbalanced-learn (tests/golden/
 * make_metrics_golden.py): accuracy, balanced accuracy, macro geometric mean, macro F1 and the
 * per-class recall on random, skilled, useless and long-tailed predictions. */
#include "test_common.h"

#include <math.h>
#include <string.h>

static void test_against_sklearn(void **state) {
    (void)state;
    FILE *f = fopen(EOS_GOLDEN_DIR "/metrics_cases.txt", "r");
    assert_non_null(f);
    int C, n, cases = 0;
    while (fscanf(f, " case %d %d", &C, &n) == 2) {
        int32_t *y = malloc(n * sizeof *y), *p = malloc(n * sizeof *p);
        for (int i = 0; i < n; i++) assert_int_equal(fscanf(f, "%d", &y[i]), 1);
        for (int i = 0; i < n; i++) assert_int_equal(fscanf(f, "%d", &p[i]), 1);
        double acc, bac, gm, fm, rec[32];
        assert_int_equal(fscanf(f, "%lf %lf %lf %lf", &acc, &bac, &gm, &fm), 4);
        for (int c = 0; c < C; c++) assert_int_equal(fscanf(f, "%lf", &rec[c]), 1);
        eos_metrics m;
        EOS_ASSERT_OK(eos_metrics_compute(C, y, p, (size_t)n, &m));
        assert_float_equal(m.acc, acc, 1e-9);
        assert_float_equal(m.bac, bac, 1e-9);
        if (fabs(m.gm - gm) > 1e-9) fail_msg("case %d: GM %.12g, imbalanced-learn %.12g", cases, m.gm, gm);
        if (fabs(m.fm - fm) > 1e-9) fail_msg("case %d: FM %.12g, scikit-learn %.12g", cases, m.fm, fm);
        for (int c = 0; c < C; c++) assert_float_equal(m.recall[c], rec[c], 1e-9);
        eos_metrics_free(&m);
        free(y);
        free(p);
        cases++;
    }
    fclose(f);
    assert_int_equal(cases, 7);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_against_sklearn)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
