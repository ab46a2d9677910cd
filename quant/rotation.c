// Hadamard rotation (QuaRot, Ashkboos et al. 2024), per linear layer: x' = H(sigma * x) online
// and W' = W diag(sigma) H^T offline, with H the orthogonal Hadamard transform of the input width
// (Kronecker with a small Paley matrix where the width is not a power of two, kernels/hadamard.h)
// and sigma random signs. The rotation spreads outlier channels over all channels, so groups of
// the rotated weights have smaller ranges; the rotated weights are rounded to nearest.
#include <stdlib.h>

#include "algo.h"

int calm_quantize_hadamard(const calm_qopts *o, const float *w, int rows, int cols,
                           const calm_xstats *xs, calm_qlinear *out, calm_err *e) {
    float *wr;
    if (calm_qlinear_alloc_transformed(out, &o->fmt, w, rows, cols, &wr, "a rotation", e))
        return -1;
    calm_random_signs(out->in_scale, cols, o->seed);
    out->in_rot = 1;
    calm_rotate_rows(wr, rows, cols, out->in_scale, 1);
    calm_quantize_rows(&o->fmt, wr, rows, cols, NULL, out->data);
    free(wr);
    calm_qlinear_measure(out, w, rows, cols, xs);
    return 0;
}
