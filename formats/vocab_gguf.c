// GGUF's tokenizer.ggml.* keys <-> calm_vocab.
#include "vocab.h"

#include <stdlib.h>
#include <string.h>

static char *dupn(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

// The arrays of tokens, scores and types, each checked for its element type and length.
static int read_tokens(calm_vocab *v, const gguf_file *g, calm_err *e) {
    const gguf_kv *tok = gguf_find(g, "tokenizer.ggml.tokens");
    if (!tok || tok->type != GGUF_ARRAY || tok->v.arr.type != GGUF_STRING || tok->v.arr.n == 0 ||
        tok->v.arr.n > (1u << 24))
        return calm_fail(e, "%s: tokenizer.ggml.tokens missing or not a string array", g->path);
    int n = (int)tok->v.arr.n;
    const gguf_kv *sc = gguf_find(g, "tokenizer.ggml.scores");
    const gguf_kv *ty = gguf_find(g, "tokenizer.ggml.token_type");
    if (sc && (sc->type != GGUF_ARRAY || sc->v.arr.type != GGUF_F32 || sc->v.arr.n != (uint64_t)n))
        return calm_fail(e, "%s: tokenizer.ggml.scores must be %d f32 values", g->path, n);
    if (ty && (ty->type != GGUF_ARRAY || ty->v.arr.type != GGUF_I32 || ty->v.arr.n != (uint64_t)n))
        return calm_fail(e, "%s: tokenizer.ggml.token_type must be %d i32 values", g->path, n);
    calm_vocab_kind kind = v->kind;
    if (calm_vocab_alloc(v, n, e)) return -1;
    v->kind = kind;
    for (int i = 0; i < n; i++) {
        gguf_str s = tok->v.arr.strs[i];
        if (s.len > 4096)
            return calm_fail(e, "%s: token %d is %llu bytes long", g->path, i,
                             (unsigned long long)s.len);
        if (!(v->text[i] = dupn(s.ptr, s.len))) return calm_fail(e, "tokenizer: out of memory");
        v->len[i] = (int)s.len;
        if (sc) memcpy(&v->scores[i], (const float *)sc->v.arr.data + i, 4);
        if (ty)
            memcpy(&v->type[i], (const int32_t *)ty->v.arr.data + i, 4);
        else
            v->type[i] = CALM_TT_NORMAL;
    }
    return 0;
}

static int read_merges(calm_vocab *v, const gguf_file *g, calm_err *e) {
    const gguf_kv *mg = gguf_find(g, "tokenizer.ggml.merges");
    if (!mg || mg->type != GGUF_ARRAY || mg->v.arr.type != GGUF_STRING || mg->v.arr.n >= (1u << 24))
        return v->kind == CALM_VOCAB_BPE
                   ? calm_fail(e, "%s: BPE tokenizer without tokenizer.ggml.merges", g->path)
                   : 0;
    v->merges = calloc((size_t)mg->v.arr.n + 1, sizeof(char *));
    if (!v->merges) return calm_fail(e, "tokenizer: out of memory");
    for (uint64_t i = 0; i < mg->v.arr.n; i++) {
        if (!(v->merges[i] = dupn(mg->v.arr.strs[i].ptr, mg->v.arr.strs[i].len)))
            return calm_fail(e, "tokenizer: out of memory");
        v->n_merges++;
    }
    return 0;
}

static int read_vocab(calm_vocab *v, const gguf_file *g, calm_err *e) {
    char model[32] = "", pre[64] = "";
    int rc = gguf_get_str(g, "tokenizer.ggml.model", model, sizeof model, e);
    if (rc)
        return rc < 0 ? -1
                      : calm_fail(e, "%s: no tokenizer in the file (tokenizer.ggml.model missing)",
                                  g->path);
    if (gguf_get_str(g, "tokenizer.ggml.pre", pre, sizeof pre, e) < 0) return -1;
    if (strcmp(model, "gpt2") == 0)
        v->kind = CALM_VOCAB_BPE;
    else if (strcmp(model, "llama") == 0)
        v->kind = CALM_VOCAB_SPM;
    else
        return calm_fail(e, "%s: tokenizer model '%s' is not supported (gpt2, llama)", g->path,
                         model);
    if (read_tokens(v, g, e)) return -1;
    if (!(v->pre = strdup(pre))) return calm_fail(e, "tokenizer: out of memory");
    // GGUF has no key for it: llama.cpp ignores merges with the Llama 3 pre-tokenizer.
    v->ignore_merges = strcmp(pre, "llama-bpe") == 0 || strcmp(pre, "llama3") == 0;
    static const struct {
        const char *key;
        size_t field;
    } ids[] = {{"tokenizer.ggml.bos_token_id", offsetof(calm_vocab, bos)},
               {"tokenizer.ggml.eos_token_id", offsetof(calm_vocab, eos)},
               {"tokenizer.ggml.eot_token_id", offsetof(calm_vocab, eot)},
               {"tokenizer.ggml.unknown_token_id", offsetof(calm_vocab, unk)}};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        uint32_t id = UINT32_MAX; // absent or past the vocabulary: no such token
        if (gguf_get_u32(g, ids[i].key, &id, e) < 0) return -1;
        *(int *)((char *)v + ids[i].field) = id < (uint32_t)v->n_tokens ? (int)id : -1;
    }
    v->add_bos = v->add_space_prefix = v->kind == CALM_VOCAB_SPM;
    if (gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &v->add_bos, e) < 0 ||
        gguf_get_bool(g, "tokenizer.ggml.add_eos_token", &v->add_eos, e) < 0 ||
        gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &v->add_space_prefix, e) < 0)
        return -1;
    const gguf_kv *ct = gguf_find(g, "tokenizer.chat_template");
    if (ct && ct->type == GGUF_STRING && !(v->chat_template = dupn(ct->v.s.ptr, ct->v.s.len)))
        return calm_fail(e, "tokenizer: out of memory");
    return read_merges(v, g, e);
}

