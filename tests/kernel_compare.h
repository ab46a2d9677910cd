// Kernel-against-reference comparisons without a test framework, so that the same checks run in
// Criterion (native ISAs) and in a static runner under qemu (NEON, tools/test_neon.sh).
#ifndef CALM_KERNEL_COMPARE_H
#define CALM_KERNEL_COMPARE_H

#include <stddef.h>

#include "kernels/kernels.h"

// Each returns 0, or -1 with a description of the first mismatch in err.
int kc_all_types(const calm_isa *isa, char *err, size_t cap);
int kc_quantize(const calm_isa *isa, char *err, size_t cap);
// Packed panels through isa->panel_dot (or the scalar panel reference when isa is NULL) against
// the scalar row kernels.
int kc_panels(const calm_isa *isa, char *err, size_t cap);
// isa->attend, isa->silu_mul and isa->hadamard against the scalar ones (sizes with and without
// vector tails).
int kc_attention(const calm_isa *isa, char *err, size_t cap);

#endif
