/* `eos resample`: phase 2 on a CSV of embeddings: EOS or a baseline balances every class to
 * the largest one's count. */
#include "cli.h"
#include "dist.h"

#include <string.h>
#include <time.h>

void usage_resample(FILE *out) {
    fprintf(out,
            "usage: eos resample --in CSV --out CSV [--method eos] [--k N] [--m N] [--adasyn-round R]\n"
            "                    [--seed N] [--device SPEC] [--force]\n\n"
            "Balances every class of an embedding CSV (label,f0,f1,...) to the largest class's count and\n"
            "writes the original rows followed by the new ones. The classes are 0..the largest label (at most\n"
            "65536) and each needs at least one row.\n\n"
            "methods:\n"
            "  eos          Expansive Over-Sampling, the paper's definition (default): base + r (enemy - base),\n"
            "               bases = samples with an enemy among their k nearest neighbours (all classes),\n"
            "               the enemy drawn among the base's enemies, r ~ U(0, 1); k 10\n"
            "  eos-ref      the authors' released EOS.py: the same draws, but the partner is read one rank\n"
            "               nearer than the chosen enemy (its neighbour list there has the point itself in\n"
            "               column 0), so it may be a same-class neighbour, and the base is copied when the\n"
            "               enemy is the nearest neighbour; for comparing with the published code; k 10\n"
            "  ros          random over-sampling (copies)\n"
            "  smote        SMOTE: interpolation towards one of the k nearest of the same class; k 5\n"
            "  borderline   Borderline-SMOTE 1: SMOTE (k 5) from the danger samples, m/2 <= enemies < m\n"
            "               among their m nearest of all classes; m 10\n"
            "  adasyn       ADASYN: SMOTE (k 5), each sample making rint(its share) new rows, the share\n"
            "               proportional to its enemies among its k nearest; a class may end a row or two\n"
            "               off the largest count, as in imbalanced-learn (see --adasyn-round)\n"
            "  none         copy the input\n"
            "The baselines' defaults are imbalanced-learn 0.10's (k_neighbors 5, m_neighbors 10,\n"
            "n_neighbors 5), which the paper's baselines used; EOS keeps the paper's k = 10. Where\n"
            "imbalanced-learn stops (no danger sample, no enemy, a class of k rows or fewer), EOS-CL copies\n"
            "or takes fewer neighbours and says so in the table.\n\n"
            "options:\n"
            "  --in CSV, --out CSV   input and output embedding files (the output is written atomically, its\n"
            "                        folder created if missing)\n"
            "  --method M            see above (default eos)\n"
            "  --k N                 interpolation neighbours (default: the method's, above; at most 64)\n"
            "  --m N                 borderline: the neighbours that decide the danger set (default 10, at\n"
            "                        most 64)\n"
            "  --adasyn-round R      adasyn: rint (default, imbalanced-learn) or remainder (largest remainder:\n"
            "                        every class ends exactly at the largest count)\n"
            "  --seed N              seed of the draws (default 0)\n"
            "  --device SPEC         device for the neighbour search (default: $EOS_DEVICE, else the first GPU,\n"
            "                        else the first CPU; ros and none need none)\n"
            "  --force               replace --out if it exists (default: refuse); never --in itself\n\n"
            "Under mpirun (a build with EOS_MPI), `mpirun -np N eos resample ...` shares the neighbour\n"
            "searches among the ranks; every rank draws the same rows, so --out is one process's, bit for\n"
            "bit; rank 0 alone writes it.\n\n"
            "example:\n  eos resample --in runs/ce/emb/train_emb.csv --out runs/ce/emb/train_eos.csv --method eos\n"
            "  eos resample --in runs/ce/emb/train_emb.csv --out runs/ce/emb/train_bl.csv --method borderline --k 5 --m 10\n");
}

