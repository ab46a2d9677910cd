#include "kernel_compare.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/grid.h"
#include "kernels/matmul.h"

int kc_types(uint32_t *out, int cap, int (*keep)(uint32_t type)) {
    int n = 0;
    for (uint32_t t = 0; t < CALM_TYPE_COUNT && n < cap; t++) {
        const calm_type_traits *tt = calm_type_get(t);
        if (tt && tt->supported && keep(t)) out[n++] = t;
    }
    return n;
}

int kc_has_grid(uint32_t type) {
    calm_qfmt f;
    return calm_qfmt_grid(&f, type, 0) == 0;
}

int kc_takes_q8x(uint32_t type) {
    return calm_type_get(type)->vec_dot_type == CALM_ACT_Q8X;
}

int kc_every_isa(kc_check check, char *err, size_t cap) {
    const calm_isa *av[8];
    int n = calm_isa_available(av, 8);
    for (int i = 1; i < n; i++) {
        calm_isa isa; // complete, for an ISA that extends another (amx)
        calm_isa_resolve(&isa, av[i]);
        if (check(&isa, err, cap)) return -1;
    }
    return 0;
}

uint32_t kc_next(uint32_t *state) {
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    return *state;
}

float kc_frand(uint32_t *state) {
    return (float)(kc_next(state) % 20001) / 10000.0f - 1.0f;
}

static uint32_t rng = 12345;
static uint32_t next(void) {
    return kc_next(&rng);
}
static float frand(void) {
    return kc_frand(&rng);
}

static void put_f16(uint8_t *p, float v) {
    calm_f16 h = calm_f32_to_f16(v);
    memcpy(p, &h, 2);
}

// A random matrix of `type`: random codes, scales kept in a sane range.
static uint8_t *random_matrix(uint32_t type, int rows, int cols) {
    const calm_type_traits *tt = calm_type_get(type);
    size_t rb = calm_row_size(type, cols), bs = tt->type_size;
    uint8_t *w = malloc(rb * rows);
    for (size_t i = 0; i < rb * rows; i++) w[i] = (uint8_t)next();
    for (int r = 0; r < rows; r++) {
        uint8_t *row = w + r * rb;
        if (type == CALM_TYPE_W8A8) { // codes in [-127, 127], as SmoothQuant writes them
            calm_q8t_head h = {0.01f * frand(), 0};
            for (int c = 0; c < cols; c++) {
                int8_t q = (int8_t)((int)(next() % 255) - 127);
                row[sizeof h + c] = (uint8_t)q;
                h.s += q;
            }
            memcpy(row, &h, sizeof h);
            continue;
        }
        if (tt->qg_bits) { // groups of qg_group, the last one shorter when cols is not a multiple
            for (int i = 0; i < cols; i += tt->qg_group) {
                int glen = cols - i < tt->qg_group ? cols - i : tt->qg_group;
                put_f16(row, 0.01f * frand());
                put_f16(row + 2, 0.05f * frand());
                row += calm_qg_group_bytes(tt->qg_bits, glen);
            }
            continue;
        }
        for (int b = 0; b < cols / tt->block_size; b++) {
            uint8_t *blk = row + b * bs;
            switch (type) {
            case CALM_TYPE_F32: {
                float v = frand();
                memcpy(blk, &v, 4);
            } break;
            case CALM_TYPE_F16:
                put_f16(blk, frand());
                break;
            case CALM_TYPE_BF16: {
                calm_bf16 v = calm_f32_to_bf16(frand());
                memcpy(blk, &v, 2);
            } break;
            case CALM_TYPE_Q4_0:
            case CALM_TYPE_Q8_0:
            case CALM_TYPE_Q5_0:
                put_f16(blk, 0.01f * frand());
                break;
            case CALM_TYPE_Q6_K:
                put_f16(blk + 208, 0.001f * frand());
                break;
            default: // q4_1 and the K-quants with d and dmin
                put_f16(blk, 0.01f * frand());
                put_f16(blk + 2, 0.05f * frand());
            }
        }
    }
    return w;
}

