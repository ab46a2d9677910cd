// The pool on the real default model: statistics of one real layer from calibration text, each
// algorithm's purpose checked on it, and quantized matrices written to a GGUF and read back
// bit for bit, input transforms included.
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "kernels/matmul.h"
#include "kernels/types.h"
#include "quant/model_quant.h"
#include "runtime/forward.h"

#define CALIB CALM_SOURCE_DIR "/../shared/data/wikitext-2/calib.raw"

typedef struct {
    calm_model m;
    calm_tokenizer t;
    calm_calib c;
    calm_xstats xs[CALM_IN_COUNT];
} fixture;

// Statistics of layer `l`'s inputs over a few short windows of calib.raw.
static void setup(fixture *f, int l) {
    calm_err e;
    cr_assert_eq(calm_model_load(&f->m, CALM_MODEL_F32, &e), 0, "%s", e.msg);
    cr_assert_eq(calm_tokenizer_from_gguf(&f->t, &f->m.gguf, &e), 0, "%s", e.msg);
    calm_calib_opts o = {8, 256, 7, 0};
    cr_assert_eq(calm_calib_init(&f->c, &f->m, &f->t, CALIB, &o, &e), 0, "%s", e.msg);
    for (int i = 0; i < l; i++) calm_calib_layer(&f->c, &f->m.layers[i], i, NULL, NULL, NULL, 1);
    cr_assert_eq(calm_block_xstats_init(f->xs, &f->m.cfg, &e), 0);
    calm_calib_layer(&f->c, &f->m.layers[l], l, f->xs, NULL, NULL, 0);
}

static void teardown(fixture *f) {
    calm_block_xstats_free(f->xs);
    calm_calib_free(&f->c);
    calm_tokenizer_free(&f->t);
    calm_model_free(&f->m);
}

// The transform matrix i of L applies to its input: its own, or its input's shared one.
static calm_xform transform_of(calm_layer *L, int i) {
    const calm_tensor *t = calm_block_mat(L, i);
    return t->in_scale || t->in_rot ? (calm_xform){t->in_scale, t->in_rot}
                                    : L->in[calm_block_tensors[i].input];
}

// Logits of every position of `tokens` (n of them) under model m, into out (malloc'd).
static float *logits_of(const calm_model *m, const int *tokens, int n) {
    calm_state s;
    calm_err e;
    cr_assert_eq(calm_state_init(&s, m, n, n, &e), 0);
    float *l = calm_forward(&s, tokens, n, 1, &e),
          *out = malloc(sizeof(float) * n * m->cfg.vocab_size);
    cr_assert(l && out, "%s", e.msg);
    memcpy(out, l, sizeof(float) * n * m->cfg.vocab_size);
    calm_state_free(&s);
    return out;
}

// The largest |a - b| over n logits, relative to the largest |a|.
static double max_rel_diff(const float *a, const float *b, size_t n) {
    double d = 0, top = 0;
    for (size_t i = 0; i < n; i++) {
        cr_assert(isfinite(b[i]));
        d = fmax(d, fabs((double)a[i] - b[i]));
        top = fmax(top, fabs((double)a[i]));
    }
    return d / top;
}

static double err_of(fixture *f, const char *algo, int l, int mat, uint32_t type, calm_qmat *q) {
    calm_qopts o;
    calm_qopts_default(&o);
    calm_err e;
    cr_assert_eq(calm_qfmt_init(&o.fmt, type, 0, &e), 0);
    cr_assert_eq(
        calm_quantize_block_mat(calm_algo_find(algo), &o, &f->m.layers[l], mat, f->xs, q, &e), 0,
        "%s", e.msg);
    return q->q.err;
}

