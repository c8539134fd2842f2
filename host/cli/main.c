/* Entry point of the `eos` tool: global flags, the command table and dispatch.
 * Each subcommand lives in its own file under host/cli/. */
#include "cli.h"
#include "dist.h"

#include <stdarg.h>
#include <stdint.h>
#include <string.h>

static const cli_command k_commands[] = {
    {"pipeline", "the three phases in one command, with the comparison table", cmd_pipeline, usage_pipeline},
    {"devices", "list every OpenCL platform and device", cmd_devices, usage_devices},
    {"check", "build every kernel and check them and the GEMM against plain-C references", cmd_check, usage_check},
    {"cache", "show or clear the kernel cache", cmd_cache, usage_cache},
    {"dataset", "describe a dataset and its long-tailed subset", cmd_dataset, usage_dataset},
    {"synth", "write a small generated image dataset", cmd_synth, usage_synth},
    {"train", "phase 1: train a CIFAR ResNet on (long-tailed) data", cmd_train, usage_train},
    {"evaluate", "metrics of a model on a dataset's test split", cmd_evaluate, usage_evaluate},
    {"embed", "phase 2 input: embeddings of the training and test sets, and the embedding gap", cmd_embed, usage_embed},
    {"resample", "phase 2: balance embeddings with EOS or a baseline", cmd_resample, usage_resample},
    {"finetune", "phase 3: train the linear head on embeddings, put it back on the model", cmd_finetune, usage_finetune},
    {"report", "the HTML report (SVG charts) of a finished pipeline run", cmd_report, usage_report},
    {"bench", "time training, inference, layers, kNN or EOS on one device or all of them", cmd_bench, usage_bench},
};
#define NCOMMANDS (sizeof k_commands / sizeof k_commands[0])

const cli_command *cli_find(const char *name) {
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(k_commands[i].name, name)) return &k_commands[i];
    return NULL;
}

static void usage(FILE *out) {
    fprintf(out,
            "EOS-CL %s: Expansive Over-Sampling for imbalanced deep learning on any OpenCL device\n\n"
            "usage: eos <command> [options]        eos <command> --help for its options\n\ncommands:\n",
            EOS_VERSION);
    for (size_t i = 0; i < NCOMMANDS; i++) fprintf(out, "  %-10s %s\n", k_commands[i].name, k_commands[i].summary);
    fprintf(out,
            "\nenvironment:\n"
            "  EOS_DEVICE       default device spec when --device is not given\n"
            "  EOS_CACHE_DIR    kernel cache folder (default $XDG_CACHE_HOME/eos-cl or ~/.cache/eos-cl; off disables)\n"
            "  EOS_KERNEL_DIR   load kernel sources from this folder instead of the embedded copies\n"
            "  EOS_LOG          debug|info|warn|error|off: library diagnostics on stderr (default warn)\n"
            "  EOS_CONV_ALGO    gemm|panel|direct|winograd|tiled: one convolution algorithm instead of the\n"
            "                   timed choice\n"
            "\nexample:\n  eos devices\n  eos check --device cpu\n  eos dataset data/cifar10 --imbalance exp:100\n");
}

int cli_fail(const char *context) {
    fprintf(stderr, "eos: %s: %s\n", context, eos_last_error_message());
    return 1;
}

int cli_usage_error(const cli_command *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "eos %s: ", cmd->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n\n");
    cmd->usage(stderr);
    return 2;
}

int cli_parse_u64(const char *text, uint64_t *out) {
    if (!text || !*text) return -1;
    uint64_t v = 0;
    for (const char *c = text; *c; c++) {
        if (*c < '0' || *c > '9' || v > (UINT64_MAX - 9) / 10) return -1;
        v = v * 10 + (uint64_t)(*c - '0');
    }
    *out = v;
    return 0;
}

int cli_is_help(const char *arg) { return !strcmp(arg, "--help") || !strcmp(arg, "-h"); }

