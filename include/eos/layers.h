/* The layers of ResNet-s and friends, forward and backward, on device tensors. Each function
 * takes its dimensions explicitly (a tensor may be larger than one call needs: buffers are
 * sized for the largest batch and reused for the last, partial one) and checks that every
 * tensor holds enough elements. Kernels live in cl/<area>.cl, hosts in host/<area>.c.
 * Legend: N batch, C channels, H x W image, F features, K classes. */
#ifndef EOS_LAYERS_H
#define EOS_LAYERS_H

#include "eos/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Usage (a conv + BN + ReLU block, training):
 *     eos_workspace ws = {0};
 *     eos_conv_shape s = {N, 16, 32, 32, 32, 3, 2, 1};                 // 16 -> 32 channels, stride 2
 *     eos_conv2d_forward(rt, &s, &x, &w, NULL, &c, &ws);
 *     eos_batchnorm_forward_train(rt, N, 32, 16 * 16, &c, &g, &b, &rm, &rv, &mean, &invstd,
 *                                 NULL, 1, 0.1f, 1e-5f, &y);
 *     ... eos_batchnorm_relu_backward (dy at y), eos_conv2d_backward in reverse ...
 *     eos_workspace_free(&ws);
 */

/* Scratch buffers shared by the layers, grown on demand (eos_workspace_free at the end). */
typedef struct eos_workspace {
    eos_tensor col, tmp, dcol, part, wt;
} eos_workspace;
void eos_workspace_free(eos_workspace *ws);

/* ---- conv2d (host/nn/conv.c; cl/im2col.cl): im2col + CLBlast GEMM ------------------------ */

typedef struct eos_conv_shape {
    int N, C, H, W;     /* input (N, C, H, W) */
    int K, R;           /* K output channels, R x R kernel */
    int stride, pad;
} eos_conv_shape;
static inline int eos_conv_out(int size, int r, int stride, int pad) { return (size + 2 * pad - r) / stride + 1; }

/* Convolution algorithms (host/nn/conv.c): gemm = im2col + CLBlast, panel = float8-tiled kernels on
 * packed 32-pixel panels (fast on CPUs), direct = 3x3 stride-1 kernels on rows of 32, 16 or 8
 * pixels with no column matrix, winograd = F(2x2,3x3) for any 3x3 stride-1 pad-1 shape (on CPUs
 * one fused kernel per forward or data gradient on rows of 32, 16 or 8), tiled =
 * local-memory tiled implicit GEMMs on 2-D work-groups for any shape (written for GPUs), direct16 =
 * direct on float16 rows (AVX-512), which also runs the stride-2 forward on rows of 32 and 16. AUTO (the
 * default) chooses per layer shape, batch size and direction (forward, data gradient, weight
 * gradient each on its own): the first call times that direction alone with every algorithm
 * that applies and keeps the fastest, per device, in the runtime and in <kernel
 * cache>/conv-algos.txt; so inference uses forward choices timed for its own batch size, and a
 * backward may run dw with one algorithm and dx with another. EOS_CONV_ALGO=gemm|panel|direct|
 * winograd|tiled|direct16 in the environment or eos_runtime_set_conv_algo forces one for every
 * direction (direct, direct16 and winograd fall back to panel where they do not apply, tiled on a
 * device that cannot run its work-groups). */
typedef enum {
    EOS_CONV_AUTO = 0,
    EOS_CONV_GEMM = 1,
    EOS_CONV_PANEL = 2,
    EOS_CONV_DIRECT = 3,
    EOS_CONV_WINOGRAD = 4,
    EOS_CONV_TILED = 5,
    EOS_CONV_DIRECT16 = 6
} eos_conv_algo;
const char *eos_conv_algo_name(eos_conv_algo a);
eos_status eos_conv_algo_parse(const char *name, eos_conv_algo *out);
void eos_runtime_set_conv_algo(eos_runtime_t rt, eos_conv_algo a);
/* The algorithm shape s runs with on rt in the forward direction (timing those that apply when it
 * is not known yet); eos_conv_algo_for_dir for any direction (eos_conv_dir below). */
eos_status eos_conv_algo_for(eos_runtime_t rt, const eos_conv_shape *s, eos_conv_algo *out);

