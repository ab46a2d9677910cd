// AVX2 + FMA + F16C kernels. Integer formats: vpmaddubsw (u8 x s8 -> s16 pairs) then vpmaddwd.
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "../kernels.h"

// sum of u[i] * s[i] over 32 bytes, as 8 int32 partial sums in float (|u| <= 127 or u <= 15 keeps
// the 16-bit pairs from saturating).
static inline __m256 dot_us(__m256i u, __m256i s) {
    __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
    return _mm256_cvtepi32_ps(p);
}

#define CALM_X86_DOT_US(u, s) dot_us(u, s)
#include "../x86_common.h"

static void quantize_q8x(const float *x, block_q8x *y, int n) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int i = 0; i < n / 32; i++) {
        __m256 v[4], amax = _mm256_setzero_ps();
        for (int k = 0; k < 4; k++) {
            v[k] = _mm256_loadu_ps(x + i * 32 + 8 * k);
            amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, v[k]));
        }
        __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        m = _mm_max_ss(m, _mm_movehdup_ps(m));
        float d = _mm_cvtss_f32(m) / 127.0f, id = d ? 1.0f / d : 0.0f;
        __m256 vid = _mm256_set1_ps(id);
        __m256i q[4];
        for (int k = 0; k < 4; k++)
            q[k] = _mm256_cvtps_epi32(_mm256_round_ps(
                _mm256_mul_ps(v[k], vid), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        __m256i sum = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
        __m256i p01 = _mm256_packs_epi32(q[0], q[1]), p23 = _mm256_packs_epi32(q[2], q[3]);
        __m256i b = _mm256_packs_epi16(p01, p23);
        // the packs interleave 128-bit lanes: restore element order
        b = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)y[i].qs, b);
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
        s4 = _mm_hadd_epi32(s4, s4);
        s4 = _mm_hadd_epi32(s4, s4);
        y[i].d = d;
        y[i].s = d * (float)_mm_cvtsi128_si32(s4);
    }
}

static inline __attribute__((always_inline)) void
dot_q4_0_impl(int n, const void *w, const void *x, size_t xs, const int nt, float *out) {
    const block_q4_0 *b = w;
    __m256 acc[CALM_NT];
    float corr[CALM_NT] = {0};
    for (int t = 0; t < nt; t++) acc[t] = _mm256_setzero_ps();
    for (int i = 0; i < n / 32; i++) {
        __m256i q = calm_nibbles(b[i].qs);
        float d = calm_f16c(b[i].d);
        for (int t = 0; t < nt; t++) {
            const block_q8x *a = XQ(t) + i;
            __m256 p = dot_us(q, _mm256_loadu_si256((const __m256i *)a->qs));
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * a->d), p, acc[t]);
            corr[t] += d * a->s;
        }
    }
    for (int t = 0; t < nt; t++) out[t] = calm_hsum256(acc[t]) - 8.0f * corr[t];
}

// The token count as a constant lets the accumulators live in registers.
static void dot_q4_0(int n, const void *w, const void *x, size_t xs, int nt, float *out) {
    switch (nt) {
    case 1:
        dot_q4_0_impl(n, w, x, xs, 1, out);
        break;
    case 2:
        dot_q4_0_impl(n, w, x, xs, 2, out);
        break;
    case 3:
        dot_q4_0_impl(n, w, x, xs, 3, out);
        break;
    default:
        dot_q4_0_impl(n, w, x, xs, 4, out);
        break;
    }
}

static inline __attribute__((always_inline)) void
dot_q4_1_impl(int n, const void *w, const void *x, size_t xs, const int nt, float *out) {
    const block_q4_1 *b = w;
    __m256 acc[CALM_NT];
    float corr[CALM_NT] = {0};
    for (int t = 0; t < nt; t++) acc[t] = _mm256_setzero_ps();
    for (int i = 0; i < n / 32; i++) {
        __m256i q = calm_nibbles(b[i].qs);
        float d = calm_f16c(b[i].d), m = calm_f16c(b[i].m);
        for (int t = 0; t < nt; t++) {
            const block_q8x *a = XQ(t) + i;
            __m256 p = dot_us(q, _mm256_loadu_si256((const __m256i *)a->qs));
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * a->d), p, acc[t]);
            corr[t] += m * a->s;
        }
    }
    for (int t = 0; t < nt; t++) out[t] = calm_hsum256(acc[t]) + corr[t];
}

