#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "helpers.h"
#include "kernel_compare.h"
#include "kernels/grid.h"
#include "kernels/types.h"

Test(types, f16_roundtrips_every_value) {
    for (uint32_t h = 0; h < 65536; h++) {
        float f = calm_f16_to_f32((calm_f16)h);
        if (isnan(f)) {
            cr_assert(isnan(calm_f16_to_f32(calm_f32_to_f16(f))));
            continue;
        }
        cr_assert_eq(calm_f32_to_f16(f), h, "f16 0x%04x -> %g -> 0x%04x", h, f, calm_f32_to_f16(f));
    }
}

Test(types, f16_rounds_to_nearest_even) {
    // f16's spacing at 1 is 1/1024: half-way cases go to the even mantissa
    cr_assert_float_eq(calm_f16_to_f32(calm_f32_to_f16(1.0f + 0.5f / 1024)), 1.0f, 0);
    cr_assert_float_eq(calm_f16_to_f32(calm_f32_to_f16(1.0f + 1.5f / 1024)), 1.0f + 2.0f / 1024, 0);
    cr_assert_float_eq(calm_f16_to_f32(calm_f32_to_f16(1.0f + 0.75f / 1024)), 1.0f + 1.0f / 1024,
                       0);
    cr_assert(isinf(calm_f16_to_f32(calm_f32_to_f16(70000.0f))));
    cr_assert_float_eq(calm_f16_to_f32(calm_f32_to_f16(5.96046448e-8f)), 5.96046448e-8f, 0);
    cr_assert_eq(calm_f32_to_f16(1e-9f), 0);
}

Test(types, bf16) {
    cr_assert_eq(calm_f32_to_bf16(1.0f), 0x3f80);
    cr_assert_float_eq(calm_bf16_to_f32(calm_f32_to_bf16(3.140625f)), 3.140625f, 0);
    cr_assert(isnan(calm_bf16_to_f32(calm_f32_to_bf16(NAN))));
}

Test(types, q4_0_q4_1_q8_0_layouts) {
    block_q4_0 b0 = {calm_f32_to_f16(0.5f), {0}};
    for (int j = 0; j < 16; j++) b0.qs[j] = (uint8_t)(j | ((15 - j) << 4));
    float out[32];
    calm_type_get(CALM_TYPE_Q4_0)->to_float(&b0, out, 32);
    for (int j = 0; j < 16; j++) {
        cr_assert_float_eq(out[j], (j - 8) * 0.5f, 0);
        cr_assert_float_eq(out[j + 16], (7 - j) * 0.5f, 0);
    }
    block_q4_1 b1 = {calm_f32_to_f16(0.25f), calm_f32_to_f16(-1.0f), {0}};
    for (int j = 0; j < 16; j++) b1.qs[j] = (uint8_t)(j | (j << 4));
    calm_type_get(CALM_TYPE_Q4_1)->to_float(&b1, out, 32);
    for (int j = 0; j < 16; j++) cr_assert_float_eq(out[j + 16], j * 0.25f - 1.0f, 0);
    block_q8_0 b8 = {calm_f32_to_f16(2.0f), {0}};
    for (int j = 0; j < 32; j++) b8.qs[j] = (int8_t)(j - 16);
    calm_type_get(CALM_TYPE_Q8_0)->to_float(&b8, out, 32);
    for (int j = 0; j < 32; j++) cr_assert_float_eq(out[j], (j - 16) * 2.0f, 0);
    cr_assert_eq(sizeof(block_q4_0), 18);
    cr_assert_eq(sizeof(block_q4_1), 20);
    cr_assert_eq(sizeof(block_q8_0), 34);
    cr_assert_eq(calm_row_size(CALM_TYPE_Q4_1, 576), 18 * 20);
    cr_assert_eq(calm_row_size(CALM_TYPE_Q4_1, 33), 0);
    cr_assert_null(calm_type_get(99));
}

static uint32_t rng = 2024;
static float frand(void) {
    return kc_frand(&rng);
}

