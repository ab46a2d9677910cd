#include "types.h"

#include <string.h>

float calm_f16_to_f32(calm_f16 h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { // subnormal: renormalise
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) {
                man <<= 1;
                exp--;
            }
            bits = sign | (exp << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

calm_f16 calm_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t absx = x & 0x7fffffff;
    if (absx >= 0x7f800000u) // inf or nan
        return (calm_f16)(sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 : 0));
    if (absx >= 0x477ff000u) // rounds to >= 65520: overflow to inf
        return (calm_f16)(sign | 0x7c00);
    if (absx < 0x38800000u) { // below the smallest normal half: subnormal or zero
        if (absx < 0x33000000u) return (calm_f16)sign;
        uint32_t e = absx >> 23;
        uint32_t m = (absx & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - e; // 14..24
        uint32_t half = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (calm_f16)(sign | half);
    }
    // normal: round to nearest even on the 13 dropped bits
    uint32_t r = absx + 0xfff + ((absx >> 13) & 1);
    return (calm_f16)(sign | ((r - (112u << 23)) >> 13));
}

float calm_bf16_to_f32(calm_bf16 h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

calm_bf16 calm_f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffff) > 0x7f800000u) return (calm_bf16)((x >> 16) | 0x40); // quiet nan
    x += 0x7fff + ((x >> 16) & 1);
    return (calm_bf16)(x >> 16);
}

static void f32_to_float(const void *src, float *dst, int64_t n) { memcpy(dst, src, (size_t)n * 4); }

static void f16_to_float(const void *src, float *dst, int64_t n) {
    const calm_f16 *s = src;
    for (int64_t i = 0; i < n; i++) dst[i] = calm_f16_to_f32(s[i]);
}

static void bf16_to_float(const void *src, float *dst, int64_t n) {
    const calm_bf16 *s = src;
    for (int64_t i = 0; i < n; i++) dst[i] = calm_bf16_to_f32(s[i]);
}

static void q4_0_to_float(const void *src, float *dst, int64_t n) {
    const block_q4_0 *b = src;
    for (int64_t i = 0; i < n / QK4_0; i++) {
        float d = calm_f16_to_f32(b[i].d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            dst[i * QK4_0 + j] = (float)((b[i].qs[j] & 0x0f) - 8) * d;
            dst[i * QK4_0 + j + QK4_0 / 2] = (float)((b[i].qs[j] >> 4) - 8) * d;
        }
    }
}

static void q4_1_to_float(const void *src, float *dst, int64_t n) {
    const block_q4_1 *b = src;
    for (int64_t i = 0; i < n / QK4_1; i++) {
        float d = calm_f16_to_f32(b[i].d), m = calm_f16_to_f32(b[i].m);
        for (int j = 0; j < QK4_1 / 2; j++) {
            dst[i * QK4_1 + j] = (float)(b[i].qs[j] & 0x0f) * d + m;
            dst[i * QK4_1 + j + QK4_1 / 2] = (float)(b[i].qs[j] >> 4) * d + m;
        }
    }
}

static void q8_0_to_float(const void *src, float *dst, int64_t n) {
    const block_q8_0 *b = src;
    for (int64_t i = 0; i < n / QK8_0; i++) {
        float d = calm_f16_to_f32(b[i].d);
        for (int j = 0; j < QK8_0; j++) dst[i * QK8_0 + j] = (float)b[i].qs[j] * d;
    }
}

static const calm_type_traits traits[CALM_TYPE_COUNT] = {
    [CALM_TYPE_F32] = {"f32", 1, 4, 1, f32_to_float},
    [CALM_TYPE_F16] = {"f16", 1, 2, 1, f16_to_float},
    [CALM_TYPE_BF16] = {"bf16", 1, 2, 1, bf16_to_float},
    [CALM_TYPE_Q4_0] = {"q4_0", QK4_0, sizeof(block_q4_0), 1, q4_0_to_float},
    [CALM_TYPE_Q4_1] = {"q4_1", QK4_1, sizeof(block_q4_1), 1, q4_1_to_float},
    [CALM_TYPE_Q8_0] = {"q8_0", QK8_0, sizeof(block_q8_0), 1, q8_0_to_float},
    // Known to ggml; listed so that error messages can name them.
    [6] = {"q5_0", 32, 22, 0, NULL},
    [7] = {"q5_1", 32, 24, 0, NULL},
    [9] = {"q8_1", 32, 36, 0, NULL},
    [10] = {"q2_k", 256, 84, 0, NULL},
    [11] = {"q3_k", 256, 110, 0, NULL},
    [12] = {"q4_k", 256, 144, 0, NULL},
    [13] = {"q5_k", 256, 176, 0, NULL},
    [14] = {"q6_k", 256, 210, 0, NULL},
    [15] = {"q8_k", 256, 292, 0, NULL},
};

const calm_type_traits *calm_type_get(uint32_t type) {
    if (type >= CALM_TYPE_COUNT || traits[type].name == NULL) return NULL;
    return &traits[type];
}

size_t calm_row_size(uint32_t type, int64_t n) {
    const calm_type_traits *t = calm_type_get(type);
    if (!t || n < 0 || n % t->block_size) return 0;
    return (size_t)(n / t->block_size) * t->type_size;
}
