/* Training and inference throughput of ResNet-s on one device: validates first (a finite loss
 * that falls over the warm-up steps on a fixed batch), then times --steps training steps
 * (forward, backward, SGD) and as many inference passes, and prints one line each.
 *   bench_train [--arch resnet32] [--batch 128] [--steps 5] [--device SPEC] */
#include "eos/eos.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    const char *arch = "resnet32", *spec = NULL;
    int batch = 128, steps = 5;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--arch") && i + 1 < argc) arch = argv[++i];
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--device") && i + 1 < argc) spec = argv[++i];
        else {
            fprintf(stderr, "usage: bench_train [--arch resnet32] [--batch 128] [--steps 5] [--device SPEC]\n");
            return 2;
        }
    }
    int blocks;
    eos_runtime_t rt;
    eos_resnet_t m;
    if (eos_resnet_blocks(arch, &blocks) || eos_runtime_init(&rt, spec) || eos_resnet_create(rt, blocks, 3, 10, EOS_RESNET_HEAD_LINEAR, 1, &m)) {
        fprintf(stderr, "bench_train: %s\n", eos_last_error_message());
        return 1;
    }
    size_t nx = (size_t)batch * 3 * 32 * 32;
    float *x = malloc(nx * sizeof *x);
    int32_t *y = malloc((size_t)batch * sizeof *y);
    eos_rng r;
    eos_rng_seed(&r, 1, 1);
    for (size_t i = 0; i < nx; i++) x[i] = eos_rng_normal(&r);
    for (int i = 0; i < batch; i++) y[i] = i % 10;
    float loss = 0, first = 0;
    /* warm-up and validation: 3 steps on the same batch must lower a finite loss */
    for (int s = 0; s < 3; s++) {
        if (eos_resnet_forward(m, 1, batch, 32, 32, x) || eos_resnet_backward(m, batch, y, NULL, &loss) ||
            eos_resnet_sgd_step(m, 0.05f, 0.9f, 2e-4f)) {
            fprintf(stderr, "bench_train: %s\n", eos_last_error_message());
            return 1;
        }
        if (s == 0) first = loss;
    }
    if (!isfinite(loss) || !(loss < first)) {
        fprintf(stderr, "bench_train: validation failed: loss %g after 3 steps (first %g)\n", loss, first);
        return 1;
    }
    eos_runtime_finish(rt);
    double t0 = now();
    for (int s = 0; s < steps; s++) {
        eos_resnet_forward(m, 1, batch, 32, 32, x);
        eos_resnet_backward(m, batch, y, NULL, &loss);
        eos_resnet_sgd_step(m, 0.05f, 0.9f, 2e-4f);
    }
    eos_runtime_finish(rt);
    double tt = (now() - t0) / steps;
    float *logits = malloc((size_t)batch * 10 * sizeof *logits);
    eos_resnet_forward(m, 0, batch, 32, 32, x);
    eos_resnet_outputs(m, batch, logits, NULL);
    t0 = now();
    for (int s = 0; s < steps; s++) {
        eos_resnet_forward(m, 0, batch, 32, 32, x);
        eos_resnet_outputs(m, batch, logits, NULL);
    }
    double ti = (now() - t0) / steps;
    const char *dev = eos_runtime_device(rt)->name;
    printf("eos-cl train %s batch %d: %.1f ms/step  %.1f images/s  device=%s\n", arch, batch, 1e3 * tt, batch / tt, dev);
    printf("eos-cl infer %s batch %d: %.1f ms/batch  %.1f images/s  device=%s\n", arch, batch, 1e3 * ti, batch / ti, dev);
    free(x); free(y); free(logits);
    eos_resnet_free(m);
    eos_runtime_free(rt);
    return 0;
}
