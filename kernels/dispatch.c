// The dispatch table: the one global of calm, filled once from what the CPU supports.
#include "matmul.h"

#include <stdlib.h>
#include <string.h>

static calm_kernels table = {"scalar", {0}};

const calm_kernels *calm_kernels_get(void) { return &table; }

const char *calm_isa_name(void) { return table.isa; }

void calm_matmul(float *y, const float *x, const void *w, uint32_t type, int rows, int cols, int T) {
    calm_matmul_fn fn = type < 64 ? table.matmul[type] : NULL;
    if (fn) fn(y, x, w, rows, cols, T);
    else calm_matmul_scalar(y, x, w, type, rows, cols, T);
}
