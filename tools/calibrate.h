// Shared by calm calibrate and the --calibrate option of chat and run.
#ifndef CALM_CALIBRATE_H
#define CALM_CALIBRATE_H

#include "cli.h"
#include "../quant/search.h"

// The search options from the command line; -1 with a message on stderr.
int calm_search_opts_from(const calm_opts *o, calm_search_opts *so);
// Runs the search on a loaded model and writes out (the summary names `final`, where the file
// will be once renamed); -1 with a message on stderr.
int calm_calibrate_to(const calm_model *m, const calm_tokenizer *t, const calm_search_opts *so,
                      const char *out, const char *final);
// --calibrate: the path of the calibrated copy of o->model for these options (next to the model,
// named by a hash of the options and the calibration text), made by calibrating if it is not
// there yet. Returns 0 and fills path, or -1 with a message on stderr.
int calm_calibrated_model(const calm_opts *o, char *path, size_t cap);

#endif
