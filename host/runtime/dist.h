/* Data-parallel training and phases 2-3 across processes (MPI), behind one small internal interface: in a
 * build without MPI, or a process not started by mpirun, every call is the one-process answer
 * (rank 0 of 1, reductions that leave their input as it is), so no other file names MPI. */
#ifndef EOS_DIST_H
#define EOS_DIST_H

#include <stddef.h>

#include "eos/runtime.h"

/* Joins the job when this process was started by mpirun (MPI_Init), else does nothing.
 * Returns 0, -1 when MPI was asked for by the environment and could not start, or -2 when
 * mpirun started several copies of a build without MPI. */
int eos__dist_init(int *argc, char ***argv);
void eos__dist_finalize(void);
int eos__dist_rank(void);        /* 0 in a one-process run */
int eos__dist_size(void);        /* 1 in a one-process run */
int eos__dist_local_rank(void);  /* the rank among the processes of this node */
int eos__dist_built(void);       /* 1 when the build has MPI */
/* In-place sums over every rank (no-ops with one process); 0 on success. */
int eos__dist_allreduce_sum(float *v, size_t n);
int eos__dist_allreduce_sum_double(double *v, size_t n);
/* Waits for every rank (MPI_Barrier); 0 on success, a no-op with one process. */
int eos__dist_barrier(void);
/* Rank 0's value of *v on every rank (MPI_Bcast); 0 on success, a no-op with one process. */
int eos__dist_bcast_int(int *v);
/* Rank 0's n floats in v on every rank (MPI_Bcast); 0 on success, a no-op with one process. */
int eos__dist_bcast_floats(float *v, size_t n);
/* The share of n rows that `rank` of `ranks` takes: [*lo, *hi), contiguous, in rank order, cut
 * at multiples of grain (the last share ends at n), as even as the grains allow. Pure
 * arithmetic, the same on every rank and in both builds. */
void eos__dist_share(size_t n, size_t grain, int rank, int ranks, size_t *lo, size_t *hi);
/* buf holds n rows of elem bytes, this rank's share (eos__dist_share(n, grain, ...)) filled in;
 * afterwards every rank holds every row (MPI_Allgatherv). 0 on success, a no-op with one
 * process; -1 when MPI fails or a share does not fit MPI's int counts. */
int eos__dist_allgather_rows(void *buf, size_t n, size_t elem, size_t grain);
/* Phases 2 and 3 under mpirun (host/runtime.c): while on (and the job has several ranks), the
 * kNN (eos_knn and the searches of the over-sampling) and eos_predict split their query rows
 * among the ranks and gather the results, so every rank ends with the one-process output; every
 * rank must then make the same calls in the same order (collectives). Off by default, and
 * eos_train_run turns it off while it runs (its evaluation is rank 0's alone). Returns the
 * previous setting. */
int eos__runtime_dist_split(eos_runtime_t rt, int on);
/* Ends every rank of the job with code (MPI_Abort); returns only in a one-process run. */
void eos__dist_abort(int code);

#endif
