// AMX int8 prefill (Sapphire Rapids and later): the avx512 table plus panel_gemm_tiles, which
// multiplies a 16-row panel (kernels/pack.h) with 16 tokens at a time in the tile unit.
// The 8-bit panel block is already an AMX B tile in VNNI layout (8 rows of 64 bytes, row k byte
// 4j+i = code 4k+i of weight row j) and the tiled activations of one block for 16 tokens
// (block_q8g) are an A tile of 512 contiguous bytes. (Read in place from q8x rows, an A tile
// touched 16 to 32 cache lines, one per token, and its loads were the kernel's largest cost on the
// device machine.) The 4- and 5-bit codes are unpacked
// once per call, for a chunk of blocks that every tile of tokens then reads. Where the panel's
// offset is a fixed multiple of its scale (c = -k d: Q4_0, Q8_0, Q5_0) the codes become the signed
// weights u - k while unpacking, TDPBSSD multiplies them by the signed activations and the c * sx
// term of the epilogue is gone; otherwise TDPBSUD takes the unsigned codes. The float epilogue per
// block is the VNNI tile's (kernels/avx512/panel_tile.h) and bounds this kernel: every 32-column
// block has its own scales, so each C tile goes through the vector unit. Two blocks are in flight
// in two sets of tiles; sharing one B tile between two 16-token tiles instead would need 32 float
// accumulators, all the zmm registers there are.
#include <immintrin.h>
#include <string.h>

#include "../avx512/panel_tile.h"
#include "../avx512/panel_q6_k.h"

// The LDTILECFG operand, palette 1. The tile intrinsics paste their tile number into the
// instruction text, so the kernel names them by literal: two sets of C, A and B tiles, 0-2-4 and
// 1-3-5, for two blocks in flight.
typedef struct __attribute__((aligned(64))) {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;

static void load_tiles(void) {
    tile_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int i = 0; i < 2; i++) {
        cfg.rows[i] = CALM_GEMM_T, cfg.colsb[i] = CALM_PANEL * 4;    // C: tokens x rows, int32
        cfg.rows[2 + i] = CALM_GEMM_T, cfg.colsb[2 + i] = 32;        // A: tokens x block, int8
        cfg.rows[4 + i] = 32 / 4, cfg.colsb[4 + i] = CALM_PANEL * 4; // B: codes in VNNI order
    }
    _tile_loadconfig(&cfg);
}

// Blocks per unpacked chunk: 16 KiB of codes stay in L1 while every tile of tokens passes.
#define CHUNK 32

// The k with c = -k d in every block, which makes u - k the signed weights: 8 for Q4_0, 16 for
// Q5_0, 128 for Q8_0, whose panels calm_pack writes with c = -k d (exact in f16: k is a power of
// two); 0 for the types with free offsets (Q4_1, Q5_1, the K-quants, the calm groups). A property
// of the type, so a call on a range of blocks need not scan the panel's headers for it.
static int signed_offset(const calm_packed *p) {
    switch (p->type) {
    case CALM_TYPE_Q4_0:
        return 8;
    case CALM_TYPE_Q5_0:
        return 16;
    case CALM_TYPE_Q8_0:
        return 128;
    default:
        return 0;
    }
}

// The panel's blocks [b0, b1) into buf as B tiles (512 bytes each): the 4- and 5-bit codes split
// into bytes (B rows 0-3: the codes of the low nibbles of the four vectors, rows 4-7: the high
// ones), less k when k != 0.
CALM_INLINE void unpack_chunk(const uint8_t *first, int b0, int b1, uint8_t *buf, int k,
                              const int bits, const int ks) {
    const __m512i vk = _mm512_set1_epi8((char)k);
    for (int b = b0; b < b1; b++) {
        __m512i w[8];
        calm_panel_codes(first + calm_panel_codes_at(bits, ks, b), bits, w);
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++)
            _mm512_store_si512(buf + 512 * (b - b0) + 64 * i, k ? _mm512_sub_epi8(w[i], vk) : w[i]);
    }
}

// Block b's int32 sums (16 tokens x 16 rows, as the C tile was stored) into the tile's float
// accumulators: acc += d * (dx * sum) + c * sx, without the c term for signed codes.
CALM_INLINE void block_epilogue(__m512 *acc, const int32_t *sums, const uint8_t *first,
                                const block_q8g *a, int b, const int bits, const int ks,
                                const int sgn) {
    __m512 sd = _mm512_setzero_ps(), sn = sd, d, c;
    if (ks) calm_panel_super(first, b, bits, &sd, &sn);
    calm_panel_scales(first, b, bits, ks, sd, sn, &d, &c);
#pragma GCC unroll 16
    for (int t = 0; t < CALM_GEMM_T; t++) {
        __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_load_si512(sums + 16 * t)),
                                 _mm512_set1_ps(a->d[t]));
        acc[t] = _mm512_fmadd_ps(d, f, acc[t]);
        if (!sgn) acc[t] = _mm512_fmadd_ps(c, _mm512_set1_ps(a->s[t]), acc[t]);
    }
}

