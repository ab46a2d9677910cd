#include "sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

calm_sampler_params calm_sampler_defaults(void) {
    return (calm_sampler_params){.temp = 0.8f,
                                 .top_p = 0.95f,
                                 .min_p = 0.05f,
                                 .repeat_penalty = 1.0f,
                                 .top_k = 40,
                                 .repeat_last_n = 64,
                                 .seed = 42};
}

int calm_sampler_init(calm_sampler *s, calm_sampler_params p, int vocab) {
    memset(s, 0, sizeof *s);
    s->p = p;
    s->vocab = vocab;
    s->rng = p.seed ? p.seed : 0x9e3779b97f4a7c15ull;
    s->cand = malloc((size_t)vocab * sizeof *s->cand);
    s->history = malloc((size_t)(p.repeat_last_n > 0 ? p.repeat_last_n : 1) * sizeof(int));
    return s->cand && s->history ? 0 : -1;
}

void calm_sampler_free(calm_sampler *s) {
    free(s->cand);
    free(s->history);
    memset(s, 0, sizeof *s);
}

void calm_sampler_accept(calm_sampler *s, int token) {
    int n = s->p.repeat_last_n;
    if (n <= 0) return;
    if (s->n_history == n)
        memmove(s->history, s->history + 1, (size_t)(n - 1) * sizeof(int)), s->n_history--;
    s->history[s->n_history++] = token;
}

// xorshift64*: small, seedable, good enough to draw one uniform number per token.
static float uniform(calm_sampler *s) {
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return (float)((s->rng * 0x2545F4914F6CDD1Dull) >> 40) / 16777216.0f;
}

static int by_logit_desc(const void *a, const void *b) {
    float x = ((const struct calm_cand *)a)->logit, y = ((const struct calm_cand *)b)->logit;
    return (x < y) - (x > y);
}

int calm_sample(calm_sampler *s, float *logits) {
    const calm_sampler_params *p = &s->p;
    if (p->repeat_penalty != 1.0f) // as CTRL: shrink positive logits, grow negative ones
        for (int i = 0; i < s->n_history; i++) {
            float *l = &logits[s->history[i]];
            *l = *l > 0 ? *l / p->repeat_penalty : *l * p->repeat_penalty;
        }
    int best = 0;
    for (int i = 1; i < s->vocab; i++)
        if (logits[i] > logits[best]) best = i;
    if (p->temp <= 0.0f) return best;

    int n = s->vocab;
    for (int i = 0; i < n; i++) s->cand[i] = (struct calm_cand){logits[i] / p->temp, i};
    qsort(s->cand, (size_t)n, sizeof *s->cand, by_logit_desc);
    if (p->top_k > 0 && p->top_k < n) n = p->top_k;
    // softmax over the candidates
    float max = s->cand[0].logit;
    double sum = 0;
    for (int i = 0; i < n; i++) sum += exp((double)(s->cand[i].logit - max));
    if (p->min_p > 0.0f) { // drop tokens below min_p times the top probability
        int k = 1;
        while (k < n && expf(s->cand[k].logit - max) >= p->min_p) k++;
        if (k < n) {
            n = k;
            sum = 0;
            for (int i = 0; i < n; i++) sum += exp((double)(s->cand[i].logit - max));
        }
    }
    if (p->top_p > 0.0f && p->top_p < 1.0f) {
        double cum = 0;
        int k = 0;
        while (k < n) {
            cum += exp((double)(s->cand[k].logit - max)) / sum;
            k++;
            if (cum >= p->top_p) break;
        }
        n = k;
        sum = 0;
        for (int i = 0; i < n; i++) sum += exp((double)(s->cand[i].logit - max));
    }
    double r = uniform(s) * sum, acc = 0;
    for (int i = 0; i < n; i++) {
        acc += exp((double)(s->cand[i].logit - max));
        if (r < acc) return s->cand[i].id;
    }
    return s->cand[n - 1].id;
}
