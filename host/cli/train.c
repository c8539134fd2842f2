/* `eos train` (phase 1) and `eos evaluate`: the paper's schedule on any device, with a
 * progress bar, one line per epoch, and the run's files in --out. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void usage_train(FILE *out) {
    fprintf(out,
            "usage: eos train --data PATH --out DIR [options]\n\n"
            "Phase 1: trains a CIFAR ResNet end to end on a (long-tailed) training set with the paper's\n"
            "schedule (SGD, momentum 0.9, weight decay 2e-4, 5-epoch warm-up, lr x0.01 after epoch 160 and\n"
            "x0.0001 after 180 of 200, scaled to --epochs), pad-4 crops and flips. Prints one line per\n"
            "epoch (loss, train accuracy, test BAC) and writes DIR/model.safetensors (PyTorch names),\n"
            "DIR/train_log.csv and DIR/metrics.json (acc, bac, gm, fm, per_class_recall, confusion).\n"
            "The model kept is the last epoch's; with --val-split, the epoch with the best validation\n"
            "macro-F1. The test set is never used to choose.\n\n"
            "options:\n"
            "  --data PATH        dataset folder (see `eos dataset --help`)\n"
            "  --out DIR          output folder, created if missing\n"
            "  --imbalance P      none, exp:R or step:R (default exp:100)\n"
            "  --arch A           resnet8|14|20|32|44|56|110 (default resnet32)\n"
            "  --epochs N         default 200\n"
            "  --batch N          default 128\n"
            "  --lr X             base learning rate (default 0.1)\n"
            "  --val-split F      hold out a stratified fraction F of the training set (default 0: off)\n"
            "  --loss L           ce (default), focal (Lin et al., --gamma 2), asl (Ridnik et al., single\n"
            "                     label: gamma_pos 0, gamma_neg 4, label smoothing 0.1) or ldam (Cao et al.:\n"
            "                     margins proportional to n_c^(-1/4), largest 0.5, scale 30, on LDAM's\n"
            "                     normalised head: linear.weight (64, classes) and no bias)\n"
            "  --rule R           none (default), reweight (class-balanced weights from the start),\n"
            "                     resample (class-balanced sampler with replacement), drw (weights from\n"
            "                     80%% of the epochs on, LDAM-DRW's deferred re-weighting); the weights\n"
            "                     enter ce, focal and ldam; asl keeps its own asymmetric weighting.\n"
            "                     --loss ldam --rule drw is LDAM-DRW\n"
            "  --gamma X          focal loss gamma (default 2)\n"
            "  --gamma-pos X      asl gamma on the target class (default 0)\n"
            "  --gamma-neg X      asl gamma on the other classes (default 4)\n"
            "  --smoothing X      asl label smoothing (default 0.1)\n"
            "  --ldam-s X         ldam logit scale s (default 30)\n"
            "  --max-m X          ldam largest margin (default 0.5)\n"
            "  --beta X           class-balanced weights' beta, Cui et al. (default 0.9999)\n"
            "  --max-steps N      stop every epoch after N batches (smoke runs; default: whole epochs)\n"
            "  --eval-every N     test BAC every N epochs (default 1; always after the last)\n"
            "  --seed N           seed of the subset, initial weights, batches and crops (default 0)\n"
            "  --device SPEC      index, cpu, gpu or part of a device name (default: first GPU, else CPU)\n"
            "  --skip-bad         skip unreadable images instead of stopping\n"
            "  --force            replace the results already in DIR\n"
            "  --quiet            no progress bar\n\n"
            "example:\n  eos train --data data/cifar10-jpg --out runs/ce --arch resnet32 --epochs 200\n");
}

void usage_evaluate(FILE *out) {
    fprintf(out,
            "usage: eos evaluate --model FILE --data PATH --out DIR [--device SPEC] [--batch N]\n\n"
            "Evaluates a model (safetensors with PyTorch's ResNet-s names, made by EOS-CL or by PyTorch)\n"
            "on the test split of PATH, prints ACC, BAC, GM, FM and the per-class recall, and writes\n"
            "DIR/metrics.json. The architecture is read from the file.\n\n"
            "options:\n"
            "  --model FILE    the model\n"
            "  --data PATH     dataset folder (see `eos dataset --help`)\n"
            "  --out DIR       output folder, created if missing\n"
            "  --batch N       images per forward pass (default 256)\n"
            "  --device SPEC   index, cpu, gpu or part of a device name\n\n"
            "example:\n  eos evaluate --model runs/ce/model.safetensors --data data/cifar10-jpg --out runs/ce/eval\n");
}

int cli_mkdirs(const char *dir) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || !*p) {
            char c = *p;
            *p = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
                fprintf(stderr, "eos: cannot create folder %s: %s\n", buf, strerror(errno));
                return -1;
            }
            *p = c;
            if (!c) break;
        }
    }
    return 0;
}

void cli_print_metrics(const eos_metrics *m, const char (*names)[64]) {
    printf("  ACC %.4f   BAC %.4f   GM %.4f   FM %.4f   (%zu images)\n", m->acc, m->bac, m->gm, m->fm, m->n);
    printf("  per-class recall:\n");
    for (int c = 0; c < m->classes; c++) {
        int64_t n = 0;
        for (int k = 0; k < m->classes; k++) n += m->confusion[(size_t)c * m->classes + k];
        printf("    %3d %-14s %.4f  (%lld images)\n", c, names ? names[c] : "", m->recall[c], (long long)n);
    }
}

static void fmt_time(double s, char *buf, size_t n) {
    if (!(s >= 0) || s > 1e7) s = 0;
    int h = (int)(s / 3600), mi = (int)(s / 60) % 60, se = (int)s % 60;
    if (h) snprintf(buf, n, "%dh%02dm", h, mi);
    else snprintf(buf, n, "%dm%02ds", mi, se);
}


static double wall(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_train_progress(const eos_train_progress *p, void *user) {
    cli_progress_state *ps = user;
    char eta[32];
    fmt_time(p->eta_seconds, eta, sizeof eta);
    if (p->epoch_done) {
        if (ps->tty && !ps->quiet) printf("\r\033[K");
        printf("epoch %3d/%d  lr %.4g  loss %.4f  train acc %.4f", p->epoch + 1, p->epochs, p->lr, p->loss, p->train_acc);
        if (p->val_fm >= 0) printf("  val FM %.4f%s", p->val_fm, p->best ? " *" : "");
        if (p->test_bac >= 0) printf("  test acc %.4f  test BAC %.4f", p->test_acc, p->test_bac);
        printf("  %.0f img/s  %.0f s\n", p->images_per_second, p->epoch_seconds);
        fflush(stdout);
        return;
    }
    if (ps->quiet) return;
    double now = wall();
    if (ps->tty) {
        if (now - ps->last_print < 0.2 && p->step != p->steps) return;
        int width = 30, fill = (int)(width * (double)p->step / (p->steps ? p->steps : 1));
        char bar[64];
        for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
        bar[width] = 0;
        printf("\r\033[Kepoch %d/%d [%s] %zu/%zu  loss %.4f  %.0f img/s  ETA %s", p->epoch + 1, p->epochs, bar, p->step,
               p->steps, p->loss, p->images_per_second, eta);
    } else {
        if (now - ps->last_print < 30) return;  /* plain periodic lines when not a terminal */
        printf("  epoch %d/%d step %zu/%zu  loss %.4f  %.0f img/s  ETA %s\n", p->epoch + 1, p->epochs, p->step, p->steps,
               p->loss, p->images_per_second, eta);
    }
    ps->last_print = now;
    fflush(stdout);
}

