#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "helpers.h"
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
