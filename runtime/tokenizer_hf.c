// tokenizer.json / tokenizer_config.json <-> calm_tokenizer.
#include "tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../formats/hf.h"
#include "../formats/json.h"

static cJSON *load(const char *dir, const char *name, calm_err *e, int required) {
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return calm_read_json(path, e, required);
}

// The pre-tokenizer, recognised from the shapes tokenizer.json uses for each model family.
static calm_pre_kind detect_pre(const cJSON *pre) {
    char *s = pre ? cJSON_PrintUnformatted(pre) : NULL;
    calm_pre_kind k = CALM_PRE_GPT2;
    if (s) {
        if (strstr(s, "\\\\p{N}{1,3}"))
            k = CALM_PRE_LLAMA3;
        else if (strstr(s, "[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+"))
            k = CALM_PRE_QWEN2;
        else if (strstr(s, "\"Digits\"") && strstr(s, "\"individual_digits\":true"))
            k = CALM_PRE_SMOLLM;
    }
    free(s);
    return k;
}

static double num_or(const cJSON *v) {
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static const char *str_of(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItem(o, k);
    if (cJSON_IsObject(v)) v = cJSON_GetObjectItem(v, "content"); // AddedToken form
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int calm_hf_tokenizer(const calm_hf *hf, calm_tokenizer *t, calm_err *e) {
    memset(t, 0, sizeof *t);
    cJSON *tj = load(hf->dir, "tokenizer.json", e, 1);
    if (!tj) return -1;
    calm_err ce = {{0}};
    cJSON *cfg = load(hf->dir, "tokenizer_config.json", &ce, 0);
    int rc = 0, nm = 0;
    char **merges = NULL;
    const cJSON *model = cJSON_GetObjectItem(tj, "model");
    const cJSON *vocab = cJSON_GetObjectItem(model, "vocab");
    const cJSON *type = cJSON_GetObjectItem(model, "type");
    if (!cJSON_IsObject(vocab) || !cJSON_IsString(type) || strcmp(type->valuestring, "BPE")) {
        rc = calm_fail(e, "%s/tokenizer.json: model must be BPE with a vocab object", hf->dir);
        goto done;
    }
    const cJSON *bf = cJSON_GetObjectItem(model, "byte_fallback");
    t->kind = cJSON_IsTrue(bf) ? CALM_TOK_SPM : CALM_TOK_BPE;
    t->pre = detect_pre(cJSON_GetObjectItem(tj, "pre_tokenizer"));
    t->ignore_merges = cJSON_IsTrue(cJSON_GetObjectItem(model, "ignore_merges"));
    const cJSON *added = cJSON_GetObjectItem(tj, "added_tokens");
    int n = 0;
    for (const cJSON *it = vocab->child; it; it = it->next)
        if (cJSON_IsNumber(it) && it->valuedouble + 1 > n) n = (int)it->valuedouble + 1;
    for (const cJSON *it = added ? added->child : NULL; it; it = it->next) {
        double id = num_or(cJSON_GetObjectItem(it, "id"));
        if (id + 1 > n) n = (int)id + 1;
    }
    if (n <= 0 || n > (1 << 24)) {
        rc = calm_fail(e, "%s/tokenizer.json: vocabulary of %d tokens", hf->dir, n);
        goto done;
    }
    t->n_vocab = n;
    t->text = calloc((size_t)n, sizeof(char *));
    t->len = calloc((size_t)n, sizeof(int));
    t->scores = calloc((size_t)n, sizeof(float));
    t->type = calloc((size_t)n, sizeof(int));
    if (!t->text || !t->len || !t->scores || !t->type) {
        rc = calm_fail(e, "tokenizer: out of memory");
        goto done;
    }
    for (const cJSON *it = vocab->child; it; it = it->next) {
        if (!cJSON_IsNumber(it) || it->valuedouble < 0) continue;
        int id = (int)it->valuedouble;
        free(t->text[id]);
        t->text[id] = strdup(it->string);
        t->type[id] = CALM_TT_NORMAL;
        if (t->kind == CALM_TOK_SPM && strlen(it->string) == 6 && !strncmp(it->string, "<0x", 3))
            t->type[id] = CALM_TT_BYTE;
    }
    for (const cJSON *it = added ? added->child : NULL; it; it = it->next) {
        const cJSON *c = cJSON_GetObjectItem(it, "content");
        double id = num_or(cJSON_GetObjectItem(it, "id"));
        if (!cJSON_IsString(c) || id < 0) continue;
        free(t->text[(int)id]);
        t->text[(int)id] = strdup(c->valuestring);
        t->type[(int)id] =
            cJSON_IsTrue(cJSON_GetObjectItem(it, "special")) ? CALM_TT_CONTROL : CALM_TT_USER;
    }
    for (int i = 0; i < n; i++) {
        if (!t->text[i]) { // a hole in the ids: keep it unusable
            t->text[i] = strdup("");
            t->type[i] = CALM_TT_UNUSED;
        }
        if (!t->text[i]) {
            rc = calm_fail(e, "tokenizer: out of memory");
            goto done;
        }
        t->len[i] = (int)strlen(t->text[i]);
    }
    const cJSON *mg = cJSON_GetObjectItem(model, "merges");
    nm = cJSON_GetArraySize(mg);
    merges = calloc((size_t)nm + 1, sizeof(char *));
    if (!merges) {
        rc = calm_fail(e, "tokenizer: out of memory");
        goto done;
    }
    int k = 0;
    for (const cJSON *it = mg ? mg->child : NULL; it; it = it->next) {
        if (cJSON_IsString(it)) {
            if (!(merges[k++] = strdup(it->valuestring))) k--;
        } else if (cJSON_IsArray(it) && cJSON_GetArraySize(it) == 2) { // newer ["a", "b"] form
            const char *a = cJSON_GetArrayItem(it, 0)->valuestring,
                       *b = cJSON_GetArrayItem(it, 1)->valuestring;
            if (!a || !b) continue;
            char *s = malloc(strlen(a) + strlen(b) + 2);
            if (!s) continue;
            sprintf(s, "%s %s", a, b);
            merges[k++] = s;
        }
    }
    nm = k;
    t->bos = t->eos = t->eot = t->unk = -1;
    const char *bos = cfg ? str_of(cfg, "bos_token") : NULL,
               *eos = cfg ? str_of(cfg, "eos_token") : NULL;
    const char *unk = cfg ? str_of(cfg, "unk_token") : NULL;
    for (int i = 0; i < n; i++) {
        if (bos && !strcmp(t->text[i], bos)) t->bos = i;
        if (eos && !strcmp(t->text[i], eos)) t->eos = i;
        if (unk && !strcmp(t->text[i], unk)) t->unk = i, t->type[i] = CALM_TT_UNKNOWN;
    }
    t->add_bos = cfg ? cJSON_IsTrue(cJSON_GetObjectItem(cfg, "add_bos_token")) : 0;
    t->add_eos = cfg ? cJSON_IsTrue(cJSON_GetObjectItem(cfg, "add_eos_token")) : 0;
    t->add_space_prefix = t->kind == CALM_TOK_SPM;
    const cJSON *ct = cfg ? cJSON_GetObjectItem(cfg, "chat_template") : NULL;
    if (cJSON_IsString(ct)) t->chat_template = strdup(ct->valuestring);
    rc = calm_tokenizer_finish(t, (const char *const *)merges, nm, e);
    if (!rc && t->kind == CALM_TOK_SPM) // merge priority: earlier merges score higher
        for (int r = 0; r < nm; r++) {
            const char *sp = strchr(merges[r], ' ');
            if (!sp) continue;
            char buf[1024];
            int l = snprintf(buf, sizeof buf, "%.*s%s", (int)(sp - merges[r]), merges[r], sp + 1);
            int id = l < (int)sizeof buf ? calm_token_lookup(t, buf, (size_t)l) : -1;
            if (id >= 0 && t->scores[id] == 0) t->scores[id] = (float)-r - 1;
        }
done:
    for (int i = 0; i < nm && merges; i++) free(merges[i]);
    free(merges);
    cJSON_Delete(tj);
    cJSON_Delete(cfg);
    if (rc) calm_tokenizer_free(t);
    return rc;
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

int calm_tokenizer_write_hf(const calm_tokenizer *t, const char *dir, calm_err *e) {
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
    if (calm_write_json(dir, "tokenizer.json", root, e)) return -1;

    cJSON *cfg = cJSON_CreateObject();
    cJSON_AddBoolToObject(cfg, "add_bos_token", t->add_bos);
    cJSON_AddBoolToObject(cfg, "add_eos_token", t->add_eos);
    if (t->bos >= 0) cJSON_AddStringToObject(cfg, "bos_token", t->text[t->bos]);
    if (t->eos >= 0) cJSON_AddStringToObject(cfg, "eos_token", t->text[t->eos]);
    if (t->unk >= 0) cJSON_AddStringToObject(cfg, "unk_token", t->text[t->unk]);
    if (t->chat_template) cJSON_AddStringToObject(cfg, "chat_template", t->chat_template);
    return calm_write_json(dir, "tokenizer_config.json", cfg, e);
}
