// Q6_K panel blocks (kernels/pack.h) in 512-bit registers, shared by the VNNI panel_dot
// (kernels/avx512/vec_dot.c) and the AMX panel_gemm (kernels/amx/panel_gemm.c).
#ifndef CALM_AVX512_PANEL_Q6_K_H
#define CALM_AVX512_PANEL_Q6_K_H

#include <immintrin.h>

#include "../kernels.h"

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

#endif
