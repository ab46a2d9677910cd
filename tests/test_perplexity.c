// calm perplexity against llama-perplexity on the same file and chunks
// (tests/ref/data/perplexity.txt).
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

Test(perplexity, agrees_with_llama_perplexity, .timeout = 1200) {
    char *ref = th_read(CALM_SOURCE_DIR "/tests/ref/data/perplexity.txt", NULL);
    int chunks, ctx;
    double want;
    cr_assert_eq(sscanf(ref, "chunks=%d ctx=%d ppl=%lf", &chunks, &ctx, &want), 3, "%s", ref);
    char args[1024], out[65536], err[8192];
    snprintf(args, sizeof args,
             "perplexity -m %s -f " CALM_SOURCE_DIR "/../shared/data/wikitext-2/wiki.test.raw "
             "-c %d --chunks %d",
             CALM_MODEL_Q41, ctx, chunks);
    cr_assert_eq(th_calm(args, out, sizeof out, err, sizeof err), 0, "%s", err);
    const char *fin = strstr(out, "Final estimate: PPL = ");
    cr_assert_not_null(fin, "%s", out);
    double got = atof(fin + strlen("Final estimate: PPL = "));
    cr_log_info("calm %.4f, llama.cpp %.4f (%+.3f%%)", got, want, 100 * (got - want) / want);
    cr_assert_lt(fabs(got - want) / want, 0.005, "calm %g vs llama.cpp %g", got, want);
    free(ref);
}
