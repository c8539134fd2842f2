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

/* Focal loss (Lin et al.) as LDAM-DRW implements it: ce_i = w[y_i] * (lse_i - z_i[y_i]),
 * p_i = exp(-ce_i), loss_i = (1 - p_i)^gamma * ce_i, mean over the batch (inv_n = 1/N).
 * 1 - p is computed as -expm1(-ce) so that small losses keep their precision. */
__kernel void eos_focal(__global const float *z, __global const float *labels, __global const float *weights,
                        const int has_weights, const float gamma, const float inv_n, __global float *loss,
                        __global float *dz, const int N, const int C) {
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
    const float ce = w * (lse - zi[y]);
    const float p = exp(-ce), q = -expm1(-ce);  /* q = 1 - p */
    const float qg = gamma == 0.0f ? 1.0f : pow(q, gamma);
    loss[i] = qg * ce;
    /* d loss / d ce = q^gamma + gamma * ce * p * q^(gamma - 1) */
    float dce = qg;
    if (gamma != 0.0f && q > 0.0f) dce += gamma * ce * p * pow(q, gamma - 1.0f);
    for (int c = 0; c < C; c++)
        dz[i * C + c] = inv_n * dce * w * (exp(zi[c] - lse) - (c == y ? 1.0f : 0.0f));
}

/* Asymmetric loss, single-label form (Ridnik et al., ASLSingleLabel): with p = softmax(z),
 * targets t_c = (1 - eps) [c = y] + eps / C, and weights a_y = (1 - p_y)^gamma_pos,
 * a_c = p_c^gamma_neg for c != y: loss_i = -sum_c t_c a_c log p_c, mean over the batch.
 * The weights are differentiated too, as in the reference implementation. */
__kernel void eos_asl(__global const float *z, __global const float *labels, const float gamma_pos,
                      const float gamma_neg, const float eps, const float inv_n, __global float *loss,
                      __global float *dz, const int N, const int C) {
    const int i = get_global_id(0);
    if (i >= N) return;
    __global const float *zi = z + i * C;
    const int y = (int)labels[i];
    float m = zi[0];
    for (int c = 1; c < C; c++) m = fmax(m, zi[c]);
    float s = 0.0f;
    for (int c = 0; c < C; c++) s += exp(zi[c] - m);
    const float lse = m + log(s);
    /* A_c: d(a_c log p_c)/dz_k = A_c ([c = k] - p_k) */
    float l = 0.0f, sum_ta = 0.0f;
    for (int c = 0; c < C; c++) {
        const float lp = zi[c] - lse, p = exp(lp), t = (c == y ? 1.0f - eps : 0.0f) + eps / (float)C;
        float a, A;
        if (c == y) {
            const float b = -expm1(lp);  /* 1 - p_y */
            a = gamma_pos == 0.0f ? 1.0f : pow(b, gamma_pos);
            A = a;
            if (gamma_pos != 0.0f && b > 0.0f) A -= gamma_pos * pow(b, gamma_pos - 1.0f) * p * lp;
        } else {
            a = gamma_neg == 0.0f ? 1.0f : pow(p, gamma_neg);
            A = a * (gamma_neg * lp + 1.0f);
        }
        l -= t * a * lp;
        sum_ta += t * A;
    }
    loss[i] = l;
    for (int k = 0; k < C; k++) {
        const float lp = zi[k] - lse, p = exp(lp), t = (k == y ? 1.0f - eps : 0.0f) + eps / (float)C;
        float A;
        if (k == y) {
            const float b = -expm1(lp);
            A = gamma_pos == 0.0f ? 1.0f : pow(b, gamma_pos);
            if (gamma_pos != 0.0f && b > 0.0f) A -= gamma_pos * pow(b, gamma_pos - 1.0f) * p * lp;
        } else {
            A = (gamma_neg == 0.0f ? 1.0f : pow(p, gamma_neg)) * (gamma_neg * lp + 1.0f);
        }
        dz[i * C + k] = -inv_n * (t * A - p * sum_ta);
    }
}

/* LDAM (Cao et al.): z = s * (cos - m_y at the target), the logits of the margin loss; the
 * gradient back to cos is s * dz (eos_scale). cos, z: (N, C); margins: (C). */
__kernel void eos_ldam_logits(__global const float *cosv, __global const float *labels, __global const float *margins,
                              const float s, __global float *z, const int N, const int C) {
    const int i = get_global_id(0);
    if (i >= N * C) return;
    const int c = i % C, y = (int)labels[i / C];
    z[i] = s * (cosv[i] - (c == y ? margins[y] : 0.0f));
}

/* y = a * x over n */
__kernel void eos_scale(__global const float *x, __global float *y, const float a, const int n) {
    const int i = get_global_id(0);
    if (i < n) y[i] = a * x[i];
}
