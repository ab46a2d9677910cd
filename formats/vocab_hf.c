// tokenizer.json / tokenizer_config.json <-> calm_vocab.
#include "vocab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

// The pre-tokenizers calm knows, by GGUF's name, with the tokenizer.json each family writes.
static const struct {
    const char *name, *json;
} pre_json[] = {
    {"smollm", "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Digits\",\"individual_"
               "digits\":true},{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_"
               "offsets\":true,\"use_regex\":true}]}"},
    {"llama-bpe",
     "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":"
     "\"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| "
     "?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"},"
     "\"behavior\":\"Isolated\",\"invert\":false},{\"type\":\"ByteLevel\",\"add_prefix_"
     "space\":false,\"trim_offsets\":true,\"use_regex\":false}]}"},
    {"qwen2",
     "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":"
     "\"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}| "
     "?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"},"
     "\"behavior\":\"Isolated\",\"invert\":false},{\"type\":\"ByteLevel\",\"add_prefix_"
     "space\":false,\"trim_offsets\":false,\"use_regex\":false}]}"},
    {"gpt2", "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,"
             "\"use_regex\":true}"},
};

// The pre-tokenizer's GGUF name, recognised from the shapes tokenizer.json uses for each family.
static const char *detect_pre(const cJSON *pre) {
    char *s = pre ? cJSON_PrintUnformatted(pre) : NULL;
    const char *name = "gpt2";
    if (s) {
        if (strstr(s, "\\\\p{N}{1,3}"))
            name = "llama-bpe";
        else if (strstr(s, "[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+"))
            name = "qwen2";
        else if (strstr(s, "\"Digits\"") && strstr(s, "\"individual_digits\":true"))
            name = "smollm";
    }
    free(s);
    return name;
}

// The tokenizer.json pre_tokenizer for a GGUF name; GPT-2's for names calm does not know.
static cJSON *pre_tokenizer(const char *name) {
    size_t n = sizeof pre_json / sizeof pre_json[0], i = 0;
    if (name && strcmp(name, "llama3") == 0) name = "llama-bpe";
    while (i < n - 1 && !(name && strcmp(name, pre_json[i].name) == 0)) i++;
    return cJSON_Parse(pre_json[i].json);
}

static cJSON *load(const char *dir, const char *name, calm_err *e, int required) {
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return calm_read_json(path, e, required);
}

// A token id: an integer in [0, 2^24), the most calm_vocab holds. Anything else (a fraction, a
// float beyond int's range, a string) fails naming the token, rather than being cast.
static int token_id(const cJSON *v, const char *token, const char *where, const char *dir, int *id,
                    calm_err *e) {
    if (!cJSON_IsNumber(v))
        return calm_fail(e, "%s/tokenizer.json: %s '%.64s' has no numeric id", dir, where, token);
    double d = v->valuedouble;
    if (!(d >= 0 && d < (1 << 24)) || d != (double)(int)d)
        return calm_fail(e,
                         "%s/tokenizer.json: %s '%.64s' has id %g, expected an integer in [0, %d)",
                         dir, where, token, d, 1 << 24);
    *id = (int)d;
    return 0;
}

