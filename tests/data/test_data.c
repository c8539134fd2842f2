/* Datasets: the three layouts on small generated fixtures (pixels compared exactly), every
 * bad-input case of the dataset issue, the long-tailed counts of GUIDE section 5, the seeded
 * selection, and the batch loader's normalisation, shuffling, crops and flips. */
#include "test_common.h"
#include "internal.h"
#include "data_internal.h"  /* eos__loader_next_shard */

#include <errno.h>
#include <matio.h>
#include <math.h>
#include <stb_image_write.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>


static void mkdirf(const char *fmt, const char *a, const char *b) {
    char p[1024];
    snprintf(p, sizeof p, fmt, a, b);
    mkdir(p, 0755);
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

/* The pixel value of the fixture image (class c, index i) at channel ch, row y, column x. */
static uint8_t px(int c, int i, int ch, int y, int x) { return (uint8_t)(c * 50 + i * 7 + ch * 30 + y * 5 + x * 3); }

#define FW 5
#define FH 4

static void write_png(const char *path, int c, int i, int channels, int w, int h) {
    uint8_t buf[64 * 64 * 4];
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int ch = 0; ch < channels; ch++) buf[(y * w + x) * channels + ch] = px(c, i, ch, y, x);
    const char *dot = strrchr(path, '.');
    int ok = !strcmp(dot, ".bmp") ? stbi_write_bmp(path, w, h, channels, buf)
                                  : stbi_write_png(path, w, h, channels, buf, w * channels);
    assert_true(ok);
}

/* root/{train,test}/{a_cls,b_cls,c_cls}: train 3, 2, 1 images (one BMP); test 1 each. */
static void make_folder_dataset(char *root, size_t n) {
    test_tmpdir(root, n, "folders");
    static const char *cls[] = {"b_cls", "a_cls", "c_cls"};  /* created unsorted on purpose */
    static const int sorted_index[] = {1, 0, 2};
    static const int ntrain[] = {2, 3, 1};
    for (int s = 0; s < 2; s++) {
        const char *split = s ? "test" : "train";
        mkdirf("%s/%s", root, split);
        for (int k = 0; k < 3; k++) {
            char dir[1024], file[1100];
            snprintf(dir, sizeof dir, "%s/%s/%s", root, split, cls[k]);
            mkdir(dir, 0755);
            int count = s ? 1 : ntrain[k];
            for (int i = 0; i < count; i++) {
                snprintf(file, sizeof file, "%s/%04d.%s", dir, i, (k == 0 && i == 1) ? "bmp" : "png");
                write_png(file, sorted_index[k], i, 3, FW, FH);
            }
            snprintf(file, sizeof file, "%s/notes.txt", dir);  /* ignored: not an image */
            write_bytes(file, "x", 1);
        }
    }
}

static void test_image_folders(void **state) {
    (void)state;
    char root[512];
    make_folder_dataset(root, sizeof root);
    eos_dataset d;
    EOS_ASSERT_OK(eos_dataset_load(root, NULL, &d));
    assert_int_equal(d.layout, EOS_LAYOUT_IMAGE_FOLDER);
    assert_int_equal(d.classes, 3);
    assert_string_equal(d.class_names[0], "a_cls");
    assert_string_equal(d.class_names[1], "b_cls");
    assert_string_equal(d.class_names[2], "c_cls");
    assert_int_equal(d.channels, 3);
    assert_int_equal(d.height, FH);
    assert_int_equal(d.width, FW);
    assert_int_equal(d.train.n, 6);
    assert_int_equal(d.test.n, 3);
    static const int want_labels[] = {0, 0, 0, 1, 1, 2};
    static const int want_index[] = {0, 1, 2, 0, 1, 0};
    for (size_t k = 0; k < 6; k++) {
        assert_int_equal(d.train.labels[k], want_labels[k]);
        for (int ch = 0; ch < 3; ch++)
            for (int y = 0; y < FH; y++)
                for (int x = 0; x < FW; x++)
                    assert_int_equal(d.train.pixels[((k * 3 + ch) * FH + y) * FW + x],
                                     px(want_labels[k], want_index[k], ch, y, x));
    }
    for (int k = 0; k < 3; k++) assert_int_equal(d.test.labels[k], k);
    eos_dataset_free(&d);
}

static eos_status load_expect_fail(const char *root, int skip_bad, eos_status want, const char *needle) {
    eos_dataset d;
    eos_dataset_options o = {skip_bad, 1, 0, 0};
    eos_status st = eos_dataset_load(root, &o, &d);
    if (st != want) fail_msg("loading %s: got %s, want %s (%s)", root, eos_status_str(st), eos_status_str(want),
                             eos_last_error_message());
    if (needle && !strstr(eos_last_error()->message, needle))
        fail_msg("message does not name '%s':\n%s", needle, eos_last_error()->message);
    assert_null(d.train.pixels);
    return st;
}

