// AVX2 attention for one head and SiLU-gating; the exponentials are SLEEF's (1.0 ulp).
#include <immintrin.h>
#include <math.h>
#include <sleef.h>
#include <string.h>

#include "../kernels.h"

void calm_attend_scalar(const float *q, const float *k, const float *v, size_t stride, int n,
                        int hd, float scale, float *sc, float *out);

static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

void calm_avx2_attend(const float *q, const float *k, const float *v, size_t stride, int n, int hd,
                      float scale, float *sc, float *out) {
    if (hd % 8 || hd > 128) {
        calm_attend_scalar(q, k, v, stride, n, hd, scale, sc, out);
        return;
    }
    const int nv = hd / 8;
    __m256 qv[16];
    for (int i = 0; i < nv; i++) qv[i] = _mm256_loadu_ps(q + 8 * i);
    float max = -INFINITY;
    for (int j = 0; j < n; j++) {
        const float *kj = k + (size_t)j * stride;
        __m256 d = _mm256_mul_ps(qv[0], _mm256_loadu_ps(kj));
        for (int i = 1; i < nv; i++) d = _mm256_fmadd_ps(qv[i], _mm256_loadu_ps(kj + 8 * i), d);
        sc[j] = hsum(d) * scale;
        max = sc[j] > max ? sc[j] : max;
    }
    __m256 vmax = _mm256_set1_ps(max), vsum = _mm256_setzero_ps();
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 e = Sleef_expf8_u10avx2(_mm256_sub_ps(_mm256_loadu_ps(sc + j), vmax));
        _mm256_storeu_ps(sc + j, e);
        vsum = _mm256_add_ps(vsum, e);
    }
    float sum = hsum(vsum);
    for (; j < n; j++) sum += (sc[j] = expf(sc[j] - max));
    float inv = 1.0f / sum;
    __m256 acc[16];
    for (int i = 0; i < nv; i++) acc[i] = _mm256_setzero_ps();
    for (j = 0; j < n; j++) {
        const float *vj = v + (size_t)j * stride;
        __m256 a = _mm256_set1_ps(sc[j]);
        for (int i = 0; i < nv; i++)
            acc[i] = _mm256_fmadd_ps(a, _mm256_loadu_ps(vj + 8 * i), acc[i]);
    }
    __m256 vinv = _mm256_set1_ps(inv);
    for (int i = 0; i < nv; i++) _mm256_storeu_ps(out + 8 * i, _mm256_mul_ps(acc[i], vinv));
}

void calm_avx2_silu_mul(float *g, const float *u, size_t n) {
    size_t i = 0;
    const __m256 one = _mm256_set1_ps(1.0f);
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(g + i);
        __m256 e = Sleef_expf8_u10avx2(_mm256_sub_ps(_mm256_setzero_ps(), x));
        _mm256_storeu_ps(
            g + i, _mm256_mul_ps(_mm256_div_ps(x, _mm256_add_ps(one, e)), _mm256_loadu_ps(u + i)));
    }
    for (; i < n; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}
