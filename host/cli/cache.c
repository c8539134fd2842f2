/* `eos cache`: where the kernel cache lives, what it holds, and --clear to empty it.
 * Only files named like cache entries (16 hex digits + ".bin") are counted or removed. */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void usage_cache(FILE *out) {
    fprintf(out,
            "usage: eos cache [--clear]\n\n"
            "Prints the kernel cache folder, its entries and their size. Entries are built OpenCL\n"
            "programs keyed by device, driver version, kernel source and build options; stale or\n"
            "corrupt entries are rebuilt automatically, so clearing is never required. conv-algos.txt\n"
            "holds the convolution algorithm measured fastest per device and layer shape (timed once).\n\n"
            "The folder is $EOS_CACHE_DIR, else $XDG_CACHE_HOME/eos-cl, else ~/.cache/eos-cl;\n"
            "EOS_CACHE_DIR=off turns the cache off.\n\n"
            "options:\n"
            "  --clear   delete every cache entry and the convolution choices (default: only list them)\n\n"
            "example:\n  eos cache\n  eos cache --clear\n");
}

static int is_entry(const char *name) {
    if (strlen(name) != 20 || strcmp(name + 16, ".bin")) return 0;
    for (int i = 0; i < 16; i++)
        if (!strchr("0123456789abcdef", name[i])) return 0;
    return 1;
}

int cmd_cache(int argc, char **argv) {
    static const cli_command self = {"cache", "", NULL, usage_cache};
    int clear = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--clear")) clear = 1;
        else return cli_usage_error(&self, "unknown option '%s'", argv[i]);
    }
    char dir[1024];
    if (eos_cache_dir_default(dir, sizeof dir) != EOS_OK) return cli_fail("resolving the cache folder");
    if (!dir[0]) {
        printf("kernel cache: off (EOS_CACHE_DIR=off, or no HOME)\n");
        return 0;
    }
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) {
            printf("kernel cache: %s (empty: not created yet)\n", dir);
            return 0;
        }
        fprintf(stderr, "eos cache: cannot open %s: %s\n", dir, strerror(errno));
        return 1;
    }
    size_t n = 0, removed = 0;
    unsigned long long bytes = 0;
    int failed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_entry(e->d_name)) continue;
        char path[2048];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &sb) != 0) continue;
        n++;
        bytes += (unsigned long long)sb.st_size;
        if (clear) {
            if (unlink(path) == 0) removed++;
            else {
                fprintf(stderr, "eos cache: cannot remove %s: %s\n", path, strerror(errno));
                failed = 1;
            }
        }
    }
    closedir(d);
    printf("kernel cache: %s\n  %zu entr%s, %.1f KiB\n", dir, n, n == 1 ? "y" : "ies", bytes / 1024.0);
    /* the convolution algorithm measured per device and layer shape (host/conv.c) */
    char algos[1100];
    snprintf(algos, sizeof algos, "%s/conv-algos.txt", dir);
    FILE *f = fopen(algos, "r");
    if (f) {
        size_t lines = 0;
        int ch;
        while ((ch = fgetc(f)) != EOF) lines += ch == '\n';
        fclose(f);
        printf("  conv-algos.txt: %zu measured convolution choice%s\n", lines, lines == 1 ? "" : "s");
        if (clear && unlink(algos) != 0) {
            fprintf(stderr, "eos cache: cannot remove %s: %s\n", algos, strerror(errno));
            failed = 1;
        }
    }
    if (clear) printf("  removed %zu entr%s%s\n", removed, removed == 1 ? "y" : "ies", f ? " and the convolution choices" : "");
    return failed;
}
