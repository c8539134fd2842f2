/* Runtime: device listing and --device specs, kernel building, the on-disk program cache
 * (hits, and corrupt / truncated / stale entries rebuilt), EOS_KERNEL_DIR and build errors, and
 * the measured multiply-add peak (its closed-form check included). */
#include "test_common.h"
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* A fresh empty folder for this test. */

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

/* ---- devices ------------------------------------------------------------------------- */

static void test_devices_list(void **state) {
    (void)state;
    eos_device_info *d;
    int n;
    EOS_ASSERT_OK(eos_devices_list(&d, &n));
    assert_true(n >= 1);
    for (int i = 0; i < n; i++) {
        assert_int_equal(d[i].index, i);
        assert_true(strlen(d[i].name) > 0);
        assert_true(d[i].max_work_group_size >= 1);
        assert_true(d[i].global_mem_bytes > 0);
        assert_true(d[i].max_alloc_bytes > 0);
        assert_true(d[i].compute_units >= 1);
        assert_non_null(strstr(d[i].opencl_c_version, "OpenCL C"));
    }
    eos_devices_free(d);
}

static void test_device_specs(void **state) {
    (void)state;
    eos_device_info *d;
    int n, idx;
    EOS_ASSERT_OK(eos_devices_list(&d, &n));
    /* default: first GPU, else first CPU */
    EOS_ASSERT_OK(eos_device_select(d, n, NULL, &idx));
    int want = -1;
    for (int i = 0; i < n && want < 0; i++) if (d[i].type == EOS_DEVICE_GPU) want = i;
    for (int i = 0; i < n && want < 0; i++) if (d[i].type == EOS_DEVICE_CPU) want = i;
    if (want < 0) want = 0;
    assert_int_equal(idx, want);
    EOS_ASSERT_OK(eos_device_select(d, n, "", &idx));
    assert_int_equal(idx, want);
    /* by index */
    EOS_ASSERT_OK(eos_device_select(d, n, "0", &idx));
    assert_int_equal(idx, 0);
    char num[16];
    snprintf(num, sizeof num, "%d", n - 1);
    EOS_ASSERT_OK(eos_device_select(d, n, num, &idx));
    assert_int_equal(idx, n - 1);
    /* by type */
    for (int i = 0; i < n; i++) {
        const char *spec = d[i].type == EOS_DEVICE_CPU ? "CPU" : d[i].type == EOS_DEVICE_GPU ? "gpu" : NULL;
        if (!spec) continue;
        EOS_ASSERT_OK(eos_device_select(d, n, spec, &idx));
        assert_int_equal(d[idx].type, d[i].type);
        assert_true(idx <= i);
    }
    /* by a case-changed middle part of the name */
    char part[8] = {0};
    size_t len = strlen(d[n - 1].name);
    size_t from = len > 6 ? len / 2 - 2 : 0;
    for (size_t k = 0; k < 4 && from + k < len; k++) {
        char c = d[n - 1].name[from + k];
        part[k] = (c >= 'a' && c <= 'z') ? (char)(c - 32) : (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    EOS_ASSERT_OK(eos_device_select(d, n, part, &idx));
    assert_true(idx <= n - 1);
    int found = 0;
    for (size_t k = 0; d[idx].name[k] && !found; k++) found = !strncasecmp(d[idx].name + k, part, strlen(part));
    assert_true(found);
    eos_devices_free(d);
}

static void test_bad_spec_lists_devices(void **state) {
    (void)state;
    eos_device_info *d;
    int n, idx = 7;
    EOS_ASSERT_OK(eos_devices_list(&d, &n));
    assert_int_equal(eos_device_select(d, n, "no-such-device-xyz", &idx), EOS_ERR_NO_DEVICE);
    assert_int_equal(idx, -1);
    const char *msg = eos_last_error()->message;
    assert_non_null(strstr(msg, "no OpenCL device matches --device 'no-such-device-xyz'"));
    assert_non_null(strstr(msg, "Devices found:"));
    for (int i = 0; i < n; i++) assert_non_null(strstr(msg, d[i].name));
    assert_non_null(strstr(eos_last_error()->hint, "eos devices"));
    char num[16];
    snprintf(num, sizeof num, "%d", n);  /* one past the last index */
    assert_int_equal(eos_device_select(d, n, num, &idx), EOS_ERR_NO_DEVICE);
    /* eos_runtime_init reports the same error */
    eos_runtime_t rt = NULL;
    assert_int_equal(eos_runtime_init(&rt, "no-such-device-xyz"), EOS_ERR_NO_DEVICE);
    assert_null(rt);
    eos_devices_free(d);
}

/* ---- errors -------------------------------------------------------------------------- */

static void test_status_strings_and_message(void **state) {
    (void)state;
    assert_string_equal(eos_status_str(EOS_OK), "EOS_OK");
    assert_string_equal(eos_status_str(CL_OUT_OF_RESOURCES), "CL_OUT_OF_RESOURCES");
    assert_string_equal(eos_status_str(CL_INVALID_WORK_GROUP_SIZE), "CL_INVALID_WORK_GROUP_SIZE");
    assert_string_equal(eos_status_str(-1011), "CLBlastInsufficientMemoryA");
    assert_string_equal(eos_status_str(EOS_ERR_FORMAT), "EOS_ERR_FORMAT");
    eos_error_clear();
    assert_int_equal(eos_last_error()->status, EOS_OK);
    assert_string_equal(eos_last_error_message(), "no error");
    eos_status st = eos__error_set(CL_OUT_OF_RESOURCES, "x.c", 12, "clFoo(a)", eos__status_hint(CL_OUT_OF_RESOURCES),
                                   "doing %s", "things");
    assert_int_equal(st, CL_OUT_OF_RESOURCES);
    const char *m = eos_last_error_message();
    assert_non_null(strstr(m, "doing things"));
    assert_non_null(strstr(m, "CL_OUT_OF_RESOURCES (-5)"));
    assert_non_null(strstr(m, "x.c:12: clFoo(a)"));
    assert_non_null(strstr(m, "hint: the device ran out of memory"));
    assert_string_equal(eos_last_error()->file, "x.c");
    assert_int_equal(eos_last_error()->line, 12);
}

/* ---- kernels and the cache ----------------------------------------------------------- */

static void fill_and_check(eos_runtime_t rt, float value, float expect) {
    size_t n = 777;
    eos_tensor t;
    float h[777];
    EOS_ASSERT_OK(eos_tensor_alloc(rt, &t, 1, &n));
    EOS_ASSERT_OK(eos_tensor_fill(&t, value));
    EOS_ASSERT_OK(eos_tensor_download(&t, h, n));
    for (size_t i = 0; i < n; i++) assert_float_equal(h[i], expect, 0.0f);
    eos_tensor_free(&t);
}

/* Open a runtime, use the fill kernel, return the stats. */
static eos_runtime_stats run_once(void) {
    eos_runtime_t rt;
    EOS_ASSERT_OK(eos_runtime_init(&rt, NULL));
    fill_and_check(rt, 2.5f, 2.5f);
    eos_runtime_stats s = eos_runtime_get_stats(rt);
    eos_runtime_free(rt);
    return s;
}

/* The single cache entry in dir. */
static void only_entry(const char *dir, char *path, size_t n) {
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "ls %s/*.bin", dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(path, (int)n, p));
    path[strcspn(path, "\n")] = 0;
    char extra[256];
    assert_null(fgets(extra, sizeof extra, p));  /* exactly one entry */
    pclose(p);
}

static void test_cache_hit_and_rebuild(void **state) {
    (void)state;
    char dir[512], path[1024];
    test_tmpdir(dir, sizeof dir, "cache");
    char *old = getenv("EOS_CACHE_DIR") ? strdup(getenv("EOS_CACHE_DIR")) : NULL;
    setenv("EOS_CACHE_DIR", dir, 1);

    eos_runtime_stats s = run_once();  /* cold */
    assert_int_equal(s.programs_built, 1);
    assert_int_equal(s.cache_hits, 0);
    assert_int_equal(s.cache_writes, 1);
    assert_int_equal(s.cache_rejected, 0);
    only_entry(dir, path, sizeof path);

    s = run_once();  /* warm */
    assert_int_equal(s.programs_built, 0);
    assert_int_equal(s.cache_hits, 1);
    assert_int_equal(s.cache_rejected, 0);

    /* flip one byte near the end (inside the driver's binary) */
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, -10, SEEK_END);
    int c = fgetc(f);
    fseek(f, -10, SEEK_END);
    fputc(c ^ 0x5a, f);
    fclose(f);
    s = run_once();
    assert_int_equal(s.cache_rejected, 1);
    assert_int_equal(s.programs_built, 1);
    assert_int_equal(s.cache_writes, 1);  /* the good binary replaced the bad one */
    s = run_once();
    assert_int_equal(s.cache_hits, 1);

    /* truncated */
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(truncate(path, sb.st_size / 2), 0);
    s = run_once();
    assert_int_equal(s.cache_rejected, 1);
    assert_int_equal(s.programs_built, 1);

    /* garbage of the right size, and an empty file */
    assert_int_equal(stat(path, &sb), 0);
    char *junk = malloc((size_t)sb.st_size);
    memset(junk, 0x41, (size_t)sb.st_size);
    write_file(path, junk, (size_t)sb.st_size);
    free(junk);
    s = run_once();
    assert_int_equal(s.cache_rejected, 1);
    write_file(path, "", 0);
    s = run_once();
    assert_int_equal(s.cache_rejected, 1);
    s = run_once();
    assert_int_equal(s.cache_hits, 1);

    /* other build options are another key: a miss, not a rejection, and a second entry. Added
     * to the caller's options and put back after: under Oclgrind they hold -cl-opt-disable, and
     * a kernel built without it crashed Oclgrind 21.10 later in this program (its
     * uninitialised-value checker on optimised code: test_peak_wrong_kernel_caught, exit 255) */
    const char *given = getenv("EOS_CL_OPTIONS");
    char *keep_opts = given ? strdup(given) : NULL, opts[1024];
    snprintf(opts, sizeof opts, "%s -DEOS_TEST_OTHER_KEY=1", keep_opts ? keep_opts : "");
    setenv("EOS_CL_OPTIONS", opts, 1);
    s = run_once();
    if (keep_opts) setenv("EOS_CL_OPTIONS", keep_opts, 1);
    else unsetenv("EOS_CL_OPTIONS");
    free(keep_opts);
    assert_int_equal(s.cache_hits, 0);
    assert_int_equal(s.cache_rejected, 0);
    assert_int_equal(s.programs_built, 1);

    /* cache off */
    setenv("EOS_CACHE_DIR", "off", 1);
    s = run_once();
    assert_int_equal(s.programs_built, 1);
    assert_int_equal(s.cache_writes, 0);

    if (old) setenv("EOS_CACHE_DIR", old, 1);
    else unsetenv("EOS_CACHE_DIR");
    free(old);
}

