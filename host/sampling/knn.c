/* kNN on the device (cl/knn.cl), two ways: on CPUs one fused kernel computes the distances in
 * float8 register tiles over packed reference panels and keeps each query's top-k list in
 * private memory; elsewhere tiles of q.r from CLBlast are merged into running top-k lists.
 * Memory: the embeddings (n, dim) twice, the lists (nq, k), and a distance tile (tiled path). */
#include "dist.h"
#include "internal.h"
#include "sampling_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static size_t g_tile_q = 1024, g_tile_r = 16384;

void eos__knn_set_tiles(size_t tile_q, size_t tile_r) {
    g_tile_q = tile_q ? tile_q : 1024;
    g_tile_r = tile_r ? tile_r : 16384;
}

/* Fault injection for the tests (internal.h): the number of calls still allowed to succeed, -1
 * when off. Only the tests set it; a real run never reaches the injected failure. */
static long g_knn_fail_after = -1;

void eos__knn_fail_after(long n) { g_knn_fail_after = n < 0 ? -1 : n; }

static eos_status knn_check(size_t nq, size_t nr, int dim, int k, int exclude_self) {
    if (g_knn_fail_after >= 0 && g_knn_fail_after-- == 0)
        EOS_FAIL(EOS_ERR_INTERNAL, NULL, "knn: failure injected by eos__knn_fail_after (a test hook)");
    if (k < 1 || k > EOS_KNN_MAX_K || dim < 1)
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "knn: k = %d (1..%d), dim = %d", k, EOS_KNN_MAX_K, dim);
    if (exclude_self && nq != nr) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "knn: exclude_self needs the queries to be the references");
    size_t avail = nr - (exclude_self ? 1 : 0);
    if (nq == 0) return EOS_OK;
    if ((size_t)k > avail)
        EOS_FAIL(EOS_ERR_INVALID_ARG, "use a smaller --k", "knn: k = %d but only %zu reference points", k, avail);
    if (nq > 0x7fffffff || nr > 0x7fffffff) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "knn: more than 2^31 points");
    return EOS_OK;
}

/* CPUs: distances and selection fused, no distance tile in memory (cl/knn.cl); elsewhere the
 * CLBlast tiles. EOS_KNN_ALGO=fused|gemm forces one. */
static int knn_fused(eos_runtime_t rt) {
    const char *env = getenv("EOS_KNN_ALGO");
    return env && env[0] ? !strcmp(env, "fused") : !eos__gpu_paths(rt);
}

/* the search itself over Q (nq, dim) and R (nr, dim) on the device (the same tensor may be both);
 * q_base: where Q's rows start among R's when exclude_self (an MPI rank's share, knn_ranks) */
