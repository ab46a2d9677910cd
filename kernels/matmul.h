// Dequant-matmul entry points. The dispatch table (kernels/dispatch.c) picks one kernel per
// weight type and ISA at start-up; the scalar kernels are the reference every other one is tested against.
#ifndef CALM_MATMUL_H
#define CALM_MATMUL_H

#include <stdint.h>

// y[t][r] = sum_c w[r][c] * x[t][c] for t < T, r < rows; w is stored row-major in its type.
typedef void (*calm_matmul_fn)(float *y, const float *x, const void *w, int rows, int cols, int T);

typedef struct {
    const char *isa;
    calm_matmul_fn matmul[64]; // by calm_type; NULL where this ISA has no kernel (scalar is used)
} calm_kernels;

// The scalar reference for any supported type.
void calm_matmul_scalar(float *y, const float *x, const void *w, uint32_t type, int rows, int cols,
                        int T);
// y = W x with the best kernel for w's type on this machine. Threads: OpenMP over rows.
void calm_matmul(float *y, const float *x, const void *w, uint32_t type, int rows, int cols, int T);
// Dequantizes row r of a matrix with rows of `cols` elements.
void calm_get_row(float *out, const void *w, uint32_t type, int cols, int r);

const calm_kernels *calm_kernels_get(void);
const char *calm_isa_name(void);

#endif
