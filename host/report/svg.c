/* SVG charts for the run report (host/report/report.c): lines, grouped bars, horizontal bars, heat
 * maps and scatters, each a self-contained <svg> element with its title, axes and legend. The
 * page's stylesheet supplies the fonts (classes t: title, ax: axis label, tk: tick label). */
#include "svg.h"

#include "json.h"

#include <math.h>
#include <string.h>

enum { TITLE_H = 30, LEGEND_ROW = 18, MAX_TICKS = 100 };

/* The charts draw values up to this size; beyond it (a damaged file, a diverged run: 1e308,
 * inf) a value counts as missing, so no coordinate overflows and no label runs to 300 digits. */
#define VALUE_MAX 1e12

static int usable(double v) { return isfinite(v) && fabs(v) <= VALUE_MAX; }

/* Where v falls in [lo, hi], clamped to [0, 1]: a value outside a fixed range (a recall above 1)
 * is drawn at its edge, never outside the chart. */
static double unit(double v, double lo, double hi) {
    double t = (v - lo) / (hi - lo);
    return !(t > 0) ? 0 : t > 1 ? 1 : t;
}

void eos__svg_text(FILE *f, const char *s) {
    while (s && *s) {
        unsigned char c = (unsigned char)*s;
        size_t n = eos__utf8_char(s);
        switch (c) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            /* the page is UTF-8: a byte that is not (a folder name can be any bytes), or a control
             * character, which HTML does not allow in text, becomes U+FFFD */
            if (n == 0 || (c < 0x20 && c != '\t' && c != '\n') || c == 0x7f) fputs("\xef\xbf\xbd", f);
            else fwrite(s, 1, n, f);
        }
        s += n ? n : 1;
    }
}

void eos__svg_colour(int i, char *buf, size_t n) {
    static const char *k_tableau[10] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                        "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
    if (i >= 0 && i < 10) snprintf(buf, n, "%s", k_tableau[i]);
    else snprintf(buf, n, "hsl(%d,55%%,%d%%)", (int)(fmod(i * 137.508, 360.0)), 40 + 15 * (i % 3));
}

/* approximate width in pixels of text at the given font size (sans-serif) */
static double text_w(const char *s, double px) { return 0.58 * px * (double)strlen(s ? s : ""); }

static void open_svg(FILE *f, const char *id, const char *title, int w, int h) {
    fprintf(f, "<svg id=\"%s\" class=\"chart\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"",
            id, w, h, w, h);
    eos__svg_text(f, title);
    fprintf(f, "\">\n<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n<text x=\"8\" y=\"20\" class=\"t\">", w, h);
    eos__svg_text(f, title);
    fprintf(f, "</text>\n");
}

static void label(FILE *f, double x, double y, const char *cls, const char *anchor, double rotate, const char *s) {
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"%s\" text-anchor=\"%s\"", x, y, cls, anchor);
    if (rotate != 0) fprintf(f, " transform=\"rotate(%.0f %.1f %.1f)\"", rotate, x, y);
    fputc('>', f);
    eos__svg_text(f, s);
    fprintf(f, "</text>\n");
}