static eos_status knn_run(eos_runtime_t rt, const eos_tensor *Qt, size_t nq, const eos_tensor *Rt, size_t nr, int dim,
                          int k, int exclude_self, int32_t *indices, float *dist2, int q_base) {
    eos_tensor Q = *Qt, R = *Rt;  /* read only: shallow copies, never freed here */
    eos_tensor qn = {0}, rn = {0}, dots = {0}, bd = {0}, bi = {0};
    size_t tq = nq < g_tile_q ? nq : g_tile_q, tr = nr < g_tile_r ? nr : g_tile_r;
    eos_status st = eos_tensor_alloc(rt, &qn, 1, &nq);
    if (st == EOS_OK) st = eos_tensor_alloc(rt, &rn, 1, &nr);
    int fused = knn_fused(rt);
    /* A device that caps a work-item's loop trips (eos__loop_cap; Mesa's llvmpipe): the fused
     * kernel takes as many reference panels per launch as fit, the tiled path's merge as many
     * references per tile. Per panel a work-item runs at most 8 query pairs x (D products + 32
     * distances + 64 insertions of up to k shifts each); its lists cost about 3 x 16 k trips.
     * When not even one panel fits, the tiled path (whose merge costs k + 1 a reference). */
    size_t cap = eos__loop_cap(rt), per_panel = 8 * (1 + (size_t)dim + 32 + 64 * (size_t)k), fixed = 48 * (size_t)k + 64;
    size_t panels_per_launch = (nr + 31) / 32;
    if (cap) {
        panels_per_launch = cap > fixed ? (cap - fixed) / per_panel : 0;
        if (panels_per_launch == 0) fused = 0;
        size_t most_r = cap > 2 * (size_t)k + 64 ? (cap - 2 * (size_t)k - 64) / ((size_t)k + 1) : 1;
        if (tr > most_r) tr = most_r;
    }
    if (st == EOS_OK && !fused) st = eos_tensor_alloc(rt, &dots, 2, (size_t[]){tq, tr});
    if (st == EOS_OK) st = eos_tensor_alloc(rt, &bd, 2, (size_t[]){nq, (size_t)k});
    if (st == EOS_OK) st = eos_tensor_alloc(rt, &bi, 2, (size_t[]){nq, (size_t)k});  /* ints in float-sized slots */
    int n_q = (int)nq, n_r = (int)nr, nk = (int)(nq * (size_t)k);
    if (st == EOS_OK) {
        eos__arg a[] = {EOS_ARG(Q.buf), EOS_ARG(qn.buf), EOS_ARG(n_q), EOS_ARG(dim)};
        st = eos__run_1d(rt, "knn.cl", "eos_row_norms", nq, a, EOS_NARGS(a));
    }
    if (st == EOS_OK) {
        eos__arg a[] = {EOS_ARG(R.buf), EOS_ARG(rn.buf), EOS_ARG(n_r), EOS_ARG(dim)};
        st = eos__run_1d(rt, "knn.cl", "eos_row_norms", nr, a, EOS_NARGS(a));
    }
    if (st == EOS_OK) {
        eos__arg a[] = {EOS_ARG(bd.buf), EOS_ARG(bi.buf), EOS_ARG(nk)};
        st = eos__run_1d(rt, "knn.cl", "eos_knn_reset", (size_t)nk, a, EOS_NARGS(a));
    }
    if (st == EOS_OK && fused) {
        size_t nb = (nr + 31) / 32;
        eos_tensor Rp = {0};
        st = eos_tensor_alloc(rt, &Rp, 2, (size_t[]){nb * 32, (size_t)dim});
        if (st == EOS_OK) {
            eos__arg a[] = {EOS_ARG(R.buf), EOS_ARG(Rp.buf), EOS_ARG(n_r), EOS_ARG(dim)};
            size_t g[2] = {(size_t)dim, nb};
            st = eos__run_nd(rt, "knn.cl", "eos_knn_pack", 2, g, a, EOS_NARGS(a));
        }
        for (size_t b = 0; st == EOS_OK && b < nb; b += panels_per_launch) {
            int b0 = (int)b, b1 = (int)(nb - b < panels_per_launch ? nb : b + panels_per_launch);
            eos__arg a[] = {EOS_ARG(Q.buf), EOS_ARG(qn.buf), EOS_ARG(Rp.buf), EOS_ARG(rn.buf), EOS_ARG(bd.buf),
                            EOS_ARG(bi.buf), EOS_ARG(n_q), EOS_ARG(n_r), EOS_ARG(dim), EOS_ARG(k), EOS_ARG(exclude_self),
                            EOS_ARG(b0), EOS_ARG(b1), EOS_ARG(q_base)};
            size_t g = (nq + 15) / 16;
            st = eos__run_nd(rt, "knn.cl", "eos_knn_fused", 1, &g, a, EOS_NARGS(a));
        }
        eos_tensor_free(&Rp);
        tq = nq;  /* the tiled loop below has nothing left to do */
    }
    const int cols = eos__gpu_paths(rt);  /* the tile's layout: (R, Q) on GPU paths, else (Q, R) */
    for (size_t q0 = 0; st == EOS_OK && !fused && q0 < nq; q0 += tq) {
        int qq = (int)(nq - q0 < tq ? nq - q0 : tq);
        for (size_t r0 = 0; st == EOS_OK && r0 < nr; r0 += tr) {
            int rr = (int)(nr - r0 < tr ? nr - r0 : tr);
            /* GPU paths: dots (rr, qq) = R[r0:] Q[q0:]^T, so the merge's work-items (the queries)
             * run along the rows and read coalesced; CPU paths: dots (qq, rr) = Q[q0:] R[r0:]^T,
             * a row per work-item (cl/knn.cl). Packed either way (ld = qq or rr): every float
             * the merge reads was written by this GEMM. */
            if (cols)
                st = eos_gemm(rt, EOS_NO_TRANS, EOS_TRANS, (size_t)rr, (size_t)qq, (size_t)dim, 1.0f, &R,
                              r0 * (size_t)dim, (size_t)dim, &Q, q0 * (size_t)dim, (size_t)dim, 0.0f, &dots, 0,
                              (size_t)qq);
            else
                st = eos_gemm(rt, EOS_NO_TRANS, EOS_TRANS, (size_t)qq, (size_t)rr, (size_t)dim, 1.0f, &Q,
                              q0 * (size_t)dim, (size_t)dim, &R, r0 * (size_t)dim, (size_t)dim, 0.0f, &dots, 0,
                              (size_t)rr);
            if (st != EOS_OK) break;
            int q0i = (int)q0, r0i = (int)r0, sq = cols ? 1 : rr, sr = cols ? qq : 1;
            eos__arg a[] = {EOS_ARG(dots.buf), EOS_ARG(qn.buf), EOS_ARG(rn.buf), EOS_ARG(bd.buf), EOS_ARG(bi.buf),
                            EOS_ARG(qq), EOS_ARG(rr), EOS_ARG(k), EOS_ARG(q0i), EOS_ARG(r0i), EOS_ARG(exclude_self),
                            EOS_ARG(sq), EOS_ARG(sr), EOS_ARG(q_base)};
            st = eos__run_1d(rt, "knn.cl", "eos_knn_merge", (size_t)qq, a, EOS_NARGS(a));
        }
    }
    if (st == EOS_OK && dist2) st = eos_tensor_download(&bd, dist2, (size_t)nk);
    if (st == EOS_OK) /* the index list is int32 in float-sized slots: read the bytes as they are */
        st = eos_tensor_download(&bi, (float *)indices, (size_t)nk);
    eos_tensor *all[] = {&qn, &rn, &dots, &bd, &bi};
    for (size_t i = 0; i < 5; i++) eos_tensor_free(all[i]);
    return st;
}

