/* OpenCL runtime: enumerate devices, resolve a --device spec, open a context and queue, and
 * build kernel programs (from the embedded cl/ sources or EOS_KERNEL_DIR) through the
 * on-disk binary cache of host/runtime/program_cache.c. */
#include "dist.h"
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#ifndef CL_PLATFORM_NOT_FOUND_KHR
#define CL_PLATFORM_NOT_FOUND_KHR -1001  /* cl_khr_icd: the loader found no driver */
#endif

double eos__now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

const char *eos_device_type_str(eos_device_type t) {
    return t == EOS_DEVICE_GPU ? "GPU" : t == EOS_DEVICE_CPU ? "CPU" : "other";
}

/* ---- enumeration -------------------------------------------------------------------- */

static void dev_str(cl_device_id d, cl_device_info what, char *buf, size_t n) {
    buf[0] = 0;
    if (clGetDeviceInfo(d, what, n, buf, NULL) != CL_SUCCESS) snprintf(buf, n, "?");
    buf[n - 1] = 0;
    /* some drivers pad names with spaces */
    size_t len = strlen(buf);
    while (len && isspace((unsigned char)buf[len - 1])) buf[--len] = 0;
}

static void fill_info(eos_device_info *info, cl_platform_id p, cl_device_id d, int index) {
    memset(info, 0, sizeof *info);
    info->index = index;
    info->platform = p;
    info->device = d;
    if (clGetPlatformInfo(p, CL_PLATFORM_NAME, sizeof info->platform_name, info->platform_name, NULL) != CL_SUCCESS)
        snprintf(info->platform_name, sizeof info->platform_name, "?");
    if (clGetPlatformInfo(p, CL_PLATFORM_VERSION, sizeof info->platform_version, info->platform_version, NULL) != CL_SUCCESS)
        snprintf(info->platform_version, sizeof info->platform_version, "?");
    dev_str(d, CL_DEVICE_NAME, info->name, sizeof info->name);
    dev_str(d, CL_DEVICE_VENDOR, info->vendor, sizeof info->vendor);
    dev_str(d, CL_DRIVER_VERSION, info->driver_version, sizeof info->driver_version);
    dev_str(d, CL_DEVICE_VERSION, info->device_version, sizeof info->device_version);
    dev_str(d, CL_DEVICE_OPENCL_C_VERSION, info->opencl_c_version, sizeof info->opencl_c_version);
    cl_device_type type = 0;
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof type, &type, NULL);
    info->type = (type & CL_DEVICE_TYPE_GPU) ? EOS_DEVICE_GPU
               : (type & CL_DEVICE_TYPE_CPU) ? EOS_DEVICE_CPU : EOS_DEVICE_OTHER;
    cl_uint u = 0;
    cl_ulong ul = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof u, &u, NULL) == CL_SUCCESS) info->compute_units = u;
    if (clGetDeviceInfo(d, CL_DEVICE_MAX_CLOCK_FREQUENCY, sizeof u, &u, NULL) == CL_SUCCESS) info->clock_mhz = u;
    if (clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof ul, &ul, NULL) == CL_SUCCESS) info->global_mem_bytes = ul;
    if (clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof ul, &ul, NULL) == CL_SUCCESS) info->max_alloc_bytes = ul;
    if (clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof ul, &ul, NULL) == CL_SUCCESS) info->local_mem_bytes = ul;
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof info->max_work_group_size, &info->max_work_group_size, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_ITEM_SIZES, sizeof info->max_work_item_sizes, info->max_work_item_sizes, NULL);
}

eos_status eos_devices_list(eos_device_info **out, int *count) {
    *out = NULL;
    *count = 0;
    cl_uint np = 0;
    cl_int err = clGetPlatformIDs(0, NULL, &np);
    if (err == CL_PLATFORM_NOT_FOUND_KHR || (err == CL_SUCCESS && np == 0))
        EOS_FAIL(EOS_ERR_NO_PLATFORM, eos__status_hint(CL_PLATFORM_NOT_FOUND_KHR),
                 "no OpenCL platform found (the ICD loader found no installed driver)");
    EOS_CL_CHECK(err, "listing OpenCL platforms");
    cl_platform_id *plats = calloc(np, sizeof *plats);
    if (!plats) EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "allocating %u platform ids", np);
    err = clGetPlatformIDs(np, plats, NULL);
    if (err != CL_SUCCESS) {
        free(plats);
        EOS_CL_CHECK(err, "listing OpenCL platforms");
    }
    eos_device_info *devs = NULL;
    int n = 0;
    for (cl_uint p = 0; p < np; p++) {
        cl_uint nd = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd) != CL_SUCCESS || nd == 0)
            continue;  /* a platform without devices is not an error */
        cl_device_id *ids = calloc(nd, sizeof *ids);
        eos_device_info *grown = realloc(devs, (size_t)(n + (int)nd) * sizeof *devs);
        if (!ids || !grown) {
            free(ids);
            free(grown ? grown : devs);
            free(plats);
            EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "allocating the device list");
        }
        devs = grown;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, nd, ids, NULL) == CL_SUCCESS)
            for (cl_uint d = 0; d < nd; d++, n++) fill_info(&devs[n], plats[p], ids[d], n);
        free(ids);
    }
    free(plats);
    if (n == 0) {
        free(devs);
        EOS_FAIL(EOS_ERR_NO_PLATFORM, eos__status_hint(CL_PLATFORM_NOT_FOUND_KHR),
                 "%u OpenCL platform(s) found, but none has a device", np);
    }
    *out = devs;
    *count = n;
    return EOS_OK;
}

void eos_devices_free(eos_device_info *devices) { free(devices); }

static int contains_nocase(const char *hay, const char *needle) {
    size_t hn = strlen(hay), nn = strlen(needle);
    for (size_t i = 0; i + nn <= hn; i++)
        if (!strncasecmp(hay + i, needle, nn)) return 1;
    return 0;
}

