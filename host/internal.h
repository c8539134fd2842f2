/* Private helpers shared by the host files of every layer: error macros, logging, the runtime's
 * insides, and the few hooks one layer's files offer another's (each names its file). Nothing
 * here is part of the public API. Declaring is not permission: a call from a layer into one
 * above it fails the build's layer check (docs/ARCHITECTURE.md). A layer's own helpers live in
 * its folder (data/data_internal.h, sampling/sampling_internal.h, train/train_internal.h,
 * runtime/dist.h, ...). */
#ifndef EOS_INTERNAL_H
#define EOS_INTERNAL_H

#include "eos/eos.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#if defined(__GNUC__)
#define EOS_PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))
#else
#define EOS_PRINTF(fmt_idx, arg_idx)
#endif

/* Record an error for eos_last_error() and return st. expr may be NULL, hint may be NULL. */
eos_status eos__error_set(eos_status st, const char *file, int line, const char *expr,
                          const char *hint, const char *fmt, ...) EOS_PRINTF(6, 7);

/* A short hint for an OpenCL or CLBlast status ("" when there is nothing useful to say). */
const char *eos__status_hint(eos_status st);

/* Fail with st: EOS_FAIL(EOS_ERR_INVALID_ARG, "hint", "format", ...) */
#define EOS_FAIL(st, hint, ...) \
    return eos__error_set((st), __FILE__, __LINE__, NULL, (hint), __VA_ARGS__)

/* Check an OpenCL call that returns cl_int; on failure record it and return its code. */
#define EOS_CL_CHECK(call, ...)                                                          \
    do {                                                                                 \
        cl_int eos__e = (call);                                                          \
        if (eos__e != CL_SUCCESS)                                                        \
            return eos__error_set(eos__e, __FILE__, __LINE__, #call,                     \
                                  eos__status_hint(eos__e), __VA_ARGS__);                \
    } while (0)

/* The same, but store the code in st and jump to a cleanup label. */
#define EOS_CL_GOTO(call, st, label, ...)                                                \
    do {                                                                                 \
        cl_int eos__e = (call);                                                          \
        if (eos__e != CL_SUCCESS) {                                                      \
            (st) = eos__error_set(eos__e, __FILE__, __LINE__, #call,                     \
                                  eos__status_hint(eos__e), __VA_ARGS__);                \
            goto label;                                                                  \
        }                                                                                \
    } while (0)

/* Propagate a failing eos_status (the callee already recorded the error). */
#define EOS_TRY(call)                                                                    \
    do {                                                                                 \
        eos_status eos__s = (call);                                                      \
        if (eos__s != EOS_OK) return eos__s;                                             \
    } while (0)

/* Log through the user's callback (stderr by default). */
void eos__log(eos_log_level level, const char *fmt, ...) EOS_PRINTF(2, 3);

/* 64-bit FNV-1a, continued from h (start with EOS_FNV_OFFSET). Used for cache keys and
 * corruption checks, not for security. */
#define EOS_FNV_OFFSET 0xcbf29ce484222325ULL
unsigned long long eos__fnv1a(unsigned long long h, const void *data, size_t n);

/* Embedded kernel sources, generated at build time from the cl/ folder (see cmake/embed_kernels.cmake). */
typedef struct eos__kernel_source {
    const char *name;           /* file name, e.g. "elementwise.cl" */
    const unsigned char *text;  /* not NUL-terminated */
    size_t size;
} eos__kernel_source;
extern const eos__kernel_source eos__kernel_sources[];
extern const size_t eos__kernel_source_count;

/* Program cache on disk (host/runtime/program_cache.c). */
typedef struct eos__cache_result {
    unsigned char *binary;  /* malloc'd, NULL when nothing usable was found */
    size_t size;
    int rejected;           /* an entry existed but was corrupt or stale */
} eos__cache_result;
void eos__cache_load(const char *dir, const char *key, eos__cache_result *out);
eos_status eos__cache_store(const char *dir, const char *key, const unsigned char *binary,
                            size_t size);
