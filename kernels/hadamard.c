#include "hadamard.h"

#include <string.h>

#include "hadamard_impl.h"
#include "kernels.h"

static int is_prime(int q) {
    if (q < 2) return 0;
    for (int d = 2; d * d <= q; d++)
        if (q % d == 0) return 0;
    return 1;
}

// Paley I gives order q + 1 for a prime q = 3 mod 4, Paley II order 2(q + 1) for q = 1 mod 4.
static int paley1(int m) {
    return m > 2 && is_prime(m - 1) && (m - 1) % 4 == 3;
}
static int paley2(int m) {
    return m % 2 == 0 && m / 2 > 2 && is_prime(m / 2 - 1) && (m / 2 - 1) % 4 == 1;
}

int calm_hadamard_factor(int n) {
    if (n <= 0) return 0;
    int m = n;
    while (m % 2 == 0) m /= 2;
    for (; m <= CALM_HADAMARD_MAX_M && n % m == 0; m *= 2)
        if (m == 1 || paley1(m) || paley2(m)) return m;
    return 0;
}

// chi[a] for a in [0, q): the quadratic character mod q.
static void legendre(int q, signed char *chi) {
    memset(chi, -1, (size_t)q);
    chi[0] = 0;
    for (int a = 1; a < q; a++) chi[(int)((long)a * a % q)] = 1;
}

int calm_hadamard_matrix(int m, signed char *h) {
    signed char chi[CALM_HADAMARD_MAX_M];
    if (m == 1) {
        h[0] = 1;
        return 0;
    }
    if (m == 2) {
        h[0] = h[1] = h[2] = 1, h[3] = -1;
        return 0;
    }
    if (paley1(m)) { // H = I + S, S = [[0, 1^T], [-1, Q]], Q[i][j] = chi(j - i)
        int q = m - 1;
        legendre(q, chi);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < m; j++) {
                int s = i == 0 ? (j == 0 ? 0 : 1) : j == 0 ? -1 : chi[((j - i) % q + q) % q];
                h[i * m + j] = (signed char)(s + (i == j));
            }
        return 0;
    }
    if (paley2(m)) { // conference matrix C = [[0, 1^T], [1, Q]]; 0 -> [[1,-1],[-1,-1]],
                     // +-1 -> +-[[1,1],[1,-1]]
        int q = m / 2 - 1, c = q + 1;
        legendre(q, chi);
        for (int i = 0; i < c; i++)
            for (int j = 0; j < c; j++) {
                int v = i == j ? 0 : i == 0 || j == 0 ? 1 : chi[((j - i) % q + q) % q];
                for (int a = 0; a < 2; a++)
                    for (int b = 0; b < 2; b++) {
                        int e =
                            v == 0 ? (a == 0 && b == 0 ? 1 : -1) : v * (a == 1 && b == 1 ? -1 : 1);
                        h[(2 * i + a) * m + 2 * j + b] = (signed char)e;
                    }
            }
        return 0;
    }
    return -1;
}

void calm_hadamard_scalar(float *x, int n, int T, int transpose) {
    calm_hadamard_body(x, n, T, transpose);
}

// Calibration and quantization rotate through the scalar reference, so a quantized file does not
// depend on the machine that made it.
void calm_hadamard(float *x, int n, int T, int transpose) {
    calm_hadamard_scalar(x, n, T, transpose);
}