static int compare(const calm_isa *isa, uint32_t type, int rows, int cols, int T, char *err,
                   size_t cap) {
    uint8_t *w = random_matrix(type, rows, cols);
    float *x = malloc(sizeof(float) * T * cols), *y0 = malloc(sizeof(float) * T * rows);
    float *y1 = malloc(sizeof(float) * T * rows), *wf = malloc(sizeof(float) * cols);
    for (int i = 0; i < T * cols; i++) x[i] = frand() * (i % 7 == 0 ? 8.0f : 1.0f); // some outliers
    calm_matmul_with(&calm_isa_scalar, y0, x, w, type, rows, cols, T);
    calm_matmul_with(isa, y1, x, w, type, rows, cols, T);
    int rc = 0;
    for (int r = 0; r < rows && !rc; r++) {
        calm_get_row(wf, w, type, cols, r);
        for (int t = 0; t < T && !rc; t++) {
            double mag = 0; // the size of the terms bounds the rounding error of any order of sums
            for (int c = 0; c < cols; c++) mag += fabs((double)wf[c] * x[t * cols + c]);
            float a = y0[t * rows + r], b = y1[t * rows + r];
            if (!(fabs(a - b) <= 2e-5 * mag + 1e-6)) {
                snprintf(err, cap, "%s %s rows %d cols %d T %d: [%d][%d] %g vs scalar %g",
                         isa->name, calm_type_get(type)->name, rows, cols, T, t, r, b, a);
                rc = -1;
            }
        }
    }
    free(w), free(x), free(y0), free(y1), free(wf);
    return rc;
}

int kc_all_types(const calm_isa *isa, char *err, size_t cap) {
    static const uint32_t types[] = {CALM_TYPE_F32,  CALM_TYPE_F16,  CALM_TYPE_BF16,
                                     CALM_TYPE_Q4_0, CALM_TYPE_Q4_1, CALM_TYPE_Q8_0,
                                     CALM_TYPE_Q5_0, CALM_TYPE_Q5_1, CALM_TYPE_Q4_K,
                                     CALM_TYPE_Q5_K, CALM_TYPE_Q6_K, CALM_TYPE_W8A8};
    static const int shapes[][3] = {
        {1, 256, 1}, {17, 512, 3}, {33, 768, 5}, {5, 256, 8}, {40, 1536, 2}};
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            if (compare(isa, types[k], shapes[s][0], shapes[s][1], shapes[s][2], err, cap))
                return -1;
    // An odd number of 32-blocks: the AVX-512 kernels' two-block loops end with a single block.
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++)
        if (calm_type_get(types[k])->block_size == 32 &&
            (compare(isa, types[k], 7, 96, 3, err, cap) ||
             compare(isa, types[k], 3, 352, 4, err, cap)))
            return -1;
    for (int bits = 2; bits <= 8; bits *= 2)
        for (int g = 32; g <= 128; g *= 2) {
            int b3 = bits == 2 ? 3 : bits;
            if (compare(isa, (uint32_t)calm_type_qg(bits, g), 19, 384, 5, err, cap) ||
                compare(isa, (uint32_t)calm_type_qg(b3, g), 7, 128, 1, err, cap) ||
                compare(isa, (uint32_t)calm_type_qg(bits, g), 5, 576, 4, err,
                        cap) || // 4 x 128 + 64
                compare(isa, (uint32_t)calm_type_qg(b3, g), 3, 96, 3, err, cap))
                return -1;
        }
    if (compare(isa, CALM_TYPE_W8A8, 5, 96, 3, err, cap) || // a 32-wide tail after 64s
        compare(isa, CALM_TYPE_W8A8, 18, 576, 4, err, cap))
        return -1;
    for (int cols = 1; cols < 40; cols += 3) // float rows of odd length exercise the tails
        if (compare(isa, CALM_TYPE_F32, 3, cols, 2, err, cap) ||
            compare(isa, CALM_TYPE_F16, 3, cols, 5, err, cap) ||
            compare(isa, CALM_TYPE_BF16, 2, cols, 1, err, cap))
            return -1;
    return 0;
}

