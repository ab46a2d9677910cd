#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "extents.h"
#include "../kernels/types.h"

// A bounds-checked cursor over the file image.
typedef struct {
    const uint8_t *p;
    size_t size, pos;
    const char *name;
    calm_err *e;
} cursor;

static int need(cursor *c, size_t n, const char *what) {
    if (n > c->size - c->pos)
        return calm_fail(c->e, "%s: truncated file: %s at offset %zu needs %zu bytes, %zu left",
                         c->name, what, c->pos, n, c->size - c->pos);
    return 0;
}

static int rd(cursor *c, void *dst, size_t n, const char *what) {
    if (need(c, n, what)) return -1;
    memcpy(dst, c->p + c->pos, n);
    c->pos += n;
    return 0;
}

static int rd_str(cursor *c, gguf_str *s, const char *what) {
    if (rd(c, &s->len, 8, what)) return -1;
    if (need(c, s->len, what)) return -1;
    s->ptr = (const char *)c->p + c->pos;
    c->pos += s->len;
    return 0;
}

size_t gguf_scalar_size(uint32_t t) {
    switch (t) {
    case GGUF_U8:
    case GGUF_I8:
    case GGUF_BOOL:
        return 1;
    case GGUF_U16:
    case GGUF_I16:
        return 2;
    case GGUF_U32:
    case GGUF_I32:
    case GGUF_F32:
        return 4;
    case GGUF_U64:
    case GGUF_I64:
    case GGUF_F64:
        return 8;
    default:
        return 0;
    }
}

const char *gguf_vtype_name(uint32_t t) {
    static const char *names[] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                  "bool", "string", "array", "u64", "i64", "f64"};
    return t < GGUF_NTYPES ? names[t] : "?";
}

static int is_uint(uint32_t t) {
    return t == GGUF_U8 || t == GGUF_U16 || t == GGUF_U32 || t == GGUF_U64;
}
static int is_int(uint32_t t) {
    return t == GGUF_I8 || t == GGUF_I16 || t == GGUF_I32 || t == GGUF_I64;
}

// Decodes one scalar of type t from p into the kv's union, widening to u64/i64/double.
static void decode_scalar(uint32_t t, const void *p, gguf_kv *kv) {
    union {
        uint8_t u8;
        int8_t i8;
        uint16_t u16;
        int16_t i16;
        uint32_t u32;
        int32_t i32;
        float f32;
        uint64_t u64;
        int64_t i64;
        double f64;
    } x = {0};
    size_t n = gguf_scalar_size(t);
    memcpy(&x, p, n); // little-endian, as GGUF is
    if (t == GGUF_F32 || t == GGUF_F64)
        kv->v.f = t == GGUF_F32 ? x.f32 : x.f64;
    else if (is_int(t))
        kv->v.i = n == 1 ? x.i8 : n == 2 ? x.i16 : n == 4 ? x.i32 : x.i64;
    else // unsigned and bool
        kv->v.u = n == 1 ? x.u8 : n == 2 ? x.u16 : n == 4 ? x.u32 : x.u64;
}

static int rd_scalar(cursor *c, uint32_t t, gguf_kv *kv, const char *what) {
    if (need(c, gguf_scalar_size(t), what)) return -1;
    decode_scalar(t, c->p + c->pos, kv);
    c->pos += gguf_scalar_size(t);
    return 0;
}

