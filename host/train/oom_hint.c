/* The message of a training step that ran out of device memory: what the batch needs (the
 * network's memory estimate), what the device has, and a --batch that would fit. */
#include "train_internal.h"

#include <stdio.h>

/* An out-of-memory failure of the training step, with what the batch needs and what would fit.
 * images: those of the pass that failed; a --batch above it runs as one batch of them all, so
 * that is what is sized, and the batch suggested is always a smaller one, never more than the
 * train_images the run trains on. */
eos_status eos__train_oom_hint(eos_status st, eos_resnet_t m, const eos_dataset *d, int batch, size_t images,
                           size_t train_images) {
    if (st != EOS_ERR_OUT_OF_MEMORY && st != CL_MEM_OBJECT_ALLOCATION_FAILURE && st != CL_OUT_OF_RESOURCES &&
        st != -2050 /* CLBlastInsufficientMemoryTemp */)
        return st;
    static _Thread_local char was[4096];
    snprintf(was, sizeof was, "%s", eos_last_error()->message);
    eos_resnet_memory mem;
    eos_resnet_memory_estimate(eos_resnet_blocks_per_stage(m), d->channels, d->classes, d->height, d->width, &mem);
    unsigned long long global, max_alloc;
    eos__device_memory(eos_resnet_runtime(m), &global, &max_alloc);
    size_t eff = images && (size_t)batch > images ? images : (size_t)batch;  /* the images of one step */
    double mib = 1024.0 * 1024.0, need = (double)mem.fixed_bytes + (double)eff * mem.per_image_bytes;
    /* leave a tenth of the device to the driver and CLBlast's own buffers */
    double room = 0.9 * (double)global - (double)mem.fixed_bytes;
    double fit = room > 0 ? room / mem.per_image_bytes : 0;
    if (max_alloc && (double)max_alloc / mem.largest_per_image_bytes < fit) fit = (double)max_alloc / mem.largest_per_image_bytes;
    /* a smaller batch than the one that failed, and no more than the training set */
    double cap = fit;
    if (eff > 1 && (double)(eff - 1) < cap) cap = (double)(eff - 1);
    if (train_images && (double)train_images < cap) cap = (double)train_images;
    long b = 1;
    while (b * 2 <= cap && b * 2 <= 1 << 20) b *= 2;  /* a power of two */
    char suggest[160], sized[96] = "";
    if (fit < 1 || eff <= 1) snprintf(suggest, sizeof suggest, "even one image of %d x %d does not fit", d->height, d->width);
    else snprintf(suggest, sizeof suggest, "--batch %ld would fit", b);
    if (eff < (size_t)batch) snprintf(sized, sizeof sized, " (%zu images per step: all there are)", eff);
    return eos__error_set(EOS_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, NULL,
                          "use a smaller --batch, or a device with more memory (--device)",
                          "%s\ntraining resnet%d on %d x %d images with --batch %d%s needs about %.0f MiB of device memory "
                          "(%.1f MiB per image); the device has %.0f MiB (largest allocation %.0f MiB): %s",
                          was, 6 * eos_resnet_blocks_per_stage(m) + 2, d->height, d->width, batch, sized, need / mib,
                          mem.per_image_bytes / mib, global / mib, max_alloc / mib, suggest);
}
