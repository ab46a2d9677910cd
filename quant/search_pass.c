#include "search_pass.h"

#include <stdlib.h>
#include <string.h>

#include "search_score.h"
#include "../kernels/types.h"

int calm_search_pass_init(calm_search_pass *p, const calm_model *m, const calm_tokenizer *t,
                          const calm_search_opts *o, const char *label, calm_err *e) {
    memset(p, 0, sizeof *p);
    if (calm_calib_init(&p->c, m, t, o->data, &o->calib, e)) {
        calm_search_pass_free(p);
        return -1;
    }
    size_t win = (size_t)p->c.ctx * p->c.dim;
    p->ref = malloc(win * p->c.n * sizeof(float));
    p->delta = malloc(win * sizeof(float));
    if (!p->ref || !p->delta) {
        calm_search_pass_free(p);
        return calm_fail(e, "out of memory for the reference outputs");
    }
    calm_progress_init(&p->pb, label, m->cfg.n_layers);
    return 0;
}

void calm_search_pass_free(calm_search_pass *p) {
    free(p->ref);
    free(p->delta);
    calm_calib_free(&p->c);
    memset(p, 0, sizeof *p);
}

int calm_search_candidates(const calm_search_opts *o, int bits, calm_cand *c) {
    int n = 0;
    for (int i = 0; i < o->n_pool; i++) {
        int sq = !strcmp(o->pool[i]->name, "smoothquant");
        if (sq && bits != 8) continue;
        c[n++] = (calm_cand){o->pool[i], sq        ? (uint32_t)CALM_TYPE_W8A8
                                         : o->type ? o->type
                                                   : (uint32_t)calm_type_qg(bits, o->group)};
    }
    return n;
}

// Every matrix of block L with candidate c, the readers of one input sharing its transform.
static int quantize_cand(const calm_search_opts *o, const calm_cand *c, const calm_layer *L,
                         const calm_xstats *xs, calm_qmat *out, calm_err *e) {
    calm_qopts q = o->base;
    int sym = o->base.fmt.sym || calm_type_get(c->type)->symmetric;
    if (calm_qfmt_init(&q.fmt, c->type, sym, e)) return -1;
    return calm_quantize_block(c->a, &q, L, xs, out, e);
}

static void store_output(void *ctx, int sample, const float *y, int T, int dim) {
    memcpy((float *)ctx + (size_t)sample * T * dim, y, sizeof(float) * T * dim);
}

int calm_search_layer(calm_search_pass *p, const calm_search_opts *o, calm_granularity grain,
                      const calm_layer *FL, int l, const calm_cand *cs, int nc, calm_xstats *xs,
                      calm_qmat (*q)[CALM_BLOCK_MATS], calm_layer_scores *s, calm_err *e) {
    for (int i = 0; xs && i < CALM_IN_COUNT; i++) calm_xstats_reset(&xs[i]);
    calm_calib_layer(&p->c, FL, l, xs, store_output, p->ref, 0);
    for (int j = 0; j < nc; j++)
        if (quantize_cand(o, &cs[j], FL, xs, q[j], e)) return -1;
    return grain == CALM_GRAIN_BLOCK ? calm_score_block(p, o, FL, l, q, nc, s, e)
                                     : calm_score_linear(p, o, FL, l, q, nc, s, e);
}

void calm_search_free_cands(calm_qmat (*q)[CALM_BLOCK_MATS], int nc) {
    for (int j = 0; q && j < nc; j++)
        for (int i = 0; i < CALM_BLOCK_MATS; i++) calm_qlinear_free(&q[j][i].q);
}
