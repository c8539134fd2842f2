/* Proof that tests/oclgrind.sh's checks are live: five small OpenCL programs, one per check, that
 * Oclgrind must report (or, for `reused`, must not). The script runs each case first and fails when
 * Oclgrind's answer is not the expected one, so a silent checker (a changed option, a missing
 * plugin, a broken preload) cannot pass the suite.
 *
 *   oclgrind_canary uninit   a kernel branches on, and stores, a buffer nobody wrote: reports
 *   oclgrind_canary bounds   a kernel writes one element past its buffer: reports
 *   oclgrind_canary race     two work-items write the same element: reports
 *   oclgrind_canary reused   a small buffer is released, a larger one created (Oclgrind would give
 *                            it the same slot), fully written by one kernel and read by another:
 *                            no reports (tests/oclgrind_plug.c's first reason to exist)
 *   oclgrind_canary reused-unset  a buffer fully written by a kernel is released and one of the
 *                            same size created and never written; a kernel branches on it:
 *                            reports (in the old buffer's slot it would read as initialised:
 *                            oclgrind_plug.c's second reason)
 *
 * Plain OpenCL on the first device of the first platform (Oclgrind's when run by the script);
 * exits 0 when every call succeeded, whatever Oclgrind reported, 2 on usage or OpenCL errors. */
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <stdio.h>
#include <string.h>

static const char *k_source =
    "__kernel void read_unset(__global const float *src, __global float *dst) {\n"
    "    size_t i = get_global_id(0);\n"
    "    if (src[i] > 0.5f) dst[i] = src[i]; else dst[i] = 1.0f;\n"
    "}\n"
    "__kernel void write_past(__global float *dst, int n) {\n"
    "    size_t i = get_global_id(0);\n"
    "    dst[i + (i == (size_t)(n - 1))] = 1.0f;\n"
    "}\n"
    "__kernel void write_same(__global float *dst) {\n"
    "    dst[0] = (float)get_global_id(0);\n"
    "}\n"
    "__kernel void fill(__global float *dst) {\n"
    "    dst[get_global_id(0)] = (float)get_global_id(0);\n"
    "}\n"
    "__kernel void copy_checked(__global const float *src, __global float *dst) {\n"
    "    size_t i = get_global_id(0);\n"
    "    if (src[i] >= 0.0f) dst[i] = src[i] + 1.0f;\n"
    "}\n";

