/* k-nearest-neighbour selection over a tile of squared distances.
 * Legend: Q queries in the tile, R references in the tile, k neighbours kept (k <= 64).
 * The host computes the tile's q.r with CLBlast; this kernel forms |q|^2 + |r|^2 - 2 q.r and merges
 * the tile into each query's running top-k list, ordered by (distance, index) so ties go to
 * the smaller index and every device returns the same neighbours. */

#ifndef EOS_KNN_MAX_K
#define EOS_KNN_MAX_K 64
#endif

/* (d, i) before (e, j)? */
static int eos_knn_less(float d, int i, float e, int j) { return d < e || (d == e && i < j); }

/* Merge one tile into the running lists. dots (Q, R): q.r for queries q0 .. q0+Q-1 and
 * references r0 .. r0+R-1; qn (all queries), rn (all references): squared norms; best_d,
 * best_i (all queries, k): the lists (start at +inf / -1). With exclude_self, reference j is
 * not a neighbour of query j (queries and references are the same points). */
__kernel void eos_knn_merge(__global const float *dots, __global const float *qn, __global const float *rn,
                            __global float *best_d, __global int *best_i, const int Q, const int R, const int k,
                            const int q0, const int r0, const int exclude_self) {
    const int t = get_global_id(0);
    if (t >= Q) return;
    const int q = q0 + t;
    float d[EOS_KNN_MAX_K];
    int id[EOS_KNN_MAX_K];
    for (int j = 0; j < k; j++) {
        d[j] = best_d[(size_t)q * k + j];
        id[j] = best_i[(size_t)q * k + j];
    }
    const float nq = qn[q];
    __global const float *row = dots + (size_t)t * (size_t)R;
    for (int r = 0; r < R; r++) {
        const int ref = r0 + r;
        if (exclude_self && ref == q) continue;
        const float v = fmax(nq + rn[ref] - 2.0f * row[r], 0.0f);
        if (!eos_knn_less(v, ref, d[k - 1], id[k - 1])) continue;
        int j = k - 1;  /* insertion into the sorted list */
        while (j > 0 && eos_knn_less(v, ref, d[j - 1], id[j - 1])) {
            d[j] = d[j - 1];
            id[j] = id[j - 1];
            j--;
        }
        d[j] = v;
        id[j] = ref;
    }
    for (int j = 0; j < k; j++) {
        best_d[(size_t)q * k + j] = d[j];
        best_i[(size_t)q * k + j] = id[j];
    }
}

/* squared norms of the rows of x (n, D) */
__kernel void eos_row_norms(__global const float *x, __global float *out, const int n, const int D) {
    const int i = get_global_id(0);
    if (i >= n) return;
    float s = 0.0f;
    for (int j = 0; j < D; j++) s += x[(size_t)i * D + j] * x[(size_t)i * D + j];
    out[i] = s;
}

/* best_d = +inf, best_i = -1 over n entries */
__kernel void eos_knn_reset(__global float *best_d, __global int *best_i, const int n) {
    const int i = get_global_id(0);
    if (i >= n) return;
    best_d[i] = INFINITY;
    best_i[i] = -1;
}
