/* OpenCL runtime: device enumeration and choice, one context + in-order queue per runtime,
 * and kernel programs built from the embedded cl/ sources with an on-disk binary cache. */
#ifndef EOS_RUNTIME_H
#define EOS_RUNTIME_H

#include "eos/status.h"

/* The OpenCL API level EOS-CL is written against (its kernels are OpenCL C 1.2). Set here so
 * that a program including eos/eos.h needs no flag; a program that chose its own level first
 * keeps it (the 1.2 calls are declared at every later level too). */
#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Usage:
 *     eos_runtime_t rt;
 *     if (eos_runtime_init(&rt, "gpu") != EOS_OK) { puts(eos_last_error_message()); ... }
 *     cl_kernel k;
 *     eos_runtime_kernel(rt, "elementwise.cl", "eos_fill", &k);   // built once, then cached
 *     ...
 *     eos_runtime_free(rt);
 *
 * Device specs (the CLI's --device, or EOS_DEVICE when the spec is NULL):
 *     "0", "1", ...  the index printed by eos_devices_list / `eos devices`
 *     "cpu", "gpu"   the first device of that type
 *     any other text the first device whose name contains it (case-insensitive)
 *     NULL or ""     the first GPU, else the first CPU, else the first device
 *
 * Kernel cache: built program binaries are stored in $EOS_CACHE_DIR, else
 * $XDG_CACHE_HOME/eos-cl, else ~/.cache/eos-cl, keyed by platform, device, driver version,
 * source hash and build options. EOS_CACHE_DIR=off disables it. A corrupt or stale entry is
 * rebuilt from source. EOS_KERNEL_DIR=path loads cl/ sources from disk instead of the copies
 * embedded at build time. A runtime is not thread-safe; use one per thread. */

typedef enum { EOS_DEVICE_CPU = 1, EOS_DEVICE_GPU = 2, EOS_DEVICE_OTHER = 4 } eos_device_type;

typedef struct eos_device_info {
    int index;                        /* position in eos_devices_list's order */
    cl_platform_id platform;
    cl_device_id device;
    eos_device_type type;
    char platform_name[128];
    char platform_version[128];
    char name[256];
    char vendor[128];
    char driver_version[128];
    char device_version[128];         /* "OpenCL 3.0 ..." */
    char opencl_c_version[128];       /* "OpenCL C 1.2 ..." */
    unsigned compute_units;
    unsigned clock_mhz;
    unsigned long long global_mem_bytes;
    unsigned long long max_alloc_bytes;
    unsigned long long local_mem_bytes;
    size_t max_work_group_size;
    size_t max_work_item_sizes[3];
} eos_device_info;

/* Every device of every platform, in platform order then device order. The array is
 * malloc'd; release it with eos_devices_free. Fails with EOS_ERR_NO_PLATFORM when there is
 * none. */
eos_status eos_devices_list(eos_device_info **devices, int *count);
void eos_devices_free(eos_device_info *devices);

/* Resolve a device spec (see above) against a list. On no match: EOS_ERR_NO_DEVICE with a
 * message that lists the devices. */
eos_status eos_device_select(const eos_device_info *devices, int count, const char *spec,
                             int *index);

/* "CPU", "GPU" or "other". */
const char *eos_device_type_str(eos_device_type type);

typedef struct eos_runtime *eos_runtime_t;

/* Open the device named by spec (NULL: $EOS_DEVICE, else the default). */
eos_status eos_runtime_init(eos_runtime_t *rt, const char *spec);
void eos_runtime_free(eos_runtime_t rt);

const eos_device_info *eos_runtime_device(eos_runtime_t rt);
cl_context eos_runtime_context(eos_runtime_t rt);
cl_command_queue eos_runtime_queue(eos_runtime_t rt);

/* Wait for all work queued on the runtime. */
eos_status eos_runtime_finish(eos_runtime_t rt);

/* A kernel from a program in cl/ ("elementwise.cl"). The program is built on first use (or
 * loaded from the cache) and the kernel object is owned by the runtime. */
eos_status eos_runtime_kernel(eos_runtime_t rt, const char *program, const char *kernel,
                              cl_kernel *out);

/* Build (or load from the cache) every program in cl/. */
eos_status eos_runtime_build_all(eos_runtime_t rt);

/* The build options every program on this device gets ("-cl-std=CL1.2 -DEOS_CPU=1 ..."). */
const char *eos_runtime_build_options(eos_runtime_t rt);

/* The kernel cache folder in use ("" when the cache is off). */
const char *eos_runtime_cache_dir(eos_runtime_t rt);

/* 1 when the runtime takes the GPU-shaped kernels and launch shapes: on a GPU, or on any
 * device with EOS_GPU_PATHS=1 (as CI does on its CPU device); 0 on the CPU-shaped paths. */
int eos_runtime_gpu_paths(eos_runtime_t rt);

/* Resolve the cache folder from the environment without opening a device ("" when off). */
eos_status eos_cache_dir_default(char *buf, size_t size);

/* What the file `name` of the cache folder `dir` is, judged by its name and its content, for
 * `eos cache --clear`, which deletes only the cache's own files: OTHER (a name the cache never
 * uses, or nothing there), ENTRY (a program entry carrying the cache's header: magic number and
 * version), CONV_ALGOS (conv-algos.txt carrying the cache's first-line marker, or only
 * well-formed lines) or FOREIGN (named like one of those but not the cache's: other content,
 * or not a regular file). Reads a few KiB at most; never blocks on a FIFO. */
typedef enum eos_cache_file_kind {
    EOS_CACHE_FILE_OTHER,
    EOS_CACHE_FILE_ENTRY,
    EOS_CACHE_FILE_CONV_ALGOS,
    EOS_CACHE_FILE_FOREIGN
} eos_cache_file_kind;
eos_cache_file_kind eos_cache_file_classify(const char *dir, const char *name);

/* Check the EOS_* settings of the environment (EOS_MEM_LIMIT, EOS_LOG, EOS_CONV_ALGO,
 * EOS_KNN_ALGO, EOS_BN_PATH, EOS_BN_FUSE, EOS_PROFILE, EOS_CLBLAST_TUNED, EOS_CONV_VERBOSE,
 * EOS_GPU_PATHS):
 * a value that would be ignored is EOS_ERR_INVALID_ARG, the message naming the variable, its value
 * and what is expected. eos_runtime_init calls it; the CLI calls it before any command. */
eos_status eos_env_check(void);

typedef struct eos_runtime_stats {
    unsigned programs_built;   /* compiled from source */
    unsigned cache_hits;       /* loaded from a cached binary */
    unsigned cache_rejected;   /* cached entries found corrupt or stale and rebuilt */
    unsigned cache_writes;     /* binaries written to the cache */
    double build_seconds;      /* wall time spent building or loading programs */
    size_t bytes_allocated;    /* device memory held by live tensors */
    size_t bytes_peak;         /* the most ever held at once */
    /* bytes copied host -> device and device -> host since eos_runtime_init, counted at the
     * copy helpers (eos_tensor_upload / _download, the cross-entropy's labels and losses); the
     * network's own image, logit and other losses' copies are not counted */
    unsigned long long bytes_to_device, bytes_from_device;
} eos_runtime_stats;

eos_runtime_stats eos_runtime_get_stats(eos_runtime_t rt);

/* Device-side kernel times from OpenCL events (for benchmarks: every launch waits for its event
 * while this is on). start clears the table; read copies up to max rows (name, device seconds,
 * calls) of what ran since; stop turns it off. Names are the kernels' (CLBlast's as "gemm ..."). */
typedef struct eos_kernel_time {
    const char *name;
    double seconds;
    long calls;
} eos_kernel_time;
void eos_runtime_profile_start(eos_runtime_t rt);
size_t eos_runtime_profile_read(eos_runtime_t rt, eos_kernel_time *out, size_t max);
void eos_runtime_profile_stop(eos_runtime_t rt);

/* The device's single-precision multiply-add peak, measured, not assumed (host/runtime/peak.c,
 * cl/peak.cl): for each of four kernels (8 independent chains of float16, float8, float4 or float
 * multiply-adds per work-item, 8 work-groups per compute unit) the output is checked against its
 * closed form first, then `runs` launches of about `seconds` each are timed with OpenCL events;
 * gflops is the best kernel's median (2 FLOPs per multiply-add). fastest_gflops is the fastest
 * single launch: other work on the device only ever slows a launch, so on a shared machine it is
 * the closer estimate of what the hardware can do. Fails with EOS_ERR_NUMERIC when a kernel's
 * output is wrong, EOS_ERR_INVALID_ARG when runs < 1 or seconds <= 0. */
typedef struct eos_peak {
    double gflops;               /* the best variant's median */
    const char *variant;         /* its name: "float16", "float8", "float4" or "float1" */
    const char *names[4];        /* "float16", "float8", "float4", "float1" */
    double variant_gflops[4];    /* each variant's median, in that order */
    double fastest_gflops;       /* the fastest launch of any variant */
    double seconds;              /* device seconds of one launch of the best variant (median) */
    int runs;                    /* timed launches per variant */
    size_t work_items, local_size;
} eos_peak;
eos_status eos_peak_measure(eos_runtime_t rt, int runs, double seconds, eos_peak *out);

/* Names of the programs compiled into this binary, for listings and tests. */
size_t eos_program_count(void);
const char *eos_program_name(size_t i);

#ifdef __cplusplus
}
#endif
#endif /* EOS_RUNTIME_H */
