// The PTQ pool on synthetic layers with planted outlier input channels: each algorithm must do
// what it exists for (GPTQ, AWQ and HeRo-Q beat round-to-nearest on the output error; rotation
// flattens activations; HeRo-Q lowers the top Hessian eigenvalue), and the quantized rows must be
// exactly what the kernels dequantize.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/hadamard.h"
#include "kernels/matmul.h"
#include "kernels/types.h"
#include "quant/algo.h"
#include "helpers.h"
#include "kernel_compare.h"

static uint64_t rng = 99;
static float gauss(void) { // Box-Muller on a xorshift
    double u[2];
    for (int i = 0; i < 2; i++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        u[i] = ((rng >> 11) + 0.5) / 9007199254740992.0;
    }
    return (float)(sqrt(-2 * log(u[0])) * cos(6.283185307179586 * u[1]));
}

typedef struct {
    int rows, cols, T;
    float *w, *x;
    calm_xstats xs;
} layer;

// Activations with a few channels 30x larger (as LLMs have) and correlated tokens.
static void make_layer(layer *L, int rows, int cols, int T) {
    L->rows = rows, L->cols = cols, L->T = T;
    L->w = malloc(sizeof(float) * rows * cols);
    L->x = malloc(sizeof(float) * T * cols);
    for (int i = 0; i < rows * cols; i++) L->w[i] = 0.05f * gauss();
    for (int t = 0; t < T; t++) {
        float common = gauss();
        for (int c = 0; c < cols; c++) {
            float v = gauss() + 0.5f * common;
            if (c % 97 == 5) v *= 30.0f; // outlier channels
            L->x[t * cols + c] = v;
        }
    }
    cr_assert_eq(calm_xstats_init(&L->xs, cols, NULL), 0);
    calm_xstats_add(&L->xs, L->x, T);
}

static void free_layer(layer *L) {
    calm_xstats_free(&L->xs);
    free(L->w), free(L->x);
}

static double quantize(const char *algo, const layer *L, uint32_t type, calm_qlinear *q) {
    calm_qopts o;
    calm_qopts_default(&o);
    calm_err e;
    cr_assert_eq(calm_qfmt_init(&o.fmt, type, 0, &e), 0);
    const calm_algo *a = calm_algo_find(algo);
    cr_assert(a, "%s", algo);
    cr_assert_eq(a->quantize(&o, L->w, L->rows, L->cols, &L->xs, q, &e), 0, "%s: %s", algo, e.msg);
    cr_assert(q->err >= 0 && isfinite(q->err), "%s: error %g", algo, q->err);
    return q->err;
}

Test(algorithms, hadamard_is_orthogonal) {
    static const int ns[] = {64, 96, 140, 288, 576, 1536};
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
        int n = ns[k];
        float *m = calloc((size_t)n * n, sizeof(float));
        for (int i = 0; i < n; i++) m[i * n + i] = 1; // rows e_i -> H e_i
        calm_hadamard(m, n, n, 0);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                double dot = 0;
                for (int c = 0; c < n; c++) dot += (double)m[i * n + c] * m[j * n + c];
                cr_assert(fabs(dot - (i == j)) < 1e-5, "n %d (factor %d): <%d,%d> = %g", n,
                          calm_hadamard_factor(n), i, j, dot);
            }
        float x[1536], y[1536];
        for (int i = 0; i < n; i++) x[i] = y[i] = gauss();
        calm_hadamard(y, n, 1, 0);
        calm_hadamard(y, n, 1, 1); // the transpose undoes it
        for (int i = 0; i < n; i++) cr_assert(fabsf(x[i] - y[i]) < 1e-4f);
        free(m);
    }
    cr_assert_eq(calm_hadamard_factor(576), 36);
    cr_assert_eq(calm_hadamard_factor(1536), 12);
    cr_assert_eq(calm_hadamard_factor(140), 0); // no Paley matrix of order 35, 70 or 140
}

Test(algorithms, gptq_awq_hero_beat_rtn_with_outliers) {
    layer L;
    make_layer(&L, 96, 576, 2048);
    uint32_t types[] = {(uint32_t)calm_type_qg(4, 128), (uint32_t)calm_type_qg(3, 128),
                        CALM_TYPE_Q4_0};
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        calm_qlinear q[4];
        double rtn = quantize("rtn", &L, types[k], &q[0]);
        double gptq = quantize("gptq", &L, types[k], &q[1]);
        double awq = quantize("awq", &L, types[k], &q[2]);
        double hero = quantize("hero", &L, types[k], &q[3]);
        cr_log_info("%s: rtn %.3g gptq %.3g awq %.3g hero %.3g", calm_type_get(types[k])->name, rtn,
                    gptq, awq, hero);
        cr_assert(gptq <= rtn, "%s: GPTQ %g > RTN %g", calm_type_get(types[k])->name, gptq, rtn);
        cr_assert(awq <= rtn, "%s: AWQ %g > RTN %g", calm_type_get(types[k])->name, awq, rtn);
        cr_assert(hero <= rtn, "%s: HeRo-Q %g > RTN %g", calm_type_get(types[k])->name, hero, rtn);
        for (int i = 0; i < 4; i++) calm_qlinear_free(&q[i]);
    }
    free_layer(&L);
}

