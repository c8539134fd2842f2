/* SVG charts for the run report, written as inline <svg> elements into an HTML page: one
 * function per chart type (lines, grouped bars, horizontal bars, heat map, scatter), each with a
 * title, axes, ticks, axis labels and a legend where there is more than one series. Private. */
#ifndef EOS_SVG_H
#define EOS_SVG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* One line of a line chart: n points (x[i], y[i]); NaN y values are gaps. */
typedef struct eos__svg_series {
    const char *name;
    size_t n;
    const double *x, *y;
} eos__svg_series;

/* Axis range: lo/hi fixed when finite; NaN: from the data. */
typedef struct eos__svg_range {
    double lo, hi;
} eos__svg_range;

/* Text with &, <, >, " escaped, and U+FFFD for bytes that are not UTF-8 and for control characters. */
void eos__svg_text(FILE *f, const char *s);
/* The colour of series or class i: Tableau 10, then evenly spread hues. */
void eos__svg_colour(int i, char *buf, size_t n);

/* Lines with dots at the points; integer x ticks when x is an epoch count. */
void eos__svg_line_chart(FILE *f, const char *id, const char *title, const char *xlabel, const char *ylabel,
                         const eos__svg_series *s, int ns, eos__svg_range y, int width, int height);

/* Grouped vertical bars: v (nseries, ngroups), a group per class; value_fmt (e.g. "%.0f") puts
 * the value above each bar, NULL for none. NaN values draw no bar. With more groups than names
 * fit, every 2nd, 5th, 10th, ... group is named, with a tick. */
void eos__svg_bar_chart(FILE *f, const char *id, const char *title, const char *ylabel, int ngroups,
                        const char *const *groups, int nseries, const char *const *series, const double *v,
                        eos__svg_range y, const char *value_fmt, int width, int height);

/* Horizontal bars, one per label, with value_fmt after each bar; height follows n. */
void eos__svg_hbar_chart(FILE *f, const char *id, const char *title, const char *xlabel, int n,
                         const char *const *labels, const double *v, const char *value_fmt, int width);

/* A confusion matrix counts (C, C) (rows: true class) as a heat map coloured by the row
 * fraction, with a colour scale, class names on both axes (every 2nd, 5th, 10th, ... when they
 * would overlap) and the counts in the cells when they fit (cells of 20 px, at most 30 classes).
 * size: the width of the whole chart. */
void eos__svg_heatmap(FILE *f, const char *id, const char *title, int C, const int64_t *counts,
                      const char *const *names, int size);

/* A scatter of n points coloured by label (0..classes-1), real points as dots and synthetic
 * ones as crosses, with a legend of both marker styles and of the classes. */
void eos__svg_scatter(FILE *f, const char *id, const char *title, const char *xlabel, const char *ylabel, size_t n,
                      const double *x, const double *y, const int32_t *label, const uint8_t *synthetic, int classes,
                      const char *const *names, const char *synthetic_name, int width, int height);

#endif
