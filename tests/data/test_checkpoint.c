/* safetensors: round trips, the PyTorch-written golden ResNet-8 (tests/golden/), the
 * name/shape check against ResNet-s, atomic writes, every kind of damaged file, the string
 * metadata training checkpoints carry, and the checksums and finite values every read checks. */
#include "test_common.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>


static void test_roundtrip(void **state) {
    (void)state;
    char dir[512], path[1024];
    test_tmpdir(dir, sizeof dir, "st");
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    float w[2 * 3 * 4], b[5], s = 3.5f;
    int64_t steps = 1234567890123LL;
    for (int i = 0; i < 24; i++) w[i] = (float)i * 0.25f - 2.0f;
    for (int i = 0; i < 5; i++) b[i] = -1e-30f * (float)(i + 1);
    eos_named_tensor t[4] = {
        {"layer.weight", EOS_DTYPE_F32, 3, {2, 3, 4}, 0, w},
        {"layer.bias \"odd\\name\"", EOS_DTYPE_F32, 1, {5}, 0, b},
        {"scale", EOS_DTYPE_F32, 0, {0}, 0, &s},
        {"bn.num_batches_tracked", EOS_DTYPE_I64, 0, {0}, 0, &steps},
    };
    EOS_ASSERT_OK(eos_safetensors_write(path, t, 4));
    /* header length first, data 8-byte aligned */
    FILE *f = fopen(path, "rb");
    uint8_t len8[8];
    assert_int_equal(fread(len8, 1, 8, f), 8);
    fclose(f);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | len8[i];
    assert_int_equal(hlen % 8, 0);
    struct stat sb;
    stat(path, &sb);
    assert_int_equal((uint64_t)sb.st_size, 8 + hlen + 24 * 4 + 5 * 4 + 4 + 8);

    eos_safetensors r;
    EOS_ASSERT_OK(eos_safetensors_read(path, &r));
    assert_int_equal(r.count, 4);
    const eos_named_tensor *x = eos_safetensors_find(&r, "layer.weight");
    assert_non_null(x);
    assert_int_equal(x->ndim, 3);
    assert_int_equal(x->shape[2], 4);
    assert_int_equal(x->numel, 24);
    assert_memory_equal(x->data, w, sizeof w);
    x = eos_safetensors_find(&r, "layer.bias \"odd\\name\"");
    assert_non_null(x);
    assert_memory_equal(x->data, b, sizeof b);
    x = eos_safetensors_find(&r, "scale");
    assert_int_equal(x->ndim, 0);
    assert_int_equal(x->numel, 1);
    assert_float_equal(*(float *)x->data, 3.5f, 0);
    x = eos_safetensors_find(&r, "bn.num_batches_tracked");
    assert_int_equal(x->dtype, EOS_DTYPE_I64);
    assert_int_equal(*(int64_t *)x->data, steps);
    assert_null(eos_safetensors_find(&r, "nothing"));
    eos_safetensors_free(&r);

    /* a rejected write leaves the existing file as it was, and no temporary file behind */
    eos_named_tensor dup[2] = {t[0], t[0]};
    assert_int_equal(eos_safetensors_write(path, dup, 2), EOS_ERR_INVALID_ARG);
    EOS_ASSERT_OK(eos_safetensors_read(path, &r));
    assert_int_equal(r.count, 4);
    eos_safetensors_free(&r);
    char other[1100];
    snprintf(other, sizeof other, "%s/no/such/folder/m.safetensors", dir);
    assert_int_equal(eos_safetensors_write(other, t, 1), EOS_ERR_IO);
    assert_non_null(strstr(eos_last_error()->message, "no/such/folder"));
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "ls %s | grep -c tmp", dir);
    FILE *p = popen(cmd, "r");
    char out[16] = {0};
    assert_non_null(fgets(out, sizeof out, p));
    pclose(p);
    assert_int_equal(atoi(out), 0);
}

