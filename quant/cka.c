#include "cka.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int calm_cka_init(calm_cka *c, int p, int q, int k, calm_err *e) {
    memset(c, 0, sizeof *c);
    c->p = p, c->q = q, c->k = k;
    c->xx = calloc((size_t)p * p, sizeof(double));
    c->sx = calloc((size_t)p, sizeof(double));
    c->yy = calloc((size_t)k * q * q, sizeof(double));
    c->yx = calloc((size_t)k * q * p, sizeof(double));
    c->sy = calloc((size_t)k * q, sizeof(double));
    c->shx = calloc((size_t)p, sizeof(float));
    c->shy = calloc((size_t)k * q, sizeof(float));
    c->y_shifted = calloc((size_t)k, sizeof(int));
    if (!c->xx || !c->sx || !c->yy || !c->yx || !c->sy || !c->shx || !c->shy || !c->y_shifted) {
        calm_cka_free(c);
        return calm_fail(e, "out of memory for CKA of %d x %d features, %d candidates", p, q, k);
    }
    return 0;
}

void calm_cka_free(calm_cka *c) {
    free(c->xx), free(c->sx), free(c->yy), free(c->yx), free(c->sy);
    free(c->shx), free(c->shy), free(c->y_shifted), free(c->bx), free(c->by);
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
