#include "cka.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int calm_cka_init(calm_cka *c, int p, int q, int k, calm_err *e) {
    memset(c, 0, sizeof *c);
    c->kdom = -1;
    c->p = p, c->q = q, c->k = k;
    c->xx = calloc((size_t)p * p, sizeof(double));
    c->sx = calloc((size_t)p, sizeof(double));
    c->yy = calloc((size_t)k * q * q, sizeof(double));
    c->yx = calloc((size_t)k * q * p, sizeof(double));
    c->sy = calloc((size_t)k * q, sizeof(double));
    c->shx = calloc((size_t)p, sizeof(float));
    c->shy = calloc((size_t)k * q, sizeof(float));
    c->y_shifted = calloc((size_t)k, sizeof(int));
    c->e2 = calloc((size_t)k, sizeof(double));
    if (!c->xx || !c->sx || !c->yy || !c->yx || !c->sy || !c->shx || !c->shy || !c->y_shifted ||
        !c->e2) {
        calm_cka_free(c);
        return calm_fail(e, "out of memory for CKA of %d x %d features, %d candidates", p, q, k);
    }
    return 0;
}

void calm_cka_free(calm_cka *c) {
    free(c->xx), free(c->sx), free(c->yy), free(c->yx), free(c->sy);
    free(c->shx), free(c->shy), free(c->y_shifted), free(c->bx), free(c->by);
    free(c->U), free(c->e2);
    memset(c, 0, sizeof *c);
}

static int reserve(calm_cka *c, int T) {
    if (T <= c->cap) return 0;
    double *bx = realloc(c->bx, sizeof(double) * T * c->p),
           *by = bx ? realloc(c->by, sizeof(double) * T * c->q) : NULL;
    if (bx) c->bx = bx;
    if (by) c->by = by;
    if (!bx || !by) return -1;
    c->cap = T;
    return 0;
}

void calm_cka_add_x(calm_cka *c, const float *x, int T) {
    if (reserve(c, T)) abort(); // a block of a few hundred rows: out of memory here is fatal
    const int p = c->p;
    if (c->n == 0) memcpy(c->shx, x, sizeof(float) * p);
    for (int t = 0; t < T; t++)
        for (int i = 0; i < p; i++) {
            double v = (double)x[(size_t)t * p + i] - c->shx[i];
            c->bx[(size_t)t * p + i] = v;
            c->sx[i] += v;
            c->x2 += (double)x[(size_t)t * p + i] * x[(size_t)t * p + i];
        }
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, p, T, 1.0, c->bx, p, 1.0, c->xx, p);
    c->n += T;
}

void calm_cka_add_y(calm_cka *c, int j, const float *y, int T) {
    const int p = c->p, q = c->q;
    float *sh = c->shy + (size_t)j * q;
    if (!c->y_shifted[j]) memcpy(sh, y, sizeof(float) * q), c->y_shifted[j] = 1;
    double *sy = c->sy + (size_t)j * q;
    for (int t = 0; t < T; t++)
        for (int i = 0; i < q; i++) {
            double v = (double)y[(size_t)t * q + i] - sh[i];
            c->by[(size_t)t * q + i] = v;
            sy[i] += v;
        }
    if (p == q) // against the block of x added last, unshifted
        for (int t = 0; t < T; t++)
            for (int i = 0; i < q; i++) {
                size_t k = (size_t)t * q + i;
                double d = (double)y[k] - (c->bx[k] + c->shx[i]);
                c->e2[j] += d * d;
            }
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, q, T, 1.0, c->by, q, 1.0,
                c->yy + (size_t)j * q * q, q);
    // yx += by^T bx (the block of x added last)
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, q, p, T, 1.0, c->by, q, c->bx, p, 1.0,
                c->yx + (size_t)j * q * p, p);
}

// |S - s a b^T / n|_F^2 over an a x b block (sym: S is upper-triangular storage of a symmetric
// matrix).
static double centred_norm2(const double *s, const double *u, const double *v, int a, int b,
                            double n, int sym) {
    double acc = 0;
    for (int i = 0; i < a; i++)
        for (int j = sym ? i : 0; j < b; j++) {
            double m = s[(size_t)i * b + j] - u[i] * v[j] / n;
            acc += (sym && j != i ? 2.0 : 1.0) * m * m;
        }
    return acc;
}

double calm_cka_value(const calm_cka *c, int j) {
    if (c->n < 2) return NAN;
    const int p = c->p, q = c->q;
    const double n = (double)c->n, *sy = c->sy + (size_t)j * q;
    double xy = centred_norm2(c->yx + (size_t)j * q * p, sy, c->sx, q, p, n, 0);
    double xx = centred_norm2(c->xx, c->sx, c->sx, p, p, n, 1);
    double yy = centred_norm2(c->yy + (size_t)j * q * q, sy, sy, q, q, n, 1);
    return xx > 0 && yy > 0 ? xy / (sqrt(xx) * sqrt(yy)) : NAN;
}

// |A~^T B~|_F^2 for n rows of a (width pa) and b (width pb), columns centred by ma and mb.
static double cross_norm2(const float *a, int pa, const double *ma, const float *b, int pb,
                          const double *mb, int n) {
    double acc = 0;
    for (int i = 0; i < pa; i++)
        for (int j = 0; j < pb; j++) {
            double s = 0;
            for (int t = 0; t < n; t++)
                s += (a[(size_t)t * pa + i] - ma[i]) * (b[(size_t)t * pb + j] - mb[j]);
            acc += s * s;
        }
    return acc;
}

