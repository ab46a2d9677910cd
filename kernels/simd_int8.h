// The integer-block kernels written once: Q4_0/Q4_1, Q8_0 and calm's group formats dotted a
// 32-block at a time with q8x activations, each block's integer sum scaled into float
// accumulators. The ISA supplies the primitives, chosen by the flags the including file is
// compiled with: a block-sum vector (calm_vb), the unpacking of a block's codes (calm_codes_*) and
// their dot with 32 int8 activations (vpmaddubsw or vpdpbusd on x86, sdot on NEON). A new ISA adds
// its branch of primitives here and instantiates the bodies with CALM_VEC_DOT_BY_NT.
#ifndef CALM_SIMD_INT8_H
#define CALM_SIMD_INT8_H

#include <string.h>

#include "kernels.h"

#if defined(__AVX2__)
#include "x86_common.h"
typedef __m256 calm_vb;
// u: the codes as unsigned bytes (|q| for signed ones); s: signed codes, whose sign moves to the
// activations (llama.cpp's trick: |w|, |x| <= 127 keep vpmaddubsw's pair sums from saturating).
typedef struct {
    __m256i u, s;
} calm_codes;
enum { CALM_U8_OFFSET = 0 }; // 8-bit group codes are dotted as they are
CALM_INLINE calm_vb calm_vb_zero(void) {
    return _mm256_setzero_ps();
}
CALM_INLINE calm_vb calm_vb_fma(float s, calm_vb p, calm_vb acc) {
    return _mm256_fmadd_ps(_mm256_set1_ps(s), p, acc);
}
CALM_INLINE float calm_vb_hsum(calm_vb v) {
    return calm_hsum256(v);
}
CALM_INLINE float calm_vb_f16(calm_f16 h) {
    return calm_f16c(h);
}
CALM_INLINE calm_codes calm_codes_nibbles(const uint8_t *qs) {
    return (calm_codes){calm_nibbles(qs), _mm256_setzero_si256()};
}
CALM_INLINE calm_codes calm_codes_low_bits(const uint8_t *codes, int bits, int glen, int c) {
    return (calm_codes){calm_qg_low_bits(codes, bits, glen, c), _mm256_setzero_si256()};
}
CALM_INLINE calm_codes calm_codes_u8(const uint8_t *q) {
    return (calm_codes){_mm256_loadu_si256((const __m256i *)q), _mm256_setzero_si256()};
}
CALM_INLINE calm_codes calm_codes_s8(const int8_t *q) {
    __m256i v = _mm256_loadu_si256((const __m256i *)q);
    return (calm_codes){_mm256_sign_epi8(v, v), v};
}
// Codes of at most 4 bits, all 8 bits of calm_codes_u8, and signed codes.
CALM_INLINE calm_vb calm_codes_dot(calm_codes c, const int8_t *x) {
    return calm_x86_dot_us(c.u, _mm256_loadu_si256((const __m256i *)x));
}
CALM_INLINE calm_vb calm_codes_dot_u8(calm_codes c, const int8_t *x) {
    return calm_x86_dot_u8(c.u, _mm256_loadu_si256((const __m256i *)x));
}
CALM_INLINE calm_vb calm_codes_dot_s8(calm_codes c, const int8_t *x) {
    return calm_x86_dot_us(c.u, _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)x), c.s));
}
#elif defined(__ARM_NEON)
#include <arm_neon.h>
typedef float32x4_t calm_vb;
// sdot takes signed bytes: codes of up to 4 bits and signed codes as they are, 8-bit group codes
// as q - 128 (the body adds 128 * d back through the block sums).
typedef struct {
    int8x16_t lo, hi; // codes 0..15 and 16..31 of the block
} calm_codes;
enum { CALM_U8_OFFSET = 128 };
CALM_INLINE calm_vb calm_vb_zero(void) {
    return vdupq_n_f32(0);
}
CALM_INLINE calm_vb calm_vb_fma(float s, calm_vb p, calm_vb acc) {
    return vmlaq_n_f32(acc, p, s);
}
CALM_INLINE float calm_vb_hsum(calm_vb v) {
    return vaddvq_f32(v);
}
CALM_INLINE float calm_vb_f16(calm_f16 h) {
    __fp16 v;
    memcpy(&v, &h, 2);
    return (float)v;
}
// 16 bytes of nibbles -> low nibbles (codes 0..15) and high nibbles (16..31).
CALM_INLINE calm_codes calm_codes_nibbles(const uint8_t *qs) {
    uint8x16_t v = vld1q_u8(qs);
    return (calm_codes){vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(0xf))),
                        vreinterpretq_s8_u8(vshrq_n_u8(v, 4))};
}
// Codes of column block c (32 weights) of a 2- or 3-bit calm group with glen weights: byte j of
// the 2-bit plane holds weights j, j+8, j+16, j+24 (shifts 0, 2, 4, 6); the third bit of weight
// k is bit k % 8 of byte k / 8 of the high plane.
CALM_INLINE calm_codes calm_codes_low_bits(const uint8_t *codes, int bits, int glen, int c) {
    uint8x8_t b = vld1_u8(codes + c * 8), three = vdup_n_u8(3);
    uint8x16_t l = vcombine_u8(vand_u8(b, three), vand_u8(vshr_n_u8(b, 2), three));
    uint8x16_t h = vcombine_u8(vand_u8(vshr_n_u8(b, 4), three), vshr_n_u8(b, 6));
    if (bits == 3) {
        const uint8_t *hb = codes + glen / 4 + c * 4;
        static const uint8_t bit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
        uint8x16_t m = vld1q_u8(bit), four = vdupq_n_u8(4);
        uint8x16_t b01 = vcombine_u8(vdup_n_u8(hb[0]), vdup_n_u8(hb[1]));
        uint8x16_t b23 = vcombine_u8(vdup_n_u8(hb[2]), vdup_n_u8(hb[3]));
        l = vorrq_u8(l, vandq_u8(vtstq_u8(b01, m), four));
        h = vorrq_u8(h, vandq_u8(vtstq_u8(b23, m), four));
    }
    return (calm_codes){vreinterpretq_s8_u8(l), vreinterpretq_s8_u8(h)};
}
CALM_INLINE calm_codes calm_codes_u8(const uint8_t *q) {
    const uint8x16_t flip = vdupq_n_u8(0x80);
    return (calm_codes){vreinterpretq_s8_u8(veorq_u8(vld1q_u8(q), flip)),
                        vreinterpretq_s8_u8(veorq_u8(vld1q_u8(q + 16), flip))};
}
CALM_INLINE calm_codes calm_codes_s8(const int8_t *q) {
    return (calm_codes){vld1q_s8(q), vld1q_s8(q + 16)};
}
CALM_INLINE calm_vb calm_codes_dot(calm_codes c, const int8_t *x) {
    return vcvtq_f32_s32(
        vdotq_s32(vdotq_s32(vdupq_n_s32(0), c.lo, vld1q_s8(x)), c.hi, vld1q_s8(x + 16)));
}
CALM_INLINE calm_vb calm_codes_dot_u8(calm_codes c, const int8_t *x) {
    return calm_codes_dot(c, x);
}
CALM_INLINE calm_vb calm_codes_dot_s8(calm_codes c, const int8_t *x) {
    return calm_codes_dot(c, x);
}
#else
#error "kernels/simd_int8.h: no integer dot for this target"
#endif

