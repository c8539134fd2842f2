/* Device tensors: allocation with a clear message on failure, blocking upload/download,
 * fill, and the runtime's running count of device bytes held. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1024.0 * 1024.0)

const char *eos_tensor_shape_str(const eos_tensor *t, char *buf, size_t size) {
    size_t off = 0;
    off += (size_t)snprintf(buf, size, "(");
    for (int i = 0; i < t->ndim && off < size; i++)
        off += (size_t)snprintf(buf + off, size - off, "%s%zu", i ? ", " : "", t->shape[i]);
    if (off < size) snprintf(buf + off, size - off, ")");
    return buf;
}

/* EOS_MEM_LIMIT=MiB caps what the checks below allow (to share a device, or to test the
 * out-of-memory path); 0 or unset: the device's own limits. A value that is not a whole number
 * of MiB below 2^40 is refused by eos_env_check (at eos_runtime_init), never taken as 0. */
int eos__mem_limit_parse(const char *text, unsigned long long *bytes) {
    unsigned long long v = 0;
    *bytes = 0;
    if (!text || !*text) return 1;
    for (const char *c = text; *c; c++) {
        if (*c < '0' || *c > '9') return 0;
        v = v * 10 + (unsigned long long)(*c - '0');
        if (v >= EOS__MEM_LIMIT_MAX_MIB) return 0;
    }
    *bytes = v << 20;
    return 1;
}

static unsigned long long mem_limit_bytes(void) {
    unsigned long long b;
    return eos__mem_limit_parse(getenv("EOS_MEM_LIMIT"), &b) ? b : 0;
}

void eos__device_memory(eos_runtime_t rt, unsigned long long *global, unsigned long long *max_alloc) {
    unsigned long long lim = mem_limit_bytes(), g = rt->dev.global_mem_bytes, a = rt->dev.max_alloc_bytes;
    if (lim && (!g || lim < g)) g = lim;
    if (lim && (!a || lim < a)) a = lim;
    *global = g;
    *max_alloc = a;
}

eos_status eos_tensor_alloc(eos_runtime_t rt, eos_tensor *t, int ndim, const size_t *shape) {
    memset(t, 0, sizeof *t);
    if (ndim < 1 || ndim > EOS_TENSOR_MAX_DIMS)
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "a tensor has 1 to %d dimensions, got %d", EOS_TENSOR_MAX_DIMS, ndim);
    t->rt = rt;
    t->ndim = ndim;
    size_t numel = 1;
    for (int i = 0; i < EOS_TENSOR_MAX_DIMS; i++) {
        t->shape[i] = i < ndim ? shape[i] : 1;
        if (t->shape[i] && numel > SIZE_MAX / sizeof(float) / t->shape[i])
            EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "tensor shape overflows size_t");
        numel *= t->shape[i];
    }
    char s[128];
    eos_tensor_shape_str(t, s, sizeof s);
    if (numel == 0) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "tensor %s has no elements", s);
    const eos_device_info *d = &rt->dev;
    unsigned long long global, max_alloc;
    eos__device_memory(rt, &global, &max_alloc);
    size_t bytes = numel * sizeof(float), held = rt->stats.bytes_allocated;
    const char *limited = mem_limit_bytes() ? " (EOS_MEM_LIMIT)" : "";
    /* asked before the driver is: an over-sized request may otherwise succeed lazily and fail
     * later at a kernel launch, or swap the whole machine on a CPU device */
    if (numel > 0xffffffffu || (max_alloc && bytes > max_alloc))
        EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, "use a smaller batch, or a device with more memory",
                 "tensor %s needs %.1f MiB, more than one allocation may take on %s "
                 "(largest allocation %.1f MiB, global memory %.1f MiB%s, %.1f MiB already held)",
                 s, bytes / MIB, d->name, max_alloc / MIB, global / MIB, limited, held / MIB);
    if (global && held + bytes > global)
        EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, "use a smaller batch, or a device with more memory",
                 "tensor %s needs %.1f MiB, but %.1f MiB of the %.1f MiB of global memory%s of %s are already "
                 "held (largest allocation %.1f MiB)",
                 s, bytes / MIB, held / MIB, global / MIB, limited, d->name, max_alloc / MIB);
    cl_int err;
    t->buf = clCreateBuffer(rt->ctx, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err != CL_SUCCESS) {
        t->buf = NULL;
        int oom = err == CL_INVALID_BUFFER_SIZE || err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_RESOURCES ||
                  err == CL_OUT_OF_HOST_MEMORY;
        return eos__error_set(oom ? EOS_ERR_OUT_OF_MEMORY : err, __FILE__, __LINE__,
                              "clCreateBuffer", "use a smaller batch, or a device with more memory",
                              "allocating tensor %s (%.1f MiB) on %s failed with %s "
                              "(global memory %.1f MiB%s, largest allocation %.1f MiB, %.1f MiB already held)",
                              s, bytes / MIB, d->name, eos_status_str(err), global / MIB, limited,
                              max_alloc / MIB, held / MIB);
    }
    t->numel = numel;
    rt->stats.bytes_allocated += bytes;
    if (rt->stats.bytes_allocated > rt->stats.bytes_peak) rt->stats.bytes_peak = rt->stats.bytes_allocated;
    return EOS_OK;
}

