// GGUF v3 writer: metadata is serialised as it is added; tensors are written aligned at the end.
#include "gguf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void put(gguf_writer *w, const void *p, size_t n) {
    if (!n) return; // an empty string or array may come as NULL, which memcpy must not see
    if (w->kvlen + n > w->kvcap) {
        size_t cap = w->kvcap ? w->kvcap : 4096;
        while (cap < w->kvlen + n) cap *= 2;
        uint8_t *nb = realloc(w->kvbuf, cap);
        if (!nb) abort(); // metadata is small; failing here means the machine is out of memory
        w->kvbuf = nb;
        w->kvcap = cap;
    }
    memcpy(w->kvbuf + w->kvlen, p, n);
    w->kvlen += n;
}

static void put_str(gguf_writer *w, const char *s, uint64_t n) {
    put(w, &n, 8);
    put(w, s, n);
}

static void put_key(gguf_writer *w, const char *key, uint32_t type) {
    put_str(w, key, strlen(key));
    put(w, &type, 4);
    w->n_kv++;
}

void gguf_writer_init(gguf_writer *w) {
    memset(w, 0, sizeof *w);
}

void gguf_writer_free(gguf_writer *w) {
    for (uint64_t i = 0; i < w->n_tensors; i++) free(w->tensors[i].name);
    free(w->tensors);
    free(w->kvbuf);
    memset(w, 0, sizeof *w);
}

void gguf_w_str(gguf_writer *w, const char *key, const char *val) {
    put_key(w, key, GGUF_STRING);
    put_str(w, val, strlen(val));
}

void gguf_w_u32(gguf_writer *w, const char *key, uint32_t val) {
    put_key(w, key, GGUF_U32);
    put(w, &val, 4);
}

void gguf_w_f32(gguf_writer *w, const char *key, float val) {
    put_key(w, key, GGUF_F32);
    put(w, &val, 4);
}

void gguf_w_bool(gguf_writer *w, const char *key, int val) {
    uint8_t b = val != 0;
    put_key(w, key, GGUF_BOOL);
    put(w, &b, 1);
}

void gguf_w_arr(gguf_writer *w, const char *key, uint32_t type, const void *data, uint64_t n) {
    put_key(w, key, GGUF_ARRAY);
    put(w, &type, 4);
    put(w, &n, 8);
    put(w, data, n * gguf_scalar_size(type));
}

void gguf_w_arr_str(gguf_writer *w, const char *key, const char *const *strs, uint64_t n) {
    uint32_t t = GGUF_STRING;
    put_key(w, key, GGUF_ARRAY);
    put(w, &t, 4);
    put(w, &n, 8);
    for (uint64_t i = 0; i < n; i++) put_str(w, strs[i], strlen(strs[i]));
}

void gguf_w_copy(gguf_writer *w, const gguf_kv *kv) {
    put_str(w, kv->key.ptr, kv->key.len);
    put(w, &kv->type, 4);
    w->n_kv++;
    if (kv->type == GGUF_STRING) {
        put_str(w, kv->v.s.ptr, kv->v.s.len);
    } else if (kv->type == GGUF_ARRAY) {
        put(w, &kv->v.arr.type, 4);
        put(w, &kv->v.arr.n, 8);
        if (kv->v.arr.type == GGUF_STRING)
            for (uint64_t i = 0; i < kv->v.arr.n; i++)
                put_str(w, kv->v.arr.strs[i].ptr, kv->v.arr.strs[i].len);
        else
            put(w, kv->v.arr.data, kv->v.arr.n * gguf_scalar_size(kv->v.arr.type));
    } else {
        // The reader widened scalars; narrow them back to their stored width.
        uint8_t b[8];
        size_t n = gguf_scalar_size(kv->type);
        if (kv->type == GGUF_F32) {
            float f = (float)kv->v.f;
            memcpy(b, &f, 4);
        } else if (kv->type == GGUF_F64) {
            memcpy(b, &kv->v.f, 8);
        } else {
            uint64_t u = kv->v.u; // little-endian: the low bytes are the narrow value
            memcpy(b, &u, 8);
        }
        put(w, b, n);
    }
}

void gguf_w_tensor(gguf_writer *w, const char *name, uint32_t type, const int64_t *ne,
                   uint32_t n_dims, const void *data, size_t nbytes) {
    if (w->n_tensors == w->cap_tensors) {
        w->cap_tensors = w->cap_tensors ? 2 * w->cap_tensors : 64;
        w->tensors = realloc(w->tensors, w->cap_tensors * sizeof *w->tensors);
        if (!w->tensors) abort();
    }
    struct gguf_wtensor *t = &w->tensors[w->n_tensors++];
    t->name = strdup(name);
    t->type = type;
    t->n_dims = n_dims;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = d < n_dims ? ne[d] : 1;
    t->data = data;
    t->nbytes = nbytes;
}

static size_t pad(size_t x) {
    return (x + GGUF_DEFAULT_ALIGNMENT - 1) / GGUF_DEFAULT_ALIGNMENT * GGUF_DEFAULT_ALIGNMENT;
}

int gguf_writer_write(gguf_writer *w, const char *path, calm_err *e) {
    FILE *f = fopen(path, "wb");
    if (!f) return calm_fail(e, "%s: cannot create: %s", path, strerror(errno));
    uint32_t version = 3;
    size_t pos = 0;
    int ok = fwrite("GGUF", 1, 4, f) == 4 && fwrite(&version, 4, 1, f) == 1 &&
             fwrite(&w->n_tensors, 8, 1, f) == 1 && fwrite(&w->n_kv, 8, 1, f) == 1 &&
             fwrite(w->kvbuf, 1, w->kvlen, f) == w->kvlen;
    pos = 24 + w->kvlen;
    uint64_t off = 0;
    for (uint64_t i = 0; ok && i < w->n_tensors; i++) {
        struct gguf_wtensor *t = &w->tensors[i];
        uint64_t len = strlen(t->name);
        ok = fwrite(&len, 8, 1, f) == 1 && fwrite(t->name, 1, len, f) == len &&
             fwrite(&t->n_dims, 4, 1, f) == 1 && fwrite(t->ne, 8, t->n_dims, f) == t->n_dims &&
             fwrite(&t->type, 4, 1, f) == 1 && fwrite(&off, 8, 1, f) == 1;
        pos += 8 + len + 4 + 8 * t->n_dims + 4 + 8;
        off = pad(off + t->nbytes);
    }
    static const uint8_t zeros[GGUF_DEFAULT_ALIGNMENT];
    if (ok) ok = fwrite(zeros, 1, pad(pos) - pos, f) == pad(pos) - pos;
    for (uint64_t i = 0; ok && i < w->n_tensors; i++) {
        struct gguf_wtensor *t = &w->tensors[i];
        ok = fwrite(t->data, 1, t->nbytes, f) == t->nbytes;
        size_t p = pad(t->nbytes) - t->nbytes;
        if (ok && i + 1 < w->n_tensors) ok = fwrite(zeros, 1, p, f) == p;
    }
    if (fclose(f) != 0) ok = 0;
    if (!ok) return calm_fail(e, "%s: write failed: %s", path, strerror(errno));
    return 0;
}