/* tests/golden/resnet8_torch.txt: name numel sum first last, written by PyTorch */
static void test_golden_from_pytorch(void **state) {
    (void)state;
    eos_safetensors f;
    EOS_ASSERT_OK(eos_safetensors_read(EOS_GOLDEN_DIR "/resnet8_torch.safetensors", &f));
    eos_param_spec *spec;
    size_t n;
    EOS_ASSERT_OK(eos_resnet_param_specs(1, 3, 10, EOS_RESNET_HEAD_LINEAR, &spec, &n));
    EOS_ASSERT_OK(eos_safetensors_check(&f, spec, n, "resnet8_torch.safetensors"));
    assert_int_equal(f.count, n);
    /* same order as PyTorch's state_dict */
    for (size_t i = 0; i < n; i++) assert_string_equal(f.tensors[i].name, spec[i].name);
    FILE *txt = fopen(EOS_GOLDEN_DIR "/resnet8_torch.txt", "r");
    assert_non_null(txt);
    char line[512], name[128];
    size_t checked = 0, numel;
    double sum, first, last;
    while (fgets(line, sizeof line, txt)) {
        if (line[0] == '#') continue;
        assert_int_equal(sscanf(line, "%127s %zu %lf %lf %lf", name, &numel, &sum, &first, &last), 5);
        const eos_named_tensor *t = eos_safetensors_find(&f, name);
        if (!t) fail_msg("golden tensor %s missing", name);
        assert_int_equal(t->numel, numel);
        double s = 0, a, z;
        if (t->dtype == EOS_DTYPE_F32) {
            const float *v = t->data;
            for (size_t i = 0; i < numel; i++) s += v[i];
            a = v[0];
            z = v[numel - 1];
        } else {
            const int64_t *v = t->data;
            for (size_t i = 0; i < numel; i++) s += (double)v[i];
            a = (double)v[0];
            z = (double)v[numel - 1];
        }
        /* first and last are exact (9 digits print a float exactly); sums agree to rounding */
        assert_float_equal(a, first, fabs(first) * 1e-7);
        assert_float_equal(z, last, fabs(last) * 1e-7);
        assert_float_equal(s, sum, 1e-6 * (1 + fabs(sum)));
        checked++;
    }
    fclose(txt);
    assert_int_equal(checked, n);
    free(spec);
    eos_safetensors_free(&f);
}

/* Writes $EOS_TEST_TMP/resnet8_eos.safetensors for `make_safetensors.py check` (run by hand):
 * F32 element i of tensor k is sin(0.001 i + k), I64 tensors hold k. */
static void test_write_for_pytorch(void **state) {
    (void)state;
    eos_param_spec *spec;
    size_t n;
    EOS_ASSERT_OK(eos_resnet_param_specs(1, 3, 10, EOS_RESNET_HEAD_LINEAR, &spec, &n));
    eos_named_tensor *t = calloc(n, sizeof *t);
    for (size_t k = 0; k < n; k++) {
        snprintf(t[k].name, sizeof t[k].name, "%s", spec[k].name);
        t[k].dtype = spec[k].dtype;
        t[k].ndim = spec[k].ndim;
        size_t numel = 1;
        for (int d = 0; d < spec[k].ndim; d++) numel *= (size_t)(t[k].shape[d] = spec[k].shape[d]);
        if (t[k].dtype == EOS_DTYPE_I64) {
            int64_t *v = malloc(sizeof *v);
            *v = (int64_t)k;
            t[k].data = v;
        } else {
            float *v = malloc(numel * sizeof *v);
            for (size_t i = 0; i < numel; i++) v[i] = (float)sin(0.001 * (double)i + (double)k);
            t[k].data = v;
        }
    }
    const char *base = getenv("EOS_TEST_TMP");
    char path[1024];
    snprintf(path, sizeof path, "%s/resnet8_eos.safetensors", base && base[0] ? base : "/tmp");
    mkdir(base && base[0] ? base : "/tmp", 0755);
    EOS_ASSERT_OK(eos_safetensors_write(path, t, n));
    printf("# wrote %s (check: /usr/bin/python3 tests/golden/make_safetensors.py check %s)\n", path, path);
    eos_safetensors r;
    EOS_ASSERT_OK(eos_safetensors_read(path, &r));
    EOS_ASSERT_OK(eos_safetensors_check(&r, spec, n, path));
    eos_safetensors_free(&r);
    for (size_t k = 0; k < n; k++) free(t[k].data);
    free(t);
    free(spec);
}

