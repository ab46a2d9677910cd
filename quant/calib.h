// Calibration data: a text file cut into seeded random windows of ctx tokens, and the hidden
// states of those windows at the input of the current layer. Layers are run one at a time over
// every window (GPTQ's sequential scheme), so memory holds one layer's inputs for all windows
// (samples x ctx x dim floats) and per-layer statistics, never all layers' activations.
#ifndef CALM_CALIB_H
#define CALM_CALIB_H

#include <stdint.h>

#include "xstats.h"
#include "../runtime/forward.h"
#include "../runtime/tokenizer.h"

typedef struct {
    int samples, ctx; // default 128 x 512
    uint64_t seed;
    int holdout; // further windows that statistics never see (the CALM search scores on them)
} calm_calib_opts;

typedef struct {
    const calm_model *m;
    int n, ctx, dim;
    int n_fit;          // windows 0 .. n_fit-1 feed statistics; n_fit .. n-1 are held out
    int *tokens;        // n x ctx
    float *hidden;      // n x ctx x dim: the input of the next layer to run
    float *next;        // the same for its output
    calm_state st;      // one window's activations and KV cache
    uint64_t data_hash; // FNV-1a of the calibration file
} calm_calib;

int calm_calib_init(calm_calib *c, const calm_model *m, const calm_tokenizer *t, const char *path,
                    const calm_calib_opts *o, calm_err *e);
void calm_calib_free(calm_calib *c);

// Sees layer output y (T x dim) of window `sample`.
typedef void (*calm_sample_fn)(void *ctx, int sample, const float *y, int T, int dim);

// Runs block L (cache slot l) over every window from c->hidden. xs (CALM_IN_COUNT statistics, or
// NULL) accumulates the input of each linear over the first n_fit windows; fn (or NULL) sees each
// output. With advance, the outputs become the inputs of the next layer.
void calm_calib_layer(calm_calib *c, const calm_layer *L, int l, calm_xstats *xs, calm_sample_fn fn,
                      void *ctx, int advance);

#endif
