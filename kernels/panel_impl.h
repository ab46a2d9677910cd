// The packed-panel kernels (kernels/pack.h) written once for the ISAs whose vectors hold fewer
// rows than a panel (AVX2, NEON): panel_dot (groups of np panels, 1-4 tokens) and panel_gemm
// (tiles of CALM_GEMM_T tokens), instantiated in each ISA's file with CALM_PANEL_KERNELS on the
// primitives below. A panel's 16 rows are CALM_PSLICES slices of one vector each (AVX2: two of 8
// rows, NEON: four of 4), each dotted in CALM_PPARTS parts (AVX2 splits 8-bit codes into nibbles).
// A part's codes of a block are unpacked once into registers and dotted with every token of a
// register tile of `sub` tokens, one float accumulator per token; the accumulators stay in
// registers over a chunk of CALM_PANEL_CHUNK blocks and go to memory only between chunks, where 16
// registers could not hold a whole group's (AVX2). A group's np panels are walked chunk by chunk,
// a chunk of each panel in turn (calm_panel_dot_fn). These panels are the
// affine ones with f16 scales (Q4_0, Q4_1, Q8_0, qgB_G; calm_panel_f16_affine), where
// w.x = sum_b d_b * dx_b * sum(u * xq) + c_b * sx_b.
#ifndef CALM_PANEL_IMPL_H
#define CALM_PANEL_IMPL_H

#include <string.h>

#include "kernels.h"
#include "simd_float.h"
#include "simd_int8.h" // CALM_U8_OFFSET: how the ISA dots 8-bit codes

