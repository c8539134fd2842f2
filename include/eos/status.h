/* EOS-CL status codes and the last-error record.
 * Every fallible library call returns eos_status. OpenCL's own codes (negative) are passed
 * through unchanged, CLBlast's codes too; EOS-CL's own codes are positive. */
#ifndef EOS_STATUS_H
#define EOS_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Usage:
 *     eos_status st = eos_runtime_init(&rt, "gpu");
 *     if (st != EOS_OK) fprintf(stderr, "%s\n", eos_last_error_message());
 */

typedef int eos_status;

enum {
    EOS_OK = 0,               /* same value as CL_SUCCESS */
    EOS_ERR_INVALID_ARG = 1,  /* a bad argument: shape, size, leading dimension, spec, ... */
    EOS_ERR_NO_PLATFORM,      /* no OpenCL platform or no device at all */
    EOS_ERR_NO_DEVICE,        /* a --device spec that matches nothing */
    EOS_ERR_BUILD,            /* a kernel program failed to build (log in the message) */
    EOS_ERR_OUT_OF_MEMORY,    /* host allocation, or a device allocation over the device's limits */
    EOS_ERR_IO,               /* a file could not be read or written */
    EOS_ERR_FORMAT,           /* a file was read but its contents are not what was expected */
    EOS_ERR_NOT_FOUND,        /* a named kernel, program or tensor does not exist */
    EOS_ERR_NUMERIC,          /* NaN/Inf or a self-check that disagreed with its reference */
    EOS_ERR_INTERNAL,         /* a bug in EOS-CL */
    EOS_ERR_INTERRUPTED       /* stopped on request (eos_train_config.stop) after saving its state */
};

/* What went wrong last on this thread. Strings are owned by the library and valid until the
 * next failing call on the same thread. */
typedef struct eos_error {
    eos_status status;
    const char *file;     /* source file of the failing call */
    int line;
    const char *expr;     /* the failing expression or operation */
    const char *message;  /* what was being done and with which values */
    const char *hint;     /* what the user can do about it; may be "" */
} eos_error;

/* Name of a status: "CL_OUT_OF_RESOURCES", "CLBlastInsufficientMemoryA", "EOS_ERR_IO", ... */
const char *eos_status_str(eos_status status);

/* The last error recorded on this thread (status EOS_OK when there was none). */
const eos_error *eos_last_error(void);

/* The last error as one readable block:
 *   "<message>\n  status: <name> (<code>)\n  at: file:line: expr\n  hint: <hint>" */
const char *eos_last_error_message(void);

/* Forget the last error. */
void eos_error_clear(void);

/* Diagnostics the library emits outside of errors (a cache that cannot be written, a
 * fallback taken). The default callback writes warnings and errors to stderr, never stdout;
 * EOS_LOG=debug|info|warn|error|off changes the default threshold. */
typedef enum { EOS_LOG_DEBUG = 0, EOS_LOG_INFO, EOS_LOG_WARN, EOS_LOG_ERROR, EOS_LOG_OFF } eos_log_level;
typedef void (*eos_log_fn)(eos_log_level level, const char *message, void *user);
/* Install a callback (NULL restores the default) and the lowest level it receives. */
void eos_log_set_callback(eos_log_fn fn, void *user, eos_log_level min_level);

#ifdef __cplusplus
}
#endif
#endif /* EOS_STATUS_H */
