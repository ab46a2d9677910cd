// The byte ranges the tensors of a file take: a broken or hostile file can point two tensors at
// the same bytes (all at offset 0, one inside another), which would load and compute garbage, so
// the readers refuse overlaps.
#ifndef CALM_EXTENTS_H
#define CALM_EXTENTS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t start, len;
    uint64_t index; // the tensor's, to name it
} calm_extent;

// Sorts x by start; returns 1 with *a and *b the indices of the first two extents that overlap,
// 0 when none do.
int calm_extents_overlap(calm_extent *x, size_t n, uint64_t *a, uint64_t *b);

#endif