#if defined(__AVX2__)
#include <immintrin.h>
// vpmaddubsw (u8 x s8 -> pair sums in s16) then vpmaddwd: codes of 4 bits times |xq| <= 127 keep
// the pair sums, and the sum of a block's eight, below 32767. 8-bit codes u = 16h + l are dotted
// in two parts, their low nibbles l with d and c, then their high ones h with 16d: each part is a
// 4-bit dot on 8 code registers (both at once, or the sign trick's |q| and q, would take 16 of the
// 16 ymm registers).
// Tokens per register tile. With 8 codes, 4 accumulators, d, c and the temporaries GCC spills a
// few of them to the stack, yet 4 was faster than 2 or 3 (fewer unpackings per token) and as fast
// as 8 (measured on the 2-core EPYC VM: Q4_0 panel_gemm 79 GMAC/s at 4, 71 at 2, 79 at 8).
#define CALM_PSUB         4
#define CALM_PPARTS(bits) ((bits) / 4)
typedef struct {
    __m256i v[8]; // code vector k: columns 4k..4k+3 of each row
} calm_pcodes;
// The 4-bit layout's nibble vector k holds code vectors k (low) and k + 4 (high); part p of
// 8-bit code vector k is its nibble p.
CALM_INLINE void calm_pslice_codes(const uint8_t *blk, int s, int part, const int bits,
                                   calm_pcodes *w) {
    const uint8_t *codes = blk + 64 + 32 * s;
    const __m256i lo4 = _mm256_set1_epi8(0xf);
    if (bits == 4) {
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            __m256i v = _mm256_load_si256((const __m256i *)(codes + 64 * k));
            w->v[k] = _mm256_and_si256(v, lo4);
            w->v[k + 4] = _mm256_and_si256(_mm256_srli_epi16(v, 4), lo4);
        }
    } else {
        const __m128i shift = _mm_cvtsi32_si128(4 * part);
#pragma GCC unroll 8
        for (int k = 0; k < 8; k++)
            w->v[k] = _mm256_and_si256(
                _mm256_srl_epi16(_mm256_load_si256((const __m256i *)(codes + 64 * k)), shift), lo4);
    }
}
// sum(code * xq) of each row of the slice, as floats: the pair sums of the eight code vectors,
// each against four activations broadcast, added in s16, then in pairs to s32.
CALM_INLINE calm_vf calm_pslice_dot(const calm_pcodes *w, const int8_t *xq, const int bits) {
    (void)bits;
    __m256i s = _mm256_setzero_si256();
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++) {
        int32_t x4;
        memcpy(&x4, xq + 4 * k, 4);
        s = _mm256_add_epi16(s, _mm256_maddubs_epi16(w->v[k], _mm256_set1_epi32(x4)));
    }
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(s, _mm256_set1_epi16(1)));
}
#elif defined(__ARM_NEON)
#include <arm_neon.h>
// sdot by lane (vdotq_laneq_s32) multiplies each row's four codes by the same four activations.
// It takes signed bytes: 4-bit codes as they are, 8-bit ones as u - 128, whose 128 * sum(xq) goes
// back through the c term: d * dx * sum((u - 128) xq) + (c + 128 d) * sx.
// Tokens per register tile: 8 codes, 8 accumulators and the temporaries fit the 32 registers.
#define CALM_PSUB         8
#define CALM_PPARTS(bits) 1
typedef struct {
    int8x16_t v[8]; // code vector k: columns 4k..4k+3 of each row
} calm_pcodes;
CALM_INLINE void calm_pslice_codes(const uint8_t *blk, int s, int part, const int bits,
                                   calm_pcodes *w) {
    (void)part;
    const uint8_t *codes = blk + 64 + 16 * s;
    if (bits == 4) {
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            uint8x16_t v = vld1q_u8(codes + 64 * k);
            w->v[k] = vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(0xf)));
            w->v[k + 4] = vreinterpretq_s8_u8(vshrq_n_u8(v, 4));
        }
    } else {
#pragma GCC unroll 8
        for (int k = 0; k < 8; k++)
            w->v[k] = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(codes + 64 * k), vdupq_n_u8(0x80)));
    }
}
CALM_INLINE calm_vf calm_pslice_dot(const calm_pcodes *w, const int8_t *xq, const int bits) {
    (void)bits;
    int8x16_t a = vld1q_s8(xq), b = vld1q_s8(xq + 16);
    int32x4_t s0 = vdotq_laneq_s32(vdupq_n_s32(0), w->v[0], a, 0);
    int32x4_t s1 = vdotq_laneq_s32(vdupq_n_s32(0), w->v[1], a, 1);
    s0 = vdotq_laneq_s32(s0, w->v[2], a, 2);
    s1 = vdotq_laneq_s32(s1, w->v[3], a, 3);
    s0 = vdotq_laneq_s32(s0, w->v[4], b, 0);
    s1 = vdotq_laneq_s32(s1, w->v[5], b, 1);
    s0 = vdotq_laneq_s32(s0, w->v[6], b, 2);
    s1 = vdotq_laneq_s32(s1, w->v[7], b, 3);
    return vcvtq_f32_s32(vaddq_s32(s0, s1));
}
#else
#error "kernels/panel_impl.h: no panel primitives for this target"
#endif

#define CALM_PSLICES (CALM_PANEL / CALM_VF_W) // slices of a panel, one float vector each
// Blocks between accumulator reloads: a panel's chunk is read in one run, long enough for the
// hardware prefetcher (chunks of 8, hopping between a group's four panels every 2.5 KB, cut
// SmolLM2's decode from 30 to 20 t/s at 1 thread on the 2-core VM; 64 gives 41).
#define CALM_PANEL_CHUNK 64

// The panel types these kernels take (calm_isa.panel_type): the affine panels with f16 scales, of
// 4 or 8 bits.
static inline int calm_panel_f16_affine(uint32_t type) {
    const calm_type_traits *t = calm_type_get(type);
    return type == CALM_TYPE_Q4_0 || type == CALM_TYPE_Q4_1 || type == CALM_TYPE_Q8_0 ||
           (t && t->qg_bits);
}