#define CHECK(call)                                                              \
    do {                                                                         \
        cl_int e__ = (call);                                                     \
        if (e__ != CL_SUCCESS) {                                                 \
            fprintf(stderr, "oclgrind_canary: %s failed: %d\n", #call, (int)e__); \
            return 2;                                                            \
        }                                                                        \
    } while (0)

static int run(cl_command_queue q, cl_kernel k, size_t n) {
    CHECK(clEnqueueNDRangeKernel(q, k, 1, NULL, &n, NULL, 0, NULL, NULL));
    CHECK(clFinish(q));
    return 0;
}

/* read_unset over a new buffer of n floats that nobody writes: Oclgrind must report it */
static int read_unset(cl_context ctx, cl_program prog, cl_command_queue q, size_t n) {
    cl_int e;
    cl_mem src = clCreateBuffer(ctx, CL_MEM_READ_WRITE, n * sizeof(float), NULL, &e);  /* never written */
    CHECK(e);
    cl_mem dst = clCreateBuffer(ctx, CL_MEM_READ_WRITE, n * sizeof(float), NULL, &e);
    CHECK(e);
    cl_kernel k = clCreateKernel(prog, "read_unset", &e);
    CHECK(e);
    CHECK(clSetKernelArg(k, 0, sizeof src, &src));
    CHECK(clSetKernelArg(k, 1, sizeof dst, &dst));
    int rc = run(q, k, n);
    clReleaseKernel(k), clReleaseMemObject(src), clReleaseMemObject(dst);
    return rc;
}

int main(int argc, char **argv) {
    const char *which = argc == 2 ? argv[1] : "";
    if (strcmp(which, "uninit") && strcmp(which, "bounds") && strcmp(which, "race") && strcmp(which, "reused") &&
        strcmp(which, "reused-unset")) {
        fprintf(stderr, "usage: oclgrind_canary uninit|bounds|race|reused|reused-unset\n");
        return 2;
    }
    cl_platform_id platform;
    cl_device_id device;
    cl_int e;
    CHECK(clGetPlatformIDs(1, &platform, NULL));
    CHECK(clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 1, &device, NULL));
    cl_context ctx = clCreateContext(NULL, 1, &device, NULL, NULL, &e);
    CHECK(e);
    cl_command_queue q = clCreateCommandQueue(ctx, device, 0, &e);
    CHECK(e);
    cl_program prog = clCreateProgramWithSource(ctx, 1, &k_source, NULL, &e);
    CHECK(e);
    CHECK(clBuildProgram(prog, 1, &device, "", NULL, NULL));

    enum { N = 64 };
    int rc = 0;
    if (!strcmp(which, "uninit")) {
        rc = read_unset(ctx, prog, q, N);
    } else if (!strcmp(which, "reused-unset")) {
        cl_mem old = clCreateBuffer(ctx, CL_MEM_READ_WRITE, N * sizeof(float), NULL, &e);
        CHECK(e);
        cl_kernel kf = clCreateKernel(prog, "fill", &e);
        CHECK(e);
        CHECK(clSetKernelArg(kf, 0, sizeof old, &old));
        rc = run(q, kf, N);  /* every element of the old buffer written */
        CHECK(clReleaseKernel(kf));
        CHECK(clReleaseMemObject(old));
        if (!rc) rc = read_unset(ctx, prog, q, N);  /* a new buffer of the same size */
    } else if (!strcmp(which, "bounds")) {
        cl_mem dst = clCreateBuffer(ctx, CL_MEM_READ_WRITE, N * sizeof(float), NULL, &e);
        CHECK(e);
        cl_int n = N;
        cl_kernel k = clCreateKernel(prog, "write_past", &e);
        CHECK(e);
        CHECK(clSetKernelArg(k, 0, sizeof dst, &dst));
        CHECK(clSetKernelArg(k, 1, sizeof n, &n));
        rc = run(q, k, N);
        clReleaseKernel(k), clReleaseMemObject(dst);
    } else if (!strcmp(which, "race")) {
        cl_mem dst = clCreateBuffer(ctx, CL_MEM_READ_WRITE, N * sizeof(float), NULL, &e);
        CHECK(e);
        cl_kernel k = clCreateKernel(prog, "write_same", &e);
        CHECK(e);
        CHECK(clSetKernelArg(k, 0, sizeof dst, &dst));
        rc = run(q, k, N);
        clReleaseKernel(k), clReleaseMemObject(dst);
    } else {
        /* a small buffer, written by a kernel and released: Oclgrind 21.10 would hand its slot,
         * with a shadow record N/4 floats long, to the next buffer */
        cl_mem small = clCreateBuffer(ctx, CL_MEM_READ_WRITE, N / 4 * sizeof(float), NULL, &e);
        CHECK(e);
        cl_kernel ks = clCreateKernel(prog, "fill", &e);
        CHECK(e);
        CHECK(clSetKernelArg(ks, 0, sizeof small, &small));
        rc = run(q, ks, N / 4);
        CHECK(clReleaseKernel(ks));
        CHECK(clReleaseMemObject(small));
        cl_kernel kf = clCreateKernel(prog, "fill", &e);
        CHECK(e);
        cl_mem big = clCreateBuffer(ctx, CL_MEM_READ_WRITE, N * sizeof(float), NULL, &e);
        CHECK(e);
        cl_mem out = clCreateBuffer(ctx, CL_MEM_READ_WRITE, N * sizeof(float), NULL, &e);
        CHECK(e);
        cl_kernel kc = clCreateKernel(prog, "copy_checked", &e);
        CHECK(e);
        CHECK(clSetKernelArg(kf, 0, sizeof big, &big));
        CHECK(clSetKernelArg(kc, 0, sizeof big, &big));
        CHECK(clSetKernelArg(kc, 1, sizeof out, &out));
        if (!rc) rc = run(q, kf, N);
        if (!rc) rc = run(q, kc, N);
        float host[N];
        if (!rc) CHECK(clEnqueueReadBuffer(q, out, CL_TRUE, 0, sizeof host, host, 0, NULL, NULL));
        for (int i = 0; !rc && i < N; i++)
            if (host[i] != (float)i + 1.0f) {
                fprintf(stderr, "oclgrind_canary reused: out[%d] = %g, expected %d\n", i, host[i], i + 1);
                rc = 2;
            }
        clReleaseKernel(kf), clReleaseKernel(kc), clReleaseMemObject(big), clReleaseMemObject(out);
    }
    clReleaseProgram(prog), clReleaseCommandQueue(q), clReleaseContext(ctx);
    return rc;
}
