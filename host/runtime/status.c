/* Status names, the per-thread last-error record and the library's log hook.
 * This is the only place that formats errors; every other file goes through EOS_FAIL and
 * EOS_CL_CHECK (host/internal.h). */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    eos_error err;
    char message[65536];  /* room for a whole kernel build log */
    char expr[512];
    char hint[512];
    char full[65536 + 2048];
} error_slot;

static _Thread_local error_slot g_err;

const char *eos_status_str(eos_status s) {
    switch (s) {
    case EOS_OK: return "EOS_OK";
    case EOS_ERR_INVALID_ARG: return "EOS_ERR_INVALID_ARG";
    case EOS_ERR_NO_PLATFORM: return "EOS_ERR_NO_PLATFORM";
    case EOS_ERR_NO_DEVICE: return "EOS_ERR_NO_DEVICE";
    case EOS_ERR_BUILD: return "EOS_ERR_BUILD";
    case EOS_ERR_OUT_OF_MEMORY: return "EOS_ERR_OUT_OF_MEMORY";
    case EOS_ERR_IO: return "EOS_ERR_IO";
    case EOS_ERR_FORMAT: return "EOS_ERR_FORMAT";
    case EOS_ERR_NOT_FOUND: return "EOS_ERR_NOT_FOUND";
    case EOS_ERR_NUMERIC: return "EOS_ERR_NUMERIC";
    case EOS_ERR_INTERNAL: return "EOS_ERR_INTERNAL";
    case EOS_ERR_INTERRUPTED: return "EOS_ERR_INTERRUPTED";
    /* OpenCL 1.2 */
    case -1: return "CL_DEVICE_NOT_FOUND";
    case -2: return "CL_DEVICE_NOT_AVAILABLE";
    case -3: return "CL_COMPILER_NOT_AVAILABLE";
    case -4: return "CL_MEM_OBJECT_ALLOCATION_FAILURE";
    case -5: return "CL_OUT_OF_RESOURCES";
    case -6: return "CL_OUT_OF_HOST_MEMORY";
    case -7: return "CL_PROFILING_INFO_NOT_AVAILABLE";
    case -8: return "CL_MEM_COPY_OVERLAP";
    case -9: return "CL_IMAGE_FORMAT_MISMATCH";
    case -10: return "CL_IMAGE_FORMAT_NOT_SUPPORTED";
    case -11: return "CL_BUILD_PROGRAM_FAILURE";
    case -12: return "CL_MAP_FAILURE";
    case -13: return "CL_MISALIGNED_SUB_BUFFER_OFFSET";
    case -14: return "CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST";
    case -15: return "CL_COMPILE_PROGRAM_FAILURE";
    case -16: return "CL_LINKER_NOT_AVAILABLE";
    case -17: return "CL_LINK_PROGRAM_FAILURE";
    case -18: return "CL_DEVICE_PARTITION_FAILED";
    case -19: return "CL_KERNEL_ARG_INFO_NOT_AVAILABLE";
    case -30: return "CL_INVALID_VALUE";
    case -31: return "CL_INVALID_DEVICE_TYPE";
    case -32: return "CL_INVALID_PLATFORM";
    case -33: return "CL_INVALID_DEVICE";
    case -34: return "CL_INVALID_CONTEXT";
    case -35: return "CL_INVALID_QUEUE_PROPERTIES";
    case -36: return "CL_INVALID_COMMAND_QUEUE";
    case -37: return "CL_INVALID_HOST_PTR";
    case -38: return "CL_INVALID_MEM_OBJECT";
    case -39: return "CL_INVALID_IMAGE_FORMAT_DESCRIPTOR";
    case -40: return "CL_INVALID_IMAGE_SIZE";
    case -41: return "CL_INVALID_SAMPLER";
    case -42: return "CL_INVALID_BINARY";
    case -43: return "CL_INVALID_BUILD_OPTIONS";
    case -44: return "CL_INVALID_PROGRAM";
    case -45: return "CL_INVALID_PROGRAM_EXECUTABLE";
    case -46: return "CL_INVALID_KERNEL_NAME";
    case -47: return "CL_INVALID_KERNEL_DEFINITION";
    case -48: return "CL_INVALID_KERNEL";
    case -49: return "CL_INVALID_ARG_INDEX";
    case -50: return "CL_INVALID_ARG_VALUE";
    case -51: return "CL_INVALID_ARG_SIZE";
    case -52: return "CL_INVALID_KERNEL_ARGS";
    case -53: return "CL_INVALID_WORK_DIMENSION";
    case -54: return "CL_INVALID_WORK_GROUP_SIZE";
    case -55: return "CL_INVALID_WORK_ITEM_SIZE";
    case -56: return "CL_INVALID_GLOBAL_OFFSET";
    case -57: return "CL_INVALID_EVENT_WAIT_LIST";
    case -58: return "CL_INVALID_EVENT";
    case -59: return "CL_INVALID_OPERATION";
    case -60: return "CL_INVALID_GL_OBJECT";
    case -61: return "CL_INVALID_BUFFER_SIZE";
    case -62: return "CL_INVALID_MIP_LEVEL";
    case -63: return "CL_INVALID_GLOBAL_WORK_SIZE";
    case -64: return "CL_INVALID_PROPERTY";
    case -65: return "CL_INVALID_IMAGE_DESCRIPTOR";
    case -66: return "CL_INVALID_COMPILER_OPTIONS";
    case -67: return "CL_INVALID_LINKER_OPTIONS";
    case -68: return "CL_INVALID_DEVICE_PARTITION_COUNT";
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";
    /* CLBlast's own codes (clblast_c.h) */
    case -1024: return "CLBlastNotImplemented";
    case -1022: return "CLBlastInvalidMatrixA";
    case -1021: return "CLBlastInvalidMatrixB";
    case -1020: return "CLBlastInvalidMatrixC";
    case -1017: return "CLBlastInvalidDimension";
    case -1016: return "CLBlastInvalidLeadDimA";
    case -1015: return "CLBlastInvalidLeadDimB";
    case -1014: return "CLBlastInvalidLeadDimC";
    case -1011: return "CLBlastInsufficientMemoryA";
    case -1010: return "CLBlastInsufficientMemoryB";
    case -1009: return "CLBlastInsufficientMemoryC";
    case -2050: return "CLBlastInsufficientMemoryTemp";
    case -2049: return "CLBlastInvalidBatchCount";
    case -2048: return "CLBlastInvalidOverrideKernel";
    case -2047: return "CLBlastMissingOverrideParameter";
    case -2046: return "CLBlastInvalidLocalMemUsage";
    case -2041: return "CLBlastDatabaseError";
    case -2040: return "CLBlastUnknownError";
    case -2039: return "CLBlastUnexpectedError";
    default: return "unknown status";
    }
}