void eos__cache_path(const char *dir, const char *key, char *buf, size_t n);
/* The bytes of one cache entry checked against the key it must hold (key NULL: the header, the
 * lengths and the checksum only). NULL when good, with the driver's binary at
 * data + *payload_off, *payload_len bytes long; else why the entry is refused. No I/O: the
 * fuzz target `cache` (tests/fuzz/fuzz_parsers.c) runs it on arbitrary bytes. */
const char *eos__cache_parse(const uint8_t *data, size_t size, const char *key, size_t *payload_off,
                             size_t *payload_len);

/* <kernel cache>/conv-algos.txt (written by host/nn/conv.c; its format in
 * host/runtime/conv_algos_file.c, below nn, for the cache's tools): its first line, the marker
 * that says the cache wrote it; and whether text (a file's first bytes) is such a file: the
 * marker (or the marker of the files before the direction joined the key, _V9), or, for a file
 * written before the marker existed, nothing but well-formed choice lines. */
#define EOS__CONV_ALGOS_MARKER "# eos-cl convolution choices: device N C H W K R stride pad direction algo"
#define EOS__CONV_ALGOS_MARKER_V9 "# eos-cl convolution choices: device N C H W K R stride pad algo"
int eos__conv_algos_recognise(const char *text, size_t n);
/* The words of the file and of checkpoint lists: the algorithms in eos_conv_algo order, the
 * directions in eos_conv_dir order; the index of w among words[from..n), -1 if absent; one line
 * "device N C H W K R stride pad dir algo" (2), or of the files before v10, "device N C H W K R
 * stride pad algo" (1, *dir -1), 0 when neither. */
#define EOS__CONV_NALGO 7
#define EOS__CONV_NDIR 3
extern const char *const eos__conv_algo_words[EOS__CONV_NALGO];
extern const char *const eos__conv_dir_words[EOS__CONV_NDIR];
int eos__conv_word_index(const char *w, const char *const *words, int n, int from);
int eos__conv_parse_choice_line(const char *line, char dev[700], int k[8], int *dir, int *algo);

/* The runtime's insides (opaque to users, shared by the host files). */
#define EOS__MAX_PROGRAMS 64
typedef struct eos__kernel_entry {
    char program[64];
    char name[64];
    cl_kernel kernel;
    /* CL_KERNEL_WORK_GROUP_SIZE and CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE, read at the
     * kernel's first GPU-path launch (wg_known) and kept: they never change for a built kernel */
    size_t wg_size, wg_mult;
    int wg_known;
} eos__kernel_entry;

struct eos_runtime {
    eos_device_info dev;
    cl_context ctx;
    cl_command_queue queue;      /* in-order, profiling enabled */
    char options[1024];          /* build options for every program on this device */
    char cache_dir[1024];        /* "" when the cache is off */
    struct {
        char name[64];
        cl_program program;
    } programs[EOS__MAX_PROGRAMS];
    size_t nprograms;
    eos__kernel_entry *kernels;
    size_t nkernels, cap_kernels;
    size_t kernel_last;          /* the entry eos_runtime_kernel found last (launches look it up) */
    unsigned long wg_queries;    /* kernels whose work-group limits were read (tests: once each) */
    eos_runtime_stats stats;
    int gemm_ready;              /* CLBlast parameters for this device applied */
    size_t reduce_local_force;   /* tests: work-items per reduction group (0: chosen per device) */
    int gpu_paths;               /* eos__gpu_paths: device is a GPU or EOS_GPU_PATHS=1 */
    size_t max_loop_trips;       /* eos__loop_cap: loop trips one work-item may run per launch,
                                  * 0 = unlimited (tests set it small to exercise the splits) */
    /* --sync-bn under mpirun (host/runtime/dist.c): set by training around each step. rows: this rank's
     * images, rows_total: the global batch's; on: batch norm's training passes merge their
     * per-channel sums across ranks (host/nn/batchnorm.c) */
    struct {
        int on, rows, rows_total;
    } bn_sync;
    size_t reduce_chunks_force;  /* tests: chunks per channel of the two-stage reductions on every
                                  * path (0: eos__reduce_chunks' choice) */
    eos_tensor reduce_part;      /* the two-stage reductions' partials, grown on demand (the queue
                                  * is in order, so one buffer serves every call) */
    /* convolution algorithms (host/nn/conv.c): the table of choices per (shape, batch, direction)
     * and the per-shape timing rows are the conv module's own (eos__conv_choices_free frees
     * them); conv_force set by eos_runtime_set_conv_algo, conv_batch by eos__conv_set_choice_batch */
    struct eos__conv_choices *conv_choices;
    void (*conv_choices_free)(eos_runtime_t rt);  /* set with conv_choices: eos_runtime_free calls
                                                   * it, the runtime never calls up into nn */
    int conv_force, conv_batch;
    /* eos__runtime_dist_split: phases 2-3 share their query rows among the MPI ranks */
    int dist_split;
    /* event profiling (eos_runtime_profile_start): device seconds and calls per kernel name */
    int ev_prof, nev;
    struct {
        const char *name;
        double seconds;
        long calls;
    } ev[96];
    /* while an op has a timing row of its own open (host/nn/conv.c: per shape and direction),
     * that row's seconds: eos__prof_seconds adds every launch's time there too; NULL when none.
     * prof_session counts eos_runtime_profile_start's calls: an op's rows of an older one are
     * dropped */
    double *prof_scope;
    unsigned prof_session;
    /* host/sampling/oversample.c: eos_resample_set_host_rows, and the last call's split (seconds) */
    int resample_host_rows;
    eos_resample_timing resample_timing;
};
/* With event profiling on, wait for ev, add its device time to name's row and release it;
 * nothing when ev is NULL. Launchers pass an event only when rt->ev_prof is set. */
