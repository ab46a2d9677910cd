// The Hadamard transform vectorized for avx2 (kernels/hadamard_impl.h).
#define CALM_HADAMARD_FN calm_hadamard_avx2
void calm_hadamard_avx2(float *x, int n, int T, int transpose);
#include "../hadamard_impl.h"
