/* `eos pipeline`: the paper's three phases in one command. Phase 1 trains ResNet-s on the
 * long-tailed training set; phase 2 extracts the embeddings and balances them with each
 * method; phase 3 fine-tunes the head on each balanced set. One table compares the phase-1
 * model with every re-balanced head; DIR/summary.json holds the same. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void usage_pipeline(FILE *out) {
    fprintf(out,
            "usage: eos pipeline --data PATH --out DIR [--profile quick|paper] [--methods eos,ros,...]\n"
            "                    [--epochs N] [--arch A] [--max-steps N] [--eval-every N] [--device SPEC]\n"
            "                    [--seed N] [--force] [--quiet]\n\n"
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
            "  quick   resnet8, exp:100, 2 epochs, batch 128 (minutes on a 2-core CPU: a weak backbone, but\n"
            "          the re-balanced heads already move the minority recall)\n"
            "  paper   GUIDE section 5: resnet32, exp:100, 200 epochs, batch 128, lr 0.1 (default)\n\n"
            "options:\n"
            "  --data PATH      dataset folder (see `eos dataset --help`)\n"
            "  --out DIR        output folder, created if missing\n"
            "  --profile P      quick or paper (default paper)\n"
            "  --methods LIST   comma-separated, of two kinds (default eos,ros,smote,borderline,adasyn):\n"
            "                   re-balancing of the CE model's embeddings, then a new head:\n"
            "                     eos, eos-ref, ros, smote, borderline, adasyn, none (the head retrained\n"
            "                     unbalanced); k as `eos resample --help` says: the paper's for eos,\n"
            "                     imbalanced-learn's defaults for the baselines\n"
            "                   phase-1 baselines, each a network trained with the same schedule:\n"
            "                     LOSS or LOSS-RULE, LOSS one of ce, focal, asl, ldam and RULE one of\n"
            "                     reweight, resample, drw (see `eos train --help`), for example\n"
            "                     --methods eos,ldam-drw,focal,asl,ce-drw\n"
            "                   the CE model is always trained: it is the phase-1 row and the backbone\n"
            "                   the re-balancing methods use\n"
            "  --epochs N       override the profile's epochs (quick 2, paper 200)\n"
            "  --arch A         override the profile's network (quick resnet8, paper resnet32)\n"
            "  --max-steps N    stop every epoch after N batches (smoke runs; default: whole epochs)\n"
            "  --eval-every N   test BAC every N epochs for the report's curve, and always after the last\n"
            "                   (default: epochs/20, at least 1: 20 test passes at most)\n"
            "  --seed N         seed of everything (default 0)\n"
            "  --device SPEC    index, cpu, gpu or part of a device name (default: $EOS_DEVICE, else the\n"
            "                   first GPU, else the first CPU)\n"
            "  --force          replace the results already in DIR (default: refuse)\n"
            "  --quiet          no progress bars or periodic lines\n\n"
            "example:\n  eos pipeline --data data/cifar10-jpg --out runs/quick --profile quick\n"
            "  eos pipeline --data data/cifar10-jpg --out runs/paper --methods eos,ldam-drw,focal\n");
}

typedef struct {
    char name[40];
    char dir[48];  /* its folder under DIR */
    eos_metrics m;
} row;

typedef struct {
    char step[48];
    double seconds;
} timing;

typedef struct {
    char name[32];
    eos_loss_spec loss;
    eos_train_rule rule;
} variant;

enum { MAX_METHODS = 16, MAX_TIMINGS = 4 * MAX_METHODS + 4, PROJECTION_POINTS = 2400 };

