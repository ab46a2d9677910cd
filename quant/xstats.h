// What calibration captures about the input of one linear layer: the second moment X^T X
// (GPTQ's Hessian up to a factor, and every output-error measure here), per-channel max |x| and
// mean |x| (AWQ, SmoothQuant). Accumulated in double over any number of tokens.
#ifndef CALM_XSTATS_H
#define CALM_XSTATS_H

#include <stdint.h>

#include "../kernels/status.h"

typedef struct {
    int n;         // input channels
    int64_t count; // tokens seen
    double *xtx;   // n x n, sum over tokens of x x^T
    double *asum;  // sum |x_c|
    float *amax;   // max |x_c|
    float *block;  // scratch: one float rank-T update
} calm_xstats;

int calm_xstats_init(calm_xstats *s, int n, calm_err *e);
void calm_xstats_free(calm_xstats *s);
// Forgets every token seen, keeping the memory (the next layer's statistics).
void calm_xstats_reset(calm_xstats *s);
// Adds T rows of x (T x n, row-major).
void calm_xstats_add(calm_xstats *s, const float *x, int T);
// H = X^T X / count as floats (n x n), for BLAS; NULL when out of memory.
float *calm_xstats_h(const calm_xstats *s);

#endif
