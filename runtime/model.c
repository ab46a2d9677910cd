#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "block.h"
#include "config.h"
#include "model_hf.h"
#include "../formats/hf.h"
#include "../kernels/matmul.h"
#include "../kernels/types.h"

void *calm_model_own(calm_model *m, size_t bytes) {
    void *p = calloc(1, bytes ? bytes : 1);
    void **o = realloc(m->owned, (size_t)(m->n_owned + 1) * sizeof *o);
    if (!p || !o) {
        free(p);
        if (o) m->owned = o;
        return NULL;
    }
    m->owned = o;
    m->owned[m->n_owned++] = p;
    return p;
}

const calm_tensor *calm_model_tensor(const calm_model *m, const char *name) {
    for (int i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return &m->tensors[i];
    return NULL;
}

// Small vectors (norms, biases) are used as f32 by the forward pass: convert once at load.
static int as_f32(calm_model *m, calm_tensor *t, calm_err *e) {
    if (t->type == CALM_TYPE_F32) return 0;
    int64_t n = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    float *f = calm_model_own(m, (size_t)n * 4);
    if (!f) return calm_fail(e, "%s: out of memory", m->path);
    calm_type_get(t->type)->to_float(t->data, f, n);
    t->data = f;
    t->type = CALM_TYPE_F32;
    t->nbytes = (size_t)n * 4;
    return 0;
}

static int bind(calm_model *m, calm_tensor *dst, const char *name, int64_t ne0, int64_t ne1,
                int required, calm_err *e) {
    const calm_tensor *t = calm_model_tensor(m, name);
    memset(dst, 0, sizeof *dst);
    if (!t) return required ? calm_fail(e, "%s: missing tensor '%s'", m->path, name) : 0;
    int64_t want1 = ne1 ? ne1 : 1;
    if (t->ne[0] != ne0 || t->ne[1] != want1 || t->ne[2] != 1 || t->ne[3] != 1)
        return calm_fail(e, "%s: tensor '%s' has shape [%lld, %lld], expected [%lld, %lld]",
                         m->path, name, (long long)t->ne[0], (long long)t->ne[1], (long long)ne0,
                         (long long)want1);
    const calm_type_traits *tt = calm_type_get(t->type);
    if (!tt || !tt->supported)
        return calm_fail(e, "%s: tensor '%s' has type %s, which calm cannot compute with yet",
                         m->path, name, tt ? tt->name : "unknown");
    *dst = *t;
    if (ne1 == 0) return as_f32(m, dst, e);
    return 0;
}

// The input transform of a calibrated matrix, from its companion vector if the file has one.
static int bind_transform(calm_model *m, calm_tensor *w, calm_err *e) {
    char base[128], name[160];
    snprintf(base, sizeof base, "%s", w->name);
    char *dot = strrchr(base, '.');
    if (dot) *dot = 0; // blk.N.attn_q.weight -> blk.N.attn_q
    static const char *kinds[2] = {"in_scale", "in_hadamard"};
    for (int k = 0; k < 2; k++) {
        snprintf(name, sizeof name, "%s.%s", base, kinds[k]);
        calm_tensor v;
        if (bind(m, &v, name, w->ne[0], 0, 0, e)) return -1;
        if (!v.data) continue;
        if (w->in_scale)
            return calm_fail(e, "%s: '%s' has both an in_scale and an in_hadamard vector", m->path,
                             base);
        w->in_scale = v.data;
        w->in_rot = k == 1;
    }
    return 0;
}

// The inputs' own transforms (calm_layer.in) that a file of format 2 records where it folded the
// scales into the norms: the Hadamard transform left online (calm.input.blk.N.<input>.hadamard).
// Then the matrices' identical companions move to their input (files of format 1 too).
static int bind_inputs(calm_model *m, calm_layer *L, int l, uint32_t format, calm_err *e) {
    for (int in = 0; in < CALM_IN_COUNT && format >= 2; in++) {
        char key[96];
        uint32_t rot = 0;
        snprintf(key, sizeof key, "calm.input.blk.%d.%s.hadamard", l, calm_input_names[in]);
        if (gguf_find(&m->gguf, key) && gguf_get_u32(&m->gguf, key, &rot, e)) return -1;
        L->in[in].rot = rot != 0;
    }
    calm_layer_share_inputs(L);
    return 0;
}

int calm_model_bind(calm_model *m, calm_err *e) {
    calm_config *c = &m->cfg;
    if (c->dim <= 0 || c->n_layers <= 0 || c->n_heads <= 0 || c->n_kv_heads <= 0 ||
        c->hidden_dim <= 0 || c->n_heads % c->n_kv_heads || c->dim > 1 << 16 ||
        c->n_layers > 1024 || c->hidden_dim > 1 << 20)
        return calm_fail(e, "%s: invalid hyper-parameters (dim %d, layers %d, heads %d/%d, ffn %d)",
                         m->path, c->dim, c->n_layers, c->n_heads, c->n_kv_heads, c->hidden_dim);
    if (c->head_dim <= 0) c->head_dim = c->dim / c->n_heads;
    if (c->head_dim % 2 || c->head_dim > 1024)
        return calm_fail(e, "%s: invalid head dimension %d", m->path, c->head_dim);
    const calm_tensor *emb = calm_model_tensor(m, "token_embd.weight");
    if (!emb) return calm_fail(e, "%s: missing tensor 'token_embd.weight'", m->path);
    if (c->vocab_size <= 0) c->vocab_size = (int)emb->ne[1];
    if (c->seq_len <= 0) c->seq_len = 2048;
    if (bind(m, &m->tok_embd, "token_embd.weight", c->dim, c->vocab_size, 1, e) ||
        bind(m, &m->out_norm, "output_norm.weight", c->dim, 0, 1, e) ||
        bind(m, &m->output, "output.weight", c->dim, c->vocab_size, 0, e))
        return -1;
    c->tied_embeddings = m->output.data == NULL;
    if (c->tied_embeddings) m->output = m->tok_embd;
    if (bind(m, &m->rope_freqs, "rope_freqs.weight", c->head_dim / 2, 0, 0, e)) return -1;
    // calm.format: 1 (or absent) per-matrix input transforms only, 2 per-input ones as well
    uint32_t format = 1;
    if (m->gguf.map && gguf_find(&m->gguf, "calm.format") &&
        gguf_get_u32(&m->gguf, "calm.format", &format, e))
        return -1;
    if (format > CALM_FORMAT)
        return calm_fail(e, "%s: calm.format %u is newer than this calm reads (up to %d)", m->path,
                         format, CALM_FORMAT);
    m->layers = calm_model_own(m, (size_t)c->n_layers * sizeof(calm_layer));
    if (!m->layers) return calm_fail(e, "%s: out of memory", m->path);
    for (int l = 0; l < c->n_layers; l++) {
        calm_layer *L = &m->layers[l];
        for (int i = 0; i < CALM_BLOCK_TENSORS; i++) {
            const calm_block_tensor *b = &calm_block_tensors[i];
            calm_tensor *t = calm_block_tensor_of(L, i);
            char name[96];
            snprintf(name, sizeof name, "blk.%d.%s", l, b->gguf);
            int rows = b->rows == CALM_EXT_ONE ? 0 : calm_extent_of(c, b->rows);
            if (bind(m, t, name, calm_extent_of(c, b->cols), rows, b->required, e) ||
                (i < CALM_BLOCK_MATS && bind_transform(m, t, e)))
                return -1;
        }
        if (bind_inputs(m, L, l, format, e)) return -1;
        if (l == 0) {
            c->qkv_bias = L->bq.data != NULL;
            c->qk_norm = L->q_norm.data != NULL;
        }
        if ((L->bq.data != NULL) != c->qkv_bias || (L->q_norm.data != NULL) != c->qk_norm)
            return calm_fail(e, "%s: layer %d differs from layer 0 in biases or QK-norm", m->path,
                             l);
    }
    return 0;
}

// The GGUF file's tensors as the model's tensor table (names as stored).
static int load_gguf(calm_model *m, const char *path, calm_err *e) {
    gguf_file *g = &m->gguf;
    if (gguf_open(g, path, e) || calm_config_from_gguf(&m->cfg, g, e)) return -1;
    m->tensors = calloc(g->n_tensors ? g->n_tensors : 1, sizeof(calm_tensor));
    if (!m->tensors) return calm_fail(e, "%s: out of memory", path);
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const gguf_tensor *gt = &g->tensors[i];
        calm_tensor *t = &m->tensors[m->n_tensors++];
        if (gt->name.len >= sizeof t->name)
            return calm_fail(e, "%s: tensor name of %llu bytes is too long", path,
                             (unsigned long long)gt->name.len);
        memcpy(t->name, gt->name.ptr, gt->name.len);
        t->type = gt->type;
        t->n_dims = (int)gt->n_dims;
        memcpy(t->ne, gt->ne, sizeof t->ne);
        t->data = gt->data;
        t->nbytes = gt->nbytes;
    }
    return calm_model_bind(m, e);
}

