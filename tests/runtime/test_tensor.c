/* Device tensors: shapes, the byte count, upload/download round trips, the fill kernel
 * against a plain loop, and the messages of impossible allocations and bad copies. */
#include "test_common.h"

#include <string.h>

static void test_alloc_shapes_and_bytes(void **state) {
    eos_runtime_t rt = *state;
    size_t before = eos_runtime_get_stats(rt).bytes_allocated;
    eos_tensor a, b, c;
    EOS_ASSERT_OK(eos_tensor_alloc(rt, &a, 4, (size_t[]){2, 3, 5, 7}));
    assert_int_equal(a.ndim, 4);
    assert_int_equal(a.numel, 210);
    assert_int_equal(eos_tensor_bytes(&a), 840);
    char s[64];
    assert_string_equal(eos_tensor_shape_str(&a, s, sizeof s), "(2, 3, 5, 7)");
    EOS_ASSERT_OK(eos_tensor_alloc(rt, &b, 1, (size_t[]){11}));
    assert_int_equal(b.shape[1], 1);
    assert_string_equal(eos_tensor_shape_str(&b, s, sizeof s), "(11)");
    EOS_ASSERT_OK(eos_tensor_alloc(rt, &c, 2, (size_t[]){64, 100}));
    eos_runtime_stats st = eos_runtime_get_stats(rt);
    assert_int_equal(st.bytes_allocated, before + 4 * (210 + 11 + 6400));
    assert_true(st.bytes_peak >= st.bytes_allocated);
    eos_tensor_free(&c);
    assert_int_equal(eos_runtime_get_stats(rt).bytes_allocated, before + 4 * (210 + 11));
    eos_tensor_free(&c);  /* a second free is harmless */
    eos_tensor_free(&a);
    eos_tensor_free(&b);
    assert_int_equal(eos_runtime_get_stats(rt).bytes_allocated, before);
    assert_int_equal(eos_runtime_get_stats(rt).bytes_peak, st.bytes_peak);
}

static void test_bad_shapes(void **state) {
    eos_runtime_t rt = *state;
    eos_tensor t;
    assert_int_equal(eos_tensor_alloc(rt, &t, 0, (size_t[]){1}), EOS_ERR_INVALID_ARG);
    assert_int_equal(eos_tensor_alloc(rt, &t, 5, (size_t[]){1, 1, 1, 1, 1}), EOS_ERR_INVALID_ARG);
    assert_int_equal(eos_tensor_alloc(rt, &t, 2, (size_t[]){4, 0}), EOS_ERR_INVALID_ARG);
    assert_non_null(strstr(eos_last_error()->message, "(4, 0)"));
    assert_null(t.buf);
}

static void test_alloc_too_large_reports_size(void **state) {
    eos_runtime_t rt = *state;
    const eos_device_info *d = eos_runtime_device(rt);
    size_t before = eos_runtime_get_stats(rt).bytes_allocated;
    size_t rows = (size_t)(d->max_alloc_bytes / 4 / 1024) + 1;  /* one row past the limit */
    eos_tensor t;
    assert_int_equal(eos_tensor_alloc(rt, &t, 2, (size_t[]){rows, 1024}), EOS_ERR_OUT_OF_MEMORY);
    const char *m = eos_last_error()->message;
    char shape[64];
    snprintf(shape, sizeof shape, "(%zu, 1024)", rows);
    assert_non_null(strstr(m, shape));
    assert_non_null(strstr(m, "MiB"));
    assert_non_null(strstr(m, "largest allocation"));
    assert_non_null(strstr(eos_last_error()->hint, "smaller batch"));
    assert_null(t.buf);
    assert_int_equal(eos_runtime_get_stats(rt).bytes_allocated, before);
}

static void test_upload_download_roundtrip(void **state) {
    eos_runtime_t rt = *state;
    eos_rng r;
    eos_rng_seed(&r, 11, 0);
    size_t n = 3 * 5 * 17 * 19;
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    test_fill_uniform(&r, x, n, -100, 100);
    eos_tensor t;
    EOS_ASSERT_OK(eos_tensor_alloc(rt, &t, 4, (size_t[]){3, 5, 17, 19}));
    EOS_ASSERT_OK(eos_tensor_upload(&t, x, n));
    memset(y, 0, n * sizeof *y);
    EOS_ASSERT_OK(eos_tensor_download(&t, y, n));
    assert_memory_equal(x, y, n * sizeof *x);
    /* a count that is not numel names the shape */
    assert_int_equal(eos_tensor_upload(&t, x, n - 1), EOS_ERR_INVALID_ARG);
    assert_non_null(strstr(eos_last_error()->message, "(3, 5, 17, 19)"));
    assert_int_equal(eos_tensor_download(&t, y, n + 1), EOS_ERR_INVALID_ARG);
    assert_int_equal(eos_tensor_upload(&t, NULL, n), EOS_ERR_INVALID_ARG);
    eos_tensor_free(&t);
    assert_int_equal(eos_tensor_download(&t, y, n), EOS_ERR_INVALID_ARG);  /* freed */
    free(x);
    free(y);
}

static void test_fill_matches_reference(void **state) {
    eos_runtime_t rt = *state;
    /* sizes around work-group multiples and odd ones */
    static const size_t sizes[] = {1, 2, 63, 64, 65, 255, 256, 257, 1000, 4097, 1000003};
    static const float values[] = {0.0f, -1.5f, 3.25e7f, 1e-30f};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        float *h = malloc((n + 1) * sizeof *h);
        eos_tensor t;
        EOS_ASSERT_OK(eos_tensor_alloc(rt, &t, 1, &n));
        for (size_t i = 0; i < n; i++) h[i] = (float)i;
        EOS_ASSERT_OK(eos_tensor_upload(&t, h, n));  /* something other than the fill value */
        float v = values[s % 4];
        EOS_ASSERT_OK(eos_tensor_fill(&t, v));
        h[n] = 12345.0f;  /* sentinel: the download must not write past n */
        EOS_ASSERT_OK(eos_tensor_download(&t, h, n));
        for (size_t i = 0; i < n; i++)
            if (h[i] != v) fail_msg("fill n=%zu: element %zu is %g, want %g", n, i, h[i], v);
        assert_true(h[n] == 12345.0f);
        eos_tensor_free(&t);
        free(h);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_shapes_and_bytes),
        cmocka_unit_test(test_bad_shapes),
        cmocka_unit_test(test_alloc_too_large_reports_size),
        cmocka_unit_test(test_upload_download_roundtrip),
        cmocka_unit_test(test_fill_matches_reference),
    };
    return cmocka_run_group_tests(tests, test_runtime_setup, test_runtime_teardown);
}
