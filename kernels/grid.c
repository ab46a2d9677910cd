#include "grid.h"

#include <math.h>
#include <string.h>

#include "types.h"

int calm_qfmt_grid(calm_qfmt *f, uint32_t type, int sym) {
    const calm_type_traits *tt = calm_type_get(type);
    memset(f, 0, sizeof *f);
    f->type = type;
    if (tt && tt->qg_bits) {
        f->bits = tt->qg_bits, f->group = tt->qg_group, f->sym = sym;
        f->umax = (1 << f->bits) - 1, f->zero = 1 << (f->bits - 1);
        return 0;
    }
    switch (type) {
    case CALM_TYPE_Q4_0:
        *f = (calm_qfmt){type, 4, 32, 1, 0, 15, 8};
        return 0;
    case CALM_TYPE_Q4_1:
        *f = (calm_qfmt){type, 4, 32, 0, 0, 15, 0};
        return 0;
    case CALM_TYPE_Q8_0: // codes -127..127 (stored as u - 128): the AVX2 kernels need |q| <= 127
        *f = (calm_qfmt){type, 8, 32, 1, 1, 255, 128};
        return 0;
    case CALM_TYPE_W8A8:
        *f = (calm_qfmt){type, 8, 0, 1, 1, 255, 128};
        return 0;
    }
    return -1;
}

static float stored(const calm_qfmt *f, float v) {
    return f->type == CALM_TYPE_W8A8 ? v : calm_f16_to_f32(calm_f32_to_f16(v));
}

void calm_qfmt_params(const calm_qfmt *f, const float *w, int n, float clip, float *d, float *m) {
    if (f->sym) {
        float vmax = 0;
        for (int i = 0; i < n; i++)
            if (fabsf(w[i]) > fabsf(vmax)) vmax = w[i];
        if (f->umin == 1) // 8-bit ggml style: d = max|w| / 127, codes symmetric around zero
            *d = stored(f, fabsf(vmax) * clip / (float)(f->zero - 1));
        else // ggml's Q4_0 rule: the largest magnitude maps to code 0 exactly
            *d = stored(f, -vmax * clip / (float)f->zero);
        *m = -(float)f->zero * *d; // exact: zero is a power of two
        return;
    }
    float lo = w[0], hi = w[0];
    for (int i = 1; i < n; i++) lo = fminf(lo, w[i]), hi = fmaxf(hi, w[i]);
    lo *= clip, hi *= clip;
    *d = stored(f, (hi - lo) / (float)f->umax);
    *m = stored(f, lo);
}

static void put_f16(uint8_t *p, float v) {
    calm_f16 h = calm_f32_to_f16(v);
    memcpy(p, &h, 2);
}

void calm_qfmt_write_row(const calm_qfmt *f, const uint8_t *u, const float *d, const float *m,
                         int n, void *out) {
    uint8_t *o = out;
    const calm_type_traits *tt = calm_type_get(f->type);
    if (f->type == CALM_TYPE_W8A8) {
        calm_q8t_head h = {d[0], 0};
        for (int i = 0; i < n; i++) {
            int8_t q = (int8_t)(u[i] - 128);
            o[sizeof h + i] = (uint8_t)q;
            h.s += q;
        }
        memcpy(o, &h, sizeof h);
        return;
    }
    for (int g = 0; g < calm_qfmt_groups(f, n); g++) {
        const uint8_t *q = u + g * f->group;
        int glen = calm_qfmt_glen(f, n, g);
        if (tt->qg_bits) {
            put_f16(o, d[g]);
            put_f16(o + 2, m[g]);
            calm_qg_pack(q, f->bits, glen, o + 4);
            o += calm_qg_group_bytes(f->bits, glen);
            continue;
        }
        put_f16(o, d[g]);
        switch (f->type) {
        case CALM_TYPE_Q4_0:
        case CALM_TYPE_Q4_1: {
            int off = f->type == CALM_TYPE_Q4_1 ? 4 : 2;
            if (off == 4) put_f16(o + 2, m[g]);
            for (int j = 0; j < 16; j++) o[off + j] = (uint8_t)(q[j] | (q[j + 16] << 4));
            break;
        }
        case CALM_TYPE_Q8_0:
            for (int j = 0; j < 32; j++) o[2 + j] = (uint8_t)(int8_t)(q[j] - 128);
            break;
        }
        o += tt->type_size;
    }
}

void calm_qfmt_quantize_row(const calm_qfmt *f, const float *w, int n, const float *clip, void *out,
                            float *deq) {
    uint8_t u[n];
    int ng = calm_qfmt_groups(f, n);
    float d[ng], m[ng];
    for (int g = 0; g < ng; g++) {
        int i0 = g * (f->group ? f->group : n), glen = calm_qfmt_glen(f, n, g);
        calm_qfmt_params(f, w + i0, glen, clip ? clip[g] : 1.0f, &d[g], &m[g]);
        for (int j = 0; j < glen; j++)
            u[i0 + j] = (uint8_t)calm_qfmt_code(f, w[i0 + j], d[g], m[g]);
    }
    calm_qfmt_write_row(f, u, d, m, n, out);
    if (deq) calm_type_get(f->type)->to_float(out, deq, n);
}

int calm_rtn_row(const float *x, int n, uint32_t type, void *out) {
    calm_qfmt f;
    if (calm_qfmt_grid(&f, type, 0)) return -1;
    calm_qfmt_quantize_row(&f, x, n, NULL, out, NULL);
    return 0;
}
