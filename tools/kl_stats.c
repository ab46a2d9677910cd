#include "kl_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double calm_logsumexp(const float *l, int n, int *argmax) {
    int im = 0;
    for (int i = 1; i < n; i++) im = l[i] > l[im] ? i : im;
    double max = l[im], sum = 0;
    for (int i = 0; i < n; i++) sum += exp((double)l[i] - max);
    if (argmax) *argmax = im;
    return max + log(sum);
}

int calm_kl_stats_init(calm_kl_stats *s, long n, calm_err *e) {
    memset(s, 0, sizeof *s);
    s->cap = n;
    s->kld_v = malloc(2 * (size_t)n * sizeof *s->kld_v); // dp_v is its second half
    if (!s->kld_v) return calm_fail(e, "out of memory for the statistics of %ld positions", n);
    s->dp_v = s->kld_v + n;
    return 0;
}

void calm_kl_stats_free(calm_kl_stats *s) {
    free(s->kld_v);
    memset(s, 0, sizeof *s);
}

int calm_kl_stats_add(calm_kl_stats *s, const calm_kl_file *base, const float *logits, int next,
                      calm_err *e) {
    if (s->count >= s->cap) return calm_fail(e, "more than the %ld positions expected", s->cap);
    const calm_kl_pos *b = &base->pos;
    int im, n = (int)base->h.n_vocab;
    double lse = calm_logsumexp(logits, n, &im), step = base->step;
    double nll = -(double)calm_logprob(logits[next], lse), nll_base = -(double)b->lp_next;
    double kl = 0;
    for (int i = 0; i < n; i++) {
        if (b->code[i] == CALM_KL_BELOW) continue;
        double cq = calm_kl_code(b->lp_top, calm_logprob(logits[i], lse), step);
        kl += exp((double)b->lp_top - b->code[i] * step) * (cq - b->code[i]) * step;
    }
    double dp = exp(-nll) - exp(-nll_base);
    s->nll += nll;
    s->nll2 += nll * nll;
    s->nll_base += nll_base;
    s->nll_base2 += nll_base * nll_base;
    s->nll_nll_base += nll * nll_base;
    s->kld += kl;
    s->kld2 += kl * kl;
    s->dp += dp;
    s->dp2 += dp * dp;
    s->dp4 += dp * dp * dp * dp;
    s->same_top += (uint32_t)im == b->top_id;
    s->kld_v[s->count] = (float)kl;
    s->dp_v[s->count] = (float)dp;
    s->count++;
    return 0;
}

// The mean of count values from their sum and sum of squares, and the standard error of that
// mean (0 for 10 values or fewer, as llama-perplexity has it).
typedef struct {
    double mean, err;
} estimate;

static estimate mean_err(double sum, double sum2, long count) {
    estimate r = {count ? sum / count : 0, 0};
    double var = count ? sum2 / count - r.mean * r.mean : 0;
    if (var > 0 && count > 10) r.err = sqrt(var / (double)(count - 1));
    return r;
}

// Covariance of the means of two series (their sums and the sum of their products).
static double cov_of_means(double a, double b, double ab, long count) {
    return count < 10 ? 0 : (ab / count - (a / count) * (b / count)) / (double)(count - 1);
}

typedef struct {
    estimate lp, lp_base, ratio, kl, dp_mse;
    double cov, top;
} summary;

static summary summarize(const calm_kl_stats *s) {
    summary r;
    r.lp = mean_err(s->nll, s->nll2, s->count);
    r.lp_base = mean_err(s->nll_base, s->nll_base2, s->count);
    r.cov = cov_of_means(s->nll, s->nll_base, s->nll_nll_base, s->count);
    r.ratio.mean = r.lp.mean - r.lp_base.mean;
    double v = r.lp.err * r.lp.err + r.lp_base.err * r.lp_base.err - 2 * r.cov;
    r.ratio.err = v > 0 ? sqrt(v) : 0;
    r.kl = mean_err(s->kld, s->kld2, s->count);
    r.dp_mse = mean_err(s->dp2, s->dp4, s->count);
    r.top = s->count ? (double)s->same_top / (double)s->count : 0;
    return r;
}

static double top_err(double p, long count) {
    return count > 1 ? sqrt(p * (1 - p) / (double)(count - 1)) : 0;
}

