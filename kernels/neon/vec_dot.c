// NEON + dotprod kernels: sdot (vdotq_s32) sums four s8 x s8 products into each int32 lane. The
// float-activation kernels are the shared bodies of kernels/simd_float.h on NEON vectors.
#include <arm_neon.h>
#include <string.h>

#include "../simd_float.h"

static inline float f16(calm_f16 h) {
    __fp16 v;
    memcpy(&v, &h, 2);
    return (float)v;
}

// 16 bytes of nibbles -> low nibbles (elements 0..15) and high nibbles (16..31).
static inline void nibbles(const uint8_t *qs, int8x16_t *lo, int8x16_t *hi) {
    uint8x16_t v = vld1q_u8(qs);
    *lo = vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(0xf)));
    *hi = vreinterpretq_s8_u8(vshrq_n_u8(v, 4));
}

static inline int32x4_t dot32(int8x16_t lo, int8x16_t hi, const int8_t *x) {
    return vdotq_s32(vdotq_s32(vdupq_n_s32(0), lo, vld1q_s8(x)), hi, vld1q_s8(x + 16));
}

static void quantize_q8x(const float *x, block_q8x *y, int n) {
    for (int i = 0; i < n / 32; i++) {
        float32x4_t v[8];
        float32x4_t amax = vdupq_n_f32(0);
        for (int k = 0; k < 8; k++) {
            v[k] = vld1q_f32(x + i * 32 + 4 * k);
            amax = vmaxq_f32(amax, vabsq_f32(v[k]));
        }
        float d = vmaxvq_f32(amax) / 127.0f, id = d ? 1.0f / d : 0.0f;
        int32x4_t sum = vdupq_n_s32(0);
        for (int k = 0; k < 8; k++) {
            int32x4_t q = vcvtnq_s32_f32(vmulq_n_f32(v[k], id)); // nearest, ties to even
            sum = vaddq_s32(sum, q);
            int16x4_t h = vmovn_s32(q);
            int8x8_t b = vmovn_s16(vcombine_s16(h, h));
            memcpy(y[i].qs + 4 * k, &b, 4);
        }
        y[i].d = d;
        y[i].s = d * (float)vaddvq_s32(sum);
    }
}

// The 4-bit ggml formats share everything but the offset: q4_0 subtracts 8, q4_1 adds m. The
// codes 0..15 are valid s8 as they are.
static inline __attribute__((always_inline)) void dot_4bit_body(int n, const void *w, const void *x,
                                                                size_t xs, float *out,
                                                                const int has_m, const int nt) {
    const size_t bsize = has_m ? sizeof(block_q4_1) : sizeof(block_q4_0);
    float32x4_t acc[CALM_NT];
    float corr[CALM_NT] = {0};
    for (int t = 0; t < nt; t++) acc[t] = vdupq_n_f32(0);
    for (int i = 0; i < n / 32; i++) {
        const uint8_t *b = (const uint8_t *)w + i * bsize;
        calm_f16 h[2];
        memcpy(h, b, 4);
        float d = f16(h[0]), m = has_m ? f16(h[1]) : -8.0f * d;
        int8x16_t lo, hi;
        nibbles(b + (has_m ? 4 : 2), &lo, &hi);
        for (int t = 0; t < nt; t++) {
            const block_q8x *a = calm_q8x_row(x, xs, t) + i;
            acc[t] = vmlaq_n_f32(acc[t], vcvtq_f32_s32(dot32(lo, hi, a->qs)), d * a->d);
            corr[t] += m * a->s;
        }
    }
    for (int t = 0; t < nt; t++) out[t] = vaddvq_f32(acc[t]) + corr[t];
}

static inline __attribute__((always_inline)) void
dot_q8_0_body(int n, const void *w, const void *x, size_t xs, float *out, const int nt) {
    const block_q8_0 *b = w;
    float32x4_t acc[CALM_NT];
    for (int t = 0; t < nt; t++) acc[t] = vdupq_n_f32(0);
    for (int i = 0; i < n / 32; i++) {
        int8x16_t lo = vld1q_s8(b[i].qs), hi = vld1q_s8(b[i].qs + 16);
        float d = f16(b[i].d);
        for (int t = 0; t < nt; t++) {
            const block_q8x *a = calm_q8x_row(x, xs, t) + i;
            acc[t] = vmlaq_n_f32(acc[t], vcvtq_f32_s32(dot32(lo, hi, a->qs)), d * a->d);
        }
    }
    for (int t = 0; t < nt; t++) out[t] = vaddvq_f32(acc[t]);
}