static double wall(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* a JSON string: escaped, and valid UTF-8 whatever the bytes of a folder or class name */
static void json_str(FILE *f, const char *s) { eos_json_write_string(f, s); }

static void json_metrics(FILE *f, const row *r) {
    const eos_metrics *m = &r->m;
    fprintf(f, "    {\"method\": ");
    json_str(f, r->name);
    fprintf(f, ", \"dir\": ");
    json_str(f, r->dir);
    fprintf(f, ", \"acc\": %.6f, \"bac\": %.6f, \"gm\": %.6f, \"fm\": %.6f, \"per_class_recall\": [", m->acc, m->bac, m->gm, m->fm);
    for (int c = 0; c < m->classes; c++) fprintf(f, "%s%.6f", c ? ", " : "", m->recall[c]);
    fprintf(f, "]}");
}

/* Write path through path.tmp and a rename, so a reader never sees half a file. f is the open
 * temp file, fully written; returns 0 or prints why. */
static int commit_file(FILE *f, const char *tmp, const char *path) {
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "eos pipeline: cannot write %s: %s\n", path, strerror(errno));
        remove(tmp);
        return 1;
    }
    return 0;
}

/* cli_fail after ending a status line left open on the terminal */
static int fail_line(int live, const char *context) {
    if (live) printf("\n");
    fflush(stdout);
    return cli_fail(context);
}

static FILE *open_tmp(const char *path, char *tmp, size_t n) {
    snprintf(tmp, n, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) fprintf(stderr, "eos pipeline: cannot write %s: %s\n", tmp, strerror(errno));
    return f;
}

/* embeddings/embed_metrics.json: the per-class embedding gap, as `eos embed` writes it, plus
 * the per-class counts of both splits */
static int write_gap(const char *path, const char *model, const eos_dataset *d, int C, const double *tg, const double *trg,
                     const size_t *ntrain, const size_t *ntest) {
    char tmp[4400];
    FILE *f = open_tmp(path, tmp, sizeof tmp);
    if (!f) return 1;
    fprintf(f, "{\n  \"model\": ");
    json_str(f, model);
    fprintf(f, ",\n  \"classes\": [");
    for (int c = 0; c < C; c++) {
        fprintf(f, "%s", c ? ", " : "");
        json_str(f, d->class_names[c]);
    }
    fprintf(f, "],\n  \"test_gap\": [");
    for (int c = 0; c < C; c++) fprintf(f, isfinite(tg[c]) ? "%s%.6f" : "%snull", c ? ", " : "", tg[c]);
    fprintf(f, "],\n  \"train_gap\": [");
    for (int c = 0; c < C; c++) fprintf(f, isfinite(trg[c]) ? "%s%.6f" : "%snull", c ? ", " : "", trg[c]);
    fprintf(f, "],\n  \"train_count\": [");
    for (int c = 0; c < C; c++) fprintf(f, "%s%zu", c ? ", " : "", ntrain[c]);
    fprintf(f, "],\n  \"test_count\": [");
    for (int c = 0; c < C; c++) fprintf(f, "%s%zu", c ? ", " : "", ntest[c]);
    fprintf(f, "]\n}\n");
    return commit_file(f, tmp, path);
}

/* the extra members of DIR/<method>/metrics.json: what the re-balancing did */
static void resample_extra(char *buf, size_t cap, const char *method, const eos_resample_report *rep, int C,
                           double seconds_resample, double seconds_head, float loss) {
    size_t k = 0;
#define ADD(...) do { if (k < cap) k += (size_t)snprintf(buf + k, cap - k, __VA_ARGS__); } while (0)
    ADD("\"method\": \"%s\",\n  \"counts_before\": [", method);
    for (int c = 0; c < C; c++) ADD("%s%zu", c ? ", " : "", rep->before[c]);
    ADD("],\n  \"counts_after\": [");
    for (int c = 0; c < C; c++) ADD("%s%zu", c ? ", " : "", rep->after[c]);
    ADD("],\n  \"fallback\": [");
    for (int c = 0; c < C; c++) ADD("%s%d", c ? ", " : "", rep->fallback[c]);
    ADD("],\n  \"synthetic\": %zu,\n  \"seconds_resample\": %.3f,\n  \"seconds_head\": %.3f,\n  \"head_loss\": %.6f",
        rep->synthetic, seconds_resample, seconds_head, isfinite(loss) ? loss : -1.0);
#undef ADD
    if (k >= cap && cap) buf[0] = 0;  /* cannot happen: the caller sizes buf by the class count; never half a member */
}