/* source: how the message names where spec came from ("--device" or "EOS_DEVICE") */
static eos_status device_select(const eos_device_info *devs, int count, const char *spec, const char *source,
                                int *index) {
    *index = -1;
    if (!spec || !spec[0]) {
        for (int i = 0; i < count && *index < 0; i++) if (devs[i].type == EOS_DEVICE_GPU) *index = i;
        for (int i = 0; i < count && *index < 0; i++) if (devs[i].type == EOS_DEVICE_CPU) *index = i;
        if (*index < 0 && count > 0) *index = 0;
    } else {
        int digits = 1;
        for (const char *c = spec; *c; c++) digits &= isdigit((unsigned char)*c) != 0;
        if (digits) {
            long v = strtol(spec, NULL, 10);
            if (v >= 0 && v < count) *index = (int)v;
        } else if (!strcasecmp(spec, "cpu") || !strcasecmp(spec, "gpu")) {
            eos_device_type want = !strcasecmp(spec, "cpu") ? EOS_DEVICE_CPU : EOS_DEVICE_GPU;
            for (int i = 0; i < count && *index < 0; i++) if (devs[i].type == want) *index = i;
        } else {
            for (int i = 0; i < count && *index < 0; i++) if (contains_nocase(devs[i].name, spec)) *index = i;
        }
    }
    if (*index >= 0) return EOS_OK;

    char list[4096];
    size_t off = 0;
    for (int i = 0; i < count && off < sizeof list; i++) {
        int w = snprintf(list + off, sizeof list - off, "\n    %d  %-5s %s (%s)", i,
                         eos_device_type_str(devs[i].type), devs[i].name, devs[i].platform_name);
        if (w < 0) break;
        off += (size_t)w;
    }
    EOS_FAIL(EOS_ERR_NO_DEVICE,
             "give an index, 'cpu', 'gpu' or part of a device name; `eos devices` lists them",
             "no OpenCL device matches %s%s'%s'%s. Devices found:%s", source, strcmp(source, "--device") ? "=" : " ",
             spec ? spec : "", strcmp(source, "--device") ? " (from the environment)" : "", list);
}

eos_status eos_device_select(const eos_device_info *devs, int count, const char *spec, int *index) {
    return device_select(devs, count, spec, "--device", index);
}

/* ---- runtime ------------------------------------------------------------------------ */

static int parse_cl_c_version(const char *s, int *major, int *minor) {
    const char *p = strstr(s, "OpenCL C ");
    return p && sscanf(p + 9, "%d.%d", major, minor) == 2;
}

/* Build options per device. Tuning knobs in the cl/ folder are #ifndef-defaulted macros; this table
 * is the one place that sets them per device type. */
static const struct {
    eos_device_type type;
    const char *options;
} k_device_options[] = {
    {EOS_DEVICE_CPU, "-DEOS_DEVICE_CPU=1"},
    {EOS_DEVICE_GPU, "-DEOS_DEVICE_GPU=1"},
    {EOS_DEVICE_OTHER, "-DEOS_DEVICE_OTHER=1"},
};

/* PoCL's CPU device: its compiler (clang, to x86) takes __builtin_prefetch, which the kernels use
 * under EOS_PREFETCH for reads the hardware prefetchers miss (cl/conv_direct.cl) */
int eos__runtime_prefetches(eos_runtime_t rt) {
    return rt->dev.type == EOS_DEVICE_CPU && strstr(rt->dev.platform_name, "Portable Computing Language") != NULL;
}

static void make_build_options(eos_runtime_t rt) {
    const eos_device_info *d = &rt->dev;
    int major = 1, minor = 0;
    size_t off = 0;
    char *o = rt->options;
    size_t n = sizeof rt->options;
    if (parse_cl_c_version(d->opencl_c_version, &major, &minor) && (major > 1 || minor >= 2))
        off += (size_t)snprintf(o + off, n - off, "-cl-std=CL1.2 ");
    for (size_t i = 0; i < sizeof k_device_options / sizeof k_device_options[0]; i++)
        if (k_device_options[i].type == d->type)
            off += (size_t)snprintf(o + off, n - off, "%s ", k_device_options[i].options);
    if (eos__runtime_prefetches(rt)) off += (size_t)snprintf(o + off, n - off, "-DEOS_PREFETCH=1 ");
    off += (size_t)snprintf(o + off, n - off, "-DEOS_MAX_WG=%zu", d->max_work_group_size);
    const char *extra = getenv("EOS_CL_OPTIONS");
    if (extra && extra[0] && off < n) snprintf(o + off, n - off, " %s", extra);
}

eos_status eos_cache_dir_default(char *buf, size_t size) {
    const char *env = getenv("EOS_CACHE_DIR");
    int w;
    if (env && !strcasecmp(env, "off")) w = snprintf(buf, size, "%s", "");
    else if (env && env[0]) w = snprintf(buf, size, "%s", env);
    else if (getenv("XDG_CACHE_HOME") && getenv("XDG_CACHE_HOME")[0])
        w = snprintf(buf, size, "%s/eos-cl", getenv("XDG_CACHE_HOME"));
    else if (getenv("HOME") && getenv("HOME")[0])
        w = snprintf(buf, size, "%s/.cache/eos-cl", getenv("HOME"));
    else w = snprintf(buf, size, "%s", "");  /* nowhere to put it: run without a cache */
    if (w < 0 || (size_t)w >= size)
        EOS_FAIL(EOS_ERR_INVALID_ARG, "use a shorter EOS_CACHE_DIR", "kernel cache path is too long");
    return EOS_OK;
}

/* An environment variable whose value is one word of a list: "" or unset is the default. */
static eos_status env_word(const char *name, const char *const *words, int nocase, const char *expected) {
    const char *v = getenv(name);
    if (!v || !v[0]) return EOS_OK;
    for (; *words; words++)
        if (nocase ? !strcasecmp(v, *words) : !strcmp(v, *words)) return EOS_OK;
    EOS_FAIL(EOS_ERR_INVALID_ARG, "fix or unset it", "%s='%s': expected %s", name, v, expected);
}