/* knn_run, or under mpirun with the runtime's dist_split on (eos__runtime_dist_split), this
 * rank's share of the queries, then every rank's lists gathered. Each query's list is computed
 * alone (its distances, then its insertions in reference order), so the lists are those of one
 * process bit for bit: on the fused path whatever the cut; on the tiled path the shares are cut
 * at multiples of the query tile, so every rank runs the one-process run's GEMM tiles. */
static eos_status knn_ranks(eos_runtime_t rt, const eos_tensor *Q, size_t nq, const eos_tensor *R, size_t nr, int dim,
                            int k, int exclude_self, int32_t *indices, float *dist2) {
    const int ranks = eos__dist_size();
    if (!rt->dist_split || ranks < 2) return knn_run(rt, Q, nq, R, nr, dim, k, exclude_self, indices, dist2, 0);
    size_t grain = knn_fused(rt) ? 16 : g_tile_q, lo, hi, row = (size_t)k;
    eos__dist_share(nq, grain, eos__dist_rank(), ranks, &lo, &hi);
    eos_status st = EOS_OK;
    if (hi > lo) {
        eos_tensor Qs = {0};  /* this rank's queries, copied on the device */
        st = eos_tensor_alloc(rt, &Qs, 2, (size_t[]){hi - lo, (size_t)dim});
        if (st == EOS_OK)
            EOS_CL_GOTO(clEnqueueCopyBuffer(rt->queue, Q->buf, Qs.buf, lo * (size_t)dim * sizeof(float), 0,
                                            (hi - lo) * (size_t)dim * sizeof(float), 0, NULL, NULL),
                        st, out, "knn: this rank's queries %zu..%zu", lo, hi);
        if (st == EOS_OK)
            st = knn_run(rt, &Qs, hi - lo, R, nr, dim, k, exclude_self, indices + lo * row,
                         dist2 ? dist2 + lo * row : NULL, (int)lo);
    out:
        eos_tensor_free(&Qs);
    }
    /* a rank that failed leaves here; the CLI then ends the job (eos__dist_abort), which frees
     * the ranks waiting in the gather */
    if (st != EOS_OK) return st;
    if (eos__dist_allgather_rows(indices, nq, row * sizeof *indices, grain) != 0 ||
        (dist2 && eos__dist_allgather_rows(dist2, nq, row * sizeof *dist2, grain) != 0))
        EOS_FAIL(EOS_ERR_INTERNAL, NULL, "knn: gathering the neighbour lists of %zu queries from %d MPI ranks failed",
                 nq, ranks);
    return EOS_OK;
}

