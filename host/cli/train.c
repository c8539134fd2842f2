/* `eos train` (phase 1) and `eos evaluate`: the paper's schedule on any device, with a
 * progress bar, one line per epoch, and the run's files in --out. */
#include "cli.h"
#include "dist.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
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
            "x0.0001 after 180 of 200, scaled to --epochs: warm-up over 5/200 of the epochs, none below 40;\n"
            "the decays after round(0.8 x epochs) and round(0.9 x epochs), so 10 epochs run 8 at lr 0.1),\n"
            "pad-4 crops and flips. Prints one line per epoch (loss, train accuracy, test BAC) and writes\n"
            "DIR/model.safetensors (PyTorch names),\n"
            "DIR/train_log.csv and DIR/metrics.json (acc, bac, gm, fm, per_class_recall, confusion).\n"
            "The model kept is the last epoch's; with --val-split, the epoch with the best validation\n"
            "macro-F1. The test set is never used to choose.\n\n"
            "Every epoch ends with DIR/checkpoint.safetensors (weights, BN statistics, SGD momentum,\n"
            "epoch and step, the batch order's state, the log), replaced atomically. Ctrl-C (or SIGTERM)\n"
            "saves one after the current step and exits (status 130, 143 for SIGTERM); a second Ctrl-C\n"
            "quits at once and the last checkpoint stays whole. `eos train --resume DIR` continues\n"
            "with the run's own options, to the same weights an uninterrupted run ends with. A NaN or\n"
            "Inf in the loss or the weights stops the run naming the epoch and step, keeping the last\n"
            "good checkpoint (a smaller --lr is the usual cure: --resume DIR --lr X).\n\n"
            "options:\n"
            "  --data PATH        dataset folder (see `eos dataset --help`)\n"
            "  --resize HxW       resize every image to H x W at load (see `eos dataset --help`)\n"
            "  --out DIR          output folder, created if missing\n"
            "  --resume DIR       continue the run in DIR from its checkpoint with its own options; options\n"
            "                     given too must agree with them, except --data, --device, --eval-every,\n"
            "                     --quiet and --lr (default: start a new run)\n"
            "  --imbalance P      none, exp:R or step:R (default exp:100)\n"
            "  --arch A           resnet8|14|20|32|44|56|110 (default resnet32)\n"
            "  --epochs N         default 200\n"
            "  --batch N          default 128\n"
            "  --lr X             base learning rate (default 0.1)\n"
            "  --val-split F      hold out a stratified fraction F of the training set (default 0: off)\n"
            "  --balance M        re-balance the training images before training, as the paper's\n"
            "                     pre-processing baselines: every class up to the largest class's count by\n"
            "                     pixel-ros (repeats of uniformly drawn images of the class) or pixel-smote\n"
            "                     (SMOTE on the flattened pixels: base + r (neighbour - base), r in [0, 1),\n"
            "                     the neighbour one of the base's --balance-k nearest images of its class,\n"
            "                     rounded to 0..255); none (default). Seeded by --seed; prints the time it\n"
            "                     took. Not with --val-split (copies and blends of training images would\n"
            "                     leak into the validation set)\n"
            "  --balance-k K      pixel-smote's neighbours (default 5, imbalanced-learn's k_neighbors)\n"
            "  --loss L           ce (default), focal (Lin et al., --gamma 2), asl (Ridnik et al., single\n"
            "                     label: gamma_pos 0, gamma_neg 4, label smoothing 0.1) or ldam (Cao et al.:\n"
            "                     margins proportional to n_c^(-1/4), largest 0.5, scale 30, on LDAM's\n"
            "                     normalised head: linear.weight (64, classes) and no bias)\n"
            "  --rule R           none (default), reweight (class-balanced weights from the start),\n"
            "                     resample (class-balanced sampler with replacement), drw (weights from\n"
            "                     the first decay on, round(0.8 x epochs), LDAM-DRW's deferred re-weighting); the weights\n"
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
            "  --device SPEC      index, cpu, gpu or part of a device name (default: first GPU, else CPU;\n"
            "                     under mpirun, rank r of a node takes the (r mod count)-th GPU, else CPU)\n"
            "  --sync-bn          under mpirun: batch norm over the global batch (N ranks x B/N trains as\n"
            "                     one process with --batch B); default: each rank's own statistics (DDP)\n"
            "  --skip-bad         skip unreadable, corrupt or oversized images instead of stopping\n"
            "  --force            replace the results (or the interrupted run) already in DIR (default: refuse)\n"
            "  --quiet            no progress bar\n\n"
            "Data parallel (a build with EOS_MPI): `mpirun -np N eos train ...` splits every batch of\n"
            "--batch B into N shards of B/N (rows [r B/N, (r+1) B/N) on rank r, the batch order of one\n"
            "process), averages the gradients with MPI_Allreduce before each step, and only rank 0\n"
            "prints and writes DIR. --resume needs the same N. On one CPU device give each rank one\n"
            "thread: POCL_CPU_MAX_CU_NUM=1 (PoCL 3+; older PoCL: POCL_MAX_PTHREAD_COUNT=1).\n\n"
            "example:\n  eos train --data data/cifar10-jpg --out runs/ce --arch resnet32 --epochs 200\n"
            "  eos train --resume runs/ce          # after Ctrl-C\n"
            "  mpirun -np 2 eos train --data data/cifar10-jpg --out runs/dp --sync-bn\n");
}

