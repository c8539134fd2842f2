/* `eos synth`: a small generated image-folder dataset for trying EOS-CL without downloading
 * anything: each class is a coloured stripe pattern of its own angle and frequency, drawn with
 * random phase, contrast and noise, 32x32 RGB PNG files. */
#include "cli.h"

#include <math.h>
#include <stb_image_write.h>
#include <string.h>

void usage_synth(FILE *out) {
    fprintf(out,
            "usage: eos synth --out DIR [--classes 10] [--train-per-class 500] [--test-per-class 100] [--seed N]\n\n"
            "Writes a generated dataset in the image-folder layout (DIR/train/<class>/*.png and DIR/test/...):\n"
            "class c is a stripe pattern of its own angle, frequency and colour, with random phase,\n"
            "contrast and pixel noise, so classes overlap a little and a CNN has something to learn.\n"
            "Balanced: give --imbalance to the commands that read it.\n\n"
            "options:\n"
            "  --out DIR               output folder (created)\n"
            "  --classes N             2..50 (default 10)\n"
            "  --train-per-class N     default 500\n"
            "  --test-per-class N      default 100\n"
            "  --seed N                default 0\n\n"
            "example:\n  eos synth --out data/synthetic && eos dataset data/synthetic --imbalance exp:100\n");
}

int cmd_synth(int argc, char **argv) {
    static const cli_command self = {"synth", "", NULL, usage_synth};
    const char *out = NULL, *v;
    int classes = 10, ntrain = 500, ntest = 100;
    uint64_t seed = 0;
    for (int i = 1; i < argc; i++) {
        int r;
        if (CLI_FLAG("--out")) out = v;
        else if (CLI_FLAG("--classes")) { if (cli_parse_int(v, 2, &classes) || classes > 50) return cli_usage_error(&self, "--classes '%s': expected 2..50", v); }
        else if (CLI_FLAG("--train-per-class")) { if (cli_parse_int(v, 1, &ntrain)) return cli_usage_error(&self, "--train-per-class '%s': expected a positive integer", v); }
        else if (CLI_FLAG("--test-per-class")) { if (cli_parse_int(v, 1, &ntest)) return cli_usage_error(&self, "--test-per-class '%s': expected a positive integer", v); }
        else if (CLI_FLAG("--seed")) { if (cli_parse_u64(v, &seed)) return cli_usage_error(&self, "--seed '%s': expected a non-negative integer", v); }
        else return cli_usage_error(&self, "unknown option '%s'", argv[i]);
    }
    if (!out) return cli_usage_error(&self, "--out is required");
    eos_rng r;
    eos_rng_seed(&r, seed, 0x53594e);  /* "SYN" */
    unsigned char img[32 * 32 * 3];
    char path[4400];
    for (int s = 0; s < 2; s++) {
        const char *split = s ? "test" : "train";
        for (int c = 0; c < classes; c++) {
            snprintf(path, sizeof path, "%s/%s/class%02d", out, split, c);
            if (cli_mkdirs(path)) return 1;
            double angle = 3.14159265 * c / classes, freq = 0.25 + 0.35 * ((c * 7) % classes) / classes;
            double col[3] = {0.5 + 0.5 * cos(2.1 * c), 0.5 + 0.5 * cos(2.1 * c + 2.1), 0.5 + 0.5 * cos(2.1 * c + 4.2)};
            for (int k = 0; k < (s ? ntest : ntrain); k++) {
                double phase = 6.2831853 * eos_rng_uniform(&r), contrast = 0.4 + 0.5 * eos_rng_uniform(&r);
                double jitter = 0.25 * (eos_rng_uniform(&r) - 0.5);
                for (int y = 0; y < 32; y++)
                    for (int x = 0; x < 32; x++) {
                        double t = sin(freq * (x * cos(angle + jitter) + y * sin(angle + jitter)) + phase);
                        for (int ch = 0; ch < 3; ch++) {
                            double vv = 128 + 110 * contrast * t * col[ch] + 30 * eos_rng_normal(&r);
                            img[(y * 32 + x) * 3 + ch] = (unsigned char)(vv < 0 ? 0 : vv > 255 ? 255 : vv);
                        }
                    }
                snprintf(path, sizeof path, "%s/%s/class%02d/%04d.png", out, split, c, k);
                if (!stbi_write_png(path, 32, 32, 3, img, 32 * 3)) {
                    fprintf(stderr, "eos synth: cannot write %s\n", path);
                    return 1;
                }
            }
        }
    }
    printf("wrote %d classes x (%d train + %d test) images to %s\n", classes, ntrain, ntest, out);
    return 0;
}