/* A "nice" step (1, 2 or 5 times a power of ten) giving about target intervals over range. */
static double nice_step(double range, int target) {
    if (!(range > 0)) return 1;
    double raw = range / target, mag = pow(10, floor(log10(raw))), r = raw / mag;
    return (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
}

static int decimals(double step) {
    int d = (int)ceil(-log10(step) - 1e-9);
    return d < 0 ? 0 : d > 6 ? 6 : d;
}

/* Data range -> axis range with nice ends; fixed ends kept. Returns the tick step. */
static double axis_range(double dlo, double dhi, eos__svg_range fix, double *lo, double *hi) {
    *lo = isfinite(fix.lo) ? fix.lo : dlo;
    *hi = isfinite(fix.hi) ? fix.hi : dhi;
    if (!usable(*lo) || !usable(*hi)) *lo = 0, *hi = 1;
    /* flat: also when the difference is lost in rounding, so that a tick step always moves t */
    if (!(*hi - *lo > 1e-9 * fmax(fabs(*lo), fabs(*hi)))) {
        double pad = fabs(*lo) > 0 ? 0.1 * fabs(*lo) : 1;
        if (!isfinite(fix.lo)) *lo -= pad;
        if (!isfinite(fix.hi) || !(*hi - *lo > 1e-9 * fmax(fabs(*lo), fabs(*hi)))) *hi = *lo + 2 * pad;
    }
    double step = nice_step(*hi - *lo, 5);
    if (!isfinite(fix.lo)) *lo = floor(*lo / step + 1e-9) * step;
    if (!isfinite(fix.hi)) *hi = ceil(*hi / step - 1e-9) * step;
    return step;
}

/* Horizontal grid lines and tick labels on the left of the plot area [x0, x1] x [y0, y1]. */
static void y_axis(FILE *f, double x0, double x1, double y0, double y1, double lo, double hi, double step,
                   const char *ylabel) {
    int d = decimals(step);
    double first = ceil(lo / step - 1e-9) * step;
    for (int k = 0; k <= MAX_TICKS; k++) {
        double t = first + k * step;
        if (t > hi + 1e-9 * step) break;
        double y = y1 - unit(t, lo, hi) * (y1 - y0);
        char buf[32];
        snprintf(buf, sizeof buf, "%.*f", d, fabs(t) < 1e-12 ? 0.0 : t);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>\n", x0, y, x1, y);
        label(f, x0 - 5, y + 4, "tk", "end", 0, buf);
    }
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"axis\"/>\n", x0, y0, x0, y1);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"axis\"/>\n", x0, y1, x1, y1);
    if (ylabel) label(f, 14, (y0 + y1) / 2, "ax", "middle", -90, ylabel);
}

/* A row of legend items (a swatch and a name) from (x, y), wrapping at width; with draw 0
 * only measures. Returns the number of rows. */
static int legend(FILE *f, double x, double y, double width, int n, const char *const *names, int draw, int lines) {
    int rows = 1;
    double cx = x;
    for (int i = 0; i < n; i++) {
        double w = 18 + text_w(names[i], 11) + 14;
        if (cx + w > x + width && cx > x) {
            rows++;
            cx = x;
        }
        if (draw) {
            char col[32];
            eos__svg_colour(i, col, sizeof col);
            double ry = y + (rows - 1) * LEGEND_ROW;
            if (lines)
                fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2.5\"/>\n", cx,
                        ry - 4, cx + 14, ry - 4, col);
            else
                fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\"/>\n", cx, ry - 10, col);
            label(f, cx + 18, ry, "tk", "start", 0, names[i]);
        }
        cx += w;
    }
    return rows;
}

void eos__svg_line_chart(FILE *f, const char *id, const char *title, const char *xlabel, const char *ylabel,
                         const eos__svg_series *s, int ns, eos__svg_range yfix, int width, int height) {
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (int k = 0; k < ns; k++)
        for (size_t i = 0; i < s[k].n; i++) {
            if (!usable(s[k].x[i]) || !usable(s[k].y[i])) continue;
            xmin = fmin(xmin, s[k].x[i]), xmax = fmax(xmax, s[k].x[i]);
            ymin = fmin(ymin, s[k].y[i]), ymax = fmax(ymax, s[k].y[i]);
        }
    const char *names[64];
    int nn = ns < 64 ? ns : 64;
    for (int k = 0; k < nn; k++) names[k] = s[k].name;
    double x0 = 58, x1 = width - 16, y0 = TITLE_H + 8;
    int lrows = ns > 1 ? legend(f, x0, 0, x1 - x0, nn, names, 0, 1) : 0;
    y0 += lrows * LEGEND_ROW;
    double y1 = height - 42;
    open_svg(f, id, title, width, height);
    if (ns > 1) legend(f, x0, TITLE_H + 6, x1 - x0, nn, names, 1, 1);
    double lo, hi, step = axis_range(ymin, ymax, yfix, &lo, &hi);
    y_axis(f, x0, x1, y0, y1, lo, hi, step, ylabel);
    /* x: integer ticks (epochs) */
    if (!isfinite(xmin)) xmin = 0, xmax = 1;
    double xlo = xmin, xhi = xmax;
    if (xhi - xlo < 1) xlo -= 0.5, xhi += 0.5;
    double pad = 0.03 * (xhi - xlo);
    xlo -= pad, xhi += pad;
    double xstep = fmax(1, nice_step(xmax - xmin, 8)), xfirst = ceil(xmin / xstep - 1e-9) * xstep;
    for (int k = 0; k <= MAX_TICKS; k++) {
        double t = xfirst + k * xstep;
        if (t > xmax + 1e-9) break;
        char buf[32];
        double px = x0 + unit(t, xlo, xhi) * (x1 - x0);
        snprintf(buf, sizeof buf, "%.0f", t);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"axis\"/>\n", px, y1, px, y1 + 4);
        label(f, px, y1 + 16, "tk", "middle", 0, buf);
    }
    if (xlabel) label(f, (x0 + x1) / 2, height - 8, "ax", "middle", 0, xlabel);
    for (int k = 0; k < ns; k++) {
        char col[32];
        eos__svg_colour(k, col, sizeof col);
        fprintf(f, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"2\" d=\"", col);
        int pen = 0;
        for (size_t i = 0; i < s[k].n; i++) {
            /* epochs without a value (or with an absurd one) are skipped, the line joins the others */
            if (!usable(s[k].x[i]) || !usable(s[k].y[i])) continue;
            double px = x0 + unit(s[k].x[i], xlo, xhi) * (x1 - x0);
            double py = y1 - unit(s[k].y[i], lo, hi) * (y1 - y0);
            fprintf(f, "%c%.1f %.1f", pen ? 'L' : 'M', px, py);
            pen = 1;
        }
        fprintf(f, "\"/>\n<g fill=\"%s\">", col);
        size_t shown = 0;
        for (size_t i = 0; i < s[k].n; i++) shown += usable(s[k].x[i]) && usable(s[k].y[i]);
        if (shown <= 60)
            for (size_t i = 0; i < s[k].n; i++) {
                if (!usable(s[k].x[i]) || !usable(s[k].y[i])) continue;
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\"/>", x0 + unit(s[k].x[i], xlo, xhi) * (x1 - x0),
                        y1 - unit(s[k].y[i], lo, hi) * (y1 - y0));
            }
        fprintf(f, "</g>\n");
    }
    fprintf(f, "</svg>\n");
}

