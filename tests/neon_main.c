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
    calm_isa neon; // complete: the scalar kernels where NEON has none
    calm_isa_resolve(&neon, &calm_isa_neon);
    static const struct {
        kc_check check;
        const char *what;
    } checks[] = {
        {kc_all_types, "neon kernels match scalar on every type and shape"},
        {kc_quantize, "neon activation quantization equals scalar"},
        {kc_panels, "neon packed panels match exact sums"},
        {kc_panel_dot, "neon panel_dot groups match exact sums"},
        {kc_panel_gemm, "neon panel_gemm matches scalar panels"},
        {kc_team, "neon team matmul equals standalone"},
    };
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        if (checks[i].check(&neon, err, sizeof err))
            failed++, printf("FAIL %s: %s\n", checks[i].what, err);
        else
            passed++, printf("PASS %s\n", checks[i].what);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
