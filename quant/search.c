#include "search.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cka.h"
#include "../kernels/matmul.h"
#include "../kernels/types.h"
#include "../runtime/generate.h"
#include "../runtime/progress.h"

int calm_parse_pool(const char *list, calm_search_opts *o, calm_err *e) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    o->n_pool = 0;
    for (char *s = strtok(buf, ","); s; s = strtok(NULL, ",")) {
        const calm_algo *a = calm_algo_find(s);
        if (!a) return calm_fail(e, "unknown algorithm '%s' in the pool", s);
        if (o->n_pool == CALM_MAX_POOL)
            return calm_fail(e, "at most %d algorithms in the pool", CALM_MAX_POOL);
        o->pool[o->n_pool++] = a;
    }
    return o->n_pool ? 0 : calm_fail(e, "empty pool");
}

typedef struct {
    const calm_algo *a;
    uint32_t type;
} cand;

// The pool at `bits`: SmoothQuant exists only as W8A8, so it competes at 8 bits alone.
static int candidates(const calm_search_opts *o, int bits, cand *c) {
    int n = 0;
    for (int i = 0; i < o->n_pool; i++) {
        int sq = !strcmp(o->pool[i]->name, "smoothquant");
        if (sq && bits != 8) continue;
        c[n++] = (cand){o->pool[i], sq        ? (uint32_t)CALM_TYPE_W8A8
                                    : o->type ? o->type
                                              : (uint32_t)calm_type_qg(bits, o->group)};
    }
    return n;
}

static int quantize_cand(const calm_search_opts *o, const cand *c, const calm_layer *L, int i,
                         const calm_xstats *xs, calm_qmat *out, calm_err *e) {
    calm_qopts q = o->base;
    int sym = o->base.fmt.sym || c->type == CALM_TYPE_W8A8 || c->type == CALM_TYPE_Q4_0 ||
              c->type == CALM_TYPE_Q8_0;
    if (calm_qfmt_init(&q.fmt, c->type, sym, e)) return -1;
    return calm_quantize_block_mat(c->a, &q, L, i, xs, out, e);
}

static void store_output(void *ctx, int sample, const float *y, int T, int dim) {
    memcpy((float *)ctx + (size_t)sample * T * dim, y, sizeof(float) * T * dim);
}

// The windows the search scores on: the held-out ones when there are any. Scored on the windows
// the algorithms fit, a method that overfits them (GPTQ on a few windows) looks better than it is.
static int first_scored(const calm_calib *c) {
    return c->n > c->n_fit ? c->n_fit : 0;
}

// CKA of each candidate block against the full-precision block over the scored windows. A block's
// output is its input plus the residual update; the input is the same for all, and it dominates
// (CKA of whole outputs is 0.9999x for any candidate), so the representations compared are the
// updates, output - input.
static void blocks_cka(calm_calib *c, int l, const float *yfp, const calm_layer *cands, int nc,
                       calm_cka *ck, float *delta) {
    size_t win = (size_t)c->ctx * c->dim;
    for (int w = first_scored(c); w < c->n; w++) {
        const float *in = c->hidden + w * win;
        for (size_t i = 0; i < win; i++) delta[i] = yfp[w * win + i] - in[i];
        calm_cka_add_x(ck, delta, c->ctx);
        for (int j = 0; j < nc; j++) {
            memcpy(c->st.x, in, win * sizeof(float));
            c->st.kv.n = 0;
            calm_block_forward(&c->st, &cands[j], l, c->ctx, 0, NULL, NULL);
            for (size_t i = 0; i < win; i++) delta[i] = c->st.x[i] - in[i];
            calm_cka_add_y(ck, j, delta, c->ctx);
        }
    }
}

// Linear granularity: inside the full-precision block, each matrix's output against each
// candidate's output on the same input.
typedef struct {
    const calm_layer *L;
    calm_qmat (*qm)[CALM_BLOCK_MATS];
    int nc;
    calm_cka *ck; // one per matrix
    float *yf, *yq;
} linear_probe;

static void probe_linear(void *ctx, calm_linear_input which, const float *x, int T, int cols) {
    linear_probe *p = ctx;
    const calm_isa *isa = calm_kernels();
    for (int i = 0; i < CALM_BLOCK_MATS; i++) {
        if (calm_block_tensors[i].input != which) continue;
        const calm_tensor *w = calm_block_mat((calm_layer *)p->L, i);
        int rows = (int)w->ne[1];
        calm_mm f = {w->data, w->type, rows, p->yf, w->packed, w->in_scale, w->in_rot};
        calm_matmul_many(isa, &f, 1, x, cols, T);
        calm_cka_add_x(&p->ck[i], p->yf, T);
        for (int j = 0; j < p->nc; j++) {
            const calm_qlinear *q = &p->qm[j][i].q;
            calm_mm m = {q->data, q->type, rows, p->yq, NULL, q->in_scale, q->in_rot};
            calm_matmul_many(isa, &m, 1, x, cols, T);
            calm_cka_add_y(&p->ck[i], j, p->yq, T);
        }
    }
}

