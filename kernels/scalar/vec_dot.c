// The scalar reference kernels. Integer formats dot their codes with int8 activations exactly as
// the SIMD kernels do, so those can be tested against these to float rounding.
#include <math.h>
#include <string.h>

#include "../kernels.h"

static void quantize_q8x(const float *x, block_q8x *y, int n) {
    for (int i = 0; i < n / 32; i++) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[i * 32 + j]));
        float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int j = 0; j < 32; j++) {
            int q = (int)lrintf(x[i * 32 + j] * id);
            y[i].qs[j] = (int8_t)q;
            sum += q;
        }
        y[i].d = d;
        y[i].s = d * (float)sum;
    }
}

static void quantize_q8t(const float *x, void *y, int n) {
    float amax = 0;
    for (int i = 0; i < n; i++) amax = fmaxf(amax, fabsf(x[i]));
    calm_q8t_head h = {amax / 127.0f, 0};
    float id = h.d ? 1.0f / h.d : 0.0f;
    int8_t *q = (int8_t *)y + sizeof h;
    for (int i = 0; i < n; i++) {
        q[i] = (int8_t)lrintf(x[i] * id);
        h.s += q[i];
    }
    memcpy(y, &h, sizeof h);
}

// W8A8: one integer dot per row and token, scaled once.
static void dot_w8a8_q8t(int n, const void *w, const void *x, size_t xs, int nt, float *out) {
    const int8_t *qw, *qx;
    calm_q8t_head hw = calm_q8t_read(w, &qw);
    for (int t = 0; t < nt; t++) {
        calm_q8t_head hx = calm_q8t_read((const uint8_t *)x + t * xs, &qx);
        int32_t sum = 0;
        for (int i = 0; i < n; i++) sum += qw[i] * qx[i];
        out[t] = hw.d * hx.d * (float)sum;
    }
}

// Types on f32 activations: dequantize a chunk of the row, then dot it with every token.
static void dot_dequant_f32(int n, const void *w, const void *x, size_t xs, float *out,
                            uint32_t type, int nt) {
    const calm_type_traits *tt = calm_type_get(type);
    int chunk = tt->block_size > 32 ? tt->block_size : 32;
    size_t chunk_bytes = calm_row_size(type, chunk);
    float buf[256];
    for (int t = 0; t < nt; t++) out[t] = 0;
    for (int i = 0; i < n; i += chunk) {
        int len = n - i < chunk ? n - i : chunk; // float types allow any row length
        tt->to_float((const uint8_t *)w + (size_t)(i / chunk) * chunk_bytes, buf, len);
        for (int t = 0; t < nt; t++) {
            const float *xt = (const float *)((const uint8_t *)x + t * xs) + i;
            float s = 0;
            for (int j = 0; j < len; j++) s += buf[j] * xt[j];
            out[t] += s;
        }
    }
}

