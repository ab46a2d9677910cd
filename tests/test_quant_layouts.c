// calm reads llama-quantize's output as llama.cpp does: rows of real Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
// Q4_K, Q5_K and Q6_K tensors with the floats of llama.cpp's reference dequantizer (gguf-py), made
// by tests/ref/make_quant_blocks.py. Every ISA's kernel must also give the exact sum on them.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "kernels/matmul.h"

typedef struct {
    uint32_t type, cols, rows, row_bytes;
    const uint8_t *raw;
    const float *want;
} record;

static int read_records(record *r, int cap) {
    size_t n;
    static char *buf;
    buf = th_read(CALM_SOURCE_DIR "/tests/ref/data/quant_blocks.bin", &n);
    cr_assert(memcmp(buf, "CQBK", 4) == 0);
    size_t off = 4;
    int k = 0;
    while (off + 16 <= n && k < cap) {
        uint32_t h[4];
        memcpy(h, buf + off, 16);
        off += 16;
        r[k] = (record){h[0],
                        h[1],
                        h[2],
                        h[3],
                        (const uint8_t *)buf + off,
                        (const float *)(buf + off + (size_t)h[2] * h[3])};
        off += (size_t)h[2] * h[3] + (size_t)h[2] * h[1] * 4;
        cr_assert_leq(off, n, "truncated fixture");
        k++;
    }
    return k;
}

Test(quant_layouts, dequantization_equals_llama_cpp) {
    record r[16];
    int n = read_records(r, 16);
    cr_assert_eq(n, 8, "fixture holds %d types", n);
    for (int i = 0; i < n; i++) {
        const calm_type_traits *tt = calm_type_get(r[i].type);
        cr_assert_not_null(tt);
        cr_assert_eq(calm_row_size(r[i].type, r[i].cols), r[i].row_bytes, "%s row size", tt->name);
        float *got = malloc(sizeof(float) * r[i].cols);
        for (uint32_t row = 0; row < r[i].rows; row++) {
            calm_get_row(got, r[i].raw, r[i].type, (int)r[i].cols, (int)row);
            const float *want = r[i].want + (size_t)row * r[i].cols;
            for (uint32_t c = 0; c < r[i].cols; c++)
                cr_assert(fabsf(got[c] - want[c]) <= 1e-6f * fabsf(want[c]) + 1e-9f,
                          "%s row %u col %u: calm %g, llama.cpp %g", tt->name, row, c, got[c],
                          want[c]);
        }
        free(got);
    }
}

Test(quant_layouts, every_isa_dots_real_rows_exactly) {
    record r[16];
    int n = read_records(r, 16);
    const calm_isa *av[8];
    int na = calm_isa_available(av, 8);
    calm_isa resolved[8]; // an ISA that only adds kernels (amx) runs over its base's
    for (int i = 0; i < na; i++) calm_isa_resolve(&resolved[i], av[i]);
    for (int i = 0; i < n; i++) {
        int cols = (int)r[i].cols, rows = (int)r[i].rows;
        const calm_type_traits *tt = calm_type_get(r[i].type);
        float *x = malloc(sizeof(float) * cols), *xd = malloc(sizeof(float) * cols), y[8];
        block_q8x *q = malloc(sizeof(block_q8x) * (cols / 32));
        for (int c = 0; c < cols; c++) x[c] = sinf(0.37f * c) * (c % 11 == 0 ? 6.0f : 1.0f);
        calm_isa_scalar.quantize_q8x(x, q, cols);
        for (int c = 0; c < cols; c++) // the activations the kernel sees
            xd[c] = tt->vec_dot_type == CALM_ACT_Q8X ? q[c / 32].d * q[c / 32].qs[c % 32] : x[c];
        calm_packed p;
        int packed =
            calm_pack_supported(r[i].type) && calm_pack(&p, r[i].raw, r[i].type, rows, cols) == 0;
        for (int a = 0; a < na * 2; a++) { // each ISA's row kernels, then its panels if it has them
            const calm_isa *isa = &resolved[a % na];
            if (a < na) {
                calm_matmul_with(isa, y, x, r[i].raw, r[i].type, rows, cols, 1);
            } else {
                if (!packed || !calm_isa_packs(isa, r[i].type)) continue; // its panels' types
                for (int c = 0; c < cols; c++)
                    xd[c] = q[c / 32].d * q[c / 32].qs[c % 32]; // panels: q8x
                calm_mm m = {r[i].raw, r[i].type, rows, y, &p, NULL, 0};
                calm_matmul_many(isa, &m, 1, x, cols, 1);
            }
            for (int row = 0; row < rows; row++) {
                const float *w = r[i].want + (size_t)row * cols;
                double want = 0, mag = 0;
                for (int c = 0; c < cols; c++)
                    want += (double)w[c] * xd[c], mag += fabs((double)w[c] * xd[c]);
                cr_assert(fabs(y[row] - want) <= 2e-5 * mag + 1e-6, "%s %s%s row %d: %g vs %g",
                          isa->name, tt->name, a < na ? "" : " panels", row, y[row], want);
            }
        }
        if (packed) calm_packed_free(&p);
        free(x), free(xd), free(q);
    }
}