const char *eos__status_hint(eos_status s) {
    switch (s) {
    case -1001:
    case -1: return "no OpenCL platform found: install an ICD such as pocl-opencl-icd (CPU) or your GPU vendor's driver";
    case -3: return "this OpenCL platform has no compiler; EOS-CL builds its kernels from source";
    case -4:
    case -5: return "the device ran out of memory or resources: try a smaller batch, or another --device";
    case -6: return "the host ran out of memory";
    case -11: return "a kernel failed to compile: the build log above names the line";
    case -54:
    case -55: return "the work-group size does not fit this device; please report it with `eos devices`";
    case -2046: return "CLBlast's kernel needs more local memory than the device has";
    case -2041: return "CLBlast has no tuning entry for this device and its defaults failed";
    default: return "";
    }
}

eos_status eos__error_set(eos_status st, const char *file, int line, const char *expr,
                          const char *hint, const char *fmt, ...) {
    error_slot *e = &g_err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    snprintf(e->expr, sizeof e->expr, "%s", expr ? expr : "");
    snprintf(e->hint, sizeof e->hint, "%s", hint ? hint : "");
    e->err.status = st;
    /* keep the path from the project root: "host/runtime/runtime.c" rather than the build machine's */
    const char *rel = file ? strstr(file, "host/") : NULL;
    e->err.file = rel ? rel : file;
    e->err.line = line;
    e->err.expr = e->expr;
    e->err.message = e->message;
    e->err.hint = e->hint;
    eos__log(EOS_LOG_DEBUG, "error %s (%d) at %s:%d: %s", eos_status_str(st), st, file, line,
             e->message);
    return st;
}

const eos_error *eos_last_error(void) {
    error_slot *e = &g_err;
    e->err.message = e->message;
    e->err.expr = e->expr;
    e->err.hint = e->hint;
    if (!e->err.file) e->err.file = "";
    return &e->err;
}

const char *eos_last_error_message(void) {
    error_slot *e = &g_err;
    if (e->err.status == EOS_OK) return "no error";
    /* assembled piece by piece: each piece is cut at the buffer's end, never overrun */
    size_t off = 0, n = sizeof e->full;
    const char *parts[] = {e->message, "\n  status: ", eos_status_str(e->err.status), NULL};
    for (int i = 0; parts[i] && off < n; i++) off += (size_t)snprintf(e->full + off, n - off, "%s", parts[i]);
    if (off < n)
        off += (size_t)snprintf(e->full + off, n - off, " (%d)\n  at: %s:%d%s%.500s", e->err.status,
                                e->err.file ? e->err.file : "?", e->err.line, e->expr[0] ? ": " : "", e->expr);
    if (e->hint[0] && off < n) snprintf(e->full + off, n - off, "\n  hint: %.500s", e->hint);
    return e->full;
}

void eos_error_clear(void) {
    memset(&g_err.err, 0, sizeof g_err.err);
    g_err.message[0] = g_err.expr[0] = g_err.hint[0] = 0;
}

/* ---- logging ------------------------------------------------------------------------ */

static eos_log_fn g_log_fn;
static void *g_log_user;
static int g_log_min = -1;  /* -1: not yet read from EOS_LOG */

static void log_stderr(eos_log_level level, const char *msg, void *user) {
    static const char *names[] = {"debug", "info", "warning", "error"};
    (void)user;
    fprintf(stderr, "eos: %s: %s\n", names[level < 4 ? level : 3], msg);
}

void eos_log_set_callback(eos_log_fn fn, void *user, eos_log_level min_level) {
    g_log_fn = fn;
    g_log_user = user;
    g_log_min = (int)min_level;
}

void eos__log(eos_log_level level, const char *fmt, ...) {
    if (g_log_min < 0) {
        const char *env = getenv("EOS_LOG");
        g_log_min = EOS_LOG_WARN;
        if (env) {
            if (!strcasecmp(env, "debug")) g_log_min = EOS_LOG_DEBUG;
            else if (!strcasecmp(env, "info")) g_log_min = EOS_LOG_INFO;
            else if (!strcasecmp(env, "error")) g_log_min = EOS_LOG_ERROR;
            else if (!strcasecmp(env, "off")) g_log_min = EOS_LOG_OFF;
        }
    }
    if ((int)level < g_log_min || level >= EOS_LOG_OFF) return;
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    (g_log_fn ? g_log_fn : log_stderr)(level, buf, g_log_user);
}

unsigned long long eos__fnv1a(unsigned long long h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}