static void test_spec_and_mismatches(void **state) {
    (void)state;
    eos_param_spec *spec;
    size_t n;
    int blocks;
    EOS_ASSERT_OK(eos_resnet_blocks("resnet32", &blocks));
    assert_int_equal(blocks, 5);
    EOS_ASSERT_OK(eos_resnet_param_specs(blocks, 3, 10, EOS_RESNET_HEAD_LINEAR, &spec, &n));
    assert_int_equal(eos_resnet_param_count(spec, n), 464154);  /* GUIDE section 5 */
    free(spec);
    assert_int_equal(eos_resnet_blocks("resnet33", &blocks), EOS_ERR_INVALID_ARG);
    assert_non_null(strstr(eos_last_error()->message, "resnet110"));

    /* a ResNet-8 file checked against a 5-class ResNet-8 and with tensors missing and extra */
    eos_safetensors f;
    EOS_ASSERT_OK(eos_safetensors_read(EOS_GOLDEN_DIR "/resnet8_torch.safetensors", &f));
    EOS_ASSERT_OK(eos_resnet_param_specs(1, 3, 5, EOS_RESNET_HEAD_LINEAR, &spec, &n));
    snprintf(f.tensors[3].name, sizeof f.tensors[3].name, "bn1.running_mean_renamed");
    assert_int_equal(eos_safetensors_check(&f, spec, n, "model.safetensors"), EOS_ERR_FORMAT);
    const char *m = eos_last_error()->message;
    assert_non_null(strstr(m, "model.safetensors does not match the network (4 problems)"));
    assert_non_null(strstr(m, "missing: bn1.running_mean (16)"));
    assert_non_null(strstr(m, "unexpected: bn1.running_mean_renamed"));
    assert_non_null(strstr(m, "wrong shape: linear.weight is (10, 64), expected (5, 64)"));
    assert_non_null(strstr(m, "wrong shape: linear.bias is (10), expected (5)"));
    free(spec);
    eos_safetensors_free(&f);
}

/* ---- damaged files ------------------------------------------------------------------ */

static eos_status parse_text(const char *header, const void *data, size_t data_len) {
    size_t hl = strlen(header);
    uint8_t *buf = malloc(8 + hl + data_len);
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, header, hl);
    if (data_len) memcpy(buf + 8 + hl, data, data_len);
    eos_safetensors f;
    eos_status st = eos_safetensors_parse(buf, 8 + hl + data_len, "bad.safetensors", &f);
    if (st == EOS_OK) eos_safetensors_free(&f);
    free(buf);
    return st;
}

static void expect_bad(const char *header, size_t data_len, const char *needle) {
    static const uint8_t zeros[64];
    eos_status st = parse_text(header, zeros, data_len);
    if (st != EOS_ERR_FORMAT) fail_msg("header %s: got %s, want EOS_ERR_FORMAT", header, eos_status_str(st));
    if (!strstr(eos_last_error()->message, needle))
        fail_msg("header %s: message lacks '%s':\n%s", header, needle, eos_last_error()->message);
    assert_non_null(strstr(eos_last_error()->message, "bad.safetensors"));
}

static void test_damaged_files(void **state) {
    (void)state;
    static const uint8_t zeros[64];
    /* a good one first, so the cases below fail for their own reason */
    assert_int_equal(parse_text("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", zeros, 8), EOS_OK);
    assert_int_equal(parse_text("{}", zeros, 0), EOS_OK);
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "data section holds 4 bytes");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "3 elements");
    expect_bad("{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "dtype F16, expected F32");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "lacks \"data_offsets\"");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "end < begin");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, "overlaps");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "a hole");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 12, "cover 4 bytes");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
               "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "appears twice");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "negative dimension");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "fraction");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", 4, "expected ',' or '}'");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}} xx", 4, "trailing bytes");
    expect_bad("[1,2]", 0, "not a JSON object");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
               "[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}", 4, "nested too deeply");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"__metadata__\":{\"k\":\"unterminated}}", 4,
               "unterminated string");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999,99999999999],\"data_offsets\":[0,4]}}", 4, "too large");

    /* header length larger than the file, or a file too short for the length */
    eos_safetensors f;
    uint8_t big[16] = {0xff, 0xff, 0, 0, 0, 0, 0, 0, '{', '}'};
    assert_int_equal(eos_safetensors_parse(big, 16, "short.safetensors", &f), EOS_ERR_FORMAT);
    assert_non_null(strstr(eos_last_error()->message, "header length 65535 does not fit a 16-byte file"));
    assert_int_equal(eos_safetensors_parse(big, 5, "tiny.safetensors", &f), EOS_ERR_FORMAT);
    assert_int_equal(eos_safetensors_read("/nonexistent/model.safetensors", &f), EOS_ERR_IO);
    assert_non_null(strstr(eos_last_error()->message, "/nonexistent/model.safetensors"));

    /* the golden file cut at every 997th byte never crashes and is always rejected */
    uint8_t *buf;
    FILE *g = fopen(EOS_GOLDEN_DIR "/resnet8_torch.safetensors", "rb");
    assert_non_null(g);
    fseek(g, 0, SEEK_END);
    size_t size = (size_t)ftell(g);
    rewind(g);
    buf = malloc(size);
    assert_int_equal(fread(buf, 1, size, g), size);
    fclose(g);
    for (size_t cut = 0; cut < size; cut += 997)
        assert_int_equal(eos_safetensors_parse(buf, cut, "cut.safetensors", &f), EOS_ERR_FORMAT);
    free(buf);
}

