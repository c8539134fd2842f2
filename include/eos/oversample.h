/* Phase 2: balance the classes of an embedding set (GUIDE section 5). Every class is brought
 * to the largest class's count, or to the counts eos_resample_config.target gives (adasyn:
 * within rounding, see below); the output is the original rows followed by the new ones.
 *   eos         Expansive Over-Sampling, the paper's definition: bases are the class's samples
 *               with at least one neighbour of another class (an enemy) among their k nearest
 *               (all classes, Euclidean); each new sample is base + r (enemy - base), base drawn
 *               uniformly with replacement, enemy uniformly among the base's enemies, r ~ U(0, 1)
 *   eos-ref     the authors' released EOS.py (github.com/dd1github/EOS): the same bases and
 *               draws, but it picks the enemy's position ni (0..k-1) in the neighbour list that
 *               leaves the point out (ind1[n][1:]) and then reads the partner from the list
 *               whose column 0 is the point itself (ind2[base, ni]): it moves toward the
 *               neighbour one rank nearer than the chosen enemy (a same-class one, possibly),
 *               and copies the base when ni = 0. For reproducing the published code only.
 *   ros         random over-sampling: copies of uniformly drawn samples
 *   smote       SMOTE (Chawla et al.): base + r (neighbour - base), neighbour among the base's
 *               k nearest of its own class
 *   borderline  Borderline-SMOTE 1 (Han et al.): SMOTE from the "danger" samples only, those
 *               with m/2 <= m' < m where m' counts the enemies among the m nearest (all classes)
 *   adasyn      ADASYN (He et al.): SMOTE where sample i makes rint(g * ratio_i / sum ratio)
 *               new samples, ratio_i its fraction of enemies among its k nearest (all classes)
 *               and g the class's shortfall: the class ends within a few rows of the largest
 *   none        the input unchanged
 * Defaults (k = 0, m = 0): eos and eos-ref k = 10 (the paper); smote, borderline and adasyn
 * imbalanced-learn 0.10's (k_neighbors = 5, m_neighbors = 10, n_neighbors = 5 and np.rint),
 * which the paper's baselines ran. Where imbalanced-learn stops (a class with no danger sample,
 * no enemy for adasyn, fewer than k + 1 rows) EOS-CL copies (report.fallback) or takes fewer
 * neighbours. tests/sampling/test_oversample.c checks the counts and danger sets against imbalanced-learn
 * (tests/golden/make_oversample_golden.py) and eos / eos-ref against numpy transcriptions
 * (tests/golden/make_eos_golden.py).
 * Neighbour searches run on the device (eos_knn) and the draws (base, partner, r for every new
 * row) on the host; the new rows are formed in one kernel (cl/oversample.cl) when a runtime is
 * given, on the host otherwise, with the same bits either way. The generator is PCG32 seeded
 * (seed, stream 0x454f53), so a seed gives the same rows anywhere. */
#ifndef EOS_OVERSAMPLE_H
#define EOS_OVERSAMPLE_H

#include "eos/embeddings.h"
#include "eos/runtime.h"
#include "eos/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Usage:
 *     eos_embeddings balanced; eos_resample_report rep;
 *     eos_resample(rt, &train, 10, EOS_RESAMPLE_EOS, 0, seed, &balanced, &rep);  // k = 0: the default
 *     ... rep.after[c] ...
 * or, to set Borderline-SMOTE's danger neighbours too:
 *     eos_resample_config cfg = eos_resample_defaults();
 *     cfg.k = 5; cfg.m = 10;
 *     eos_resample_with(rt, &train, 10, EOS_RESAMPLE_BORDERLINE, &cfg, seed, &balanced, &rep);
 *     eos_resample_report_free(&rep); eos_embeddings_free(&balanced);
 */

typedef enum {
    EOS_RESAMPLE_NONE = 0,
    EOS_RESAMPLE_EOS,
    EOS_RESAMPLE_ROS,
    EOS_RESAMPLE_SMOTE,
    EOS_RESAMPLE_BORDERLINE,
    EOS_RESAMPLE_ADASYN,
    EOS_RESAMPLE_EOS_REF  /* "eos-ref" */
} eos_resample_method;

eos_status eos_resample_parse(const char *name, eos_resample_method *out);
const char *eos_resample_name(eos_resample_method m);

/* Per class, sized by the class count (malloc'd by eos_resample, released by
 * eos_resample_report_free; all NULL after a failure). */
