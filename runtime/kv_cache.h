// The key/value cache: f32 rows per layer and position, so the reference path stays exact.
#ifndef CALM_KV_CACHE_H
#define CALM_KV_CACHE_H

#include "../kernels/status.h"

typedef struct {
    int n_layers, seq_len, kv_dim;
    int n;    // positions filled
    float *k; // [n_layers][seq_len][kv_dim]
    float *v;
} calm_kv_cache;

int calm_kv_init(calm_kv_cache *c, int n_layers, int seq_len, int kv_dim, calm_err *e);
void calm_kv_free(calm_kv_cache *c);
static inline float *calm_kv_k(const calm_kv_cache *c, int layer, int pos) {
    return c->k + ((size_t)layer * c->seq_len + pos) * c->kv_dim;
}
static inline float *calm_kv_v(const calm_kv_cache *c, int layer, int pos) {
    return c->v + ((size_t)layer * c->seq_len + pos) * c->kv_dim;
}

#endif
