// Weights repacked into 16-row panels for the panel kernels: per panel and block of 32 columns, a
// header of scales, then the codes of 16 rows x 32 columns arranged so that 32-bit lane j of a
// 64-byte vector holds 4 consecutive codes of row j.
//
// Affine panels (bits 4 and 8): the header is d[16] and c[16] (f16, or f32 for the K-quants whose
// d * scale needs more than f16), then
//   4 bits: four 64-byte vectors; byte 4j+i of vector k holds code 4k+i (low nibble) and code
//           4k+i+16 (high nibble) of row j
//   8 bits: eight 64-byte vectors; byte 4j+i of vector k holds code 4k+i of row j
// Every such format then dots as  sum_b d_b * dx_b * sum(u * xq) + c_b * sx_b:
//   Q4_0: u = q, c = -8d;  Q4_1: u = q, c = m;  Q8_0: u = q + 128, c = -128d;  qgB_G: u = q, c = m;
//   Q5_0 (8-bit panels): u = q, c = -16d;  Q5_1: u = q, c = m;
//   Q4_K (4-bit, f32 scales) and Q5_K (8-bit, f32 scales), per sub-block: d = d * sc, c = -dmin *
//   m.
//
// Q6_K panels (bits 6): w = d * sc * (q - 32) with a scale sc per 16 columns, so a block has two
// halves. The 64-byte header is d[16] (f16, the super-block scale of each row, as stored) and
// sc[2][16] (int8, the scale of columns 0-15 and 16-31 of each row): d * sc is formed in f32 by
// the kernel, where f16 could not hold it. Then the 6-bit codes q:
//   low 4 bits: four 64-byte vectors, laid out as the 4-bit panel's
//   high 2 bits: two 64-byte vectors; bits 2f..2f+1 of byte 4j+i of vector m hold the high bits of
//           code 4k+i of row j for k = 4m + f
// so code vector k (codes 4k..4k+3 of each row) is one shift and mask of each part away. The
// kernels dot the signed codes w = q - 32 of half h with the activations and scale the sums by
// d * sc_h * dx: w.x = sum_b dx_b * sum_h d * sc_h * sum_{e in h} (q_e - 32) xq_e.
#ifndef CALM_PACK_H
#define CALM_PACK_H

#include <stddef.h>
#include <stdint.h>

#define CALM_PANEL 16

typedef struct {
    uint32_t type;  // the weight type the panels were made from
    int bits;       // 4 or 8 (affine panels), or 6 (Q6_K panels, with their own header)
    int f32_scales; // affine panels: d and c are f32 (header 128 bytes) instead of f16 (64 bytes)
    int rows, cols;
    size_t block_bytes; // bytes per panel per block of 32 columns
    uint8_t *data;      // ceil(rows / 16) panels x (cols / 32) blocks
} calm_packed;

// Whether a type can be packed (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K, qgB_G). 2- and
// 3-bit groups go into 4-bit panels: the panel kernel is far faster than unpacking bit planes per
// token, at the cost of 4 bits of memory per weight at run time (the file keeps 2 or 3).
int calm_pack_supported(uint32_t type);
// Packs a rows x cols matrix, splitting the panels over the OpenMP threads (the result does not
// depend on their number); returns 0, or -1 if the type is not supported or memory runs out.
int calm_pack(calm_packed *p, const void *w, uint32_t type, int rows, int cols);
// calm_pack in two steps, for a caller that fills the panels of several matrices in one parallel
// loop: calm_pack_init sets p up for a rows x cols matrix of `type` and allocates its panels
// (uninitialized; returns 0, or -1 as calm_pack), then calm_pack_panel fills panel `panel` (of
// calm_pack_panels(p)) from the weights w. Panels depend on their own 16 rows only, so they may be
// filled in any order by any threads.
int calm_pack_init(calm_packed *p, uint32_t type, int rows, int cols);
int calm_pack_panels(const calm_packed *p);
void calm_pack_panel(calm_packed *p, const void *w, int panel);
void calm_packed_free(calm_packed *p);

// The scalar panel dot, calm_panel_dot_scalar, is declared with the other ISAs' entry points in
// kernels/kernels.h.

#endif
