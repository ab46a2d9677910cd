// Shared by the tests: paths, reading files, running the calm binary.
#ifndef CALM_TEST_HELPERS_H
#define CALM_TEST_HELPERS_H

#include <stddef.h>
#include <stdint.h>

// Reads a whole file (NUL-terminated); aborts the test if it cannot.
char *th_read(const char *path, size_t *n);
void th_write(const char *path, const void *data, size_t n);
// Decodes a hex string into bytes; returns the length.
size_t th_unhex(const char *hex, char *out);
// Runs `calm ARGS` through the shell; returns the exit status, and stderr in err (cap bytes).
int th_calm(const char *args, char *out, size_t cap, char *err, size_t errcap);
// A path in a fresh temporary directory.
const char *th_tmp(const char *name);

// Mean over T rows of n of max|x| / mean|x|: how much a few channels stand out.
double th_peak_ratio(const float *x, int T, int n);

#endif
