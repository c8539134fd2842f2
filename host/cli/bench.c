/* `eos bench`: throughput of the workloads users run, on one device or on every device found.
 * Each measurement validates its output first (a falling finite loss, kNN rows against a brute
 * force search, a balanced EOS output, the peak kernels' closed form), then times with the wall
 * clock and, for one step, with OpenCL event profiling; `layers` sets every convolution against
 * the measured multiply-add peak (host/runtime/peak.c). With --device all, one table compares the devices and checks that their
 * outputs agree. Speed comparisons against PyTorch live in benchmarks/compare.sh. */
#include "cli.h"

#include <math.h>
#include <string.h>
#include <time.h>

void usage_bench(FILE *out) {
    fprintf(out,
            "usage: eos bench train|infer|layers|knn|eos|pixel|peak [options]\n\n"
            "Times one workload after checking its output:\n"
            "  train    ResNet-s training steps (forward, backward, SGD) on a fixed random batch; checks\n"
            "           that the loss is finite and falls over 3 warm-up steps\n"
            "  infer    evaluation-mode forward passes (embedding extraction)\n"
            "  layers   one training step with every kernel timed by OpenCL events: where the time goes;\n"
            "           then every convolution layer shape and direction (forward, data grad, weight grad)\n"
            "           with its algorithm, ms, GFLOP/s and %% of peak (the peak measured as below, shorter),\n"
            "           and the time-weighted average %% of peak of the stride-1 convolutions\n"
            "  knn      the k nearest neighbours of every embedding among the others (what EOS needs);\n"
            "           checks 20 rows against a brute-force search\n"
            "  eos      kNN + EOS generation balancing long-tailed embeddings (exp:100 over 10 classes);\n"
            "           checks that every class ends at the largest class's count and that the rows formed\n"
            "           on the device equal the host's bit for bit; then phases 2 and 3 split into kNN,\n"
            "           draws, forming the new rows and the head (10 epochs), with the bytes copied between\n"
            "           host and device: the rows formed on the host (before issue 20), on the device, and\n"
            "           all of phases 2-3 on the device (what `eos pipeline` runs: the embeddings start in\n"
            "           a device tensor, where the network writes them); interleaved, medians of --steps\n"
            "  pixel    pixel-space re-balancing of a long-tailed image set before phase 1 (--data,\n"
            "           --imbalance, --method pixel-smote or pixel-ros, --k default 5): the cost the\n"
            "           pre-processing baselines pay before their retraining; checks every class at the\n"
            "           largest count and 20 new images against a brute-force neighbour search (on the\n"
            "           segment from the base to one of its k nearest); prints the balanced set's size\n"
            "  peak     the device's single-precision multiply-add peak in GFLOP/s: 8 independent chains of\n"
            "           float16, float8, float4 or float FMAs per work-item, 8 work-groups per compute unit;\n"
            "           each kernel's output checked against its closed form, then --steps launches timed\n"
            "           by OpenCL events; prints the best kernel's median and the fastest launch\n"
            "Prints one line per measurement (images per second or ms, and the device); with --device all,\n"
            "one table over every OpenCL device, with a check that the outputs agree.\n\n"
            "options:\n"
            "  --arch A        train/infer/layers network (default resnet32)\n"
            "  --batch N       images per step (default 128)\n"
            "  --steps N       timed steps or repetitions; peak: launches per kernel (default 5)\n"
            "  --n N           knn/eos: embeddings (default 12406, CIFAR-10-LT's training set)\n"
            "  --dim D         knn/eos: embedding size (default 64)\n"
            "  --k K           knn/eos: neighbours (default 10); pixel: pixel-smote's (default 5)\n"
            "  --emb CSV       knn/eos: use these embeddings (label,f0,...) instead of generated ones\n"
            "  --data PATH     pixel: the dataset (see `eos dataset --help`)\n"
            "  --resize HxW    pixel: resize every image to H x W at load\n"
            "  --imbalance P   pixel: the long-tailed subset (default exp:100, seed 0)\n"
            "  --method M      pixel: pixel-smote (default) or pixel-ros\n"
            "  --conv ALGO     convolution algorithm: auto (default: timed per layer shape, batch size and\n"
            "                  direction), gemm, panel,\n"
            "                  direct (3x3 stride 1 on rows of 32, 16 or 8; panel elsewhere), winograd\n"
            "                  (F(2x2,3x3): 3x3 stride 1 pad 1; panel elsewhere), tiled (local-memory\n"
            "                  tiles on 2-D work-groups, any shape: the candidate written for GPUs)\n"
            "  --device SPEC   index, cpu, gpu, part of a name, or all (default: first GPU, else CPU)\n\n"
            "example:\n  eos bench train --arch resnet32 --batch 128 --steps 5\n  eos bench knn --device all\n"
            "  POCL_AFFINITY=1 eos bench peak\n  eos bench pixel --data data/cifar10-jpg --steps 3\n");
}

typedef struct {
    const char *what, *arch, *emb;
    int batch, steps, n, dim, k;
    eos_conv_algo conv;
    const char *data, *imb, *method;  /* pixel */
    int k_given;
    int resize_h, resize_w;  /* pixel: --resize */
} bench_opts;

typedef struct {
    int ok;
    double per_sec;      /* images/s (train, infer), 1/s (knn, eos) or GFLOP/s (peak) */
    double ms;           /* wall ms per step / per call */
    double device_ms;    /* kernel ms per step from events */
    float *check;        /* output compared across devices */
    size_t ncheck;
    const char *peak_variant;  /* peak: the best kernel, and the launches its median is of */
    int peak_runs;
    double peak_fastest;       /* peak: GFLOP/s of the fastest launch */
} bench_result;

