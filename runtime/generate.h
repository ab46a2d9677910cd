// The generation loop shared by `calm run` and `calm chat`: prompt in one batch, then token by
// token.
#ifndef CALM_GENERATE_H
#define CALM_GENERATE_H

#include <signal.h>
#include <stdio.h>

#include "forward.h"
#include "sampler.h"
#include "tokenizer.h"

typedef struct {
    int n_prompt, n_gen;
    int last; // the last sampled token (an end-of-generation token if it stopped on one)
    double prompt_s, gen_s; // seconds spent in each phase
    // When set, and non-zero (a signal handler's flag: Ctrl-C in calm chat), the answer stops
    // before its next token, every printed token in the cache.
    const volatile sig_atomic_t *stop;
} calm_gen_stats;

// Feeds `prompt` (may be empty when the cache already holds context), then samples up to n_predict
// tokens, writing text to out as it streams. Stops at an end-of-generation token. Returns 0 or -1.
int calm_generate(calm_state *s, const calm_tokenizer *tok, calm_sampler *smp, const int *prompt,
                  int n_prompt, int n_predict, FILE *out, calm_gen_stats *st, calm_err *e);
double calm_now(void);

#endif
