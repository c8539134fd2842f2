/* Plain-C references of every layer, forward and backward, computed in double from float
 * arrays: the yardsticks of the test_layers program (tests/nn/test_<op>.c). Shapes as in
 * include/eos/layers.h. */
#ifndef EOS_LAYERS_REF_H
#define EOS_LAYERS_REF_H
#include <stddef.h>
#include <stdint.h>

/* direct convolution: x (N, C, H, W), w (K, C, R, R), b (K) or NULL -> y (N, K, OH, OW) */
void eos_ref_conv2d_forward(int N, int C, int H, int W, int K, int R, int stride, int pad, const float *x,
                            const float *w, const float *b, float *y);
/* dx, dw, db (each may be NULL) from dy */
void eos_ref_conv2d_backward(int N, int C, int H, int W, int K, int R, int stride, int pad, const float *x,
                             const float *w, const float *dy, float *dx, float *dw, float *db);

/* training batch norm on (N, C, HW); residual may be NULL; running stats updated in place */
void eos_ref_bn_forward_train(int N, int C, int HW, const float *x, const float *gamma, const float *beta,
                              float *running_mean, float *running_var, float momentum, float eps,
                              const float *residual, int relu, float *y);
void eos_ref_bn_forward_eval(int N, int C, int HW, const float *x, const float *gamma, const float *beta,
                             const float *running_mean, const float *running_var, float eps, float *y);
void eos_ref_bn_backward(int N, int C, int HW, const float *x, const float *gamma, float eps, const float *dy,
                         float *dx, float *dgamma, float *dbeta);

void eos_ref_shortcut_a(int N, int Ci, int H, int W, int Co, const float *x, float *y);
void eos_ref_maxpool(int N, int C, int H, int W, int K, int S, const float *x, float *y);
/* mean loss and dlogits (N, K) of softmax cross-entropy, weights (K) or NULL */
double eos_ref_softmax_ce(int N, int K, const float *z, const int32_t *labels, const float *weights, float *dz);
#endif
