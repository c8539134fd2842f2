/* Plain-C layer references (see layers_ref.h): the obvious loops, in double. */
#include "layers_ref.h"

#include <math.h>
#include <stdlib.h>

void eos_ref_conv2d_forward(int N, int C, int H, int W, int K, int R, int stride, int pad, const float *x,
                            const float *w, const float *b, float *y) {
    int OH = (H + 2 * pad - R) / stride + 1, OW = (W + 2 * pad - R) / stride + 1;
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    double acc = b ? b[k] : 0.0;
                    for (int c = 0; c < C; c++)
                        for (int i = 0; i < R; i++)
                            for (int j = 0; j < R; j++) {
                                int ih = oh * stride - pad + i, iw = ow * stride - pad + j;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                acc += (double)x[((n * C + c) * H + ih) * W + iw] * w[((k * C + c) * R + i) * R + j];
                            }
                    y[((n * K + k) * OH + oh) * OW + ow] = (float)acc;
                }
}

void eos_ref_conv2d_backward(int N, int C, int H, int W, int K, int R, int stride, int pad, const float *x,
                             const float *w, const float *dy, float *dx, float *dw, float *db) {
    int OH = (H + 2 * pad - R) / stride + 1, OW = (W + 2 * pad - R) / stride + 1;
    double *gx = calloc((size_t)N * C * H * W, sizeof *gx), *gw = calloc((size_t)K * C * R * R, sizeof *gw);
    double *gb = calloc((size_t)K, sizeof *gb);
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    double g = dy[((n * K + k) * OH + oh) * OW + ow];
                    gb[k] += g;
                    for (int c = 0; c < C; c++)
                        for (int i = 0; i < R; i++)
                            for (int j = 0; j < R; j++) {
                                int ih = oh * stride - pad + i, iw = ow * stride - pad + j;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                size_t xi = (size_t)((n * C + c) * H + ih) * W + iw, wi = (size_t)((k * C + c) * R + i) * R + j;
                                gx[xi] += g * w[wi];
                                gw[wi] += g * x[xi];
                            }
                }
    for (size_t i = 0; dx && i < (size_t)N * C * H * W; i++) dx[i] = (float)gx[i];
    for (size_t i = 0; dw && i < (size_t)K * C * R * R; i++) dw[i] = (float)gw[i];
    for (int i = 0; db && i < K; i++) db[i] = (float)gb[i];
    free(gx); free(gw); free(gb);
}

static void channel_stats(int N, int C, int HW, const float *x, int c, double *mean, double *var) {
    double s = 0, q = 0, M = (double)N * HW;
    for (int n = 0; n < N; n++)
        for (int p = 0; p < HW; p++) s += x[((size_t)n * C + c) * HW + p];
    *mean = s / M;
    for (int n = 0; n < N; n++)
        for (int p = 0; p < HW; p++) {
            double d = x[((size_t)n * C + c) * HW + p] - *mean;
            q += d * d;
        }
    *var = q / M;
}

void eos_ref_bn_forward_train(int N, int C, int HW, const float *x, const float *gamma, const float *beta,
                              float *running_mean, float *running_var, float momentum, float eps,
                              const float *residual, int relu, float *y) {
    double M = (double)N * HW;
    for (int c = 0; c < C; c++) {
        double mean, var;
        channel_stats(N, C, HW, x, c, &mean, &var);
        double is = 1.0 / sqrt(var + eps);
        for (int n = 0; n < N; n++)
            for (int p = 0; p < HW; p++) {
                size_t i = ((size_t)n * C + c) * HW + p;
                double v = gamma[c] * (x[i] - mean) * is + beta[c] + (residual ? residual[i] : 0.0);
                y[i] = (float)(relu && v < 0 ? 0.0 : v);
            }
        running_mean[c] = (float)((1 - momentum) * running_mean[c] + momentum * mean);
        running_var[c] = (float)((1 - momentum) * running_var[c] + momentum * var * M / (M - 1));
    }
}

void eos_ref_bn_forward_eval(int N, int C, int HW, const float *x, const float *gamma, const float *beta,
                             const float *running_mean, const float *running_var, float eps, float *y) {
    for (int c = 0; c < C; c++) {
        double is = 1.0 / sqrt((double)running_var[c] + eps);
        for (int n = 0; n < N; n++)
            for (int p = 0; p < HW; p++) {
                size_t i = ((size_t)n * C + c) * HW + p;
                y[i] = (float)(gamma[c] * (x[i] - running_mean[c]) * is + beta[c]);
            }
    }
}

void eos_ref_bn_backward(int N, int C, int HW, const float *x, const float *gamma, float eps, const float *dy,
                         float *dx, float *dgamma, float *dbeta) {
    double M = (double)N * HW;
    for (int c = 0; c < C; c++) {
        double mean, var, sg = 0, sb = 0;
        channel_stats(N, C, HW, x, c, &mean, &var);
        double is = 1.0 / sqrt(var + eps);
        for (int n = 0; n < N; n++)
            for (int p = 0; p < HW; p++) {
                size_t i = ((size_t)n * C + c) * HW + p;
                sb += dy[i];
                sg += dy[i] * (x[i] - mean) * is;
            }
        dgamma[c] = (float)sg;
        dbeta[c] = (float)sb;
        for (int n = 0; n < N; n++)
            for (int p = 0; p < HW; p++) {
                size_t i = ((size_t)n * C + c) * HW + p;
                double xhat = (x[i] - mean) * is;
                dx[i] = (float)(gamma[c] * is * (dy[i] - sb / M - xhat * sg / M));
            }
    }
}

void eos_ref_shortcut_a(int N, int Ci, int H, int W, int Co, const float *x, float *y) {
    int OH = (H + 1) / 2, OW = (W + 1) / 2, pad = (Co - Ci) / 2;
    for (int n = 0; n < N; n++)
        for (int c = 0; c < Co; c++)
            for (int h = 0; h < OH; h++)
                for (int w = 0; w < OW; w++) {
                    int ci = c - pad;
                    y[((n * Co + c) * OH + h) * OW + w] =
                        (ci >= 0 && ci < Ci) ? x[((n * Ci + ci) * H + 2 * h) * W + 2 * w] : 0.0f;
                }
}

void eos_ref_maxpool(int N, int C, int H, int W, int K, int S, const float *x, float *y) {
    int OH = (H - K) / S + 1, OW = (W - K) / S + 1;
    for (int p = 0; p < N * C; p++)
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                float m = -INFINITY;
                for (int i = 0; i < K; i++)
                    for (int j = 0; j < K; j++) {
                        float v = x[(size_t)p * H * W + (oh * S + i) * W + ow * S + j];
                        if (v > m) m = v;
                    }
                y[((size_t)p * OH + oh) * OW + ow] = m;
            }
}

double eos_ref_softmax_ce(int N, int K, const float *z, const int32_t *labels, const float *weights, float *dz) {
    double wsum = 0, total = 0;
    for (int i = 0; i < N; i++) wsum += weights ? weights[labels[i]] : 1.0;
    for (int i = 0; i < N; i++) {
        double m = z[i * K];
        for (int c = 1; c < K; c++) m = fmax(m, z[i * K + c]);
        double s = 0;
        for (int c = 0; c < K; c++) s += exp(z[i * K + c] - m);
        double lse = m + log(s), w = weights ? weights[labels[i]] : 1.0;
        total += w * (lse - z[i * K + labels[i]]);
        for (int c = 0; c < K; c++)
            dz[i * K + c] = (float)(w / wsum * (exp(z[i * K + c] - lse) - (c == labels[i] ? 1.0 : 0.0)));
    }
    return total / wsum;
}
