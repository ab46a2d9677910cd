// The matmul driver: quantizes the activations once into each format the matrices need, then runs
// an ISA's row (or panel) kernels over chunks of rows, the chunks split between the threads of a
// team by weight bytes.
#include "matmul.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MM 8

int calm_mm_scratch_init(calm_mm_scratch *sc, int max_T, int max_cols) {
    memset(sc, 0, sizeof *sc);
    size_t T = max_T > 0 ? (size_t)max_T : 1, cols = max_cols > 32 ? (size_t)max_cols : 32;
    // the tiled copy of the q8x rows lives behind them, in the same allocation
    size_t rows_bytes = T * (cols / 32) * sizeof(block_q8x);
    sc->q8x = malloc(rows_bytes + T / CALM_GEMM_T * (cols / 32) * sizeof(block_q8g));
    sc->q8g = sc->q8x ? (block_q8g *)((uint8_t *)sc->q8x + rows_bytes) : NULL;
    sc->q8t = malloc(T * calm_q8t_stride((int)cols));
    sc->xt = malloc(T * cols * sizeof(float));
    if (!sc->q8x || !sc->q8t || !sc->xt) {
        calm_mm_scratch_free(sc);
        return -1;
    }
    sc->max_T = (int)T;
    sc->max_cols = (int)cols;
    return 0;
}

void calm_mm_scratch_free(calm_mm_scratch *sc) {
    free(sc->q8x); // and q8g with it
    free(sc->q8t);
    free(sc->xt);
    memset(sc, 0, sizeof *sc);
}

// The team's share of the q8x blocks of all T rows: q8x blocks are independent, so one token's
// row (decode) is split as well as many rows are.
static void quantize_q8x_share(const calm_isa *isa, const float *x, block_q8x *q, int cols, int T) {
    void (*quant)(const float *, block_q8x *, int) =
        isa->quantize_q8x ? isa->quantize_q8x : calm_isa_scalar.quantize_q8x;
    int64_t nb = cols / 32, b, end;
    calm_team_share((int64_t)T * nb, &b, &end);
    while (b < end) {
        int64_t row_end = (b / nb + 1) * nb, e = end < row_end ? end : row_end;
        quant(x + b / nb * cols + b % nb * 32, q + b, (int)(e - b) * 32);
        b = e;
    }
}

void calm_q8g_put(block_q8g *g, const block_q8x *row, int t, int nb) {
    block_q8g *tile = g + (size_t)(t / CALM_GEMM_T) * nb;
    int i = t % CALM_GEMM_T;
    for (int b = 0; b < nb; b++) {
        memcpy(tile[b].qs[i], row[b].qs, 32);
        tile[b].d[i] = row[b].d;
        tile[b].s[i] = row[b].s;
    }
}

// quantize_q8x_share for prefill with a tile kernel: whole rows per thread, each also copied into
// the tiled layout if it belongs to a whole tile of tokens.
static void quantize_q8g_share(const calm_isa *isa, const float *x, block_q8x *q, block_q8g *g,
                               int cols, int T) {
    void (*quant)(const float *, block_q8x *, int) =
        isa->quantize_q8x ? isa->quantize_q8x : calm_isa_scalar.quantize_q8x;
    int nb = cols / 32, tiled = T / CALM_GEMM_T * CALM_GEMM_T;
    int64_t t0, t1;
    calm_team_share(T, &t0, &t1);
    for (int64_t t = t0; t < t1; t++) {
        quant(x + t * cols, q + t * nb, cols);
        if (t < tiled) calm_q8g_put(g, q + t * nb, (int)t, nb);
    }
}

// The team's share of the q8t rows (one scale per row, so whole rows).
static void quantize_q8t_share(const calm_isa *isa, const float *x, uint8_t *q, int cols, int T) {
    void (*quant)(const float *, void *, int) =
        isa->quantize_q8t ? isa->quantize_q8t : calm_isa_scalar.quantize_q8t;
    size_t stride = calm_q8t_stride(cols);
    int64_t t0, t1;
    calm_team_share(T, &t0, &t1);
    for (int64_t t = t0; t < t1; t++) quant(x + t * cols, q + t * stride, cols);
}

// The blocks of 32 columns a tile kernel takes per call: 1024 columns of 512 tokens' tiled
// activations (640 KiB) stay in L2 while the thread's panels pass over them.
#define GEMM_RANGE 32