// Block b of the tile of tokens gt into C tile ct through A tile at and B tile bt (literals).
#define TILE_BLOCK(ct, at, bt, b)                                                                  \
    do {                                                                                           \
        _tile_zero(ct);                                                                            \
        _tile_loadd(at, gt[b].qs, 32);                                                             \
        _tile_loadd(bt, unpack ? unpacked + 512 * ((b)-b0) : first + calm_panel_codes_at(8, 0, b), \
                    64);                                                                           \
        if (sgn)                                                                                   \
            _tile_dpbssd(ct, at, bt);                                                              \
        else                                                                                       \
            _tile_dpbsud(ct, at, bt);                                                              \
    } while (0)

CALM_INLINE void gemm_body(const calm_packed *p, int panel, const block_q8g *g, int T, int bs,
                           int be, float *y, size_t ys, int nrows, int k, const int bits,
                           const int ks, const int sgn) {
    const int nb = p->cols / 32;
    const uint8_t *first = p->data + (size_t)panel * nb * p->block_bytes;
    const __mmask16 keep = (__mmask16)((1u << nrows) - 1);
    const int unpack = bits != 8 || sgn; // 8-bit unsigned codes are B tiles as packed
    _Alignas(64) uint8_t unpacked[CHUNK * 8 * 64];
    _Alignas(64) int32_t sums[2][CALM_GEMM_T * CALM_PANEL];
    // The accumulators pass from one chunk to the next through y.
    for (int b0 = bs; b0 < be; b0 += CHUNK) {
        const int b1 = b0 + CHUNK < be ? b0 + CHUNK : be;
        if (unpack) unpack_chunk(first, b0, b1, unpacked, k, bits, ks);
        for (int t0 = 0; t0 < T; t0 += CALM_GEMM_T) {
            const block_q8g *gt = g + (size_t)(t0 / CALM_GEMM_T) * nb;
            __m512 acc[CALM_GEMM_T];
#pragma GCC unroll 16
            for (int t = 0; t < CALM_GEMM_T; t++)
                acc[t] = b0 ? _mm512_maskz_loadu_ps(keep, y + (size_t)(t0 + t) * ys)
                            : _mm512_setzero_ps();
            // Two blocks at a time in the two sets of tiles: the tile unit multiplies the second
            // while the vector unit turns the first one's sums into floats.
            int b = b0;
            for (; b + 2 <= b1; b += 2) {
                TILE_BLOCK(0, 2, 4, b);
                TILE_BLOCK(1, 3, 5, b + 1);
                _tile_stored(0, sums[0], 64);
                block_epilogue(acc, sums[0], first, gt + b, b, bits, ks, sgn);
                _tile_stored(1, sums[1], 64);
                block_epilogue(acc, sums[1], first, gt + b + 1, b + 1, bits, ks, sgn);
            }
            if (b < b1) { // an odd block left in the chunk
                TILE_BLOCK(0, 2, 4, b);
                _tile_stored(0, sums[0], 64);
                block_epilogue(acc, sums[0], first, gt + b, b, bits, ks, sgn);
            }
#pragma GCC unroll 16
            for (int t = 0; t < CALM_GEMM_T; t++)
                _mm512_mask_storeu_ps(y + (size_t)(t0 + t) * ys, keep, acc[t]);
        }
    }
}

#undef TILE_BLOCK

// The unsigned kinds through the panel switch (k = 0).
CALM_INLINE void gemm_unsigned(const calm_packed *p, int panel, const block_q8g *g, int T, int b0,
                               int b1, float *y, size_t ys, int nrows, const int bits,
                               const int ks) {
    gemm_body(p, panel, g, T, b0, b1, y, ys, nrows, 0, bits, ks, 0);
}

