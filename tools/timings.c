#include "timings.h"

#include <stdio.h>

void calm_print_timings(const calm_gen_stats *st) {
    fprintf(stderr,
            "\ncalm: prompt %d tokens in %.1f ms (%.1f tokens/s), generation %d tokens "
            "in %.1f ms (%.1f tokens/s)\n",
            st->n_prompt, 1e3 * st->prompt_s, st->prompt_s > 0 ? st->n_prompt / st->prompt_s : 0,
            st->n_gen, 1e3 * st->gen_s, st->gen_s > 0 ? st->n_gen / st->gen_s : 0);
}
