// A one-line progress bar on stderr for long work (quantization, calibration), redrawn in place
// on a terminal and printed once per step elsewhere, so logs stay readable.
#ifndef CALM_PROGRESS_H
#define CALM_PROGRESS_H

typedef struct {
    const char *label;
    int total;
    double t0;
    int tty;
} calm_progress;

void calm_progress_init(calm_progress *p, const char *label, int total);
// Shows done/total with the elapsed time, the estimate of what is left and a note.
void calm_progress_step(calm_progress *p, int done, const char *note);
void calm_progress_done(calm_progress *p);

#endif
