#include "model_hf.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "block.h"
#include "config.h"
#include "../formats/hf.h"
#include "../formats/json.h"
#include "../kernels/types.h"

// llama3 rope scaling as GGUF stores it: one factor per rotary frequency.
static int add_rope_freqs(calm_model *m, int hd, calm_err *e) {
    const calm_config *c = &m->cfg;
    calm_tensor *t = &m->tensors[m->n_tensors++];
    float *f = calm_model_own(m, (size_t)hd / 2 * sizeof(float));
    if (!f) return calm_fail(e, "%s: out of memory", m->path);
    double lo_wl = c->rope_orig_ctx / c->rope_low_freq,
           hi_wl = c->rope_orig_ctx / c->rope_high_freq;
    for (int i = 0; i < hd / 2; i++) {
        double freq = pow(c->rope_theta, -2.0 * i / hd), wl = 2 * M_PI / freq;
        if (wl < hi_wl)
            f[i] = 1.0f;
        else if (wl > lo_wl)
            f[i] = c->rope_factor;
        else {
            double sm =
                (c->rope_orig_ctx / wl - c->rope_low_freq) / (c->rope_high_freq - c->rope_low_freq);
            f[i] = (float)(1.0 / ((1 - sm) / c->rope_factor + sm));
        }
    }
    snprintf(t->name, sizeof t->name, "rope_freqs.weight");
    t->type = CALM_TYPE_F32;
    t->n_dims = 1;
    t->ne[0] = hd / 2, t->ne[1] = t->ne[2] = t->ne[3] = 1;
    t->data = f;
    t->nbytes = (size_t)hd / 2 * 4;
    return 0;
}

int calm_model_load_hf(calm_model *m, const char *dir, calm_err *e) {
    calm_hf *hf = calloc(1, sizeof *hf);
    if (!hf) return calm_fail(e, "%s: out of memory", dir);
    m->hf = hf;
    if (calm_hf_open(hf, dir, e)) return -1;
    char path[2048];
    snprintf(path, sizeof path, "%s/config.json", dir);
    calm_config *c = &m->cfg;
    if (calm_config_from_hf(c, hf->config, path, e) || calm_hf_open_weights(hf, e)) return -1;
    int total = 0;
    for (int i = 0; i < hf->n_files; i++) total += hf->files[i].n_tensors;
    m->tensors = calloc((size_t)total + 1, sizeof(calm_tensor));
    if (!m->tensors) return calm_fail(e, "%s: out of memory", dir);
    int hd = c->head_dim > 0 ? c->head_dim : (c->n_heads > 0 ? c->dim / c->n_heads : 0);
    // HF checkpoints rotate halves; calm permutes llama's Q/K rows at load to GGUF's interleaved
    // layout so both sources compute the same sums in the same order.
    int permute = c->rope_style == CALM_ROPE_NORM;
    for (int i = 0; i < hf->n_files; i++) {
        for (int k = 0; k < hf->files[i].n_tensors; k++) {
            const st_tensor *s = &hf->files[i].tensors[k];
            calm_tensor *t = &m->tensors[m->n_tensors];
            if (calm_name_hf_to_gguf(s->name, t->name, sizeof t->name))
                continue;                          // e.g. rotary caches
            for (int j = 0; j < m->n_tensors; j++) // else the directory listing would pick one
                if (!strcmp(m->tensors[j].name, t->name))
                    return calm_fail(e, "%s: tensor '%s' is in two shards (again in %s)", dir,
                                     s->name, strrchr(hf->files[i].path, '/') + 1);
            t->type = s->type;
            t->n_dims = s->n_dims;
            for (int d = 0; d < 4; d++) t->ne[d] = d < s->n_dims ? s->shape[s->n_dims - 1 - d] : 1;
            t->data = s->data;
            t->nbytes = s->nbytes;
            if (permute && calm_name_is_rotary(t->name) && hd > 0 && t->ne[1] % hd == 0) {
                size_t row = calm_row_size(t->type, t->ne[0]);
                uint8_t *p = calm_model_own(m, t->nbytes);
                if (!p) return calm_fail(e, "%s: out of memory", dir);
                for (int r = 0; r < t->ne[1]; r++)
                    memcpy(p + (size_t)r * row,
                           (const uint8_t *)s->data + (size_t)calm_rotary_row(r, hd) * row, row);
                t->data = p;
            }
            m->n_tensors++;
        }
    }
    if (c->rope_factor > 0 && hd > 0 && add_rope_freqs(m, hd, e)) return -1;
    // Tied embeddings are what an absent output matrix means to the binder; config.json saying
    // otherwise means lm_head.weight is missing, not shared.
    const cJSON *tie = cJSON_GetObjectItemCaseSensitive(hf->config, "tie_word_embeddings");
    if (cJSON_IsFalse(tie) && !calm_model_tensor(m, "output.weight"))
        return calm_fail(e, "%s: tie_word_embeddings is false but lm_head.weight is missing", dir);
    return calm_model_bind(m, e);
}