int kc_quantize(const calm_isa *isa, char *err, size_t cap) {
    float x[512];
    block_q8x a[16], b[16];
    for (int trial = 0; trial < 50; trial++) {
        for (int i = 0; i < 512; i++) x[i] = frand() * (float)(trial + 1);
        if (trial == 0) memset(x, 0, sizeof x); // all zero: d = 0
        if (trial == 1)
            for (int i = 0; i < 512; i++) x[i] = (i % 2) ? 0.5f : -0.5f; // ties
        calm_isa_scalar.quantize_q8x(x, a, 512);
        isa->quantize_q8x(x, b, 512);
        if (memcmp(a, b, sizeof a) != 0) {
            snprintf(err, cap, "%s: activation quantization differs on trial %d", isa->name, trial);
            return -1;
        }
    }
    return 0;
}

// A packed random matrix and T activation rows, with what checking a panel kernel needs: the
// activations quantized (q8x, T rows of cols / 32 blocks) as every panel kernel sees them, and
// the weights dequantized row by row.
typedef struct {
    uint32_t type;
    int rows, cols, T;
    uint8_t *w;
    calm_packed p;
    float *x, *wf, *xd; // x [T][cols]; wf [rows][cols]; xd [T][cols], the dequantized activations
    block_q8x *xq;
} panel_case;

static int panel_case_init(panel_case *pc, uint32_t type, int rows, int cols, int T, char *err,
                           size_t cap) {
    int nb = cols / 32;
    *pc = (panel_case){.type = type, .rows = rows, .cols = cols, .T = T};
    pc->w = random_matrix(type, rows, cols);
    if (calm_pack(&pc->p, pc->w, type, rows, cols)) {
        snprintf(err, cap, "cannot pack %s", calm_type_get(type)->name);
        free(pc->w);
        return -1;
    }
    pc->x = malloc(sizeof(float) * T * cols), pc->xd = malloc(sizeof(float) * T * cols);
    pc->wf = malloc(sizeof(float) * rows * cols);
    pc->xq = malloc(sizeof(block_q8x) * T * nb);
    for (int i = 0; i < T * cols; i++) pc->x[i] = frand() * (i % 7 == 0 ? 8.0f : 1.0f);
    for (int t = 0; t < T; t++) { // panels dot with 8-bit activations: the exact target
        block_q8x *q = pc->xq + t * nb;
        calm_isa_scalar.quantize_q8x(pc->x + t * cols, q, cols);
        for (int c = 0; c < cols; c++) pc->xd[t * cols + c] = q[c / 32].d * q[c / 32].qs[c % 32];
    }
    for (int r = 0; r < rows; r++) calm_get_row(pc->wf + r * cols, pc->w, type, cols, r);
    return 0;
}

static void panel_case_free(panel_case *pc) {
    calm_packed_free(&pc->p);
    free(pc->w), free(pc->x), free(pc->wf), free(pc->xd), free(pc->xq);
}

// Whether y [T][rows] matches ref [T][rows], or the exact sums when ref is NULL, within the
// rounding of sums of terms of the size of |w * x|; describes the first mismatch otherwise.
static int panel_case_check(const panel_case *pc, const float *y, const float *ref,
                            const char *what, char *err, size_t cap) {
    int cols = pc->cols;
    for (int r = 0; r < pc->rows; r++)
        for (int t = 0; t < pc->T; t++) {
            double want = 0, mag = 0;
            for (int c = 0; c < cols; c++) {
                double v = (double)pc->wf[r * cols + c] * pc->xd[t * cols + c];
                want += v, mag += fabs(v);
            }
            if (ref) want = ref[t * pc->rows + r];
            float b = y[t * pc->rows + r];
            if (!(fabs(want - b) <= 2e-5 * mag + 1e-6)) {
                snprintf(err, cap, "%s %s rows %d cols %d T %d: [%d][%d] %g vs %s %g", what,
                         calm_type_get(pc->type)->name, pc->rows, cols, pc->T, t, r, b,
                         ref ? "scalar panels" : "exact", want);
                return -1;
            }
        }
    return 0;
}

