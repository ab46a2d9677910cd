// calm perplexity --kl-base / --kl: the KL divergence of a Q4_0 file from the full-precision
// model against llama-perplexity --kl-divergence on the same file and text
// (tests/ref/data/kl.txt), a model against itself, and the base files a run must refuse.
#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#define WIKI CALM_SOURCE_DIR "/../shared/data/wikitext-2/"

// The number after `key` in out.
static double number_after(const char *out, const char *key) {
    const char *at = strstr(out, key);
    cr_assert_not_null(at, "no '%s' in:\n%s", key, out);
    return atof(at + strlen(key));
}

static char out[1 << 16], err[1 << 14];

// Runs calm with args (printf-style); returns its exit status.
static int calm(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int calm(const char *fmt, ...) {
    char args[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    return th_calm(args, out, sizeof out, err, sizeof err);
}

Test(kl, agrees_with_llama_perplexity, .timeout = 1200) {
    char *ref = th_read(CALM_SOURCE_DIR "/tests/ref/data/kl.txt", NULL);
    int chunks, ctx;
    double want_kld, want_top;
    cr_assert_eq(
        sscanf(ref, "chunks=%d ctx=%d kld=%lf same_top=%lf", &chunks, &ctx, &want_kld, &want_top),
        4, "%s", ref);
    char q4[512], base[512];
    snprintf(q4, sizeof q4, "%s", th_tmp("q4_0.gguf"));
    snprintf(base, sizeof base, "%s", th_tmp("f32.kl"));
    cr_assert_eq(calm("convert -m %s --type q4_0 -o %s", CALM_MODEL_F32, q4), 0, "%s", err);
    cr_assert_eq(calm("perplexity -m %s -f " WIKI "wiki.test.raw -c %d --chunks %d --kl-base %s",
                      CALM_MODEL_F32, ctx, chunks, base),
                 0, "%s", err);
    cr_assert_eq(calm("perplexity -m %s -f " WIKI "wiki.test.raw -c %d --chunks %d --kl %s", q4,
                      ctx, chunks, base),
                 0, "%s", err);
    double kld = number_after(out, "Mean    KLD:"), top = number_after(out, "Same top p:");
    cr_log_info("calm KLD %.6f top %.3f%%, llama.cpp %.6f %.3f%%", kld, top, want_kld, want_top);
    cr_assert_lt(fabs(kld - want_kld) / want_kld, 0.05, "calm KLD %g vs llama.cpp %g", kld,
                 want_kld);
    // 2 points are 10 of the 504 positions: near-ties between the top two that kernels of other
    // ISAs may order the other way.
    cr_assert_lt(fabs(top - want_top), 2.0, "calm same top %g%% vs llama.cpp %g%%", top, want_top);
    free(ref);
}

Test(kl, model_against_itself_and_refused_bases, .timeout = 600) {
    char base[512], cut[512];
    snprintf(base, sizeof base, "%s", th_tmp("q41.kl"));
    snprintf(cut, sizeof cut, "%s", th_tmp("cut.kl"));
    const char *run = "perplexity -m " CALM_MODEL_Q41 " -f " WIKI "%s -c %d --chunks %d %s %s";
    cr_assert_eq(calm(run, "wiki.test.raw", 64, 2, "--kl-base", base), 0, "%s", err);
    cr_assert_eq(calm(run, "wiki.test.raw", 64, 2, "--kl", base), 0, "%s", err);
    cr_assert_eq(number_after(out, "Mean    KLD:"), 0, "%s", out);
    cr_assert_eq(number_after(out, "Maximum KLD:"), 0, "%s", out);
    cr_assert_eq(number_after(out, "Same top p:"), 100, "%s", out);
    cr_assert_eq(number_after(out, "Mean PPL(Q)/PPL(base)         :"), 1, "%s", out);

    struct {
        const char *text;
        int ctx, chunks;
        const char *says;
    } other[] = {
        {"wiki.test.raw", 32, 2, "made with a context of 64 tokens, this run 32 (-c)"},
        {"wiki.test.raw", 64, 1, "holds 2 chunks, this run scores 1 (--chunks)"},
        {"calib.raw", 64, 2, "was made from another text than"},
    };
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        cr_assert_eq(calm(run, other[i].text, other[i].ctx, other[i].chunks, "--kl", base), 1);
        cr_assert_not_null(strstr(err, other[i].says), "%s", err);
    }

    size_t n;
    char *bytes = th_read(base, &n);
    th_write(cut, bytes, n - 1);
    cr_assert_eq(calm(run, "wiki.test.raw", 64, 2, "--kl", cut), 1);
    cr_assert_not_null(strstr(err, "(truncated or extended)"), "%s", err);
    memset(bytes + 56, 0xff, 4); // the first position's top token, out of the vocabulary
    th_write(cut, bytes, n);
    cr_assert_eq(calm(run, "wiki.test.raw", 64, 2, "--kl", cut), 1);
    cr_assert_not_null(strstr(err, "is not a distribution"), "%s", err);
    free(bytes);
    cr_assert_eq(calm(run, "wiki.test.raw", 64, 2, "--kl", CALM_SOURCE_DIR "/README.md"), 1);
    cr_assert_not_null(strstr(err, "not a KL base file"), "%s", err);
    cr_assert_eq(calm("perplexity -m " CALM_MODEL_Q41 " -f x --kl a --kl-base b"), 2);
}
