/* Phase 3: the linear head trained on embeddings, on the device with the same layers as the
 * network's head (linear, softmax cross-entropy, SGD). Prediction is a host loop: 64 x classes
 * multiply-adds per row, faster than a round trip. A fresh head is PyTorch's nn.Linear's. */
#include "internal.h"
#include "sampling_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

eos_status eos_head_init(eos_head *h, int classes, int dim, uint64_t seed) {
    memset(h, 0, sizeof *h);
    if (classes < 1 || dim < 1) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "head: %d classes, %d features", classes, dim);
    h->classes = classes;
    h->dim = dim;
    h->weight = malloc((size_t)classes * dim * sizeof *h->weight);
    h->bias = malloc((size_t)classes * sizeof *h->bias);
    if (!h->weight || !h->bias) {
        eos_head_free(h);
        EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "head");
    }
    /* nn.Linear.reset_parameters: kaiming_uniform_(a=sqrt(5)) on the weight, whose bound
     * gain * sqrt(3 / fan_in) with gain sqrt(2 / (1 + 5)) is 1/sqrt(fan_in), and the bias
     * uniform in the same +-1/sqrt(fan_in): variance 1/(3 fan_in) for both */
    eos_rng r;
    eos_rng_seed(&r, seed, 0x48454144);  /* "HEAD" */
    float bound = 1.0f / sqrtf((float)dim);
    for (size_t i = 0; i < (size_t)classes * dim; i++) h->weight[i] = bound * (2.0f * eos_rng_uniform(&r) - 1.0f);
    for (int c = 0; c < classes; c++) h->bias[c] = bound * (2.0f * eos_rng_uniform(&r) - 1.0f);
    return EOS_OK;
}

eos_status eos_head_mode_parse(const char *name, eos_head_mode *out) {
    if (name && !strcmp(name, "fresh")) *out = EOS_HEAD_FRESH;
    else if (name && !strcmp(name, "warm")) *out = EOS_HEAD_WARM;
    else EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "head '%s': expected fresh or warm", name ? name : "");
    return EOS_OK;
}

const char *eos_head_mode_name(eos_head_mode mode) { return mode == EOS_HEAD_WARM ? "warm" : "fresh"; }

eos_status eos_head_start(eos_head *h, eos_head_mode mode, eos_resnet_t model, int classes, int dim, uint64_t seed) {
    if (mode != EOS_HEAD_WARM) return eos_head_init(h, classes, dim, seed);
    memset(h, 0, sizeof *h);
    if (!model) EOS_FAIL(EOS_ERR_INVALID_ARG, "a warm head starts from a phase-1 model: give one", "head: warm start without a model");
    if (dim != EOS_RESNET_FEATURES)
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "head: a warm start takes the model's %d features, not %d", EOS_RESNET_FEATURES, dim);
    eos_status st = eos_head_init(h, eos_resnet_classes(model), dim, seed);  /* the buffers */
    if (st == EOS_OK) st = eos_resnet_linear_head(model, h->weight, h->bias);
    if (st != EOS_OK) eos_head_free(h);
    return st;
}

void eos_head_free(eos_head *h) {
    if (!h) return;
    free(h->weight);
    free(h->bias);
    memset(h, 0, sizeof *h);
}

eos_finetune_config eos_finetune_defaults(void) {
    eos_finetune_config c = {10, 128, 0.1f, 0.9f, 2e-4f, 0, NULL};
    return c;
}

void eos_head_predict(const eos_head *h, const eos_embeddings *x, int32_t *pred) {
    for (size_t i = 0; i < x->n; i++) {
        int best = 0;
        double bv = -INFINITY;
        for (int c = 0; c < h->classes; c++) {
            double v = h->bias[c];
            for (int j = 0; j < h->dim; j++) v += (double)h->weight[(size_t)c * h->dim + j] * x->x[i * x->dim + j];
            if (v > bv) {
                bv = v;
                best = c;
            }
        }
        pred[i] = best;
    }
}

/* The common body: the training rows are train->x on the host, or xd on the device (then
 * train->x is NULL and each batch is gathered there from its row numbers, the same floats the
 * host would have uploaded, so the same head bit for bit). */