// The packable types whose panels isa's panel kernels take (calm_isa.panel_type), into out.
static int panel_types(const calm_isa *isa, uint32_t *out) {
    uint32_t all[CALM_TYPE_COUNT];
    int n = kc_types(all, CALM_TYPE_COUNT, calm_pack_supported), k = 0;
    for (int i = 0; i < n; i++)
        if (!isa->panel_type || isa->panel_type(all[i])) out[k++] = all[i];
    return k;
}

int kc_panels(const calm_isa *isa, char *err, size_t cap) {
    // 17 and 33 tokens: an ISA with panel_gemm takes 16 or 32 of them, panel_dot the rest. The
    // K-quants (rows of 256s) run on the shapes with 256, 512, 768 and 1536 columns: 1 to 5 and
    // 17 tokens, rows in part or whole panels. 600 and 1000 rows: enough panels for groups of
    // CALM_PANEL_GROUP with up to 4 threads, and a rest of 2 or 3 panels (the last one short).
    // 32 columns: rows of a single block.
    static const int shapes[][3] = {{16, 64, 1},    {37, 576, 5}, {5, 256, 4},   {48, 1536, 2},
                                    {19, 768, 3},   {37, 96, 17}, {37, 576, 33}, {21, 512, 1},
                                    {35, 256, 17},  {16, 768, 5}, {600, 256, 1}, {1000, 96, 3},
                                    {600, 512, 18}, {37, 32, 17}};
    if (isa && !isa->panel_dot) return 0;
    calm_isa ref = calm_isa_scalar;
    ref.panel_dot = calm_panel_dot_scalar;
    const calm_isa *use = isa ? isa : &ref;
    uint32_t types[CALM_TYPE_COUNT];
    int ntypes = panel_types(use, types);
    char what[64];
    snprintf(what, sizeof what, "%s panels", use->name);
    for (int k = 0; k < ntypes; k++)
        for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++) {
            int rows = shapes[sh][0], cols = shapes[sh][1], T = shapes[sh][2];
            if (cols % calm_type_get(types[k])->block_size) continue; // K-quants: rows of 256s
            panel_case pc;
            if (panel_case_init(&pc, types[k], rows, cols, T, err, cap)) return -1;
            float *y = malloc(sizeof(float) * T * rows);
            calm_mm m = {.w = pc.w, .type = types[k], .rows = rows, .y = y, .packed = &pc.p};
            calm_matmul_many(use, &m, 1, pc.x, cols, T);
            int rc = panel_case_check(&pc, y, NULL, what, err, cap);
            free(y);
            panel_case_free(&pc);
            if (rc) return -1;
        }
    return 0;
}

int kc_panel_dot(const calm_isa *isa, char *err, size_t cap) {
    // 61 rows: four panels, the last of 13 rows, called in groups of np = 1..4 (np 3 leaves a
    // group of 1); 32 columns (one block) to 2336 (73 blocks: kernels that go by chunks of blocks
    // end on a short one); 1 to CALM_NT tokens.
    static const int cols_[] = {32, 256, 2336};
    if (!isa->panel_dot) return 0;
    uint32_t types[CALM_TYPE_COUNT];
    int ntypes = panel_types(isa, types), rows = 61, panels = (rows + CALM_PANEL - 1) / CALM_PANEL;
    float out[CALM_NT * CALM_PANEL_GROUP * CALM_PANEL];
    for (int k = 0; k < ntypes; k++)
        for (int ci = 0; ci < 3; ci++)
            for (int nt = 1; nt <= CALM_NT; nt++) {
                int cols = cols_[ci], rc = 0;
                if (cols % calm_type_get(types[k])->block_size) continue;
                panel_case pc;
                if (panel_case_init(&pc, types[k], rows, cols, nt, err, cap)) return -1;
                size_t xs = sizeof(block_q8x) * (cols / 32);
                float *y = malloc(sizeof(float) * nt * rows);
                for (int np = 1; np <= CALM_PANEL_GROUP && !rc; np++) {
                    for (int pi = 0; pi < panels; pi += np) {
                        int n = panels - pi < np ? panels - pi : np;
                        isa->panel_dot(&pc.p, pi, n, pc.xq, xs, nt, out);
                        for (int t = 0; t < nt; t++)
                            for (int r = 0; r < n * CALM_PANEL && pi * CALM_PANEL + r < rows; r++)
                                y[t * rows + pi * CALM_PANEL + r] = out[t * n * CALM_PANEL + r];
                    }
                    char what[64];
                    snprintf(what, sizeof what, "%s panel_dot np %d", isa->name, np);
                    rc = panel_case_check(&pc, y, NULL, what, err, cap);
                }
                free(y);
                panel_case_free(&pc);
                if (rc) return -1;
            }
    return 0;
}

