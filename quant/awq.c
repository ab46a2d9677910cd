// AWQ (Lin et al. 2024): protect the input channels that carry large activations by scaling them
// up in the weights before rounding and down in the input: W' = W diag(s), x' = x / s, with
// s = mean|x|^alpha normalized by sqrt(max s * min s), alpha chosen on a grid of 20 points in
// [0, 1) to minimize the layer's output error on the calibration inputs (or given: the matrices
// reading one input share one alpha, calm_quantize_shared, so that one scale vector folds into
// the norm before them as AWQ does). Then, as AWQ's auto_clip, each group's range is shrunk by
// the ratio (1 down to 0.55 in steps of 0.05) that minimizes that group's share of the output
// error.
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "algo.h"
#include "../kernels/types.h"

// Per group, the clip ratio minimizing (dw_g)^T H_gg (dw_g) of the scaled weights ws.
static void search_clip(const calm_qfmt *f, const float *ws, int rows, int cols, const float *h,
                        float *clip) {
    int ng = calm_qfmt_groups(f, cols), gs = f->group ? f->group : cols;
#pragma omp parallel for collapse(2) schedule(dynamic)
    for (int r = 0; r < rows; r++)
        for (int g = 0; g < ng; g++) {
            int c0 = g * gs, glen = calm_qfmt_glen(f, cols, g);
            const float *w = ws + (size_t)r * cols + c0;
            float dw[glen], best = INFINITY, best_ratio = 1;
            for (int k = 0; k < 10; k++) {
                float ratio = 1.0f - 0.05f * (float)k, d, m;
                calm_qfmt_params(f, w, glen, ratio, &d, &m);
                for (int j = 0; j < glen; j++)
                    dw[j] = w[j] - (d * calm_qfmt_code(f, w[j], d, m) + m);
                float hd[glen];
                cblas_ssymv(CblasRowMajor, CblasUpper, glen, 1.0f, h + (size_t)c0 * cols + c0, cols,
                            dw, 1, 0.0f, hd, 1);
                double s = 0;
                for (int i = 0; i < glen; i++) s += (double)dw[i] * hd[i];
                if (s < best) best = (float)s, best_ratio = ratio;
            }
            clip[(size_t)r * ng + g] = best_ratio;
        }
}

int calm_awq_exponents(const calm_qopts *o, float *alpha) {
    int grid = o->grid > 0 && o->grid <= CALM_MAX_EXPONENTS ? o->grid : 20;
    for (int k = 0; k < grid; k++) alpha[k] = (float)k / (float)grid;
    return grid;
}

// s[c] = mean|x_c|^alpha, normalized by sqrt(max s * min s).
static void awq_scales(const calm_xstats *xs, int cols, float alpha, float *s) {
    float smax = 0, smin = INFINITY;
    for (int c = 0; c < cols; c++) {
        float mean = (float)(xs->asum[c] / (double)xs->count);
        s[c] = powf(fmaxf(mean, 1e-4f), alpha);
        smax = fmaxf(smax, s[c]), smin = fminf(smin, s[c]);
    }
    float norm = sqrtf(smax * smin);
    for (int c = 0; c < cols; c++) s[c] /= norm;
}

int calm_quantize_awq(const calm_qopts *o, const float *w, int rows, int cols,
                      const calm_xstats *xs, calm_qlinear *out, calm_err *e) {
    if (!xs || !xs->count) return calm_fail(e, "AWQ needs calibration data");
    const calm_qfmt *f = &o->fmt;
    int ng = calm_qfmt_groups(f, cols);
    float *h = calm_xstats_h(xs), *ws = malloc((size_t)rows * cols * sizeof(float));
    float *weff = malloc((size_t)rows * cols * sizeof(float)), *s = malloc((size_t)cols * 4);
    float *best_s = malloc((size_t)cols * 4), *clip = NULL, alpha[CALM_MAX_EXPONENTS];
    double best = INFINITY;
    int rc = -1;
    if (!h || !ws || !weff || !s || !best_s) {
        calm_fail(e, "out of memory for AWQ on a %d x %d matrix", rows, cols);
        goto done;
    }
    if (calm_qlinear_alloc(out, f, rows, cols, e)) goto done;
    out->in_scale = malloc((size_t)cols * 4);
    if (!out->in_scale) {
        calm_fail(e, "out of memory for AWQ's scales");
        goto done;
    }
    if (o->expo >= 0) { // given (one exponent for every matrix reading the input)
        awq_scales(xs, cols, o->expo, best_s);
    } else {
        double den = calm_quad_error(w, rows, cols, h);
        int n = calm_awq_exponents(o, alpha);
        for (int k = 0; k < n; k++) {
            awq_scales(xs, cols, alpha[k], s);
            for (int c = 0; c < cols; c++) out->in_scale[c] = 1.0f / s[c];
            memcpy(ws, w, (size_t)rows * cols * sizeof(float));
            calm_rotate_rows(ws, rows, cols, out->in_scale, 0); // W diag(s)
            calm_quantize_rows(f, ws, rows, cols, NULL, out->data);
            calm_qlinear_effective(out, rows, cols, weff);
            double err = calm_output_error_den(w, weff, rows, cols, h, den);
            if (err < best) best = err, memcpy(best_s, s, (size_t)cols * 4);
        }
    }
    for (int c = 0; c < cols; c++) out->in_scale[c] = 1.0f / best_s[c];
    memcpy(ws, w, (size_t)rows * cols * sizeof(float));
    calm_rotate_rows(ws, rows, cols, out->in_scale, 0);
    if (o->clip_search) {
        // the scaled problem's Hessian: x' = x / s, so H' = diag(1/s) H diag(1/s)
        float *hs = malloc((size_t)cols * cols * sizeof(float));
        clip = malloc((size_t)rows * ng * sizeof(float));
        if (!hs || !clip) {
            free(hs);
            calm_fail(e, "out of memory for AWQ's clipping search");
            goto done;
        }
        for (int i = 0; i < cols; i++)
            for (int j = 0; j < cols; j++)
                hs[(size_t)i * cols + j] = h[(size_t)i * cols + j] / (best_s[i] * best_s[j]);
        search_clip(f, ws, rows, cols, hs, clip);
        free(hs);
    }
    calm_quantize_rows(f, ws, rows, cols, clip, out->data);
    calm_qlinear_measure(out, w, rows, cols, xs);
    rc = 0;
done:
    if (rc) calm_qlinear_free(out);
    free(h), free(ws), free(weff), free(s), free(best_s), free(clip);
    return rc;
}
