/* Softmax cross-entropy (cl/loss.cl) with PyTorch's weighted mean: the weights' sum over the
 * batch is computed here from the host labels, the per-sample terms on the device. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
        /* the labels' write is non-blocking: it may still read host, which must outlive it */
        clFinish(eos_runtime_queue(rt));
        free(host);
        if (st != EOS_OK) return st;
        EOS_CL_CHECK(e, "softmax_ce: uploading labels");
    }
    rt->stats.bytes_to_device += (unsigned long long)((size_t)N + (weights ? (size_t)K : 0)) * sizeof(float);
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
        rt->stats.bytes_from_device += (unsigned long long)N * sizeof(float);
        double s = 0;
        for (int i = 0; i < N; i++) s += host[i];
        *loss = (float)(s / wsum);
    }
    free(host);
    return st;
}

eos_status eos_loss_parse(const char *name, eos_loss_spec *out) {
    memset(out, 0, sizeof *out);
    if (name && !strcasecmp(name, "ce")) out->kind = EOS_LOSS_CE;
    else if (name && !strcasecmp(name, "focal")) { out->kind = EOS_LOSS_FOCAL; out->gamma = 2.0f; }
    else if (name && !strcasecmp(name, "asl")) { out->kind = EOS_LOSS_ASL; out->gamma_pos = 0.0f; out->gamma_neg = 4.0f; out->eps = 0.1f; }
    else if (name && !strcasecmp(name, "ldam")) { out->kind = EOS_LOSS_LDAM; out->s = 30.0f; out->max_m = 0.5f; }
    else EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "unknown loss '%s': expected ce, focal, asl or ldam", name ? name : "");
    return EOS_OK;
}

void eos_class_balanced_weights(const size_t *counts, int C, double beta, float *weights) {
    double sum = 0, w[4096];
    int n = C < 4096 ? C : 4096;
    for (int c = 0; c < n; c++) {
        double eff = (1.0 - pow(beta, (double)counts[c])) / (1.0 - beta);  /* effective number */
        w[c] = counts[c] ? 1.0 / eff : 0.0;
        sum += w[c];
    }
    for (int c = 0; c < n; c++) weights[c] = (float)(sum > 0 ? w[c] / sum * C : 1.0);
}

eos_status eos_loss_forward_backward(eos_runtime_t rt, const eos_loss_spec *spec, int N, int K,
                                     const eos_tensor *logits, const int32_t *labels, const float *weights,
                                     eos_tensor *labels_dev, eos_tensor *weights_dev, eos_tensor *per_sample,
                                     eos_tensor *dlogits, float *loss) {
    if (spec->kind == EOS_LOSS_LDAM)
        EOS_FAIL(EOS_ERR_INVALID_ARG, "LDAM works on the cosines of a normalised head: eos_ldam_loss",
                 "loss: ldam cannot be applied to plain logits");
    if (spec->kind == EOS_LOSS_CE)
        return eos_softmax_ce(rt, N, K, logits, labels, weights, labels_dev, weights_dev, per_sample, dlogits, loss);
    if (N < 1 || K < 1) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "loss: N=%d K=%d", N, K);
    EOS_TRY(eos__need(logits, (size_t)N * K, "loss logits"));
    EOS_TRY(eos__need(dlogits, (size_t)N * K, "loss dlogits"));
    EOS_TRY(eos_tensor_reserve(rt, labels_dev, (size_t)N));
    EOS_TRY(eos_tensor_reserve(rt, per_sample, (size_t)N));
    float *host = malloc((size_t)N * sizeof *host);
    if (!host) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "loss labels");
    for (int i = 0; i < N; i++) {
        if (labels[i] < 0 || labels[i] >= K) {
            int bad = labels[i];
            free(host);
            EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "loss: label %d of sample %d is outside 0..%d", bad, i, K - 1);
        }
        host[i] = (float)labels[i];
    }
    eos_status st = EOS_OK;
    cl_int e = clEnqueueWriteBuffer(eos_runtime_queue(rt), labels_dev->buf, CL_TRUE, 0, (size_t)N * sizeof(float), host, 0, NULL, NULL);
    if (e == CL_SUCCESS && weights && spec->kind == EOS_LOSS_FOCAL) {
        if ((st = eos_tensor_reserve(rt, weights_dev, (size_t)K)) != EOS_OK) { free(host); return st; }
        e = clEnqueueWriteBuffer(eos_runtime_queue(rt), weights_dev->buf, CL_TRUE, 0, (size_t)K * sizeof(float), weights, 0, NULL, NULL);
    }
    if (e != CL_SUCCESS) {
        free(host);
        EOS_CL_CHECK(e, "loss: uploading labels");
    }
    float inv_n = 1.0f / (float)N;
    if (spec->kind == EOS_LOSS_FOCAL) {
        int has_w = weights != NULL;
        cl_mem wbuf = weights ? weights_dev->buf : NULL;
        eos__arg a[] = {EOS_ARG(logits->buf), EOS_ARG(labels_dev->buf), EOS_ARG(wbuf), EOS_ARG(has_w), EOS_ARG(spec->gamma),
                        EOS_ARG(inv_n), EOS_ARG(per_sample->buf), EOS_ARG(dlogits->buf), EOS_ARG(N), EOS_ARG(K)};
        st = eos__run_1d(rt, "loss.cl", "eos_focal", (size_t)N, a, EOS_NARGS(a));
    } else {
        eos__arg a[] = {EOS_ARG(logits->buf), EOS_ARG(labels_dev->buf), EOS_ARG(spec->gamma_pos), EOS_ARG(spec->gamma_neg),
                        EOS_ARG(spec->eps), EOS_ARG(inv_n), EOS_ARG(per_sample->buf), EOS_ARG(dlogits->buf), EOS_ARG(N), EOS_ARG(K)};
        st = eos__run_1d(rt, "loss.cl", "eos_asl", (size_t)N, a, EOS_NARGS(a));
    }
    if (st == EOS_OK) {
        e = clEnqueueReadBuffer(eos_runtime_queue(rt), per_sample->buf, CL_TRUE, 0, (size_t)N * sizeof(float), host, 0, NULL, NULL);
        if (e != CL_SUCCESS) {
            free(host);
            EOS_CL_CHECK(e, "loss: reading the losses");
        }
        double s = 0;
        for (int i = 0; i < N; i++) s += host[i];
        *loss = (float)(s / N);
    }
    free(host);
    return st;
}

