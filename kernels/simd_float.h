// The float-vector kernels written once: the dot of float weights (f32, f16, bf16) and of types
// that are dequantized a block at a time (Q5_0, Q5_1, Q4_K, Q5_K) with f32 activations, and, on
// x86, attention for one head and SiLU-gating (exponentials from SLEEF, 1.0 ulp). The vector
// primitives (calm_vf_*) are chosen by the flags the including file is compiled with: AVX-512F,
// AVX2 + FMA + F16C, or NEON. A new ISA adds its branch of primitives here; its kernel files then
// instantiate the bodies with CALM_FLOAT_DOTS(calm_dot_float_body, calm_dot_dequant_body) and
// the calm_*_body functions.
#ifndef CALM_SIMD_FLOAT_H
#define CALM_SIMD_FLOAT_H

#include <math.h>
#include <string.h>

#include "kernels.h"

// The element-wise x86 primitives, whose intrinsics differ only in their prefix p (_mm256, _mm512).
#define CALM_VF_X86_OPS(p)                                                                         \
    CALM_INLINE calm_vf calm_vf_zero(void) {                                                       \
        return p##_setzero_ps();                                                                   \
    }                                                                                              \
    CALM_INLINE calm_vf calm_vf_set1(float a) {                                                    \
        return p##_set1_ps(a);                                                                     \
    }                                                                                              \
    CALM_INLINE calm_vf calm_vf_load(const float *q) {                                             \
        return p##_loadu_ps(q);                                                                    \
    }                                                                                              \
    CALM_INLINE void calm_vf_store(float *q, calm_vf v) {                                          \
        p##_storeu_ps(q, v);                                                                       \
    }                                                                                              \
    CALM_INLINE calm_vf calm_vf_fma(calm_vf a, calm_vf b, calm_vf c) {                             \
        return p##_fmadd_ps(a, b, c);                                                              \
    }                                                                                              \
    CALM_INLINE calm_vf calm_vf_mul(calm_vf a, calm_vf b) {                                        \
        return p##_mul_ps(a, b);                                                                   \
    }                                                                                              \
    CALM_INLINE calm_vf calm_vf_add(calm_vf a, calm_vf b) {                                        \
        return p##_add_ps(a, b);                                                                   \
    }                                                                                              \
    CALM_INLINE calm_vf calm_vf_sub(calm_vf a, calm_vf b) {                                        \
        return p##_sub_ps(a, b);                                                                   \
    }                                                                                              \
    CALM_INLINE calm_vf calm_vf_div(calm_vf a, calm_vf b) {                                        \
        return p##_div_ps(a, b);                                                                   \
    }                                                                                              \
    CALM_INLINE calm_vf calm_vf_max(calm_vf a, calm_vf b) {                                        \
        return p##_max_ps(a, b);                                                                   \
    }

#if defined(__AVX512F__)
#include <immintrin.h>
#include <sleef.h>
typedef __m512 calm_vf;
enum { CALM_VF_W = 16 };
CALM_VF_X86_OPS(_mm512)
CALM_INLINE calm_vf calm_vf_load_f16(const uint16_t *p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}
CALM_INLINE calm_vf calm_vf_load_bf16(const uint16_t *p) {
    __m512i u = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(u, 16));
}
CALM_INLINE float calm_vf_hsum(calm_vf v) {
    return _mm512_reduce_add_ps(v);
}
CALM_INLINE calm_vf calm_vf_exp(calm_vf v) {
    return Sleef_expf16_u10avx512f(v);
}
#elif defined(__AVX2__)
#include <immintrin.h>
#include <sleef.h>