// Codes of column block c (32 weights) of a 2- or 3-bit calm group with glen weights: byte j of
// the 2-bit plane holds weights j, j+8, j+16, j+24 (shifts 0, 2, 4, 6); the third bit of weight
// k is bit k % 8 of byte k / 8 of the high plane.
static inline void qg_low_bits(const uint8_t *codes, int bits, int glen, int c, int8x16_t *lo,
                               int8x16_t *hi) {
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
    *lo = vreinterpretq_s8_u8(l), *hi = vreinterpretq_s8_u8(h);
}

// calm group formats. 2-, 3- and 4-bit codes are small enough to be s8 as they are; 8-bit codes
// reach 255: they are taken as q - 128 (s8) and the 128 * sum(x) this removes is added back from
// the block sums.
static inline __attribute__((always_inline)) void dot_qg_body(int n, const void *w, const void *x,
                                                              size_t xs, float *out, const int bits,
                                                              const int g, const int nt) {
    float32x4_t acc[CALM_NT];
    float corr[CALM_NT] = {0};
    for (int t = 0; t < nt; t++) acc[t] = vdupq_n_f32(0);
    const uint8_t *p = w;
    for (int i0 = 0; i0 < n; i0 += g, p += calm_qg_group_bytes(bits, g)) {
        int glen = n - i0 < g ? n - i0 : g; // a shorter last group ends the loop
        float d = f16((calm_f16)(p[0] | p[1] << 8)), m = f16((calm_f16)(p[2] | p[3] << 8));
        float off = bits == 8 ? 128.0f * d : 0.0f;
        for (int c = 0; c < glen / 32; c++) {
            int8x16_t lo, hi;
            if (bits == 4) {
                nibbles(p + 4 + c * 16, &lo, &hi);
            } else if (bits < 4) {
                qg_low_bits(p + 4, bits, glen, c, &lo, &hi);
            } else {
                lo = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(p + 4 + c * 32), vdupq_n_u8(0x80)));
                hi = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(p + 4 + c * 32 + 16), vdupq_n_u8(0x80)));
            }
            for (int t = 0; t < nt; t++) {
                const block_q8x *a = calm_q8x_row(x, xs, t) + i0 / 32 + c;
                acc[t] = vmlaq_n_f32(acc[t], vcvtq_f32_s32(dot32(lo, hi, a->qs)), d * a->d);
                corr[t] += (m + off) * a->s;
            }
        }
    }
    for (int t = 0; t < nt; t++) out[t] = vaddvq_f32(acc[t]) + corr[t];
}

CALM_VEC_DOT_BY_NT(dot_q4_0_q8x, dot_4bit_body, 0)
CALM_VEC_DOT_BY_NT(dot_q4_1_q8x, dot_4bit_body, 1)
CALM_VEC_DOT_BY_NT(dot_q8_0_q8x, dot_q8_0_body)
CALM_QG_DOTS(dot_qg_body)
CALM_FLOAT_DOTS(calm_dot_float_body, calm_dot_dequant_body)

// W8A8: sdot takes the signed codes as they are.
static void dot_w8a8_q8t(int n, const void *w, const void *x, size_t xs, int nt, float *out) {
    const int8_t *qw, *qx;
    calm_q8t_head hw = calm_q8t_read(w, &qw);
    for (int t = 0; t < nt; t++) {
        calm_q8t_head hx = calm_q8t_read((const uint8_t *)x + t * xs, &qx);
        int32x4_t acc = vdupq_n_s32(0);
        for (int i = 0; i < n; i += 16) acc = vdotq_s32(acc, vld1q_s8(qw + i), vld1q_s8(qx + i));
        out[t] = hw.d * hx.d * (float)vaddvq_s32(acc);
    }
}

// Attention, SiLU and the Hadamard transform are the scalar kernels; no packed panels: sdot takes
// signed codes, the panels hold unsigned ones.
const calm_isa calm_isa_neon = {
    .name = "neon",
    .vec_dot = {CALM_DOT_TABLE},
    .quantize_q8x = quantize_q8x,
};
