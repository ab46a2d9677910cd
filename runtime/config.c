#include "config.h"

#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../formats/json.h"

static const calm_arch archs[] = {
    {"llama", "llama", "LlamaForCausalLM", CALM_ROPE_NORM},
    {"qwen2", "qwen2", "Qwen2ForCausalLM", CALM_ROPE_NEOX},
    {"qwen3", "qwen3", "Qwen3ForCausalLM", CALM_ROPE_NEOX},
    {"mistral", "llama", "LlamaForCausalLM", CALM_ROPE_NORM},
};
#define N_ARCHS (sizeof archs / sizeof archs[0])

const calm_arch *calm_arch_find(const char *name) {
    for (size_t i = 0; i < N_ARCHS; i++)
        if (!strcmp(name, archs[i].name)) return &archs[i];
    return NULL;
}

// One calm_config field: where each layout keeps it and its value when absent.
typedef struct {
    const char *gguf; // after "<arch>."
    const char *hf;   // config.json
    size_t field;     // offsetof(calm_config, ...): an int, or a float when is_float
    int is_float;
    int required;
    double def_gguf, def_hf;
    size_t def_from; // when non-zero: absent means the value of this (earlier) field
} config_key;

#define I(f) offsetof(calm_config, f), 0
#define R(f) offsetof(calm_config, f), 1
// head_dim 0 and vocab_size 0 mean "from dim / heads" and "from the embeddings" at bind time.
static const config_key keys[] = {
    {"embedding_length", "hidden_size", I(dim), 1, 0, 0, 0},
    {"feed_forward_length", "intermediate_size", I(hidden_dim), 1, 0, 0, 0},
    {"block_count", "num_hidden_layers", I(n_layers), 1, 0, 0, 0},
    {"attention.head_count", "num_attention_heads", I(n_heads), 1, 0, 0, 0},
    {"attention.head_count_kv", "num_key_value_heads", I(n_kv_heads), 0, 0, 0,
     offsetof(calm_config, n_heads)},
    {"attention.key_length", "head_dim", I(head_dim), 0, 0, 0, 0},
    {"context_length", "max_position_embeddings", I(seq_len), 0, 2048, 2048, 0},
    {"vocab_size", "vocab_size", I(vocab_size), 0, 0, 0, 0},
    {"attention.layer_norm_rms_epsilon", "rms_norm_eps", R(norm_eps), 0, 1e-5, 1e-6, 0},
    {"rope.freq_base", "rope_theta", R(rope_theta), 0, 10000, 10000, 0},
};
#define N_KEYS (sizeof keys / sizeof keys[0])

static void set(calm_config *c, const config_key *k, double v) {
    if (k->is_float)
        *(float *)((char *)c + k->field) = (float)v;
    else
        *(int *)((char *)c + k->field) = (int)v;
}

static double get(const calm_config *c, size_t field, int is_float) {
    const char *p = (const char *)c + field;
    return is_float ? *(const float *)p : *(const int *)p;
}

static void set_default(calm_config *c, const config_key *k, int hf) {
    set(c, k, k->def_from ? get(c, k->def_from, 0) : hf ? k->def_hf : k->def_gguf);
}

// The values the forward pass can use: a NaN or non-positive epsilon or rope base, and a zero
// count of layers, heads or widths, compute garbage rather than fail, so they fail here, naming
// the key as the file spells it (hf: config.json's name, else the GGUF key after "<arch>.").
static int check_values(const calm_config *c, int hf, const char *path, calm_err *e) {
    for (size_t i = 0; i < N_KEYS; i++) {
        const config_key *k = &keys[i];
        double v = get(c, k->field, k->is_float);
        if (k->is_float ? !(v > 0 && isfinite(v)) : k->required && v <= 0)
            return calm_fail(e, "%s: key '%s%s%s' is %g, expected a positive number", path,
                             hf ? "" : c->arch, hf ? "" : ".", hf ? k->hf : k->gguf, v);
    }
    return 0;
}

static int find_arch(calm_config *c, const char *name, const char *path, const char *what,
                     calm_err *e) {
    const calm_arch *a = calm_arch_find(name);
    if (!a) {
        char list[128];
        size_t n = 0;
        for (size_t i = 0; i < N_ARCHS && n < sizeof list; i++)
            n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", archs[i].name);
        return calm_fail(e, "%s: %s '%s' is not supported (%s)", path, what, name, list);
    }
    snprintf(c->arch, sizeof c->arch, "%s", name);
    c->rope_style = a->rope;
    return 0;
}

int calm_config_from_gguf(calm_config *c, const gguf_file *g, calm_err *e) {
    memset(c, 0, sizeof *c);
    char arch[32];
    const char *key0 = "general.architecture";
    if (gguf_require(gguf_get_str(g, key0, arch, sizeof arch, e), g, key0, e) ||
        find_arch(c, arch, g->path, "architecture", e))
        return -1;
    const char *missing = NULL; // reported once every present key has passed its type check
    char missing_key[128];
    for (size_t i = 0; i < N_KEYS; i++) {
        int rc;
        const config_key *k = &keys[i];
        char key[128];
        snprintf(key, sizeof key, "%s.%s", arch, k->gguf);
        set_default(c, k, 0);
        if (k->is_float) {
            float v;
            if ((rc = gguf_get_f32(g, key, &v, e)) == 0) set(c, k, v);
        } else {
            uint32_t v;
            if ((rc = gguf_get_u32(g, key, &v, e)) == 0 && v > INT32_MAX)
                return calm_fail(e, "%s: key '%s' is %u, too large", g->path, key, v);
            if (rc == 0) set(c, k, v);
        }
        if (rc < 0) return -1;
        if (rc == 1 && k->required && !missing) missing = strcpy(missing_key, key);
    }
    if (missing) return calm_fail(e, "%s: missing key '%s'", g->path, missing);
    return check_values(c, 0, g->path, e);
}

