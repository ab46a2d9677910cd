// The body of the Hadamard transform, instantiated by one small function per ISA file
// (calm_hadamard in kernels/hadamard.c is the scalar reference, kernels/avx2/hadamard.c and
// kernels/avx512/hadamard.c) so that the compiler vectorizes the same loops for each instruction
// set. A new ISA adds a file that calls calm_hadamard_body and is compiled with its flags.
#ifndef CALM_HADAMARD_IMPL_H
#define CALM_HADAMARD_IMPL_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hadamard.h"
#include "kernels.h"

CALM_INLINE void calm_fwht_rows(float *x, int p) {
    for (int len = 1; len < p; len *= 2)
        for (int i = 0; i < p; i += 2 * len)
            for (int j = i; j < i + len; j++) {
                float a = x[j], b = x[j + len];
                x[j] = a + b;
                x[j + len] = a - b;
            }
}

CALM_INLINE void calm_hadamard_body(float *x, int n, int T, int transpose) {
    int m = calm_hadamard_factor(n), blocks = m ? m : n;
    while (m == 0 && blocks % 2 == 0) blocks /= 2; // fallback: odd part many blocks of 2^k
    int p = n / blocks;
    float scale = 1.0f / sqrtf((float)p * (float)(m > 1 ? m : 1));
    float *hf = NULL, *tmp = NULL;
    if (m > 1) { // the small factor as floats, pre-scaled, so the mixing is a small matrix product
        signed char h[CALM_HADAMARD_MAX_M * CALM_HADAMARD_MAX_M];
        calm_hadamard_matrix(m, h);
        hf = malloc(sizeof(float) * ((size_t)m * m + (size_t)n));
        if (!hf) abort();
        tmp = hf + (size_t)m * m;
        for (int i = 0; i < m; i++)
            for (int k = 0; k < m; k++)
                hf[i * m + k] = scale * (float)(transpose ? h[k * m + i] : h[i * m + k]);
    }
    for (int t = 0; t < T; t++) {
        float *v = x + (size_t)t * n;
        for (int i = 0; i < blocks; i++) calm_fwht_rows(v + (size_t)i * p, p);
        if (m > 1) { // y[i][.] = sum_k H[i][k] v[k][.], rows of p contiguous floats
            for (int i = 0; i < m; i++) {
                float *o = tmp + (size_t)i * p;
                for (int j = 0; j < p; j++) o[j] = 0;
                for (int k = 0; k < m; k++) {
                    const float hk = hf[i * m + k], *src = v + (size_t)k * p;
                    for (int j = 0; j < p; j++) o[j] += hk * src[j];
                }
            }
            memcpy(v, tmp, (size_t)n * sizeof(float));
        } else {
            for (int i = 0; i < n; i++) v[i] *= scale;
        }
    }
    free(hf);
}

#endif
