#include "pack.h"

#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "types.h"

int calm_pack_supported(uint32_t type) {
    const calm_type_traits *t = calm_type_get(type);
    return type == CALM_TYPE_Q4_0 || type == CALM_TYPE_Q4_1 || type == CALM_TYPE_Q8_0 ||
           type == CALM_TYPE_Q5_0 || type == CALM_TYPE_Q5_1 || type == CALM_TYPE_Q4_K ||
           type == CALM_TYPE_Q5_K || type == CALM_TYPE_Q6_K || (t && t->qg_bits);
}

// The codes q[32] (0..63) of block b of a Q6_K row, with its super-block's d and the scales of the
// block's two halves. Element l of a half of 128 has its low 4 bits in nibble l / 64 of ql[l % 64]
// and its high 2 bits at bit 2 * (l / 32) of qh[l % 32]; a block of 32 is one l / 32.
static void q6_k_codes(const uint8_t *row, int b, uint8_t *q, calm_f16 *d, int8_t *sc) {
    const block_q6_k *blk = (const block_q6_k *)row + b / 8;
    int h = (b % 8) / 4, l32 = b % 4; // the half of 128, and the 32 within it
    const uint8_t *ql = blk->ql + 64 * h + 32 * (l32 % 2), *qh = blk->qh + 32 * h;
    int lo_shift = 4 * (l32 / 2), hi_shift = 2 * l32;
    for (int e = 0; e < 32; e++)
        q[e] = (uint8_t)(((ql[e] >> lo_shift) & 0xf) | ((qh[e] >> hi_shift) & 3) << 4);
    *d = blk->d;
    sc[0] = blk->scales[(b % 8) * 2];
    sc[1] = blk->scales[(b % 8) * 2 + 1];
}

// The codes u[32] (4 or 5 bits) of block b of a Q4_K or Q5_K row, the 6-bit scale sc and min m of
// that sub-block, and the super-block's d and dmin as stored.
static void k_codes(const uint8_t *row, uint32_t type, const calm_type_traits *t, int b, uint8_t *u,
                    uint8_t *sc, uint8_t *m, calm_f16 *d, calm_f16 *dmin) {
    const uint8_t *blk = row + (size_t)(b / 8) * t->type_size;
    int sb = b % 8;
    memcpy(d, blk, 2);
    memcpy(dmin, blk + 2, 2);
    const uint8_t *scales = blk + 4;
    if (sb < 4) {
        *sc = scales[sb] & 63;
        *m = scales[sb + 4] & 63;
    } else {
        *sc = (uint8_t)((scales[sb + 4] & 0xf) | ((scales[sb - 4] >> 6) << 4));
        *m = (uint8_t)((scales[sb + 4] >> 4) | ((scales[sb] >> 6) << 4));
    }
    const uint8_t *qs = blk + (type == CALM_TYPE_Q4_K ? 16 : 48) + 32 * (sb / 2);
    const uint8_t *qh = blk + 16;
    const int shift = 4 * (sb % 2); // loops without branches, which the compiler vectorizes
    if (type == CALM_TYPE_Q5_K)
        for (int j = 0; j < 32; j++)
            u[j] = (uint8_t)(((qs[j] >> shift) & 0xf) | ((qh[j] >> sb) & 1) << 4);
    else
        for (int j = 0; j < 32; j++) u[j] = (uint8_t)((qs[j] >> shift) & 0xf);
}