/* Labels under slots of width slot centred at x0 + (i + 0.5) slot; turned when they do not fit.
 * Returns the height they take. */
/* Every how many categories a label fits when they are space apart: 1, 2, 5, 10, 20, 50, ...
 * (round steps, so the labelled classes are easy to count along the axis). */
static int label_stride(double space, double need) {
    static const int steps[3] = {1, 2, 5};
    for (int mul = 1; mul <= 100000000; mul *= 10)
        for (int k = 0; k < 3; k++)
            if (steps[k] * mul * space >= need) return steps[k] * mul;
    return 1000000000;
}

/* The names under the groups, turned when they do not fit side by side; when even turned names
 * would overlap (many classes) only every stride-th is written, with a tick under its group
 * (each bar's tooltip still names its class). */
static double category_labels(FILE *f, int n, const char *const *names, double x0, double slot, double y, int draw) {
    double widest = 0;
    for (int i = 0; i < n; i++) widest = fmax(widest, text_w(names[i], 11));
    int turn = widest > slot - 4;
    int stride = turn ? label_stride(slot, 14) : 1;  /* turned 11 px labels need about 14 px apart */
    if (draw)
        for (int i = 0; i < n; i += stride) {
            double cx = x0 + (i + 0.5) * slot;
            if (stride > 1) fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"axis\"/>", cx, y, cx, y + 4);
            if (turn) label(f, cx + 3, y + 12, "tk", "end", -35, names[i]);
            else label(f, cx, y + 15, "tk", "middle", 0, names[i]);
        }
    return turn ? 18 + 0.58 * fmin(widest, 160) : 20;
}

