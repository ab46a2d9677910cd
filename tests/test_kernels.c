// Every kernel of every ISA this machine runs against the scalar reference: random blocks, odd
// row counts (row-chunk tails), token counts that leave a partial group, odd float row lengths.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/matmul.h"
#include "quant/rtn.h"

static uint32_t rng = 12345;
static uint32_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}
static float frand(void) { return (float)(next() % 20001) / 10000.0f - 1.0f; }

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
            case CALM_TYPE_F32: { float v = frand(); memcpy(blk, &v, 4); } break;
            case CALM_TYPE_F16: put_f16(blk, frand()); break;
            case CALM_TYPE_BF16: { calm_bf16 v = calm_f32_to_bf16(frand()); memcpy(blk, &v, 2); } break;
            case CALM_TYPE_Q4_0: case CALM_TYPE_Q8_0: put_f16(blk, 0.01f * frand()); break;
            case CALM_TYPE_Q6_K: put_f16(blk + 208, 0.001f * frand()); break;
            default: // q4_1, K-quants with d and dmin, calm groups with d and m
                put_f16(blk, 0.01f * frand());
                put_f16(blk + 2, 0.05f * frand());
            }
        }
    }
    return w;
}

static void compare(const calm_isa *isa, uint32_t type, int rows, int cols, int T) {
    uint8_t *w = random_matrix(type, rows, cols);
    float *x = malloc(sizeof(float) * T * cols), *y0 = malloc(sizeof(float) * T * rows);
    float *y1 = malloc(sizeof(float) * T * rows), *wf = malloc(sizeof(float) * cols);
    for (int i = 0; i < T * cols; i++) x[i] = frand() * (i % 7 == 0 ? 8.0f : 1.0f); // some outliers
    calm_matmul_with(&calm_isa_scalar, y0, x, w, type, rows, cols, T);
    calm_matmul_with(isa, y1, x, w, type, rows, cols, T);
    for (int r = 0; r < rows; r++) {
        calm_get_row(wf, w, type, cols, r);
        for (int t = 0; t < T; t++) {
            double mag = 0; // the size of the terms bounds the rounding error of any order of sums
            for (int c = 0; c < cols; c++) mag += fabs((double)wf[c] * x[t * cols + c]);
            float a = y0[t * rows + r], b = y1[t * rows + r];
            cr_assert(fabs(a - b) <= 2e-5 * mag + 1e-6, "%s %s rows %d cols %d T %d: [%d][%d] %g vs %g",
                      isa->name, calm_type_get(type)->name, rows, cols, T, t, r, a, b);
        }
    }
    free(w), free(x), free(y0), free(y1), free(wf);
}

static const uint32_t types[] = {CALM_TYPE_F32, CALM_TYPE_F16, CALM_TYPE_BF16, CALM_TYPE_Q4_0,
                                 CALM_TYPE_Q4_1, CALM_TYPE_Q8_0, CALM_TYPE_Q4_K, CALM_TYPE_Q5_K,
                                 CALM_TYPE_Q6_K};

Test(kernels, every_isa_matches_scalar) {
    const calm_isa *av[8];
    int n = calm_isa_available(av, 8);
    cr_log_info("ISAs on this machine: %d (best: %s)", n, av[n - 1]->name);
    int shapes[][3] = {{1, 256, 1}, {17, 512, 3}, {33, 768, 5}, {5, 256, 8}, {40, 1536, 2}};
    for (int i = 1; i < n; i++) {
        for (size_t k = 0; k < sizeof types / sizeof types[0]; k++)
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
                compare(av[i], types[k], shapes[s][0], shapes[s][1], shapes[s][2]);
        for (int bits = 2; bits <= 8; bits *= 2)
            for (int g = 32; g <= 128; g *= 2) {
                compare(av[i], (uint32_t)calm_type_qg(bits, g), 19, 384, 5);
                compare(av[i], (uint32_t)calm_type_qg(bits == 2 ? 3 : bits, g), 7, 128, 1);
                compare(av[i], (uint32_t)calm_type_qg(bits, g), 5, 576, 4); // 576 = 4 x 128 + 64
                compare(av[i], (uint32_t)calm_type_qg(bits == 2 ? 3 : bits, g), 3, 96, 3);
            }
        // float rows of odd length exercise the scalar tails
        for (int cols = 1; cols < 40; cols += 3) {
            compare(av[i], CALM_TYPE_F32, 3, cols, 2);
            compare(av[i], CALM_TYPE_F16, 3, cols, 5);
            compare(av[i], CALM_TYPE_BF16, 2, cols, 1);
        }
    }
}