eos_status eos_env_check(void) {
    static const char *const log[] = {"debug", "info", "warn", "error", "off", NULL};
    static const char *const conv[] = {"auto", "gemm", "panel", "direct", "winograd", "tiled", "direct16", NULL};
    static const char *const knn[] = {"fused", "gemm", NULL}, *const bn[] = {"rows", "elements", NULL};
    static const char *const bit[] = {"0", "1", NULL};
    const char *mem = getenv("EOS_MEM_LIMIT");
    unsigned long long bytes;
    if (!eos__mem_limit_parse(mem, &bytes))
        EOS_FAIL(EOS_ERR_INVALID_ARG, "fix or unset it",
                 "EOS_MEM_LIMIT='%s': expected a whole number of MiB from 0 (no limit) to %llu", mem,
                 EOS__MEM_LIMIT_MAX_MIB - 1);
    EOS_TRY(env_word("EOS_LOG", log, 1, "debug, info, warn, error or off"));
    EOS_TRY(env_word("EOS_CONV_ALGO", conv, 0, "auto, gemm, panel, direct, winograd, tiled or direct16"));
    EOS_TRY(env_word("EOS_KNN_ALGO", knn, 0, "fused or gemm"));
    EOS_TRY(env_word("EOS_BN_PATH", bn, 0, "rows or elements"));
    EOS_TRY(env_word("EOS_BN_FUSE", bit, 0, "1 (the ReLU's backward inside the batch norm's) or 0"));
    EOS_TRY(env_word("EOS_PROFILE", bit, 0, "1 (profile) or 0"));
    EOS_TRY(env_word("EOS_CLBLAST_TUNED", bit, 0, "0 (CLBlast's own defaults) or 1"));
    EOS_TRY(env_word("EOS_CONV_VERBOSE", bit, 0, "1 (print the timings) or 0"));
    EOS_TRY(env_word("EOS_GPU_PATHS", bit, 0, "1 (the GPU-shaped kernels and launch shapes on any device) or 0"));
    /* EOS_CONV_AUTO_SKIP: a comma-separated list of the algorithms the automatic choice skips */
    const char *skip = getenv("EOS_CONV_AUTO_SKIP");
    for (const char *p = skip; p && *p;) {
        size_t len = strcspn(p, ","), ok = 0;
        for (const char *const *w = conv + 1; *w && !ok; w++) ok = len == strlen(*w) && !strncmp(p, *w, len);
        if (!ok)
            EOS_FAIL(EOS_ERR_INVALID_ARG, "fix or unset it",
                     "EOS_CONV_AUTO_SKIP='%s': expected a comma-separated list of gemm, panel, direct, winograd, tiled and direct16", skip);
        p += len + (p[len] == ',');
    }
    const char *lt = getenv("EOS_MAX_LOOP_TRIPS");  /* a test hook: eos__loop_cap */
    if (lt && lt[0] && (strspn(lt, "0123456789") != strlen(lt) || strlen(lt) > 9 || (atol(lt) > 0 && atol(lt) < 1000)))
        EOS_FAIL(EOS_ERR_INVALID_ARG, "fix or unset it",
                 "EOS_MAX_LOOP_TRIPS='%s': expected 0 (no limit) or a whole number of loop trips from 1000 to 999999999", lt);
    return EOS_OK;
}

eos_status eos_runtime_init(eos_runtime_t *out, const char *spec) {
    *out = NULL;
    EOS_TRY(eos_env_check());
    /* an empty spec is a mistake (--device ""), not "the default": that is NULL */
    if (spec && !spec[0])
        EOS_FAIL(EOS_ERR_INVALID_ARG, "give an index, 'cpu', 'gpu' or part of a device name; `eos devices` lists them",
                 "--device '' is empty: expected an index, cpu, gpu or part of a device name");
    const char *source = "--device";
    if (!spec) {
        spec = getenv("EOS_DEVICE");
        source = "EOS_DEVICE";
    }
    eos_device_info *devs;
    int count, idx;
    EOS_TRY(eos_devices_list(&devs, &count));
    eos_status st = device_select(devs, count, spec, source, &idx);
    if (st != EOS_OK) {
        eos_devices_free(devs);
        return st;
    }
    eos_runtime_t rt = calloc(1, sizeof *rt);
    if (!rt) {
        eos_devices_free(devs);
        EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "allocating the runtime");
    }
    rt->dev = devs[idx];
    eos_devices_free(devs);
    const char *gp = getenv("EOS_GPU_PATHS");
    rt->gpu_paths = rt->dev.type == EOS_DEVICE_GPU || (gp && !strcmp(gp, "1"));
    /* llvmpipe's loop limiter (eos__loop_cap): 65535 trips, less a margin for the few short
     * loops the kernels' trip estimates leave out */
    rt->max_loop_trips = strstr(rt->dev.name, "llvmpipe") ? 60000 : 0;
    const char *lt = getenv("EOS_MAX_LOOP_TRIPS");
    if (lt && lt[0]) rt->max_loop_trips = (size_t)strtoull(lt, NULL, 10);

    cl_int err;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)rt->dev.platform, 0};
    rt->ctx = clCreateContext(props, 1, &rt->dev.device, NULL, NULL, &err);
    EOS_CL_GOTO(err, st, fail, "creating an OpenCL context on %s", rt->dev.name);
    rt->queue = clCreateCommandQueue(rt->ctx, rt->dev.device, CL_QUEUE_PROFILING_ENABLE, &err);
    EOS_CL_GOTO(err, st, fail, "creating a command queue on %s", rt->dev.name);
    make_build_options(rt);
    st = eos_cache_dir_default(rt->cache_dir, sizeof rt->cache_dir);
    if (st != EOS_OK) goto fail;
    *out = rt;
    return EOS_OK;
fail:
    eos_runtime_free(rt);
    return st;
}