// llama3 rope scaling: rope_scaling (or transformers 5's rope_parameters) with rope_type llama3.
static int rope_scaling(calm_config *c, const cJSON *j, const char *path, calm_err *e) {
    const cJSON *rp = NULL, *rs = NULL;
    if (calm_json_obj(j, "rope_parameters", &rp, path, e) < 0) return -1;
    double theta = c->rope_theta;
    if (rp && calm_json_num(rp, "rope_theta", &theta, path, e) < 0) return -1;
    if (rp && !cJSON_GetObjectItemCaseSensitive(j, "rope_theta")) c->rope_theta = (float)theta;
    if (!rp && calm_json_obj(j, "rope_scaling", &rs, path, e) < 0) return -1;
    if (rp) rs = rp;
    if (!rs) return 0;
    const char *type = NULL;
    int rc = calm_json_str(rs, "rope_type", &type, path, e);
    if (rc == 1) rc = calm_json_str(rs, "type", &type, path, e);
    if (rc < 0) return -1;
    if (!type || !strcmp(type, "default")) return 0;
    if (strcmp(type, "llama3"))
        return calm_fail(e, "%s: rope scaling type '%s' is not supported", path, type);
    double factor = 8, lo = 1, hi = 4;
    c->rope_orig_ctx = 8192;
    if (calm_json_num(rs, "factor", &factor, path, e) < 0 ||
        calm_json_num(rs, "low_freq_factor", &lo, path, e) < 0 ||
        calm_json_num(rs, "high_freq_factor", &hi, path, e) < 0 ||
        calm_json_int(rs, "original_max_position_embeddings", &c->rope_orig_ctx, path, e) < 0)
        return -1;
    c->rope_factor = (float)factor, c->rope_low_freq = (float)lo, c->rope_high_freq = (float)hi;
    return 0;
}

int calm_config_from_hf(calm_config *c, const cJSON *j, const char *path, calm_err *e) {
    memset(c, 0, sizeof *c);
    const char *type = "";
    if (calm_json_str(j, "model_type", &type, path, e) < 0) return -1;
    if (find_arch(c, type, path, "model_type", e)) return -1;
    const char *missing = NULL; // reported once every present key has passed its type check
    for (size_t i = 0; i < N_KEYS; i++) {
        const config_key *k = &keys[i];
        set_default(c, k, 1);
        int rc;
        if (k->is_float) {
            double v;
            if ((rc = calm_json_num(j, k->hf, &v, path, e)) == 0) set(c, k, v);
        } else {
            int v;
            if ((rc = calm_json_int(j, k->hf, &v, path, e)) == 0) set(c, k, v);
        }
        if (rc < 0) return -1;
        if (rc == 1 && k->required && !missing) missing = k->hf;
    }
    if (rope_scaling(c, j, path, e)) return -1;
    if (missing) return calm_fail(e, "%s: missing key '%s'", path, missing);
    return check_values(c, 1, path, e);
}

void calm_config_to_gguf(gguf_writer *w, const calm_config *c) {
    char k[128];
    gguf_w_str(w, "general.architecture", c->arch);
    for (size_t i = 0; i < N_KEYS; i++) {
        snprintf(k, sizeof k, "%s.%s", c->arch, keys[i].gguf);
        double v = get(c, keys[i].field, keys[i].is_float);
        if (keys[i].is_float)
            gguf_w_f32(w, k, (float)v);
        else
            gguf_w_u32(w, k, (uint32_t)v);
    }
    // llama.cpp reads these too; calm's head_dim is both.
    snprintf(k, sizeof k, "%s.attention.value_length", c->arch);
    gguf_w_u32(w, k, (uint32_t)c->head_dim);
    snprintf(k, sizeof k, "%s.rope.dimension_count", c->arch);
    gguf_w_u32(w, k, (uint32_t)c->head_dim);
}

void calm_config_to_hf(cJSON *j, const calm_config *c) {
    const calm_arch *a = calm_arch_find(c->arch);
    cJSON *archs = cJSON_AddArrayToObject(j, "architectures");
    cJSON_AddItemToArray(archs, cJSON_CreateString(a->hf_class));
    cJSON_AddStringToObject(j, "model_type", a->hf_type);
    for (size_t i = 0; i < N_KEYS; i++)
        cJSON_AddNumberToObject(j, keys[i].hf, get(c, keys[i].field, keys[i].is_float));
    cJSON_AddBoolToObject(j, "tie_word_embeddings", c->tied_embeddings);
    cJSON_AddBoolToObject(j, "attention_bias", c->qkv_bias);
    cJSON_AddStringToObject(j, "hidden_act", "silu");
    if (c->rope_factor > 0) {
        cJSON *rs = cJSON_AddObjectToObject(j, "rope_scaling");
        cJSON_AddStringToObject(rs, "rope_type", "llama3");
        cJSON_AddNumberToObject(rs, "factor", c->rope_factor);
        cJSON_AddNumberToObject(rs, "low_freq_factor", c->rope_low_freq);
        cJSON_AddNumberToObject(rs, "high_freq_factor", c->rope_high_freq);
        cJSON_AddNumberToObject(rs, "original_max_position_embeddings", c->rope_orig_ctx);
    }
}
