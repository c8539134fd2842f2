/* Plain-C reference GEMM for the tests and `eos check`: the naive triple loop, in double. */
#include "gemm_ref.h"

#include <math.h>

void eos_ref_gemm(int ta, int tb, size_t M, size_t N, size_t K, float alpha, const float *A,
                  size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc) {
    for (size_t i = 0; i < M; i++) {
        for (size_t j = 0; j < N; j++) {
            double acc = 0.0;
            for (size_t k = 0; k < K; k++) {
                double a = ta ? A[k * lda + i] : A[i * lda + k];
                double b = tb ? B[j * ldb + k] : B[k * ldb + j];
                acc += a * b;
            }
            double c = beta == 0.0f ? 0.0 : (double)beta * C[i * ldc + j];
            C[i * ldc + j] = (float)(alpha * acc + c);
        }
    }
}

double eos_ref_max_violation(const float *got, const float *want, size_t n, double atol,
                             double rtol, size_t *worst) {
    double m = 0.0;
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        double v = d == 0.0 ? 0.0 : d / (atol + rtol * fabs((double)want[i]));  /* exact matches pass at 0 tolerance */
        if (!(v <= m)) { m = v; w = i; }  /* NaN counts as the worst */
        if (isnan(v)) { m = INFINITY; break; }
    }
    if (worst) *worst = w;
    return m;
}
