// AVX-512 (F, BW, VL) + VNNI kernels: vpdpbusd multiplies u8 by s8 and sums groups of four into
// int32 lanes in one instruction, two 32-element blocks per 512-bit register.
#include <immintrin.h>
#include <string.h>

#include "../kernels.h"

static inline __m512i pair(__m256i a, __m256i b) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1);
}

// One scale for lanes 0..7 (first block), another for lanes 8..15 (second block).
static inline __m512 scales2(float a, float b) {
    return _mm512_insertf32x8(_mm512_set1_ps(a), _mm256_set1_ps(b), 1);
}

static inline __m512 dpbusd(__m512i u, __m512i s) {
    return _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(_mm512_setzero_si512(), u, s));
}

static inline __m256 dpbusd256(__m256i u, __m256i s) {
    return _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s));
}

#define CALM_X86_DOT_US(u, s) dpbusd256(u, s)
#include "../x86_common.h"

static void quantize_q8x(const float *x, block_q8x *y, int n) {
    for (int i = 0; i < n / 32; i++) {
        __m512 a = _mm512_loadu_ps(x + i * 32), b = _mm512_loadu_ps(x + i * 32 + 16);
        float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(a), _mm512_abs_ps(b)));
        float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
        __m512 vid = _mm512_set1_ps(id);
        __m512i qa = _mm512_cvtps_epi32(_mm512_roundscale_ps(
            _mm512_mul_ps(a, vid), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        __m512i qb = _mm512_cvtps_epi32(_mm512_roundscale_ps(
            _mm512_mul_ps(b, vid), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        _mm_storeu_si128((__m128i *)y[i].qs, _mm512_cvtsepi32_epi8(qa));
        _mm_storeu_si128((__m128i *)(y[i].qs + 16), _mm512_cvtsepi32_epi8(qb));
        y[i].d = d;
        y[i].s = d * (float)_mm512_reduce_add_epi32(_mm512_add_epi32(qa, qb));
    }
}

// The 4-bit ggml formats share everything but the offset: q4_0 subtracts 8, q4_1 adds m.
static inline __attribute__((always_inline)) void dot_4bit(int n, const void *w, size_t bsize,
                                                           int has_m, const void *x, size_t xs,
                                                           const int nt, float *out) {
    __m512 acc[CALM_NT];
    float corr[CALM_NT] = {0};
    for (int t = 0; t < nt; t++) acc[t] = _mm512_setzero_ps();
    int nb = n / 32, i = 0;
    for (; i + 2 <= nb; i += 2) {
        const uint8_t *b0 = (const uint8_t *)w + i * bsize, *b1 = b0 + bsize;
        calm_f16 h[4];
        memcpy(h, b0, 4);
        memcpy(h + 2, b1, 4);
        float d0 = calm_f16c(h[0]), d1 = calm_f16c(h[2]);
        float m0 = has_m ? calm_f16c(h[1]) : -8.0f * d0, m1 = has_m ? calm_f16c(h[3]) : -8.0f * d1;
        const int off = has_m ? 4 : 2;
        __m512i q = pair(calm_nibbles(b0 + off), calm_nibbles(b1 + off));
        for (int t = 0; t < nt; t++) {
            const block_q8x *a = XQ(t) + i;
            __m512i xq = pair(_mm256_loadu_si256((const __m256i *)a[0].qs),
                              _mm256_loadu_si256((const __m256i *)a[1].qs));
            acc[t] = _mm512_fmadd_ps(scales2(d0 * a[0].d, d1 * a[1].d), dpbusd(q, xq), acc[t]);
            corr[t] += m0 * a[0].s + m1 * a[1].s;
        }
    }
    float tail[CALM_NT] = {0};
    for (; i < nb; i++) {
        const uint8_t *b0 = (const uint8_t *)w + i * bsize;
        calm_f16 h[2];
        memcpy(h, b0, 4);
        float d0 = calm_f16c(h[0]), m0 = has_m ? calm_f16c(h[1]) : -8.0f * d0;
        __m256i q = calm_nibbles(b0 + (has_m ? 4 : 2));
        for (int t = 0; t < nt; t++) {
            const block_q8x *a = XQ(t) + i;
            __m256 p = dpbusd256(q, _mm256_loadu_si256((const __m256i *)a->qs));
            tail[t] += d0 * a->d * calm_hsum256(p);
            corr[t] += m0 * a->s;
        }
    }
    for (int t = 0; t < nt; t++) out[t] = _mm512_reduce_add_ps(acc[t]) + tail[t] + corr[t];
}

// The token count as a constant lets the accumulators live in registers.
#define NT_SWITCH(call)                                                                            \
    switch (nt) {                                                                                  \
    case 1:                                                                                        \
        call(1);                                                                                   \
        break;                                                                                     \
    case 2:                                                                                        \
        call(2);                                                                                   \
        break;                                                                                     \
    case 3:                                                                                        \
        call(3);                                                                                   \
        break;                                                                                     \
    default:                                                                                       \
        call(4);                                                                                   \
        break;                                                                                     \
    }

static void dot_q4_0(int n, const void *w, const void *x, size_t xs, int nt, float *out) {
#define CALL(k) dot_4bit(n, w, sizeof(block_q4_0), 0, x, xs, k, out)
    NT_SWITCH(CALL)
#undef CALL
}

static void dot_q4_1(int n, const void *w, const void *x, size_t xs, int nt, float *out) {
#define CALL(k) dot_4bit(n, w, sizeof(block_q4_1), 1, x, xs, k, out)
    NT_SWITCH(CALL)
#undef CALL
}

static inline __attribute__((always_inline)) void
dot_q8_0_impl(int n, const void *w, const void *x, size_t xs, const int nt, float *out) {
    const block_q8_0 *b = w;
    __m512 acc[CALM_NT];
    for (int t = 0; t < nt; t++) acc[t] = _mm512_setzero_ps();
    int nb = n / 32, i = 0;
    float tail[CALM_NT] = {0};
    for (; i + 2 <= nb; i += 2) {
        __m512i q = pair(_mm256_loadu_si256((const __m256i *)b[i].qs),
                         _mm256_loadu_si256((const __m256i *)b[i + 1].qs));
        __m512i aq = _mm512_abs_epi8(q);
        __mmask64 neg = _mm512_movepi8_mask(q); // |w| as unsigned; the sign moves to x
        float d0 = calm_f16c(b[i].d), d1 = calm_f16c(b[i + 1].d);
        for (int t = 0; t < nt; t++) {
            const block_q8x *a = XQ(t) + i;
            __m512i xq = pair(_mm256_loadu_si256((const __m256i *)a[0].qs),
                              _mm256_loadu_si256((const __m256i *)a[1].qs));
            xq = _mm512_mask_sub_epi8(xq, neg, _mm512_setzero_si512(), xq);
            acc[t] = _mm512_fmadd_ps(scales2(d0 * a[0].d, d1 * a[1].d), dpbusd(aq, xq), acc[t]);
        }
    }
    for (; i < nb; i++) {
        __m256i q = _mm256_loadu_si256((const __m256i *)b[i].qs);
        __m256i aq = _mm256_abs_epi8(q);
        float d0 = calm_f16c(b[i].d);
        for (int t = 0; t < nt; t++) {
            const block_q8x *a = XQ(t) + i;
            __m256i xq = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)a->qs), q);
            tail[t] += d0 * a->d * calm_hsum256(dpbusd256(aq, xq));
        }
    }
    for (int t = 0; t < nt; t++) out[t] = _mm512_reduce_add_ps(acc[t]) + tail[t];
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

