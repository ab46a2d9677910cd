// AVX2 + FMA + F16C kernels. Integer formats: vpmaddubsw (u8 x s8 -> s16 pairs) then vpmaddwd
// (calm_x86_dot_us); every dot is a shared body of kernels/simd_float.h, kernels/simd_int8.h or
// kernels/x86_common.h, and the packed panels (Q4_0, Q4_1, Q8_0, qgB_G) those of
// kernels/panel_impl.h.
#include <string.h>

#include "../panel_impl.h"
#include "../simd_float.h"
#include "../simd_int8.h"

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

CALM_INT8_DOTS(calm_dot_4bit_body, calm_dot_q8_0_body, calm_dot_qg_body)
CALM_VEC_DOT_BY_NT(dot_q6_k_q8x, calm_x86_dot_q6_k_body)
CALM_FLOAT_DOTS(calm_dot_float_body, calm_dot_dequant_body)
CALM_PANEL_KERNELS(panel_dot, panel_gemm)

// W8A8: vpmaddubsw wants one unsigned operand, so it gets |w| and the activations take w's sign
// (llama.cpp's trick for Q8_0); |w|, |x| <= 127 keep the pair sums below int16's limit.
static void dot_w8a8_q8t(int n, const void *w, const void *x, size_t xs, int nt, float *out) {
    const int8_t *qw, *qx;
    calm_q8t_head hw = calm_q8t_read(w, &qw);
    const __m256i ones = _mm256_set1_epi16(1);
    for (int t = 0; t < nt; t++) {
        calm_q8t_head hx = calm_q8t_read((const uint8_t *)x + t * xs, &qx);
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

const calm_isa calm_isa_avx2 = {
    .name = "avx2",
    .vec_dot = {CALM_DOT_TABLE, [CALM_TYPE_Q6_K] = dot_q6_k_q8x},
    .quantize_q8x = quantize_q8x,
    .panel_dot = panel_dot,
    .panel_gemm = panel_gemm,
    .panel_type = calm_panel_f16_affine,
    .attend = calm_attend_avx2,
    .attend_tile = calm_attend_tile_avx2,
    .silu_mul = calm_silu_mul_avx2,
    .hadamard = calm_hadamard_avx2,
};