void eos__svg_bar_chart(FILE *f, const char *id, const char *title, const char *ylabel, int ngroups,
                        const char *const *groups, int nseries, const char *const *series, const double *v,
                        eos__svg_range yfix, const char *value_fmt, int width, int height) {
    double x0 = 58, x1 = width - 16, y0 = TITLE_H + 8;
    int lrows = nseries > 1 ? legend(f, x0, 0, x1 - x0, nseries, series, 0, 0) : 0;
    y0 += lrows * LEGEND_ROW + (value_fmt ? 12 : 0);
    double slot = (x1 - x0) / (ngroups > 0 ? ngroups : 1);
    double y1 = height - 8 - category_labels(f, ngroups, groups, x0, slot, 0, 0);
    double bw = 0.8 * slot / (nseries > 0 ? nseries : 1);
    double vmax = -INFINITY, vmin = INFINITY;
    for (int k = 0; k < nseries * ngroups; k++)
        if (usable(v[k])) vmax = fmax(vmax, v[k]), vmin = fmin(vmin, v[k]);
    if (!isfinite(vmax)) vmin = 0, vmax = 1;
    if (!isfinite(yfix.lo)) yfix.lo = fmin(0, vmin);
    double lo, hi, step = axis_range(vmin, vmax, yfix, &lo, &hi);
    /* value labels only when every one fits over its bar */
    int show = 0;
    if (value_fmt) {
        show = 1;
        for (int k = 0; k < nseries * ngroups && show; k++) {
            char buf[32];
            snprintf(buf, sizeof buf, value_fmt, usable(v[k]) ? v[k] : 0);
            show = text_w(buf, 10) <= bw + 0.2 * slot / (nseries > 0 ? nseries : 1);
        }
    }
    open_svg(f, id, title, width, height);
    if (nseries > 1) legend(f, x0, TITLE_H + 6, x1 - x0, nseries, series, 1, 0);
    y_axis(f, x0, x1, y0, y1, lo, hi, step, ylabel);
    category_labels(f, ngroups, groups, x0, slot, y1, 1);
    for (int s = 0; s < nseries; s++) {
        char col[32];
        eos__svg_colour(s, col, sizeof col);
        fprintf(f, "<g fill=\"%s\">", col);
        for (int g = 0; g < ngroups; g++) {
            double val = v[(size_t)s * ngroups + g];
            if (!usable(val)) continue;  /* missing: no bar */
            double bx = x0 + g * slot + 0.1 * slot + s * bw;
            double top = y1 - unit(val, lo, hi) * (y1 - y0), base = y1 - unit(fmax(0, lo), lo, hi) * (y1 - y0);
            double h = fabs(base - top);
            if (val != 0 && h < 1) h = 1;  /* a tiny value still shows */
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"><title>", bx, fmin(top, base - h), bw * 0.92, h);
            eos__svg_text(f, series[s]);
            fprintf(f, ", ");
            eos__svg_text(f, groups[g]);
            fprintf(f, ": %.4g</title></rect>", val);
        }
        fprintf(f, "</g>\n");
        if (show)
            for (int g = 0; g < ngroups; g++) {
                double val = v[(size_t)s * ngroups + g];
                if (!usable(val)) continue;
                char buf[32];
                snprintf(buf, sizeof buf, value_fmt, val);
                double bx = x0 + g * slot + 0.1 * slot + s * bw + bw * 0.46;
                double top = y1 - unit(val, lo, hi) * (y1 - y0);
                fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"val\" text-anchor=\"middle\">%s</text>", bx, top - 3, buf);
            }
    }
    fprintf(f, "</svg>\n");
}

void eos__svg_hbar_chart(FILE *f, const char *id, const char *title, const char *xlabel, int n,
                         const char *const *labels, const double *v, const char *value_fmt, int width) {
    double widest = 0, vmax = 0;
    for (int i = 0; i < n; i++) {
        widest = fmax(widest, text_w(labels[i], 11));
        if (usable(v[i])) vmax = fmax(vmax, v[i]);
    }
    double x0 = 16 + fmin(widest, 260), x1 = width - 70, y0 = TITLE_H + 10, row = 22;
    int height = (int)(y0 + n * row + 44);
    double lo, hi, step = axis_range(0, vmax > 0 ? vmax : 1, (eos__svg_range){0, NAN}, &lo, &hi);
    double y1 = y0 + n * row;
    open_svg(f, id, title, width, height);
    int d = decimals(step);
    for (int k = 0; k <= MAX_TICKS; k++) {
        double t = k * step;
        if (t > hi + 1e-9 * step) break;
        double px = x0 + unit(t, 0, hi) * (x1 - x0);
        char buf[32];
        snprintf(buf, sizeof buf, "%.*f", d, t);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>\n", px, y0, px, y1);
        label(f, px, y1 + 16, "tk", "middle", 0, buf);
    }
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"axis\"/>\n", x0, y0, x0, y1);
    if (xlabel) label(f, (x0 + x1) / 2, height - 8, "ax", "middle", 0, xlabel);
    for (int i = 0; i < n; i++) {
        char col[32], buf[32];
        double val = usable(v[i]) ? v[i] : 0, w = unit(val, 0, hi) * (x1 - x0), ry = y0 + i * row;
        eos__svg_colour(0, col, sizeof col);
        label(f, x0 - 6, ry + row * 0.68, "tk", "end", 0, labels[i]);
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n", x0, ry + 3,
                w > 0 && w < 1 ? 1 : w, row - 6, col);
        if (usable(v[i])) snprintf(buf, sizeof buf, value_fmt, val);
        else snprintf(buf, sizeof buf, "-");  /* missing */
        label(f, x0 + w + 5, ry + row * 0.68, "val", "start", 0, buf);
    }
    fprintf(f, "</svg>\n");
}

