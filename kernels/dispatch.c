// The dispatch table — the one global of calm — and the matmul driver that runs its kernels.
#include "matmul.h"

#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "hadamard.h"

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
    table.panel_dot = pick->panel_dot;
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

#define ROW_CHUNK CALM_PANEL // row chunks and packed panels coincide
#define MAX_MM    8

static void matmul_plain(const calm_isa *isa, const calm_mm *mm, int n, const float *x, int cols,
                         int T) {
    // Activations in each format the matrices need, made once.
    block_q8x *q = NULL;
    uint8_t *qt = NULL;
    size_t q_stride = (size_t)(cols / 32) * sizeof(block_q8x), t_stride = calm_q8t_stride(cols),
           f_stride = (size_t)cols * sizeof(float);
    int first_chunk[MAX_MM + 1] = {0};
    calm_vec_dot_fn dots[MAX_MM];
    int panels[MAX_MM];
    for (int i = 0; i < n; i++) {
        const calm_type_traits *tt = calm_type_get(mm[i].type);
        panels[i] = mm[i].packed && isa->panel_dot && mm[i].packed->cols == cols;
        if ((tt->act == CALM_ACT_Q8X || panels[i]) && !q) { // panels always take q8x activations
            q = malloc((size_t)T * q_stride);
            if (!q) abort(); // a few KiB per token: failing here means the machine is out of memory
            void (*quant)(const float *, block_q8x *, int) =
                isa->quantize_q8x ? isa->quantize_q8x : calm_isa_scalar.quantize_q8x;
#pragma omp parallel for schedule(static) if (T > 1)
            for (int t = 0; t < T; t++)
                quant(x + (size_t)t * cols, (block_q8x *)((uint8_t *)q + t * q_stride), cols);
        }
        if (tt->act == CALM_ACT_Q8T && !panels[i] && !qt) {
            qt = malloc((size_t)T * t_stride);
            if (!qt) abort();
            void (*quant)(const float *, void *, int) =
                isa->quantize_q8t ? isa->quantize_q8t : calm_isa_scalar.quantize_q8t;
#pragma omp parallel for schedule(static) if (T > 1)
            for (int t = 0; t < T; t++) quant(x + (size_t)t * cols, qt + t * t_stride, cols);
        }
        dots[i] = isa->vec_dot[mm[i].type] ? isa->vec_dot[mm[i].type]
                                           : calm_isa_scalar.vec_dot[mm[i].type];
        first_chunk[i + 1] =
            first_chunk[i] + (mm[i].rows + ROW_CHUNK - 1) / ROW_CHUNK; // 16 = CALM_PANEL
    }
    // Each thread takes chunks of rows; within a chunk the weights stay in cache while every group
    // of CALM_NT tokens passes over them.
#pragma omp parallel for schedule(static)
    for (int c = 0; c < first_chunk[n]; c++) {
        int i = 0;
        while (c >= first_chunk[i + 1]) i++;
        const calm_mm *m = &mm[i];
        calm_act act_fmt = panels[i] ? CALM_ACT_Q8X : calm_type_get(m->type)->act;
        const uint8_t *act = act_fmt == CALM_ACT_Q8X   ? (const uint8_t *)q
                             : act_fmt == CALM_ACT_Q8T ? qt
                                                       : (const uint8_t *)x;
        size_t stride = act_fmt == CALM_ACT_Q8X   ? q_stride
                        : act_fmt == CALM_ACT_Q8T ? t_stride
                                                  : f_stride,
               row_bytes = calm_row_size(m->type, cols);
        int r0 = (c - first_chunk[i]) * ROW_CHUNK,
            r1 = r0 + ROW_CHUNK < m->rows ? r0 + ROW_CHUNK : m->rows;
        if (panels[i]) { // chunk c of this matrix is panel c - first_chunk[i]
            float po[CALM_NT * CALM_PANEL];
            for (int t = 0; t < T; t += CALM_NT) {
                int nt = T - t < CALM_NT ? T - t : CALM_NT;
                isa->panel_dot(m->packed, c - first_chunk[i], act + (size_t)t * stride, stride, nt,
                               po);
                for (int k = 0; k < nt; k++)
                    for (int r = r0; r < r1; r++)
                        m->y[(size_t)(t + k) * m->rows + r] = po[k * CALM_PANEL + r - r0];
            }
            continue;
        }
        float out[CALM_NT];
        for (int t = 0; t < T; t += CALM_NT) {
            int nt = T - t < CALM_NT ? T - t : CALM_NT;
            for (int r = r0; r < r1; r++) {
                dots[i](cols, (const uint8_t *)m->w + (size_t)r * row_bytes,
                        act + (size_t)t * stride, stride, nt, out);
                for (int k = 0; k < nt; k++) m->y[(size_t)(t + k) * m->rows + r] = out[k];
            }
        }
    }
    free(q);
    free(qt);
}

void calm_transform_input(float *xt, const float *x, int cols, int T, const float *in_scale,
                          int in_rot) {
    void (*had)(float *, int, int, int) = calm_kernels()->hadamard;
    int nth = omp_get_max_threads(), per = (T + nth - 1) / nth;
#pragma omp parallel for schedule(static) if (T > 1)
    for (int t0 = 0; t0 < T; t0 += per) { // a range of tokens per thread: one H_m per range
        int t1 = t0 + per < T ? t0 + per : T;
        for (int t = t0; t < t1; t++) {
            const float *a = x + (size_t)t * cols;
            float *b = xt + (size_t)t * cols;
            for (int c = 0; c < cols; c++) b[c] = in_scale ? a[c] * in_scale[c] : a[c];
        }
        if (in_rot) had(xt + (size_t)t0 * cols, cols, t1 - t0, 0);
    }
}

void calm_matmul_many(const calm_isa *isa, const calm_mm *mm, int n, const float *x, int cols,
                      int T) {
    // Calibrated matrices with an input transform take a transformed copy of x (reused while the
    // next matrix has the same transform, as Q, K and V rotated alike do); the rest share x.
    calm_mm plain[MAX_MM];
    int np = 0;
    float *xt = NULL;
    const calm_mm *made = NULL; // whose transform xt holds
    for (int i = 0; i < n; i++) {
        if (!mm[i].in_scale && !mm[i].in_rot) {
            plain[np++] = mm[i];
            continue;
        }
        if (!xt && !(xt = malloc((size_t)T * cols * sizeof(float)))) abort();
        int same = made && made->in_rot == mm[i].in_rot && made->in_scale && mm[i].in_scale &&
                   !memcmp(made->in_scale, mm[i].in_scale, (size_t)cols * sizeof(float));
        if (!same) calm_transform_input(xt, x, cols, T, mm[i].in_scale, mm[i].in_rot);
        made = &mm[i];
        matmul_plain(isa, &mm[i], 1, xt, cols, T);
    }
    if (np) matmul_plain(isa, plain, np, x, cols, T);
    free(xt);
}

void calm_matmul_with(const calm_isa *isa, float *y, const float *x, const void *w, uint32_t type,
                      int rows, int cols, int T) {
    calm_mm m = {w, type, rows, y, NULL, NULL, 0};
    calm_matmul_many(isa, &m, 1, x, cols, T);
}

void calm_matmul(float *y, const float *x, const void *w, uint32_t type, int rows, int cols,
                 int T) {
    calm_matmul_with(calm_kernels(), y, x, w, type, rows, cols, T);
}

void calm_get_row(float *out, const void *w, uint32_t type, int cols, int r) {
    const uint8_t *src = (const uint8_t *)w + (size_t)r * calm_row_size(type, cols);
    calm_type_get(type)->to_float(src, out, cols);
}