// The whole tiles of tokens of the thread's panels, rows r0 .. r1-1 of m, through panel_gemm_tiles
// (g: the tiled activations) or panel_gemm (act: q8x rows); returns the tokens done.
static int run_gemm(const calm_isa *isa, const calm_mm *m, const uint8_t *act, size_t stride,
                    const block_q8g *g, int cols, int T, int r0, int r1) {
    int tiled = T / CALM_GEMM_T * CALM_GEMM_T, nb = cols / 32, step = g ? GEMM_RANGE : nb;
    for (int b0 = 0; b0 < nb; b0 += step) // column ranges outside, panels inside
        for (int q0 = r0; q0 < r1; q0 += CALM_PANEL) {
            int nrows = r1 - q0 < CALM_PANEL ? r1 - q0 : CALM_PANEL;
            if (g)
                isa->panel_gemm_tiles(m->packed, q0 / CALM_PANEL, g, tiled, b0,
                                      b0 + step < nb ? b0 + step : nb, m->y + q0, (size_t)m->rows,
                                      nrows);
            else
                isa->panel_gemm(m->packed, q0 / CALM_PANEL, act, stride, tiled, m->y + q0,
                                (size_t)m->rows, nrows);
        }
    return tiled;
}

// Chunks k0 .. k1-1 of m (chunk_rows rows each: 16, or a group of panels) for all T tokens: within
// a chunk the weights stay in cache while every group of tokens passes over them. act holds the
// activations in the format the kernels take, rows `stride` bytes apart; g, if not NULL, the same
// tiled for panel_gemm_tiles.
static void run_chunks(const calm_isa *isa, const calm_mm *m, int panels, int chunk_rows,
                       const uint8_t *act, size_t stride, const block_q8g *g, int cols, int T,
                       int k0, int k1) {
    size_t row_bytes = calm_row_size(m->type, cols);
    calm_vec_dot_fn dot =
        isa->vec_dot[m->type] ? isa->vec_dot[m->type] : calm_isa_scalar.vec_dot[m->type];
    int done = 0; // tokens the gemm has done, for every panel
    if (panels && T >= CALM_GEMM_T && (g || isa->panel_gemm)) {
        int r1 = k1 * chunk_rows < m->rows ? k1 * chunk_rows : m->rows;
        done = run_gemm(isa, m, act, stride, g, cols, T, k0 * chunk_rows, r1);
    }
    for (int k = k0; k < k1; k++) {
        int r0 = k * chunk_rows, r1 = r0 + chunk_rows < m->rows ? r0 + chunk_rows : m->rows;
        if (panels) { // the chunk is panels panel .. panel + np - 1
            int panel = r0 / CALM_PANEL, np = (r1 - r0 + CALM_PANEL - 1) / CALM_PANEL;
            float po[CALM_NT * CALM_PANEL_GROUP * CALM_PANEL];
            for (int t = done; t < T; t += CALM_NT) {
                int nt = T - t < CALM_NT ? T - t : CALM_NT;
                isa->panel_dot(m->packed, panel, np, act + (size_t)t * stride, stride, nt, po);
                for (int j = 0; j < nt; j++)
                    for (int r = r0; r < r1; r++)
                        m->y[(size_t)(t + j) * m->rows + r] = po[j * np * CALM_PANEL + r - r0];
            }
            continue;
        }
        float out[CALM_NT];
        for (int t = 0; t < T; t += CALM_NT) {
            int nt = T - t < CALM_NT ? T - t : CALM_NT;
            for (int r = r0; r < r1; r++) {
                dot(cols, (const uint8_t *)m->w + (size_t)r * row_bytes, act + (size_t)t * stride,
                    stride, nt, out);
                for (int j = 0; j < nt; j++) m->y[(size_t)(t + j) * m->rows + r] = out[j];
            }
        }
    }
}

// The first chunk of a matrix whose chunks start at byte base, `bytes` apart, that starts at or
// after byte b of the call.
static int64_t first_chunk_from(int64_t b, int64_t base, int64_t bytes) {
    return b <= base ? 0 : (b - base + bytes - 1) / bytes;
}

