/* Device tensors: float32 buffers with a shape of up to 4 dimensions (NCHW for images).
 * The runtime counts the bytes every live tensor holds (eos_runtime_get_stats). */
#ifndef EOS_TENSOR_H
#define EOS_TENSOR_H

#include "eos/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Usage:
 *     eos_tensor x;
 *     eos_tensor_alloc(rt, &x, 4, (size_t[]){128, 3, 32, 32});   // (N, C, H, W)
 *     eos_tensor_upload(&x, host, x.numel);
 *     eos_tensor_fill(&x, 0.0f);
 *     eos_tensor_download(&x, host, x.numel);
 *     eos_tensor_free(&x);
 */

#define EOS_TENSOR_MAX_DIMS 4

typedef struct eos_tensor {
    eos_runtime_t rt;                 /* owner */
    cl_mem buf;                       /* numel floats */
    int ndim;                         /* 1..4 */
    size_t shape[EOS_TENSOR_MAX_DIMS];/* outermost first; unused dims are 1 */
    size_t numel;
} eos_tensor;

/* Allocate an uninitialised tensor. Fails with EOS_ERR_OUT_OF_MEMORY and a message giving
 * the shape, the bytes asked for and the device's limits when it cannot be had. */
eos_status eos_tensor_alloc(eos_runtime_t rt, eos_tensor *t, int ndim, const size_t *shape);

/* Release the buffer (safe on a zeroed or already freed tensor). */
void eos_tensor_free(eos_tensor *t);

/* Blocking copies; count must equal t->numel. */
eos_status eos_tensor_upload(eos_tensor *t, const float *host, size_t count);
eos_status eos_tensor_download(const eos_tensor *t, float *host, size_t count);

/* Set every element to value (a kernel on the device). */
eos_status eos_tensor_fill(eos_tensor *t, float value);
/* Grow t (1-d) to at least numel elements; contents are not kept (the layers' scratch buffers). */
eos_status eos_tensor_reserve(eos_runtime_t rt, eos_tensor *t, size_t numel);

/* "(128, 3, 32, 32)" into buf; returns buf. */
const char *eos_tensor_shape_str(const eos_tensor *t, char *buf, size_t size);

static inline size_t eos_tensor_bytes(const eos_tensor *t) { return t->numel * sizeof(float); }

#ifdef __cplusplus
}
#endif
#endif /* EOS_TENSOR_H */