static void test_folder_errors(void **state) {
    (void)state;
    char root[512], path[1200];
    /* missing folder, and a folder of no known layout */
    load_expect_fail("/nonexistent/eos-data", 0, EOS_ERR_IO, "/nonexistent/eos-data");
    test_tmpdir(root, sizeof root, "empty");
    load_expect_fail(root, 0, EOS_ERR_FORMAT, root);

    /* a class with no images */
    make_folder_dataset(root, sizeof root);
    snprintf(path, sizeof path, "%s/train/d_cls", root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/test/d_cls", root);
    mkdir(path, 0755);
    load_expect_fail(root, 0, EOS_ERR_FORMAT, "train/d_cls has no images");

    /* class folders that differ between train and test */
    make_folder_dataset(root, sizeof root);
    snprintf(path, sizeof path, "%s/test/a_cls/0000.png", root);
    unlink(path);
    snprintf(path, sizeof path, "%s/test/a_cls/notes.txt", root);
    unlink(path);
    snprintf(path, sizeof path, "%s/test/a_cls", root);
    rmdir(path);
    load_expect_fail(root, 0, EOS_ERR_FORMAT, "class folders differ");

    /* an image of another size */
    make_folder_dataset(root, sizeof root);
    snprintf(path, sizeof path, "%s/train/b_cls/0005.png", root);
    write_png(path, 1, 5, 3, FW + 1, FH);
    load_expect_fail(root, 0, EOS_ERR_FORMAT, "0005.png is 6 x 4 pixels, expected 5 x 4");
    load_expect_fail(root, 1, EOS_ERR_FORMAT, "0005.png");  /* not skippable: the dataset is inconsistent */

    /* an image with another channel count */
    make_folder_dataset(root, sizeof root);
    snprintf(path, sizeof path, "%s/test/c_cls/0009.png", root);
    write_png(path, 2, 9, 1, FW, FH);
    load_expect_fail(root, 0, EOS_ERR_FORMAT, "0009.png has 1 channel(s), expected 3");

    /* a corrupt image: an error naming it, or skipped and counted with skip_bad */
    make_folder_dataset(root, sizeof root);
    snprintf(path, sizeof path, "%s/train/a_cls/0001.png", root);
    write_bytes(path, "\x89PNG\r\n\x1a\n garbage that is not a png", 32);
    load_expect_fail(root, 0, EOS_ERR_FORMAT, "a_cls/0001.png");
    snprintf(path, sizeof path, "%s/test/b_cls/0003.jpg", root);
    write_bytes(path, "not a jpeg at all", 17);
    eos_dataset d;
    eos_dataset_options o = {1, 2, 0, 0};
    EOS_ASSERT_OK(eos_dataset_load(root, &o, &d));
    assert_int_equal(d.skipped, 2);
    assert_int_equal(d.train.n, 5);
    assert_int_equal(d.test.n, 3);
    /* the survivors keep their pixels: a_cls image 2 moved into slot 1 */
    assert_int_equal(d.train.pixels[1 * 3 * FH * FW], px(0, 2, 0, 0, 0));
    eos_dataset_free(&d);
}

/* ---- CIFAR-10 binary ------------------------------------------------------------------ */

static void make_cifar(char *root, size_t n, int per_batch) {
    test_tmpdir(root, n, "cifar");
    uint8_t rec[3073 * 4];
    for (int b = 1; b <= 6; b++) {
        int count = b == 6 ? 3 : per_batch;
        for (int r = 0; r < count; r++) {
            rec[r * 3073] = (uint8_t)((b * 2 + r) % 10);  /* 5 x 2 training records: every class once */
            for (int k = 0; k < 3072; k++) rec[r * 3073 + 1 + k] = (uint8_t)(k * 7 + b * 11 + r);
        }
        char path[1024];
        if (b < 6) snprintf(path, sizeof path, "%s/data_batch_%d.bin", root, b);
        else snprintf(path, sizeof path, "%s/test_batch.bin", root);
        write_bytes(path, rec, (size_t)count * 3073);
    }
}

static void test_cifar10_binary(void **state) {
    (void)state;
    char root[512], path[1024];
    make_cifar(root, sizeof root, 2);
    eos_dataset d;
    EOS_ASSERT_OK(eos_dataset_load(root, NULL, &d));
    assert_int_equal(d.layout, EOS_LAYOUT_CIFAR10_BIN);
    assert_int_equal(d.classes, 10);
    assert_string_equal(d.class_names[9], "truck");
    assert_int_equal(d.train.n, 10);
    assert_int_equal(d.test.n, 3);
    assert_int_equal(d.channels * d.height * d.width, 3072);
    for (int b = 1; b <= 5; b++)
        for (int r = 0; r < 2; r++) {
            size_t i = (size_t)(b - 1) * 2 + r;
            assert_int_equal(d.train.labels[i], (b * 2 + r) % 10);
            assert_int_equal(d.train.pixels[i * 3072 + 1500], (uint8_t)(1500 * 7 + b * 11 + r));
        }
    eos_dataset_free(&d);

    /* truncated batch */
    snprintf(path, sizeof path, "%s/data_batch_3.bin", root);
    assert_int_equal(truncate(path, 3073 * 2 - 1), 0);
    load_expect_fail(root, 0, EOS_ERR_FORMAT, "data_batch_3.bin");
    assert_non_null(strstr(eos_last_error()->message, "3073"));
    /* a label out of range */
    make_cifar(root, sizeof root, 2);
    snprintf(path, sizeof path, "%s/test_batch.bin", root);
    FILE *f = fopen(path, "r+b");
    fseek(f, 3073, SEEK_SET);
    fputc(11, f);
    fclose(f);
    load_expect_fail(root, 0, EOS_ERR_FORMAT, "record 1 has label 11, expected 0..9");
    /* a missing batch */
    make_cifar(root, sizeof root, 2);
    snprintf(path, sizeof path, "%s/data_batch_4.bin", root);
    unlink(path);
    load_expect_fail(root, 0, EOS_ERR_IO, "data_batch_4.bin");
}

/* ---- IDX ---------------------------------------------------------------------------- */

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

static void write_idx(const char *dir, const char *name, int gz, uint32_t magic, uint32_t n, int rows, int cols,
                      size_t cut) {
    uint8_t buf[16 + 64 * 7 * 6];
    size_t len;
    put_be32(buf, magic);
    put_be32(buf + 4, n);
    if (rows) {
        put_be32(buf + 8, (uint32_t)rows);
        put_be32(buf + 12, (uint32_t)cols);
        for (uint32_t i = 0; i < n * rows * cols; i++) buf[16 + i] = (uint8_t)(i * 13 + n);
        len = 16 + n * rows * cols;
    } else {
        for (uint32_t i = 0; i < n; i++) buf[8 + i] = (uint8_t)(i % 3);
        len = 8 + n;
    }
    len -= cut;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s%s", dir, name, gz ? ".gz" : "");
    if (gz) {
        gzFile g = gzopen(path, "wb");
        assert_non_null(g);
        assert_int_equal(gzwrite(g, buf, (unsigned)len), (int)len);
        gzclose(g);
    } else {
        write_bytes(path, buf, len);
    }
}

static void make_idx(char *root, size_t n, int gz) {
    test_tmpdir(root, n, gz ? "idxgz" : "idx");
    write_idx(root, "train-images-idx3-ubyte", gz, 0x803, 6, 7, 5, 0);
    write_idx(root, "train-labels-idx1-ubyte", gz, 0x801, 6, 0, 0, 0);
    write_idx(root, "t10k-images-idx3-ubyte", gz, 0x803, 4, 7, 5, 0);
    write_idx(root, "t10k-labels-idx1-ubyte", gz, 0x801, 4, 0, 0, 0);
}

static void test_idx(void **state) {
    (void)state;
    char plain[512], gz[512], path[1100];
    make_idx(plain, sizeof plain, 0);
    make_idx(gz, sizeof gz, 1);
    eos_dataset a, b;
    EOS_ASSERT_OK(eos_dataset_load(plain, NULL, &a));
    EOS_ASSERT_OK(eos_dataset_load(gz, NULL, &b));
    assert_int_equal(a.layout, EOS_LAYOUT_IDX);
    assert_int_equal(a.channels, 1);
    assert_int_equal(a.height, 7);
    assert_int_equal(a.width, 5);
    assert_int_equal(a.train.n, 6);
    assert_int_equal(a.test.n, 4);
    assert_int_equal(a.classes, 3);
    assert_int_equal(a.train.labels[4], 1);
    assert_int_equal(a.train.pixels[100], (uint8_t)(100 * 13 + 6));
    assert_memory_equal(a.train.pixels, b.train.pixels, 6 * 35);
    assert_memory_equal(a.test.labels, b.test.labels, 4 * sizeof(int32_t));
    eos_dataset_free(&a);
    eos_dataset_free(&b);

    /* wrong magic number */
    write_idx(plain, "train-images-idx3-ubyte", 0, 0x801, 6, 7, 5, 0);
    load_expect_fail(plain, 0, EOS_ERR_FORMAT, "magic number 0x00000801, expected 0x00000803");
    /* truncated images, plain and gzip */
    write_idx(plain, "train-images-idx3-ubyte", 0, 0x803, 6, 7, 5, 9);
    load_expect_fail(plain, 0, EOS_ERR_FORMAT, "(truncated)");
    write_idx(gz, "t10k-labels-idx1-ubyte", 1, 0x801, 4, 0, 0, 2);
    load_expect_fail(gz, 0, EOS_ERR_FORMAT, "t10k-labels-idx1-ubyte.gz");
    /* a gzip stream cut in the middle */
    make_idx(gz, sizeof gz, 1);
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", gz);
    struct stat sb;
    stat(path, &sb);
    assert_int_equal(truncate(path, sb.st_size - 12), 0);
    load_expect_fail(gz, 0, EOS_ERR_FORMAT, "train-images-idx3-ubyte.gz");
    /* labels and images disagree */
    make_idx(plain, sizeof plain, 0);
    write_idx(plain, "train-labels-idx1-ubyte", 0, 0x801, 5, 0, 0, 0);
    load_expect_fail(plain, 0, EOS_ERR_FORMAT, "has 5 labels but");
}

/* ---- reliability II (issue 13) ------------------------------------------------------ */

static void png_chunk(FILE *f, const char *type, const uint8_t *data, uint32_t n) {
    uint8_t be[4];
    put_be32(be, n);
    fwrite(be, 1, 4, f);
    fwrite(type, 1, 4, f);
    if (n) fwrite(data, 1, n, f);
    uLong crc = crc32(crc32(0, (const Bytef *)type, 4), data, n);
    put_be32(be, (uint32_t)crc);
    fwrite(be, 1, 4, f);
}

/* A PNG whose header declares w x h RGB pixels, with a small (too short) image stream. */
static void write_png_header_only(const char *path, uint32_t w, uint32_t h) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite("\x89PNG\r\n\x1a\n", 1, 8, f);
    uint8_t ihdr[13] = {0};
    put_be32(ihdr, w);
    put_be32(ihdr + 4, h);
    ihdr[8] = 8;  /* bit depth */
    ihdr[9] = 2;  /* RGB */
    png_chunk(f, "IHDR", ihdr, 13);
    uint8_t raw[64] = {0}, z[128];
    uLongf zn = sizeof z;
    assert_int_equal(compress(z, &zn, raw, sizeof raw), Z_OK);
    png_chunk(f, "IDAT", z, (uint32_t)zn);
    png_chunk(f, "IEND", NULL, 0);
    fclose(f);
}

/* Item 7: the first training image is damaged but its header reads (64 x 64): the size comes
 * from the first image that decodes whole, so --skip-bad skips only the damaged one. */
static void test_skip_bad_damaged_first_image(void **state) {
    (void)state;
    char root[512], path[1200];
    make_folder_dataset(root, sizeof root);
    snprintf(path, sizeof path, "%s/train/a_cls/0000.png", root);
    write_png_header_only(path, 64, 64);
    eos_dataset d;
    eos_dataset_options o = {1, 2, 0, 0};
    EOS_ASSERT_OK(eos_dataset_load(root, &o, &d));
    assert_int_equal(d.height, FH);
    assert_int_equal(d.width, FW);
    assert_int_equal(d.skipped, 1);
    assert_int_equal(d.train.n, 5);
    assert_int_equal(d.train.pixels[0], px(0, 1, 0, 0, 0));  /* a_cls image 1 is now the first */
    eos_dataset_free(&d);
    /* without --skip-bad: an error naming the damaged file, not a size mismatch of a good one */
    load_expect_fail(root, 0, EOS_ERR_FORMAT, "cannot decode image");
    assert_non_null(strstr(eos_last_error()->message, "a_cls/0000.png"));
    /* a damaged image later on with a readable header of another size: corrupt, so skippable */
    make_folder_dataset(root, sizeof root);
    snprintf(path, sizeof path, "%s/train/b_cls/0000.png", root);
    write_png_header_only(path, 64, 64);
    EOS_ASSERT_OK(eos_dataset_load(root, &o, &d));
    assert_int_equal(d.skipped, 1);
    eos_dataset_free(&d);
}

