// One pass of the CALM search over the layers, shared by the search itself and by the bit
// allocation of --target-bpw: the calibration windows, the full-precision output of the current
// layer on them (the reference every candidate is scored against), the progress bar, and the
// step both make per layer: quantize the layer with every candidate and score the candidates.
#ifndef CALM_SEARCH_PASS_H
#define CALM_SEARCH_PASS_H

#include "search.h"
#include "../runtime/progress.h"

// A candidate: an algorithm of the pool and the storage type it quantizes to.
typedef struct {
    const calm_algo *a;
    uint32_t type;
} calm_cand;

// What scoring one layer's candidates gives: score[j][i], the score of candidate j on matrix i
// (the same for every matrix at block granularity); win[i], the candidate chosen for matrix i;
// ndom, the dominant directions of the reference that shaped a CKA score (0: none, or not CKA).
typedef struct {
    double score[CALM_MAX_POOL][CALM_BLOCK_MATS];
    int win[CALM_BLOCK_MATS];
    int ndom;
} calm_layer_scores;

typedef struct {
    calm_calib c;
    float *ref;   // c.n windows of ctx x dim: the full-precision layer's output
    float *delta; // one window of scratch
    calm_progress pb;
} calm_search_pass;

// Cuts the calibration windows from o->data and runs the model up to the first layer; `label`
// names the pass in the progress bar. -1 with e set (the pass is then freed).
int calm_search_pass_init(calm_search_pass *p, const calm_model *m, const calm_tokenizer *t,
                          const calm_search_opts *o, const char *label, calm_err *e);
void calm_search_pass_free(calm_search_pass *p);

// The pool at `bits` into c (CALM_MAX_POOL at most); returns how many. SmoothQuant exists only
// as W8A8, so it competes at 8 bits alone.
int calm_search_candidates(const calm_search_opts *o, int bits, calm_cand *c);

// Layer l of the pass, on the inputs the layers before it left: runs the full-precision layer FL
// for the reference (xs, when not NULL, gets the statistics of its matrices' inputs), quantizes
// every matrix with each of the nc candidates into q[j][i] (zeroed by the caller, freed with
// calm_search_free_cands) and scores them at granularity grain into s. -1 with e set.
int calm_search_layer(calm_search_pass *p, const calm_search_opts *o, calm_granularity grain,
                      const calm_layer *FL, int l, const calm_cand *cs, int nc, calm_xstats *xs,
                      calm_qmat (*q)[CALM_BLOCK_MATS], calm_layer_scores *s, calm_err *e);
void calm_search_free_cands(calm_qmat (*q)[CALM_BLOCK_MATS], int nc);

#endif
