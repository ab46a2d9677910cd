#include "types.h"

#include <string.h>

#include "grid.h"

static inline float f32_of_bits(uint32_t bits) {
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline uint32_t bits_of_f32(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    return x;
}

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
    return f32_of_bits(bits);
}

calm_f16 calm_f32_to_f16(float f) {
    uint32_t x = bits_of_f32(f);
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
    return f32_of_bits((uint32_t)h << 16);
}

calm_bf16 calm_f32_to_bf16(float f) {
    uint32_t x = bits_of_f32(f);
    if ((x & 0x7fffffff) > 0x7f800000u) return (calm_bf16)((x >> 16) | 0x40); // quiet nan
    x += 0x7fff + ((x >> 16) & 1);
    return (calm_bf16)(x >> 16);
}

static void f32_to_float(const void *src, float *dst, int64_t n) {
    memcpy(dst, src, (size_t)n * 4);
}

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

static void q5_to_float(const uint8_t *qh4, const uint8_t *qs, float d, float m, float off,
                        float *y) {
    uint32_t qh;
    memcpy(&qh, qh4, 4);
    for (int j = 0; j < 16; j++) {
        y[j] = d * ((float)((qs[j] & 0xf) | (((qh >> j) & 1) << 4)) - off) + m;
        y[j + 16] = d * ((float)((qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - off) + m;
    }
}

static void q5_0_to_float(const void *src, float *dst, int64_t n) {
    const block_q5_0 *b = src;
    for (int64_t i = 0; i < n / 32; i++)
        q5_to_float(b[i].qh, b[i].qs, calm_f16_to_f32(b[i].d), 0, 16, dst + i * 32);
}

static void q5_1_to_float(const void *src, float *dst, int64_t n) {
    const block_q5_1 *b = src;
    for (int64_t i = 0; i < n / 32; i++)
        q5_to_float(b[i].qh, b[i].qs, calm_f16_to_f32(b[i].d), calm_f16_to_f32(b[i].m), 0,
                    dst + i * 32);
}

// K-quants: the 6-bit scale and min of sub-block j from the packed 12 bytes.
static void scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (uint8_t)((q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

static void q4_k_to_float(const void *src, float *y, int64_t n) {
    const block_q4_k *b = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const uint8_t *q = b[i].qs;
        float d = calm_f16_to_f32(b[i].d), dmin = calm_f16_to_f32(b[i].dmin);
        for (int j = 0; j < QK_K; j += 64) {
            uint8_t sc, m;
            scale_min_k4(j / 32, b[i].scales, &sc, &m);
            float d1 = d * sc, m1 = dmin * m;
            scale_min_k4(j / 32 + 1, b[i].scales, &sc, &m);
            float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; l++) *y++ = d1 * (float)(q[l] & 0xf) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (float)(q[l] >> 4) - m2;
            q += 32;
        }
    }
}

static void q5_k_to_float(const void *src, float *y, int64_t n) {
    const block_q5_k *b = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const uint8_t *ql = b[i].qs, *qh = b[i].qh;
        float d = calm_f16_to_f32(b[i].d), dmin = calm_f16_to_f32(b[i].dmin);
        uint8_t u1 = 1, u2 = 2;
        for (int j = 0; j < QK_K; j += 64) {
            uint8_t sc, m;
            scale_min_k4(j / 32, b[i].scales, &sc, &m);
            float d1 = d * sc, m1 = dmin * m;
            scale_min_k4(j / 32 + 1, b[i].scales, &sc, &m);
            float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; l++)
                *y++ = d1 * (float)((ql[l] & 0xf) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; l++)
                *y++ = d2 * (float)((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
            ql += 32;
            u1 = (uint8_t)(u1 << 2);
            u2 = (uint8_t)(u2 << 2);
        }
    }
}

static void q6_k_to_float(const void *src, float *y, int64_t n) {
    const block_q6_k *b = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        float d = calm_f16_to_f32(b[i].d);
        const uint8_t *ql = b[i].ql, *qh = b[i].qh;
        const int8_t *sc = b[i].scales;
        for (int h = 0; h < QK_K; h += 128) {
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = ((ql[l] & 0xf) | (((qh[l] >> 0) & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * sc[is] * (float)q1;
                y[l + 32] = d * sc[is + 2] * (float)q2;
                y[l + 64] = d * sc[is + 4] * (float)q3;
                y[l + 96] = d * sc[is + 6] * (float)q4;
            }
            y += 128;
            ql += 64;
            qh += 32;
            sc += 8;
        }
    }
}

// calm group formats: a group of g weights is {f16 d, f16 m, packed q}, w = d * q + m with q
// unsigned. Layouts of q (docs/FORMATS.md): 8 bits one byte each; 4 bits as Q4_1 (low nibbles
// hold the first half of each 32, high nibbles the second); 2 bits as four planes of 8 per
// byte-column of 32; 3 bits as the 2-bit planes followed by a plane of high bits. qg_place says
// where code j lives: its low bits (8, 4 or 2) at byte *at from bit *shift, and for 3 bits the
// third at bit *hshift of byte *hat; packing and unpacking both follow it.
static inline void qg_place(int bits, int g, int j, int *at, int *shift, int *hat, int *hshift) {
    int c = j & ~31, k = j & 31;
    *hat = g / 4 + c / 8 + k / 8, *hshift = k % 8;
    if (bits == 8)
        *at = j, *shift = 0;
    else if (bits == 4)
        *at = c / 2 + k % 16, *shift = k / 16 * 4;
    else
        *at = c / 4 + k % 8, *shift = k / 8 * 2;
}

int calm_qg_unpack(const uint8_t *q, int bits, int g, uint8_t *out) {
    const int mask = bits == 3 ? 3 : (1 << bits) - 1;
    for (int j = 0; j < g; j++) {
        int at, shift, hat, hshift;
        qg_place(bits, g, j, &at, &shift, &hat, &hshift);
        int u = (q[at] >> shift) & mask;
        if (bits == 3) u |= ((q[hat] >> hshift) & 1) << 2;
        out[j] = (uint8_t)u;
    }
    return 0;
}

void calm_qg_pack(const uint8_t *q, int bits, int g, uint8_t *out) {
    const int mask = bits == 3 ? 3 : (1 << bits) - 1;
    memset(out, 0, (size_t)g * bits / 8);
    for (int j = 0; j < g; j++) {
        int at, shift, hat, hshift;
        qg_place(bits, g, j, &at, &shift, &hat, &hshift);
        out[at] |= (uint8_t)((q[j] & mask) << shift);
        if (bits == 3) out[hat] |= (uint8_t)(((q[j] >> 2) & 1) << hshift);
    }
}

static void qg_to_float(const void *src, float *dst, int64_t n, int bits, int g) {
    const uint8_t *p = src;
    uint8_t q[128];
    for (int64_t i = 0; i < n; i += g) {
        int glen = n - i < g ? (int)(n - i) : g; // the last group of a row may be shorter
        calm_f16 d16, m16;
        memcpy(&d16, p, 2);
        memcpy(&m16, p + 2, 2);
        float d = calm_f16_to_f32(d16), m = calm_f16_to_f32(m16);
        calm_qg_unpack(p + 4, bits, glen, q);
        for (int j = 0; j < glen; j++) dst[i + j] = d * (float)q[j] + m;
        p += calm_qg_group_bytes(bits, glen);
    }
}

static void w8a8_to_float(const void *src, float *dst, int64_t n) {
    calm_q8t_head h;
    memcpy(&h, src, sizeof h);
    const int8_t *q = (const int8_t *)src + sizeof h;
    for (int64_t i = 0; i < n; i++) dst[i] = h.d * (float)q[i];
}

static void f32_from_float(const float *src, void *dst, int64_t n) {
    memcpy(dst, src, (size_t)n * 4);
}

static void f16_from_float(const float *src, void *dst, int64_t n) {
    calm_f16 *d = dst;
    for (int64_t i = 0; i < n; i++) d[i] = calm_f32_to_f16(src[i]);
}

static void bf16_from_float(const float *src, void *dst, int64_t n) {
    calm_bf16 *d = dst;
    for (int64_t i = 0; i < n; i++) d[i] = calm_f32_to_bf16(src[i]);
}

// The quantized types' from_float: round to nearest on the type's grid (kernels/grid.h).
#define RTN_FN(name, type)                                                                         \
    static void name##_from_float(const float *src, void *dst, int64_t n) {                        \
        calm_rtn_row(src, (int)n, type, dst);                                                      \
    }
RTN_FN(q4_0, CALM_TYPE_Q4_0)
RTN_FN(q4_1, CALM_TYPE_Q4_1)
RTN_FN(q8_0, CALM_TYPE_Q8_0)
RTN_FN(w8a8, CALM_TYPE_W8A8)

// calm group format qgB_G: dequantization, rounding to nearest, and its traits.
#define QG_FN(b, g)                                                                                \
    static void qg##b##_##g##_to_float(const void *s, float *d, int64_t n) {                       \
        qg_to_float(s, d, n, b, g);                                                                \
    }                                                                                              \
    RTN_FN(qg##b##_##g, calm_type_qg(b, g))
QG_FN(2, 32)
QG_FN(2, 64)
QG_FN(2, 128)
QG_FN(3, 32)
QG_FN(3, 64)
QG_FN(3, 128)
QG_FN(4, 32)
QG_FN(4, 64)
QG_FN(4, 128)
QG_FN(8, 32)
QG_FN(8, 64)
QG_FN(8, 128)
#define QG_TRAITS(i, b, g)                                                                         \
    [CALM_TYPE_QG + i] = {.name = "qg" #b "_" #g,                                                  \
                          .block_size = 32,                                                        \
                          .type_size = 4 + 32 * b / 8,                                             \
                          .supported = 1,                                                          \
                          .to_float = qg##b##_##g##_to_float,                                      \
                          .from_float = qg##b##_##g##_from_float,                                  \
                          .vec_dot_type = CALM_ACT_Q8X,                                            \
                          .ftype = -1,                                                             \
                          .qg_bits = b,                                                            \
                          .qg_group = g}

static const calm_type_traits traits[CALM_TYPE_COUNT] = {
    [CALM_TYPE_F32] = {.name = "f32",
                       .block_size = 1,
                       .type_size = 4,
                       .supported = 1,
                       .to_float = f32_to_float,
                       .from_float = f32_from_float,
                       .vec_dot_type = CALM_ACT_F32,
                       .ftype = 0},
    [CALM_TYPE_F16] = {.name = "f16",
                       .block_size = 1,
                       .type_size = 2,
                       .supported = 1,
                       .to_float = f16_to_float,
                       .from_float = f16_from_float,
                       .vec_dot_type = CALM_ACT_F32,
                       .ftype = 1},
    [CALM_TYPE_BF16] = {.name = "bf16",
                        .block_size = 1,
                        .type_size = 2,
                        .supported = 1,
                        .to_float = bf16_to_float,
                        .from_float = bf16_from_float,
                        .vec_dot_type = CALM_ACT_F32,
                        .ftype = 32},
    [CALM_TYPE_Q4_0] = {.name = "q4_0",
                        .block_size = QK4_0,
                        .type_size = sizeof(block_q4_0),
                        .supported = 1,
                        .to_float = q4_0_to_float,
                        .from_float = q4_0_from_float,
                        .vec_dot_type = CALM_ACT_Q8X,
                        .symmetric = 1,
                        .ftype = 2},
    [CALM_TYPE_Q4_1] = {.name = "q4_1",
                        .block_size = QK4_1,
                        .type_size = sizeof(block_q4_1),
                        .supported = 1,
                        .to_float = q4_1_to_float,
                        .from_float = q4_1_from_float,
                        .vec_dot_type = CALM_ACT_Q8X,
                        .ftype = 3},
    [CALM_TYPE_Q8_0] = {.name = "q8_0",
                        .block_size = QK8_0,
                        .type_size = sizeof(block_q8_0),
                        .supported = 1,
                        .to_float = q8_0_to_float,
                        .from_float = q8_0_from_float,
                        .vec_dot_type = CALM_ACT_Q8X,
                        .symmetric = 1,
                        .ftype = 7},
    // Q5_0, Q5_1 and the K-quants Q4_K, Q5_K run on f32 activations: a block is dequantized once
    // and reused across tokens.
    [CALM_TYPE_Q5_0] = {.name = "q5_0",
                        .block_size = 32,
                        .type_size = sizeof(block_q5_0),
                        .supported = 1,
                        .to_float = q5_0_to_float,
                        .vec_dot_type = CALM_ACT_F32,
                        .ftype = 8},
    [CALM_TYPE_Q5_1] = {.name = "q5_1",
                        .block_size = 32,
                        .type_size = sizeof(block_q5_1),
                        .supported = 1,
                        .to_float = q5_1_to_float,
                        .vec_dot_type = CALM_ACT_F32,
                        .ftype = 9},
    // K-quants: ftype is the _S variant, the one whose matrices all have the type.
    [CALM_TYPE_Q4_K] = {.name = "q4_k",
                        .block_size = QK_K,
                        .type_size = sizeof(block_q4_k),
                        .supported = 1,
                        .to_float = q4_k_to_float,
                        .vec_dot_type = CALM_ACT_F32,
                        .ftype = 14},
    [CALM_TYPE_Q5_K] = {.name = "q5_k",
                        .block_size = QK_K,
                        .type_size = sizeof(block_q5_k),
                        .supported = 1,
                        .to_float = q5_k_to_float,
                        .vec_dot_type = CALM_ACT_F32,
                        .ftype = 16},
    [CALM_TYPE_Q6_K] = {.name = "q6_k",
                        .block_size = QK_K,
                        .type_size = sizeof(block_q6_k),
                        .supported = 1,
                        .to_float = q6_k_to_float,
                        .vec_dot_type = CALM_ACT_Q8X,
                        .ftype = 18},
    QG_TRAITS(0, 2, 32),
    QG_TRAITS(1, 2, 64),
    QG_TRAITS(2, 2, 128),
    QG_TRAITS(3, 3, 32),
    QG_TRAITS(4, 3, 64),
    QG_TRAITS(5, 3, 128),
    QG_TRAITS(6, 4, 32),
    QG_TRAITS(7, 4, 64),
    QG_TRAITS(8, 4, 128),
    QG_TRAITS(9, 8, 32),
    QG_TRAITS(10, 8, 64),
    QG_TRAITS(11, 8, 128),
    [CALM_TYPE_W8A8] = {.name = "w8a8",
                        .block_size = 32,
                        .type_size = 32,
                        .supported = 1,
                        .to_float = w8a8_to_float,
                        .from_float = w8a8_from_float,
                        .vec_dot_type = CALM_ACT_Q8T,
                        .symmetric = 1,
                        .ftype = -1},
    // Known to ggml, not read by calm; listed so that error messages can name them.
    [9] = {.name = "q8_1", .block_size = 32, .type_size = 36, .ftype = -1},
    [10] = {.name = "q2_k", .block_size = 256, .type_size = 84, .ftype = 10},
    [11] = {.name = "q3_k", .block_size = 256, .type_size = 110, .ftype = 11},
    [15] = {.name = "q8_k", .block_size = 256, .type_size = 292, .ftype = -1},
};

const calm_type_traits *calm_type_get(uint32_t type) {
    if (type >= CALM_TYPE_COUNT || traits[type].name == NULL) return NULL;
    return &traits[type];
}

int calm_type_qg(int bits, int group) {
    int bi = bits == 2 ? 0 : bits == 3 ? 1 : bits == 4 ? 2 : bits == 8 ? 3 : -1;
    int gi = group == 32 ? 0 : group == 64 ? 1 : group == 128 ? 2 : -1;
    return bi < 0 || gi < 0 ? -1 : CALM_TYPE_QG + 3 * bi + gi;
}

size_t calm_row_size(uint32_t type, int64_t n) {
    const calm_type_traits *t = calm_type_get(type);
    if (!t || n < 0 || n % t->block_size) return 0;
    if (type == CALM_TYPE_W8A8) return sizeof(calm_q8t_head) + (size_t)n;
    if (t->qg_bits) {
        int64_t full = n / t->qg_group, rem = n % t->qg_group;
        return (size_t)full * calm_qg_group_bytes(t->qg_bits, t->qg_group) +
               (rem ? calm_qg_group_bytes(t->qg_bits, (int)rem) : 0);
    }
    return (size_t)(n / t->block_size) * t->type_size;
}