// Held-out windows (the CALM search scores on them) run through the layers but never reach the
// statistics the algorithms fit.
Test(quantize_model, held_out_windows_feed_no_statistics) {
    calm_model m;
    calm_tokenizer t;
    calm_calib c;
    calm_xstats xs[CALM_IN_COUNT];
    calm_err e;
    cr_assert_eq(calm_model_load(&m, CALM_MODEL_F32, &e), 0, "%s", e.msg);
    cr_assert_eq(calm_tokenizer_from_gguf(&t, &m.gguf, &e), 0, "%s", e.msg);
    calm_calib_opts o = {3, 64, 7, 2};
    cr_assert_eq(calm_calib_init(&c, &m, &t, CALIB, &o, &e), 0, "%s", e.msg);
    cr_assert_eq(c.n, 5);
    cr_assert_eq(c.n_fit, 3);
    calm_calib fit; // the same seed without held-out windows: the same first three windows
    o.holdout = 0;
    cr_assert_eq(calm_calib_init(&fit, &m, &t, CALIB, &o, &e), 0, "%s", e.msg);
    cr_assert_eq(memcmp(fit.tokens, c.tokens, sizeof(int) * 3 * 64), 0);
    cr_assert_eq(calm_block_xstats_init(xs, &m.cfg, &e), 0);
    calm_calib_layer(&c, &m.layers[0], 0, xs, NULL, NULL, 1);
    for (int i = 0; i < CALM_IN_COUNT; i++) cr_assert_eq(xs[i].count, 3 * 64);
    calm_block_xstats_free(xs);
    calm_calib_free(&fit);
    calm_calib_free(&c);
    calm_tokenizer_free(&t);
    calm_model_free(&m);
}

Test(quantize_model, pool_on_a_real_layer) {
    fixture f;
    setup(&f, 2);
    uint32_t type = (uint32_t)calm_type_qg(3, 128);
    for (int mat = 0; mat < CALM_BLOCK_MATS; mat += 3) { // attn_q, attn_output, ffn_down
        calm_qmat q[4];
        double rtn = err_of(&f, "rtn", 2, mat, type, &q[0]);
        double gptq = err_of(&f, "gptq", 2, mat, type, &q[1]);
        double awq = err_of(&f, "awq", 2, mat, type, &q[2]);
        double hero = err_of(&f, "hero", 2, mat, type, &q[3]);
        cr_log_info("blk.2.%s qg3_128: rtn %.3g gptq %.3g awq %.3g hero %.3g",
                    calm_block_tensors[mat].gguf, rtn, gptq, awq, hero);
        cr_assert(gptq <= rtn && awq <= rtn && hero <= rtn, "%s", calm_block_tensors[mat].gguf);
        // HeRo-Q's transform lowers the top eigenvalue of the Hessian the quantizer sees
        const calm_xstats *xs = &f.xs[calm_block_tensors[mat].input];
        int n = xs->n;
        float *h = calm_xstats_h(xs), *hp = malloc(sizeof(float) * n * n);
        calm_transformed_h(q[3].q.in_scale, q[3].q.in_rot, h, n, hp);
        double before = calm_top_eigenvalue(h, n), after = calm_top_eigenvalue(hp, n);
        cr_log_info("  top Hessian eigenvalue %.4g -> %.4g", before, after);
        cr_assert(after < before, "%s: %g -> %g", calm_block_tensors[mat].gguf, before, after);
        free(h), free(hp);
        for (int i = 0; i < 4; i++) calm_qlinear_free(&q[i].q);
    }
    teardown(&f);
}

Test(quantize_model, rotation_flattens_real_activations) {
    fixture f;
    setup(&f, 1);
    calm_qmat q;
    err_of(&f, "hadamard", 1, 6, (uint32_t)calm_type_qg(4, 128), &q); // ffn_down, width 1536
    // the down projection's input of the first window, as the block computes it
    calm_state *s = &f.c.st;
    int T = f.c.ctx, n = f.m.cfg.hidden_dim;
    memcpy(s->x, f.c.hidden, sizeof(float) * T * f.m.cfg.dim);
    s->kv.n = 0;
    calm_block_forward(s, &f.m.layers[1], 1, T, 0, NULL, NULL);
    float *x = s->hb, *xt = malloc(sizeof(float) * T * n); // silu(gate) * up, still in the state
    calm_transform_input(xt, x, n, T, q.q.in_scale, q.q.in_rot);
    double r0 = th_peak_ratio(x, T, n), r1 = th_peak_ratio(xt, T, n);
    cr_log_info("ffn_down input max/mean |x|: %.1f -> %.1f", r0, r1);
    cr_assert(r1 < r0, "%g -> %g", r0, r1);
    free(xt);
    calm_qlinear_free(&q.q);
    teardown(&f);
}