#include "x86_common.h"
typedef __m256 calm_vf;
enum { CALM_VF_W = 8 };
CALM_VF_X86_OPS(_mm256)
CALM_INLINE calm_vf calm_vf_load_f16(const uint16_t *p) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}
CALM_INLINE calm_vf calm_vf_load_bf16(const uint16_t *p) {
    __m256i u = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(u, 16));
}
CALM_INLINE float calm_vf_hsum(calm_vf v) {
    return calm_hsum256(v);
}
CALM_INLINE calm_vf calm_vf_exp(calm_vf v) {
    return Sleef_expf8_u10avx2(v);
}
#elif defined(__ARM_NEON)
#include <arm_neon.h>
typedef float32x4_t calm_vf;
enum { CALM_VF_W = 4 };
CALM_INLINE calm_vf calm_vf_zero(void) {
    return vdupq_n_f32(0);
}
CALM_INLINE calm_vf calm_vf_set1(float a) {
    return vdupq_n_f32(a);
}
CALM_INLINE calm_vf calm_vf_load(const float *p) {
    return vld1q_f32(p);
}
CALM_INLINE void calm_vf_store(float *p, calm_vf v) {
    vst1q_f32(p, v);
}
CALM_INLINE calm_vf calm_vf_load_f16(const uint16_t *p) {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
}
CALM_INLINE calm_vf calm_vf_load_bf16(const uint16_t *p) {
    return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16));
}
CALM_INLINE calm_vf calm_vf_fma(calm_vf a, calm_vf b, calm_vf c) {
    return vfmaq_f32(c, a, b);
}
CALM_INLINE calm_vf calm_vf_mul(calm_vf a, calm_vf b) {
    return vmulq_f32(a, b);
}
CALM_INLINE float calm_vf_hsum(calm_vf v) {
    return vaddvq_f32(v);
}
#else
#error "kernels/simd_float.h: no float vectors for this target"
#endif

// Float weights: one vector of row w (f32, f16 or bf16) from element i.
CALM_INLINE calm_vf calm_vf_load_w(const void *w, uint32_t type, int i) {
    if (type == CALM_TYPE_F32) return calm_vf_load((const float *)w + i);
    if (type == CALM_TYPE_F16) return calm_vf_load_f16((const uint16_t *)w + i);
    return calm_vf_load_bf16((const uint16_t *)w + i);
}

// Float weights: a vector at a time converted to f32 and multiplied into every token's
// accumulator; the elements past the last full vector are added from a dequantized tail.
CALM_INLINE void calm_dot_float_body(int n, const void *w, const void *x, size_t xs, float *out,
                                     uint32_t type, const int nt) {
    calm_vf acc[CALM_NT];
    for (int t = 0; t < nt; t++) acc[t] = calm_vf_zero();
    int i = 0;
    for (; i + CALM_VF_W <= n; i += CALM_VF_W) {
        calm_vf wv = calm_vf_load_w(w, type, i);
        for (int t = 0; t < nt; t++)
            acc[t] = calm_vf_fma(wv, calm_vf_load(calm_f32_row(x, xs, t) + i), acc[t]);
    }
    for (int t = 0; t < nt; t++) out[t] = calm_vf_hsum(acc[t]);
    if (i >= n) return;
    float tail[CALM_VF_W];
    calm_type_get(type)->to_float((const uint8_t *)w + calm_row_size(type, i), tail, n - i);
    for (int t = 0; t < nt; t++)
        for (int j = i; j < n; j++) out[t] += tail[j - i] * calm_f32_row(x, xs, t)[j];
}

// Dequantize a block, then a float dot: each block (32 for Q5_0/Q5_1, 256 for the K-quants) is
// converted once and multiplied into every token.
CALM_INLINE void calm_dot_dequant_body(int n, const void *w, const void *x, size_t xs, float *out,
                                       uint32_t type, const int nt) {
    const calm_type_traits *tt = calm_type_get(type);
    float buf[QK_K];
    calm_vf acc[CALM_NT];
    for (int t = 0; t < nt; t++) acc[t] = calm_vf_zero();
    const int bs = tt->block_size;
    for (int i = 0; i < n; i += bs) {
        tt->to_float((const uint8_t *)w + (size_t)(i / bs) * tt->type_size, buf, bs);
        for (int j = 0; j < bs; j += CALM_VF_W) {
            calm_vf wv = calm_vf_load(buf + j);
            for (int t = 0; t < nt; t++)
                acc[t] = calm_vf_fma(wv, calm_vf_load(calm_f32_row(x, xs, t) + i + j), acc[t]);
        }
    }
    for (int t = 0; t < nt; t++) out[t] = calm_vf_hsum(acc[t]);
}

