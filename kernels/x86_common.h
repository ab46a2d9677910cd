// The x86 integer-dot pieces shared by the AVX2 and AVX-512 kernel files, each compiled with its
// own flags: the u8 x s8 block dot is vpdpbusd where the file is built with AVX512-VNNI and
// vpmaddubsw + vpmaddwd otherwise; the unpacking of 4-, 2- and 3-bit codes; and the 256-bit Q6_K
// body written once on top of them. kernels/simd_int8.h builds the other integer formats' bodies
// on these primitives.
#ifndef CALM_X86_COMMON_H
#define CALM_X86_COMMON_H

#include <immintrin.h>
#include <string.h>

#include "kernels.h"

static inline float calm_hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// 16 bytes of nibbles -> 32 bytes: low nibbles first, then high nibbles (ggml's 4-bit order).
static inline __m256i calm_nibbles(const uint8_t *qs) {
    __m128i v = _mm_loadu_si128((const __m128i *)qs), m = _mm_set1_epi8(0xf);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), m), _mm_and_si128(v, m));
}

// Codes of column block c (32 weights) of a 2- or 3-bit calm group with glen weights, as bytes:
// byte j of the 2-bit plane holds weights j, j+8, j+16, j+24, so the 8 bytes broadcast to four
// 64-bit lanes shifted by 0, 2, 4, 6 put weight 8i + j in byte j of lane i; the third bit of
// weight k is bit k % 8 of byte k / 8 of the high plane.
static inline __m256i calm_qg_low_bits(const uint8_t *codes, int bits, int glen, int c) {
    uint64_t lo;
    memcpy(&lo, codes + c * 8, 8);
    __m256i q = _mm256_and_si256(
        _mm256_srlv_epi64(_mm256_set1_epi64x((long long)lo), _mm256_setr_epi64x(0, 2, 4, 6)),
        _mm256_set1_epi8(3));
    if (bits == 3) {
        uint32_t hb;
        memcpy(&hb, codes + glen / 4 + c * 4, 4);
        const __m256i idx = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2,
                                             2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
        const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
        __m256i sel = _mm256_and_si256(_mm256_shuffle_epi8(_mm256_set1_epi32((int)hb), idx), bit);
        q = _mm256_or_si256(q, _mm256_and_si256(_mm256_cmpeq_epi8(sel, bit), _mm256_set1_epi8(4)));
    }
    return q;
}

static inline float calm_f16c(calm_f16 h) {
    return _cvtsh_ss(h);
}

// Sum of u[i] * s[i] over 32 bytes as 8 float partial sums, 4 products each. With vpmaddubsw the
// 16-bit pair sums must not saturate: u <= 15, or |u|, |s| <= 127 (the sign trick).
static inline __m256 calm_x86_dot_us(__m256i u, __m256i s) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    return _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s));
#else
    __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
    return _mm256_cvtepi32_ps(p);
#endif
}

// The same for u over the full u8 range (8-bit group codes): vpdpbusd takes it as it is, AVX2
// widens both operands to 16 bits.
static inline __m256 calm_x86_dot_u8(__m256i u, __m256i s) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    return calm_x86_dot_us(u, s);
#else
    __m256i ul = _mm256_cvtepu8_epi16(_mm256_castsi256_si128(u)),
            uh = _mm256_cvtepu8_epi16(_mm256_extracti128_si256(u, 1));
    __m256i sl = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(s)),
            sh = _mm256_cvtepi8_epi16(_mm256_extracti128_si256(s, 1));
    return _mm256_cvtepi32_ps(
        _mm256_add_epi32(_mm256_madd_epi16(ul, sl), _mm256_madd_epi16(uh, sh)));
#endif
}

// Q6_K with 8-bit activations: 32 six-bit codes at a time as signed bytes (q - 32); lanes 0..3 of
// the dot hold the first 16 weights and 4..7 the second, each with its own scale.
CALM_INLINE void calm_x86_dot_q6_k_body(int n, const void *w, const void *x, size_t xs, float *out,
                                        const int nt) {
    const block_q6_k *b = w;
    __m256 acc[CALM_NT];
    for (int t = 0; t < nt; t++) acc[t] = _mm256_setzero_ps();
    const __m256i m4 = _mm256_set1_epi8(0xf), m2 = _mm256_set1_epi8(3), off = _mm256_set1_epi8(32);
    for (int i = 0; i < n / QK_K; i++) {
        float d = calm_f16c(b[i].d);
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = b[i].ql + 64 * h, *qh = b[i].qh + 32 * h;
            __m256i l0 = _mm256_loadu_si256((const __m256i *)ql),
                    l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
            __m256i hb = _mm256_loadu_si256((const __m256i *)qh), g[4], aq[4];
            g[0] = _mm256_or_si256(_mm256_and_si256(l0, m4),
                                   _mm256_slli_epi16(_mm256_and_si256(hb, m2), 4));
            g[1] = _mm256_or_si256(
                _mm256_and_si256(l1, m4),
                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m2), 4));
            g[2] = _mm256_or_si256(
                _mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 4), m2), 4));
            g[3] = _mm256_or_si256(
                _mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 6), m2), 4));
            for (int k = 0; k < 4; k++) {
                g[k] = _mm256_sub_epi8(g[k], off);
                aq[k] = _mm256_sign_epi8(g[k], g[k]);
            }
            for (int k = 0; k < 4; k++) {
                const int8_t *sc = b[i].scales + 8 * h + 2 * k;
                __m256 scv = _mm256_set_m128(_mm_set1_ps(d * sc[1]), _mm_set1_ps(d * sc[0]));
                for (int t = 0; t < nt; t++) {
                    const block_q8x *a = calm_q8x_row(x, xs, t) + i * (QK_K / 32) + 4 * h + k;
                    __m256i sx = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)a->qs), g[k]);
                    acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(scv, _mm256_set1_ps(a->d)),
                                             calm_x86_dot_us(aq[k], sx), acc[t]);
                }
            }
        }
    }
    for (int t = 0; t < nt; t++) out[t] = calm_hsum256(acc[t]);
}

#endif
