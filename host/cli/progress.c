/* A progress bar for one pass over a known number of items (embeddings, evaluation): a bar
 * with the rate and the ETA redrawn in place on a terminal, a plain line every 30 s when the
 * output is not a terminal, nothing but the final line with --quiet. */
#include "cli.h"

#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void fmt_eta(double s, char *buf, size_t n) {
    if (!(s >= 0) || s > 1e7) s = 0;
    int h = (int)(s / 3600), m = (int)(s / 60) % 60, sec = (int)s % 60;
    if (h) snprintf(buf, n, "%dh%02dm", h, m);
    else snprintf(buf, n, "%dm%02ds", m, sec);
}

void cli_bar_progress(size_t done, size_t total, void *user) {
    cli_count_state *s = user;
    double t = now_s(), el = t - s->start, rate = (double)done / (el > 1e-9 ? el : 1e-9);
    if (done >= total) {
        if (s->tty && !s->quiet) printf("\r\033[K");
        printf("  %s: %zu images in %.1f s (%.0f img/s)\n", s->what, total, el, rate);
        fflush(stdout);
        return;
    }
    if (s->quiet || t - s->last_print < (s->tty ? 0.2 : 30)) return;
    s->last_print = t;
    char eta[32];
    fmt_eta(rate > 0 ? (double)(total - done) / rate : -1, eta, sizeof eta);
    if (s->tty) {
        enum { WIDTH = 30 };
        char bar[WIDTH + 1];
        int fill = (int)(WIDTH * (double)done / (double)(total ? total : 1));
        for (int i = 0; i < WIDTH; i++) bar[i] = i < fill ? '#' : '.';
        bar[WIDTH] = 0;
        printf("\r\033[K  %s [%s] %zu/%zu  %.0f img/s  ETA %s", s->what, bar, done, total, rate, eta);
    } else {
        printf("  %s: %zu/%zu images  %.0f img/s  ETA %s\n", s->what, done, total, rate, eta);
    }
    fflush(stdout);
}