#if defined(__x86_64__)
// Attention for one head: the query stays in registers (hd a multiple of the width, at most 16
// vectors; other sizes go to the scalar reference).
CALM_INLINE void calm_attend_body(const float *q, const float *k, const float *v, size_t stride,
                                  int n, int hd, float scale, float *sc, float *out) {
    if (hd % CALM_VF_W || hd > 16 * CALM_VF_W) {
        calm_attend_scalar(q, k, v, stride, n, hd, scale, sc, out);
        return;
    }
    const int nv = hd / CALM_VF_W;
    calm_vf qv[16];
    for (int i = 0; i < nv; i++) qv[i] = calm_vf_load(q + CALM_VF_W * i);
    float max = -INFINITY;
    for (int j = 0; j < n; j++) {
        const float *kj = k + (size_t)j * stride;
        calm_vf d = calm_vf_mul(qv[0], calm_vf_load(kj));
        for (int i = 1; i < nv; i++) d = calm_vf_fma(qv[i], calm_vf_load(kj + CALM_VF_W * i), d);
        sc[j] = calm_vf_hsum(d) * scale;
        max = sc[j] > max ? sc[j] : max;
    }
    calm_vf vmax = calm_vf_set1(max), vsum = calm_vf_zero();
    int j = 0;
    for (; j + CALM_VF_W <= n; j += CALM_VF_W) {
        calm_vf e = calm_vf_exp(calm_vf_sub(calm_vf_load(sc + j), vmax));
        calm_vf_store(sc + j, e);
        vsum = calm_vf_add(vsum, e);
    }
    float sum = calm_vf_hsum(vsum);
    for (; j < n; j++) sum += (sc[j] = expf(sc[j] - max));
    calm_vf acc[16];
    for (int i = 0; i < nv; i++) acc[i] = calm_vf_zero();
    for (j = 0; j < n; j++) {
        const float *vj = v + (size_t)j * stride;
        calm_vf a = calm_vf_set1(sc[j]);
        for (int i = 0; i < nv; i++)
            acc[i] = calm_vf_fma(a, calm_vf_load(vj + CALM_VF_W * i), acc[i]);
    }
    calm_vf vinv = calm_vf_set1(1.0f / sum);
    for (int i = 0; i < nv; i++) calm_vf_store(out + CALM_VF_W * i, calm_vf_mul(acc[i], vinv));
}

