// AVX-512 VNNI prefill for CPUs without AMX: panel_gemm runs the shared panel tile
// (kernels/avx512/panel_tile.h) over tiles of 16 tokens, where panel_dot takes at most CALM_NT.
// A block's codes are then unpacked once per 16 tokens instead of once per 4, and the 8 vpdpbusd
// per token and block (64 MACs each) are most of the work.
#include "panel_q6_k.h"
#include "panel_tile.h"

CALM_INLINE void gemm_body(const calm_packed *p, int panel, const void *x, size_t xs, int T,
                           float *y, size_t ys, int nrows, const int bits, const int ks) {
    const int nb = p->cols / 32;
    const uint8_t *first = p->data + (size_t)panel * nb * p->block_bytes;
    const __mmask16 keep = (__mmask16)((1u << nrows) - 1);
    for (int t = 0; t < T; t += CALM_PANEL_TILE_MAX) // T is a multiple of CALM_GEMM_T (16)
        calm_panel_tile(first, nb, 0, (const uint8_t *)x + (size_t)t * xs, xs, y + (size_t)t * ys,
                        ys, keep, bits, ks, 1, CALM_PANEL_TILE_MAX);
}

void calm_panel_gemm_avx512(const calm_packed *p, int panel, const void *x, size_t xs, int T,
                            float *y, size_t ys, int nrows) {
    if (p->bits == 6) { // Q6_K panels: their own tile, 16 tokens at a time
        const __mmask16 keep = (__mmask16)((1u << nrows) - 1);
        for (int t = 0; t < T; t += CALM_PANEL_TILE_MAX)
            calm_panel_q6_k_tile(p, panel, (const uint8_t *)x + (size_t)t * xs, xs,
                                 y + (size_t)t * ys, ys, keep, 1, CALM_PANEL_TILE_MAX);
        return;
    }
    CALM_PANEL_SWITCH(p, gemm_body, p, panel, x, xs, T, y, ys, nrows)
}