Test(algorithms, hero_lowers_the_top_hessian_eigenvalue) {
    layer L;
    make_layer(&L, 64, 576, 2048);
    calm_qlinear q;
    quantize("hero", &L, (uint32_t)calm_type_qg(4, 128), &q);
    float *h = calm_xstats_h(&L.xs), *hp = malloc(sizeof(float) * 576 * 576);
    calm_transformed_h(q.in_scale, q.in_rot, h, 576, hp);
    double before = calm_top_eigenvalue(h, 576), after = calm_top_eigenvalue(hp, 576);
    cr_log_info("top eigenvalue: %g -> %g", before, after);
    cr_assert(after < 0.5 * before, "top eigenvalue %g -> %g", before, after);
    // the transform keeps the product: W' (M x) = W x up to quantization, and M is invertible
    double tr0 = 0, tr1 = 0;
    for (int i = 0; i < 576; i++) tr0 += h[i * 576 + i], tr1 += hp[i * 576 + i];
    cr_assert(tr1 > 0 && isfinite(tr1), "trace %g -> %g", tr0, tr1);
    free(h), free(hp);
    calm_qlinear_free(&q);
    free_layer(&L);
}

Test(algorithms, rotation_flattens_activations) {
    layer L;
    make_layer(&L, 32, 576, 256);
    calm_qlinear q;
    quantize("hadamard", &L, (uint32_t)calm_type_qg(4, 128), &q);
    float *xt = malloc(sizeof(float) * L.T * L.cols);
    calm_transform_input(xt, L.x, L.cols, L.T, q.in_scale, q.in_rot);
    double r0 = th_peak_ratio(L.x, L.T, L.cols), r1 = th_peak_ratio(xt, L.T, L.cols);
    cr_log_info("max/mean |x|: %.2f -> %.2f", r0, r1);
    cr_assert(r1 < 0.5 * r0, "max/mean %g -> %g", r0, r1);
    free(xt);
    calm_qlinear_free(&q);
    free_layer(&L);
}

Test(algorithms, quantized_matrices_compute_the_original_product) {
    // Every algorithm's matrix, run through the kernels with its input transform, gives the
    // product of its effective weights with the original input; and the effective weights are
    // close to the original ones.
    layer L;
    make_layer(&L, 48, 576, 512);
    static const char *names[] = {"rtn", "gptq", "awq", "smoothquant", "hadamard", "hero"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        uint32_t type = k == 3 ? CALM_TYPE_W8A8 : (uint32_t)calm_type_qg(8, 64);
        calm_qlinear q;
        quantize(names[k], &L, type, &q);
        cr_assert(q.err < 1e-3, "%s 8-bit error %g", names[k], q.err);
        float *weff = malloc(sizeof(float) * L.rows * L.cols), y[48 * 4];
        calm_qlinear_effective(&q, L.rows, L.cols, weff);
        calm_mm m = {q.data, q.type, L.rows, y, NULL, q.in_scale, q.in_rot};
        calm_matmul_many(&calm_isa_scalar, &m, 1, L.x, L.cols, 4);
        for (int t = 0; t < 4; t++)
            for (int r = 0; r < L.rows; r++) {
                double s = 0, mag = 0;
                for (int c = 0; c < L.cols; c++) {
                    s += (double)weff[r * L.cols + c] * L.x[t * L.cols + c];
                    mag += fabs((double)weff[r * L.cols + c] * L.x[t * L.cols + c]);
                }
                // 8-bit activations: the kernel's sum differs by their rounding, ~1% of |terms|
                cr_assert(fabs(y[t * 48 + r] - s) <= 0.02 * mag + 1e-4, "%s [%d][%d]: %g vs %g",
                          names[k], t, r, y[t * 48 + r], s);
            }
        free(weff);
        calm_qlinear_free(&q);
    }
    free_layer(&L);
}

Test(algorithms, rows_dequantize_to_what_was_rounded) {
    // Requantizing the dequantized rows with the stored grid gives the same bytes: the scales and
    // offsets the algorithms round against are exactly those the files hold.
    uint32_t types[CALM_TYPE_COUNT];
    int ntypes = kc_types(types, CALM_TYPE_COUNT, kc_has_grid);
    for (int k = 0; k < ntypes; k++)
        for (int sym = 0; sym < 2; sym++) {
            calm_qfmt f;
            cr_assert_eq(calm_qfmt_init(&f, types[k], sym, NULL), 0);
            float w[576], deq[576], deq2[576];
            for (int i = 0; i < 576; i++) w[i] = gauss() * (i % 61 == 0 ? 8.0f : 1.0f);
            size_t rb = calm_row_size(types[k], 576);
            uint8_t *a = malloc(rb), *b = malloc(rb);
            calm_qfmt_quantize_row(&f, w, 576, NULL, a, deq);
            calm_qfmt_quantize_row(&f, deq, 576, NULL, b, deq2);
            cr_assert(memcmp(a, b, rb) == 0, "%s sym %d: bytes differ after a round trip",
                      calm_type_get(types[k])->name, sym);
            for (int i = 0; i < 576; i++) cr_assert_eq(deq[i], deq2[i]);
            free(a), free(b);
        }
}
