/* `eos cache`: where the kernel cache lives, what it holds, and --clear to empty it.
 * Only the cache's own files are counted or removed: named like an entry (16 hex digits +
 * ".bin") and carrying the cache's header, or conv-algos.txt carrying its marker line
 * (eos_cache_file_classify). Anything else is left, and said so: the folder may be the wrong one. */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
            "  --clear   delete every cache entry and the convolution choices (default: only list them);\n"
            "            files that only look like them (named so, without the cache's header) are left\n\n"
            "example:\n  eos cache\n  eos cache --clear\n");
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
    size_t n = 0, removed = 0, left = 0, algo_lines = 0;
    unsigned long long bytes = 0;
    int failed = 0, algos = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        eos_cache_file_kind kind = eos_cache_file_classify(dir, e->d_name);
        if (kind == EOS_CACHE_FILE_OTHER) continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (kind == EOS_CACHE_FILE_FOREIGN) {
            struct stat lb;
            int regular = lstat(path, &lb) == 0 && S_ISREG(lb.st_mode);
            fprintf(stderr, "eos cache: %s %s: not written by the kernel cache (%s)\n", clear ? "left" : "not counting",
                    path, regular ? "no cache header" : "not a regular file");
            left++;
            continue;
        }
        struct stat sb;
        if (stat(path, &sb) != 0) continue;
        if (kind == EOS_CACHE_FILE_ENTRY) {
            n++;
            bytes += (unsigned long long)sb.st_size;
        } else {
            /* the convolution algorithm measured per device and layer shape (host/nn/conv.c) */
            algos = 1;
            int fd = open(path, O_RDONLY | O_NONBLOCK);  /* classify found a regular file; never wait */
            FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
            int ch, first = f ? fgetc(f) : EOF;
            size_t lines = first == '\n';
            while (f && (ch = fgetc(f)) != EOF) lines += ch == '\n';
            algo_lines = lines - (first == '#' && lines > 0);  /* not the marker line */
            if (f) fclose(f);
            else if (fd >= 0) close(fd);
        }
        if (clear) {
            if (unlink(path) == 0) removed += kind == EOS_CACHE_FILE_ENTRY;
            else {
                fprintf(stderr, "eos cache: cannot remove %s: %s\n", path, strerror(errno));
                failed = 1;
            }
        }
    }
    closedir(d);
    printf("kernel cache: %s\n  %zu entr%s, %.1f KiB\n", dir, n, n == 1 ? "y" : "ies", bytes / 1024.0);
    if (algos)
        printf("  conv-algos.txt: %zu measured convolution choice%s\n", algo_lines, algo_lines == 1 ? "" : "s");
    if (clear) printf("  removed %zu entr%s%s\n", removed, removed == 1 ? "y" : "ies", algos ? " and the convolution choices" : "");
    if (left)
        printf("  %s %zu file%s named like the cache's but not written by it (listed above)\n",
               clear ? "left" : "found", left, left == 1 ? "" : "s");
    return failed;
}
