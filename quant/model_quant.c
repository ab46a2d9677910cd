#include "model_quant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/model_gguf.h"
#include "../kernels/matmul.h"
#include "../kernels/types.h"
#include "../runtime/progress.h"

int calm_qmodel_init(calm_qmodel *qm, int n_layers, calm_err *e) {
    memset(qm, 0, sizeof *qm);
    qm->n_layers = n_layers;
    qm->mats = calloc((size_t)n_layers, sizeof *qm->mats);
    qm->embd_type = CALM_TYPE_Q8_0;
    return qm->mats ? 0 : calm_fail(e, "out of memory");
}

void calm_qmodel_free(calm_qmodel *qm) {
    for (int l = 0; qm->mats && l < qm->n_layers; l++)
        for (int i = 0; i < CALM_BLOCK_MATS; i++) calm_qlinear_free(&qm->mats[l][i].q);
    free(qm->mats);
    memset(qm, 0, sizeof *qm);
}

void calm_layer_quantized(calm_layer *out, const calm_layer *L, const calm_qmat *mats) {
    *out = *L;
    for (int i = 0; i < CALM_BLOCK_MATS; i++) {
        calm_tensor *t = calm_block_mat(out, i);
        const calm_qlinear *q = &mats[i].q;
        t->type = q->type;
        t->data = q->data;
        t->nbytes = q->nbytes;
        t->packed = NULL;
        t->in_scale = q->in_scale;
        t->in_rot = q->in_rot;
    }
}

float *calm_tensor_f32(const calm_tensor *t) {
    int rows = (int)t->ne[1], cols = (int)t->ne[0];
    float *w = malloc((size_t)rows * cols * sizeof(float));
    if (!w) return NULL;
    for (int r = 0; r < rows; r++) calm_get_row(w + (size_t)r * cols, t->data, t->type, cols, r);
    return w;
}

int calm_block_xstats_init(calm_xstats *xs, const calm_config *c, calm_err *e) {
    int n[CALM_IN_COUNT] = {0}; // each input's width: the row length of the matrices reading it
    for (int i = 0; i < CALM_BLOCK_MATS; i++)
        n[calm_block_tensors[i].input] = calm_extent_of(c, calm_block_tensors[i].cols);
    memset(xs, 0, sizeof(calm_xstats) * CALM_IN_COUNT);
    for (int i = 0; i < CALM_IN_COUNT; i++)
        if (calm_xstats_init(&xs[i], n[i], e)) {
            calm_block_xstats_free(xs);
            return -1;
        }
    return 0;
}

void calm_block_xstats_free(calm_xstats *xs) {
    for (int i = 0; i < CALM_IN_COUNT; i++) calm_xstats_free(&xs[i]);
}

int calm_quantize_block_mat(const calm_algo *a, const calm_qopts *o, const calm_layer *L, int i,
                            const calm_xstats *xs, calm_qmat *out, calm_err *e) {
    const calm_tensor *t = calm_block_mat((calm_layer *)L, i);
    float *w = calm_tensor_f32(t);
    if (!w) return calm_fail(e, "out of memory for '%s'", t->name);
    int rc = a->quantize(o, w, (int)t->ne[1], (int)t->ne[0],
                         xs ? &xs[calm_block_tensors[i].input] : NULL, &out->q, e);
    free(w);
    out->algo = a->name;
    out->cka = -1;
    if (rc) {
        calm_err e2 = *e;
        return calm_fail(e, "%s (%s): %s", t->name, a->name, e2.msg);
    }
    return 0;
}

