#include "progress.h"

#include <stdio.h>
#include <unistd.h>

#include "generate.h"

void calm_progress_init(calm_progress *p, const char *label, int total) {
    p->label = label;
    p->total = total > 0 ? total : 1;
    p->t0 = calm_now();
    p->tty = isatty(2);
}

void calm_progress_step(calm_progress *p, int done, const char *note) {
    char bar[31];
    int fill = (int)(30L * done / p->total);
    for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
    bar[30] = 0;
    double el = calm_now() - p->t0, left = done ? el * (p->total - done) / done : 0;
    fprintf(stderr, "%s%s [%s] %d/%d  %.0fs elapsed, ~%.0fs left  %s%s", p->tty ? "\r\033[K" : "",
            p->label, bar, done, p->total, el, left, note ? note : "", p->tty ? "" : "\n");
    fflush(stderr);
}

void calm_progress_done(calm_progress *p) {
    if (p->tty) fputc('\n', stderr);
}