// d and c of part `part` of slice s of a panel block, row j of the slice in lane j
// (kernels/pack.h): 8-bit codes dotted as u - off take c + off * d; the high nibbles of 8-bit codes
// dotted in two parts take 16 d and no c.
CALM_INLINE void calm_pslice_scales(const uint8_t *blk, int s, int part, const int bits, calm_vf *d,
                                    calm_vf *c) {
    *d = calm_vf_load_f16((const uint16_t *)blk + s * CALM_VF_W);
    *c = calm_vf_load_f16((const uint16_t *)(blk + 32) + s * CALM_VF_W);
    if (bits == 8 && CALM_U8_OFFSET) *c = calm_vf_fma(*d, calm_vf_set1((float)CALM_U8_OFFSET), *c);
    if (part) {
        *d = calm_vf_mul(*d, calm_vf_set1(16.0f));
        *c = calm_vf_zero();
    }
}

// Part `part` of slice s of the panel at blk (CALM_PPARTS: an ISA may dot a block's codes in
// parts), blocks b0..b1-1 (bb bytes apart), against nt tokens of x (q8x rows xs bytes apart):
// acc[t] += d * (dx * sum) + c * sx per block.
CALM_INLINE void calm_pslice_pass(const uint8_t *blk, int b0, int b1, size_t bb, int s, int part,
                                  const void *x, size_t xs, calm_vf *acc, const int bits,
                                  const int nt) {
    calm_vf a[CALM_PSUB > CALM_NT ? CALM_PSUB : CALM_NT];
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++) a[t] = acc[t];
    for (int b = b0; b < b1; b++) {
        const uint8_t *pb = blk + (size_t)b * bb;
        calm_pcodes w;
        calm_vf d, c;
        calm_pslice_codes(pb, s, part, bits, &w);
        calm_pslice_scales(pb, s, part, bits, &d, &c);
#pragma GCC unroll 8
        for (int t = 0; t < nt; t++) {
            const block_q8x *xa = calm_q8x_row(x, xs, t) + b;
            calm_vf f = calm_vf_mul(calm_pslice_dot(&w, xa->qs, bits), calm_vf_set1(xa->d));
            a[t] = calm_vf_fma(d, f, a[t]);
            a[t] = calm_vf_fma(c, calm_vf_set1(xa->s), a[t]);
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++) acc[t] = a[t];
}

// np panels (the first at blk, the others pstride bytes after each other) of nb blocks against nt
// tokens in register tiles of sub (nt % sub in the last); token t of panel q goes to y + t * ys + q
// * 16, the first nrows rows of each panel. np * nt <= CALM_GEMM_T.
CALM_INLINE void calm_panel_tiles(const uint8_t *blk, int nb, size_t bb, size_t pstride,
                                  const void *x, size_t xs, float *y, size_t ys, int nrows,
                                  const int bits, const int np, const int nt, const int sub) {
    calm_vf acc[CALM_GEMM_T * CALM_PSLICES]; // [q][s][t]
    for (int i = 0; i < np * CALM_PSLICES * nt; i++) acc[i] = calm_vf_zero();
    for (int b0 = 0; b0 < nb; b0 += CALM_PANEL_CHUNK) {
        int b1 = b0 + CALM_PANEL_CHUNK < nb ? b0 + CALM_PANEL_CHUNK : nb;
        for (int q = 0; q < np; q++)
            for (int s = 0; s < CALM_PSLICES; s++)
                for (int part = 0; part < CALM_PPARTS(bits); part++)
                    for (int t = 0; t < nt; t += sub) // a last tile of nt % sub tokens
                        if (t + sub <= nt)
                            calm_pslice_pass(blk + q * pstride, b0, b1, bb, s, part,
                                             (const uint8_t *)x + (size_t)t * xs, xs,
                                             acc + (q * CALM_PSLICES + s) * nt + t, bits, sub);
                        else
                            calm_pslice_pass(blk + q * pstride, b0, b1, bb, s, part,
                                             (const uint8_t *)x + (size_t)t * xs, xs,
                                             acc + (q * CALM_PSLICES + s) * nt + t, bits, nt % sub);
    }
    for (int q = 0; q < np; q++)
        for (int s = 0; s < CALM_PSLICES; s++) {
            int keep = nrows - s * CALM_VF_W; // a short last panel's rows
            for (int t = 0; t < nt; t++) {
                float *o = y + (size_t)t * ys + q * CALM_PANEL + s * CALM_VF_W;
                calm_vf v = acc[(q * CALM_PSLICES + s) * nt + t];
                if (keep >= CALM_VF_W) {
                    calm_vf_store(o, v);
                } else if (keep > 0) {
                    float tmp[CALM_VF_W];
                    calm_vf_store(tmp, v);
                    memcpy(o, tmp, sizeof(float) * (size_t)keep);
                }
            }
        }
}

