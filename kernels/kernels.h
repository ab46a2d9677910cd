// The kernel signatures every ISA implements, the per-ISA table (calm_isa), every ISA's entry
// points (calm_<what>_<isa>) and the macros that instantiate the shared kernel bodies. Adding an
// ISA: give it a branch of primitives in kernels/simd_float.h (float vectors) and
// kernels/simd_int8.h (block sums, code unpacking, the int8 block dot); write kernels/<isa>/*.c
// with what truly differs (activation quantization, W8A8, special kernels) and instantiate the
// shared bodies there with CALM_INT8_DOTS and CALM_FLOAT_DOTS; declare its table and entry points
// here; list it in kernels/isa.c (all_isas, isa_runs) and its files in CMakeLists.txt. An ISA that
// only adds kernels to another (amx) sets .base and fills just those.
#ifndef CALM_KERNELS_H
#define CALM_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pack.h"
#include "types.h"

// Dots np (1 or CALM_PANEL_GROUP) consecutive 16-row panels of packed weights, from panel
// `panel`, with nt (1..CALM_NT) q8x activation rows; writes out[t * np * 16 + r] for row r of the
// np * 16 rows. The panels of a group are read as np interleaved streams: one core streaming a
// single panel from memory leaves most of its bandwidth unused on server cores (measured on the
// device machine: a group of 4 doubles single-thread decode), and the activations loaded for a
// block serve all np panels.
typedef void (*calm_panel_dot_fn)(const calm_packed *p, int panel, int np, const void *x,
                                  size_t x_stride, int nt, float *out);
#define CALM_PANEL_GROUP 4

// The prefill form of calm_panel_dot: one 16-row panel against T q8x activation rows, T a multiple
// of CALM_GEMM_T; writes y[t * y_stride + j] for t < T and the panel's first nrows rows (the last
// panel of a matrix may have fewer than 16).
typedef void (*calm_panel_gemm_fn)(const calm_packed *p, int panel, const void *x, size_t x_stride,
                                   int T, float *y, size_t y_stride, int nrows);
#define CALM_GEMM_T 16

// calm_panel_gemm_fn over tiled activations, for a tile unit (AMX) that loads 16 tokens' codes of
// a block as one tile: g holds T / CALM_GEMM_T tiles of cols / 32 block_q8g each, and the kernel
// adds the products of blocks b0 .. b1-1 to y (writes them when b0 = 0). A caller that walks the
// columns in ranges, each over all its panels, keeps that range of activations in L2: the panels
// of a matrix all read the same activations, which for T = 512 outgrow L2 on wide inputs.
typedef void (*calm_panel_gemm_tiles_fn)(const calm_packed *p, int panel, const block_q8g *g, int T,
                                         int b0, int b1, float *y, size_t y_stride, int nrows);
_Static_assert(sizeof(((block_q8g *)0)->d) / sizeof(float) == CALM_GEMM_T, "q8g tile = gemm tile");

// Dots one weight row of n elements with nt (1..CALM_NT) activation rows: x points at the first,
// rows are x_stride bytes apart, in the type's vec_dot_type (f32, q8x blocks or q8t rows).
typedef void (*calm_vec_dot_fn)(int n, const void *w, const void *x, size_t x_stride, int nt,
                                float *out);
#define CALM_NT          4
#define CALM_ATTEND_TILE 16