/* string metadata (training checkpoints): written, read back exactly, damaged forms refused */
static void test_metadata(void **state) {
    (void)state;
    char dir[512], path[1024];
    test_tmpdir(dir, sizeof dir, "st-meta");
    snprintf(path, sizeof path, "%s/c.safetensors", dir);
    float w[3] = {1, 2, 3};
    eos_named_tensor t[1] = {{"w", EOS_DTYPE_F32, 1, {3}, 0, w}};
    size_t big = 100000;
    char *log = malloc(big + 1);
    for (size_t i = 0; i < big; i++) log[i] = "a,1\n\"\\\x1f\t"[i % 9];  /* quotes, escapes, controls */
    log[big] = 0;
    const char *meta[] = {"eos.epoch", "3", "eos.log", log, "empty", "", "utf8", "r\xc3\xa9sum\xc3\xa9"};
    EOS_ASSERT_OK(eos_safetensors_write_meta(path, t, 1, meta, 4));
    eos_safetensors f;
    EOS_ASSERT_OK(eos_safetensors_read(path, &f));
    assert_int_equal(f.count, 1);
    assert_int_equal(f.meta_count, 8);  /* the checksums, format and writer first */
    assert_string_equal(eos_safetensors_meta(&f, "format"), "pt");
    assert_string_equal(eos_safetensors_meta(&f, "eos.epoch"), "3");
    assert_string_equal(eos_safetensors_meta(&f, "eos.log"), log);
    assert_string_equal(eos_safetensors_meta(&f, "empty"), "");
    assert_string_equal(eos_safetensors_meta(&f, "utf8"), "r\xc3\xa9sum\xc3\xa9");
    assert_null(eos_safetensors_meta(&f, "nothing"));
    eos_safetensors_free(&f);
    free(log);
    /* reserved, repeated or missing keys are refused and write nothing */
    const char *reserved[] = {"format", "x"}, *twice[] = {"k", "1", "k", "2"}, *missing[] = {"k", NULL};
    assert_int_equal(eos_safetensors_write_meta(path, t, 1, reserved, 1), EOS_ERR_INVALID_ARG);
    assert_int_equal(eos_safetensors_write_meta(path, t, 1, twice, 2), EOS_ERR_INVALID_ARG);
    assert_int_equal(eos_safetensors_write_meta(path, t, 1, missing, 1), EOS_ERR_INVALID_ARG);
    EOS_ASSERT_OK(eos_safetensors_read(path, &f));
    assert_string_equal(eos_safetensors_meta(&f, "eos.epoch"), "3");
    eos_safetensors_free(&f);

    static const uint8_t zeros[8];
    /* other kinds of value are skipped (PyTorch writes only strings; others may not), escapes decoded */
    const char *h = "{\"__metadata__\":{\"n\":12,\"o\":{\"x\":[1,2]},\"s\":\"a\\u0041\\n\\\"\"},"
                    "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    size_t hl = strlen(h);
    uint8_t *buf = malloc(8 + hl + 8);
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, h, hl);
    memcpy(buf + 8 + hl, zeros, 8);
    EOS_ASSERT_OK(eos_safetensors_parse(buf, 8 + hl + 8, "m.safetensors", &f));
    assert_int_equal(f.meta_count, 1);
    assert_string_equal(eos_safetensors_meta(&f, "s"), "aA\n\"");
    eos_safetensors_free(&f);
    free(buf);
    expect_bad("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, "appears twice");
    expect_bad("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "\"__metadata__\" appears twice");
    expect_bad("{\"__metadata__\":[\"k\"]}", 0, "not an object");
    expect_bad("{\"__metadata__\":{\"k\":\"\\u00zz\"}}", 0, "bad \\u escape");
    expect_bad("{\"__metadata__\":{\"k\":\"ab\\\"}}", 0, "unterminated string");
    expect_bad("{\"__metadata__\":{\"k\":\"a\nb\"}}", 0, "control character");
    expect_bad("{\"__metadata__\":{\"k\" \"v\"}}", 0, "expected ':'");
}


