// A model from and to a Hugging Face directory: HF names renamed to GGUF's by the block table,
// llama's Q/K rows permuted between HF's halves and GGUF's interleaved rotary pairs, llama3 rope
// scaling turned into GGUF's per-frequency factors; then bound like a GGUF model.
#ifndef CALM_MODEL_HF_H
#define CALM_MODEL_HF_H

#include "model.h"
#include "../formats/vocab.h"

// Loads the directory dir into m (m->path already set); m->hf keeps its files mapped.
int calm_model_load_hf(calm_model *m, const char *dir, calm_err *e);
// Writes m (weights converted to `type`: F32, F16 or BF16) and the vocabulary v as a Hugging Face
// directory.
int calm_hf_write(const calm_model *m, const calm_vocab *v, uint32_t type, const char *dir,
                  calm_err *e);

#endif
