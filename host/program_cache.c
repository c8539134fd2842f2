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

void eos__cache_load(const char *dir, const char *key, eos__cache_result *out) {
    memset(out, 0, sizeof *out);
    char path[2048];
    eos__cache_path(dir, key, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f) return;  /* a miss */
    const char *why = NULL;
    size_t klen = strlen(key);
    cache_header h;
    char *kbuf = NULL;
    unsigned char *payload = NULL;
    long fsize = -1;
    if (fseek(f, 0, SEEK_END) == 0) fsize = ftell(f);
    rewind(f);
    if (fread(&h, sizeof h, 1, f) != 1) why = "shorter than its header";
    else if (memcmp(h.magic, CACHE_MAGIC, 8)) why = "bad magic number";
    else if (h.version != CACHE_VERSION) why = "written by another cache version";
    else if (h.key_len != klen) why = "key of another length (stale or colliding entry)";
    else if (fsize < 0 || (uint64_t)fsize != sizeof h + h.key_len + h.payload_len) why = "truncated or padded";
    else if (h.payload_len == 0) why = "empty binary";
    if (!why) {
        kbuf = malloc(klen);
        payload = malloc(h.payload_len);
        if (!kbuf || !payload) why = "too large to read";
        else if (fread(kbuf, 1, klen, f) != klen || fread(payload, 1, h.payload_len, f) != h.payload_len)
            why = "read error";
        else if (memcmp(kbuf, key, klen)) why = "key mismatch (stale or colliding entry)";
        else {
            uint64_t sum = eos__fnv1a(eos__fnv1a(EOS_FNV_OFFSET, kbuf, klen), payload, h.payload_len);
            if (sum != h.checksum) why = "checksum mismatch";
        }
    }
    fclose(f);
    free(kbuf);
    if (why) {
        eos__log(EOS_LOG_INFO, "kernel cache entry %s rejected: %s", path, why);
        free(payload);
        out->rejected = 1;
        return;
    }
    out->binary = payload;
    out->size = h.payload_len;
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
