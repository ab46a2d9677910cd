#include "search_table.h"

#include <stdio.h>

void calm_search_table_row(const calm_search_opts *o, int l, int bits, const calm_cand *cs, int nc,
                           const calm_layer_scores *s, int tty) {
    char row[1024];
    int k = snprintf(row, sizeof row, "layer %2d  %d bits |", l, bits);
    for (int j = 0; j < nc && k < (int)sizeof row; j++) {
        double mean = 0;
        for (int i = 0; i < CALM_BLOCK_MATS; i++) mean += s->score[j][i] / CALM_BLOCK_MATS;
        k += snprintf(row + k, sizeof row - k, " %s %.5f%s |", cs[j].a->name, mean,
                      o->grain == CALM_GRAIN_BLOCK && j == s->win[0] ? "*" : "");
    }
    if (s->ndom)
        k += snprintf(row + k, sizeof row - k, " %d dominant direction%s", s->ndom,
                      s->ndom > 1 ? "s" : "");
    if (o->grain == CALM_GRAIN_LINEAR)
        for (int i = 0; i < CALM_BLOCK_MATS && k < (int)sizeof row; i++)
            k += snprintf(row + k, sizeof row - k, " %s", cs[s->win[i]].a->name);
    fprintf(stderr, "%s%s\n", tty ? "\r\033[K" : "", row);
}
