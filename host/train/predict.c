/* Evaluation-mode prediction over a dataset split in batches (eos_predict), and the
 * evaluations of the training loop (eos__evaluate: predictions -> metrics). */
#include "train_internal.h"
#include "dist.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

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

/* eos_predict_progress, stopping between batches (EOS_ERR_INTERRUPTED) once *stop is set; with
 * fdev, the features go to its rows on the device instead (eos_embed_device) */
static eos_status predict(eos_resnet_t m, const eos_dataset *d, const eos_split *split, const size_t *indices,
                          size_t n, int batch, int32_t *pred, float *features, eos_tensor *fdev,
                          eos_progress_fn progress, void *user, volatile sig_atomic_t *stop) {
    if (!indices) n = split->n;
    if (batch < 1) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "predict: batch %d must be positive", batch);
    size_t B = n && (size_t)batch > n ? n : (size_t)batch;  /* host buffers for the batches there are */
    eos_runtime_t rt = eos_resnet_runtime(m);
    /* Under mpirun with dist_split on (eos__runtime_dist_split): this rank's share of the
     * batches, the one-process run's own batches (cut at multiples of B), then every rank's rows
     * gathered: an image's outputs are those of one process, bit for bit, given the same
     * convolution choices (host/conv.c agrees them across the ranks). Fewer batches than ranks:
     * every rank runs them all, so that every rank still makes the same convolution choices. */
    const int ranks = eos__dist_size(), rank = eos__dist_rank();
    size_t nbatches = B ? (n + B - 1) / B : 0, lo = 0, hi = n, *part = NULL;
    const int split_rows = rt->dist_split && ranks > 1 && nbatches >= (size_t)ranks;
    if (split_rows) {
        eos__dist_share(n, B, rank, ranks, &lo, &hi);
        if (!(part = malloc((hi - lo) * sizeof *part))) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "predict: %zu rows", hi - lo);
        for (size_t i = lo; i < hi; i++) part[i - lo] = indices ? indices[i] : i;
    }
    const size_t all_n = n;
    if (split_rows) {
        indices = part;
        n = hi - lo;
        if (pred) pred += lo;
        if (features) features += lo * 64;
    }
    size_t LB = (size_t)B < n ? B : n;  /* a share may be one partial batch */
    eos_loader L;
    eos_loader_options o = eos_loader_defaults(d, LB);
    eos_status ls = eos_loader_init(&L, d, split, indices, n, &o);
    if (ls != EOS_OK) {
        free(part);
        return ls;
    }
    int C = eos_resnet_classes(m);
    size_t img = (size_t)d->channels * d->height * d->width;
    float *x = malloc(B * img * sizeof *x);          /* (B, C, H, W) */
    float *logits = malloc(B * C * sizeof *logits);  /* (B, classes) */
    int32_t *y = malloc(B * sizeof *y);              /* (B) */
    eos_status st = (x && logits && y) ? EOS_OK
                                       : eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "predict buffers");
    size_t done = 0, b;
    /* the partial last batch takes the full batch's convolution choices (unless training set its own) */
    int prev_batch = eos__conv_set_choice_batch(rt, 0);
    eos__conv_set_choice_batch(rt, prev_batch ? prev_batch : (int)B);
    while (st == EOS_OK && (b = eos_loader_next(&L, x, y)) > 0) {
        if (stopped(stop)) {
            st = EOS_ERR_INTERRUPTED;  /* the caller says what was saved */
            break;
        }
        st = eos_resnet_forward(m, 0, (int)b, d->height, d->width, x);
        /* the logits come down only for pred */
        if (st == EOS_OK && (pred || features))
            st = eos_resnet_outputs(m, (int)b, pred ? logits : NULL, features ? features + done * 64 : NULL);
        if (st == EOS_OK && fdev) st = eos_resnet_features_to(m, (int)b, fdev, lo + done);
        for (size_t i = 0; st == EOS_OK && pred && i < b; i++) pred[done + i] = eos__argmax(logits + i * C, C);
        done += b;
        /* a share's progress, scaled to the whole (rank 0's is what the CLI shows) */
        if (st == EOS_OK && progress && (!split_rows || rank == 0))
            progress(split_rows ? (n ? done * all_n / n : all_n) : done, all_n, user);
    }
    eos__conv_set_choice_batch(rt, prev_batch);
    free(x); free(logits); free(y); free(part);
    eos_loader_free(&L);
    if (st == EOS_OK && split_rows &&
        ((pred && eos__dist_allgather_rows(pred - lo, all_n, sizeof *pred, B) != 0) ||
         (features && eos__dist_allgather_rows(features - lo * 64, all_n, 64 * sizeof *features, B) != 0)))
        st = eos__error_set(EOS_ERR_INTERNAL, __FILE__, __LINE__, "MPI_Allgatherv", NULL,
                            "predict: gathering the outputs of %zu images from %d MPI ranks failed", all_n, ranks);
    if (st == EOS_OK && split_rows && fdev) {
        /* each rank wrote its share's rows of the device tensor: gather them through the host
         * (an MPI run only; one process never comes here) */
        float *all = malloc(all_n * 64 * sizeof *all);  /* (all_n, 64) */
        st = all ? eos_tensor_download(fdev, all, all_n * 64)
                 : eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "predict: %zu embeddings", all_n);
        if (st == EOS_OK && eos__dist_allgather_rows(all, all_n, 64 * sizeof *all, B) != 0)
            st = eos__error_set(EOS_ERR_INTERNAL, __FILE__, __LINE__, "MPI_Allgatherv", NULL,
                                "predict: gathering the embeddings of %zu images from %d MPI ranks failed", all_n, ranks);
        if (st == EOS_OK) st = eos_tensor_upload(fdev, all, all_n * 64);
        free(all);
    }
    return st;
}