Test(quantize_model, written_file_holds_exactly_the_quantized_matrices) {
    fixture f;
    setup(&f, 0);
    calm_qmodel qm;
    calm_err e;
    cr_assert_eq(calm_qmodel_init(&qm, f.m.cfg.n_layers, &e), 0);
    static const char *algos[CALM_BLOCK_MATS] = {"awq",         "hadamard", "gptq", "hero",
                                                 "smoothquant", "rtn",      "awq"};
    for (int l = 0; l < f.m.cfg.n_layers; l++)
        for (int i = 0; i < CALM_BLOCK_MATS; i++) {
            const char *a = l == 0 ? algos[i] : "rtn"; // layer 0 has a matrix of each kind
            calm_qopts o;
            calm_qopts_default(&o);
            uint32_t type = !strcmp(a, "smoothquant") ? CALM_TYPE_W8A8
                            : i == 2                  ? CALM_TYPE_Q4_1
                                                      : (uint32_t)calm_type_qg(4, 64);
            cr_assert_eq(calm_qfmt_init(&o.fmt, type, 0, &e), 0);
            cr_assert_eq(calm_quantize_block_mat(calm_algo_find(a), &o, &f.m.layers[l], i,
                                                 l == 0 ? f.xs : NULL, &qm.mats[l][i], &e),
                         0, "%s", e.msg);
        }
    qm.embd_type = CALM_TYPE_F32; // embeddings as in the source, so that only the blocks differ
    const char *path = th_tmp("mixed.gguf");
    cr_assert_eq(calm_qmodel_write(&f.m, &f.t, &qm, path, &e), 0, "%s", e.msg);
    calm_model r;
    cr_assert_eq(calm_model_load(&r, path, &e), 0, "%s", e.msg);
    for (int i = 0; i < CALM_BLOCK_MATS; i++) {
        const calm_tensor *t = calm_block_mat(&r.layers[0], i);
        const calm_qlinear *q = &qm.mats[0][i].q;
        cr_assert_eq(t->type, q->type, "%s", t->name);
        cr_assert(t->nbytes == q->nbytes && !memcmp(t->data, q->data, q->nbytes), "%s bytes",
                  t->name);
        calm_xform x = transform_of(&r.layers[0], i); // single readers (o, down): their input's
        cr_assert_eq(!!x.scale, !!q->in_scale, "%s transform", t->name);
        cr_assert_eq(x.rot, q->in_rot, "%s rotation", t->name);
        if (q->in_scale)
            cr_assert(!memcmp(x.scale, q->in_scale, sizeof(float) * t->ne[0]), "%s scales",
                      t->name);
        char key[160], val[32];
        snprintf(key, sizeof key, "calm.tensor.%s.algo", t->name);
        cr_assert_eq(gguf_get_str(&r.gguf, key, val, sizeof val, NULL), 0, "%s", key);
        cr_assert_str_eq(val, algos[i]);
    }
    // The hybrid file computes exactly what each layer's algorithm computes in isolation: the
    // source model with every layer's matrices swapped for that layer's quantized ones in memory.
    calm_model iso = f.m;
    calm_layer *layers = malloc(sizeof(calm_layer) * f.m.cfg.n_layers);
    for (int l = 0; l < f.m.cfg.n_layers; l++)
        calm_layer_quantized(&layers[l], &f.m.layers[l], qm.mats[l]);
    iso.layers = layers;
    calm_state s0, s1;
    cr_assert_eq(calm_state_init(&s0, &iso, 64, 64, &e), 0);
    cr_assert_eq(calm_state_init(&s1, &r, 64, 64, &e), 0);
    float *l0 = calm_forward(&s0, f.c.tokens, 64, 1, &e),
          *l1 = calm_forward(&s1, f.c.tokens, 64, 1, &e);
    cr_assert(l0 && l1, "%s", e.msg);
    for (size_t i = 0; i < (size_t)64 * r.cfg.vocab_size; i++) {
        cr_assert(isfinite(l1[i]));
        cr_assert_eq(l0[i], l1[i], "logit %zu: %g in memory, %g from the file", i, l0[i], l1[i]);
    }
    calm_state_free(&s0);
    calm_state_free(&s1);
    free(layers);
    calm_model_free(&r);
    calm_qmodel_free(&qm);
    teardown(&f);
}

