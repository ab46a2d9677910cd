// JSON files (config.json, tokenizer.json) and typed fields that fail loudly.
#ifndef CALM_JSON_H
#define CALM_JSON_H

#include <cjson/cJSON.h>

#include "../kernels/status.h"

// Parses a JSON file; NULL when it is missing (an error only if required) or invalid (an error).
cJSON *calm_read_json(const char *path, calm_err *e, int required);
// Writes j (and frees it) as dir/name, indented.
int calm_write_json(const char *dir, const char *name, cJSON *j, calm_err *e);

// Typed fields of object o read from file (named in errors), as the GGUF getters: 0 and *out set
// when the key holds a value of the type, 1 and *out untouched when it is absent or null, -1
// with a message naming the file, the key and the type found when it holds something else.
int calm_json_num(const cJSON *o, const char *key, double *out, const char *file, calm_err *e);
// A whole number from 0 to 1e9.
int calm_json_int(const cJSON *o, const char *key, int *out, const char *file, calm_err *e);
int calm_json_str(const cJSON *o, const char *key, const char **out, const char *file, calm_err *e);
int calm_json_obj(const cJSON *o, const char *key, const cJSON **out, const char *file,
                  calm_err *e);

#endif