typedef struct calm_isa {
    const char *name;
    // An ISA that extends another (amx extends avx512) names it here and fills only what it adds;
    // calm_isa_resolve (kernels/isa.h) lays the tables over each other.
    const struct calm_isa *base;
    // Indexed by weight type: the dot of that type with its vec_dot_type (calm_type_traits).
    calm_vec_dot_fn vec_dot[CALM_TYPE_COUNT];
    // f32 rows -> q8x blocks (n a multiple of 32)
    void (*quantize_q8x)(const float *x, block_q8x *y, int n);
    // one f32 row -> int8 per token (calm_q8t_head, then n values)
    void (*quantize_q8t)(const float *x, void *y, int n);
    calm_panel_dot_fn panel_dot;               // NULL: this ISA does not use packed weights
    calm_panel_gemm_fn panel_gemm;             // NULL: prefill runs through panel_dot too
    calm_panel_gemm_tiles_fn panel_gemm_tiles; // preferred to panel_gemm where set
    // The weight types whose panels panel_dot and panel_gemm take (among those calm_pack_supported
    // accepts); NULL: all of them. The others stay on the row kernels (calm_isa_packs).
    int (*panel_type)(uint32_t type);
    // One query head against n cached positions: k and v point at position 0 of the head, rows
    // `stride` floats apart. scores is scratch of n floats; out gets hd floats.
    void (*attend)(const float *q, const float *k, const float *v, size_t stride, int n, int hd,
                   float scale, float *scores, float *out);
    // The prefill form of attend: nq (1..CALM_ATTEND_TILE) consecutive queries of one head, query
    // i at q + i * q_stride seeing n0 + i cached positions, its output at out + i * out_stride.
    // scratch holds (n0 + nq) * CALM_ATTEND_TILE floats. NULL: prefill runs attend per query.
    void (*attend_tile)(const float *q, size_t q_stride, int nq, const float *k, const float *v,
                        size_t stride, int n0, int hd, float scale, float *scratch, float *out,
                        size_t out_stride);
    // g[i] = silu(g[i]) * u[i]
    void (*silu_mul)(float *g, const float *u, size_t n);
    // x[t] <- H x[t] (kernels/hadamard.h): the online half of rotated weights
    void (*hadamard)(float *x, int n, int T, int transpose);
} calm_isa;

// Whether matrices of `type` run through isa's panel kernels: packed at load (calm_model_pack) and
// dotted by panel_dot and panel_gemm; the others run through the row kernels.
static inline int calm_isa_packs(const calm_isa *isa, uint32_t type) {
    return isa->panel_dot && calm_pack_supported(type) &&
           (!isa->panel_type || isa->panel_type(type));
}

// The shared kernel bodies and their primitives are inlined into each ISA's file, where the token
// count and format parameters are compile-time constants.
#define CALM_INLINE static inline __attribute__((always_inline))

// Activation row t of a q8x buffer whose rows are xs bytes apart.
static inline const block_q8x *calm_q8x_row(const void *x, size_t xs, int t) {
    return (const block_q8x *)((const uint8_t *)x + (size_t)t * xs);
}

// Activation row t of an f32 buffer whose rows are xs bytes apart.
static inline const float *calm_f32_row(const void *x, size_t xs, int t) {
    return (const float *)((const uint8_t *)x + (size_t)t * xs);
}

// The q8t header of activation or W8A8 weight row p, and its codes in *q.
static inline calm_q8t_head calm_q8t_read(const void *p, const int8_t **q) {
    calm_q8t_head h;
    memcpy(&h, p, sizeof h);
    *q = (const int8_t *)p + sizeof h;
    return h;
}

// The 1-4-token switch: calls fn(args..., k) with k the token count as a compile-time constant,
// so that an always_inline body keeps its CALM_NT accumulators in registers.
#define CALM_NT_SWITCH(nt, fn, ...)                                                                \
    switch (nt) {                                                                                  \
    case 1:                                                                                        \
        fn(__VA_ARGS__, 1);                                                                        \
        break;                                                                                     \
    case 2:                                                                                        \
        fn(__VA_ARGS__, 2);                                                                        \
        break;                                                                                     \
    case 3:                                                                                        \
        fn(__VA_ARGS__, 3);                                                                        \
        break;                                                                                     \
    default:                                                                                       \
        fn(__VA_ARGS__, 4);                                                                        \
        break;                                                                                     \
    }

// The affine packed-panel switch: calls fn(args..., bits, k_scales) with the code width and
// scale layout of the packed matrix p (kernels/pack.h) as compile-time constants, one instance of
// the body per affine panel kind. Q6_K panels (bits 6) have their own bodies.
#define CALM_PANEL_SWITCH(p, fn, ...)                                                              \
    if ((p)->bits == 4 && (p)->k_scales)                                                           \
        fn(__VA_ARGS__, 4, 1);                                                                     \
    else if ((p)->bits == 4)                                                                       \
        fn(__VA_ARGS__, 4, 0);                                                                     \
    else if ((p)->bits == 5 && (p)->k_scales)                                                      \
        fn(__VA_ARGS__, 5, 1);                                                                     \
    else if ((p)->bits == 5)                                                                       \
        fn(__VA_ARGS__, 5, 0);                                                                     \
    else                                                                                           \
        fn(__VA_ARGS__, 8, 0);

