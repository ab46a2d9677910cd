#include "forward.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/matmul.h"

int calm_state_init(calm_state *s, const calm_model *m, int seq_len, int max_batch, calm_err *e) {
    memset(s, 0, sizeof *s);
    const calm_config *c = &m->cfg;
    s->m = m;
    if (seq_len <= 0 || seq_len > c->seq_len) seq_len = c->seq_len;
    if (max_batch <= 0) max_batch = 1;
    s->max_batch = max_batch;
    int qd = c->n_heads * c->head_dim, kvd = c->n_kv_heads * c->head_dim;
    if (calm_kv_init(&s->kv, c->n_layers, seq_len, kvd, e)) return -1;
    size_t B = (size_t)max_batch;
    s->x = malloc(B * c->dim * sizeof(float));
    s->xb = malloc(B * c->dim * sizeof(float));
    s->q = malloc(B * qd * sizeof(float));
    s->att_out = malloc(B * qd * sizeof(float));
    s->k = malloc(B * kvd * sizeof(float));
    s->v = malloc(B * kvd * sizeof(float));
    s->hb = malloc(B * c->hidden_dim * sizeof(float));
    s->hb2 = malloc(B * c->hidden_dim * sizeof(float));
    s->n_scores = omp_get_max_threads();
    s->scores = malloc((size_t)s->n_scores * seq_len * sizeof(float));
    s->inv_freq = malloc((size_t)c->head_dim / 2 * sizeof(float));
    s->logits = malloc((size_t)c->vocab_size * sizeof(float));
    s->logits_rows = 1;
    if (!s->x || !s->xb || !s->q || !s->att_out || !s->k || !s->v || !s->hb || !s->hb2 ||
        !s->scores || !s->inv_freq || !s->logits) {
        calm_state_free(s);
        return calm_fail(e, "%s: out of memory for activations (batch %d)", m->path, max_batch);
    }
    const float *ff = m->rope_freqs.data;
    for (int i = 0; i < c->head_dim / 2; i++) {
        float f = powf(c->rope_theta, -2.0f * (float)i / (float)c->head_dim);
        s->inv_freq[i] = ff ? f / ff[i] : f;
    }
    return 0;
}

void calm_state_free(calm_state *s) {
    calm_kv_free(&s->kv);
    free(s->x);
    free(s->xb);
    free(s->q);
    free(s->att_out);
    free(s->k);
    free(s->v);
    free(s->hb);
    free(s->hb2);
    free(s->scores);
    free(s->inv_freq);
    free(s->logits);
    memset(s, 0, sizeof *s);
}

static void rmsnorm(float *o, const float *x, const float *w, int n, float eps) {
    double ss = 0.0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float scale = (float)(1.0 / sqrt(ss / n + eps));
    for (int i = 0; i < n; i++) o[i] = x[i] * scale * w[i];
}

static void rope(float *v, int n_heads, int hd, int pos, const float *inv_freq,
                 calm_rope_style st) {
    for (int h = 0; h < n_heads; h++) {
        float *p = v + (size_t)h * hd;
        for (int i = 0; i < hd / 2; i++) {
            float th = (float)pos * inv_freq[i];
            float c = cosf(th), s = sinf(th);
            int a = st == CALM_ROPE_NORM ? 2 * i : i;
            int b = st == CALM_ROPE_NORM ? 2 * i + 1 : i + hd / 2;
            float x0 = p[a], x1 = p[b];
            p[a] = x0 * c - x1 * s;
            p[b] = x0 * s + x1 * c;
        }
    }
}

// y = W x for T tokens, through the packed panels when the model has them.
static void matmul_t(const calm_isa *isa, float *y, const float *x, const calm_tensor *w, int T) {
    calm_mm m = {w->data, w->type, (int)w->ne[1], y, w->packed, w->in_scale, w->in_rot};
    calm_matmul_many(isa, &m, 1, x, (int)w->ne[0], T);
}

static calm_mm mm_of(const calm_tensor *w, float *y) {
    return (calm_mm){w->data, w->type, (int)w->ne[1], y, w->packed, w->in_scale, w->in_rot};
}

