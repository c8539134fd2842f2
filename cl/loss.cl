/* Softmax cross-entropy over logits (N, C) with integer labels stored as floats (N) and
 * optional per-class weights (C). PyTorch semantics for the weighted mean:
 * loss = sum_i w[y_i] * (logsumexp(z_i) - z_i[y_i]) / sum_i w[y_i]; the host passes that
 * denominator as inv_wsum. One work-item per sample; max-subtracted, so |z| > 80 is safe. */

/* loss (N): the weighted per-sample terms; dz (N, C): their gradient, already divided */
__kernel void eos_softmax_ce(__global const float *z, __global const float *labels, __global const float *weights,
                             const int has_weights, const float inv_wsum, __global float *loss, __global float *dz,
                             const int N, const int C) {
    const int i = get_global_id(0);
    if (i >= N) return;
    __global const float *zi = z + i * C;
    const int y = (int)labels[i];
    float m = zi[0];
    for (int c = 1; c < C; c++) m = fmax(m, zi[c]);
    float s = 0.0f;
    for (int c = 0; c < C; c++) s += exp(zi[c] - m);
    const float lse = m + log(s);
    const float w = has_weights ? weights[y] : 1.0f;
    loss[i] = w * (lse - zi[y]);
    for (int c = 0; c < C; c++) dz[i * C + c] = w * inv_wsum * (exp(zi[c] - lse) - (c == y ? 1.0f : 0.0f));
}
