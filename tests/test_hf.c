// The Hugging Face reader and writer: calm convert --format hf, then both load to the same logits.
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/tokenizer.h"
#include "helpers.h"
#include "formats/safetensors.h"
#include "formats/vocab.h"
#include "kernels/types.h"
#include "runtime/forward.h"

// A fresh directory `name` in the test's temporary one; path gets the path of `file` in it.
static const char *fresh_dir(const char *name, const char *file, char *path, size_t cap) {
    const char *dir = th_tmp(name);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s", dir, dir);
    cr_assert_eq(system(cmd), 0);
    snprintf(path, cap, "%s/%s", dir, file);
    return dir;
}

static float *logits_of(const char *path, calm_tokenizer *tok_out, int *n_vocab) {
    calm_model m;
    calm_tokenizer tok;
    calm_err e;
    cr_assert_eq(calm_model_load(&m, path, &e), 0, "%s", e.msg);
    cr_assert_eq(calm_tokenizer_from_model(&tok, &m, &e), 0, "%s", e.msg);
    const char *text = "<|im_start|>user\nName three colours.<|im_end|>\n";
    int *ids;
    long k = calm_tokenize(&tok, text, strlen(text), 1, 1, &ids);
    calm_state s;
    cr_assert_eq(calm_state_init(&s, &m, 64, 64, &e), 0);
    float *l = calm_forward(&s, ids, (int)k, 0, &e);
    cr_assert_not_null(l);
    *n_vocab = m.cfg.vocab_size;
    float *copy = malloc((size_t)*n_vocab * sizeof(float));
    memcpy(copy, l, (size_t)*n_vocab * sizeof(float));
    calm_state_free(&s);
    free(ids);
    if (tok_out)
        *tok_out = tok;
    else
        calm_tokenizer_free(&tok);
    calm_model_free(&m);
    return copy;
}

Test(hf, gguf_and_hf_give_identical_logits, .timeout = 600) {
    char out[256], err[4096];
    const char *dir = th_tmp("hf-f32");
    char args[1024];
    snprintf(args, sizeof args, "convert -m %s -o %s --format hf", CALM_MODEL_F32, dir);
    cr_assert_eq(th_calm(args, out, sizeof out, err, sizeof err), 0, "%s", err);
    int va, vb;
    calm_tokenizer ta, tb;
    float *a = logits_of(CALM_MODEL_F32, &ta, &va);
    float *b = logits_of(dir, &tb, &vb);
    cr_assert_eq(va, vb);
    for (int j = 0; j < va; j++) cr_assert_eq(a[j], b[j], "logit %d: %g vs %g", j, a[j], b[j]);
    // The tokenizer survives the trip through tokenizer.json.
    cr_assert_eq(ta.v.n_tokens, tb.v.n_tokens);
    cr_assert_eq(ta.pre, tb.pre);
    cr_assert_eq(ta.v.eos, tb.v.eos);
    const char *s = "Tokenizers: 12345, naïve, <|im_end|>  spaces\n";
    int *ia, *ib;
    long ka = calm_tokenize(&ta, s, strlen(s), 1, 1, &ia),
         kb = calm_tokenize(&tb, s, strlen(s), 1, 1, &ib);
    cr_assert(ka == kb && memcmp(ia, ib, (size_t)ka * sizeof(int)) == 0);
    free(ia), free(ib), free(a), free(b);
    calm_tokenizer_free(&ta);
    calm_tokenizer_free(&tb);
}

Test(hf, bf16_directory_and_gguf_back, .timeout = 600) {
    char out[256], err[4096], args[1024];
    const char *dir = th_tmp("hf-bf16");
    snprintf(args, sizeof args, "convert -m %s -o %s --format hf --type bf16", CALM_MODEL_Q41, dir);
    cr_assert_eq(th_calm(args, out, sizeof out, err, sizeof err), 0, "%s", err);
    char gguf[512];
    snprintf(gguf, sizeof gguf, "%s", th_tmp("from-hf.gguf"));
    snprintf(args, sizeof args, "convert -m %s -o %s --type bf16", dir, gguf);
    cr_assert_eq(th_calm(args, out, sizeof out, err, sizeof err), 0, "%s", err);
    int va, vb;
    float *a = logits_of(dir, NULL, &va);
    float *b = logits_of(gguf, NULL, &vb);
    for (int j = 0; j < va; j++) cr_assert_eq(a[j], b[j], "logit %d", j);
    free(a), free(b);
}

