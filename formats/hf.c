#include "hf.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"
#include "../kernels/types.h"
#include "../runtime/unicode.h"

struct st_file_s {
    st_file f;
};

static const struct {
    const char *gguf, *hf;
} layer_names[] = {
    {"attn_norm.weight", "input_layernorm.weight"},
    {"attn_q.weight", "self_attn.q_proj.weight"},
    {"attn_k.weight", "self_attn.k_proj.weight"},
    {"attn_v.weight", "self_attn.v_proj.weight"},
    {"attn_q.bias", "self_attn.q_proj.bias"},
    {"attn_k.bias", "self_attn.k_proj.bias"},
    {"attn_v.bias", "self_attn.v_proj.bias"},
    {"attn_output.weight", "self_attn.o_proj.weight"},
    {"attn_q_norm.weight", "self_attn.q_norm.weight"},
    {"attn_k_norm.weight", "self_attn.k_norm.weight"},
    {"ffn_norm.weight", "post_attention_layernorm.weight"},
    {"ffn_gate.weight", "mlp.gate_proj.weight"},
    {"ffn_up.weight", "mlp.up_proj.weight"},
    {"ffn_down.weight", "mlp.down_proj.weight"},
};
static const struct {
    const char *gguf, *hf;
} global_names[] = {
    {"token_embd.weight", "model.embed_tokens.weight"},
    {"output_norm.weight", "model.norm.weight"},
    {"output.weight", "lm_head.weight"},
};

int calm_hf_name_to_gguf(const char *hf, char *gguf, size_t cap) {
    for (size_t i = 0; i < sizeof global_names / sizeof global_names[0]; i++)
        if (!strcmp(hf, global_names[i].hf))
            return snprintf(gguf, cap, "%s", global_names[i].gguf) >= (int)cap;
    int l, n;
    if (sscanf(hf, "model.layers.%d.%n", &l, &n) == 1 && l >= 0)
        for (size_t i = 0; i < sizeof layer_names / sizeof layer_names[0]; i++)
            if (!strcmp(hf + n, layer_names[i].hf))
                return snprintf(gguf, cap, "blk.%d.%s", l, layer_names[i].gguf) >= (int)cap;
    return -1;
}

int calm_hf_name_from_gguf(const char *gguf, char *hf, size_t cap) {
    for (size_t i = 0; i < sizeof global_names / sizeof global_names[0]; i++)
        if (!strcmp(gguf, global_names[i].gguf))
            return snprintf(hf, cap, "%s", global_names[i].hf) >= (int)cap;
    int l, n;
    if (sscanf(gguf, "blk.%d.%n", &l, &n) == 1 && l >= 0)
        for (size_t i = 0; i < sizeof layer_names / sizeof layer_names[0]; i++)
            if (!strcmp(gguf + n, layer_names[i].gguf))
                return snprintf(hf, cap, "model.layers.%d.%s", l, layer_names[i].hf) >= (int)cap;
    return -1;
}

int calm_hf_qk_row(int r, int hd) {
    int h = r / hd, i = r % hd;
    return h * hd + (i % 2) * (hd / 2) + i / 2;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

int calm_hf_is_qk(const char *name) {
    return ends_with(name, ".attn_q.weight") || ends_with(name, ".attn_k.weight");
}

cJSON *calm_read_json(const char *path, calm_err *e, int required) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (required) calm_fail(e, "%s: cannot open", path);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 && n < (1L << 30) ? malloc((size_t)n + 1) : NULL;
    cJSON *j = NULL;
    if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
        buf[n] = 0;
        j = cJSON_ParseWithLength(buf, (size_t)n);
        if (!j)
            calm_fail(e, "%s: invalid JSON near byte %ld", path,
                      (long)(cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - buf : 0));
    } else {
        calm_fail(e, "%s: cannot read", path);
    }
    free(buf);
    fclose(f);
    return j;
}

static double num(const cJSON *o, const char *k, double def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : def;
}

static int int_field(const cJSON *o, const char *k, int def) {
    double v = num(o, k, def);
    return v >= 0 && v < 1e9 ? (int)v : -1;
}