int cmd_resample(int argc, char **argv) {
    static const cli_command self = {"resample", "", NULL, usage_resample};
    const char *in = NULL, *out = NULL, *method_text = "eos", *device = NULL, *v;
    int k = 0, m = 0, force = 0;  /* 0: the method's default */
    const char *round_text = NULL;
    uint64_t seed = 0;
    for (int i = 1; i < argc; i++) {
        int r;
        if (CLI_FLAG("--in")) in = v;
        else if (CLI_FLAG("--out")) out = v;
        else if (CLI_FLAG("--method")) method_text = v;
        else if (CLI_FLAG("--device")) device = v;
        else if (CLI_FLAG("--k")) { if (cli_parse_int(v, 1, &k) || k > EOS_KNN_MAX_K) return cli_usage_error(&self, "--k '%s': expected 1..%d", v, EOS_KNN_MAX_K); }
        else if (CLI_FLAG("--m")) { if (cli_parse_int(v, 1, &m) || m > EOS_KNN_MAX_K) return cli_usage_error(&self, "--m '%s': expected 1..%d", v, EOS_KNN_MAX_K); }
        else if (CLI_FLAG("--adasyn-round")) round_text = v;
        else if (CLI_FLAG("--seed")) { if (cli_parse_u64(v, &seed)) return cli_usage_error(&self, "--seed '%s': expected a non-negative integer", v); }
        else if (!strcmp(argv[i], "--force")) force = 1;
        else return cli_usage_error(&self, "unknown option '%s'", argv[i]);
    }
    if (!in || !out) return cli_usage_error(&self, "--in and --out are required");
    const cli_input inputs[] = {{"--in", in}};
    /* under mpirun every rank searches its share of the neighbours and draws the same rows; rank 0 writes */
    const int lead = eos__dist_rank() == 0;
    if (cli_rank0_says(lead ? cli_out_check_file("resample", out, force, inputs, 1) : 0)) return 1;
    eos_resample_method method;
    if (eos_resample_parse(method_text, &method) != EOS_OK) return cli_usage_error(&self, "%s", eos_last_error()->message);
    eos_resample_config cfg = eos_resample_defaults();
    cfg.k = k;
    cfg.m = m;
    if (m && method != EOS_RESAMPLE_BORDERLINE)
        return cli_usage_error(&self, "--m is borderline's danger neighbours; --method %s takes no --m", eos_resample_name(method));
    if (round_text) {
        if (method != EOS_RESAMPLE_ADASYN)
            return cli_usage_error(&self, "--adasyn-round is for --method adasyn, not %s", eos_resample_name(method));
        if (!strcmp(round_text, "remainder")) cfg.adasyn_remainder = 1;
        else if (strcmp(round_text, "rint")) return cli_usage_error(&self, "--adasyn-round '%s': expected rint or remainder", round_text);
    }
    eos_embeddings e;
    if (eos_embeddings_read_csv(in, EOS_MAX_CLASSES, &e) != EOS_OK) return cli_fail("reading the embeddings");
    int classes = 0;
    for (size_t i = 0; i < e.n; i++) if (e.labels[i] + 1 > classes) classes = e.labels[i] + 1;
    /* the classes are 0..largest label: one with no rows is a gap (a class left empty, or
     * labels not numbered 0..N-1), refused before any work, as an empty image folder is */
    unsigned char *seen = calloc((size_t)classes + 1, 1);
    if (!seen) {
        eos_embeddings_free(&e);
        fprintf(stderr, "eos resample: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < e.n; i++) seen[e.labels[i]] = 1;
    int gap = -1;
    for (int c = 0; c < classes && gap < 0; c++) if (!seen[c]) gap = c;
    free(seen);
    if (e.n == 0 || gap >= 0) {
        if (e.n == 0) fprintf(stderr, "eos resample: %s has no rows (only a header)\n", in);
        else
            fprintf(stderr, "eos resample: %s: class %d has no rows, but labels run up to %d: every class 0..%d needs at "
                    "least one row to be balanced; add rows of it or number the classes without gaps\n", in, gap,
                    classes - 1, classes - 1);
        eos_embeddings_free(&e);
        return 1;
    }
    eos_runtime_t rt = NULL;
    int rc = 0;
    char rank_device[32];
    if (method != EOS_RESAMPLE_NONE && method != EOS_RESAMPLE_ROS &&
        eos_runtime_init(&rt, cli_rank_device(device, rank_device, sizeof rank_device)) != EOS_OK) {
        eos_embeddings_free(&e);
        return cli_fail("opening the device");
    }
    if (rt) eos__runtime_dist_split(rt, 1);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    eos_embeddings bal;
    eos_resample_report rep;
    if (eos_resample_with(rt, &e, classes, method, &cfg, seed, &bal, &rep) != EOS_OK) {
        rc = cli_fail("resampling");
    } else {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        char mtext[32] = "";
        if (rep.m) snprintf(mtext, sizeof mtext, ", m %d", rep.m);
        printf("%s, k %d%s, seed %llu: %zu rows -> %zu (%zu new) in %.2f s\n", eos_resample_name(method), rep.k, mtext,
               (unsigned long long)seed, e.n, bal.n, rep.synthetic, secs);
        printf("  %5s %8s %8s %9s\n", "class", "before", "after", "bases");
        for (int c = 0; c < classes; c++)
            printf("  %5d %8zu %8zu %9zu%s\n", c, rep.before[c], rep.after[c], rep.eligible[c],
                   rep.fallback[c] ? "  (no base for this method: copies used)" : "");
        if (!lead) rc = 0;  /* the same rows as rank 0's, which writes them */
        else if (cli_mkdirs_for(out)) rc = 1;
        else if (eos_embeddings_write_csv(out, &bal) != EOS_OK) rc = cli_fail("writing the output");
        else printf("wrote %s\n", out);
        eos_embeddings_free(&bal);
        eos_resample_report_free(&rep);
    }
    eos_embeddings_free(&e);
    eos_runtime_free(rt);
    return rc;
}
