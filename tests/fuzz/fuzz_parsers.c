/* libFuzzer targets for the parsers that read user files: CIFAR-10 and CIFAR-100 binary, list
 * files (`path label` lines), SVHN's MATLAB files (through libmatio), IDX images and
 * labels (plain, and gzip inflated header first), embedding CSV, safetensors (and a training
 * checkpoint's metadata), a kernel cache entry and the cache's conv-algos.txt recognition
 * (library internals: host/internal.h). Built with
 * -DEOS_FUZZ=ON (clang); each executable is this file compiled with one EOS_FUZZ_<TARGET>
 * defined. A parser may reject its input, but it must never crash, leak or read out of bounds
 * (AddressSanitizer + UBSan watch that). With EOS_FUZZ_REPLAY it is instead a plain program
 * that runs every file of the corpus (tests/fuzz/corpus/<target>/, found inputs and crash
 * regressions included) through its target: the normal test build runs that under ctest. */
#include "eos/eos.h"
#include "internal.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void fuzz_cifar(const uint8_t *data, size_t size) {
    eos_split s;
    if (eos_cifar10_parse(data, size, "fuzz.bin", &s) == EOS_OK) eos_split_free(&s);
}

static void fuzz_cifar100(const uint8_t *data, size_t size) {
    eos_split s;
    if (eos_cifar100_parse(data, size, "fuzz.bin", &s) == EOS_OK) eos_split_free(&s);
}

static void fuzz_list(const uint8_t *data, size_t size) {
    eos_image_list l;
    if (eos_image_list_parse((const char *)data, size, "fuzz.txt", &l) == EOS_OK) {
        for (size_t i = 0; i < l.n; i++)  /* what the loader relies on */
            if (!l.paths[i][0] || l.labels[i] < 0 || l.lines[i] < 1) abort();
        eos_image_list_free(&l);
    }
}

/* libmatio reads files only: the input goes through a temporary file */
static void fuzz_svhn(const uint8_t *data, size_t size) {
    const char *tmp = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/eos-fuzz-svhn-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) return;
    FILE *f = fdopen(fd, "wb");
    if (!f) { close(fd); unlink(path); return; }
    size_t wrote = fwrite(data, 1, size, f);
    fclose(f);
    if (wrote == size) {
        eos_split s;
        int c, h, w;
        if (eos_svhn_load_mat(path, &s, &c, &h, &w) == EOS_OK) eos_split_free(&s);
    }
    unlink(path);
}

static void fuzz_idx(const uint8_t *data, size_t size) {
    eos_split s;
    int h, w;
    if (eos_idx_parse_images(data, size, "fuzz-images", &s, &h, &w) == EOS_OK) eos_split_free(&s);
    int32_t *labels;
    size_t n;
    if (eos_idx_parse_labels(data, size, "fuzz-labels", &labels, &n) == EOS_OK) free(labels);
}

/* gzip IDX: the header is inflated and checked first, then never more than it declares */
static void fuzz_idxgz(const uint8_t *data, size_t size) {
    eos_split s;
    int h, w;
    if (eos_idx_parse_images_gz(data, size, "fuzz-images.gz", &s, &h, &w) == EOS_OK) eos_split_free(&s);
    int32_t *labels;
    size_t n;
    if (eos_idx_parse_labels_gz(data, size, "fuzz-labels.gz", &labels, &n) == EOS_OK) free(labels);
}

static void fuzz_csv(const uint8_t *data, size_t size) {
    eos_embeddings e;
    if (eos_embeddings_parse_csv((const char *)data, size, "fuzz.csv", 10, &e) == EOS_OK) eos_embeddings_free(&e);
}

/* eos_safetensors_parse checks the checksums (eos.header_crc32, eos.crc32) and the finite
 * values itself, so every input goes through that path; the corpus files named *_crc.safetensors
 * are seeds that carry both keys and pass. */
static void fuzz_safetensors(const uint8_t *data, size_t size) {
    eos_safetensors f;
    if (eos_safetensors_parse(data, size, "fuzz.safetensors", &f) == EOS_OK) eos_safetensors_free(&f);
    eos_train_checkpoint_info info;
    if (eos_train_checkpoint_parse(data, size, "fuzz.safetensors", &info) == EOS_OK) eos_train_checkpoint_info_free(&info);
}