static double wall(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmp_time(const void *a, const void *b) {
    double x = ((const eos_kernel_time *)a)->seconds, y = ((const eos_kernel_time *)b)->seconds;
    return (x < y) - (x > y);
}

static double profiled_ms(eos_runtime_t rt, eos_kernel_time *rows, size_t max, size_t *nrows) {
    size_t n = eos_runtime_profile_read(rt, rows, max);
    double s = 0;
    for (size_t i = 0; i < n; i++) s += rows[i].seconds;
    if (nrows) *nrows = n;
    return 1e3 * s;
}

/* ---- the multiply-add peak and the convolutions' share of it ---------------------------------- */

/* Launches per variant and seconds per launch: `bench peak` (runs = --steps) and `bench layers`
 * (shorter: it is the yardstick of the table, not the measurement of record) */
#define PEAK_SECONDS 0.05
#define LAYERS_PEAK_RUNS 5
#define LAYERS_PEAK_SECONDS 0.02

static int bench_peak(eos_runtime_t rt, const bench_opts *o, int verbose, bench_result *r) {
    eos_peak pk;
    if (eos_peak_measure(rt, o->steps, PEAK_SECONDS, &pk) != EOS_OK) return cli_fail("measuring the peak");
    if (verbose)
        for (int v = 0; v < 4; v++)
            printf("  %-6s FMA chains: %8.1f GFLOP/s%s\n", pk.names[v], pk.variant_gflops[v],
                   pk.variant == pk.names[v] ? "  (best)" : "");
    r->ok = 1;
    r->per_sec = pk.gflops;
    r->ms = r->device_ms = 1e3 * pk.seconds;
    r->peak_variant = pk.variant;
    r->peak_runs = pk.runs;
    r->peak_fastest = pk.fastest_gflops;
    return 0;
}

/* The time-weighted share of peak of a set of rows is their FLOPs over their time, over peak. */
typedef struct {
    double flops, seconds;
} conv_sum;

static double sum_pct(conv_sum c, double peak) {
    return c.seconds > 0 && peak > 0 ? 100 * 1e-9 * c.flops / c.seconds / peak : 0;
}

/* eos bench layers: every convolution shape and direction of the profiled step, its GFLOP/s and
 * its share of the measured peak; rows grouped by shape in the order of the forward pass. The
 * yardstick is the fastest peak launch, not the median: on a shared machine other work only ever
 * slows a launch, and a low yardstick would flatter every share. */
static int print_conv_table(eos_runtime_t rt, const bench_opts *o, double kernel_ms) {
    eos_conv_time rows[64];
    size_t n = eos_conv_profile_read(rt, rows, 64);
    eos_peak pk;
    if (eos_peak_measure(rt, LAYERS_PEAK_RUNS, LAYERS_PEAK_SECONDS, &pk) != EOS_OK) return cli_fail("measuring the peak");
    double peak = pk.fastest_gflops;
    printf("convolutions by layer shape and direction, batch %d (FLOPs = 2 N K C R R OH OW per direction;\n"
           "peak %.1f GFLOP/s = the fastest of %d launches per FMA kernel, median %.1f, `eos bench peak`):\n",
           o->batch, peak, pk.runs, pk.gflops);
    printf("  %-28s %-11s %-9s %5s %9s %9s %10s\n", "shape (N C HxW -> K, stride)", "direction", "algorithm", "calls",
           "ms", "GFLOP/s", "% of peak");
    static const eos_conv_dir order[3] = {EOS_CONV_FORWARD, EOS_CONV_DATA_GRAD, EOS_CONV_WEIGHT_GRAD};
    int printed[64] = {0};
    conv_sum s1[3] = {{0, 0}, {0, 0}, {0, 0}}, s1all = {0, 0}, all = {0, 0};
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n; i++) {
            if (printed[i] || (pass == 0 && rows[i].dir != EOS_CONV_FORWARD)) continue;
            for (int d = 0; d < 3; d++) {
                for (size_t j = 0; j < n; j++) {
                    const eos_conv_time *t = &rows[j];
                    if (printed[j] || t->dir != order[d] || memcmp(&t->shape, &rows[i].shape, sizeof t->shape)) continue;
                    printed[j] = 1;
                    const eos_conv_shape *c = &t->shape;
                    double flops = t->flops * (double)t->calls, gf = t->seconds > 0 ? 1e-9 * flops / t->seconds : 0;
                    char shape[64];
                    snprintf(shape, sizeof shape, "%d %d %dx%d -> %d, s%d", c->N, c->C, c->H, c->W, c->K, c->stride);
                    printf("  %-28s %-11s %-9s %5ld %9.3f %9.1f %9.0f%%\n", shape, eos_conv_dir_name(t->dir),
                           eos_conv_algo_name(t->algo), t->calls, 1e3 * t->seconds, gf, peak > 0 ? 100 * gf / peak : 0);
                    all.flops += flops;
                    all.seconds += t->seconds;
                    if (c->stride == 1) {
                        s1[t->dir].flops += flops;
                        s1[t->dir].seconds += t->seconds;
                        s1all.flops += flops;
                        s1all.seconds += t->seconds;
                    }
                }
            }
        }
    int wino = 0;
    for (size_t i = 0; i < n; i++) wino |= rows[i].algo == EOS_CONV_WINOGRAD;
    if (wino)  /* an effective rate: the multiplications saved count as if done */
        printf("winograd rows: effective GFLOP/s (the direct sum's FLOPs over its time); F(2x2,3x3) does 16 of "
               "every 36 multiplications, so its own arithmetic runs at 4/9 of that\n");
    printf("stride-1 convolutions: %.0f%% of peak on average, weighted by time (forward %.0f%%, data grad %.0f%%, "
           "weight grad %.0f%%); %.1f ms\n",
           sum_pct(s1all, peak), sum_pct(s1[EOS_CONV_FORWARD], peak), sum_pct(s1[EOS_CONV_DATA_GRAD], peak),
           sum_pct(s1[EOS_CONV_WEIGHT_GRAD], peak), 1e3 * s1all.seconds);
    printf("all convolutions: %.0f%% of peak, %.1f ms = %.0f%% of the step's kernel time\n", sum_pct(all, peak),
           1e3 * all.seconds, kernel_ms > 0 ? 100 * 1e3 * all.seconds / kernel_ms : 0);
    return 0;
}