int kc_panel_gemm(const calm_isa *isa, char *err, size_t cap) {
    // 37 rows end on a short panel; T up to 80 covers tiles of 16 and the odd multiples of 16 that
    // leave part of a larger tile; 2048 and 2336 columns (64 and 73 blocks) span several chunks of
    // a kernel that unpacks codes by chunks of blocks, 2336 ending on a chunk of an odd count; 768
    // the K-quants, whose rows are made of 256s. A tile kernel (panel_gemm_tiles, preferred as the
    // driver prefers it) is called on ranges of 16 blocks, adding each range to the last.
    static const int cols_[] = {32, 96, 576, 768, 2048, 2336}, tokens[] = {16, 32, 48, 64, 80};
    if (!isa->panel_gemm && !isa->panel_gemm_tiles) return 0;
    uint32_t types[CALM_TYPE_COUNT];
    int ntypes = panel_types(isa, types), rows = 37;
    char what[64];
    snprintf(what, sizeof what, "%s panel_gemm", isa->name);
    for (int k = 0; k < ntypes; k++)
        for (int ci = 0; ci < 6; ci++)
            for (int ti = 0; ti < 5; ti++) {
                int cols = cols_[ci], T = tokens[ti], panels = (rows + CALM_PANEL - 1) / CALM_PANEL;
                if (cols % calm_type_get(types[k])->block_size) continue;
                panel_case pc;
                if (panel_case_init(&pc, types[k], rows, cols, T, err, cap)) return -1;
                size_t xs = sizeof(block_q8x) * (cols / 32);
                float *y = malloc(sizeof(float) * T * rows), *y0 = malloc(sizeof(float) * T * rows);
                float po[CALM_NT * CALM_PANEL];
                int nb = cols / 32;
                block_q8g *g = malloc(sizeof(block_q8g) * (T / CALM_GEMM_T) * nb);
                for (int t = 0; t < T; t++) calm_q8g_put(g, calm_q8x_row(pc.xq, xs, t), t, nb);
                for (int pi = 0; pi < panels; pi++) {
                    int r0 = pi * CALM_PANEL, nr = rows - r0 < CALM_PANEL ? rows - r0 : CALM_PANEL;
                    if (isa->panel_gemm_tiles)
                        for (int b0 = 0; b0 < nb; b0 += 16)
                            isa->panel_gemm_tiles(&pc.p, pi, g, T, b0, b0 + 16 < nb ? b0 + 16 : nb,
                                                  y + r0, (size_t)rows, nr);
                    else
                        isa->panel_gemm(&pc.p, pi, pc.xq, xs, T, y + r0, (size_t)rows, nr);
                    for (int t = 0; t < T; t += CALM_NT) {
                        calm_panel_dot_scalar(&pc.p, pi, 1, (const uint8_t *)pc.xq + t * xs, xs,
                                              CALM_NT, po);
                        for (int u = 0; u < CALM_NT; u++)
                            for (int j = 0; j < nr; j++)
                                y0[(t + u) * rows + r0 + j] = po[u * CALM_PANEL + j];
                    }
                }
                int rc = panel_case_check(&pc, y, y0, what, err, cap);
                free(y), free(y0), free(g);
                panel_case_free(&pc);
                if (rc) return -1;
            }
    return 0;
}

