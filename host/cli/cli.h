/* Shared pieces of the `eos` command-line tool: the command table, option parsing and the
 * one place that turns a library error into a message on stderr. Only the CLI exits. */
#ifndef EOS_CLI_H
#define EOS_CLI_H

#include "eos/eos.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);  /* argv[0] is the command name */
    void (*usage)(FILE *out);
} cli_command;

int cmd_devices(int argc, char **argv);
void usage_devices(FILE *out);
int cmd_check(int argc, char **argv);
void usage_check(FILE *out);
int cmd_cache(int argc, char **argv);
void usage_cache(FILE *out);
int cmd_dataset(int argc, char **argv);
void usage_dataset(FILE *out);
int cmd_train(int argc, char **argv);
void usage_train(FILE *out);
int cmd_evaluate(int argc, char **argv);
void usage_evaluate(FILE *out);

/* The training progress display: a bar on a terminal, plain lines every 30 s otherwise, one
 * line per epoch always (user: a cli_progress_state). */
typedef struct {
    int tty, quiet;
    double last_print;
} cli_progress_state;
void cli_train_progress(const eos_train_progress *p, void *user);

/* Progress of a pass over images (eos_progress_fn; user: a cli_count_state from
 * cli_count_begin): a bar with the ETA on a terminal, a line every 30 s otherwise, a final line
 * with the rate (host/cli/progress.c). */
typedef struct {
    const char *what;
    int tty, quiet;
    double start, last_print;
} cli_count_state;
cli_count_state cli_count_begin(const char *what, int quiet);
void cli_bar_progress(size_t done, size_t total, void *user);

/* ---- under mpirun (host/dist.h) -------------------------------------------------------------
 * This rank's device: device itself when given, or with EOS_DEVICE set, or in one process;
 * else the local rank's among the node's GPUs (else CPUs), written into buf (host/cli/train.c). */
const char *cli_rank_device(const char *device, char *buf, size_t n);
/* Rank 0's rc on every rank (the exit code of rank 0's check of the outputs): the other ranks
 * do not look, since rank 0 may already be writing by then (host/cli/outputs.c). */
int cli_rank0_says(int rc);

/* ---- where commands write (host/cli/outputs.c) ---------------------------------------------
 * Every command that writes calls one of the checks below before it opens a device or loads
 * anything, so a bad --out costs nothing: --out is a folder or can be created (a file is named
 * as such), results already there are replaced only with --force, and an output is never one of
 * the command's own inputs, --force or not. Each prints why and returns 1 (the exit code). */
typedef struct {
    const char *flag;  /* how the message names it: "--model" */
    const char *path;  /* NULL: not given */
} cli_input;

/* --out DIR: a folder, or a path where one can be created, writable */
int cli_out_check_dir(const char *cmd, const char *dir);
/* --out DIR and the files DIR/names[i] the command writes: none of them an input, none there
 * unless force */
int cli_out_check_files(const char *cmd, const char *dir, const char *const *names, int nnames, int force,
                        const cli_input *in, int nin);
/* --out FILE: not a folder, not an input, not there unless force, its folder usable */
int cli_out_check_file(const char *cmd, const char *file, int force, const cli_input *in, int nin);
/* true when a and b are the same file (device and inode), or, when one is not there yet, the
 * same name in the same folder however the paths spell it */
int cli_same_file(const char *a, const char *b);
/* the folder part and the name of path ("a/b/" -> "a", "b"; "b" -> ".", "b"); -1 if too long */
int cli_split_path(const char *path, char *dir, size_t dn, char *base, size_t bn);
/* mkdir -p of a folder / of a file's folder; prints why on failure (returns -1) */
int cli_mkdirs(const char *dir);
int cli_mkdirs_for(const char *file);
/* The metrics table: ACC, BAC, GM, FM, then per-class recall */
void cli_print_metrics(const eos_metrics *m, const char *const *names);

/* Print the last library error under a one-line context ("eos check: opening the device")
 * and return the exit code 1. */
int cli_fail(const char *context);

/* Report a usage error (unknown flag, missing value) with the command's usage; returns 2. */
int cli_usage_error(const cli_command *cmd, const char *fmt, ...);

const cli_command *cli_find(const char *name);

/* Option parsing. At argv[*i]: returns 1 and sets *value when it is `flag VALUE` or
 * `flag=VALUE` (advancing *i), -1 when the value is missing, 0 when it is another flag. */
int cli_flag_value(int argc, char **argv, int *i, const char *flag, const char **value);
int cli_is_help(const char *arg);

/* Inside an option loop (int i, r; const char *v; a cli_command self): true when argv[i] is
 * `name VALUE` or `name=VALUE` (v set); a missing value is a usage error (exit 2). */
#define CLI_FLAG(name)                                                                   \
    ((r = cli_flag_value(argc, argv, &i, name, &v)) != 0 &&                             \
     (r > 0 || (cli_usage_error(&self, name " needs a value"), exit(2), 0)))

int cmd_embed(int argc, char **argv);
void usage_embed(FILE *out);
int cmd_resample(int argc, char **argv);
void usage_resample(FILE *out);
int cmd_finetune(int argc, char **argv);
void usage_finetune(FILE *out);
int cmd_bench(int argc, char **argv);
void usage_bench(FILE *out);
int cmd_pipeline(int argc, char **argv);
void usage_pipeline(FILE *out);
int cmd_synth(int argc, char **argv);
void usage_synth(FILE *out);
int cmd_report(int argc, char **argv);
void usage_report(FILE *out);

/* Parse an integer >= lo; 0 on success. */
int cli_parse_int(const char *s, int lo, int *out);
/* a number in [lo, hi] (the whole string); 0 on success */
int cli_parse_real(const char *s, double lo, double hi, double *out);

/* Parse a non-negative decimal integer; 0 on success. */
int cli_parse_u64(const char *text, uint64_t *out);

#endif
