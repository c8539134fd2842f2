/* Helpers shared by the cmocka tests: open the test device once per program, fail with the
 * library's full error message, and random inputs from the project's generator. */
#ifndef EOS_TEST_COMMON_H
#define EOS_TEST_COMMON_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "eos/eos.h"

/* Assert a library call succeeded; on failure print eos_last_error_message(). */
#define EOS_ASSERT_OK(call)                                                              \
    do {                                                                                 \
        eos_status st__ = (call);                                                        \
        if (st__ != EOS_OK) fail_msg("%s failed:\n%s", #call, eos_last_error_message()); \
    } while (0)

/* EOS_TEST_FILTER=PATTERN runs only the tests whose names match (cmocka's wildcards * and ?), in
 * every test program: e.g. EOS_TEST_FILTER=test_conv2d_tiled build/tests/test_layers. Applied
 * before main by a constructor, so the programs need no code of their own for it. */
/* EOS_TEST_SKIP=PATTERN leaves out the tests whose names match (tests/oclgrind.sh runs the
 * tests that misuse the OpenCL API on purpose in a pass of their own). */
__attribute__((constructor)) static void test_filter_from_env(void) {
    const char *f = getenv("EOS_TEST_FILTER"), *k = getenv("EOS_TEST_SKIP");
    if (f && f[0]) cmocka_set_test_filter(f);
    if (k && k[0]) cmocka_set_skip_filter(k);
}

/* Launches since eos_runtime_profile_start of the kernels named name (prefix 0) or whose names
 * start with it (prefix 1). */
static inline long test_kernel_calls(eos_runtime_t rt, const char *name, int prefix) {
    eos_kernel_time t[128];
    size_t n = eos_runtime_profile_read(rt, t, 128);
    long calls = 0;
    for (size_t i = 0; i < n; i++)
        if (prefix ? !strncmp(t[i].name, name, strlen(name)) : !strcmp(t[i].name, name)) calls += t[i].calls;
    return calls;
}

/* EOS_TEST_TINY=1 (set by tests/oclgrind.sh): only the small cases of a program, for a
 * simulated device (Oclgrind interprets every work-item, about 10^4 times slower than PoCL);
 * every kernel still runs, with tails, but the large and timing-shaped cases are skipped. */
static inline int test_tiny(void) {
    const char *e = getenv("EOS_TEST_TINY");
    return e && e[0] && strcmp(e, "0") != 0;
}

/* cmocka group setup/teardown: *state becomes an eos_runtime_t on the test device
 * (EOS_DEVICE, else the default device). */
static inline int test_runtime_setup(void **state) {
    eos_runtime_t rt;
    if (eos_runtime_init(&rt, NULL) != EOS_OK) {
        fprintf(stderr, "cannot open the test device:\n%s\n", eos_last_error_message());
        return -1;
    }
    const eos_device_info *d = eos_runtime_device(rt);
    printf("# device: %s (%s)\n", d->name, d->platform_name);
    *state = rt;
    return 0;
}

static inline int test_runtime_teardown(void **state) {
    eos_runtime_free((eos_runtime_t)*state);
    return 0;
}

/* A fresh empty folder under $EOS_TEST_TMP (or /tmp) named tag-XXXXXX. */
static inline void test_tmpdir(char *buf, size_t n, const char *tag) {
    const char *base = getenv("EOS_TEST_TMP");
    if (!base || !base[0]) base = "/tmp";
    mkdir(base, 0755);
    snprintf(buf, n, "%s/%s-XXXXXX", base, tag);
    if (!mkdtemp(buf)) fail_msg("mkdtemp %s: %s", buf, strerror(errno));
}

/* The whole file at path, NUL-terminated (so text can be searched as a string); *len (when
 * not NULL) receives its size. Fails the test when the file cannot be read. */
static inline char *test_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = 0;
    fclose(f);
    if (len) *len = (size_t)n;
    return b;
}

/* Write n bytes to path, replacing it. */
static inline void test_write_file(const char *path, const void *buf, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) fail_msg("cannot write %s: %s", path, strerror(errno));
    assert_int_equal(fwrite(buf, 1, n, f), n);
    fclose(f);
}

static inline void test_write_text(const char *path, const char *text) { test_write_file(path, text, strlen(text)); }

static inline void test_fill_uniform(eos_rng *r, float *x, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * eos_rng_uniform(r);
}

#endif