void eos__prof_event(eos_runtime_t rt, const char *name, cl_event ev);
/* The same with seconds measured by the caller (CLBlast, several kernels per call: clFinish
 * around the call while event profiling is on). */
void eos__prof_seconds(eos_runtime_t rt, const char *name, double seconds);

/* The convolution choices used on rt (host/nn/conv.c), "N C H W K R stride pad dir algo;..." with
 * dir fwd, dx or dw, for checkpoints; import puts such a list back, where it wins over
 * conv-algos.txt, so a resumed run uses the algorithms the interrupted one used. A list from
 * before the direction joined the key ("0 C H W K R stride pad algo;") gives its algorithm to
 * all three directions at every batch size, as it ran then. NULL or bad entries are ignored;
 * only running out of memory fails. */
typedef struct eos__conv_choices eos__conv_choices;
void eos__conv_choices_export(eos_runtime_t rt, char *buf, size_t n);
eos_status eos__conv_choices_import(eos_runtime_t rt, const char *list);
void eos__conv_choices_free(eos_runtime_t rt);
/* The batch size the choices are made and looked up for (0: each call's own N), returning the
 * previous one. Training and prediction set their full batch, so the partial last batch takes
 * the full one's choice instead of timing its own: a training run's choices are all made in its
 * first step, which keeps resumed runs bit-identical. */
int eos__conv_set_choice_batch(eos_runtime_t rt, int n);
/* Data parallel (host/runtime/dist.c): every learnable gradient of m times weight (this rank's share of
 * the global batch), summed over the ranks in place: the global batch's mean gradient. */
eos_status eos__resnet_grads_allreduce(eos_resnet_t m, float weight);
/* Data parallel: rank 0's batch-norm running statistics (every entry that is not learnable) on
 * every rank, so that every rank ends a run with the model rank 0 saves. */
eos_status eos__resnet_state_bcast(eos_resnet_t m);
/* Winograd's 16 products: -1 by device type (the default), 0 CLBlast, 1 our panel kernels; for
 * the tests (both paths on any device) and comparisons. Process-wide. */
void eos__conv_set_wino_gemm(int mode);
/* Whether winograd runs its fused kernel (cl/conv_direct.cl eos_wino_w32/16/8) on rt for an H x W
 * plane of Ci input and Ko output channels: the panel GEMMs' side, rows of 32, 16 or 8, H a
 * multiple of a block's rows, local memory for Ci + 16 KiB and a loop-trip cap that allows it. */
int eos__conv_wino_fused(eos_runtime_t rt, int H, int W, int Ci, int Ko);