int eos__runtime_dist_split(eos_runtime_t rt, int on) {
    int prev = rt->dist_split;
    rt->dist_split = on != 0;
    return prev;
}

void eos_runtime_free(eos_runtime_t rt) {
    if (!rt) return;
    if (rt->queue) clFinish(rt->queue);
    eos__gemm_release(rt);
    if (rt->conv_choices_free) rt->conv_choices_free(rt);
    eos_tensor_free(&rt->reduce_part);
    for (size_t i = 0; i < rt->nkernels; i++) clReleaseKernel(rt->kernels[i].kernel);
    free(rt->kernels);
    for (size_t i = 0; i < rt->nprograms; i++) clReleaseProgram(rt->programs[i].program);
    if (rt->queue) clReleaseCommandQueue(rt->queue);
    if (rt->ctx) clReleaseContext(rt->ctx);
    free(rt);
}

const eos_device_info *eos_runtime_device(eos_runtime_t rt) { return &rt->dev; }
cl_context eos_runtime_context(eos_runtime_t rt) { return rt->ctx; }
cl_command_queue eos_runtime_queue(eos_runtime_t rt) { return rt->queue; }
const char *eos_runtime_build_options(eos_runtime_t rt) { return rt->options; }
const char *eos_runtime_cache_dir(eos_runtime_t rt) { return rt->cache_dir; }

int eos_runtime_gpu_paths(eos_runtime_t rt) { return rt->gpu_paths; }
eos_runtime_stats eos_runtime_get_stats(eos_runtime_t rt) { return rt->stats; }

eos_status eos_runtime_finish(eos_runtime_t rt) {
    EOS_CL_CHECK(clFinish(rt->queue), "waiting for the queue on %s", rt->dev.name);
    return EOS_OK;
}

size_t eos_program_count(void) { return eos__kernel_source_count; }
const char *eos_program_name(size_t i) {
    return i < eos__kernel_source_count ? eos__kernel_sources[i].name : NULL;
}

/* ---- programs ----------------------------------------------------------------------- */

/* The source of a program: a file under EOS_KERNEL_DIR, else the embedded copy.
 * *owned is set when the text was malloc'd. */
static eos_status program_source(const char *name, const char **text, size_t *size, char **owned) {
    *owned = NULL;
    const char *dir = getenv("EOS_KERNEL_DIR");
    if (dir && dir[0]) {
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        FILE *f = eos__fopen_regular(path, "rb");  /* a FIFO there must not hang the run */
        if (!f)
            EOS_FAIL(EOS_ERR_IO, "EOS_KERNEL_DIR must point at the project's cl/ folder",
                     "cannot open kernel source %s (EOS_KERNEL_DIR is set): %s", path,
                     errno == EINVAL ? "not a regular file" : strerror(errno));
        char *buf = NULL;
        size_t len = 0, cap = 0, got;
        do {
            if (len + 4096 > cap) {
                cap = cap ? cap * 2 : 16384;
                char *g = realloc(buf, cap);
                if (!g) { free(buf); fclose(f); EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "reading %s", path); }
                buf = g;
            }
            got = fread(buf + len, 1, cap - len, f);
            len += got;
        } while (got > 0);
        int bad = ferror(f);
        fclose(f);
        if (bad) { free(buf); EOS_FAIL(EOS_ERR_IO, NULL, "error reading kernel source %s", path); }
        *text = buf;
        *size = len;
        *owned = buf;
        return EOS_OK;
    }
    for (size_t i = 0; i < eos__kernel_source_count; i++) {
        if (!strcmp(eos__kernel_sources[i].name, name)) {
            *text = (const char *)eos__kernel_sources[i].text;
            *size = eos__kernel_sources[i].size;
            return EOS_OK;
        }
    }
    EOS_FAIL(EOS_ERR_NOT_FOUND, "the program name is the file name in cl/, e.g. \"elementwise.cl\"",
             "no kernel program named '%s' is compiled into this build", name);
}

static void cache_key(eos_runtime_t rt, const char *name, const char *text, size_t size,
                      char *key, size_t n) {
    const eos_device_info *d = &rt->dev;
    snprintf(key, n,
             "eos-cl program cache v1\nplatform=%s | %s\ndevice=%s | %s | %s\ndriver=%s\n"
             "program=%s\nsource=%016llx/%zu\noptions=%s\n",
             d->platform_name, d->platform_version, d->name, d->vendor, d->device_version,
             d->driver_version, name, eos__fnv1a(EOS_FNV_OFFSET, text, size), size, rt->options);
}

static eos_status build_log_error(eos_runtime_t rt, cl_program p, const char *name, cl_int err) {
    size_t n = 0;
    clGetProgramBuildInfo(p, rt->dev.device, CL_PROGRAM_BUILD_LOG, 0, NULL, &n);
    char *log = malloc(n + 1);
    if (log) {
        if (clGetProgramBuildInfo(p, rt->dev.device, CL_PROGRAM_BUILD_LOG, n, log, NULL) != CL_SUCCESS) n = 0;
        log[n] = 0;
    }
    eos_status st = eos__error_set(EOS_ERR_BUILD, __FILE__, __LINE__, "clBuildProgram",
                                   "fix the kernel source; EOS_KERNEL_DIR loads cl/ from disk while developing",
                                   "building kernel program cl/%s for %s failed (%s, options \"%s\"). Build log:\n%s",
                                   name, rt->dev.name, eos_status_str(err), rt->options,
                                   log && log[0] ? log : "(the driver gave no log)");
    free(log);
    return st;
}

