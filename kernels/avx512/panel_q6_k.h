// Q6_K panel blocks (kernels/pack.h) in 512-bit registers, shared by the VNNI panel_dot
// (kernels/avx512/vec_dot.c), the VNNI panel_gemm (kernels/avx512/panel_gemm.c) and the AMX
// panel_gemm (kernels/amx/panel_gemm.c).
#ifndef CALM_AVX512_PANEL_Q6_K_H
#define CALM_AVX512_PANEL_Q6_K_H

#include <immintrin.h>

#include "../kernels.h"
#include "panel_tile.h"

// The signed codes q - 32 of a Q6_K panel block: w[k] holds codes 4k..4k+3 of row j in 32-bit
// lane j, so w[0..3] are the block's first half of 16 columns and w[4..7] its second. Each is
// (low nibble) | (high 2 bits moved to bits 4-5), the high bits masked first because 16-bit shifts
// carry bits across bytes.
CALM_INLINE void calm_q6_k_panel_codes(const uint8_t *blk, __m512i w[8]) {
    const uint8_t *low = blk + 64, *high = low + 4 * 64;
    const __m512i m4 = _mm512_set1_epi8(0xf), m2 = _mm512_set1_epi8(0x30),
                  off = _mm512_set1_epi8(32);
    const __m512i h[2] = {_mm512_load_si512((const void *)high),
                          _mm512_load_si512((const void *)(high + 64))};
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++) {
        __m512i lo = _mm512_load_si512((const void *)(low + 64 * (k % 4)));
        if (k >= 4) lo = _mm512_srli_epi16(lo, 4);
        __m512i hi = h[k / 4]; // field k % 4 at bits 2 * (k % 4)
        if (k % 4 < 2)
            hi = _mm512_slli_epi16(hi, 4 - 2 * (k % 4));
        else if (k % 4 == 3)
            hi = _mm512_srli_epi16(hi, 2);
        // (lo & 0x0f) | (hi & 0x30): 0xEC is A & C | B
        __m512i q = _mm512_ternarylogic_epi32(lo, _mm512_and_si512(hi, m2), m4, 0xEC);
        w[k] = _mm512_sub_epi8(q, off);
    }
}

// d * sc of the two halves of a Q6_K panel block, row j in lane j.
CALM_INLINE void calm_q6_k_panel_scales(const uint8_t *blk, __m512 *d0, __m512 *d1) {
    __m512 d = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)blk));
    *d0 = _mm512_mul_ps(
        d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_load_si128((const __m128i *)(blk + 32)))));
    *d1 = _mm512_mul_ps(
        d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_load_si128((const __m128i *)(blk + 48)))));
}

// Q6_K panels: vpdpbusd takes the signed codes w = q - 32 as its signed operand and the
// activations flipped to unsigned (xq + 128), which adds 128 * sum(w) per row and half. That sum
// depends on the weights only, so it is made once per block (the four code vectors of a half
// summed as bytes fit int8) and the token sums start from its negation. A group of np panels is
// walked block by block side by side, as calm_panel_tile does; out rows are ys floats apart.
CALM_INLINE void calm_panel_q6_k_tile(const calm_packed *p, int panel, const void *x, size_t xs,
                                      float *out, size_t ys, __mmask16 keep, const int np,
                                      const int nt) {
    const int nb = p->cols / 32;
    const size_t pstride = (size_t)nb * p->block_bytes;
    const uint8_t *blk = p->data + (size_t)panel * pstride;
    __m512 acc[16];
#pragma GCC unroll 16
    for (int i = 0; i < np * nt; i++) acc[i] = _mm512_setzero_ps();
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    for (int b = 0; b < nb; b++, blk += p->block_bytes) {
#pragma GCC unroll 4
        for (int q = 0; q < np; q++) {
            __m512i w[8], base[2];
            calm_q6_k_panel_codes(blk + q * pstride, w);
#pragma GCC unroll 2
            for (int h = 0; h < 2; h++) {
                __m512i sw = _mm512_add_epi8(_mm512_add_epi8(w[4 * h], w[4 * h + 1]),
                                             _mm512_add_epi8(w[4 * h + 2], w[4 * h + 3]));
                base[h] = _mm512_sub_epi32(_mm512_setzero_si512(),
                                           _mm512_dpbusd_epi32(_mm512_setzero_si512(), flip, sw));
            }
            __m512 d0, d1;
            calm_q6_k_panel_scales(blk + q * pstride, &d0, &d1);
#pragma GCC unroll 16
            for (int t = 0; t < nt; t++) {
                const block_q8x *a = calm_q8x_row(x, xs, t) + b;
                _Alignas(32) int32_t xw[8];
                _mm256_store_si256((__m256i *)xw,
                                   _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)a->qs),
                                                    _mm512_castsi512_si256(flip)));
                __m512i s0 = base[0], s1 = base[1];
#pragma GCC unroll 4
                for (int k = 0; k < 4; k++) {
                    s0 = _mm512_dpbusd_epi32(s0, _mm512_set1_epi32(xw[k]), w[k]);
                    s1 = _mm512_dpbusd_epi32(s1, _mm512_set1_epi32(xw[k + 4]), w[k + 4]);
                }
                __m512 f = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s1), d1,
                                           _mm512_mul_ps(_mm512_cvtepi32_ps(s0), d0));
                acc[q * nt + t] = _mm512_fmadd_ps(f, _mm512_set1_ps(a->d), acc[q * nt + t]);
            }
        }
    }
    calm_panel_store(out, ys, keep, acc, np, nt);
}

#endif
