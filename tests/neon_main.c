// Runs the kernel comparisons for NEON; built static for aarch64 and run under qemu by
// tools/test_neon.sh. Prints the plain "N passed, N failed" line.
#include <stdio.h>

#include "kernel_compare.h"
#include "kernels/matmul.h"

int main(void) {
    const calm_isa *av[8];
    int n = calm_isa_available(av, 8), passed = 0, failed = 0;
    char err[512];
    if (n < 2 || av[n - 1] != &calm_isa_neon) {
        printf("neon with dotprod is not available on this CPU\n0 passed, 1 failed\n");
        return 1;
    }
    if (kc_all_types(&calm_isa_neon, err, sizeof err))
        failed++, printf("FAIL kernels: %s\n", err);
    else
        passed++, printf("PASS neon kernels match scalar on every type and shape\n");
    if (kc_quantize(&calm_isa_neon, err, sizeof err))
        failed++, printf("FAIL quantize: %s\n", err);
    else
        passed++, printf("PASS neon activation quantization equals scalar\n");
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
