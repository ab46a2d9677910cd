// Architectures no packaged model covers, against transformers: tiny random Llama 3 (rope scaling,
// untied embeddings, GQA), Qwen2 (QKV bias, NeoX rope) and Qwen3 (QK-norm, head_dim != dim/heads)
// made by tests/ref/make_tiny_models.py, with the logits transformers computed for them.
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "helpers.h"
#include "runtime/forward.h"

static void check(const char *name, const char *expect_feature) {
    char dir[512], ref[600];
    snprintf(dir, sizeof dir, CALM_SOURCE_DIR "/tests/ref/data/tiny/%s", name);
    snprintf(ref, sizeof ref, "%s/reference.json", dir);
    cJSON *j = cJSON_Parse(th_read(ref, NULL));
    cr_assert_not_null(j);
    cJSON *tk = cJSON_GetObjectItem(j, "tokens"), *lg = cJSON_GetObjectItem(j, "logits");
    int n = cJSON_GetArraySize(tk), toks[64];
    for (int i = 0; i < n; i++) toks[i] = cJSON_GetArrayItem(tk, i)->valueint;
    calm_model m;
    calm_err e;
    cr_assert_eq(calm_model_load(&m, dir, &e), 0, "%s", e.msg);
    if (!strcmp(expect_feature, "bias")) cr_assert(m.cfg.qkv_bias);
    if (!strcmp(expect_feature, "qk_norm")) cr_assert(m.cfg.qk_norm && m.cfg.head_dim == 32);
    if (!strcmp(expect_feature, "rope_scaling"))
        cr_assert(m.rope_freqs.data && !m.cfg.tied_embeddings);
    calm_state s;
    cr_assert_eq(calm_state_init(&s, &m, 64, n, &e), 0);
    float *l = calm_forward(&s, toks, n, 1, &e);
    cr_assert_not_null(l, "%s", e.msg);
    float md = 0;
    for (int i = 0; i < n; i++) {
        cJSON *row = cJSON_GetArrayItem(lg, i);
        for (int v = 0; v < m.cfg.vocab_size; v++)
            md = fmaxf(md, fabsf((float)cJSON_GetArrayItem(row, v)->valuedouble -
                                 l[i * m.cfg.vocab_size + v]));
    }
    cr_log_info("%s: max |logit difference| %.3g over %d positions", name, md, n);
    cr_assert_lt(md, 1e-4f, "%s: max difference %g", name, md);
    calm_state_free(&s);
    calm_model_free(&m);
    cJSON_Delete(j);
}

Test(archs, llama3_rope_scaling_untied) {
    check("tiny-llama3", "rope_scaling");
}
Test(archs, qwen2_qkv_bias) {
    check("tiny-qwen2", "bias");
}
Test(archs, qwen3_qk_norm) {
    check("tiny-qwen3", "qk_norm");
}
