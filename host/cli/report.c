/* `eos report DIR`: the HTML report of a finished `eos pipeline` run, made again from the files
 * in its folder (no device, no dataset needed); the pipeline writes the same page at its end. */
#include "cli.h"

#include <string.h>

void usage_report(FILE *out) {
    fprintf(out,
            "usage: eos report DIR [--out FILE] [--force] [--quiet]\n\n"
            "Writes DIR/report.html: one self-contained page (inline SVG charts, no scripts, no external\n"
            "resources; open it with any browser, also offline) with the training curves, the class counts\n"
            "before and after re-balancing, per-class recall of every model with the ACC/BAC/GM/FM table,\n"
            "the confusion matrices as heat maps, a 2-d PCA view of the real and synthetic embeddings, the\n"
            "per-class embedding gap, and the run's settings, device, timings and images per second.\n"
            "It reads only the files `eos pipeline` leaves in DIR (summary.json, phase1*/train_log.csv and\n"
            "metrics.json, <method>/metrics.json, embeddings/embed_metrics.json, embeddings/projection.csv);\n"
            "a missing one is named in the error. The pipeline writes the same page when it finishes.\n\n"
            "options:\n"
            "  --out FILE   where to write the page (default DIR/report.html, the run's own page, which is\n"
            "               made again from the run's files whether it is there or not)\n"
            "  --force      replace --out FILE if it exists (default: refuse); never one of the run's files\n"
            "  --quiet      print nothing on success (default: the path written)\n\n"
            "example:\n  eos report runs/quick\n  eos report runs/quick --out /tmp/quick.html\n");
}

int cmd_report(int argc, char **argv) {
    static const cli_command self = {"report", "", NULL, usage_report};
    const char *dir = NULL, *out = NULL, *v;
    int quiet = 0, force = 0;
    for (int i = 1; i < argc; i++) {
        int r;
        if (CLI_FLAG("--out")) out = v;
        else if (!strcmp(argv[i], "--quiet")) quiet = 1;
        else if (!strcmp(argv[i], "--force")) force = 1;
        else if (argv[i][0] == '-' && argv[i][1]) return cli_usage_error(&self, "unknown option '%s'", argv[i]);
        else if (!dir) dir = argv[i];
        else return cli_usage_error(&self, "one run folder, not '%s' too", argv[i]);
    }
    if (!dir) return cli_usage_error(&self, "missing DIR, the folder of a finished `eos pipeline` run");
    char path[4200];
    snprintf(path, sizeof path, "%s/report.html", dir);
    /* the run's own page is derived from its files alone: making it again loses nothing */
    int own = !out || cli_same_file(out, path);
    if (own) {
        out = path;
        force = 1;
    }
    /* what the report reads: never the page's place, --force or not */
    char sj[4200], em[4200], pj[4200], mj[4300], tl[4300], od[4200], ob[4200], pd[4200], pb[4200];
    snprintf(sj, sizeof sj, "%s/summary.json", dir);
    snprintf(em, sizeof em, "%s/embeddings/embed_metrics.json", dir);
    snprintf(pj, sizeof pj, "%s/embeddings/projection.csv", dir);
    cli_input in[5] = {{"run's", sj}, {"run's", em}, {"run's", pj}, {"run's", NULL}, {"run's", NULL}};
    if (!cli_split_path(out, od, sizeof od, ob, sizeof ob) && !cli_split_path(od, pd, sizeof pd, pb, sizeof pb) &&
        cli_same_file(pd, dir)) {  /* DIR/<result>/: its metrics.json and train_log.csv */
        snprintf(mj, sizeof mj, "%s/metrics.json", od);
        snprintf(tl, sizeof tl, "%s/train_log.csv", od);
        in[3].path = mj;
        in[4].path = tl;
    }
    if (cli_out_check_file("report", out, force, in, 5)) return 1;
    if (!own && cli_mkdirs_for(out)) return 1;  /* DIR itself is never made: it holds the run */
    if (eos_report_write(dir, out) != EOS_OK) return cli_fail("report");
    if (!quiet) printf("wrote %s (open it in any browser)\n", out);
    return 0;
}
