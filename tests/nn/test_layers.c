/* Every layer against its plain-C reference (tests/ref/layers_ref.c), forward and backward,
 * plus finite-difference checks of the backward passes: for L = sum(y * r) the device's
 * gradient with dy = r must match (L(v + h) - L(v - h)) / 2h evaluated with the reference.
 * The tests sit in one file per op (tests/nn/test_<op>.c); this is the program that runs them,
 * one cmocka group on one device, as ctest's test_layers and its variants. */
#include "layers_test_common.h"

eos_rng g_rng;

int main(void) {
    /* the order of the tests is part of their inputs (one generator, layers_test_common.h):
     * a new file's list goes at the end */
    static const struct {
        const struct CMUnitTest *tests;
        const size_t *n;
    } files[] = {
        {eos_tests_conv, &eos_tests_conv_n},
        {eos_tests_batchnorm, &eos_tests_batchnorm_n},
        {eos_tests_activation, &eos_tests_activation_n},
        {eos_tests_pool, &eos_tests_pool_n},
        {eos_tests_linear, &eos_tests_linear_n},
        {eos_tests_loss, &eos_tests_loss_n},
        {eos_tests_optim, &eos_tests_optim_n},
    };
    size_t total = 0;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) total += *files[f].n;
    struct CMUnitTest *tests = malloc(total * sizeof *tests);
    if (!tests) return 1;
    size_t at = 0;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        memcpy(tests + at, files[f].tests, *files[f].n * sizeof *tests);
        at += *files[f].n;
    }
    eos_rng_seed(&g_rng, 77, 7);
    eos__conv_set_tiled_variant(default_tiled_variant());
    /* the group's name as cmocka_run_group_tests(tests, ...) printed it */
    int rc = _cmocka_run_group_tests("tests", tests, total, test_runtime_setup, test_runtime_teardown);
    free(tests);
    return rc;
}
