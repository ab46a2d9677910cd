// AVX-512 (F, BW, VL) + VNNI kernels: vpdpbusd multiplies u8 by s8 and sums groups of four into
// int32 lanes in one instruction, two 32-element blocks per 512-bit register.
// The float, Q6_K and group-format bodies and the 32-block Q4/Q8_0 bodies that take an odd last
// block are the shared ones of kernels/simd_float.h, kernels/simd_int8.h and kernels/x86_common.h
// (where vpdpbusd is the u8 x s8 dot of this file).
#include <string.h>

#include "../simd_float.h"
#include "../simd_int8.h"
#include "panel_tile.h"
#include "panel_q6_k.h"

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
CALM_INLINE void dot_4bit_body(int n, const void *w, const void *x, size_t xs, float *out,
                               const int has_m, const int nt) {
    const size_t bsize = has_m ? sizeof(block_q4_1) : sizeof(block_q4_0);
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
            const block_q8x *a = calm_q8x_row(x, xs, t) + i;
            __m512i xq = pair(_mm256_loadu_si256((const __m256i *)a[0].qs),
                              _mm256_loadu_si256((const __m256i *)a[1].qs));
            acc[t] = _mm512_fmadd_ps(scales2(d0 * a[0].d, d1 * a[1].d), dpbusd(q, xq), acc[t]);
            corr[t] += m0 * a[0].s + m1 * a[1].s;
        }
    }
    for (int t = 0; t < nt; t++) out[t] = _mm512_reduce_add_ps(acc[t]) + corr[t];
    if (i < nb) { // an odd block left: the 256-bit body
        float last[CALM_NT];
        calm_dot_4bit_body(32, (const uint8_t *)w + i * bsize, (const block_q8x *)x + i, xs, last,
                           has_m, nt);
        for (int t = 0; t < nt; t++) out[t] += last[t];
    }
}

// Q8_0: |w| as unsigned, the sign moves to x.
CALM_INLINE void dot_q8_0_body(int n, const void *w, const void *x, size_t xs, float *out,
                               const int nt) {
    const block_q8_0 *b = w;
    __m512 acc[CALM_NT];
    for (int t = 0; t < nt; t++) acc[t] = _mm512_setzero_ps();
    int nb = n / 32, i = 0;
    for (; i + 2 <= nb; i += 2) {
        __m512i q = pair(_mm256_loadu_si256((const __m256i *)b[i].qs),
                         _mm256_loadu_si256((const __m256i *)b[i + 1].qs));
        __m512i aq = _mm512_abs_epi8(q);
        __mmask64 neg = _mm512_movepi8_mask(q);
        float d0 = calm_f16c(b[i].d), d1 = calm_f16c(b[i + 1].d);
        for (int t = 0; t < nt; t++) {
            const block_q8x *a = calm_q8x_row(x, xs, t) + i;
            __m512i xq = pair(_mm256_loadu_si256((const __m256i *)a[0].qs),
                              _mm256_loadu_si256((const __m256i *)a[1].qs));
            xq = _mm512_mask_sub_epi8(xq, neg, _mm512_setzero_si512(), xq);
            acc[t] = _mm512_fmadd_ps(scales2(d0 * a[0].d, d1 * a[1].d), dpbusd(aq, xq), acc[t]);
        }
    }
    for (int t = 0; t < nt; t++) out[t] = _mm512_reduce_add_ps(acc[t]);
    if (i < nb) { // an odd block left: the 256-bit body
        float last[CALM_NT];
        calm_dot_q8_0_body(32, b + i, (const block_q8x *)x + i, xs, last, nt);
        for (int t = 0; t < nt; t++) out[t] += last[t];
    }
}

CALM_INT8_DOTS(dot_4bit_body, dot_q8_0_body, calm_dot_qg_body)
CALM_VEC_DOT_BY_NT(dot_q6_k_q8x, calm_x86_dot_q6_k_body)
CALM_FLOAT_DOTS(calm_dot_float_body, calm_dot_dequant_body)

// Packed panels: the shared tile (kernels/avx512/panel_tile.h) for 1-4 tokens and a group of
// panels (np memory streams) or a single one. (Software prefetch on top of the groups was measured
// on the device machine at 512-2048 bytes ahead: within noise, so there is none.)
// bits 6: the Q6_K tile (kernels/avx512/panel_q6_k.h).
CALM_INLINE void panel_body(const calm_packed *p, int panel, const void *x, size_t xs, float *out,
                            int ys, const int bits, const int ks, const int np, const int nt) {
    if (bits == 6) {
        calm_panel_q6_k_tile(p, panel, x, xs, out, (size_t)ys, 0xffff, np, nt);
        return;
    }
    const int nb = p->cols / 32;
    const size_t pstride = (size_t)nb * p->block_bytes;
    calm_panel_tile(p->data + (size_t)panel * pstride, nb, pstride, x, xs, out, (size_t)ys, 0xffff,
                    bits, ks, np, nt);
}

// A whole group, or its panels one at a time (a group's output rows are np * 16 apart).
#define PANEL_GROUP(nt, bits, ks)                                                                  \
    if (np == CALM_PANEL_GROUP) {                                                                  \
        CALM_NT_SWITCH(nt, panel_body, p, panel, x, xs, out, np *CALM_PANEL, bits, ks,             \
                       CALM_PANEL_GROUP)                                                           \
    } else {                                                                                       \
        for (int q = 0; q < np; q++)                                                               \
            CALM_NT_SWITCH(nt, panel_body, p, panel + q, x, xs, out + q * CALM_PANEL,              \
                           np * CALM_PANEL, bits, ks, 1)                                           \
    }

static void panel_dot(const calm_packed *p, int panel, int np, const void *x, size_t xs, int nt,
                      float *out) {
    if (p->bits == 6) {
        PANEL_GROUP(nt, 6, 0)
    } else if (p->bits == 4 && p->k_scales) {
        PANEL_GROUP(nt, 4, 1)
    } else if (p->bits == 4) {
        PANEL_GROUP(nt, 4, 0)
    } else if (p->bits == 5 && p->k_scales) {
        PANEL_GROUP(nt, 5, 1)
    } else if (p->bits == 5) {
        PANEL_GROUP(nt, 5, 0)
    } else {
        PANEL_GROUP(nt, 8, 0)
    }
}

// W8A8: activations become unsigned by flipping their sign bit (q + 128), so one vpdpbusd takes 64
// weights; the 128 * sum(q_w) this adds is taken off at the end.
static void dot_w8a8_q8t(int n, const void *w, const void *x, size_t xs, int nt, float *out) {
    const int8_t *qw, *qx;
    calm_q8t_head hw = calm_q8t_read(w, &qw);
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    for (int t = 0; t < nt; t++) {
        calm_q8t_head hx = calm_q8t_read((const uint8_t *)x + t * xs, &qx);
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

const calm_isa calm_isa_avx512 = {
    .name = "avx512",
    .vec_dot = {CALM_DOT_TABLE, [CALM_TYPE_Q6_K] = dot_q6_k_q8x},
    .quantize_q8x = quantize_q8x,
    .panel_dot = panel_dot,
    .panel_gemm = calm_panel_gemm_avx512,
    .attend = calm_attend_avx512,
    .attend_tile = calm_attend_tile_avx512,
    .silu_mul = calm_silu_mul_avx512,
    .hadamard = calm_hadamard_avx512,
};
