// The Hadamard transform compiled for avx512 (kernels/hadamard_impl.h): the same loops, vectorized
// by the compiler for this file's instruction set.
#include "../hadamard_impl.h"
#include "../kernels.h"

void calm_hadamard_avx512(float *x, int n, int T, int transpose) {
    calm_hadamard_body(x, n, T, transpose);
}