// The unsigned codes u[32] and d, c of block b of a row of cols weights of type t (Q5_0, Q5_1,
// Q8_0 or a calm group format; the others have their own paths).
static void block_codes(const uint8_t *row, uint32_t type, const calm_type_traits *t, int cols,
                        int b, uint8_t *u, float *d, float *c) {
    if (type == CALM_TYPE_Q5_0 || type == CALM_TYPE_Q5_1) {
        const uint8_t *blk = row + (size_t)b * t->type_size;
        int has_m = type == CALM_TYPE_Q5_1;
        calm_f16 h[2];
        uint32_t qh;
        memcpy(h, blk, 4);
        memcpy(&qh, blk + (has_m ? 4 : 2), 4);
        const uint8_t *qs = blk + (has_m ? 8 : 6);
        for (int j = 0; j < 16; j++) {
            u[j] = (uint8_t)((qs[j] & 0xf) | (((qh >> j) & 1) << 4));
            u[j + 16] = (uint8_t)((qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
        }
        *d = calm_f16_to_f32(h[0]);
        *c = has_m ? calm_f16_to_f32(h[1]) : -16.0f * *d;
    } else if (type == CALM_TYPE_Q8_0) {
        const block_q8_0 *blk = (const block_q8_0 *)row + b;
        for (int j = 0; j < 32; j++) u[j] = (uint8_t)(blk->qs[j] + 128);
        *d = calm_f16_to_f32(blk->d);
        *c = -128.0f * *d;
    } else { // calm group: find the group holding block b
        int g = t->qg_group, gi = b * 32 / g, off = b * 32 - gi * g;
        const uint8_t *p = row + (size_t)gi * calm_qg_group_bytes(t->qg_bits, g);
        int glen = cols - gi * g < g ? cols - gi * g : g;
        uint8_t q[128];
        calm_qg_unpack(p + 4, t->qg_bits, glen, q);
        memcpy(u, q + off, 32);
        calm_f16 h[2];
        memcpy(h, p, 4);
        *d = calm_f16_to_f32(h[0]);
        *c = calm_f16_to_f32(h[1]);
    }
}

// Row j of a panel block: the low 4 bits of u[32] as the 4-bit layout's nibble vectors.
static void put_nibbles(uint8_t *codes, int j, const uint8_t *u) {
    uint8_t v[16];
    for (int i = 0; i < 16; i++) v[i] = (uint8_t)((u[i] & 0xf) | u[i + 16] << 4);
    for (int k = 0; k < 4; k++) memcpy(codes + k * 64 + 4 * j, v + 4 * k, 4);
}

// Q4_0 and Q4_1: their nibbles already are the 4-bit panel's bytes (code i low, code i + 16 high)
// and their d (and m) already f16, so a row of a block is four 4-byte copies. A row past the
// matrix's end (NULL) is zeros.
static void put_q4(uint8_t *dst, const uint8_t *row, uint32_t type, int j, int b) {
    static const uint8_t zero[sizeof(block_q4_1)];
    const int has_m = type == CALM_TYPE_Q4_1;
    const uint8_t *blk =
        row ? row + (size_t)b * (has_m ? sizeof(block_q4_1) : sizeof(block_q4_0)) : zero;
    memcpy(dst + 2 * j, blk, 2);
    if (has_m) {
        memcpy(dst + 32 + 2 * j, blk + 2, 2);
    } else {
        calm_f16 d, c;
        memcpy(&d, blk, 2);
        int e = (d >> 10) & 0x1f; // a normal d stays normal times 8 up to exponent 27: exact
        c = e >= 1 && e <= 27 ? (calm_f16)((d + (3 << 10)) ^ 0x8000)
                              : calm_f32_to_f16(-8.0f * calm_f16_to_f32(d));
        memcpy(dst + 32 + 2 * j, &c, 2);
    }
    for (int k = 0; k < 4; k++) memcpy(dst + 64 + k * 64 + 4 * j, blk + (has_m ? 4 : 2) + 4 * k, 4);
}

// Row j of the codes of a block of `bits` bits (4, 5 or 8) from u[32].
static void put_codes(uint8_t *codes, int bits, int j, const uint8_t *u) {
    if (bits == 8) {
        for (int k = 0; k < 8; k++) memcpy(codes + k * 64 + 4 * j, u + 4 * k, 4);
        return;
    }
    put_nibbles(codes, j, u);
    if (bits == 5)
        for (int i = 0; i < 4; i++) {
            int v = 0;
            for (int k = 0; k < 8; k++) v |= ((u[4 * k + i] >> 4) & 1) << k;
            codes[256 + 4 * j + i] = (uint8_t)v;
        }
}

// Row j of block b of an affine panel with a d, c header per block, from `row` (NULL past the
// matrix's end: zero).
static void put_affine(const calm_packed *p, uint8_t *panel, const uint8_t *row, uint32_t type,
                       const calm_type_traits *t, int j, int b) {
    uint8_t u[32] = {0};
    float d = 0, c = 0;
    if (row) block_codes(row, type, t, p->cols, b, u, &d, &c);
    uint8_t *head = panel + calm_panel_scales_at(p->bits, 0, b);
    calm_f16 dh = calm_f32_to_f16(d), ch = calm_f32_to_f16(c);
    memcpy(head + 2 * j, &dh, 2);
    memcpy(head + 32 + 2 * j, &ch, 2);
    put_codes(panel + calm_panel_codes_at(p->bits, 0, b), p->bits, j, u);
}

// Row j of block b of a k_scales panel (Q4_K, Q5_K): its sub-block's sc and m, its codes, and
// with the super-block's first block d and -dmin in the super-block header. A row past the end is
// zero.
static void put_k(const calm_packed *p, uint8_t *panel, const uint8_t *row,
                  const calm_type_traits *t, int j, int b) {
    uint8_t u[32] = {0}, sc = 0, m = 0;
    calm_f16 d = 0, dmin = 0;
    if (row) k_codes(row, p->type, t, b, u, &sc, &m, &d, &dmin);
    if (b % CALM_PANEL_SUPER == 0) {
        uint8_t *head = panel + calm_panel_super_at(p->bits, b);
        calm_f16 nm = (calm_f16)(dmin ^ 0x8000); // -dmin: the sign bit, exactly
        memcpy(head + 2 * j, &d, 2);
        memcpy(head + 32 + 2 * j, &nm, 2);
    }
    uint8_t *scales = panel + calm_panel_scales_at(p->bits, 1, b);
    scales[j] = sc;
    scales[16 + j] = m;
    put_codes(panel + calm_panel_codes_at(p->bits, 1, b), p->bits, j, u);
}

// The same in a Q6_K panel; a row past the end has d = 0 and codes 32, so its weights are zero.
static void put_q6_k(uint8_t *dst, const uint8_t *row, int j, int b) {
    uint8_t q[32];
    calm_f16 d = 0;
    int8_t sc[2] = {0, 0};
    if (row)
        q6_k_codes(row, b, q, &d, sc);
    else
        memset(q, 32, sizeof q);
    memcpy(dst + 2 * j, &d, 2);
    dst[32 + j] = (uint8_t)sc[0];
    dst[48 + j] = (uint8_t)sc[1];
    put_nibbles(dst + 64, j, q);
    uint8_t *high = dst + 64 + 4 * 64;
    for (int m = 0; m < 2; m++)
        for (int i = 0; i < 4; i++) {
            int v = 0;
            for (int f = 0; f < 4; f++) v |= (q[4 * (4 * m + f) + i] >> 4) << (2 * f);
            high[m * 64 + 4 * j + i] = (uint8_t)v;
        }
}

int calm_pack_init(calm_packed *p, uint32_t type, int rows, int cols) {
    memset(p, 0, sizeof *p);
    if (!calm_pack_supported(type) || cols % 32) return -1;
    const calm_type_traits *t = calm_type_get(type);
    p->type = type;
    p->k_scales = type == CALM_TYPE_Q4_K || type == CALM_TYPE_Q5_K;
    p->bits = type == CALM_TYPE_Q6_K ? 6
              : type == CALM_TYPE_Q4_0 || type == CALM_TYPE_Q4_1 || type == CALM_TYPE_Q4_K ||
                      (t->qg_bits && t->qg_bits <= 4)
                  ? 4
              : type == CALM_TYPE_Q5_0 || type == CALM_TYPE_Q5_1 || type == CALM_TYPE_Q5_K ? 5
                                                                                           : 8;
    p->rows = rows;
    p->cols = cols;
    p->block_bytes = (p->k_scales ? CALM_PANEL_SUPER_HEAD / CALM_PANEL_SUPER : 64) +
                     (size_t)CALM_PANEL * 32 * p->bits / 8;
    p->data = aligned_alloc(64, (size_t)calm_pack_panels(p) * (cols / 32) * p->block_bytes);
    return p->data ? 0 : -1;
}

int calm_pack_panels(const calm_packed *p) {
    return (p->rows + CALM_PANEL - 1) / CALM_PANEL;
}

// Every byte of a panel is written, headers and codes, so nothing needs clearing first; the 16
// rows are read in order.
void calm_pack_panel(calm_packed *p, const void *w, int panel) {
    const calm_type_traits *t = calm_type_get(p->type);
    int nb = p->cols / 32;
    size_t row_bytes = calm_row_size(p->type, p->cols);
    uint8_t *first = p->data + (size_t)panel * nb * p->block_bytes;
    for (int j = 0; j < CALM_PANEL; j++) {
        int r = panel * CALM_PANEL + j;
        const uint8_t *row = r < p->rows ? (const uint8_t *)w + (size_t)r * row_bytes : NULL;
        for (int b = 0; b < nb; b++) {
            uint8_t *dst = first + (size_t)b * p->block_bytes;
            if (p->bits == 6)
                put_q6_k(dst, row, j, b);
            else if (p->type == CALM_TYPE_Q4_0 || p->type == CALM_TYPE_Q4_1)
                put_q4(dst, row, p->type, j, b);
            else if (p->k_scales)
                put_k(p, first, row, t, j, b);
            else
                put_affine(p, first, row, p->type, t, j, b);
        }
    }
}

int calm_pack(calm_packed *p, const void *w, uint32_t type, int rows, int cols) {
    if (calm_pack_init(p, type, rows, cols)) return -1;
    int panels = calm_pack_panels(p);
#pragma omp parallel for schedule(static)
    for (int pi = 0; pi < panels; pi++) calm_pack_panel(p, w, pi);
    return 0;
}

void calm_packed_free(calm_packed *p) {
    free(p->data);
    memset(p, 0, sizeof *p);
}

// Code e of row j in a panel block's codes: u of an affine panel, q - 32 of a Q6_K panel.
static int panel_code(const calm_packed *p, const uint8_t *codes, int j, int e) {
    if (p->bits == 8) return codes[(e / 4) * 64 + 4 * j + e % 4];
    int lo = (codes[((e % 16) / 4) * 64 + 4 * j + e % 4] >> (e >= 16 ? 4 : 0)) & 0xf, k = e / 4;
    if (p->bits == 4) return lo;
    if (p->bits == 5) return lo | ((codes[4 * 64 + 4 * j + e % 4] >> k) & 1) << 4;
    int hi = (codes[(4 + k / 4) * 64 + 4 * j + e % 4] >> (2 * (k % 4))) & 3;
    return (lo | hi << 4) - 32;
}

// The scales of row j in block b of a panel: d and c of an affine panel (formed from the
// super-block's d, -dmin and the sub-block's sc, m with k_scales), d * sc of each half of Q6_K.
static void panel_scales(const calm_packed *p, const uint8_t *panel, int b, int j, float *d,
                         float *c) {
    const uint8_t *head = panel + calm_panel_scales_at(p->bits, p->k_scales, b);
    calm_f16 h[2];
    if (p->k_scales) {
        memcpy(h, panel + calm_panel_super_at(p->bits, b) + 2 * j, 2);
        memcpy(h + 1, panel + calm_panel_super_at(p->bits, b) + 32 + 2 * j, 2);
        *d = calm_f16_to_f32(h[0]) * (float)head[j];
        *c = calm_f16_to_f32(h[1]) * (float)head[16 + j];
        return;
    }
    memcpy(h, head + 2 * j, 2);
    memcpy(h + 1, head + 32 + 2 * j, 2);
    if (p->bits == 6) {
        float d6 = calm_f16_to_f32(h[0]);
        *d = d6 * (float)(int8_t)head[32 + j], *c = d6 * (float)(int8_t)head[48 + j];
    } else {
        *d = calm_f16_to_f32(h[0]), *c = calm_f16_to_f32(h[1]);
    }
}

// One panel's sums for nt tokens, to out[t * ostride + j].
static void panel_dot_one(const calm_packed *p, int panel, const void *x, size_t xs, int nt,
                          float *out, int ostride) {
    int nb = p->cols / 32;
    const uint8_t *first = p->data + (size_t)panel * nb * p->block_bytes;
    for (int t = 0; t < nt; t++)
        for (int j = 0; j < CALM_PANEL; j++) out[t * ostride + j] = 0;
    for (int b = 0; b < nb; b++) {
        const uint8_t *codes = first + calm_panel_codes_at(p->bits, p->k_scales, b);
        float dv[CALM_PANEL], cv[CALM_PANEL]; // affine: d, c; Q6_K: d * sc of each half
        for (int j = 0; j < CALM_PANEL; j++) panel_scales(p, first, b, j, &dv[j], &cv[j]);
        for (int t = 0; t < nt; t++) {
            const block_q8x *a = (const block_q8x *)((const uint8_t *)x + t * xs) + b;
            for (int j = 0; j < CALM_PANEL; j++) {
                int sum[2] = {0, 0}; // the two halves of the block
                for (int e = 0; e < 32; e++) sum[e / 16] += panel_code(p, codes, j, e) * a->qs[e];
                float *o = &out[t * ostride + j];
                if (p->bits == 6)
                    *o += a->d * (dv[j] * (float)sum[0] + cv[j] * (float)sum[1]);
                else
                    *o += dv[j] * a->d * (float)(sum[0] + sum[1]) + cv[j] * a->s;
            }
        }
    }
}

void calm_panel_dot_scalar(const calm_packed *p, int panel, int np, const void *x, size_t xs,
                           int nt, float *out) {
    for (int q = 0; q < np; q++)
        panel_dot_one(p, panel + q, x, xs, nt, out + q * CALM_PANEL, np * CALM_PANEL);
}
