/* Embedding files (GUIDE section 6): CSV with a header line "label,f0,f1,...", then one row per
 * sample: the integer label, then the features. Bad rows are errors naming the line. */
#ifndef EOS_EMBEDDINGS_H
#define EOS_EMBEDDINGS_H

#include "eos/status.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Usage:
 *     eos_embeddings e;
 *     eos_embeddings_read_csv("train_emb.csv", 10, &e);   // labels must be 0..9 (0: any >= 0)
 *     ... e.x[i * e.dim + j] ...
 *     eos_embeddings_write_csv("copy.csv", &e);            // atomic: temp file + rename
 *     eos_embeddings_free(&e);
 */

/* The most classes the embedding tools take (resample, finetune, a CSV's labels 0..65535):
 * far above any long-tailed benchmark, low enough that per-class tables stay small. */
#define EOS_MAX_CLASSES 65536

typedef struct eos_embeddings {
    size_t n, dim;
    int32_t *labels;  /* (n) */
    float *x;         /* (n, dim) */
} eos_embeddings;

eos_status eos_embeddings_read_csv(const char *path, int classes, eos_embeddings *out);
/* The parser over memory (used by _read and the fuzz target); name is used in messages. */
eos_status eos_embeddings_parse_csv(const char *buf, size_t size, const char *name, int classes,
                                    eos_embeddings *out);
/* Floats are written with 9 significant digits, which read back to the same float. */
eos_status eos_embeddings_write_csv(const char *path, const eos_embeddings *e);
void eos_embeddings_free(eos_embeddings *e);

#ifdef __cplusplus
}
#endif
#endif