cli_count_state cli_count_begin(const char *what, int quiet) {
    cli_count_state s = {what, isatty(STDOUT_FILENO), quiet, wall(), 0};
    return s;
}

void cli_count_progress(size_t done, size_t total, void *user) {
    cli_count_state *s = user;
    double now = wall(), rate = done / (now - s->start > 1e-9 ? now - s->start : 1e-9);
    if (done == total) {
        if (s->tty && !s->quiet) printf("\r\033[K");
        printf("  %s: %zu images in %.1f s (%.0f img/s)\n", s->what, total, now - s->start, rate);
        fflush(stdout);
        return;
    }
    if (s->quiet || now - s->last_print < (s->tty ? 0.2 : 30)) return;
    s->last_print = now;
    if (s->tty) printf("\r\033[K  %s: %zu/%zu images  %.0f img/s  ETA %.0f s", s->what, done, total, rate, (total - done) / rate);
    else printf("  %s: %zu/%zu images  %.0f img/s  ETA %.0f s\n", s->what, done, total, rate, (total - done) / rate);
    fflush(stdout);
}

int cli_parse_real(const char *s, double lo, double hi, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || !(v >= lo && v <= hi)) return -1;
    *out = v;
    return 0;
}

int cli_parse_int(const char *s, int lo, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > 1000000000) return -1;
    *out = (int)v;
    return 0;
}

