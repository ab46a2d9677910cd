// Sampling: repetition penalty, temperature, top-k, top-p, min-p, seeded; greedy at temperature 0.
#ifndef CALM_SAMPLER_H
#define CALM_SAMPLER_H

#include <stdint.h>

typedef struct {
    float temp, top_p, min_p, repeat_penalty;
    int top_k, repeat_last_n;
    uint64_t seed;
} calm_sampler_params;

typedef struct {
    calm_sampler_params p;
    int vocab;
    uint64_t rng;
    struct calm_cand {
        float logit;
        int id;
    } * cand;
    int *history, n_history;
} calm_sampler;

calm_sampler_params calm_sampler_defaults(void);
int calm_sampler_init(calm_sampler *s, calm_sampler_params p, int vocab);
void calm_sampler_free(calm_sampler *s);
// Picks the next token from logits (modified in place by the penalty) and records it.
int calm_sample(calm_sampler *s, float *logits);
void calm_sampler_accept(calm_sampler *s, int token);

#endif