static void test_cache_file_format(void **state) {
    (void)state;
    char dir[512], path[1024];
    test_tmpdir(dir, sizeof dir, "cachefmt");
    const unsigned char bin[] = "driver binary bytes";
    eos__cache_result r;

    eos__cache_load(dir, "key A", &r);  /* nothing there: a plain miss */
    assert_null(r.binary);
    assert_int_equal(r.rejected, 0);

    EOS_ASSERT_OK(eos__cache_store(dir, "key A", bin, sizeof bin));
    eos__cache_load(dir, "key A", &r);
    assert_non_null(r.binary);
    assert_int_equal(r.size, sizeof bin);
    assert_memory_equal(r.binary, bin, sizeof bin);
    free(r.binary);

    /* an entry for another key, found under key A's file name (a hash collision, or a file
     * copied from elsewhere) is stale */
    char other[1024];
    EOS_ASSERT_OK(eos__cache_store(dir, "key B", bin, sizeof bin));
    eos__cache_path(dir, "key A", path, sizeof path);
    eos__cache_path(dir, "key B", other, sizeof other);
    assert_int_equal(rename(other, path), 0);
    eos__cache_load(dir, "key A", &r);
    assert_null(r.binary);
    assert_int_equal(r.rejected, 1);

    /* same length key, different text */
    EOS_ASSERT_OK(eos__cache_store(dir, "key C", bin, sizeof bin));
    eos__cache_path(dir, "key C", other, sizeof other);
    assert_int_equal(rename(other, path), 0);
    eos__cache_load(dir, "key A", &r);
    assert_int_equal(r.rejected, 1);

    /* a cache folder that does not exist yet is created, nested */
    char nested[1100];
    snprintf(nested, sizeof nested, "%s/a/b/c", dir);
    EOS_ASSERT_OK(eos__cache_store(nested, "key A", bin, sizeof bin));
    eos__cache_load(nested, "key A", &r);
    assert_non_null(r.binary);
    free(r.binary);

    /* an unwritable place is an error with the path, never a crash */
    assert_int_equal(eos__cache_store("/proc/eos-cl-cannot-write-here", "key A", bin, sizeof bin), EOS_ERR_IO);
    assert_non_null(strstr(eos_last_error()->message, "/proc/eos-cl-cannot-write-here"));
}