/* Create and build a program, from the cache when a good entry exists. */
static eos_status build_program(eos_runtime_t rt, const char *name, cl_program *out) {
    const char *text;
    size_t size;
    char *owned;
    EOS_TRY(program_source(name, &text, &size, &owned));
    double t0 = eos__now();
    char key[4096];
    cache_key(rt, name, text, size, key, sizeof key);
    cl_int err;
    cl_program p = NULL;

    if (rt->cache_dir[0]) {
        eos__cache_result c;
        eos__cache_load(rt->cache_dir, key, &c);
        if (c.rejected) rt->stats.cache_rejected++;
        if (c.binary) {
            const unsigned char *bin = c.binary;
            cl_int bin_status = CL_SUCCESS;
            p = clCreateProgramWithBinary(rt->ctx, 1, &rt->dev.device, &c.size, &bin, &bin_status, &err);
            if (err == CL_SUCCESS && bin_status == CL_SUCCESS)
                err = clBuildProgram(p, 1, &rt->dev.device, rt->options, NULL, NULL);
            else if (err == CL_SUCCESS)
                err = bin_status;
            if (err != CL_SUCCESS) {
                /* the driver refused it (driver update, damaged payload): rebuild from source */
                eos__log(EOS_LOG_INFO, "cached binary for cl/%s refused by the driver (%s); rebuilding",
                         name, eos_status_str(err));
                if (p) clReleaseProgram(p);
                p = NULL;
                rt->stats.cache_rejected++;
            } else {
                rt->stats.cache_hits++;
            }
            free(c.binary);
        }
    }

    if (!p) {
        p = clCreateProgramWithSource(rt->ctx, 1, &text, &size, &err);
        if (err != CL_SUCCESS) {
            free(owned);
            EOS_CL_CHECK(err, "creating program cl/%s", name);
        }
        err = clBuildProgram(p, 1, &rt->dev.device, rt->options, NULL, NULL);
        if (err != CL_SUCCESS) {
            eos_status st = build_log_error(rt, p, name, err);
            clReleaseProgram(p);
            free(owned);
            return st;
        }
        rt->stats.programs_built++;
        if (rt->cache_dir[0]) {
            size_t bsize = 0;
            unsigned char *bin = NULL;
            if (clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof bsize, &bsize, NULL) == CL_SUCCESS &&
                bsize > 0 && (bin = malloc(bsize)) != NULL &&
                clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof bin, &bin, NULL) == CL_SUCCESS) {
                if (eos__cache_store(rt->cache_dir, key, bin, bsize) == EOS_OK) rt->stats.cache_writes++;
                else eos__log(EOS_LOG_WARN, "kernel cache not written: %s", eos_last_error()->message);
            }
            free(bin);
        }
    }
    free(owned);
    rt->stats.build_seconds += eos__now() - t0;
    *out = p;
    return EOS_OK;
}

static eos_status get_program(eos_runtime_t rt, const char *name, cl_program *out) {
    for (size_t i = 0; i < rt->nprograms; i++)
        if (!strcmp(rt->programs[i].name, name)) {
            *out = rt->programs[i].program;
            return EOS_OK;
        }
    if (strlen(name) >= sizeof rt->programs[0].name)
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "program name '%s' is too long", name);
    if (rt->nprograms == EOS__MAX_PROGRAMS)
        EOS_FAIL(EOS_ERR_INTERNAL, "raise EOS__MAX_PROGRAMS", "too many kernel programs");
    cl_program p;
    EOS_TRY(build_program(rt, name, &p));
    snprintf(rt->programs[rt->nprograms].name, sizeof rt->programs[0].name, "%s", name);
    rt->programs[rt->nprograms++].program = p;
    *out = p;
    return EOS_OK;
}

eos_status eos_runtime_kernel(eos_runtime_t rt, const char *program, const char *kernel, cl_kernel *out) {
    for (size_t i = 0; i < rt->nkernels; i++)
        if (!strcmp(rt->kernels[i].name, kernel) && !strcmp(rt->kernels[i].program, program)) {
            *out = rt->kernels[i].kernel;
            rt->kernel_last = i;
            return EOS_OK;
        }
    if (strlen(kernel) >= sizeof rt->kernels[0].name)
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "kernel name '%s' is too long", kernel);
    cl_program p;
    EOS_TRY(get_program(rt, program, &p));
    cl_int err;
    cl_kernel k = clCreateKernel(p, kernel, &err);
    if (err == CL_INVALID_KERNEL_NAME)
        EOS_FAIL(EOS_ERR_NOT_FOUND, NULL, "cl/%s has no kernel named '%s'", program, kernel);
    EOS_CL_CHECK(err, "creating kernel %s from cl/%s", kernel, program);
    if (rt->nkernels == rt->cap_kernels) {
        size_t cap = rt->cap_kernels ? 2 * rt->cap_kernels : 32;
        eos__kernel_entry *g = realloc(rt->kernels, cap * sizeof *g);
        if (!g) {
            clReleaseKernel(k);
            EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "growing the kernel table");
        }
        rt->kernels = g;
        rt->cap_kernels = cap;
    }
    eos__kernel_entry *e = &rt->kernels[rt->nkernels++];
    memset(e, 0, sizeof *e);
    snprintf(e->program, sizeof e->program, "%s", program);
    snprintf(e->name, sizeof e->name, "%s", kernel);
    e->kernel = k;
    rt->kernel_last = rt->nkernels - 1;
    *out = k;
    return EOS_OK;
}

eos_status eos_runtime_build_all(eos_runtime_t rt) {
    for (size_t i = 0; i < eos__kernel_source_count; i++) {
        cl_program p;
        EOS_TRY(get_program(rt, eos__kernel_sources[i].name, &p));
    }
    return EOS_OK;
}

/* EOS_PROFILE=1: wait for every kernel and add its wall time to a table printed to stderr at
 * exit, a quick way to see where a step goes (the benchmarks do it properly). */
#define PROF_MAX 64
static struct { const char *name; double seconds; long calls; } g_prof[PROF_MAX];
static int g_prof_n = -1;

static void prof_report(void) {
    double total = 0;
    for (int i = 0; i < g_prof_n; i++) total += g_prof[i].seconds;
    fprintf(stderr, "EOS_PROFILE: %.3f s in kernels\n", total);
    for (int i = 0; i < g_prof_n; i++)
        fprintf(stderr, "  %-28s %8.3f s %5.1f%% %8ld calls\n", g_prof[i].name, g_prof[i].seconds,
                100 * g_prof[i].seconds / (total > 0 ? total : 1), g_prof[i].calls);
}