// The token count as a constant lets the accumulators live in registers.
static void dot_q4_1(int n, const void *w, const void *x, size_t xs, int nt, float *out) {
    switch (nt) {
    case 1:
        dot_q4_1_impl(n, w, x, xs, 1, out);
        break;
    case 2:
        dot_q4_1_impl(n, w, x, xs, 2, out);
        break;
    case 3:
        dot_q4_1_impl(n, w, x, xs, 3, out);
        break;
    default:
        dot_q4_1_impl(n, w, x, xs, 4, out);
        break;
    }
}

static inline __attribute__((always_inline)) void
dot_q8_0_impl(int n, const void *w, const void *x, size_t xs, const int nt, float *out) {
    const block_q8_0 *b = w;
    __m256 acc[CALM_NT];
    for (int t = 0; t < nt; t++) acc[t] = _mm256_setzero_ps();
    for (int i = 0; i < n / 32; i++) {
        __m256i q = _mm256_loadu_si256((const __m256i *)b[i].qs);
        __m256i aq = _mm256_sign_epi8(q, q); // |w| as unsigned; the sign moves to x
        float d = calm_f16c(b[i].d);
        for (int t = 0; t < nt; t++) {
            const block_q8x *a = XQ(t) + i;
            __m256i sx = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)a->qs), q);
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * a->d), dot_us(aq, sx), acc[t]);
        }
    }
    for (int t = 0; t < nt; t++) out[t] = calm_hsum256(acc[t]);
}

// The token count as a constant lets the accumulators live in registers.
static void dot_q8_0(int n, const void *w, const void *x, size_t xs, int nt, float *out) {
    switch (nt) {
    case 1:
        dot_q8_0_impl(n, w, x, xs, 1, out);
        break;
    case 2:
        dot_q8_0_impl(n, w, x, xs, 2, out);
        break;
    case 3:
        dot_q8_0_impl(n, w, x, xs, 3, out);
        break;
    default:
        dot_q8_0_impl(n, w, x, xs, 4, out);
        break;
    }
}

// calm group formats. 2-, 3- and 4-bit codes fit vpmaddubsw as unsigned bytes (at most
// 2 * 15 * 127, no saturation); 8-bit codes can reach 255 and are widened to 16 bits.
static void dot_qg(int n, const void *w, const void *x, size_t xs, int nt, float *out, int bits,
                   int g) {
    __m256 acc[CALM_NT];
    float corr[CALM_NT] = {0};
    for (int t = 0; t < nt; t++) acc[t] = _mm256_setzero_ps();
    const uint8_t *p = w;
    for (int i0 = 0; i0 < n; i0 += g, p += calm_qg_group_bytes(bits, g)) {
        int glen = n - i0 < g ? n - i0 : g; // a shorter last group ends the loop
        calm_f16 d16, m16;
        memcpy(&d16, p, 2);
        memcpy(&m16, p + 2, 2);
        float d = calm_f16c(d16), m = calm_f16c(m16);
        for (int c = 0; c < glen / 32; c++) {
            __m256i lo = _mm256_setzero_si256(), hi = lo, q = lo;
            if (bits == 4) {
                q = calm_nibbles(p + 4 + c * 16);
            } else if (bits < 4) {
                q = calm_qg_low_bits(p + 4, bits, glen, c);
            } else {
                __m256i v = _mm256_loadu_si256((const __m256i *)(p + 4 + c * 32));
                lo = _mm256_cvtepu8_epi16(_mm256_castsi256_si128(v));
                hi = _mm256_cvtepu8_epi16(_mm256_extracti128_si256(v, 1));
            }
            for (int t = 0; t < nt; t++) {
                const block_q8x *a = XQ(t) + i0 / 32 + c;
                __m256i xv = _mm256_loadu_si256((const __m256i *)a->qs);
                __m256 s;
                if (bits <= 4) {
                    s = dot_us(q, xv);
                } else {
                    __m256i xl = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(xv));
                    __m256i xh = _mm256_cvtepi8_epi16(_mm256_extracti128_si256(xv, 1));
                    s = _mm256_cvtepi32_ps(
                        _mm256_add_epi32(_mm256_madd_epi16(lo, xl), _mm256_madd_epi16(hi, xh)));
                }
                acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * a->d), s, acc[t]);
                corr[t] += m * a->s;
            }
        }
    }
    for (int t = 0; t < nt; t++) out[t] = calm_hsum256(acc[t]) + corr[t];
}

QG_DOT_ALL

