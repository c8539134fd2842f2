/* ACC, BAC, GM, macro F1, per-class recall and the confusion matrix, on the host (they are a
 * pass over n integers; the device would spend longer on the transfer). */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void eos_metrics_free(eos_metrics *m) {
    if (!m) return;
    free(m->recall);
    free(m->confusion);
    memset(m, 0, sizeof *m);
}

eos_status eos_metrics_compute(int C, const int32_t *y_true, const int32_t *y_pred, size_t n, eos_metrics *out) {
    memset(out, 0, sizeof *out);
    if (C < 1) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "metrics: %d classes", C);
    out->recall = calloc((size_t)C, sizeof *out->recall);
    out->confusion = calloc((size_t)C * C, sizeof *out->confusion);
    if (!out->recall || !out->confusion) {
        eos_metrics_free(out);
        EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "metrics for %d classes", C);
    }
    out->classes = C;
    out->n = n;
    for (size_t i = 0; i < n; i++) {
        if (y_true[i] < 0 || y_true[i] >= C || y_pred[i] < 0 || y_pred[i] >= C) {
            int t = y_true[i], p = y_pred[i];
            eos_metrics_free(out);
            EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "metrics: sample %zu has label %d / prediction %d outside 0..%d", i, t, p, C - 1);
        }
        out->confusion[(size_t)y_true[i] * C + y_pred[i]]++;
    }
    int64_t correct = 0;
    int present = 0;
    double bac = 0, sens_sum = 0, spec_sum = 0, fm = 0;
    for (int c = 0; c < C; c++) {
        int64_t tp = out->confusion[(size_t)c * C + c], actual = 0, predicted = 0;
        for (int k = 0; k < C; k++) {
            actual += out->confusion[(size_t)c * C + k];
            predicted += out->confusion[(size_t)k * C + c];
        }
        correct += tp;
        int64_t fn = actual - tp, fp = predicted - tp, tn = (int64_t)n - tp - fn - fp;
        double recall = actual ? (double)tp / actual : 0.0;
        double precision = predicted ? (double)tp / predicted : 0.0;
        double spec = (tn + fp) ? (double)tn / (tn + fp) : 0.0;
        out->recall[c] = recall;
        if (actual) {
            bac += recall;
            present++;
        }
        sens_sum += recall;
        spec_sum += spec;
        fm += precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
    }
    out->acc = n ? (double)correct / n : 0.0;
    out->bac = present ? bac / present : 0.0;  /* scikit-learn's balanced_accuracy: classes present */
    /* imbalanced-learn's geometric_mean_score(average='macro'): sqrt of the macro-averaged
     * sensitivity times the macro-averaged specificity (not the mean of per-class roots) */
    out->gm = sqrt((sens_sum / C) * (spec_sum / C));
    out->fm = fm / C;
    return EOS_OK;
}

eos_status eos_metrics_write_json(const char *path, const eos_metrics *m, const char *const *names, const char *extra) {
    eos__atomic_file a;
    EOS_TRY(eos__atomic_open(&a, path));
    FILE *f = a.f;
    int C = m->classes;
    fprintf(f, "{\n  \"acc\": %.6f,\n  \"bac\": %.6f,\n  \"gm\": %.6f,\n  \"fm\": %.6f,\n  \"n\": %zu,\n", m->acc, m->bac,
            m->gm, m->fm, m->n);
    fprintf(f, "  \"per_class_recall\": [");
    for (int c = 0; c < C; c++) fprintf(f, "%s%.6f", c ? ", " : "", m->recall[c]);
    fprintf(f, "],\n  \"confusion\": [");
    for (int r = 0; r < C; r++) {
        fprintf(f, "%s\n    [", r ? "," : "");
        for (int c = 0; c < C; c++) fprintf(f, "%s%lld", c ? ", " : "", (long long)m->confusion[(size_t)r * C + c]);
        fprintf(f, "]");
    }
    fprintf(f, "\n  ],\n  \"classes\": [");
    for (int c = 0; c < C; c++) {
        char num[16];
        snprintf(num, sizeof num, "%d", c);
        fprintf(f, "%s", c ? ", " : "");
        eos_json_write_string(f, names ? names[c] : num);  /* valid UTF-8 whatever the folder name's bytes */
    }
    fprintf(f, "]%s%s\n}\n", extra && extra[0] ? ",\n  " : "", extra ? extra : "");
    return eos__atomic_commit(&a);
}
