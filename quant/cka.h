// Linear CKA (centered kernel alignment, Kornblith et al. 2019) between a reference
// representation X (n x p) and k candidate representations Y_j (n x q) of the same n tokens:
//
//     CKA(X, Y) = |Y~^T X~|_F^2 / (|X~^T X~|_F |Y~^T Y~|_F),   X~, Y~: columns centred
//
// accumulated in double over blocks of tokens, so n can be any size. Each side is shifted by its
// first rows before accumulating (centering is shift-invariant), which keeps the sums small when
// the representation has a large mean, as a transformer's residual stream does.
#ifndef CALM_CKA_H
#define CALM_CKA_H

#include <stdint.h>

#include "../kernels/status.h"

typedef struct {
    int p, q, k;
    int64_t n;
    double *xx, *sx;      // p x p, p
    double *yy, *yx, *sy; // per candidate: q x q, q x p, q
    float *shx, *shy;     // shifts: p, and q per candidate
    int *y_shifted;
    double *bx, *by;    // the current block in double (rows of p, rows of q)
    int cap;            // rows the block buffers hold
    int kdom;           // dominant directions of the reference: -1 until computed
    double *U;          // their basis, p x CALM_CKA_MAX_DOMINANT
    double xx_deflated; // |P X~^T X~ P|_F^2 with P their complement
    double x2, *e2;     // sum |x|^2, and per candidate sum |y - x|^2 (p == q)
} calm_cka;

int calm_cka_init(calm_cka *c, int p, int q, int k, calm_err *e);
void calm_cka_free(calm_cka *c);
// Adds T reference rows; then calm_cka_add_y for each candidate with the same T tokens.
void calm_cka_add_x(calm_cka *c, const float *x, int T);
void calm_cka_add_y(calm_cka *c, int j, const float *y, int T);
double calm_cka_value(const calm_cka *c, int j);
// Linear CKA saturates when one direction of the reference carries most of its variance: a
// transformer block that writes a massive activation (SmolLM2-135M's layers 2, 11, 28) has an
// update whose leading principal direction holds 99.99% of |X~^T X~|_F^2, and every candidate,
// round to nearest included, then scores 0.9999x, whatever it does to the rest of the update.
//
// The dominant directions are the reference's leading principal directions that each hold more
// than half of the Frobenius energy left after the ones before them (at most
// CALM_CKA_MAX_DOMINANT); calm_cka_dominant finds them (once, after all tokens are added) and
// returns how many. calm_cka_value_deflated is the CKA of P X~ and P Y~, P = I - U U^T, U those
// directions (the plain CKA when there are none; p == q only).
#define CALM_CKA_MAX_DOMINANT 4
int calm_cka_dominant(calm_cka *c);
double calm_cka_value_deflated(calm_cka *c, int j);
// The relative squared error |Y - X|_F^2 / |X|_F^2 of candidate j (p == q), not centred.
double calm_cka_relerr(const calm_cka *c, int j);
// The CALM search's score: the smaller of the plain and the deflated CKA, so that a candidate must
// keep both the dominant directions and everything else.
double calm_cka_score(calm_cka *c, int j);

// The same from whole matrices, computed naively (the reference of the tests).
double calm_cka_direct(const float *x, int p, const float *y, int q, int n);

#endif