static int write_config(const calm_model *m, const calm_vocab *v, uint32_t type, const char *dir,
                        calm_err *e) {
    cJSON *cfg = cJSON_CreateObject();
    calm_config_to_hf(cfg, &m->cfg);
    cJSON_AddStringToObject(cfg, "torch_dtype",
                            type == CALM_TYPE_F32   ? "float32"
                            : type == CALM_TYPE_F16 ? "float16"
                                                    : "bfloat16");
    if (v->bos >= 0) cJSON_AddNumberToObject(cfg, "bos_token_id", v->bos);
    if (v->eos >= 0) cJSON_AddNumberToObject(cfg, "eos_token_id", v->eos);
    return calm_write_json(dir, "config.json", cfg, e);
}

int calm_hf_write(const calm_model *m, const calm_vocab *v, uint32_t type, const char *dir,
                  calm_err *e) {
    if (mkdir(dir, 0755) && errno != EEXIST)
        return calm_fail(e, "%s: cannot create: %s", dir, strerror(errno));
    if (write_config(m, v, type, dir, e)) return -1;
    st_wtensor *wt = calloc((size_t)m->n_tensors, sizeof *wt);
    void **bufs = calloc((size_t)m->n_tensors, sizeof *bufs);
    char(*names)[128] = calloc((size_t)m->n_tensors, 128);
    int n = 0, rc = 0, llama = m->cfg.rope_style == CALM_ROPE_NORM;
    if (!wt || !bufs || !names) rc = calm_fail(e, "%s: out of memory", dir);
    for (int i = 0; i < m->n_tensors && !rc; i++) {
        const calm_tensor *s = &m->tensors[i];
        if (calm_name_gguf_to_hf(s->name, names[n], 128)) continue; // rope_freqs: in config.json
        int vec = s->ne[1] == 1;
        uint32_t dt = vec ? CALM_TYPE_F32 : type; // norms and biases stay f32, as in GGUF
        int64_t rows = s->ne[1] * s->ne[2] * s->ne[3], cols = s->ne[0];
        int qk = llama && calm_name_is_rotary(s->name);
        size_t nb;
        bufs[n] = calm_tensor_convert(s, dt, qk ? m->cfg.head_dim : 0, &nb);
        if (!bufs[n]) {
            rc = calm_fail(e, "%s: out of memory", dir);
            break;
        }
        wt[n] = (st_wtensor){names[n], dt, vec ? 1 : 2, {vec ? cols : rows, cols}, bufs[n], nb};
        n++;
    }
    char path[2048];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (!rc) rc = st_write(path, wt, n, e);
    for (int i = 0; i < n; i++) free(bufs[i]);
    free(bufs);
    free(wt);
    free(names);
    return rc ? rc : calm_vocab_write_hf(v, dir, e);
}