/* Item 11: a PNG declaring 100000 x 100000 pixels is "too large", with its size and the limit. */
static void test_huge_image_message(void **state) {
    (void)state;
    char root[512], path[1200];
    make_folder_dataset(root, sizeof root);
    snprintf(path, sizeof path, "%s/train/b_cls/0001.png", root);
    write_png_header_only(path, 100000, 100000);
    load_expect_fail(root, 0, EOS_ERR_FORMAT, "declares 100000 x 100000 pixels, more than the limit of 4096 x 4096");
    eos_dataset d;
    eos_dataset_options o = {1, 1, 0, 0};
    EOS_ASSERT_OK(eos_dataset_load(root, &o, &d));  /* a bad file like any other under --skip-bad */
    assert_int_equal(d.skipped, 1);
    eos_dataset_free(&d);
}

/* Item 12: a symbolic link loop and a dangling link in class folders are unreadable entries:
 * an error naming them, or skipped and counted with --skip-bad. */
static void test_broken_links(void **state) {
    (void)state;
    char root[512], path[1200];
    make_folder_dataset(root, sizeof root);
    snprintf(path, sizeof path, "%s/train/a_cls/loop", root);
    assert_int_equal(symlink("loop", path), 0);
    load_expect_fail(root, 0, EOS_ERR_IO, "a_cls/loop: a symbolic link loop");
    snprintf(path, sizeof path, "%s/test/c_cls/gone.png", root);
    assert_int_equal(symlink("/nonexistent/eos/gone.png", path), 0);
    snprintf(path, sizeof path, "%s/train/a_cls/loop", root);
    unlink(path);
    load_expect_fail(root, 0, EOS_ERR_IO, "c_cls/gone.png: a dangling symbolic link");
    assert_int_equal(symlink("loop", path), 0);
    eos_dataset d;
    eos_dataset_options o = {1, 2, 0, 0};
    EOS_ASSERT_OK(eos_dataset_load(root, &o, &d));
    assert_int_equal(d.skipped, 2);
    assert_int_equal(d.train.n, 6);
    assert_int_equal(d.test.n, 3);
    eos_dataset_free(&d);
    /* a class folder that is a broken link is an error, skipped or not */
    snprintf(path, sizeof path, "%s/train/z_cls", root);
    assert_int_equal(symlink("/nonexistent/eos/z_cls", path), 0);
    load_expect_fail(root, 1, EOS_ERR_IO, "train/z_cls is a symbolic link that cannot be followed");
}

/* Item 8: a class without training images is refused for every layout, naming the classes. */
static void test_empty_classes(void **state) {
    (void)state;
    char root[512], path[1200];
    /* CIFAR-10 binary whose training records are all class 0 */
    make_cifar(root, sizeof root, 2);
    uint8_t rec[3073] = {0};
    for (int b = 1; b <= 5; b++) {
        snprintf(path, sizeof path, "%s/data_batch_%d.bin", root, b);
        write_bytes(path, rec, sizeof rec);
    }
    load_expect_fail(root, 0, EOS_ERR_FORMAT, "9 of its 10 classes have no training images: 1 (automobile), 2 (bird)");
    assert_non_null(strstr(eos_last_error()->message, "data_batch_1..5.bin"));
    /* IDX with one label byte 255: not a 256-class dataset */
    make_idx(root, sizeof root, 0);
    uint8_t lab[8 + 6] = {0, 0, 8, 1, 0, 0, 0, 6, 0, 1, 2, 255, 1, 2};
    snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte", root);
    write_bytes(path, lab, sizeof lab);
    load_expect_fail(root, 0, EOS_ERR_FORMAT, "252 of its 256 classes have no training images: 3..254");
    assert_non_null(strstr(eos_last_error()->message, "largest label, 255 at position 3"));
    assert_non_null(strstr(eos_last_error()->message, "train-labels-idx1-ubyte"));
    /* IDX with a gap: labels 0 and 2 only */
    lab[11] = 0; lab[9] = 0; lab[12] = 0;  /* 0 0 2 0 0 2 */
    write_bytes(path, lab, sizeof lab);
    load_expect_fail(root, 0, EOS_ERR_FORMAT, "1 of its 3 classes have no training images: 1");
    /* image folders: --skip-bad drops the only image of c_cls */
    make_folder_dataset(root, sizeof root);
    snprintf(path, sizeof path, "%s/train/c_cls/0000.png", root);
    write_bytes(path, "not a png", 9);
    load_expect_fail(root, 1, EOS_ERR_FORMAT, "1 of its 3 classes have no training images: 2 (c_cls)");
}

/* Item 11: an IDX whose training file holds no images says so (not "classes 0..-1"). */
static void test_idx_no_images(void **state) {
    (void)state;
    char root[512];
    make_idx(root, sizeof root, 0);
    write_idx(root, "train-images-idx3-ubyte", 0, 0x803, 0, 7, 5, 0);
    write_idx(root, "train-labels-idx1-ubyte", 0, 0x801, 0, 0, 0, 0);
    load_expect_fail(root, 0, EOS_ERR_FORMAT, "train-images-idx3-ubyte holds no images");
}

/* Item 10: a gzip IDX is inflated header first and never past the size the header declares. */
static size_t gz_deflate_bomb(const uint8_t *head, size_t head_n, size_t zeros, uint8_t **out) {
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 1, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, (uLong)(head_n + zeros)), n = 0;
    uint8_t *buf = malloc(cap), *zero = calloc(1, 1 << 20);
    assert_non_null(buf);
    assert_non_null(zero);
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    z.next_in = (Bytef *)(uintptr_t)head;
    z.avail_in = (uInt)head_n;
    assert_int_equal(deflate(&z, Z_NO_FLUSH), Z_OK);
    for (size_t left = zeros; left > 0;) {
        size_t k = left < (1u << 20) ? left : (1u << 20);
        z.next_in = zero;
        z.avail_in = (uInt)k;
        assert_int_equal(deflate(&z, Z_NO_FLUSH), Z_OK);
        left -= k;
    }
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    n = cap - z.avail_out;
    deflateEnd(&z);
    free(zero);
    *out = buf;
    return n;
}

static void test_idx_gzip_header_first(void **state) {
    (void)state;
    /* a header declaring 2 images of 3 x 3 (34 bytes), then 128 MiB of zeros in one member */
    uint8_t head[16 + 18] = {0};
    put_be32(head, 0x803);
    put_be32(head + 4, 2);
    put_be32(head + 8, 3);
    put_be32(head + 12, 3);
    for (int i = 0; i < 18; i++) head[16 + i] = (uint8_t)(i * 9);
    uint8_t *gz;
    size_t gz_n = gz_deflate_bomb(head, sizeof head, (size_t)128 << 20, &gz);
    assert_true(gz_n < (2u << 20));  /* a 2 MB file that would inflate 1000-fold */
    eos_split s;
    int h, w;
    if (eos_idx_parse_images_gz(gz, gz_n, "bomb.gz", &s, &h, &w) != EOS_ERR_FORMAT) fail_msg("the gzip bomb was accepted");
    assert_non_null(strstr(eos_last_error()->message, "bomb.gz holds more data than its header declares (34 bytes)"));
    assert_null(s.pixels);
    free(gz);

    /* the same through the loader, as a dataset file */
    char root[512], path[1100];
    make_idx(root, sizeof root, 1);
    gz_n = gz_deflate_bomb(head, sizeof head, (size_t)16 << 20, &gz);
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte.gz", root);
    write_bytes(path, gz, gz_n);
    free(gz);
    load_expect_fail(root, 0, EOS_ERR_FORMAT, "t10k-images-idx3-ubyte.gz holds more data than its header declares");

    /* exactly the declared size inflates and parses like the plain file */
    gz_n = gz_deflate_bomb(head, sizeof head, 0, &gz);
    EOS_ASSERT_OK(eos_idx_parse_images_gz(gz, gz_n, "ok.gz", &s, &h, &w));
    assert_int_equal(s.n, 2);
    assert_int_equal(h, 3);
    assert_memory_equal(s.pixels, head + 16, 18);
    eos_split_free(&s);
    /* a truncated stream */
    if (eos_idx_parse_images_gz(gz, gz_n - 10, "cut.gz", &s, &h, &w) != EOS_ERR_FORMAT) fail_msg("a cut stream was accepted");
    assert_non_null(strstr(eos_last_error()->message, "cut.gz"));
    free(gz);
    /* a header declaring far more than the compressed bytes can hold is refused before inflating */
    put_be32(head + 4, 100000000);
    gz_n = gz_deflate_bomb(head, 16, 0, &gz);
    if (eos_idx_parse_images_gz(gz, gz_n, "big.gz", &s, &h, &w) != EOS_ERR_FORMAT) fail_msg("an impossible size was accepted");
    assert_non_null(strstr(eos_last_error()->message, "more than this gzip file can hold"));
    free(gz);
    /* labels: the 8-byte header first, then exactly the count */
    uint8_t lh[8 + 3] = {0, 0, 8, 1, 0, 0, 0, 3, 0, 1, 2};
    gz_n = gz_deflate_bomb(lh, sizeof lh, (size_t)1 << 20, &gz);
    int32_t *labels;
    size_t nl;
    if (eos_idx_parse_labels_gz(gz, gz_n, "labels.gz", &labels, &nl) != EOS_ERR_FORMAT) fail_msg("label bomb accepted");
    assert_non_null(strstr(eos_last_error()->message, "declares (11 bytes)"));
    free(gz);
    gz_n = gz_deflate_bomb(lh, sizeof lh, 0, &gz);
    EOS_ASSERT_OK(eos_idx_parse_labels_gz(gz, gz_n, "labels.gz", &labels, &nl));
    assert_int_equal(nl, 3);
    assert_int_equal(labels[2], 2);
    free(labels);
    free(gz);
    /* concatenated gzip members (split inside the header) are read on, as gzread reads them */
    uint8_t *g1, *g2;
    size_t n1 = gz_deflate_bomb(lh, 5, 0, &g1), n2 = gz_deflate_bomb(lh + 5, 6, 0, &g2);
    uint8_t *both = malloc(n1 + n2);
    assert_non_null(both);
    memcpy(both, g1, n1);
    memcpy(both + n1, g2, n2);
    EOS_ASSERT_OK(eos_idx_parse_labels_gz(both, n1 + n2, "members.gz", &labels, &nl));
    assert_int_equal(nl, 3);
    assert_int_equal(labels[1], 1);
    free(labels);
    free(g1); free(g2); free(both);
}