void eos_tensor_free(eos_tensor *t) {
    if (!t || !t->buf) return;
    clReleaseMemObject(t->buf);
    t->rt->stats.bytes_allocated -= eos_tensor_bytes(t);
    memset(t, 0, sizeof *t);
}

static eos_status check_copy(const eos_tensor *t, const void *host, size_t count, const char *what) {
    if (!t || !t->buf) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "%s: the tensor is not allocated", what);
    if (!host) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "%s: host pointer is NULL", what);
    if (count != t->numel) {
        char s[128];
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "%s: tensor %s holds %zu floats, the host buffer %zu", what,
                 eos_tensor_shape_str(t, s, sizeof s), t->numel, count);
    }
    return EOS_OK;
}

eos_status eos_tensor_upload(eos_tensor *t, const float *host, size_t count) {
    EOS_TRY(check_copy(t, host, count, "upload"));
    EOS_CL_CHECK(clEnqueueWriteBuffer(t->rt->queue, t->buf, CL_TRUE, 0, eos_tensor_bytes(t), host, 0, NULL, NULL),
                 "uploading %zu floats to %s", count, t->rt->dev.name);
    t->rt->stats.bytes_to_device += eos_tensor_bytes(t);
    return EOS_OK;
}

eos_status eos_tensor_download(const eos_tensor *t, float *host, size_t count) {
    EOS_TRY(check_copy(t, host, count, "download"));
    EOS_CL_CHECK(clEnqueueReadBuffer(t->rt->queue, t->buf, CL_TRUE, 0, eos_tensor_bytes(t), host, 0, NULL, NULL),
                 "downloading %zu floats from %s", count, t->rt->dev.name);
    t->rt->stats.bytes_from_device += eos_tensor_bytes(t);
    return EOS_OK;
}

eos_status eos_tensor_fill(eos_tensor *t, float value) {
    if (!t || !t->buf) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "fill: the tensor is not allocated");
    cl_kernel k;
    EOS_TRY(eos_runtime_kernel(t->rt, "elementwise.cl", "eos_fill", &k));
    cl_uint n = (cl_uint)t->numel;
    EOS_CL_CHECK(clSetKernelArg(k, 0, sizeof(cl_mem), &t->buf), "eos_fill arg 0");
    EOS_CL_CHECK(clSetKernelArg(k, 1, sizeof(float), &value), "eos_fill arg 1");
    EOS_CL_CHECK(clSetKernelArg(k, 2, sizeof(cl_uint), &n), "eos_fill arg 2");
    return eos__launch_1d(t->rt, k, t->numel, "eos_fill");
}

eos_status eos_tensor_reserve(eos_runtime_t rt, eos_tensor *t, size_t numel) {
    if (t->buf && t->numel >= numel) return EOS_OK;
    eos_tensor_free(t);
    return eos_tensor_alloc(rt, t, 1, &numel);
}
