// Weights repacked into 16-row panels for the panel kernels: per panel and block of 32 columns,
// d[16] and c[16] (f16, or f32 for the K-quants whose d * scale needs more than f16), then the
// codes of 16 rows x 32 columns as unsigned bytes or nibbles, arranged so that 32-bit lane j of a
// vector holds 4 consecutive codes of row j:
//   4 bits: four 64-byte vectors; byte 4j+i of vector k holds code 4k+i (low nibble) and code
//           4k+i+16 (high nibble) of row j
//   8 bits: eight 64-byte vectors; byte 4j+i of vector k holds code 4k+i of row j
// Every supported format then dots as  sum_b d_b * dx_b * sum(u * xq) + c_b * sx_b:
//   Q4_0: u = q, c = -8d;  Q4_1: u = q, c = m;  Q8_0: u = q + 128, c = -128d;  qgB_G: u = q, c = m;
//   Q5_0 (8-bit panels): u = q, c = -16d;  Q5_1: u = q, c = m;
//   Q4_K (4-bit, f32 scales) and Q5_K (8-bit, f32 scales), per sub-block: d = d * sc, c = -dmin *
//   m.
#ifndef CALM_PACK_H
#define CALM_PACK_H

#include <stddef.h>
#include <stdint.h>

#define CALM_PANEL 16

typedef struct {
    int bits;       // 4 or 8
    int f32_scales; // d and c are f32 (header 128 bytes) instead of f16 (64 bytes)
    int rows, cols;
    size_t block_bytes; // bytes per panel per block of 32 columns
    uint8_t *data;      // ceil(rows / 16) panels x (cols / 32) blocks
} calm_packed;

// Whether a type can be packed (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, qgB_G). 2- and 3-bit
// groups go into 4-bit panels: the panel kernel is far faster than unpacking bit planes per token,
// at the cost of 4 bits of memory per weight at run time (the file keeps 2 or 3).
int calm_pack_supported(uint32_t type);
// Packs a rows x cols matrix; returns 0, or -1 if the type is not supported or memory runs out.
int calm_pack(calm_packed *p, const void *w, uint32_t type, int rows, int cols);
void calm_packed_free(calm_packed *p);

// The scalar panel dot, calm_panel_dot_scalar, is declared with the other ISAs' entry points in
// kernels/kernels.h.

#endif