int kc_panel_kinds(const calm_isa *isa, char *err, size_t cap) {
    // The panel kinds of the K-quants (super-block scales) and of Q5_0/Q5_1 (5-bit codes), their
    // bytes per block of 32 columns, and their panel_dot at every group size and token count:
    // 37 and 69 rows (a short last panel; 69 leaves groups of 4 a rest), 768 columns (3
    // super-blocks) and for the 32-blocks also 96 (3 blocks).
    static const struct {
        uint32_t type;
        size_t block_bytes; // 4.625, 5.625, 6 and 6 bits per weight
    } kinds[] = {
        {CALM_TYPE_Q4_K, 296}, {CALM_TYPE_Q5_K, 360}, {CALM_TYPE_Q5_0, 384}, {CALM_TYPE_Q5_1, 384}};
    static const int shapes[][2] = {{37, 768}, {69, 768}, {37, 96}, {69, 96}};
    calm_isa ref = calm_isa_scalar;
    ref.panel_dot = calm_panel_dot_scalar;
    const calm_isa *use = isa ? isa : &ref;
    if (!use->panel_dot) return 0;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++) {
            int rows = shapes[sh][0], cols = shapes[sh][1];
            if (cols % calm_type_get(kinds[k].type)->block_size) continue;
            if (isa && !calm_isa_packs(isa, kinds[k].type)) continue; // rows on this ISA
            panel_case pc;
            if (panel_case_init(&pc, kinds[k].type, rows, cols, CALM_NT, err, cap)) return -1;
            if (pc.p.block_bytes != kinds[k].block_bytes) {
                snprintf(err, cap, "%s panels: %zu bytes per block, want %zu",
                         calm_type_get(kinds[k].type)->name, pc.p.block_bytes,
                         kinds[k].block_bytes);
                panel_case_free(&pc);
                return -1;
            }
            size_t xs = sizeof(block_q8x) * (cols / 32);
            int panels = calm_pack_panels(&pc.p), rc = 0;
            float *y = malloc(sizeof(float) * CALM_NT * rows);
            float *y0 = malloc(sizeof(float) * CALM_NT * rows);
            float out[CALM_PANEL_GROUP * CALM_NT * CALM_PANEL];
            for (int np = 1; np <= CALM_PANEL_GROUP && !rc; np++)
                for (int nt = 1; nt <= CALM_NT && !rc; nt++) {
                    for (int p0 = 0; p0 < panels; p0 += np) {
                        int n = panels - p0 < np ? panels - p0 : np;
                        for (int pass = 0; pass < 2; pass++) { // the ISA, then the reference
                            (pass ? calm_panel_dot_scalar : use->panel_dot)(&pc.p, p0, n, pc.xq, xs,
                                                                            nt, out);
                            for (int t = 0; t < nt; t++)
                                for (int r = p0 * CALM_PANEL; r < rows && r < (p0 + n) * CALM_PANEL;
                                     r++)
                                    (pass ? y0 : y)[t * rows + r] =
                                        out[t * n * CALM_PANEL + r - p0 * CALM_PANEL];
                        }
                    }
                    panel_case c = pc;
                    c.T = nt;
                    char what[64];
                    snprintf(what, sizeof what, "%s panels np %d nt %d", use->name, np, nt);
                    rc = panel_case_check(&c, y, y0, what, err, cap);
                }
            free(y), free(y0);
            panel_case_free(&pc);
            if (rc) return -1;
        }
    return 0;
}