static int prof_on(void) {
    if (g_prof_n < 0) {
        g_prof_n = 0;
        if (getenv("EOS_PROFILE") && getenv("EOS_PROFILE")[0] == '1') atexit(prof_report);
        else g_prof_n = -2;
    }
    return g_prof_n >= 0;
}

int eos__profile_on(void) { return prof_on(); }

void eos__profile_add(const char *name, double seconds) {
    int i = 0;
    while (i < g_prof_n && strcmp(g_prof[i].name, name)) i++;
    if (i == g_prof_n) {
        if (g_prof_n == PROF_MAX) return;
        g_prof[g_prof_n++].name = name;
    }
    g_prof[i].seconds += seconds;
    g_prof[i].calls++;
}

int eos__gpu_paths(eos_runtime_t rt) { return rt->gpu_paths; }

size_t eos__loop_cap(eos_runtime_t rt) { return rt->max_loop_trips; }

/* ---- work-group shapes of the GPU-shaped paths ----------------------------------------------
 * On the CPU paths every launch keeps the shape PoCL runs fastest (1-d: the driver's choice;
 * nd: one work-item per group, the float8 kernels' own loops doing the work). On the GPU paths
 * no launch leaves the local size to the driver (NULL): a driver must then pick a divisor of
 * the global size, and for a prime extent (7 channels, 1021 rows) that is 1, one busy lane per
 * warp. Instead the local size is chosen here and every global dimension rounded up to a
 * multiple of it; the kernels bounds-check each dimension against an explicit extent, so the
 * extra work-items do nothing.
 *   - Groups are a whole number of the kernel's CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE
 *     (the warp of 32 on NVIDIA, the wavefront of 64 on AMD, the SIMD width elsewhere) where
 *     the extent allows, so no hardware lane group runs half empty.
 *   - At most 256 work-items (and never more than CL_KERNEL_WORK_GROUP_SIZE, which already
 *     counts the kernel's registers, nor the device's max_work_item_sizes per dimension):
 *     256 is 8 warps or 4 wavefronts, enough to hide memory latency on one compute unit, while
 *     several groups still fit per unit for occupancy; larger groups only cost occupancy to
 *     register-heavy kernels such as the float8 tiles.
 *   - 2-d and 3-d groups are powers of two, dimension 0 (the fast-moving index, the one whose
 *     neighbours read neighbouring memory) first: up to 32 there (a warp's coalesced row), the
 *     rest of the 256 to dimension 1, then 2 (32x8, or 8x32 when dimension 0 is only 7 long);
 *     whatever a short dimension leaves unused goes back to the others. */
#define EOS__GROUP_MAX 256
#define EOS__GROUP_ROW 32

static size_t pow2_floor(size_t v) {
    size_t p = 1;
    while (p * 2 <= v) p *= 2;
    return p;
}

static size_t pow2_ceil(size_t v) {
    size_t p = 1;
    while (p < v) p *= 2;
    return p;
}

/* the most work-items a group of k may hold here (*cap) and the size it should be a multiple of
 * (*mult, <= *cap) */
static void kernel_wg_query(eos_runtime_t rt, cl_kernel k, size_t *kwg, size_t *pref) {
    *kwg = *pref = 0;  /* 0 (no limit known) where the driver does not say */
    clGetKernelWorkGroupInfo(k, rt->dev.device, CL_KERNEL_WORK_GROUP_SIZE, sizeof *kwg, kwg, NULL);
    clGetKernelWorkGroupInfo(k, rt->dev.device, CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE, sizeof *pref, pref, NULL);
}

/* k's two limits, read from the driver once per kernel and then from its cache entry: every
 * GPU-path launch needs them, and two driver queries a launch cost more than a small kernel's
 * enqueue. The entry is the one eos_runtime_kernel just returned (the launch helpers look the
 * kernel up right before), else found by handle; a kernel not in the cache is asked each time. */
static void kernel_wg_limits(eos_runtime_t rt, cl_kernel k, size_t *kwg, size_t *pref) {
    eos__kernel_entry *e = NULL;
    if (rt->kernel_last < rt->nkernels && rt->kernels[rt->kernel_last].kernel == k) e = &rt->kernels[rt->kernel_last];
    for (size_t i = 0; !e && i < rt->nkernels; i++)
        if (rt->kernels[i].kernel == k) e = &rt->kernels[i];
    if (!e) {
        kernel_wg_query(rt, k, kwg, pref);
        return;
    }
    if (!e->wg_known) {
        kernel_wg_query(rt, k, &e->wg_size, &e->wg_mult);
        e->wg_known = 1;
        rt->wg_queries++;
    }
    *kwg = e->wg_size;
    *pref = e->wg_mult;
}

static void group_limits(eos_runtime_t rt, cl_kernel k, size_t *cap, size_t *mult) {
    size_t kwg, pref;
    kernel_wg_limits(rt, k, &kwg, &pref);
    size_t c = EOS__GROUP_MAX;
    if (kwg && kwg < c) c = kwg;
    if (rt->dev.max_work_group_size && rt->dev.max_work_group_size < c) c = rt->dev.max_work_group_size;
    if (c < 1) c = 1;
    *cap = c;
    *mult = pref && pref <= c ? pref : 1;
}

/* 1-d: the largest multiple of the preferred multiple within the cap, whatever n (a short
 * range wastes at most one group; one shape per kernel also means one work-group function
 * per kernel where the driver compiles one per local size, as PoCL does) */
static size_t group_1d(eos_runtime_t rt, cl_kernel k) {
    size_t cap, mult;
    group_limits(rt, k, &cap, &mult);
    if (rt->dev.max_work_item_sizes[0] && cap > rt->dev.max_work_item_sizes[0]) cap = rt->dev.max_work_item_sizes[0];
    size_t l = cap / mult * mult;
    return l < 1 ? 1 : l;
}

