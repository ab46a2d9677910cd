// What the commands read: the model with its tokenizer, and text files. Each function prints its
// own one-line error ("error: ..."), so a command only returns its exit code.
#ifndef CALM_LOAD_H
#define CALM_LOAD_H

#include <stddef.h>

#include "cli.h"
#include "../runtime/model.h"
#include "../runtime/tokenizer.h"

// Loads model and tokenizer from path (t may be NULL) and packs the weights for the kernels,
// printing the load time to stderr; -1 after printing the error.
int calm_load(const char *path, calm_model *m, calm_tokenizer *t);
// The model a command runs on: o->model, or with --calibrate its calibrated copy (made once and
// cached next to it), loaded after setting the thread count from -t; -1 after printing the error.
int calm_load_for(const calm_opts *o, calm_model *m, calm_tokenizer *t);
// The tokenizer alone, from a GGUF (of any architecture, or with no tensors at all: a vocabulary
// file like llama.cpp's ggml-vocab-*.gguf) or an HF directory's tokenizer.json; -1 after printing
// the error.
int calm_load_tokenizer(const char *path, calm_tokenizer *t);
// The whole text file at path, NUL-terminated, its length in *n; the caller frees it. NULL after
// printing the error.
char *calm_read_text(const char *path, size_t *n);

#endif