/* ---- ResNet workloads ---------------------------------------------------------------------- */

/* lr 0.05, or 0.01 from 18 blocks a stage (ResNet-110 and deeper), as He et al. warm ResNet-110
 * up: at 0.05 its loss, 11.4 at the fresh network, climbed to 14.9 in the 3 validating steps;
 * benchmarks/peer_torch.py uses the same rates (the speed does not depend on them) */
static float bench_lr(int blocks) { return blocks >= 18 ? 0.01f : 0.05f; }

static int train_step(eos_resnet_t m, int blocks, int batch, const float *x, const int32_t *y, float *loss) {
    return eos_resnet_forward(m, 1, batch, 32, 32, x) || eos_resnet_backward(m, batch, y, NULL, loss) ||
           eos_resnet_sgd_step(m, bench_lr(blocks), 0.9f, 2e-4f);
}

static int bench_resnet(eos_runtime_t rt, const bench_opts *o, int verbose, bench_result *r) {
    int blocks;
    if (eos_resnet_blocks(o->arch, &blocks) != EOS_OK) return cli_fail("bench");
    eos_resnet_t m;
    if (eos_resnet_create(rt, blocks, 3, 10, EOS_RESNET_HEAD_LINEAR, 1, &m) != EOS_OK) return cli_fail("creating the network");
    int B = o->batch, rc = 0;
    size_t nx = (size_t)B * 3 * 32 * 32;
    float *x = malloc(nx * sizeof *x), *logits = malloc((size_t)B * 10 * sizeof *logits);
    int32_t *y = malloc((size_t)B * sizeof *y);
    if (!x || !logits || !y) { fprintf(stderr, "eos bench: out of memory\n"); rc = 1; }
    eos_rng g;
    eos_rng_seed(&g, 1, 1);
    for (size_t i = 0; !rc && i < nx; i++) x[i] = eos_rng_normal(&g);
    for (int i = 0; !rc && i < B; i++) y[i] = i % 10;
    int infer = !strcmp(o->what, "infer");
    float losses[3] = {0};
    if (!rc && infer) {
        /* check: the logits of the fresh network (compared across devices); then one warm-up */
        if (eos_resnet_forward(m, 0, B, 32, 32, x) || eos_resnet_outputs(m, B, logits, NULL)) rc = cli_fail("inference");
        for (int i = 0; !rc && i < B * 10; i++)
            if (!isfinite(logits[i])) { fprintf(stderr, "eos bench: validation failed: logit %d is %g\n", i, logits[i]); rc = 1; }
        r->ncheck = (size_t)B * 10;
    } else if (!rc) {
        /* warm-up and validation: 3 steps on the same batch lower a finite loss */
        for (int s = 0; !rc && s < 3; s++)
            if (train_step(m, blocks, B, x, y, &losses[s])) rc = cli_fail("training step");
        if (!rc && (!isfinite(losses[2]) || !(losses[2] < losses[0]))) {
            fprintf(stderr, "eos bench: validation failed: loss %g after 3 steps (first %g)\n", losses[2], losses[0]);
            rc = 1;
        }
        r->ncheck = 3;
    }
    if (!rc) {
        r->check = malloc(r->ncheck * sizeof *r->check);
        if (r->check) memcpy(r->check, infer ? logits : losses, r->ncheck * sizeof *r->check);
    }
    int steps = !strcmp(o->what, "layers") ? 0 : o->steps;
    if (!rc && steps > 0) {
        eos_runtime_finish(rt);
        double t0 = wall();
        float loss;
        for (int s = 0; !rc && s < steps; s++) {
            if (infer) rc = eos_resnet_forward(m, 0, B, 32, 32, x) || eos_resnet_outputs(m, B, logits, NULL);
            else rc = train_step(m, blocks, B, x, y, &loss);
        }
        eos_runtime_finish(rt);
        if (rc) rc = cli_fail("timed steps");
        r->ms = 1e3 * (wall() - t0) / steps;
        r->per_sec = B / (r->ms / 1e3);
    }
    eos_kernel_time rows[96];
    size_t nrows = 0;
    if (!rc) {  /* one step with every kernel timed by its event */
        eos_runtime_profile_start(rt);
        float loss;
        double t0 = wall();
        if (infer) rc = eos_resnet_forward(m, 0, B, 32, 32, x) || eos_resnet_outputs(m, B, logits, NULL);
        else rc = train_step(m, blocks, B, x, y, &loss);
        eos_runtime_finish(rt);
        double w = 1e3 * (wall() - t0);
        r->device_ms = profiled_ms(rt, rows, 96, &nrows);
        eos_runtime_profile_stop(rt);
        if (rc) rc = cli_fail("profiled step");
        if (steps == 0) {
            r->ms = w;
            r->per_sec = B / (w / 1e3);
        }
    }
    if (!rc && verbose && !strcmp(o->what, "layers")) {
        qsort(rows, nrows, sizeof rows[0], cmp_time);
        printf("one training step of %s, batch %d, by kernel (OpenCL event times; %.1f ms in kernels, %.1f ms wall):\n",
               o->arch, B, r->device_ms, r->ms);
        printf("  %-28s %10s %7s %7s\n", "kernel", "ms", "share", "calls");
        for (size_t i = 0; i < nrows; i++)
            printf("  %-28s %10.2f %6.1f%% %7ld\n", rows[i].name, 1e3 * rows[i].seconds,
                   100 * 1e3 * rows[i].seconds / (r->device_ms > 0 ? r->device_ms : 1), rows[i].calls);
        if (!rc) rc = print_conv_table(rt, o, r->device_ms);
    }
    r->ok = !rc;
    free(x); free(y); free(logits);
    eos_resnet_free(m);
    return rc;
}

/* ---- kNN and EOS ----------------------------------------------------------------------------- */