/* Convolution time by layer shape and direction, for `eos bench layers`: while event profiling
 * is on (eos_runtime_profile_start), the kernel time of every eos_conv2d_forward and
 * eos_conv2d_backward is also charged to its (shape, direction, algorithm); read copies up to max
 * rows of what ran since the start, in order of first call. In a backward, the kernels that serve
 * both gradients (dy's re-layout) and the bias gradient count in the weight gradient; the data
 * gradient is everything after the weight gradient (for direct, the weight flip too; when it runs
 * another algorithm than the weight gradient, its own re-layout of dy). Each row carries the
 * algorithm its direction ran with. flops is
 * one call's 2 * N * K * C * R * R * OH * OW, the same for the three directions. */
typedef enum { EOS_CONV_FORWARD = 0, EOS_CONV_DATA_GRAD = 1, EOS_CONV_WEIGHT_GRAD = 2 } eos_conv_dir;
const char *eos_conv_dir_name(eos_conv_dir d);  /* "forward", "data grad", "weight grad" */
eos_status eos_conv_algo_for_dir(eos_runtime_t rt, const eos_conv_shape *s, eos_conv_dir dir, eos_conv_algo *out);
typedef struct eos_conv_time {
    eos_conv_shape shape;
    eos_conv_dir dir;
    eos_conv_algo algo;
    double seconds;  /* device seconds over every call */
    long calls;
    double flops;    /* per call */
} eos_conv_time;
size_t eos_conv_profile_read(eos_runtime_t rt, eos_conv_time *out, size_t max);

/* y (N, K, OH, OW) = conv(x (N, C, H, W), w (K, C, R, R)) + b (K); b may be NULL */
eos_status eos_conv2d_forward(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *x, const eos_tensor *w,
                              const eos_tensor *b, eos_tensor *y, eos_workspace *ws);
/* dw (K, C, R, R) and db (K) are overwritten; dx (N, C, H, W) too, unless NULL; db may be NULL */
eos_status eos_conv2d_backward(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *x, const eos_tensor *w,
                               const eos_tensor *dy, eos_tensor *dx, eos_tensor *dw, eos_tensor *db,
                               eos_workspace *ws);

/* ---- batchnorm2d (host/nn/batchnorm.c; cl/batchnorm.cl) ---------------------------------- */

/* Training: statistics of x (N, C, HW) -> mean, invstd (C) kept for backward; running_mean and
 * running_var (C) updated; y = gamma * xhat + beta, + residual (same shape; may be NULL), then
 * ReLU when relu. y may alias x only when the backward pass will not need x. */
eos_status eos_batchnorm_forward_train(eos_runtime_t rt, int N, int C, int HW, const eos_tensor *x,
                                       const eos_tensor *gamma, const eos_tensor *beta, eos_tensor *running_mean,
                                       eos_tensor *running_var, eos_tensor *mean, eos_tensor *invstd,
                                       const eos_tensor *residual, int relu, float momentum, float eps, eos_tensor *y);
/* Evaluation with the running statistics (mean, invstd are scratch (C)). */
eos_status eos_batchnorm_forward_eval(eos_runtime_t rt, int N, int C, int HW, const eos_tensor *x,
                                      const eos_tensor *gamma, const eos_tensor *beta, const eos_tensor *running_mean,
                                      const eos_tensor *running_var, eos_tensor *mean, eos_tensor *invstd,
                                      const eos_tensor *residual, int relu, float eps, eos_tensor *y);
/* dy, x (N, C, HW), the saved mean/invstd -> dx (N, C, HW), dgamma, dbeta (C), overwritten.
 * dy is the gradient after any ReLU and residual have been undone by the caller. */
eos_status eos_batchnorm_backward(eos_runtime_t rt, int N, int C, int HW, const eos_tensor *dy, const eos_tensor *x,
                                  const eos_tensor *mean, const eos_tensor *invstd, const eos_tensor *gamma,
                                  eos_tensor *dx, eos_tensor *dgamma, eos_tensor *dbeta);
/* The backward of y = relu(bn(x) [+ residual]) with the ReLU's backward folded into the batch
 * norm's (no pass of its own): dy (N, C, HW) is the gradient at y, y the forward's output.
 * dy is overwritten by dy * (y > 0), which is also the gradient of the residual; dx, dgamma,
 * dbeta as eos_batchnorm_backward. dx may not alias dy or y. EOS_BN_FUSE=0 runs it unfused
 * (eos_relu_backward, then eos_batchnorm_backward): the reference the tests compare with. */
eos_status eos_batchnorm_relu_backward(eos_runtime_t rt, int N, int C, int HW, eos_tensor *dy, const eos_tensor *y,
                                       const eos_tensor *x, const eos_tensor *mean, const eos_tensor *invstd,
                                       const eos_tensor *gamma, eos_tensor *dx, eos_tensor *dgamma,
                                       eos_tensor *dbeta);

