// The live table of the CALM search on stderr: one row per layer as the search chooses it.
#ifndef CALM_SEARCH_TABLE_H
#define CALM_SEARCH_TABLE_H

#include "search_pass.h"

// Prints layer l's row: its bit width, each candidate's score (the mean over the block's
// matrices) with the winner starred at block granularity, the dominant directions that shaped a
// CKA score, and at linear granularity the winner of each matrix. On a terminal (tty) the row
// first clears the progress bar's line.
void calm_search_table_row(const calm_search_opts *o, int l, int bits, const calm_cand *cs, int nc,
                           const calm_layer_scores *s, int tty);

#endif