Test(kernels, activation_quantization_is_identical) {
    const calm_isa *av[8];
    int n = calm_isa_available(av, 8);
    float x[512];
    block_q8x a[16], b[16];
    for (int trial = 0; trial < 50; trial++) {
        for (int i = 0; i < 512; i++) x[i] = frand() * (float)(trial + 1);
        if (trial == 0) memset(x, 0, sizeof x);               // all zero: d = 0
        if (trial == 1) for (int i = 0; i < 512; i++) x[i] = (i % 2) ? 0.5f : -0.5f; // ties
        calm_isa_scalar.quantize_q8x(x, a, 512);
        for (int i = 1; i < n; i++) {
            av[i]->quantize_q8x(x, b, 512);
            cr_assert(memcmp(a, b, sizeof a) == 0, "%s differs on trial %d", av[i]->name, trial);
        }
    }
}

Test(kernels, reference_dots_equal_dequantized_dots) {
    // The scalar integer kernels against plain f32 arithmetic on dequantized weights and
    // activations: they must agree to float rounding, which checks the block layouts and offsets.
    // 576 = 4 x 128 + 64: the calm formats with g = 128 end each row with a shorter group.
    uint32_t ts[] = {CALM_TYPE_Q4_0, CALM_TYPE_Q4_1, CALM_TYPE_Q8_0, (uint32_t)calm_type_qg(2, 128),
                     (uint32_t)calm_type_qg(3, 64), (uint32_t)calm_type_qg(3, 128),
                     (uint32_t)calm_type_qg(4, 128), (uint32_t)calm_type_qg(8, 128)};
    for (size_t k = 0; k < sizeof ts / sizeof ts[0]; k++) {
        int cols = 576;
        uint8_t *w = random_matrix(ts[k], 1, cols);
        float x[576], wf[576], xd[576], out;
        for (int i = 0; i < cols; i++) x[i] = frand();
        block_q8x q[18];
        calm_isa_scalar.quantize_q8x(x, q, cols);
        for (int i = 0; i < cols; i++) xd[i] = q[i / 32].d * q[i / 32].qs[i % 32];
        calm_get_row(wf, w, ts[k], cols, 0);
        double want = 0, mag = 0;
        for (int i = 0; i < cols; i++) want += (double)wf[i] * xd[i], mag += fabs((double)wf[i] * xd[i]);
        calm_isa_scalar.vec_dot[ts[k]](cols, w, q, sizeof q, 1, &out);
        cr_assert(fabs(out - want) <= 1e-5 * mag + 1e-6, "%s: %g vs %g", calm_type_get(ts[k])->name, out, want);
        free(w);
    }
}

Test(kernels, rtn_roundtrip_within_half_a_step) {
    // Round to nearest: every weight comes back within half a quantization step (plus f16 slack).
    float x[576], y[576];
    for (int i = 0; i < 576; i++) x[i] = frand() * (i % 50 == 0 ? 10.0f : 1.0f);
    for (int bits = 2; bits <= 8; bits = bits == 4 ? 8 : bits + 1)
        for (int g = 32; g <= 128; g *= 2) {
            uint32_t t = (uint32_t)calm_type_qg(bits, g);
            uint8_t *buf = malloc(calm_row_size(t, 576));
            calm_rtn_row(x, 576, bits, g, buf);
            calm_type_get(t)->to_float(buf, y, 576);
            for (int i = 0; i < 576; i++) {
                int g0 = i / g * g, g1 = g0 + g < 576 ? g0 + g : 576;
                float lo = x[g0], hi = x[g0];
                for (int j = g0; j < g1; j++) lo = fminf(lo, x[j]), hi = fmaxf(hi, x[j]);
                float step = (hi - lo) / (float)((1 << bits) - 1);
                cr_assert(fabsf(x[i] - y[i]) <= 0.5f * step * 1.01f + 2e-3f * fabsf(hi - lo) + 1e-3f,
                          "qg%d_%d [%d]: %g vs %g (step %g)", bits, g, i, x[i], y[i], step);
            }
            free(buf);
        }
}