int kc_attention(const calm_isa *isa, char *err, size_t cap) {
    if (!isa->attend) return 0;
    static const int hds[] = {8, 16, 24, 32, 64, 128};
    static const int ns[] = {1, 2, 7, 16, 17, 100, 300};
    int stride = 3 * 128 + 5; // cache rows hold several heads
    float *k = malloc(sizeof(float) * 300 * stride), *v = malloc(sizeof(float) * 300 * stride);
    float q[128], sc[300], o0[128], o1[128];
    for (int i = 0; i < 300 * stride; i++) k[i] = 2 * frand(), v[i] = frand();
    int rc = 0;
    for (size_t a = 0; a < sizeof hds / sizeof hds[0] && !rc; a++)
        for (size_t b = 0; b < sizeof ns / sizeof ns[0] && !rc; b++) {
            int hd = hds[a], n = ns[b];
            for (int i = 0; i < hd; i++) q[i] = frand();
            calm_isa_scalar.attend(q, k + 7, v + 7, (size_t)stride, n, hd, 0.125f, sc, o0);
            isa->attend(q, k + 7, v + 7, (size_t)stride, n, hd, 0.125f, sc, o1);
            for (int i = 0; i < hd && !rc; i++)
                if (!(fabsf(o0[i] - o1[i]) <= 1e-5f + 1e-4f * fabsf(o0[i]))) {
                    snprintf(err, cap, "%s attend hd %d n %d: [%d] %g vs scalar %g", isa->name, hd,
                             n, i, o1[i], o0[i]);
                    rc = -1;
                }
        }
    // The prefill tiles: nq queries, query i seeing n0 + i positions, against the scalar kernel per
    // query (hd 24 is not a multiple of 8 and takes the per-query fallback).
    static const int n0s[] = {1, 7, 100, 250}, nqs[] = {1, 5, 16};
    float *qs = malloc(sizeof(float) * 16 * 131), *ot = malloc(sizeof(float) * 16 * 133),
          *scr = malloc(sizeof(float) * 300 * CALM_ATTEND_TILE);
    for (size_t a = 0; a < sizeof hds / sizeof hds[0] && !rc && isa->attend_tile; a++)
        for (size_t b = 0; b < 4 * 3 && !rc; b++) {
            int hd = hds[a], n0 = n0s[b / 3], nq = nqs[b % 3];
            for (int i = 0; i < 16 * 131; i++) qs[i] = frand();
            isa->attend_tile(qs, 131, nq, k + 7, v + 7, (size_t)stride, n0, hd, 0.125f, scr, ot,
                             133);
            for (int t = 0; t < nq && !rc; t++) {
                calm_isa_scalar.attend(qs + t * 131, k + 7, v + 7, (size_t)stride, n0 + t, hd,
                                       0.125f, sc, o0);
                for (int i = 0; i < hd && !rc; i++)
                    if (!(fabsf(o0[i] - ot[t * 133 + i]) <= 1e-5f + 1e-4f * fabsf(o0[i]))) {
                        snprintf(err, cap,
                                 "%s attend_tile hd %d n0 %d nq %d: query %d [%d] %g vs "
                                 "scalar %g",
                                 isa->name, hd, n0, nq, t, i, ot[t * 133 + i], o0[i]);
                        rc = -1;
                    }
            }
        }
    free(qs), free(ot), free(scr);
    float g0[203], g1[203], u[203];
    for (int i = 0; i < 203; i++) g0[i] = g1[i] = 12 * frand(), u[i] = frand();
    calm_isa_scalar.silu_mul(g0, u, 203);
    isa->silu_mul(g1, u, 203);
    for (int i = 0; i < 203 && !rc; i++)
        if (!(fabsf(g0[i] - g1[i]) <= 1e-6f + 1e-5f * fabsf(g0[i]))) {
            snprintf(err, cap, "%s silu_mul [%d]: %g vs scalar %g", isa->name, i, g1[i], g0[i]);
            rc = -1;
        }
    free(k), free(v);
    static const int hn[] = {64, 96, 140, 576, 1536}; // Kronecker, fallback and power-of-two sizes
    for (size_t a = 0; a < sizeof hn / sizeof hn[0] && !rc && isa->hadamard; a++) {
        int n = hn[a];
        float *x0 = malloc(sizeof(float) * 3 * n), *x1 = malloc(sizeof(float) * 3 * n);
        for (int i = 0; i < 3 * n; i++) x0[i] = x1[i] = frand();
        calm_isa_scalar.hadamard(x0, n, 3, (int)(a & 1));
        isa->hadamard(x1, n, 3, (int)(a & 1));
        for (int i = 0; i < 3 * n && !rc; i++)
            if (!(fabsf(x0[i] - x1[i]) <= 1e-5f)) {
                snprintf(err, cap, "%s hadamard n %d: [%d] %g vs scalar %g", isa->name, n, i, x1[i],
                         x0[i]);
                rc = -1;
            }
        free(x0), free(x1);
    }
    return rc;
}

