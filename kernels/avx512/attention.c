// AVX-512 attention for one head and SiLU-gating; the exponentials are SLEEF's (1.0 ulp).
#include <immintrin.h>
#include <math.h>
#include <sleef.h>
#include <string.h>

#include "../kernels.h"

void calm_attend_scalar(const float *q, const float *k, const float *v, size_t stride, int n,
                        int hd, float scale, float *sc, float *out);

void calm_avx512_attend(const float *q, const float *k, const float *v, size_t stride, int n,
                        int hd, float scale, float *sc, float *out) {
    if (hd % 16 || hd > 256) { // the vector path holds q in registers: 16 lanes x up to 16
        calm_attend_scalar(q, k, v, stride, n, hd, scale, sc, out);
        return;
    }
    const int nv = hd / 16;
    __m512 qv[16];
    for (int i = 0; i < nv; i++) qv[i] = _mm512_loadu_ps(q + 16 * i);
    float max = -INFINITY;
    for (int j = 0; j < n; j++) {
        const float *kj = k + (size_t)j * stride;
        __m512 d = _mm512_mul_ps(qv[0], _mm512_loadu_ps(kj));
        for (int i = 1; i < nv; i++) d = _mm512_fmadd_ps(qv[i], _mm512_loadu_ps(kj + 16 * i), d);
        sc[j] = _mm512_reduce_add_ps(d) * scale;
        max = sc[j] > max ? sc[j] : max;
    }
    __m512 vmax = _mm512_set1_ps(max), vsum = _mm512_setzero_ps();
    int j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512 e = Sleef_expf16_u10avx512f(_mm512_sub_ps(_mm512_loadu_ps(sc + j), vmax));
        _mm512_storeu_ps(sc + j, e);
        vsum = _mm512_add_ps(vsum, e);
    }
    if (j < n) {
        __mmask16 m = (__mmask16)((1u << (n - j)) - 1);
        __m512 e = Sleef_expf16_u10avx512f(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, sc + j), vmax));
        _mm512_mask_storeu_ps(sc + j, m, e);
        vsum = _mm512_add_ps(vsum, _mm512_maskz_mov_ps(m, e));
    }
    float inv = 1.0f / _mm512_reduce_add_ps(vsum);
    __m512 acc[16];
    for (int i = 0; i < nv; i++) acc[i] = _mm512_setzero_ps();
    for (j = 0; j < n; j++) {
        const float *vj = v + (size_t)j * stride;
        __m512 a = _mm512_set1_ps(sc[j]);
        for (int i = 0; i < nv; i++)
            acc[i] = _mm512_fmadd_ps(a, _mm512_loadu_ps(vj + 16 * i), acc[i]);
    }
    __m512 vinv = _mm512_set1_ps(inv);
    for (int i = 0; i < nv; i++) _mm512_storeu_ps(out + 16 * i, _mm512_mul_ps(acc[i], vinv));
}

void calm_avx512_silu_mul(float *g, const float *u, size_t n) {
    size_t i = 0;
    const __m512 one = _mm512_set1_ps(1.0f);
    for (; i + 16 <= n; i += 16) {
        __m512 x = _mm512_loadu_ps(g + i);
        __m512 e = Sleef_expf16_u10avx512f(_mm512_sub_ps(_mm512_setzero_ps(), x));
        _mm512_storeu_ps(
            g + i, _mm512_mul_ps(_mm512_div_ps(x, _mm512_add_ps(one, e)), _mm512_loadu_ps(u + i)));
    }
    for (; i < n; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}