eos_status eos_predict_progress(eos_resnet_t m, const eos_dataset *d, const eos_split *split, const size_t *indices,
                                size_t n, int batch, int32_t *pred, float *features, eos_progress_fn progress,
                                void *user) {
    return predict(m, d, split, indices, n, batch, pred, features, NULL, progress, user, NULL);
}

eos_status eos_embed_device(eos_resnet_t m, const eos_dataset *d, const eos_split *split, const size_t *indices,
                            size_t n, int batch, eos_tensor *out, eos_progress_fn progress, void *user) {
    if (!m || !d || !split || !out) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "embed: a network, a dataset, a split and an output are needed");
    memset(out, 0, sizeof *out);
    if (!indices) n = split->n;
    /* a device tensor has at least one element */
    if (n == 0) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "embed: no images to embed");
    EOS_TRY(eos_tensor_alloc(eos_resnet_runtime(m), out, 2, (size_t[]){n, EOS_RESNET_FEATURES}));
    eos_status st = predict(m, d, split, indices, n, batch, NULL, NULL, out, progress, user, NULL);
    if (st != EOS_OK) eos_tensor_free(out);
    return st;
}

eos_status eos__evaluate(eos_resnet_t m, const eos_dataset *d, const eos_split *s, const size_t *idx, size_t n,
                           int batch, eos_metrics *out, volatile sig_atomic_t *stop) {
    if (!idx) n = s->n;
    int32_t *pred = malloc((n ? n : 1) * sizeof *pred), *truth = malloc((n ? n : 1) * sizeof *truth);
    if (!pred || !truth) {
        free(pred); free(truth);
        EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "evaluation of %zu images", n);
    }
    eos_status st = predict(m, d, s, idx, n, batch, pred, NULL, NULL, NULL, NULL, stop);
    for (size_t i = 0; i < n; i++) truth[i] = s->labels[idx ? idx[i] : i];
    if (st == EOS_OK) st = eos_metrics_compute(d->classes, truth, pred, n, out);
    free(pred); free(truth);
    return st;
}