static int make_embeddings(const bench_opts *o, eos_embeddings *e) {
    if (o->emb) {
        if (eos_embeddings_read_csv(o->emb, EOS_MAX_CLASSES, e) != EOS_OK) return cli_fail("reading the embeddings");
        return 0;
    }
    /* exp:100 over 10 classes scaled to n rows; class means apart, unit noise */
    size_t counts[10], total = 0;
    double raw = 0;
    for (int c = 0; c < 10; c++) raw += pow(0.01, c / 9.0);
    for (int c = 0; c < 10; c++) total += counts[c] = (size_t)fmax(2, floor(o->n * pow(0.01, c / 9.0) / raw));
    if (total < (size_t)o->n) { counts[0] += (size_t)o->n - total; total = (size_t)o->n; }  /* exactly n rows */
    e->n = total;
    e->dim = (size_t)o->dim;
    e->labels = malloc(total * sizeof *e->labels);
    e->x = malloc(total * e->dim * sizeof *e->x);
    if (!e->labels || !e->x) { fprintf(stderr, "eos bench: out of memory\n"); return 1; }
    eos_rng g;
    eos_rng_seed(&g, 7, 7);
    size_t i = 0;
    for (int c = 0; c < 10; c++)
        for (size_t j = 0; j < counts[c]; j++, i++) {
            e->labels[i] = c;
            for (size_t d = 0; d < e->dim; d++) e->x[i * e->dim + d] = (d % 10 == (size_t)c ? 3.0f : 0.0f) + eos_rng_normal(&g);
        }
    return 0;
}

/* eos: phases 2 and 3 once; mode 0: the new rows formed on the host (before issue 20), 1: on
 * the device (eos_resample), 2: everything on the device (eos_resample_device and
 * eos_finetune_device, what `eos pipeline` runs), starting from the embeddings in a device
 * tensor as eos_embed_device leaves them there: their one upload here stands in for the
 * network's forward and is neither timed nor counted. The seconds of kNN, draws, rows and head
 * and the bytes each way of phase 2 and of phase 3. */
typedef struct {
    double knn, draws, rows, head;
    unsigned long long up2, down2, up3, down3;
} phase_split;

static int eos_phases(eos_runtime_t rt, const eos_embeddings *e, int classes, int k, int mode, phase_split *p) {
    eos_embeddings out = {0};
    eos_resample_report rep;
    eos_tensor x = {0}, bal = {0};
    eos_resample_set_host_rows(rt, mode == 0);
    eos_status st = EOS_OK;
    if (mode == 2) {  /* where eos_embed_device writes them in `eos pipeline` */
        st = eos_tensor_alloc(rt, &x, 2, (size_t[]){e->n, e->dim});
        if (st == EOS_OK) st = eos_tensor_upload(&x, e->x, e->n * e->dim);
        if (st != EOS_OK) {
            eos_tensor_free(&x);
            eos_resample_set_host_rows(rt, 0);
            return cli_fail("eos: the embeddings' tensor");
        }
    }
    eos_runtime_stats s0 = eos_runtime_get_stats(rt);
    if (mode == 2) {
        eos_resample_config cfg = eos_resample_defaults();
        cfg.k = k;
        if (st == EOS_OK) st = eos_resample_device(rt, &x, e->labels, classes, EOS_RESAMPLE_EOS, &cfg, 1, &bal, &out.labels, &rep);
        out.n = bal.shape[0];
        out.dim = e->dim;
        eos_tensor_free(&x);
    } else {
        st = eos_resample(rt, e, classes, EOS_RESAMPLE_EOS, k, 1, &out, &rep);
    }
    eos_resample_set_host_rows(rt, 0);
    if (st != EOS_OK) { eos_tensor_free(&bal); return cli_fail("eos"); }
    eos_runtime_stats s1 = eos_runtime_get_stats(rt);
    eos_resample_timing t = eos_resample_last_timing(rt);
    p->knn = t.knn;
    p->draws = t.draws;
    p->rows = t.rows;
    p->up2 = s1.bytes_to_device - s0.bytes_to_device;
    p->down2 = s1.bytes_from_device - s0.bytes_from_device;
    eos_head h;
    eos_finetune_config cfg = eos_finetune_defaults();
    float loss = 0;
    double t0 = wall();
    st = eos_head_init(&h, classes, (int)e->dim, 1);
    if (st == EOS_OK) st = mode == 2 ? eos_finetune_device(rt, &h, &bal, out.labels, &cfg, &loss)
                                     : eos_finetune(rt, &h, &out, &cfg, &loss);
    p->head = wall() - t0;
    eos_runtime_stats s2 = eos_runtime_get_stats(rt);
    p->up3 = s2.bytes_to_device - s1.bytes_to_device;
    p->down3 = s2.bytes_from_device - s1.bytes_from_device;
    eos_head_free(&h);
    eos_embeddings_free(&out);
    eos_tensor_free(&bal);
    eos_resample_report_free(&rep);
    if (st != EOS_OK) return cli_fail("eos head");
    if (!isfinite(loss)) { fprintf(stderr, "eos bench: validation failed: head loss %g\n", loss); return 1; }
    return 0;
}

static int cmp_split(const void *a, const void *b, size_t off) {
    double x = *(const double *)((const char *)a + off), y = *(const double *)((const char *)b + off);
    return (x > y) - (x < y);
}
static int cmp_knn(const void *a, const void *b) { return cmp_split(a, b, offsetof(phase_split, knn)); }
static int cmp_draws(const void *a, const void *b) { return cmp_split(a, b, offsetof(phase_split, draws)); }
static int cmp_rows(const void *a, const void *b) { return cmp_split(a, b, offsetof(phase_split, rows)); }
static int cmp_head(const void *a, const void *b) { return cmp_split(a, b, offsetof(phase_split, head)); }

