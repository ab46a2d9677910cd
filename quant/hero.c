// HeRo-Q (Zhang et al. 2026, arXiv 2601.21626): quantize in a coordinate system where the
// layer's Hessian is better conditioned. The transform is a rotation-compression matrix
// M = R diag(sigma / s): a diagonal compression s, learned on the calibration data, followed by
// an orthogonal rotation R (a randomized Hadamard transform). Weights are quantized as
// W' = W M^-1 and the kernel applies M to the input, so W' (M x) = W x. In the new coordinates the
// output-error Hessian is H' = M H M^T, whose top eigenvalue is that of diag(1/s) H diag(1/s): the
// compression s_c = H_cc^(alpha/2), normalized to geometric mean 1 (det M = +-1, so it only
// reshapes the spectrum), flattens the sharp directions that the outlier channels create, and the
// rotation spreads what remains. alpha is learned on a grid of 6 points in (0, 1] by the output
// error of the quantized layer (for all the matrices reading one input together, in
// calm_quantize_shared, so that they share M); the quantizer in the new coordinates is GPTQ with
// H'. docs/ALGORITHMS.md says where this reading fills gaps in the paper.
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "algo.h"
#include "../kernels/hadamard.h"

void calm_transformed_h(const float *v, int rot, const float *h, int n, float *out) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            out[(size_t)i * n + j] = h[(size_t)i * n + j] * (v ? v[i] * v[j] : 1.0f);
    if (!rot) return;
    calm_hadamard(out, n, n, 0); // rows: A R^T
    for (int i = 0; i < n; i++)  // symmetric so far only after both sides: transpose, repeat
        for (int j = i + 1; j < n; j++) {
            float t = out[(size_t)i * n + j];
            out[(size_t)i * n + j] = out[(size_t)j * n + i];
            out[(size_t)j * n + i] = t;
        }
    calm_hadamard(out, n, n, 0);
}

double calm_top_eigenvalue(const float *h, int n) {
    float *a = malloc((size_t)n * n * sizeof(float)), wv[1];
    lapack_int found = 0;
    if (!a) return NAN;
    memcpy(a, h, (size_t)n * n * sizeof(float));
    lapack_int isuppz[2];
    int rc = LAPACKE_ssyevr(LAPACK_ROW_MAJOR, 'N', 'I', 'U', n, a, n, 0, 0, n, n, 0, &found, wv,
                            NULL, 1, isuppz);
    free(a);
    return rc || found != 1 ? NAN : wv[0];
}

int calm_hero_exponents(const calm_qopts *o, float *alpha) {
    int steps = o->grid >= 12 ? o->grid * 3 / 10 : 4; // 6 by default
    if (steps > CALM_MAX_EXPONENTS) steps = CALM_MAX_EXPONENTS;
    for (int k = 1; k <= steps; k++) alpha[k - 1] = (float)k / (float)steps;
    return steps;
}

int calm_quantize_hero(const calm_qopts *o, const float *w, int rows, int cols,
                       const calm_xstats *xs, calm_qlinear *out, calm_err *e) {
    if (!xs || !xs->count) return calm_fail(e, "HeRo-Q needs calibration data");
    const int n = cols;
    float alphas[CALM_MAX_EXPONENTS];
    int steps = o->expo >= 0 ? 1 : calm_hero_exponents(o, alphas);
    if (o->expo >= 0) alphas[0] = o->expo; // given: one exponent for the matrices of one input
    float *h = calm_xstats_h(xs), *hp = malloc((size_t)n * n * sizeof(float));
    double *hd = malloc((size_t)n * n * sizeof(double));
    float *wr = malloc((size_t)rows * n * sizeof(float)), *weff = malloc((size_t)rows * n * 4);
    float *v = malloc((size_t)n * 4), *sign = malloc((size_t)n * 4),
          *best_v = malloc((size_t)n * 4);
    uint8_t *best_data = NULL;
    double best = INFINITY;
    int rc = -1;
    if (!h || !hp || !hd || !wr || !weff || !v || !sign || !best_v ||
        calm_qlinear_alloc(out, &o->fmt, rows, n, e)) {
        calm_fail(e, "out of memory for HeRo-Q on a %d x %d matrix", rows, cols);
        goto done;
    }
    best_data = malloc(out->nbytes);
    out->in_scale = malloc((size_t)n * 4);
    if (!best_data || !out->in_scale) {
        calm_fail(e, "out of memory");
        goto done;
    }
    out->in_rot = 1;
    calm_random_signs(sign, n, o->seed);
    double den = calm_quad_error(w, rows, n, h);
    for (int k = 0; k < steps; k++) {
        float alpha = alphas[k];
        double logsum = 0;
        for (int c = 0; c < n; c++) logsum += 0.5 * alpha * log(fmax(h[(size_t)c * n + c], 1e-12));
        float norm = (float)exp(logsum / n);
        for (int c = 0; c < n; c++) {
            float s = powf(fmaxf(h[(size_t)c * n + c], 1e-12f), 0.5f * alpha) / norm;
            v[c] = sign[c] / s;
        }
        memcpy(out->in_scale, v, (size_t)n * 4);
        memcpy(wr, w, (size_t)rows * n * sizeof(float));
        calm_rotate_rows(wr, rows, n, v, 1); // W M^-1: rows R(w / v)
        calm_transformed_h(v, 1, h, n, hp);  // H' = M H M^T
        for (size_t i = 0; i < (size_t)n * n; i++) hd[i] = hp[i];
        if (calm_gptq_core(o, wr, rows, n, hd, out->data, e)) goto done;
        calm_qlinear_effective(out, rows, n, weff);
        double err = calm_output_error_den(w, weff, rows, n, h, den);
        if (err < best) {
            best = err;
            memcpy(best_v, v, (size_t)n * 4);
            memcpy(best_data, out->data, out->nbytes);
        }
    }
    memcpy(out->in_scale, best_v, (size_t)n * 4);
    memcpy(out->data, best_data, out->nbytes);
    out->err = best;
    rc = 0;
done:
    if (rc) calm_qlinear_free(out);
    free(h), free(hp), free(hd), free(wr), free(weff), free(v), free(sign), free(best_v);
    free(best_data);
    return rc;
}
