#include "extents.h"

#include <stdlib.h>

static int by_start(const void *p, const void *q) {
    uint64_t x = ((const calm_extent *)p)->start, y = ((const calm_extent *)q)->start;
    return (x > y) - (x < y);
}

int calm_extents_overlap(calm_extent *x, size_t n, uint64_t *a, uint64_t *b) {
    qsort(x, n, sizeof *x, by_start);
    for (size_t i = 1; i < n; i++)
        if (x[i].start - x[i - 1].start < x[i - 1].len) {
            *a = x[i - 1].index, *b = x[i].index;
            return 1;
        }
    return 0;
}