// Model m with `layers` quantized by `algos[l]` (data-free ones beyond the statistics: xs of
// layer l from c when c is given), the rest by round to nearest, into qm; every layer's matrices
// reading one input share its transform.
static void quantize_layers(const calm_model *m, calm_calib *c, const char *const *algos,
                            int layers, uint32_t type, calm_qmodel *qm) {
    calm_err e;
    calm_xstats xs[CALM_IN_COUNT];
    cr_assert_eq(calm_qmodel_init(qm, m->cfg.n_layers, &e), 0);
    cr_assert_eq(calm_block_xstats_init(xs, &m->cfg, &e), 0);
    calm_qopts o;
    calm_qopts_default(&o);
    cr_assert_eq(calm_qfmt_init(&o.fmt, type, 0, &e), 0);
    for (int l = 0; l < m->cfg.n_layers; l++) {
        const char *a = l < layers ? algos[l] : "rtn";
        int data = c && calm_algo_find(a)->needs_data;
        if (data) {
            for (int i = 0; i < CALM_IN_COUNT; i++) calm_xstats_reset(&xs[i]);
            calm_calib_layer(c, &m->layers[l], l, xs, NULL, NULL, 0);
        }
        cr_assert_eq(calm_quantize_block(calm_algo_find(a), &o, &m->layers[l], data ? xs : NULL,
                                         qm->mats[l], &e),
                     0, "%s", e.msg);
        if (c && l + 1 < layers) {
            calm_layer Lq;
            calm_layer_quantized(&Lq, &m->layers[l], qm->mats[l]);
            calm_calib_layer(c, &Lq, l, NULL, NULL, NULL, 1);
        }
    }
    qm->embd_type = CALM_TYPE_F32;
    calm_block_xstats_free(xs);
}

// Writes qm for m to `name`, loads it into r, and returns the largest logit difference, relative
// to the largest logit, between the file (scales folded into the norms, one transform per input)
// and m with qm's matrices swapped in memory, each applying its own transform to its input. With
// ulp, *ulp is the same measure between that unfolded model and itself with the norms the file
// folds into one float step larger: the float tolerance of a model whose activations are rounded
// to int8.
static double folded_vs_unfolded(const calm_model *m, const calm_tokenizer *t, calm_qmodel *qm,
                                 const char *name, const int *tokens, int n, calm_model *r,
                                 double *ulp) {
    calm_err e;
    const char *path = th_tmp(name);
    cr_assert_eq(calm_qmodel_write(m, t, qm, path, &e), 0, "%s", e.msg);
    cr_assert_eq(calm_model_load(r, path, &e), 0, "%s", e.msg);
    calm_model iso = *m;
    calm_layer *layers = malloc(sizeof(calm_layer) * m->cfg.n_layers);
    for (int l = 0; l < m->cfg.n_layers; l++) {
        calm_layer_quantized(&layers[l], &m->layers[l], qm->mats[l]);
        for (int i = 0; i < CALM_BLOCK_MATS; i++) { // undo the sharing: each matrix its own
            calm_tensor *w = calm_block_mat(&layers[l], i);
            w->in_scale = qm->mats[l][i].q.in_scale;
            w->in_rot = qm->mats[l][i].q.in_rot;
        }
        memset(layers[l].in, 0, sizeof layers[l].in);
    }
    iso.layers = layers;
    if (ulp) { // the unfolded model again with the norms the file folds one float step larger
        calm_model nudged = iso;
        calm_layer *l2 = malloc(sizeof(calm_layer) * m->cfg.n_layers);
        float *nw = malloc(sizeof(float) * m->cfg.dim * 2 * m->cfg.n_layers);
        memcpy(l2, layers, sizeof(calm_layer) * m->cfg.n_layers);
        for (int l = 0; l < m->cfg.n_layers; l++)
            for (int k = 0; k < 2 && qm->mats[l][0].q.in_scale; k++) {
                calm_tensor *norm = k ? &l2[l].ffn_norm : &l2[l].attn_norm;
                float *o = nw + (size_t)(2 * l + k) * m->cfg.dim;
                for (int c = 0; c < m->cfg.dim; c++)
                    o[c] = nextafterf(((const float *)norm->data)[c], INFINITY);
                norm->data = o;
            }
        nudged.layers = l2;
        float *a = logits_of(&iso, tokens, n), *b = logits_of(&nudged, tokens, n);
        *ulp = max_rel_diff(a, b, (size_t)n * m->cfg.vocab_size);
        free(a), free(b), free(nw), free(l2);
    }
    float *a = logits_of(&iso, tokens, n), *b = logits_of(r, tokens, n);
    double d = max_rel_diff(a, b, (size_t)n * m->cfg.vocab_size);
    free(a), free(b), free(layers);
    return d;
}

