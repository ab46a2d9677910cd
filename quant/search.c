#include "search.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "search_bits.h"
#include "search_pass.h"
#include "search_table.h"

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

int calm_search(const calm_model *m, const calm_tokenizer *t, const calm_search_opts *o,
                const char *path, calm_err *e) {
    const int L = m->cfg.n_layers;
    if (!o->data) return calm_fail(e, "calibration needs text: --data FILE (e.g. calib.raw)");
    int *bits = malloc(sizeof(int) * L);
    if (!bits) return calm_fail(e, "out of memory");
    for (int l = 0; l < L; l++) bits[l] = o->bits;
    if (o->target_bpw > 0 && calm_search_bits(m, t, o, bits, e)) return free(bits), -1;

    calm_qmodel qm;
    calm_search_pass p;
    calm_xstats xs[CALM_IN_COUNT];
    memset(xs, 0, sizeof xs);
    if (calm_qmodel_init(&qm, L, e)) return free(bits), -1;
    if (calm_search_pass_init(&p, m, t, o, "calibrate", e) ||
        calm_block_xstats_init(xs, &m->cfg, e)) {
        calm_search_pass_free(&p);
        calm_qmodel_free(&qm);
        return free(bits), -1;
    }
    char pool[128] = "";
    for (int i = 0; i < o->n_pool; i++)
        snprintf(pool + strlen(pool), sizeof pool - strlen(pool), "%s%s", i ? "," : "",
                 o->pool[i]->name);
    const calm_calib *c = &p.c;
    qm.pool = pool;
    qm.granularity = o->grain == CALM_GRAIN_LINEAR ? "linear" : "block";
    qm.score = o->score == CALM_SCORE_ERROR ? "error" : "cka";
    qm.bits = o->target_bpw > 0 ? 0 : o->bits;
    qm.group = o->group;
    qm.samples = c->n_fit, qm.holdout = c->n - c->n_fit, qm.ctx = c->ctx;
    qm.data_hash = c->data_hash;
    qm.embd_type = o->embd_type;
    fprintf(stderr,
            "calm: CALM search over %s, %s granularity, %d windows of %d tokens from %s, %d more "
            "held out for scoring\n",
            pool, qm.granularity, c->n_fit, c->ctx, o->data, c->n - c->n_fit);

    int rc = 0;
    for (int l = 0; l < L && !rc; l++) {
        const calm_layer *FL = &m->layers[l];
        calm_cand cs[CALM_MAX_POOL];
        int nc = calm_search_candidates(o, bits[l], cs);
        if (nc == 0) {
            rc = calm_fail(e, "no algorithm of the pool works at %d bits", bits[l]);
            break;
        }
        calm_qmat(*q)[CALM_BLOCK_MATS] = calloc((size_t)nc, sizeof *q);
        calm_layer_scores s;
        rc = q ? calm_search_layer(&p, o, o->grain, FL, l, cs, nc, xs, q, &s, e)
               : calm_fail(e, "out of memory");
        if (!rc) { // keep the winners, free the rest, and move on with the chosen layer
            for (int i = 0; i < CALM_BLOCK_MATS; i++) {
                qm.mats[l][i] = q[s.win[i]][i];
                qm.mats[l][i].cka = s.score[s.win[i]][i];
                memset(&q[s.win[i]][i], 0, sizeof q[0][0]);
            }
            calm_layer chosen;
            calm_layer_quantized(&chosen, FL, qm.mats[l]);
            calm_calib_layer(&p.c, &chosen, l, NULL, NULL, NULL, 1);
            if (!o->quiet) calm_search_table_row(o, l, bits[l], cs, nc, &s, p.pb.tty);
        }
        calm_search_free_cands(q, nc);
        free(q);
        calm_progress_step(&p.pb, l + 1, NULL);
    }
    calm_progress_done(&p.pb);
    if (!rc) rc = calm_qmodel_write(m, t, &qm, path, e);
    free(bits);
    calm_block_xstats_free(xs);
    calm_search_pass_free(&p);
    calm_qmodel_free(&qm);
    return rc;
}
