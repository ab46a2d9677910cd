// GPTQ (Frantar et al. 2023): quantize one column at a time and spread its rounding error over
// the columns not yet quantized, weighted by the inverse Hessian of the layer's output error,
// H = 2 X^T X. Following the paper: dampening lambda = 1% of the mean diagonal, the upper
// Cholesky factor U of H^-1 (H^-1 = U^T U), lazy updates in blocks of 128 columns, and optional
// act-order (columns by decreasing H_ii) with the group parameters fixed up front from the
// original weights ("static groups"), so groups stay the kernel's contiguous groups and the
// permutation is undone when the codes are written.
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "algo.h"
#include "../kernels/types.h"

static int by_diag_desc(const void *a, const void *b, void *ctx) {
    const double *d = ctx;
    double x = d[*(const int *)a], y = d[*(const int *)b];
    return x > y ? -1 : x < y ? 1 : *(const int *)a - *(const int *)b;
}

// U with (H + lambda I)^-1 = U^T U, in float; H permuted by perm. Raises lambda tenfold (up to
// five times) when H is not positive definite in floating point.
static int inverse_cholesky(const double *h, const int *perm, int n, double lambda, float *u,
                            calm_err *e) {
    double *a = malloc((size_t)n * n * sizeof(double));
    if (!a) return calm_fail(e, "out of memory for a %d x %d Hessian", n, n);
    for (int tries = 0; tries < 6; tries++, lambda *= 10) {
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                a[(size_t)i * n + j] = h[(size_t)perm[i] * n + perm[j]] + (i == j ? lambda : 0);
        if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', n, a, n)) continue;
        if (LAPACKE_dpotri(LAPACK_ROW_MAJOR, 'L', n, a, n)) continue;
        for (int i = 0; i < n; i++) // dpotri leaves the inverse in the lower triangle
            for (int j = i + 1; j < n; j++) a[(size_t)i * n + j] = a[(size_t)j * n + i];
        if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', n, a, n)) continue;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                u[(size_t)i * n + j] = j >= i ? (float)a[(size_t)i * n + j] : 0;
        free(a);
        return 0;
    }
    free(a);
    return calm_fail(e, "GPTQ: the Hessian is not positive definite even with dampening");
}

