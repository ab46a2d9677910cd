#include "model_quant.h"

#include <math.h>
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
    calm_layer_share_inputs(out);
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

// SmoothQuant's shared statistic: max |W[:, c]| over the matrices in mats (n of them, cols wide).
static float *column_max(const calm_layer *L, const int *mats, int n, int cols) {
    float *wmax = calloc((size_t)cols, sizeof(float));
    for (int j = 0; wmax && j < n; j++) {
        const calm_tensor *t = calm_block_mat((calm_layer *)L, mats[j]);
        float *w = calm_tensor_f32(t);
        if (!w) return free(wmax), NULL;
        for (int64_t r = 0; r < t->ne[1]; r++)
            for (int c = 0; c < cols; c++) wmax[c] = fmaxf(wmax[c], fabsf(w[r * cols + c]));
        free(w);
    }
    return wmax;
}

// CALM_SHARE_EXPONENT: every exponent of a's grid quantizes all readers (without the clipping
// search); the exponent with the least summed relative error wins, and its results are kept, or,
// where the algorithm clips, quantized once more with the clipping search.
static int shared_exponent(const calm_algo *a, const calm_qopts *o, const calm_layer *L,
                           const int *mats, int n, const calm_xstats *xs, calm_qmat *out,
                           calm_err *e) {
    float alpha[CALM_MAX_EXPONENTS];
    int na = a->exponents(o, alpha), best_k = -1;
    double best = INFINITY;
    calm_qopts so = *o;
    so.clip_search = 0;
    for (int k = 0; k < na; k++) {
        calm_qmat tmp[CALM_BLOCK_MATS];
        double sum = 0;
        so.expo = alpha[k];
        for (int j = 0; j < n; j++) {
            if (calm_quantize_block_mat(a, &so, L, mats[j], xs, &tmp[j], e)) {
                while (j--) calm_qlinear_free(&tmp[j].q);
                return -1;
            }
            sum += tmp[j].q.err;
        }
        for (int j = 0; j < n; j++) {
            if (sum < best) {
                calm_qlinear_free(&out[mats[j]].q);
                out[mats[j]] = tmp[j];
            } else {
                calm_qlinear_free(&tmp[j].q);
            }
        }
        if (sum < best) best = sum, best_k = k;
    }
    if (!a->clips || !o->clip_search) return 0;
    so = *o;
    so.expo = alpha[best_k];
    for (int j = 0; j < n; j++) {
        calm_qlinear_free(&out[mats[j]].q);
        if (calm_quantize_block_mat(a, &so, L, mats[j], xs, &out[mats[j]], e)) return -1;
    }
    return 0;
}

int calm_quantize_shared(const calm_algo *a, const calm_qopts *o, const calm_layer *L, int input,
                         const calm_xstats *xs, calm_qmat *out, calm_err *e) {
    int mats[CALM_BLOCK_MATS], n = 0, cols = 0;
    for (int i = 0; i < CALM_BLOCK_MATS; i++)
        if ((int)calm_block_tensors[i].input == input) {
            mats[n++] = i;
            cols = (int)calm_block_mat((calm_layer *)L, i)->ne[0];
        }
    if (xs && a->share == CALM_SHARE_EXPONENT && o->expo < 0)
        return shared_exponent(a, o, L, mats, n, xs, out, e);
    calm_qopts so = *o;
    float *wmax = NULL;
    if (a->share == CALM_SHARE_WMAX && !o->wmax) {
        so.wmax = wmax = column_max(L, mats, n, cols);
        if (!wmax)
            return calm_fail(e, "out of memory for the column maxima of layer input %d", input);
    }
    int rc = 0;
    for (int j = 0; j < n && !rc; j++)
        rc = calm_quantize_block_mat(a, &so, L, mats[j], xs, &out[mats[j]], e);
    free(wmax);
    return rc;
}

int calm_quantize_block(const calm_algo *a, const calm_qopts *o, const calm_layer *L,
                        const calm_xstats *xs, calm_qmat *out, calm_err *e) {
    for (int in = 0; in < CALM_IN_COUNT; in++)
        if (calm_quantize_shared(a, o, L, in, xs, out, e)) return -1;
    return 0;
}

// Whether every matrix of mats reading input `in` carries the same transform; *xf is it (the
// first reader's).
static int input_shared(const calm_qmat *mats, int in, int cols, const calm_qlinear **xf) {
    *xf = NULL;
    for (int i = 0; i < CALM_BLOCK_MATS; i++) {
        if ((int)calm_block_tensors[i].input != in) continue;
        const calm_qlinear *q = &mats[i].q;
        if (!*xf) *xf = q;
        const calm_qlinear *f = *xf;
        if (q->in_rot != f->in_rot || !q->in_scale != !f->in_scale ||
            (q->in_scale && memcmp(q->in_scale, f->in_scale, sizeof(float) * (size_t)cols)))
            return 0;
    }
    return 1;
}

