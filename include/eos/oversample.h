/* Phase 2: balance the classes of an embedding set (GUIDE section 5). Every class is brought
 * to the largest class's count; the output is the original rows followed by the new ones.
 *   eos         Expansive Over-Sampling: bases are the class's samples with at least one
 *               neighbour of another class (an enemy) among their k nearest (all classes,
 *               Euclidean); each new sample is base + r (enemy - base), base drawn uniformly
 *               with replacement, enemy uniformly among the base's enemies, r ~ U(0, 1)
 *   ros         random over-sampling: copies of uniformly drawn samples
 *   smote       SMOTE (Chawla et al.): base + r (neighbour - base), neighbour among the base's
 *               k nearest of its own class
 *   borderline  Borderline-SMOTE 1 (Han et al.): SMOTE from the "danger" samples only, those
 *               with k/2 <= enemies < k among their k nearest of all classes
 *   adasyn      ADASYN (He et al.): SMOTE where sample i makes a share of the new samples
 *               proportional to its fraction of enemies among its k nearest
 *   none        the input unchanged
 * Neighbour searches run on the device (eos_knn); drawing and interpolation on the host. The
 * generator is PCG32 seeded (seed, stream 0x454f53), so a seed gives the same rows anywhere. */
#ifndef EOS_OVERSAMPLE_H
#define EOS_OVERSAMPLE_H

#include "eos/embeddings.h"
#include "eos/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Usage:
 *     eos_embeddings balanced; eos_resample_report rep;
 *     eos_resample(rt, &train, 10, EOS_RESAMPLE_EOS, 10, seed, &balanced, &rep);
 *     ... rep.after[c] ...
 *     eos_resample_report_free(&rep); eos_embeddings_free(&balanced);
 */

typedef enum {
    EOS_RESAMPLE_NONE = 0,
    EOS_RESAMPLE_EOS,
    EOS_RESAMPLE_ROS,
    EOS_RESAMPLE_SMOTE,
    EOS_RESAMPLE_BORDERLINE,
    EOS_RESAMPLE_ADASYN
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
} eos_resample_report;
void eos_resample_report_free(eos_resample_report *report);

/* in (n, dim) with labels 0..classes-1 -> out (balanced); k neighbours (1..64); rt may be NULL
 * for ros and none. classes is 1..EOS_MAX_CLASSES and every class needs at least one row
 * (EOS_ERR_INVALID_ARG naming the first empty class otherwise: there is nothing to grow it from). */
eos_status eos_resample(eos_runtime_t rt, const eos_embeddings *in, int classes, eos_resample_method method, int k,
                        uint64_t seed, eos_embeddings *out, eos_resample_report *report);

#ifdef __cplusplus
}
#endif
#endif