int calm_qmodel_write(const calm_model *m, const calm_tokenizer *t, const calm_qmodel *qm,
                      const char *path, calm_err *e) {
    gguf_writer w;
    gguf_writer_init(&w);
    calm_gguf_model_metadata(&w, m, t);
    uint32_t t0 = qm->mats[0][0].q.type, uniform = 1;
    for (int l = 0; l < qm->n_layers; l++)
        for (int i = 0; i < CALM_BLOCK_MATS; i++) uniform &= qm->mats[l][i].q.type == t0;
    int ftype = uniform ? calm_type_get(t0)->ftype : -1; // llama_ftype, for llama.cpp's report only
    gguf_w_u32(&w, "general.file_type", ftype >= 0 ? (uint32_t)ftype : 0);
    gguf_w_u32(&w, "general.quantization_version", 2);
    gguf_w_str(&w, "calm.version", CALM_VERSION);
    gguf_w_str(&w, "calm.pool", qm->pool ? qm->pool : "");
    gguf_w_str(&w, "calm.granularity", qm->granularity ? qm->granularity : "block");
    if (qm->score) gguf_w_str(&w, "calm.score", qm->score);
    gguf_w_u32(&w, "calm.bits", (uint32_t)qm->bits);
    gguf_w_u32(&w, "calm.group", (uint32_t)qm->group);
    gguf_w_u32(&w, "calm.calib.samples", (uint32_t)qm->samples);
    if (qm->holdout) gguf_w_u32(&w, "calm.calib.holdout", (uint32_t)qm->holdout);
    gguf_w_u32(&w, "calm.calib.ctx", (uint32_t)qm->ctx);
    char hash[17];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)qm->data_hash);
    gguf_w_str(&w, "calm.calib.hash", hash);
    void **bufs = calloc((size_t)m->n_tensors, sizeof(void *));
    int rc = bufs ? 0 : calm_fail(e, "%s: out of memory", path);
    char key[256], name[160];
    for (int i = 0; i < m->n_tensors && !rc; i++) {
        const calm_tensor *s = &m->tensors[i];
        int l = -1, k = -1, n = -1;
        if (sscanf(s->name, "blk.%d.%n", &l, &n) == 1 && n > 0)
            for (int j = 0; j < CALM_BLOCK_MATS; j++)
                if (!strcmp(s->name + n, calm_block_tensors[j].gguf)) k = j;
        if (strstr(s->name, ".in_scale") || strstr(s->name, ".in_hadamard")) continue;
        if (k >= 0 && l >= 0 && l < qm->n_layers) {
            const calm_qmat *q = &qm->mats[l][k];
            gguf_w_tensor(&w, s->name, q->q.type, s->ne, (uint32_t)s->n_dims, q->q.data,
                          q->q.nbytes);
            snprintf(key, sizeof key, "calm.tensor.%s.algo", s->name);
            gguf_w_str(&w, key, q->algo);
            snprintf(key, sizeof key, "calm.tensor.%s.err", s->name);
            gguf_w_f32(&w, key, (float)q->q.err);
            if (q->cka >= 0) {
                snprintf(key, sizeof key, "calm.tensor.%s.cka", s->name);
                gguf_w_f32(&w, key, (float)q->cka);
            }
            if (q->q.in_scale) { // blk.N.attn_q.weight -> blk.N.attn_q.in_scale
                int base = (int)(strrchr(s->name, '.') - s->name);
                snprintf(name, sizeof name, "%.*s.%s", base, s->name,
                         q->q.in_rot ? "in_hadamard" : "in_scale");
                int64_t ne[4] = {s->ne[0], 1, 1, 1};
                gguf_w_tensor(&w, name, CALM_TYPE_F32, ne, 1, q->q.in_scale,
                              (size_t)s->ne[0] * sizeof(float));
            }
            continue;
        }
        int is_embd = !strcmp(s->name, "token_embd.weight") || !strcmp(s->name, "output.weight");
        if (is_embd && s->type != qm->embd_type && calm_row_size(qm->embd_type, s->ne[0])) {
            size_t nb;
            bufs[i] = calm_tensor_convert(s, qm->embd_type, 0, &nb);
            if (!bufs[i]) {
                rc = calm_fail(e, "%s: out of memory for '%s'", path, s->name);
                break;
            }
            gguf_w_tensor(&w, s->name, qm->embd_type, s->ne, (uint32_t)s->n_dims, bufs[i], nb);
            continue;
        }
        gguf_w_tensor(&w, s->name, s->type, s->ne, (uint32_t)s->n_dims, s->data, s->nbytes);
    }
    if (!rc) rc = gguf_writer_write(&w, path, e);
    for (int i = 0; bufs && i < m->n_tensors; i++) free(bufs[i]);
    free(bufs);
    gguf_writer_free(&w);
    return rc;
}

int calm_quantize_model(const calm_model *m, const calm_tokenizer *t, const calm_quantize_opts *o,
                        const char *path, calm_err *e) {
    const calm_config *c = &m->cfg;
    calm_qmodel qm;
    calm_calib cal;
    calm_xstats xs[CALM_IN_COUNT];
    int use_data = o->algo->needs_data || o->data;
    memset(&cal, 0, sizeof cal);
    memset(xs, 0, sizeof xs);
    if (calm_qmodel_init(&qm, c->n_layers, e)) return -1;
    qm.pool = o->algo->name;
    qm.bits = o->q.fmt.bits;
    qm.group = o->q.fmt.group;
    qm.embd_type = o->embd_type;
    int rc = 0;
    if (use_data) {
        if (!o->data) {
            calm_qmodel_free(&qm);
            return calm_fail(e, "%s needs calibration data (--data FILE)", o->algo->name);
        }
        if (calm_calib_init(&cal, m, t, o->data, &o->calib, e) ||
            calm_block_xstats_init(xs, c, e)) {
            calm_calib_free(&cal);
            calm_qmodel_free(&qm);
            return -1;
        }
        qm.samples = cal.n, qm.ctx = cal.ctx, qm.data_hash = cal.data_hash;
        fprintf(stderr, "calm: calibration: %d windows of %d tokens from %s\n", cal.n, cal.ctx,
                o->data);
    }
    calm_progress pb;
    calm_progress_init(&pb, o->algo->name, c->n_layers);
    for (int l = 0; l < c->n_layers && !rc; l++) {
        const calm_layer *L = &m->layers[l];
        if (use_data) {
            for (int i = 0; i < CALM_IN_COUNT; i++) calm_xstats_reset(&xs[i]);
            calm_calib_layer(&cal, L, l, xs, NULL, NULL, 0);
        }
        double err = 0;
        for (int i = 0; i < CALM_BLOCK_MATS && !rc; i++) {
            rc = calm_quantize_block_mat(o->algo, &o->q, L, i, use_data ? xs : NULL, &qm.mats[l][i],
                                         e);
            err += qm.mats[l][i].q.err / CALM_BLOCK_MATS;
        }
        if (rc) break;
        if (use_data) { // the next layer sees this one quantized, as it will at run time
            calm_layer Lq;
            calm_layer_quantized(&Lq, L, qm.mats[l]);
            calm_calib_layer(&cal, &Lq, l, NULL, NULL, NULL, 1);
        }
        char note[64] = "";
        if (use_data) snprintf(note, sizeof note, "layer %d output error %.2e", l, err);
        calm_progress_step(&pb, l + 1, note);
    }
    calm_progress_done(&pb);
    if (!rc) rc = calm_qmodel_write(m, t, &qm, path, e);
    calm_block_xstats_free(xs);
    calm_calib_free(&cal);
    calm_qmodel_free(&qm);
    return rc;
}