// calm group formats with 4 and 8 bits: one 32-block per 256-bit vpdpbusd (u8 codes need no
// sign trick, and 32-bit accumulation cannot saturate).
static inline __attribute__((always_inline)) void dot_qg(int n, const void *w, const void *x,
                                                         size_t xs, const int nt, float *out,
                                                         const int bits, const int g) {
    __m256 acc[CALM_NT];
    float corr[CALM_NT] = {0};
    for (int t = 0; t < nt; t++) acc[t] = _mm256_setzero_ps();
    const uint8_t *p = w;
    for (int i0 = 0; i0 < n; i0 += g, p += calm_qg_group_bytes(bits, g)) {
        int glen = n - i0 < g ? n - i0 : g; // a shorter last group ends the loop
        calm_f16 h[2];
        memcpy(h, p, 4);
        float d = calm_f16c(h[0]), m = calm_f16c(h[1]);
        for (int c = 0; c < glen / 32; c++) {
            __m256i q = bits == 4   ? calm_nibbles(p + 4 + c * 16)
                        : bits == 8 ? _mm256_loadu_si256((const __m256i *)(p + 4 + c * 32))
                                    : calm_qg_low_bits(p + 4, bits, glen, c);
            for (int t = 0; t < nt; t++) {
                const block_q8x *a = XQ(t) + i0 / 32 + c;
                __m256 s = dpbusd256(q, _mm256_loadu_si256((const __m256i *)a->qs));
                acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * a->d), s, acc[t]);
                corr[t] += m * a->s;
            }
        }
    }
    for (int t = 0; t < nt; t++) out[t] = calm_hsum256(acc[t]) + corr[t];
}