static eos_status finetune(eos_runtime_t rt, eos_head *h, const eos_embeddings *train, const eos_tensor *xd,
                           const eos_finetune_config *cfg, float *final_loss) {
    if ((int)train->dim != h->dim) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "finetune: embeddings have %zu features, the head %d", train->dim, h->dim);
    if (train->n == 0 || cfg->epochs < 1 || cfg->batch < 1) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "finetune: %zu rows, %d epochs, batch %d", train->n, cfg->epochs, cfg->batch);
    for (size_t i = 0; i < train->n; i++)
        if (train->labels[i] < 0 || train->labels[i] >= h->classes)
            EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "finetune: row %zu has label %d, the head has %d classes", i, train->labels[i], h->classes);
    int C = h->classes, D = h->dim, B = cfg->batch;
    size_t n = train->n;
    eos_tensor W = {0}, Bs = {0}, dW = {0}, dB = {0}, mW = {0}, mB = {0}, X = {0}, Y = {0}, dY = {0};
    eos_tensor lab = {0}, wts = {0}, per = {0}, I = {0};
    size_t *order = malloc(n * sizeof *order);
    float *xb = malloc((size_t)B * D * sizeof *xb);
    int32_t *yb = malloc((size_t)B * sizeof *yb), *ib = malloc((size_t)B * sizeof *ib);
    eos_status st = (order && xb && yb && ib) ? EOS_OK : eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "finetune buffers");
    size_t wn = (size_t)C * D, cn = (size_t)C, xn = (size_t)B * D, yn = (size_t)B * C;
    if (st == EOS_OK) st = eos_tensor_alloc(rt, &W, 1, &wn);
    if (st == EOS_OK) st = eos_tensor_alloc(rt, &dW, 1, &wn);
    if (st == EOS_OK) st = eos_tensor_alloc(rt, &mW, 1, &wn);
    if (st == EOS_OK) st = eos_tensor_alloc(rt, &Bs, 1, &cn);
    if (st == EOS_OK) st = eos_tensor_alloc(rt, &dB, 1, &cn);
    if (st == EOS_OK) st = eos_tensor_alloc(rt, &mB, 1, &cn);
    if (st == EOS_OK) st = eos_tensor_alloc(rt, &X, 1, &xn);
    size_t bn = (size_t)B;
    if (st == EOS_OK && xd) st = eos_tensor_alloc(rt, &I, 1, &bn);
    if (st == EOS_OK) st = eos_tensor_alloc(rt, &Y, 1, &yn);
    if (st == EOS_OK) st = eos_tensor_alloc(rt, &dY, 1, &yn);
    if (st == EOS_OK) st = eos_tensor_upload(&W, h->weight, wn);
    if (st == EOS_OK) st = eos_tensor_upload(&Bs, h->bias, cn);
    if (st == EOS_OK) st = eos_tensor_fill(&mW, 0.0f);
    if (st == EOS_OK) st = eos_tensor_fill(&mB, 0.0f);
    /* with cfg->val: the kept epoch's head (host copies), and a scratch head to score each epoch */
    const eos_embeddings *val = cfg->val;
    if (st == EOS_OK && val && ((int)val->dim != D || val->n == 0))
        st = eos__error_set(EOS_ERR_INVALID_ARG, __FILE__, __LINE__, NULL, NULL,
                            "finetune: %zu validation rows of %zu features, the head has %d", val->n, val->dim, D);
    for (size_t i = 0; st == EOS_OK && val && i < val->n; i++)
        if (val->labels[i] < 0 || val->labels[i] >= C)
            st = eos__error_set(EOS_ERR_INVALID_ARG, __FILE__, __LINE__, NULL, NULL,
                                "finetune: validation row %zu has label %d, the head has %d classes", i, val->labels[i], C);
    eos_head cur = {C, D, NULL, NULL}, best = {C, D, NULL, NULL};
    int32_t *vpred = NULL;
    double best_fm = -1;
    if (st == EOS_OK && val) {
        cur.weight = malloc(wn * sizeof *cur.weight);
        cur.bias = malloc(cn * sizeof *cur.bias);
        best.weight = malloc(wn * sizeof *best.weight);
        best.bias = malloc(cn * sizeof *best.bias);
        vpred = malloc(val->n * sizeof *vpred);
        if (!cur.weight || !cur.bias || !best.weight || !best.bias || !vpred)
            st = eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "finetune: validation buffers");
    }
    eos_rng r;
    eos_rng_seed(&r, cfg->seed, 0x46494e45);  /* "FINE" */
    for (size_t i = 0; i < n; i++) order[i] = i;
    double loss_sum = 0;
    for (int e = 0; st == EOS_OK && e < cfg->epochs; e++) {
        /* the paper's warm-up: lr * (e+1)/5 for the first 5 epochs, then lr (no decay in 10) */
        float lr = eos_lr_schedule(cfg->lr, e, 200);
        for (size_t i = n; i > 1; i--) {
            size_t j = eos_rng_below(&r, (uint32_t)i), t = order[i - 1];
            order[i - 1] = order[j];
            order[j] = t;
        }
        loss_sum = 0;
        for (size_t at = 0; st == EOS_OK && at < n; at += (size_t)B) {
            int b = (int)(n - at < (size_t)B ? n - at : (size_t)B);
            for (int i = 0; i < b; i++) {
                if (!xd) memcpy(xb + (size_t)i * D, train->x + order[at + i] * D, (size_t)D * sizeof *xb);
                ib[i] = (int32_t)order[at + i];
                yb[i] = train->labels[order[at + i]];
            }
            float loss = 0;
            /* the tail of a partial batch is ignored; on the device only the row numbers go up */
            if (!xd) st = eos_tensor_upload(&X, xb, xn);
            else {
                for (int i = b; i < B; i++) ib[i] = ib[0];  /* a partial batch: the tail, unread, kept in range */
                st = eos_tensor_upload(&I, (const float *)ib, bn);
                if (st == EOS_OK) st = eos__gather_rows(rt, xd, (size_t)D, &I, (size_t)b, &X);
            }
            if (st == EOS_OK) st = eos_linear_forward(rt, b, D, C, &X, &W, &Bs, &Y);
            if (st == EOS_OK) st = eos_softmax_ce(rt, b, C, &Y, yb, NULL, &lab, &wts, &per, &dY, &loss);
            if (st == EOS_OK) st = eos_linear_backward(rt, b, D, C, &X, &W, &dY, NULL, &dW, &dB);
            if (st == EOS_OK) st = eos_sgd_step(rt, wn, &W, &dW, &mW, lr, cfg->momentum, cfg->weight_decay);
            if (st == EOS_OK) st = eos_sgd_step(rt, cn, &Bs, &dB, &mB, lr, cfg->momentum, cfg->weight_decay);
            if (st == EOS_OK && !isfinite(loss))
                st = eos__error_set(EOS_ERR_NUMERIC, __FILE__, __LINE__, NULL, "try a smaller --lr",
                                    "finetune: the loss became %g in epoch %d", loss, e + 1);
            loss_sum += (double)loss * b;
        }
        if (st == EOS_OK && val) {  /* score this epoch's head on the validation rows */
            eos_metrics vm;
            st = eos_tensor_download(&W, cur.weight, wn);
            if (st == EOS_OK) st = eos_tensor_download(&Bs, cur.bias, cn);
            if (st == EOS_OK) {
                eos_head_predict(&cur, val, vpred);
                st = eos_metrics_compute(C, val->labels, vpred, val->n, &vm);
            }
            if (st == EOS_OK) {
                if (vm.fm > best_fm) {
                    best_fm = vm.fm;
                    memcpy(best.weight, cur.weight, wn * sizeof *cur.weight);
                    memcpy(best.bias, cur.bias, cn * sizeof *cur.bias);
                }
                eos_metrics_free(&vm);
            }
        }
    }
    if (st == EOS_OK && val) {
        memcpy(h->weight, best.weight, wn * sizeof *h->weight);
        memcpy(h->bias, best.bias, cn * sizeof *h->bias);
    } else {
        if (st == EOS_OK) st = eos_tensor_download(&W, h->weight, wn);
        if (st == EOS_OK) st = eos_tensor_download(&Bs, h->bias, cn);
    }
    if (st == EOS_OK && final_loss) *final_loss = (float)(loss_sum / n);
    eos_tensor *all[] = {&W, &Bs, &dW, &dB, &mW, &mB, &X, &Y, &dY, &lab, &wts, &per, &I};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) eos_tensor_free(all[i]);
    free(order); free(xb); free(yb); free(ib); free(vpred);
    free(cur.weight); free(cur.bias); free(best.weight); free(best.bias);
    return st;
}

eos_status eos_finetune(eos_runtime_t rt, eos_head *h, const eos_embeddings *train, const eos_finetune_config *cfg,
                        float *final_loss) {
    if (!train->x && train->n) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "finetune: the embeddings have no rows");
    return finetune(rt, h, train, NULL, cfg, final_loss);
}

eos_status eos_finetune_device(eos_runtime_t rt, eos_head *h, const eos_tensor *x, const int32_t *labels,
                               const eos_finetune_config *cfg, float *final_loss) {
    if (!rt || !x || !x->buf || x->rt != rt || x->ndim != 2 || !labels)
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "finetune: expected a 2-d tensor (n, dim) of this runtime and n labels");
    if (x->shape[0] > 0x7fffffff) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "finetune: more than 2^31 rows");
    eos_embeddings train = {x->shape[0], x->shape[1], (int32_t *)labels, NULL};
    return finetune(rt, h, &train, x, cfg, final_loss);
}
