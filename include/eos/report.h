/* The run report: one self-contained HTML page (inline SVG charts drawn by host/report/svg.c, no
 * scripts, no external resources) made from the files `eos pipeline` leaves in its folder. */
#ifndef EOS_REPORT_H
#define EOS_REPORT_H

#include "eos/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Usage:
 *     eos_report_write("runs/quick", NULL);               // runs/quick/report.html
 */

/* Write the HTML report of a finished `eos pipeline` run from its files alone: summary.json,
 * phase1*\/train_log.csv and metrics.json, <method>/metrics.json, embeddings/embed_metrics.json
 * and embeddings/projection.csv (see eos/projection.h). html_path NULL: run_dir/report.html.
 * A missing or damaged file is an error naming it. Atomic (temp file + rename). */
eos_status eos_report_write(const char *run_dir, const char *html_path);

#ifdef __cplusplus
}
#endif
#endif
