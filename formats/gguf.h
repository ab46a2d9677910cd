// GGUF v2/v3 reader (mmap, every size and offset checked) and writer.
#ifndef CALM_GGUF_H
#define CALM_GGUF_H

#include <stdint.h>
#include <stddef.h>
#include <stdio.h>

#include "../kernels/status.h"

enum gguf_vtype {
    GGUF_U8 = 0,
    GGUF_I8 = 1,
    GGUF_U16 = 2,
    GGUF_I16 = 3,
    GGUF_U32 = 4,
    GGUF_I32 = 5,
    GGUF_F32 = 6,
    GGUF_BOOL = 7,
    GGUF_STRING = 8,
    GGUF_ARRAY = 9,
    GGUF_U64 = 10,
    GGUF_I64 = 11,
    GGUF_F64 = 12,
    GGUF_NTYPES = 13,
};

#define GGUF_MAX_DIMS          4
#define GGUF_DEFAULT_ALIGNMENT 32

// A string inside the mapped file: not NUL-terminated.
typedef struct {
    uint64_t len;
    const char *ptr;
} gguf_str;

typedef struct {
    gguf_str key;
    uint32_t type;
    union {
        uint64_t u;
        int64_t i;
        double f;
        gguf_str s;
        struct {
            uint32_t type; // element type
            uint64_t n;
            const void *data; // raw elements (not strings)
            gguf_str *strs;   // n strings when type == GGUF_STRING
        } arr;
    } v;
} gguf_kv;

typedef struct {
    gguf_str name;
    uint32_t n_dims;
    int64_t ne[GGUF_MAX_DIMS]; // ne[0] is the fastest-varying (row length)
    uint32_t type;
    uint64_t offset; // relative to the data section
    const void *data;
    size_t nbytes;
} gguf_tensor;

typedef struct {
    char path[1024];
    void *map;
    size_t size;
    uint32_t version;
    uint64_t n_kv, n_tensors;
    gguf_kv *kv;
    gguf_tensor *tensors;
    size_t alignment;
    size_t data_offset;
} gguf_file;

int gguf_open(gguf_file *g, const char *path, calm_err *e);
// Parses a GGUF image already in memory (not owned); used by gguf_open and the tests.
int gguf_parse(gguf_file *g, const void *buf, size_t size, const char *name, calm_err *e);
void gguf_close(gguf_file *g);

const gguf_kv *gguf_find(const gguf_file *g, const char *key);
const gguf_tensor *gguf_find_tensor(const gguf_file *g, const char *name);
int gguf_str_eq(gguf_str s, const char *c);

// Typed getters, split as llama.cpp's loader splits get_ and require_: each returns 0 and sets
// *out when the key holds a value of a compatible type (any integer width for u32, any number
// for f32), 1 and leaves *out alone when the key is absent (so the caller's default stands), and
// -1 with a message naming the key, the type wanted and the type found when it holds another.
int gguf_get_u32(const gguf_file *g, const char *key, uint32_t *out, calm_err *e);
int gguf_get_f32(const gguf_file *g, const char *key, float *out, calm_err *e);
int gguf_get_bool(const gguf_file *g, const char *key, int *out, calm_err *e);
// Copies a string value into buf (NUL-terminated, truncated to cap).
int gguf_get_str(const gguf_file *g, const char *key, char *buf, size_t cap, calm_err *e);
// A required key: turns a getter's "absent" (1) into an error naming the key; passes 0 and -1.
// Use as gguf_require(gguf_get_u32(g, key, &v, e), g, key, e).
int gguf_require(int rc, const gguf_file *g, const char *key, calm_err *e);
const char *gguf_vtype_name(uint32_t t);
// Bytes of one scalar of type t (0 for strings and arrays).
size_t gguf_scalar_size(uint32_t t);
// Prints a value briefly (arrays as their length and first elements).
void gguf_print_value(FILE *f, const gguf_kv *kv);

// Writer: collects key/values and tensors, then writes a GGUF v3 file in one pass.
typedef struct {
    uint8_t *kvbuf;
    size_t kvlen, kvcap;
    uint64_t n_kv;
    struct gguf_wtensor {
        char *name;
        uint32_t n_dims, type;
        int64_t ne[GGUF_MAX_DIMS];
        const void *data;
        size_t nbytes;
    } * tensors;
    uint64_t n_tensors, cap_tensors;
} gguf_writer;

void gguf_writer_init(gguf_writer *w);
void gguf_writer_free(gguf_writer *w);
void gguf_w_str(gguf_writer *w, const char *key, const char *val);
void gguf_w_u32(gguf_writer *w, const char *key, uint32_t val);
void gguf_w_f32(gguf_writer *w, const char *key, float val);
void gguf_w_bool(gguf_writer *w, const char *key, int val);
void gguf_w_arr(gguf_writer *w, const char *key, uint32_t type, const void *data, uint64_t n);
void gguf_w_arr_str(gguf_writer *w, const char *key, const char *const *strs, uint64_t n);
// Copies a key/value read from another file (any type, arrays included).
void gguf_w_copy(gguf_writer *w, const gguf_kv *kv);
// The data must stay valid until gguf_writer_write.
void gguf_w_tensor(gguf_writer *w, const char *name, uint32_t type, const int64_t *ne,
                   uint32_t n_dims, const void *data, size_t nbytes);
int gguf_writer_write(gguf_writer *w, const char *path, calm_err *e);

#endif