/* Train one phase-1 network (variant v) into dir; *keep receives it when keep is not NULL. */
static int train_variant(eos_runtime_t rt, const eos_dataset *d, const size_t *idx, size_t n, int blocks, int epochs,
                         int max_steps, int eval_every, uint64_t seed, const variant *v, const char *dir, int quiet,
                         eos_resnet_t *keep, eos_metrics *met) {
    eos_resnet_t m = NULL;
    eos_resnet_head head = v->loss.kind == EOS_LOSS_LDAM ? EOS_RESNET_HEAD_NORMED : EOS_RESNET_HEAD_LINEAR;
    if (cli_mkdirs(dir)) return 1;
    if (eos_resnet_create(rt, blocks, d->channels, d->classes, head, seed, &m) != EOS_OK) return cli_fail("creating the network");
    eos_train_config cfg = eos_train_defaults();
    cfg.epochs = epochs;
    cfg.seed = seed;
    cfg.out_dir = dir;
    cfg.eval_every = eval_every;  /* the report's test-BAC curve; always after the last epoch */
    cfg.loss = v->loss;
    cfg.rule = v->rule;
    cfg.max_steps = max_steps;
    cli_progress_state ps = {isatty(STDOUT_FILENO), quiet, 0};
    cfg.progress = cli_train_progress;
    cfg.user = &ps;
    if (eos_train_run(rt, m, d, idx, n, &cfg, met) != EOS_OK) {
        eos_resnet_free(m);
        return cli_fail("phase 1");
    }
    if (keep) *keep = m;
    else eos_resnet_free(m);
    return 0;
}

