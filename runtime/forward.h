// The forward pass (llama2.c's run.c, batched): tokens in, logits out, the KV cache updated.
#ifndef CALM_FORWARD_H
#define CALM_FORWARD_H

#include "kv_cache.h"
#include "model.h"

typedef struct {
    const calm_model *m;
    calm_kv_cache kv;
    int max_batch;
    float *x, *xb, *q, *k, *v, *att_out, *hb, *hb2; // activations for up to max_batch tokens
    float *scores; // attention scores: one row of seq_len per thread
    int n_scores;
    float *inv_freq; // head_dim/2 rotary frequencies (scaling factors applied)
    float *logits;   // [max_batch][vocab] when all logits are asked for, else [vocab]
    int logits_rows;
} calm_state;

int calm_state_init(calm_state *s, const calm_model *m, int seq_len, int max_batch, calm_err *e);
void calm_state_free(calm_state *s);

// Runs tokens at positions kv.n .. kv.n + n - 1 (in batches of max_batch). Returns the logits of
// the last token, or with all_logits the logits of all n tokens ([n][vocab], n <= max_batch).
float *calm_forward(calm_state *s, const int *tokens, int n, int all_logits, calm_err *e);

#endif
