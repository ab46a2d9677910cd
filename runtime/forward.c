// The forward pass: every layer of a batch and the output in one OpenMP parallel region. A block is
// a sequence of team stages that all threads run, each ending at a barrier, so that data passes
// between threads only there; calibration hooks run between stages, outside the region.
#include "forward.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"

// Attention scratch per thread: the scores of a tile of CALM_ATTEND_TILE queries (isa->attend_tile)
// against every position, or of one query.
static size_t calm_scores_per_thread(int seq_len) {
    return ((size_t)seq_len + CALM_ATTEND_TILE) * CALM_ATTEND_TILE;
}

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
    s->scores = malloc((size_t)s->n_scores * calm_scores_per_thread(seq_len) * sizeof(float));
    s->inv_freq = malloc((size_t)c->head_dim / 2 * sizeof(float));
    s->logits = malloc((size_t)c->vocab_size * sizeof(float));
    s->logits_rows = 1;
    s->rope_cos = malloc(B * (c->head_dim / 2) * sizeof(float));
    s->rope_sin = malloc(B * (c->head_dim / 2) * sizeof(float));
    int widest = c->hidden_dim > qd ? c->hidden_dim : qd;
    int no_mm = calm_mm_scratch_init(&s->mm, max_batch, widest > c->dim ? widest : c->dim);
    if (!s->x || !s->xb || !s->q || !s->att_out || !s->k || !s->v || !s->hb || !s->hb2 ||
        !s->scores || !s->inv_freq || !s->logits || !s->rope_cos || !s->rope_sin || no_mm) {
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
    float *bufs[] = {s->x,   s->xb,     s->q,        s->att_out, s->k,        s->v,       s->hb,
                     s->hb2, s->scores, s->inv_freq, s->logits,  s->rope_cos, s->rope_sin};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    calm_mm_scratch_free(&s->mm);
    memset(s, 0, sizeof *s);
}

// The team of a forward pass: the thread count asked for, up to the one the state has room for.
static int team_size(const calm_state *s) {
    int n = omp_get_max_threads();
    return n < s->n_scores ? n : s->n_scores;
}

// 1 / rms of x (+ res), summed in double in element order, as llama.cpp's f32 path rounds.
static float rms_scale(const float *x, const float *res, int n, float eps) {
    double ss = 0.0;
    for (int i = 0; i < n; i++) {
        float v = res ? x[i] + res[i] : x[i];
        ss += (double)v * v;
    }
    return (float)(1.0 / sqrt(ss / n + eps));
}

static void rmsnorm(float *o, const float *x, const float *w, int n, float eps) {
    float scale = rms_scale(x, NULL, n, eps);
    for (int i = 0; i < n; i++) o[i] = x[i] * scale * w[i];
}

// o[r] = rmsnorm(x[r]) * w for `rows` rows of n, by the team; with res, first x[r] += res[r] (the
// residual add) in place. o may be res, not x. Whole rows per thread when there are enough; else
// (decode) every thread sums each row, in the same order, and writes its share of the elements.
// Ends at a barrier.
static void rmsnorm_team(float *o, float *x, const float *res, const float *w, int n, int rows,
                         float eps) {
    if (rows >= omp_get_num_threads()) {
        int64_t r0, r1;
        calm_team_share(rows, &r0, &r1);
        for (int64_t r = r0; r < r1; r++) {
            float *xr = x + r * n;
            if (res)
                for (int i = 0; i < n; i++) xr[i] += res[r * n + i];
            rmsnorm(o + r * n, xr, w, n, eps);
        }
    } else {
        int64_t i0, i1;
        calm_team_share(n, &i0, &i1);
        for (int r = 0; r < rows; r++) {
            float *xr = x + (size_t)r * n, *orow = o + (size_t)r * n;
            const float *rr = res ? res + (size_t)r * n : NULL;
            float scale = rms_scale(xr, rr, n, eps);
            if (rr) { // every thread has read the row before any writes its share
#pragma omp barrier
            }
            for (int64_t i = i0; i < i1; i++) {
                float v = rr ? xr[i] + rr[i] : xr[i];
                if (rr) xr[i] = v;
                orow[i] = v * scale * w[i];
            }
        }
    }
#pragma omp barrier
}