/* The tiled algorithm (host/nn/conv_tiled.c, cl/conv_tiled.cl): local-memory tiled implicit GEMMs
 * with 2-D work-groups, GPU-shaped. Each checks nothing but what it adds (conv.c checks the
 * shape and the tensors). dw writes dw only (db is conv.c's channel sum) and keeps its partial
 * sums in ws->part. usable: the smaller variant fits the device (work-group size, local
 * memory); set_variant: -1 by device (the default), 0 the small work-group, 1 the large one
 * (tests run both on any device). */
eos_status eos__conv_tiled_forward(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *x,
                                   const eos_tensor *w, const eos_tensor *b, eos_tensor *y);
eos_status eos__conv_tiled_dx(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *w, const eos_tensor *dy,
                              eos_tensor *dx);
eos_status eos__conv_tiled_dw(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *x, const eos_tensor *dy,
                              eos_tensor *dw, eos_workspace *ws);
int eos__conv_tiled_usable(eos_runtime_t rt);
void eos__conv_set_tiled_variant(int mode);

/* Inference's convolution with its batch norm folded in (host/nn/conv.c): with scale = gamma /
 * sqrt(running_var + eps) and shift = beta - running_mean scale (written to the scratch shift, K),
 * y = conv(x, w scale) + shift (+ res) (then max(., 0) when relu) in one pass where the forward
 * runs direct, direct16 or fused winograd (*fused 1); elsewhere nothing runs (*fused 0). */
eos_status eos__conv2d_forward_fused(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *x,
                                     const eos_tensor *w, const eos_tensor *gamma, const eos_tensor *beta,
                                     const eos_tensor *running_mean, const eos_tensor *running_var, float eps,
                                     eos_tensor *shift, const eos_tensor *res, int relu, eos_tensor *y,
                                     eos_workspace *ws, int *fused);
/* eos_conv2d_backward without a bias gradient and with dx = the data gradient + add (like dx): a
 * residual's two gradients summed in the data gradient's stores where its algorithm has the
 * epilogue (direct and direct16 at stride 1, fused winograd), else by eos_add_inplace. */
eos_status eos__conv2d_backward_add(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *x,
                                    const eos_tensor *w, const eos_tensor *dy, eos_tensor *dx, eos_tensor *dw,
                                    const eos_tensor *add, eos_workspace *ws);
/* The batch norm (with ReLU) whose output gradient a convolution's data gradient is: y the ReLU's
 * output (the mask), x the batch norm's input, mean its batch mean (C). eos__conv2d_backward_bn
 * sets fused, and where it is 1, part (C, P, 2) = (sum d (x - mean), sum d) per unit in the
 * runtime's reduction scratch, for eos__batchnorm_relu_backward_part. */
typedef struct {
    const eos_tensor *y, *x, *mean;
    cl_mem part;
    int P, fused;
} eos__bn_backward_sums;
/* eos__conv2d_backward_add (add may be NULL) that also takes, where the data gradient runs fused
 * winograd, the sums of bn's backward in its stores, with dx masked by bn->y > 0 as they are
 * stored (bn->fused 1); elsewhere dx as eos__conv2d_backward_add leaves it (bn->fused 0). */
eos_status eos__conv2d_backward_bn(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *x,
                                   const eos_tensor *w, const eos_tensor *dy, eos_tensor *dx, eos_tensor *dw,
                                   const eos_tensor *add, eos__bn_backward_sums *bn, eos_workspace *ws);
/* the batch norm's sums in the data gradient's stores: -1 where they pay (the default), 0 never,
 * 1 wherever fused winograd runs the data gradient (the tests) */
void eos__conv_set_bn_sums(int mode);
/* whether the kernels are built with EOS_PREFETCH (host/runtime/runtime.c) */
int eos__runtime_prefetches(eos_runtime_t rt);
/* eos_batchnorm_relu_backward with dy already masked and the sums' partials (C, P, 2) already
 * taken (host/nn/batchnorm.c): merged in order, then the apply */
eos_status eos__batchnorm_relu_backward_part(eos_runtime_t rt, int N, int C, int HW, const eos_tensor *dy,
                                             const eos_tensor *x, const eos_tensor *mean, const eos_tensor *invstd,
                                             const eos_tensor *gamma, eos_tensor *dx, eos_tensor *dgamma,
                                             eos_tensor *dbeta, cl_mem part, int P);