/* the median of each column over n runs (sorts p) */
static phase_split split_median(phase_split *p, int n) {
    phase_split m = p[0];  /* bytes: the same every run */
    qsort(p, (size_t)n, sizeof *p, cmp_knn);
    m.knn = p[n / 2].knn;
    qsort(p, (size_t)n, sizeof *p, cmp_draws);
    m.draws = p[n / 2].draws;
    qsort(p, (size_t)n, sizeof *p, cmp_rows);
    m.rows = p[n / 2].rows;
    qsort(p, (size_t)n, sizeof *p, cmp_head);
    m.head = p[n / 2].head;
    return m;
}

/* the three ways, rotating which goes first, then the medians */
static int bench_eos_split(eos_runtime_t rt, const eos_embeddings *e, int classes, int k, int steps) {
    phase_split *p[3] = {calloc((size_t)steps, sizeof(phase_split)), calloc((size_t)steps, sizeof(phase_split)),
                         calloc((size_t)steps, sizeof(phase_split))};
    int rc = 0;
    if (!p[0] || !p[1] || !p[2]) { fprintf(stderr, "eos bench: out of memory\n"); rc = 1; }
    for (int s = 0; !rc && s < steps; s++)
        for (int j = 0; !rc && j < 3; j++) {
            int mode = (s + j) % 3;
            rc = eos_phases(rt, e, classes, k, mode, &p[mode][s]);
        }
    if (!rc) {
        printf("eos-cl eos phases 2-3 (%zu rows, k %d; medians of %d, interleaved): ms and MB host->device / "
               "device->host\n", e->n, k, steps);
        printf("  %-16s %8s %8s %8s %9s %9s %17s %17s\n", "new rows formed", "knn", "draws", "rows", "head",
               "total", "phase 2 MB", "phase 3 MB");
        static const char *names[3] = {"on the host", "on the device", "all on device"};
        for (int j = 0; j < 3; j++) {
            phase_split m = split_median(p[j], steps);
            printf("  %-16s %8.1f %8.1f %8.1f %9.1f %9.1f %8.2f / %6.2f %8.2f / %6.2f\n", names[j], 1e3 * m.knn, 1e3 * m.draws, 1e3 * m.rows, 1e3 * m.head,
                   1e3 * (m.knn + m.draws + m.rows + m.head), m.up2 / 1e6, m.down2 / 1e6, m.up3 / 1e6,
                   m.down3 / 1e6);
        }
    }
    free(p[0]);
    free(p[1]);
    free(p[2]);
    return rc;
}

static int bench_knn(eos_runtime_t rt, const bench_opts *o, bench_result *r) {
    eos_embeddings e = {0};
    if (make_embeddings(o, &e)) { eos_embeddings_free(&e); return 1; }
    int k = o->k, rc = 0, is_eos = !strcmp(o->what, "eos");
    int32_t *idx = malloc(e.n * k * sizeof *idx);
    float *d = malloc(e.n * k * sizeof *d);
    double *t = malloc((size_t)o->steps * sizeof *t);
    if (!idx || !d || !t) { fprintf(stderr, "eos bench: out of memory\n"); rc = 1; }
    /* warm-up (builds kernels) and validation */
    if (!rc && eos_knn(rt, e.x, e.n, e.x, e.n, (int)e.dim, k, 1, idx, d) != EOS_OK) rc = cli_fail("knn");
    for (size_t s = 0; !rc && s < 20; s++) {  /* the k-th distance of sampled rows against brute force */
        size_t i = s * (e.n / 20);
        double best[256];
        for (int j = 0; j < k; j++) best[j] = INFINITY;
        for (size_t q = 0; q < e.n; q++) {
            if (q == i) continue;
            double v = 0;
            for (size_t c = 0; c < e.dim; c++) v += pow((double)e.x[i * e.dim + c] - e.x[q * e.dim + c], 2);
            int j = k - 1;
            if (!(v < best[j])) continue;
            while (j > 0 && v < best[j - 1]) { best[j] = best[j - 1]; j--; }
            best[j] = v;
        }
        if (fabs(d[i * k + k - 1] - best[k - 1]) > 1e-3 * (1 + best[k - 1])) {
            fprintf(stderr, "eos bench: validation failed: row %zu: k-th distance %g, brute force %g\n", i, d[i * k + k - 1], best[k - 1]);
            rc = 1;
        }
    }
    eos_resample_report rep;
    eos_embeddings out = {0};
    int classes = 0;  /* 10 for the generated set; the labels of a --emb file decide its own */
    for (size_t i = 0; i < e.n; i++) if (e.labels[i] + 1 > classes) classes = e.labels[i] + 1;
    if (!rc && is_eos) {
        if (eos_resample(rt, &e, classes, EOS_RESAMPLE_EOS, k, 1, &out, &rep) != EOS_OK) rc = cli_fail("eos");
        size_t *cnt = calloc((size_t)classes + 1, sizeof *cnt), top = 0;
        if (!rc && !cnt) { fprintf(stderr, "eos bench: out of memory\n"); rc = 1; }
        for (size_t i = 0; !rc && i < e.n; i++) cnt[e.labels[i]]++;
        for (int c = 0; !rc && c < classes; c++) top = cnt[c] > top ? cnt[c] : top;
        if (cnt) memset(cnt, 0, (size_t)classes * sizeof *cnt);
        for (size_t i = 0; !rc && i < out.n; i++) if (out.labels[i] >= 0 && out.labels[i] < classes) cnt[out.labels[i]]++;
        for (int c = 0; !rc && c < classes; c++)
            if (cnt[c] != top) { fprintf(stderr, "eos bench: validation failed: class %d has %zu rows after EOS, expected %zu\n", c, cnt[c], top); rc = 1; }
        for (size_t i = 0; !rc && i < out.n * out.dim; i++)
            if (!isfinite(out.x[i])) { fprintf(stderr, "eos bench: validation failed: non-finite EOS value\n"); rc = 1; }
        /* the rows the kernel formed against the host's (issue 20: bit for bit) */
        eos_embeddings host = {0};
        eos_resample_report hrep;
        eos_resample_set_host_rows(rt, 1);
        if (!rc && eos_resample(rt, &e, classes, EOS_RESAMPLE_EOS, k, 1, &host, &hrep) != EOS_OK) rc = cli_fail("eos");
        else if (!rc) {
            if (host.n != out.n || memcmp(host.x, out.x, out.n * out.dim * sizeof *out.x)) {
                fprintf(stderr, "eos bench: validation failed: the rows formed on the device differ from the host's\n");
                rc = 1;
            }
            eos_resample_report_free(&hrep);
        }
        eos_resample_set_host_rows(rt, 0);
        eos_embeddings_free(&host);
        free(cnt);
        eos_embeddings_free(&out);
        eos_resample_report_free(&rep);
    }
    if (!rc) {
        r->ncheck = 1;
        r->check = malloc(sizeof *r->check);
        double s = 0;
        for (size_t i = 0; i < e.n; i++) s += d[i * k + k - 1];
        if (r->check) r->check[0] = (float)(s / e.n);  /* mean k-th distance */
    }
    for (int s = 0; !rc && s < o->steps; s++) {
        double t0 = wall();
        if (is_eos) {
            if (eos_resample(rt, &e, classes, EOS_RESAMPLE_EOS, k, 1, &out, &rep) != EOS_OK) rc = cli_fail("eos");
            eos_embeddings_free(&out);
            eos_resample_report_free(&rep);
        } else if (eos_knn(rt, e.x, e.n, e.x, e.n, (int)e.dim, k, 1, idx, d) != EOS_OK) {
            rc = cli_fail("knn");
        }
        t[s] = wall() - t0;
    }
    if (!rc) {
        qsort(t, (size_t)o->steps, sizeof *t, cmp_double);
        r->ms = 1e3 * t[o->steps / 2];
        r->per_sec = 1e3 / r->ms;
        eos_runtime_profile_start(rt);
        if (is_eos) {
            if (eos_resample(rt, &e, classes, EOS_RESAMPLE_EOS, k, 1, &out, &rep) != EOS_OK) rc = cli_fail("eos");
            eos_embeddings_free(&out);
            eos_resample_report_free(&rep);
        } else if (eos_knn(rt, e.x, e.n, e.x, e.n, (int)e.dim, k, 1, idx, d) != EOS_OK) {
            rc = cli_fail("knn");
        }
        eos_runtime_finish(rt);
        eos_kernel_time rows[96];
        r->device_ms = profiled_ms(rt, rows, 96, NULL);
        eos_runtime_profile_stop(rt);
    }
    if (!rc && is_eos) rc = bench_eos_split(rt, &e, classes, k, o->steps);
    r->ok = !rc;
    free(idx); free(d); free(t);
    eos_embeddings_free(&e);
    return rc;
}