// cos and sin of the rotary angles of positions rope_p0 .. rope_p0 + rope_n - 1, by the team;
// the caller puts a barrier before their use.
static void rope_table(calm_state *s) {
    int half = s->m->cfg.head_dim / 2;
    int64_t j0, j1;
    calm_team_share((int64_t)s->rope_n * half, &j0, &j1);
    for (int64_t j = j0; j < j1; j++) {
        float th = (float)(s->rope_p0 + (int)(j / half)) * s->inv_freq[j % half];
        s->rope_cos[j] = cosf(th);
        s->rope_sin[j] = sinf(th);
    }
}

// Rotates one head of hd by the angles of one position (cos and sin of hd/2 frequencies).
static void rope(float *p, int hd, const float *cs, const float *sn, calm_rope_style st) {
    for (int i = 0; i < hd / 2; i++) {
        int a = st == CALM_ROPE_NORM ? 2 * i : i;
        int b = st == CALM_ROPE_NORM ? 2 * i + 1 : i + hd / 2;
        float x0 = p[a], x1 = p[b];
        p[a] = x0 * cs[i] - x1 * sn[i];
        p[b] = x0 * sn[i] + x1 * cs[i];
    }
}

static void add(float *y, const float *b, int n) {
    for (int i = 0; i < n; i++) y[i] += b[i];
}

static calm_mm mm_of(const calm_tensor *w, float *y) {
    return (calm_mm){w->data, w->type, (int)w->ne[1], y, w->packed, w->in_scale, w->in_rot};
}

// y[i] = w[i] x (T rows of cols) for the n matrices of one stage, by the team.
static void linear_team(calm_state *s, int n, const calm_tensor *const *w, float *const *y,
                        const float *x, int cols, int T) {
    calm_mm mm[3];
    for (int i = 0; i < n; i++) mm[i] = mm_of(w[i], y[i]);
    calm_matmul_team(calm_kernels(), mm, n, x, cols, T, &s->mm);
}

// What every stage of a block works on.
typedef struct {
    calm_state *s;
    const calm_layer *L;
    int l, T, p0; // cache slot of the layer, tokens, position of the first
} block_step;

// What follows Q, K and V per token and head: the biases, QK-norm and RoPE, then K and V into the
// cache. T x (n_heads + 2 n_kv_heads) independent items, split over the team.
static void st_heads(const block_step *b) {
    calm_state *s = b->s;
    const calm_layer *L = b->L;
    const calm_config *c = &s->m->cfg;
    const int hd = c->head_dim, nh = c->n_heads, nkv = c->n_kv_heads, per = nh + 2 * nkv;
    const size_t qd = (size_t)nh * hd, kvd = (size_t)nkv * hd;
    int64_t j0, j1;
    calm_team_share((int64_t)b->T * per, &j0, &j1);
    for (int64_t j = j0; j < j1; j++) {
        int t = (int)(j / per), h = (int)(j % per), pos = b->p0 + t;
        const float *cs = s->rope_cos + (size_t)(pos - s->rope_p0) * (hd / 2),
                    *sn = s->rope_sin + (size_t)(pos - s->rope_p0) * (hd / 2);
        if (h < nh) {
            float *q = s->q + t * qd + (size_t)h * hd;
            if (c->qkv_bias) add(q, (const float *)L->bq.data + (size_t)h * hd, hd);
            if (c->qk_norm) rmsnorm(q, q, L->q_norm.data, hd, c->norm_eps);
            rope(q, hd, cs, sn, c->rope_style);
        } else if (h < nh + nkv) {
            size_t off = (size_t)(h - nh) * hd;
            float *k = s->k + t * kvd + off;
            if (c->qkv_bias) add(k, (const float *)L->bk.data + off, hd);
            if (c->qk_norm) rmsnorm(k, k, L->k_norm.data, hd, c->norm_eps);
            rope(k, hd, cs, sn, c->rope_style);
            memcpy(calm_kv_k(&s->kv, b->l, pos) + off, k, (size_t)hd * sizeof(float));
        } else {
            size_t off = (size_t)(h - nh - nkv) * hd;
            float *v = s->v + t * kvd + off;
            if (c->qkv_bias) add(v, (const float *)L->bv.data + off, hd);
            memcpy(calm_kv_v(&s->kv, b->l, pos) + off, v, (size_t)hd * sizeof(float));
        }
    }
#pragma omp barrier
}