int calm_gptq_core(const calm_qopts *o, const float *w, int rows, int cols, const double *h,
                   uint8_t *data, calm_err *e) {
    const calm_qfmt *f = &o->fmt;
    const int n = cols, B = o->block > 0 ? o->block : 128, gs = f->group ? f->group : n;
    const int ng = calm_qfmt_groups(f, n);
    int *perm = malloc((size_t)n * sizeof(int));
    double *diag = malloc((size_t)n * sizeof(double));
    float *W = malloc((size_t)rows * n * sizeof(float)), *U = malloc((size_t)n * n * sizeof(float));
    float *err = malloc((size_t)rows * B * sizeof(float)), *d = malloc((size_t)rows * ng * 4),
          *m = malloc((size_t)rows * ng * 4);
    uint8_t *codes = malloc((size_t)rows * n);
    double *hh = malloc((size_t)n * n * sizeof(double));
    int rc = -1;
    if (!perm || !diag || !W || !U || !err || !d || !m || !codes || !hh) {
        calm_fail(e, "out of memory for GPTQ on a %d x %d matrix", rows, cols);
        goto done;
    }
    memcpy(hh, h, (size_t)n * n * sizeof(double));
    double mean = 0;
    for (int i = 0; i < n; i++) {
        if (hh[(size_t)i * n + i] <= 0) hh[(size_t)i * n + i] = 1; // a dead input channel
        diag[i] = hh[(size_t)i * n + i];
        mean += diag[i] / n;
        perm[i] = i;
    }
    if (o->act_order) qsort_r(perm, (size_t)n, sizeof(int), by_diag_desc, diag);
    if (inverse_cholesky(hh, perm, n, o->damp * mean, U, e)) goto done;
    for (int r = 0; r < rows; r++)
        for (int i = 0; i < n; i++) {
            int c = perm[i];
            W[(size_t)r * n + i] = h[(size_t)c * n + c] > 0 ? w[(size_t)r * n + c] : 0;
        }
    if (o->act_order) // static groups: from the original weights, in the original order
        for (int r = 0; r < rows; r++)
            for (int g = 0; g < ng; g++) {
                float tmp[gs];
                int glen = calm_qfmt_glen(f, n, g);
                for (int j = 0; j < glen; j++) {
                    int c = g * gs + j;
                    tmp[j] = h[(size_t)c * n + c] > 0 ? w[(size_t)r * n + c] : 0;
                }
                calm_qfmt_params(f, tmp, glen, 1.0f, &d[r * ng + g], &m[r * ng + g]);
            }
    for (int i1 = 0; i1 < n; i1 += B) {
        int i2 = i1 + B < n ? i1 + B : n;
#pragma omp parallel for schedule(static)
        for (int r = 0; r < rows; r++) {
            float *wr = W + (size_t)r * n, *er = err + (size_t)r * B;
            for (int i = i1; i < i2; i++) {
                int c = perm[i], g = c / gs;
                if (!o->act_order && c % gs == 0) // groups start where the updated weights are
                    calm_qfmt_params(f, wr + i, calm_qfmt_glen(f, n, g), 1.0f, &d[r * ng + g],
                                     &m[r * ng + g]);
                float dg = d[r * ng + g], mg = m[r * ng + g];
                int u = calm_qfmt_code(f, wr[i], dg, mg);
                codes[(size_t)r * n + c] = (uint8_t)u;
                float q = dg * (float)u + mg, ei = (wr[i] - q) / U[(size_t)i * n + i];
                const float *ui = U + (size_t)i * n;
                for (int j = i + 1; j < i2; j++) wr[j] -= ei * ui[j];
                er[i - i1] = ei;
            }
        }
        if (i2 < n) { // the lazy update of every later column: W[:, i2:] -= Err U[i1:i2, i2:]
            int nb = omp_get_max_threads(), per = (rows + nb - 1) / nb;
#pragma omp parallel for schedule(static)
            for (int r0 = 0; r0 < rows; r0 += per) // row blocks, one BLAS call each
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
                            rows - r0 < per ? rows - r0 : per, n - i2, i2 - i1, -1.0f,
                            err + (size_t)r0 * B, B, U + (size_t)i1 * n + i2, n, 1.0f,
                            W + (size_t)r0 * n + i2, n);
        }
    }
    size_t rb = calm_row_size(f->type, n);
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++)
        calm_qfmt_write_row(f, codes + (size_t)r * n, d + (size_t)r * ng, m + (size_t)r * ng, n,
                            data + (size_t)r * rb);
    rc = 0;
done:
    free(perm), free(diag), free(W), free(U), free(err), free(d), free(m), free(codes), free(hh);
    return rc;
}

int calm_quantize_gptq(const calm_qopts *o, const float *w, int rows, int cols,
                       const calm_xstats *xs, calm_qlinear *out, calm_err *e) {
    if (!xs || !xs->count) return calm_fail(e, "GPTQ needs calibration data");
    double *h = malloc((size_t)cols * cols * sizeof(double));
    if (!h) return calm_fail(e, "out of memory for a %d x %d Hessian", cols, cols);
    for (size_t i = 0; i < (size_t)cols * cols; i++) h[i] = 2.0 * xs->xtx[i] / (double)xs->count;
    int rc = calm_qlinear_alloc(out, &o->fmt, rows, cols, e);
    if (!rc) rc = calm_gptq_core(o, w, rows, cols, h, out->data, e);
    free(h);
    if (rc) return calm_qlinear_free(out), -1;
    calm_qlinear_measure(out, w, rows, cols, xs);
    return 0;
}