int cmd_train(int argc, char **argv) {
    static const cli_command self = {"train", "", NULL, usage_train};
    const char *data = NULL, *out = NULL, *imb_text = "exp:100", *arch = "resnet32", *device = NULL, *v;
    int epochs = 200, batch = 128, eval_every = 1, force = 0, quiet = 0, skip_bad = 0, max_steps = 0;
    double lr = 0.1, val = 0, gamma = -1, beta = 0.9999, gpos = -1, gneg = -1, smooth = -1, ldam_s = -1, max_m = -1;
    const char *loss_text = "ce", *rule_text = "none";
    uint64_t seed = 0;
    for (int i = 1; i < argc; i++) {
        int r;
        if (CLI_FLAG("--data")) data = v;
        else if (CLI_FLAG("--out")) out = v;
        else if (CLI_FLAG("--imbalance")) imb_text = v;
        else if (CLI_FLAG("--arch")) arch = v;
        else if (CLI_FLAG("--device")) device = v;
        else if (CLI_FLAG("--epochs")) { if (cli_parse_int(v, 1, &epochs)) return cli_usage_error(&self, "--epochs '%s': expected a positive integer", v); }
        else if (CLI_FLAG("--batch")) { if (cli_parse_int(v, 1, &batch)) return cli_usage_error(&self, "--batch '%s': expected a positive integer", v); }
        else if (CLI_FLAG("--loss")) loss_text = v;
        else if (CLI_FLAG("--rule")) rule_text = v;
        else if (CLI_FLAG("--max-steps")) { if (cli_parse_int(v, 1, &max_steps)) return cli_usage_error(&self, "--max-steps '%s': expected a positive integer", v); }
        else if (CLI_FLAG("--gamma")) { char *e; gamma = strtod(v, &e); if (*e || !(gamma >= 0) || !isfinite(gamma)) return cli_usage_error(&self, "--gamma '%s': expected a number >= 0", v); }
        else if (CLI_FLAG("--gamma-pos")) { if (cli_parse_real(v, 0, 1e9, &gpos)) return cli_usage_error(&self, "--gamma-pos '%s': expected a number >= 0", v); }
        else if (CLI_FLAG("--gamma-neg")) { if (cli_parse_real(v, 0, 1e9, &gneg)) return cli_usage_error(&self, "--gamma-neg '%s': expected a number >= 0", v); }
        else if (CLI_FLAG("--smoothing")) { if (cli_parse_real(v, 0, 0.999, &smooth)) return cli_usage_error(&self, "--smoothing '%s': expected a number in [0, 1)", v); }
        else if (CLI_FLAG("--ldam-s")) { if (cli_parse_real(v, 1e-6, 1e6, &ldam_s)) return cli_usage_error(&self, "--ldam-s '%s': expected a positive number", v); }
        else if (CLI_FLAG("--max-m")) { if (cli_parse_real(v, 0, 10, &max_m)) return cli_usage_error(&self, "--max-m '%s': expected a number in [0, 10]", v); }
        else if (CLI_FLAG("--beta")) { char *e; beta = strtod(v, &e); if (*e || !(beta > 0 && beta < 1)) return cli_usage_error(&self, "--beta '%s': expected a number in (0, 1)", v); }
        else if (CLI_FLAG("--eval-every")) { if (cli_parse_int(v, 1, &eval_every)) return cli_usage_error(&self, "--eval-every '%s': expected a positive integer", v); }
        else if (CLI_FLAG("--lr")) { char *e; lr = strtod(v, &e); if (*e || !(lr > 0) || !isfinite(lr)) return cli_usage_error(&self, "--lr '%s': expected a positive number", v); }
        else if (CLI_FLAG("--val-split")) { char *e; val = strtod(v, &e); if (*e || !(val >= 0 && val < 1)) return cli_usage_error(&self, "--val-split '%s': expected a fraction in [0, 1)", v); }
        else if (CLI_FLAG("--seed")) { if (cli_parse_u64(v, &seed)) return cli_usage_error(&self, "--seed '%s': expected a non-negative integer", v); }
        else if (!strcmp(argv[i], "--force")) force = 1;
        else if (!strcmp(argv[i], "--quiet")) quiet = 1;
        else if (!strcmp(argv[i], "--skip-bad")) skip_bad = 1;
        else return cli_usage_error(&self, "unknown option '%s'", argv[i]);
    }
    if (!data) return cli_usage_error(&self, "--data is required");
    if (!out) return cli_usage_error(&self, "--out is required");
    eos_imbalance imb;
    if (eos_imbalance_parse(imb_text, &imb) != EOS_OK) return cli_usage_error(&self, "%s", eos_last_error()->message);
    int blocks;
    if (eos_resnet_blocks(arch, &blocks) != EOS_OK) return cli_usage_error(&self, "%s", eos_last_error()->message);
    eos_loss_spec loss;
    eos_train_rule rule;
    if (eos_loss_parse(loss_text, &loss) != EOS_OK || eos_rule_parse(rule_text, &rule) != EOS_OK)
        return cli_usage_error(&self, "%s", eos_last_error()->message);
    if (gamma >= 0) {
        if (loss.kind != EOS_LOSS_FOCAL) return cli_usage_error(&self, "--gamma applies to --loss focal");
        loss.gamma = (float)gamma;
    }
    if ((gpos >= 0 || gneg >= 0 || smooth >= 0) && loss.kind != EOS_LOSS_ASL)
        return cli_usage_error(&self, "--gamma-pos, --gamma-neg and --smoothing apply to --loss asl");
    if ((ldam_s >= 0 || max_m >= 0) && loss.kind != EOS_LOSS_LDAM)
        return cli_usage_error(&self, "--ldam-s and --max-m apply to --loss ldam");
    if (gpos >= 0) loss.gamma_pos = (float)gpos;
    if (gneg >= 0) loss.gamma_neg = (float)gneg;
    if (smooth >= 0) loss.eps = (float)smooth;
    if (ldam_s >= 0) loss.s = (float)ldam_s;
    if (max_m >= 0) loss.max_m = (float)max_m;
    char model_path[4200];
    snprintf(model_path, sizeof model_path, "%s/model.safetensors", out);
    if (!force && access(model_path, F_OK) == 0) {
        fprintf(stderr, "eos train: %s already holds a model (%s); use --force to replace it, or another --out\n", out, model_path);
        return 1;
    }
    if (cli_mkdirs(out)) return 1;

    eos_runtime_t rt;
    if (eos_runtime_init(&rt, device) != EOS_OK) return cli_fail("opening the device");
    eos_dataset d;
    eos_dataset_options dopt = {skip_bad, 0};
    double t0 = wall();
    if (eos_dataset_load(data, &dopt, &d) != EOS_OK) {
        eos_runtime_free(rt);
        return cli_fail("loading the dataset");
    }
    size_t *idx, n;
    size_t *counts = calloc((size_t)d.classes, sizeof *counts);
    if (!counts || eos_imbalance_select(&d, &imb, seed, &idx, &n, counts) != EOS_OK) {
        free(counts);
        eos_dataset_free(&d);
        eos_runtime_free(rt);
        return cli_fail("selecting the long-tailed subset");
    }
    printf("device: %s (%s)\n", eos_runtime_device(rt)->name, eos_runtime_device(rt)->platform_name);
    printf("data: %s, %s, %d classes, %d x %d x %d, loaded in %.1f s\n", data, eos_data_layout_str(d.layout), d.classes,
           d.channels, d.height, d.width, wall() - t0);
    printf("train: %zu images (%s, seed %llu): ", n, imb_text, (unsigned long long)seed);
    for (int c = 0; c < d.classes; c++) printf("%s%zu", c ? " " : "", counts[c]);
    printf("\ntest: %zu images\nmodel: %s (%d blocks per stage), %d epochs, batch %d, lr %g, loss %s, rule %s%s\n", d.test.n,
           arch, blocks, epochs, batch, lr, loss_text, rule_text, val > 0 ? ", validation hold-out" : "");
    fflush(stdout);
    eos_resnet_t m;
    int rc = 0;
    eos_resnet_head head = loss.kind == EOS_LOSS_LDAM ? EOS_RESNET_HEAD_NORMED : EOS_RESNET_HEAD_LINEAR;
    if (eos_resnet_create(rt, blocks, d.channels, d.classes, head, seed, &m) != EOS_OK) {
        rc = cli_fail("creating the network");
    } else {
        cli_progress_state ps = {isatty(STDOUT_FILENO), quiet, 0};
        eos_train_config cfg = eos_train_defaults();
        cfg.epochs = epochs;
        cfg.batch = batch;
        cfg.lr = (float)lr;
        cfg.seed = seed;
        cfg.val_split = val;
        cfg.out_dir = out;
        cfg.eval_every = eval_every;
        cfg.loss = loss;
        cfg.rule = rule;
        cfg.beta = beta;
        cfg.max_steps = max_steps;
        cfg.progress = cli_train_progress;
        cfg.user = &ps;
        eos_metrics met;
        if (eos_train_run(rt, m, &d, idx, n, &cfg, &met) != EOS_OK) {
            if (ps.tty && !quiet) printf("\n");
            rc = cli_fail("training");
        } else {
            printf("\ntest metrics of the kept model (%s):\n", val > 0 ? "best validation macro-F1" : "last epoch");
            cli_print_metrics(&met, (const char (*)[64])d.class_names);
            printf("wrote %s/model.safetensors, %s/train_log.csv, %s/metrics.json (%.0f s in all)\n", out, out, out, wall() - t0);
            eos_metrics_free(&met);
        }
        eos_resnet_free(m);
    }
    free(idx);
    free(counts);
    eos_dataset_free(&d);
    eos_runtime_free(rt);
    return rc;
}