// Causal attention: token t sees positions 0 .. p0 + t. Later tokens see more positions, so
// (token, head) pairs, or in prefill (tile of tokens, head) pairs, are dealt out round-robin to
// keep the threads even.
static void st_attend(const block_step *b) {
    calm_state *s = b->s;
    const calm_isa *isa = calm_kernels();
    const calm_config *c = &s->m->cfg;
    const int hd = c->head_dim, nh = c->n_heads, nkv = c->n_kv_heads, T = b->T;
    const size_t qd = (size_t)nh * hd, kvd = (size_t)nkv * hd;
    const float att_scale = 1.0f / sqrtf((float)hd);
    const float *k0 = calm_kv_k(&s->kv, b->l, 0), *v0 = calm_kv_v(&s->kv, b->l, 0);
    float *scores =
        s->scores + (size_t)omp_get_thread_num() * calm_scores_per_thread(s->kv.seq_len);
    if (T > 1 && isa->attend_tile) { // prefill: tiles of queries of one head share the key loads
        const int tiles = (T + CALM_ATTEND_TILE - 1) / CALM_ATTEND_TILE;
#pragma omp for collapse(2) schedule(static, 1)
        for (int tile = 0; tile < tiles; tile++) {
            for (int h = 0; h < nh; h++) {
                int t0 = tile * CALM_ATTEND_TILE, kvh = h / (nh / nkv);
                int nq = T - t0 < CALM_ATTEND_TILE ? T - t0 : CALM_ATTEND_TILE;
                isa->attend_tile(s->q + t0 * qd + (size_t)h * hd, qd, nq, k0 + (size_t)kvh * hd,
                                 v0 + (size_t)kvh * hd, kvd, b->p0 + t0 + 1, hd, att_scale, scores,
                                 s->att_out + t0 * qd + (size_t)h * hd, qd);
            }
        }
        return;
    }
#pragma omp for collapse(2) schedule(static, 1)
    for (int t = 0; t < T; t++) {
        for (int h = 0; h < nh; h++) {
            int kvh = h / (nh / nkv);
            isa->attend(s->q + t * qd + (size_t)h * hd, k0 + (size_t)kvh * hd,
                        v0 + (size_t)kvh * hd, kvd, b->p0 + t + 1, hd, att_scale, scores,
                        s->att_out + t * qd + (size_t)h * hd);
        }
    }
}

static void st_attn_norm(const block_step *b) {
    const calm_config *c = &b->s->m->cfg;
    rmsnorm_team(b->s->xb, b->s->x, NULL, b->L->attn_norm.data, c->dim, b->T, c->norm_eps);
}

static void st_qkv(const block_step *b) {
    calm_state *s = b->s;
    linear_team(s, 3, (const calm_tensor *[]){&b->L->wq, &b->L->wk, &b->L->wv},
                (float *[]){s->q, s->k, s->v}, s->xb, s->m->cfg.dim, b->T);
}

static void st_o(const block_step *b) {
    const calm_config *c = &b->s->m->cfg;
    linear_team(b->s, 1, (const calm_tensor *[]){&b->L->wo}, (float *[]){b->s->xb}, b->s->att_out,
                c->n_heads * c->head_dim, b->T);
}