// Q4_0 and Q4_1 share everything but the offset: w = d * q + m with m = -8d for Q4_0 (summed as
// d * s and scaled once at the end).
CALM_INLINE void calm_dot_4bit_body(int n, const void *w, const void *x, size_t xs, float *out,
                                    const int has_m, const int nt) {
    calm_vb acc[CALM_NT];
    float corr[CALM_NT] = {0};
    for (int t = 0; t < nt; t++) acc[t] = calm_vb_zero();
    for (int i = 0; i < n / 32; i++) {
        float d, m;
        const uint8_t *qs;
        if (has_m) { // the typed loads keep the scales' loads next to their use
            const block_q4_1 *b = (const block_q4_1 *)w + i;
            d = calm_vb_f16(b->d), m = calm_vb_f16(b->m), qs = b->qs;
        } else {
            const block_q4_0 *b = (const block_q4_0 *)w + i;
            d = calm_vb_f16(b->d), m = d, qs = b->qs; // times -8 at the end
        }
        calm_codes q = calm_codes_nibbles(qs);
        for (int t = 0; t < nt; t++) {
            const block_q8x *a = calm_q8x_row(x, xs, t) + i;
            acc[t] = calm_vb_fma(d * a->d, calm_codes_dot(q, a->qs), acc[t]);
            corr[t] += m * a->s;
        }
    }
    for (int t = 0; t < nt; t++) out[t] = calm_vb_hsum(acc[t]) + (has_m ? 1.0f : -8.0f) * corr[t];
}