void usage_evaluate(FILE *out) {
    fprintf(out,
            "usage: eos evaluate --model FILE --data PATH --out DIR [--resize HxW] [--device SPEC] [--batch N] [--force] [--quiet]\n\n"
            "Evaluates a model (safetensors with PyTorch's ResNet-s names, made by EOS-CL or by PyTorch)\n"
            "on the test split of PATH, prints ACC, BAC, GM, FM and the per-class recall, and writes\n"
            "DIR/metrics.json. The architecture is read from the file.\n\n"
            "options:\n"
            "  --model FILE    the model\n"
            "  --data PATH     dataset folder (see `eos dataset --help`)\n"
            "  --resize HxW    resize every image to H x W at load, as the model was trained\n"
            "  --out DIR       output folder, created if missing\n"
            "  --batch N       images per forward pass (default 256)\n"
            "  --device SPEC   index, cpu, gpu or part of a device name (default: first GPU, else CPU)\n"
            "  --force         replace DIR/metrics.json if it is there (default: refuse)\n"
            "  --quiet         no progress bar\n\n"
            "example:\n  eos evaluate --model runs/ce/model.safetensors --data data/cifar10-jpg --out runs/ce/eval\n");
}

void cli_print_metrics(const eos_metrics *m, const char *const *names) {
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

/* Ctrl-C and SIGTERM: the first asks the training loop to checkpoint at its next safe point and
 * stop; a second one exits at once. The checkpoint is only ever replaced by a rename, so an
 * exit at any moment leaves the last good one whole. */
static volatile sig_atomic_t g_stop;

static void on_signal(int sig) {
    if (g_stop) _exit(128 + sig);
    g_stop = sig;
    static const char msg[] = "\neos train: stopping at the next step to save a checkpoint "
                              "(press Ctrl-C again to quit at once)\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
}

/* Under mpirun without --device or EOS_DEVICE, rank r of a node takes the (r mod count)-th
 * device of the default kind there (GPUs when there are any, else CPUs), so that two ranks on
 * a two-GPU workstation take one GPU each; several ranks on one CPU device share it. */
const char *cli_rank_device(const char *device, char *buf, size_t n) {
    const char *env = getenv("EOS_DEVICE");
    if (device || (env && env[0]) || eos__dist_size() < 2) return device;
    eos_device_info *devs;
    int count;
    if (eos_devices_list(&devs, &count) != EOS_OK) return NULL;  /* eos_runtime_init says why */
    int gpus = 0, pick = -1, k = 0;
    for (int i = 0; i < count; i++) gpus += devs[i].type == EOS_DEVICE_GPU;
    eos_device_type want = gpus ? EOS_DEVICE_GPU : EOS_DEVICE_CPU;
    int of_kind = gpus ? gpus : 0;
    if (!gpus)
        for (int i = 0; i < count; i++) of_kind += devs[i].type == EOS_DEVICE_CPU;
    for (int i = 0; of_kind && i < count; i++)
        if (devs[i].type == want && k++ == eos__dist_local_rank() % of_kind) pick = devs[i].index;
    eos_devices_free(devs);
    if (pick < 0) return NULL;
    snprintf(buf, n, "%d", pick);
    return buf;
}

typedef struct {
    const char *data, *out, *imb_text, *arch, *device, *loss_text, *rule_text, *balance_text;
    int epochs, batch, eval_every, force, quiet, skip_bad, max_steps, balance_k, resize_h, resize_w, sync_bn;
    double lr, val, gamma, beta, gpos, gneg, smooth, ldam_s, max_m;
    uint64_t seed;
} train_opts;

/* Parse argv[1..argc-1] into o; returns -1 when fine, else the exit code of a usage error. */
static int parse_train(int argc, char **argv, train_opts *o) {
    static const cli_command self = {"train", "", NULL, usage_train};
    const char *v;
    for (int i = 1; i < argc; i++) {
        int r;
        if (CLI_FLAG("--data")) o->data = v;
        else if (CLI_FLAG("--resize")) { if (eos_resize_parse(v, &o->resize_h, &o->resize_w) != EOS_OK) return cli_usage_error(&self, "%s", eos_last_error()->message); }
        else if (CLI_FLAG("--out")) o->out = v;
        else if (CLI_FLAG("--resume")) continue;  /* handled by cmd_train */
        else if (CLI_FLAG("--imbalance")) o->imb_text = v;
        else if (CLI_FLAG("--arch")) o->arch = v;
        else if (CLI_FLAG("--device")) o->device = v;
        else if (CLI_FLAG("--epochs")) { if (cli_parse_int(v, 1, &o->epochs)) return cli_usage_error(&self, "--epochs '%s': expected a positive integer", v); }
        else if (CLI_FLAG("--batch")) { if (cli_parse_int(v, 1, &o->batch)) return cli_usage_error(&self, "--batch '%s': expected a positive integer", v); }
        else if (CLI_FLAG("--loss")) o->loss_text = v;
        else if (CLI_FLAG("--rule")) o->rule_text = v;
        else if (CLI_FLAG("--balance")) o->balance_text = v;
        else if (CLI_FLAG("--balance-k")) { if (cli_parse_int(v, 1, &o->balance_k) || o->balance_k > EOS_KNN_MAX_K) return cli_usage_error(&self, "--balance-k '%s': expected an integer in 1..%d", v, EOS_KNN_MAX_K); }
        else if (CLI_FLAG("--max-steps")) { if (cli_parse_int(v, 1, &o->max_steps)) return cli_usage_error(&self, "--max-steps '%s': expected a positive integer", v); }
        else if (CLI_FLAG("--gamma")) { char *e; o->gamma = strtod(v, &e); if (*e || !(o->gamma >= 0) || !isfinite(o->gamma)) return cli_usage_error(&self, "--gamma '%s': expected a number >= 0", v); }
        else if (CLI_FLAG("--gamma-pos")) { if (cli_parse_real(v, 0, 1e9, &o->gpos)) return cli_usage_error(&self, "--gamma-pos '%s': expected a number >= 0", v); }
        else if (CLI_FLAG("--gamma-neg")) { if (cli_parse_real(v, 0, 1e9, &o->gneg)) return cli_usage_error(&self, "--gamma-neg '%s': expected a number >= 0", v); }
        else if (CLI_FLAG("--smoothing")) { if (cli_parse_real(v, 0, 0.999, &o->smooth)) return cli_usage_error(&self, "--smoothing '%s': expected a number in [0, 1)", v); }
        else if (CLI_FLAG("--ldam-s")) { if (cli_parse_real(v, 1e-6, 1e6, &o->ldam_s)) return cli_usage_error(&self, "--ldam-s '%s': expected a positive number", v); }
        else if (CLI_FLAG("--max-m")) { if (cli_parse_real(v, 0, 10, &o->max_m)) return cli_usage_error(&self, "--max-m '%s': expected a number in [0, 10]", v); }
        else if (CLI_FLAG("--beta")) { char *e; o->beta = strtod(v, &e); if (*e || !(o->beta > 0 && o->beta < 1)) return cli_usage_error(&self, "--beta '%s': expected a number in (0, 1)", v); }
        else if (CLI_FLAG("--eval-every")) { if (cli_parse_int(v, 1, &o->eval_every)) return cli_usage_error(&self, "--eval-every '%s': expected a positive integer", v); }
        else if (CLI_FLAG("--lr")) { char *e; o->lr = strtod(v, &e); if (*e || !(o->lr > 0) || !isfinite(o->lr)) return cli_usage_error(&self, "--lr '%s': expected a positive number", v); }
        else if (CLI_FLAG("--val-split")) { char *e; o->val = strtod(v, &e); if (*e || !(o->val >= 0 && o->val < 1)) return cli_usage_error(&self, "--val-split '%s': expected a fraction in [0, 1)", v); }
        else if (CLI_FLAG("--seed")) { if (cli_parse_u64(v, &o->seed)) return cli_usage_error(&self, "--seed '%s': expected a non-negative integer", v); }
        else if (!strcmp(argv[i], "--force")) o->force = 1;
        else if (!strcmp(argv[i], "--quiet")) o->quiet = 1;
        else if (!strcmp(argv[i], "--skip-bad")) o->skip_bad = 1;
        else if (!strcmp(argv[i], "--sync-bn")) o->sync_bn = 1;
        else return cli_usage_error(&self, "unknown option '%s'", argv[i]);
    }
    return -1;
}

/* The arguments a resumed run needs again, joined by '\x1f' (kept in the checkpoint): all but
 * --resume, --force and --quiet. */
static char *join_args(int argc, char **argv) {
    size_t n = 1;
    for (int i = 1; i < argc; i++) n += strlen(argv[i]) + 1;
    char *s = malloc(n), *p = s;
    if (!s) return NULL;
    *p = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--force") || !strcmp(argv[i], "--quiet") || !strncmp(argv[i], "--resume=", 9)) continue;
        if (!strcmp(argv[i], "--resume")) { i++; continue; }
        p += sprintf(p, "%s%s", p == s ? "" : "\x1f", argv[i]);
    }
    return s;
}

