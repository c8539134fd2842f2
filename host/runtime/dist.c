/* The MPI side of data-parallel training (host/runtime/dist.h). With EOS_HAVE_MPI unset, or a process
 * that mpirun did not start, this file is the one-process stub: the non-MPI build holds no MPI
 * symbol and a plain `eos train` never touches MPI (an MPI_Init outside mpirun costs seconds). */
#include "dist.h"

#include <stdlib.h>

void eos__dist_share(size_t n, size_t grain, int rank, int ranks, size_t *lo, size_t *hi) {
    if (grain < 1) grain = 1;
    if (ranks < 1) ranks = 1;
    size_t units = (n + grain - 1) / grain, r = (size_t)rank, R = (size_t)ranks;
    /* grains r * units / R .. (r + 1) * units / R: the first ranks take the smaller shares */
    size_t a = r * units / R * grain, b = (r + 1) * units / R * grain;
    *lo = a < n ? a : n;
    *hi = b < n ? b : n;
}

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

int eos__dist_barrier(void) {
    if (g_size <= 1) return 0;
    return MPI_Barrier(MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : -1;
}

int eos__dist_bcast_int(int *v) {
    if (g_size <= 1) return 0;
    return MPI_Bcast(v, 1, MPI_INT, 0, MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : -1;
}

int eos__dist_bcast_floats(float *v, size_t n) {
    if (g_size <= 1) return 0;
    while (n > 0) {  /* MPI counts are ints */
        int k = n > (size_t)INT_MAX ? INT_MAX : (int)n;
        if (MPI_Bcast(v, k, MPI_FLOAT, 0, MPI_COMM_WORLD) != MPI_SUCCESS) return -1;
        v += k;
        n -= (size_t)k;
    }
    return 0;
}

/* One MPI datatype of elem bytes, so that the counts are rows (MPI's ints) and not bytes. */
int eos__dist_allgather_rows(void *buf, size_t n, size_t elem, size_t grain) {
    if (g_size <= 1 || n == 0) return 0;
    if (elem == 0 || elem > (size_t)INT_MAX || n > (size_t)INT_MAX) return -1;
    int *counts = malloc(2 * (size_t)g_size * sizeof *counts), rc = -1;
    if (!counts) return -1;
    int *displs = counts + g_size;
    for (int r = 0; r < g_size; r++) {
        size_t lo, hi;
        eos__dist_share(n, grain, r, g_size, &lo, &hi);
        counts[r] = (int)(hi - lo);
        displs[r] = (int)lo;
    }
    MPI_Datatype row;
    if (MPI_Type_contiguous((int)elem, MPI_BYTE, &row) == MPI_SUCCESS) {
        if (MPI_Type_commit(&row) == MPI_SUCCESS &&
            MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, counts, displs, row, MPI_COMM_WORLD) == MPI_SUCCESS)
            rc = 0;
        MPI_Type_free(&row);
    }
    free(counts);
    return rc;
}

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
int eos__dist_barrier(void) { return 0; }
int eos__dist_bcast_int(int *v) {
    (void)v;
    return 0;
}
int eos__dist_bcast_floats(float *v, size_t n) {
    (void)v;
    (void)n;
    return 0;
}
int eos__dist_allgather_rows(void *buf, size_t n, size_t elem, size_t grain) {
    (void)buf;
    (void)n;
    (void)elem;
    (void)grain;
    return 0;
}
void eos__dist_abort(int code) { (void)code; }

#endif
