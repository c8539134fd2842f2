/* The device's single-precision multiply-add peak (eos_peak_measure; kernels in cl/peak.cl): the
 * yardstick `eos bench layers` divides every convolution's GFLOP/s by, and one line of `eos check`.
 * Validate first, then time: each kernel's output is compared with its closed form before any
 * launch is timed, and again after the timed launches. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

enum {
    CHAINS = 8,                  /* independent chains per work-item (cl/peak.cl) */
    UNROLL = 8,                  /* steps per loop trip (cl/peak.cl) */
    GROUPS_PER_CU = 8,           /* work-groups per compute unit: every unit busy, tails balanced */
    /* loop trips per launch: at most 2^15, far below 2^24 / 8 (start + n stays an exact float)
     * and below 65535, after which Mesa's llvmpipe (rusticl) ends a work-item's loops without a
     * word (gallivm's loop limiter counts every loop trip of an invocation); a longer launch
     * gets more work-groups instead */
    MAX_ITERS = 1 << 15,
    MAX_GROW = 64,               /* work-groups: at most 64 times GROUPS_PER_CU per unit */
};

static const struct {
    const char *name, *kernel;
    int lanes;
} k_variants[4] = {
    {"float16", "eos_peak_float16", 16},
    {"float8", "eos_peak_float8", 8},
    {"float4", "eos_peak_float4", 4},
    {"float1", "eos_peak_float1", 1},
};

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One launch of iters loop trips; *sec: its device time from the event (wall time without one). */
static eos_status launch(eos_runtime_t rt, cl_kernel k, const char *name, int iters, size_t global, size_t local,
                         double *sec) {
    EOS_CL_CHECK(clSetKernelArg(k, 3, sizeof iters, &iters), "%s: iterations", name);
    cl_event ev;
    EOS_CL_CHECK(clFinish(rt->queue), "waiting for %s", rt->dev.name);
    double t0 = eos__now();
    EOS_CL_CHECK(clEnqueueNDRangeKernel(rt->queue, k, 1, NULL, &global, &local, 0, NULL, &ev),
                 "launching %s over %zu work-items (groups of %zu) on %s", name, global, local, rt->dev.name);
    cl_ulong a = 0, b = 0;
    cl_int err = clWaitForEvents(1, &ev);
    if (err == CL_SUCCESS) err = clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_START, sizeof a, &a, NULL);
    if (err == CL_SUCCESS) err = clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, sizeof b, &b, NULL);
    clReleaseEvent(ev);
    EOS_CL_CHECK(err, "timing %s on %s", name, rt->dev.name);
    double wall = eos__now() - t0;
    /* the event's device time; the wall time where the event says less than a quarter of it
     * (Mesa 22's llvmpipe stamps 1 ns on every launch: trusting it, the calibration grew the
     * launch without end) */
    double ev_sec = b > a ? 1e-9 * (double)(b - a) : 0;
    *sec = ev_sec >= wall / 4 ? ev_sec : wall;

    return EOS_OK;
}

/* Every work-item must have written 8 chains x lanes x n exactly (cl/peak.cl's closed form). */
static eos_status validate(const eos_tensor *out, float *host, size_t global, const char *name, int lanes, int iters) {
    /* the first `global` floats of out (sized for the largest launch) */
    EOS_CL_CHECK(clEnqueueReadBuffer(out->rt->queue, out->buf, CL_TRUE, 0, global * sizeof *host, host, 0, NULL, NULL),
                 "reading the output of %s", name);
    double n = (double)UNROLL * iters, want = (double)CHAINS * lanes * n;
    for (size_t i = 0; i < global; i++)
        if ((double)host[i] != want)
            EOS_FAIL(EOS_ERR_NUMERIC,
                     "the device's compiler or hardware computes multiply-adds wrongly: report the device and driver",
                     "peak kernel %s (cl/peak.cl): work-item %zu wrote %.9g, expected %.9g (%.0f steps of x = x * 1 + 1 "
                     "on %d chains of %d lanes)",
                     name, i, (double)host[i], want, n, CHAINS, lanes);
    return EOS_OK;
}

/* One variant: calibrate the loop length to about `seconds` per launch (validating each
 * calibration launch), then time runs launches; *gflops and *sec from their median, *fastest
 * from the fastest. */
