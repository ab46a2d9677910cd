// The weight grids every quantization algorithm rounds onto, and round-to-nearest onto them (the
// from_float of the quantized types, kernels/types.h; like ggml's quantize_row_*_ref). The PTQ
// algorithms in quant/ quantize against the same grids. A group of weights (G consecutive
// weights of a row) is stored as codes u in [umin, umax] with a scale d and an offset m:
// w ~ d * u + m. Asymmetric grids store m; symmetric ones fix m = -zero * d. The storage type says
// how d and m are rounded (f16, or f32 for W8A8) and how the codes are packed, so an algorithm
// that quantizes against calm_qfmt_params' values writes exactly what the kernels will read.
#ifndef CALM_GRID_H
#define CALM_GRID_H

#include <math.h>
#include <stdint.h>

typedef struct {
    uint32_t type;   // calm_type of the rows written
    int bits, group; // group: weights sharing d and m (a row's last group may be shorter)
    int sym;         // m = -zero * d
    int umin, umax;  // code range
    int zero;        // symmetric offset
} calm_qfmt;

// A grid for calm's qgB_G (sym or not), q4_0 (sym), q4_1, q8_0 (sym) or w8a8 (sym, one group per
// row). Returns -1 for any other type (quant/qformat.h's calm_qfmt_init says why).
int calm_qfmt_grid(calm_qfmt *f, uint32_t type, int sym);
// Groups in a row of n.
static inline int calm_qfmt_groups(const calm_qfmt *f, int n) {
    return f->group ? (n + f->group - 1) / f->group : 1;
}
// Length of group i of a row of n.
static inline int calm_qfmt_glen(const calm_qfmt *f, int n, int i) {
    int g = f->group ? f->group : n, r = n - i * g;
    return r < g ? r : g;
}
// d and m for n weights, range shrunk by clip (1 = min/max), rounded as stored.
void calm_qfmt_params(const calm_qfmt *f, const float *w, int n, float clip, float *d, float *m);
static inline int calm_qfmt_code(const calm_qfmt *f, float w, float d, float m) {
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    long u = lrintf((w - m) * id);
    return (int)(u < f->umin ? f->umin : u > f->umax ? f->umax : u);
}
// Packs the codes u[n] of one row with per-group d[], m[] into the storage type.
void calm_qfmt_write_row(const calm_qfmt *f, const uint8_t *u, const float *d, const float *m,
                         int n, void *out);
// Round-to-nearest of one row, group g's range shrunk by clip[g] (NULL: 1); deq (optional) gets
// the stored row dequantized.
void calm_qfmt_quantize_row(const calm_qfmt *f, const float *w, int n, const float *clip, void *out,
                            float *deq);
// Round-to-nearest of one row of n weights onto type's default grid (calm_qfmt_grid with sym 0:
// symmetric where the type is); -1 if type has no grid. The from_float of the quantized types.
int calm_rtn_row(const float *x, int n, uint32_t type, void *out);

#endif