// Q6_K panels (kernels/pack.h) have a scale per 16 columns, so each block is two products of
// half depth: tiles 0 and 1 = C of the two halves, 2 and 3 = A (16 tokens x 16 activation bytes
// of a half, 32 bytes apart in the tiled activations), 4 and 5 = B (the signed codes q - 32 of a
// half: 4 rows of 64 bytes in VNNI order, code vectors 0-3 and 4-7 of calm_q6_k_panel_codes).
// TDPBSSD multiplies signed by signed, so the offset of 32 needs no correction.
static void load_q6_k_tiles(void) {
    tile_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int h = 0; h < 2; h++) {
        cfg.rows[h] = CALM_GEMM_T, cfg.colsb[h] = CALM_PANEL * 4;
        cfg.rows[2 + h] = CALM_GEMM_T, cfg.colsb[2 + h] = 16;
        cfg.rows[4 + h] = 16 / 4, cfg.colsb[4 + h] = CALM_PANEL * 4;
    }
    _tile_loadconfig(&cfg);
}

// Blocks outside, token tiles inside: a block's codes are unpacked and its B tiles loaded once for
// all T tokens, and y (T x the panel's rows, in cache) gathers the blocks' terms in block order,
// as the registers of panel_dot do.
static void q6_k_gemm(const calm_packed *p, int panel, const block_q8g *g, int T, int b0, int b1,
                      float *y, size_t ys, int nrows) {
    const int nb = p->cols / 32;
    const uint8_t *blk = p->data + ((size_t)panel * nb + b0) * p->block_bytes;
    const __mmask16 keep = (__mmask16)((1u << nrows) - 1);
    _Alignas(64) uint8_t codes[8 * 64];
    _Alignas(64) int32_t sums[2][CALM_GEMM_T * CALM_PANEL];
    for (int t = 0; b0 == 0 && t < T; t++)
        _mm512_mask_storeu_ps(y + (size_t)t * ys, keep, _mm512_setzero_ps());
    load_q6_k_tiles();
    for (int b = b0; b < b1; b++, blk += p->block_bytes) {
        __m512i w[8];
        calm_q6_k_panel_codes(blk, w);
        for (int k = 0; k < 8; k++) _mm512_store_si512(codes + 64 * k, w[k]);
        _tile_loadd(4, codes, 64);
        _tile_loadd(5, codes + 4 * 64, 64);
        __m512 d0, d1;
        calm_q6_k_panel_scales(blk, &d0, &d1);
        for (int t0 = 0; t0 < T; t0 += CALM_GEMM_T) {
            const block_q8g *a = g + (size_t)(t0 / CALM_GEMM_T) * nb + b;
            _tile_zero(0);
            _tile_zero(1);
            _tile_loadd(2, a->qs, 32);
            _tile_loadd(3, &a->qs[0][16], 32);
            _tile_dpbssd(0, 2, 4);
            _tile_dpbssd(1, 3, 5);
            _tile_stored(0, sums[0], 64);
            _tile_stored(1, sums[1], 64);
#pragma GCC unroll 16
            for (int t = 0; t < CALM_GEMM_T; t++) {
                float *yt = y + (size_t)(t0 + t) * ys;
                __m512 f = _mm512_fmadd_ps(
                    _mm512_cvtepi32_ps(_mm512_load_si512(sums[1] + 16 * t)), d1,
                    _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_load_si512(sums[0] + 16 * t)), d0));
                f = _mm512_fmadd_ps(f, _mm512_set1_ps(a->d[t]), _mm512_maskz_loadu_ps(keep, yt));
                _mm512_mask_storeu_ps(yt, keep, f);
            }
        }
    }
    _tile_release();
}

// The tile configuration belongs to the thread: each call loads it and releases the tiles, which
// costs little against a panel's work and leaves no tile state behind between calls.
static void panel_gemm_tiles(const calm_packed *p, int panel, const block_q8g *g, int T, int b0,
                             int b1, float *y, size_t ys, int nrows) {
    if (p->bits == 6) { // its own tile configuration
        q6_k_gemm(p, panel, g, T, b0, b1, y, ys, nrows);
        return;
    }
    load_tiles();
    int k = signed_offset(p);
    if (k && p->bits == 4)
        gemm_body(p, panel, g, T, b0, b1, y, ys, nrows, k, 4, 0, 1);
    else if (k && p->bits == 5)
        gemm_body(p, panel, g, T, b0, b1, y, ys, nrows, k, 5, 0, 1);
    else if (k)
        gemm_body(p, panel, g, T, b0, b1, y, ys, nrows, k, 8, 0, 1);
    else {
        CALM_PANEL_SWITCH(p, gemm_unsigned, p, panel, g, T, b0, b1, y, ys, nrows)
    }
    _tile_release();
}

const calm_isa calm_isa_amx = {
    .name = "amx",
    .base = &calm_isa_avx512,
    .panel_gemm_tiles = panel_gemm_tiles,
};
