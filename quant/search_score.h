// Scoring the candidates of one layer against the full-precision layer, at the two
// granularities of the CALM search. Both score on the held-out windows of the pass when there
// are any: scored on the windows the algorithms fit, a method that overfits them (GPTQ on a few
// windows) looks better than it is.
#ifndef CALM_SEARCH_SCORE_H
#define CALM_SEARCH_SCORE_H

#include "search_pass.h"

// Block granularity: each candidate quantizes the whole block; the block runs on the pass's
// inputs and its residual update is compared with the full-precision one (p->ref), so one
// candidate wins the whole layer. -1 with e set.
int calm_score_block(calm_search_pass *p, const calm_search_opts *o, const calm_layer *FL, int l,
                     calm_qmat (*q)[CALM_BLOCK_MATS], int nc, calm_layer_scores *s, calm_err *e);
// Linear granularity: inside the full-precision block, each matrix's output is compared with
// each candidate's output on the same input, so each matrix has its own winner. -1 with e set.
int calm_score_linear(calm_search_pass *p, const calm_search_opts *o, const calm_layer *FL, int l,
                      calm_qmat (*q)[CALM_BLOCK_MATS], int nc, calm_layer_scores *s, calm_err *e);

#endif