static double score_of(const calm_search_opts *o, calm_cka *ck, int j) {
    return o->score == CALM_SCORE_ERROR ? 1.0 - calm_cka_relerr(ck, j) : calm_cka_score(ck, j);
}

// Winner among nc candidates by score (calm_cka_score). Differences below 1e-6 are below what
// CKA resolves: those ties go to the smaller output error on the calibration inputs (err, the
// algorithms' own measure), then to the smaller format, then to the one without an online
// rotation, then to the earlier in the pool.
static int pick(const double *score, const double *err, calm_qmat *const *q, int nc) {
    int best = 0;
    for (int j = 1; j < nc; j++) {
        double d = score[j] - score[best];
        int tie = fabs(d) <= 1e-6;
        if (d > 1e-6 || (tie && err[j] < err[best] - 1e-12) ||
            (tie && fabs(err[j] - err[best]) <= 1e-12 &&
             (q[j]->q.nbytes < q[best]->q.nbytes ||
              (q[j]->q.nbytes == q[best]->q.nbytes && !q[j]->q.in_rot && q[best]->q.in_rot))))
            best = j;
    }
    return best;
}

static double bpw_of(int bits, int group) {
    return bits + 32.0 / group; // f16 scale and offset per group
}

// Bit width per layer for target_bpw (see search.h); bits[] gets one width per layer.
static int allocate_bits(const calm_model *m, const calm_tokenizer *t, const calm_search_opts *o,
                         int *bits, calm_err *e) {
    static const int widths[] = {2, 3, 4, 8};
    int L = m->cfg.n_layers, lo = 2, hi = 2;
    for (int i = 0; i < 4; i++)
        if (bpw_of(widths[i], o->group) <= o->target_bpw + 1e-9) lo = widths[i], hi = widths[i];
    for (int i = 0; i < 3; i++)
        if (widths[i] == lo) hi = widths[i + 1];
    if (bpw_of(lo, o->group) > o->target_bpw + 1e-9)
        return calm_fail(e, "--target-bpw %.2f is below the smallest width (%.2f bits per weight)",
                         o->target_bpw, bpw_of(2, o->group));
    int n_hi = hi == lo ? 0
                        : (int)floor(L * (o->target_bpw - bpw_of(lo, o->group)) /
                                         (bpw_of(hi, o->group) - bpw_of(lo, o->group)) +
                                     1e-9);
    for (int l = 0; l < L; l++) bits[l] = lo;
    if (n_hi == 0) return 0;
    if (n_hi >= L) {
        for (int l = 0; l < L; l++) bits[l] = hi;
        return 0;
    }
    calm_calib c;
    if (calm_calib_init(&c, m, t, o->data, &o->calib, e)) return -1;
    size_t win = (size_t)c.ctx * c.dim;
    float *yfp = malloc(win * c.n * sizeof(float)), *delta = malloc(win * sizeof(float));
    double *gain = calloc((size_t)L, sizeof(double));
    int rc = yfp && gain && delta ? 0 : calm_fail(e, "out of memory");
    calm_progress pb;
    calm_progress_init(&pb, "bit allocation", L);
    const calm_algo *rtn = calm_algo_find("rtn");
    for (int l = 0; l < L && !rc; l++) {
        calm_qmat q[2][CALM_BLOCK_MATS];
        memset(q, 0, sizeof q);
        calm_layer cl[2];
        for (int k = 0; k < 2 && !rc; k++) {
            cand cd = {rtn, (uint32_t)calm_type_qg(k ? hi : lo, o->group)};
            for (int i = 0; i < CALM_BLOCK_MATS && !rc; i++)
                rc = quantize_cand(o, &cd, &m->layers[l], i, NULL, &q[k][i], e);
            calm_layer_quantized(&cl[k], &m->layers[l], q[k]);
        }
        calm_cka ck;
        if (!rc && !(rc = calm_cka_init(&ck, c.dim, c.dim, 2, e))) {
            calm_calib_layer(&c, &m->layers[l], l, NULL, store_output, yfp, 0);
            blocks_cka(&c, l, yfp, cl, 2, &ck, delta);
            gain[l] = score_of(o, &ck, 1) - score_of(o, &ck, 0);
            calm_cka_free(&ck);
            memcpy(c.hidden, yfp, win * c.n * sizeof(float)); // full-precision inputs onward
        }
        for (int k = 0; k < 2; k++)
            for (int i = 0; i < CALM_BLOCK_MATS; i++) calm_qlinear_free(&q[k][i].q);
        calm_progress_step(&pb, l + 1, NULL);
    }
    calm_progress_done(&pb);
    for (int k = 0; k < n_hi && !rc; k++) { // the n_hi largest losses get the higher width
        int best = -1;
        for (int l = 0; l < L; l++)
            if (bits[l] == lo && (best < 0 || gain[l] > gain[best])) best = l;
        bits[best] = hi;
    }
    if (!rc) {
        fprintf(stderr, "calm: %d of %d layers at %d bits, the rest at %d (%.2f bits per weight)\n",
                n_hi, L, hi, lo,
                (n_hi * bpw_of(hi, o->group) + (L - n_hi) * bpw_of(lo, o->group)) / L);
    }
    free(yfp), free(gain), free(delta);
    calm_calib_free(&c);
    return rc;
}

