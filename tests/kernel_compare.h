// Kernel-against-reference comparisons without a test framework, so that the same checks run in
// Criterion (native ISAs) and in a static runner under qemu (NEON, tools/test_neon.sh).
#ifndef CALM_KERNEL_COMPARE_H
#define CALM_KERNEL_COMPARE_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/kernels.h"

// xorshift32: the next state, and a float in [-1, 1] from it.
uint32_t kc_next(uint32_t *state);
float kc_frand(uint32_t *state);

// The types calm reads for which keep(type) is true, in id order, into out[cap]; returns the count.
int kc_types(uint32_t *out, int cap, int (*keep)(uint32_t type));
// Predicates for kc_types: the type has a quantization grid (kernels/grid.h); its kernels take q8x
// activations.
int kc_has_grid(uint32_t type);
int kc_takes_q8x(uint32_t type);

// Each returns 0, or -1 with a description of the first mismatch in err.
typedef int (*kc_check)(const calm_isa *isa, char *err, size_t cap);
// Runs check on every ISA this machine runs besides the scalar reference, each resolved
// (calm_isa_resolve); stops at the first -1.
int kc_every_isa(kc_check check, char *err, size_t cap);
int kc_all_types(const calm_isa *isa, char *err, size_t cap);
int kc_quantize(const calm_isa *isa, char *err, size_t cap);
// Packed panels through isa->panel_dot (or the scalar panel reference when isa is NULL) against
// exact sums; 0 for an ISA without panels.
int kc_panels(const calm_isa *isa, char *err, size_t cap);
// isa->panel_dot called directly (61 rows: four panels, the last short) in groups of np = 1 to
// CALM_PANEL_GROUP panels, for 1 to CALM_NT tokens and 32 to 2336 columns, against exact sums, for
// every type its panels take; 0 for an ISA without panels.
int kc_panel_dot(const calm_isa *isa, char *err, size_t cap);
// isa->panel_gemm called directly (37 rows: a short last panel; 16 to 80 tokens; 32 to 2336
// columns) against the scalar panel reference, for every type its panels take; 0 for an ISA
// without it.
int kc_panel_gemm(const calm_isa *isa, char *err, size_t cap);
// The panel kinds of Q4_K, Q5_K (super-block scales), Q5_0 and Q5_1 (5-bit codes): their bytes
// per block and isa->panel_dot (the scalar reference against exact sums when isa is NULL) at
// every group size 1..CALM_PANEL_GROUP and token count 1..CALM_NT against the scalar panels.
int kc_panel_kinds(const calm_isa *isa, char *err, size_t cap);
// isa->attend, isa->silu_mul and isa->hadamard against the scalar ones (sizes with and without
// vector tails); 0 for an ISA that uses the scalar ones.
int kc_attention(const calm_isa *isa, char *err, size_t cap);
// The matmul driver's team form (calm_matmul_team) in teams of 1 to 7 threads and one standalone
// call of several matrices (mixed types, packed and not, one with an input transform) against
// each matrix alone, bit for bit, for T = 1 .. 33.
int kc_team(const calm_isa *isa, char *err, size_t cap);

#endif
