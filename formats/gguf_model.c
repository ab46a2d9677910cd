#include "gguf_model.h"

#include <stdio.h>
#include <string.h>

// GGUF metadata for a model that came from an HF directory.
static void metadata_from_config(gguf_writer *w, const calm_model *m, const calm_tokenizer *t) {
    const calm_config *c = &m->cfg;
    const char *a = c->arch;
    char k[128];
#define KEY(s) (snprintf(k, sizeof k, "%s.%s", a, s), k)
    gguf_w_str(w, "general.architecture", a);
    gguf_w_u32(w, KEY("block_count"), (uint32_t)c->n_layers);
    gguf_w_u32(w, KEY("context_length"), (uint32_t)c->seq_len);
    gguf_w_u32(w, KEY("embedding_length"), (uint32_t)c->dim);
    gguf_w_u32(w, KEY("feed_forward_length"), (uint32_t)c->hidden_dim);
    gguf_w_u32(w, KEY("attention.head_count"), (uint32_t)c->n_heads);
    gguf_w_u32(w, KEY("attention.head_count_kv"), (uint32_t)c->n_kv_heads);
    gguf_w_u32(w, KEY("attention.key_length"), (uint32_t)c->head_dim);
    gguf_w_u32(w, KEY("attention.value_length"), (uint32_t)c->head_dim);
    gguf_w_u32(w, KEY("rope.dimension_count"), (uint32_t)c->head_dim);
    gguf_w_u32(w, KEY("vocab_size"), (uint32_t)c->vocab_size);
    gguf_w_f32(w, KEY("rope.freq_base"), c->rope_theta);
    gguf_w_f32(w, KEY("attention.layer_norm_rms_epsilon"), c->norm_eps);
#undef KEY
    static const char *pre[] = {"gpt2", "smollm", "llama-bpe", "qwen2"};
    gguf_w_str(w, "tokenizer.ggml.model", t->kind == CALM_TOK_BPE ? "gpt2" : "llama");
    if (t->kind == CALM_TOK_BPE) gguf_w_str(w, "tokenizer.ggml.pre", pre[t->pre]);
    gguf_w_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)t->text, (uint64_t)t->n_vocab);
    gguf_w_arr(w, "tokenizer.ggml.scores", GGUF_F32, t->scores, (uint64_t)t->n_vocab);
    gguf_w_arr(w, "tokenizer.ggml.token_type", GGUF_I32, t->type, (uint64_t)t->n_vocab);
    if (t->n_merge_text)
        gguf_w_arr_str(w, "tokenizer.ggml.merges", (const char *const *)t->merge_text,
                       (uint64_t)t->n_merge_text);
    if (t->bos >= 0) gguf_w_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)t->bos);
    if (t->eos >= 0) gguf_w_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)t->eos);
    if (t->unk >= 0) gguf_w_u32(w, "tokenizer.ggml.unknown_token_id", (uint32_t)t->unk);
    gguf_w_bool(w, "tokenizer.ggml.add_bos_token", t->add_bos);
    gguf_w_bool(w, "tokenizer.ggml.add_space_prefix", t->add_space_prefix);
    if (t->chat_template) gguf_w_str(w, "tokenizer.chat_template", t->chat_template);
}

void calm_gguf_model_metadata(gguf_writer *w, const calm_model *m, const calm_tokenizer *t) {
    if (m->gguf.map) {
        for (uint64_t i = 0; i < m->gguf.n_kv; i++) {
            gguf_str k = m->gguf.kv[i].key;
            if (gguf_str_eq(k, "general.file_type") ||
                gguf_str_eq(k, "general.quantization_version") ||
                (k.len >= 5 && memcmp(k.ptr, "calm.", 5) == 0))
                continue;
            gguf_w_copy(w, &m->gguf.kv[i]);
        }
    } else {
        metadata_from_config(w, m, t);
    }
}
