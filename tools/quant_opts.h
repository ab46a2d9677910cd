// Turning the quantization options of the command line into a grid and algorithm options, shared
// by calm quantize and calm calibrate.
#ifndef CALM_QUANT_OPTS_H
#define CALM_QUANT_OPTS_H

#include "cli.h"
#include "../quant/algo.h"
#include "outfile.h"
#include "../runtime/model.h"
#include "../runtime/tokenizer.h"

// The storage type for --bits/--group/--type (e.g. 4/128 -> qg4_128; --type q4_0); -1 with a
// message on stderr when there is none. algo: smoothquant always takes w8a8.
int calm_pick_type(const calm_opts *o, const char *algo);
// Fills q from o for storage type `type`; -1 with a message on stderr.
int calm_qopts_from(const calm_opts *o, uint32_t type, calm_qopts *q);
// q8_0, q4_0, f16, f32 (embeddings); -1 with a message.
int calm_pick_embd_type(const char *name, uint32_t *type);
// The start of calm quantize and calm calibrate: checks the output -o against the inputs (the
// model and --data) and its directory (outfile.h), loads the model, and warns on stderr when its
// matrices are already quantized (their rounding error would be rounded again). -1 after an
// error on stderr.
int calm_quant_begin(const calm_opts *o, calm_outfile *out, calm_model *m, calm_tokenizer *t);
// The bits per weight of a matrix of type with rows of n, header bytes included.
double calm_bpw(uint32_t type, int n);

#endif