eos_status eos_knn(eos_runtime_t rt, const float *queries, size_t nq, const float *refs, size_t nr, int dim, int k,
                   int exclude_self, int32_t *indices, float *dist2) {
    EOS_TRY(knn_check(nq, nr, dim, k, exclude_self));
    if (nq == 0) return EOS_OK;
    eos_tensor Q = {0}, R = {0};
    eos_status st = eos_tensor_alloc(rt, &Q, 2, (size_t[]){nq, (size_t)dim});
    if (st == EOS_OK) st = eos_tensor_alloc(rt, &R, 2, (size_t[]){nr, (size_t)dim});
    if (st == EOS_OK) st = eos_tensor_upload(&Q, queries, nq * (size_t)dim);
    if (st == EOS_OK) st = eos_tensor_upload(&R, refs, nr * (size_t)dim);
    if (st == EOS_OK) st = knn_ranks(rt, &Q, nq, &R, nr, dim, k, exclude_self, indices, dist2);
    eos_tensor_free(&Q);
    eos_tensor_free(&R);
    return st;
}

eos_status eos__knn_device(eos_runtime_t rt, const eos_tensor *Q, size_t nq, const eos_tensor *R, size_t nr, int dim,
                           int k, int exclude_self, int32_t *indices, float *dist2) {
    EOS_TRY(knn_check(nq, nr, dim, k, exclude_self));
    if (nq == 0) return EOS_OK;
    EOS_TRY(eos__need(Q, nq * (size_t)dim, "knn queries"));
    EOS_TRY(eos__need(R, nr * (size_t)dim, "knn references"));
    return knn_ranks(rt, Q, nq, R, nr, dim, k, exclude_self, indices, dist2);
}

/* rows of x whose label is c, copied contiguously */
static float *gather(const float *x, const int32_t *y, size_t n, int dim, int c, size_t *m) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += y[i] == c;
    float *out = malloc((k ? k : 1) * (size_t)dim * sizeof *out);
    if (!out) return NULL;
    *m = 0;
    for (size_t i = 0; i < n; i++)
        if (y[i] == c) memcpy(out + (*m)++ * (size_t)dim, x + i * (size_t)dim, (size_t)dim * sizeof *out);
    return out;
}

eos_status eos_embedding_gap(eos_runtime_t rt, const float *train_x, const int32_t *train_y, size_t ntrain,
                             const float *test_x, const int32_t *test_y, size_t ntest, int dim, int classes,
                             double *test_gap, double *train_gap) {
    eos_status st = EOS_OK;
    for (int c = 0; c < classes && st == EOS_OK; c++) {
        size_t mt = 0, ms = 0;
        float *tr = gather(train_x, train_y, ntrain, dim, c, &mt), *te = gather(test_x, test_y, ntest, dim, c, &ms);
        int32_t *idx = malloc(((mt > ms ? mt : ms) + 1) * sizeof *idx);
        float *d = malloc(((mt > ms ? mt : ms) + 1) * sizeof *d);
        if (!tr || !te || !idx || !d) st = eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "embedding gap");
        test_gap[c] = train_gap[c] = NAN;
        if (st == EOS_OK && mt >= 1 && ms >= 1 && (st = eos_knn(rt, te, ms, tr, mt, dim, 1, 0, idx, d)) == EOS_OK) {
            double s = 0;
            for (size_t i = 0; i < ms; i++) s += sqrt((double)d[i]);
            test_gap[c] = s / (double)ms;
        }
        if (st == EOS_OK && mt >= 2 && (st = eos_knn(rt, tr, mt, tr, mt, dim, 1, 1, idx, d)) == EOS_OK) {
            double s = 0;
            for (size_t i = 0; i < mt; i++) s += sqrt((double)d[i]);
            train_gap[c] = s / (double)mt;
        }
        free(tr); free(te); free(idx); free(d);
    }
    return st;
}

