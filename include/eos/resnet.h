/* The CIFAR ResNet family (ResNet-s, GUIDE section 5): depth 6n+2, three stages of n basic
 * blocks (16, 32, 64 channels), option-A shortcuts, global average pool, linear head. This
 * header names the architectures and their parameter tensors, PyTorch's names and shapes. */
#ifndef EOS_RESNET_H
#define EOS_RESNET_H

#include "eos/checkpoint.h"
#include "eos/runtime.h"
#include "eos/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Blocks per stage are 1..EOS_RESNET_MAX_BLOCKS (resnet1202, the deepest of He et al.'s CIFAR
 * ResNets), checked where networks are specified, created and loaded. */
#define EOS_RESNET_MAX_BLOCKS 200

/* "resnet8", "resnet14", "resnet20", "resnet32", "resnet44", "resnet56", "resnet110" -> blocks
 * per stage n (depth 6n + 2). */
eos_status eos_resnet_blocks(const char *arch, int *blocks_per_stage);

/* The classifier head:
 *   LINEAR  nn.Linear(64, classes): linear.weight (classes, 64), linear.bias (classes)
 *   NORMED  LDAM-DRW's NormedLinear (Cao et al.): linear.weight (64, classes), no bias; the output
 *           is the cosine normalize(features) . normalize(weight column), trained with the LDAM
 *           loss (EOS_LOSS_LDAM). A model file without linear.bias is read as NORMED. */
typedef enum { EOS_RESNET_HEAD_LINEAR = 0, EOS_RESNET_HEAD_NORMED = 1 } eos_resnet_head;

/* Every state-dict tensor of the network, in PyTorch's state_dict order: conv1.weight,
 * bn1.{weight,bias,running_mean,running_var,num_batches_tracked}, layer{1,2,3}.{i}.{conv1,bn1,
 * conv2,bn2}..., then the head's tensors (above). *specs is malloc'd. */
eos_status eos_resnet_param_specs(int blocks_per_stage, int in_channels, int classes, eos_resnet_head head,
                                  eos_param_spec **specs, size_t *count);

/* Learnable parameters (conv and linear weights, linear bias, BN weight and bias). */
size_t eos_resnet_param_count(const eos_param_spec *specs, size_t count);

/* ---- the network on a device ------------------------------------------------------------
 * Usage:
 *     eos_resnet_t m;
 *     eos_resnet_create(rt, 5, 3, 10, EOS_RESNET_HEAD_LINEAR, seed, &m);  // resnet32, Kaiming-normal init
 *     eos_resnet_forward(m, 1, N, H, W, x);                  // training mode, x (N, C, H, W) on the host
 *     eos_resnet_backward(m, N, labels, NULL, &loss);        // softmax CE, gradients of every parameter
 *     eos_resnet_sgd_step(m, lr, 0.9f, 2e-4f);
 *     eos_resnet_save(m, "model.safetensors");
 * Activations are kept on the device for the largest batch seen and reused. */

typedef struct eos_resnet *eos_resnet_t;

/* Conv and linear weights Kaiming normal (fan in), linear bias U(+-1/8); a NORMED head's
 * columns U(-1, 1) scaled to unit norm (as NormedLinear's renorm). */
eos_status eos_resnet_create(eos_runtime_t rt, int blocks_per_stage, int in_channels, int classes,
                             eos_resnet_head head, uint64_t seed, eos_resnet_t *out);
/* Load a safetensors file with PyTorch's names; the architecture (blocks, input channels,
 * classes) is read from the file, and every name and shape is checked before any is used. */
eos_status eos_resnet_load(eos_runtime_t rt, const char *path, eos_resnet_t *out);
eos_status eos_resnet_save(eos_resnet_t m, const char *path);
void eos_resnet_free(eos_resnet_t m);