int kc_team(const calm_isa *isa, char *err, size_t cap) {
    // One call mixing activation formats and row sizes: packed K-quant and Q8_0 panels (q8x), Q6_K
    // rows (q8x), W8A8 (q8t), F16 (f32) and a rotated, scaled Q4_0 (the transformed input).
    static const uint32_t types[] = {CALM_TYPE_Q4_K, CALM_TYPE_Q6_K, CALM_TYPE_Q8_0,
                                     CALM_TYPE_W8A8, CALM_TYPE_F16,  CALM_TYPE_Q4_0};
    static const int rows[] = {53, 37, 16, 21, 9, 40}, teams[] = {1, 2, 3, 7};
    enum { N = 6, COLS = 512, MAX_T = 33 };
    uint8_t *w[N];
    calm_packed p[N];
    float *y[N], *ref[N], *x = malloc(sizeof(float) * MAX_T * COLS), scale[COLS];
    calm_mm mm[N];
    for (int c = 0; c < COLS; c++) scale[c] = 1.0f + 0.5f * frand();
    for (int i = 0; i < MAX_T * COLS; i++) x[i] = frand();
    for (int i = 0; i < N; i++) {
        w[i] = random_matrix(types[i], rows[i], COLS);
        int packs = types[i] == CALM_TYPE_Q4_K || types[i] == CALM_TYPE_Q8_0;
        if (packs && calm_pack(&p[i], w[i], types[i], rows[i], COLS)) abort();
        y[i] = malloc(sizeof(float) * MAX_T * rows[i]);
        ref[i] = malloc(sizeof(float) * MAX_T * rows[i]);
        mm[i] = (calm_mm){
            w[i],      types[i], rows[i], y[i], packs ? &p[i] : NULL, i == N - 1 ? scale : NULL,
            i == N - 1};
    }
    calm_mm_scratch sc;
    if (calm_mm_scratch_init(&sc, MAX_T, COLS)) abort();
    int rc = 0;
    for (int T = 1; T <= MAX_T && !rc; T++) {
        for (int i = 0; i < N; i++) { // each matrix alone, standalone: the reference
            calm_mm one = mm[i];
            one.y = ref[i];
            calm_matmul_many(isa, &one, 1, x, COLS, T);
        }
        for (int k = -1; k < (int)(sizeof teams / sizeof teams[0]) && !rc; k++) {
            for (int i = 0; i < N; i++) memset(y[i], 0xff, sizeof(float) * T * rows[i]);
            if (k < 0) { // all in one standalone call
                calm_matmul_many(isa, mm, N, x, COLS, T);
            } else {
#pragma omp parallel num_threads(teams[k])
                calm_matmul_team(isa, mm, N, x, COLS, T, &sc);
            }
            for (int i = 0; i < N && !rc; i++)
                if (memcmp(y[i], ref[i], sizeof(float) * T * rows[i])) {
                    snprintf(err, cap, "%s: %s in a call of %d matrices, T %d, %s %d: differs",
                             isa->name, calm_type_get(types[i])->name, N, T,
                             k < 0 ? "standalone" : "team of", k < 0 ? 0 : teams[k]);
                    rc = -1;
                }
        }
    }
    calm_mm_scratch_free(&sc);
    for (int i = 0; i < N; i++) {
        if (mm[i].packed) calm_packed_free(&p[i]);
        free(w[i]), free(y[i]), free(ref[i]);
    }
    free(x);
    return rc;
}