/* ColorBrewer "Blues", interpolated: 0 -> near white, 1 -> dark blue */
static void blues(double t, char *buf, size_t n) {
    static const unsigned char k_stops[5][3] = {{247, 251, 255}, {198, 219, 239}, {107, 174, 214}, {33, 113, 181}, {8, 48, 107}};
    t = !(t > 0) ? 0 : t > 1 ? 1 : t;
    double p = t * 4;
    int i = p >= 4 ? 3 : (int)p;
    double u = p - i;
    int rgb[3];
    for (int c = 0; c < 3; c++) rgb[c] = (int)lround(k_stops[i][c] + u * (k_stops[i + 1][c] - k_stops[i][c]));
    snprintf(buf, n, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
}

void eos__svg_heatmap(FILE *f, const char *id, const char *title, int C, const int64_t *counts,
                      const char *const *names, int size) {
    double widest = 0;
    for (int c = 0; c < C; c++) widest = fmax(widest, text_w(names[c], 11));
    widest = fmin(widest, 110);
    double x0 = 34 + widest, scale_w = 54, y0 = TITLE_H + 6;
    double cell = (size - x0 - scale_w - 6) / (C > 0 ? C : 1);
    double grid = cell * C, bottom = 22 + 0.6 * widest + 18;
    int height = (int)(y0 + grid + bottom);
    open_svg(f, id, title, size, height);
    int labels = cell >= 20 && C <= 30;  /* counts in the cells only while they can be read */
    double font = fmin(11, cell * 0.38);
    int stride = label_stride(cell, 13);  /* class names at least a line apart */
    for (int r = 0; r < C; r++) {
        int64_t total = 0;
        for (int c = 0; c < C; c++) total += counts[(size_t)r * C + c];
        for (int c = 0; c < C; c++) {
            int64_t k = counts[(size_t)r * C + c];
            double frac = total ? (double)k / (double)total : 0;
            char col[16];
            blues(frac, col, sizeof col);
            double cx = x0 + c * cell, cy = y0 + r * cell;
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>", cx, cy, cell, cell, col);
            eos__svg_text(f, names[r]);
            fprintf(f, " predicted as ");
            eos__svg_text(f, names[c]);
            fprintf(f, ": %lld (%.1f%%)</title></rect>", (long long)k, 100 * frac);
            if (labels)
                fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"%.1f\" fill=\"%s\">%lld</text>",
                        cx + cell / 2, cy + cell / 2 + font * 0.35, font, frac > 0.5 ? "#fff" : "#222", (long long)k);
        }
        fprintf(f, "\n");
        if (r % stride == 0) label(f, x0 - 5, y0 + (r + 0.5) * cell + 4, "tk", "end", 0, names[r]);
    }
    for (int c = 0; c < C; c += stride) label(f, x0 + (c + 0.5) * cell + 3, y0 + grid + 12, "tk", "end", -45, names[c]);
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" class=\"frame\"/>\n", x0, y0, grid, grid);
    label(f, 12, y0 + grid / 2, "ax", "middle", -90, "true class");
    label(f, x0 + grid / 2, height - 6, "ax", "middle", 0, "predicted class");
    /* the colour scale: fraction of the true class's test images */
    double sx = x0 + grid + 12, sh = grid;
    for (int i = 0; i < 20; i++) {
        char col[16];
        blues(1 - (i + 0.5) / 20, col, sizeof col);
        fprintf(f, "<rect x=\"%.1f\" y=\"%.2f\" width=\"12\" height=\"%.2f\" fill=\"%s\"/>", sx, y0 + i * sh / 20, sh / 20 + 0.3, col);
    }
    fprintf(f, "\n");
    label(f, sx + 15, y0 + 8, "tk", "start", 0, "1");
    label(f, sx + 15, y0 + sh / 2 + 4, "tk", "start", 0, "0.5");
    label(f, sx + 15, y0 + sh, "tk", "start", 0, "0");
    fprintf(f, "</svg>\n");
}