/* --resume DIR's value, found before the flags are parsed (they depend on it), NULL without */
static const char *find_resume(int argc, char **argv) {
    static const cli_command self = {"train", "", NULL, usage_train};
    const char *resume = NULL, *v;
    for (int i = 1; i < argc; i++) {
        int r;
        if (CLI_FLAG("--resume")) resume = v;
        else if (argv[i][0] == '-' && argv[i][1] == '-' && i + 1 < argc && argv[i + 1][0] != '-' &&
                 strcmp(argv[i], "--force") && strcmp(argv[i], "--quiet") && strcmp(argv[i], "--skip-bad"))
            i++;  /* a flag's value */
    }
    return resume;
}

/* The arguments to parse into *args (*nargs): argv, or with --resume DIR the run's own
 * arguments first (from its checkpoint, read into *info and copied to *saved, which the
 * arguments point into), then those given now (the later wins), then --out DIR. -1 when fine;
 * else the exit code, the message printed and nothing left to free. */
static int gather_args(int argc, char **argv, const char *resume, const char *ckpt, eos_train_checkpoint_info *info,
                       char ***args_out, int *nargs_out, char **saved_out) {
    char **args = malloc((size_t)(argc + 3) * sizeof *args), *saved = NULL;
    int nargs = 0;
    if (!args) return cli_fail("arguments");
    args[nargs++] = argv[0];
    if (resume) {
        if (access(ckpt, F_OK) != 0) {
            fprintf(stderr, "eos train: nothing to resume in %s: it has no %s (a run writes one at the end of every epoch "
                    "and when interrupted)\n", resume, EOS_TRAIN_CHECKPOINT);
            free(args);
            return 1;
        }
        if (eos_train_checkpoint_read(ckpt, info) != EOS_OK) {
            free(args);
            return cli_fail("reading the checkpoint to resume");
        }
        size_t k = 1;
        for (const char *c = info->run_args; *c; c++) k += *c == '\x1f';
        char **more = realloc(args, (argc + 3 + k) * sizeof *args);
        saved = malloc(strlen(info->run_args) + 1);
        if (!more || !saved) {
            free(more ? more : args);
            free(saved);
            eos_train_checkpoint_info_free(info);
            return cli_fail("arguments");
        }
        args = more;
        strcpy(saved, info->run_args);
        int skip = 0;  /* the saved --out and its value: --out DIR comes last */
        for (char *tok = saved; *saved && tok;) {
            char *sep = strchr(tok, '\x1f');
            if (sep) *sep = 0;
            if (skip) skip = 0;
            else if (!strcmp(tok, "--out")) skip = 1;
            else if (strncmp(tok, "--out=", 6)) args[nargs++] = tok;
            tok = sep ? sep + 1 : NULL;
        }
    }
    for (int i = 1; i < argc; i++) args[nargs++] = argv[i];
    if (resume) {
        args[nargs++] = "--out";
        args[nargs++] = (char *)resume;
    }
    *args_out = args;
    *nargs_out = nargs;
    *saved_out = saved;
    return -1;
}

