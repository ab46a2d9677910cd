#include "vocab.h"

#include <stdlib.h>
#include <string.h>

int calm_vocab_alloc(calm_vocab *v, int n, calm_err *e) {
    memset(v, 0, sizeof *v);
    v->bos = v->eos = v->eot = v->unk = -1;
    v->n_tokens = n;
    v->text = calloc((size_t)n, sizeof(char *));
    v->len = calloc((size_t)n, sizeof(int));
    v->scores = calloc((size_t)n, sizeof(float));
    v->type = calloc((size_t)n, sizeof(int));
    if (v->text && v->len && v->scores && v->type) return 0;
    calm_vocab_free(v);
    return calm_fail(e, "tokenizer: out of memory");
}

void calm_vocab_free(calm_vocab *v) {
    for (int i = 0; i < v->n_tokens && v->text; i++) free(v->text[i]);
    free(v->text);
    free(v->len);
    free(v->scores);
    free(v->type);
    for (int i = 0; i < v->n_merges; i++) free(v->merges[i]);
    free(v->merges);
    free(v->pre);
    free(v->chat_template);
    memset(v, 0, sizeof *v);
}

static uint64_t fnv(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

int calm_vocab_find(const calm_vocab_index *x, const calm_vocab *v, const char *s, size_t n) {
    size_t mask = x->cap - 1;
    for (size_t i = fnv(s, n) & mask;; i = (i + 1) & mask) {
        int id = x->slot[i];
        if (id < 0) return -1;
        if ((size_t)v->len[id] == n && memcmp(v->text[id], s, n) == 0) return id;
    }
}

int calm_vocab_index_init(calm_vocab_index *x, const calm_vocab *v, calm_err *e) {
    size_t cap = 1;
    while (cap < (size_t)v->n_tokens * 2) cap <<= 1;
    x->slot = malloc(cap * sizeof(int));
    if (!x->slot) return calm_fail(e, "tokenizer: out of memory");
    x->cap = cap;
    for (size_t i = 0; i < cap; i++) x->slot[i] = -1;
    for (int id = 0; id < v->n_tokens; id++) {
        if (calm_vocab_find(x, v, v->text[id], (size_t)v->len[id]) >= 0) continue;
        size_t i = fnv(v->text[id], (size_t)v->len[id]) & (cap - 1);
        while (x->slot[i] >= 0) i = (i + 1) & (cap - 1);
        x->slot[i] = id;
    }
    return 0;
}

void calm_vocab_index_free(calm_vocab_index *x) {
    free(x->slot);
    x->slot = NULL;
    x->cap = 0;
}
