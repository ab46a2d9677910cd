// SmoothQuant (Xiao et al. 2023), W8A8: activation outliers are moved into the weights with
// s_c = max|x_c|^alpha / max|W_:,c|^(1 - alpha) (alpha = 0.5 by default): W' = W diag(s),
// x' = x / s (max |W_:,c| over every matrix reading the input when they share it, as SmoothQuant
// smooths Q, K and V together). The weights are then int8 per output channel (symmetric), and the
// kernel quantizes x' to int8 per token at run time (kernels: CALM_TYPE_W8A8).
#include <math.h>
#include <stdlib.h>

#include "algo.h"
#include "../kernels/types.h"

int calm_quantize_smoothquant(const calm_qopts *o, const float *w, int rows, int cols,
                              const calm_xstats *xs, calm_qlinear *out, calm_err *e) {
    if (!xs || !xs->count) return calm_fail(e, "SmoothQuant needs calibration data");
    if (o->fmt.type != CALM_TYPE_W8A8)
        return calm_fail(e, "SmoothQuant writes W8A8 (--bits 8), not %s",
                         calm_type_get(o->fmt.type)->name);
    float *ws;
    if (calm_qlinear_alloc_transformed(out, &o->fmt, w, rows, cols, &ws, "SmoothQuant", e))
        return -1;
    for (int c = 0; c < cols; c++) {
        float wmax = 0;
        for (int r = 0; !o->wmax && r < rows; r++)
            wmax = fmaxf(wmax, fabsf(w[(size_t)r * cols + c]));
        if (o->wmax) wmax = o->wmax[c];
        float s =
            powf(fmaxf(xs->amax[c], 1e-5f), o->alpha) / powf(fmaxf(wmax, 1e-5f), 1 - o->alpha);
        s = fmaxf(s, 1e-5f);
        out->in_scale[c] = 1.0f / s;
        for (int r = 0; r < rows; r++) ws[(size_t)r * cols + c] *= s;
    }
    calm_quantize_rows(&o->fmt, ws, rows, cols, NULL, out->data);
    free(ws);
    calm_qlinear_measure(out, w, rows, cols, xs);
    return 0;
}
