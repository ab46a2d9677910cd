// The GGUF reader on files the writer made, on truncated and corrupted copies, and on the real
// model.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "formats/gguf.h"
#include "helpers.h"
#include "kernels/types.h"
#include "runtime/config.h"
#include "runtime/model.h"

static uint8_t *small_file(size_t *n) {
    gguf_writer w;
    gguf_writer_init(&w);
    gguf_w_str(&w, "general.architecture", "llama");
    gguf_w_u32(&w, "llama.block_count", 2);
    gguf_w_f32(&w, "llama.rope.freq_base", 10000.5f);
    gguf_w_bool(&w, "flag", 1);
    int32_t arr[3] = {-1, 2, 3};
    gguf_w_arr(&w, "ints", GGUF_I32, arr, 3);
    const char *strs[] = {"a", "", "ünï"};
    gguf_w_arr_str(&w, "strs", strs, 3);
    static float t1[64], t2[8];
    for (int i = 0; i < 64; i++) t1[i] = (float)i;
    int64_t ne1[2] = {8, 8}, ne2[1] = {8};
    gguf_w_tensor(&w, "t1", CALM_TYPE_F32, ne1, 2, t1, sizeof t1);
    gguf_w_tensor(&w, "t2", CALM_TYPE_F32, ne2, 1, t2, sizeof t2);
    calm_err e;
    const char *path = th_tmp("small.gguf");
    cr_assert_eq(gguf_writer_write(&w, path, &e), 0, "%s", e.msg);
    gguf_writer_free(&w);
    return (uint8_t *)th_read(path, n);
}

// small_file parsed into g; the image (to free after gguf_close) is returned.
static uint8_t *parsed_small_file(gguf_file *g) {
    size_t n;
    uint8_t *buf = small_file(&n);
    calm_err e;
    cr_assert_eq(gguf_parse(g, buf, n, "small.gguf", &e), 0, "%s", e.msg);
    return buf;
}

Test(gguf, writer_reader_roundtrip) {
    gguf_file g;
    uint8_t *buf = parsed_small_file(&g);
    uint32_t u;
    float f;
    char s[32];
    int b;
    cr_assert_eq(g.version, 3);
    cr_assert(gguf_get_u32(&g, "llama.block_count", &u, NULL) == 0 && u == 2);
    cr_assert(gguf_get_f32(&g, "llama.rope.freq_base", &f, NULL) == 0 && f == 10000.5f);
    cr_assert(gguf_get_str(&g, "general.architecture", s, sizeof s, NULL) == 0 &&
              !strcmp(s, "llama"));
    cr_assert(gguf_get_bool(&g, "flag", &b, NULL) == 0 && b == 1);
    const gguf_kv *a = gguf_find(&g, "ints");
    int32_t first; // array data sits unaligned in the file
    cr_assert(a && a->v.arr.n == 3);
    memcpy(&first, a->v.arr.data, 4);
    cr_assert_eq(first, -1);
    const gguf_kv *st = gguf_find(&g, "strs");
    cr_assert(st && st->v.arr.n == 3 && gguf_str_eq(st->v.arr.strs[2], "ünï"));
    const gguf_tensor *t = gguf_find_tensor(&g, "t1");
    cr_assert(t && t->ne[0] == 8 && t->ne[1] == 8 && ((const float *)t->data)[63] == 63.0f);
    cr_assert_eq((uintptr_t)((const uint8_t *)t->data - buf) % 32, 0, "tensor data is aligned");
    gguf_close(&g);
    free(buf);
}

Test(gguf, every_truncation_is_refused) {
    size_t n;
    uint8_t *buf = small_file(&n);
    for (size_t len = 0; len < n; len++) {
        uint8_t *cut = malloc(len ? len : 1); // exact size, so ASan sees any overread
        memcpy(cut, buf, len);
        gguf_file g;
        calm_err e = {{0}};
        cr_assert_neq(gguf_parse(&g, cut, len, "cut.gguf", &e), 0, "length %zu accepted", len);
        cr_assert(strstr(e.msg, "cut.gguf") != NULL, "message names the file: %s", e.msg);
        gguf_close(&g);
        free(cut);
    }
    free(buf);
}