/* 2-d and 3-d: powers of two, dimension 0 first (see above) */
static void group_nd(eos_runtime_t rt, cl_kernel k, unsigned dims, const size_t *global, size_t *local) {
    size_t cap, mult, budget, used = 1, lim[3];
    group_limits(rt, k, &cap, &mult);
    budget = pow2_floor(cap);
    for (unsigned d = 0; d < dims; d++) {
        size_t m = rt->dev.max_work_item_sizes[d] ? pow2_floor(rt->dev.max_work_item_sizes[d]) : budget;
        size_t want = pow2_ceil(global[d]);
        lim[d] = want < m ? want : m;
        size_t first = d == 0 && EOS__GROUP_ROW < lim[d] ? EOS__GROUP_ROW : lim[d];
        local[d] = 1;
        while (local[d] * 2 <= first && used * 2 <= budget) {
            local[d] *= 2;
            used *= 2;
        }
    }
    for (unsigned d = 0; d < dims; d++)  /* what the short dimensions left over */
        while (local[d] * 2 <= lim[d] && used * 2 <= budget) {
            local[d] *= 2;
            used *= 2;
        }
}

void eos__group_shape(eos_runtime_t rt, cl_kernel k, unsigned dims, const size_t *global, size_t *local,
                      size_t *rounded) {
    if (!rt->gpu_paths) {
        for (unsigned d = 0; d < dims; d++) {
            local[d] = 1;
            rounded[d] = global[d];
        }
        return;
    }
    if (dims == 1) local[0] = group_1d(rt, k);
    else group_nd(rt, k, dims, global, local);
    for (unsigned d = 0; d < dims; d++) rounded[d] = (global[d] + local[d] - 1) / local[d] * local[d];
}

eos_status eos__launch_1d(eos_runtime_t rt, cl_kernel k, size_t n, const char *what) {
    if (n == 0) return EOS_OK;
    size_t global = n, local = 0;
    if (rt->gpu_paths) eos__group_shape(rt, k, 1, &n, &local, &global);
    int prof = prof_on();
    double t0 = prof ? (clFinish(rt->queue), eos__now()) : 0;
    cl_event ev = NULL;
    EOS_CL_CHECK(clEnqueueNDRangeKernel(rt->queue, k, 1, NULL, &global, local ? &local : NULL, 0, NULL,
                                        rt->ev_prof ? &ev : NULL),
                 "launching %s over %zu items on %s", what, n, rt->dev.name);
    eos__prof_event(rt, what, ev);
    if (prof) {
        clFinish(rt->queue);
        eos__profile_add(what, eos__now() - t0);
    }
    return EOS_OK;
}

eos_status eos__need(const eos_tensor *t, size_t n, const char *what) {
    if (!t || !t->buf) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "%s: tensor not allocated", what);
    if (t->numel < n) {
        char s[128];
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "%s: needs %zu elements, tensor %s holds %zu", what, n,
                 eos_tensor_shape_str(t, s, sizeof s), t->numel);
    }
    return EOS_OK;
}

static eos_status set_args(cl_kernel k, const char *kernel, const eos__arg *args, size_t nargs) {
    for (size_t i = 0; i < nargs; i++)
        EOS_CL_CHECK(clSetKernelArg(k, (cl_uint)i, args[i].size, args[i].ptr), "%s: argument %zu", kernel, i);
    return EOS_OK;
}

eos_status eos__run_1d(eos_runtime_t rt, const char *program, const char *kernel, size_t n, const eos__arg *args,
                       size_t nargs) {
    if (n == 0) return EOS_OK;
    if (n > 0xffffffffu) EOS_FAIL(EOS_ERR_INVALID_ARG, "use a smaller batch", "%s over %zu items: more than 2^32", kernel, n);
    cl_kernel k;
    EOS_TRY(eos_runtime_kernel(rt, program, kernel, &k));
    EOS_TRY(set_args(k, kernel, args, nargs));
    return eos__launch_1d(rt, k, n, kernel);
}

/* Work-items per reduction group: 1 on CPUs (PoCL runs one work-item's loop fastest and
 * barriers cost), else the largest power of two <= 256 that the kernel allows, halved while
 * half of it still covers `width` (the most work-items of a group that have values to read:
 * a row of HW for batch norm) and the device's preferred multiple: the work-items past the
 * width would only add zeros to the tree sum (3/4 of a 256-wide group on ResNet's 8 x 8 stage),
 * and a narrower group leaves room for more groups at once. reduce_local_force (set by tests)
 * fixes it on every device, CPUs included, so that the kernels' many-work-item branch is tested
 * without a GPU. */
size_t eos__reduce_local(eos_runtime_t rt, cl_kernel k, size_t width) {
    if (!rt->gpu_paths && !rt->reduce_local_force) return 1;
    size_t cap, mult, l = 1;
    group_limits(rt, k, &cap, &mult);  /* the launches' own limits; a tree sum wants a power of two */
    if (rt->reduce_local_force && rt->reduce_local_force < cap) cap = rt->reduce_local_force;
    while (l * 2 <= cap && (l * 2) * sizeof(float) <= rt->dev.local_mem_bytes / 2) l *= 2;
    if (!rt->reduce_local_force)
        while (l > 1 && l / 2 >= width && l / 2 >= mult) l /= 2;
    return l;
}

eos_status eos__run_groups(eos_runtime_t rt, const char *program, const char *kernel, size_t groups, size_t width,
                           const eos__arg *args, size_t nargs) {
    if (groups == 0) return EOS_OK;
    cl_kernel k;
    EOS_TRY(eos_runtime_kernel(rt, program, kernel, &k));
    EOS_TRY(set_args(k, kernel, args, nargs));
    size_t local = eos__reduce_local(rt, k, width), global = groups * local;
    EOS_CL_CHECK(clSetKernelArg(k, (cl_uint)nargs, local * sizeof(float), NULL), "%s: local scratch", kernel);
    int prof = prof_on();
    double t0 = prof ? (clFinish(rt->queue), eos__now()) : 0;
    cl_event ev = NULL;
    EOS_CL_CHECK(clEnqueueNDRangeKernel(rt->queue, k, 1, NULL, &global, &local, 0, NULL, rt->ev_prof ? &ev : NULL),
                 "launching %s over %zu groups of %zu on %s", kernel, groups, local, rt->dev.name);
    eos__prof_event(rt, kernel, ev);
    if (prof) {
        clFinish(rt->queue);
        eos__profile_add(kernel, eos__now() - t0);
    }
    return EOS_OK;
}

