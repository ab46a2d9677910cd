// calm_model + calm_tokenizer -> a Hugging Face directory (config, safetensors, tokenizer files).
#include "hf.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "safetensors.h"
#include "../kernels/types.h"

static int write_json(const char *dir, const char *name, cJSON *j, calm_err *e) {
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    FILE *f = fopen(path, "wb");
    int ok = s && f && fputs(s, f) >= 0;
    if (f && fclose(f)) ok = 0;
    free(s);
    return ok ? 0 : calm_fail(e, "%s: write failed: %s", path, strerror(errno));
}

static void convert_row(const void *src, uint32_t st, void *dst, uint32_t dt, int64_t n,
                        float *tmp) {
    calm_type_get(st)->to_float(src, tmp, n);
    for (int64_t i = 0; i < n; i++) {
        if (dt == CALM_TYPE_F32)
            ((float *)dst)[i] = tmp[i];
        else if (dt == CALM_TYPE_F16)
            ((calm_f16 *)dst)[i] = calm_f32_to_f16(tmp[i]);
        else
            ((calm_bf16 *)dst)[i] = calm_f32_to_bf16(tmp[i]);
    }
}

static cJSON *pre_tokenizer(calm_pre_kind k) {
    const char *j = "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,"
                    "\"use_regex\":true}";
    if (k == CALM_PRE_SMOLLM)
        j = "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Digits\",\"individual_digits\":"
            "true},"
            "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,\"use_"
            "regex\":true}]}";
    else if (k == CALM_PRE_LLAMA3)
        j = "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":"
            "\"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| "
            "?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"},"
            "\"behavior\":\"Isolated\",\"invert\":false},{\"type\":\"ByteLevel\",\"add_prefix_"
            "space\":false,\"trim_offsets\":true,\"use_regex\":false}]}";
    else if (k == CALM_PRE_QWEN2)
        j = "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":"
            "\"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}| "
            "?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"},"
            "\"behavior\":\"Isolated\",\"invert\":false},{\"type\":\"ByteLevel\",\"add_prefix_"
            "space\":false,\"trim_offsets\":false,\"use_regex\":false}]}";
    return cJSON_Parse(j);
}

static int write_tokenizer(const calm_tokenizer *t, const char *dir, calm_err *e) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "version", "1.0");
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
    for (int i = 0; i < t->n_vocab; i++) {
        if (t->type[i] != CALM_TT_CONTROL && t->type[i] != CALM_TT_USER) continue;
        cJSON *a = cJSON_CreateObject();
        cJSON_AddNumberToObject(a, "id", i);
        cJSON_AddStringToObject(a, "content", t->text[i]);
        cJSON_AddBoolToObject(a, "single_word", 0);
        cJSON_AddBoolToObject(a, "lstrip", 0);
        cJSON_AddBoolToObject(a, "rstrip", 0);
        cJSON_AddBoolToObject(a, "normalized", 0);
        cJSON_AddBoolToObject(a, "special", t->type[i] == CALM_TT_CONTROL);
        cJSON_AddItemToArray(added, a);
    }
    if (t->kind == CALM_TOK_BPE) {
        cJSON_AddItemToObject(root, "pre_tokenizer", pre_tokenizer(t->pre));
        cJSON_AddItemToObject(root, "decoder", cJSON_Parse("{\"type\":\"ByteLevel\"}"));
    }
    cJSON *model = cJSON_AddObjectToObject(root, "model");
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON_AddBoolToObject(model, "byte_fallback", t->kind == CALM_TOK_SPM);
    cJSON_AddBoolToObject(model, "ignore_merges", t->ignore_merges);
    cJSON *vocab = cJSON_AddObjectToObject(model, "vocab");
    for (int i = 0; i < t->n_vocab; i++)
        if (t->type[i] != CALM_TT_UNUSED || t->len[i] > 0)
            cJSON_AddNumberToObject(vocab, t->text[i], i);
    cJSON *merges = cJSON_AddArrayToObject(model, "merges");
    for (int i = 0; i < t->n_merge_text; i++)
        cJSON_AddItemToArray(merges, cJSON_CreateString(t->merge_text[i]));
    if (write_json(dir, "tokenizer.json", root, e)) return -1;

    cJSON *cfg = cJSON_CreateObject();
    cJSON_AddBoolToObject(cfg, "add_bos_token", t->add_bos);
    cJSON_AddBoolToObject(cfg, "add_eos_token", t->add_eos);
    if (t->bos >= 0) cJSON_AddStringToObject(cfg, "bos_token", t->text[t->bos]);
    if (t->eos >= 0) cJSON_AddStringToObject(cfg, "eos_token", t->text[t->eos]);
    if (t->unk >= 0) cJSON_AddStringToObject(cfg, "unk_token", t->text[t->unk]);
    if (t->chat_template) cJSON_AddStringToObject(cfg, "chat_template", t->chat_template);
    return write_json(dir, "tokenizer_config.json", cfg, e);
}