// Defines the calm_vec_dot_fn `name` from body(n, w, x, xs, out, extra..., nt) through the switch;
// extra (possibly none) are compile-time arguments of the body, such as the bits and group of a
// calm group format.
#define CALM_VEC_DOT_BY_NT(name, body, ...)                                                        \
    static void name(int n, const void *w, const void *x, size_t xs, int nt, float *out) {         \
        CALM_NT_SWITCH(nt, body, n, w, x, xs, out, ##__VA_ARGS__)                                  \
    }

// Every calm group format's kernel dot_qgB_G_q8x from body(n, w, x, xs, out, bits, group, nt).
#define CALM_QG_DOTS(body)                                                                         \
    CALM_VEC_DOT_BY_NT(dot_qg2_32_q8x, body, 2, 32)                                                \
    CALM_VEC_DOT_BY_NT(dot_qg2_64_q8x, body, 2, 64)                                                \
    CALM_VEC_DOT_BY_NT(dot_qg2_128_q8x, body, 2, 128)                                              \
    CALM_VEC_DOT_BY_NT(dot_qg3_32_q8x, body, 3, 32)                                                \
    CALM_VEC_DOT_BY_NT(dot_qg3_64_q8x, body, 3, 64)                                                \
    CALM_VEC_DOT_BY_NT(dot_qg3_128_q8x, body, 3, 128)                                              \
    CALM_VEC_DOT_BY_NT(dot_qg4_32_q8x, body, 4, 32)                                                \
    CALM_VEC_DOT_BY_NT(dot_qg4_64_q8x, body, 4, 64)                                                \
    CALM_VEC_DOT_BY_NT(dot_qg4_128_q8x, body, 4, 128)                                              \
    CALM_VEC_DOT_BY_NT(dot_qg8_32_q8x, body, 8, 32)                                                \
    CALM_VEC_DOT_BY_NT(dot_qg8_64_q8x, body, 8, 64)                                                \
    CALM_VEC_DOT_BY_NT(dot_qg8_128_q8x, body, 8, 128)

// The integer-format kernels dot_<type>_q8x from four_bit_body (Q4_0 and Q4_1, called as
// body(n, w, x, xs, out, has_m, nt)), q8_0_body (body(n, w, x, xs, out, nt)) and qg_body (the
// group formats, as in CALM_QG_DOTS).
#define CALM_INT8_DOTS(four_bit_body, q8_0_body, qg_body)                                          \
    CALM_VEC_DOT_BY_NT(dot_q4_0_q8x, four_bit_body, 0)                                             \
    CALM_VEC_DOT_BY_NT(dot_q4_1_q8x, four_bit_body, 1)                                             \
    CALM_VEC_DOT_BY_NT(dot_q8_0_q8x, q8_0_body)                                                    \
    CALM_QG_DOTS(qg_body)

// The float-activation kernels dot_<type>_f32 from float_body (f32, f16, bf16 weights) and
// dequant_body (Q5_0, Q5_1, Q4_K, Q5_K: dequantize a block, then a float dot), both called as
// body(n, w, x, xs, out, type, nt).
#define CALM_FLOAT_DOTS(float_body, dequant_body)                                                  \
    CALM_VEC_DOT_BY_NT(dot_f32_f32, float_body, CALM_TYPE_F32)                                     \
    CALM_VEC_DOT_BY_NT(dot_f16_f32, float_body, CALM_TYPE_F16)                                     \
    CALM_VEC_DOT_BY_NT(dot_bf16_f32, float_body, CALM_TYPE_BF16)                                   \
    CALM_VEC_DOT_BY_NT(dot_q5_0_f32, dequant_body, CALM_TYPE_Q5_0)                                 \
    CALM_VEC_DOT_BY_NT(dot_q5_1_f32, dequant_body, CALM_TYPE_Q5_1)                                 \
    CALM_VEC_DOT_BY_NT(dot_q4_k_f32, dequant_body, CALM_TYPE_Q4_K)                                 \
    CALM_VEC_DOT_BY_NT(dot_q5_k_f32, dequant_body, CALM_TYPE_Q5_K)

// The vec_dot entries every ISA names alike: dot_<weight>_<activation> for the float and
// dequantized types (f32 activations), the integer formats (q8x) and W8A8 (q8t). An ISA file
// defines them (CALM_FLOAT_DOTS, CALM_INT8_DOTS, its own W8A8) and adds the ones only it has
// (Q6_K).
#define CALM_DOT_TABLE                                                                             \
    [CALM_TYPE_F32] = dot_f32_f32, [CALM_TYPE_F16] = dot_f16_f32, [CALM_TYPE_BF16] = dot_bf16_f32, \
    [CALM_TYPE_Q5_0] = dot_q5_0_f32, [CALM_TYPE_Q5_1] = dot_q5_1_f32,                              \
    [CALM_TYPE_Q4_K] = dot_q4_k_f32, [CALM_TYPE_Q5_K] = dot_q5_k_f32,                              \
    [CALM_TYPE_Q4_0] = dot_q4_0_q8x, [CALM_TYPE_Q4_1] = dot_q4_1_q8x,                              \
    [CALM_TYPE_Q8_0] = dot_q8_0_q8x, [CALM_TYPE_W8A8] = dot_w8a8_q8t,                              \
    [CALM_TYPE_QG + 0] = dot_qg2_32_q8x, [CALM_TYPE_QG + 1] = dot_qg2_64_q8x,                      \
    [CALM_TYPE_QG + 2] = dot_qg2_128_q8x, [CALM_TYPE_QG + 3] = dot_qg3_32_q8x,                     \
    [CALM_TYPE_QG + 4] = dot_qg3_64_q8x, [CALM_TYPE_QG + 5] = dot_qg3_128_q8x,                     \
    [CALM_TYPE_QG + 6] = dot_qg4_32_q8x, [CALM_TYPE_QG + 7] = dot_qg4_64_q8x,                      \
    [CALM_TYPE_QG + 8] = dot_qg4_128_q8x, [CALM_TYPE_QG + 9] = dot_qg8_32_q8x,                     \
    [CALM_TYPE_QG + 10] = dot_qg8_64_q8x, [CALM_TYPE_QG + 11] = dot_qg8_128_q8x

// The per-ISA tables; kernels/isa.c picks one at start-up.
extern const calm_isa calm_isa_scalar;
#if defined(__x86_64__)
extern const calm_isa calm_isa_avx2;
extern const calm_isa calm_isa_avx512;
extern const calm_isa calm_isa_amx; // avx512 plus AMX int8 tiles for panel_gemm
#endif
#if defined(__aarch64__)
extern const calm_isa calm_isa_neon;
#endif

// Entry points outside the dot tables. The scalar ones are the reference the others are tested
// against.
void calm_attend_scalar(const float *q, const float *k, const float *v, size_t stride, int n,
                        int hd, float scale, float *scores, float *out);
void calm_silu_mul_scalar(float *g, const float *u, size_t n);
void calm_hadamard_scalar(float *x, int n, int T, int transpose);
// The packed panels' reference (kernels/pack.h), a calm_panel_dot_fn: the sums of np panels from
// `panel` for nt tokens of q8x activations x (rows x_stride bytes apart), to out[t * np * 16 + r].
void calm_panel_dot_scalar(const calm_packed *p, int panel, int np, const void *x, size_t x_stride,
                           int nt, float *out);
#if defined(__x86_64__)
void calm_attend_avx2(const float *q, const float *k, const float *v, size_t stride, int n, int hd,
                      float scale, float *scores, float *out);
void calm_attend_tile_avx2(const float *q, size_t q_stride, int nq, const float *k, const float *v,
                           size_t stride, int n0, int hd, float scale, float *scratch, float *out,
                           size_t out_stride);
void calm_silu_mul_avx2(float *g, const float *u, size_t n);
void calm_hadamard_avx2(float *x, int n, int T, int transpose);
void calm_attend_avx512(const float *q, const float *k, const float *v, size_t stride, int n,
                        int hd, float scale, float *scores, float *out);
void calm_attend_tile_avx512(const float *q, size_t q_stride, int nq, const float *k,
                             const float *v, size_t stride, int n0, int hd, float scale,
                             float *scratch, float *out, size_t out_stride);
void calm_silu_mul_avx512(float *g, const float *u, size_t n);
void calm_hadamard_avx512(float *x, int n, int T, int transpose);
// The VNNI panel_gemm (kernels/avx512/panel_gemm.c): tiles of tokens against one panel.
void calm_panel_gemm_avx512(const calm_packed *p, int panel, const void *x, size_t x_stride, int T,
                            float *y, size_t y_stride, int nrows);
#endif

#endif
