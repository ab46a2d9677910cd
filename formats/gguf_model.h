// The metadata of a model (architecture, hyper-parameters, tokenizer, chat template) into a GGUF
// writer: copied from the source GGUF (less its file type and calm's own keys), or made from an
// HF directory's config. Shared by convert, quantize and calibrate.
#ifndef CALM_GGUF_MODEL_H
#define CALM_GGUF_MODEL_H

#include "gguf.h"
#include "../runtime/model.h"
#include "../runtime/tokenizer.h"

void calm_gguf_model_metadata(gguf_writer *w, const calm_model *m, const calm_tokenizer *t);

#endif
