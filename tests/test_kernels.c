// Every kernel of every ISA this machine runs against the scalar reference: random blocks, odd
// row counts (row-chunk tails), token counts that leave a partial group, odd float row lengths.
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/matmul.h"
#include "kernels/grid.h"
#include "kernel_compare.h"

static uint32_t rng = 777;
static float frand(void) {
    return kc_frand(&rng);
}

Test(kernels, every_isa_matches_scalar) {
    const calm_isa *av[8];
    int n = calm_isa_available(av, 8);
    cr_log_info("ISAs on this machine: %d (best: %s)", n, av[n - 1]->name);
    char err[512];
    cr_assert_eq(kc_every_isa(kc_all_types, err, sizeof err), 0, "%s", err);
}

Test(kernels, packed_panels_match_row_kernels) {
    char err[512];
    cr_assert_eq(kc_panels(NULL, err, sizeof err), 0, "%s", err); // the scalar panel reference
    cr_assert_eq(kc_every_isa(kc_panels, err, sizeof err), 0, "%s", err);
}

Test(kernels, k_quant_and_5_bit_panels_match_scalar_panels) {
    char err[512];
    cr_assert_eq(kc_panel_kinds(NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(kc_every_isa(kc_panel_kinds, err, sizeof err), 0, "%s", err);
}

Test(kernels, panel_dot_groups_match_exact_sums) {
    char err[512];
    cr_assert_eq(kc_every_isa(kc_panel_dot, err, sizeof err), 0, "%s", err);
}

Test(kernels,
     panel_gemm_matches_scalar_panels) { // every ISA with a prefill GEMM (VNNI, AVX2, NEON, AMX)
    char err[512];
    cr_assert_eq(kc_every_isa(kc_panel_gemm, err, sizeof err), 0, "%s", err);
}

Test(kernels, amx_panel_gemm_matches_scalar_panels) {
    const calm_isa *av[8];
    int n = calm_isa_available(av, 8), amx = -1;
    for (int i = 0; i < n; i++)
        if (!strcmp(av[i]->name, "amx")) amx = i;
    if (amx < 0) { // the CPU lacks AMX int8, or Linux refused the tile state
        printf("skipped: no AMX on this CPU\n");
        cr_skip_test("skipped: no AMX on this CPU");
    }
    calm_isa isa; // the avx512 table with the AMX panel_gemm over it
    calm_isa_resolve(&isa, av[amx]);
    char err[512];
    cr_assert_eq(kc_panel_gemm(&isa, err, sizeof err), 0, "%s", err);
}

Test(kernels, attention_and_silu_match_scalar) {
    char err[512];
    cr_assert_eq(kc_every_isa(kc_attention, err, sizeof err), 0, "%s", err);
}

Test(kernels, team_matmul_equals_standalone) {
    char err[512];
    cr_assert_eq(kc_team(&calm_isa_scalar, err, sizeof err), 0, "%s", err);
    cr_assert_eq(kc_every_isa(kc_team, err, sizeof err), 0, "%s", err);
}

Test(kernels, activation_quantization_is_identical) {
    char err[512];
    cr_assert_eq(kc_every_isa(kc_quantize, err, sizeof err), 0, "%s", err);
}

Test(kernels, reference_dots_equal_dequantized_dots) {
    // The scalar integer kernels against plain f32 arithmetic on dequantized weights and
    // activations: they must agree to float rounding, which checks the block layouts and offsets.
    // 576 = 4 x 128 + 64: the calm formats with g = 128 end each row with a shorter group; Q6_K
    // needs rows of 256s.
    uint32_t ts[CALM_TYPE_COUNT];
    int nts = kc_types(ts, CALM_TYPE_COUNT, kc_takes_q8x);
    for (int k = 0; k < nts; k++) {
        const calm_type_traits *tt = calm_type_get(ts[k]);
        int cols = ts[k] == CALM_TYPE_Q6_K ? 768 : 576;
        size_t rb = calm_row_size(ts[k], cols);
        uint8_t *w = malloc(rb);
        float src[768], x[768], wf[768], xd[768], out;
        for (int i = 0; i < cols; i++) src[i] = frand(), x[i] = frand();
        if (tt->qg_bits) {
            calm_rtn_row(src, cols, ts[k], w);
        } else { // ggml blocks: random codes under fixed scales
            for (size_t i = 0; i < rb; i++)
                w[i] = (uint8_t)((rng = rng * 1103515245u + 12345u) >> 16);
            for (int b = 0; b < cols / tt->block_size; b++) {
                uint8_t *blk = w + b * tt->type_size;
                calm_f16 d = calm_f32_to_f16(0.01f), m = calm_f32_to_f16(-0.02f);
                memcpy(blk + (ts[k] == CALM_TYPE_Q6_K ? 208 : 0), &d, 2);
                if (ts[k] == CALM_TYPE_Q4_1) memcpy(blk + 2, &m, 2);
            }
        }
        block_q8x q[24];
        calm_isa_scalar.quantize_q8x(x, q, cols);
        for (int i = 0; i < cols; i++) xd[i] = q[i / 32].d * q[i / 32].qs[i % 32];
        calm_get_row(wf, w, ts[k], cols, 0);
        double want = 0, mag = 0;
        for (int i = 0; i < cols; i++)
            want += (double)wf[i] * xd[i], mag += fabs((double)wf[i] * xd[i]);
        calm_isa_scalar.vec_dot[ts[k]](cols, w, q, sizeof q, 1, &out);
        cr_assert(fabs(out - want) <= 1e-5 * mag + 1e-6, "%s: %g vs %g", tt->name, out, want);
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
            calm_rtn_row(x, 576, t, buf);
            calm_type_get(t)->to_float(buf, y, 576);
            for (int i = 0; i < 576; i++) {
                int g0 = i / g * g, g1 = g0 + g < 576 ? g0 + g : 576;
                float lo = x[g0], hi = x[g0];
                for (int j = g0; j < g1; j++) lo = fminf(lo, x[j]), hi = fmaxf(hi, x[j]);
                float step = (hi - lo) / (float)((1 << bits) - 1);
                cr_assert(fabsf(x[i] - y[i]) <=
                              0.5f * step * 1.01f + 2e-3f * fabsf(hi - lo) + 1e-3f,
                          "qg%d_%d [%d]: %g vs %g (step %g)", bits, g, i, x[i], y[i], step);
            }
            free(buf);
        }
}
