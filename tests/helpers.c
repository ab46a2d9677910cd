#define _XOPEN_SOURCE 700 // nftw
#include "helpers.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

char *th_read(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    cr_assert(f != NULL, "cannot open %s (did the setup script run?)", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)len + 1);
    cr_assert(buf && fread(buf, 1, (size_t)len, f) == (size_t)len);
    buf[len] = 0;
    fclose(f);
    if (n) *n = (size_t)len;
    return buf;
}

void th_write(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    cr_assert(f && fwrite(data, 1, n, f) == n && fclose(f) == 0, "cannot write %s", path);
}

size_t th_unhex(const char *hex, char *out) {
    size_t n = 0;
    for (; hex[0] && hex[1] && hex[0] != '\t'; hex += 2) {
        unsigned v;
        sscanf(hex, "%2x", &v);
        out[n++] = (char)v;
    }
    return n;
}

static void slurp(const char *path, char *buf, size_t cap) {
    if (!buf || !cap) return;
    buf[0] = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return;
    size_t r = fread(buf, 1, cap - 1, f);
    buf[r] = 0;
    fclose(f);
}

int th_calm(const char *args, char *out, size_t cap, char *err, size_t errcap) {
    char cmd[4096], o[256], e[256];
    snprintf(o, sizeof o, "%s", th_tmp("stdout.txt"));
    snprintf(e, sizeof e, "%s", th_tmp("stderr.txt"));
    snprintf(cmd, sizeof cmd, "%s %s </dev/null >%s 2>%s", CALM_BIN, args, o, e);
    int st = system(cmd);
    slurp(o, out, cap);
    slurp(e, err, errcap);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static char tmp_dir[256] = "";

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

// The test process's files go with it: a suite run leaves nothing in /tmp (the f32 and HF copies
// of the default model are hundreds of MiB each).
static void remove_tmp_dir(void) {
    if (tmp_dir[0]) nftw(tmp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *th_tmp(const char *name) {
    static char paths[8][512]; // a ring, so callers can hold a few paths at once
    static int next = 0;
    char *path = paths[next++ % 8];
    if (!tmp_dir[0]) {
        snprintf(tmp_dir, sizeof tmp_dir, "/tmp/calm-test-XXXXXX"); // mkdtemp's template
        cr_assert(mkdtemp(tmp_dir) != NULL);
        atexit(remove_tmp_dir);
    }
    snprintf(path, sizeof paths[0], "%s/%s", tmp_dir, name);
    return path;
}

double th_peak_ratio(const float *x, int T, int n) {
    double r = 0;
    for (int t = 0; t < T; t++) {
        double m = 0, s = 0;
        for (int c = 0; c < n; c++) {
            double a = fabs(x[(size_t)t * n + c]);
            m = fmax(m, a), s += a;
        }
        r += m / (s / n) / T;
    }
    return r;
}
