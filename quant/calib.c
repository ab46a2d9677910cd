#include "calib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../kernels/matmul.h"

static char *read_all(const char *path, size_t *n, calm_err *e) {
    FILE *f = fopen(path, "rb");
    if (!f) return calm_fail(e, "%s: cannot open calibration data", path), NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = len >= 0 ? malloc((size_t)len + 1) : NULL;
    if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        fclose(f);
        return calm_fail(e, "%s: cannot read calibration data", path), NULL;
    }
    fclose(f);
    buf[len] = 0;
    *n = (size_t)len;
    return buf;
}

int calm_calib_init(calm_calib *c, const calm_model *m, const calm_tokenizer *t, const char *path,
                    const calm_calib_opts *o, calm_err *e) {
    memset(c, 0, sizeof *c);
    c->m = m;
    c->n_fit = o->samples > 0 ? o->samples : 128;
    c->n = c->n_fit + (o->holdout > 0 ? o->holdout : 0);
    c->ctx = o->ctx > 0 ? o->ctx : 512;
    c->dim = m->cfg.dim;
    if (c->ctx > m->cfg.seq_len) c->ctx = m->cfg.seq_len;
    size_t len;
    char *text = read_all(path, &len, e);
    if (!text) return -1;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) h = (h ^ (uint8_t)text[i]) * 1099511628211ull;
    c->data_hash = h;
    int *ids = NULL;
    long n_tok = calm_tokenize(t, text, len, 0, 0, &ids);
    free(text);
    if (n_tok < c->ctx) {
        free(ids);
        return calm_fail(e, "%s: %ld tokens, fewer than one window of %d", path, n_tok, c->ctx);
    }
    // More windows than the text has starting points would only repeat it; their memory is
    // checked up front rather than grown into.
    size_t ntok = (size_t)c->n * c->ctx, need = ntok * c->dim * 2 * sizeof(float);
    size_t ram = (size_t)sysconf(_SC_PHYS_PAGES) * (size_t)sysconf(_SC_PAGESIZE);
    if (c->n > n_tok - c->ctx + 1 || need > ram) {
        free(ids);
        return calm_fail(e,
                         "%s: %d windows of %d tokens: the text has %ld tokens (%ld windows) and "
                         "they need %.1f GiB of the machine's %.1f GiB (lower --samples or -c)",
                         path, c->n, c->ctx, n_tok, n_tok - c->ctx + 1, need / 1073741824.0,
                         ram / 1073741824.0);
    }
    c->tokens = malloc(ntok * sizeof(int));
    c->hidden = malloc(ntok * c->dim * sizeof(float));
    c->next = malloc(ntok * c->dim * sizeof(float));
    if (!c->tokens || !c->hidden || !c->next) {
        free(ids);
        calm_calib_free(c);
        return calm_fail(e, "out of memory for %d calibration windows of %d tokens", c->n, c->ctx);
    }
    uint64_t s = o->seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;
    for (int i = 0; i < c->n; i++) { // windows at random offsets, as GPTQ samples its data
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        long start = (long)(s % (uint64_t)(n_tok - c->ctx + 1));
        memcpy(c->tokens + (size_t)i * c->ctx, ids + start, (size_t)c->ctx * sizeof(int));
    }
    free(ids);
    for (size_t i = 0; i < ntok; i++)
        calm_get_row(c->hidden + i * c->dim, m->tok_embd.data, m->tok_embd.type, c->dim,
                     c->tokens[i]);
    if (calm_state_init(&c->st, m, c->ctx, c->ctx, e)) {
        calm_calib_free(c);
        return -1;
    }
    return 0;
}

void calm_calib_free(calm_calib *c) {
    free(c->tokens);
    free(c->hidden);
    free(c->next);
    if (c->st.m) calm_state_free(&c->st);
    memset(c, 0, sizeof *c);
}

static void add_stats(void *ctx, calm_linear_input which, const float *x, int T, int cols) {
    (void)cols;
    calm_xstats_add(&((calm_xstats *)ctx)[which], x, T);
}

void calm_calib_layer(calm_calib *c, const calm_layer *L, int l, calm_xstats *xs, calm_sample_fn fn,
                      void *ctx, int advance) {
    size_t win = (size_t)c->ctx * c->dim;
    for (int i = 0; i < c->n; i++) {
        memcpy(c->st.x, c->hidden + i * win, win * sizeof(float));
        c->st.kv.n = 0;
        int stats = xs && i < c->n_fit;
        calm_block_forward(&c->st, L, l, c->ctx, 0, stats ? add_stats : NULL, stats ? xs : NULL);
        if (fn) fn(ctx, i, c->st.x, c->ctx, c->dim);
        if (advance) memcpy(c->next + i * win, c->st.x, win * sizeof(float));
    }
    if (advance) {
        float *t = c->hidden;
        c->hidden = c->next;
        c->next = t;
    }
}