Test(gguf, bit_flips_never_crash) {
    size_t n;
    uint8_t *buf = small_file(&n);
    uint8_t *c = malloc(n);
    srand(7);
    int refused = 0;
    for (int trial = 0; trial < 3000; trial++) {
        memcpy(c, buf, n);
        size_t header = n - 64 * 4 - 8 * 4; // flip bits in the metadata and tensor infos
        for (int k = 0; k < 1 + trial % 3; k++)
            c[(size_t)rand() % header] ^= (uint8_t)(1u << (rand() % 8));
        gguf_file g;
        calm_err e = {{0}};
        if (gguf_parse(&g, c, n, "flip.gguf", &e)) {
            refused++;
            cr_assert(e.msg[0] != 0);
        } else { // accepted: every tensor must lie inside the buffer
            for (uint64_t i = 0; i < g.n_tensors; i++)
                cr_assert((const uint8_t *)g.tensors[i].data + g.tensors[i].nbytes <= c + n);
        }
        gguf_close(&g);
    }
    cr_assert_gt(refused, 100);
    free(c);
    free(buf);
}

static void patch_u64(uint8_t *b, size_t off, uint64_t v) {
    memcpy(b + off, &v, 8);
}

Test(gguf, oversized_counts_are_refused) {
    size_t n;
    uint8_t *buf = small_file(&n);
    gguf_file g;
    calm_err e;
    patch_u64(buf, 8, UINT64_MAX / 2); // tensor count
    cr_assert_neq(gguf_parse(&g, buf, n, "big.gguf", &e), 0);
    cr_assert(strstr(e.msg, "cannot fit"), "%s", e.msg);
    gguf_close(&g);
    free(buf);
    buf = small_file(&n);
    patch_u64(buf, 16, 1ull << 40); // key/value count
    cr_assert_neq(gguf_parse(&g, buf, n, "big.gguf", &e), 0);
    gguf_close(&g);
    // the first key's length
    patch_u64(buf, 16, 6);
    patch_u64(buf, 24, 1ull << 62);
    cr_assert_neq(gguf_parse(&g, buf, n, "big.gguf", &e), 0);
    cr_assert(strstr(e.msg, "truncated"), "%s", e.msg);
    gguf_close(&g);
    memcpy(buf, "GGUX", 4);
    cr_assert_neq(gguf_parse(&g, buf, n, "bad.gguf", &e), 0);
    cr_assert(strstr(e.msg, "bad magic"), "%s", e.msg);
    gguf_close(&g);
    free(buf);
}

Test(gguf, real_model_and_its_truncations) {
    gguf_file g;
    calm_err e;
    cr_assert_eq(gguf_open(&g, CALM_MODEL_Q41, &e), 0, "%s", e.msg);
    cr_assert_eq(g.n_tensors, 272);
    uint32_t n;
    cr_assert(gguf_get_u32(&g, "llama.block_count", &n, NULL) == 0 && n == 30);
    const gguf_kv *tok = gguf_find(&g, "tokenizer.ggml.tokens");
    cr_assert(tok && tok->v.arr.n == 49152);
    size_t size = g.size;
    // Truncations at points that cut metadata, tensor infos and the data section.
    size_t cuts[] = {3, 100, 5000, 1000000, 1800000, size / 2, size - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        uint8_t *c = malloc(cuts[i]);
        memcpy(c, g.map, cuts[i]);
        gguf_file t;
        cr_assert_neq(gguf_parse(&t, c, cuts[i], "trunc.gguf", &e), 0, "cut at %zu accepted",
                      cuts[i]);
        gguf_close(&t);
        free(c);
    }
    gguf_close(&g);
}

Test(gguf, wrong_typed_keys_fail_naming_key_and_types) {
    gguf_file g;
    uint8_t *buf = parsed_small_file(&g);
    calm_err e = {{0}};
    uint32_t u = 7;
    cr_assert_eq(gguf_get_u32(&g, "general.architecture", &u, &e), -1);
    cr_assert(strstr(e.msg, "general.architecture") && strstr(e.msg, "string") &&
                  strstr(e.msg, "u32"),
              "%s", e.msg);
    cr_assert_eq(u, 7);
    cr_assert_eq(gguf_get_u32(&g, "absent", &u, &e), 1, "an absent key is not an error");
    cr_assert_eq(u, 7, "an absent key leaves the default");
    cr_assert_eq(gguf_require(gguf_get_u32(&g, "absent", &u, &e), &g, "absent", &e), -1);
    cr_assert(strstr(e.msg, "missing key 'absent'"), "%s", e.msg);
    float f;
    int b;
    char s[8];
    cr_assert_eq(gguf_get_f32(&g, "strs", &f, &e), -1);
    cr_assert(strstr(e.msg, "'strs' has type array"), "%s", e.msg);
    cr_assert_eq(gguf_get_bool(&g, "llama.block_count", &b, &e), -1);
    cr_assert(strstr(e.msg, "type u32, expected bool"), "%s", e.msg);
    cr_assert_eq(gguf_get_str(&g, "flag", s, sizeof s, &e), -1);
    cr_assert(strstr(e.msg, "type bool, expected string"), "%s", e.msg);
    gguf_close(&g);
    free(buf);

    // The model loader stops at the key instead of falling back to a default.
    gguf_writer w;
    gguf_writer_init(&w);
    gguf_w_str(&w, "general.architecture", "llama");
    gguf_w_str(&w, "llama.embedding_length", "576");
    const char *path = th_tmp("string-dim.gguf");
    cr_assert_eq(gguf_writer_write(&w, path, &e), 0, "%s", e.msg);
    gguf_writer_free(&w);
    calm_model m;
    cr_assert_neq(calm_model_load(&m, path, &e), 0);
    cr_assert(strstr(e.msg, "string-dim.gguf") && strstr(e.msg, "'llama.embedding_length'") &&
                  strstr(e.msg, "type string") && strstr(e.msg, "u32"),
              "%s", e.msg);
    // A required key that is absent is named too, not replaced by a default.
    gguf_writer_init(&w);
    gguf_w_str(&w, "general.architecture", "llama");
    gguf_w_u32(&w, "llama.embedding_length", 64);
    path = th_tmp("no-layers.gguf");
    cr_assert_eq(gguf_writer_write(&w, path, &e), 0, "%s", e.msg);
    gguf_writer_free(&w);
    cr_assert_neq(calm_model_load(&m, path, &e), 0);
    cr_assert(strstr(e.msg, "missing key 'llama.feed_forward_length'"), "%s", e.msg);
}