/* what the flags' texts say, once checked */
typedef struct {
    eos_imbalance imb;
    int blocks;
    eos_loss_spec loss;
    eos_train_rule rule;
    eos_pixel_method balance;
} train_choices;

/* The flags that need more than their own value checked: each text parsed, the combinations
 * refused, the loss's parameters set. -1 when fine, else 2 (a usage error, printed). */
static int check_choices(const train_opts *o, const char *resume, train_choices *ch) {
    static const cli_command self = {"train", "", NULL, usage_train};
    if (resume && o->force) return cli_usage_error(&self, "--resume continues a run, --force starts one again: give one of them");
    if (!o->data) return cli_usage_error(&self, "--data is required");
    if (!o->out) return cli_usage_error(&self, "--out is required");
    if (eos_imbalance_parse(o->imb_text, &ch->imb) != EOS_OK) return cli_usage_error(&self, "%s", eos_last_error()->message);
    if (eos_resnet_blocks(o->arch, &ch->blocks) != EOS_OK) return cli_usage_error(&self, "%s", eos_last_error()->message);
    eos_loss_spec *loss = &ch->loss;
    if (eos_loss_parse(o->loss_text, loss) != EOS_OK || eos_rule_parse(o->rule_text, &ch->rule) != EOS_OK)
        return cli_usage_error(&self, "%s", eos_last_error()->message);
    if (eos_pixel_method_parse(o->balance_text, &ch->balance) != EOS_OK)
        return cli_usage_error(&self, "--balance: %s", eos_last_error()->message);
    if (o->balance_k && ch->balance != EOS_PIXEL_SMOTE) return cli_usage_error(&self, "--balance-k applies to --balance pixel-smote");
    if (ch->balance != EOS_PIXEL_NONE && o->val > 0)
        return cli_usage_error(&self, "--balance %s with --val-split would put copies and blends of training images into "
                               "the validation set: give one of them", o->balance_text);
    if (o->gamma >= 0) {
        if (loss->kind != EOS_LOSS_FOCAL) return cli_usage_error(&self, "--gamma applies to --loss focal");
        loss->gamma = (float)o->gamma;
    }
    if ((o->gpos >= 0 || o->gneg >= 0 || o->smooth >= 0) && loss->kind != EOS_LOSS_ASL)
        return cli_usage_error(&self, "--gamma-pos, --gamma-neg and --smoothing apply to --loss asl");
    if ((o->ldam_s >= 0 || o->max_m >= 0) && loss->kind != EOS_LOSS_LDAM)
        return cli_usage_error(&self, "--ldam-s and --max-m apply to --loss ldam");
    if (o->gpos >= 0) loss->gamma_pos = (float)o->gpos;
    if (o->gneg >= 0) loss->gamma_neg = (float)o->gneg;
    if (o->smooth >= 0) loss->eps = (float)o->smooth;
    if (o->ldam_s >= 0) loss->s = (float)o->ldam_s;
    if (o->max_m >= 0) loss->max_m = (float)o->max_m;
    return -1;
}