void calm_kl_stats_print_chunk(const calm_kl_stats *s, long c, FILE *f) {
    if (c == 1)
        fprintf(f, "chunk             PPL               ln(PPL(Q)/PPL(base))          KL "
                   "Divergence              Δp RMS            Same top p\n");
    summary r = summarize(s);
    double ppl = exp(r.lp.mean), rms = sqrt(r.dp_mse.mean);
    fprintf(f, "%4ld    %9.4f ± %9.4f    %10.5f ± %10.5f    %10.5f ± %10.5f", c, ppl,
            ppl * r.lp.err, r.ratio.mean, r.ratio.err, r.kl.mean, r.kl.err);
    fprintf(f, "    %6.3f ± %6.3f %%    %6.3f ± %6.3f %%\n", 100 * rms,
            rms > 0 ? 50 * r.dp_mse.err / rms : 0, 100 * r.top, 100 * top_err(r.top, s->count));
    fflush(f);
}

static int by_value(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

// The value at fraction q of n sorted values, interpolated between neighbours.
static double percentile(const float *v, long n, double q) {
    double at = q * (double)(n - 1);
    long i = (long)at;
    if (i >= n - 1) return v[n - 1];
    return (1 - (at - (double)i)) * v[i] + (at - (double)i) * v[i + 1];
}

// Maximum, the percentiles in qs (each printed as its percent), minimum of n sorted values.
// Each value is printed scaled, in width.prec digits, followed by unit.
static void print_spread(FILE *f, const char *what, const float *v, long n, double scale, int width,
                         int prec, const char *unit) {
    static const double qs[] = {0.999, 0.99, 0.95, 0.9, 0.75, 0.5, 0.25, 0.1, 0.05, 0.01, 0.001};
    fprintf(f, "Maximum %s: %*.*f%s\n", what, width, prec, scale * v[n - 1], unit);
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        char label[16];
        if (qs[i] == 0.5)
            snprintf(label, sizeof label, "Median ");
        else
            snprintf(label, sizeof label, "%4.1f%%  ", 100 * qs[i]);
        fprintf(f, "%s %s: %*.*f%s\n", label, what, width, prec, scale * percentile(v, n, qs[i]),
                unit);
    }
    fprintf(f, "Minimum %s: %*.*f%s\n", what, width, prec, scale * v[0], unit);
}

void calm_kl_stats_print(calm_kl_stats *s, FILE *f) {
    if (!s->count) return;
    summary r = summarize(s);
    double ppl = exp(r.lp.mean), ppl_base = exp(r.lp_base.mean), ratio = exp(r.ratio.mean);
    double ppl_err = ppl * r.lp.err, base_err = ppl_base * r.lp_base.err;
    double diff_var = ppl_err * ppl_err + base_err * base_err - 2 * ppl * ppl_base * r.cov;
    double cor = r.lp.err > 0 && r.lp_base.err > 0 ? r.cov / (r.lp.err * r.lp_base.err) : 1;
    fprintf(f, "\n====== Perplexity statistics ======\n");
    fprintf(f, "Mean PPL(Q)                   : %10.6f ± %10.6f\n", ppl, ppl_err);
    fprintf(f, "Mean PPL(base)                : %10.6f ± %10.6f\n", ppl_base, base_err);
    fprintf(f, "Cor(ln(PPL(Q)), ln(PPL(base))): %6.2f%%\n", 100 * cor);
    fprintf(f, "Mean ln(PPL(Q)/PPL(base))     : %10.6f ± %10.6f\n", r.ratio.mean, r.ratio.err);
    fprintf(f, "Mean PPL(Q)/PPL(base)         : %10.6f ± %10.6f\n", ratio, ratio * r.ratio.err);
    fprintf(f, "Mean PPL(Q)-PPL(base)         : %10.6f ± %10.6f\n", ppl - ppl_base,
            diff_var > 0 ? sqrt(diff_var) : 0);
    qsort(s->kld_v, (size_t)s->count, sizeof *s->kld_v, by_value);
    qsort(s->dp_v, (size_t)s->count, sizeof *s->dp_v, by_value);
    fprintf(f, "\n====== KL divergence statistics ======\n");
    fprintf(f, "Mean    KLD: %10.6f ± %10.6f\n", r.kl.mean, r.kl.err);
    print_spread(f, "KLD", s->kld_v, s->count, 1, 10, 6, "");
    estimate dp = mean_err(s->dp, s->dp2, s->count);
    double rms = sqrt(r.dp_mse.mean);
    fprintf(f, "\n====== Token probability statistics ======\n");
    fprintf(f, "Mean    Δp: %6.3f ± %5.3f %%\n", 100 * dp.mean, 100 * dp.err);
    print_spread(f, "Δp", s->dp_v, s->count, 100, 6, 3, "%");
    fprintf(f, "RMS Δp    : %6.3f ± %5.3f %%\n", 100 * rms, rms > 0 ? 50 * r.dp_mse.err / rms : 0);
    fprintf(f, "Same top p: %6.3f ± %5.3f %%\n", 100 * r.top, 100 * top_err(r.top, s->count));
}
