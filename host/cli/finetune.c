/* `eos finetune`: phase 3. Trains the linear head on (balanced) embeddings and, with --model,
 * puts it back on the network. */
#include "cli.h"

#include <string.h>

void usage_finetune(FILE *out) {
    fprintf(out,
            "usage: eos finetune --train CSV --out DIR [--test CSV] [--val CSV] [--model FILE] [--head fresh|warm]\n"
            "                    [--epochs 10] [--batch 128] [--lr 0.1] [--seed N] [--device SPEC] [--force]\n\n"
            "Trains only the linear head (64 -> classes) on the embeddings in --train: 10 epochs, batch 128,\n"
            "SGD lr 0.1 with a 5-epoch warm-up, momentum 0.9, weight decay 2e-4 (GUIDE section 5). Writes\n"
            "DIR/head.safetensors (linear.weight, linear.bias). The head starts fresh, as PyTorch's nn.Linear\n"
            "(weight and bias uniform in +-1/sqrt(64), seeded: the authors' cifar_train_os.py); with --model\n"
            "and --head warm it starts from the model's trained head instead. With --model,\n"
            "DIR/model.safetensors is the model with the new head in place. A model with LDAM's normalised\n"
            "head (eos train --loss ldam) comes back with a plain linear head; warm, it starts from its\n"
            "unit-norm weight columns and bias 0, which rank the classes as its cosines do. The head kept is\n"
            "the last epoch's, or with --val the epoch with the best macro-F1 on those embeddings (never\n"
            "--test's). With --test, prints the metrics on those embeddings and writes DIR/metrics.json.\n\n"
            "options:\n"
            "  --train CSV     training embeddings (label,f0,...)\n"
            "  --test CSV      test embeddings (default: none, no metrics)\n"
            "  --val CSV       validation embeddings that choose the kept epoch (default: the last epoch)\n"
            "  --model FILE    ResNet-s safetensors whose head is replaced (default: none)\n"
            "  --head H        fresh (default) or warm (start from --model's head)\n"
            "  --out DIR       output folder, created if missing\n"
            "  --epochs N      default 10\n"
            "  --batch N       default 128\n"
            "  --lr X          default 0.1\n"
            "  --seed N        seed of the shuffles and of a new head (default 0)\n"
            "  --device SPEC   index, cpu, gpu or part of a device name (default: $EOS_DEVICE, else the first\n"
            "                  GPU, else the first CPU)\n"
            "  --force         replace the files above if DIR holds them (default: refuse); never an input:\n"
            "                  --out DIR with --model DIR/model.safetensors is refused even so\n\n"
            "example:\n  eos finetune --train emb/train_eos.csv --test emb/test_emb.csv --model ce/model.safetensors --out eos\n");
}

