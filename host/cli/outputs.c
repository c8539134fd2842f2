/* Where commands write: the checks every command that writes makes before it opens a device or
 * loads anything (--out is a folder or can become one, results already there are replaced only
 * with --force, an output is never one of the command's own inputs), and folder creation. */
#include "cli.h"
#include "dist.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { PATH_CAP = 4096 };

int cli_split_path(const char *path, char *dir, size_t dn, char *base, size_t bn) {
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/') len--;  /* "a/b/" names b */
    if (len == 0 || len >= dn || len >= bn) return -1;
    size_t cut = len;
    while (cut > 0 && path[cut - 1] != '/') cut--;
    snprintf(base, bn, "%.*s", (int)(len - cut), path + cut);
    if (cut == 0) snprintf(dir, dn, ".");
    else {
        while (cut > 1 && path[cut - 1] == '/') cut--;  /* "a//b": a; "/b": / */
        snprintf(dir, dn, "%.*s", (int)cut, path);
    }
    return 0;
}

int cli_mkdirs(const char *dir) {
    char buf[PATH_CAP];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf) {
        fprintf(stderr, "eos: the folder name %.60s... is longer than %d bytes\n", dir, PATH_CAP - 1);
        return -1;
    }
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || !*p) {
            char c = *p;
            *p = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
                fprintf(stderr, "eos: cannot create folder %s: %s\n", buf, strerror(errno));
                return -1;
            }
            *p = c;
            if (!c) break;
        }
    }
    /* mkdir says EEXIST for a file too: only a folder will do */
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "eos: cannot create folder %s: %s\n", dir, stat(dir, &sb) != 0 ? strerror(errno) : "a file has that name");
        return -1;
    }
    return 0;
}

int cli_mkdirs_for(const char *file) {
    char dir[PATH_CAP], base[PATH_CAP];
    if (cli_split_path(file, dir, sizeof dir, base, sizeof base)) {
        fprintf(stderr, "eos: cannot write %.60s...: the path is empty or too long\n", file);
        return -1;
    }
    return cli_mkdirs(dir);
}

int cli_same_file(const char *a, const char *b) {
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0) return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    /* one of them is not there (yet): the same folder (however it is spelled) and the same name */
    char da[PATH_CAP], ba[PATH_CAP], db[PATH_CAP], bb[PATH_CAP];
    if (cli_split_path(a, da, sizeof da, ba, sizeof ba) || cli_split_path(b, db, sizeof db, bb, sizeof bb) || strcmp(ba, bb))
        return 0;
    return stat(da, &sa) == 0 && stat(db, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int cli_out_check_dir(const char *cmd, const char *dir) {
    struct stat sb;
    if (!*dir) {
        fprintf(stderr, "eos %s: --out is empty, expected a folder\n", cmd);
        return 1;
    }
    if (strlen(dir) >= PATH_CAP - 64) {
        fprintf(stderr, "eos %s: --out %.60s... is longer than %d bytes\n", cmd, dir, PATH_CAP - 64);
        return 1;
    }
    if (stat(dir, &sb) == 0) {
        if (!S_ISDIR(sb.st_mode)) {
            fprintf(stderr, "eos %s: --out %s is a file, expected a folder\n", cmd, dir);
            return 1;
        }
        if (access(dir, W_OK | X_OK) != 0) {
            fprintf(stderr, "eos %s: cannot write in --out %s: %s\n", cmd, dir, strerror(errno));
            return 1;
        }
        return 0;
    }
    if (errno != ENOENT && errno != ENOTDIR) {  /* ELOOP, EACCES; a file on the way is found below */
        fprintf(stderr, "eos %s: cannot use --out %s: %s\n", cmd, dir, strerror(errno));
        return 1;
    }
    /* not there yet: the nearest folder above it must exist and take new folders */
    char up[PATH_CAP], base[PATH_CAP], next[PATH_CAP];
    snprintf(up, sizeof up, "%s", dir);
    for (;;) {
        if (cli_split_path(up, next, sizeof next, base, sizeof base)) break;
        snprintf(up, sizeof up, "%s", next);
        if (stat(up, &sb) == 0) {
            if (!S_ISDIR(sb.st_mode)) {
                fprintf(stderr, "eos %s: cannot create --out %s: %s is a file, not a folder\n", cmd, dir, up);
                return 1;
            }
            if (access(up, W_OK | X_OK) != 0) {
                fprintf(stderr, "eos %s: cannot create --out %s in %s: %s\n", cmd, dir, up, strerror(errno));
                return 1;
            }
            return 0;
        }
        if (errno != ENOENT && errno != ENOTDIR) {
            fprintf(stderr, "eos %s: cannot create --out %s: %s: %s\n", cmd, dir, up, strerror(errno));
            return 1;
        }
        if (!strcmp(up, ".") || !strcmp(up, "/")) break;
    }
    fprintf(stderr, "eos %s: cannot create --out %s\n", cmd, dir);
    return 1;
}

/* out may not be any of the inputs, --force or not */
static int check_not_input(const char *cmd, const char *out, const cli_input *in, int nin) {
    for (int k = 0; k < nin; k++)
        if (in[k].path && cli_same_file(out, in[k].path)) {
            fprintf(stderr, "eos %s: writing %s would replace the %s input %s; choose another --out (even --force never "
                            "replaces a command's own input)\n", cmd, out, in[k].flag, in[k].path);
            return 1;
        }
    return 0;
}

int cli_out_check_files(const char *cmd, const char *dir, const char *const *names, int nnames, int force,
                        const cli_input *in, int nin) {
    if (cli_out_check_dir(cmd, dir)) return 1;
    char path[PATH_CAP];
    for (int i = 0; i < nnames; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (check_not_input(cmd, path, in, nin)) return 1;
    }
    for (int i = 0; !force && i < nnames; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        struct stat sb;
        if (lstat(path, &sb) == 0) {
            fprintf(stderr, "eos %s: %s already holds results (%s); use --force to replace them, or another --out\n", cmd,
                    dir, path);
            return 1;
        }
    }
    return 0;
}

int cli_out_check_file(const char *cmd, const char *file, int force, const cli_input *in, int nin) {
    char dir[PATH_CAP], base[PATH_CAP];
    struct stat sb;
    if (cli_split_path(file, dir, sizeof dir, base, sizeof base) || strlen(file) >= PATH_CAP - 64) {
        fprintf(stderr, "eos %s: --out '%.60s' is empty or too long, expected a file name\n", cmd, file);
        return 1;
    }
    if (stat(file, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "eos %s: --out %s is a folder, expected a file\n", cmd, file);
        return 1;
    }
    if (check_not_input(cmd, file, in, nin)) return 1;
    if (lstat(file, &sb) == 0 && !force) {
        fprintf(stderr, "eos %s: %s already exists; use --force to replace it, or another --out\n", cmd, file);
        return 1;
    }
    /* its folder: there and writable, or one that can be created */
    if (stat(dir, &sb) == 0 && !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "eos %s: cannot write --out %s: %s is a file, not a folder\n", cmd, file, dir);
        return 1;
    }
    return cli_out_check_dir(cmd, dir);
}

int cli_rank0_says(int rc) {
    if (eos__dist_bcast_int(&rc) != 0) {
        fprintf(stderr, "eos: rank %d cannot hear rank 0 (MPI_Bcast failed)\n", eos__dist_rank());
        return 1;
    }
    return rc;
}
