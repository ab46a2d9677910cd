// Quantizing a whole model layer by layer: the inputs of layer l come from the model whose layers
// 0 .. l-1 are already quantized (as at run time), each matrix of the block (runtime/block.h) is
// quantized from the statistics of its own input, and the result is written as one GGUF whose
// metadata records, per matrix, the algorithm and its score. Used by `calm quantize` (one
// algorithm) and `calm calibrate` (the CALM search picks one per layer).
#ifndef CALM_MODEL_QUANT_H
#define CALM_MODEL_QUANT_H

#include "algo.h"
#include "calib.h"

#include "../runtime/block.h"

// One quantized matrix and how it was chosen.
typedef struct {
    calm_qlinear q;
    const char *algo; // the algorithm's name (static)
    double cka;       // CKA of its layer's output in the CALM search; -1 when not searched
} calm_qmat;

typedef struct {
    int n_layers;
    calm_qmat (*mats)[CALM_BLOCK_MATS];
    // file-wide metadata
    const char *pool, *granularity;
    int bits, group, samples, holdout, ctx;
    const char *score; // the search's criterion (cka or error), NULL for calm quantize
    uint64_t data_hash;
    uint32_t embd_type; // token_embd / output (not searched)
} calm_qmodel;

int calm_qmodel_init(calm_qmodel *qm, int n_layers, calm_err *e);
void calm_qmodel_free(calm_qmodel *qm);

// A copy of L whose matrices are the quantized ones.
void calm_layer_quantized(calm_layer *out, const calm_layer *L, const calm_qmat *mats);
// The weights of t as f32 rows (malloc'd); NULL when out of memory.
float *calm_tensor_f32(const calm_tensor *t);
// Sizes of the block statistics (CALM_IN_COUNT of them), initialised for model m.
int calm_block_xstats_init(calm_xstats *xs, const calm_config *c, calm_err *e);
void calm_block_xstats_free(calm_xstats *xs);
// Quantizes matrix i of block L with algorithm a from xs (the block's statistics).
int calm_quantize_block_mat(const calm_algo *a, const calm_qopts *o, const calm_layer *L, int i,
                            const calm_xstats *xs, calm_qmat *out, calm_err *e);

// Quantizes with a every matrix of block L that reads `input` (a calm_linear_input) into
// out[matrix], sharing one input transform between them (calm_algo.share): the exponent of AWQ's
// or HeRo-Q's scales is chosen for all of them together (least summed relative error), and
// SmoothQuant's scales come from the column maxima of all of them. The shared transform can then
// be applied once per token, or folded into the norm before the input (calm_qmodel_write).
int calm_quantize_shared(const calm_algo *a, const calm_qopts *o, const calm_layer *L, int input,
                         const calm_xstats *xs, calm_qmat *out, calm_err *e);
// calm_quantize_shared for every input of the block: all CALM_BLOCK_MATS matrices into out.
int calm_quantize_block(const calm_algo *a, const calm_qopts *o, const calm_layer *L,
                        const calm_xstats *xs, calm_qmat *out, calm_err *e);

// Writes m with qm's matrices to path (GGUF v3).
int calm_qmodel_write(const calm_model *m, const calm_tokenizer *t, const calm_qmodel *qm,
                      const char *path, calm_err *e);

typedef struct {
    const calm_algo *algo;
    calm_qopts q;
    calm_calib_opts calib;
    const char *data; // calibration text (algorithms that need data)
    uint32_t embd_type;
} calm_quantize_opts;

// calm quantize: every matrix of every block with one algorithm, layer by layer.
int calm_quantize_model(const calm_model *m, const calm_tokenizer *t, const calm_quantize_opts *o,
                        const char *path, calm_err *e);

#endif
