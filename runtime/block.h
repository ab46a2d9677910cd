// The block table: every tensor of a transformer block described once (its GGUF and Hugging Face
// names, where it lives in calm_layer, its shape in terms of the config, which input a matrix
// reads). Binding, HF renaming, packing and quantizing walk this table instead of listing the
// tensors themselves.
#ifndef CALM_BLOCK_H
#define CALM_BLOCK_H

#include <stddef.h>

#include "forward.h"

// The tensors of a block; the matrices come first, so 0 .. CALM_BLOCK_MATS-1 are the matrices.
typedef enum {
    CALM_BT_Q,
    CALM_BT_K,
    CALM_BT_V,
    CALM_BT_O,
    CALM_BT_GATE,
    CALM_BT_UP,
    CALM_BT_DOWN,
    CALM_BT_ATTN_NORM,
    CALM_BT_Q_BIAS,
    CALM_BT_K_BIAS,
    CALM_BT_V_BIAS,
    CALM_BT_Q_NORM,
    CALM_BT_K_NORM,
    CALM_BT_FFN_NORM,
    CALM_BLOCK_TENSORS
} calm_block_id;

#define CALM_BLOCK_MATS (CALM_BT_DOWN + 1)

// A length of a block tensor, in terms of the config; ONE makes a vector.
typedef enum {
    CALM_EXT_ONE,
    CALM_EXT_DIM,    // dim
    CALM_EXT_QDIM,   // n_heads * head_dim
    CALM_EXT_KVDIM,  // n_kv_heads * head_dim
    CALM_EXT_HIDDEN, // hidden_dim
    CALM_EXT_HEAD,   // head_dim
} calm_extent;

typedef struct {
    const char *gguf;        // after "blk.N.", e.g. "attn_q.weight"
    const char *hf;          // after "model.layers.N.", e.g. "self_attn.q_proj.weight"
    size_t field;            // offsetof(calm_layer, ...)
    calm_extent cols, rows;  // ne[0] and ne[1]; rows ONE: a vector (norm or bias), kept as f32
    int required;            // else optional: biases and QK-norms are features of some families
    calm_linear_input input; // matrices: the activation they multiply; vectors: CALM_IN_COUNT
    int rotary; // Q/K matrix: its rows are rotary pairs, which llama's HF layout splits
} calm_block_tensor;

extern const calm_block_tensor calm_block_tensors[CALM_BLOCK_TENSORS];

// Tensor i (a calm_block_id) of layer L.
calm_tensor *calm_block_tensor_of(calm_layer *L, int i);
// Matrix i (< CALM_BLOCK_MATS) of layer L: calm_block_tensor_of under the name quant/ uses.
calm_tensor *calm_block_mat(calm_layer *L, int i);
// The length an extent stands for under config c.
int calm_extent_of(const calm_config *c, calm_extent x);

// The short name of each input (calm_linear_input) in the file's metadata: attn, attn_out, ffn,
// down (docs/FORMATS.md, "Input transforms of calibrated matrices").
extern const char *const calm_input_names[CALM_IN_COUNT];
// The norm tensor whose output is input `in` (CALM_BT_ATTN_NORM or CALM_BT_FFN_NORM), or -1 where
// a nonlinearity produces it (attention output, silu(gate) * up).
int calm_input_norm(int in);
// Where every matrix reading one input of L carries the same transform (calm_tensor in_scale,
// in_rot) and the input has none yet, moves it to L->in[input], so that it runs once per token for
// all of them; inputs whose readers differ keep their per-matrix transforms.
void calm_layer_share_inputs(calm_layer *L);

// Maps a Hugging Face tensor name to the GGUF one (and back), block tensors by the table and the
// embeddings, final norm and output by name; 0 on success, -1 for a name calm does not know (e.g.
// rotary caches), 1 when the result does not fit in cap.
int calm_name_hf_to_gguf(const char *hf, char *gguf, size_t cap);
int calm_name_gguf_to_hf(const char *gguf, char *hf, size_t cap);
// Whether a GGUF name is a rotary (Q or K) matrix of a block.
int calm_name_is_rotary(const char *gguf);
// GGUF's llama layout interleaves rotary pairs in Q/K rows; HF's splits them in halves. Row r of
// the GGUF tensor is row calm_rotary_row(r) of the HF one.
int calm_rotary_row(int r, int head_dim);

#endif
