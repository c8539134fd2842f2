/* On-disk cache of built OpenCL program binaries.
 * One file per key: "<fnv64(key)>.bin" = header, the full key, the driver's binary. The key
 * is stored and compared in full and a checksum covers key + binary, so a stale, truncated or
 * damaged entry is reported as rejected and rebuilt, never handed to the driver. */
#include "internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CACHE_MAGIC "EOSCLPC\0"
#define CACHE_VERSION 1u
#define CACHE_MAX_BYTES (1ull << 30)  /* a built program is a few MiB; more is not ours */

typedef struct {
    char magic[8];
    uint32_t version;
    uint32_t key_len;
    uint64_t payload_len;
    uint64_t checksum;  /* FNV-1a 64 over key then payload */
} cache_header;

void eos__cache_path(const char *dir, const char *key, char *buf, size_t n) {
    snprintf(buf, n, "%s/%016llx.bin", dir, eos__fnv1a(EOS_FNV_OFFSET, key, strlen(key)));
}

const char *eos__cache_parse(const uint8_t *data, size_t size, const char *key, size_t *payload_off,
                             size_t *payload_len) {
    cache_header h;
    *payload_off = *payload_len = 0;
    if (size < sizeof h) return "shorter than its header";
    memcpy(&h, data, sizeof h);  /* data may be unaligned */
    if (memcmp(h.magic, CACHE_MAGIC, 8)) return "bad magic number";
    if (h.version != CACHE_VERSION) return "written by another cache version";
    if (key && h.key_len != strlen(key)) return "key of another length (stale or colliding entry)";
    /* compared without adding first: the declared lengths may be anything */
    size_t rest = size - sizeof h;
    if (h.key_len > rest || h.payload_len != rest - h.key_len) return "truncated or padded";
    if (h.payload_len == 0) return "empty binary";
    const uint8_t *k = data + sizeof h, *payload = k + h.key_len;
    if (key && memcmp(k, key, h.key_len)) return "key mismatch (stale or colliding entry)";
    if (eos__fnv1a(eos__fnv1a(EOS_FNV_OFFSET, k, h.key_len), payload, h.payload_len) != h.checksum)
        return "checksum mismatch";
    *payload_off = sizeof h + h.key_len;
    *payload_len = (size_t)h.payload_len;
    return NULL;
}

/* Reads the file only if it is a regular file (a FIFO there once hung every run): anything
 * else is a miss, logged, and left as it is. */
void eos__cache_load(const char *dir, const char *key, eos__cache_result *out) {
    memset(out, 0, sizeof *out);
    char path[2048];
    eos__cache_path(dir, key, path, sizeof path);
    FILE *f = eos__fopen_regular(path, "rb");
    if (!f) {
        if (errno != ENOENT)
            eos__log(EOS_LOG_INFO, "kernel cache entry %s ignored: %s", path,
                     errno == EINVAL ? "not a regular file" : strerror(errno));
        return;  /* a miss */
    }
    const char *why = NULL;
    uint8_t *data = NULL;
    size_t size = 0, off = 0, len = 0;
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0) why = "cannot stat it";
    else if ((uint64_t)sb.st_size > CACHE_MAX_BYTES) why = "larger than any program binary";
    else if ((data = malloc((size_t)sb.st_size + 1)) == NULL) why = "too large to read";
    else {
        /* one byte more than stat said, to see a file that grew meanwhile */
        size = fread(data, 1, (size_t)sb.st_size + 1, f);
        if (ferror(f)) why = "read error";
        else why = eos__cache_parse(data, size, key, &off, &len);
    }
    fclose(f);
    if (why) {
        eos__log(EOS_LOG_INFO, "kernel cache entry %s rejected: %s", path, why);
        free(data);
        out->rejected = 1;
        return;
    }
    memmove(data, data + off, len);  /* the caller frees binary: it must be the block's start */
    out->binary = data;
    out->size = len;
}

static eos_status mkdir_p(const char *dir) {
    char buf[2048];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
        EOS_FAIL(EOS_ERR_IO, NULL, "cache path too long: %s", dir);
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                EOS_FAIL(EOS_ERR_IO, "set EOS_CACHE_DIR to a writable folder, or EOS_CACHE_DIR=off",
                         "cannot create kernel cache folder %s: %s", buf, strerror(errno));
            *p = c;
            if (!c) break;
        }
    }
    return EOS_OK;
}

eos_status eos__cache_store(const char *dir, const char *key, const unsigned char *binary, size_t size) {
    EOS_TRY(mkdir_p(dir));
    char path[2048];
    eos__cache_path(dir, key, path, sizeof path);
    /* a FIFO, folder or link at the entry's name is not ours: rename() would replace it */
    struct stat sb;
    if (lstat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
        EOS_FAIL(EOS_ERR_IO, "remove it if it is not needed; the cache works without this entry",
                 "%s is not a regular file; left as it is", path);
    size_t klen = strlen(key);
    cache_header h;
    memcpy(h.magic, CACHE_MAGIC, 8);
    h.version = CACHE_VERSION;
    h.key_len = (uint32_t)klen;
    h.payload_len = size;
    h.checksum = eos__fnv1a(eos__fnv1a(EOS_FNV_OFFSET, key, klen), binary, size);
    /* atomic: readers see the old entry or the whole new one, never half */
    eos__atomic_file a;
    EOS_TRY(eos__atomic_open(&a, path));
    if (fwrite(&h, sizeof h, 1, a.f) != 1 || fwrite(key, 1, klen, a.f) != klen || fwrite(binary, 1, size, a.f) != size) {
        eos__atomic_abort(&a);
        EOS_FAIL(EOS_ERR_IO, "check free disk space, or set EOS_CACHE_DIR=off", "writing kernel cache file %s failed", path);
    }
    return eos__atomic_commit(&a);
}

static int is_entry_name(const char *name) {
    if (strlen(name) != 20 || strcmp(name + 16, ".bin")) return 0;
    for (int i = 0; i < 16; i++)
        if (!strchr("0123456789abcdef", name[i])) return 0;
    return 1;
}

eos_cache_file_kind eos_cache_file_classify(const char *dir, const char *name) {
    int entry = is_entry_name(name), algos = !strcmp(name, "conv-algos.txt");
    if (!entry && !algos) return EOS_CACHE_FILE_OTHER;
    char path[2048];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) return EOS_CACHE_FILE_FOREIGN;
    FILE *f = eos__fopen_regular(path, "rb");
    if (!f) return errno == ENOENT ? EOS_CACHE_FILE_OTHER : EOS_CACHE_FILE_FOREIGN;
    char head[4096];
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    if (entry) {
        cache_header h;
        if (n < sizeof h) return EOS_CACHE_FILE_FOREIGN;
        memcpy(&h, head, sizeof h);
        return !memcmp(h.magic, CACHE_MAGIC, 8) && h.version == CACHE_VERSION ? EOS_CACHE_FILE_ENTRY
                                                                                : EOS_CACHE_FILE_FOREIGN;
    }
    return eos__conv_algos_recognise(head, n) ? EOS_CACHE_FILE_CONV_ALGOS : EOS_CACHE_FILE_FOREIGN;
}
