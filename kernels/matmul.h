// Dequant-matmul entry points. The dispatch table (kernels/dispatch.c) picks one kernel per
// weight type and ISA at start-up; the scalar kernels are the reference every other one is tested
// against.
#ifndef CALM_MATMUL_H
#define CALM_MATMUL_H

#include <stdint.h>
#include <stdio.h>

#include "kernels.h"

// Fills the dispatch table from the CPU and $CALM_ISA (scalar, avx2, avx512, neon), once.
void calm_kernels_init(void);
const calm_isa *calm_kernels(void);
const char *calm_isa_name(void);
// The ISAs this build has and this CPU runs, best last (scalar first); returns the count.
int calm_isa_available(const calm_isa **out, int cap);
void calm_print_system(FILE *f);

// y[t][r] = sum_c w[r][c] * x[t][c] for t < T, r < rows, w row-major in `type`. OpenMP over rows.
void calm_matmul(float *y, const float *x, const void *w, uint32_t type, int rows, int cols, int T);
// The same with a given ISA's kernels (tests compare them with the scalar ones).
void calm_matmul_with(const calm_isa *isa, float *y, const float *x, const void *w, uint32_t type,
                      int rows, int cols, int T);
// Several matrices with the same input (Q, K, V; gate, up): the activations are quantized once
// and all rows run in one parallel region. y of each is [T][rows].
typedef struct {
    const void *w;
    uint32_t type;
    int rows;
    float *y;
    const calm_packed *packed; // optional: the same weights in panels, used where the ISA can
    // Optional input transform of calibrated weights: the matrix multiplies x' = H (x * in_scale)
    // (in_rot: H the orthogonal Hadamard transform of kernels/hadamard.h; else x' = x * in_scale).
    const float *in_scale;
    int in_rot;
} calm_mm;
void calm_matmul_many(const calm_isa *isa, const calm_mm *mm, int n, const float *x, int cols,
                      int T);

// xt = the transformed input of a calm_mm (see in_scale, in_rot) for T rows of cols.
void calm_transform_input(float *xt, const float *x, int cols, int T, const float *in_scale,
                          int in_rot);

// Dequantizes row r of a matrix with rows of `cols` elements.
void calm_get_row(float *out, const void *w, uint32_t type, int cols, int r);

#endif