static int parse_kv(cursor *c, gguf_kv *kv, uint64_t idx) {
    char what[64];
    snprintf(what, sizeof what, "key %llu", (unsigned long long)idx);
    if (rd_str(c, &kv->key, what)) return -1;
    if (rd(c, &kv->type, 4, what)) return -1;
    if (kv->type >= GGUF_NTYPES)
        return calm_fail(c->e, "%s: key '%.*s' has unknown value type %u", c->name,
                         (int)(kv->key.len > 200 ? 200 : kv->key.len), kv->key.ptr, kv->type);
    if (kv->type == GGUF_STRING) return rd_str(c, &kv->v.s, what);
    if (kv->type != GGUF_ARRAY) return rd_scalar(c, kv->type, kv, what);
    if (rd(c, &kv->v.arr.type, 4, what) || rd(c, &kv->v.arr.n, 8, what)) return -1;
    uint32_t et = kv->v.arr.type;
    uint64_t n = kv->v.arr.n;
    if (et == GGUF_ARRAY || et >= GGUF_NTYPES)
        return calm_fail(c->e, "%s: key '%.*s' is an array of unsupported type %u", c->name,
                         (int)(kv->key.len > 200 ? 200 : kv->key.len), kv->key.ptr, et);
    if (et == GGUF_STRING) {
        // Each string takes at least its 8-byte length: bound n before allocating.
        if (n > (c->size - c->pos) / 8)
            return calm_fail(c->e, "%s: key '%.*s' claims %llu strings, more than the file holds",
                             c->name, (int)(kv->key.len > 200 ? 200 : kv->key.len), kv->key.ptr,
                             (unsigned long long)n);
        kv->v.arr.strs = malloc((n ? n : 1) * sizeof(gguf_str));
        if (!kv->v.arr.strs) return calm_fail(c->e, "%s: out of memory", c->name);
        for (uint64_t i = 0; i < n; i++)
            if (rd_str(c, &kv->v.arr.strs[i], what)) return -1;
        return 0;
    }
    size_t es = gguf_scalar_size(et);
    if (n > (c->size - c->pos) / es)
        return calm_fail(c->e, "%s: key '%.*s' claims %llu elements, more than the file holds",
                         c->name, (int)(kv->key.len > 200 ? 200 : kv->key.len), kv->key.ptr,
                         (unsigned long long)n);
    kv->v.arr.data = c->p + c->pos;
    c->pos += n * es;
    return 0;
}

// Tensors whose bytes overlap are refused, naming the first pair (formats/extents.h says why).
static int check_overlap(const gguf_file *g, calm_err *e) {
    calm_extent *x = malloc((g->n_tensors ? g->n_tensors : 1) * sizeof *x);
    if (!x) return calm_fail(e, "%s: out of memory", g->path);
    for (uint64_t i = 0; i < g->n_tensors; i++)
        x[i] = (calm_extent){g->tensors[i].offset, g->tensors[i].nbytes, i};
    uint64_t ia, ib;
    int rc = 0;
    if (calm_extents_overlap(x, g->n_tensors, &ia, &ib)) {
        const gguf_tensor *a = &g->tensors[ia], *b = &g->tensors[ib];
        rc =
            calm_fail(e, "%s: tensors '%.*s' (%zu bytes at %llu) and '%.*s' (at %llu) overlap",
                      g->path, (int)(a->name.len > 200 ? 200 : a->name.len), a->name.ptr, a->nbytes,
                      (unsigned long long)a->offset, (int)(b->name.len > 200 ? 200 : b->name.len),
                      b->name.ptr, (unsigned long long)b->offset);
    }
    free(x);
    return rc;
}

