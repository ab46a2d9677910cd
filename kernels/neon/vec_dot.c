// NEON + dotprod kernels: sdot (vdotq_s32) sums four s8 x s8 products into each int32 lane.
#include <arm_neon.h>
#include <string.h>

#include "../kernels.h"

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

#define XQ(t) ((const block_q8x *)((const uint8_t *)x + (t)*xs))

static void dot_q4_0(int n, const void *w, const void *x, size_t xs, int nt, float *out) {
    const block_q4_0 *b = w;
    float32x4_t acc[CALM_NT];
    for (int t = 0; t < nt; t++) acc[t] = vdupq_n_f32(0);
    for (int i = 0; i < n / 32; i++) {
        int8x16_t lo, hi;
        nibbles(b[i].qs, &lo, &hi);
        lo = vsubq_s8(lo, vdupq_n_s8(8)); // signed codes: sdot takes them as they are
        hi = vsubq_s8(hi, vdupq_n_s8(8));
        float d = f16(b[i].d);
        for (int t = 0; t < nt; t++) {
            const block_q8x *a = XQ(t) + i;
            acc[t] = vmlaq_n_f32(acc[t], vcvtq_f32_s32(dot32(lo, hi, a->qs)), d * a->d);
        }
    }
    for (int t = 0; t < nt; t++) out[t] = vaddvq_f32(acc[t]);
}

static void dot_q4_1(int n, const void *w, const void *x, size_t xs, int nt, float *out) {
    const block_q4_1 *b = w;
    float32x4_t acc[CALM_NT];
    float corr[CALM_NT] = {0};
    for (int t = 0; t < nt; t++) acc[t] = vdupq_n_f32(0);
    for (int i = 0; i < n / 32; i++) {
        int8x16_t lo, hi;
        nibbles(b[i].qs, &lo, &hi);
        float d = f16(b[i].d), m = f16(b[i].m);
        for (int t = 0; t < nt; t++) {
            const block_q8x *a = XQ(t) + i;
            acc[t] = vmlaq_n_f32(acc[t], vcvtq_f32_s32(dot32(lo, hi, a->qs)), d * a->d);
            corr[t] += m * a->s;
        }
    }
    for (int t = 0; t < nt; t++) out[t] = vaddvq_f32(acc[t]) + corr[t];
}

static void dot_q8_0(int n, const void *w, const void *x, size_t xs, int nt, float *out) {
    const block_q8_0 *b = w;
    float32x4_t acc[CALM_NT];
    for (int t = 0; t < nt; t++) acc[t] = vdupq_n_f32(0);
    for (int i = 0; i < n / 32; i++) {
        int8x16_t lo = vld1q_s8(b[i].qs), hi = vld1q_s8(b[i].qs + 16);
        float d = f16(b[i].d);
        for (int t = 0; t < nt; t++) {
            const block_q8x *a = XQ(t) + i;
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
static void dot_qg(int n, const void *w, const void *x, size_t xs, int nt, float *out, int bits,
                   int g) {
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
                const block_q8x *a = XQ(t) + i0 / 32 + c;
                acc[t] = vmlaq_n_f32(acc[t], vcvtq_f32_s32(dot32(lo, hi, a->qs)), d * a->d);
                corr[t] += (m + off) * a->s;
            }
        }
    }
    for (int t = 0; t < nt; t++) out[t] = vaddvq_f32(acc[t]) + corr[t];
}

QG_DOT_ALL

static inline float32x4_t load4(const void *w, uint32_t type, int i) {
    if (type == CALM_TYPE_F32) return vld1q_f32((const float *)w + i);
    uint16x4_t h = vld1_u16((const uint16_t *)w + i);
    if (type == CALM_TYPE_F16) return vcvt_f32_f16(vreinterpret_f16_u16(h));
    return vreinterpretq_f32_u32(vshll_n_u16(h, 16));
}

static void dot_float(int n, const void *w, uint32_t type, const void *x, size_t xs, int nt,
                      float *out) {
    float32x4_t acc[CALM_NT];
    for (int t = 0; t < nt; t++) acc[t] = vdupq_n_f32(0);
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t wv = load4(w, type, i);
        for (int t = 0; t < nt; t++)
            acc[t] =
                vfmaq_f32(acc[t], wv, vld1q_f32((const float *)((const uint8_t *)x + t * xs) + i));
    }
    for (int t = 0; t < nt; t++) out[t] = vaddvq_f32(acc[t]);
    calm_dot_tail(n, i, w, type, x, xs, nt, out);
}

static void dot_kquant(int n, const void *w, uint32_t type, const void *x, size_t xs, int nt,
                       float *out) {
    const calm_type_traits *tt = calm_type_get(type);
    float buf[QK_K];
    float32x4_t acc[CALM_NT];
    for (int t = 0; t < nt; t++) acc[t] = vdupq_n_f32(0);
    const int bs = tt->block_size; // 32 (Q5_0, Q5_1) or 256 (K-quants)
    for (int i = 0; i < n; i += bs) {
        tt->to_float((const uint8_t *)w + (size_t)(i / bs) * tt->type_size, buf, bs);
        for (int j = 0; j < bs; j += 4) {
            float32x4_t wv = vld1q_f32(buf + j);
            for (int t = 0; t < nt; t++)
                acc[t] = vfmaq_f32(acc[t], wv,
                                   vld1q_f32((const float *)((const uint8_t *)x + t * xs) + i + j));
        }
    }
    for (int t = 0; t < nt; t++) out[t] = vaddvq_f32(acc[t]);
}

#define WRAP(name, fn, type)                                                                       \
    static void name(int n, const void *w, const void *x, size_t xs, int nt, float *o) {           \
        fn(n, w, type, x, xs, nt, o);                                                              \
    }
WRAP(dot_f32, dot_float, CALM_TYPE_F32)
WRAP(dot_f16, dot_float, CALM_TYPE_F16)
WRAP(dot_bf16, dot_float, CALM_TYPE_BF16)
WRAP(dot_q5_0, dot_kquant, CALM_TYPE_Q5_0)
WRAP(dot_q5_1, dot_kquant, CALM_TYPE_Q5_1)
WRAP(dot_q4_k, dot_kquant, CALM_TYPE_Q4_K)
WRAP(dot_q5_k, dot_kquant, CALM_TYPE_Q5_K)

// W8A8: sdot takes the signed codes as they are.
static void dot_w8a8(int n, const void *w, const void *x, size_t xs, int nt, float *out) {
    calm_q8t_head hw;
    memcpy(&hw, w, sizeof hw);
    const int8_t *qw = (const int8_t *)w + sizeof hw;
    for (int t = 0; t < nt; t++) {
        const uint8_t *xt = (const uint8_t *)x + t * xs;
        calm_q8t_head hx;
        memcpy(&hx, xt, sizeof hx);
        const int8_t *qx = (const int8_t *)(xt + sizeof hx);
        int32x4_t acc = vdupq_n_s32(0);
        for (int i = 0; i < n; i += 16) acc = vdotq_s32(acc, vld1q_s8(qw + i), vld1q_s8(qx + i));
        out[t] = hw.d * hx.d * (float)vaddvq_s32(acc);
    }
}

const calm_isa calm_isa_neon = {
    "neon",
    {
        DOT_TABLE,
    },
    quantize_q8x,
    NULL,
    NULL, // no packed panels: sdot takes signed codes, the panels hold unsigned ones
    NULL, // attention, SiLU and the Hadamard transform: the scalar kernels
    NULL,
    NULL,
};
