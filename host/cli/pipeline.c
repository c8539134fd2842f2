/* `eos pipeline`: the paper's three phases in one command, a thin wrapper over the library's
 * eos_pipeline_run (host/train/pipeline.c): the options, the live display drawn from its progress
 * events, and the final table. DIR/summary.json (written by the library) holds the same. */
#include "cli.h"
#include "dist.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void usage_pipeline(FILE *out) {
    fprintf(out,
            "usage: eos pipeline --data PATH --out DIR [--resize HxW] [--profile quick|paper] [--methods eos,ros,...]\n"
            "                    [--epochs N] [--arch A] [--max-steps N] [--eval-every N] [--head fresh|warm]\n"
            "                    [--val-split F] [--device SPEC] [--seed N] [--force] [--quiet]\n\n"
            "Runs phase 1 (train ResNet-s with cross-entropy on the long-tailed training set), phase 2\n"
            "(embeddings, then each re-balancing method) and phase 3 (the linear head fine-tuned on each\n"
            "balanced set), and prints one table: the phase-1 model, any cost-sensitive baselines, and CE +\n"
            "each re-balancing method, with ACC, BAC, GM, FM and per-class recall on the test set. Writes\n"
            "DIR/phase1/ (the CE model), DIR/phase1-<variant>/ (each baseline), DIR/embeddings/,\n"
            "DIR/<method>/ (head.safetensors, metrics.json with the class counts before and after),\n"
            "DIR/embeddings/ (train_emb.csv, test_emb.csv, embed_metrics.json: the per-class embedding gap;\n"
            "projection.csv: a 2-d PCA sample of the EOS-balanced set, real and synthetic rows marked),\n"
            "DIR/summary.json, and DIR/report.html: one self-contained page with the charts of the run\n"
            "(see `eos report --help`).\n\n"
            "profiles:\n"
            "  quick   resnet8, exp:100, 10 epochs, batch 128 (minutes on a 2-core CPU; enough for the\n"
            "          re-balanced heads to show the paper's gain over the phase-1 model)\n"
            "  paper   GUIDE section 5: resnet32, exp:100, 200 epochs, batch 128, lr 0.1 (default)\n"
            "The schedule is the paper's scaled to the epochs: SGD lr 0.1, warm-up over 5/200 of the epochs\n"
            "(none below 40 epochs), lr x0.01 after round(0.8 x epochs) and x0.0001 after round(0.9 x\n"
            "epochs): 200 epochs decay after 160 and 180, 10 epochs run 8 at lr 0.1, 1 at 0.001, 1 at 1e-5.\n"
            "Phase 3 trains a fresh linear head (PyTorch nn.Linear's initialisation, as the authors'\n"
            "cifar_train_os.py) for 10 epochs on each balanced set. Every model kept is its last epoch's,\n"
            "or with --val-split the best validation epoch's: the test set never chooses.\n"
            "Time: the table's seconds column (and summary.json's \"seconds\" per row, with its parts\n"
            "seconds_phase1, seconds_embed, seconds_resample, seconds_head) is each method's whole wall time.\n"
            "A CE + method row counts the CE model's training and the embedding pass, shared by every such\n"
            "row and counted in each, plus its own re-balancing and head; a phase-1 network its training;\n"
            "a pixel method its pixel re-balancing and a whole training on the balanced images.\n\n"
            "options:\n"
            "  --data PATH      dataset folder (see `eos dataset --help`)\n"
            "  --resize HxW     resize every image to H x W at load (see `eos dataset --help`)\n"
            "  --out DIR        output folder, created if missing\n"
            "  --profile P      quick or paper (default paper)\n"
            "  --methods LIST   comma-separated, of three kinds (default eos,ros,smote,borderline,adasyn):\n"
            "                   re-balancing of the CE model's embeddings, then a new head:\n"
            "                     eos, eos-ref, ros, smote, borderline, adasyn, none (the head retrained\n"
            "                     unbalanced); k as `eos resample --help` says: the paper's for eos,\n"
            "                     imbalanced-learn's defaults for the baselines\n"
            "                   phase-1 baselines, each a network trained with the same schedule:\n"
            "                     LOSS or LOSS-RULE, LOSS one of ce, focal, asl, ldam and RULE one of\n"
            "                     reweight, resample, drw (see `eos train --help`), for example\n"
            "                     --methods eos,ldam-drw,focal,asl,ce-drw\n"
            "                   pixel-space re-balancing, the paper's pre-processing baselines:\n"
            "                     pixel-ros, pixel-smote: the training images balanced before phase 1\n"
            "                     (random copies, or SMOTE on flattened pixels with k = 5; see `eos train\n"
            "                     --help`, --balance), then a fresh CE network with the same schedule;\n"
            "                     with --val-split they balance only the training part and validate on\n"
            "                     the CE model's held-out images. DIR/pixel-ros/, DIR/pixel-smote/\n"
            "                   the CE model is always trained: it is the phase-1 row and the backbone\n"
            "                   the re-balancing methods use\n"
            "  --epochs N       override the profile's epochs (quick 10, paper 200)\n"
            "  --arch A         override the profile's network (quick resnet8, paper resnet32)\n"
            "  --max-steps N    stop every epoch after N batches (smoke runs; default: whole epochs)\n"
            "  --eval-every N   test BAC every N epochs for the report's curve, and always after the last\n"
            "                   (default: epochs/20, at least 1: 20 test passes at most)\n"
            "  --head H         where phase 3 starts: fresh (default; uniform +-1/sqrt(64) weight and bias,\n"
            "                   seeded) or warm (the phase-1 model's trained head)\n"
            "  --val-split F    hold out a stratified fraction F of the long-tailed training images\n"
            "                   (default 0: off): phase 1 keeps its best validation macro-F1 epoch, phase 2\n"
            "                   balances the rest, phase 3 keeps each head's best validation epoch\n"
            "                   (DIR/embeddings/val_emb.csv holds their embeddings)\n"
            "  --seed N         seed of everything (default 0)\n"
            "  --device SPEC    index, cpu, gpu or part of a device name (default: $EOS_DEVICE, else the\n"
            "                   first GPU, else the first CPU)\n"
            "  --force          replace the results already in DIR (default: refuse)\n"
            "  --quiet          no progress bars or periodic lines\n\n"
            "Under mpirun (a build with EOS_MPI), `mpirun -np N eos pipeline ...` trains phase 1 data\n"
            "parallel as `eos train` does (per-rank batch norm), then shares phase 2's embeddings and every\n"
            "neighbour search among the ranks (the one-process results for that phase-1 model); rank 0\n"
            "alone writes; with --val-split every rank reads the kept phase-1 model from DIR, which must\n"
            "then be on a file system every rank sees.\n\n"
            "example:\n  eos pipeline --data data/cifar10-jpg --out runs/quick --profile quick\n"
            "  eos pipeline --data data/cifar10-jpg --out runs/paper --methods eos,ldam-drw,focal\n");
}


