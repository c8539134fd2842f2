/* The only GEMM in EOS-CL: CLBlast's SGEMM, row-major, on device tensors.
 * Layers, kNN distances and the classifier head all call these two functions. */
#ifndef EOS_GEMM_H
#define EOS_GEMM_H

#include "eos/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Usage (row-major, offsets and leading dimensions in elements):
 *     // C(M,N) = 1 * A(M,K) x B(N,K)^T + 0 * C
 *     eos_gemm(rt, EOS_NO_TRANS, EOS_TRANS, M, N, K,
 *              1.0f, &A, 0, K,  &B, 0, K,  0.0f, &C, 0, N);
 *
 * op(A) is (M, K): A is stored (M, lda >= K) untransposed, (K, lda >= M) transposed.
 * op(B) is (K, N): B is stored (K, ldb >= N) untransposed, (N, ldb >= K) transposed.
 * C is (M, ldc >= N). beta = 0 ignores C's old contents (NaNs included).
 * Every extent is checked against the tensors' sizes before CLBlast is called.
 * M or N = 0 is a no-op; K = 0 is rejected. */

typedef enum { EOS_NO_TRANS = 0, EOS_TRANS = 1 } eos_transpose;

eos_status eos_gemm(eos_runtime_t rt, eos_transpose ta, eos_transpose tb,
                    size_t M, size_t N, size_t K, float alpha,
                    const eos_tensor *A, size_t off_a, size_t lda,
                    const eos_tensor *B, size_t off_b, size_t ldb, float beta,
                    eos_tensor *C, size_t off_c, size_t ldc);

/* batch independent products; matrix i of X starts at off_x + i * stride_x. */
eos_status eos_gemm_batched(eos_runtime_t rt, eos_transpose ta, eos_transpose tb,
                            size_t M, size_t N, size_t K, float alpha,
                            const eos_tensor *A, size_t off_a, size_t lda, size_t stride_a,
                            const eos_tensor *B, size_t off_b, size_t ldb, size_t stride_b,
                            float beta,
                            eos_tensor *C, size_t off_c, size_t ldc, size_t stride_c,
                            size_t batch);

#ifdef __cplusplus
}
#endif
#endif /* EOS_GEMM_H */
