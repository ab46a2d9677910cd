// Hugging Face model directories: config.json parsed and the *.safetensors (sharded or not)
// mapped, tensors under their HF names. What they mean (architecture, renaming to GGUF's layout)
// is runtime's: runtime/model_hf.c.
#ifndef CALM_HF_H
#define CALM_HF_H

#include <cjson/cJSON.h>

#include "safetensors.h"

typedef struct calm_hf {
    char dir[1024];
    cJSON *config; // config.json
    st_file *files;
    int n_files;
} calm_hf;

// Opens dir: parses its config.json (an error when missing or invalid). Weights come later, so a
// bad config is reported before anything is mapped.
int calm_hf_open(calm_hf *hf, const char *dir, calm_err *e);
// Maps the shards model.safetensors.index.json names, or without one every *.safetensors.
int calm_hf_open_weights(calm_hf *hf, calm_err *e);
void calm_hf_close(calm_hf *hf);

#endif
