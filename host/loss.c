/* Softmax cross-entropy (cl/loss.cl) with PyTorch's weighted mean: the weights' sum over the
 * batch is computed here from the host labels, the per-sample terms on the device. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>

eos_status eos_softmax_ce(eos_runtime_t rt, int N, int K, const eos_tensor *logits, const int32_t *labels,
                          const float *weights, eos_tensor *labels_dev, eos_tensor *weights_dev,
                          eos_tensor *per_sample, eos_tensor *dlogits, float *loss) {
    if (N < 1 || K < 1) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "softmax_ce: N=%d K=%d", N, K);
    EOS_TRY(eos__need(logits, (size_t)N * K, "softmax_ce logits"));
    EOS_TRY(eos__need(dlogits, (size_t)N * K, "softmax_ce dlogits"));
    EOS_TRY(eos_tensor_reserve(rt, labels_dev, (size_t)N));
    EOS_TRY(eos_tensor_reserve(rt, per_sample, (size_t)N));
    float *host = malloc((size_t)N * sizeof *host);
    if (!host) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "softmax_ce labels");
    double wsum = 0;
    for (int i = 0; i < N; i++) {
        if (labels[i] < 0 || labels[i] >= K) {
            int bad = labels[i];
            free(host);
            EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "softmax_ce: label %d of sample %d is outside 0..%d", bad, i, K - 1);
        }
        host[i] = (float)labels[i];
        wsum += weights ? weights[labels[i]] : 1.0;
    }
    eos_status st = EOS_OK;
    cl_int e = clEnqueueWriteBuffer(eos_runtime_queue(rt), labels_dev->buf, CL_FALSE, 0, (size_t)N * sizeof(float), host, 0, NULL, NULL);
    if (e == CL_SUCCESS && weights) {
        st = eos_tensor_reserve(rt, weights_dev, (size_t)K);
        if (st == EOS_OK)
            e = clEnqueueWriteBuffer(eos_runtime_queue(rt), weights_dev->buf, CL_FALSE, 0, (size_t)K * sizeof(float), weights, 0, NULL, NULL);
    }
    if (e == CL_SUCCESS && st == EOS_OK) e = clFinish(eos_runtime_queue(rt));
    if (st != EOS_OK || e != CL_SUCCESS) {
        free(host);
        if (st != EOS_OK) return st;
        EOS_CL_CHECK(e, "softmax_ce: uploading labels");
    }
    if (!(wsum > 0)) {
        free(host);
        EOS_FAIL(EOS_ERR_INVALID_ARG, "class weights must be positive", "softmax_ce: the batch's weights sum to %g", wsum);
    }
    float inv_wsum = (float)(1.0 / wsum);
    int has_w = weights != NULL;
    cl_mem wbuf = weights ? weights_dev->buf : NULL;
    eos__arg a[] = {EOS_ARG(logits->buf), EOS_ARG(labels_dev->buf), EOS_ARG(wbuf), EOS_ARG(has_w), EOS_ARG(inv_wsum),
                    EOS_ARG(per_sample->buf), EOS_ARG(dlogits->buf), EOS_ARG(N), EOS_ARG(K)};
    st = eos__run_1d(rt, "loss.cl", "eos_softmax_ce", (size_t)N, a, EOS_NARGS(a));
    if (st == EOS_OK) {
        e = clEnqueueReadBuffer(eos_runtime_queue(rt), per_sample->buf, CL_TRUE, 0, (size_t)N * sizeof(float), host, 0, NULL, NULL);
        if (e != CL_SUCCESS) {
            free(host);
            EOS_CL_CHECK(e, "softmax_ce: reading the losses");
        }
        double s = 0;
        for (int i = 0; i < N; i++) s += host[i];
        *loss = (float)(s / wsum);
    }
    free(host);
    return st;
}
