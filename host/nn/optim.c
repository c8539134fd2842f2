/* SGD with momentum and weight decay (cl/optim.cl), PyTorch semantics, and the learning-rate
 * schedule it is run with (LDAM-DRW's, scaled to the run's epochs). */
#include "internal.h"

#include <math.h>

eos_status eos_sgd_step(eos_runtime_t rt, size_t n, eos_tensor *p, const eos_tensor *grad, eos_tensor *buf, float lr,
                        float momentum, float weight_decay) {
    EOS_TRY(eos__need(p, n, "sgd p"));
    EOS_TRY(eos__need(grad, n, "sgd grad"));
    EOS_TRY(eos__need(buf, n, "sgd momentum buffer"));
    cl_uint nn = (cl_uint)n;
    eos__arg a[] = {EOS_ARG(p->buf), EOS_ARG(grad->buf), EOS_ARG(buf->buf), EOS_ARG(lr), EOS_ARG(momentum),
                    EOS_ARG(weight_decay), EOS_ARG(nn)};
    return eos__run_1d(rt, "optim.cl", "eos_sgd_step", n, a, EOS_NARGS(a));
}

/* The paper's milestones (160 and 180 of 200) scaled to the run and rounded to whole epochs:
 * round(0.8 E) and round(0.9 E). Unrounded ("t > 0.8 E") a short run spent its last epoch,
 * half of a 2-epoch run and all of a 1-epoch one, at lr x 0.0001; rounded, lr stays at base_lr
 * for round(0.8 E) epochs, most of any run (1 or 2 epochs: all of it). */
int eos_lr_milestone(int epochs, int which) {
    return (int)lround((which ? 0.9 : 0.8) * epochs);
}

float eos_lr_schedule(float base_lr, int epoch, int epochs) {
    double scale = epochs / 200.0, t = epoch + 1;  /* LDAM-DRW counts epochs from 1 */
    /* warm-up over 5/200 of the run: none below 40 epochs (less than one epoch to spread it over) */
    if (t <= 5 * scale) return (float)(base_lr * t / (5 * scale));
    if (t > eos_lr_milestone(epochs, 1)) return base_lr * 1e-4f;
    if (t > eos_lr_milestone(epochs, 0)) return base_lr * 1e-2f;
    return base_lr;
}
