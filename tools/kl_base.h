// The KL base file: the full-precision model's next-token distributions at the positions
// calm perplexity scores, saved by --kl-base and read back by --kl to compare another model with.
//
// Layout (little-endian): the magic "CALMKLB1", a calm_kl_header, then for every scored position
// (chunk by chunk, positions n_ctx/2 .. n_ctx-2 of each) one record: float lp_top (the largest
// log-probability), float lp_next (that of the token that follows), uint32 top_id (the most likely
// token) and uint16 code[n_vocab]: token i's log-probability is lp_top - code[i] * step, with
// step = range / 65535 nats, and CALM_KL_BELOW for the tokens more than `range` below the top.
// 16-bit codes over the whole vocabulary rather than the top k log-probabilities and one bucket
// for the rest: on the default model and a Q4_0 file that bucket lost 24% of the divergence at
// k = 64 and 6% at k = 1024 (the tail of a small model carries real mass), while the codes'
// rounding (step 0.00037 nats) is far below the KL of any quantized file. A position costs
// 12 + 2 n_vocab bytes (98 KiB for SmolLM2), as llama-perplexity's base file does.
#ifndef CALM_KL_BASE_H
#define CALM_KL_BASE_H

#include <stdint.h>
#include <stdio.h>

#include "../kernels/status.h"

// The range the codes cover, in nats below the top token (probabilities down to 4e-11 of it).
#define CALM_KL_RANGE 24
// The code of a token below the range: left out of the divergence, as if of probability 0.
#define CALM_KL_BELOW 65535

// What a base file was made from: a run of calm perplexity can use it only if all of it matches.
typedef struct {
    uint32_t n_vocab, n_ctx, n_chunk;
    uint32_t range;      // nats the codes span (CALM_KL_RANGE when written)
    uint64_t text_hash;  // FNV-1a of the text file's bytes
    uint64_t vocab_hash; // of the tokenizer's token texts
    uint64_t token_hash; // of the scored chunks' token ids and whether BOS replaces the first
} calm_kl_header;

// One scored position of the base model (code holds n_vocab entries).
typedef struct {
    float lp_top, lp_next;
    uint32_t top_id;
    uint16_t *code;
} calm_kl_pos;

// An open base file, being written or read, with one position's buffer.
typedef struct {
    FILE *f;
    const char *path;
    calm_kl_header h;
    double step; // nats per code
    calm_kl_pos pos;
    long left; // positions not yet read or written
} calm_kl_file;

// 64-bit FNV-1a of n bytes, continuing from h (start from CALM_FNV_SEED).
#define CALM_FNV_SEED 0xcbf29ce484222325ull
uint64_t calm_fnv1a(uint64_t h, const void *data, size_t n);

// The code of log-probability lp below the top one lp_top, not clamped to the range: both the
// writer and the reader of a base file round with it, so that a model compared with itself gives
// exactly the same codes and a divergence of exactly 0.
static inline double calm_kl_code(float lp_top, float lp, double step) {
    return __builtin_nearbyint(((double)lp_top - (double)lp) / step);
}

// A log-probability as both sides compute it: logit minus the log-normalizer, as a float.
static inline float calm_logprob(float logit, double lse) {
    return (float)((double)logit - lse);
}

// Creates path for h's positions (n_chunk x (n_ctx - 1 - n_ctx/2)) and writes its header.
int calm_kl_create(calm_kl_file *k, const char *path, const calm_kl_header *h, calm_err *e);
// Appends the next position from one row of logits (h.n_vocab of them), whose log-normalizer is
// lse and largest entry is at top, followed by token `next`; fails on a write error or when
// every position is written.
int calm_kl_put(calm_kl_file *k, const float *logits, double lse, int top, int next, calm_err *e);
// Opens a base file for reading: refuses, naming the file, one that is not a base file, has a
// header out of range, or whose size is not the header's count of records (truncated or padded).
int calm_kl_open(calm_kl_file *k, const char *path, calm_err *e);
// Fails with one line naming the first thing the base file k was made from that differs from this
// run's h (tokenizer, text, context size, chunk count, tokens), and what each side has.
int calm_kl_check(const calm_kl_file *k, const calm_kl_header *h, const char *text_path,
                  calm_err *e);
// Reads the next position into k->pos; refuses a record that cannot be one (a top token out of
// the vocabulary or not coded as the top, a log-probability above 0 or not a number).
int calm_kl_get(calm_kl_file *k, calm_err *e);
// Closes the file (flushing a written one: fails on a write error) and frees the buffer.
int calm_kl_close(calm_kl_file *k, calm_err *e);

#endif
