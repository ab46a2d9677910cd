// The ISA choice: the kernel tables this build has (kernels/kernels.h), which of them this CPU
// runs, and the dispatch table picked from them once at start-up. A new ISA is listed in
// kernels/isa.c (all_isas and isa_runs) and nowhere else.
#ifndef CALM_ISA_H
#define CALM_ISA_H

#include <stdio.h>

#include "kernels.h"

// Fills the dispatch table from the CPU and $CALM_ISA (scalar, avx2, avx512, amx, neon), once.
void calm_kernels_init(void);
// The dispatch table: the chosen ISA's kernels, with the scalar ones where it has none.
const calm_isa *calm_kernels(void);
const char *calm_isa_name(void);
// The ISAs this build has and this CPU runs, best last (scalar first); returns the count. These
// are the tables as declared: one with a base (amx) holds only what it adds, so a caller that runs
// kernels through it resolves it first.
int calm_isa_available(const calm_isa **out, int cap);
// *out = isa's kernels laid over those of its base (and the base's base) over the scalar ones,
// except the panel kernels, which have no scalar fallback; out->base is NULL.
void calm_isa_resolve(calm_isa *out, const calm_isa *isa);
// Prints the CPU features, the ISAs available and the one chosen.
void calm_print_system(FILE *f);

#endif
