// The matmul driver: quantizes the activations once into each format the matrices need, then runs
// an ISA's row (or panel) kernels over chunks of rows in one OpenMP region.
#include "matmul.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MM 8

static void matmul_plain(const calm_isa *isa, const calm_mm *mm, int n, const float *x, int cols,
                         int T) {
    // Activations in each format the matrices need, made once.
    block_q8x *q = NULL;
    uint8_t *qt = NULL;
    size_t q_stride = (size_t)(cols / 32) * sizeof(block_q8x), t_stride = calm_q8t_stride(cols),
           f_stride = (size_t)cols * sizeof(float);
    int first_chunk[MAX_MM + 1] = {0}, chunk_rows[MAX_MM], all_panels = 0;
    calm_vec_dot_fn dots[MAX_MM];
    int panels[MAX_MM];
    for (int i = 0; i < n; i++) {
        const calm_type_traits *tt = calm_type_get(mm[i].type);
        panels[i] = mm[i].packed && isa->panel_dot && mm[i].packed->cols == cols;
        if ((tt->vec_dot_type == CALM_ACT_Q8X || panels[i]) &&
            !q) { // panels always take q8x activations
            q = malloc((size_t)T * q_stride);
            if (!q) abort(); // a few KiB per token: failing here means the machine is out of memory
            void (*quant)(const float *, block_q8x *, int) =
                isa->quantize_q8x ? isa->quantize_q8x : calm_isa_scalar.quantize_q8x;
#pragma omp parallel for schedule(static) if (T > 1)
            for (int t = 0; t < T; t++)
                quant(x + (size_t)t * cols, (block_q8x *)((uint8_t *)q + t * q_stride), cols);
        }
        if (tt->vec_dot_type == CALM_ACT_Q8T && !panels[i] && !qt) {
            qt = malloc((size_t)T * t_stride);
            if (!qt) abort();
            void (*quant)(const float *, void *, int) =
                isa->quantize_q8t ? isa->quantize_q8t : calm_isa_scalar.quantize_q8t;
#pragma omp parallel for schedule(static) if (T > 1)
            for (int t = 0; t < T; t++) quant(x + (size_t)t * cols, qt + t * t_stride, cols);
        }
        dots[i] = isa->vec_dot[mm[i].type] ? isa->vec_dot[mm[i].type]
                                           : calm_isa_scalar.vec_dot[mm[i].type];
        if (panels[i]) all_panels += (mm[i].rows + CALM_PANEL - 1) / CALM_PANEL;
    }
    // Packed matrices go in groups of panels (calm_panel_dot_fn) where there are enough of them to
    // give every thread several groups; rows of the row kernels go 16 at a time.
    int group = all_panels >= 8 * omp_get_max_threads() ? CALM_PANEL_GROUP : 1;
    for (int i = 0; i < n; i++) {
        chunk_rows[i] = CALM_PANEL * (panels[i] ? group : 1);
        first_chunk[i + 1] = first_chunk[i] + (mm[i].rows + chunk_rows[i] - 1) / chunk_rows[i];
    }
    // Each thread takes chunks of rows; within a chunk the weights stay in cache while every group
    // of CALM_NT tokens passes over them.
#pragma omp parallel for schedule(static)
    for (int c = 0; c < first_chunk[n]; c++) {
        int i = 0;
        while (c >= first_chunk[i + 1]) i++;
        const calm_mm *m = &mm[i];
        calm_act act_fmt = panels[i] ? CALM_ACT_Q8X : calm_type_get(m->type)->vec_dot_type;
        const uint8_t *act = act_fmt == CALM_ACT_Q8X   ? (const uint8_t *)q
                             : act_fmt == CALM_ACT_Q8T ? qt
                                                       : (const uint8_t *)x;
        size_t stride = act_fmt == CALM_ACT_Q8X   ? q_stride
                        : act_fmt == CALM_ACT_Q8T ? t_stride
                                                  : f_stride,
               row_bytes = calm_row_size(m->type, cols);
        int r0 = (c - first_chunk[i]) * chunk_rows[i],
            r1 = r0 + chunk_rows[i] < m->rows ? r0 + chunk_rows[i] : m->rows;
        if (panels[i]) { // the chunk is panels panel .. panel + np - 1
            int panel = r0 / CALM_PANEL, np = (r1 - r0 + CALM_PANEL - 1) / CALM_PANEL, t = 0;
            if (isa->panel_gemm && T >= CALM_GEMM_T) { // whole tiles of tokens, the rest below
                t = T / CALM_GEMM_T * CALM_GEMM_T;
                for (int q = 0; q < np; q++) {
                    int q0 = r0 + q * CALM_PANEL, q1 = q0 + CALM_PANEL < r1 ? q0 + CALM_PANEL : r1;
                    isa->panel_gemm(m->packed, panel + q, act, stride, t, m->y + q0,
                                    (size_t)m->rows, q1 - q0);
                }
            }
            float po[CALM_NT * CALM_PANEL_GROUP * CALM_PANEL];
            for (; t < T; t += CALM_NT) {
                int nt = T - t < CALM_NT ? T - t : CALM_NT;
                isa->panel_dot(m->packed, panel, np, act + (size_t)t * stride, stride, nt, po);
                for (int k = 0; k < nt; k++)
                    for (int r = r0; r < r1; r++)
                        m->y[(size_t)(t + k) * m->rows + r] = po[k * np * CALM_PANEL + r - r0];
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
    calm_mm m = {.w = w, .type = type, .rows = rows, .y = y};
    calm_matmul_many(isa, &m, 1, x, cols, T);
}

void calm_get_row(float *out, const void *w, uint32_t type, int cols, int r) {
    const uint8_t *src = (const uint8_t *)w + (size_t)r * calm_row_size(type, cols);
    calm_type_get(type)->to_float(src, out, cols);
}
