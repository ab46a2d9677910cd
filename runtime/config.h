// The hyper-parameters of a model as files store them: the table of supported architectures and
// the table of keys (GGUF's "<arch>.<key>" and config.json's) each calm_config field is read from
// and written to. Loaders and writers of both layouts walk these tables.
#ifndef CALM_CONFIG_H
#define CALM_CONFIG_H

#include <cjson/cJSON.h>

#include "model.h"
#include "../formats/gguf.h"

// A supported architecture: GGUF's general.architecture and HF's model_type.
typedef struct {
    const char *name;
    const char *hf_type;  // the model_type calm writes to config.json
    const char *hf_class; // config.json's architectures[0]
    calm_rope_style rope; // NORM: GGUF interleaves Q/K rotary pairs where HF stores halves
} calm_arch;

// The architecture called name, or NULL.
const calm_arch *calm_arch_find(const char *name);

// Reads c from a GGUF file's metadata: the architecture must be in the table, optional keys keep
// their defaults only when absent, a key of the wrong type is an error naming it.
int calm_config_from_gguf(calm_config *c, const gguf_file *g, calm_err *e);
// The same from a parsed config.json (path names the file in errors), rope scaling included.
int calm_config_from_hf(calm_config *c, const cJSON *j, const char *path, calm_err *e);
// Writes c's keys into a GGUF writer / a config.json object.
void calm_config_to_gguf(gguf_writer *w, const calm_config *c);
void calm_config_to_hf(cJSON *j, const calm_config *c);

#endif
