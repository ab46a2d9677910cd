#include "search_bits.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "search_pass.h"
#include "../kernels/types.h"

static double bpw_of(int bits, int group) {
    return bits + 32.0 / group; // f16 scale and offset per group
}

// The score each layer gains from the higher width hi over lo (gain[], one per layer).
static int measure_gains(const calm_model *m, const calm_tokenizer *t, const calm_search_opts *o,
                         int lo, int hi, double *gain, calm_err *e) {
    calm_search_pass p;
    if (calm_search_pass_init(&p, m, t, o, "bit allocation", e)) return -1;
    const calm_algo *rtn = calm_algo_find("rtn");
    calm_cand cs[2] = {{rtn, (uint32_t)calm_type_qg(lo, o->group)},
                       {rtn, (uint32_t)calm_type_qg(hi, o->group)}};
    size_t ref_bytes = (size_t)p.c.ctx * p.c.dim * p.c.n * sizeof(float);
    int rc = 0;
    for (int l = 0; l < m->cfg.n_layers && !rc; l++) {
        calm_qmat q[2][CALM_BLOCK_MATS];
        memset(q, 0, sizeof q);
        calm_layer_scores s;
        rc = calm_search_layer(&p, o, CALM_GRAIN_BLOCK, &m->layers[l], l, cs, 2, NULL, q, &s, e);
        if (!rc) {
            gain[l] = s.score[1][0] - s.score[0][0];
            memcpy(p.c.hidden, p.ref, ref_bytes); // full-precision inputs onward
        }
        calm_search_free_cands(q, 2);
        calm_progress_step(&p.pb, l + 1, NULL);
    }
    calm_progress_done(&p.pb);
    calm_search_pass_free(&p);
    return rc;
}

int calm_search_bits(const calm_model *m, const calm_tokenizer *t, const calm_search_opts *o,
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
    for (int l = 0; l < L; l++) bits[l] = n_hi >= L ? hi : lo;
    if (n_hi == 0 || n_hi >= L) return 0;
    double *gain = calloc((size_t)L, sizeof(double));
    if (!gain) return calm_fail(e, "out of memory");
    int rc = measure_gains(m, t, o, lo, hi, gain, e);
    for (int k = 0; k < n_hi && !rc; k++) { // the n_hi largest gains get the higher width
        int best = -1;
        for (int l = 0; l < L; l++)
            if (bits[l] == lo && (best < 0 || gain[l] > gain[best])) best = l;
        bits[best] = hi;
    }
    if (!rc)
        fprintf(stderr, "calm: %d of %d layers at %d bits, the rest at %d (%.2f bits per weight)\n",
                n_hi, L, hi, lo,
                (n_hi * bpw_of(hi, o->group) + (L - n_hi) * bpw_of(lo, o->group)) / L);
    free(gain);
    return rc;
}