#undef QG_DOT // this ISA specialises the group kernels on the token count
#define QG_DOT(b, g)                                                                               \
    static void dot_qg##b##_##g(int n, const void *w, const void *x, size_t xs, int nt,            \
                                float *o) {                                                        \
        switch (nt) {                                                                              \
        case 1:                                                                                    \
            dot_qg(n, w, x, xs, 1, o, b, g);                                                       \
            break;                                                                                 \
        case 2:                                                                                    \
            dot_qg(n, w, x, xs, 2, o, b, g);                                                       \
            break;                                                                                 \
        case 3:                                                                                    \
            dot_qg(n, w, x, xs, 3, o, b, g);                                                       \
            break;                                                                                 \
        default:                                                                                   \
            dot_qg(n, w, x, xs, 4, o, b, g);                                                       \
            break;                                                                                 \
        }                                                                                          \
    }
QG_DOT_ALL

static inline __m512 load16(const void *w, uint32_t type, int i) {
    if (type == CALM_TYPE_F32) return _mm512_loadu_ps((const float *)w + i);
    __m256i h = _mm256_loadu_si256((const __m256i *)((const uint16_t *)w + i));
    if (type == CALM_TYPE_F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

static void dot_float(int n, const void *w, uint32_t type, const void *x, size_t xs, int nt,
                      float *out) {
    __m512 acc[CALM_NT];
    for (int t = 0; t < nt; t++) acc[t] = _mm512_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 wv = load16(w, type, i);
        for (int t = 0; t < nt; t++)
            acc[t] = _mm512_fmadd_ps(
                wv, _mm512_loadu_ps((const float *)((const uint8_t *)x + t * xs) + i), acc[t]);
    }
    for (int t = 0; t < nt; t++) out[t] = _mm512_reduce_add_ps(acc[t]);
    calm_dot_tail(n, i, w, type, x, xs, nt, out);
}

static void dot_kquant(int n, const void *w, uint32_t type, const void *x, size_t xs, int nt,
                       float *out) {
    const calm_type_traits *tt = calm_type_get(type);
    float buf[QK_K];
    __m512 acc[CALM_NT];
    for (int t = 0; t < nt; t++) acc[t] = _mm512_setzero_ps();
    const int bs = tt->block_size; // 32 (Q5_0, Q5_1) or 256 (K-quants)
    for (int i = 0; i < n; i += bs) {
        tt->to_float((const uint8_t *)w + (size_t)(i / bs) * tt->type_size, buf, bs);
        for (int j = 0; j < bs; j += 16) {
            __m512 wv = _mm512_loadu_ps(buf + j);
            for (int t = 0; t < nt; t++)
                acc[t] = _mm512_fmadd_ps(
                    wv, _mm512_loadu_ps((const float *)((const uint8_t *)x + t * xs) + i + j),
                    acc[t]);
        }
    }
    for (int t = 0; t < nt; t++) out[t] = _mm512_reduce_add_ps(acc[t]);
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

// Packed panels (kernels/pack.h): lane j of every vpdpbusd is row j, so 16 rows advance by four
// columns per instruction and no horizontal sums are needed.
static inline __attribute__((always_inline)) void panel_impl(const calm_packed *p, int panel,
                                                             const void *x, size_t xs, const int nt,
                                                             const int bits, const int f32s,
                                                             float *out) {
    const int nb = p->cols / 32;
    const uint8_t *blk = p->data + (size_t)panel * nb * p->block_bytes;
    __m512 acc[CALM_NT];
    for (int t = 0; t < nt; t++) acc[t] = _mm512_setzero_ps();
    const __m512i lo4 = _mm512_set1_epi8(0xf);
    for (int b = 0; b < nb; b++, blk += p->block_bytes) {
        __m512 d =
            f32s ? _mm512_load_ps(blk) : _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)blk));
        __m512 c = f32s ? _mm512_load_ps(blk + 64)
                        : _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(blk + 32)));
        const uint8_t *codes = blk + (f32s ? 128 : 64);
        __m512i w[8];
        if (bits == 4) {
            for (int k = 0; k < 4; k++) {
                __m512i v = _mm512_load_si512((const void *)(codes + 64 * k));
                w[k] = _mm512_and_si512(v, lo4);
                w[k + 4] = _mm512_and_si512(_mm512_srli_epi16(v, 4), lo4);
            }
        } else {
            for (int k = 0; k < 8; k++) w[k] = _mm512_load_si512((const void *)(codes + 64 * k));
        }
        for (int t = 0; t < nt; t++) {
            const block_q8x *a = XQ(t) + b;
            int32_t xw[8];
            memcpy(xw, a->qs, 32);
            __m512i s = _mm512_setzero_si512();
            for (int k = 0; k < 8; k++) s = _mm512_dpbusd_epi32(s, w[k], _mm512_set1_epi32(xw[k]));
            __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(s), _mm512_set1_ps(a->d));
            acc[t] = _mm512_fmadd_ps(d, f, acc[t]);
            acc[t] = _mm512_fmadd_ps(c, _mm512_set1_ps(a->s), acc[t]);
        }
    }
    for (int t = 0; t < nt; t++) _mm512_storeu_ps(out + t * CALM_PANEL, acc[t]);
}