/* --out: checked before the device and the data (a bad --out costs nothing), never replacing
 * results without --force, then created. 0 when fine, else 1 (the message printed). */
static int prepare_out(const train_opts *o, const char *resume) {
    if (cli_out_check_dir("train", o->out)) return 1;
    if (!resume && !o->force) {
        /* never replace results, finished or not, without being told to. The checkpoint comes first:
         * a run with --val-split has its best model on disk from the first epoch on, and an
         * unfinished run is to be continued, not only replaced. Unfinished: epochs left, or all done
         * but the final evaluation (metrics.json) not written. */
        char p[4200];
        eos_train_checkpoint_info ci;
        snprintf(p, sizeof p, "%s/%s", o->out, EOS_TRAIN_CHECKPOINT);
        if (access(p, F_OK) == 0 && eos_train_checkpoint_read(p, &ci) == EOS_OK) {
            char mj[4200];
            snprintf(mj, sizeof mj, "%s/metrics.json", o->out);
            int unfinished = ci.epoch < ci.epochs || access(mj, F_OK) != 0;
            char where[96];
            if (ci.epoch < ci.epochs)
                snprintf(where, sizeof where, "epoch %d of %d, step %zu of %zu", ci.epoch + 1, ci.epochs, ci.step, ci.steps);
            else
                snprintf(where, sizeof where, "all %d epochs done, the final evaluation left", ci.epochs);
            if (unfinished)
                fprintf(stderr, "eos train: %s holds an interrupted run (%s): continue it with `eos train --resume %s`, "
                        "or start again with --force\n", o->out, where, o->out);
            eos_train_checkpoint_info_free(&ci);
            if (unfinished) return 1;
        }
        snprintf(p, sizeof p, "%s/model.safetensors", o->out);
        if (access(p, F_OK) == 0) {
            fprintf(stderr, "eos train: %s already holds a model (%s); use --force to replace it, or another --out\n", o->out, p);
            return 1;
        }
        static const char *const kept[] = {EOS_TRAIN_CHECKPOINT, "metrics.json", "train_log.csv"};
        if (cli_out_check_files("train", o->out, kept, 3, 0, NULL, 0)) return 1;
    }
    return cli_mkdirs(o->out) ? 1 : 0;
}