double calm_cka_direct(const float *x, int p, const float *y, int q, int n) {
    double *mx = calloc((size_t)p, sizeof(double)), *my = calloc((size_t)q, sizeof(double));
    for (int t = 0; t < n; t++) {
        for (int i = 0; i < p; i++) mx[i] += x[(size_t)t * p + i] / (double)n;
        for (int i = 0; i < q; i++) my[i] += y[(size_t)t * q + i] / (double)n;
    }
    double xy = cross_norm2(y, q, my, x, p, mx, n), xx = cross_norm2(x, p, mx, x, p, mx, n),
           yy = cross_norm2(y, q, my, y, q, my, n);
    free(mx), free(my);
    return xy / (sqrt(xx) * sqrt(yy));
}

// The centred a x b matrix of an accumulated block: S - u v^T / n (sym: S stored upper).
static void centred(const double *s, const double *u, const double *v, int a, int b, double n,
                    int sym, double *out) {
    for (int i = 0; i < a; i++)
        for (int j = 0; j < b; j++) {
            double m = sym && j < i ? s[(size_t)j * b + i] : s[(size_t)i * b + j];
            out[(size_t)i * b + j] = m - u[i] * v[j] / n;
        }
}

// |P C P|_F^2 with P = I - U U^T, U: the first k columns of a p x ld matrix.
static double projected_norm2(const double *C, const double *U, int p, int k, int ld, double *t,
                              double *w) {
    // t = C - U (U^T C), then t - (t U) U^T
    memcpy(t, C, sizeof(double) * (size_t)p * p);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, p, p, 1.0, U, ld, C, p, 0.0, w, p);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, p, p, k, -1.0, U, ld, w, p, 1.0, t, p);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, p, k, p, 1.0, t, p, U, ld, 0.0, w, k);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, p, p, k, -1.0, w, k, U, ld, 1.0, t, p);
    double acc = 0;
    for (size_t i = 0; i < (size_t)p * p; i++) acc += t[i] * t[i];
    return acc;
}

int calm_cka_dominant(calm_cka *c) {
    if (c->kdom >= 0) return c->kdom;
    c->kdom = 0;
    const int p = c->p, kmax = CALM_CKA_MAX_DOMINANT;
    if (c->n < 2 || p != c->q || p <= kmax) return 0;
    double *C = malloc(sizeof(double) * p * p), *ev = malloc(sizeof(double) * kmax);
    int *sup = malloc(sizeof(int) * 2 * kmax), m = 0;
    c->U = malloc(sizeof(double) * p * kmax);
    if (C && ev && sup && c->U) {
        centred(c->xx, c->sx, c->sx, p, p, (double)c->n, 1, C);
        double rest = 0; // |C|_F^2 = sum of squared eigenvalues
        for (size_t i = 0; i < (size_t)p * p; i++) rest += C[i] * C[i];
        double *Z = malloc(sizeof(double) * p * kmax);
        if (Z &&
            !LAPACKE_dsyevr(LAPACK_ROW_MAJOR, 'V', 'I', 'U', p, C, p, 0, 0, p - kmax + 1, p, 0, &m,
                            ev, Z, kmax, sup) &&
            m == kmax) {
            // leading first: dsyevr returns them ascending
            for (int i = 0; i < kmax; i++) {
                double l2 = ev[kmax - 1 - i] * ev[kmax - 1 - i];
                if (l2 <= 0.5 * rest) break;
                for (int r = 0; r < p; r++)
                    c->U[(size_t)r * kmax + i] = Z[(size_t)r * kmax + kmax - 1 - i];
                rest -= l2, c->kdom++;
            }
        }
        free(Z);
        // the reference's side of every candidate's deflated CKA (C was overwritten by dsyevr)
        double *t = malloc(sizeof(double) * p * p), *w = malloc(sizeof(double) * p * kmax);
        if (c->kdom && t && w) {
            centred(c->xx, c->sx, c->sx, p, p, (double)c->n, 1, C);
            c->xx_deflated = projected_norm2(C, c->U, p, c->kdom, kmax, t, w);
        }
        free(t), free(w);
    }
    free(C), free(ev), free(sup);
    return c->kdom;
}

double calm_cka_value_deflated(calm_cka *c, int j) {
    int k = calm_cka_dominant(c);
    if (k == 0) return calm_cka_value(c, j);
    const int p = c->p;
    const double n = (double)c->n, *sy = c->sy + (size_t)j * p;
    double *C = malloc(sizeof(double) * p * p), *t = malloc(sizeof(double) * p * p),
           *w = malloc(sizeof(double) * p * k), v = NAN;
    if (C && t && w) {
        const int ld = CALM_CKA_MAX_DOMINANT;
        double xx = c->xx_deflated;
        centred(c->yy + (size_t)j * p * p, sy, sy, p, p, n, 1, C);
        double yy = projected_norm2(C, c->U, p, k, ld, t, w);
        centred(c->yx + (size_t)j * p * p, sy, c->sx, p, p, n, 0, C);
        double xy = projected_norm2(C, c->U, p, k, ld, t, w);
        v = xx > 0 && yy > 0 ? xy / (sqrt(xx) * sqrt(yy)) : NAN;
    }
    free(C), free(t), free(w);
    return v;
}

double calm_cka_score(calm_cka *c, int j) {
    double a = calm_cka_value(c, j);
    if (calm_cka_dominant(c) == 0) return a;
    double b = calm_cka_value_deflated(c, j);
    return b < a ? b : a;
}

double calm_cka_relerr(const calm_cka *c, int j) {
    return c->p == c->q && c->x2 > 0 ? c->e2[j] / c->x2 : NAN;
}
