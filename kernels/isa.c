// The ISA choice: which kernel tables this build has and this CPU runs, and the dispatch table —
// the one global of calm — filled once from the best of them (or $CALM_ISA).
#include "isa.h"

#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

static calm_isa table; // the chosen ISA's kernels, scalar ones where it has none
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static int isa_runs(const calm_isa *isa, const calm_cpu *c) {
    (void)c;
    if (isa == &calm_isa_scalar) return 1;
#if defined(__x86_64__)
    if (isa == &calm_isa_avx2) return c->avx2 && c->fma && c->f16c;
    if (isa == &calm_isa_avx512)
        return c->avx2 && c->fma && c->f16c && c->avx512f && c->avx512bw && c->avx512vl &&
               c->avx512vnni;
#endif
#if defined(__aarch64__)
    if (isa == &calm_isa_neon) return c->neon && c->dotprod;
#endif
    return 0;
}

static const calm_isa *all_isas[] = {
    &calm_isa_scalar,
#if defined(__x86_64__)
    &calm_isa_avx2,
    &calm_isa_avx512,
#endif
#if defined(__aarch64__)
    &calm_isa_neon,
#endif
};

int calm_isa_available(const calm_isa **out, int cap) {
    calm_cpu c = calm_cpu_detect();
    int n = 0;
    for (size_t i = 0; i < sizeof all_isas / sizeof all_isas[0]; i++)
        if (isa_runs(all_isas[i], &c) && n < cap) out[n++] = all_isas[i];
    return n;
}

static void init_table(void) {
    const calm_isa *av[8];
    int n = calm_isa_available(av, 8);
    const calm_isa *pick = av[n - 1];
    const char *want = getenv("CALM_ISA");
    if (want && *want) {
        const calm_isa *found = NULL;
        for (int i = 0; i < n; i++)
            if (!strcmp(av[i]->name, want)) found = av[i];
        if (found)
            pick = found;
        else
            fprintf(stderr, "calm: CALM_ISA=%s is not available here; using %s\n", want,
                    pick->name);
    }
    table = calm_isa_scalar;
    table.name = pick->name;
    for (int t = 0; t < CALM_TYPE_COUNT; t++)
        if (pick->vec_dot[t]) table.vec_dot[t] = pick->vec_dot[t];
    if (pick->quantize_q8x) table.quantize_q8x = pick->quantize_q8x;
    if (pick->quantize_q8t) table.quantize_q8t = pick->quantize_q8t;
    table.panel_dot = pick->panel_dot; // no fallback: the scalar path multiplies rows as stored
    if (pick->attend) table.attend = pick->attend;
    if (pick->silu_mul) table.silu_mul = pick->silu_mul;
    if (pick->hadamard) table.hadamard = pick->hadamard;
}

void calm_kernels_init(void) {
    pthread_once(&table_once, init_table);
}

const calm_isa *calm_kernels(void) {
    calm_kernels_init();
    return &table;
}

const char *calm_isa_name(void) {
    return calm_kernels()->name;
}

void calm_print_system(FILE *f) {
    calm_cpu c = calm_cpu_detect();
    fprintf(f, "cpu features:");
#define FEAT(x)                                                                                    \
    if (c.x) fprintf(f, " " #x)
    FEAT(avx2);
    FEAT(fma);
    FEAT(f16c);
    FEAT(avx512f);
    FEAT(avx512bw);
    FEAT(avx512vl);
    FEAT(avx512vnni);
    FEAT(avxvnni);
    FEAT(neon);
    FEAT(dotprod);
#undef FEAT
    const calm_isa *av[8];
    int n = calm_isa_available(av, 8);
    fprintf(f, "\nkernels available:");
    for (int i = 0; i < n; i++) fprintf(f, " %s", av[i]->name);
    fprintf(f, "\nkernels chosen: %s%s\nthreads: %d (OpenMP)\n", calm_isa_name(),
            getenv("CALM_ISA") ? " (CALM_ISA)" : "", omp_get_max_threads());
}
