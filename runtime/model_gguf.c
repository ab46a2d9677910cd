#include "model_gguf.h"

#include <stdio.h>
#include <string.h>

#include "config.h"

// GGUF metadata for a model that came from an HF directory.
static void metadata_from_config(gguf_writer *w, const calm_model *m, const calm_tokenizer *t) {
    calm_config_to_gguf(w, &m->cfg);
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