/* pixel: one validated re-balancing, then --steps timed ones. r->check: the new images' pixel
 * sum, equal on every device since the neighbours are re-ranked exactly. r->ncheck doubles as
 * the balanced set's size for the printed line (pixel_n, pixel_new). */
static size_t pixel_n, pixel_subset, pixel_new;
static double pixel_mb;

static int bench_pixel(eos_runtime_t rt, const bench_opts *o, bench_result *r) {
    eos_pixel_method m;
    eos_imbalance imb;
    if (eos_pixel_method_parse(o->method, &m) != EOS_OK || m == EOS_PIXEL_NONE) {
        fprintf(stderr, "eos bench: --method '%s': expected pixel-smote or pixel-ros\n", o->method);
        return 2;
    }
    if (eos_imbalance_parse(o->imb, &imb) != EOS_OK) return cli_fail("--imbalance");
    int k = o->k_given ? o->k : EOS_PIXEL_SMOTE_K;
    if (k > EOS_KNN_MAX_K) { fprintf(stderr, "eos bench: --k %d: pixel-smote takes 1..%d\n", k, EOS_KNN_MAX_K); return 2; }
    eos_dataset d, b = {0};
    eos_dataset_options dopt = {0, 0, o->resize_h, o->resize_w};
    if (eos_dataset_load(o->data, &dopt, &d) != EOS_OK) return cli_fail("loading the dataset");
    size_t *idx = NULL, n = 0, *bi = NULL, bn = 0, len = (size_t)d.channels * d.height * d.width;
    double *t = malloc((size_t)o->steps * sizeof *t);
    eos_pixel_report rep = {0};
    int rc = 0;
    if (!t) { fprintf(stderr, "eos bench: out of memory\n"); rc = 1; }
    if (!rc && eos_imbalance_select(&d, &imb, 0, &idx, &n, NULL) != EOS_OK) rc = cli_fail("selecting the subset");
    /* warm-up (builds the kNN kernels) and validation */
    if (!rc && eos_dataset_resample_pixels(rt, &d, idx, n, m, k, 1, &b, &bi, &bn, &rep) != EOS_OK) rc = cli_fail(o->method);
    size_t *cnt = rc ? NULL : calloc((size_t)d.classes, sizeof *cnt), top = 0;
    if (!rc && !cnt) { fprintf(stderr, "eos bench: out of memory\n"); rc = 1; }
    for (size_t i = 0; !rc && i < n; i++) { size_t c = (size_t)d.train.labels[idx[i]]; if (++cnt[c] > top) top = cnt[c]; }
    if (cnt) memset(cnt, 0, (size_t)d.classes * sizeof *cnt);
    for (size_t i = 0; !rc && i < bn; i++) cnt[b.train.labels[bi[i]]]++;
    for (int c = 0; !rc && c < d.classes; c++)
        if (cnt[c] != top) { fprintf(stderr, "eos bench: validation failed: class %d has %zu images, expected %zu\n", c, cnt[c], top); rc = 1; }
    for (size_t s = 0; !rc && m == EOS_PIXEL_SMOTE && s < 20 && rep.made; s++) {
        /* entry a: its neighbour among the base's k nearest of the class in the subset, and every
         * pixel within half a level of base + r (other - base) */
        size_t a = s * (rep.added / 20), p = bi[n + a];
        const uint8_t *x = b.train.pixels + p * len, *xb = d.train.pixels + rep.base[a] * len,
                      *xo = d.train.pixels + rep.other[a] * len;
        int c = b.train.labels[p];
        uint64_t dother = 0, closer = 0;
        for (size_t j = 0; j < len; j++) dother += (uint64_t)(((int)xo[j] - xb[j]) * ((int)xo[j] - xb[j]));
        for (size_t i = 0; i < n; i++) {
            if (d.train.labels[idx[i]] != c || idx[i] == rep.base[a]) continue;
            const uint8_t *y = d.train.pixels + idx[i] * len;
            uint64_t dd = 0;
            for (size_t j = 0; j < len; j++) dd += (uint64_t)(((int)y[j] - xb[j]) * ((int)y[j] - xb[j]));
            closer += dd < dother;
        }
        int ok = closer < (uint64_t)k;
        for (size_t j = 0; ok && j < len; j++)
            ok = fabs((double)x[j] - (xb[j] + (double)rep.gap[a] * ((int)xo[j] - xb[j]))) <= 0.5 + 1e-3;
        if (!ok) {
            fprintf(stderr, "eos bench: validation failed: new image %zu (class %d): %llu images nearer its base than its "
                    "neighbour, or off their segment\n", p, c, (unsigned long long)closer);
            rc = 1;
        }
    }
    free(cnt);
    if (!rc) {
        pixel_subset = n;
        pixel_n = bn;
        pixel_new = rep.made;
        pixel_mb = (double)rep.made * (double)len / 1e6;
        r->ncheck = 1;
        r->check = malloc(sizeof *r->check);
        double sum = 0;
        for (size_t i = n * len; i < b.train.n * len; i++) sum += b.train.pixels[i];
        if (r->check) r->check[0] = (float)sum;
    }
    eos_dataset_free(&b);
    free(bi);
    eos_pixel_report_free(&rep);
    for (int s = 0; !rc && s < o->steps; s++) {
        double t0 = wall();
        if (eos_dataset_resample_pixels(rt, &d, idx, n, m, k, 1, &b, &bi, &bn, NULL) != EOS_OK) rc = cli_fail(o->method);
        t[s] = wall() - t0;
        eos_dataset_free(&b);
        free(bi);
        bi = NULL;
    }
    if (!rc) {
        qsort(t, (size_t)o->steps, sizeof *t, cmp_double);
        r->ms = 1e3 * t[o->steps / 2];
        r->per_sec = 1e3 / r->ms;
    }
    r->ok = !rc;
    free(t);
    free(idx);
    eos_dataset_free(&d);
    return rc;
}

