// The forward pass (llama2.c's run.c, batched): tokens in, logits out, the KV cache updated.
#ifndef CALM_FORWARD_H
#define CALM_FORWARD_H

#include "../kernels/matmul.h"
#include "kv_cache.h"
#include "model.h"

typedef struct {
    const calm_model *m;
    calm_kv_cache kv;
    int max_batch;
    float *x, *xb, *q, *k, *v, *att_out, *hb, *hb2; // activations for up to max_batch tokens
    float *scores;   // attention scores: (seq_len + 16) x 16 per thread (a tile of queries)
    int n_scores;    // threads there are rows for: the most a forward pass's team has
    float *inv_freq; // head_dim/2 rotary frequencies (scaling factors applied)
    // cos and sin of the rotary angles of positions rope_p0 .. rope_p0 + rope_n - 1, [pos][hd/2]:
    // made once per batch and shared by every layer and head
    float *rope_cos, *rope_sin;
    int rope_p0, rope_n;
    calm_mm_scratch mm; // the matmuls' activations for max_batch rows of the widest input
    float *logits;      // [max_batch][vocab] when all logits are asked for, else [vocab]
    int logits_rows;
} calm_state;

// Sizes the state for batches of max_batch tokens and for teams of the current OpenMP thread count
// (set it first, runtime/threads.h); a later, larger count is capped at this one.
int calm_state_init(calm_state *s, const calm_model *m, int seq_len, int max_batch, calm_err *e);
void calm_state_free(calm_state *s);

// Runs tokens at positions kv.n .. kv.n + n - 1 (in batches of max_batch). Returns the logits of
// the last token, or with all_logits the logits of all n tokens ([n][vocab], n <= max_batch).
float *calm_forward(calm_state *s, const int *tokens, int n, int all_logits, calm_err *e);

// Where a block's linear layers read their input, for calibration hooks.
typedef enum {
    CALM_IN_ATTN = 0, // attn_norm output: Q, K, V
    CALM_IN_ATTN_OUT, // attention output: O
    CALM_IN_FFN,      // ffn_norm output: gate, up
    CALM_IN_DOWN,     // silu(gate) * up: down
    CALM_IN_COUNT
} calm_linear_input;

// Sees the input x (T x cols) of a block's linear layers before they run.
typedef void (*calm_block_hook)(void *ctx, calm_linear_input which, const float *x, int T,
                                int cols);

// One transformer block with the weights of L on s->x (T tokens at positions p0 .. p0 + T - 1),
// in place; K and V go to layer slot l of the cache. hook may be NULL. The full forward pass is
// this over every layer; calibration runs it one layer at a time with other weights. Without a
// hook the block is one parallel region; with one, the steps between hooks are regions of their
// own and the hook runs between them, outside any, so that its own OpenMP loops run in parallel.
void calm_block_forward(calm_state *s, const calm_layer *L, int l, int T, int p0,
                        calm_block_hook hook, void *ctx);

#endif
