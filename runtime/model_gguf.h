// The metadata of a model (architecture, hyper-parameters, tokenizer, chat template) into a GGUF
// writer: copied from the source GGUF (less its file type and calm's own keys), or made from an
// HF directory's config. Shared by convert, quantize and calibrate.
#ifndef CALM_MODEL_GGUF_H
#define CALM_MODEL_GGUF_H

#include "model.h"
#include "tokenizer.h"

void calm_gguf_model_metadata(gguf_writer *w, const calm_model *m, const calm_tokenizer *t);

#endif