/* the images a run trains on */
typedef struct {
    eos_dataset d;
    size_t *idx, n;      /* the training images: the long-tailed subset, or its balanced set */
    size_t *counts;      /* the subset's images per class */
    size_t subset_n;     /* the subset's size */
    double load_s, balance_s;
    eos_pixel_report brep;
} train_set;

/* Load the dataset and select the subset (t0: when loading began); with --balance, the
 * balanced set replaces the subset (and the dataset, whose test split it carries), so the
 * memory of the original images is given back. -1 when fine, else the exit code (printed) and
 * nothing of *s left to free. */
static int load_train_set(eos_runtime_t rt, const train_opts *o, const train_choices *ch, const char *resume, double t0,
                          train_set *s) {
    eos_dataset_options dopt = {o->skip_bad, 0, o->resize_h, o->resize_w};
    if (eos_dataset_load(o->data, &dopt, &s->d) != EOS_OK)
        return cli_fail(resume ? "loading the dataset (give --data PATH if it moved since the run began)" : "loading the dataset");
    s->counts = calloc((size_t)s->d.classes, sizeof *s->counts);
    if (!s->counts || eos_imbalance_select(&s->d, &ch->imb, o->seed, &s->idx, &s->n, s->counts) != EOS_OK) {
        free(s->counts);
        eos_dataset_free(&s->d);
        return cli_fail("selecting the long-tailed subset");
    }
    s->load_s = wall() - t0;
    s->subset_n = s->n;
    if (ch->balance != EOS_PIXEL_NONE) {
        eos_dataset bd;
        size_t *bidx, bn;
        double tb = wall();
        if (eos_dataset_resample_pixels(rt, &s->d, s->idx, s->n, ch->balance, o->balance_k ? o->balance_k : EOS_PIXEL_SMOTE_K,
                                        o->seed, &bd, &bidx, &bn, &s->brep) != EOS_OK) {
            free(s->idx);
            free(s->counts);
            eos_dataset_free(&s->d);
            return cli_fail("re-balancing the training images");
        }
        s->balance_s = wall() - tb;
        eos_dataset_free(&s->d);
        s->d = bd;
        free(s->idx);
        s->idx = bidx;
        s->n = bn;
    }
    return -1;
}

/* the lines before the first epoch: device, data, subset, balanced set, model, resumed state */
static void print_run(eos_runtime_t rt, const train_opts *o, const train_choices *ch, train_set *s, const char *resume,
                      const char *ckpt, const eos_train_checkpoint_info *info) {
    const eos_dataset *d = &s->d;
    printf("device: %s (%s)\n", eos_runtime_device(rt)->name, eos_runtime_device(rt)->platform_name);
    printf("data: %s, %s, %d classes, %d x %d x %d, loaded in %.1f s\n", o->data, eos_data_layout_str(d->layout), d->classes,
           d->channels, d->height, d->width, s->load_s);
    printf("train: %zu images (%s, seed %llu): ", s->subset_n, o->imb_text, (unsigned long long)o->seed);
    for (int c = 0; c < d->classes; c++) printf("%s%zu", c ? " " : "", s->counts[c]);
    if (ch->balance != EOS_PIXEL_NONE) {
        printf("\nbalanced: %zu images (%s", s->n, eos_pixel_method_name(ch->balance));
        if (ch->balance == EOS_PIXEL_SMOTE) printf(", k %d", o->balance_k ? o->balance_k : EOS_PIXEL_SMOTE_K);
        printf("): %zu added, %zu of them new images, in %.2f s: ", s->brep.added, s->brep.made, s->balance_s);
        for (int c = 0; c < d->classes; c++) printf("%s%zu", c ? " " : "", s->brep.after[c]);
        for (int c = 0; c < d->classes; c++)
            if (s->brep.fallback[c]) printf("\nnote: class %d has a single image: pixel-smote repeats it", c);
        eos_pixel_report_free(&s->brep);
    }
    printf("\ntest: %zu images\nmodel: %s (%d blocks per stage), %d epochs, batch %d, lr %g, loss %s, rule %s%s\n", d->test.n,
           o->arch, ch->blocks, o->epochs, o->batch, o->lr, o->loss_text, o->rule_text, o->val > 0 ? ", validation hold-out" : "");
    if ((size_t)o->batch > s->n)  /* clamped, not refused: a small data set keeps the default --batch */
        printf("note: --batch %d is more than the %zu training images: each step takes all of them (batch %zu)\n", o->batch,
               s->n, s->n);
    if (resume && info->epoch < info->epochs)
        printf("resuming %s at epoch %d of %d, after step %zu of %zu\n", ckpt, info->epoch + 1, info->epochs, info->step,
               info->steps);
    else if (resume)
        printf("resuming %s: all %d epochs are done, the final evaluation is left\n", ckpt, info->epochs);
    fflush(stdout);
}

