// Linear CKA: streamed in blocks against the naive formula, its invariances and its range.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "kernels/hadamard.h"
#include "quant/cka.h"

static uint64_t rng = 2024;
static float frand(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((rng >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

// CKA of x and y streamed in uneven blocks.
static double streamed(const float *x, int p, const float *y, int q, int n) {
    calm_cka c;
    cr_assert_eq(calm_cka_init(&c, p, q, 1, NULL), 0);
    for (int t = 0, b = 1; t < n; t += b, b = b * 3 % 17 + 1) {
        int T = n - t < b ? n - t : b;
        calm_cka_add_x(&c, x + (size_t)t * p, T);
        calm_cka_add_y(&c, 0, y + (size_t)t * q, T);
    }
    double v = calm_cka_value(&c, 0);
    calm_cka_free(&c);
    return v;
}

Test(cka, streamed_equals_direct_and_stays_in_range) {
    const int n = 400, p = 24, q = 17;
    float *x = malloc(sizeof(float) * n * p), *y = malloc(sizeof(float) * n * q);
    for (int trial = 0; trial < 5; trial++) {
        float offset = trial == 4 ? 1000.0f : 0.0f; // a large mean, as the residual stream has
        for (int i = 0; i < n * p; i++) x[i] = frand() + offset;
        for (int t = 0; t < n; t++) // y partly depends on x
            for (int j = 0; j < q; j++)
                y[t * q + j] = (float)trial * 0.3f * x[t * p + j] + frand() + offset;
        double a = streamed(x, p, y, q, n), b = calm_cka_direct(x, p, y, q, n);
        cr_log_info("trial %d: streamed %.9f direct %.9f", trial, a, b);
        cr_assert(fabs(a - b) < 1e-7, "trial %d: %.12f vs %.12f", trial, a, b);
        cr_assert(a >= 0 && a <= 1 + 1e-12, "CKA %g out of [0, 1]", a);
    }
    free(x), free(y);
}

Test(cka, invariant_to_rotation_and_scale) {
    const int n = 300, p = 64;
    float *x = malloc(sizeof(float) * n * p), *y = malloc(sizeof(float) * n * p);
    for (int i = 0; i < n * p; i++) x[i] = frand() * (i % p == 3 ? 20.0f : 1.0f);
    cr_assert(fabs(streamed(x, p, x, p, n) - 1) < 1e-9, "CKA(X, X) != 1");
    for (int i = 0; i < n * p; i++) y[i] = x[i];
    calm_hadamard(y, p, n, 0); // an orthogonal transform of the features
    cr_assert(fabs(streamed(x, p, y, p, n) - 1) < 1e-6, "not invariant to an orthogonal map");
    for (int i = 0; i < n * p; i++) y[i] = -7.5f * x[i];
    cr_assert(fabs(streamed(x, p, y, p, n) - 1) < 1e-9, "not invariant to isotropic scaling");
    for (int i = 0; i < n * p; i++) y[i] = x[i] + 3.0f; // and to a shift (it centres)
    cr_assert(fabs(streamed(x, p, y, p, n) - 1) < 1e-9, "not invariant to a shift");
    // a noisier copy aligns less
    for (int i = 0; i < n * p; i++) y[i] = x[i] + 2.0f * frand();
    double noisy = streamed(x, p, y, p, n);
    cr_assert(noisy < 0.99 && noisy > 0.2, "noisy copy: %g", noisy);
    free(x), free(y);
}

// A reference with one massive direction (a block that writes a massive activation on a few
// tokens), a candidate that keeps everything and one that keeps only that direction.
static void planted(float *x, float *good, float *bad, int n, int p) {
    for (int t = 0; t < n; t++) {
        float spike = t % 50 == 0 ? 400.0f : 0.0f;
        for (int i = 0; i < p; i++) {
            float rest = frand(), d = i == 5 ? spike : 0.0f;
            x[t * p + i] = d + rest;
            good[t * p + i] = d + rest + 0.1f * frand();
            bad[t * p + i] = d + frand();
        }
    }
}

Test(cka, deflation_sees_past_a_dominant_direction) {
    const int n = 500, p = 32;
    float *x = malloc(sizeof(float) * n * p), *good = malloc(sizeof(float) * n * p),
          *bad = malloc(sizeof(float) * n * p);
    planted(x, good, bad, n, p);
    calm_cka c;
    cr_assert_eq(calm_cka_init(&c, p, p, 2, NULL), 0);
    for (int t = 0; t < n; t += 100) {
        calm_cka_add_x(&c, x + t * p, 100);
        calm_cka_add_y(&c, 0, good + t * p, 100);
        calm_cka_add_y(&c, 1, bad + t * p, 100);
    }
    double pg = calm_cka_value(&c, 0), pb = calm_cka_value(&c, 1);
    cr_log_info("plain: good %.6f bad %.6f", pg, pb);
    cr_assert(pb > 0.99, "the plain CKA should saturate here (bad %.6f)", pb);
    cr_assert_eq(calm_cka_dominant(&c), 1);
    double dg = calm_cka_value_deflated(&c, 0), db = calm_cka_value_deflated(&c, 1);
    cr_log_info("deflated: good %.6f bad %.6f", dg, db);
    cr_assert(dg > 0.95 && db < 0.2, "deflated: good %.4f, bad %.4f", dg, db);
    cr_assert_eq(calm_cka_score(&c, 1), db < pb ? db : pb);
    // the relative squared error, against its direct computation
    double e2 = 0, x2 = 0;
    for (int i = 0; i < n * p; i++)
        e2 += ((double)bad[i] - x[i]) * ((double)bad[i] - x[i]), x2 += (double)x[i] * x[i];
    double re = calm_cka_relerr(&c, 1);
    cr_assert(fabs(re - e2 / x2) < 1e-9 * (e2 / x2), "relerr %.12g, direct %.12g", re, e2 / x2);
    cr_assert(calm_cka_relerr(&c, 0) < re, "the good candidate has the smaller error");

    // the deflated value is the CKA of both sides projected off the dominant direction
    const double *u = c.U; // column 0, stride CALM_CKA_MAX_DOMINANT
    for (int t = 0; t < n; t++) {
        double ax = 0, ag = 0;
        for (int i = 0; i < p; i++)
            ax += x[t * p + i] * u[i * CALM_CKA_MAX_DOMINANT],
                ag += good[t * p + i] * u[i * CALM_CKA_MAX_DOMINANT];
        for (int i = 0; i < p; i++)
            x[t * p + i] -= (float)(ax * u[i * CALM_CKA_MAX_DOMINANT]),
                good[t * p + i] -= (float)(ag * u[i * CALM_CKA_MAX_DOMINANT]);
    }
    double direct = calm_cka_direct(x, p, good, p, n);
    cr_assert(fabs(direct - dg) < 1e-5, "deflated %.9f, projected directly %.9f", dg, direct);
    calm_cka_free(&c);

    // without a dominant direction nothing is deflated and the score is the plain CKA
    for (int i = 0; i < n * p; i++) x[i] = frand(), good[i] = x[i] + 0.5f * frand();
    cr_assert_eq(calm_cka_init(&c, p, p, 1, NULL), 0);
    calm_cka_add_x(&c, x, n);
    calm_cka_add_y(&c, 0, good, n);
    cr_assert_eq(calm_cka_dominant(&c), 0);
    cr_assert_eq(calm_cka_score(&c, 0), calm_cka_value(&c, 0));
    calm_cka_free(&c);
    free(x), free(good), free(bad);
}