int calm_search(const calm_model *m, const calm_tokenizer *t, const calm_search_opts *o,
                const char *path, calm_err *e) {
    const calm_config *cf = &m->cfg;
    const int L = cf->n_layers;
    if (!o->data) return calm_fail(e, "calibration needs text: --data FILE (e.g. calib.raw)");
    int *bits = malloc(sizeof(int) * L);
    if (!bits) return calm_fail(e, "out of memory");
    for (int l = 0; l < L; l++) bits[l] = o->bits;
    if (o->target_bpw > 0 && allocate_bits(m, t, o, bits, e)) return free(bits), -1;

    calm_qmodel qm;
    calm_calib c;
    calm_xstats xs[CALM_IN_COUNT];
    memset(xs, 0, sizeof xs);
    if (calm_qmodel_init(&qm, L, e)) return free(bits), -1;
    if (calm_calib_init(&c, m, t, o->data, &o->calib, e) || calm_block_xstats_init(xs, cf, e)) {
        calm_calib_free(&c);
        calm_qmodel_free(&qm);
        return free(bits), -1;
    }
    char pool[128] = "";
    for (int i = 0; i < o->n_pool; i++)
        snprintf(pool + strlen(pool), sizeof pool - strlen(pool), "%s%s", i ? "," : "",
                 o->pool[i]->name);
    qm.pool = pool;
    qm.granularity = o->grain == CALM_GRAIN_LINEAR ? "linear" : "block";
    qm.score = o->score == CALM_SCORE_ERROR ? "error" : "cka";
    qm.bits = o->target_bpw > 0 ? 0 : o->bits;
    qm.group = o->group;
    qm.samples = c.n_fit, qm.holdout = c.n - c.n_fit, qm.ctx = c.ctx, qm.data_hash = c.data_hash;
    qm.embd_type = o->embd_type;
    fprintf(stderr,
            "calm: CALM search over %s, %s granularity, %d windows of %d tokens from %s, %d more "
            "held out for scoring\n",
            pool, qm.granularity, c.n_fit, c.ctx, o->data, c.n - c.n_fit);

    size_t win = (size_t)c.ctx * c.dim;
    float *yfp = malloc(win * c.n * sizeof(float)), *delta = malloc(win * sizeof(float));
    int rc = yfp && delta ? 0 : calm_fail(e, "out of memory for the reference outputs");
    calm_progress pb;
    calm_progress_init(&pb, "calibrate", L);
    for (int l = 0; l < L && !rc; l++) {
        const calm_layer *FL = &m->layers[l];
        cand cs[CALM_MAX_POOL];
        int nc = candidates(o, bits[l], cs);
        if (nc == 0) {
            rc = calm_fail(e, "no algorithm of the pool works at %d bits", bits[l]);
            break;
        }
        for (int i = 0; i < CALM_IN_COUNT; i++) calm_xstats_reset(&xs[i]);
        calm_calib_layer(&c, FL, l, xs, store_output, yfp, 0);
        calm_qmat(*q)[CALM_BLOCK_MATS] = calloc((size_t)nc, sizeof *q);
        double score[CALM_MAX_POOL][CALM_BLOCK_MATS];
        if (!q) rc = calm_fail(e, "out of memory");
        for (int j = 0; j < nc && !rc; j++)
            for (int i = 0; i < CALM_BLOCK_MATS && !rc; i++)
                rc = quantize_cand(o, &cs[j], FL, i, xs, &q[j][i], e);
        int win_of[CALM_BLOCK_MATS] = {0}, ndom = 0;
        if (!rc && o->grain == CALM_GRAIN_BLOCK) {
            calm_layer cl[CALM_MAX_POOL];
            for (int j = 0; j < nc; j++) calm_layer_quantized(&cl[j], FL, q[j]);
            calm_cka ck;
            if (!(rc = calm_cka_init(&ck, c.dim, c.dim, nc, e))) {
                blocks_cka(&c, l, yfp, cl, nc, &ck, delta);
                calm_qmat *first[CALM_MAX_POOL];
                for (int j = 0; j < nc; j++) {
                    for (int i = 0; i < CALM_BLOCK_MATS; i++) score[j][i] = score_of(o, &ck, j);
                    first[j] = &q[j][0];
                }
                double s[CALM_MAX_POOL], er[CALM_MAX_POOL];
                for (int j = 0; j < nc; j++) {
                    s[j] = score[j][0], er[j] = 0;
                    for (int i = 0; i < CALM_BLOCK_MATS; i++)
                        er[j] += q[j][i].q.err / CALM_BLOCK_MATS;
                }
                int best = pick(s, er, first, nc);
                ndom = o->score == CALM_SCORE_CKA ? calm_cka_dominant(&ck) : 0;
                for (int i = 0; i < CALM_BLOCK_MATS; i++) win_of[i] = best;
                calm_cka_free(&ck);
            }
        } else if (!rc) {
            calm_cka ck[CALM_BLOCK_MATS];
            memset(ck, 0, sizeof ck);
            int maxr = cf->hidden_dim > cf->dim ? cf->hidden_dim : cf->dim;
            linear_probe p = {FL,
                              q,
                              nc,
                              ck,
                              malloc(sizeof(float) * c.ctx * maxr),
                              malloc(sizeof(float) * c.ctx * maxr)};
            if (!p.yf || !p.yq) rc = calm_fail(e, "out of memory");
            for (int i = 0; i < CALM_BLOCK_MATS && !rc; i++) {
                int r = (int)calm_block_mat((calm_layer *)FL, i)->ne[1];
                rc = calm_cka_init(&ck[i], r, r, nc, e);
            }
            for (int w = first_scored(&c); w < c.n && !rc; w++) {
                memcpy(c.st.x, c.hidden + w * win, win * sizeof(float));
                c.st.kv.n = 0;
                calm_block_forward(&c.st, FL, l, c.ctx, 0, probe_linear, &p);
            }
            for (int i = 0; i < CALM_BLOCK_MATS && !rc; i++) {
                double s[CALM_MAX_POOL], er[CALM_MAX_POOL];
                calm_qmat *qi[CALM_MAX_POOL];
                for (int j = 0; j < nc; j++)
                    score[j][i] = s[j] = score_of(o, &ck[i], j), qi[j] = &q[j][i],
                    er[j] = q[j][i].q.err;
                win_of[i] = pick(s, er, qi, nc);
            }
            for (int i = 0; i < CALM_BLOCK_MATS; i++) calm_cka_free(&ck[i]);
            free(p.yf), free(p.yq);
        }
        if (!rc) { // keep the winners, free the rest, and move on with the chosen layer
            for (int i = 0; i < CALM_BLOCK_MATS; i++) {
                qm.mats[l][i] = q[win_of[i]][i];
                qm.mats[l][i].cka = score[win_of[i]][i];
                memset(&q[win_of[i]][i], 0, sizeof q[0][0]);
            }
            calm_layer chosen;
            calm_layer_quantized(&chosen, FL, qm.mats[l]);
            calm_calib_layer(&c, &chosen, l, NULL, NULL, NULL, 1);
            if (!o->quiet) { // the live table: one row per layer
                char row[1024];
                int k = snprintf(row, sizeof row, "layer %2d  %d bits |", l, bits[l]);
                for (int j = 0; j < nc && k < (int)sizeof row; j++) {
                    double mean = 0;
                    for (int i = 0; i < CALM_BLOCK_MATS; i++) mean += score[j][i] / CALM_BLOCK_MATS;
                    k += snprintf(row + k, sizeof row - k, " %s %.5f%s |", cs[j].a->name, mean,
                                  o->grain == CALM_GRAIN_BLOCK && j == win_of[0] ? "*" : "");
                }
                if (ndom)
                    k += snprintf(row + k, sizeof row - k, " %d dominant direction%s", ndom,
                                  ndom > 1 ? "s" : "");
                if (o->grain == CALM_GRAIN_LINEAR)
                    for (int i = 0; i < CALM_BLOCK_MATS && k < (int)sizeof row; i++)
                        k += snprintf(row + k, sizeof row - k, " %s", cs[win_of[i]].a->name);
                fprintf(stderr, "%s%s\n", pb.tty ? "\r\033[K" : "", row);
            }
        }
        for (int j = 0; q && j < nc; j++)
            for (int i = 0; i < CALM_BLOCK_MATS; i++) calm_qlinear_free(&q[j][i].q);
        free(q);
        calm_progress_step(&pb, l + 1, NULL);
    }
    calm_progress_done(&pb);
    if (!rc) rc = calm_qmodel_write(m, t, &qm, path, e);
    free(yfp), free(delta);
    free(bits);
    calm_block_xstats_free(xs);
    calm_calib_free(&c);
    calm_qmodel_free(&qm);
    return rc;
}