int calm_hf_write(const calm_model *m, const calm_tokenizer *t, uint32_t type, const char *dir,
                  calm_err *e) {
    if (mkdir(dir, 0755) && errno != EEXIST)
        return calm_fail(e, "%s: cannot create: %s", dir, strerror(errno));
    const calm_config *c = &m->cfg;
    cJSON *cfg = cJSON_CreateObject();
    const char *arch = !strcmp(c->arch, "qwen2") || !strcmp(c->arch, "qwen3") ? c->arch : "llama";
    cJSON *archs = cJSON_AddArrayToObject(cfg, "architectures");
    cJSON_AddItemToArray(archs, cJSON_CreateString(!strcmp(arch, "qwen2")   ? "Qwen2ForCausalLM"
                                                   : !strcmp(arch, "qwen3") ? "Qwen3ForCausalLM"
                                                                            : "LlamaForCausalLM"));
    cJSON_AddStringToObject(cfg, "model_type", arch);
    cJSON_AddNumberToObject(cfg, "hidden_size", c->dim);
    cJSON_AddNumberToObject(cfg, "intermediate_size", c->hidden_dim);
    cJSON_AddNumberToObject(cfg, "num_hidden_layers", c->n_layers);
    cJSON_AddNumberToObject(cfg, "num_attention_heads", c->n_heads);
    cJSON_AddNumberToObject(cfg, "num_key_value_heads", c->n_kv_heads);
    cJSON_AddNumberToObject(cfg, "head_dim", c->head_dim);
    cJSON_AddNumberToObject(cfg, "vocab_size", c->vocab_size);
    cJSON_AddNumberToObject(cfg, "max_position_embeddings", c->seq_len);
    cJSON_AddNumberToObject(cfg, "rms_norm_eps", c->norm_eps);
    cJSON_AddNumberToObject(cfg, "rope_theta", c->rope_theta);
    cJSON_AddBoolToObject(cfg, "tie_word_embeddings", c->tied_embeddings);
    cJSON_AddBoolToObject(cfg, "attention_bias", c->qkv_bias);
    cJSON_AddStringToObject(cfg, "hidden_act", "silu");
    cJSON_AddStringToObject(cfg, "torch_dtype",
                            type == CALM_TYPE_F32   ? "float32"
                            : type == CALM_TYPE_F16 ? "float16"
                                                    : "bfloat16");
    if (t->bos >= 0) cJSON_AddNumberToObject(cfg, "bos_token_id", t->bos);
    if (t->eos >= 0) cJSON_AddNumberToObject(cfg, "eos_token_id", t->eos);
    if (c->rope_factor > 0) {
        cJSON *rs = cJSON_AddObjectToObject(cfg, "rope_scaling");
        cJSON_AddStringToObject(rs, "rope_type", "llama3");
        cJSON_AddNumberToObject(rs, "factor", c->rope_factor);
        cJSON_AddNumberToObject(rs, "low_freq_factor", c->rope_low_freq);
        cJSON_AddNumberToObject(rs, "high_freq_factor", c->rope_high_freq);
        cJSON_AddNumberToObject(rs, "original_max_position_embeddings", c->rope_orig_ctx);
    }
    if (write_json(dir, "config.json", cfg, e)) return -1;

    st_wtensor *wt = calloc((size_t)m->n_tensors, sizeof *wt);
    void **bufs = calloc((size_t)m->n_tensors, sizeof *bufs);
    char(*names)[128] = calloc((size_t)m->n_tensors, 128);
    int n = 0, rc = 0, llama = c->rope_style == CALM_ROPE_NORM;
    if (!wt || !bufs || !names) rc = calm_fail(e, "%s: out of memory", dir);
    for (int i = 0; i < m->n_tensors && !rc; i++) {
        const calm_tensor *s = &m->tensors[i];
        if (calm_hf_name_from_gguf(s->name, names[n], 128)) continue; // rope_freqs: in config.json
        int vec = s->ne[1] == 1;
        uint32_t dt = vec ? CALM_TYPE_F32 : type; // norms and biases stay f32, as in GGUF
        int64_t rows = s->ne[1] * s->ne[2] * s->ne[3], cols = s->ne[0];
        size_t es = dt == CALM_TYPE_F32 ? 4 : 2, srow = calm_row_size(s->type, cols);
        uint8_t *buf = malloc((size_t)(rows * cols) * es);
        float *tmp = malloc((size_t)cols * sizeof(float));
        if (!buf || !tmp) {
            free(buf), free(tmp);
            rc = calm_fail(e, "%s: out of memory", dir);
            break;
        }
        int qk = llama && calm_hf_is_qk(s->name);
        for (int64_t r = 0; r < rows; r++) {
            int64_t dst = qk ? calm_hf_qk_row((int)r, c->head_dim) : r;
            convert_row((const uint8_t *)s->data + (size_t)r * srow, s->type,
                        buf + (size_t)(dst * cols) * es, dt, cols, tmp);
        }
        free(tmp);
        bufs[n] = buf;
        wt[n] = (st_wtensor){
            names[n], dt, vec ? 1 : 2, {vec ? cols : rows, cols}, buf, (size_t)(rows * cols) * es};
        n++;
    }
    char path[2048];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (!rc) rc = st_write(path, wt, n, e);
    for (int i = 0; i < n; i++) free(bufs[i]);
    free(bufs);
    free(wt);
    free(names);
    return rc ? rc : write_tokenizer(t, dir, e);
}
