// How far a model's next-token distributions drift from a base model's (calm perplexity --kl):
// KL divergence, top-token agreement, the probability of the right token and the perplexity
// ratio, accumulated position by position and printed as llama-perplexity --kl-divergence does.
#ifndef CALM_KL_STATS_H
#define CALM_KL_STATS_H

#include <stdio.h>

#include "kl_base.h"

// The log-normalizer log(sum exp(l[i])) of n logits, in double; *argmax (if not NULL) gets the
// first index of the largest.
double calm_logsumexp(const float *l, int n, int *argmax);

typedef struct {
    double nll, nll2, nll_base, nll_base2, nll_nll_base, kld, kld2, dp, dp2, dp4;
    long count, same_top, cap;
    float *kld_v, *dp_v; // every position's KL divergence and probability change, for percentiles
} calm_kl_stats;

// Room for n positions.
int calm_kl_stats_init(calm_kl_stats *s, long n, calm_err *e);
void calm_kl_stats_free(calm_kl_stats *s);
// Adds one position: the base file's record just read (base->pos) and this model's logits there
// (base->h.n_vocab of them), followed by `next`. KL(base || model) sums over the tokens within
// the base's range, with this model's log-probabilities rounded to the base's codes; fails when
// more positions come than calm_kl_stats_init made room for.
int calm_kl_stats_add(calm_kl_stats *s, const calm_kl_file *base, const float *logits, int next,
                      calm_err *e);
// One line of the running table (chunk c, counted from 1), after the column heads when c == 1.
void calm_kl_stats_print_chunk(const calm_kl_stats *s, long c, FILE *f);
// The final statistics: perplexities and their ratio, KL divergence (mean, percentiles,
// maximum), probability change and top-token agreement. Sorts the per-position values.
void calm_kl_stats_print(calm_kl_stats *s, FILE *f);

#endif
