// AVX-512 attention for one head and SiLU-gating: the bodies of kernels/simd_float.h on AVX512's
// float vectors.
#include "../simd_float.h"

void calm_attend_avx512(const float *q, const float *k, const float *v, size_t stride, int n,
                        int hd, float scale, float *scores, float *out) {
    calm_attend_body(q, k, v, stride, n, hd, scale, scores, out);
}

void calm_attend_tile_avx512(const float *q, size_t q_stride, int nq, const float *k,
                             const float *v, size_t stride, int n0, int hd, float scale,
                             float *scratch, float *out, size_t out_stride) {
    calm_attend_tiles(q, q_stride, nq, k, v, stride, n0, hd, scale, scratch, out, out_stride);
}

void calm_silu_mul_avx512(float *g, const float *u, size_t n) {
    calm_silu_mul_body(g, u, n);
}