typedef struct eos_resample_report {
    int classes;
    size_t *before, *after;  /* (classes) rows per class in the input and the output */
    size_t *eligible;        /* (classes) bases the method could draw from */
    int *fallback;           /* (classes) 1: the method had no base in this class; copies were used */
    size_t synthetic;
    int k, m;                 /* the neighbour counts used, defaults applied (m: borderline only, else 0) */
    unsigned char *candidate; /* (input rows) 1: the row could be drawn as a base (borderline: the danger
                                 set; adasyn: rows with an enemy; a fallback class: all its rows) */
    int32_t *origin;          /* (synthetic) the input row each new row was made from */
    int32_t *partner;         /* (synthetic) the input row it moved toward (eos-ref: the base itself when
                                 ni = 0); -1 for a copy (ros, fallback) */
} eos_resample_report;
void eos_resample_report_free(eos_resample_report *report);

/* k: the interpolation neighbours (eos, eos-ref: the enemy search; smote, borderline, adasyn:
 * within the class; adasyn's enemy ratio too), m: borderline's danger neighbours; 0 = the
 * method's default (see the top of this file), else 1..EOS_KNN_MAX_K.
 * adasyn_remainder: 1 = adasyn's per-sample counts by largest remainder, so every class ends
 * exactly at the largest count (EOS-CL before issue 16); 0 = np.rint as imbalanced-learn.
 * target: NULL = every class to the largest class's count; else (classes) the rows each class
 * should have afterwards, each at least the class's count (over-sampling never removes a row):
 * imbalanced-learn's sampling_strategy as a dict, which the Python package eoscl passes on. */
typedef struct eos_resample_config {
    int k, m;
    int adasyn_remainder;
    const size_t *target;
} eos_resample_config;
eos_resample_config eos_resample_defaults(void);
/* The k a method takes when k = 0 (10 for eos, eos-ref, and ros and none, which use none). */
int eos_resample_default_k(eos_resample_method m);

/* in (n, dim) with labels 0..classes-1 -> out (balanced); rt may be NULL for ros and none.
 * classes is 1..EOS_MAX_CLASSES and every class needs at least one row (EOS_ERR_INVALID_ARG
 * naming the first empty class otherwise: there is nothing to grow it from). */
eos_status eos_resample_with(eos_runtime_t rt, const eos_embeddings *in, int classes, eos_resample_method method,
                             const eos_resample_config *cfg, uint64_t seed, eos_embeddings *out,
                             eos_resample_report *report);
/* The same with k neighbours (0 = the method's default, else 1..64) and the other settings'
 * defaults. */
eos_status eos_resample(eos_runtime_t rt, const eos_embeddings *in, int classes, eos_resample_method method, int k,
                        uint64_t seed, eos_embeddings *out, eos_resample_report *report);

/* The same with the embeddings on the device (issue 20: phases 2 and 3 without round trips):
 * x (n, dim) a tensor of rt, labels (n) on the host (the draws need them). The neighbour searches
 * read x where it is, and the balanced set is written to *out_x, a new tensor (n + synthetic,
 * dim) the caller frees, the original rows first; *out_labels (malloc'd) holds its labels. The
 * same rows, bit for bit, and the same report as eos_resample_with for the same seed. Host
 * traffic: the neighbour lists down, a class's row numbers and three numbers a new row up. */
eos_status eos_resample_device(eos_runtime_t rt, const eos_tensor *x, const int32_t *labels, int classes,
                               eos_resample_method method, const eos_resample_config *cfg, uint64_t seed,
                               eos_tensor *out_x, int32_t **out_labels, eos_resample_report *report);

/* Where rt's resampling forms the new rows: 0 (the default) on the device (cl/oversample.cl), 1
 * on the host, the reference the kernel is tested against bit for bit (benchmarks compare the
 * two). Nothing when rt is NULL: without a device the rows are always the host's; and
 * eos_resample_device, whose rows are on the device already, always forms them there. */
void eos_resample_set_host_rows(eos_runtime_t rt, int on_host);

/* Wall seconds of the last successful eos_resample on rt: knn, the neighbour searches (over all
 * classes and within the classes); rows, forming the new rows (the kernel with its copies, or
 * the host loop); draws, the rest (eligibility, counts and the generator's draws). */
typedef struct eos_resample_timing {
    double knn, draws, rows;
} eos_resample_timing;
eos_resample_timing eos_resample_last_timing(eos_runtime_t rt);

#ifdef __cplusplus
}
#endif
#endif