static int add_file(calm_hf *hf, const char *name, calm_err *e) {
    for (int i = 0; i < hf->n_files; i++)
        if (!strcmp(strrchr(hf->files[i].f.path, '/') + 1, name)) return 0;
    struct st_file_s *nf = realloc(hf->files, (size_t)(hf->n_files + 1) * sizeof *nf);
    if (!nf) return calm_fail(e, "%s: out of memory", hf->dir);
    hf->files = nf;
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", hf->dir, name);
    if (strchr(name, '/'))
        return calm_fail(e, "%s: shard name '%s' must be a plain file name", hf->dir, name);
    if (st_open(&hf->files[hf->n_files].f, path, e)) return -1;
    hf->n_files++;
    return 0;
}

static int open_weights(calm_hf *hf, calm_err *e) {
    char path[2048];
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", hf->dir);
    calm_err je = {{0}};
    cJSON *idx = calm_read_json(path, &je, 0);
    if (je.msg[0]) return calm_fail(e, "%s", je.msg);
    if (idx) {
        cJSON *wm = cJSON_GetObjectItem(idx, "weight_map");
        int rc = cJSON_IsObject(wm) ? 0 : calm_fail(e, "%s: no weight_map object", path);
        for (cJSON *it = wm ? wm->child : NULL; it && !rc; it = it->next)
            rc = cJSON_IsString(it)
                     ? add_file(hf, it->valuestring, e)
                     : calm_fail(e, "%s: weight_map values must be file names", path);
        cJSON_Delete(idx);
        return rc;
    }
    DIR *d = opendir(hf->dir);
    if (!d) return calm_fail(e, "%s: cannot open directory", hf->dir);
    int rc = 0;
    for (struct dirent *de; (de = readdir(d)) && !rc;) {
        size_t l = strlen(de->d_name);
        if (l > 12 && !strcmp(de->d_name + l - 12, ".safetensors"))
            rc = add_file(hf, de->d_name, e);
    }
    closedir(d);
    if (!rc && hf->n_files == 0) rc = calm_fail(e, "%s: no *.safetensors files", hf->dir);
    return rc;
}

