#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "formats/safetensors.h"
#include "helpers.h"
#include "kernels/types.h"

static char *make(size_t *n) {
    static float a[6] = {1, 2, 3, 4, 5, 6};
    static uint16_t b[4];
    for (int i = 0; i < 4; i++) b[i] = calm_f32_to_bf16((float)i);
    st_wtensor t[2] = {{"a.weight", CALM_TYPE_F32, 2, {2, 3}, a, sizeof a},
                       {"b", CALM_TYPE_BF16, 1, {4}, b, sizeof b}};
    calm_err e;
    const char *p = th_tmp("x.safetensors");
    cr_assert_eq(st_write(p, t, 2, &e), 0, "%s", e.msg);
    return th_read(p, n);
}

Test(safetensors, roundtrip) {
    size_t n;
    char *buf = make(&n);
    st_file f;
    calm_err e;
    cr_assert_eq(st_parse(&f, buf, n, "x", &e), 0, "%s", e.msg);
    cr_assert_eq(f.n_tensors, 2);
    const st_tensor *a = !strcmp(f.tensors[0].name, "a.weight") ? &f.tensors[0] : &f.tensors[1];
    cr_assert(a->shape[0] == 2 && a->shape[1] == 3 && ((const float *)a->data)[5] == 6.0f);
    st_close(&f);
    free(buf);
}

Test(safetensors, truncated_and_corrupt) {
    size_t n;
    char *buf = make(&n);
    st_file f;
    calm_err e;
    for (size_t len = 0; len < n; len++) {
        char *c = malloc(len ? len : 1);
        memcpy(c, buf, len);
        cr_assert_neq(st_parse(&f, c, len, "cut.safetensors", &e), 0, "length %zu accepted", len);
        cr_assert(strstr(e.msg, "cut.safetensors"), "%s", e.msg);
        st_close(&f);
        free(c);
    }
    char *c = malloc(n);
    memcpy(c, buf, n);
    uint64_t huge = 1ull << 60;
    memcpy(c, &huge, 8);
    cr_assert_neq(st_parse(&f, c, n, "hdr", &e), 0);
    cr_assert(strstr(e.msg, "does not fit"), "%s", e.msg);
    memcpy(c, buf, n);
    char *off = strstr(c + 8, "\"data_offsets\":[0,24]");
    cr_assert(off);
    memcpy(off, "\"data_offsets\":[0,28]", 21);
    cr_assert_neq(st_parse(&f, c, n, "offs", &e), 0);
    cr_assert(strstr(e.msg, "data_offsets"), "%s", e.msg);
    memcpy(c, buf, n);
    c[8] = '[';
    cr_assert_neq(st_parse(&f, c, n, "json", &e), 0);
    free(c);
    free(buf);
}