int gguf_parse(gguf_file *g, const void *buf, size_t size, const char *name, calm_err *e) {
    memset(g, 0, sizeof *g);
    snprintf(g->path, sizeof g->path, "%s", name);
    cursor c = {buf, size, 0, g->path, e};
    char magic[4];
    if (rd(&c, magic, 4, "magic")) return -1;
    if (memcmp(magic, "GGUF", 4) != 0) return calm_fail(e, "%s: not a GGUF file (bad magic)", name);
    if (rd(&c, &g->version, 4, "version")) return -1;
    if (g->version < 2 || g->version > 3)
        return calm_fail(e, "%s: unsupported GGUF version %u (expected 2 or 3)", name, g->version);
    if (rd(&c, &g->n_tensors, 8, "tensor count") || rd(&c, &g->n_kv, 8, "metadata count"))
        return -1;
    // Every key/value takes at least 12 bytes and every tensor info at least 24.
    if (g->n_kv > size / 12 || g->n_tensors > size / 24)
        return calm_fail(e,
                         "%s: corrupt header: %llu keys and %llu tensors cannot fit in %zu bytes",
                         name, (unsigned long long)g->n_kv, (unsigned long long)g->n_tensors, size);
    g->kv = calloc(g->n_kv ? g->n_kv : 1, sizeof(gguf_kv));
    g->tensors = calloc(g->n_tensors ? g->n_tensors : 1, sizeof(gguf_tensor));
    if (!g->kv || !g->tensors) return calm_fail(e, "%s: out of memory", name);
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    for (uint64_t i = 0; i < g->n_kv; i++) {
        if (parse_kv(&c, &g->kv[i], i)) return -1;
        if (gguf_str_eq(g->kv[i].key, "general.alignment")) {
            uint64_t a = g->kv[i].v.u;
            if (g->kv[i].type != GGUF_U32 || a == 0 || (a & (a - 1)))
                return calm_fail(e, "%s: general.alignment must be a u32 power of two", name);
            g->alignment = a;
        }
    }
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        gguf_tensor *t = &g->tensors[i];
        char what[64];
        snprintf(what, sizeof what, "tensor info %llu", (unsigned long long)i);
        if (rd_str(&c, &t->name, what) || rd(&c, &t->n_dims, 4, what)) return -1;
        int nl = (int)(t->name.len > 200 ? 200 : t->name.len);
        if (t->n_dims == 0 || t->n_dims > GGUF_MAX_DIMS)
            return calm_fail(e, "%s: tensor '%.*s' has %u dimensions (1..4 allowed)", name, nl,
                             t->name.ptr, t->n_dims);
        int64_t nel = 1;
        for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) {
            if (rd(&c, &t->ne[d], 8, what)) return -1;
            if (t->ne[d] <= 0 || t->ne[d] > (INT64_MAX / 2) / nel)
                return calm_fail(e, "%s: tensor '%.*s' has invalid dimension %lld", name, nl,
                                 t->name.ptr, (long long)t->ne[d]);
            nel *= t->ne[d];
        }
        if (rd(&c, &t->type, 4, what) || rd(&c, &t->offset, 8, what)) return -1;
        const calm_type_traits *tt = calm_type_get(t->type);
        if (!tt)
            return calm_fail(e, "%s: tensor '%.*s' has unknown type id %u", name, nl, t->name.ptr,
                             t->type);
        if (t->ne[0] % tt->block_size)
            return calm_fail(e, "%s: tensor '%.*s': row of %lld is not a multiple of %s's block %d",
                             name, nl, t->name.ptr, (long long)t->ne[0], tt->name, tt->block_size);
        t->nbytes = calm_row_size(t->type, t->ne[0]) * (size_t)(nel / t->ne[0]);
        if (t->offset % g->alignment)
            return calm_fail(e, "%s: tensor '%.*s' offset %llu is not aligned to %zu", name, nl,
                             t->name.ptr, (unsigned long long)t->offset, g->alignment);
    }
    size_t data = (c.pos + g->alignment - 1) / g->alignment * g->alignment;
    if (data > size && g->n_tensors > 0)
        return calm_fail(e, "%s: truncated file: tensor data section missing", name);
    g->data_offset = data;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        gguf_tensor *t = &g->tensors[i];
        if (t->offset > size - data || t->nbytes > size - data - t->offset)
            return calm_fail(e,
                             "%s: truncated file: tensor '%.*s' (%zu bytes at %llu) runs past "
                             "the end",
                             name, (int)(t->name.len > 200 ? 200 : t->name.len), t->name.ptr,
                             t->nbytes, (unsigned long long)t->offset);
        t->data = (const uint8_t *)buf + data + t->offset;
    }
    return check_overlap(g, e);
}

int gguf_open(gguf_file *g, const char *path, calm_err *e) {
    memset(g, 0, sizeof *g);
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer for ever.
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) return calm_fail(e, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return calm_fail(e, "%s: not a regular file", path);
    }
    size_t size = (size_t)st.st_size;
    if (size == 0) {
        close(fd);
        return calm_fail(e, "%s: empty file", path);
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return calm_fail(e, "%s: mmap failed: %s", path, strerror(errno));
    int rc = gguf_parse(g, map, size, path, e);
    g->map = map;
    g->size = size;
    if (rc) gguf_close(g);
    return rc;
}

void gguf_close(gguf_file *g) {
    if (g->kv)
        for (uint64_t i = 0; i < g->n_kv; i++)
            if (g->kv[i].type == GGUF_ARRAY) free(g->kv[i].v.arr.strs);
    free(g->kv);
    free(g->tensors);
    if (g->map) munmap(g->map, g->size);
    memset(g, 0, sizeof *g);
}

int gguf_str_eq(gguf_str s, const char *c) {
    size_t n = strlen(c);
    return s.len == n && memcmp(s.ptr, c, n) == 0;
}

const gguf_kv *gguf_find(const gguf_file *g, const char *key) {
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (gguf_str_eq(g->kv[i].key, key)) return &g->kv[i];
    return NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *g, const char *name) {
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (gguf_str_eq(g->tensors[i].name, name)) return &g->tensors[i];
    return NULL;
}

static int is_integer(uint32_t t) {
    return is_uint(t) || is_int(t);
}
static int is_number(uint32_t t) {
    return is_integer(t) || t == GGUF_F32 || t == GGUF_F64;
}
static int is_bool(uint32_t t) {
    return t == GGUF_BOOL;
}
static int is_string(uint32_t t) {
    return t == GGUF_STRING;
}

