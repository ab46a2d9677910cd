// The AVX-512 VNNI panel tile, shared by panel_dot (kernels/avx512/vec_dot.c, 1-4 tokens) and the
// VNNI panel_gemm (kernels/avx512/panel_gemm.c, tiles of 16): nt tokens against one 16-row panel
// (kernels/pack.h), lane j of every vpdpbusd being row j, so 16 rows advance by four columns per
// instruction and no horizontal sums are needed. Each block's codes are unpacked once into eight
// registers and reused by every token of the tile, whose accumulators stay in registers across all
// blocks of the row; the per-block float epilogue is acc += d * (dx * sum) + c * sx. Also the
// block pieces the AMX kernel reads alike (kernels/amx/panel_gemm.c).
#ifndef CALM_AVX512_PANEL_TILE_H
#define CALM_AVX512_PANEL_TILE_H

#include <immintrin.h>
#include <string.h>

#include "../kernels.h"

// Most tokens in a tile: 8 code vectors, 16 accumulators, d, c and the temporaries fit the 32 zmm
// registers.
#define CALM_PANEL_TILE_MAX 16

// The scales of the super-block holding block b of a k_scales panel: d and -dmin as 16 floats
// each. The tiles convert them once per super-block and panel.
CALM_INLINE void calm_panel_super(const uint8_t *panel, int b, const int bits, __m512 *sd,
                                  __m512 *sn) {
    const uint8_t *s = panel + calm_panel_super_at(bits, b);
    *sd = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)s));
    *sn = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(s + 32)));
}

// d and c of block b of a panel as 16 floats each: the f16 header of the block, or with k_scales
// the super-block's d and -dmin (sd, sn of calm_panel_super; unused otherwise) times the block's
// sc and m, exact in f32.
CALM_INLINE void calm_panel_scales(const uint8_t *panel, int b, const int bits, const int ks,
                                   __m512 sd, __m512 sn, __m512 *d, __m512 *c) {
    const uint8_t *h = panel + calm_panel_scales_at(bits, ks, b);
    if (ks) {
        __m512 sc = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_load_si128((const __m128i *)h)));
        __m512 m =
            _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_load_si128((const __m128i *)(h + 16))));
        *d = _mm512_mul_ps(sd, sc);
        *c = _mm512_mul_ps(sn, m);
    } else {
        *d = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)h));
        *c = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(h + 32)));
    }
}

// The codes of a panel block as eight vectors of unsigned bytes, vector k holding columns 4k..4k+3
// of every row (the nibbles split: low ones are columns 0-15, high ones 16-31; 5 bits: each
// nibble or'ed with its bit of the fifth-bit plane moved to bit 4, the plane masked after the
// 16-bit shift because bits carry across bytes).
CALM_INLINE void calm_panel_codes(const uint8_t *codes, const int bits, __m512i w[8]) {
    if (bits == 8) {
#pragma GCC unroll 8
        for (int k = 0; k < 8; k++) w[k] = _mm512_load_si512((const void *)(codes + 64 * k));
        return;
    }
    const __m512i lo4 = _mm512_set1_epi8(0xf), b4 = _mm512_set1_epi8(0x10);
    const __m512i plane =
        bits == 5 ? _mm512_load_si512((const void *)(codes + 256)) : _mm512_setzero_si512();
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        __m512i v = _mm512_load_si512((const void *)(codes + 64 * k));
        __m512i hi = _mm512_srli_epi16(v, 4);
        if (bits == 4) {
            w[k] = _mm512_and_si512(v, lo4);
            w[k + 4] = _mm512_and_si512(hi, lo4);
        } else { // (nibble & 0x0f) | (plane bit & 0x10): 0xEC is A & C | B
            w[k] = _mm512_ternarylogic_epi32(
                v, _mm512_and_si512(_mm512_slli_epi16(plane, 4 - k), b4), lo4, 0xEC);
            w[k + 4] = _mm512_ternarylogic_epi32(
                hi, _mm512_and_si512(_mm512_srli_epi16(plane, k), b4), lo4, 0xEC);
        }
    }
}

// Writes the accumulators of np panels x nt tokens (acc[q * nt + t]) to y + t * ys + q * 16, the
// lanes of `keep` only (a short last panel's rows).
CALM_INLINE void calm_panel_store(float *y, size_t ys, __mmask16 keep, const __m512 *acc,
                                  const int np, const int nt) {
#pragma GCC unroll 4
    for (int q = 0; q < np; q++)
#pragma GCC unroll 16
        for (int t = 0; t < nt; t++)
            _mm512_mask_storeu_ps(y + (size_t)t * ys + q * CALM_PANEL, keep, acc[q * nt + t]);
}

// Tokens 0..nt-1 of x (q8x rows xs bytes apart) against np panels of nb blocks each (the first at
// panel, the others pstride bytes after each other) of the affine kind (bits, ks); writes the
// first lanes of `keep` (the panel's rows) of token t and panel q to y + t * ys + q * 16. The np
// panels are walked block by block side by side: np memory streams (kernels/kernels.h,
// calm_panel_dot_fn). np <= CALM_PANEL_GROUP, np * nt <= CALM_PANEL_TILE_MAX.
CALM_INLINE void calm_panel_tile(const uint8_t *panel, int nb, size_t pstride, const void *x,
                                 size_t xs, float *y, size_t ys, __mmask16 keep, const int bits,
                                 const int ks, const int np, const int nt) {
    __m512 acc[CALM_PANEL_TILE_MAX];
#pragma GCC unroll 16
    for (int i = 0; i < np * nt; i++) acc[i] = _mm512_setzero_ps();
    __m512 sd[CALM_PANEL_GROUP] = {0}, sn[CALM_PANEL_GROUP] = {0}; // k_scales: d, -dmin per panel
    for (int b = 0; b < nb; b++) {
#pragma GCC unroll 4
        for (int q = 0; q < np; q++) {
            __m512 d, c;
            __m512i w[8];
            if (ks && b % CALM_PANEL_SUPER == 0)
                calm_panel_super(panel + q * pstride, b, bits, &sd[q], &sn[q]);
            calm_panel_scales(panel + q * pstride, b, bits, ks, sd[q], sn[q], &d, &c);
            calm_panel_codes(panel + q * pstride + calm_panel_codes_at(bits, ks, b), bits, w);
#pragma GCC unroll 16
            for (int t = 0; t < nt; t++) {
                const block_q8x *a = calm_q8x_row(x, xs, t) + b;
                // two chains of four: with the tile's other tokens they hide the vpdpbusd latency
                __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
#pragma GCC unroll 4
                for (int k = 0; k < 8; k += 2) {
                    int32_t x0, x1;
                    memcpy(&x0, a->qs + 4 * k, 4);
                    memcpy(&x1, a->qs + 4 * k + 4, 4);
                    s0 = _mm512_dpbusd_epi32(s0, w[k], _mm512_set1_epi32(x0));
                    s1 = _mm512_dpbusd_epi32(s1, w[k + 1], _mm512_set1_epi32(x1));
                }
                __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)),
                                         _mm512_set1_ps(a->d));
                acc[q * nt + t] = _mm512_fmadd_ps(d, f, acc[q * nt + t]);
                acc[q * nt + t] = _mm512_fmadd_ps(c, _mm512_set1_ps(a->s), acc[q * nt + t]);
            }
        }
    }
    calm_panel_store(y, ys, keep, acc, np, nt);
}

#endif