int cmd_finetune(int argc, char **argv) {
    static const cli_command self = {"finetune", "", NULL, usage_finetune};
    const char *train = NULL, *test = NULL, *val = NULL, *model = NULL, *out = NULL, *device = NULL, *v;
    eos_head_mode head = EOS_HEAD_FRESH;
    eos_finetune_config cfg = eos_finetune_defaults();
    int force = 0;
    for (int i = 1; i < argc; i++) {
        int r;
        if (CLI_FLAG("--train")) train = v;
        else if (CLI_FLAG("--test")) test = v;
        else if (CLI_FLAG("--val")) val = v;
        else if (CLI_FLAG("--head")) { if (eos_head_mode_parse(v, &head) != EOS_OK) return cli_usage_error(&self, "--head '%s': expected fresh or warm", v); }
        else if (CLI_FLAG("--model")) model = v;
        else if (CLI_FLAG("--out")) out = v;
        else if (CLI_FLAG("--device")) device = v;
        else if (CLI_FLAG("--epochs")) { if (cli_parse_int(v, 1, &cfg.epochs)) return cli_usage_error(&self, "--epochs '%s': expected a positive integer", v); }
        else if (CLI_FLAG("--batch")) { if (cli_parse_int(v, 1, &cfg.batch)) return cli_usage_error(&self, "--batch '%s': expected a positive integer", v); }
        else if (CLI_FLAG("--lr")) { char *e; cfg.lr = strtof(v, &e); if (*e || !(cfg.lr > 0)) return cli_usage_error(&self, "--lr '%s': expected a positive number", v); }
        else if (CLI_FLAG("--seed")) { if (cli_parse_u64(v, &cfg.seed)) return cli_usage_error(&self, "--seed '%s': expected a non-negative integer", v); }
        else if (!strcmp(argv[i], "--force")) force = 1;
        else return cli_usage_error(&self, "unknown option '%s'", argv[i]);
    }
    if (!train || !out) return cli_usage_error(&self, "--train and --out are required");
    if (head == EOS_HEAD_WARM && !model) return cli_usage_error(&self, "--head warm starts from a model's head: give --model");
    const char *writes[3] = {"head.safetensors"};
    int nw = 1;
    if (model) writes[nw++] = "model.safetensors";
    if (test) writes[nw++] = "metrics.json";
    const cli_input in[] = {{"--train", train}, {"--test", test}, {"--model", model}, {"--val", val}};
    if (cli_out_check_files("finetune", out, writes, nw, force, in, 4)) return 1;
    eos_embeddings tr = {0}, te = {0}, va = {0};
    if (eos_embeddings_read_csv(train, EOS_MAX_CLASSES, &tr) != EOS_OK) return cli_fail("reading the training embeddings");
    int classes = 0, rc = 0;
    for (size_t i = 0; i < tr.n; i++) if (tr.labels[i] + 1 > classes) classes = tr.labels[i] + 1;
    eos_runtime_t rt = NULL;
    eos_resnet_t m = NULL;
    eos_head h = {0};
    if (test && eos_embeddings_read_csv(test, classes, &te) != EOS_OK) rc = cli_fail("reading the test embeddings");
    else if (test && te.dim != tr.dim) { fprintf(stderr, "eos finetune: %s has %zu features, %s %zu\n", test, te.dim, train, tr.dim); rc = 1; }
    else if (val && eos_embeddings_read_csv(val, classes, &va) != EOS_OK) rc = cli_fail("reading the validation embeddings");
    else if (val && va.dim != tr.dim) { fprintf(stderr, "eos finetune: %s has %zu features, %s %zu\n", val, va.dim, train, tr.dim); rc = 1; }
    else if (eos_runtime_init(&rt, device) != EOS_OK) rc = cli_fail("opening the device");
    else if (model && eos_resnet_load(rt, model, &m) != EOS_OK) rc = cli_fail("loading the model");
    else if (cli_mkdirs(out)) rc = 1;
    if (!rc && m) {
        if (eos_resnet_classes(m) < classes || tr.dim != EOS_RESNET_FEATURES) {
            fprintf(stderr, "eos finetune: %s has %d classes and 64 features; the embeddings have labels up to %d and %zu features\n",
                    model, eos_resnet_classes(m), classes - 1, tr.dim);
            rc = 1;
        } else {
            classes = eos_resnet_classes(m);
            if (eos_head_start(&h, head, m, classes, EOS_RESNET_FEATURES, cfg.seed) != EOS_OK)
                rc = cli_fail(head == EOS_HEAD_WARM ? "reading the model's head" : "initialising the head");
        }
    } else if (!rc && eos_head_init(&h, classes, (int)tr.dim, cfg.seed) != EOS_OK) {
        rc = cli_fail("initialising the head");
    }
    float loss = 0;
    if (val) cfg.val = &va;
    if (!rc && eos_finetune(rt, &h, &tr, &cfg, &loss) != EOS_OK) rc = cli_fail("training the head");
    char path[4200];
    if (!rc) {
        printf("head %d x %d trained on %s (%zu rows), %d epochs: final loss %.4f\n", classes, h.dim, train, tr.n, cfg.epochs, loss);
        eos_named_tensor t[2] = {{"linear.weight", EOS_DTYPE_F32, 2, {classes, h.dim}, 0, h.weight},
                                 {"linear.bias", EOS_DTYPE_F32, 1, {classes}, 0, h.bias}};
        snprintf(path, sizeof path, "%s/head.safetensors", out);
        if (eos_safetensors_write(path, t, 2) != EOS_OK) rc = cli_fail("writing head.safetensors");
        else printf("wrote %s\n", path);
    }
    if (!rc && m) {
        snprintf(path, sizeof path, "%s/model.safetensors", out);
        if (eos_resnet_replace_head(m, h.weight, h.bias) != EOS_OK || eos_resnet_save(m, path) != EOS_OK)
            rc = cli_fail("writing the model with the new head");
        else printf("wrote %s (the model with the new head)\n", path);
    }
    if (!rc && test) {
        int32_t *pred = malloc((te.n ? te.n : 1) * sizeof *pred);
        eos_metrics met;
        eos_head_predict(&h, &te, pred);
        if (eos_metrics_compute(classes, te.labels, pred, te.n, &met) != EOS_OK) {
            rc = cli_fail("computing metrics");
        } else {
            printf("\ntest metrics on %s:\n", test);
            cli_print_metrics(&met, NULL);
            snprintf(path, sizeof path, "%s/metrics.json", out);
            if (eos_metrics_write_json(path, &met, NULL, NULL) != EOS_OK) rc = cli_fail("writing metrics.json");
            else printf("wrote %s\n", path);
            eos_metrics_free(&met);
        }
        free(pred);
    }
    eos_head_free(&h);
    eos_resnet_free(m);
    eos_runtime_free(rt);
    eos_embeddings_free(&tr);
    eos_embeddings_free(&te);
    eos_embeddings_free(&va);
    return rc;
}
