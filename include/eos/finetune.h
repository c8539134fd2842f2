/* Phase 3: train only the linear head (64 -> classes) on (balanced) embeddings, GUIDE section 5:
 * 10 epochs, batch 128, SGD lr 0.1 with the 5-epoch linear warm-up, momentum 0.9, weight decay
 * 2e-4, a seeded shuffle every epoch. The head runs on the device (linear + softmax CE + SGD). */
#ifndef EOS_FINETUNE_H
#define EOS_FINETUNE_H

#include "eos/embeddings.h"
#include "eos/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Usage:
 *     eos_head h; eos_head_init(&h, 10, 64, seed);
 *     eos_finetune_config cfg = eos_finetune_defaults();
 *     eos_finetune(rt, &h, &balanced, &cfg, &loss);
 *     eos_head_predict(&h, &test, pred);
 */

typedef struct eos_head {
    int classes, dim;
    float *weight;  /* (classes, dim), as PyTorch's linear.weight */
    float *bias;    /* (classes) */
} eos_head;

/* A new head: Kaiming-normal weight, U(-1/sqrt(dim), 1/sqrt(dim)) bias, from PCG32 (seed). */
eos_status eos_head_init(eos_head *h, int classes, int dim, uint64_t seed);
void eos_head_free(eos_head *h);

typedef struct eos_finetune_config {
    int epochs, batch;
    float lr, momentum, weight_decay;
    uint64_t seed;
} eos_finetune_config;
eos_finetune_config eos_finetune_defaults(void);

/* Train h in place on train (labels < h->classes); *final_loss: the last epoch's mean loss. */
eos_status eos_finetune(eos_runtime_t rt, eos_head *h, const eos_embeddings *train, const eos_finetune_config *cfg,
                        float *final_loss);

/* argmax of x h^T + b for each row */
void eos_head_predict(const eos_head *h, const eos_embeddings *x, int32_t *pred);

#ifdef __cplusplus
}
#endif
#endif