static eos_status measure_variant(eos_runtime_t rt, int v, int runs, double seconds, eos_tensor *out, float *host,
                                  size_t global, size_t local, double *times, double *gflops, double *fastest,
                                  double *sec, size_t *work_items) {
    const char *name = k_variants[v].kernel;
    int lanes = k_variants[v].lanes;
    cl_kernel k;
    EOS_TRY(eos_runtime_kernel(rt, "peak.cl", name, &k));
    float one = 1.0f;
    EOS_CL_CHECK(clSetKernelArg(k, 0, sizeof out->buf, &out->buf), "%s: output", name);
    EOS_CL_CHECK(clSetKernelArg(k, 1, sizeof one, &one), "%s: a", name);
    EOS_CL_CHECK(clSetKernelArg(k, 2, sizeof one, &one), "%s: b", name);
    /* grow the loop, then the number of work-groups, until a launch lasts a quarter of the
     * target (launch overhead then small), then scale the loop to the target */
    int iters = 64;
    size_t groups = global / local, grow_max = groups * MAX_GROW;
    double t = 0;
    for (;;) {
        EOS_TRY(launch(rt, k, name, iters, groups * local, local, &t));
        EOS_TRY(validate(out, host, groups * local, name, lanes, iters));
        if (t >= seconds / 4 || (iters >= MAX_ITERS && groups >= grow_max)) break;
        double grow = t > 0 ? seconds / t : 64;
        grow = grow < 2 ? 2 : grow > 64 ? 64 : grow;
        if (iters < MAX_ITERS)
            iters = (double)iters * grow >= MAX_ITERS ? MAX_ITERS : (int)(iters * grow);
        else
            groups = (double)groups * grow >= (double)grow_max ? grow_max : (size_t)((double)groups * grow);
    }
    if (t > 0 && t < seconds) {
        double want = iters * (seconds / t);
        iters = want >= MAX_ITERS ? MAX_ITERS : want < 1 ? 1 : (int)want;
    }
    for (int r = 0; r < runs; r++) EOS_TRY(launch(rt, k, name, iters, groups * local, local, &times[r]));
    EOS_TRY(validate(out, host, groups * local, name, lanes, iters));  /* the timed launches computed it too */
    qsort(times, (size_t)runs, sizeof *times, cmp_double);
    *sec = times[runs / 2];
    *work_items = groups * local;
    double flops = 2.0 * CHAINS * lanes * UNROLL * (double)iters * (double)*work_items;
    *gflops = *sec > 0 ? 1e-9 * flops / *sec : 0;
    *fastest = times[0] > 0 ? 1e-9 * flops / times[0] : 0;
    return EOS_OK;
}

eos_status eos_peak_measure(eos_runtime_t rt, int runs, double seconds, eos_peak *out) {
    memset(out, 0, sizeof *out);
    if (runs < 1 || !(seconds > 0))
        EOS_FAIL(EOS_ERR_INVALID_ARG, NULL, "peak: runs %d and seconds %g must be positive", runs, seconds);
    /* the launch shape every kernel gets (eos__group_shape): one work-item per group on the CPU
     * paths (the vector code runs as written), full groups within each kernel's limits on the
     * GPU paths */
    size_t groups = (rt->dev.compute_units ? rt->dev.compute_units : 1) * GROUPS_PER_CU, local[4], widest = 1;
    for (int v = 0; v < 4; v++) {
        cl_kernel k;
        size_t one = 1, rounded;
        EOS_TRY(eos_runtime_kernel(rt, "peak.cl", k_variants[v].kernel, &k));
        eos__group_shape(rt, k, 1, &one, &local[v], &rounded);
        if (local[v] > widest) widest = local[v];
    }
    size_t most = groups * widest * MAX_GROW;  /* the output of the largest launch */
    eos_tensor buf = {0};
    float *host = malloc(most * sizeof *host);
    double *times = malloc((size_t)runs * sizeof *times);
    eos_status st = EOS_OK;
    if (!host || !times) {
        free(host);
        free(times);
        EOS_FAIL(EOS_ERR_OUT_OF_MEMORY, NULL, "peak: allocating %zu floats", most);
    }
    st = eos_tensor_alloc(rt, &buf, 1, &most);
    for (int v = 0; st == EOS_OK && v < 4; v++) {
        out->names[v] = k_variants[v].name;
        size_t l = local[v], g = groups * l;
        double sec = 0, fastest = 0;
        size_t items = g;
        st = measure_variant(rt, v, runs, seconds, &buf, host, g, l, times, &out->variant_gflops[v], &fastest, &sec,
                             &items);
        if (st == EOS_OK && fastest > out->fastest_gflops) out->fastest_gflops = fastest;
        if (st == EOS_OK && out->variant_gflops[v] > out->gflops) {
            out->gflops = out->variant_gflops[v];
            out->variant = k_variants[v].name;
            out->seconds = sec;
            out->work_items = items;
            out->local_size = l;
        }
    }
    out->runs = runs;
    eos_tensor_free(&buf);
    free(host);
    free(times);
    if (st == EOS_OK && !out->variant)
        EOS_FAIL(EOS_ERR_INTERNAL, "the device's event timer reads 0 for every launch", "peak: no kernel took any time");
    return st;
}
