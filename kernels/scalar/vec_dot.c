// The scalar reference kernels. Integer formats dot their codes with int8 activations exactly as
// the SIMD kernels do, so those can be tested against these to float rounding.
#include <math.h>
#include <string.h>

#include "../hadamard.h"
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
static void dot_w8a8(int n, const void *w, const void *x, size_t xs, int nt, float *out) {
    calm_q8t_head hw, hx;
    memcpy(&hw, w, sizeof hw);
    const int8_t *qw = (const int8_t *)w + sizeof hw;
    for (int t = 0; t < nt; t++) {
        const uint8_t *xt = (const uint8_t *)x + t * xs;
        memcpy(&hx, xt, sizeof hx);
        const int8_t *qx = (const int8_t *)(xt + sizeof hx);
        int32_t sum = 0;
        for (int i = 0; i < n; i++) sum += qw[i] * qx[i];
        out[t] = hw.d * hx.d * (float)sum;
    }
}

// Types on f32 activations: dequantize a chunk of the row, then dot it with every token.
static void dot_f32_act(int n, const void *w, uint32_t type, const void *x, size_t xs, int nt,
                        float *out) {
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

#define F32_ACT(name, type)                                                                        \
    static void name(int n, const void *w, const void *x, size_t xs, int nt, float *out) {         \
        dot_f32_act(n, w, type, x, xs, nt, out);                                                   \
    }
F32_ACT(dot_f32, CALM_TYPE_F32)
F32_ACT(dot_f16, CALM_TYPE_F16)
F32_ACT(dot_bf16, CALM_TYPE_BF16)
F32_ACT(dot_q5_0, CALM_TYPE_Q5_0)
F32_ACT(dot_q5_1, CALM_TYPE_Q5_1)
F32_ACT(dot_q4_k, CALM_TYPE_Q4_K)
F32_ACT(dot_q5_k, CALM_TYPE_Q5_K)
// Q6_K: per 16 weights w = d * sc * (q - 32), q six bits; each 32-block of activations spans two
// of those scales.
static void dot_q6_k(int n, const void *w, const void *x, size_t xs, int nt, float *out) {
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
            const block_q8x *a = (const block_q8x *)((const uint8_t *)x + t * xs) + i * (QK_K / 32);
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

static void dot_q4_0(int n, const void *w, const void *x, size_t xs, int nt, float *out) {
    const block_q4_0 *b = w;
    for (int t = 0; t < nt; t++) {
        const block_q8x *q = (const block_q8x *)((const uint8_t *)x + t * xs);
        float s = 0;
        for (int i = 0; i < n / 32; i++) {
            int sum = 0;
            for (int j = 0; j < 16; j++)
                sum += (b[i].qs[j] & 0xf) * q[i].qs[j] + (b[i].qs[j] >> 4) * q[i].qs[j + 16];
            float d = calm_f16_to_f32(b[i].d);
            s += d * (q[i].d * (float)sum - 8.0f * q[i].s);
        }
        out[t] = s;
    }
}

static void dot_q4_1(int n, const void *w, const void *x, size_t xs, int nt, float *out) {
    const block_q4_1 *b = w;
    for (int t = 0; t < nt; t++) {
        const block_q8x *q = (const block_q8x *)((const uint8_t *)x + t * xs);
        float s = 0;
        for (int i = 0; i < n / 32; i++) {
            int sum = 0;
            for (int j = 0; j < 16; j++)
                sum += (b[i].qs[j] & 0xf) * q[i].qs[j] + (b[i].qs[j] >> 4) * q[i].qs[j + 16];
            s += calm_f16_to_f32(b[i].d) * q[i].d * (float)sum + calm_f16_to_f32(b[i].m) * q[i].s;
        }
        out[t] = s;
    }
}

static void dot_q8_0(int n, const void *w, const void *x, size_t xs, int nt, float *out) {
    const block_q8_0 *b = w;
    for (int t = 0; t < nt; t++) {
        const block_q8x *q = (const block_q8x *)((const uint8_t *)x + t * xs);
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
static void dot_qg(int n, const void *w, const void *x, size_t xs, int nt, float *out, int bits,
                   int g) {
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
            const block_q8x *a = (const block_q8x *)((const uint8_t *)x + t * xs) + i0 / 32;
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

QG_DOT_ALL

void calm_attend_scalar(const float *q, const float *k, const float *v, size_t stride, int n,
                        int hd, float scale, float *scores, float *out);
void calm_silu_mul_scalar(float *g, const float *u, size_t n);

const calm_isa calm_isa_scalar = {
    "scalar",
    {
        DOT_TABLE,
        [CALM_TYPE_Q6_K] = dot_q6_k,
    },
    quantize_q8x,
    quantize_q8t,
    NULL, // the scalar path multiplies the weights as stored; calm_panel_dot_scalar is the panels'
          // reference
    calm_attend_scalar,
    calm_silu_mul_scalar,
    calm_hadamard,
};
