// Weights repacked into 16-row panels for the panel kernels: per panel and block of 32 columns,
// scales, then the codes of 16 rows x 32 columns arranged so that 32-bit lane j of a 64-byte
// vector holds 4 consecutive codes of row j. Code vector k (k = 0..7) is columns 4k..4k+3.
//
// Codes (64 * bits bytes per block):
//   4 bits: four 64-byte nibble vectors; byte 4j+i of vector k holds code 4k+i (low nibble) and
//           code 4k+i+16 (high nibble) of row j
//   5 bits: the four nibble vectors of the low 4 bits, then one 64-byte plane of the fifth bits:
//           bit k of byte 4j+i holds bit 4 of code 4k+i of row j, so code vector k is one shift
//           and mask of the plane away from its nibbles
//   8 bits: eight 64-byte vectors; byte 4j+i of vector k holds code 4k+i of row j
//   6 bits (Q6_K): the low 4 bits as the nibble vectors, then the high 2 bits in two 64-byte
//           vectors: bits 2f..2f+1 of byte 4j+i of vector m hold the high bits of code 4k+i of
//           row j for k = 4m + f
//
// Affine panels (bits 4, 5, 8) dot as  sum_b d_b * dx_b * sum(u * xq) + c_b * sx_b:
//   Q4_0: u = q, c = -8d;  Q4_1: u = q, c = m;  Q8_0: u = q + 128, c = -128d;  qgB_G: u = q, c = m
//   (4-bit panels for B <= 4, 8-bit for B = 8);  Q5_0 (5-bit): u = q, c = -16d;  Q5_1: u = q,
//   c = m;  Q4_K (4-bit) and Q5_K (5-bit), per 32-column sub-block: d = d * sc, c = -dmin * m.
// Their scales are either
//   per block (every type but the K-quants): a 64-byte header d[16], c[16] (f16) before the
//           block's codes, so a block takes 64 + 64 * bits bytes (320 for 4 bits: 5 bits per
//           weight; 384 for 5 bits: 6; 576 for 8 bits: 9);
//   per super-block (k_scales: Q4_K, Q5_K, whose rows are made of 256s): the 8 blocks of 256
//           columns are one super-block of a 320-byte header and the 8 blocks' codes. The header
//           is d[16] and -dmin[16] (f16, the rows' super-block scales as stored, dmin's sign
//           flipped: exact), then per block b at 64 + 32b the 6-bit sub-block scales sc[16] and
//           mins m[16] of the 16 rows as bytes. The kernels form d * sc and -dmin * m in f32,
//           exactly (an f16 times a 6-bit integer). Q4_K takes (320 + 8 * 256) / 4096 = 4.625
//           bits per weight (the file 4.5), Q5_K 5.625 (the file 5.5); every piece stays 64-byte
//           aligned.
//
// Q6_K panels (bits 6): w = d * sc * (q - 32) with a scale sc per 16 columns, so a block has two
// halves. Each block has a 64-byte header of d[16] (f16, the super-block scale of each row, as
// stored) and sc[2][16] (int8, the scale of columns 0-15 and 16-31 of each row), then its codes:
// 448 bytes. The kernels dot the signed codes w = q - 32 of half h with the activations and scale
// the sums by d * sc_h * dx: w.x = sum_b dx_b * sum_h d * sc_h * sum_{e in h} (q_e - 32) xq_e.
#ifndef CALM_PACK_H
#define CALM_PACK_H

#include <stddef.h>
#include <stdint.h>

#define CALM_PANEL 16
// Blocks of 32 columns per super-block of the k_scales panels, and its header's bytes.
#define CALM_PANEL_SUPER      8
#define CALM_PANEL_SUPER_HEAD 320

typedef struct {
    uint32_t type; // the weight type the panels were made from
    int bits;      // 4, 5 or 8 (affine panels), or 6 (Q6_K panels, with their own header)
    int k_scales;  // affine panels: scales per super-block of 8 blocks (Q4_K, Q5_K)
    int rows, cols;
    size_t block_bytes; // bytes per panel per block of 32 columns (a super-block header counts
                        // one eighth to each of its blocks)
    uint8_t *data;      // ceil(rows / 16) panels x (cols / 32) blocks
} calm_packed;

// Where block b of a panel keeps its pieces, as byte offsets from the panel's start: its codes,
// its scales (the d, c header of a block; the sc, m bytes of a k_scales block) and, with
// k_scales, the header of its super-block. bits and k_scales are compile-time constants in the
// kernels, so these are shifts and adds.
static inline size_t calm_panel_codes_at(int bits, int k_scales, int b) {
    return k_scales ? (size_t)(b / CALM_PANEL_SUPER) *
                              (CALM_PANEL_SUPER_HEAD + CALM_PANEL_SUPER * 64 * bits) +
                          CALM_PANEL_SUPER_HEAD + (size_t)(b % CALM_PANEL_SUPER) * 64 * bits
                    : (size_t)b * (64 + 64 * bits) + 64;
}
static inline size_t calm_panel_scales_at(int bits, int k_scales, int b) {
    return k_scales ? (size_t)(b / CALM_PANEL_SUPER) *
                              (CALM_PANEL_SUPER_HEAD + CALM_PANEL_SUPER * 64 * bits) +
                          64 + 32 * (size_t)(b % CALM_PANEL_SUPER)
                    : (size_t)b * (64 + 64 * bits);
}
static inline size_t calm_panel_super_at(int bits, int b) {
    return (size_t)(b / CALM_PANEL_SUPER) * (CALM_PANEL_SUPER_HEAD + CALM_PANEL_SUPER * 64 * bits);
}

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