// HeRo-Q and AWQ layers share one scale per input: the written file folds q/k/v's and gate/up's
// scales into the norms before them, keeps only HeRo-Q's Hadamard transform online (once per
// input), and computes the logits of the unfolded matrices within float rounding.
Test(quantize_model, folded_file_computes_the_unfolded_logits) {
    fixture f;
    setup(&f, 0);
    calm_calib_free(&f.c); // a fresh pass from layer 0
    calm_err e;
    calm_calib_opts co = {2, 64, 7, 0};
    cr_assert_eq(calm_calib_init(&f.c, &f.m, &f.t, CALIB, &co, &e), 0, "%s", e.msg);
    static const char *algos[] = {"hero", "awq"};
    calm_qmodel qm;
    const int nl = 2;
    quantize_layers(&f.m, &f.c, algos, nl, (uint32_t)calm_type_qg(4, 128), &qm);
    for (int l = 0; l < nl; l++)
        for (int i = 0; i < CALM_BLOCK_MATS; i++) // one transform per input
            cr_assert(!memcmp(qm.mats[l][i].q.in_scale,
                              qm.mats[l][calm_block_tensors[i].input == CALM_IN_ATTN  ? 0
                                         : calm_block_tensors[i].input == CALM_IN_FFN ? 4
                                                                                      : i]
                                  .q.in_scale,
                              sizeof(float) * calm_block_mat(&f.m.layers[l], i)->ne[0]),
                      "layer %d matrix %d", l, i);
    calm_model r;
    double ulp, d = folded_vs_unfolded(&f.m, &f.t, &qm, "folded.gguf", f.c.tokens, 64, &r, &ulp);
    // int8 activations make the model step where a float rounding moves a value across a rounding
    // boundary: the folded file (one rounding moved, norm * scale) stays within the difference
    // that one float step of those norms makes
    cr_log_info("default model, hero and awq layers: max logit difference %.3g of the largest; "
                "one float step of the folded norms: %.3g",
                d, ulp);
    cr_assert_lt(d, 2 * ulp, "folded logits differ by %g, one float step by %g", d, ulp);
    for (int l = 0; l < nl; l++) {
        calm_layer *L = &r.layers[l];
        int hero = !strcmp(algos[l], "hero");
        for (int in = 0; in < CALM_IN_COUNT; in++) {
            int norm = in == CALM_IN_ATTN || in == CALM_IN_FFN;
            cr_assert_eq(!!L->in[in].scale, !norm, "layer %d input %d: scale online", l, in);
            cr_assert_eq(L->in[in].rot, hero, "layer %d input %d: rotation", l, in);
        }
        for (int i = 0; i < CALM_BLOCK_MATS; i++)
            cr_assert(!calm_block_mat(L, i)->in_scale && !calm_block_mat(L, i)->in_rot);
        char key[96], val[192];
        snprintf(key, sizeof key, "calm.input.blk.%d.attn", l);
        cr_assert_eq(gguf_get_str(&r.gguf, key, val, sizeof val, NULL), 0, "%s", key);
        cr_assert(strstr(val, "folded into") && strstr(val, "attn_norm.weight"), "%s", val);
    }
    calm_model_free(&r);
    calm_qmodel_free(&qm);
    teardown(&f);
}

// The same on a tiny random Qwen2 (QKV bias, NeoX rope): the Hadamard rotation of every layer
// folds its signs into the norms, and the file computes the logits of the unfolded matrices.
Test(quantize_model, folded_tiny_qwen2_computes_the_unfolded_logits) {
    calm_model m, r;
    calm_tokenizer t;
    calm_err e;
    cr_assert_eq(calm_model_load(&m, CALM_SOURCE_DIR "/tests/ref/data/tiny/tiny-qwen2", &e), 0,
                 "%s", e.msg);
    cr_assert(m.cfg.qkv_bias);
    memset(&t, 0, sizeof t); // no vocabulary: the file is only run on token ids
    const char *algos[64];
    for (int l = 0; l < m.cfg.n_layers && l < 64; l++) algos[l] = "hadamard";
    calm_qmodel qm;
    quantize_layers(&m, NULL, algos, m.cfg.n_layers, (uint32_t)calm_type_qg(4, 32), &qm);
    int tokens[16];
    for (int i = 0; i < 16; i++) tokens[i] = (i * 37 + 11) % m.cfg.vocab_size;
    double d = folded_vs_unfolded(&m, &t, &qm, "folded-qwen2.gguf", tokens, 16, &r, NULL);
    cr_log_info("tiny qwen2, hadamard layers: max logit difference %.3g of the largest", d);
    cr_assert_lt(d, 1e-4, "folded logits differ by %g", d);
    cr_assert(r.layers[0].in[CALM_IN_ATTN].rot && !r.layers[0].in[CALM_IN_ATTN].scale);
    calm_model_free(&r);
    calm_qmodel_free(&qm);
    calm_model_free(&m);
}