static int run_one(eos_runtime_t rt, const bench_opts *o, int verbose, bench_result *r) {
    memset(r, 0, sizeof *r);
    eos_runtime_set_conv_algo(rt, o->conv);
    if (!strcmp(o->what, "knn") || !strcmp(o->what, "eos")) return bench_knn(rt, o, r);
    if (!strcmp(o->what, "peak")) return bench_peak(rt, o, verbose, r);
    if (!strcmp(o->what, "pixel")) return bench_pixel(rt, o, r);
    return bench_resnet(rt, o, verbose, r);
}

static void print_line(const bench_opts *o, const bench_result *r, const eos_device_info *dev, const char *emb) {
    if (!strcmp(o->what, "peak"))
        printf("eos-cl peak %s: %.1f GFLOP/s (%s FMA, median of %d; fastest launch %.1f)\n", dev->name, r->per_sec,
               r->peak_variant, r->peak_runs, r->peak_fastest);
    else if (!strcmp(o->what, "pixel")) {
        char k[32] = "";
        if (strcmp(o->method, "pixel-ros")) snprintf(k, sizeof k, " k %d", o->k_given ? o->k : EOS_PIXEL_SMOTE_K);
        printf("eos-cl pixel %s %s%s: %zu -> %zu images (%zu new, %.1f MB of new pixels): median %.1f ms of %d  device=%s\n",
               o->method, o->imb, k, pixel_subset, pixel_n, pixel_new, pixel_mb, r->ms, o->steps, dev->name);
    }
    else if (!strcmp(o->what, "knn") || !strcmp(o->what, "eos"))
        printf("eos-cl %s %s k %d: median %.1f ms (kernels %.1f ms)  device=%s\n", o->what, emb, o->k, r->ms, r->device_ms,
               dev->name);
    else
        printf("eos-cl %s %s batch %d: %.1f ms/step  %.1f images/s  (kernels %.1f ms/step)  device=%s\n", o->what, o->arch,
               o->batch, r->ms, r->per_sec, r->device_ms, dev->name);
}