CALM_FLOAT_DOTS(dot_dequant_f32, dot_dequant_f32)
// Q6_K: per 16 weights w = d * sc * (q - 32), q six bits; each 32-block of activations spans two
// of those scales.
static void dot_q6_k_q8x(int n, const void *w, const void *x, size_t xs, int nt, float *out) {
    const block_q6_k *b = w;
    int8_t q[QK_K];
    for (int t = 0; t < nt; t++) out[t] = 0;
    for (int i = 0; i < n / QK_K; i++) {
        for (int h = 0; h < 2; h++) { // the two halves of 128
            const uint8_t *ql = b[i].ql + 64 * h, *qh = b[i].qh + 32 * h;
            for (int l = 0; l < 32; l++) {
                q[128 * h + l] = (int8_t)(((ql[l] & 0xf) | ((qh[l] & 3) << 4)) - 32);
                q[128 * h + l + 32] =
                    (int8_t)(((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32);
                q[128 * h + l + 64] = (int8_t)(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
                q[128 * h + l + 96] =
                    (int8_t)(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
            }
        }
        float d = calm_f16_to_f32(b[i].d);
        for (int t = 0; t < nt; t++) {
            const block_q8x *a = calm_q8x_row(x, xs, t) + i * (QK_K / 32);
            float s = 0;
            for (int c = 0; c < QK_K / 32; c++) {
                int s0 = 0, s1 = 0;
                for (int j = 0; j < 16; j++) s0 += q[32 * c + j] * a[c].qs[j];
                for (int j = 16; j < 32; j++) s1 += q[32 * c + j] * a[c].qs[j];
                // scale index of weight 32c + j: 8 per half, then (element within half) / 16
                int base = (c / 4) * 8 + (c % 4) * 2;
                s += a[c].d * ((float)b[i].scales[base] * (float)s0 +
                               (float)b[i].scales[base + 1] * (float)s1);
            }
            out[t] += d * s;
        }
    }
}

// Q4_0 and Q4_1: w = d * q + m per block, m = -8d for Q4_0.
static void dot_4bit(int n, const void *w, const void *x, size_t xs, float *out, int has_m,
                     int nt) {
    const size_t bsize = has_m ? sizeof(block_q4_1) : sizeof(block_q4_0);
    for (int t = 0; t < nt; t++) {
        const block_q8x *q = calm_q8x_row(x, xs, t);
        float s = 0;
        for (int i = 0; i < n / 32; i++) {
            const uint8_t *b = (const uint8_t *)w + i * bsize, *qs = b + (has_m ? 4 : 2);
            calm_f16 h[2];
            memcpy(h, b, 4);
            float d = calm_f16_to_f32(h[0]), m = has_m ? calm_f16_to_f32(h[1]) : -8.0f * d;
            int sum = 0;
            for (int j = 0; j < 16; j++)
                sum += (qs[j] & 0xf) * q[i].qs[j] + (qs[j] >> 4) * q[i].qs[j + 16];
            s += d * q[i].d * (float)sum + m * q[i].s;
        }
        out[t] = s;
    }
}

static void dot_q8_0(int n, const void *w, const void *x, size_t xs, float *out, int nt) {
    const block_q8_0 *b = w;
    for (int t = 0; t < nt; t++) {
        const block_q8x *q = calm_q8x_row(x, xs, t);
        float s = 0;
        for (int i = 0; i < n / 32; i++) {
            int sum = 0;
            for (int j = 0; j < 32; j++) sum += b[i].qs[j] * q[i].qs[j];
            s += calm_f16_to_f32(b[i].d) * q[i].d * (float)sum;
        }
        out[t] = s;
    }
}

// calm group formats: per group, w = d * q + m, so w . x = d * sum(q * xq * dx) + m * sum(s).
static void dot_qg(int n, const void *w, const void *x, size_t xs, float *out, int bits, int g,
                   int nt) {
    uint8_t q[128];
    const uint8_t *p = w;
    for (int t = 0; t < nt; t++) out[t] = 0;
    for (int i0 = 0; i0 < n; i0 += g, p += calm_qg_group_bytes(bits, g)) {
        int glen = n - i0 < g ? n - i0 : g; // a shorter last group ends the loop
        calm_f16 d16, m16;
        memcpy(&d16, p, 2);
        memcpy(&m16, p + 2, 2);
        float d = calm_f16_to_f32(d16), m = calm_f16_to_f32(m16);
        calm_qg_unpack(p + 4, bits, glen, q);
        for (int t = 0; t < nt; t++) {
            const block_q8x *a = calm_q8x_row(x, xs, t) + i0 / 32;
            float s = 0, ms = 0;
            for (int c = 0; c < glen / 32; c++) {
                int sum = 0;
                for (int j = 0; j < 32; j++) sum += q[c * 32 + j] * a[c].qs[j];
                s += a[c].d * (float)sum;
                ms += a[c].s;
            }
            out[t] += d * s + m * ms;
        }
    }
}

CALM_INT8_DOTS(dot_4bit, dot_q8_0, dot_qg)

const calm_isa calm_isa_scalar = {
    .name = "scalar",
    .vec_dot = {CALM_DOT_TABLE, [CALM_TYPE_Q6_K] = dot_q6_k_q8x},
    .quantize_q8x = quantize_q8x,
    .quantize_q8t = quantize_q8t,
    // no panel_dot: the scalar path multiplies the weights as stored; calm_panel_dot_scalar
    // (kernels/pack.h) is the panels' reference
    .attend = calm_attend_scalar,
    .silu_mul = calm_silu_mul_scalar,
    .hadamard = calm_hadamard_scalar,
};