static uint64_t fnv1a(const uint8_t *p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

Test(types, from_float_writes_what_the_old_writers_wrote) {
    // Hashes of the bytes the writers before the traits had from_float produced for this row:
    // calm_rtn_row (calm convert --type qgB_G) and calm_qfmt_quantize_row with the type's
    // default grid (calm quantize --algo rtn --type q4_0|q4_1|q8_0, SmoothQuant's W8A8 rows).
    static const struct {
        const char *name;
        uint64_t hash;
    } want[] = {
        {"q4_0", 0x128719c3493eef34ull},    {"q4_1", 0x07b96659445261adull},
        {"q8_0", 0xb92eebe475568355ull},    {"qg2_32", 0xa1749c09c5175faaull},
        {"qg2_64", 0x3737fd64576c2ae3ull},  {"qg2_128", 0xa1b4962c442e6f1cull},
        {"qg3_32", 0x07cec0c3e81e7e9dull},  {"qg3_64", 0x2a966045e7d87aebull},
        {"qg3_128", 0x33dbcb43ba0bdee2ull}, {"qg4_32", 0x07b96659445261adull},
        {"qg4_64", 0xd40a1d14f8ea1958ull},  {"qg4_128", 0xb5c6860358837aa0ull},
        {"qg8_32", 0xa6983e22d0fd77edull},  {"qg8_64", 0x2552bce07d338405ull},
        {"qg8_128", 0x47ba7cc4f928511aull}, {"w8a8", 0x5c90086643c51bddull},
    };
    float x[576];
    for (int i = 0; i < 576; i++) x[i] = frand() * (i % 37 == 0 ? 6.0f : 1.0f);
    uint8_t buf[4096];
    int checked = 0;
    for (uint32_t t = 0; t < CALM_TYPE_COUNT; t++) {
        const calm_type_traits *tt = calm_type_get(t);
        if (!tt || !tt->from_float || tt->vec_dot_type == CALM_ACT_F32) continue;
        memset(buf, 0, sizeof buf);
        tt->from_float(x, buf, 576);
        size_t k = 0;
        while (k < sizeof want / sizeof want[0] && strcmp(want[k].name, tt->name)) k++;
        cr_assert_lt(k, sizeof want / sizeof want[0], "%s has no reference hash", tt->name);
        cr_assert_eq(fnv1a(buf, calm_row_size(t, 576)), want[k].hash, "%s: bytes changed",
                     tt->name);
        checked++;
    }
    cr_assert_eq(checked, (int)(sizeof want / sizeof want[0]));
}

Test(types, from_float_round_trips_within_the_grid_step) {
    // to_float(from_float(x)) is within one step of the type's grid (half a step where the grid
    // has an offset), plus the rounding of the stored scales; float types within their precision.
    float x[576], y[576];
    static uint8_t buf[576 * 4];
    for (int i = 0; i < 576; i++) x[i] = frand() * (i % 50 == 0 ? 10.0f : 1.0f);
    int seen = 0;
    for (uint32_t t = 0; t < CALM_TYPE_COUNT; t++) {
        const calm_type_traits *tt = calm_type_get(t);
        if (!tt || !tt->from_float) continue;
        seen++;
        tt->from_float(x, buf, 576);
        tt->to_float(buf, y, 576);
        calm_qfmt f;
        if (calm_qfmt_grid(&f, t, 0)) { // f32, f16, bf16
            float rel = t == CALM_TYPE_F32 ? 0 : t == CALM_TYPE_F16 ? 1.0f / 2048 : 1.0f / 256;
            for (int i = 0; i < 576; i++)
                cr_assert(fabsf(x[i] - y[i]) <= rel * fabsf(x[i]), "%s [%d]: %g vs %g", tt->name, i,
                          x[i], y[i]);
            continue;
        }
        cr_assert_eq(f.sym, tt->symmetric, "%s: symmetric flag", tt->name);
        int g = f.group ? f.group : 576;
        for (int i = 0; i < 576; i++) {
            int g0 = i / g * g, g1 = g0 + g < 576 ? g0 + g : 576;
            float lo = x[g0], hi = x[g0], amax = 0;
            for (int j = g0; j < g1; j++)
                lo = fminf(lo, x[j]), hi = fmaxf(hi, x[j]), amax = fmaxf(amax, fabsf(x[j]));
            float step = f.sym ? amax / (float)(f.umin == 1 ? f.zero - 1 : f.zero)
                               : (hi - lo) / (float)f.umax;
            float tol = (f.sym ? 1.0f : 0.5f) * step * 1.01f + 2e-3f * (hi - lo) + 1e-6f;
            cr_assert(fabsf(x[i] - y[i]) <= tol, "%s [%d]: %g vs %g (step %g)", tt->name, i, x[i],
                      y[i], step);
        }
    }
    cr_assert_eq(seen, 3 + 4 + 12, "f32, f16, bf16, q4_0, q4_1, q8_0, w8a8 and 12 qg formats");
}

Test(types, ftype_and_symmetric) {
    cr_assert_eq(calm_type_get(CALM_TYPE_F32)->ftype, 0);
    cr_assert_eq(calm_type_get(CALM_TYPE_F16)->ftype, 1);
    cr_assert_eq(calm_type_get(CALM_TYPE_Q4_0)->ftype, 2);
    cr_assert_eq(calm_type_get(CALM_TYPE_Q4_1)->ftype, 3);
    cr_assert_eq(calm_type_get(CALM_TYPE_Q8_0)->ftype, 7);
    cr_assert_eq(calm_type_get(CALM_TYPE_Q5_0)->ftype, 8);
    cr_assert_eq(calm_type_get(CALM_TYPE_Q5_1)->ftype, 9);
    cr_assert_eq(calm_type_get(CALM_TYPE_BF16)->ftype, 32);
    cr_assert_eq(calm_type_get(CALM_TYPE_W8A8)->ftype, -1);
    cr_assert_eq(calm_type_get((uint32_t)calm_type_qg(4, 32))->ftype, -1);
    for (uint32_t t = 0; t < CALM_TYPE_COUNT; t++) {
        const calm_type_traits *tt = calm_type_get(t);
        if (tt)
            cr_assert_eq(tt->symmetric,
                         t == CALM_TYPE_Q4_0 || t == CALM_TYPE_Q8_0 || t == CALM_TYPE_W8A8, "%s",
                         tt->name);
    }
}