/* Training's convolution with its batch norm's statistics (host/nn/conv.c): where the forward
 * runs direct, direct16 or fused winograd (*fused 1), y and part (K, *P, 3) = (count, mean, M2)
 * per unit (an output row or row pair; for winograd a block of 16 tiles), in the runtime's
 * reduction scratch, for eos__batchnorm_forward_train_part; elsewhere nothing runs (*fused 0). */
eos_status eos__conv2d_forward_stats(eos_runtime_t rt, const eos_conv_shape *s, const eos_tensor *x,
                                     const eos_tensor *w, eos_tensor *y, eos_workspace *ws, cl_mem *part, int *P,
                                     int *fused);
/* eos_batchnorm_forward_train with the statistics' partials (C, P, 3) already taken
 * (host/nn/batchnorm.c): merged in order, then the running estimates and the apply */
eos_status eos__batchnorm_forward_train_part(eos_runtime_t rt, int N, int C, int HW, const eos_tensor *x,
                                             const eos_tensor *gamma, const eos_tensor *beta,
                                             eos_tensor *running_mean, eos_tensor *running_var, eos_tensor *mean,
                                             eos_tensor *invstd, const eos_tensor *residual, int relu,
                                             float momentum, float eps, cl_mem part, int P, eos_tensor *y);
/* EOS_BN_FUSE unset or 1 (host/nn/batchnorm.c): batch norm fused with its neighbours */
int eos__bn_fuse(void);

/* Called by eos_runtime_free before the context goes: drops CLBlast's cached programs. */
void eos__gemm_release(eos_runtime_t rt);

/* Whole-file read (inflating gzip when gz is set), refusing more than max_bytes. */
eos_status eos__read_file(const char *path, int gz, size_t max_bytes, uint8_t **buf, size_t *size);

/* Atomic file writes: write through a->f, then commit (fsync + rename) or abort. */
typedef struct eos__atomic_file {
    FILE *f;
    char path[4096];
    char tmp[4200];
} eos__atomic_file;
eos_status eos__atomic_open(eos__atomic_file *a, const char *path);
eos_status eos__atomic_commit(eos__atomic_file *a);
void eos__atomic_abort(eos__atomic_file *a);

/* fopen for "r", "rb" or "a" that opens only a regular file (for "a", creates one if none is
 * there) and never blocks: a FIFO, device, socket or folder gives NULL with errno EINVAL;
 * nothing there gives NULL with errno ENOENT (reading). For the cache folder's files, where
 * a FIFO once hung `eos check` forever. */
FILE *eos__fopen_regular(const char *path, const char *mode);

/* EOS_PROFILE=1 bookkeeping (host/runtime/runtime.c): add wall seconds to a named row. */
void eos__profile_add(const char *name, double seconds);
/* EOS_PROFILE=1 is set (read once); the same test for every profiled call */
int eos__profile_on(void);

/* The device memory the tensor allocator allows (host/runtime/tensor.c): the device's global memory and
 * largest allocation, each capped by EOS_MEM_LIMIT (MiB) when that is set. */
void eos__device_memory(eos_runtime_t rt, unsigned long long *global, unsigned long long *max_alloc);
/* EOS_MEM_LIMIT's text (NULL or "": no limit) to bytes; 0 when it is not a whole number of MiB
 * below EOS__MEM_LIMIT_MAX_MIB (host/runtime/tensor.c). */
#define EOS__MEM_LIMIT_MAX_MIB (1ull << 40)
int eos__mem_limit_parse(const char *text, unsigned long long *bytes);

/* Monotonic wall clock in seconds. */
double eos__now(void);

/* Kernel arguments: EOS_ARG(lvalue) passes a value, EOS_LOCAL(bytes) local memory. */
typedef struct eos__arg {
    size_t size;
    const void *ptr;
} eos__arg;
#define EOS_ARG(x) ((eos__arg){sizeof(x), &(x)})
#define EOS_LOCAL(bytes) ((eos__arg){(bytes), NULL})
#define EOS_NARGS(a) (sizeof(a) / sizeof((a)[0]))

