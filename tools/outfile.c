#define _XOPEN_SOURCE 700 // nftw
#include "outfile.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void remove_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st) == 0) nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int calm_outfile_begin(calm_outfile *f, const char *path, int dir, const char *const *inputs,
                       int n) {
    if (strlen(path) >= sizeof f->path) {
        fprintf(stderr, "error: %.64s...: output path too long\n", path);
        return -1;
    }
    snprintf(f->path, sizeof f->path, "%s", path);
    snprintf(f->tmp, sizeof f->tmp, "%s.part", path);
    struct stat out;
    int exists = stat(path, &out) == 0;
    if (exists && S_ISDIR(out.st_mode) && !dir) {
        fprintf(stderr, "error: %s: is a directory (the output is a file)\n", path);
        return -1;
    }
    if (exists && !S_ISDIR(out.st_mode) && dir) {
        fprintf(stderr, "error: %s: exists and is not a directory (the output is one)\n", path);
        return -1;
    }
    for (int i = 0; exists && i < n; i++) {
        struct stat in;
        if (inputs[i] && stat(inputs[i], &in) == 0 && in.st_dev == out.st_dev &&
            in.st_ino == out.st_ino) {
            fprintf(stderr, "error: %s: the output is the input %s; write to another path\n", path,
                    inputs[i]);
            return -1;
        }
    }
    char parent[1024];
    snprintf(parent, sizeof parent, "%s", path);
    size_t l = strlen(parent);
    while (l > 1 && parent[l - 1] == '/') parent[--l] = 0; // dir/ names dir
    char *slash = strrchr(parent, '/');
    if (!slash)
        snprintf(parent, sizeof parent, ".");
    else
        slash[slash == parent] = 0; // "/x" -> "/"
    struct stat ps;
    if (stat(parent, &ps) != 0 || !S_ISDIR(ps.st_mode)) {
        fprintf(stderr, "error: %s: the directory %s does not exist\n", path, parent);
        return -1;
    }
    if (access(parent, W_OK) != 0) {
        fprintf(stderr, "error: %s: cannot write in %s: %s\n", path, parent, strerror(errno));
        return -1;
    }
    remove_tree(f->tmp);
    return 0;
}

// Moves the files of the directory tmp into the existing directory path, each by a rename.
static int move_files(const char *tmp, const char *path) {
    DIR *d = opendir(tmp);
    if (!d) return -1;
    int rc = 0;
    for (struct dirent *de; (de = readdir(d)) && !rc;) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char from[2304], to[2304];
        snprintf(from, sizeof from, "%s/%s", tmp, de->d_name);
        snprintf(to, sizeof to, "%s/%s", path, de->d_name);
        rc = rename(from, to);
    }
    closedir(d);
    return rc ? rc : rmdir(tmp);
}

int calm_outfile_end(calm_outfile *f, int rc) {
    if (rc) {
        remove_tree(f->tmp);
        return rc;
    }
    struct stat st;
    int into_dir = stat(f->tmp, &st) == 0 && S_ISDIR(st.st_mode) && stat(f->path, &st) == 0;
    if ((into_dir ? move_files(f->tmp, f->path) : rename(f->tmp, f->path)) != 0) {
        fprintf(stderr, "error: %s: cannot rename to %s: %s\n", f->tmp, f->path, strerror(errno));
        remove_tree(f->tmp);
        return -1;
    }
    return 0;
}