int calm_model_load(calm_model *m, const char *path, calm_err *e) {
    memset(m, 0, sizeof *m);
    snprintf(m->path, sizeof m->path, "%s", path);
    struct stat st;
    if (stat(path, &st) != 0) return calm_fail(e, "%s: no such file or directory", path);
    int rc = S_ISDIR(st.st_mode) ? calm_model_load_hf(m, path, e) : load_gguf(m, path, e);
    if (rc) calm_model_free(m);
    return rc;
}

// Every matrix the ISA's panels take (calm_isa_packs) is set up first, then all their panels are
// filled in one parallel loop: no barrier per matrix, and threads that finish a small matrix go on
// with the next one while the page faults of the new memory spread over all of them.
int calm_model_pack(calm_model *m, calm_err *e) {
    if (!calm_kernels()->panel_dot || m->packed) return 0;
    int cap = m->cfg.n_layers * CALM_BLOCK_MATS + 1;
    m->packed = calloc((size_t)cap, sizeof(calm_packed));
    const void **src = calloc((size_t)cap, sizeof *src);
    // first[i]: the number of panels before matrix i, all matrices' panels counted in one sequence
    int *first = calloc((size_t)cap + 1, sizeof *first);
    if (!m->packed || !src || !first) {
        free(src), free(first);
        return calm_fail(e, "%s: out of memory for packed weights", m->path);
    }
    for (int k = 0; k < cap; k++) {
        calm_tensor *t = k < cap - 1
                             ? calm_block_mat(&m->layers[k / CALM_BLOCK_MATS], k % CALM_BLOCK_MATS)
                             : &m->output;
        if (!calm_isa_packs(calm_kernels(), t->type)) continue; // the ISA's panel types only
        calm_packed *p = &m->packed[m->n_packed];
        if (calm_pack_init(p, t->type, (int)t->ne[1], (int)t->ne[0])) {
            free(src), free(first);
            return calm_fail(e, "%s: out of memory packing '%s'", m->path, t->name);
        }
        src[m->n_packed] = t->data;
        first[m->n_packed + 1] = first[m->n_packed] + calm_pack_panels(p);
        m->n_packed++;
        t->packed = p;
    }
    // Panels cost alike within a matrix but not across (the output matrix is the widest): small
    // dynamic chunks balance them.
#pragma omp parallel for schedule(dynamic, 4)
    for (int g = 0; g < first[m->n_packed]; g++) {
        // the matrix holding panel g: first[lo] <= g < first[lo + 1]
        int lo = 0, hi = m->n_packed - 1;
        while (lo < hi) {
            int mid = (lo + hi + 1) / 2;
            if (first[mid] <= g)
                lo = mid;
            else
                hi = mid - 1;
        }
        calm_pack_panel(&m->packed[lo], src[lo], g - first[lo]);
    }
    free(src), free(first);
    return 0;
}