/* the rows of X (n, dim) on the device whose label is c, gathered into a new tensor *G (*m, dim);
 * only their row numbers go up. *m == 0 leaves *G unallocated. */
static eos_status gather_class_device(eos_runtime_t rt, const eos_tensor *X, const int32_t *y, size_t n, size_t dim,
                                      int c, eos_tensor *G, size_t *m) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += y[i] == c;
    *m = k;
    if (k == 0) return EOS_OK;
    int32_t *idx = malloc(k * sizeof *idx);
    if (!idx) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "embedding gap: row numbers of class %d", c);
    for (size_t i = 0, j = 0; i < n; i++)
        if (y[i] == c) idx[j++] = (int32_t)i;
    eos_tensor I = {0};
    eos_status st = eos_tensor_alloc(rt, &I, 1, &k);
    if (st == EOS_OK) st = eos_tensor_alloc(rt, G, 2, (size_t[]){k, dim});
    if (st == EOS_OK) st = eos_tensor_upload(&I, (const float *)idx, k);  /* int32 in float-sized slots */
    if (st == EOS_OK) st = eos__gather_rows(rt, X, dim, &I, k, G);
    eos_tensor_free(&I);
    free(idx);
    return st;
}

eos_status eos_embedding_gap_device(eos_runtime_t rt, const eos_tensor *train_x, const int32_t *train_y,
                                    const eos_tensor *test_x, const int32_t *test_y, int classes, double *test_gap,
                                    double *train_gap) {
    if (!rt || !train_x || !test_x || !train_x->buf || !test_x->buf || train_x->rt != rt || test_x->rt != rt ||
        train_x->ndim != 2 || test_x->ndim != 2 || train_x->shape[1] != test_x->shape[1] || !train_y || !test_y ||
        classes < 1)
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL,
                 "embedding gap: expected two 2-d tensors (n, dim) of this runtime with the same dim, their labels and "
                 "the number of classes");
    size_t ntrain = train_x->shape[0], ntest = test_x->shape[0], dim = train_x->shape[1];
    if (dim > 0x7fffffff) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "embedding gap: %zu features", dim);
    eos_status st = EOS_OK;
    for (int c = 0; c < classes && st == EOS_OK; c++) {
        size_t mt = 0, ms = 0;
        eos_tensor tr = {0}, te = {0};
        test_gap[c] = train_gap[c] = NAN;
        st = gather_class_device(rt, train_x, train_y, ntrain, dim, c, &tr, &mt);
        if (st == EOS_OK) st = gather_class_device(rt, test_x, test_y, ntest, dim, c, &te, &ms);
        int32_t *idx = malloc(((mt > ms ? mt : ms) + 1) * sizeof *idx);
        float *d = malloc(((mt > ms ? mt : ms) + 1) * sizeof *d);
        if (st == EOS_OK && (!idx || !d)) st = eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL, NULL, "embedding gap");
        /* the searches and sums of eos_embedding_gap, on the same rows: the same numbers */
        if (st == EOS_OK && mt >= 1 && ms >= 1 && (st = eos__knn_device(rt, &te, ms, &tr, mt, (int)dim, 1, 0, idx, d)) == EOS_OK) {
            double s = 0;
            for (size_t i = 0; i < ms; i++) s += sqrt((double)d[i]);
            test_gap[c] = s / (double)ms;
        }
        if (st == EOS_OK && mt >= 2 && (st = eos__knn_device(rt, &tr, mt, &tr, mt, (int)dim, 1, 1, idx, d)) == EOS_OK) {
            double s = 0;
            for (size_t i = 0; i < mt; i++) s += sqrt((double)d[i]);
            train_gap[c] = s / (double)mt;
        }
        eos_tensor_free(&tr);
        eos_tensor_free(&te);
        free(idx); free(d);
    }
    return st;
}