// The key/value of key when present (1 when absent); one whose type fails ok is an error naming
// the key, the type wanted and the type found.
static int find_typed(const gguf_file *g, const char *key, int (*ok)(uint32_t), const char *want,
                      const gguf_kv **kv, calm_err *e) {
    *kv = gguf_find(g, key);
    if (!*kv) return 1;
    if (ok((*kv)->type)) return 0;
    return calm_fail(e, "%s: key '%s' has type %s, expected %s", g->path, key,
                     gguf_vtype_name((*kv)->type), want);
}

int gguf_get_u32(const gguf_file *g, const char *key, uint32_t *out, calm_err *e) {
    const gguf_kv *kv;
    int rc = find_typed(g, key, is_integer, "an unsigned integer (u32)", &kv, e);
    if (rc) return rc;
    int neg = is_int(kv->type) && kv->v.i < 0;
    if (neg || kv->v.u > UINT32_MAX) // i >= 0 reads the same through u
        return calm_fail(e, "%s: key '%s' is out of the range of a u32", g->path, key);
    *out = (uint32_t)kv->v.u;
    return 0;
}

int gguf_get_f32(const gguf_file *g, const char *key, float *out, calm_err *e) {
    const gguf_kv *kv;
    int rc = find_typed(g, key, is_number, "a number (f32)", &kv, e);
    if (rc == 0)
        *out = is_int(kv->type)    ? (float)kv->v.i
               : is_uint(kv->type) ? (float)kv->v.u
                                   : (float)kv->v.f;
    return rc;
}

int gguf_get_bool(const gguf_file *g, const char *key, int *out, calm_err *e) {
    const gguf_kv *kv;
    int rc = find_typed(g, key, is_bool, "bool", &kv, e);
    if (rc == 0) *out = kv->v.u != 0;
    return rc;
}

int gguf_get_str(const gguf_file *g, const char *key, char *buf, size_t cap, calm_err *e) {
    const gguf_kv *kv;
    int rc = find_typed(g, key, is_string, "string", &kv, e);
    if (rc) return rc;
    if (cap == 0) return calm_fail(e, "%s: no room for key '%s'", g->path, key);
    size_t n = kv->v.s.len < cap - 1 ? kv->v.s.len : cap - 1;
    memcpy(buf, kv->v.s.ptr, n);
    buf[n] = 0;
    return 0;
}

int gguf_require(int rc, const gguf_file *g, const char *key, calm_err *e) {
    return rc == 1 ? calm_fail(e, "%s: missing key '%s'", g->path, key) : rc;
}

// Prints a scalar from the kv's (widened) union.
static void print_scalar(FILE *f, const gguf_kv *kv, uint32_t t) {
    if (t == GGUF_BOOL)
        fputs(kv->v.u ? "true" : "false", f);
    else if (t == GGUF_F32 || t == GGUF_F64)
        fprintf(f, "%g", kv->v.f);
    else if (is_int(t))
        fprintf(f, "%lld", (long long)kv->v.i);
    else
        fprintf(f, "%llu", (unsigned long long)kv->v.u);
}

static void print_str(FILE *f, gguf_str s, size_t max) {
    fputc('"', f);
    for (size_t i = 0; i < s.len && i < max; i++) {
        char ch = s.ptr[i];
        if (ch == '\n')
            fputs("\\n", f);
        else if ((unsigned char)ch < 32)
            fprintf(f, "\\x%02x", (unsigned char)ch);
        else
            fputc(ch, f);
    }
    fputs(s.len > max ? "...\"" : "\"", f);
}

void gguf_print_value(FILE *f, const gguf_kv *kv) {
    if (kv->type == GGUF_STRING) {
        print_str(f, kv->v.s, 60);
        return;
    }
    if (kv->type != GGUF_ARRAY) {
        print_scalar(f, kv, kv->type);
        return;
    }
    uint32_t et = kv->v.arr.type;
    fprintf(f, "[%s × %llu]", gguf_vtype_name(et), (unsigned long long)kv->v.arr.n);
    for (uint64_t i = 0; i < kv->v.arr.n && i < 4; i++) {
        fputc(' ', f);
        if (et == GGUF_STRING) {
            print_str(f, kv->v.arr.strs[i], 20);
        } else {
            gguf_kv el;
            decode_scalar(et, (const uint8_t *)kv->v.arr.data + i * gguf_scalar_size(et), &el);
            print_scalar(f, &el, et);
        }
    }
    if (kv->v.arr.n > 4) fputs(" ...", f);
}