void calm_block_forward(calm_state *s, const calm_layer *L, int l, int T, int p0,
                        calm_block_hook hook, void *ctx) {
    const calm_config *c = &s->m->cfg;
    const int dim = c->dim, hd = c->head_dim, nh = c->n_heads, nkv = c->n_kv_heads;
    const int qd = nh * hd, kvd = nkv * hd, hid = c->hidden_dim;
    const float att_scale = 1.0f / sqrtf((float)hd);
    const calm_isa *isa = calm_kernels();

    for (int t = 0; t < T; t++)
        rmsnorm(s->xb + (size_t)t * dim, s->x + (size_t)t * dim, L->attn_norm.data, dim,
                c->norm_eps);
    if (hook) hook(ctx, CALM_IN_ATTN, s->xb, T, dim);
    calm_mm qkv[3] = {mm_of(&L->wq, s->q), mm_of(&L->wk, s->k), mm_of(&L->wv, s->v)};
    calm_matmul_many(isa, qkv, 3, s->xb, dim, T);
    for (int t = 0; t < T; t++) {
        float *q = s->q + (size_t)t * qd, *k = s->k + (size_t)t * kvd, *v = s->v + (size_t)t * kvd;
        if (c->qkv_bias) {
            const float *bq = L->bq.data, *bk = L->bk.data, *bv = L->bv.data;
            for (int i = 0; i < qd; i++) q[i] += bq[i];
            for (int i = 0; i < kvd; i++) k[i] += bk[i], v[i] += bv[i];
        }
        if (c->qk_norm) {
            for (int h = 0; h < nh; h++)
                rmsnorm(q + h * hd, q + h * hd, L->q_norm.data, hd, c->norm_eps);
            for (int h = 0; h < nkv; h++)
                rmsnorm(k + h * hd, k + h * hd, L->k_norm.data, hd, c->norm_eps);
        }
        rope(q, nh, hd, p0 + t, s->inv_freq, c->rope_style);
        rope(k, nkv, hd, p0 + t, s->inv_freq, c->rope_style);
        memcpy(calm_kv_k(&s->kv, l, p0 + t), k, (size_t)kvd * sizeof(float));
        memcpy(calm_kv_v(&s->kv, l, p0 + t), v, (size_t)kvd * sizeof(float));
    }
    // Causal attention: token t sees positions 0 .. p0 + t. Later tokens see more positions, so
    // (token, head) pairs are dealt out round-robin to keep the threads even.
#pragma omp parallel for collapse(2) schedule(static, 1)
    for (int t = 0; t < T; t++) {
        for (int h = 0; h < nh; h++) {
            int kvh = h / (nh / nkv);
            isa->attend(s->q + (size_t)t * qd + (size_t)h * hd,
                        calm_kv_k(&s->kv, l, 0) + (size_t)kvh * hd,
                        calm_kv_v(&s->kv, l, 0) + (size_t)kvh * hd, (size_t)kvd, p0 + t + 1, hd,
                        att_scale, s->scores + (size_t)omp_get_thread_num() * s->kv.seq_len,
                        s->att_out + (size_t)t * qd + (size_t)h * hd);
        }
    }
    if (hook) hook(ctx, CALM_IN_ATTN_OUT, s->att_out, T, qd);
    matmul_t(isa, s->xb, s->att_out, &L->wo, T);
    for (size_t i = 0; i < (size_t)T * dim; i++) s->x[i] += s->xb[i];

    for (int t = 0; t < T; t++)
        rmsnorm(s->xb + (size_t)t * dim, s->x + (size_t)t * dim, L->ffn_norm.data, dim,
                c->norm_eps);
    if (hook) hook(ctx, CALM_IN_FFN, s->xb, T, dim);
    calm_mm gate_up[2] = {mm_of(&L->w_gate, s->hb), mm_of(&L->w_up, s->hb2)};
    calm_matmul_many(isa, gate_up, 2, s->xb, dim, T);
    isa->silu_mul(s->hb, s->hb2, (size_t)T * hid);
    if (hook) hook(ctx, CALM_IN_DOWN, s->hb, T, hid);
    matmul_t(isa, s->xb, s->hb, &L->w_down, T);
    for (size_t i = 0; i < (size_t)T * dim; i++) s->x[i] += s->xb[i];
}

// One batch of T tokens at positions p0 .. p0+T-1.
static void forward_batch(calm_state *s, const int *tok, int T, int all_logits) {
    const calm_model *m = s->m;
    const calm_config *c = &m->cfg;
    const int dim = c->dim, p0 = s->kv.n;
    const calm_isa *isa = calm_kernels();

    for (int t = 0; t < T; t++)
        calm_get_row(s->x + (size_t)t * dim, m->tok_embd.data, m->tok_embd.type, dim, tok[t]);
    for (int l = 0; l < c->n_layers; l++)
        calm_block_forward(s, &m->layers[l], l, T, p0, NULL, NULL);
    s->kv.n += T;

    int first = all_logits ? 0 : T - 1, n_out = T - first;
    for (int t = first; t < T; t++)
        rmsnorm(s->xb + (size_t)(t - first) * dim, s->x + (size_t)t * dim, m->out_norm.data, dim,
                c->norm_eps);
    matmul_t(isa, s->logits, s->xb, &m->output, n_out);
}

float *calm_forward(calm_state *s, const int *tokens, int n, int all_logits, calm_err *e) {
    const calm_config *c = &s->m->cfg;
    if (n <= 0) return calm_fail(e, "forward: no tokens"), NULL;
    if (s->kv.n + n > s->kv.seq_len)
        return calm_fail(e, "context full: %d + %d tokens exceed the context of %d", s->kv.n, n,
                         s->kv.seq_len),
               NULL;
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= c->vocab_size)
            return calm_fail(e, "token id %d out of range (vocab %d)", tokens[i], c->vocab_size),
                   NULL;
    if (all_logits && n > s->max_batch)
        return calm_fail(e, "forward: %d tokens with all logits exceed the batch of %d", n,
                         s->max_batch),
               NULL;
    int rows = all_logits ? n : 1;
    if (rows > s->logits_rows) {
        float *l = realloc(s->logits, (size_t)rows * c->vocab_size * sizeof(float));
        if (!l) return calm_fail(e, "out of memory for %d rows of logits", rows), NULL;
        s->logits = l;
        s->logits_rows = rows;
    }
    for (int i = 0; i < n; i += s->max_batch) {
        int T = n - i < s->max_batch ? n - i : s->max_batch;
        forward_batch(s, tokens + i, T, all_logits);
    }
    return s->logits;
}