// The residual add of the attention, then the FFN's norm.
static void st_ffn_norm(const block_step *b) {
    const calm_config *c = &b->s->m->cfg;
    rmsnorm_team(b->s->xb, b->s->x, b->s->xb, b->L->ffn_norm.data, c->dim, b->T, c->norm_eps);
}

static void st_gate_up(const block_step *b) {
    calm_state *s = b->s;
    linear_team(s, 2, (const calm_tensor *[]){&b->L->w_gate, &b->L->w_up},
                (float *[]){s->hb, s->hb2}, s->xb, s->m->cfg.dim, b->T);
}

// hb = silu(hb) * hb2, by the team: shares start at multiples of 64 so that every element takes
// the vector path it takes in one call over all of them.
static void st_silu(const block_step *b) {
    size_t n = (size_t)b->T * b->s->m->cfg.hidden_dim;
    int64_t b0, b1;
    calm_team_share((int64_t)((n + 63) / 64), &b0, &b1);
    size_t lo = (size_t)b0 * 64, hi = (size_t)b1 * 64 < n ? (size_t)b1 * 64 : n;
    if (lo < hi) calm_kernels()->silu_mul(b->s->hb + lo, b->s->hb2 + lo, hi - lo);
#pragma omp barrier
}

static void st_down(const block_step *b) {
    calm_state *s = b->s;
    linear_team(s, 1, (const calm_tensor *[]){&b->L->w_down}, (float *[]){s->xb}, s->hb,
                s->m->cfg.hidden_dim, b->T);
}

// x += xb (the FFN's residual add), by the team.
static void st_residual(const block_step *b) {
    int64_t i0, i1;
    calm_team_share((int64_t)b->T * b->s->m->cfg.dim, &i0, &i1);
    for (int64_t i = i0; i < i1; i++) b->s->x[i] += b->s->xb[i];
#pragma omp barrier
}

// The stages of a block in order, each run by every thread of a team and ending at a barrier; a
// stage that completes the input of linear layers names it, and where the state holds it, for
// calibration hooks. A stage without run is the input's shared transform (calm_layer.in), which
// follows the stage completing it, so that hooks see the input itself.
static const struct {
    void (*run)(const block_step *b);
    calm_linear_input feeds; // CALM_IN_COUNT: none
    size_t input;            // offsetof(calm_state, the buffer)
    calm_extent cols;
} block_stages[] = {
    {st_attn_norm, CALM_IN_ATTN, offsetof(calm_state, xb), CALM_EXT_DIM},
    {NULL, CALM_IN_ATTN, offsetof(calm_state, xb), CALM_EXT_DIM},
    {st_qkv, CALM_IN_COUNT, 0, CALM_EXT_ONE},
    {st_heads, CALM_IN_COUNT, 0, CALM_EXT_ONE},
    {st_attend, CALM_IN_ATTN_OUT, offsetof(calm_state, att_out), CALM_EXT_QDIM},
    {NULL, CALM_IN_ATTN_OUT, offsetof(calm_state, att_out), CALM_EXT_QDIM},
    {st_o, CALM_IN_COUNT, 0, CALM_EXT_ONE},
    {st_ffn_norm, CALM_IN_FFN, offsetof(calm_state, xb), CALM_EXT_DIM},
    {NULL, CALM_IN_FFN, offsetof(calm_state, xb), CALM_EXT_DIM},
    {st_gate_up, CALM_IN_COUNT, 0, CALM_EXT_ONE},
    {st_silu, CALM_IN_DOWN, offsetof(calm_state, hb), CALM_EXT_HIDDEN},
    {NULL, CALM_IN_DOWN, offsetof(calm_state, hb), CALM_EXT_HIDDEN},
    {st_down, CALM_IN_COUNT, 0, CALM_EXT_ONE},
    {st_residual, CALM_IN_COUNT, 0, CALM_EXT_ONE},
};
#define N_STAGES ((int)(sizeof block_stages / sizeof block_stages[0]))