/* ---- CIFAR-100 binary ------------------------------------------------------------------ */

/* root/train.bin: 2 images of every fine class (fine label f, coarse label f / 5), root/test.bin:
 * 1 of each; pixel k of image (f, i) = k * 3 + f + 17 * i. */
static void make_cifar100(char *root, size_t n) {
    test_tmpdir(root, n, "cifar100");
    for (int split = 0; split < 2; split++) {
        int per = split ? 1 : 2;
        size_t count = (size_t)100 * per;
        uint8_t *buf = malloc(count * 3074);
        assert_non_null(buf);
        for (size_t r = 0; r < count; r++) {
            int f = (int)(r % 100), i = (int)(r / 100);
            buf[r * 3074] = (uint8_t)(f / 5);
            buf[r * 3074 + 1] = (uint8_t)f;
            for (int k = 0; k < 3072; k++) buf[r * 3074 + 2 + k] = (uint8_t)(k * 3 + f + 17 * i);
        }
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", root, split ? "test.bin" : "train.bin");
        write_bytes(path, buf, count * 3074);
        free(buf);
    }
}

static void poke(const char *path, long at, int value) {
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, at, SEEK_SET);
    fputc(value, f);
    fclose(f);
}

static void test_cifar100_binary(void **state) {
    (void)state;
    char root[512], path[1024];
    make_cifar100(root, sizeof root);
    eos_dataset d;
    EOS_ASSERT_OK(eos_dataset_load(root, NULL, &d));
    assert_int_equal(d.layout, EOS_LAYOUT_CIFAR100_BIN);
    assert_int_equal(d.classes, 100);
    assert_int_equal(d.channels, 3);
    assert_int_equal(d.height, 32);
    assert_int_equal(d.width, 32);
    /* torchvision's CIFAR100.classes (the release's fine_label_names.txt) */
    assert_string_equal(d.class_names[0], "apple");
    assert_string_equal(d.class_names[1], "aquarium_fish");
    assert_string_equal(d.class_names[58], "pickup_truck");
    assert_string_equal(d.class_names[91], "trout");
    assert_string_equal(d.class_names[99], "worm");
    assert_int_equal(d.train.n, 200);
    assert_int_equal(d.test.n, 100);
    for (size_t r = 0; r < 200; r++) {  /* the fine label, not the coarse one; pixels after both bytes */
        int f = (int)(r % 100), i = (int)(r / 100);
        assert_int_equal(d.train.labels[r], f);
        assert_int_equal(d.train.pixels[r * 3072], (uint8_t)(f + 17 * i));
        assert_int_equal(d.train.pixels[r * 3072 + 3071], (uint8_t)(3071 * 3 + f + 17 * i));
    }
    eos_dataset_free(&d);
    /* the release's own folder name is found from its parent */
    char parent[512];
    test_tmpdir(parent, sizeof parent, "cifar100p");
    snprintf(path, sizeof path, "%s/cifar-100-binary", parent);
    assert_int_equal(rename(root, path), 0);
    EOS_ASSERT_OK(eos_dataset_load(parent, NULL, &d));
    assert_int_equal(d.layout, EOS_LAYOUT_CIFAR100_BIN);
    eos_dataset_free(&d);

    /* bad input: fine label out of range, coarse label out of range, truncated, CIFAR-10 records */
    make_cifar100(root, sizeof root);
    snprintf(path, sizeof path, "%s/test.bin", root);
    poke(path, 3074 * 7 + 1, 100);
    load_expect_fail(root, 0, EOS_ERR_FORMAT, "test.bin: record 7 (byte 21519) has fine label 100, expected 0..99");
    make_cifar100(root, sizeof root);
    snprintf(path, sizeof path, "%s/train.bin", root);
    poke(path, 3074 * 3, 20);
    load_expect_fail(root, 0, EOS_ERR_FORMAT, "record 3 (byte 9222) has coarse label 20, expected 0..19");
    make_cifar100(root, sizeof root);
    snprintf(path, sizeof path, "%s/train.bin", root);
    assert_int_equal(truncate(path, 3074 * 200 - 5), 0);
    load_expect_fail(root, 0, EOS_ERR_FORMAT, "not a whole number of 3074-byte CIFAR-100 records");
    assert_int_equal(truncate(path, 3073 * 3), 0);
    load_expect_fail(root, 0, EOS_ERR_FORMAT, "is it a CIFAR-10 file?");
    make_cifar100(root, sizeof root);
    snprintf(path, sizeof path, "%s/test.bin", root);
    unlink(path);
    load_expect_fail(root, 0, EOS_ERR_IO, "missing");
    /* a class without training images (every image of class 42 relabelled 41) */
    make_cifar100(root, sizeof root);
    snprintf(path, sizeof path, "%s/train.bin", root);
    poke(path, 3074 * 42 + 1, 41);
    poke(path, 3074 * 142 + 1, 41);
    load_expect_fail(root, 0, EOS_ERR_FORMAT, "1 of its 100 classes have no training images: 42 (leopard)");
}

/* CIFAR-100-LT (LDAM-DRW's IMBALANCECIFAR100): class c of 100 keeps floor(500 * (1/R)^(c/99));
 * the published training-set sizes are 10847 (R = 100), 12608 (R = 50) and 19573 (R = 10). */
static void test_cifar100_longtail(void **state) {
    (void)state;
    size_t avail[100], counts[100];
    for (int c = 0; c < 100; c++) avail[c] = 500;
    static const struct { const char *text; size_t total, last; } want[] = {
        {"exp:100", 10847, 5}, {"exp:50", 12608, 10}, {"exp:10", 19573, 50}};
    for (size_t k = 0; k < 3; k++) {
        eos_imbalance imb;
        EOS_ASSERT_OK(eos_imbalance_parse(want[k].text, &imb));
        eos_imbalance_counts(&imb, avail, 100, counts);
        size_t total = 0;
        for (int c = 0; c < 100; c++) total += counts[c];
        if (total != want[k].total) fail_msg("%s: %zu images, the published CIFAR-100-LT has %zu", want[k].text, total, want[k].total);
        assert_int_equal(counts[0], 500);
        assert_int_equal(counts[99], want[k].last);
        for (int c = 1; c < 100; c++) assert_true(counts[c] <= counts[c - 1]);
    }
    /* and the selection on the fixture: 2 a class, ratio 2 keeps floor(2 * 0.5^(c/99)) = 2 for
     * c = 0, else 1 (2 * 0.5^(c/99) < 2) */
    char root[512];
    make_cifar100(root, sizeof root);
    eos_dataset d;
    EOS_ASSERT_OK(eos_dataset_load(root, NULL, &d));
    eos_imbalance imb;
    EOS_ASSERT_OK(eos_imbalance_parse("exp:2", &imb));
    size_t *idx, n;
    EOS_ASSERT_OK(eos_imbalance_select(&d, &imb, 0, &idx, &n, counts));
    assert_int_equal(n, 101);
    assert_int_equal(counts[0], 2);
    for (int c = 1; c < 100; c++) assert_int_equal(counts[c], 1);
    free(idx);
    eos_dataset_free(&d);
}

/* ---- SVHN (.mat through libmatio) --------------------------------------------------------- */

#define SH 4  /* H != W: the column-major transposition is visible */
#define SW 3
#define SC 3

/* X(h, w, c, n) of the fixture */
static uint8_t svhn_px(int h, int w, int c, int n) { return (uint8_t)(h * 60 + w * 17 + c * 5 + n * 2); }

/* A MAT file (v5) with X as (class_x) H x W x C x N and y (class_y, double unless told) = labels;
 * skip "X" or "y" to leave it out. */
