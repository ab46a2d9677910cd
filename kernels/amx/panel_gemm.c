// AMX int8 prefill (Sapphire Rapids and later): the avx512 table plus panel_gemm, which multiplies
// a 16-row panel (kernels/pack.h) with 16 tokens at a time in the tile unit.
// The 8-bit panel block is already an AMX B tile in VNNI layout (8 rows of 64 bytes, row k byte
// 4j+i = code 4k+i of weight row j) and the q8x activations of one block for 16 tokens are an A
// tile read in place (16 rows of 32 bytes, x_stride apart), so nothing is repacked but the 4-bit
// nibbles. TDPBSUD multiplies the signed activations by the unsigned codes into 16 x 16 int32
// sums; the float epilogue per block is panel_dot's (kernels/avx512/vec_dot.c).
#include <immintrin.h>
#include <string.h>

#include "../avx512/panel_q6_k.h"
#include "../kernels.h"

// The LDTILECFG operand, palette 1. The tile intrinsics paste their tile number into the
// instruction text, so the kernel names them by literal: 0 = C, 1 = A, 2 = B.
typedef struct __attribute__((aligned(64))) {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;

static void load_tiles(void) {
    tile_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    cfg.rows[0] = CALM_GEMM_T, cfg.colsb[0] = CALM_PANEL * 4; // tokens x rows, int32
    cfg.rows[1] = CALM_GEMM_T, cfg.colsb[1] = 32;             // tokens x block, int8
    cfg.rows[2] = 32 / 4, cfg.colsb[2] = CALM_PANEL * 4;      // codes in VNNI order
    _tile_loadconfig(&cfg);
}

CALM_INLINE void gemm_body(const calm_packed *p, int panel, const void *x, size_t xs, int T,
                           float *y, size_t ys, int nrows, const int bits, const int f32s) {
    const int nb = p->cols / 32;
    const uint8_t *first = p->data + (size_t)panel * nb * p->block_bytes;
    const __m512i lo4 = _mm512_set1_epi8(0xf);
    const __mmask16 keep = (__mmask16)((1u << nrows) - 1);
    _Alignas(64) uint8_t nibbles[8 * 64];
    _Alignas(64) int32_t sums[CALM_GEMM_T * CALM_PANEL];
    for (int t0 = 0; t0 < T; t0 += CALM_GEMM_T) {
        __m512 acc[CALM_GEMM_T];
#pragma GCC unroll 16
        for (int t = 0; t < CALM_GEMM_T; t++) acc[t] = _mm512_setzero_ps();
        const uint8_t *blk = first;
        for (int b = 0; b < nb; b++, blk += p->block_bytes) {
            const uint8_t *codes = blk + (f32s ? 128 : 64);
            if (bits == 4) { // B rows 0-3: low nibbles of the four vectors, rows 4-7: high ones
                for (int k = 0; k < 4; k++) {
                    __m512i v = _mm512_load_si512((const void *)(codes + 64 * k));
                    _mm512_store_si512(nibbles + 64 * k, _mm512_and_si512(v, lo4));
                    _mm512_store_si512(nibbles + 64 * (k + 4),
                                       _mm512_and_si512(_mm512_srli_epi16(v, 4), lo4));
                }
                codes = nibbles;
            }
            _tile_zero(0);
            _tile_loadd(1, calm_q8x_row(x, xs, t0)[b].qs, xs);
            _tile_loadd(2, codes, 64);
            _tile_dpbsud(0, 1, 2);
            _tile_stored(0, sums, 64);
            __m512 d = f32s ? _mm512_load_ps(blk)
                            : _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)blk));
            __m512 c = f32s ? _mm512_load_ps(blk + 64)
                            : _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(blk + 32)));
#pragma GCC unroll 16
            for (int t = 0; t < CALM_GEMM_T; t++) {
                const block_q8x *a = calm_q8x_row(x, xs, t0 + t) + b;
                __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_load_si512(sums + 16 * t)),
                                         _mm512_set1_ps(a->d));
                acc[t] = _mm512_fmadd_ps(d, f, acc[t]);
                acc[t] = _mm512_fmadd_ps(c, _mm512_set1_ps(a->s), acc[t]);
            }
        }
#pragma GCC unroll 16
        for (int t = 0; t < CALM_GEMM_T; t++)
            _mm512_mask_storeu_ps(y + (size_t)(t0 + t) * ys, keep, acc[t]);
    }
}