// Float weights: 8 at a time converted to f32 and multiplied into every token's accumulator.
static inline __m256 load8(const void *w, uint32_t type, int i) {
    if (type == CALM_TYPE_F32) return _mm256_loadu_ps((const float *)w + i);
    __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)w + i));
    if (type == CALM_TYPE_F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

static void dot_float(int n, const void *w, uint32_t type, const void *x, size_t xs, int nt,
                      float *out) {
    __m256 acc[CALM_NT];
    for (int t = 0; t < nt; t++) acc[t] = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 wv = load8(w, type, i);
        for (int t = 0; t < nt; t++)
            acc[t] = _mm256_fmadd_ps(
                wv, _mm256_loadu_ps((const float *)((const uint8_t *)x + t * xs) + i), acc[t]);
    }
    for (int t = 0; t < nt; t++) out[t] = calm_hsum256(acc[t]);
    calm_dot_tail(n, i, w, type, x, xs, nt, out);
}

// K-quants: dequantize each super-block of 256 once, then FMA it into every token.
static void dot_kquant(int n, const void *w, uint32_t type, const void *x, size_t xs, int nt,
                       float *out) {
    const calm_type_traits *tt = calm_type_get(type);
    float buf[QK_K];
    __m256 acc[CALM_NT];
    for (int t = 0; t < nt; t++) acc[t] = _mm256_setzero_ps();
    const int bs = tt->block_size; // 32 (Q5_0, Q5_1) or 256 (K-quants)
    for (int i = 0; i < n; i += bs) {
        tt->to_float((const uint8_t *)w + (size_t)(i / bs) * tt->type_size, buf, bs);
        for (int j = 0; j < bs; j += 8) {
            __m256 wv = _mm256_loadu_ps(buf + j);
            for (int t = 0; t < nt; t++)
                acc[t] = _mm256_fmadd_ps(
                    wv, _mm256_loadu_ps((const float *)((const uint8_t *)x + t * xs) + i + j),
                    acc[t]);
        }
    }
    for (int t = 0; t < nt; t++) out[t] = calm_hsum256(acc[t]);
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

static void dot_q6_k(int n, const void *w, const void *x, size_t xs, int nt, float *out) {
    switch (nt) {
    case 1:
        q6k_impl(n, w, x, xs, 1, out);
        break;
    case 2:
        q6k_impl(n, w, x, xs, 2, out);
        break;
    case 3:
        q6k_impl(n, w, x, xs, 3, out);
        break;
    default:
        q6k_impl(n, w, x, xs, 4, out);
        break;
    }
}

// W8A8: vpmaddubsw wants one unsigned operand, so it gets |w| and the activations take w's sign
// (llama.cpp's trick for Q8_0); |w|, |x| <= 127 keep the pair sums below int16's limit.
static void dot_w8a8(int n, const void *w, const void *x, size_t xs, int nt, float *out) {
    calm_q8t_head hw;
    memcpy(&hw, w, sizeof hw);
    const int8_t *qw = (const int8_t *)w + sizeof hw;
    const __m256i ones = _mm256_set1_epi16(1);
    for (int t = 0; t < nt; t++) {
        const uint8_t *xt = (const uint8_t *)x + t * xs;
        calm_q8t_head hx;
        memcpy(&hx, xt, sizeof hx);
        const int8_t *qx = (const int8_t *)(xt + sizeof hx);
        __m256i acc = _mm256_setzero_si256();
        for (int i = 0; i < n; i += 32) {
            __m256i vw = _mm256_loadu_si256((const __m256i *)(qw + i));
            __m256i vx = _mm256_loadu_si256((const __m256i *)(qx + i));
            __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(vw, vw), _mm256_sign_epi8(vx, vw));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, ones));
        }
        __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
        out[t] = hw.d * hx.d * (float)_mm_cvtsi128_si32(s);
    }
}

void calm_hadamard_avx2(float *x, int n, int T, int transpose);
void calm_avx2_attend(const float *q, const float *k, const float *v, size_t stride, int n, int hd,
                      float scale, float *scores, float *out);
void calm_avx2_silu_mul(float *g, const float *u, size_t n);

const calm_isa calm_isa_avx2 = {
    "avx2",
    {
        DOT_TABLE,
        [CALM_TYPE_Q6_K] = dot_q6_k,
    },
    quantize_q8x,
    NULL,
    NULL,
    calm_avx2_attend,
    calm_avx2_silu_mul,
    calm_hadamard_avx2,
};