/* ---- activations and shortcuts (host/nn/activation.c; cl/elementwise.cl) -------------- */

eos_status eos_relu_forward(eos_runtime_t rt, size_t n, const eos_tensor *x, eos_tensor *y);
/* dx = dy * (y > 0), y the ReLU's output; dx may alias dy */
eos_status eos_relu_backward(eos_runtime_t rt, size_t n, const eos_tensor *dy, const eos_tensor *y, eos_tensor *dx);
/* y += x over n elements */
eos_status eos_add_inplace(eos_runtime_t rt, size_t n, eos_tensor *y, const eos_tensor *x);
/* Option-A shortcut: x (N, Ci, H, W) -> y (N, Co, ceil(H/2), ceil(W/2)), zero channels split
 * evenly around the input's; backward writes (or adds to, when accumulate) dx (N, Ci, H, W). */
eos_status eos_shortcut_a_forward(eos_runtime_t rt, int N, int Ci, int H, int W, int Co, const eos_tensor *x,
                                  eos_tensor *y);
eos_status eos_shortcut_a_backward(eos_runtime_t rt, int N, int Ci, int H, int W, int Co, const eos_tensor *dy,
                                   eos_tensor *dx, int accumulate);

/* ---- pooling (host/nn/pool.c; cl/pool.cl) ------------------------------------------------ */

/* x (N, C, HW) -> y (N, C) */
eos_status eos_avgpool_forward(eos_runtime_t rt, int N, int C, int HW, const eos_tensor *x, eos_tensor *y);
eos_status eos_avgpool_backward(eos_runtime_t rt, int N, int C, int HW, const eos_tensor *dy, eos_tensor *dx);
/* K x K windows at stride S, no padding: y, arg (N, C, OH, OW) with OH = (H - K) / S + 1 */
eos_status eos_maxpool_forward(eos_runtime_t rt, int N, int C, int H, int W, int K, int S, const eos_tensor *x,
                               eos_tensor *y, eos_tensor *arg);
eos_status eos_maxpool_backward(eos_runtime_t rt, int N, int C, int H, int W, int K, int S, const eos_tensor *dy,
                                const eos_tensor *arg, eos_tensor *dx);

/* ---- linear (host/nn/linear.c): y = x w^T + b -------------------------------------------- */

/* x (N, F), w (K, F), b (K) -> y (N, K) */
eos_status eos_linear_forward(eos_runtime_t rt, int N, int F, int K, const eos_tensor *x, const eos_tensor *w,
                              const eos_tensor *b, eos_tensor *y);
/* dw (K, F), db (K) overwritten; dx (N, F) too, unless NULL */
eos_status eos_linear_backward(eos_runtime_t rt, int N, int F, int K, const eos_tensor *x, const eos_tensor *w,
                               const eos_tensor *dy, eos_tensor *dx, eos_tensor *dw, eos_tensor *db);

/* ---- softmax cross-entropy (host/nn/loss.c; cl/loss.cl) ---------------------------------- */

/* logits (N, K), labels (N) given on the host; weights (K) optional (NULL = all 1).
 * Writes dlogits (N, K) = d(mean loss)/d(logits) and returns the mean loss in *loss
 * (PyTorch's weighted mean). labels_dev (N) and per_sample (N) are scratch tensors. */
eos_status eos_softmax_ce(eos_runtime_t rt, int N, int K, const eos_tensor *logits, const int32_t *labels,
                          const float *weights, eos_tensor *labels_dev, eos_tensor *weights_dev,
                          eos_tensor *per_sample, eos_tensor *dlogits, float *loss);

/* The losses of the cost-sensitive baselines (host/nn/loss.c; cl/loss.cl), each forward and
 * gradient in one kernel:
 *   ce     softmax cross-entropy, PyTorch's weighted mean (as eos_softmax_ce)
 *   focal  Lin et al. as LDAM-DRW implements it: mean of (1 - exp(-ce_i))^gamma ce_i, ce_i weighted
 *   asl    ASL single-label (Ridnik et al.): gamma_pos, gamma_neg, label smoothing eps
 *   ldam   LDAM (Cao et al.) on the cosines of a normalised head (eos_ldam_loss below): scale s,
 *          margins (K) from eos_ldam_margins with the largest max_m; the caller sets margins */