static void panel_dot(const calm_packed *p, int panel, const void *x, size_t xs, int nt,
                      float *out) {
#define CALL(k)                                                                                    \
    (p->f32_scales ? (p->bits == 4 ? panel_impl(p, panel, x, xs, k, 4, 1, out)                     \
                                   : panel_impl(p, panel, x, xs, k, 8, 1, out))                    \
                   : (p->bits == 4 ? panel_impl(p, panel, x, xs, k, 4, 0, out)                     \
                                   : panel_impl(p, panel, x, xs, k, 8, 0, out)))
    NT_SWITCH(CALL)
#undef CALL
}

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

// W8A8: activations become unsigned by flipping their sign bit (q + 128), so one vpdpbusd takes 64
// weights; the 128 * sum(q_w) this adds is taken off at the end.
static void dot_w8a8(int n, const void *w, const void *x, size_t xs, int nt, float *out) {
    calm_q8t_head hw;
    memcpy(&hw, w, sizeof hw);
    const int8_t *qw = (const int8_t *)w + sizeof hw;
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    for (int t = 0; t < nt; t++) {
        const uint8_t *xt = (const uint8_t *)x + t * xs;
        calm_q8t_head hx;
        memcpy(&hx, xt, sizeof hx);
        const int8_t *qx = (const int8_t *)(xt + sizeof hx);
        __m512i acc = _mm512_setzero_si512();
        int i = 0;
        for (; i + 64 <= n; i += 64)
            acc = _mm512_dpbusd_epi32(acc, _mm512_xor_si512(_mm512_loadu_si512(qx + i), flip),
                                      _mm512_loadu_si512(qw + i));
        int32_t sum = _mm512_reduce_add_epi32(acc);
        if (i < n) { // n is a multiple of 32: one half vector left
            __m256i a =
                _mm256_dpbusd_epi32(_mm256_setzero_si256(),
                                    _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(qx + i)),
                                                     _mm512_castsi512_si256(flip)),
                                    _mm256_loadu_si256((const __m256i *)(qw + i)));
            sum += _mm512_reduce_add_epi32(_mm512_zextsi256_si512(a));
        }
        out[t] = hw.d * hx.d * (float)(sum - 128 * hw.s);
    }
}

void calm_hadamard_avx512(float *x, int n, int T, int transpose);
void calm_avx512_attend(const float *q, const float *k, const float *v, size_t stride, int n,
                        int hd, float scale, float *scores, float *out);
void calm_avx512_silu_mul(float *g, const float *u, size_t n);

const calm_isa calm_isa_avx512 = {
    "avx512",
    {
        DOT_TABLE,
        [CALM_TYPE_Q6_K] = dot_q6_k,
    },
    quantize_q8x,
    NULL,
    panel_dot,
    calm_avx512_attend,
    calm_avx512_silu_mul,
    calm_hadamard_avx512,
};
