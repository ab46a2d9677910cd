// The matmul driver: weight matrices of any calm type times activation rows, through one ISA's
// kernels (usually calm_kernels(), kernels/isa.h, which this header brings along for its callers).
#ifndef CALM_MATMUL_H
#define CALM_MATMUL_H

#include <stdint.h>

#include "isa.h"
#include "kernels.h"

// y[t][r] = sum_c w[r][c] * x[t][c] for t < T, r < rows, w row-major in `type`, with isa's kernels
// (tests compare every ISA with the scalar one). OpenMP over rows.
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
