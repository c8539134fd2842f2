/* k-nearest-neighbour selection over a tile of squared distances.
 * Legend: Q queries in the tile, R references in the tile, k neighbours kept (k <= 64).
 * The host computes the tile's q.r with CLBlast; this kernel forms |q|^2 + |r|^2 - 2 q.r and merges
 * the tile into each query's running top-k list, ordered by (distance, index) so ties go to
 * the smaller index and every device returns the same neighbours. */

/* a * b + c as one fused multiply-add: PoCL 3.1 compiles mad() to a multiply and a separate add
 * (no FMA instruction, about 60% of the FMA peak: `eos bench peak`), while the plain expression
 * is contracted to an FMA (OpenCL C's default FP_CONTRACT ON); GPUs fuse both. */
#define EOS_MAD(a, b, c) ((a) * (b) + (c))

#ifndef EOS_KNN_MAX_K
#define EOS_KNN_MAX_K 64
#endif

/* (d, i) before (e, j)? */
static int eos_knn_less(float d, int i, float e, int j) { return d < e || (d == e && i < j); }

/* Insert (v, ref) into the sorted list d, id of k entries when it belongs there. */
static void eos_knn_insert(float *d, int *id, const int k, const float v, const int ref) {
    if (!eos_knn_less(v, ref, d[k - 1], id[k - 1])) return;
    int j = k - 1;
    while (j > 0 && eos_knn_less(v, ref, d[j - 1], id[j - 1])) {
        d[j] = d[j - 1];
        id[j] = id[j - 1];
        j--;
    }
    d[j] = v;
    id[j] = ref;
}

/* Merge one tile into the running lists. dots: q.r for queries q0 .. q0+Q-1 and references
 * r0 .. r0+R-1, the pair (q0 + t, r0 + r) at dots[t * sq + r * sr], in one of two layouts
 * (host/sampling/knn.c): (R, Q) on GPU paths (sq = 1, sr = Q), so that neighbouring work-items (queries)
 * read neighbouring floats, one coalesced line per reference; (Q, R) on CPU paths (sq = R,
 * sr = 1), where a work-item walking its own contiguous row is what the caches like (the
 * column walk measured several times slower on PoCL). Only the Q R floats the tile's GEMM
 * wrote are read. qn (all queries), rn (all references): squared norms; best_d, best_i (all
 * queries, k): the lists (start at +inf / -1). With exclude_self, reference q_base + j is not
 * a neighbour of query j (queries and references are the same points; q_base: where this
 * launch's queries start among them, non-zero when an MPI rank searches its share of rows). */