// Tensors whose data overlap (one pointing at another's bytes) are refused naming both.
Test(gguf, overlapping_tensor_data_is_refused) {
    size_t n;
    uint8_t *buf = small_file(&n);
    // t2's tensor info: name length 2, "t2", 1 dimension, ne 8, type, then its offset
    static const uint8_t name[] = {2, 0, 0, 0, 0, 0, 0, 0, 't', '2'};
    uint8_t *at = memmem(buf, n, name, sizeof name);
    cr_assert_not_null(at);
    uint64_t zero = 0, off;
    uint8_t *field = at + sizeof name + 4 + 8 + 4;
    memcpy(&off, field, 8);
    cr_assert_eq(off, 256, "t1 takes 256 bytes, so t2 starts at 256");
    memcpy(field, &zero, 8);
    gguf_file g;
    calm_err e;
    cr_assert_neq(gguf_parse(&g, buf, n, "overlap.gguf", &e), 0);
    cr_assert(strstr(e.msg, "overlap.gguf: tensors 't") && strstr(e.msg, "overlap"), "%s", e.msg);
    gguf_close(&g);
    off = 128; // inside t1
    memcpy(field, &off, 8);
    cr_assert_neq(gguf_parse(&g, buf, n, "overlap.gguf", &e), 0);
    cr_assert(strstr(e.msg, "tensors 't1' (256 bytes at 0) and 't2' (at 128) overlap"), "%s",
              e.msg);
    gguf_close(&g);
    free(buf);
}

// Hyper-parameters the forward pass cannot use fail naming the key, instead of computing garbage.
Test(gguf, unusable_hyper_parameters_are_refused) {
    static const struct {
        const char *key;
        float v;
        const char *says;
    } cases[] = {
        {"llama.rope.freq_base", 0, "key 'llama.rope.freq_base' is 0, expected a positive number"},
        {"llama.rope.freq_base", -10000, "'llama.rope.freq_base' is -10000"},
        {"llama.attention.layer_norm_rms_epsilon", NAN,
         "'llama.attention.layer_norm_rms_epsilon' is nan"},
        {"llama.attention.layer_norm_rms_epsilon", 0,
         "'llama.attention.layer_norm_rms_epsilon' is 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        static const char *const counts[] = {"llama.embedding_length", "llama.feed_forward_length",
                                             "llama.block_count", "llama.attention.head_count"};
        gguf_writer w;
        gguf_writer_init(&w);
        gguf_w_str(&w, "general.architecture", "llama");
        for (int k = 0; k < 4; k++) gguf_w_u32(&w, counts[k], 4);
        gguf_w_f32(&w, cases[i].key, cases[i].v);
        calm_err e;
        const char *path = th_tmp("hparams.gguf");
        cr_assert_eq(gguf_writer_write(&w, path, &e), 0, "%s", e.msg);
        gguf_writer_free(&w);
        gguf_file g;
        cr_assert_eq(gguf_open(&g, path, &e), 0, "%s", e.msg);
        calm_config c;
        cr_assert_neq(calm_config_from_gguf(&c, &g, &e), 0, "%s", cases[i].key);
        cr_assert(strstr(e.msg, cases[i].says), "%s", e.msg);
        gguf_close(&g);
    }
}
