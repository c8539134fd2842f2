/* Evaluation-mode prediction over a dataset split in batches (eos_predict), and the
 * evaluations of the training loop (eos__evaluate: predictions -> metrics). */
#include "train_internal.h"
#include "dist.h"

#include <signal.h>
#include <stdlib.h>

int32_t eos__argmax(const float *v, int n) {
    int32_t b = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[b]) b = i;
    return b;
}

eos_status eos_predict(eos_resnet_t m, const eos_dataset *d, const eos_split *split, const size_t *indices, size_t n,
                       int batch, int32_t *pred, float *features) {
    return eos_predict_progress(m, d, split, indices, n, batch, pred, features, NULL, NULL);
}

static int stopped(volatile sig_atomic_t *stop) { return stop && *stop; }

/* Whether any rank was asked to stop (data parallel: every rank stops at the same point). */
int eos__stop_agreed(volatile sig_atomic_t *stop, int ranks) {
    double any = stopped(stop) ? 1 : 0;
    if (ranks > 1 && eos__dist_allreduce_sum_double(&any, 1) != 0) return 1;
    return any > 0;
}

/* eos_predict_progress, stopping between batches (EOS_ERR_INTERRUPTED) once *stop is set */
static eos_status predict(eos_resnet_t m, const eos_dataset *d, const eos_split *split, const size_t *indices,
                          size_t n, int batch, int32_t *pred, float *features, eos_progress_fn progress, void *user,
                          volatile sig_atomic_t *stop) {
    if (!indices) n = split->n;
    if (batch < 1) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "predict: batch %d must be positive", batch);
    size_t B = n && (size_t)batch > n ? n : (size_t)batch;  /* host buffers for the batches there are */
    eos_loader L;
    eos_loader_options o = eos_loader_defaults(d, B);
    EOS_TRY(eos_loader_init(&L, d, split, indices, n, &o));
    int C = eos_resnet_classes(m);
    size_t img = (size_t)d->channels * d->height * d->width;
    float *x = malloc(B * img * sizeof *x);          /* (B, C, H, W) */
    float *logits = malloc(B * C * sizeof *logits);  /* (B, classes) */
    int32_t *y = malloc(B * sizeof *y);              /* (B) */
    eos_status st = (x && logits && y) ? EOS_OK
                                       : eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "predict buffers");
    size_t done = 0, b;
    /* the partial last batch takes the full batch's convolution choices (unless training set its own) */
    eos_runtime_t rt = eos_resnet_runtime(m);
    int prev_batch = eos__conv_set_choice_batch(rt, 0);
    eos__conv_set_choice_batch(rt, prev_batch ? prev_batch : (int)B);
    while (st == EOS_OK && (b = eos_loader_next(&L, x, y)) > 0) {
        if (stopped(stop)) {
            st = EOS_ERR_INTERRUPTED;  /* the caller says what was saved */
            break;
        }
        st = eos_resnet_forward(m, 0, (int)b, d->height, d->width, x);
        if (st == EOS_OK) st = eos_resnet_outputs(m, (int)b, logits, features ? features + done * 64 : NULL);
        for (size_t i = 0; st == EOS_OK && pred && i < b; i++) pred[done + i] = eos__argmax(logits + i * C, C);
        done += b;
        if (st == EOS_OK && progress) progress(done, n, user);
    }
    eos__conv_set_choice_batch(rt, prev_batch);
    free(x); free(logits); free(y);
    eos_loader_free(&L);
    return st;
}

eos_status eos_predict_progress(eos_resnet_t m, const eos_dataset *d, const eos_split *split, const size_t *indices,
                                size_t n, int batch, int32_t *pred, float *features, eos_progress_fn progress,
                                void *user) {
    return predict(m, d, split, indices, n, batch, pred, features, progress, user, NULL);
}

eos_status eos__evaluate(eos_resnet_t m, const eos_dataset *d, const eos_split *s, const size_t *idx, size_t n,
                           int batch, eos_metrics *out, volatile sig_atomic_t *stop) {
    if (!idx) n = s->n;
    int32_t *pred = malloc((n ? n : 1) * sizeof *pred), *truth = malloc((n ? n : 1) * sizeof *truth);
    if (!pred || !truth) {
        free(pred); free(truth);
        EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "evaluation of %zu images", n);
    }
    eos_status st = predict(m, d, s, idx, n, batch, pred, NULL, NULL, NULL, stop);
    for (size_t i = 0; i < n; i++) truth[i] = s->labels[idx ? idx[i] : i];
    if (st == EOS_OK) st = eos_metrics_compute(d->classes, truth, pred, n, out);
    free(pred); free(truth);
    return st;
}
