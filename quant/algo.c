#include "algo.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/hadamard.h"
#include "../kernels/types.h"

void calm_qopts_default(calm_qopts *o) {
    memset(o, 0, sizeof *o);
    o->damp = 0.01f;
    o->block = 128;
    o->grid = 20;
    o->clip_search = 1;
    o->alpha = 0.5f;
    o->seed = 0x5eed;
    o->expo = -1;
}

void calm_qlinear_free(calm_qlinear *q) {
    free(q->data);
    free(q->in_scale);
    memset(q, 0, sizeof *q);
}

static const calm_algo pool[] = {
    {"rtn", calm_quantize_rtn, 0, "round to nearest per group (symmetric with --sym)",
     CALM_SHARE_FIXED, NULL, 0},
    {"gptq", calm_quantize_gptq, 1, "GPTQ: Hessian-compensated rounding, column by column",
     CALM_SHARE_FIXED, NULL, 0},
    {"awq", calm_quantize_awq, 1, "AWQ: activation-aware channel scales and clipping",
     CALM_SHARE_EXPONENT, calm_awq_exponents, 1},
    {"smoothquant", calm_quantize_smoothquant, 1,
     "SmoothQuant W8A8: outliers moved into the weights, int8 weights and activations",
     CALM_SHARE_WMAX, NULL, 0},
    {"hadamard", calm_quantize_hadamard, 0, "QuaRot-style randomized Hadamard rotation, then RTN",
     CALM_SHARE_FIXED, NULL, 0},
    {"hero", calm_quantize_hero, 1,
     "HeRo-Q: learned diagonal compression + rotation lowering the top Hessian eigenvalue, GPTQ",
     CALM_SHARE_EXPONENT, calm_hero_exponents, 0},
    {NULL, NULL, 0, NULL, CALM_SHARE_FIXED, NULL, 0},
};

const calm_algo *calm_algo_find(const char *name) {
    for (const calm_algo *a = pool; a->name; a++)
        if (strcmp(a->name, name) == 0) return a;
    return NULL;
}

int calm_qlinear_alloc(calm_qlinear *q, const calm_qfmt *f, int rows, int cols, calm_err *e) {
    memset(q, 0, sizeof *q);
    q->type = f->type;
    q->nbytes = calm_row_size(f->type, cols) * (size_t)rows;
    if (!q->nbytes)
        return calm_fail(e, "rows of %d do not fit type %s", cols, calm_type_get(f->type)->name);
    q->data = malloc(q->nbytes);
    return q->data ? 0 : calm_fail(e, "out of memory for a %d x %d matrix", rows, cols);
}

int calm_qlinear_alloc_transformed(calm_qlinear *q, const calm_qfmt *f, const float *w, int rows,
                                   int cols, float **wt, const char *what, calm_err *e) {
    *wt = malloc((size_t)rows * cols * sizeof(float));
    if (!*wt || calm_qlinear_alloc(q, f, rows, cols, e) ||
        !(q->in_scale = malloc((size_t)cols * sizeof(float)))) {
        free(*wt);
        *wt = NULL;
        calm_qlinear_free(q);
        return calm_fail(e, "out of memory for %s on a %d x %d matrix", what, rows, cols);
    }
    memcpy(*wt, w, (size_t)rows * cols * sizeof(float));
    return 0;
}

void calm_qlinear_effective(const calm_qlinear *q, int rows, int cols, float *weff) {
    size_t rb = calm_row_size(q->type, cols);
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
        float *o = weff + (size_t)r * cols;
        calm_type_get(q->type)->to_float(q->data + (size_t)r * rb, o, cols);
        if (q->in_rot) calm_hadamard(o, cols, 1, 1);
        if (q->in_scale)
            for (int c = 0; c < cols; c++) o[c] *= q->in_scale[c];
    }
}

double calm_quad_error(const float *dw, int rows, int n, const float *h) {
    // Row blocks in parallel, one single-threaded BLAS call each.
    int nb = omp_get_max_threads(), per = (rows + nb - 1) / nb;
    double s = 0;
#pragma omp parallel for reduction(+ : s) schedule(static)
    for (int r0 = 0; r0 < rows; r0 += per) {
        int nr = rows - r0 < per ? rows - r0 : per;
        float *m = malloc((size_t)nr * n * sizeof(float));
        if (!m) {
            s += INFINITY;
            continue;
        }
        const float *d = dw + (size_t)r0 * n;
        cblas_ssymm(CblasRowMajor, CblasRight, CblasUpper, nr, n, 1.0f, h, n, d, n, 0.0f, m, n);
        for (size_t i = 0; i < (size_t)nr * n; i++) s += (double)d[i] * m[i];
        free(m);
    }
    return s;
}

double calm_output_error_den(const float *w, const float *weff, int rows, int cols, const float *h,
                             double den) {
    float *dw = malloc((size_t)rows * cols * sizeof(float));
    if (!dw) return INFINITY;
    for (size_t i = 0; i < (size_t)rows * cols; i++) dw[i] = w[i] - weff[i];
    double num = calm_quad_error(dw, rows, cols, h);
    free(dw);
    return den > 0 ? num / den : num;
}

double calm_output_error(const float *w, const float *weff, int rows, int cols, const float *h) {
    return calm_output_error_den(w, weff, rows, cols, h, calm_quad_error(w, rows, cols, h));
}

void calm_quantize_rows(const calm_qfmt *f, const float *w, int rows, int cols, const float *clip,
                        uint8_t *data) {
    size_t rb = calm_row_size(f->type, cols);
    int ng = calm_qfmt_groups(f, cols);
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++)
        calm_qfmt_quantize_row(f, w + (size_t)r * cols, cols, clip ? clip + (size_t)r * ng : NULL,
                               data + (size_t)r * rb, NULL);
}

void calm_rotate_rows(float *w, int rows, int cols, const float *v, int rot) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
        float *row = w + (size_t)r * cols;
        if (v)
            for (int c = 0; c < cols; c++) row[c] /= v[c];
        if (rot) calm_hadamard(row, cols, 1, 0);
    }
}

void calm_random_signs(float *v, int n, uint64_t seed) {
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
    for (int i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        v[i] = (s >> 32) & 1 ? 1.0f : -1.0f;
    }
}

void calm_qlinear_measure(calm_qlinear *q, const float *w, int rows, int cols,
                          const calm_xstats *xs) {
    q->err = -1;
    if (!xs) return;
    float *h = calm_xstats_h(xs), *weff = malloc((size_t)rows * cols * sizeof(float));
    if (h && weff) {
        calm_qlinear_effective(q, rows, cols, weff);
        q->err = calm_output_error(w, weff, rows, cols, h);
    }
    free(h);
    free(weff);
}