static void write_svhn(const char *path, int n, const double *labels, int ny, enum matio_classes class_x,
                       const char *skip) {
    mat_t *mat = Mat_CreateVer(path, NULL, MAT_FT_MAT5);
    assert_non_null(mat);
    size_t xd[4] = {SH, SW, SC, (size_t)n};
    size_t count = (size_t)SH * SW * SC * n;
    uint8_t *x8 = malloc(count);
    double *xd64 = malloc(count * sizeof *xd64);
    for (int k = 0; k < n; k++)
        for (int c = 0; c < SC; c++)
            for (int w = 0; w < SW; w++)
                for (int h = 0; h < SH; h++) {
                    size_t at = h + SH * (w + SW * (c + (size_t)SC * k));  /* MATLAB's column-major order */
                    x8[at] = svhn_px(h, w, c, k);
                    xd64[at] = x8[at];
                }
    if (!skip || strcmp(skip, "X")) {
        matvar_t *v = class_x == MAT_C_UINT8 ? Mat_VarCreate("X", MAT_C_UINT8, MAT_T_UINT8, 4, xd, x8, 0)
                                             : Mat_VarCreate("X", MAT_C_DOUBLE, MAT_T_DOUBLE, 4, xd, xd64, 0);
        assert_non_null(v);
        assert_int_equal(Mat_VarWrite(mat, v, MAT_COMPRESSION_NONE), 0);
        Mat_VarFree(v);
    }
    if (!skip || strcmp(skip, "y")) {
        size_t yd[2] = {(size_t)ny, 1};
        matvar_t *v = Mat_VarCreate("y", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, yd, (void *)labels, 0);
        assert_non_null(v);
        assert_int_equal(Mat_VarWrite(mat, v, MAT_COMPRESSION_NONE), 0);
        Mat_VarFree(v);
    }
    Mat_Close(mat);
    free(x8);
    free(xd64);
}

/* labels 1..10, each once, in train; 10 again in test */
static void make_svhn(char *root, size_t n) {
    test_tmpdir(root, n, "svhn");
    double train[10] = {10, 1, 2, 3, 4, 5, 6, 7, 8, 9}, test[2] = {10, 3};
    char path[1024];
    snprintf(path, sizeof path, "%s/train_32x32.mat", root);
    write_svhn(path, 10, train, 10, MAT_C_UINT8, NULL);
    snprintf(path, sizeof path, "%s/test_32x32.mat", root);
    write_svhn(path, 2, test, 2, MAT_C_UINT8, NULL);
}

static void test_svhn_mat(void **state) {
    (void)state;
    char root[512], path[1024];
    make_svhn(root, sizeof root);
    eos_dataset d;
    EOS_ASSERT_OK(eos_dataset_load(root, NULL, &d));
    assert_int_equal(d.layout, EOS_LAYOUT_SVHN_MAT);
    assert_int_equal(d.classes, 10);
    assert_int_equal(d.channels, SC);
    assert_int_equal(d.height, SH);
    assert_int_equal(d.width, SW);
    assert_int_equal(d.train.n, 10);
    assert_int_equal(d.test.n, 2);
    assert_string_equal(d.class_names[0], "0");
    /* torchvision: label 10 is the digit 0; images (N, C, H, W) = X transposed (3, 2, 0, 1) */
    assert_int_equal(d.train.labels[0], 0);
    for (int k = 1; k < 10; k++) assert_int_equal(d.train.labels[k], k);
    assert_int_equal(d.test.labels[0], 0);
    assert_int_equal(d.test.labels[1], 3);
    for (int k = 0; k < 10; k++)
        for (int c = 0; c < SC; c++)
            for (int h = 0; h < SH; h++)
                for (int w = 0; w < SW; w++)
                    assert_int_equal(d.train.pixels[((k * SC + c) * SH + h) * SW + w], svhn_px(h, w, c, k));
    eos_dataset_free(&d);

    /* refusals: no X, no y, X of class double, a label out of range, a fraction, y too short,
     * a file that is not MATLAB, a missing test file */
    double labels[10] = {10, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    snprintf(path, sizeof path, "%s/train_32x32.mat", root);
    write_svhn(path, 10, labels, 10, MAT_C_UINT8, "X");
    load_expect_fail(root, 0, EOS_ERR_FORMAT, "has no variable 'X'");
    write_svhn(path, 10, labels, 10, MAT_C_UINT8, "y");
    load_expect_fail(root, 0, EOS_ERR_FORMAT, "has no variable 'y'");
    write_svhn(path, 10, labels, 10, MAT_C_DOUBLE, NULL);
    load_expect_fail(root, 0, EOS_ERR_FORMAT, "X is double of rank 4 (4 x 3 x 3 x 10), expected a real uint8 array");
    labels[4] = 11;
    write_svhn(path, 10, labels, 10, MAT_C_UINT8, NULL);
    load_expect_fail(root, 0, EOS_ERR_FORMAT, "y(5) = 11, expected a whole number 1..10");
    labels[4] = 0;
    write_svhn(path, 10, labels, 10, MAT_C_UINT8, NULL);
    load_expect_fail(root, 0, EOS_ERR_FORMAT, "y(5) = 0, expected a whole number 1..10");
    labels[4] = 2.5;
    write_svhn(path, 10, labels, 10, MAT_C_UINT8, NULL);
    load_expect_fail(root, 0, EOS_ERR_FORMAT, "y(5) = 2.5");
    labels[4] = 4;
    write_svhn(path, 10, labels, 9, MAT_C_UINT8, NULL);
    load_expect_fail(root, 0, EOS_ERR_FORMAT, "y is double 9 x 1, expected a real numeric N x 1 (or 1 x N) array with N = 10");
    write_bytes(path, "not a MATLAB file at all", 24);
    load_expect_fail(root, 0, EOS_ERR_FORMAT, "is not a MATLAB file libmatio can read");
    make_svhn(root, sizeof root);
    snprintf(path, sizeof path, "%s/test_32x32.mat", root);
    unlink(path);
    load_expect_fail(root, 0, EOS_ERR_IO, "missing");
}

/* ---- list files ------------------------------------------------------------------------ */

static void write_text(const char *path, const char *text) { write_bytes(path, text, strlen(text)); }

/* root/imgs/{a,b,c d}.png (c d: a space in the name), root/train.txt naming them with labels
 * 1, 0, 1 (CRLF, a blank line), root/val.txt; no test.txt, so val.txt is the test split. */
static void make_list_dataset(char *root, size_t n) {
    test_tmpdir(root, n, "lists");
    char path[1024];
    mkdirf("%s/%s", root, "imgs");
    const char *names[] = {"a.png", "b.png", "c d.png"};
    for (int k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "%s/imgs/%s", root, names[k]);
        write_png(path, k, 0, 3, FW, FH);
    }
    snprintf(path, sizeof path, "%s/train.txt", root);
    write_text(path, "imgs/a.png 1\r\nimgs/b.png\t0\r\n\r\n  imgs/c d.png   1  \r\n");
    snprintf(path, sizeof path, "%s/val.txt", root);
    write_text(path, "imgs/b.png 0\nimgs/a.png 1");  /* no newline at the end */
}

