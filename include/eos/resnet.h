/* The CIFAR ResNet family (ResNet-s, GUIDE section 5): depth 6n+2, three stages of n basic
 * blocks (16, 32, 64 channels), option-A shortcuts, global average pool, linear head. This
 * header names the architectures and their parameter tensors, PyTorch's names and shapes. */
#ifndef EOS_RESNET_H
#define EOS_RESNET_H

#include "eos/checkpoint.h"

#ifdef __cplusplus
extern "C" {
#endif

/* "resnet8", "resnet14", "resnet20", "resnet32", "resnet44", "resnet56", "resnet110" -> blocks
 * per stage n (depth 6n + 2). */
eos_status eos_resnet_blocks(const char *arch, int *blocks_per_stage);

/* Every state-dict tensor of the network, in PyTorch's state_dict order: conv1.weight,
 * bn1.{weight,bias,running_mean,running_var,num_batches_tracked}, layer{1,2,3}.{i}.{conv1,bn1,
 * conv2,bn2}..., linear.weight (classes, 64), linear.bias (classes). *specs is malloc'd. */
eos_status eos_resnet_param_specs(int blocks_per_stage, int in_channels, int classes, eos_param_spec **specs,
                                  size_t *count);

/* Learnable parameters (conv and linear weights, linear bias, BN weight and bias). */
size_t eos_resnet_param_count(const eos_param_spec *specs, size_t count);

#ifdef __cplusplus
}
#endif
#endif