void eos__svg_scatter(FILE *f, const char *id, const char *title, const char *xlabel, const char *ylabel, size_t n,
                      const double *x, const double *y, const int32_t *lab, const uint8_t *syn, int classes,
                      const char *const *names, const char *synthetic_name, int width, int height) {
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    size_t nreal = 0, nsyn = 0;
    for (size_t i = 0; i < n; i++) {
        if (!usable(x[i]) || !usable(y[i])) continue;  /* drawn nowhere, counted nowhere */
        xmin = fmin(xmin, x[i]), xmax = fmax(xmax, x[i]), ymin = fmin(ymin, y[i]), ymax = fmax(ymax, y[i]);
        if (syn[i]) nsyn++;
        else nreal++;
    }
    double legend_w = 190, x0 = 58, x1 = width - legend_w - 10, y0 = TITLE_H + 8, y1 = height - 42;
    eos__svg_range free_range = {NAN, NAN};
    double xlo, xhi, xstep = axis_range(xmin, xmax, free_range, &xlo, &xhi);
    double ylo, yhi, ystep = axis_range(ymin, ymax, free_range, &ylo, &yhi);
    open_svg(f, id, title, width, height);
    y_axis(f, x0, x1, y0, y1, ylo, yhi, ystep, ylabel);
    int d = decimals(xstep);
    double xfirst = ceil(xlo / xstep - 1e-9) * xstep;
    for (int k = 0; k <= MAX_TICKS; k++) {
        double t = xfirst + k * xstep;
        if (t > xhi + 1e-9 * xstep) break;
        double px = x0 + unit(t, xlo, xhi) * (x1 - x0);
        char buf[32];
        snprintf(buf, sizeof buf, "%.*f", d, fabs(t) < 1e-12 ? 0.0 : t);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>\n", px, y0, px, y1);
        label(f, px, y1 + 16, "tk", "middle", 0, buf);
    }
    if (xlabel) label(f, (x0 + x1) / 2, height - 8, "ax", "middle", 0, xlabel);
    /* real samples first (dots), then the synthetic ones on top (crosses), one group per class */
    for (int pass = 0; pass < 2; pass++)
        for (int c = 0; c < classes; c++) {
            char col[32];
            eos__svg_colour(c, col, sizeof col);
            if (pass == 0) fprintf(f, "<g fill=\"%s\" fill-opacity=\"0.7\">", col);
            else fprintf(f, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"1.4\" d=\"", col);
            for (size_t i = 0; i < n; i++) {
                if (lab[i] != c || syn[i] != pass || !usable(x[i]) || !usable(y[i])) continue;
                double px = x0 + unit(x[i], xlo, xhi) * (x1 - x0), py = y1 - unit(y[i], ylo, yhi) * (y1 - y0);
                if (pass == 0) fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.6\"/>", px, py);
                else fprintf(f, "M%.1f %.1fl5 5m0-5l-5 5", px - 2.5, py - 2.5);
            }
            fprintf(f, pass == 0 ? "</g>\n" : "\"/>\n");
        }
    /* legend: the two marker styles, then the classes */
    double lx = x1 + 22, ly = y0 + 4;
    char buf[160];
    fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"#555\"/>", lx + 5, ly - 4);
    snprintf(buf, sizeof buf, "real (%zu shown)", nreal);
    label(f, lx + 16, ly, "tk", "start", 0, buf);
    ly += LEGEND_ROW;
    fprintf(f, "<path d=\"M%.1f %.1fl7 7m0-7l-7 7\" stroke=\"#555\" stroke-width=\"1.6\"/>", lx + 1.5, ly - 7.5);
    snprintf(buf, sizeof buf, "synthetic, %s (%zu shown)", synthetic_name ? synthetic_name : "", nsyn);
    label(f, lx + 16, ly, "tk", "start", 0, buf);
    ly += LEGEND_ROW + 6;
    int listed = classes <= (int)((y1 - ly) / LEGEND_ROW) ? classes : 0;
    for (int c = 0; c < listed; c++, ly += LEGEND_ROW) {
        char col[32];
        eos__svg_colour(c, col, sizeof col);
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"11\" height=\"11\" fill=\"%s\"/>", lx, ly - 10, col);
        label(f, lx + 16, ly, "tk", "start", 0, names[c]);
    }
    if (!listed) label(f, lx, ly, "tk", "start", 0, "colour: class");
    fprintf(f, "</svg>\n");
}