int calm_hf_load(calm_model *m, const char *dir, calm_err *e) {
    calm_hf *hf = calloc(1, sizeof *hf);
    if (!hf) return calm_fail(e, "%s: out of memory", dir);
    m->hf = hf;
    snprintf(hf->dir, sizeof hf->dir, "%s", dir);
    char path[2048];
    snprintf(path, sizeof path, "%s/config.json", dir);
    cJSON *cfg = calm_read_json(path, e, 1);
    if (!cfg) return -1;
    calm_config *c = &m->cfg;
    const cJSON *mt = cJSON_GetObjectItem(cfg, "model_type");
    const char *type = cJSON_IsString(mt) ? mt->valuestring : "";
    int rc = 0;
    if (strcmp(type, "llama") && strcmp(type, "qwen2") && strcmp(type, "qwen3") &&
        strcmp(type, "mistral"))
        rc = calm_fail(e, "%s: model_type '%s' is not supported (llama, qwen2, qwen3, mistral)",
                       path, type);
    snprintf(c->arch, sizeof c->arch, "%s", type);
    c->dim = int_field(cfg, "hidden_size", 0);
    c->hidden_dim = int_field(cfg, "intermediate_size", 0);
    c->n_layers = int_field(cfg, "num_hidden_layers", 0);
    c->n_heads = int_field(cfg, "num_attention_heads", 0);
    c->n_kv_heads = int_field(cfg, "num_key_value_heads", c->n_heads);
    c->head_dim = int_field(cfg, "head_dim", 0);
    c->vocab_size = int_field(cfg, "vocab_size", 0);
    c->seq_len = int_field(cfg, "max_position_embeddings", 2048);
    c->norm_eps = (float)num(cfg, "rms_norm_eps", 1e-6);
    // transformers 5 moved rope_theta and rope_scaling into rope_parameters.
    const cJSON *rp = cJSON_GetObjectItem(cfg, "rope_parameters");
    const cJSON *rs = cJSON_IsObject(rp) ? rp : cJSON_GetObjectItem(cfg, "rope_scaling");
    c->rope_theta = (float)num(cfg, "rope_theta",
                               cJSON_IsObject(rp) ? num(rp, "rope_theta", 10000.0) : 10000.0);
    // HF checkpoints rotate halves; calm permutes llama's Q/K rows at load to GGUF's interleaved
    // layout so both sources compute the same sums in the same order.
    int llama = !strcmp(type, "llama") || !strcmp(type, "mistral");
    c->rope_style = llama ? CALM_ROPE_NORM : CALM_ROPE_NEOX;
    if (cJSON_IsObject(rs)) {
        const cJSON *rt = cJSON_GetObjectItem(rs, "rope_type");
        if (!cJSON_IsString(rt)) rt = cJSON_GetObjectItem(rs, "type");
        if (cJSON_IsString(rt) && !strcmp(rt->valuestring, "llama3")) {
            c->rope_factor = (float)num(rs, "factor", 8);
            c->rope_low_freq = (float)num(rs, "low_freq_factor", 1);
            c->rope_high_freq = (float)num(rs, "high_freq_factor", 4);
            c->rope_orig_ctx = int_field(rs, "original_max_position_embeddings", 8192);
        } else if (cJSON_IsString(rt) && strcmp(rt->valuestring, "default")) {
            rc = calm_fail(e, "%s: rope scaling type '%s' is not supported", path, rt->valuestring);
        }
    }
    cJSON_Delete(cfg);
    if (rc || open_weights(hf, e)) return -1;
    int total = 0;
    for (int i = 0; i < hf->n_files; i++) total += hf->files[i].f.n_tensors;
    m->tensors = calloc((size_t)total + 1, sizeof(calm_tensor));
    if (!m->tensors) return calm_fail(e, "%s: out of memory", dir);
    int hd = c->head_dim > 0 ? c->head_dim : (c->n_heads > 0 ? c->dim / c->n_heads : 0);
    for (int i = 0; i < hf->n_files; i++) {
        for (int k = 0; k < hf->files[i].f.n_tensors; k++) {
            const st_tensor *s = &hf->files[i].f.tensors[k];
            calm_tensor *t = &m->tensors[m->n_tensors];
            if (calm_hf_name_to_gguf(s->name, t->name, sizeof t->name))
                continue; // e.g. rotary caches
            t->type = s->type;
            t->n_dims = s->n_dims;
            for (int d = 0; d < 4; d++) t->ne[d] = d < s->n_dims ? s->shape[s->n_dims - 1 - d] : 1;
            t->data = s->data;
            t->nbytes = s->nbytes;
            if (llama && calm_hf_is_qk(t->name) && hd > 0 && t->ne[1] % hd == 0) {
                size_t row = calm_row_size(t->type, t->ne[0]);
                uint8_t *p = calm_model_own(m, t->nbytes);
                if (!p) return calm_fail(e, "%s: out of memory", dir);
                for (int r = 0; r < t->ne[1]; r++)
                    memcpy(p + (size_t)r * row,
                           (const uint8_t *)s->data + (size_t)calm_hf_qk_row(r, hd) * row, row);
                t->data = p;
            }
            m->n_tensors++;
        }
    }
    if (c->rope_factor > 0 && hd > 0) { // llama3: per-frequency factors, as GGUF stores them
        calm_tensor *t = &m->tensors[m->n_tensors++];
        float *f = calm_model_own(m, (size_t)hd / 2 * sizeof(float));
        if (!f) return calm_fail(e, "%s: out of memory", dir);
        double lo_wl = c->rope_orig_ctx / c->rope_low_freq,
               hi_wl = c->rope_orig_ctx / c->rope_high_freq;
        for (int i = 0; i < hd / 2; i++) {
            double freq = pow(c->rope_theta, -2.0 * i / hd), wl = 2 * M_PI / freq;
            if (wl < hi_wl)
                f[i] = 1.0f;
            else if (wl > lo_wl)
                f[i] = c->rope_factor;
            else {
                double sm = (c->rope_orig_ctx / wl - c->rope_low_freq) /
                            (c->rope_high_freq - c->rope_low_freq);
                f[i] = (float)(1.0 / ((1 - sm) / c->rope_factor + sm));
            }
        }
        snprintf(t->name, sizeof t->name, "rope_freqs.weight");
        t->type = CALM_TYPE_F32;
        t->n_dims = 1;
        t->ne[0] = hd / 2, t->ne[1] = t->ne[2] = t->ne[3] = 1;
        t->data = f;
        t->nbytes = (size_t)hd / 2 * 4;
    }
    return calm_model_bind(m, e);
}

void calm_hf_free(calm_hf *hf) {
    if (!hf) return;
    for (int i = 0; i < hf->n_files; i++) st_close(&hf->files[i].f);
    free(hf->files);
    free(hf);
}
