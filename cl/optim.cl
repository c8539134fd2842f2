/* SGD with momentum and weight decay, PyTorch semantics (dampening 0, no Nesterov):
 * g = grad + weight_decay * p; buf = momentum * buf + g; p -= lr * buf.
 * buf starts at zero, which equals PyTorch's first step (buf = g). All (n). */
__kernel void eos_sgd_step(__global float *p, __global const float *grad, __global float *buf, const float lr,
                           const float momentum, const float weight_decay, const uint n) {
    const uint i = get_global_id(0);
    if (i >= n) return;
    const float g = grad[i] + weight_decay * p[i];
    const float b = momentum * buf[i] + g;
    buf[i] = b;
    p[i] -= lr * b;
}