int eos_resnet_blocks_per_stage(eos_resnet_t m);
eos_runtime_t eos_resnet_runtime(eos_resnet_t m);
int eos_resnet_classes(eos_resnet_t m);
int eos_resnet_in_channels(eos_resnet_t m);
eos_resnet_head eos_resnet_head_kind(eos_resnet_t m);
/* The head as a plain linear layer: weight (classes, 64), bias (classes). A LINEAR head is copied;
 * a NORMED head gives its unit-norm columns and bias 0, which ranks the classes of every input
 * exactly as the cosines do (the feature norm is a common positive factor). Phase 3 starts here. */
eos_status eos_resnet_linear_head(eos_resnet_t m, float *weight, float *bias);
/* Put a plain linear head (weight (classes, 64), bias (classes)) on the network, turning a NORMED
 * head into a LINEAR one; the optimiser state of the head starts again from zero. */
eos_status eos_resnet_replace_head(eos_resnet_t m, const float *weight, const float *bias);
#define EOS_RESNET_FEATURES 64

/* Forward x (N, C, H, W); train selects batch statistics (and updates the running ones). */
eos_status eos_resnet_forward(eos_resnet_t m, int train, int N, int H, int W, const float *x);
/* After a forward: logits (N, classes) and/or features (N, 64), either may be NULL. The logits
 * of a NORMED head are its cosines. */
eos_status eos_resnet_outputs(eos_resnet_t m, int N, float *logits, float *features);
/* After a forward: the features (N, 64) copied on the device into rows row..row+N-1 of dst, a
 * (rows, 64) tensor of the network's runtime; nothing crosses to the host, and the floats are
 * the ones eos_resnet_outputs reads, bit for bit. */
eos_status eos_resnet_features_to(eos_resnet_t m, int N, eos_tensor *dst, size_t row);
/* After a training forward: softmax cross-entropy against labels (N) with optional class
 * weights (classes), mean loss in *loss, and the gradient of every parameter. */
eos_status eos_resnet_backward(eos_resnet_t m, int N, const int32_t *labels, const float *class_weights, float *loss);
/* The same with another loss (eos_loss_spec, include/eos/layers.h); spec NULL is cross-entropy.
 * A NORMED head takes the LDAM loss (and only it); a LINEAR head every other one. */
struct eos_loss_spec;
eos_status eos_resnet_backward_loss(eos_resnet_t m, int N, const int32_t *labels, const struct eos_loss_spec *spec,
                                    const float *class_weights, float *loss);
eos_status eos_resnet_sgd_step(eos_resnet_t m, float lr, float momentum, float weight_decay);

/* A state-dict tensor by PyTorch name: its value, or (grad = 1) its gradient, into host (n). */
eos_status eos_resnet_get(eos_resnet_t m, const char *name, int grad, float *host, size_t n);
eos_status eos_resnet_set(eos_resnet_t m, const char *name, const float *host, size_t n);

/* The whole training state, for checkpoints: every state-dict tensor (as eos_resnet_save writes
 * them) followed by the SGD momentum of each learnable one, named "mom.<name>". *t (count) is
 * malloc'd with its data; free it with eos_named_tensors_free. */
eos_status eos_resnet_state_get(eos_resnet_t m, eos_named_tensor **t, size_t *count);
void eos_named_tensors_free(eos_named_tensor *t, size_t count);
/* Put such a state back; every name and shape is checked first (path names f in messages), so a
 * file that does not match changes nothing. */
eos_status eos_resnet_state_set(eos_resnet_t m, const eos_safetensors *f, const char *path);

/* Device memory of training with N images of H x W, about: fixed_bytes + N * per_image_bytes in
 * all (parameters, gradients and momentum; activations, their gradients and the im2col
 * workspace), and N * largest_per_image_bytes in the largest single buffer. */
typedef struct eos_resnet_memory {
    size_t fixed_bytes, per_image_bytes, largest_per_image_bytes;
} eos_resnet_memory;
void eos_resnet_memory_estimate(int blocks_per_stage, int in_channels, int classes, int H, int W,
                                eos_resnet_memory *out);

#ifdef __cplusplus
}
#endif
#endif
