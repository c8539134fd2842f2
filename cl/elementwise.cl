/* Element-wise kernels over flat float buffers: fill (more arrive with the layers).
 * Shapes: n = number of elements. Every kernel bounds-checks against n because GPUs round
 * the global size up to the work-group size. */

/* x: (n) */
__kernel void eos_fill(__global float *x, const float value, const uint n) {
    const uint i = get_global_id(0);
    if (i < n) x[i] = value;
}
