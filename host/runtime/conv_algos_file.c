/* The line format of <kernel cache>/conv-algos.txt, the convolution choices remembered next to
 * the built programs: parsed by host/nn/conv.c, which writes the file, and recognised by the
 * cache's own tools (host/runtime/program_cache.c: `eos cache`), which sit below nn. */
#include "internal.h"

#include <string.h>
#include <stdio.h>

const char *const eos__conv_algo_words[EOS__CONV_NALGO] = {"auto", "gemm", "panel", "direct", "winograd", "tiled",
                                                               "direct16"};
/* the directions' words in conv-algos.txt and checkpoint lists, in eos_conv_dir order */
const char *const eos__conv_dir_words[EOS__CONV_NDIR] = {"fwd", "dx", "dw"};
_Static_assert(EOS__CONV_NALGO == EOS_CONV_DIRECT16 + 1, "one word per eos_conv_algo");

int eos__conv_word_index(const char *w, const char *const *words, int n, int from) {
    for (int i = from; i < n; i++)
        if (!strcmp(w, words[i])) return i;
    return -1;
}

int eos__conv_parse_choice_line(const char *line, char dev[700], int k[8], int *dir, int *algo) {
    char w1[16], w2[16];
    int n = sscanf(line, "%699s %d %d %d %d %d %d %d %d %15s %15s", dev, &k[0], &k[1], &k[2], &k[3], &k[4], &k[5],
                   &k[6], &k[7], w1, w2);
    *dir = -1;
    *algo = -1;
    if (n == 11) {  /* not eos_conv_algo_parse: no last-error for a bad line */
        *dir = eos__conv_word_index(w1, eos__conv_dir_words, EOS__CONV_NDIR, 0);
        *algo = eos__conv_word_index(w2, eos__conv_algo_words, EOS__CONV_NALGO, EOS_CONV_AUTO + 1);
        return *dir >= 0 && *algo > 0 ? 2 : 0;
    }
    if (n == 10) *algo = eos__conv_word_index(w1, eos__conv_algo_words, EOS__CONV_NALGO, EOS_CONV_AUTO + 1);
    return n == 10 && *algo > 0;
}

static int marked(const char *text, size_t n, const char *marker) {
    size_t m = strlen(marker);
    return n > m && !memcmp(text, marker, m) && text[m] == '\n';
}

int eos__conv_algos_recognise(const char *text, size_t n) {
    if (marked(text, n, EOS__CONV_ALGOS_MARKER) || marked(text, n, EOS__CONV_ALGOS_MARKER_V9)) return 1;
    /* written before the marker existed: every whole line a choice whose device token is
     * "v<digits>|..." (device_id in host/nn/conv.c); a last line without '\n' is a torn append
     * or the end of what was read */
    int lines = 0;
    for (size_t i = 0; i < n;) {
        const char *nl = memchr(text + i, '\n', n - i);
        if (!nl) break;
        size_t len = (size_t)(nl - (text + i));
        char line[1024], dev[700];
        int k[8], dir, a;
        if (len >= sizeof line) return 0;
        memcpy(line, text + i, len);
        line[len] = 0;
        if (!eos__conv_parse_choice_line(line, dev, k, &dir, &a) || dev[0] != 'v' || !strchr(dev, '|') ||
            strspn(dev + 1, "0123456789") != (size_t)(strchr(dev, '|') - dev - 1) || dev[1] == '|')
            return 0;
        lines++;
        i += len + 1;
    }
    return lines > 0;
}
