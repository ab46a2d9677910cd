#include "search_score.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cka.h"
#include "../kernels/matmul.h"

// The first window scored: the held-out ones when there are any.
static int first_scored(const calm_calib *c) {
    return c->n > c->n_fit ? c->n_fit : 0;
}

static double score_of(const calm_search_opts *o, calm_cka *ck, int j) {
    return o->score == CALM_SCORE_ERROR ? 1.0 - calm_cka_relerr(ck, j) : calm_cka_score(ck, j);
}

// Winner among nc candidates by score. Differences below 1e-6 are below what CKA resolves: those
// ties go to the smaller output error on the calibration inputs (err, the algorithms' own
// measure), then to the smaller format, then to the one without an online rotation, then to the
// earlier in the pool.
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

// A block's output is its input plus the residual update; the input is the same for all, and it
// dominates (CKA of whole outputs is 0.9999x for any candidate), so the representations compared
// are the updates, output - input.
int calm_score_block(calm_search_pass *p, const calm_search_opts *o, const calm_layer *FL, int l,
                     calm_qmat (*q)[CALM_BLOCK_MATS], int nc, calm_layer_scores *s, calm_err *e) {
    calm_calib *c = &p->c;
    calm_layer cl[CALM_MAX_POOL];
    for (int j = 0; j < nc; j++) calm_layer_quantized(&cl[j], FL, q[j]);
    calm_cka ck;
    if (calm_cka_init(&ck, c->dim, c->dim, nc, e)) return -1;
    size_t win = (size_t)c->ctx * c->dim;
    for (int w = first_scored(c); w < c->n; w++) {
        const float *in = c->hidden + w * win;
        for (size_t i = 0; i < win; i++) p->delta[i] = p->ref[w * win + i] - in[i];
        calm_cka_add_x(&ck, p->delta, c->ctx);
        for (int j = 0; j < nc; j++) {
            memcpy(c->st.x, in, win * sizeof(float));
            c->st.kv.n = 0;
            calm_block_forward(&c->st, &cl[j], l, c->ctx, 0, NULL, NULL);
            for (size_t i = 0; i < win; i++) p->delta[i] = c->st.x[i] - in[i];
            calm_cka_add_y(&ck, j, p->delta, c->ctx);
        }
    }
    double score[CALM_MAX_POOL], err[CALM_MAX_POOL];
    calm_qmat *first[CALM_MAX_POOL];
    for (int j = 0; j < nc; j++) {
        score[j] = score_of(o, &ck, j), err[j] = 0, first[j] = &q[j][0];
        for (int i = 0; i < CALM_BLOCK_MATS; i++) {
            s->score[j][i] = score[j];
            err[j] += q[j][i].q.err / CALM_BLOCK_MATS;
        }
    }
    int best = pick(score, err, first, nc);
    for (int i = 0; i < CALM_BLOCK_MATS; i++) s->win[i] = best;
    s->ndom = o->score == CALM_SCORE_CKA ? calm_cka_dominant(&ck) : 0;
    calm_cka_free(&ck);
    return 0;
}

// What the block's forward pass shows each matrix's input to: the full-precision matrix's output
// and each candidate's, on that input, go to the matrix's CKA.
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

int calm_score_linear(calm_search_pass *p, const calm_search_opts *o, const calm_layer *FL, int l,
                      calm_qmat (*q)[CALM_BLOCK_MATS], int nc, calm_layer_scores *s, calm_err *e) {
    calm_calib *c = &p->c;
    const calm_config *cf = &c->m->cfg;
    calm_cka ck[CALM_BLOCK_MATS];
    memset(ck, 0, sizeof ck);
    int maxr = cf->hidden_dim > cf->dim ? cf->hidden_dim : cf->dim;
    linear_probe lp = {FL,
                       q,
                       nc,
                       ck,
                       malloc(sizeof(float) * c->ctx * maxr),
                       malloc(sizeof(float) * c->ctx * maxr)};
    int rc = lp.yf && lp.yq ? 0 : calm_fail(e, "out of memory");
    for (int i = 0; i < CALM_BLOCK_MATS && !rc; i++) {
        int r = (int)calm_block_mat((calm_layer *)FL, i)->ne[1];
        rc = calm_cka_init(&ck[i], r, r, nc, e);
    }
    size_t win = (size_t)c->ctx * c->dim;
    for (int w = first_scored(c); w < c->n && !rc; w++) {
        memcpy(c->st.x, c->hidden + w * win, win * sizeof(float));
        c->st.kv.n = 0;
        calm_block_forward(&c->st, FL, l, c->ctx, 0, probe_linear, &lp);
    }
    for (int i = 0; i < CALM_BLOCK_MATS && !rc; i++) {
        double score[CALM_MAX_POOL], err[CALM_MAX_POOL];
        calm_qmat *qi[CALM_MAX_POOL];
        for (int j = 0; j < nc; j++)
            s->score[j][i] = score[j] = score_of(o, &ck[i], j), qi[j] = &q[j][i],
            err[j] = q[j][i].q.err;
        s->win[i] = pick(score, err, qi, nc);
    }
    s->ndom = 0;
    for (int i = 0; i < CALM_BLOCK_MATS; i++) calm_cka_free(&ck[i]);
    free(lp.yf), free(lp.yq);
    return rc;
}