static void test_list_files(void **state) {
    (void)state;
    char root[512], path[1024];
    make_list_dataset(root, sizeof root);
    eos_dataset d;
    eos_dataset_options o = {0, 1, 0, 0};
    EOS_ASSERT_OK(eos_dataset_load(root, &o, &d));
    assert_int_equal(d.layout, EOS_LAYOUT_LIST_FILE);
    assert_int_equal(d.classes, 2);
    assert_int_equal(d.train.n, 3);
    assert_int_equal(d.test.n, 2);
    assert_int_equal(d.height, FH);
    assert_int_equal(d.width, FW);
    static const int train_labels[3] = {1, 0, 1}, train_img[3] = {0, 1, 2};
    for (int i = 0; i < 3; i++) {  /* in line order, with the pixels of the file each line names */
        assert_int_equal(d.train.labels[i], train_labels[i]);
        size_t plane = (size_t)FH * FW;
        for (int ch = 0; ch < 3; ch++)
            assert_int_equal(d.train.pixels[(i * 3 + ch) * plane + 2 * FW + 3], px(train_img[i], 0, ch, 2, 3));
    }
    assert_int_equal(d.test.labels[0], 0);
    assert_int_equal(d.test.labels[1], 1);
    eos_dataset_free(&d);
    /* test.txt wins over val.txt */
    snprintf(path, sizeof path, "%s/test.txt", root);
    write_text(path, "imgs/c d.png 1\n");
    EOS_ASSERT_OK(eos_dataset_load(root, &o, &d));
    assert_int_equal(d.test.n, 1);
    eos_dataset_free(&d);
    unlink(path);

    /* the parser alone */
    eos_image_list l;
    const char *text = "\xef\xbb\xbfx/y z.jpg 7\n\n a.jpg 0 \r\n";  /* a byte-order mark first */
    EOS_ASSERT_OK(eos_image_list_parse(text, strlen(text), "mem.txt", &l));
    assert_int_equal(l.n, 2);
    assert_string_equal(l.paths[0], "x/y z.jpg");
    assert_int_equal(l.labels[0], 7);
    assert_string_equal(l.paths[1], "a.jpg");
    assert_int_equal(l.lines[1], 3);
    eos_image_list_free(&l);

    /* refusals, each naming the file and the line */
    snprintf(path, sizeof path, "%s/train.txt", root);
    static const struct { const char *text, *needle; eos_status st; } bad[] = {
        {"imgs/a.png 0\nimgs/missing.png 1\n", "train.txt line 2: image 'imgs/missing.png' not found", EOS_ERR_IO},
        {"imgs/a.png 0\nimgs/b.png one\n", "train.txt line 2: label 'one' is not a whole number 0..999999", EOS_ERR_FORMAT},
        {"imgs/a.png 0\nimgs/b.png -1\n", "line 2: label '-1' is not a whole number", EOS_ERR_FORMAT},
        {"imgs/a.png 0\n\nimgs/b.png\n", "train.txt line 3: 'imgs/b.png' has one field, expected two", EOS_ERR_FORMAT},
        {"imgs/a.png 0\nimgs/b.png 2\n", "1 of its 3 classes have no training images: 1 (the class count comes from the "
                                         "largest label, 2 on line 2", EOS_ERR_FORMAT},
        {"", "train.txt lists no images", EOS_ERR_FORMAT},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        write_text(path, bad[k].text);
        load_expect_fail(root, 0, bad[k].st, bad[k].needle);
    }
    write_bytes(path, "imgs/a.png 0\0\n", 14);
    load_expect_fail(root, 0, EOS_ERR_FORMAT, "train.txt line 1 holds a NUL byte");
    /* a test label that training never has */
    write_text(path, "imgs/a.png 0\nimgs/b.png 1\n");
    snprintf(path, sizeof path, "%s/val.txt", root);
    write_text(path, "imgs/a.png 0\nimgs/b.png 5\n");
    load_expect_fail(root, 0, EOS_ERR_FORMAT, "val.txt line 2: label 5 never occurs in");
    /* no test list at all */
    unlink(path);
    load_expect_fail(root, 0, EOS_ERR_IO, "neither test.txt nor val.txt");
    /* a damaged image: named with its line */
    write_text(path, "imgs/a.png 0\nimgs/bad.png 1\n");
    snprintf(path, sizeof path, "%s/imgs/bad.png", root);
    write_text(path, "not a png");
    load_expect_fail(root, 0, EOS_ERR_FORMAT, "(");
    assert_non_null(strstr(eos_last_error()->message, "val.txt line 2"));
    /* --skip-bad skips it (and a missing one) and counts them */
    snprintf(path, sizeof path, "%s/val.txt", root);
    write_text(path, "imgs/a.png 0\nimgs/bad.png 1\nimgs/gone.png 1\nimgs/b.png 1\n");
    o.skip_bad = 1;
    EOS_ASSERT_OK(eos_dataset_load(root, &o, &d));
    assert_int_equal(d.skipped, 2);
    assert_int_equal(d.test.n, 2);
    eos_dataset_free(&d);
}

/* ---- --resize --------------------------------------------------------------------------- */

static void test_resize(void **state) {
    (void)state;
    int h, w;
    EOS_ASSERT_OK(eos_resize_parse("32x24", &h, &w));
    assert_int_equal(h, 32);
    assert_int_equal(w, 24);
    static const char *bad[] = {"32", "x32", "32x", "0x4", "4x0", "4097x4", "-3x4", "4x4x", "axb", ""};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        if (eos_resize_parse(bad[k], &h, &w) != EOS_ERR_INVALID_ARG) fail_msg("--resize '%s' accepted", bad[k]);
        assert_non_null(strstr(eos_last_error()->message, "expected HxW"));
    }

    /* folders of two sizes: refused without a size, naming --resize */
    char root[512], path[1024];
    test_tmpdir(root, sizeof root, "resize");
    mkdirf("%s/%s", root, "train");
    mkdirf("%s/%s", root, "test");
    mkdirf("%s/train/%s", root, "a");
    mkdirf("%s/test/%s", root, "a");
    /* 8 x 8 image of 2 x 2 blocks whose 4 pixels average to a whole number: block (by, bx)
     * holds base + {0, 4, 8, 12}, base = 40 by + 10 bx; the box filter on an exact 2:1 shrink is
     * the plain 2 x 2 mean, base + 6 */
    uint8_t big[8 * 8];
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 8; x++) big[y * 8 + x] = (uint8_t)(40 * (y / 2) + 10 * (x / 2) + 4 * ((y % 2) * 2 + x % 2));
    snprintf(path, sizeof path, "%s/train/a/0.png", root);
    assert_true(stbi_write_png(path, 8, 8, 1, big, 8));
    uint8_t flat[6 * 2];
    memset(flat, 77, sizeof flat);
    snprintf(path, sizeof path, "%s/train/a/1.png", root);
    assert_true(stbi_write_png(path, 6, 2, 1, flat, 6));  /* grows 2 -> 4, shrinks 6 -> 4 */
    snprintf(path, sizeof path, "%s/test/a/0.png", root);
    assert_true(stbi_write_png(path, 4, 4, 1, big, 8));  /* already 4 x 4: copied as it is */
    load_expect_fail(root, 0, EOS_ERR_FORMAT, "is 6 x 2 pixels, expected 8 x 8 like the first image (width x height; "
                                              "--resize HxW brings every image to one size)");
    eos_dataset_options o = {0, 1, 4, 4};
    eos_dataset d;
    EOS_ASSERT_OK(eos_dataset_load(root, &o, &d));
    assert_int_equal(d.height, 4);
    assert_int_equal(d.width, 4);
    assert_int_equal(d.channels, 1);
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++) {
            assert_int_equal(d.train.pixels[y * 4 + x], 40 * y + 10 * x + 6);
            assert_int_equal(d.train.pixels[16 + y * 4 + x], 77);  /* a flat image stays flat */
            assert_int_equal(d.test.pixels[y * 4 + x], big[y * 8 + x]);
        }
    eos_dataset_free(&d);

    /* the fixed-size layouts are resized too: CIFAR-100 32 x 32 -> 16 x 8 */
    make_cifar100(root, sizeof root);
    o = (eos_dataset_options){0, 1, 16, 8};
    EOS_ASSERT_OK(eos_dataset_load(root, &o, &d));
    assert_int_equal(d.height, 16);
    assert_int_equal(d.width, 8);
    /* image 0, channel 0: pixel (y, x) = 3 (32 y + x) mod 256; the 2 x 4 box of output (0, 0)
     * holds 0, 3, 6, 9, 96, 99, 102, 105: mean 52.5 -> 53 (stb rounds half up) */
    assert_int_equal(d.train.pixels[0], 53);
    assert_int_equal(d.train.n, 200);
    eos_dataset_free(&d);
    o.resize_h = 5000;
    assert_int_equal(eos_dataset_load(root, &o, &d), EOS_ERR_INVALID_ARG);
}

/* ---- long tail ------------------------------------------------------------------------ */

static void test_longtail_counts(void **state) {
    (void)state;
    size_t avail[10], counts[10];
    for (int c = 0; c < 10; c++) avail[c] = 5000;
    eos_imbalance imb;
    /* GUIDE section 5: exp, ratio 100 on CIFAR-10 */
    EOS_ASSERT_OK(eos_imbalance_parse("exp:100", &imb));
    eos_imbalance_counts(&imb, avail, 10, counts);
    static const size_t want_exp100[10] = {5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50};
    assert_memory_equal(counts, want_exp100, sizeof counts);
    /* LDAM-DRW's CIFAR-10 ratio 10 list: 5000, 3871, 2997, 2320, 1796, 1391, 1077, 834, 645, 500 */
    EOS_ASSERT_OK(eos_imbalance_parse("exp:10", &imb));
    eos_imbalance_counts(&imb, avail, 10, counts);
    static const size_t want_exp10[10] = {5000, 3871, 2997, 2320, 1796, 1391, 1077, 834, 645, 500};
    assert_memory_equal(counts, want_exp10, sizeof counts);
    EOS_ASSERT_OK(eos_imbalance_parse("step:10", &imb));
    eos_imbalance_counts(&imb, avail, 10, counts);
    for (int c = 0; c < 10; c++) assert_int_equal(counts[c], c < 5 ? 5000 : 500);
    EOS_ASSERT_OK(eos_imbalance_parse("none", &imb));
    eos_imbalance_counts(&imb, avail, 10, counts);
    for (int c = 0; c < 10; c++) assert_int_equal(counts[c], 5000);
    /* n_max is the largest class; a class never keeps more than it has */
    size_t uneven[3] = {10, 100, 3};
    EOS_ASSERT_OK(eos_imbalance_parse("exp:4", &imb));
    eos_imbalance_counts(&imb, uneven, 3, counts);
    assert_int_equal(counts[0], 10);  /* floor(100 * 1) capped at 10 */
    assert_int_equal(counts[1], 50);  /* floor(100 * 0.5) */
    assert_int_equal(counts[2], 3);   /* floor(100 * 0.25) = 25, capped at 3 */
    /* parse errors */
    static const char *bad[] = {"exp", "exp:", "exp:0.5", "exp:abc", "exp:10x", "poly:10", "step:-3", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (eos_imbalance_parse(bad[i], &imb) != EOS_ERR_INVALID_ARG) fail_msg("'%s' was accepted", bad[i]);
        assert_non_null(strstr(eos_last_error()->message, "expected none, exp:R or step:R"));
    }
}

