/* SGD with momentum and weight decay (cl/optim.cl), PyTorch semantics. */
#include "internal.h"

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
