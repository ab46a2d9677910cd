// Hugging Face model directories: config.json, *.safetensors (sharded or not), tokenizer.json,
// tokenizer_config.json. Tensors are renamed to GGUF's names so the model code sees one layout.
#ifndef CALM_HF_H
#define CALM_HF_H

#include "../runtime/model.h"
#include "../runtime/tokenizer.h"

struct calm_hf {
    char dir[1024];
    struct st_file_s *files;
    int n_files;
};

int calm_hf_load(calm_model *m, const char *dir, calm_err *e);
// Parses a JSON file; NULL when it is missing (an error only if required) or invalid (an error).
struct cJSON *calm_read_json(const char *path, calm_err *e, int required);
void calm_hf_free(calm_hf *hf);
int calm_hf_tokenizer(const calm_hf *hf, calm_tokenizer *t, calm_err *e);
// Writes m (weights converted to `type`: F32, F16 or BF16) and t as a Hugging Face directory.
int calm_hf_write(const calm_model *m, const calm_tokenizer *t, uint32_t type, const char *dir,
                  calm_err *e);
// Maps a GGUF tensor name to the Hugging Face one (and back); 0 on success.
int calm_hf_name_from_gguf(const char *gguf, char *hf, size_t cap);
int calm_hf_name_to_gguf(const char *hf, char *gguf, size_t cap);
// GGUF's llama layout interleaves rotary pairs in Q/K rows; HF's splits them in halves. Row r of
// the GGUF tensor is row calm_hf_qk_row(r) of the HF one.
int calm_hf_qk_row(int r, int head_dim);
// Whether a GGUF tensor name is a Q or K projection, whose rows the llama layout permutes.
int calm_hf_is_qk(const char *gguf_name);

#endif