// The input of stage st transformed in place, x <- H(x * scale) per token, by the team: one
// transform per token for all the matrices that read it. Without a transform, nothing (and no
// barrier: every thread decides alike).
static void st_transform(const block_step *b, int st) {
    const calm_xform *t = &b->L->in[block_stages[st].feeds];
    if (!t->scale && !t->rot) return;
    const int cols = calm_extent_of(&b->s->m->cfg, block_stages[st].cols);
    float *x = *(float **)((char *)b->s + block_stages[st].input);
    int64_t t0, t1;
    calm_team_share(b->T, &t0, &t1);
    for (int64_t r = t0; t->scale && r < t1; r++)
        for (int c = 0; c < cols; c++) x[r * cols + c] *= t->scale[c];
    if (t->rot && t1 > t0) calm_kernels()->hadamard(x + t0 * cols, cols, (int)(t1 - t0), 0);
#pragma omp barrier
}

static void run_stage(const block_step *b, int st) {
    if (block_stages[st].run)
        block_stages[st].run(b);
    else
        st_transform(b, st);
}

// Whether a calibration hook sees the input that stage st completes.
static int hooked(int st) {
    return block_stages[st].run && block_stages[st].feeds != CALM_IN_COUNT;
}

// Whether the rotary table lacks positions p0 .. p0 + T - 1; if so it is set to hold them, and the
// caller's team fills it (rope_table).
static int rope_table_stale(calm_state *s, int p0, int T) {
    if (p0 >= s->rope_p0 && p0 + T <= s->rope_p0 + s->rope_n) return 0;
    s->rope_p0 = p0;
    s->rope_n = T;
    return 1;
}

void calm_block_forward(calm_state *s, const calm_layer *L, int l, int T, int p0,
                        calm_block_hook hook, void *ctx) {
    const block_step b = {s, L, l, T, p0};
    int stale = rope_table_stale(s, p0, T), team = team_size(s);
    for (int first = 0; first < N_STAGES;) {
        int last = first; // with a hook, up to the next stage it sees; else to the end
        while (last + 1 < N_STAGES && !(hook && hooked(last))) last++;
#pragma omp parallel num_threads(team)
        {
            if (stale && first == 0) {
                rope_table(s);
#pragma omp barrier
            }
            for (int st = first; st <= last; st++) run_stage(&b, st);
        }
        if (hook && hooked(last))
            hook(ctx, block_stages[last].feeds, *(float **)((char *)s + block_stages[last].input),
                 T, calm_extent_of(&s->m->cfg, block_stages[last].cols));
        first = last + 1;
    }
}

// One batch of T tokens at positions p0 .. p0+T-1, in one parallel region.
static void forward_batch(calm_state *s, const int *tok, int T, int all_logits) {
    const calm_model *m = s->m;
    const calm_config *c = &m->cfg;
    const int dim = c->dim, p0 = s->kv.n;
    const int first = all_logits ? 0 : T - 1, n_out = T - first;
    calm_mm out = mm_of(&m->output, s->logits);
    rope_table_stale(s, p0, T);
#pragma omp parallel num_threads(team_size(s))
    {
        rope_table(s);
        int64_t t0, t1;
        calm_team_share(T, &t0, &t1);
        for (int64_t t = t0; t < t1; t++)
            calm_get_row(s->x + t * dim, m->tok_embd.data, m->tok_embd.type, dim, tok[t]);
#pragma omp barrier
        for (int l = 0; l < c->n_layers; l++) {
            const block_step b = {s, &m->layers[l], l, T, p0};
            for (int st = 0; st < N_STAGES; st++) run_stage(&b, st);
        }
        rmsnorm_team(s->xb, s->x + (size_t)first * dim, NULL, m->out_norm.data, dim, n_out,
                     c->norm_eps);
        calm_matmul_team(calm_kernels(), &out, 1, s->xb, dim, n_out, &s->mm);
    }
    s->kv.n += T;
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
