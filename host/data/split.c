/* Stratified hold-out of a split's images: a validation set with every class in proportion,
 * chosen by a seeded shuffle (eos_split_stratified). */
#include "internal.h"

#include <math.h>
#include <stdlib.h>

eos_status eos_split_stratified(const eos_split *s, int classes, const size_t *indices, size_t n, double fraction,
                                uint64_t seed, size_t **train, size_t *ntrain, size_t **val, size_t *nval) {
    *train = *val = NULL;
    *ntrain = *nval = 0;
    if (!(fraction > 0 && fraction < 1)) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "--val-split %g: expected a fraction in (0, 1)", fraction);
    size_t *by = malloc((n ? n : 1) * sizeof *by), *cnt = calloc((size_t)classes + 1, sizeof *cnt);
    unsigned char *is_val = calloc(n ? n : 1, 1);
    *train = malloc((n ? n : 1) * sizeof **train);
    *val = malloc((n ? n : 1) * sizeof **val);
    if (!by || !cnt || !is_val || !*train || !*val) {
        free(by); free(cnt); free(is_val); free(*train); free(*val);
        *train = *val = NULL;
        EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "validation split");
    }
    eos_rng r;
    eos_rng_seed(&r, seed, 0x56414c);  /* "VAL" */
    for (int c = 0; c < classes; c++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (s->labels[indices[i]] == c) by[m++] = i;
        for (size_t i = m; i > 1; i--) {
            size_t j = eos_rng_below(&r, (uint32_t)i), t = by[i - 1];
            by[i - 1] = by[j];
            by[j] = t;
        }
        size_t k = (size_t)floor(fraction * (double)m + 0.5);
        if (k == 0 && m >= 2) k = 1;
        if (k >= m && m > 0) k = m - 1;  /* never the whole class */
        for (size_t i = 0; i < k; i++) is_val[by[i]] = 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (is_val[i]) (*val)[(*nval)++] = indices[i];
        else (*train)[(*ntrain)++] = indices[i];
    }
    free(by); free(cnt); free(is_val);
    return EOS_OK;
}
