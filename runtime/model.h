// A LLaMA-family model: hyper-parameters and per-layer weights, loaded from GGUF or an HF
// directory.
#ifndef CALM_MODEL_H
#define CALM_MODEL_H

#include <stdint.h>
#include <stddef.h>

#include "../kernels/status.h"
#include "../formats/gguf.h"
#include "../kernels/pack.h"

typedef struct {
    char name[128];
    uint32_t type; // calm_type
    int n_dims;
    int64_t ne[4]; // ne[0] = row length (input features), ne[1] = rows (output features)
    const void *data;
    size_t nbytes;
    const calm_packed *packed; // the same weights in 16-row panels, when packed at load
    // Calibrated matrices may multiply a transformed input x' = H(x * in_scale): from the
    // companion tensors <base>.in_scale (no H) or <base>.in_hadamard (docs/FORMATS.md).
    const float *in_scale;
    int in_rot;
} calm_tensor;

typedef enum { CALM_ROPE_NORM = 0, CALM_ROPE_NEOX = 1 } calm_rope_style;

typedef struct {
    char arch[32];
    int dim, hidden_dim, n_layers, n_heads, n_kv_heads, head_dim, vocab_size, seq_len;
    float norm_eps, rope_theta;
    calm_rope_style rope_style; // NORM rotates pairs (2i, 2i+1), NEOX pairs (i, i + d/2)
    int qkv_bias, qk_norm, tied_embeddings;
    // llama3 rope scaling (0 factor: none)
    float rope_factor, rope_low_freq, rope_high_freq;
    int rope_orig_ctx;
} calm_config;

// The transform of one input of a block that all the matrices reading it share, x' = H(x * scale)
// (scale NULL: none; rot: the Hadamard transform of kernels/hadamard.h after it), applied once
// per token before them (runtime/forward.c). A file may have folded the scale into the norm that
// produces the input, leaving only rot (docs/FORMATS.md).
typedef struct {
    const float *scale;
    int rot;
} calm_xform;

// The version of calm's own layout in a GGUF (key calm.format): 2 adds per-input transforms with
// scales folded into the norms; files without the key are version 1 and still load.
#define CALM_FORMAT 2

// The inputs of a block's matrices, calm_linear_input's count (runtime/forward.h).
#define CALM_LAYER_INPUTS 4

typedef struct {
    calm_tensor attn_norm, wq, wk, wv, wo, bq, bk, bv, q_norm, k_norm;
    calm_tensor ffn_norm, w_gate, w_up, w_down;
    calm_xform in[CALM_LAYER_INPUTS]; // by calm_linear_input
} calm_layer;

typedef struct calm_hf calm_hf;

typedef struct {
    calm_config cfg;
    calm_tensor tok_embd, out_norm, output, rope_freqs;
    calm_layer *layers;
    // All tensors by their GGUF names, for convert and inspect.
    calm_tensor *tensors;
    int n_tensors;
    gguf_file gguf; // set when loaded from GGUF
    calm_hf *hf;    // set when loaded from a Hugging Face directory
    void **owned;   // buffers the loader had to create (f32 copies of small vectors, permutations)
    int n_owned;
    calm_packed *packed; // panels made by calm_model_pack
    int n_packed;
    char path[1024];
} calm_model;

// Loads a .gguf file or a directory with config.json and *.safetensors.
int calm_model_load(calm_model *m, const char *path, calm_err *e);
void calm_model_free(calm_model *m);
const calm_tensor *calm_model_tensor(const calm_model *m, const char *name);
// Number of parameters and bytes of weights.
void calm_model_size(const calm_model *m, int64_t *params, size_t *bytes);

// A copy of tensor s with every row converted to type dt: dequantized, then written by dt's
// from_float (round to nearest on dt's default grid; a copy or a cast for float types). With
// permute_hd > 0, row r lands at row calm_rotary_row(r, permute_hd) (HF's Q/K layout). Sets
// *nbytes; NULL when out of memory or when calm cannot write dt. The caller frees it.
void *calm_tensor_convert(const calm_tensor *s, uint32_t dt, int permute_hd, size_t *nbytes);

// Repacks every matrix whose type has panel kernels (kernels/pack.h) for the chosen ISA; does
// nothing when that ISA has none. Costs a copy of those weights.
int calm_model_pack(calm_model *m, calm_err *e);

// Used by the loaders: build the model from a filled tensor table and config.
int calm_model_bind(calm_model *m, calm_err *e);
void *calm_model_own(calm_model *m, size_t bytes);

#endif
