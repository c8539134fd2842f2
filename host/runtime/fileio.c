/* File helpers shared by every writer and reader: whole-file reads (optionally gzip) and
 * atomic writes (temporary file, fsync, rename), so a crash or a full disk never leaves a
 * half-written model, embedding file or cache entry where a good one was. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

eos_status eos__read_file(const char *path, int gz, size_t max_bytes, uint8_t **buf, size_t *size) {
    *buf = NULL;
    *size = 0;
    gzFile f = gz ? gzopen(path, "rb") : NULL;
    FILE *pf = gz ? NULL : fopen(path, "rb");
    if (!f && !pf) EOS_FAIL(EOS_ERR_IO, NULL, "cannot open %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    uint8_t *b = malloc(cap);
    eos_status st = EOS_OK;
    for (;;) {
        if (!b) { st = eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "reading %s", path); break; }
        if (len == cap) {
            if (cap >= max_bytes) {
                st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, NULL, NULL,
                                    "%s is larger than %zu MiB, more than a file of this kind can be", path,
                                    max_bytes >> 20);
                break;
            }
            cap *= 2;
            uint8_t *g = realloc(b, cap);
            if (!g) { free(b); b = NULL; continue; }
            b = g;
        }
        size_t want = cap - len < (1u << 30) ? cap - len : (1u << 30);
        long got;
        if (gz) {
            got = gzread(f, b + len, (unsigned)want);
            if (got < 0) {
                int zerr;
                const char *msg = gzerror(f, &zerr);
                st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, "gzread", NULL,
                                    "%s is not a valid gzip file or is damaged: %s", path, msg);
                break;
            }
        } else {
            got = (long)fread(b + len, 1, want, pf);
            if (got == 0 && ferror(pf)) {
                st = eos__error_set(EOS_ERR_IO, __FILE__, __LINE__, "fread", NULL, "error reading %s", path);
                break;
            }
        }
        if (got == 0) break;
        len += (size_t)got;
    }
    if (gz) {
        /* gzread stops quietly at a truncated stream; gzclose_r reports it */
        int zc = gzclose_r(f);
        if (st == EOS_OK && zc != Z_OK)
            st = eos__error_set(EOS_ERR_FORMAT, __FILE__, __LINE__, "gzclose", NULL,
                                "%s: the gzip stream is truncated or damaged", path);
    } else {
        fclose(pf);
    }
    if (st != EOS_OK) {
        free(b);
        return st;
    }
    *buf = b;
    *size = len;
    return EOS_OK;
}

eos_status eos__atomic_open(eos__atomic_file *a, const char *path) {
    memset(a, 0, sizeof *a);
    if (snprintf(a->path, sizeof a->path, "%s", path) >= (int)sizeof a->path ||
        snprintf(a->tmp, sizeof a->tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof a->tmp)
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "path too long: %s", path);
    /* O_NONBLOCK and a regular-file check: a FIFO left at the temporary name must not hang us */
    int fd = open(a->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK | O_CLOEXEC, 0644);
    struct stat sb;
    if ((fd < 0 && errno == ENXIO) || (fd >= 0 && (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)))) {
        if (fd >= 0) close(fd);  /* ENXIO: a FIFO that nobody reads */
        EOS_FAIL(EOS_ERR_IO, "remove it, or write somewhere else", "cannot write %s: it is not a regular file",
                 a->tmp);
    }
    if (fd >= 0) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    a->f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!a->f) {
        int e = errno;
        if (fd >= 0) close(fd);
        EOS_FAIL(EOS_ERR_IO, "check that the folder exists and is writable", "cannot write %s: %s", a->tmp,
                 strerror(e));
    }
    return EOS_OK;
}

void eos__atomic_abort(eos__atomic_file *a) {
    if (a->f) fclose(a->f);
    a->f = NULL;
    if (a->tmp[0]) unlink(a->tmp);
}

eos_status eos__atomic_commit(eos__atomic_file *a) {
    int ok = !ferror(a->f) && fflush(a->f) == 0 && fsync(fileno(a->f)) == 0;
    int e = errno;
    ok = (fclose(a->f) == 0) && ok;
    a->f = NULL;
    if (ok && rename(a->tmp, a->path) == 0) return EOS_OK;
    if (!e) e = errno;
    unlink(a->tmp);
    EOS_FAIL(EOS_ERR_IO, "check free disk space and permissions; the previous file, if any, is untouched",
             "writing %s failed: %s", a->path, strerror(e));
}

FILE *eos__fopen_regular(const char *path, const char *mode) {
    struct stat sb;
    /* stat first: a device is not even opened (opening some has side effects) */
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        errno = EINVAL;
        return NULL;
    }
    int append = mode[0] == 'a';
    /* O_NONBLOCK: should a FIFO appear between stat and open, open returns instead of waiting
     * for a writer (reading) or fails with ENXIO (appending); fstat then refuses it */
    int fd = open(path, (append ? O_WRONLY | O_APPEND | O_CREAT : O_RDONLY) | O_NONBLOCK | O_CLOEXEC, 0644);
    if (fd < 0) {
        if (errno == ENXIO) errno = EINVAL;
        return NULL;
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        errno = EINVAL;
        return NULL;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    FILE *f = fdopen(fd, mode);
    if (!f) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return f;
}