void calm_model_free(calm_model *m) {
    for (int i = 0; i < m->n_packed; i++) calm_packed_free(&m->packed[i]);
    free(m->packed);
    for (int i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    free(m->tensors);
    gguf_close(&m->gguf);
    if (m->hf) calm_hf_close(m->hf);
    free(m->hf);
    memset(m, 0, sizeof *m);
}

void calm_model_size(const calm_model *m, int64_t *params, size_t *bytes) {
    *params = 0;
    *bytes = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const calm_tensor *t = &m->tensors[i];
        *params += t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
        *bytes += t->nbytes;
    }
}

void *calm_tensor_convert(const calm_tensor *s, uint32_t dt, int permute_hd, size_t *nbytes) {
    const calm_type_traits *st = calm_type_get(s->type), *dtt = calm_type_get(dt);
    int64_t rows = s->ne[1] * s->ne[2] * s->ne[3], cols = s->ne[0];
    size_t srow = calm_row_size(s->type, cols), drow = calm_row_size(dt, cols);
    *nbytes = (size_t)rows * drow;
    if (!dtt || !dtt->from_float || !drow) return NULL;
    uint8_t *buf = malloc(*nbytes ? *nbytes : 1);
    int oom = !buf;
#pragma omp parallel if (rows > 64 && !oom)
    {
        float *tmp = oom ? NULL : malloc((size_t)cols * sizeof(float));
#pragma omp for schedule(static)
        for (int64_t r = 0; r < rows; r++) {
            if (!tmp) continue;
            int64_t dst = permute_hd ? calm_rotary_row((int)r, permute_hd) : r;
            st->to_float((const uint8_t *)s->data + (size_t)r * srow, tmp, cols);
            dtt->from_float(tmp, buf + (size_t)dst * drow, cols);
        }
        if (!tmp) {
#pragma omp atomic write
            oom = 1;
        }
        free(tmp);
    }
    if (oom) free(buf), buf = NULL;
    return buf;
}
