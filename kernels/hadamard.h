// Orthogonal Hadamard transforms of any length, for rotated weights (QuaRot, HeRo-Q): n = m * 2^k
// uses H_m (x) H_(2^k) / sqrt(n) with H_m from Paley's constructions, as QuaRot does with its
// stored small matrices; when no H_m is known for the odd part, the blocks of 2^k are transformed
// independently (still orthogonal, less mixing).
#ifndef CALM_HADAMARD_H
#define CALM_HADAMARD_H

// The largest order of the small factor calm builds.
#define CALM_HADAMARD_MAX_M 128

// The order m of the small Hadamard factor used for length n (1: a plain Walsh-Hadamard
// transform, 0: block-diagonal fallback).
int calm_hadamard_factor(int n);
// Fills h[m * m] with a Hadamard matrix of order m (entries +-1); -1 if calm cannot build one.
int calm_hadamard_matrix(int m, signed char *h);
// x[t] <- H x[t] for T rows of n floats (transpose: H^T); H is orthogonal.
void calm_hadamard(float *x, int n, int T, int transpose);

#endif