// Q8_0: signed codes, w = d * q.
CALM_INLINE void calm_dot_q8_0_body(int n, const void *w, const void *x, size_t xs, float *out,
                                    const int nt) {
    const block_q8_0 *b = w;
    calm_vb acc[CALM_NT];
    for (int t = 0; t < nt; t++) acc[t] = calm_vb_zero();
    for (int i = 0; i < n / 32; i++) {
        calm_codes q = calm_codes_s8(b[i].qs);
        float d = calm_vb_f16(b[i].d);
        for (int t = 0; t < nt; t++) {
            const block_q8x *a = calm_q8x_row(x, xs, t) + i;
            acc[t] = calm_vb_fma(d * a->d, calm_codes_dot_s8(q, a->qs), acc[t]);
        }
    }
    for (int t = 0; t < nt; t++) out[t] = calm_vb_hsum(acc[t]);
}

// calm group formats: per group w = d * q + m, so w . x = sum_blocks d * dx * sum(q * xq) plus
// m * sum(s) (s = dx * sum(xq) of each activation block); 8-bit codes dotted as q - off add
// off * d to m.
CALM_INLINE void calm_dot_qg_body(int n, const void *w, const void *x, size_t xs, float *out,
                                  const int bits, const int g, const int nt) {
    calm_vb acc[CALM_NT];
    float corr[CALM_NT] = {0};
    for (int t = 0; t < nt; t++) acc[t] = calm_vb_zero();
    const uint8_t *p = w;
    for (int i0 = 0; i0 < n; i0 += g, p += calm_qg_group_bytes(bits, g)) {
        int glen = n - i0 < g ? n - i0 : g; // a shorter last group ends the loop
        calm_f16 h[2];
        memcpy(h, p, 4);
        float d = calm_vb_f16(h[0]), m = calm_vb_f16(h[1]);
        if (bits == 8 && CALM_U8_OFFSET) m += (float)CALM_U8_OFFSET * d;
        for (int c = 0; c < glen / 32; c++) {
            calm_codes q = bits == 4   ? calm_codes_nibbles(p + 4 + c * 16)
                           : bits == 8 ? calm_codes_u8(p + 4 + c * 32)
                                       : calm_codes_low_bits(p + 4, bits, glen, c);
            for (int t = 0; t < nt; t++) {
                const block_q8x *a = calm_q8x_row(x, xs, t) + i0 / 32 + c;
                calm_vb s = bits == 8 ? calm_codes_dot_u8(q, a->qs) : calm_codes_dot(q, a->qs);
                acc[t] = calm_vb_fma(d * a->d, s, acc[t]);
                corr[t] += m * a->s;
            }
        }
    }
    for (int t = 0; t < nt; t++) out[t] = calm_vb_hsum(acc[t]) + corr[t];
}

#endif