int cli_flag_value(int argc, char **argv, int *i, const char *flag, const char **value) {
    const char *a = argv[*i];
    size_t n = strlen(flag);
    if (strncmp(a, flag, n)) return 0;
    if (a[n] == '=') {
        *value = a + n + 1;
        return 1;
    }
    if (a[n]) return 0;
    if (*i + 1 >= argc) return -1;
    *value = argv[++*i];
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2 || cli_is_help(argv[1]) || !strcmp(argv[1], "help")) {
        if (argc >= 3 && !strcmp(argv[1], "help") && cli_find(argv[2])) {
            cli_find(argv[2])->usage(stdout);
            return 0;
        }
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("eos %s\n", EOS_VERSION);
        return 0;
    }
    const cli_command *cmd = cli_find(argv[1]);
    if (!cmd) {
        fprintf(stderr, "eos: unknown command '%s'\n\n", argv[1]);
        usage(stderr);
        return 2;
    }
    for (int i = 2; i < argc; i++)
        if (cli_is_help(argv[i])) {
            cmd->usage(stdout);
            return 0;
        }
    /* every command that opens a device takes --device; an empty one would quietly mean the
     * default device, so it is refused here, once for all of them, before any work */
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--device=") || (!strcmp(argv[i], "--device") && i + 1 < argc && !argv[i + 1][0]))
            return cli_usage_error(cmd, "--device '' is empty: expected an index, cpu, gpu or part of a device name");
    /* a mistyped EOS_* setting is an error before any work, not a silent default */
    if (eos_env_check() != EOS_OK) {
        fprintf(stderr, "eos %s: %s\n", cmd->name, eos_last_error_message());
        return 2;
    }
    /* under mpirun (host/runtime/dist.c): every rank does its share, only rank 0 speaks on stdout */
    int dist = eos__dist_init(&argc, &argv);
    if (dist == -2) {
        fprintf(stderr, "eos %s: started by mpirun with several ranks, but this eos was built without MPI (EOS_MPI=OFF "
                "or none found at configure): each rank would run the whole job alone. Install libopenmpi-dev and "
                "rebuild, or run without mpirun\n", cmd->name);
        return 2;
    }
    if (dist != 0) {
        fprintf(stderr, "eos %s: MPI_Init failed: this process was started by mpirun but cannot join the job\n", cmd->name);
        return 1;
    }
    /* the commands that share their work among the ranks (the others would each run it whole) */
    static const char *const ranked[] = {"train", "embed", "resample", "pipeline"};
    int runs_ranked = 0;
    for (size_t i = 0; i < sizeof ranked / sizeof *ranked; i++) runs_ranked |= !strcmp(cmd->name, ranked[i]);
    if (eos__dist_size() > 1 && !runs_ranked) {
        if (eos__dist_rank() == 0)
            fprintf(stderr, "eos %s: only eos train, embed, resample and pipeline run across MPI ranks; run eos %s as "
                    "one process (without mpirun, or mpirun -np 1)\n", cmd->name, cmd->name);
        eos__dist_finalize();
        return 2;
    }
    if (eos__dist_rank() > 0 && !freopen("/dev/null", "w", stdout)) {
        fprintf(stderr, "eos %s: rank %d cannot silence its output\n", cmd->name, eos__dist_rank());
        eos__dist_abort(1);
    }
    int rc = cmd->run(argc - 1, argv + 1);
    /* a rank that fails ends the others, which would wait for it in the next allreduce forever
     * (usage errors, 2, are the same on every rank: each says so and leaves; so is a stop, 128 +
     * signal, which every rank agreed on at the same step and saved before leaving) */
    if (rc != 0 && rc != 2 && rc <= 128 && eos__dist_size() > 1) {
        fprintf(stderr, "eos %s: rank %d of %d failed (exit %d): ending every rank of the job\n", cmd->name,
                eos__dist_rank(), eos__dist_size(), rc);
        eos__dist_abort(rc);
    }
    eos__dist_finalize();
    return rc;
}