/* Train the network on s with Ctrl-C and SIGTERM caught (on_signal), then print the kept model's
 * test metrics and what was written (t0: when loading began). The exit code: 0, 1 on a failure,
 * 128 + the signal after an interruption. */
static int train_network(eos_runtime_t rt, const train_opts *o, const train_choices *ch, const train_set *s,
                         const char *resume, char *run_args, double t0) {
    eos_resnet_t m;
    eos_resnet_head head = ch->loss.kind == EOS_LOSS_LDAM ? EOS_RESNET_HEAD_NORMED : EOS_RESNET_HEAD_LINEAR;
    if (eos_resnet_create(rt, ch->blocks, s->d.channels, s->d.classes, head, o->seed, &m) != EOS_OK)
        return cli_fail("creating the network");
    int rc;
    cli_progress_state ps = {isatty(STDOUT_FILENO), o->quiet, 0};
    eos_train_config cfg = eos_train_defaults();
    cfg.epochs = o->epochs;
    cfg.batch = o->batch;
    cfg.lr = (float)o->lr;
    cfg.seed = o->seed;
    cfg.val_split = o->val;
    cfg.out_dir = o->out;
    cfg.eval_every = o->eval_every;
    cfg.loss = ch->loss;
    cfg.rule = ch->rule;
    cfg.beta = o->beta;
    cfg.max_steps = o->max_steps;
    cfg.sync_bn = o->sync_bn;
    cfg.progress = cli_train_progress;
    cfg.user = &ps;
    cfg.stop = &g_stop;
    cfg.resume = resume != NULL;
    cfg.run_args = run_args;
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    g_stop = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    eos_metrics met;
    eos_status st = eos_train_run(rt, m, &s->d, s->idx, s->n, &cfg, &met);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (st == EOS_ERR_INTERRUPTED) {
        if (ps.tty && !o->quiet) printf("\n");
        fflush(stdout);
        fprintf(stderr, "eos train: %s\ncontinue with: eos train --resume %s\n", eos_last_error()->message, o->out);
        rc = 128 + (g_stop ? (int)g_stop : SIGINT);
    } else if (st != EOS_OK) {
        if (ps.tty && !o->quiet) printf("\n");
        fflush(stdout);
        rc = cli_fail("training");
    } else {
        printf("\ntest metrics of the kept model (%s):\n", o->val > 0 ? "best validation macro-F1" : "last epoch");
        cli_print_metrics(&met, (const char *const *)s->d.class_names);
        printf("wrote %s/model.safetensors, %s/train_log.csv, %s/metrics.json, %s/%s (%.0f s in all)\n", o->out, o->out,
               o->out, o->out, EOS_TRAIN_CHECKPOINT, wall() - t0);
        eos_metrics_free(&met);
        rc = 0;
    }
    eos_resnet_free(m);
    return rc;
}

/* The checked flags to a finished run: --out, the device, the images, the training. */
static int run_train(const train_opts *o, const char *resume, const char *ckpt, const eos_train_checkpoint_info *info,
                     char *run_args) {
    train_choices ch;
    memset(&ch, 0, sizeof ch);
    int rc = check_choices(o, resume, &ch);
    if (rc >= 0) return rc;
    if (prepare_out(o, resume)) return 1;
    eos_runtime_t rt;
    char rank_device[32];
    const char *device = cli_rank_device(o->device, rank_device, sizeof rank_device);
    if (eos_runtime_init(&rt, device) != EOS_OK) return cli_fail("opening the device");
    train_set s;
    memset(&s, 0, sizeof s);
    double t0 = wall();
    rc = load_train_set(rt, o, &ch, resume, t0, &s);
    if (rc < 0) {
        print_run(rt, o, &ch, &s, resume, ckpt, info);
        rc = train_network(rt, o, &ch, &s, resume, run_args, t0);
        free(s.idx);
        free(s.counts);
        eos_dataset_free(&s.d);
    }
    eos_runtime_free(rt);
    return rc;
}