Test(hf, bad_directories_are_refused) {
    calm_model m;
    calm_err e;
    const char *dir = th_tmp("hf-bad");
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
    cr_assert_eq(system(cmd), 0);
    cr_assert_neq(calm_model_load(&m, dir, &e), 0);
    cr_assert(strstr(e.msg, "config.json"), "%s", e.msg);
    char p[600];
    snprintf(p, sizeof p, "%s/config.json", dir);
    th_write(p, "{\"model_type\": \"llama\", \"hidden_size\": ", 39);
    cr_assert_neq(calm_model_load(&m, dir, &e), 0);
    cr_assert(strstr(e.msg, "invalid JSON"), "%s", e.msg);
    th_write(p, "{\"model_type\": \"gpt_neox\"}", 26);
    cr_assert_neq(calm_model_load(&m, dir, &e), 0);
    cr_assert(strstr(e.msg, "not supported"), "%s", e.msg);
}

// A small llama config.json with extra keys.
#define TINY_CONFIG(extra)                                                                         \
    "{\"model_type\": \"llama\", \"hidden_size\": 4, \"intermediate_size\": 4, "                   \
    "\"num_hidden_layers\": 1, \"num_attention_heads\": 1" extra "}"

Test(hf, wrong_typed_config_keys_fail_naming_them) {
    calm_model m;
    calm_err e;
    char p[600];
    const char *dir = fresh_dir("hf-typed", "config.json", p, sizeof p);
    static const struct {
        const char *json, *key, *found;
    } cases[] = {
        {"{\"model_type\": \"llama\", \"rms_norm_eps\": \"x\"}", "'rms_norm_eps'", "a string"},
        {"{\"model_type\": \"llama\", \"hidden_size\": true}", "'hidden_size'", "a boolean"},
        {"{\"model_type\": \"llama\", \"num_hidden_layers\": 2.5}", "'num_hidden_layers'",
         "whole number"},
        {"{\"model_type\": 3}", "'model_type'", "a number"},
        {"{\"model_type\": \"llama\", \"rope_scaling\": {\"rope_type\": \"llama3\", "
         "\"factor\": \"8\"}}",
         "'factor'", "a string"},
        // values the forward pass cannot use: a non-positive epsilon or rope base, no heads
        {TINY_CONFIG(", \"rms_norm_eps\": 0"), "'rms_norm_eps'",
         "is 0, expected a positive number"},
        {TINY_CONFIG(", \"rope_theta\": -1"), "'rope_theta'", "is -1, expected a positive number"},
        {"{\"model_type\": \"llama\", \"hidden_size\": 4, \"intermediate_size\": 4, "
         "\"num_hidden_layers\": 1, \"num_attention_heads\": 0}",
         "'num_attention_heads'", "is 0, expected a positive number"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        th_write(p, cases[i].json, strlen(cases[i].json));
        cr_assert_neq(calm_model_load(&m, dir, &e), 0, "%s", cases[i].json);
        cr_assert(strstr(e.msg, "config.json") && strstr(e.msg, cases[i].key) &&
                      strstr(e.msg, cases[i].found),
                  "%s: %s", cases[i].json, e.msg);
    }
    const char *no_layers = "{\"model_type\": \"llama\", \"hidden_size\": 64, "
                            "\"intermediate_size\": 128, \"num_attention_heads\": 4}";
    th_write(p, no_layers, strlen(no_layers));
    cr_assert_neq(calm_model_load(&m, dir, &e), 0);
    cr_assert(strstr(e.msg, "config.json: missing key 'num_hidden_layers'"), "%s", e.msg);
}

// Token ids that are not integers in [0, 2^24) fail naming the token, in vocab and added_tokens,
// instead of being cast to int (1e10 and a later 0 once overflowed the vocabulary).
Test(hf, tokenizer_ids_out_of_range_are_refused) {
    char p[600];
    const char *dir = fresh_dir("hf-ids", "tokenizer.json", p, sizeof p);
    static const struct {
        const char *json, *says;
    } cases[] = {
        {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":1e10,\"b\":0},\"merges\":[]}}",
         "vocab token 'a' has id 1e+10"},
        {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":1e300},\"merges\":[]}}",
         "vocab token 'a' has id 1e+300"},
        {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":-1},\"merges\":[]}}", "has id -1"},
        {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0.5},\"merges\":[]}}", "has id 0.5"},
        {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":\"0\"},\"merges\":[]}}",
         "vocab token 'a' has no numeric id"},
        {"{\"added_tokens\":[{\"id\":16777216,\"content\":\"<x>\"}],"
         "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}",
         "added token '<x>' has id 1.67772e+07"},
        {"{\"added_tokens\":[{\"content\":\"<x>\"}],"
         "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}",
         "added token '<x>' has no numeric id"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        th_write(p, cases[i].json, strlen(cases[i].json));
        calm_vocab v;
        calm_err e;
        cr_assert_neq(calm_vocab_from_hf(&v, dir, &e), 0, "%s", cases[i].json);
        cr_assert(strstr(e.msg, "tokenizer.json") && strstr(e.msg, cases[i].says), "%s: %s",
                  cases[i].json, e.msg);
    }
    const char *ok = "{\"added_tokens\":[{\"id\":2,\"content\":\"<x>\",\"special\":true}],"
                     "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":1,\"b\":0},\"merges\":[]}}";
    th_write(p, ok, strlen(ok));
    calm_vocab v;
    calm_err e;
    cr_assert_eq(calm_vocab_from_hf(&v, dir, &e), 0, "%s", e.msg);
    cr_assert_eq(v.n_tokens, 3);
    cr_assert_str_eq(v.text[1], "a");
    cr_assert_str_eq(v.text[2], "<x>");
    calm_vocab_free(&v);
}

// A small llama config.json and one safetensors file per entry of shards (each holding the named
// f32 tensors of 4 x 4) in a fresh directory `name`; returns the directory.
static const char *tiny_hf(const char *name, const char *config, const char *const shards[][3],
                           int n_shards) {
    char p[700];
    const char *dir = fresh_dir(name, "config.json", p, sizeof p);
    th_write(p, config, strlen(config));
    static float w[16];
    for (int s = 0; s < n_shards; s++) {
        st_wtensor t[3];
        int n = 0;
        for (; n < 3 && shards[s][n]; n++)
            t[n] = (st_wtensor){shards[s][n], CALM_TYPE_F32, 2, {4, 4}, w, sizeof w};
        snprintf(p, sizeof p, "%s/model-%d.safetensors", dir, s);
        calm_err e;
        cr_assert_eq(st_write(p, t, n, &e), 0, "%s", e.msg);
    }
    return dir;
}

// lm_head missing while tie_word_embeddings is false once reused the embeddings; a tensor in two
// shards was taken from whichever the directory listing gave first.
Test(hf, missing_lm_head_and_duplicate_tensors_are_refused) {
    calm_model m;
    calm_err e;
    static const char *const one[][3] = {{"model.embed_tokens.weight", NULL, NULL}};
    const char *dir = tiny_hf("hf-untied", TINY_CONFIG(", \"tie_word_embeddings\": false"), one, 1);
    cr_assert_neq(calm_model_load(&m, dir, &e), 0);
    cr_assert(strstr(e.msg, "tie_word_embeddings is false but lm_head.weight is missing"), "%s",
              e.msg);
    static const char *const two[][3] = {{"model.embed_tokens.weight", "lm_head.weight", NULL},
                                         {"lm_head.weight", NULL, NULL}};
    dir = tiny_hf("hf-dup", TINY_CONFIG(""), two, 2);
    cr_assert_neq(calm_model_load(&m, dir, &e), 0);
    cr_assert(strstr(e.msg, "tensor 'lm_head.weight' is in two shards"), "%s", e.msg);
}

// Fractional data_offsets (and shapes) were truncated to whole bytes.
Test(hf, fractional_data_offsets_are_refused) {
    static const char *const hdrs[] = {
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0.5,8.5]}}",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}",
    };
    for (int i = 0; i < 2; i++) {
        char buf[256] = {0};
        uint64_t hl = strlen(hdrs[i]);
        memcpy(buf, &hl, 8);
        memcpy(buf + 8, hdrs[i], hl);
        st_file f;
        calm_err e;
        cr_assert_neq(st_parse(&f, buf, 8 + hl + 16, "frac.safetensors", &e), 0, "%s", hdrs[i]);
        cr_assert(strstr(e.msg, "frac.safetensors: tensor 'a'"), "%s", e.msg);
        st_close(&f);
    }
}

// Tensors whose data overlap are refused naming both.
Test(hf, overlapping_tensor_data_is_refused) {
    const char *h = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                    "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
    char buf[512] = {0};
    uint64_t hl = strlen(h);
    memcpy(buf, &hl, 8);
    memcpy(buf + 8, h, hl);
    st_file f;
    calm_err e;
    cr_assert_neq(st_parse(&f, buf, 8 + hl + 16, "overlap.safetensors", &e), 0);
    cr_assert(strstr(e.msg, "overlap.safetensors: tensors 'a' and 'b' overlap"), "%s", e.msg);
    st_close(&f);
}
