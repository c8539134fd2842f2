/* The normalised linear layer of LDAM's head (host/nn/linear.c, eos_normed_linear_*): rows of
 * the features and columns of the weights scaled to unit length, then cos = x_n w_n by GEMM.
 * Forward and backward of the normalisation; one work-item per vector. */

/* Unit vectors, as F.normalize (eps 1e-12): vector v has L elements at x[v * V + j * S].
 * Rows of (N, F): count N, L F, S 1, V F. Columns of (F, C): count C, L F, S C, V 1. */
__kernel void eos_normalize_vectors(__global const float *x, __global float *y, __global float *norms, const int count,
                                    const int L, const int S, const int V) {
    const int v = get_global_id(0);
    if (v >= count) return;
    float s = 0.0f;
    for (int j = 0; j < L; j++) s += x[v * V + j * S] * x[v * V + j * S];
    const float nrm = fmax(sqrt(s), 1e-12f);
    norms[v] = nrm;
    for (int j = 0; j < L; j++) y[v * V + j * S] = x[v * V + j * S] / nrm;
}

/* The backward of eos_normalize_vectors: dx = (dy - y (y . dy)) / |x| per vector */
__kernel void eos_normalize_vectors_backward(__global const float *dy, __global const float *y,
                                             __global const float *norms, __global float *dx, const int count,
                                             const int L, const int S, const int V) {
    const int v = get_global_id(0);
    if (v >= count) return;
    float d = 0.0f;
    for (int j = 0; j < L; j++) d += y[v * V + j * S] * dy[v * V + j * S];
    const float nrm = norms[v];
    for (int j = 0; j < L; j++) dx[v * V + j * S] = (dy[v * V + j * S] - y[v * V + j * S] * d) / nrm;
}
