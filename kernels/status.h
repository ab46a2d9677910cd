// Error reporting: every fallible function returns 0 on success or -1 and fills a calm_err. It sits
// in kernels/, the bottom folder, so that every folder may include it.
#ifndef CALM_STATUS_H
#define CALM_STATUS_H

#include <stddef.h>

typedef struct {
    char msg[512];
} calm_err;

// Formats the message into e (if non-NULL) and returns -1, so callers can `return calm_fail(...)`.
int calm_fail(calm_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