// calm_panel_dot_fn for bits-bit panels: a whole group side by side, or its panels one at a time.
CALM_INLINE void calm_panel_dot_body(const calm_packed *p, int panel, int np, const void *x,
                                     size_t xs, float *out, const int bits, const int nt) {
    const int nb = p->cols / 32;
    const size_t pstride = (size_t)nb * p->block_bytes;
    const uint8_t *blk = p->data + (size_t)panel * pstride;
    if (np == CALM_PANEL_GROUP) {
        calm_panel_tiles(blk, nb, p->block_bytes, pstride, x, xs, out,
                         CALM_PANEL_GROUP * CALM_PANEL, CALM_PANEL, bits, CALM_PANEL_GROUP, nt,
                         CALM_PSUB);
        return;
    }
    for (int q = 0; q < np; q++)
        calm_panel_tiles(blk + q * pstride, nb, p->block_bytes, 0, x, xs, out + q * CALM_PANEL,
                         (size_t)np * CALM_PANEL, CALM_PANEL, bits, 1, nt, CALM_PSUB);
}

// calm_panel_gemm_fn for bits-bit panels: tiles of CALM_GEMM_T tokens, each a block's codes
// unpacked once per CALM_PSUB tokens.
CALM_INLINE void calm_panel_gemm_body(const calm_packed *p, int panel, const void *x, size_t xs,
                                      int T, float *y, size_t ys, int nrows, const int bits) {
    const int nb = p->cols / 32;
    const uint8_t *blk = p->data + (size_t)panel * nb * p->block_bytes;
    for (int t = 0; t < T; t += CALM_GEMM_T) // T is a multiple of CALM_GEMM_T
        calm_panel_tiles(blk, nb, p->block_bytes, 0, (const uint8_t *)x + (size_t)t * xs, xs,
                         y + (size_t)t * ys, ys, nrows, bits, 1, CALM_GEMM_T, CALM_PSUB);
}

#define CALM_PANEL_DOT_BITS(p, panel, np, x, xs, out, nt)                                          \
    if ((p)->bits == 4)                                                                            \
        calm_panel_dot_body(p, panel, np, x, xs, out, 4, nt);                                      \
    else                                                                                           \
        calm_panel_dot_body(p, panel, np, x, xs, out, 8, nt);

// Defines the calm_panel_dot_fn dot_name and the calm_panel_gemm_fn gemm_name of the including
// ISA file.
#define CALM_PANEL_KERNELS(dot_name, gemm_name)                                                    \
    static void dot_name(const calm_packed *p, int panel, int np, const void *x, size_t xs,        \
                         int nt, float *out) {                                                     \
        CALM_NT_SWITCH(nt, CALM_PANEL_DOT_BITS, p, panel, np, x, xs, out)                          \
    }                                                                                              \
    static void gemm_name(const calm_packed *p, int panel, const void *x, size_t xs, int T,        \
                          float *y, size_t ys, int nrows) {                                        \
        if (p->bits == 4)                                                                          \
            calm_panel_gemm_body(p, panel, x, xs, T, y, ys, nrows, 4);                             \
        else                                                                                       \
            calm_panel_gemm_body(p, panel, x, xs, T, y, ys, nrows, 8);                             \
    }

#endif
