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

typedef struct eos_resample_report {
    int classes;
    size_t before[256], after[256];  /* per class (first 256 classes) */
    size_t eligible[256];            /* bases the method could draw from */
    int fallback[256];               /* 1: the method had no base in this class; copies were used */
    size_t synthetic;
} eos_resample_report;

/* in (n, dim) with labels 0..classes-1 -> out (balanced); k neighbours (1..64); rt may be NULL
 * for ros and none. */
eos_status eos_resample(eos_runtime_t rt, const eos_embeddings *in, int classes, eos_resample_method method, int k,
                        uint64_t seed, eos_embeddings *out, eos_resample_report *report);

#ifdef __cplusplus
}
#endif
#endif