int cmd_train(int argc, char **argv) {
    const char *resume = find_resume(argc, argv);
    train_opts o = {.imb_text = "exp:100", .arch = "resnet32", .loss_text = "ce", .rule_text = "none",
                    .balance_text = "none", .epochs = 200, .batch = 128, .eval_every = 1, .lr = 0.1, .gamma = -1, .beta = 0.9999, .gpos = -1, .gneg = -1,
                    .smooth = -1, .ldam_s = -1, .max_m = -1};
    char **args = NULL, *saved = NULL, ckpt[4200] = "";
    int nargs = 0;
    eos_train_checkpoint_info info = {0};
    if (resume) snprintf(ckpt, sizeof ckpt, "%s/%s", resume, EOS_TRAIN_CHECKPOINT);
    int rc = gather_args(argc, argv, resume, ckpt, &info, &args, &nargs, &saved);
    if (rc >= 0) return rc;
    rc = parse_train(nargs, args, &o);
    char *run_args = rc < 0 ? join_args(nargs, args) : NULL;
    free(args);  /* o points into argv and saved, which stay */
    if (rc < 0) rc = run_train(&o, resume, ckpt, &info, run_args);
    free(run_args);
    free(saved);
    eos_train_checkpoint_info_free(&info);
    return rc;
}

int cmd_evaluate(int argc, char **argv) {
    static const cli_command self = {"evaluate", "", NULL, usage_evaluate};
    const char *model = NULL, *data = NULL, *out = NULL, *device = NULL, *v;
    int batch = 256, force = 0, quiet = 0;
    eos_dataset_options dopt = {0, 0, 0, 0};
    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--force")) force = 1;
        else if (CLI_FLAG("--resize")) { if (eos_resize_parse(v, &dopt.resize_h, &dopt.resize_w) != EOS_OK) return cli_usage_error(&self, "%s", eos_last_error()->message); }
        else if (!strcmp(argv[i], "--quiet")) quiet = 1;
        else if (CLI_FLAG("--model")) model = v;
        else if (CLI_FLAG("--data")) data = v;
        else if (CLI_FLAG("--out")) out = v;
        else if (CLI_FLAG("--device")) device = v;
        else if (CLI_FLAG("--batch")) { if (cli_parse_int(v, 1, &batch)) return cli_usage_error(&self, "--batch '%s': expected a positive integer", v); }
        else return cli_usage_error(&self, "unknown option '%s'", argv[i]);
    }
    if (!model || !data || !out) return cli_usage_error(&self, "--model, --data and --out are required");
    static const char *const writes[] = {"metrics.json"};
    const cli_input in[] = {{"--model", model}};
    if (cli_out_check_files("evaluate", out, writes, 1, force, in, 1)) return 1;
    eos_runtime_t rt;
    if (eos_runtime_init(&rt, device) != EOS_OK) return cli_fail("opening the device");
    eos_resnet_t m;
    if (eos_resnet_load(rt, model, &m) != EOS_OK) {
        eos_runtime_free(rt);
        return cli_fail("loading the model");
    }
    eos_dataset d;
    if (eos_dataset_load(data, &dopt, &d) != EOS_OK) {
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
        cli_count_state cs = cli_count_begin("test set", quiet);
        if (!pred || eos_predict_progress(m, &d, &d.test, NULL, 0, batch, pred, NULL, cli_bar_progress, &cs) != EOS_OK ||
            eos_metrics_compute(d.classes, d.test.labels, pred, d.test.n, &met) != EOS_OK) {
            rc = cli_fail("evaluating");
        } else {
            printf("model: %s (resnet%d, %d classes)\ndevice: %s\n", model, 6 * eos_resnet_blocks_per_stage(m) + 2,
                   d.classes, eos_runtime_device(rt)->name);
            cli_print_metrics(&met, (const char *const *)d.class_names);
            /* the model path as a JSON string: any bytes, escaped and kept valid UTF-8 */
            size_t need = eos_json_format_string(NULL, 0, model) + 16;
            char *extra = malloc(need);
            if (!extra) {
                fprintf(stderr, "eos evaluate: out of memory\n");
                rc = 1;
            } else {
                int k = snprintf(extra, need, "\"model\": ");
                eos_json_format_string(extra + k, need - (size_t)k, model);
                if (eos_metrics_write_json(path, &met, (const char *const *)d.class_names, extra) != EOS_OK) rc = cli_fail("writing metrics.json");
                else printf("wrote %s\n", path);
                free(extra);
            }
            eos_metrics_free(&met);
        }
        free(pred);
    }
    eos_dataset_free(&d);
    eos_resnet_free(m);
    eos_runtime_free(rt);
    return rc;
}