int calm_vocab_from_gguf(calm_vocab *v, const gguf_file *g, calm_err *e) {
    memset(v, 0, sizeof *v);
    int rc = read_vocab(v, g, e);
    if (rc) calm_vocab_free(v);
    return rc;
}

void calm_vocab_to_gguf(gguf_writer *w, const calm_vocab *v) {
    gguf_w_str(w, "tokenizer.ggml.model", v->kind == CALM_VOCAB_BPE ? "gpt2" : "llama");
    if (v->kind == CALM_VOCAB_BPE)
        gguf_w_str(w, "tokenizer.ggml.pre", v->pre && v->pre[0] ? v->pre : "gpt2");
    gguf_w_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)v->text, (uint64_t)v->n_tokens);
    gguf_w_arr(w, "tokenizer.ggml.scores", GGUF_F32, v->scores, (uint64_t)v->n_tokens);
    gguf_w_arr(w, "tokenizer.ggml.token_type", GGUF_I32, v->type, (uint64_t)v->n_tokens);
    if (v->n_merges)
        gguf_w_arr_str(w, "tokenizer.ggml.merges", (const char *const *)v->merges,
                       (uint64_t)v->n_merges);
    if (v->bos >= 0) gguf_w_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)v->bos);
    if (v->eos >= 0) gguf_w_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)v->eos);
    if (v->unk >= 0) gguf_w_u32(w, "tokenizer.ggml.unknown_token_id", (uint32_t)v->unk);
    gguf_w_bool(w, "tokenizer.ggml.add_bos_token", v->add_bos);
    gguf_w_bool(w, "tokenizer.ggml.add_space_prefix", v->add_space_prefix);
    if (v->chat_template) gguf_w_str(w, "tokenizer.chat_template", v->chat_template);
}
