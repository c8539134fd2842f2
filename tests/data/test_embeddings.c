/* Embedding CSV files: exact round trips, tolerant of CRLF, BOM and blank lines, and an error
 * naming the line (and column) for every malformed row. */
#include "test_common.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

static eos_status parse(const char *text, int classes, eos_embeddings *e) {
    return eos_embeddings_parse_csv(text, strlen(text), "emb.csv", classes, e);
}

static void expect_bad(const char *text, int classes, const char *needle) {
    eos_embeddings e;
    eos_status st = parse(text, classes, &e);
    if (st != EOS_ERR_FORMAT) fail_msg("%s: got %s, want EOS_ERR_FORMAT", text, eos_status_str(st));
    if (!strstr(eos_last_error()->message, needle))
        fail_msg("message lacks '%s':\n%s", needle, eos_last_error()->message);
    assert_null(e.x);
}

static void test_roundtrip_exact(void **state) {
    (void)state;
    const char *base = getenv("EOS_TEST_TMP");
    char dir[512], path[1024];
    snprintf(dir, sizeof dir, "%s/csv-XXXXXX", base && base[0] ? base : "/tmp");
    mkdir(base && base[0] ? base : "/tmp", 0755);
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/train_emb.csv", dir);
    eos_rng r;
    eos_rng_seed(&r, 4, 4);
    eos_embeddings e = {37, 64, malloc(37 * sizeof(int32_t)), malloc(37 * 64 * sizeof(float))};
    for (size_t i = 0; i < 37; i++) e.labels[i] = (int32_t)(i % 10);
    for (size_t i = 0; i < 37 * 64; i++) e.x[i] = (eos_rng_uniform(&r) - 0.5f) * powf(10.0f, (float)(i % 13) - 6.0f);
    e.x[5] = 0.0f;
    e.x[6] = -0.0f;
    e.x[7] = 3.4028235e38f;
    e.x[8] = 1.4e-45f;  /* the smallest subnormal */
    EOS_ASSERT_OK(eos_embeddings_write_csv(path, &e));
    eos_embeddings back;
    EOS_ASSERT_OK(eos_embeddings_read_csv(path, 10, &back));
    assert_int_equal(back.n, 37);
    assert_int_equal(back.dim, 64);
    assert_memory_equal(back.labels, e.labels, 37 * sizeof(int32_t));
    assert_memory_equal(back.x, e.x, 37 * 64 * sizeof(float));  /* bit for bit */
    FILE *f = fopen(path, "r");
    char head[32];
    assert_non_null(fgets(head, sizeof head, f));
    fclose(f);
    assert_memory_equal(head, "label,f0,f1,f2", 14);
    eos_embeddings_free(&back);
    eos_embeddings_free(&e);
    assert_int_equal(eos_embeddings_read_csv("/nonexistent/emb.csv", 0, &back), EOS_ERR_IO);
    assert_non_null(strstr(eos_last_error()->message, "/nonexistent/emb.csv"));
}

static void test_tolerated_variants(void **state) {
    (void)state;
    eos_embeddings e;
    EOS_ASSERT_OK(parse("\xef\xbb\xbflabel,a,b\r\n2, 1.5 ,-2e-3\r\n\r\n0,3,4\n\n", 3, &e));
    assert_int_equal(e.n, 2);
    assert_int_equal(e.dim, 2);
    assert_int_equal(e.labels[0], 2);
    assert_float_equal(e.x[0], 1.5f, 0);
    assert_float_equal(e.x[1], -2e-3f, 0);
    assert_float_equal(e.x[3], 4.0f, 0);
    eos_embeddings_free(&e);
    EOS_ASSERT_OK(parse("label,f0\n", 0, &e));  /* a header and no rows: zero samples */
    assert_int_equal(e.n, 0);
    eos_embeddings_free(&e);
    EOS_ASSERT_OK(parse("label,f0\n7,1", 0, &e));  /* no final newline; any label >= 0 when classes = 0 */
    assert_int_equal(e.labels[0], 7);
    eos_embeddings_free(&e);
}

static void test_errors_name_the_line(void **state) {
    (void)state;
    expect_bad("", 0, "empty file");
    expect_bad("1,2,3\n0,1,2\n", 0, "line 1: expected a header line");
    expect_bad("label\n0\n", 0, "at least one feature");
    expect_bad("label,f0,f1\n0,1,2\n1,2\n", 0, "line 3: 2 fields, expected 3");
    expect_bad("label,f0,f1\n0,1,2\n\n1,2,3,4\n", 0, "line 4: 4 fields");
    expect_bad("label,f0,f1\n0,1,abc\n", 0, "line 2, column 3 (f1): 'abc' is not a finite number");
    expect_bad("label,f0,f1\n0,,1\n", 0, "line 2, column 2 (f0)");
    expect_bad("label,f0,f1\n0,nan,1\n", 0, "'nan' is not a finite number");
    expect_bad("label,f0,f1\n0,1,inf\n", 0, "'inf' is not a finite number");
    expect_bad("label,f0,f1\n0,1,2\n10,1,2\n", 10, "line 3: label '10', expected an integer 0..9");
    expect_bad("label,f0,f1\n-1,1,2\n", 0, "label '-1', expected a non-negative integer");
    expect_bad("label,f0,f1\n1.5,1,2\n", 0, "label '1.5'");
    expect_bad("label,f0,f1\ncat,1,2\n", 0, "label 'cat'");
}

/* Issue 13 item 11: a number longer than 63 characters is still a number (it was "not a
 * finite number"); a long field that is not one is reported cut short with "...". */
static void test_long_numbers(void **state) {
    (void)state;
    char text[512], num[160];
    snprintf(num, sizeof num, "0.%0120d25", 0);  /* 0.000...025, 124 characters: 2.5e-122 underflows to 0 */
    snprintf(text, sizeof text, "label,f0,f1\n1,%s,  1.50000000000000000000000000000000000000000000000000000000000000000000001  \n", num);
    eos_embeddings e;
    EOS_ASSERT_OK(parse(text, 0, &e));
    assert_int_equal(e.n, 1);
    assert_true(e.x[0] == 0.0f);
    assert_true(e.x[1] == 1.5f);
    eos_embeddings_free(&e);
    snprintf(text, sizeof text, "label,f0\n0,%0100dx\n", 7);
    expect_bad(text, 0, "line 2, column 2 (f0): '0000000000000000000000000000000000000000...' is not a finite number");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_exact),
        cmocka_unit_test(test_tolerated_variants),
        cmocka_unit_test(test_errors_name_the_line),
        cmocka_unit_test(test_long_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