/* a cache entry: header, key and payload lengths, checksum; with and without an expected key */
static void fuzz_cache(const uint8_t *data, size_t size) {
    size_t off, len;
    if (!eos__cache_parse(data, size, NULL, &off, &len) && (off > size || len > size - off)) abort();
    if (!eos__cache_parse(data, size, "fuzz-key", &off, &len) && (off > size || len > size - off)) abort();
    (void)eos__conv_algos_recognise((const char *)data, size);
}

#ifndef EOS_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    (void)fuzz_cifar, (void)fuzz_cifar100, (void)fuzz_list, (void)fuzz_svhn, (void)fuzz_idx, (void)fuzz_idxgz, (void)fuzz_csv, (void)fuzz_safetensors, (void)fuzz_cache;  /* one runs */
#if defined(EOS_FUZZ_CIFAR)
    fuzz_cifar(data, size);
#elif defined(EOS_FUZZ_CIFAR100)
    fuzz_cifar100(data, size);
#elif defined(EOS_FUZZ_LIST)
    fuzz_list(data, size);
#elif defined(EOS_FUZZ_SVHN)
    fuzz_svhn(data, size);
#elif defined(EOS_FUZZ_IDX)
    fuzz_idx(data, size);
#elif defined(EOS_FUZZ_IDXGZ)
    fuzz_idxgz(data, size);
#elif defined(EOS_FUZZ_CSV)
    fuzz_csv(data, size);
#elif defined(EOS_FUZZ_SAFETENSORS)
    fuzz_safetensors(data, size);
#elif defined(EOS_FUZZ_CACHE)
    fuzz_cache(data, size);
#else
#error "define one of EOS_FUZZ_CIFAR, EOS_FUZZ_CIFAR100, EOS_FUZZ_LIST, EOS_FUZZ_SVHN, EOS_FUZZ_IDX, EOS_FUZZ_IDXGZ, EOS_FUZZ_CSV, EOS_FUZZ_SAFETENSORS, EOS_FUZZ_CACHE (or EOS_FUZZ_REPLAY)"
#endif
    return 0;
}
#else
/* usage: fuzz_replay CORPUS_ROOT: every file of CORPUS_ROOT/<target>/ through that target */
int main(int argc, char **argv) {
    static const struct {
        const char *name;
        void (*run)(const uint8_t *, size_t);
    } targets[] = {{"cifar", fuzz_cifar}, {"cifar100", fuzz_cifar100}, {"list", fuzz_list}, {"svhn", fuzz_svhn},
                   {"idx", fuzz_idx}, {"idxgz", fuzz_idxgz}, {"csv", fuzz_csv},
                   {"safetensors", fuzz_safetensors}, {"cache", fuzz_cache}};
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_ROOT\n", argv[0]);
        return 2;
    }
    eos_log_set_callback(NULL, NULL, EOS_LOG_OFF);
    size_t total = 0;
    for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", argv[1], targets[t].name);
        DIR *dp = opendir(dir);
        if (!dp) {
            fprintf(stderr, "cannot open %s\n", dir);
            return 1;
        }
        size_t files = 0;
        struct dirent *de;
        while ((de = readdir(dp))) {
            if (de->d_name[0] == '.') continue;
            char path[8192];
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            FILE *f = fopen(path, "rb");
            if (!f) continue;
            size_t cap = 1 << 16, n = 0, got;
            uint8_t *buf = malloc(cap);
            while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
                n += got;
                if (n == cap) {
                    uint8_t *g = realloc(buf, cap *= 2);
                    if (!g) { free(buf); buf = NULL; }
                    buf = g;
                }
            }
            fclose(f);
            if (!buf) {
                fprintf(stderr, "out of memory reading %s\n", path);
                return 1;
            }
            /* an exact-size copy, so that AddressSanitizer sees any read past the end */
            uint8_t *exact = malloc(n ? n : 1);
            if (!exact) return 1;
            memcpy(exact, buf, n);
            free(buf);
            targets[t].run(exact, n);
            free(exact);
            files++;
        }
        closedir(dp);
        printf("%-12s %zu files\n", targets[t].name, files);
        total += files;
    }
    printf("replayed %zu corpus files without a crash\n", total);
    return total ? 0 : 1;
}
#endif
