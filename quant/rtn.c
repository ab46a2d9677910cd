#include "rtn.h"

#include <math.h>
#include <string.h>

#include "../kernels/types.h"

void calm_qg_pack(const uint8_t *q, int bits, int g, uint8_t *out) {
    memset(out, 0, (size_t)g * bits / 8);
    for (int c = 0; c < g; c += 32) {
        switch (bits) {
        case 8:
            memcpy(out + c, q + c, 32);
            break;
        case 4:
            for (int j = 0; j < 16; j++)
                out[c / 2 + j] = (uint8_t)(q[c + j] | (q[c + j + 16] << 4));
            break;
        case 2:
        case 3:
            for (int j = 0; j < 8; j++)
                for (int k = 0; k < 4; k++)
                    out[c / 4 + j] |= (uint8_t)((q[c + j + 8 * k] & 3) << (2 * k));
            if (bits == 3) {
                uint8_t *hi = out + g / 4 + c / 8;
                for (int j = 0; j < 32; j++)
                    hi[j / 8] |= (uint8_t)(((q[c + j] >> 2) & 1) << (j % 8));
            }
            break;
        }
    }
}

void calm_rtn_row(const float *x, int n, int bits, int g, uint8_t *out) {
    const int qmax = (1 << bits) - 1;
    uint8_t q[128];
    for (int i = 0; i < n; i += g) {
        int glen = n - i < g ? n - i : g; // the last group of a row may be shorter
        float lo = x[0], hi = x[0];
        for (int j = 1; j < glen; j++) lo = fminf(lo, x[j]), hi = fmaxf(hi, x[j]);
        // Scale and offset are stored as f16: quantize against the stored values, so that
        // dequantization reproduces exactly what was rounded here.
        calm_f16 d16 = calm_f32_to_f16((hi - lo) / (float)qmax), m16 = calm_f32_to_f16(lo);
        float d = calm_f16_to_f32(d16), m = calm_f16_to_f32(m16), id = d > 0 ? 1.0f / d : 0.0f;
        for (int j = 0; j < glen; j++) {
            int v = (int)lrintf((x[j] - m) * id);
            q[j] = (uint8_t)(v < 0 ? 0 : v > qmax ? qmax : v);
        }
        memcpy(out, &d16, 2);
        memcpy(out + 2, &m16, 2);
        calm_qg_pack(q, bits, glen, out + 4);
        x += glen;
        out += calm_qg_group_bytes(bits, glen);
    }
}