// g[i] = silu(g[i]) * u[i], a vector at a time.
// Causal attention of nq <= CALM_VF_W consecutive queries of one head (prefill): query i, at
// q + i * qs, sees keys 0 .. n0 + i - 1, and its output goes to out + i * os. The queries sit in
// the vector lanes, so a score is an FMA of a broadcast key element into a vector of queries and a
// weighted value one of a broadcast value element: no horizontal sum per (query, key), which is
// most of calm_attend_body's work. S is scratch of (n0 + nq - 1) * CALM_VF_W floats; hd is a
// multiple of 8 and at most 128 (calm_attend_tile_fits).
static inline int calm_attend_tile_fits(int hd) {
    return hd % 8 == 0 && hd <= 128;
}
CALM_INLINE void calm_attend_tile_body(const float *q, size_t qs, int nq, const float *k,
                                       const float *v, size_t stride, int n0, int hd, float scale,
                                       float *S, float *out, size_t os) {
    enum { W = CALM_VF_W };
    float qt[128 * W]; // the queries transposed: qt[d * W + i], lanes past nq zero
    for (int d = 0; d < hd; d++)
        for (int i = 0; i < W; i++) qt[d * W + i] = i < nq ? q[(size_t)i * qs + d] * scale : 0.0f;
    const int n = n0 + nq - 1;
    calm_vf vmax = calm_vf_set1(-INFINITY);
    int j = 0;
    for (; j < n; j += 4) { // four keys at a time: four independent FMA chains
        const int nk = n - j < 4 ? n - j : 4;
        calm_vf s[4] = {calm_vf_zero(), calm_vf_zero(), calm_vf_zero(), calm_vf_zero()};
        for (int d = 0; d < hd; d++) {
            calm_vf qd = calm_vf_load(qt + d * W);
            for (int u = 0; u < nk; u++)
                s[u] = calm_vf_fma(calm_vf_set1(k[(size_t)(j + u) * stride + d]), qd, s[u]);
        }
        for (int u = 0; u < nk; u++) {
            float *row = S + (size_t)(j + u) * W;
            calm_vf_store(row, s[u]);
            for (int i = 0; i <= j + u - n0; i++) row[i] = -INFINITY; // keys past query i's
            vmax = calm_vf_max(vmax, calm_vf_load(row));
        }
    }
    calm_vf vsum = calm_vf_zero();
    for (j = 0; j < n; j++) {
        calm_vf e = calm_vf_exp(calm_vf_sub(calm_vf_load(S + (size_t)j * W), vmax));
        calm_vf_store(S + (size_t)j * W, e);
        vsum = calm_vf_add(vsum, e);
    }
    float sum[W], tmp[8 * W];
    calm_vf_store(sum, vsum);
    for (int d0 = 0; d0 < hd; d0 += 8) { // eight output dimensions per pass over the keys
        calm_vf acc[8];
        for (int u = 0; u < 8; u++) acc[u] = calm_vf_zero();
        for (j = 0; j < n; j++) {
            calm_vf pj = calm_vf_load(S + (size_t)j * W);
            const float *vj = v + (size_t)j * stride + d0;
            for (int u = 0; u < 8; u++) acc[u] = calm_vf_fma(calm_vf_set1(vj[u]), pj, acc[u]);
        }
        for (int u = 0; u < 8; u++) calm_vf_store(tmp + u * W, acc[u]);
        for (int i = 0; i < nq; i++)
            for (int u = 0; u < 8; u++) out[(size_t)i * os + d0 + u] = tmp[u * W + i] / sum[i];
    }
}

// Up to CALM_ATTEND_TILE queries in tiles of the vector width (a head width the tile does not
// take goes one query at a time through calm_attend_body).
CALM_INLINE void calm_attend_tiles(const float *q, size_t qs, int nq, const float *k,
                                   const float *v, size_t stride, int n0, int hd, float scale,
                                   float *S, float *out, size_t os) {
    if (!calm_attend_tile_fits(hd)) {
        for (int i = 0; i < nq; i++)
            calm_attend_body(q + (size_t)i * qs, k, v, stride, n0 + i, hd, scale, S,
                             out + (size_t)i * os);
        return;
    }
    for (int i0 = 0; i0 < nq; i0 += CALM_VF_W)
        calm_attend_tile_body(q + (size_t)i0 * qs, qs, nq - i0 < CALM_VF_W ? nq - i0 : CALM_VF_W, k,
                              v, stride, n0 + i0, hd, scale, S, out + (size_t)i0 * os, os);
}

CALM_INLINE void calm_silu_mul_body(float *g, const float *u, size_t n) {
    size_t i = 0;
    const calm_vf one = calm_vf_set1(1.0f);
    for (; i + CALM_VF_W <= n; i += CALM_VF_W) {
        calm_vf x = calm_vf_load(g + i);
        calm_vf e = calm_vf_exp(calm_vf_sub(calm_vf_zero(), x));
        calm_vf_store(g + i, calm_vf_mul(calm_vf_div(x, calm_vf_add(one, e)), calm_vf_load(u + i)));
    }
    for (; i < n; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}
#endif

#endif