int cmd_bench(int argc, char **argv) {
    static const cli_command self = {"bench", "", NULL, usage_bench};
    bench_opts o = {NULL, "resnet32", NULL, 128, 5, 12406, 64, 10, EOS_CONV_AUTO, NULL, "exp:100", "pixel-smote", 0, 0, 0};
    const char *device = NULL, *v;
    for (int i = 1; i < argc; i++) {
        int r;
        if (CLI_FLAG("--arch")) o.arch = v;
        else if (CLI_FLAG("--device")) device = v;
        else if (CLI_FLAG("--emb")) o.emb = v;
        else if (CLI_FLAG("--data")) o.data = v;
        else if (CLI_FLAG("--resize")) { if (eos_resize_parse(v, &o.resize_h, &o.resize_w) != EOS_OK) return cli_usage_error(&self, "%s", eos_last_error()->message); }
        else if (CLI_FLAG("--imbalance")) o.imb = v;
        else if (CLI_FLAG("--method")) o.method = v;
        else if (CLI_FLAG("--conv")) { if (eos_conv_algo_parse(v, &o.conv) != EOS_OK) return cli_usage_error(&self, "--conv '%s': expected auto, gemm, panel, direct, winograd, tiled or direct16", v); }
        else if (CLI_FLAG("--batch")) { if (cli_parse_int(v, 1, &o.batch)) return cli_usage_error(&self, "--batch '%s': expected a positive integer", v); }
        else if (CLI_FLAG("--steps")) { if (cli_parse_int(v, 1, &o.steps)) return cli_usage_error(&self, "--steps '%s': expected a positive integer", v); }
        else if (CLI_FLAG("--n")) { if (cli_parse_int(v, 21, &o.n)) return cli_usage_error(&self, "--n '%s': expected an integer >= 21", v); }
        else if (CLI_FLAG("--dim")) { if (cli_parse_int(v, 1, &o.dim)) return cli_usage_error(&self, "--dim '%s': expected a positive integer", v); }
        else if (CLI_FLAG("--k")) { if (cli_parse_int(v, 1, &o.k) || o.k > 256) return cli_usage_error(&self, "--k '%s': expected an integer in 1..256", v); o.k_given = 1; }
        else if (argv[i][0] != '-' && !o.what) o.what = argv[i];
        else return cli_usage_error(&self, "unknown option '%s'", argv[i]);
    }
    static const char *whats[] = {"train", "infer", "layers", "knn", "eos", "pixel", "peak"};
    int known = 0;
    for (int i = 0; o.what && i < 7; i++) known |= !strcmp(o.what, whats[i]);
    if (!known) return cli_usage_error(&self, o.what ? "unknown workload '%s': expected train, infer, layers, knn, eos, pixel or peak" : "missing the workload (train, infer, layers, knn, eos, pixel or peak)", o.what);
    if (!strcmp(o.what, "pixel") && !o.data) return cli_usage_error(&self, "bench pixel needs --data PATH (a dataset to re-balance)");
    if (o.data && strcmp(o.what, "pixel")) return cli_usage_error(&self, "--data applies to bench pixel");
    if (eos_resnet_blocks(o.arch, &(int){0}) != EOS_OK) return cli_usage_error(&self, "%s", eos_last_error()->message);
    char emb[64];
    if (!strcmp(o.what, "pixel")) snprintf(emb, sizeof emb, "%s %s", o.method, o.imb);
    else if (o.emb) snprintf(emb, sizeof emb, "%s", "file");
    else snprintf(emb, sizeof emb, "%d x %d", o.n, o.dim);

    if (!device || strcmp(device, "all")) {
        eos_runtime_t rt;
        if (eos_runtime_init(&rt, device) != EOS_OK) return cli_fail("opening the device");
        bench_result r;
        int rc = run_one(rt, &o, 1, &r);
        if (!rc && strcmp(o.what, "layers")) print_line(&o, &r, eos_runtime_device(rt), emb);
        free(r.check);
        eos_runtime_free(rt);
        return rc;
    }
    eos_device_info *devs;
    int nd;
    if (eos_devices_list(&devs, &nd) != EOS_OK) return cli_fail("listing the devices");
    bench_result *res = calloc((size_t)(nd ? nd : 1), sizeof *res);
    if (!res) { eos_devices_free(devs); fprintf(stderr, "eos bench: out of memory\n"); return 1; }
    int failures = 0;
    for (int d = 0; d < nd; d++) {
        char spec[16];
        snprintf(spec, sizeof spec, "%d", devs[d].index);
        eos_runtime_t rt;
        printf("device %d: %s (%s) ...\n", devs[d].index, devs[d].name, devs[d].platform_name);
        fflush(stdout);
        if (eos_runtime_init(&rt, spec) != EOS_OK) { cli_fail("opening the device"); failures++; continue; }
        if (run_one(rt, &o, 0, &res[d])) failures++;
        else print_line(&o, &res[d], eos_runtime_device(rt), emb);
        eos_runtime_free(rt);
    }
    int peak = !strcmp(o.what, "peak");
    const char *unit = !strcmp(o.what, "knn") || !strcmp(o.what, "eos") || !strcmp(o.what, "pixel") ? "calls/s" : peak ? "GFLOP/s" : "images/s";
    printf("\n%s on every device (%s):\n  %-3s %-36s %-22s %10s %10s %12s  %s\n", o.what,
           !strcmp(unit, "images/s") ? o.arch : peak ? "multiply-add peak" : emb, "#", "device", "driver", unit,
           peak ? "ms/launch" : "ms/step", "kernel ms", "output");
    int ref = -1;
    for (int d = 0; d < nd; d++) {
        char agree[96] = "failed";
        if (res[d].ok && peak) {  /* devices differ in speed, not in output: each checked its own */
            snprintf(agree, sizeof agree, "checked (%s)", res[d].peak_variant);
        } else if (res[d].ok && ref < 0) {
            ref = d;
            snprintf(agree, sizeof agree, "reference");
        } else if (res[d].ok) {
            /* train: the losses of the 3 warm-up steps; infer: the logits; knn/eos: the mean k-th
             * distance; pixel: the sum of the new pixels */
            double worst = 0, scale = 0;
            for (size_t i = 0; i < res[d].ncheck && i < res[ref].ncheck; i++) {
                worst = fmax(worst, fabs((double)res[d].check[i] - res[ref].check[i]));
                scale = fmax(scale, fabs((double)res[ref].check[i]));
            }
            int same = worst <= 1e-3 * (1 + scale);
            snprintf(agree, sizeof agree, "%s (max diff %.2g)", same ? "agrees" : "DIFFERS", worst);
            failures += !same;
        }
        printf("  %-3d %-36.36s %-22.22s %10.1f %10.1f %12.1f  %s\n", devs[d].index, devs[d].name, devs[d].driver_version,
               res[d].per_sec, res[d].ms, res[d].device_ms, agree);
    }
    for (int d = 0; d < nd; d++) free(res[d].check);
    free(res);
    eos_devices_free(devs);
    return failures ? 1 : 0;
}