__kernel void eos_knn_merge(__global const float *dots, __global const float *qn, __global const float *rn,
                            __global float *best_d, __global int *best_i, const int Q, const int R, const int k,
                            const int q0, const int r0, const int exclude_self, const int sq, const int sr,
                            const int q_base) {
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
    __global const float *p = dots + (size_t)t * (size_t)sq;
    for (int r = 0; r < R; r++, p += sr) {
        const int ref = r0 + r;
        if (exclude_self && ref == q_base + q) continue;
        eos_knn_insert(d, id, k, fmax(nq + rn[ref] - 2.0f * *p, 0.0f), ref);
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

/* ---- fused distances + selection, the CPU path ---------------------------------------------
 * Rp: the references in panels of 32 (Rp[(b * D + d) * 32 + j] = r[32 b + j][d], zero padding);
 * one work-item owns QB = 16 queries and walks every panel once: per panel, 2 queries at a time,
 * 2 x 32 dot products in 8 float8 accumulators (the panel stays in L1 for all 16 queries), then
 * |q|^2 + |r|^2 - 2 q.r merged into each query's sorted list. Same ordering rule as eos_knn_merge.
 * Panels b0 .. b1-1 only, merged into the lists in best_d, best_i: one launch takes them all,
 * unless the device limits a work-item's loop trips (eos__loop_cap, host/sampling/knn.c). exclude_self and
 * q_base as in eos_knn_merge. */
#define KNN_QB 16


__kernel void eos_knn_fused(__global const float *Q, __global const float *qn, __global const float *Rp,
                            __global const float *rn, __global float *best_d, __global int *best_i, const int nq,
                            const int nr, const int D, const int k, const int exclude_self, const int b0,
                            const int b1, const int q_base) {
    const int q0 = get_global_id(0) * KNN_QB;
    if (q0 >= nq) return;
    const int nqb = min(KNN_QB, nq - q0);
    float d[KNN_QB * EOS_KNN_MAX_K];
    int id[KNN_QB * EOS_KNN_MAX_K];
    for (int t = 0; t < nqb; t++)
        for (int j = 0; j < k; j++) {
            d[t * k + j] = best_d[(size_t)(q0 + t) * k + j];
            id[t * k + j] = best_i[(size_t)(q0 + t) * k + j];
        }
    for (int b = b0; b < b1; b++) {
        __global const float *P = Rp + (size_t)b * D * 32;
        for (int t = 0; t < nqb; t += 2) {
            const int qa = q0 + t, qb = q0 + min(t + 1, nqb - 1);
            __global const float *xa = Q + (size_t)qa * D, *xb = Q + (size_t)qb * D;
            float8 a0 = 0, a1 = 0, a2 = 0, a3 = 0, c0 = 0, c1 = 0, c2 = 0, c3 = 0;
            __global const float *p = P;
            for (int e = 0; e < D; e++, p += 32) {
                const float8 r0 = vload8(0, p), r1 = vload8(1, p), r2 = vload8(2, p), r3 = vload8(3, p);
                const float u = xa[e], w = xb[e];
                a0 = EOS_MAD((float8)u, r0, a0); a1 = EOS_MAD((float8)u, r1, a1);
                a2 = EOS_MAD((float8)u, r2, a2); a3 = EOS_MAD((float8)u, r3, a3);
                c0 = EOS_MAD((float8)w, r0, c0); c1 = EOS_MAD((float8)w, r1, c1);
                c2 = EOS_MAD((float8)w, r2, c2); c3 = EOS_MAD((float8)w, r3, c3);
            }
            float da[32], dc[32];
            vstore8(a0, 0, da); vstore8(a1, 1, da); vstore8(a2, 2, da); vstore8(a3, 3, da);
            vstore8(c0, 0, dc); vstore8(c1, 1, dc); vstore8(c2, 2, dc); vstore8(c3, 3, dc);
            const float na = qn[qa], nb = qn[qb];
            const int jmax = min(32, nr - b * 32), two = t + 1 < nqb;
            for (int j = 0; j < jmax; j++) {
                const int ref = b * 32 + j;
                const float r2n = rn[ref];
                if (!(exclude_self && ref == q_base + qa))
                    eos_knn_insert(d + t * k, id + t * k, k, fmax(na + r2n - 2.0f * da[j], 0.0f), ref);
                if (two && !(exclude_self && ref == q_base + qb))
                    eos_knn_insert(d + (t + 1) * k, id + (t + 1) * k, k, fmax(nb + r2n - 2.0f * dc[j], 0.0f), ref);
            }
        }
    }
    for (int t = 0; t < nqb; t++)
        for (int j = 0; j < k; j++) {
            best_d[(size_t)(q0 + t) * k + j] = d[t * k + j];
            best_i[(size_t)(q0 + t) * k + j] = id[t * k + j];
        }
}

/* Rp panels (as above) from r (n, D); one work-item per (panel b, feature d) */
__kernel void eos_knn_pack(__global const float *r, __global float *Rp, const int n, const int D) {
    const int e = get_global_id(0), b = get_global_id(1);
    if (e >= D || b * 32 >= n) return;  /* the nd-range may be rounded up to whole work-groups */
    __global float *dst = Rp + ((size_t)b * D + e) * 32;
    for (int j = 0; j < 32; j++) {
        const int i = b * 32 + j;
        dst[j] = i < n ? r[(size_t)i * D + e] : 0.0f;
    }
}
