#include "model_gguf.h"

#include <stdio.h>
#include <string.h>

#include "config.h"

void calm_gguf_model_metadata(gguf_writer *w, const calm_model *m, const calm_tokenizer *t) {
    if (m->gguf.map) {
        for (uint64_t i = 0; i < m->gguf.n_kv; i++) {
            gguf_str k = m->gguf.kv[i].key;
            // calm.format and calm.input.* describe the tensors (norms with folded scales, the
            // rotations left online), which go along; the rest of calm.* is the writer's own
            int layout = gguf_str_eq(k, "calm.format") ||
                         (k.len > 11 && memcmp(k.ptr, "calm.input.", 11) == 0);
            if (gguf_str_eq(k, "general.file_type") ||
                gguf_str_eq(k, "general.quantization_version") ||
                (k.len >= 5 && memcmp(k.ptr, "calm.", 5) == 0 && !layout))
                continue;
            gguf_w_copy(w, &m->gguf.kv[i]);
        }
    } else {
        calm_config_to_gguf(w, &m->cfg); // from an HF directory
        calm_vocab_to_gguf(w, &t->v);
    }
}