void eos_ldam_margins(const size_t *counts, int K, float max_m, float *margins) {
    double top = 0;
    for (int c = 0; c < K; c++) {
        margins[c] = counts[c] ? (float)(1.0 / sqrt(sqrt((double)counts[c]))) : 0.0f;
        if (margins[c] > top) top = margins[c];
    }
    for (int c = 0; c < K; c++) margins[c] = top > 0 ? (float)(margins[c] * (max_m / top)) : 0.0f;
}

eos_status eos_ldam_loss(eos_runtime_t rt, int N, int K, const eos_tensor *cosv, const int32_t *labels,
                         const float *margins, float s, const float *weights, eos_tensor *z, eos_tensor *labels_dev,
                         eos_tensor *margins_dev, eos_tensor *weights_dev, eos_tensor *per_sample, eos_tensor *dz,
                         eos_tensor *dcos, float *loss) {
    size_t nk = (size_t)N * K;
    EOS_TRY(eos__need(cosv, nk, "ldam cos"));
    EOS_TRY(eos__need(dcos, nk, "ldam dcos"));
    EOS_TRY(eos_tensor_reserve(rt, z, nk));
    EOS_TRY(eos_tensor_reserve(rt, dz, nk));
    EOS_TRY(eos_tensor_reserve(rt, margins_dev, (size_t)K));
    EOS_TRY(eos_tensor_reserve(rt, labels_dev, (size_t)N));
    /* the CE call below validates the labels and uploads them; the margin kernel needs them first */
    float *lab = malloc((size_t)N * sizeof *lab);
    if (!lab) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "ldam labels");
    for (int i = 0; i < N; i++) lab[i] = (float)(labels[i] >= 0 && labels[i] < K ? labels[i] : 0);
    cl_int e = clEnqueueWriteBuffer(eos_runtime_queue(rt), labels_dev->buf, CL_TRUE, 0, (size_t)N * sizeof(float), lab, 0, NULL, NULL);
    free(lab);
    EOS_CL_CHECK(e, "ldam: uploading labels");
    EOS_CL_CHECK(clEnqueueWriteBuffer(eos_runtime_queue(rt), margins_dev->buf, CL_TRUE, 0, (size_t)K * sizeof(float), margins, 0,
                                      NULL, NULL), "ldam: uploading margins");
    int n = (int)nk;
    eos__arg a[] = {EOS_ARG(cosv->buf), EOS_ARG(labels_dev->buf), EOS_ARG(margins_dev->buf), EOS_ARG(s), EOS_ARG(z->buf),
                    EOS_ARG(N), EOS_ARG(K)};
    EOS_TRY(eos__run_1d(rt, "loss.cl", "eos_ldam_logits", nk, a, EOS_NARGS(a)));
    EOS_TRY(eos_softmax_ce(rt, N, K, z, labels, weights, labels_dev, weights_dev, per_sample, dz, loss));
    eos__arg b[] = {EOS_ARG(dz->buf), EOS_ARG(dcos->buf), EOS_ARG(s), EOS_ARG(n)};
    return eos__run_1d(rt, "loss.cl", "eos_scale", nk, b, EOS_NARGS(b));
}