int cmd_pipeline(int argc, char **argv) {
    static const cli_command self = {"pipeline", "", NULL, usage_pipeline};
    const char *data = NULL, *out = NULL, *profile = "paper", *methods = "eos,ros,smote,borderline,adasyn";
    const char *device = NULL, *arch_override = NULL, *v;
    int epochs_override = 0, force = 0, quiet = 0, max_steps = 0, eval_every = 0;
    uint64_t seed = 0;
    for (int i = 1; i < argc; i++) {
        int r;
        if (CLI_FLAG("--data")) data = v;
        else if (CLI_FLAG("--out")) out = v;
        else if (CLI_FLAG("--profile")) profile = v;
        else if (CLI_FLAG("--methods")) methods = v;
        else if (CLI_FLAG("--device")) device = v;
        else if (CLI_FLAG("--arch")) arch_override = v;
        else if (CLI_FLAG("--epochs")) { if (cli_parse_int(v, 1, &epochs_override)) return cli_usage_error(&self, "--epochs '%s': expected a positive integer", v); }
        else if (CLI_FLAG("--max-steps")) { if (cli_parse_int(v, 1, &max_steps)) return cli_usage_error(&self, "--max-steps '%s': expected a positive integer", v); }
        else if (CLI_FLAG("--eval-every")) { if (cli_parse_int(v, 1, &eval_every)) return cli_usage_error(&self, "--eval-every '%s': expected a positive integer", v); }
        else if (CLI_FLAG("--seed")) { if (cli_parse_u64(v, &seed)) return cli_usage_error(&self, "--seed '%s': expected a non-negative integer", v); }
        else if (!strcmp(argv[i], "--force")) force = 1;
        else if (!strcmp(argv[i], "--quiet")) quiet = 1;
        else return cli_usage_error(&self, "unknown option '%s'", argv[i]);
    }
    if (!data || !out) return cli_usage_error(&self, "--data and --out are required");
    const char *arch;
    int epochs;
    if (!strcmp(profile, "quick")) { arch = "resnet8"; epochs = 2; }
    else if (!strcmp(profile, "paper")) { arch = "resnet32"; epochs = 200; }
    else return cli_usage_error(&self, "--profile '%s': expected quick or paper", profile);
    if (arch_override) arch = arch_override;
    if (epochs_override) epochs = epochs_override;
    if (!eval_every) eval_every = epochs / 20 > 1 ? epochs / 20 : 1;
    int blocks;
    if (eos_resnet_blocks(arch, &blocks) != EOS_OK) return cli_usage_error(&self, "%s", eos_last_error()->message);
    /* the methods: re-balancing methods and phase-1 variants; "ce" is always variant 0 */
    eos_resample_method list[MAX_METHODS];
    variant vars[MAX_METHODS + 1];
    int nm = 0, nv = 1;
    memset(vars, 0, sizeof vars);
    snprintf(vars[0].name, sizeof vars[0].name, "ce");
    eos_train_variant_parse("ce", &vars[0].loss, &vars[0].rule);
    char mbuf[512];
    snprintf(mbuf, sizeof mbuf, "%s", methods);
    for (char *tok = strtok(mbuf, ","); tok; tok = strtok(NULL, ",")) {
        if (nm + nv > MAX_METHODS) return cli_usage_error(&self, "--methods: at most %d", MAX_METHODS);
        variant w;
        memset(&w, 0, sizeof w);
        if (eos_resample_parse(tok, &list[nm]) == EOS_OK) {
            for (int k = 0; k < nm; k++)
                if (list[k] == list[nm]) return cli_usage_error(&self, "--methods: '%s' is listed twice", tok);
            nm++;
        } else if (eos_train_variant_parse(tok, &w.loss, &w.rule) == EOS_OK) {
            snprintf(w.name, sizeof w.name, "%s", tok);
            int dup = 0;
            for (int k = 0; k < nv; k++) dup |= vars[k].loss.kind == w.loss.kind && vars[k].rule == w.rule;
            if (dup && strcmp(tok, "ce")) return cli_usage_error(&self, "--methods: '%s' is listed twice", tok);
            if (!dup) vars[nv++] = w;
        } else {
            return cli_usage_error(&self,
                                   "--methods: unknown method '%s': expected eos, eos-ref, ros, smote, borderline, adasyn, none, or "
                                   "a phase-1 baseline LOSS[-RULE] (ce, focal, asl, ldam; reweight, resample, drw)", tok);
        }
    }
    char path[4300], dir[4200];
    /* everything the run writes: its files and its folders, an unfinished run's included */
    const char *writes[3 * MAX_METHODS + 4];
    char names[2 * MAX_METHODS + 1][48];
    int nw = 0;
    writes[nw++] = "summary.json";
    writes[nw++] = "report.html";
    for (int k = 0; k < nv; k++) {
        snprintf(names[k], sizeof names[k], k ? "phase1-%.31s" : "phase1", vars[k].name);
        writes[nw++] = names[k];
    }
    if (nm > 0) writes[nw++] = "embeddings";
    for (int k = 0; k < nm; k++) writes[nw++] = eos_resample_name(list[k]);
    if (cli_out_check_files("pipeline", out, writes, nw, force, NULL, 0)) return 1;
    double t0 = wall();
    eos_imbalance imb = {EOS_IMBALANCE_EXP, 100.0};
    eos_runtime_t rt = NULL;
    eos_dataset d = {0};
    eos_resnet_t m = NULL;
    size_t *idx = NULL, n = 0;
    float *ftr = NULL, *fte = NULL;
    int32_t *ytr = NULL, *pred = NULL;
    row rows[2 * MAX_METHODS + 1];
    timing times[MAX_TIMINGS];
    int nrows = 0, ntimes = 0, rc = 0;
    memset(rows, 0, sizeof rows);
    memset(times, 0, sizeof times);
    double embed_rate = 0, pvar[2] = {0, 0};
    size_t proj_real = 0, proj_syn = 0, proj_cap = 0;
    const char *proj_method = NULL;
    if (eos_runtime_init(&rt, device) != EOS_OK) return cli_fail("opening the device");
    printf("EOS-CL pipeline, profile %s: %s, exp:100, %d epochs, methods %s\ndevice: %s\n", profile, arch, epochs, methods,
           eos_runtime_device(rt)->name);
    if (eos_dataset_load(data, NULL, &d) != EOS_OK) rc = cli_fail("loading the dataset");
    else if (eos_imbalance_select(&d, &imb, seed, &idx, &n, NULL) != EOS_OK) {
        /* refused before any training; the library's hint names --imbalance, which the pipeline
         * does not take: the pipeline's own advice instead */
        const eos_error *e = eos_last_error();
        if (e->status == EOS_ERR_INVALID_ARG)
            fprintf(stderr, "eos pipeline: %s\n  the pipeline trains on the exp:100 subset (the paper's protocol), which "
                    "keeps 1/100 of the rarest class's images and needs at least one of every class: use a dataset "
                    "with at least 100 training images in every class\n", e->message);
        else rc = cli_fail("selecting the long-tailed subset");
        rc = 1;
    } else if (nm > 0 && d.classes > EOS_MAX_CLASSES) {  /* refused before any training, not after phase 1 */
        fprintf(stderr, "eos pipeline: %s has %d classes; the re-balancing methods take at most %d\n", data, d.classes,
                EOS_MAX_CLASSES);
        rc = 1;
    }
    /* phase 1: the CE model (kept for phase 2), then each baseline */
    for (int k = 0; !rc && k < nv; k++) {
        const variant *w = &vars[k];
        if (k == 0) snprintf(dir, sizeof dir, "%s/phase1", out);
        else snprintf(dir, sizeof dir, "%s/phase1-%s", out, w->name);
        printf("\nphase 1%s: %s, %s (rule %s), on %zu long-tailed training images (%d classes), %zu test images\n",
               k ? " baseline" : "", arch, w->name, eos_rule_name(w->rule), n, d.classes, d.test.n);
        double tv = wall();
        rc = train_variant(rt, &d, idx, n, blocks, epochs, max_steps, eval_every, seed, w, dir, quiet, k == 0 ? &m : NULL,
                           &rows[nrows].m);
        if (!rc) {
            snprintf(rows[nrows].name, sizeof rows[0].name, "%.31s", w->name);
            snprintf(rows[nrows++].dir, sizeof rows[0].dir, k ? "phase1-%.31s" : "phase1", w->name);
            snprintf(times[ntimes].step, sizeof times[0].step, "phase 1: train %.31s", w->name);
            times[ntimes++].seconds = wall() - tv;
        }
    }
    /* phase 2: embeddings of the CE model */
    if (!rc && nm > 0) {
        printf("\nphase 2: embeddings and re-balancing\n");
        snprintf(dir, sizeof dir, "%s/embeddings", out);
        ftr = malloc(n * 64 * sizeof *ftr);
        fte = malloc(d.test.n * 64 * sizeof *fte);
        ytr = malloc(n * sizeof *ytr);
        pred = malloc(d.test.n * sizeof *pred);
        if (!ftr || !fte || !ytr || !pred) { fprintf(stderr, "eos pipeline: out of memory\n"); rc = 1; }
        else if (cli_mkdirs(dir)) rc = 1;
        else {
            for (size_t i = 0; i < n; i++) ytr[i] = d.train.labels[idx[i]];
            double te = wall();
            cli_count_state ca = cli_count_begin("training embeddings", quiet);
            eos_status es = eos_predict_progress(m, &d, &d.train, idx, n, 256, NULL, ftr, cli_bar_progress, &ca);
            cli_count_state cb = cli_count_begin("test embeddings", quiet);
            if (es == EOS_OK) es = eos_predict_progress(m, &d, &d.test, NULL, 0, 256, NULL, fte, cli_bar_progress, &cb);
            if (es != EOS_OK)
                rc = cli_fail("computing embeddings");
            embed_rate = (double)(n + d.test.n) / (wall() - te);
            snprintf(times[ntimes].step, sizeof times[0].step, "phase 2: embeddings");
            times[ntimes++].seconds = wall() - te;
        }
        if (!rc) {
            eos_embeddings a = {n, 64, ytr, ftr}, b = {d.test.n, 64, d.test.labels, fte};
            snprintf(path, sizeof path, "%s/train_emb.csv", dir);
            if (eos_embeddings_write_csv(path, &a) != EOS_OK) rc = cli_fail("writing train_emb.csv");
            snprintf(path, sizeof path, "%s/test_emb.csv", dir);
            if (!rc && eos_embeddings_write_csv(path, &b) != EOS_OK) rc = cli_fail("writing test_emb.csv");
            printf("  %zu training and %zu test embeddings in %s/\n", n, d.test.n, dir);
        }
        /* the per-class embedding gap (as `eos embed` measures it) */
        if (!rc) {
            size_t C = (size_t)d.classes;
            double *tg = malloc(C * sizeof *tg), *trg = malloc(C * sizeof *trg), tgap = wall();
            size_t *ntr = calloc(C, sizeof *ntr), *nte = calloc(C, sizeof *nte);
            char model[4300];
            snprintf(path, sizeof path, "%s/embed_metrics.json", dir);
            snprintf(model, sizeof model, "%s/phase1/model.safetensors", out);
            if (!tg || !trg || !ntr || !nte) {
                fprintf(stderr, "eos pipeline: out of memory\n");
                rc = 1;
            } else {
                for (size_t i = 0; i < n; i++) ntr[ytr[i]]++;
                for (size_t i = 0; i < d.test.n; i++) nte[d.test.labels[i]]++;
                if (eos_embedding_gap(rt, ftr, ytr, n, fte, d.test.labels, d.test.n, 64, d.classes, tg, trg) != EOS_OK)
                    rc = cli_fail("measuring the embedding gap");
                else if (write_gap(path, model, &d, d.classes, tg, trg, ntr, nte))
                    rc = 1;
                else {
                    printf("  embedding gap (test / train, leave-one-out), per class:");
                    for (int c = 0; c < d.classes; c++) printf(" %.2f", tg[c] / trg[c]);
                    printf("\n");
                    snprintf(times[ntimes].step, sizeof times[0].step, "phase 2: embedding gap");
                    times[ntimes++].seconds = wall() - tgap;
                }
            }
            free(tg); free(trg); free(ntr); free(nte);
        }
    }
    /* the projection shows the EOS-balanced set, or the first other method's */
    for (int k = 0; k < nm && !proj_method; k++)
        if (list[k] == EOS_RESAMPLE_EOS) proj_method = "eos";
    for (int k = 0; k < nm && !proj_method; k++)
        if (list[k] != EOS_RESAMPLE_NONE) proj_method = eos_resample_name(list[k]);
    if (!proj_method && nm > 0) proj_method = "none";
    proj_cap = d.classes > 0 ? PROJECTION_POINTS / (2 * (size_t)d.classes) : 1;
    if (proj_cap < 10) proj_cap = 10;
    /* phases 2 and 3 per re-balancing method */
    eos_embeddings train_emb = {n, 64, ytr, ftr}, test_emb = {d.test.n, 64, d.test.labels, fte};
    /* the trained head, (classes, 64) and (classes): every method's head starts from it */
    float *w0 = NULL, *b0 = NULL;
    if (!rc && nm > 0) {
        w0 = malloc((size_t)d.classes * 64 * sizeof *w0);
        b0 = malloc((size_t)d.classes * sizeof *b0);
        if (!w0 || !b0) { fprintf(stderr, "eos pipeline: out of memory\n"); rc = 1; }
    }
    if (!rc && nm > 0 && eos_resnet_linear_head(m, w0, b0) != EOS_OK) rc = cli_fail("reading the head");
    for (int k = 0; !rc && k < nm; k++) {
        double tm = wall(), tr_s = 0;
        eos_embeddings bal;
        eos_resample_report rep;
        eos_head h;
        float loss;
        const char *name = eos_resample_name(list[k]);
        snprintf(dir, sizeof dir, "%s/%s", out, name);
        if (cli_mkdirs(dir)) { rc = 1; break; }
        int live = isatty(STDOUT_FILENO) && !quiet;  /* a status line on a terminal, replaced by the result */
        if (live) {
            printf("  %-11s re-balancing %zu rows, then training the head ...", name, n);
            fflush(stdout);
        }
        if (eos_resample(rt, &train_emb, d.classes, list[k], 0, seed, &bal, &rep) != EOS_OK) { rc = fail_line(live, "re-balancing"); break; }
        tr_s = wall() - tm;
        if (!strcmp(name, proj_method)) {
            /* the resamplers keep the n original rows first and append the synthetic ones */
            snprintf(path, sizeof path, "%s/embeddings/projection.csv", out);
            if (eos_projection_write(path, &bal, n, proj_cap, seed, pvar) != EOS_OK) {
                eos_embeddings_free(&bal);
                eos_resample_report_free(&rep);
                rc = fail_line(live, "writing the 2-d projection");
                break;
            }
            proj_real = n;
            proj_syn = bal.n - n;
        }
        double th = wall();
        eos_finetune_config fc = eos_finetune_defaults();
        fc.seed = seed;
        if (eos_head_init(&h, d.classes, 64, seed) != EOS_OK) {
            eos_embeddings_free(&bal);
            eos_resample_report_free(&rep);
            rc = fail_line(live, "head");
            break;
        }
        memcpy(h.weight, w0, (size_t)d.classes * 64 * sizeof *w0);  /* start from the trained head */
        memcpy(h.bias, b0, (size_t)d.classes * sizeof *b0);
        if (eos_finetune(rt, &h, &bal, &fc, &loss) != EOS_OK) rc = fail_line(live, "fine-tuning the head");
        if (!rc) {
            eos_head_predict(&h, &test_emb, pred);
            row *rw = &rows[nrows++];
            snprintf(rw->name, sizeof rw->name, "ce + %s", name);
            snprintf(rw->dir, sizeof rw->dir, "%s", name);
            if (eos_metrics_compute(d.classes, d.test.labels, pred, d.test.n, &rw->m) != EOS_OK) rc = fail_line(live, "metrics");
        }
        if (!rc) {
            eos_named_tensor t[2] = {{"linear.weight", EOS_DTYPE_F32, 2, {d.classes, 64}, 0, h.weight},
                                     {"linear.bias", EOS_DTYPE_F32, 1, {d.classes}, 0, h.bias}};
            snprintf(path, sizeof path, "%s/head.safetensors", dir);
            if (eos_safetensors_write(path, t, 2) != EOS_OK) rc = fail_line(live, "writing the head");
            snprintf(path, sizeof path, "%s/metrics.json", dir);
            /* three per-class lists of at most 21 characters a number, and the fixed members */
            size_t cap = 1024 + 3 * 24 * (size_t)d.classes;
            char *extra = malloc(cap);
            double th_s = wall() - th;
            if (!extra) { fprintf(stderr, "%seos pipeline: out of memory\n", live ? "\n" : ""); rc = 1; }
            else resample_extra(extra, cap, name, &rep, d.classes, tr_s, th_s, loss);
            if (!rc && eos_metrics_write_json(path, &rows[nrows - 1].m, (const char *const *)d.class_names, extra) != EOS_OK)
                rc = fail_line(live, "writing metrics.json");
            free(extra);
            snprintf(times[ntimes].step, sizeof times[0].step, "phase 2: re-balance %s", name);
            times[ntimes++].seconds = tr_s;
            snprintf(times[ntimes].step, sizeof times[0].step, "phase 3: head on %s", name);
            times[ntimes++].seconds = th_s;
            printf("%s  %-11s %zu -> %zu rows, head trained (loss %.3f), %.1f s\n", live ? "\r\033[K" : "", name, n, bal.n, loss,
                   wall() - tm);
        }
        eos_head_free(&h);
        eos_embeddings_free(&bal);
        eos_resample_report_free(&rep);
    }
    /* the table */
    if (!rc) {
        printf("\ntest metrics (%zu images; BAC = mean per-class recall): phase-1 networks, then CE + re-balanced head\n\n",
               d.test.n);
        printf("  %-18s %7s %7s %7s %7s   per-class recall\n", "model", "ACC", "BAC", "GM", "FM");
        for (int r = 0; r < nrows; r++) {
            printf("  %-18s %7.4f %7.4f %7.4f %7.4f  ", rows[r].name, rows[r].m.acc, rows[r].m.bac, rows[r].m.gm, rows[r].m.fm);
            for (int c = 0; c < d.classes; c++) printf(" %.2f", rows[r].m.recall[c]);
            printf("\n");
        }
        printf("  (classes: ");
        for (int c = 0; c < d.classes; c++) printf("%s%s", c ? ", " : "", d.class_names[c]);
        printf(")\n");
        snprintf(path, sizeof path, "%s/summary.json", out);
        char tmp[4400];
        FILE *f = open_tmp(path, tmp, sizeof tmp);  /* written whole, then renamed: never half a summary */
        if (!f) {
            rc = 1;
        } else {
            fprintf(f, "{\n  \"version\": \"%s\",\n  \"profile\": ", EOS_VERSION);
            json_str(f, profile);
            fprintf(f, ",\n  \"arch\": ");
            json_str(f, arch);
            fprintf(f, ",\n  \"epochs\": %d,\n  \"imbalance\": \"exp:100\",\n  \"seed\": %llu,\n  \"max_steps\": %d,\n"
                       "  \"eval_every\": %d,\n  \"data\": ",
                    epochs, (unsigned long long)seed, max_steps, eval_every);
            json_str(f, data);
            fprintf(f, ",\n  \"methods\": ");
            json_str(f, methods);
            fprintf(f, ",\n  \"device\": ");
            json_str(f, eos_runtime_device(rt)->name);
            fprintf(f, ",\n  \"train_images\": %zu,\n  \"test_images\": %zu,\n  \"embedding_images_per_second\": %.1f,\n"
                       "  \"seconds\": %.1f,\n  \"classes\": [",
                    n, d.test.n, embed_rate, wall() - t0);
            for (int c = 0; c < d.classes; c++) {
                fprintf(f, "%s", c ? ", " : "");
                json_str(f, d.class_names[c]);
            }
            fprintf(f, "],\n  \"timings\": [");
            for (int t = 0; t < ntimes; t++) {
                fprintf(f, "%s\n    {\"step\": ", t ? "," : "");
                json_str(f, times[t].step);
                fprintf(f, ", \"seconds\": %.3f}", times[t].seconds);
            }
            fprintf(f, "\n  ],\n");
            if (proj_method)
                fprintf(f, "  \"projection\": {\"method\": \"%s\", \"file\": \"embeddings/projection.csv\", \"real\": %zu, "
                           "\"synthetic\": %zu, \"per_class\": %zu, \"variance\": [%.6f, %.6f]},\n",
                        proj_method, proj_real, proj_syn, proj_cap, pvar[0], pvar[1]);
            fprintf(f, "  \"results\": [\n");
            for (int r = 0; r < nrows; r++) {
                json_metrics(f, &rows[r]);
                fprintf(f, "%s\n", r + 1 < nrows ? "," : "");
            }
            fprintf(f, "  ]\n}\n");
            if (commit_file(f, tmp, path)) rc = 1;
            else printf("\nwrote %s (%.0f s in all)\n", path, wall() - t0);
        }
        /* the report, from the files just written (`eos report DIR` makes it again) */
        if (!rc) {
            snprintf(path, sizeof path, "%s/report.html", out);
            if (eos_report_write(out, path) != EOS_OK) rc = cli_fail("writing the report");
            else printf("wrote %s (open it in any browser)\n", path);
        }
    }
    for (int r = 0; r < nrows; r++) eos_metrics_free(&rows[r].m);
    free(ftr); free(fte); free(ytr); free(pred); free(idx); free(w0); free(b0);
    eos_resnet_free(m);
    eos_dataset_free(&d);
    eos_runtime_free(rt);
    return rc;
}
