// NEON + dotprod kernels: sdot (vdotq_s32) sums four s8 x s8 products into each int32 lane. The
// float-activation and integer-block kernels are the shared bodies of kernels/simd_float.h and
// kernels/simd_int8.h on NEON's primitives, the packed panels (Q4_0, Q4_1, Q8_0, qgB_G) those of
// kernels/panel_impl.h.
#include <arm_neon.h>
#include <string.h>

#include "../panel_impl.h"
#include "../simd_float.h"
#include "../simd_int8.h"

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

CALM_INT8_DOTS(calm_dot_4bit_body, calm_dot_q8_0_body, calm_dot_qg_body)
CALM_FLOAT_DOTS(calm_dot_float_body, calm_dot_dequant_body)
CALM_PANEL_KERNELS(panel_dot, panel_gemm)

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

// Attention, SiLU and the Hadamard transform are the scalar kernels.
const calm_isa calm_isa_neon = {
    .name = "neon",
    .vec_dot = {CALM_DOT_TABLE},
    .quantize_q8x = quantize_q8x,
    .panel_dot = panel_dot,
    .panel_gemm = panel_gemm,
    .panel_type = calm_panel_f16_affine,
};