typedef enum { EOS_LOSS_CE = 0, EOS_LOSS_FOCAL, EOS_LOSS_ASL, EOS_LOSS_LDAM } eos_loss_kind;
typedef struct eos_loss_spec {
    eos_loss_kind kind;
    float gamma;                    /* focal: 2 */
    float gamma_pos, gamma_neg, eps; /* asl: 0, 4, 0.1 */
    float s, max_m;                 /* ldam: 30, 0.5 */
    const float *margins;           /* ldam: (K), not owned */
} eos_loss_spec;
/* "ce", "focal", "asl", "ldam" with the references' defaults */
eos_status eos_loss_parse(const char *name, eos_loss_spec *out);
/* As eos_softmax_ce, for ce, focal and asl on plain logits (weights apply to ce and focal);
 * ldam needs the cosines of a normalised head and goes through eos_ldam_loss. */
eos_status eos_loss_forward_backward(eos_runtime_t rt, const eos_loss_spec *spec, int N, int K,
                                     const eos_tensor *logits, const int32_t *labels, const float *weights,
                                     eos_tensor *labels_dev, eos_tensor *weights_dev, eos_tensor *per_sample,
                                     eos_tensor *dlogits, float *loss);
/* Class-balanced weights (Cui et al.): (1 - beta) / (1 - beta^n_c), normalised to sum to C. */
void eos_class_balanced_weights(const size_t *counts, int C, double beta, float *weights);

/* LDAM (Cao et al.), as LDAM-DRW implements it: a normalised linear head (weight (F, K), as
 * its NormedLinear: cos = normalize(x, rows) x normalize(w, columns)) and the margin loss
 * CE(s * (cos - m_y at the target), y, weights), margins m_c proportional to n_c^(-1/4) with the
 * largest max_m (0.5), s = 30. xn (N, F), xnorm (N), wn (F, K), wnorm (K) are kept for backward.
 * The head is host/nn/linear.c (cl/linear.cl), the margin loss host/nn/loss.c (cl/loss.cl). */
void eos_ldam_margins(const size_t *counts, int K, float max_m, float *margins);
eos_status eos_normed_linear_forward(eos_runtime_t rt, int N, int F, int K, const eos_tensor *x, const eos_tensor *w,
                                     eos_tensor *xn, eos_tensor *xnorm, eos_tensor *wn, eos_tensor *wnorm,
                                     eos_tensor *cosv);
/* dw (F, K) overwritten, dx (N, F) too unless NULL; scratch (max(N, K) * F) */
eos_status eos_normed_linear_backward(eos_runtime_t rt, int N, int F, int K, const eos_tensor *xn,
                                      const eos_tensor *xnorm, const eos_tensor *wn, const eos_tensor *wnorm,
                                      const eos_tensor *dcos, eos_tensor *dx, eos_tensor *dw, eos_tensor *scratch);
/* cos (N, K) -> dcos (N, K) and the mean loss; z, labels_dev, margins_dev, weights_dev, per_sample, dz
 * are scratch tensors (grown as needed). */
eos_status eos_ldam_loss(eos_runtime_t rt, int N, int K, const eos_tensor *cosv, const int32_t *labels,
                         const float *margins, float s, const float *weights, eos_tensor *z, eos_tensor *labels_dev,
                         eos_tensor *margins_dev, eos_tensor *weights_dev, eos_tensor *per_sample, eos_tensor *dz,
                         eos_tensor *dcos, float *loss);

/* ---- SGD and its schedule (host/nn/optim.c; cl/optim.cl) --------------------------------- */

/* p -= lr * (buf = momentum * buf + grad + weight_decay * p), PyTorch semantics; all (n) */
eos_status eos_sgd_step(eos_runtime_t rt, size_t n, eos_tensor *p, const eos_tensor *grad, eos_tensor *buf, float lr,
                        float momentum, float weight_decay);

/* The learning rate of epoch e (0-based) of E, after LDAM-DRW's adjust_learning_rate scaled to
 * E: a linear warm-up over the first 5E/200 epochs (none when E < 40), base_lr until epoch
 * round(0.8 E), x0.01 until round(0.9 E), x0.0001 after. 200 epochs: warm-up 1-5, decays after
 * 160 and 180 (the paper); 10 epochs: lr 0.1 for 8, 0.001 for 1, 0.00001 for 1. */
float eos_lr_schedule(float base_lr, int epoch, int epochs);
/* The number of epochs before the first (which 0: round(0.8 E)) or second (1: round(0.9 E))
 * decay; DRW's re-weighting starts with the first. */
int eos_lr_milestone(int epochs, int which);

#ifdef __cplusplus
}
#endif
#endif /* EOS_LAYERS_H */
