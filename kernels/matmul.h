// The matmul driver: weight matrices of any calm type times activation rows, through one ISA's
// kernels (usually calm_kernels(), kernels/isa.h, which this header brings along for its callers).
// It comes in two forms with one body: the team form, which the threads of an enclosing OpenMP
// region call together (the forward pass runs a whole batch in one region), and the standalone
// form, which opens its own region (calibration, tests).
#ifndef CALM_MATMUL_H
#define CALM_MATMUL_H

#include <omp.h>
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

// The driver's working memory for up to max_T rows of up to max_cols inputs: the activations
// quantized to q8x and to q8t, and the transformed input of calibrated matrices. The team form
// allocates nothing, so a caller that runs many matmuls (calm_state) makes this once.
typedef struct {
    block_q8x *q8x;
    block_q8g *q8g; // the q8x rows of whole tiles of tokens again, tiled (panel_gemm_tiles)
    uint8_t *q8t;
    float *xt;
    int max_T, max_cols;
} calm_mm_scratch;
// Returns 0, or -1 when memory runs out (nothing is left allocated then).
int calm_mm_scratch_init(calm_mm_scratch *sc, int max_T, int max_cols);
void calm_mm_scratch_free(calm_mm_scratch *sc);

// calm_matmul_many for the threads of an enclosing parallel region: every thread of the team calls
// it with the same arguments (outside a region the caller alone is the team). The row chunks of
// all matrices are split between the threads by weight bytes, so a call mixing types (Q4_K q/k,
// Q6_K v) stays even. Returns after a barrier, when every y is complete; sc (T <= max_T,
// cols <= max_cols) is busy until then. The results equal calm_matmul_many's bit for bit for
// any team size.
void calm_matmul_team(const calm_isa *isa, const calm_mm *mm, int n, const float *x, int cols,
                      int T, const calm_mm_scratch *sc);

// Copies activation row t (nb q8x blocks) into its place in the tiled layout g of
// calm_panel_gemm_tiles_fn (kernels/kernels.h).
void calm_q8g_put(block_q8g *g, const block_q8x *row, int t, int nb);

// xt = the transformed input of a calm_mm (see in_scale, in_rot) for T rows of cols.
void calm_transform_input(float *xt, const float *x, int cols, int T, const float *in_scale,
                          int in_rot);

// Dequantizes row r of a matrix with rows of `cols` elements.
void calm_get_row(float *out, const void *w, uint32_t type, int cols, int r);

// The calling thread's share [*lo, *hi) of n items split evenly over its team, in thread order
// (the whole range outside a parallel region).
static inline void calm_team_share(int64_t n, int64_t *lo, int64_t *hi) {
    int ith = omp_get_thread_num(), nth = omp_get_num_threads();
    *lo = n * ith / nth;
    *hi = n * (ith + 1) / nth;
}

#endif
