/* `eos synth`: a small generated image-folder dataset for trying EOS-CL without downloading
 * anything: each class is a coloured stripe pattern of its own angle and frequency, drawn with
 * random phase, contrast and noise, 32x32 RGB PNG files. */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stb_image_write.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void usage_synth(FILE *out) {
    fprintf(out,
            "usage: eos synth --out DIR [--classes 10] [--train-per-class 500] [--test-per-class 100] [--seed N] [--force]\n\n"
            "Writes a generated dataset in the image-folder layout (DIR/train/<class>/*.png and DIR/test/...):\n"
            "class c is a stripe pattern of its own angle, frequency and colour, with random phase,\n"
            "contrast and pixel noise, so classes overlap a little and a CNN has something to learn.\n"
            "Balanced: give --imbalance to the commands that read it. The images are written into a temporary\n"
            "folder beside DIR and moved in when all are there: DIR never holds half a dataset, nor a mix of\n"
            "an old one and a new one.\n\n"
            "options:\n"
            "  --out DIR               output folder (created if missing; an empty one is fine)\n"
            "  --classes N             2..50 (default 10)\n"
            "  --train-per-class N     default 500\n"
            "  --test-per-class N      default 100\n"
            "  --seed N                default 0\n"
            "  --force                 replace the dataset already in DIR as a whole (default: refuse). Only\n"
            "                          one synth wrote (train/ and test/ of classNN/NNNN.png and nothing\n"
            "                          else) is replaced; a folder holding anything else is refused even so\n\n"
            "example:\n  eos synth --out data/synthetic && eos dataset data/synthetic --imbalance exp:100\n");
}

/* true when name is prefix followed by digits only (and then suffix) */
static int digits_between(const char *name, const char *prefix, const char *suffix) {
    size_t p = strlen(prefix), s = strlen(suffix), n = strlen(name);
    if (n <= p + s || strncmp(name, prefix, p) || strcmp(name + n - s, suffix)) return 0;
    for (size_t i = p; i < n - s; i++)
        if (name[i] < '0' || name[i] > '9') return 0;
    return 1;
}

/* Walk the tree under dir (depth 0) without following links. check: 0 when every entry is one
 * synth writes (train|test / classNN / NNNN.png), else 1 with the first other one in bad. remove
 * (check false): delete the tree's contents, depth first; -1 on failure. Returns the count of
 * entries seen, or -1. */
static long walk(const char *dir, int depth, int check, char *bad, size_t badn) {
    DIR *dp = opendir(dir);
    if (!dp) {
        if (check) snprintf(bad, badn, "%s (%s)", dir, strerror(errno));
        return -1;
    }
    long seen = 0;
    struct dirent *de;
    char p[4400];
    while ((de = readdir(dp))) {
        const char *n = de->d_name;
        if (!strcmp(n, ".") || !strcmp(n, "..")) continue;
        seen++;
        snprintf(p, sizeof p, "%s/%s", dir, n);
        struct stat sb;
        int isdir = lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode), isreg = !isdir && S_ISREG(sb.st_mode);
        if (check) {
            int ours = depth == 0 ? isdir && (!strcmp(n, "train") || !strcmp(n, "test"))
                     : depth == 1 ? isdir && digits_between(n, "class", "")
                     : isreg && digits_between(n, "", ".png");
            if (!ours) {
                snprintf(bad, badn, "%s", p);
                closedir(dp);
                return -1;
            }
            if (isdir && walk(p, depth + 1, 1, bad, badn) < 0) {
                closedir(dp);
                return -1;
            }
        } else if (isdir ? walk(p, depth + 1, 0, bad, badn) < 0 || rmdir(p) != 0 : unlink(p) != 0) {
            if (!*bad) snprintf(bad, badn, "%s (%s)", p, strerror(errno));
            closedir(dp);
            return -1;
        }
    }
    closedir(dp);
    return seen;
}

/* remove a folder this command made or checked, with everything in it */
static int remove_tree(const char *dir) {
    char why[4600] = "";
    if (walk(dir, 0, 0, why, sizeof why) < 0 || rmdir(dir) != 0) {
        fprintf(stderr, "eos synth: cannot remove %s: %s\n", dir, *why ? why : strerror(errno));
        return -1;
    }
    return 0;
}

/* move DIR/train and DIR/test (those there) from one folder to another */
static int move_splits(const char *from, const char *to) {
    static const char *const splits[] = {"train", "test"};
    char a[4400], b[4400];
    for (int s = 0; s < 2; s++) {
        snprintf(a, sizeof a, "%s/%s", from, splits[s]);
        snprintf(b, sizeof b, "%s/%s", to, splits[s]);
        struct stat sb;
        if (lstat(a, &sb) != 0) continue;
        if (rename(a, b) != 0) {
            fprintf(stderr, "eos synth: cannot move %s to %s: %s\n", a, b, strerror(errno));
            return -1;
        }
    }
    return 0;
}

