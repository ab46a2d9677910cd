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
    if (isa == &calm_isa_amx)
        return isa_runs(&calm_isa_avx512, c) && c->amx_tile && c->amx_int8 && c->amx_granted;
#endif
#if defined(__aarch64__)
    if (isa == &calm_isa_neon) return c->neon && c->dotprod;
#endif
    return 0;
}

static const calm_isa *all_isas[] = {
    &calm_isa_scalar,
#if defined(__x86_64__)
    &calm_isa_avx2,   &calm_isa_avx512, &calm_isa_amx,
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
    calm_isa_resolve(&table, pick);
}

void calm_isa_resolve(calm_isa *out, const calm_isa *isa) {
    if (isa->base)
        calm_isa_resolve(out, isa->base);
    else
        *out = calm_isa_scalar;
    out->name = isa->name;
    out->base = NULL;
    for (int t = 0; t < CALM_TYPE_COUNT; t++)
        if (isa->vec_dot[t]) out->vec_dot[t] = isa->vec_dot[t];
    if (isa->quantize_q8x) out->quantize_q8x = isa->quantize_q8x;
    if (isa->quantize_q8t) out->quantize_q8t = isa->quantize_q8t;
    // Panels have no scalar fallback (the scalar path multiplies rows as stored): they come from
    // the ISA or its base only.
    if (isa->panel_dot) { // the types come with the panel kernels
        out->panel_dot = isa->panel_dot;
        out->panel_type = isa->panel_type;
    }
    if (isa->panel_gemm) out->panel_gemm = isa->panel_gemm;
    if (isa->panel_gemm_tiles) out->panel_gemm_tiles = isa->panel_gemm_tiles;
    if (isa->attend) out->attend = isa->attend;
    if (isa->attend_tile) out->attend_tile = isa->attend_tile;
    if (isa->silu_mul) out->silu_mul = isa->silu_mul;
    if (isa->hadamard) out->hadamard = isa->hadamard;
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
    FEAT(amx_tile);
    FEAT(amx_int8);
    FEAT(neon);
    FEAT(dotprod);
#undef FEAT
    if (c.amx_tile && c.amx_int8 && !c.amx_granted)
        fprintf(f, " (the kernel refused the AMX tile state: no amx)");
    const calm_isa *av[8];
    int n = calm_isa_available(av, 8);
    fprintf(f, "\nkernels available:");
    for (int i = 0; i < n; i++) fprintf(f, " %s", av[i]->name);
    const char *best = av[n - 1]->name, *chosen = calm_isa_name();
    fprintf(f, "\nkernels chosen: %s", chosen);
    if (getenv("CALM_ISA") && strcmp(chosen, best))
        fprintf(f, " (CALM_ISA; %s is off)", best); // e.g. CALM_ISA=avx512 turns AMX off
    else if (getenv("CALM_ISA"))
        fprintf(f, " (CALM_ISA)");
    fprintf(f, "\nthreads: %d (OpenMP)\n", omp_get_max_threads());
}
