/* The MPI side of data-parallel training (host/runtime/dist.h). With EOS_HAVE_MPI unset, or a process
 * that mpirun did not start, this file is the one-process stub: the non-MPI build holds no MPI
 * symbol and a plain `eos train` never touches MPI (an MPI_Init outside mpirun costs seconds). */
#include "dist.h"

#include <stdlib.h>

#ifdef EOS_HAVE_MPI
#include <limits.h>
#include <mpi.h>

static int g_on, g_rank, g_size = 1, g_local;

/* Open MPI's, MPICH's (Hydra/PMI) and Slurm's launchers each export one of these. */
static int launched_by_mpirun(void) {
    static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

int eos__dist_init(int *argc, char ***argv) {
    if (g_on || !launched_by_mpirun()) return 0;
    if (MPI_Init(argc, argv) != MPI_SUCCESS) return -1;
    g_on = 1;
    /* errors come back as codes: the caller says what failed, then ends the job (eos__dist_abort) */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    MPI_Comm node;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g_rank, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
        MPI_Comm_rank(node, &g_local);
        MPI_Comm_free(&node);
    }
    return 0;
}

void eos__dist_finalize(void) {
    if (g_on) MPI_Finalize();
    g_on = 0;
}

int eos__dist_rank(void) { return g_rank; }
int eos__dist_size(void) { return g_size; }
int eos__dist_local_rank(void) { return g_local; }
int eos__dist_built(void) { return 1; }

/* MPI counts are ints: large buffers go in pieces */
static int allreduce(void *v, size_t n, MPI_Datatype t, size_t elem) {
    if (g_size <= 1) return 0;
    char *p = v;
    while (n > 0) {
        int k = n > (size_t)INT_MAX ? INT_MAX : (int)n;
        if (MPI_Allreduce(MPI_IN_PLACE, p, k, t, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS) return -1;
        p += (size_t)k * elem;
        n -= (size_t)k;
    }
    return 0;
}

int eos__dist_allreduce_sum(float *v, size_t n) { return allreduce(v, n, MPI_FLOAT, sizeof *v); }
int eos__dist_allreduce_sum_double(double *v, size_t n) { return allreduce(v, n, MPI_DOUBLE, sizeof *v); }

void eos__dist_abort(int code) {
    if (g_on && g_size > 1) MPI_Abort(MPI_COMM_WORLD, code);
}

#else /* one process */

/* mpirun of a build without MPI would start N copies of the whole run, all writing one --out */
int eos__dist_init(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        if (v && atoi(v) > 1) return -2;
    }
    return 0;
}
void eos__dist_finalize(void) {}
int eos__dist_rank(void) { return 0; }
int eos__dist_size(void) { return 1; }
int eos__dist_local_rank(void) { return 0; }
int eos__dist_built(void) { return 0; }
int eos__dist_allreduce_sum(float *v, size_t n) {
    (void)v;
    (void)n;
    return 0;
}
int eos__dist_allreduce_sum_double(double *v, size_t n) {
    (void)v;
    (void)n;
    return 0;
}
void eos__dist_abort(int code) { (void)code; }

#endif
