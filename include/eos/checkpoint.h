/* Model files: safetensors read and write (F32 tensors; I64 accepted on read, as PyTorch's
 * BatchNorm num_batches_tracked), with tensor names and shapes exactly as PyTorch's for the same
 * network, so models move both ways, and the string metadata training checkpoints carry.
 * Writes go to a temporary file renamed into place. */
#ifndef EOS_CHECKPOINT_H
#define EOS_CHECKPOINT_H

#include "eos/status.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Usage:
 *     eos_safetensors f;
 *     eos_safetensors_read("model.safetensors", &f);
 *     const eos_named_tensor *w = eos_safetensors_find(&f, "conv1.weight");  // w->data: float *
 *     eos_safetensors_free(&f);
 *
 *     eos_named_tensor t[2] = {...};
 *     eos_safetensors_write("out/model.safetensors", t, 2);  // atomic: temp file + rename
 *
 *     const char *meta[] = {"eos.epoch", "3"};               // key, value pairs
 *     eos_safetensors_write_meta("out/ckpt.safetensors", t, 2, meta, 1);
 *     eos_safetensors_meta(&f, "eos.epoch");                 // "3", or NULL when absent
 *
 * Format (huggingface safetensors): 8-byte little-endian header length N, N bytes of JSON
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
 * then the tensor bytes, little-endian, row-major, without holes or overlaps.
 *
 * Integrity: every file written carries in its metadata EOS_SAFETENSORS_CRC_KEY, one CRC-32
 * (zlib's crc32) per tensor as 8 lower-case hex digits, separated by single spaces, in the order
 * of the tensors' data (ascending data_offsets), and EOS_SAFETENSORS_HEADER_CRC_KEY, the CRC-32
 * of the whole JSON header (padding included) taken with its own 8 digits as "00000000"; that
 * key is the header's first entry: {"__metadata__":{"eos.header_crc32":"xxxxxxxx",...
 * Every read (eos_safetensors_read and _parse) checks the checksums that are present (a mismatch
 * names the file, the tensor or the header, and says the file is damaged) and, in every file,
 * that every F32 value is finite. Files without the keys (PyTorch's, older EOS-CL ones) are
 * read as before. Writing refuses NaN and Inf. */

#define EOS_MAX_TENSOR_NAME 128
#define EOS_SAFETENSORS_CRC_KEY "eos.crc32"
#define EOS_SAFETENSORS_HEADER_CRC_KEY "eos.header_crc32"
#define EOS_MAX_TENSOR_DIMS 8

typedef enum { EOS_DTYPE_F32 = 1, EOS_DTYPE_I64 = 2 } eos_dtype;

typedef struct eos_named_tensor {
    char name[EOS_MAX_TENSOR_NAME];
    eos_dtype dtype;
    int ndim;                          /* 0 for a scalar */
    int64_t shape[EOS_MAX_TENSOR_DIMS];
    size_t numel;
    void *data;                        /* float * (F32) or int64_t * (I64) */
} eos_named_tensor;

typedef struct eos_safetensors {
    eos_named_tensor *tensors;  /* (count), in file order; data owned by this struct */
    size_t count;
    char **meta;                /* (2 * meta_count): key, value, ... of "__metadata__"'s string
                                 * entries (other kinds of value are skipped); owned */
    size_t meta_count;
} eos_safetensors;

eos_status eos_safetensors_read(const char *path, eos_safetensors *out);
/* The parser over memory (used by _read and the fuzz target); name is used in messages. */
eos_status eos_safetensors_parse(const uint8_t *buf, size_t size, const char *name, eos_safetensors *out);
/* Write tensors (numel is recomputed from the shape; data must hold that many elements). */
eos_status eos_safetensors_write(const char *path, const eos_named_tensor *tensors, size_t count);
/* The same with metadata: meta holds meta_count key, value pairs (keys other than "format",
 * "writer" and the two checksum keys, which every file gets, each at most once). */
eos_status eos_safetensors_write_meta(const char *path, const eos_named_tensor *tensors, size_t count,
                                      const char *const *meta, size_t meta_count);
const eos_named_tensor *eos_safetensors_find(const eos_safetensors *f, const char *name);
/* A metadata value by key; NULL when the file has none. */
const char *eos_safetensors_meta(const eos_safetensors *f, const char *key);
void eos_safetensors_free(eos_safetensors *f);

/* What a network expects: one entry per tensor. */
typedef struct eos_param_spec {
    char name[EOS_MAX_TENSOR_NAME];
    eos_dtype dtype;
    int ndim;
    int64_t shape[4];
} eos_param_spec;

/* Check a file against a network: every expected name present with its shape and dtype, no
 * unexpected names. On mismatch: EOS_ERR_FORMAT with one line per problem (path in the
 * message). */
eos_status eos_safetensors_check(const eos_safetensors *f, const eos_param_spec *spec, size_t count,
                                 const char *path);

#ifdef __cplusplus
}
#endif
#endif /* EOS_CHECKPOINT_H */