// Matrices without input transforms on x, called by the whole team.
static void matmul_plain(const calm_isa *isa, const calm_mm *mm, int n, const float *x, int cols,
                         int T, const calm_mm_scratch *sc) {
    size_t q_stride = (size_t)(cols / 32) * sizeof(block_q8x), t_stride = calm_q8t_stride(cols),
           f_stride = (size_t)cols * sizeof(float);
    int panels[MAX_MM], nchunks[MAX_MM], chunk_rows[MAX_MM], need_q8x = 0, need_q8t = 0;
    int need_q8g = 0;
    int all_panels = 0;
    int64_t chunk_bytes[MAX_MM], total = 0;
    for (int i = 0; i < n; i++) {
        calm_act fmt = calm_type_get(mm[i].type)->vec_dot_type;
        panels[i] =
            mm[i].packed && calm_isa_packs(isa, mm[i].packed->type) && mm[i].packed->cols == cols;
        need_q8x |= fmt == CALM_ACT_Q8X || panels[i]; // panels always take q8x activations
        need_q8t |= fmt == CALM_ACT_Q8T && !panels[i];
        need_q8g |= panels[i] && isa->panel_gemm_tiles && T >= CALM_GEMM_T;
        if (panels[i]) all_panels += (mm[i].rows + CALM_PANEL - 1) / CALM_PANEL;
    }
    // Packed matrices go in groups of panels (calm_panel_dot_fn: several memory streams per core)
    // where there are enough of them to give every thread two groups or more; the rows of the row
    // kernels go 16 at a time.
    int group = all_panels >= 8 * omp_get_num_threads() ? CALM_PANEL_GROUP : 1;
    for (int i = 0; i < n; i++) {
        chunk_rows[i] = CALM_PANEL * (panels[i] ? group : 1);
        nchunks[i] = (mm[i].rows + chunk_rows[i] - 1) / chunk_rows[i];
        chunk_bytes[i] = panels[i]
                             ? (int64_t)mm[i].packed->block_bytes * (cols / 32) * group
                             : (int64_t)chunk_rows[i] * (int64_t)calm_row_size(mm[i].type, cols);
        total += nchunks[i] * chunk_bytes[i];
    }
    if (need_q8g)
        quantize_q8g_share(isa, x, sc->q8x, sc->q8g, cols, T);
    else if (need_q8x)
        quantize_q8x_share(isa, x, sc->q8x, cols, T);
    if (need_q8t) quantize_q8t_share(isa, x, sc->q8t, cols, T);
    if (need_q8x || need_q8t) {
#pragma omp barrier
    }
    // The thread takes the chunks that start in its share of the bytes of all the matrices: the
    // weights streamed decide the time, and the types of one call can differ in bytes per row.
    int64_t lo, hi, base = 0;
    calm_team_share(total, &lo, &hi);
    for (int i = 0; i < n; i++) {
        int64_t k0 = first_chunk_from(lo, base, chunk_bytes[i]),
                k1 = first_chunk_from(hi, base, chunk_bytes[i]);
        if (k1 > nchunks[i]) k1 = nchunks[i];
        base += nchunks[i] * chunk_bytes[i];
        if (k0 >= k1) continue;
        calm_act fmt = panels[i] ? CALM_ACT_Q8X : calm_type_get(mm[i].type)->vec_dot_type;
        const uint8_t *act = fmt == CALM_ACT_Q8X   ? (const uint8_t *)sc->q8x
                             : fmt == CALM_ACT_Q8T ? sc->q8t
                                                   : (const uint8_t *)x;
        size_t stride = fmt == CALM_ACT_Q8X ? q_stride : fmt == CALM_ACT_Q8T ? t_stride : f_stride;
        run_chunks(isa, &mm[i], panels[i], chunk_rows[i], act, stride, need_q8g ? sc->q8g : NULL,
                   cols, T, (int)k0, (int)k1);
    }
#pragma omp barrier
}

// The team's share of the tokens of calm_transform_input: a range of tokens per thread, one H_m
// per range.
static void transform_share(float *xt, const float *x, int cols, int T, const float *in_scale,
                            int in_rot) {
    int64_t t0, t1;
    calm_team_share(T, &t0, &t1);
    for (int64_t t = t0; t < t1; t++) {
        const float *a = x + t * cols;
        float *b = xt + t * cols;
        for (int c = 0; c < cols; c++) b[c] = in_scale ? a[c] * in_scale[c] : a[c];
    }
    if (in_rot && t1 > t0) calm_kernels()->hadamard(xt + t0 * cols, cols, (int)(t1 - t0), 0);
}

void calm_transform_input(float *xt, const float *x, int cols, int T, const float *in_scale,
                          int in_rot) {
#pragma omp parallel if (T > 1)
    transform_share(xt, x, cols, T, in_scale, in_rot);
}

void calm_matmul_team(const calm_isa *isa, const calm_mm *mm, int n, const float *x, int cols,
                      int T, const calm_mm_scratch *sc) {
    // Calibrated matrices with an input transform take a transformed copy of x (reused while the
    // next matrix has the same transform, as Q, K and V rotated alike do); the rest share x.
    calm_mm plain[MAX_MM];
    int np = 0;
    const calm_mm *made = NULL; // whose transform sc->xt holds
    for (int i = 0; i < n; i++) {
        if (!mm[i].in_scale && !mm[i].in_rot) {
            plain[np++] = mm[i];
            continue;
        }
        int same = made && made->in_rot == mm[i].in_rot && made->in_scale && mm[i].in_scale &&
                   !memcmp(made->in_scale, mm[i].in_scale, (size_t)cols * sizeof(float));
        if (!same) {
            transform_share(sc->xt, x, cols, T, mm[i].in_scale, mm[i].in_rot);
#pragma omp barrier
        }
        made = &mm[i];
        matmul_plain(isa, &mm[i], 1, sc->xt, cols, T, sc);
    }
    if (np) matmul_plain(isa, plain, np, x, cols, T, sc);
}

void calm_matmul_many(const calm_isa *isa, const calm_mm *mm, int n, const float *x, int cols,
                      int T) {
    calm_mm_scratch sc;
    // a few KiB per token: failing here means the machine is out of memory
    if (calm_mm_scratch_init(&sc, T, cols)) abort();
#pragma omp parallel
    calm_matmul_team(isa, mm, n, x, cols, T, &sc);
    calm_mm_scratch_free(&sc);
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
