/* PCG32 against the published pcg32-demo output (seed 42, stream 54: six u32 values, 65 coin
 * flips with bounded draws of 2, 20 dice rolls), plus the moments of the distributions. */
#include "test_common.h"

#include <math.h>
#include <string.h>

static void test_pcg32_reference(void **state) {
    (void)state;
    static const uint32_t want[6] = {0xa15c02b7u, 0x7b47f409u, 0xba1d3330u, 0x83d2f293u, 0xbfa4784bu, 0xcbed606eu};
    eos_rng r;
    eos_rng_seed(&r, 42, 54);
    for (int i = 0; i < 6; i++) assert_int_equal(eos_rng_u32(&r), want[i]);
    /* the demo then prints 65 coins (boundedrand(2), 1 = H) and dice (boundedrand(6) + 1) */
    const char *coins = "HHTTTHTHHHTHTTTHHHHHTTTHHHTHTHTHTTHTTTHHHHHHTTTTHHTTTTTHTTTTTTTHT";
    char got[66] = {0};
    for (int i = 0; i < 65; i++) got[i] = eos_rng_below(&r, 2) ? 'H' : 'T';
    assert_string_equal(got, coins);
    static const int rolls[20] = {3, 4, 1, 1, 2, 2, 3, 2, 4, 3, 2, 4, 3, 3, 5, 2, 3, 1, 3, 1};
    for (int i = 0; i < 20; i++) assert_int_equal((int)eos_rng_below(&r, 6) + 1, rolls[i]);
}

static void test_uniform_and_below(void **state) {
    (void)state;
    eos_rng r;
    eos_rng_seed(&r, 7, 0);
    double sum = 0;
    int counts[10] = {0};
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        float u = eos_rng_uniform(&r);
        assert_true(u >= 0.0f && u < 1.0f);
        sum += u;
        uint32_t k = eos_rng_below(&r, 10);
        assert_true(k < 10);
        counts[k]++;
    }
    assert_true(fabs(sum / n - 0.5) < 0.005);
    /* chi-square with 9 degrees of freedom: 27.9 is the 0.999 quantile */
    double chi2 = 0;
    for (int k = 0; k < 10; k++) chi2 += pow(counts[k] - n / 10.0, 2) / (n / 10.0);
    assert_true(chi2 < 27.9);
}

static void test_normal_moments(void **state) {
    (void)state;
    eos_rng r;
    eos_rng_seed(&r, 3, 1);
    const int n = 200000;
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++) {
        double x = eos_rng_normal(&r);
        assert_true(isfinite(x));
        s += x;
        s2 += x * x;
    }
    double mean = s / n, var = s2 / n - mean * mean;
    assert_true(fabs(mean) < 0.01);
    assert_true(fabs(var - 1.0) < 0.02);
}

static void test_streams_differ(void **state) {
    (void)state;
    eos_rng a, b, c;
    eos_rng_seed(&a, 1, 1);
    eos_rng_seed(&b, 1, 2);
    eos_rng_seed(&c, 1, 1);
    int same_ab = 0;
    for (int i = 0; i < 100; i++) {
        uint32_t x = eos_rng_u32(&a), y = eos_rng_u32(&b), z = eos_rng_u32(&c);
        same_ab += x == y;
        assert_int_equal(x, z);  /* same seed and stream: same sequence */
    }
    assert_true(same_ab < 3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pcg32_reference),
        cmocka_unit_test(test_uniform_and_below),
        cmocka_unit_test(test_normal_moments),
        cmocka_unit_test(test_streams_differ),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
