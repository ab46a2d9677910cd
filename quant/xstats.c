#include "xstats.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int calm_xstats_init(calm_xstats *s, int n, calm_err *e) {
    memset(s, 0, sizeof *s);
    s->n = n;
    s->xtx = calloc((size_t)n * n, sizeof(double));
    s->asum = calloc((size_t)n, sizeof(double));
    s->amax = calloc((size_t)n, sizeof(float));
    s->block = malloc((size_t)n * n * sizeof(float));
    if (!s->xtx || !s->asum || !s->amax || !s->block) {
        calm_xstats_free(s);
        return calm_fail(e, "out of memory for calibration statistics (%d channels)", n);
    }
    return 0;
}

void calm_xstats_free(calm_xstats *s) {
    free(s->xtx);
    free(s->asum);
    free(s->amax);
    free(s->block);
    memset(s, 0, sizeof *s);
}

void calm_xstats_reset(calm_xstats *s) {
    memset(s->xtx, 0, (size_t)s->n * s->n * sizeof(double));
    memset(s->asum, 0, (size_t)s->n * sizeof(double));
    memset(s->amax, 0, (size_t)s->n * sizeof(float));
    s->count = 0;
}

void calm_xstats_add(calm_xstats *s, const float *x, int T) {
    const int n = s->n;
    // A float rank-T update of a few hundred tokens is exact enough; the running sum is double.
    float *g = s->block;
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, n, T, 1.0f, x, n, 0.0f, g, n);
    for (int i = 0; i < n; i++)
        for (int j = i; j < n; j++) {
            s->xtx[(size_t)i * n + j] += g[(size_t)i * n + j];
            if (j != i) s->xtx[(size_t)j * n + i] = s->xtx[(size_t)i * n + j];
        }
    for (int t = 0; t < T; t++)
        for (int c = 0; c < n; c++) {
            float a = fabsf(x[(size_t)t * n + c]);
            s->asum[c] += a;
            if (a > s->amax[c]) s->amax[c] = a;
        }
    s->count += T;
}

float *calm_xstats_h(const calm_xstats *s) {
    float *h = malloc((size_t)s->n * s->n * sizeof(float));
    if (!h) return NULL;
    double inv = s->count ? 1.0 / (double)s->count : 0.0;
    for (size_t i = 0; i < (size_t)s->n * s->n; i++) h[i] = (float)(s->xtx[i] * inv);
    return h;
}
