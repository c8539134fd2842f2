/* `eos embed`: phase 2's input. The trained network's 64-d embeddings of the long-tailed
 * training set (no augmentation) and of the test set, as CSV, and the per-class embedding gap. */
#include "cli.h"
#include "dist.h"

#include <math.h>
#include <string.h>

void usage_embed(FILE *out) {
    fprintf(out,
            "usage: eos embed --model FILE --data PATH --out DIR [--imbalance exp:100] [--seed N] [--batch 256]\n"
            "                 [--resize HxW] [--device SPEC] [--force] [--quiet]\n\n"
            "Writes DIR/train_emb.csv (the long-tailed training set chosen by --imbalance and --seed, as in\n"
            "`eos train`; no augmentation) and DIR/test_emb.csv: a header \"label,f0,...,f63\" and one row\n"
            "per image. Prints the embedding gap per class (mean distance from each test embedding to the\n"
            "nearest training embedding of its class, next to the same within the training set, leaving\n"
            "each one out) and stores it in DIR/embed_metrics.json.\n\n"
            "options:\n"
            "  --model FILE      a ResNet-s safetensors file\n"
            "  --data PATH       the dataset the model was trained on\n"
            "  --resize HxW      resize every image to H x W at load, as the model was trained\n"
            "  --out DIR         output folder, created if missing\n"
            "  --imbalance P     none, exp:R or step:R (default exp:100; use what `eos train` used)\n"
            "  --seed N          seed of the long-tailed selection (default 0)\n"
            "  --batch N         images per forward pass (default 256)\n"
            "  --device SPEC     index, cpu, gpu or part of a device name (default: $EOS_DEVICE, else the\n"
            "                    first GPU, else the first CPU)\n"
            "  --force           replace the files above if DIR holds them (default: refuse); never the model\n"
            "  --quiet           no progress bars or periodic lines (default: a bar on a terminal, a line\n"
            "                    every 30 s otherwise)\n\n"
            "Under mpirun (a build with EOS_MPI), `mpirun -np N eos embed ...` shares the batches and the\n"
            "gap's neighbour search among the ranks: the files are one process's, bit for bit (with the same\n"
            "convolution algorithms: every rank takes rank 0's), and rank 0 alone writes them.\n\n"
            "example:\n  eos embed --model runs/ce/model.safetensors --data data/cifar10-jpg --out runs/ce/emb\n");
}

static eos_status write_split(const char *path, const float *f, const int32_t *labels, size_t n) {
    eos_embeddings e = {n, EOS_RESNET_FEATURES, (int32_t *)labels, (float *)f};
    return eos_embeddings_write_csv(path, &e);
}