// A hybrid written before the per-input transforms (no calm.format key, a companion per matrix)
// loads, its identical companions shared per input; a newer format is refused by name.
Test(quantize_model, format_versions) {
    fixture f;
    setup(&f, 0);
    calm_qmodel qm;
    static const char *algos[] = {"hadamard"};
    quantize_layers(&f.m, NULL, algos, 1, (uint32_t)calm_type_qg(4, 128), &qm);
    calm_model r;
    calm_err e;
    folded_vs_unfolded(&f.m, &f.t, &qm, "v2.gguf", f.c.tokens, 8, &r, NULL);
    // rewrite as version 1 would have: every companion per matrix, no calm.* input keys
    gguf_writer w;
    for (int v = 1; v <= 3; v += 2) {
        gguf_writer_init(&w);
        for (uint64_t i = 0; i < r.gguf.n_kv; i++) {
            const gguf_kv *kv = &r.gguf.kv[i];
            if (gguf_str_eq(kv->key, "calm.format") ||
                (kv->key.len > 11 && !memcmp(kv->key.ptr, "calm.input.", 11)))
                continue;
            gguf_w_copy(&w, kv);
        }
        if (v == 3) gguf_w_u32(&w, "calm.format", 3);
        char name[160];
        for (int i = 0; i < r.n_tensors; i++) {
            const calm_tensor *s = &r.tensors[i];
            const void *data = s->data;
            if (!strcmp(s->name, "blk.0.attn_norm.weight")) data = f.m.layers[0].attn_norm.data;
            if (!strcmp(s->name, "blk.0.ffn_norm.weight")) data = f.m.layers[0].ffn_norm.data;
            gguf_w_tensor(&w, s->name, s->type, s->ne, (uint32_t)s->n_dims, data, s->nbytes);
        }
        for (int i = 0; i < CALM_BLOCK_MATS; i++)
            if (calm_block_tensors[i].input == CALM_IN_ATTN ||
                calm_block_tensors[i].input == CALM_IN_FFN) {
                snprintf(
                    name, sizeof name, "blk.0.%.*s.in_hadamard",
                    (int)(strrchr(calm_block_tensors[i].gguf, '.') - calm_block_tensors[i].gguf),
                    calm_block_tensors[i].gguf);
                int64_t ne[4] = {f.m.cfg.dim, 1, 1, 1};
                gguf_w_tensor(&w, name, CALM_TYPE_F32, ne, 1, qm.mats[0][i].q.in_scale,
                              sizeof(float) * f.m.cfg.dim);
            }
        const char *path = th_tmp(v == 1 ? "v1.gguf" : "v3.gguf");
        cr_assert_eq(gguf_writer_write(&w, path, &e), 0, "%s", e.msg);
        gguf_writer_free(&w);
        calm_model old;
        if (v == 3) {
            cr_assert_neq(calm_model_load(&old, path, &e), 0);
            cr_assert(strstr(e.msg, "calm.format 3"), "%s", e.msg);
            continue;
        }
        cr_assert_eq(calm_model_load(&old, path, &e), 0, "%s", e.msg);
        for (int in = 0; in < CALM_IN_COUNT; in++) // shared at load: scale and rotation per input
            cr_assert(old.layers[0].in[in].scale && old.layers[0].in[in].rot, "input %d", in);
        float *a = logits_of(&r, f.c.tokens, 8), *b = logits_of(&old, f.c.tokens, 8);
        double d = max_rel_diff(a, b, (size_t)8 * f.m.cfg.vocab_size);
        cr_assert_lt(d, 1e-4, "version 1 file differs by %g", d);
        free(a), free(b);
        calm_model_free(&old);
    }
    calm_model_free(&r);
    calm_qmodel_free(&qm);
    teardown(&f);
}
