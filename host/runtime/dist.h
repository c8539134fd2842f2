/* Data-parallel training across processes (MPI), behind one small internal interface: in a
 * build without MPI, or a process not started by mpirun, every call is the one-process answer
 * (rank 0 of 1, reductions that leave their input as it is), so no other file names MPI. */
#ifndef EOS_DIST_H
#define EOS_DIST_H

#include <stddef.h>

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
/* Ends every rank of the job with code (MPI_Abort); returns only in a one-process run. */
void eos__dist_abort(int code);

#endif
