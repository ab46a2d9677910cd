// The speed line that calm run and calm chat print after generating, as llama.cpp prints it.
#ifndef CALM_TIMINGS_H
#define CALM_TIMINGS_H

#include "../runtime/generate.h"

// Prints the prompt and generation token counts, times and tokens/s of st to stderr.
void calm_print_timings(const calm_gen_stats *st);

#endif