int cmd_synth(int argc, char **argv) {
    static const cli_command self = {"synth", "", NULL, usage_synth};
    const char *out = NULL, *v;
    int classes = 10, ntrain = 500, ntest = 100, force = 0;
    uint64_t seed = 0;
    for (int i = 1; i < argc; i++) {
        int r;
        if (CLI_FLAG("--out")) out = v;
        else if (CLI_FLAG("--classes")) { if (cli_parse_int(v, 2, &classes) || classes > 50) return cli_usage_error(&self, "--classes '%s': expected 2..50", v); }
        else if (CLI_FLAG("--train-per-class")) { if (cli_parse_int(v, 1, &ntrain)) return cli_usage_error(&self, "--train-per-class '%s': expected a positive integer", v); }
        else if (CLI_FLAG("--test-per-class")) { if (cli_parse_int(v, 1, &ntest)) return cli_usage_error(&self, "--test-per-class '%s': expected a positive integer", v); }
        else if (CLI_FLAG("--seed")) { if (cli_parse_u64(v, &seed)) return cli_usage_error(&self, "--seed '%s': expected a non-negative integer", v); }
        else if (!strcmp(argv[i], "--force")) force = 1;
        else return cli_usage_error(&self, "unknown option '%s'", argv[i]);
    }
    if (!out) return cli_usage_error(&self, "--out is required");
    if (cli_out_check_dir("synth", out)) return 1;
    /* a dataset already there: replaced only with --force, and only if synth wrote it */
    char bad[4600] = "", tmp[4400], old[4400];
    struct stat sb;
    long there = stat(out, &sb) == 0 ? walk(out, 0, 1, bad, sizeof bad) : 0;
    if (there < 0) {
        fprintf(stderr, "eos synth: %s already holds %s, which synth does not write; remove the folder yourself, or "
                        "choose another --out (--force replaces only a dataset synth wrote)\n", out, bad);
        return 1;
    }
    if (there > 0 && !force) {
        fprintf(stderr, "eos synth: %s already holds a dataset; use --force to replace it, or another --out\n", out);
        return 1;
    }
    /* the new images go into a folder beside DIR (same file system: the moves are renames) */
    size_t len = strlen(out);
    while (len > 1 && out[len - 1] == '/') len--;
    snprintf(tmp, sizeof tmp, "%.*s.synth-XXXXXX", (int)len, out);
    if (cli_mkdirs_for(tmp)) return 1;
    if (!mkdtemp(tmp)) {
        fprintf(stderr, "eos synth: cannot create a temporary folder beside %s: %s\n", out, strerror(errno));
        return 1;
    }
    const char *final_out = out;
    out = tmp;
    eos_rng r;
    eos_rng_seed(&r, seed, 0x53594e);  /* "SYN" */
    unsigned char img[32 * 32 * 3];
    char path[4700];
    for (int s = 0; s < 2; s++) {
        const char *split = s ? "test" : "train";
        for (int c = 0; c < classes; c++) {
            snprintf(path, sizeof path, "%s/%s/class%02d", out, split, c);
            if (cli_mkdirs(path)) {
                remove_tree(tmp);
                return 1;
            }
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
                    remove_tree(tmp);
                    return 1;
                }
            }
        }
    }
    /* the swap: the old train/ and test/ aside, the new ones in, the old ones removed */
    out = final_out;
    old[0] = 0;
    if (there > 0) {
        snprintf(old, sizeof old, "%.*s.old-XXXXXX", (int)len, out);
        if (!mkdtemp(old)) {
            fprintf(stderr, "eos synth: cannot create a temporary folder beside %s: %s\n", out, strerror(errno));
            remove_tree(tmp);
            return 1;
        }
        if (move_splits(out, old)) {
            /* put back what moved; old is removed only once empty (rmdir) */
            if (move_splits(old, out) == 0) rmdir(old);
            else fprintf(stderr, "eos synth: the old dataset is in %s\n", old);
            remove_tree(tmp);
            return 1;
        }
    }
    if (cli_mkdirs(out) || move_splits(tmp, out)) {
        /* undo: the new splits back into tmp (left for the user to see), the old ones back in place */
        move_splits(out, tmp);
        if (there > 0 && move_splits(old, out) == 0) rmdir(old);
        else if (there > 0) fprintf(stderr, "eos synth: the old dataset is in %s\n", old);
        fprintf(stderr, "eos synth: the new images are left in %s\n", tmp);
        return 1;
    }
    rmdir(tmp);
    if (there > 0 && remove_tree(old)) return 1;
    printf("wrote %d classes x (%d train + %d test) images to %s%s\n", classes, ntrain, ntest, out,
           there > 0 ? " (the old dataset replaced)" : "");
    return 0;
}