// Per input of layer l: which transform its readers apply and where it went, as
// calm.input.blk.N.<input> (for people and calm inspect) and, where the scale went into the norm
// and a rotation is left, calm.input.blk.N.<input>.hadamard = 1 (for the loader). fold[in] says
// whether the input's scale is folded into its norm.
static void write_inputs(gguf_writer *w, const calm_model *m, const calm_qmodel *qm, int l,
                         int *fold) {
    const calm_qmat *mats = qm->mats[l];
    for (int in = 0; in < CALM_IN_COUNT; in++) {
        const calm_qlinear *xf;
        int cols = 0;
        for (int i = 0; i < CALM_BLOCK_MATS; i++)
            if ((int)calm_block_tensors[i].input == in)
                cols = calm_extent_of(&m->cfg, calm_block_tensors[i].cols);
        int shared = input_shared(mats, in, cols, &xf), norm = calm_input_norm(in);
        fold[in] = shared && xf->in_scale && norm >= 0;
        char key[128], val[192] = "", *v = val;
        size_t cap = sizeof val;
        snprintf(key, sizeof key, "calm.input.blk.%d.%s", l, calm_input_names[in]);
        if (!shared) {
            int k = snprintf(v, cap, "per matrix (readers differ):");
            for (int i = 0; i < CALM_BLOCK_MATS; i++)
                if ((int)calm_block_tensors[i].input == in && k < (int)cap)
                    k += snprintf(v + k, cap - (size_t)k, " %s %s%s", calm_block_tensors[i].gguf,
                                  mats[i].q.in_scale ? "scale" : "none",
                                  mats[i].q.in_rot ? "+hadamard" : "");
        } else if (!xf->in_scale && !xf->in_rot) {
            snprintf(v, cap, "none");
        } else {
            const char *algo = "";
            for (int i = 0; i < CALM_BLOCK_MATS; i++)
                if ((int)calm_block_tensors[i].input == in) algo = mats[i].algo;
            if (fold[in])
                snprintf(v, cap, "%s: scale folded into blk.%d.%s", algo, l,
                         calm_block_tensors[norm].gguf);
            else
                snprintf(v, cap, "%s: scale online once per token", algo);
            if (xf->in_rot && !xf->in_scale)
                snprintf(v, cap, "%s: hadamard online once per token", algo);
            else if (xf->in_rot)
                snprintf(v + strlen(v), cap - strlen(v), ", hadamard online once per token");
        }
        gguf_w_str(w, key, val);
        if (fold[in] && xf->in_rot) {
            snprintf(key, sizeof key, "calm.input.blk.%d.%s.hadamard", l, calm_input_names[in]);
            gguf_w_u32(w, key, 1);
        }
    }
}

// The norm weights with input in's shared scale folded in (norm * scale), malloc'd.
static float *folded_norm(const calm_layer *L, const calm_qmat *mats, int in, int n) {
    const calm_qlinear *xf = NULL;
    for (int i = 0; i < CALM_BLOCK_MATS && !xf; i++)
        if ((int)calm_block_tensors[i].input == in) xf = &mats[i].q;
    const float *w = calm_block_tensor_of((calm_layer *)L, calm_input_norm(in))->data;
    float *out = malloc(sizeof(float) * (size_t)n);
    for (int c = 0; out && c < n; c++) out[c] = w[c] * xf->in_scale[c];
    return out;
}

int calm_qmodel_write(const calm_model *m, const calm_tokenizer *t, const calm_qmodel *qm,
                      const char *path, calm_err *e) {
    if (m->gguf.map && gguf_find(&m->gguf, "calm.format"))
        return calm_fail(e,
                         "%s: a calibrated file (calm.format set) cannot be the source; quantize "
                         "the full-precision model",
                         m->path);
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
    gguf_w_u32(&w, "calm.format", CALM_FORMAT);
    void **bufs = calloc((size_t)m->n_tensors, sizeof(void *));
    int(*fold)[CALM_IN_COUNT] = calloc((size_t)qm->n_layers, sizeof *fold);
    int rc = bufs && fold ? 0 : calm_fail(e, "%s: out of memory", path);
    for (int l = 0; l < qm->n_layers && !rc; l++) write_inputs(&w, m, qm, l, fold[l]);
    char key[256], name[160];
    for (int i = 0; i < m->n_tensors && !rc; i++) {
        const calm_tensor *s = &m->tensors[i];
        int l = -1, k = -1, n = -1;
        if (sscanf(s->name, "blk.%d.%n", &l, &n) == 1 && n > 0)
            for (int j = 0; j < CALM_BLOCK_MATS; j++)
                if (!strcmp(s->name + n, calm_block_tensors[j].gguf)) k = j;
        if (strstr(s->name, ".in_scale") || strstr(s->name, ".in_hadamard")) continue;
        int in_norm = -1; // the input whose norm this is, when its scale is folded into it
        for (int in = 0; k < 0 && l >= 0 && l < qm->n_layers && in < CALM_IN_COUNT; in++)
            if (calm_input_norm(in) >= 0 && fold[l][in] &&
                !strcmp(s->name + n, calm_block_tensors[calm_input_norm(in)].gguf))
                in_norm = in;
        if (in_norm >= 0) {
            bufs[i] = folded_norm(&m->layers[l], qm->mats[l], in_norm, (int)s->ne[0]);
            if (!bufs[i]) {
                rc = calm_fail(e, "%s: out of memory for '%s'", path, s->name);
                break;
            }
            gguf_w_tensor(&w, s->name, CALM_TYPE_F32, s->ne, (uint32_t)s->n_dims, bufs[i],
                          sizeof(float) * (size_t)s->ne[0]);
            continue;
        }
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
            if (q->q.in_scale && !fold[l][calm_block_tensors[k].input]) {
                // blk.N.attn_q.weight -> blk.N.attn_q.in_scale
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
    free(fold);
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
        rc = calm_quantize_block(o->algo, &o->q, L, use_data ? xs : NULL, qm.mats[l], e);
        if (rc) break;
        for (int i = 0; i < CALM_BLOCK_MATS; i++) err += qm.mats[l][i].q.err / CALM_BLOCK_MATS;
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
