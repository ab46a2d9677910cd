// The bit width per layer under --target-bpw: the first pass of the CALM search.
#ifndef CALM_SEARCH_BITS_H
#define CALM_SEARCH_BITS_H

#include "search.h"

// Fills bits[] (one width per layer of m) for o->target_bpw: every layer at the lower of the two
// widths around the target, and the higher width for the layers that lose the most score from
// it to the lower (round to nearest, full-precision inputs, block granularity), as many as keep
// the average under the target. Prints the split; -1 with e set.
int calm_search_bits(const calm_model *m, const calm_tokenizer *t, const calm_search_opts *o,
                     int *bits, calm_err *e);

#endif