eos_status eos__run_nd(eos_runtime_t rt, const char *program, const char *kernel, unsigned dims, const size_t *global,
                       const eos__arg *args, size_t nargs) {
    size_t total = 1, local[3] = {1, 1, 1}, rounded[3] = {1, 1, 1};
    if (dims < 1 || dims > 3) EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "%s: %u dimensions (1 to 3)", kernel, dims);
    for (unsigned d = 0; d < dims; d++) total *= global[d];
    if (total == 0) return EOS_OK;
    cl_kernel k;
    EOS_TRY(eos_runtime_kernel(rt, program, kernel, &k));
    EOS_TRY(set_args(k, kernel, args, nargs));
    eos__group_shape(rt, k, dims, global, local, rounded);
    int prof = prof_on();
    double t0 = prof ? (clFinish(rt->queue), eos__now()) : 0;
    cl_event ev = NULL;
    EOS_CL_CHECK(clEnqueueNDRangeKernel(rt->queue, k, dims, NULL, rounded, local, 0, NULL, rt->ev_prof ? &ev : NULL),
                 "launching %s over %zu items (groups of %zu x %zu x %zu) on %s", kernel, total, local[0],
                 dims > 1 ? local[1] : 1, dims > 2 ? local[2] : 1, rt->dev.name);
    eos__prof_event(rt, kernel, ev);
    if (prof) {
        clFinish(rt->queue);
        eos__profile_add(kernel, eos__now() - t0);
    }
    return EOS_OK;
}

/* ---- device-side timing from OpenCL events (eos bench) ------------------------------------ */

void eos__prof_seconds(eos_runtime_t rt, const char *name, double seconds) {
    int i = 0;
    while (i < rt->nev && strcmp(rt->ev[i].name, name)) i++;
    if (i == (int)(sizeof rt->ev / sizeof rt->ev[0])) {  /* the table is full: still charge the conv */
        if (rt->prof_scope) *rt->prof_scope += seconds;
        return;
    }
    if (i == rt->nev) {
        rt->ev[i].name = name;
        rt->ev[i].seconds = 0;
        rt->ev[i].calls = 0;
        rt->nev++;
    }
    rt->ev[i].seconds += seconds;
    rt->ev[i].calls++;
    if (rt->prof_scope) *rt->prof_scope += seconds;
}

void eos__prof_event(eos_runtime_t rt, const char *name, cl_event ev) {
    if (!ev) return;
    cl_ulong a = 0, b = 0;
    if (clWaitForEvents(1, &ev) == CL_SUCCESS &&
        clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_START, sizeof a, &a, NULL) == CL_SUCCESS &&
        clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, sizeof b, &b, NULL) == CL_SUCCESS && b >= a)
        eos__prof_seconds(rt, name, 1e-9 * (double)(b - a));
    clReleaseEvent(ev);
}

void eos_runtime_profile_start(eos_runtime_t rt) {
    clFinish(rt->queue);
    rt->ev_prof = 1;
    rt->nev = 0;
    rt->prof_scope = NULL;
    rt->prof_session++;
}

void eos_runtime_profile_stop(eos_runtime_t rt) {
    rt->ev_prof = 0;
    rt->prof_scope = NULL;
}

size_t eos_runtime_profile_read(eos_runtime_t rt, eos_kernel_time *out, size_t max) {
    size_t n = (size_t)rt->nev < max ? (size_t)rt->nev : max;
    for (size_t i = 0; i < n; i++) {
        out[i].name = rt->ev[i].name;
        out[i].seconds = rt->ev[i].seconds;
        out[i].calls = rt->ev[i].calls;
    }
    return n;
}

/* ---- launches with the caller's local size (GPU-shaped kernels) ---------------------------- */

/* For kernels written for a fixed work-group shape (2-D tiles in local memory, barriers): the
 * caller chose local[] (checked against the kernel's CL_KERNEL_WORK_GROUP_SIZE and local memory)
 * and rounded global[] up to whole work-groups; the kernel bounds-checks. Profiled like
 * eos__run_nd. */
eos_status eos__run_nd_local(eos_runtime_t rt, const char *program, const char *kernel, unsigned dims,
                             const size_t *global, const size_t *local, const eos__arg *args, size_t nargs) {
    size_t total = 1;
    for (unsigned d = 0; d < dims; d++) {
        total *= global[d];
        if (!local[d] || global[d] % local[d])
            EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "%s: global size %zu in dimension %u is not a multiple of the local size %zu",
                     kernel, global[d], d, local[d]);
    }
    if (total == 0) return EOS_OK;
    cl_kernel k;
    EOS_TRY(eos_runtime_kernel(rt, program, kernel, &k));
    EOS_TRY(set_args(k, kernel, args, nargs));
    int prof = prof_on();
    double t0 = prof ? (clFinish(rt->queue), eos__now()) : 0;
    cl_event ev = NULL;
    EOS_CL_CHECK(clEnqueueNDRangeKernel(rt->queue, k, dims, NULL, global, local, 0, NULL, rt->ev_prof ? &ev : NULL),
                 "launching %s over %zu items in groups of %zu x %zu on %s", kernel, total, local[0],
                 dims > 1 ? local[1] : 1, rt->dev.name);
    eos__prof_event(rt, kernel, ev);
    if (prof) {
        clFinish(rt->queue);
        eos__profile_add(kernel, eos__now() - t0);
    }
    return EOS_OK;
}
