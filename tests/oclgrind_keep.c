/* Preloaded under Oclgrind by tests/oclgrind.sh, before Oclgrind's runtime: keeps every buffer's
 * storage alive until the process exits, so that Oclgrind never gives a released buffer's slot to a
 * new buffer.
 *
 * Why: Oclgrind 21.10's uninitialised-memory checker (plugins/Uninitialized.cpp) keeps one shadow
 * record per buffer slot and never drops it when the buffer is released (its memoryDeallocated
 * hook is commented out). A new buffer in a reused slot inherits the old buffer's shadow: its size
 * and its "initialised" bits. Kernel stores past the old size are dropped from the shadow and loads
 * there read as uninitialised, so a correct program gets "Controlflow depends on uninitialized
 * value" reports by the million (test_knn: 982163 before this library, 0 with it), and a buffer
 * that is really unwritten could read as initialised. With no slot ever reused, every buffer starts
 * from fresh, poisoned shadow, and the check is exact again; tests/oclgrind_canary.c proves that
 * the checks still fire.
 *
 * How: clCreateBuffer takes one extra reference on the object it returns. The program's own
 * clReleaseMemObject calls still go to Oclgrind (and its API checks); the storage is freed when the
 * process ends. The tests use small shapes, so what is kept is megabytes. */
#define _GNU_SOURCE
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <dlfcn.h>

typedef cl_mem (*create_buffer_fn)(cl_context, cl_mem_flags, size_t, void *, cl_int *);
typedef cl_int (*retain_fn)(cl_mem);

CL_API_ENTRY cl_mem CL_API_CALL clCreateBuffer(cl_context context, cl_mem_flags flags, size_t size,
                                               void *host_ptr, cl_int *errcode_ret) {
    /* the next definitions in the search order: Oclgrind's runtime (LD_PRELOAD after this one) */
    create_buffer_fn create = (create_buffer_fn)dlsym(RTLD_NEXT, "clCreateBuffer");
    retain_fn retain = (retain_fn)dlsym(RTLD_NEXT, "clRetainMemObject");
    if (!create || !retain) {
        if (errcode_ret) *errcode_ret = CL_OUT_OF_HOST_MEMORY;
        return NULL;
    }
    cl_mem m = create(context, flags, size, host_ptr, errcode_ret);
    if (m) retain(m);
    return m;
}
