// The Hadamard transform vectorized for avx512 (kernels/hadamard_impl.h).
#define CALM_HADAMARD_FN calm_hadamard_avx512
void calm_hadamard_avx512(float *x, int n, int T, int transpose);
#include "../hadamard_impl.h"