/* An in-memory dataset: n images per class of size C x H x W, pixel = image index. */
static void fake_dataset(eos_dataset *d, int classes, const size_t *per_class, int C, int H, int W) {
    memset(d, 0, sizeof *d);
    size_t n = 0;
    for (int c = 0; c < classes; c++) n += per_class[c];
    d->classes = classes;
    d->channels = C;
    d->height = H;
    d->width = W;
    d->train.n = n;
    d->train.labels = malloc(n * sizeof(int32_t));
    d->train.pixels = malloc(n * C * H * W);
    d->class_names = calloc((size_t)classes, sizeof *d->class_names);
    /* classes interleaved, as in real datasets */
    size_t k = 0, left[16];
    memcpy(left, per_class, (size_t)classes * sizeof *left);
    while (k < n)
        for (int c = 0; c < classes; c++)
            if (left[c]) {
                left[c]--;
                d->train.labels[k] = c;
                for (int p = 0; p < C * H * W; p++) d->train.pixels[k * C * H * W + p] = (uint8_t)((k * 31 + p * 17) & 255);
                k++;
            }
}

static void test_longtail_selection(void **state) {
    (void)state;
    size_t per[4] = {200, 200, 200, 200};
    eos_dataset d;
    fake_dataset(&d, 4, per, 1, 2, 2);
    eos_imbalance imb;
    EOS_ASSERT_OK(eos_imbalance_parse("exp:8", &imb));
    size_t *a, na, *b, nb, *c2, nc, counts[4];
    EOS_ASSERT_OK(eos_imbalance_select(&d, &imb, 7, &a, &na, counts));
    assert_int_equal(counts[0], 200);
    assert_int_equal(counts[1], 100);
    assert_int_equal(counts[2], 50);
    assert_int_equal(counts[3], 25);
    assert_int_equal(na, 375);
    size_t seen[4] = {0};
    for (size_t i = 0; i < na; i++) {
        if (i) assert_true(a[i] > a[i - 1]);  /* ascending, no repeats */
        assert_true(a[i] < d.train.n);
        seen[d.train.labels[a[i]]]++;
    }
    assert_memory_equal(seen, counts, sizeof seen);
    EOS_ASSERT_OK(eos_imbalance_select(&d, &imb, 7, &b, &nb, NULL));
    assert_int_equal(nb, na);
    assert_memory_equal(a, b, na * sizeof *a);  /* same seed, same subset */
    EOS_ASSERT_OK(eos_imbalance_select(&d, &imb, 8, &c2, &nc, NULL));
    assert_int_equal(nc, na);
    assert_true(memcmp(a, c2, na * sizeof *a) != 0);  /* another seed, another subset */
    /* the kept images of a class are not just its first ones (a real shuffle) */
    size_t last_kept_of_3 = 0;
    for (size_t i = 0; i < na; i++) if (d.train.labels[a[i]] == 3) last_kept_of_3 = a[i];
    assert_true(last_kept_of_3 > 200);
    free(a); free(b); free(c2);
    eos_dataset_free(&d);
}

/* Item 8: a long-tailed subset that leaves a class with no image is refused, with the count. */
static void test_longtail_empty_class(void **state) {
    (void)state;
    size_t per[4] = {20, 20, 20, 20};
    eos_dataset d;
    fake_dataset(&d, 4, per, 1, 2, 2);
    d.class_names[2] = strdup("two");  /* owned by the dataset, freed with it */
    eos_imbalance imb;
    size_t *idx = NULL, n;
    /* exp:100 on 20 per class: 20, floor(20 * 100^(-1/3)) = 4, floor(0.93) = 0, floor(0.2) = 0 */
    EOS_ASSERT_OK(eos_imbalance_parse("exp:100", &imb));
    if (eos_imbalance_select(&d, &imb, 0, &idx, &n, NULL) != EOS_ERR_INVALID_ARG) fail_msg("exp:100 on 20 per class accepted");
    assert_null(idx);
    const eos_error *e = eos_last_error();
    assert_non_null(strstr(e->message, "leaves class 2 (two) and 1 more class(es) after it with no training images"));
    assert_non_null(strstr(e->message, "floor(20 * (1/100)^(2/3)) = 0 of its 20"));
    assert_non_null(strstr(e->hint, "--imbalance exp:"));
    EOS_ASSERT_OK(eos_imbalance_parse("step:50", &imb));
    if (eos_imbalance_select(&d, &imb, 0, &idx, &n, NULL) != EOS_ERR_INVALID_ARG) fail_msg("step:50 on 20 per class accepted");
    assert_non_null(strstr(eos_last_error()->message, "floor(20 / 50) = 0"));
    /* the ratio the hint suggests works */
    const char *sugg = strstr(eos_last_error()->hint, "--imbalance ") + strlen("--imbalance ");
    char text[32];
    snprintf(text, sizeof text, "%.*s", (int)strcspn(sugg, " "), sugg);
    EOS_ASSERT_OK(eos_imbalance_parse(text, &imb));
    EOS_ASSERT_OK(eos_imbalance_select(&d, &imb, 0, &idx, &n, NULL));
    free(idx);
    eos_dataset_free(&d);
}

/* ---- loader ------------------------------------------------------------------------- */

static void test_normalisation(void **state) {
    (void)state;
    size_t per[10];
    for (int c = 0; c < 10; c++) per[c] = 2;
    eos_dataset d;
    fake_dataset(&d, 10, per, 3, 32, 32);
    float m[4], s[4];
    eos_dataset_normalisation(&d, m, s);
    assert_float_equal(m[0], 0.4914f, 0);  /* GUIDE section 5's CIFAR-10 constants */
    assert_float_equal(m[2], 0.4465f, 0);
    assert_float_equal(s[1], 0.1994f, 0);
    /* SVHN is 3 x 32 x 32 in 10 classes too, but not CIFAR-10: measured (digits' statistics
     * differ: SVHN's usual mean is about 0.44, 0.44, 0.47) */
    d.layout = EOS_LAYOUT_SVHN_MAT;
    eos_dataset_normalisation(&d, m, s);
    double sum = 0;
    for (size_t i = 0; i < d.train.n; i++)
        for (int p = 0; p < 1024; p++) sum += d.train.pixels[i * 3072 + p] / 255.0;
    assert_float_equal(m[0], sum / (d.train.n * 1024.0), 1e-6);
    eos_dataset_free(&d);
    /* anything else: measured on the training split */
    size_t per2[2] = {3, 2};
    fake_dataset(&d, 2, per2, 2, 3, 3);
    eos_dataset_normalisation(&d, m, s);
    for (int c = 0; c < 2; c++) {
        double sum = 0, sum2 = 0;
        for (size_t i = 0; i < d.train.n; i++)
            for (int p = 0; p < 9; p++) {
                double v = d.train.pixels[(i * 2 + c) * 9 + p] / 255.0;
                sum += v;
                sum2 += v * v;
            }
        double mean = sum / 45, sd = sqrt(sum2 / 45 - mean * mean);
        assert_float_equal(m[c], mean, 1e-6);
        assert_float_equal(s[c], sd, 1e-6);
    }
    eos_dataset_free(&d);
}

static void test_loader_plain_batches(void **state) {
    (void)state;
    size_t per[3] = {4, 3, 3};
    eos_dataset d;
    fake_dataset(&d, 3, per, 2, 3, 4);
    eos_loader_options o = eos_loader_defaults(&d, 4);
    o.mean[0] = 0.5f; o.std[0] = 0.25f; o.mean[1] = 0.1f; o.std[1] = 2.0f;
    eos_loader L;
    size_t idx[7] = {9, 0, 2, 3, 5, 7, 8};
    EOS_ASSERT_OK(eos_loader_init(&L, &d, &d.train, idx, 7, &o));
    assert_int_equal(eos_loader_batches(&L), 2);
    float x[4 * 24];
    int32_t y[4];
    size_t got = 0, b;
    while ((b = eos_loader_next(&L, x, y)) > 0) {
        assert_true(b == 4 || (got == 4 && b == 3));  /* the last batch is partial */
        for (size_t k = 0; k < b; k++) {
            size_t img = idx[got + k];
            assert_int_equal(y[k], d.train.labels[img]);
            for (int c = 0; c < 2; c++)
                for (int p = 0; p < 12; p++) {
                    float want = (d.train.pixels[(img * 2 + c) * 12 + p] / 255.0f - o.mean[c]) / o.std[c];
                    assert_float_equal(x[(k * 2 + c) * 12 + p], want, 1e-5);
                }
        }
        got += b;
    }
    assert_int_equal(got, 7);
    eos_loader_free(&L);
    o.drop_last = 1;
    EOS_ASSERT_OK(eos_loader_init(&L, &d, &d.train, idx, 7, &o));
    assert_int_equal(eos_loader_batches(&L), 1);
    assert_int_equal(eos_loader_next(&L, x, y), 4);
    assert_int_equal(eos_loader_next(&L, x, y), 0);
    eos_loader_free(&L);
    /* bad options */
    size_t bad_idx = 99;
    assert_int_equal(eos_loader_init(&L, &d, &d.train, &bad_idx, 1, &o), EOS_ERR_INVALID_ARG);
    o.batch = 0;
    assert_int_equal(eos_loader_init(&L, &d, &d.train, NULL, 0, &o), EOS_ERR_INVALID_ARG);
    eos_dataset_free(&d);
}

