/* Plain-C reference GEMM (row-major, same argument convention as eos_gemm), accumulating in
 * double so it is a trustworthy yardstick for the device's float results. */
#ifndef EOS_GEMM_REF_H
#define EOS_GEMM_REF_H
#include <stddef.h>

/* C(M,N) = alpha * op(A) * op(B) + beta * C; beta == 0 overwrites C. */
void eos_ref_gemm(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
                  const float *A, size_t lda, const float *B, size_t ldb, float beta,
                  float *C, size_t ldc);

/* Largest |got - want| / (atol + rtol * |want|) over n values: <= 1 means within tolerance.
 * *worst receives the index of the worst element. */
double eos_ref_max_violation(const float *got, const float *want, size_t n, double atol,
                             double rtol, size_t *worst);
#endif
