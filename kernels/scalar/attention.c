// The scalar reference of attention for one head and of SiLU-gating (libm's expf).
#include <math.h>
#include <string.h>

#include "../kernels.h"

void calm_attend_scalar(const float *q, const float *k, const float *v, size_t stride, int n,
                        int hd, float scale, float *sc, float *out) {
    float max = -INFINITY;
    for (int j = 0; j < n; j++) {
        const float *kj = k + (size_t)j * stride;
        float d = 0.0f;
        for (int i = 0; i < hd; i++) d += q[i] * kj[i];
        sc[j] = d * scale;
        max = sc[j] > max ? sc[j] : max;
    }
    double sum = 0.0;
    for (int j = 0; j < n; j++) {
        sc[j] = expf(sc[j] - max);
        sum += sc[j];
    }
    float inv = (float)(1.0 / sum);
    memset(out, 0, (size_t)hd * sizeof(float));
    for (int j = 0; j < n; j++) {
        const float *vj = v + (size_t)j * stride, a = sc[j] * inv;
        for (int i = 0; i < hd; i++) out[i] += a * vj[i];
    }
}

void calm_silu_mul_scalar(float *g, const float *u, size_t n) {
    for (size_t i = 0; i < n; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}
