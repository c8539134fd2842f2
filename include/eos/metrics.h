/* Imbalance metrics on a labelled set (GUIDE section 5): ACC; BAC = mean per-class recall;
 * GM = imbalanced-learn's geometric_mean_score(average='macro'): sqrt(mean over classes of the
 * sensitivity x mean over classes of the specificity), one class against the rest (GUIDE
 * section 5 words it as a mean of per-class roots; the library it names computes this); FM = macro F1 (scikit-learn
 * f1_score(average='macro'), 0 where a class has no predictions and no samples); per-class
 * recall; the confusion matrix (rows: true class, columns: predicted). */
#ifndef EOS_METRICS_H
#define EOS_METRICS_H

#include "eos/status.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Usage:
 *     eos_metrics m;
 *     eos_metrics_compute(10, y_true, y_pred, n, &m);      // m.bac, m.recall[c], m.confusion[t * 10 + p]
 *     eos_metrics_write_json("out/metrics.json", &m, names, NULL);
 *     eos_metrics_free(&m);
 */

typedef struct eos_metrics {
    int classes;
    size_t n;
    double acc, bac, gm, fm;
    double *recall;      /* (classes) */
    int64_t *confusion;  /* (classes, classes) */
} eos_metrics;

eos_status eos_metrics_compute(int classes, const int32_t *y_true, const int32_t *y_pred, size_t n, eos_metrics *out);
void eos_metrics_free(eos_metrics *m);

/* metrics.json: {"acc", "bac", "gm", "fm", "per_class_recall", "confusion", "classes", "n"}
 * plus extra (a JSON object's members without braces, e.g. "\"epoch\": 3", or NULL); atomic. */
eos_status eos_metrics_write_json(const char *path, const eos_metrics *m, const char *const *class_names,
                                  const char *extra);

#ifdef __cplusplus
}
#endif
#endif