int cmd_embed(int argc, char **argv) {
    static const cli_command self = {"embed", "", NULL, usage_embed};
    const char *model = NULL, *data = NULL, *out = NULL, *imb_text = "exp:100", *device = NULL, *v;
    uint64_t seed = 0;
    int batch = 256, quiet = 0, force = 0;
    eos_dataset_options dopt = {0, 0, 0, 0};
    for (int i = 1; i < argc; i++) {
        int r;
        if (CLI_FLAG("--model")) model = v;
        else if (CLI_FLAG("--data")) data = v;
        else if (CLI_FLAG("--resize")) { if (eos_resize_parse(v, &dopt.resize_h, &dopt.resize_w) != EOS_OK) return cli_usage_error(&self, "%s", eos_last_error()->message); }
        else if (CLI_FLAG("--out")) out = v;
        else if (CLI_FLAG("--imbalance")) imb_text = v;
        else if (CLI_FLAG("--device")) device = v;
        else if (CLI_FLAG("--seed")) { if (cli_parse_u64(v, &seed)) return cli_usage_error(&self, "--seed '%s': expected a non-negative integer", v); }
        else if (CLI_FLAG("--batch")) { if (cli_parse_int(v, 1, &batch)) return cli_usage_error(&self, "--batch '%s': expected a positive integer", v); }
        else if (!strcmp(argv[i], "--quiet")) quiet = 1;
        else if (!strcmp(argv[i], "--force")) force = 1;
        else return cli_usage_error(&self, "unknown option '%s'", argv[i]);
    }
    if (!model || !data || !out) return cli_usage_error(&self, "--model, --data and --out are required");
    eos_imbalance imb;
    if (eos_imbalance_parse(imb_text, &imb) != EOS_OK) return cli_usage_error(&self, "%s", eos_last_error()->message);
    static const char *const writes[] = {"train_emb.csv", "test_emb.csv", "embed_metrics.json"};
    const cli_input in[] = {{"--model", model}};
    /* under mpirun every rank computes its share of the rows and gets all of them; rank 0 writes */
    const int lead = eos__dist_rank() == 0;
    if (cli_rank0_says(lead ? cli_out_check_files("embed", out, writes, 3, force, in, 1) : 0)) return 1;
    char rank_device[32];
    eos_runtime_t rt;
    if (eos_runtime_init(&rt, cli_rank_device(device, rank_device, sizeof rank_device)) != EOS_OK)
        return cli_fail("opening the device");
    eos__runtime_dist_split(rt, 1);
    eos_resnet_t m = NULL;
    eos_dataset d = {0};
    size_t *idx = NULL, n = 0;
    float *ftr = NULL, *fte = NULL;
    int32_t *ytr = NULL;
    int rc = 0;
    if (eos_resnet_load(rt, model, &m) != EOS_OK) rc = cli_fail("loading the model");
    else if (eos_dataset_load(data, &dopt, &d) != EOS_OK) rc = cli_fail("loading the dataset");
    else if (eos_resnet_classes(m) != d.classes || eos_resnet_in_channels(m) != d.channels) {
        fprintf(stderr, "eos embed: %s has %d classes and %d channels, the dataset %d and %d\n", model,
                eos_resnet_classes(m), eos_resnet_in_channels(m), d.classes, d.channels);
        rc = 1;
    } else if (eos_imbalance_select(&d, &imb, seed, &idx, &n, NULL) != EOS_OK) rc = cli_fail("selecting the long-tailed subset");
    else if (lead && cli_mkdirs(out)) rc = 1;
    if (!rc) {
        ftr = malloc(n * EOS_RESNET_FEATURES * sizeof *ftr);
        fte = malloc(d.test.n * EOS_RESNET_FEATURES * sizeof *fte);
        ytr = malloc(n * sizeof *ytr);
        if (!ftr || !fte || !ytr) {
            fprintf(stderr, "eos embed: out of memory\n");
            rc = 1;
        }
    }
    if (!rc) {
        for (size_t i = 0; i < n; i++) ytr[i] = d.train.labels[idx[i]];
        cli_count_state ca = cli_count_begin("training set", quiet || !lead);
        eos_status es = eos_predict_progress(m, &d, &d.train, idx, n, batch, NULL, ftr, cli_bar_progress, &ca);
        cli_count_state cb = cli_count_begin("test set", quiet || !lead);
        if (es == EOS_OK) es = eos_predict_progress(m, &d, &d.test, NULL, 0, batch, NULL, fte, cli_bar_progress, &cb);
        if (es != EOS_OK)
            rc = cli_fail("computing embeddings");
    }
    char path[4200];
    if (!rc && lead) {
        snprintf(path, sizeof path, "%s/train_emb.csv", out);
        if (write_split(path, ftr, ytr, n) != EOS_OK) rc = cli_fail("writing train_emb.csv");
        snprintf(path, sizeof path, "%s/test_emb.csv", out);
        if (!rc && write_split(path, fte, d.test.labels, d.test.n) != EOS_OK) rc = cli_fail("writing test_emb.csv");
    }
    if (!rc) {
        int C = d.classes;  /* every class, however many */
        double *tg = malloc((size_t)C * sizeof *tg), *trg = malloc((size_t)C * sizeof *trg);
        size_t *cnt = calloc((size_t)C, sizeof *cnt);
        if (!tg || !trg || !cnt) {
            fprintf(stderr, "eos embed: out of memory\n");
            rc = 1;
        } else if (eos_embedding_gap(rt, ftr, ytr, n, fte, d.test.labels, d.test.n, EOS_RESNET_FEATURES, C, tg, trg) != EOS_OK) {
            rc = cli_fail("measuring the embedding gap");
        } else {
            printf("embeddings of %s: %zu training rows (%s, seed %llu), %zu test rows, 64 features\n", model, n, imb_text,
                   (unsigned long long)seed, d.test.n);
            printf("wrote %s/train_emb.csv and %s/test_emb.csv\n\nembedding gap (mean distance to the nearest training embedding of the same class)\n", out, out);
            printf("  %3s  %-14s %8s %10s %12s %8s\n", "#", "class", "train n", "test gap", "train (LOO)", "ratio");
            snprintf(path, sizeof path, "%s/embed_metrics.json", out);
            FILE *f = lead ? fopen(path, "w") : NULL;
            if (f) {  /* the strings escaped and kept valid UTF-8, whatever bytes the names hold */
                fprintf(f, "{\n  \"model\": ");
                eos_json_write_string(f, model);
                fprintf(f, ",\n  \"classes\": [");
            }
            for (size_t i = 0; i < n; i++) cnt[ytr[i]]++;
            for (int c = 0; c < C; c++) {
                printf("  %3d  %-14s %8zu %10.4f %12.4f %8.2f\n", c, d.class_names[c], cnt[c], tg[c], trg[c], tg[c] / trg[c]);
                if (f) {
                    fprintf(f, "%s", c ? ", " : "");
                    eos_json_write_string(f, d.class_names[c]);
                }
            }
            if (f) {
                fprintf(f, "],\n  \"test_gap\": [");
                for (int c = 0; c < C; c++) fprintf(f, isfinite(tg[c]) ? "%s%.6f" : "%snull", c ? ", " : "", tg[c]);
                fprintf(f, "],\n  \"train_gap\": [");
                for (int c = 0; c < C; c++) fprintf(f, isfinite(trg[c]) ? "%s%.6f" : "%snull", c ? ", " : "", trg[c]);
                fprintf(f, "]\n}\n");
                fclose(f);
                printf("wrote %s\n", path);
            }
        }
        free(tg); free(trg); free(cnt);
    }
    free(ftr); free(fte); free(ytr); free(idx);
    eos_dataset_free(&d);
    eos_resnet_free(m);
    eos_runtime_free(rt);
    return rc;
}