/* Set the arguments of program:kernel and run it over n items (1-d). */
eos_status eos__run_1d(eos_runtime_t rt, const char *program, const char *kernel, size_t n, const eos__arg *args,
                       size_t nargs);
/* The same over `groups` work-groups of the reduction size each (eos__reduce_local: no
 * wider than `width`, the most work-items of one group that have values to read, where the
 * device allows); the kernel's last argument is local memory of that many floats, appended here. */
eos_status eos__run_groups(eos_runtime_t rt, const char *program, const char *kernel, size_t groups, size_t width,
                           const eos__arg *args, size_t nargs);
/* Work-items per reduction group of kernel k when `width` of them have values to read (1 on
 * CPUs; runtime.c says how it is chosen) */
size_t eos__reduce_local(eos_runtime_t rt, cl_kernel k, size_t width);

/* A dims-d range (dims 1..3) of global[] work-items: one work-item per work-group on the CPU
 * paths (what PoCL runs fastest for the float8-tiled kernels); on the GPU paths groups chosen
 * by eos__group_shape and every dimension rounded up to a multiple of its group size, so the
 * kernel must return early for an index at or past global[d] in every dimension d. */
eos_status eos__run_nd(eos_runtime_t rt, const char *program, const char *kernel, unsigned dims, const size_t *global,
                       const eos__arg *args, size_t nargs);
/* The same with the caller's local size (local[d] divides global[d]), for kernels written for one
 * work-group shape (local-memory tiles, barriers): the GPU-shaped paths. */
eos_status eos__run_nd_local(eos_runtime_t rt, const char *program, const char *kernel, unsigned dims,
                             const size_t *global, const size_t *local, const eos__arg *args, size_t nargs);

/* Check that a tensor holds at least n elements. */
eos_status eos__need(const eos_tensor *t, size_t n, const char *what);

/* Launch a 1-d kernel over n items (on the GPU paths the global size rounded up to the group
 * of eos__group_shape; kernels bounds-check against n themselves). */
eos_status eos__launch_1d(eos_runtime_t rt, cl_kernel k, size_t n, const char *what);
/* The work-group shape of a dims-d launch of k over global[] and the global size rounded up to
 * it (rounded[d] >= global[d]): groups of one and no rounding on the CPU paths, else a size
 * from the kernel's and the device's limits (host/runtime/runtime.c says why those). */
void eos__group_shape(eos_runtime_t rt, cl_kernel k, unsigned dims, const size_t *global, size_t *local,
                      size_t *rounded);
/* 1 when the kernels' GPU-shaped paths are to be taken: on GPUs, and on any device with
 * EOS_GPU_PATHS=1 (so the CPU implementations in CI run the code a GPU would run). Every
 * place that chooses between a CPU-shaped and a GPU-shaped path asks this, never dev.type. */
int eos__gpu_paths(eos_runtime_t rt);
/* The most loop trips (all loops of one work-item together, nested ones included) one kernel
 * invocation may run on this device, 0 when unlimited. Mesa's llvmpipe (rusticl, Mesa 22)
 * silently ends every loop of an invocation after 65535 trips in total (gallivm's loop
 * limiter), so kernels whose per-work-item loops grow with the problem split their work over
 * launches when this is set. EOS_MAX_LOOP_TRIPS=n overrides it (a test hook). */
size_t eos__loop_cap(eos_runtime_t rt);

/* Per-channel reductions over M values in two stages (host/nn/batchnorm.c): the chunks per
 * channel, 0 for the one-stage kernel (CPU paths; GPU paths when one chunk would do), and a
 * buffer of at least n floats for the partials (rt->reduce_part). */
int eos__reduce_chunks(eos_runtime_t rt, size_t channels, size_t per_channel);
eos_status eos__reduce_partials(eos_runtime_t rt, size_t n, cl_mem *buf);
/* out[c] = sum over n, s of x (N, C, S) (bias gradients): cl/elementwise.cl's eos_channel_sum,
 * in two stages where eos__reduce_chunks says so */
eos_status eos__channel_sum(eos_runtime_t rt, const eos_tensor *x, eos_tensor *out, int N, int C, int S);

#endif /* EOS_INTERNAL_H */