static const char *str_of(const cJSON *o, const char *k) {
    const cJSON *v = o ? cJSON_GetObjectItem(o, k) : NULL;
    if (cJSON_IsObject(v)) v = cJSON_GetObjectItem(v, "content"); // AddedToken form
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int set_text(calm_vocab *v, int id, const char *s, int type, calm_err *e) {
    free(v->text[id]);
    if (!(v->text[id] = strdup(s))) return calm_fail(e, "tokenizer: out of memory");
    v->type[id] = type;
    return 0;
}

// The content of an added token, "" when it has none (the id check names it then).
static const char *content_of(const cJSON *it) {
    const cJSON *c = cJSON_GetObjectItem(it, "content");
    return cJSON_IsString(c) ? c->valuestring : "";
}

// The tokens of model.vocab and added_tokens; ids nobody names stay unusable.
static int read_tokens(calm_vocab *v, const cJSON *vocab, const cJSON *added, const char *dir,
                       calm_err *e) {
    int n = 0, id;
    for (const cJSON *it = vocab->child; it; it = it->next) {
        if (token_id(it, it->string, "vocab token", dir, &id, e)) return -1;
        if (id + 1 > n) n = id + 1;
    }
    for (const cJSON *it = added ? added->child : NULL; it; it = it->next) {
        if (token_id(cJSON_GetObjectItem(it, "id"), content_of(it), "added token", dir, &id, e))
            return -1;
        if (id + 1 > n) n = id + 1;
    }
    if (n <= 0) return calm_fail(e, "%s/tokenizer.json: the vocabulary is empty", dir);
    calm_vocab_kind kind = v->kind;
    if (calm_vocab_alloc(v, n, e)) return -1;
    v->kind = kind;
    for (const cJSON *it = vocab->child; it; it = it->next) {
        const char *s = it->string;
        int byte = kind == CALM_VOCAB_SPM && strlen(s) == 6 && !strncmp(s, "<0x", 3);
        if (set_text(v, (int)it->valuedouble, s, byte ? CALM_TT_BYTE : CALM_TT_NORMAL, e))
            return -1;
    }
    for (const cJSON *it = added ? added->child : NULL; it; it = it->next) {
        const cJSON *c = cJSON_GetObjectItem(it, "content");
        if (!cJSON_IsString(c)) continue;
        int special = cJSON_IsTrue(cJSON_GetObjectItem(it, "special"));
        id = (int)cJSON_GetObjectItem(it, "id")->valuedouble;
        if (set_text(v, id, c->valuestring, special ? CALM_TT_CONTROL : CALM_TT_USER, e)) return -1;
    }
    for (int i = 0; i < n; i++) {
        if (!v->text[i] && set_text(v, i, "", CALM_TT_UNUSED, e)) return -1;
        v->len[i] = (int)strlen(v->text[i]);
    }
    return 0;
}

// model.merges as "a b" strings, from either the "a b" or the newer ["a", "b"] form.
static int read_merges(calm_vocab *v, const cJSON *mg, calm_err *e) {
    v->merges = calloc((size_t)cJSON_GetArraySize(mg) + 1, sizeof(char *));
    if (!v->merges) return calm_fail(e, "tokenizer: out of memory");
    for (const cJSON *it = mg ? mg->child : NULL; it; it = it->next) {
        char *s = NULL;
        if (cJSON_IsString(it)) {
            s = strdup(it->valuestring);
        } else if (cJSON_IsArray(it) && cJSON_GetArraySize(it) == 2) {
            const char *a = cJSON_GetArrayItem(it, 0)->valuestring,
                       *b = cJSON_GetArrayItem(it, 1)->valuestring;
            if (!a || !b) continue;
            if ((s = malloc(strlen(a) + strlen(b) + 2))) sprintf(s, "%s %s", a, b);
        } else {
            continue;
        }
        if (!s) return calm_fail(e, "tokenizer: out of memory");
        v->merges[v->n_merges++] = s;
    }
    return 0;
}

// SentencePiece models in tokenizer.json rank by merges, not scores: earlier merges score higher.
static int spm_scores(calm_vocab *v, calm_err *e) {
    calm_vocab_index x;
    if (calm_vocab_index_init(&x, v, e)) return -1;
    for (int r = 0; r < v->n_merges; r++) {
        const char *m = v->merges[r], *sp = strchr(m, ' ');
        if (!sp) continue;
        char buf[1024];
        int l = snprintf(buf, sizeof buf, "%.*s%s", (int)(sp - m), m, sp + 1);
        int id = l < (int)sizeof buf ? calm_vocab_find(&x, v, buf, (size_t)l) : -1;
        if (id >= 0 && v->scores[id] == 0) v->scores[id] = (float)-r - 1;
    }
    calm_vocab_index_free(&x);
    return 0;
}

static int read_vocab(calm_vocab *v, const cJSON *tj, const cJSON *cfg, const char *dir,
                      calm_err *e) {
    const cJSON *model = cJSON_GetObjectItem(tj, "model");
    const cJSON *vocab = cJSON_GetObjectItem(model, "vocab");
    const cJSON *type = cJSON_GetObjectItem(model, "type");
    if (!cJSON_IsObject(vocab) || !cJSON_IsString(type) || strcmp(type->valuestring, "BPE"))
        return calm_fail(e, "%s/tokenizer.json: model must be BPE with a vocab object", dir);
    v->kind =
        cJSON_IsTrue(cJSON_GetObjectItem(model, "byte_fallback")) ? CALM_VOCAB_SPM : CALM_VOCAB_BPE;
    if (read_tokens(v, vocab, cJSON_GetObjectItem(tj, "added_tokens"), dir, e)) return -1;
    if (!(v->pre = strdup(detect_pre(cJSON_GetObjectItem(tj, "pre_tokenizer")))))
        return calm_fail(e, "tokenizer: out of memory");
    v->ignore_merges = cJSON_IsTrue(cJSON_GetObjectItem(model, "ignore_merges"));
    if (read_merges(v, cJSON_GetObjectItem(model, "merges"), e)) return -1;
    const char *bos = str_of(cfg, "bos_token"), *eos = str_of(cfg, "eos_token"),
               *unk = str_of(cfg, "unk_token");
    for (int i = 0; i < v->n_tokens; i++) {
        if (bos && !strcmp(v->text[i], bos)) v->bos = i;
        if (eos && !strcmp(v->text[i], eos)) v->eos = i;
        if (unk && !strcmp(v->text[i], unk)) v->unk = i, v->type[i] = CALM_TT_UNKNOWN;
    }
    v->add_bos = cfg ? cJSON_IsTrue(cJSON_GetObjectItem(cfg, "add_bos_token")) : 0;
    v->add_eos = cfg ? cJSON_IsTrue(cJSON_GetObjectItem(cfg, "add_eos_token")) : 0;
    v->add_space_prefix = v->kind == CALM_VOCAB_SPM;
    const cJSON *ct = cfg ? cJSON_GetObjectItem(cfg, "chat_template") : NULL;
    if (cJSON_IsString(ct) && !(v->chat_template = strdup(ct->valuestring)))
        return calm_fail(e, "tokenizer: out of memory");
    return v->kind == CALM_VOCAB_SPM ? spm_scores(v, e) : 0;
}

int calm_vocab_from_hf(calm_vocab *v, const char *dir, calm_err *e) {
    memset(v, 0, sizeof *v);
    cJSON *tj = load(dir, "tokenizer.json", e, 1);
    if (!tj) return -1;
    calm_err ce = {{0}}; // tokenizer_config.json is optional: a bad one counts as none
    cJSON *cfg = load(dir, "tokenizer_config.json", &ce, 0);
    int rc = read_vocab(v, tj, cfg, dir, e);
    cJSON_Delete(tj);
    cJSON_Delete(cfg);
    if (rc) calm_vocab_free(v);
    return rc;
}

int calm_vocab_write_hf(const calm_vocab *v, const char *dir, calm_err *e) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "version", "1.0");
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
    for (int i = 0; i < v->n_tokens; i++) {
        if (v->type[i] != CALM_TT_CONTROL && v->type[i] != CALM_TT_USER) continue;
        cJSON *a = cJSON_CreateObject();
        cJSON_AddNumberToObject(a, "id", i);
        cJSON_AddStringToObject(a, "content", v->text[i]);
        cJSON_AddBoolToObject(a, "single_word", 0);
        cJSON_AddBoolToObject(a, "lstrip", 0);
        cJSON_AddBoolToObject(a, "rstrip", 0);
        cJSON_AddBoolToObject(a, "normalized", 0);
        cJSON_AddBoolToObject(a, "special", v->type[i] == CALM_TT_CONTROL);
        cJSON_AddItemToArray(added, a);
    }
    if (v->kind == CALM_VOCAB_BPE) {
        cJSON_AddItemToObject(root, "pre_tokenizer", pre_tokenizer(v->pre));
        cJSON_AddItemToObject(root, "decoder", cJSON_Parse("{\"type\":\"ByteLevel\"}"));
    }
    cJSON *model = cJSON_AddObjectToObject(root, "model");
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON_AddBoolToObject(model, "byte_fallback", v->kind == CALM_VOCAB_SPM);
    cJSON_AddBoolToObject(model, "ignore_merges", v->ignore_merges);
    cJSON *vocab = cJSON_AddObjectToObject(model, "vocab");
    for (int i = 0; i < v->n_tokens; i++)
        if (v->type[i] != CALM_TT_UNUSED || v->len[i] > 0)
            cJSON_AddNumberToObject(vocab, v->text[i], i);
    cJSON *merges = cJSON_AddArrayToObject(model, "merges");
    for (int i = 0; i < v->n_merges; i++)
        cJSON_AddItemToArray(merges, cJSON_CreateString(v->merges[i]));
    if (calm_write_json(dir, "tokenizer.json", root, e)) return -1;

    cJSON *cfg = cJSON_CreateObject();
    cJSON_AddBoolToObject(cfg, "add_bos_token", v->add_bos);
    cJSON_AddBoolToObject(cfg, "add_eos_token", v->add_eos);
    if (v->bos >= 0) cJSON_AddStringToObject(cfg, "bos_token", v->text[v->bos]);
    if (v->eos >= 0) cJSON_AddStringToObject(cfg, "eos_token", v->text[v->eos]);
    if (v->unk >= 0) cJSON_AddStringToObject(cfg, "unk_token", v->text[v->unk]);
    if (v->chat_template) cJSON_AddStringToObject(cfg, "chat_template", v->chat_template);
    return calm_write_json(dir, "tokenizer_config.json", cfg, e);
}
