/* The pixel half of the browser test (tests/test_report_browser.sh): decodes chromium's
 * screenshot of report.html with stb_image and checks that the page is not blank and that every
 * chart's box (from a boxes file: "id x y width height" per line, CSS pixels = image pixels)
 * has drawn pixels: ink (anything not near-white) and colour (the charts' series and scales).
 * usage: png_check SHOT.png BOXES.txt; exit 0 when every check passes. */
#include <stb_image.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    long ink, colour, total;
} stats;

static stats measure(const unsigned char *px, int w, int h, int x0, int y0, int bw, int bh) {
    stats s = {0, 0, 0};
    for (int y = y0 < 0 ? 0 : y0; y < y0 + bh && y < h; y++)
        for (int x = x0 < 0 ? 0 : x0; x < x0 + bw && x < w; x++) {
            const unsigned char *p = px + ((size_t)y * w + x) * 3;
            int mx = p[0], mn = p[0];
            for (int c = 1; c < 3; c++) {
                if (p[c] > mx) mx = p[c];
                if (p[c] < mn) mn = p[c];
            }
            s.total++;
            s.ink += mn < 235;           /* not white or near-white */
            s.colour += mx - mn >= 40;   /* clearly coloured, not grey text or grid */
        }
    return s;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: png_check SHOT.png BOXES.txt\n");
        return 2;
    }
    int w, h, ch;
    unsigned char *px = stbi_load(argv[1], &w, &h, &ch, 3);
    if (!px) {
        fprintf(stderr, "png_check: cannot decode %s: %s\n", argv[1], stbi_failure_reason());
        return 1;
    }
    FILE *f = fopen(argv[2], "r");
    if (!f) {
        fprintf(stderr, "png_check: cannot open %s\n", argv[2]);
        stbi_image_free(px);
        return 1;
    }
    int fail = 0, boxes = 0;
    stats all = measure(px, w, h, 0, 0, w, h);
    printf("screenshot %dx%d: %.2f%% ink, %.2f%% colour\n", w, h, 100.0 * all.ink / all.total,
           100.0 * all.colour / all.total);
    if (all.ink < all.total / 100 || all.colour < all.total / 500) {
        printf("FAILED: the page looks blank\n");
        fail = 1;
    }
    char id[128];
    int x, y, bw, bh;
    while (fscanf(f, "%127s %d %d %d %d", id, &x, &y, &bw, &bh) == 5) {
        if (!strcmp(id, "page")) continue;
        boxes++;
        if (bw < 50 || bh < 50 || x < 0 || y < 0 || x + bw > w || y + bh > h) {
            printf("FAILED: %s at (%d, %d) %dx%d is not inside the %dx%d screenshot\n", id, x, y, bw, bh, w, h);
            fail = 1;
            continue;
        }
        stats s = measure(px, w, h, x, y, bw, bh);
        double ink = 100.0 * s.ink / s.total, col = 100.0 * s.colour / s.total;
        int ok = ink >= 1.0 && col >= 0.3;
        printf("%-8s %-22s (%4d, %5d) %4dx%-4d ink %5.2f%%  colour %5.2f%%\n", ok ? "ok" : "FAILED:", id, x, y, bw, bh, ink,
               col);
        fail |= !ok;
    }
    fclose(f);
    stbi_image_free(px);
    if (!boxes) {
        printf("FAILED: no chart boxes in %s\n", argv[2]);
        fail = 1;
    }
    return fail;
}
