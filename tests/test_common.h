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

static inline void test_fill_uniform(eos_rng *r, float *x, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * eos_rng_uniform(r);
}

#endif
