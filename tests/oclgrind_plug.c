/* Preloaded under Oclgrind by tests/oclgrind.sh, before Oclgrind's runtime: when the program
 * frees a buffer, a 1-byte "plug" buffer takes the freed slot at once, so that Oclgrind never
 * gives a released buffer's slot to a new buffer, while the released buffer's memory (and the
 * race detector's records of it) really go.
 *
 * Why no slot may be reused: Oclgrind 21.10's uninitialised-memory checker
 * (plugins/Uninitialized.cpp) keeps one shadow record per buffer slot and never drops it when the
 * buffer is released (its memoryDeallocated hook is commented out). A new buffer in a reused slot
 * inherits the old buffer's shadow: its size and its "initialised" bits. Kernel stores past the old
 * size are dropped from the shadow and loads there read as uninitialised, so a correct program gets
 * "Controlflow depends on uninitialized value" reports by the million (test_knn: 982163 with
 * nothing preloaded), and a buffer that is really unwritten reads as initialised (a missed report:
 * tests/oclgrind_canary.c's `reused-unset` case).
 *
 * Why not keep every buffer instead (what this file did first): the race detector
 * (plugins/RaceDetector.cpp) holds an access record per byte of every live buffer and clears all
 * of them at the end of every kernel. With nothing ever freed, a launch late in a test program
 * cleared the records of every buffer the program had made: in test_layers a 768-item eos_fill
 * took 0.74 s, a 512-item one 4 ms at the start, and a launch cost about a second whatever its
 * size. With plugs the live memory is the program's own plus a byte a freed buffer, and eos_fill
 * stays at 1-18 ms from the first test to the last.
 *
 * How: Oclgrind places buffer b at address b << 48 (global memory, 16 buffer bits on a 64-bit
 * host) and hands out freed slots first-in first-out, new slots only when none is free. A cl_mem
 * of Oclgrind 21.10 starts {dispatch, context, parent, address} (src/runtime/icd.h), so the slot of
 * a buffer is readable. clReleaseMemObject, when it drops the last reference of a buffer that is
 * not a sub-buffer, notes its slot, releases it, then creates plugs until one lands in that slot
 * (a plug that lands in another freed slot, such as one of a released program's constants, stays
 * there too). Plugs are never released. If a buffer's address does not look like a slot (another
 * Oclgrind), the library says so once on stderr and falls back to keeping every buffer alive from
 * then on (correct, slower). Plain OpenCL through dlsym: no Oclgrind headers. */
#define _GNU_SOURCE
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>

typedef cl_mem (*create_buffer_fn)(cl_context, cl_mem_flags, size_t, void *, cl_int *);
typedef cl_int (*mem_fn)(cl_mem);
typedef cl_int (*mem_info_fn)(cl_mem, cl_mem_info, size_t, void *, size_t *);
typedef cl_int (*context_fn)(cl_context);

/* the head of Oclgrind 21.10's struct _cl_mem */
typedef struct {
    void *dispatch;
    cl_context context;
    cl_mem parent;
    size_t address;
} og_mem_head;

enum { SLOT_SHIFT = 48 };

static create_buffer_fn g_create;
static mem_fn g_retain, g_release;
static mem_info_fn g_info;
static context_fn g_retain_context, g_release_context;
static int g_keep_all;    /* the fallback: every buffer retained once more, never freed */

static int resolve(void) {
    if (g_create) return 1;
    /* the next definitions in the search order: Oclgrind's runtime (LD_PRELOAD after this one) */
    g_retain = (mem_fn)dlsym(RTLD_NEXT, "clRetainMemObject");
    g_release = (mem_fn)dlsym(RTLD_NEXT, "clReleaseMemObject");
    g_info = (mem_info_fn)dlsym(RTLD_NEXT, "clGetMemObjectInfo");
    g_retain_context = (context_fn)dlsym(RTLD_NEXT, "clRetainContext");
    g_release_context = (context_fn)dlsym(RTLD_NEXT, "clReleaseContext");
    g_create = (create_buffer_fn)dlsym(RTLD_NEXT, "clCreateBuffer");
    return g_create && g_retain && g_release && g_info && g_retain_context && g_release_context;
}

/* m's slot, or 0 (and the fallback switched on) when its address is not a slot's start */
static size_t slot_of(cl_mem m, cl_context context) {
    const og_mem_head *h = (const og_mem_head *)m;
    size_t slot = h->address >> SLOT_SHIFT;
    if (h->context == context && slot > 0 && (h->address & (((size_t)1 << SLOT_SHIFT) - 1)) == 0) return slot;
    if (!g_keep_all)
        fprintf(stderr, "oclgrind_plug: a buffer's address is not an Oclgrind 21.10 slot; keeping every buffer "
                        "alive from here on (correct, slower)\n");
    g_keep_all = 1;
    return 0;
}

CL_API_ENTRY cl_mem CL_API_CALL clCreateBuffer(cl_context context, cl_mem_flags flags, size_t size,
                                               void *host_ptr, cl_int *errcode_ret) {
    if (!resolve()) {
        if (errcode_ret) *errcode_ret = CL_OUT_OF_HOST_MEMORY;
        return NULL;
    }
    cl_mem m = g_create(context, flags, size, host_ptr, errcode_ret);
    if (!m) return m;
    if (g_keep_all || !slot_of(m, context)) g_retain(m);
    return m;
}

/* plugs in the freed slot: the first-in first-out queue of free slots gives it within as many
 * creations as slots were free (a released program's constants free slots too); if 256 plugs
 * never reach it, it was not free after all (unexpected): fall back */
static void plug(cl_context context, size_t slot) {
    for (int tries = 0; tries < 256; tries++) {
        cl_int e;
        cl_mem p = g_create(context, CL_MEM_READ_WRITE, 1, NULL, &e);
        if (!p) {
            fprintf(stderr, "oclgrind_plug: cannot create a plug buffer (%d); keeping every buffer alive from here on\n",
                    (int)e);
            g_keep_all = 1;
            return;
        }
        size_t s = slot_of(p, context);
        if (s == 0 || s == slot) return;
    }
    fprintf(stderr, "oclgrind_plug: slot %zu was not handed out again; keeping every buffer alive from here on\n", slot);
    g_keep_all = 1;
}

CL_API_ENTRY cl_int CL_API_CALL clReleaseMemObject(cl_mem memobj) {
    if (!resolve()) return CL_OUT_OF_HOST_MEMORY;
    cl_uint refs = 0;
    cl_mem parent = NULL;
    cl_context context = NULL;
    if (g_keep_all || !memobj || g_info(memobj, CL_MEM_REFERENCE_COUNT, sizeof refs, &refs, NULL) != CL_SUCCESS ||
        refs != 1 || g_info(memobj, CL_MEM_ASSOCIATED_MEMOBJECT, sizeof parent, &parent, NULL) != CL_SUCCESS ||
        parent || g_info(memobj, CL_MEM_CONTEXT, sizeof context, &context, NULL) != CL_SUCCESS)
        return g_release(memobj);
    size_t slot = slot_of(memobj, context);
    g_retain_context(context);  /* the buffer's release may drop the context's last reference */
    cl_int st = g_release(memobj);
    if (st == CL_SUCCESS && slot) plug(context, slot);  /* a plug holds the context from here on */
    g_release_context(context);
    return st;
}
