// Scalar reference: dequantize a row to f32 once, then dot it with every token's activations.
#include "../matmul.h"

#include <stdlib.h>

#include "../types.h"

static float dot_f32(const float *a, const float *b, int n) {
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

void calm_matmul_scalar(float *y, const float *x, const void *w, uint32_t type, int rows, int cols,
                        int T) {
    const calm_type_traits *tt = calm_type_get(type);
    size_t row_bytes = calm_row_size(type, cols);
#pragma omp parallel
    {
        float *tmp = type == CALM_TYPE_F32 ? NULL : malloc((size_t)cols * sizeof(float));
#pragma omp for schedule(static)
        for (int r = 0; r < rows; r++) {
            const void *src = (const uint8_t *)w + (size_t)r * row_bytes;
            const float *row = src;
            if (tmp) {
                tt->to_float(src, tmp, cols);
                row = tmp;
            }
            for (int t = 0; t < T; t++) y[(size_t)t * rows + r] = dot_f32(row, x + (size_t)t * cols, cols);
        }
        free(tmp);
    }
}

void calm_get_row(float *out, const void *w, uint32_t type, int cols, int r) {
    const uint8_t *src = (const uint8_t *)w + (size_t)r * calm_row_size(type, cols);
    calm_type_get(type)->to_float(src, out, cols);
}