/* ---- integrity: per-tensor CRC-32 and finite values ------------------------------------- */

static void test_checksums(void **state) {
    (void)state;
    char dir[512], path[1024];
    test_tmpdir(dir, sizeof dir, "st-crc");
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    float w[4] = {0.5f, -0.25f, 0.125f, 1.5f}, b[2] = {0.1f, -0.2f};
    int64_t nbt = 7;
    eos_named_tensor t[4] = {
        {"conv.weight", EOS_DTYPE_F32, 2, {2, 2}, 0, w},
        {"empty", EOS_DTYPE_F32, 1, {0}, 0, NULL},
        {"bn.bias", EOS_DTYPE_F32, 1, {2}, 0, b},
        {"bn.num_batches_tracked", EOS_DTYPE_I64, 0, {0}, 0, &nbt},
    };
    EOS_ASSERT_OK(eos_safetensors_write(path, t, 4));
    eos_safetensors f;
    EOS_ASSERT_OK(eos_safetensors_read(path, &f));
    /* one CRC-32 per tensor, zlib's, in data order; an empty tensor's is crc32 of nothing (0) */
    char want[64];
    snprintf(want, sizeof want, "%08lx 00000000 %08lx %08lx", crc32(0, (const Bytef *)w, sizeof w),
             crc32(0, (const Bytef *)b, sizeof b), crc32(0, (const Bytef *)&nbt, sizeof nbt));
    assert_string_equal(eos_safetensors_meta(&f, EOS_SAFETENSORS_CRC_KEY), want);
    eos_safetensors_free(&f);

    /* one flipped exponent bit in bn.bias (data bytes 16..23; byte 19 holds b[0]'s sign and
     * exponent) is refused, naming the file, the tensor, and that the file is damaged */
    size_t size;
    uint8_t *good = (uint8_t *)test_read_file(path, &size), *buf = malloc(size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | good[i];
    memcpy(buf, good, size);
    buf[8 + hlen + 16 + 3] ^= 0x40;
    test_write_file(path, buf, size);
    assert_int_equal(eos_safetensors_read(path, &f), EOS_ERR_FORMAT);
    const char *m = eos_last_error()->message;
    assert_non_null(strstr(m, path));
    assert_non_null(strstr(m, "is damaged: tensor 'bn.bias' fails its checksum"));
    /* the same through the parser the fuzz target drives */
    assert_int_equal(eos_safetensors_parse(buf, size, "fuzzed.safetensors", &f), EOS_ERR_FORMAT);
    assert_non_null(strstr(eos_last_error()->message, "fuzzed.safetensors is damaged: tensor 'bn.bias'"));
    /* a flip in the I64 counter too: every dtype is covered */
    memcpy(buf, good, size);
    buf[size - 1] ^= 0x01;
    assert_int_equal(eos_safetensors_parse(buf, size, "c.safetensors", &f), EOS_ERR_FORMAT);
    assert_non_null(strstr(eos_last_error()->message, "'bn.num_batches_tracked' fails its checksum"));
    /* the header is covered too: a changed checksum digit, a changed letter of the writer */
    static const char *in_header[] = {"\"eos.crc32\":\"", "\"eos-cl "};
    for (int h = 0; h < 2; h++) {
        memcpy(buf, good, size);
        size_t kl = strlen(in_header[h]);
        char *k = NULL;
        for (uint64_t i = 8; !k && i + kl <= 8 + hlen; i++)
            if (!memcmp(buf + i, in_header[h], kl)) k = (char *)buf + i;
        assert_non_null(k);
        k[kl] ^= 0x01;
        assert_int_equal(eos_safetensors_parse(buf, size, "c.safetensors", &f), EOS_ERR_FORMAT);
        assert_non_null(strstr(eos_last_error()->message, "c.safetensors is damaged: its header (names, shapes, metadata) "
                                                          "fails its checksum"));
    }
    /* the header checksum is the header's first entry; elsewhere, or not 8 digits, it is damage */
    expect_bad("{\"__metadata__\":{\"format\":\"pt\",\"eos.header_crc32\":\"00000000\"}}", 0,
               "its header checksum (eos.header_crc32) is not 8 hex digits at the start");
    expect_bad("{\"__metadata__\":{\"eos.header_crc32\":\"0000000\"}}", 0, "is not 8 hex digits");
    free(buf);
    free(good);

    /* the reserved keys cannot be set by hand */
    const char *forged[] = {EOS_SAFETENSORS_CRC_KEY, "00000000"}, *forged_h[] = {EOS_SAFETENSORS_HEADER_CRC_KEY, "0"};
    assert_int_equal(eos_safetensors_write_meta(path, t, 1, forged, 1), EOS_ERR_INVALID_ARG);
    assert_int_equal(eos_safetensors_write_meta(path, t, 1, forged_h, 1), EOS_ERR_INVALID_ARG);

    /* files without the key (PyTorch's, older EOS-CL ones) are read as before */
    EOS_ASSERT_OK(eos_safetensors_read(EOS_GOLDEN_DIR "/resnet8_torch.safetensors", &f));
    assert_null(eos_safetensors_meta(&f, EOS_SAFETENSORS_CRC_KEY));
    eos_safetensors_free(&f);
    float one = 1.0f;
    assert_int_equal(parse_text("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", &one, 4), EOS_OK);
    /* a count that does not match, and surplus checksums */
    expect_bad("{\"__metadata__\":{\"eos.crc32\":\"\"},\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0,
               "does not hold 1 checksums");
    expect_bad("{\"__metadata__\":{\"eos.crc32\":\"00000000 00000000\"},"
               "\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0, "more checksums than its 1 tensors");
    /* an empty tensor at the same offset as a full one is no overlap, in either order */
    static const uint8_t zeros[4];
    assert_int_equal(parse_text("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                                "\"b\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", zeros, 4), EOS_OK);
    assert_int_equal(parse_text("{\"b\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
                                "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", zeros, 4), EOS_OK);
}

static void test_non_finite_refused(void **state) {
    (void)state;
    char dir[512], path[1024];
    test_tmpdir(dir, sizeof dir, "st-inf");
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", dir);
    /* an Inf weight in a file without checksums (as PyTorch would write it) */
    float v[2] = {0.5f, INFINITY};
    eos_status st = parse_text("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", v, 8);
    assert_int_equal(st, EOS_ERR_NUMERIC);
    assert_non_null(strstr(eos_last_error()->message, "bad.safetensors: tensor 'w' holds inf at element 1"));
    v[1] = NAN;
    assert_int_equal(parse_text("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", v, 8), EOS_ERR_NUMERIC);
    /* and one whose checksum matches (written by a tool that computed it after the damage) */
    v[1] = -INFINITY;
    char h[256];
    snprintf(h, sizeof h, "{\"__metadata__\":{\"eos.crc32\":\"%08lx\"},\"w\":{\"dtype\":\"F32\",\"shape\":[2],"
             "\"data_offsets\":[0,8]}}", crc32(0, (const Bytef *)v, sizeof v));
    assert_int_equal(parse_text(h, v, 8), EOS_ERR_NUMERIC);
    assert_non_null(strstr(eos_last_error()->message, "tensor 'w' holds -inf"));
    /* writing refuses it too, and leaves the file there untouched */
    float ok[2] = {1, 2};
    eos_named_tensor t = {"w", EOS_DTYPE_F32, 1, {2}, 0, ok};
    EOS_ASSERT_OK(eos_safetensors_write(path, &t, 1));
    t.data = v;
    assert_int_equal(eos_safetensors_write(path, &t, 1), EOS_ERR_NUMERIC);
    assert_non_null(strstr(eos_last_error()->message, "tensor 'w' holds -inf"));
    eos_safetensors f;
    EOS_ASSERT_OK(eos_safetensors_read(path, &f));
    assert_memory_equal(f.tensors[0].data, ok, sizeof ok);
    eos_safetensors_free(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_golden_from_pytorch),
        cmocka_unit_test(test_write_for_pytorch),
        cmocka_unit_test(test_spec_and_mismatches),
        cmocka_unit_test(test_damaged_files),
        cmocka_unit_test(test_metadata),
        cmocka_unit_test(test_checksums),
        cmocka_unit_test(test_non_finite_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
