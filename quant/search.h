// The CALM search (arXiv 2512.16282, as issue 6 reads it): for each layer in order, every
// algorithm of the pool quantizes the layer, the quantized layer runs on the calibration inputs
// that the already chosen layers produce, its output is compared with the full-precision
// layer's output on the same inputs by linear CKA, and the highest CKA wins. The winner's output
// becomes the next layer's input (greedy: errors propagate as at run time).
//
// Its parts: search_pass.h, what a pass over the layers holds (calibration windows, reference
// outputs, progress) and the per-layer step (quantize every candidate, score them);
// search_score.h, the scoring at block and at linear granularity; search_table.h, the live
// table; search_bits.h, the bit widths per layer under --target-bpw (a first pass).
#ifndef CALM_SEARCH_H
#define CALM_SEARCH_H

#include "model_quant.h"

#define CALM_MAX_POOL 8

typedef enum { CALM_GRAIN_BLOCK = 0, CALM_GRAIN_LINEAR = 1 } calm_granularity;
// What ranks the candidates: CKA (calm_cka_score, the paper's criterion) or 1 - the relative
// squared error of the output (calm_cka_relerr), which sees scale and low-variance directions.
typedef enum { CALM_SCORE_CKA = 0, CALM_SCORE_ERROR = 1 } calm_score;

typedef struct {
    const calm_algo *pool[CALM_MAX_POOL];
    int n_pool;
    calm_granularity grain;
    calm_score score;
    int bits, group;  // every layer at `bits` unless target_bpw is set
    uint32_t type;    // nonzero: every candidate in this storage type (e.g. q4_0), not qgB_G
    float target_bpw; // > 0: bit widths per layer under this average (see calm_search)
    calm_qopts base;  // algorithm options (the grid is set per candidate)
    calm_calib_opts calib;
    const char *data;
    uint32_t embd_type;
    int quiet; // no live table
} calm_search_opts;

// Parses "rtn,gptq,awq" into o->pool; -1 with a message for an unknown name.
int calm_parse_pool(const char *list, calm_search_opts *o, calm_err *e);

// Runs the search on m and writes the hybrid GGUF to path. With target_bpw, a first pass measures
// each layer's CKA loss from the lower to the higher of the two bit widths around the target
// (round to nearest, full-precision inputs), gives the higher width to the most sensitive layers
// while the average stays under the target, and the search then picks the algorithm per layer
// at its width.
int calm_search(const calm_model *m, const calm_tokenizer *t, const calm_search_opts *o,
                const char *path, calm_err *e);

#endif
