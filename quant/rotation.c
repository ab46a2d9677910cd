// Hadamard rotation (QuaRot, Ashkboos et al. 2024), per linear layer: x' = H(sigma * x) online
// and W' = W diag(sigma) H^T offline, with H the orthogonal Hadamard transform of the input width
// (Kronecker with a small Paley matrix where the width is not a power of two, kernels/hadamard.h)
// and sigma random signs. The rotation spreads outlier channels over all channels, so groups of
// the rotated weights have smaller ranges; the rotated weights are rounded to nearest.
#include <stdlib.h>
#include <string.h>

#include "algo.h"

int calm_quantize_hadamard(const calm_qopts *o, const float *w, int rows, int cols,
                           const calm_xstats *xs, calm_qlinear *out, calm_err *e) {
    float *wr = malloc((size_t)rows * cols * sizeof(float));
    if (!wr || calm_qlinear_alloc(out, &o->fmt, rows, cols, e)) {
        free(wr);
        return calm_fail(e, "out of memory for a %d x %d rotation", rows, cols);
    }
    out->in_scale = malloc((size_t)cols * sizeof(float));
    if (!out->in_scale) {
        free(wr);
        calm_qlinear_free(out);
        return calm_fail(e, "out of memory");
    }
    calm_random_signs(out->in_scale, cols, o->seed);
    out->in_rot = 1;
    memcpy(wr, w, (size_t)rows * cols * sizeof(float));
    calm_rotate_rows(wr, rows, cols, out->in_scale, 1);
    calm_quantize_rows(&o->fmt, wr, rows, cols, NULL, out->data);
    free(wr);
    calm_qlinear_measure(out, w, rows, cols, xs);
    return 0;
}
