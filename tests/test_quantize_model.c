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
        cr_assert_eq(!!t->in_scale, !!q->in_scale, "%s transform", t->name);
        cr_assert_eq(t->in_rot, q->in_rot, "%s rotation", t->name);
        if (q->in_scale)
            cr_assert(!memcmp(t->in_scale, q->in_scale, sizeof(float) * t->ne[0]), "%s scales",
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