// Q6_K panels (kernels/pack.h) have a scale per 16 columns, so each block is two products of
// half depth: tiles 0 and 1 = C of the two halves, 2 and 3 = A (16 tokens x 16 activation bytes,
// read in place), 4 and 5 = B (the signed codes q - 32 of a half: 4 rows of 64 bytes in VNNI
// order, code vectors 0-3 and 4-7 of calm_q6_k_panel_codes). TDPBSSD multiplies signed by signed,
// so the offset of 32 needs no correction.
static void load_q6_k_tiles(void) {
    tile_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int h = 0; h < 2; h++) {
        cfg.rows[h] = CALM_GEMM_T, cfg.colsb[h] = CALM_PANEL * 4;
        cfg.rows[2 + h] = CALM_GEMM_T, cfg.colsb[2 + h] = 16;
        cfg.rows[4 + h] = 16 / 4, cfg.colsb[4 + h] = CALM_PANEL * 4;
    }
    _tile_loadconfig(&cfg);
}

// Blocks outside, token tiles inside: a block's codes are unpacked and its B tiles loaded once for
// all T tokens, and y (T x the panel's rows, in cache) gathers the blocks' terms in block order,
// as the registers of panel_dot do.
static void q6_k_gemm(const calm_packed *p, int panel, const void *x, size_t xs, int T, float *y,
                      size_t ys, int nrows) {
    const int nb = p->cols / 32;
    const uint8_t *blk = p->data + (size_t)panel * nb * p->block_bytes;
    const __mmask16 keep = (__mmask16)((1u << nrows) - 1);
    _Alignas(64) uint8_t codes[8 * 64];
    _Alignas(64) int32_t sums[2][CALM_GEMM_T * CALM_PANEL];
    for (int t = 0; t < T; t++)
        _mm512_mask_storeu_ps(y + (size_t)t * ys, keep, _mm512_setzero_ps());
    load_q6_k_tiles();
    for (int b = 0; b < nb; b++, blk += p->block_bytes) {
        __m512i w[8];
        calm_q6_k_panel_codes(blk, w);
        for (int k = 0; k < 8; k++) _mm512_store_si512(codes + 64 * k, w[k]);
        _tile_loadd(4, codes, 64);
        _tile_loadd(5, codes + 4 * 64, 64);
        __m512 d0, d1;
        calm_q6_k_panel_scales(blk, &d0, &d1);
        for (int t0 = 0; t0 < T; t0 += CALM_GEMM_T) {
            const int8_t *xq = calm_q8x_row(x, xs, t0)[b].qs;
            _tile_zero(0);
            _tile_zero(1);
            _tile_loadd(2, xq, xs);
            _tile_loadd(3, xq + 16, xs);
            _tile_dpbssd(0, 2, 4);
            _tile_dpbssd(1, 3, 5);
            _tile_stored(0, sums[0], 64);
            _tile_stored(1, sums[1], 64);
#pragma GCC unroll 16
            for (int t = 0; t < CALM_GEMM_T; t++) {
                float *yt = y + (size_t)(t0 + t) * ys;
                __m512 f = _mm512_fmadd_ps(
                    _mm512_cvtepi32_ps(_mm512_load_si512(sums[1] + 16 * t)), d1,
                    _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_load_si512(sums[0] + 16 * t)), d0));
                f = _mm512_fmadd_ps(f, _mm512_set1_ps(calm_q8x_row(x, xs, t0 + t)[b].d),
                                    _mm512_maskz_loadu_ps(keep, yt));
                _mm512_mask_storeu_ps(yt, keep, f);
            }
        }
    }
    _tile_release();
}

// The tile configuration belongs to the thread: each call loads it and releases the tiles, which
// costs little against a panel's work and leaves no tile state behind between calls.
static void panel_gemm(const calm_packed *p, int panel, const void *x, size_t xs, int T, float *y,
                       size_t ys, int nrows) {
    if (p->bits == 6) { // its own tile configuration
        q6_k_gemm(p, panel, x, xs, T, y, ys, nrows);
        return;
    }
    load_tiles();
    if (p->bits == 4 && p->f32_scales)
        gemm_body(p, panel, x, xs, T, y, ys, nrows, 4, 1);
    else if (p->bits == 4)
        gemm_body(p, panel, x, xs, T, y, ys, nrows, 4, 0);
    else if (p->f32_scales)
        gemm_body(p, panel, x, xs, T, y, ys, nrows, 8, 1);
    else
        gemm_body(p, panel, x, xs, T, y, ys, nrows, 8, 0);
    _tile_release();
}

const calm_isa calm_isa_amx = {
    .name = "amx",
    .base = &calm_isa_avx512,
    .panel_gemm = panel_gemm,
};