static double wall(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* the live display, drawn from the library's progress events */
typedef struct {
    const char *arch;
    int tty, quiet;
    int line_open;  /* a status line on the terminal, to be replaced by the method's result */
    double t0;
    cli_progress_state train;
    cli_count_state count;
} display;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Up to 12 classes every recall fits on the row; past that (CIFAR-100: 100) the row gives the
 * lowest, the median and the highest, and the per-class values stay in the files. */
enum { TABLE_MAX_CLASSES = 12 };

static void print_table(const eos_pipeline_result *r) {
    int wide = r->classes > TABLE_MAX_CLASSES;
    printf("\ntest metrics (%zu images; BAC = mean per-class recall): phase-1 networks, then CE + re-balanced head\n\n",
           r->test_images);
    printf("  %-18s %7s %7s %7s %7s %9s   %s\n", "model", "ACC", "BAC", "GM", "FM", "seconds",
           wide ? "per-class recall: min / median / max" : "per-class recall");
    double *sorted = wide ? malloc((size_t)r->classes * sizeof *sorted) : NULL;
    for (int i = 0; i < r->nrows; i++) {
        const eos_metrics *m = &r->rows[i].metrics;
        printf("  %-18s %7.4f %7.4f %7.4f %7.4f %9.1f  ", r->rows[i].name, m->acc, m->bac, m->gm, m->fm,
               r->rows[i].seconds);
        if (wide && sorted) {
            for (int c = 0; c < r->classes; c++) sorted[c] = m->recall[c];
            qsort(sorted, (size_t)r->classes, sizeof *sorted, cmp_double);
            int h = r->classes / 2;
            double med = r->classes % 2 ? sorted[h] : 0.5 * (sorted[h - 1] + sorted[h]);
            printf(" %.2f / %.2f / %.2f", sorted[0], med, sorted[r->classes - 1]);
        } else if (!wide) {
            for (int c = 0; c < r->classes; c++) printf(" %.2f", m->recall[c]);
        }
        printf("\n");
    }
    free(sorted);
    if (wide) {
        printf("  (%d classes: every method's metrics.json and report.html have the recall of each)\n", r->classes);
    } else {
        printf("  (classes: ");
        for (int c = 0; c < r->classes; c++) printf("%s%s", c ? ", " : "", r->class_names[c]);
        printf(")\n");
    }
    /* what the seconds count, with the shared part's figures */
    for (int i = 0; i < r->nrows; i++)
        if (r->rows[i].phase == 3) {
            const eos_pipeline_row *w = &r->rows[i];
            printf("  (seconds: each method's whole wall time. CE + method rows count the CE model's training, %.1f s,\n"
                   "   and the embeddings, %.1f s, shared by all of them, plus their own re-balancing and head)\n",
                   w->seconds_phase1, w->seconds_embed);
            break;
        }
    for (int i = 0; i < r->nrows; i++)
        if (r->rows[i].pixel) {
            printf("  (pixel-* rows: the pixel re-balancing, then a whole training on the balanced images)\n");
            break;
        }
}

static void on_progress(const eos_pipeline_progress *p, void *user) {
    static const char *const split_names[] = {"training embeddings", "validation embeddings", "test embeddings"};
    display *s = user;
    const eos_pipeline_result *r = p->result;
    switch (p->event) {
    case EOS_PIPELINE_START:
        break;
    case EOS_PIPELINE_PHASE1:
        if (p->total)  /* a pixel method: the network trains on the balanced images */
            printf("\nphase 1 baseline: %s, %s, on %zu images re-balanced in pixel space from %zu long-tailed ones (%d "
                   "classes), %zu test images", s->arch, p->method, p->total, p->done, r->classes, r->test_images);
        else
            printf("\nphase 1%s: %s, %s (rule %s), on %zu long-tailed training images (%d classes), %zu test images",
                   p->index ? " baseline" : "", s->arch, p->method, p->rule, r->train_images, r->classes, r->test_images);
        if (r->val_images) printf(", %zu held out for validation", r->val_images);
        printf("\n");
        s->train = (cli_progress_state){s->tty, s->quiet, 0};
        break;
    case EOS_PIPELINE_TRAIN:
        cli_train_progress(p->train, &s->train);
        break;
    case EOS_PIPELINE_PHASE2:
        printf("\nphase 2: embeddings and re-balancing\n");
        break;
    case EOS_PIPELINE_EMBED:
        if (p->done == 0) s->count = cli_count_begin(split_names[p->split], s->quiet);
        else cli_bar_progress(p->done, p->total, &s->count);
        break;
    case EOS_PIPELINE_EMBEDDINGS:
        if (r->val_images)
            printf("  %zu training, %zu validation and %zu test embeddings in %s/\n", r->train_images, r->val_images,
                   r->test_images, p->path);
        else
            printf("  %zu training and %zu test embeddings in %s/\n", r->train_images, r->test_images, p->path);
        break;
    case EOS_PIPELINE_GAP:
        printf("  embedding gap (test / train, leave-one-out), per class:");
        for (int c = 0; c < r->classes; c++) printf(" %.2f", p->test_gap[c] / p->train_gap[c]);
        printf("\n");
        break;
    case EOS_PIPELINE_METHOD:
        if (s->tty && !s->quiet) {  /* a status line on a terminal, replaced by the result */
            printf("  %-11s re-balancing %zu rows, then training the head ...", p->method, p->total);
            s->line_open = 1;
        }
        break;
    case EOS_PIPELINE_ROW:
        if (p->row->phase == 3) {
            const eos_pipeline_row *w = p->row;
            printf("%s  %-11s %zu -> %zu rows, head trained (loss %.3f), %.1f s\n", s->line_open ? "\r\033[K" : "", w->dir,
                   w->rows_before, w->rows_after, w->head_loss, w->seconds_resample + w->seconds_head);
            s->line_open = 0;
        }
        break;
    case EOS_PIPELINE_RESULTS:
        print_table(r);
        break;
    case EOS_PIPELINE_SUMMARY:
        printf("\nwrote %s (%.0f s in all)\n", p->path, wall() - s->t0);
        break;
    case EOS_PIPELINE_REPORT:
        printf("wrote %s (open it in any browser)\n", p->path);
        break;
    }
    fflush(stdout);
}

int cmd_pipeline(int argc, char **argv) {
    static const cli_command self = {"pipeline", "", NULL, usage_pipeline};
    eos_pipeline_config cfg = eos_pipeline_defaults();
    const char *profile = "paper", *device = NULL, *arch_override = NULL, *v;
    int epochs_override = 0, quiet = 0;
    for (int i = 1; i < argc; i++) {
        int r;
        if (CLI_FLAG("--data")) cfg.data = v;
        else if (CLI_FLAG("--resize")) { if (eos_resize_parse(v, &cfg.resize_h, &cfg.resize_w) != EOS_OK) return cli_usage_error(&self, "%s", eos_last_error()->message); }
        else if (CLI_FLAG("--out")) cfg.out_dir = v;
        else if (CLI_FLAG("--profile")) profile = v;
        else if (CLI_FLAG("--methods")) cfg.methods = v;
        else if (CLI_FLAG("--device")) device = v;
        else if (CLI_FLAG("--arch")) arch_override = v;
        else if (CLI_FLAG("--epochs")) { if (cli_parse_int(v, 1, &epochs_override)) return cli_usage_error(&self, "--epochs '%s': expected a positive integer", v); }
        else if (CLI_FLAG("--max-steps")) { if (cli_parse_int(v, 1, &cfg.max_steps)) return cli_usage_error(&self, "--max-steps '%s': expected a positive integer", v); }
        else if (CLI_FLAG("--eval-every")) { if (cli_parse_int(v, 1, &cfg.eval_every)) return cli_usage_error(&self, "--eval-every '%s': expected a positive integer", v); }
        else if (CLI_FLAG("--seed")) { if (cli_parse_u64(v, &cfg.seed)) return cli_usage_error(&self, "--seed '%s': expected a non-negative integer", v); }
        else if (CLI_FLAG("--head")) { if (eos_head_mode_parse(v, &cfg.head) != EOS_OK) return cli_usage_error(&self, "--head '%s': expected fresh or warm", v); }
        else if (CLI_FLAG("--val-split")) { char *e; cfg.val_split = strtod(v, &e); if (!*v || *e || !(cfg.val_split >= 0 && cfg.val_split < 1)) return cli_usage_error(&self, "--val-split '%s': expected a fraction in [0, 1)", v); }
        else if (!strcmp(argv[i], "--force")) cfg.overwrite = 1;
        else if (!strcmp(argv[i], "--quiet")) quiet = 1;
        else return cli_usage_error(&self, "unknown option '%s'", argv[i]);
    }
    if (!cfg.data || !cfg.out_dir) return cli_usage_error(&self, "--data and --out are required");
    if (eos_pipeline_profile(profile, &cfg) != EOS_OK) return cli_usage_error(&self, "--profile '%s': expected quick or paper", profile);
    if (arch_override) cfg.arch = arch_override;
    if (epochs_override) cfg.epochs = epochs_override;
    if (eos_pipeline_check(&cfg) != EOS_OK) {
        const char *msg = eos_last_error()->message;
        return cli_usage_error(&self, "%s%s", strncmp(msg, "methods:", 8) ? "" : "--", msg);
    }
    /* every name the run writes, an unfinished run's included: refused unless --force, before
     * the device is opened */
    eos_pipeline_outputs outs;
    const char *writes[EOS_PIPELINE_MAX_OUTPUTS];
    if (eos_pipeline_list_outputs(&cfg, &outs) != EOS_OK) return cli_fail("pipeline");
    for (int k = 0; k < outs.n; k++) writes[k] = outs.name[k];
    /* under mpirun rank 0 alone writes (host/pipeline.c), and alone looks at what is there */
    if (cli_rank0_says(eos__dist_rank() == 0 ? cli_out_check_files("pipeline", cfg.out_dir, writes, outs.n, cfg.overwrite, NULL, 0) : 0))
        return 1;
    display s = {cfg.arch, isatty(STDOUT_FILENO), quiet, 0, wall(), {0, 0, 0}, {0}};
    eos_runtime_t rt = NULL;
    char rank_device[32];
    if (eos_runtime_init(&rt, cli_rank_device(device, rank_device, sizeof rank_device)) != EOS_OK)
        return cli_fail("opening the device");
    printf("EOS-CL pipeline, profile %s: %s, exp:100, %d epochs, methods %s\ndevice: %s\n", cfg.profile, cfg.arch, cfg.epochs,
           cfg.methods, eos_runtime_device(rt)->name);
    fflush(stdout);
    eos_pipeline_result res;
    int rc = 0;
    /* under mpirun the other ranks show nothing: their phase-1 rows have no metrics (rank 0
     * alone evaluates the networks it trained with them) */
    if (eos_pipeline_run(rt, &cfg, eos__dist_rank() == 0 ? on_progress : NULL, &s, &res) != EOS_OK) {
        if (s.line_open) printf("\n");
        fflush(stdout);
        rc = cli_fail(res.failed);
    }
    eos_pipeline_result_free(&res);
    eos_runtime_free(rt);
    return rc;
}