static void test_loader_shuffle(void **state) {
    (void)state;
    size_t per[2] = {50, 50};
    eos_dataset d;
    fake_dataset(&d, 2, per, 1, 1, 1);
    eos_loader_options o = eos_loader_defaults(&d, 16);
    o.shuffle = 1;
    o.seed = 3;
    eos_loader L;
    EOS_ASSERT_OK(eos_loader_init(&L, &d, &d.train, NULL, 0, &o));
    int32_t y[16];
    float x[16];
    size_t orders[3][100];
    for (unsigned e = 0; e < 3; e++) {
        eos_loader_start_epoch(&L, e == 2 ? 0 : e);  /* the third replays epoch 0 */
        memcpy(orders[e], L.order, sizeof orders[e]);
        int hit[100] = {0};
        size_t b, total = 0;
        while ((b = eos_loader_next(&L, x, y)) > 0) total += b;
        assert_int_equal(total, 100);
        for (int i = 0; i < 100; i++) hit[orders[e][i]]++;
        for (int i = 0; i < 100; i++) assert_int_equal(hit[i], 1);  /* a permutation */
    }
    assert_true(memcmp(orders[0], orders[1], sizeof orders[0]) != 0);
    assert_memory_equal(orders[0], orders[2], sizeof orders[0]);
    eos_loader_free(&L);
    eos_dataset_free(&d);
}

static void test_loader_augmentation(void **state) {
    (void)state;
    enum { C = 3, H = 6, W = 5, PAD = 2 };
    size_t per[1] = {40};
    eos_dataset d;
    fake_dataset(&d, 1, per, C, H, W);
    eos_loader_options o = eos_loader_defaults(&d, 8);
    o.augment = 1;
    o.pad = PAD;
    o.seed = 11;
    eos_loader L;
    EOS_ASSERT_OK(eos_loader_init(&L, &d, &d.train, NULL, 0, &o));
    float x[8 * C * H * W];
    int32_t y[8];
    int used[2 * PAD + 1][2 * PAD + 1][2];
    memset(used, 0, sizeof used);
    size_t b, at = 0;
    for (unsigned e = 0; e < 6; e++) {
        eos_loader_start_epoch(&L, e);
        at = 0;
        while ((b = eos_loader_next(&L, x, y)) > 0) {
            for (size_t k = 0; k < b; k++, at++) {
                const uint8_t *src = d.train.pixels + L.order[at] * C * H * W;
                /* find the crop and flip that produce this output, independently of the draw order */
                int matches = 0;
                for (int oy = -PAD; oy <= PAD; oy++)
                    for (int ox = -PAD; ox <= PAD; ox++)
                        for (int fl = 0; fl < 2; fl++) {
                            int ok = 1;
                            for (int c = 0; c < C && ok; c++)
                                for (int i = 0; i < H && ok; i++)
                                    for (int j = 0; j < W && ok; j++) {
                                        int si = i + oy, sj = (fl ? W - 1 - j : j) + ox;
                                        float v = (si >= 0 && si < H && sj >= 0 && sj < W) ? src[(c * H + si) * W + sj] : 0;
                                        float want = (v / 255.0f - o.mean[c]) / o.std[c];
                                        ok = fabsf(x[((k * C + c) * H + i) * W + j] - want) < 1e-5f;
                                    }
                            if (ok) {
                                matches++;
                                used[oy + PAD][ox + PAD][fl]++;
                            }
                        }
                if (matches == 0) fail_msg("epoch %u image %zu is no pad-%d crop or flip of its source", e, at, PAD);
            }
        }
    }
    /* 240 draws: every offset and both flips occur */
    for (int i = 0; i <= 2 * PAD; i++)
        for (int j = 0; j <= 2 * PAD; j++) assert_true(used[i][j][0] + used[i][j][1] > 0);
    eos_loader_free(&L);
    eos_dataset_free(&d);
}

/* Data parallel (eos__loader_next_shard): the shards of 1, 2 and 3 ranks, laid end to end, are
 * the one-process batches bit for bit (augmented, 40 images in batches of 7: the last one of 5
 * splits 1 + 2 + 2 over 3 ranks), and every rank's generator ends where the one process's does. */
static void test_loader_shards(void **state) {
    (void)state;
    enum { C = 3, H = 6, W = 5, B = 7 };
    size_t per[2] = {25, 15};
    eos_dataset d;
    fake_dataset(&d, 2, per, C, H, W);
    eos_loader_options o = eos_loader_defaults(&d, B);
    o.augment = 1;
    o.pad = 2;
    o.shuffle = 1;
    o.seed = 5;
    const size_t img = (size_t)C * H * W;
    eos_loader one;
    EOS_ASSERT_OK(eos_loader_init(&one, &d, &d.train, NULL, 0, &o));
    eos_loader_start_epoch(&one, 1);
    float want[B * C * H * W], got[B * C * H * W];
    int32_t ywant[B], ygot[B];
    for (int ranks = 1; ranks <= 3; ranks++) {
        eos_loader L[3];
        for (int r = 0; r < ranks; r++) {
            EOS_ASSERT_OK(eos_loader_init(&L[r], &d, &d.train, NULL, 0, &o));
            eos_loader_start_epoch(&L[r], 1);
        }
        eos_loader_start_epoch(&one, 1);
        size_t b, batches = 0;
        while ((b = eos_loader_next(&one, want, ywant)) > 0) {
            size_t at = 0;
            for (int r = 0; r < ranks; r++) {
                size_t lo, n;
                assert_int_equal(eos__loader_next_shard(&L[r], got, ygot, r, ranks, &lo, &n), b);
                assert_int_equal(lo, at);
                assert_int_equal(lo, (size_t)r * b / ranks);
                assert_memory_equal(got, want + lo * img, n * img * sizeof *got);
                assert_memory_equal(ygot, ywant + lo, n * sizeof *ygot);
                at += n;
            }
            assert_int_equal(at, b);
            batches++;
        }
        assert_int_equal(batches, 6);  /* 5 x 7 + 5 */
        for (int r = 0; r < ranks; r++) {
            assert_true(L[r].rng.state == one.rng.state && L[r].rng.inc == one.rng.inc);
            eos_loader_free(&L[r]);
        }
    }
    eos_loader_free(&one);
    eos_dataset_free(&d);
}

static void test_loader_class_balanced_sampling(void **state) {
    (void)state;
    size_t per[3] = {300, 60, 12};
    eos_dataset d;
    fake_dataset(&d, 3, per, 1, 1, 1);
    float w[3] = {1.0f / 300, 1.0f / 60, 1.0f / 12};  /* inverse frequency: each class equally likely */
    eos_loader_options o = eos_loader_defaults(&d, 64);
    o.class_weights = w;
    o.seed = 5;
    eos_loader L;
    EOS_ASSERT_OK(eos_loader_init(&L, &d, &d.train, NULL, 0, &o));
    size_t seen[3] = {0}, total = 0, b;
    float x[64];
    int32_t y[64];
    for (unsigned e = 0; e < 10; e++) {
        eos_loader_start_epoch(&L, e);
        while ((b = eos_loader_next(&L, x, y)) > 0)
            for (size_t i = 0; i < b; i++) seen[y[i]]++, total++;
    }
    assert_int_equal(total, 3720);  /* n draws per epoch */
    for (int c = 0; c < 3; c++) assert_true(fabs((double)seen[c] / total - 1.0 / 3) < 0.03);
    eos_loader_free(&L);
    float bad[3] = {1, -1, 1};
    o.class_weights = bad;
    assert_int_equal(eos_loader_init(&L, &d, &d.train, NULL, 0, &o), EOS_ERR_INVALID_ARG);
    eos_dataset_free(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loader_class_balanced_sampling),
        cmocka_unit_test(test_image_folders),
        cmocka_unit_test(test_folder_errors),
        cmocka_unit_test(test_cifar10_binary),
        cmocka_unit_test(test_idx),
        cmocka_unit_test(test_skip_bad_damaged_first_image),
        cmocka_unit_test(test_huge_image_message),
        cmocka_unit_test(test_broken_links),
        cmocka_unit_test(test_empty_classes),
        cmocka_unit_test(test_idx_no_images),
        cmocka_unit_test(test_idx_gzip_header_first),
        cmocka_unit_test(test_longtail_counts),
        cmocka_unit_test(test_longtail_selection),
        cmocka_unit_test(test_longtail_empty_class),
        cmocka_unit_test(test_normalisation),
        cmocka_unit_test(test_loader_plain_batches),
        cmocka_unit_test(test_loader_shuffle),
        cmocka_unit_test(test_loader_augmentation),
        cmocka_unit_test(test_loader_shards),
        cmocka_unit_test(test_cifar100_binary),
        cmocka_unit_test(test_cifar100_longtail),
        cmocka_unit_test(test_svhn_mat),
        cmocka_unit_test(test_list_files),
        cmocka_unit_test(test_resize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