/* A FIFO (or folder) where the cache reads or writes is a miss, left as it is, and never waited
 * on: it once hung `eos check` and `eos train` forever (issue 13, item 2). alarm() turns a
 * hang into a failure. */
static void test_cache_non_regular(void **state) {
    (void)state;
    char dir[512], path[1024], tmp[1100];
    test_tmpdir(dir, sizeof dir, "cachefifo");
    const unsigned char bin[] = "driver binary bytes";
    eos__cache_result r;
    alarm(60);
    eos__cache_path(dir, "key A", path, sizeof path);
    assert_int_equal(mkfifo(path, 0644), 0);
    eos__cache_load(dir, "key A", &r);
    assert_null(r.binary);
    assert_int_equal(r.rejected, 0);  /* a miss: not ours, nothing to rebuild over */
    assert_int_equal(eos__cache_store(dir, "key A", bin, sizeof bin), EOS_ERR_IO);
    assert_non_null(strstr(eos_last_error()->message, "not a regular file"));
    struct stat sb;
    assert_int_equal(lstat(path, &sb), 0);
    assert_true(S_ISFIFO(sb.st_mode));  /* left as it is */
    errno = 0;
    assert_null(eos__fopen_regular(path, "r"));
    assert_int_equal(errno, EINVAL);
    assert_null(eos__fopen_regular(path, "a"));
    assert_int_equal(errno, EINVAL);
    /* a folder at the entry's name: the same */
    eos__cache_path(dir, "key B", path, sizeof path);
    assert_int_equal(mkdir(path, 0755), 0);
    eos__cache_load(dir, "key B", &r);
    assert_null(r.binary);
    assert_int_equal(eos__cache_store(dir, "key B", bin, sizeof bin), EOS_ERR_IO);
    /* a FIFO at the temporary name of an atomic write is refused, not opened for writing */
    eos__cache_path(dir, "key C", path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    assert_int_equal(mkfifo(tmp, 0644), 0);
    assert_int_equal(eos__cache_store(dir, "key C", bin, sizeof bin), EOS_ERR_IO);
    assert_non_null(strstr(eos_last_error()->message, "not a regular file"));
    unlink(tmp);
    EOS_ASSERT_OK(eos__cache_store(dir, "key C", bin, sizeof bin));
    eos__cache_load(dir, "key C", &r);
    assert_non_null(r.binary);
    free(r.binary);
    alarm(0);
}

/* The byte-level reader of an entry (also the fuzz target `cache`): every cut, every flipped
 * byte and lengths declared past the end are refused. */
static void test_cache_parse(void **state) {
    (void)state;
    char dir[512], path[1024];
    test_tmpdir(dir, sizeof dir, "cacheparse");
    const unsigned char bin[] = "driver binary bytes";
    EOS_ASSERT_OK(eos__cache_store(dir, "key A", bin, sizeof bin));
    eos__cache_path(dir, "key A", path, sizeof path);
    uint8_t *data;
    size_t size, off, len;
    EOS_ASSERT_OK(eos__read_file(path, 0, 1 << 20, &data, &size));
    assert_null(eos__cache_parse(data, size, "key A", &off, &len));
    assert_int_equal(len, sizeof bin);
    assert_int_equal(off + len, size);
    assert_memory_equal(data + off, bin, sizeof bin);
    assert_null(eos__cache_parse(data, size, NULL, &off, &len));
    assert_non_null(eos__cache_parse(data, size, "key B", &off, &len));
    for (size_t cut = 0; cut < size; cut++) assert_non_null(eos__cache_parse(data, cut, NULL, &off, &len));
    for (size_t i = 0; i < size; i++) {
        data[i] ^= 0x10;
        assert_non_null(eos__cache_parse(data, size, "key A", &off, &len));
        data[i] ^= 0x10;
    }
    /* key length near SIZE_MAX and a payload length that wraps when added */
    uint8_t h[40];
    memcpy(h, data, 32);
    memset(h + 12, 0xff, 4);
    assert_non_null(eos__cache_parse(h, sizeof h, NULL, &off, &len));
    memcpy(h, data, 32);
    memset(h + 16, 0xff, 8);
    assert_non_null(eos__cache_parse(h, sizeof h, NULL, &off, &len));
    free(data);
}

/* `eos cache --clear` deletes only what eos_cache_file_classify calls the cache's own. */
static void test_cache_classify(void **state) {
    (void)state;
    char dir[512], path[1024];
    test_tmpdir(dir, sizeof dir, "cacheclass");
    const unsigned char bin[] = "driver binary bytes";
    EOS_ASSERT_OK(eos__cache_store(dir, "key A", bin, sizeof bin));
    eos__cache_path(dir, "key A", path, sizeof path);
    assert_int_equal(eos_cache_file_classify(dir, strrchr(path, '/') + 1), EOS_CACHE_FILE_ENTRY);
    snprintf(path, sizeof path, "%s/0123456789abcdef.bin", dir);
    write_file(path, "EOSCLPC", 7);  /* too short for the header */
    assert_int_equal(eos_cache_file_classify(dir, "0123456789abcdef.bin"), EOS_CACHE_FILE_FOREIGN);
    write_file(path, "some user data that is longer than a cache header, not one", 59);
    assert_int_equal(eos_cache_file_classify(dir, "0123456789abcdef.bin"), EOS_CACHE_FILE_FOREIGN);
    assert_int_equal(eos_cache_file_classify(dir, "notes.txt"), EOS_CACHE_FILE_OTHER);
    assert_int_equal(eos_cache_file_classify(dir, "fedcba9876543210.bin"), EOS_CACHE_FILE_OTHER);  /* absent */
    snprintf(path, sizeof path, "%s/conv-algos.txt", dir);
    const char marked[] = EOS__CONV_ALGOS_MARKER "\nv8|x|y|z 8 16 32 32 16 3 1 1 gemm\n";
    write_file(path, marked, strlen(marked));
    assert_int_equal(eos_cache_file_classify(dir, "conv-algos.txt"), EOS_CACHE_FILE_CONV_ALGOS);
    /* the marker of the files before the direction joined the key (v9) is still the cache's */
    const char marked9[] = EOS__CONV_ALGOS_MARKER_V9 "\nv9|x|y|z 0 16 32 32 16 3 1 1 gemm\n";
    write_file(path, marked9, strlen(marked9));
    assert_int_equal(eos_cache_file_classify(dir, "conv-algos.txt"), EOS_CACHE_FILE_CONV_ALGOS);
    const char old[] = "v8|x|y|z 8 16 32 32 16 3 1 1 gemm\nv8|x|y|z 8 16 16 16 32 3 2 1 panel\n";
    write_file(path, old, strlen(old));
    assert_int_equal(eos_cache_file_classify(dir, "conv-algos.txt"), EOS_CACHE_FILE_CONV_ALGOS);
    const char mine[] = "v8|x|y|z 8 16 32 32 16 3 1 1 gemm\nmy own notes\n";
    write_file(path, mine, strlen(mine));
    assert_int_equal(eos_cache_file_classify(dir, "conv-algos.txt"), EOS_CACHE_FILE_FOREIGN);
    write_file(path, "", 0);
    assert_int_equal(eos_cache_file_classify(dir, "conv-algos.txt"), EOS_CACHE_FILE_FOREIGN);
    unlink(path);
    alarm(60);
    assert_int_equal(mkfifo(path, 0644), 0);
    assert_int_equal(eos_cache_file_classify(dir, "conv-algos.txt"), EOS_CACHE_FILE_FOREIGN);
    alarm(0);
}

/* Settings are checked, never ignored (issue 13, items 11 and 12). */
static void test_settings_checked(void **state) {
    (void)state;
    const char *saved = getenv("EOS_DEVICE");
    char *dev = saved ? strdup(saved) : NULL;
    eos_runtime_t rt = NULL;
    assert_int_equal(eos_runtime_init(&rt, ""), EOS_ERR_INVALID_ARG);
    assert_null(rt);
    assert_non_null(strstr(eos_last_error()->message, "--device '' is empty"));
    setenv("EOS_DEVICE", "garbage-xyz", 1);
    assert_int_equal(eos_runtime_init(&rt, NULL), EOS_ERR_NO_DEVICE);
    assert_non_null(strstr(eos_last_error()->message, "no OpenCL device matches EOS_DEVICE='garbage-xyz'"));
    if (dev) setenv("EOS_DEVICE", dev, 1);
    else unsetenv("EOS_DEVICE");
    free(dev);
    static const char *const bad[] = {"abc", "-5", "1e99", " 5", "1099511627776"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("EOS_MEM_LIMIT", bad[i], 1);
        assert_int_equal(eos_env_check(), EOS_ERR_INVALID_ARG);
        char want[96];
        snprintf(want, sizeof want, "EOS_MEM_LIMIT='%s': expected a whole number of MiB", bad[i]);
        assert_non_null(strstr(eos_last_error()->message, want));
        assert_int_equal(eos_runtime_init(&rt, NULL), EOS_ERR_INVALID_ARG);
    }
    setenv("EOS_MEM_LIMIT", "0", 1);
    EOS_ASSERT_OK(eos_env_check());
    unsetenv("EOS_MEM_LIMIT");
    setenv("EOS_KNN_ALGO", "brute", 1);
    assert_int_equal(eos_env_check(), EOS_ERR_INVALID_ARG);
    assert_non_null(strstr(eos_last_error()->message, "EOS_KNN_ALGO='brute': expected fused or gemm"));
    unsetenv("EOS_KNN_ALGO");
    EOS_ASSERT_OK(eos_env_check());
}

static void test_kernel_dir_and_build_errors(void **state) {
    (void)state;
    char dir[512], path[1024];
    test_tmpdir(dir, sizeof dir, "kernels");
    snprintf(path, sizeof path, "%s/elementwise.cl", dir);
    setenv("EOS_KERNEL_DIR", dir, 1);

    /* a changed source on disk is used (and is a different cache key) */
    const char *doubled =
        "__kernel void eos_fill(__global float *x, const float value, const uint n) {\n"
        "    const uint i = get_global_id(0);\n    if (i < n) x[i] = 2.0f * value;\n}\n";
    write_file(path, doubled, strlen(doubled));
    eos_runtime_t rt;
    EOS_ASSERT_OK(eos_runtime_init(&rt, NULL));
    fill_and_check(rt, 3.0f, 6.0f);
    eos_runtime_free(rt);

    /* a broken source: EOS_ERR_BUILD naming the file, with the driver's log */
    const char *broken = "__kernel void eos_fill(__global float *x) {\n    x[0] = undeclared_thing;\n}\n";
    write_file(path, broken, strlen(broken));
    EOS_ASSERT_OK(eos_runtime_init(&rt, NULL));
    cl_kernel k;
    assert_int_equal(eos_runtime_kernel(rt, "elementwise.cl", "eos_fill", &k), EOS_ERR_BUILD);
    const char *m = eos_last_error()->message;
    assert_non_null(strstr(m, "cl/elementwise.cl"));
    assert_non_null(strstr(m, "Build log:"));
    assert_non_null(strstr(m, "undeclared_thing"));
    eos_runtime_free(rt);

    /* a missing file under EOS_KERNEL_DIR */
    unlink(path);
    EOS_ASSERT_OK(eos_runtime_init(&rt, NULL));
    assert_int_equal(eos_runtime_kernel(rt, "elementwise.cl", "eos_fill", &k), EOS_ERR_IO);
    assert_non_null(strstr(eos_last_error()->message, path));
    eos_runtime_free(rt);
    unsetenv("EOS_KERNEL_DIR");
}

static void test_kernel_lookup(void **state) {
    eos_runtime_t rt = *state;
    cl_kernel a, b;
    EOS_ASSERT_OK(eos_runtime_kernel(rt, "elementwise.cl", "eos_fill", &a));
    EOS_ASSERT_OK(eos_runtime_kernel(rt, "elementwise.cl", "eos_fill", &b));
    assert_ptr_equal(a, b);  /* created once, then looked up */
    assert_int_equal(eos_runtime_kernel(rt, "elementwise.cl", "no_such_kernel", &a), EOS_ERR_NOT_FOUND);
    assert_non_null(strstr(eos_last_error()->message, "no_such_kernel"));
    assert_int_equal(eos_runtime_kernel(rt, "nothing.cl", "eos_fill", &a), EOS_ERR_NOT_FOUND);
    assert_non_null(strstr(eos_last_error()->message, "nothing.cl"));
    EOS_ASSERT_OK(eos_runtime_build_all(rt));
    assert_true(eos_program_count() >= 1);
    int has_elementwise = 0;
    for (size_t i = 0; i < eos_program_count(); i++) has_elementwise |= !strcmp(eos_program_name(i), "elementwise.cl");
    assert_true(has_elementwise);
    assert_non_null(strstr(eos_runtime_build_options(rt), "-DEOS_MAX_WG="));
}

/* ---- the multiply-add peak (host/runtime/peak.c, cl/peak.cl) --------------------------------------- */

/* Tiny (Oclgrind, whose device says it is a GPU): the peak kernels in groups of one work-item
 * (the CPU paths), not in full groups: each work-item runs thousands of multiply-adds alone, no
 * local memory, so the group shape changes nothing Oclgrind checks, and 2048 work-items a launch
 * took 8 minutes there. */
static void peak_tiny(eos_runtime_t rt) {
    if (test_tiny()) rt->gpu_paths = 0;
}

static void test_peak(void **state) {
    eos_runtime_t rt = *state;
    eos_peak pk;
    const int keep = rt->gpu_paths;
    peak_tiny(rt);
    EOS_ASSERT_OK(eos_peak_measure(rt, 3, 0.002, &pk));
    rt->gpu_paths = keep;
    double best = 0;
    for (int v = 0; v < 4; v++) {
        assert_non_null(pk.names[v]);
        assert_true(pk.variant_gflops[v] > 0);
        if (pk.variant_gflops[v] > best) best = pk.variant_gflops[v];
    }
    assert_true(pk.gflops == best);
    assert_true(pk.fastest_gflops >= pk.gflops);  /* the best variant's fastest launch is in there */
    assert_non_null(pk.variant);
    assert_int_equal(pk.runs, 3);
    assert_true(pk.seconds > 0 && pk.work_items >= eos_runtime_device(rt)->compute_units);
    assert_int_equal(eos_peak_measure(rt, 0, 0.01, &pk), EOS_ERR_INVALID_ARG);
    assert_int_equal(eos_peak_measure(rt, 3, 0, &pk), EOS_ERR_INVALID_ARG);
}

/* The closed-form check catches a kernel that skips work: here work-item 1 drops one loop trip
 * (8 steps of every chain), the kind of error a miscompiled or over-optimised loop makes. */
static void test_peak_wrong_kernel_caught(void **state) {
    (void)state;
    char dir[512], path[1024];
    test_tmpdir(dir, sizeof dir, "peak-kernel");
    char *src = test_read_file(EOS_GOLDEN_DIR "/../../cl/peak.cl", NULL);
    const char *loop = "for (int i = 0; i < iters; i++)";
    char *at = strstr(src, loop);
    assert_non_null(at);
    size_t n = strlen(src) + 64;
    char *bad = malloc(n);
    assert_non_null(bad);
    snprintf(bad, n, "%.*sfor (int i = get_global_id(0) == 1; i < iters; i++)%s", (int)(at - src), src,
             at + strlen(loop));
    snprintf(path, sizeof path, "%s/peak.cl", dir);
    test_write_text(path, bad);
    setenv("EOS_KERNEL_DIR", dir, 1);
    eos_runtime_t rt;
    EOS_ASSERT_OK(eos_runtime_init(&rt, NULL));
    peak_tiny(rt);
    eos_peak pk;
    assert_int_equal(eos_peak_measure(rt, 3, 0.002, &pk), EOS_ERR_NUMERIC);
    const char *m = eos_last_error()->message;
    assert_non_null(strstr(m, "cl/peak.cl"));
    assert_non_null(strstr(m, "work-item 1 wrote"));
    eos_runtime_free(rt);
    unsetenv("EOS_KERNEL_DIR");
    unlink(path);
    rmdir(dir);
    free(bad);
    free(src);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_devices_list),
        cmocka_unit_test(test_device_specs),
        cmocka_unit_test(test_bad_spec_lists_devices),
        cmocka_unit_test(test_status_strings_and_message),
        cmocka_unit_test(test_cache_file_format),
        cmocka_unit_test(test_cache_non_regular),
        cmocka_unit_test(test_cache_parse),
        cmocka_unit_test(test_cache_classify),
        cmocka_unit_test(test_settings_checked),
        cmocka_unit_test(test_cache_hit_and_rebuild),
        cmocka_unit_test(test_kernel_dir_and_build_errors),
        cmocka_unit_test(test_kernel_lookup),
        cmocka_unit_test(test_peak),
        cmocka_unit_test(test_peak_wrong_kernel_caught),
    };
    return cmocka_run_group_tests(tests, test_runtime_setup, test_runtime_teardown);
}
