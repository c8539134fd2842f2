/* Phase 3: train only the linear head (64 -> classes) on (balanced) embeddings, GUIDE section 5:
 * 10 epochs, batch 128, SGD lr 0.1 with the 5-epoch linear warm-up, momentum 0.9, weight decay
 * 2e-4, a seeded shuffle every epoch. The head runs on the device (linear + softmax CE + SGD). */
#ifndef EOS_FINETUNE_H
#define EOS_FINETUNE_H

#include "eos/embeddings.h"
#include "eos/resnet.h"
#include "eos/runtime.h"
#include "eos/tensor.h"

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

/* A new head as PyTorch's nn.Linear initialises one (the reference's phase 3, cifar_train_os.py,
 * trains such a head): weight and bias uniform in +-1/sqrt(dim) (dim = fan_in), weight first,
 * from PCG32 (seed). */
eos_status eos_head_init(eos_head *h, int classes, int dim, uint64_t seed);
void eos_head_free(eos_head *h);

/* Where phase 3 starts: a fresh head (eos_head_init; the reference's choice, the default) or
 * the phase-1 network's own head ("warm": its trained weights; LDAM's normalised head gives its
 * unit-norm weight columns and bias 0, see eos_resnet_linear_head). */
typedef enum { EOS_HEAD_FRESH = 0, EOS_HEAD_WARM } eos_head_mode;
eos_status eos_head_mode_parse(const char *name, eos_head_mode *out);  /* "fresh" or "warm" */
const char *eos_head_mode_name(eos_head_mode mode);
/* The starting head of phase 3: fresh (classes x dim, seed; model may be NULL) or a copy of
 * model's (whose class count is used; dim must be EOS_RESNET_FEATURES). */
eos_status eos_head_start(eos_head *h, eos_head_mode mode, eos_resnet_t model, int classes, int dim, uint64_t seed);

typedef struct eos_finetune_config {
    int epochs, batch;
    float lr, momentum, weight_decay;
    uint64_t seed;
    /* NULL (default): keep the last epoch's head. Else keep the head of the epoch with the best
     * macro-F1 on these embeddings (the first such epoch), never a test set's. */
    const eos_embeddings *val;
} eos_finetune_config;
eos_finetune_config eos_finetune_defaults(void);

/* Train h in place on train (labels < h->classes); *final_loss: the last epoch's mean loss.
 * With cfg->val, h is the kept epoch's head (the last epoch's loss all the same). */
eos_status eos_finetune(eos_runtime_t rt, eos_head *h, const eos_embeddings *train, const eos_finetune_config *cfg,
                        float *final_loss);

/* The same with the training rows on the device: x (n, dim) a tensor of rt (eos_resample_device's
 * balanced set), labels (n) on the host. Each batch is gathered on the device from its row
 * numbers, so per batch only those and the labels go up; the same head, bit for bit, as
 * eos_finetune on the same rows. */
eos_status eos_finetune_device(eos_runtime_t rt, eos_head *h, const eos_tensor *x, const int32_t *labels,
                               const eos_finetune_config *cfg, float *final_loss);

/* argmax of x h^T + b for each row */
void eos_head_predict(const eos_head *h, const eos_embeddings *x, int32_t *pred);

#ifdef __cplusplus
}
#endif
#endif
