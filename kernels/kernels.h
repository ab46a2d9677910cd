// Inside kernels/: the vec-dot signature every ISA implements, and the per-ISA tables.
#ifndef CALM_KERNELS_H
#define CALM_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "pack.h"
#include "types.h"

// Dots one 16-row panel of packed weights with nt (1..CALM_NT) q8x activation rows; writes
// out[t * 16 + j] for row j of the panel.
typedef void (*calm_panel_dot_fn)(const calm_packed *p, int panel, const void *x, size_t x_stride,
                                  int nt, float *out);

// Dots one weight row of n elements with nt (1..CALM_NT) activation rows: x points at the first,
// rows are x_stride bytes apart, in the type's activation format (f32 or q8x blocks).
typedef void (*calm_vec_dot_fn)(int n, const void *w, const void *x, size_t x_stride, int nt,
                                float *out);
#define CALM_NT 4

typedef struct {
    const char *name;
    calm_vec_dot_fn vec_dot[CALM_TYPE_COUNT];
    // f32 rows -> q8x blocks (n a multiple of 32)
    void (*quantize_q8x)(const float *x, block_q8x *y, int n);
    // one f32 row -> int8 per token (calm_q8t_head, then n values)
    void (*quantize_q8t)(const float *x, void *y, int n);
    calm_panel_dot_fn panel_dot; // NULL: this ISA does not use packed weights
    // One query head against n cached positions: k and v point at position 0 of the head, rows
    // `stride` floats apart. scores is scratch of n floats; out gets hd floats.
    void (*attend)(const float *q, const float *k, const float *v, size_t stride, int n, int hd,
                   float scale, float *scores, float *out);
    // g[i] = silu(g[i]) * u[i]
    void (*silu_mul)(float *g, const float *u, size_t n);
    // x[t] <- H x[t] (kernels/hadamard.h): the online half of rotated weights
    void (*hadamard)(float *x, int n, int T, int transpose);
} calm_isa;

// Float kernels process rows in vector-width steps; this adds elements [i, n) of the row.
static inline void calm_dot_tail(int n, int i, const void *w, uint32_t type, const void *x,
                                 size_t xs, int nt, float *out) {
    float tail[16];
    if (i >= n) return;
    calm_type_get(type)->to_float((const uint8_t *)w + calm_row_size(type, i), tail, n - i);
    for (int t = 0; t < nt; t++)
        for (int j = i; j < n; j++)
            out[t] += tail[j - i] * ((const float *)((const uint8_t *)x + t * xs))[j];
}

// Names dot_qgB_G, the kernel of calm group format (B bits, group G), for a file's
// dot_qg(n, w, x, xs, nt, out, bits, group).
#define QG_DOT(b, g)                                                                               \
    static void dot_qg##b##_##g(int n, const void *w, const void *x, size_t xs, int nt,            \
                                float *o) {                                                        \
        dot_qg(n, w, x, xs, nt, o, b, g);                                                          \
    }

// Every group format's kernel through the file's QG_DOT; DOT_TABLE: the entries of an ISA's
// dispatch table for the kernels every ISA names alike (Q6_K is added where an ISA has it).
#define QG_DOT_ALL                                                                                 \
    QG_DOT(2, 32)                                                                                  \
    QG_DOT(2, 64)                                                                                  \
    QG_DOT(2, 128)                                                                                 \
    QG_DOT(3, 32)                                                                                  \
    QG_DOT(3, 64)                                                                                  \
    QG_DOT(3, 128)                                                                                 \
    QG_DOT(4, 32)                                                                                  \
    QG_DOT(4, 64)                                                                                  \
    QG_DOT(4, 128)                                                                                 \
    QG_DOT(8, 32)                                                                                  \
    QG_DOT(8, 64)                                                                                  \
    QG_DOT(8, 128)
#define QG_TABLE                                                                                   \
    [CALM_TYPE_QG + 0] = dot_qg2_32, [CALM_TYPE_QG + 1] = dot_qg2_64,                              \
                    [CALM_TYPE_QG + 2] = dot_qg2_128, [CALM_TYPE_QG + 3] = dot_qg3_32,             \
                    [CALM_TYPE_QG + 4] = dot_qg3_64, [CALM_TYPE_QG + 5] = dot_qg3_128,             \
                    [CALM_TYPE_QG + 6] = dot_qg4_32, [CALM_TYPE_QG + 7] = dot_qg4_64,              \
                    [CALM_TYPE_QG + 8] = dot_qg4_128, [CALM_TYPE_QG + 9] = dot_qg8_32,             \
                    [CALM_TYPE_QG + 10] = dot_qg8_64, [CALM_TYPE_QG + 11] = dot_qg8_128
#define DOT_TABLE                                                                                  \
    [CALM_TYPE_F32] = dot_f32, [CALM_TYPE_F16] = dot_f16, [CALM_TYPE_BF16] = dot_bf16,             \
    [CALM_TYPE_Q4_0] = dot_q4_0, [CALM_TYPE_Q4_1] = dot_q4_1, [CALM_TYPE_Q8_0] = dot_q8_0,         \
    [CALM_TYPE_Q5_0] = dot_q5_0, [CALM_TYPE_Q5_1] = dot_q5_1, [CALM_TYPE_Q4_K] = dot_q4_k,         \
    [CALM_TYPE_Q5_K] = dot_q5_k, [CALM_TYPE_W8A8] = dot_w8a8, QG_TABLE

extern const calm_isa calm_isa_scalar;
#if defined(__x86_64__)
extern const calm_isa calm_isa_avx2;
extern const calm_isa calm_isa_avx512;
#endif
#if defined(__aarch64__)
extern const calm_isa calm_isa_neon;
#endif

#endif
