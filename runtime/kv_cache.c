#include "kv_cache.h"

#include <stdlib.h>
#include <string.h>

int calm_kv_init(calm_kv_cache *c, int n_layers, int seq_len, int kv_dim, calm_err *e) {
    memset(c, 0, sizeof *c);
    size_t n = (size_t)n_layers * seq_len * kv_dim;
    c->k = malloc(n * sizeof(float));
    c->v = malloc(n * sizeof(float));
    if (!c->k || !c->v) {
        calm_kv_free(c);
        return calm_fail(e, "KV cache: cannot allocate %zu MiB for %d positions", 2 * n * 4 >> 20,
                         seq_len);
    }
    c->n_layers = n_layers;
    c->seq_len = seq_len;
    c->kv_dim = kv_dim;
    return 0;
}

void calm_kv_free(calm_kv_cache *c) {
    free(c->k);
    free(c->v);
    memset(c, 0, sizeof *c);
}