int cmd_evaluate(int argc, char **argv) {
    static const cli_command self = {"evaluate", "", NULL, usage_evaluate};
    const char *model = NULL, *data = NULL, *out = NULL, *device = NULL, *v;
    int batch = 256;
    for (int i = 1; i < argc; i++) {
        int r;
        if (CLI_FLAG("--model")) model = v;
        else if (CLI_FLAG("--data")) data = v;
        else if (CLI_FLAG("--out")) out = v;
        else if (CLI_FLAG("--device")) device = v;
        else if (CLI_FLAG("--batch")) { if (cli_parse_int(v, 1, &batch)) return cli_usage_error(&self, "--batch '%s': expected a positive integer", v); }
        else return cli_usage_error(&self, "unknown option '%s'", argv[i]);
    }
    if (!model || !data || !out) return cli_usage_error(&self, "--model, --data and --out are required");
    eos_runtime_t rt;
    if (eos_runtime_init(&rt, device) != EOS_OK) return cli_fail("opening the device");
    eos_resnet_t m;
    if (eos_resnet_load(rt, model, &m) != EOS_OK) {
        eos_runtime_free(rt);
        return cli_fail("loading the model");
    }
    eos_dataset d;
    if (eos_dataset_load(data, NULL, &d) != EOS_OK) {
        eos_resnet_free(m);
        eos_runtime_free(rt);
        return cli_fail("loading the dataset");
    }
    int rc = 0;
    if (eos_resnet_classes(m) != d.classes || eos_resnet_in_channels(m) != d.channels) {
        fprintf(stderr, "eos evaluate: %s has %d classes and %d input channels, the dataset %d and %d\n", model,
                eos_resnet_classes(m), eos_resnet_in_channels(m), d.classes, d.channels);
        rc = 1;
    } else if (cli_mkdirs(out)) {
        rc = 1;
    } else {
        int32_t *pred = malloc(d.test.n * sizeof *pred);
        eos_metrics met;
        char path[4200];
        snprintf(path, sizeof path, "%s/metrics.json", out);
        cli_count_state cs = cli_count_begin("test set", 0);
        if (!pred || eos_predict_progress(m, &d, &d.test, NULL, 0, batch, pred, NULL, cli_count_progress, &cs) != EOS_OK ||
            eos_metrics_compute(d.classes, d.test.labels, pred, d.test.n, &met) != EOS_OK) {
            rc = cli_fail("evaluating");
        } else {
            printf("model: %s (resnet%d, %d classes)\ndevice: %s\n", model, 6 * eos_resnet_blocks_per_stage(m) + 2,
                   d.classes, eos_runtime_device(rt)->name);
            cli_print_metrics(&met, (const char (*)[64])d.class_names);
            char extra[4400];
            snprintf(extra, sizeof extra, "\"model\": \"%s\"", model);
            for (char *p = extra + 10; *p; p++) if (*p == '\\') *p = '/';
            if (eos_metrics_write_json(path, &met, (const char (*)[64])d.class_names, extra) != EOS_OK) rc = cli_fail("writing metrics.json");
            else printf("wrote %s\n", path);
            eos_metrics_free(&met);
        }
        free(pred);
    }
    eos_dataset_free(&d);
    eos_resnet_free(m);
    eos_runtime_free(rt);
    return rc;
}
