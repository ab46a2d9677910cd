#include "load.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "calibrate.h"
#include "../runtime/tokenizer.h"
#include "../runtime/generate.h"
#include "../runtime/threads.h"

// The tokenizer against the embedding's rows. A GGUF's token list has a row each, as llama.cpp
// requires (a 5-token list against 49,152 rows once ran, printing nothing for the other ids); an
// HF tokenizer.json may leave padding rows without a token (Qwen2.5), which are named here, since
// they print as nothing.
static int check_vocab(const calm_model *m, const calm_tokenizer *t, const char *path) {
    int n = t->v.n_tokens, rows = m->cfg.vocab_size;
    if (n > rows || (n < rows && !m->hf)) {
        fprintf(stderr, "error: %s: the vocabulary has %d tokens and the embedding %d rows\n", path,
                n, rows);
        return -1;
    }
    if (n < rows)
        fprintf(stderr,
                "calm: ids %d..%d have no token in %s/tokenizer.json and print as nothing\n", n,
                rows - 1, path);
    return 0;
}

int calm_load(const char *path, calm_model *m, calm_tokenizer *t) {
    double t0 = calm_now();
    calm_err e;
    if (calm_model_load(m, path, &e)) {
        fprintf(stderr, "error: %s\n", e.msg);
        return -1;
    }
    if ((t && calm_tokenizer_from_model(t, m, &e)) || calm_model_pack(m, &e)) {
        fprintf(stderr, "error: %s\n", e.msg);
        calm_model_free(m);
        return -1;
    }
    if (t && check_vocab(m, t, path)) {
        calm_tokenizer_free(t);
        calm_model_free(m);
        return -1;
    }
    fprintf(stderr, "calm: loaded %s (%s, %d layers, dim %d) in %.0f ms\n", path, m->cfg.arch,
            m->cfg.n_layers, m->cfg.dim, 1e3 * (calm_now() - t0));
    return 0;
}

int calm_load_for(const calm_opts *o, calm_model *m, calm_tokenizer *t) {
    char calibrated[1200];
    const char *path = o->model;
    if (o->calibrate) {
        if (calm_calibrated_model(o, calibrated, sizeof calibrated)) return -1;
        path = calibrated;
    }
    calm_threads_init(o->threads);
    return calm_load(path, m, t);
}

int calm_load_tokenizer(const char *path, calm_tokenizer *t) {
    calm_err e;
    struct stat st;
    int rc;
    if (stat(path, &st) != 0) {
        calm_fail(&e, "%s: no such file or directory", path);
        rc = -1;
    } else if (S_ISDIR(st.st_mode)) {
        rc = calm_tokenizer_from_hf(t, path, &e);
    } else {
        gguf_file g;
        rc = gguf_open(&g, path, &e) ? -1 : calm_tokenizer_from_gguf(t, &g, &e);
        if (g.map) gguf_close(&g);
    }
    if (rc) fprintf(stderr, "error: %s\n", e.msg);
    return rc;
}

static char *read_file(const char *path, size_t *n, calm_err *e) {
    FILE *f = fopen(path, "rb");
    if (!f) return calm_fail(e, "%s: cannot open: %s", path, strerror(errno)), NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 65536 + 1 > cap) {
            cap = (len + 65536 + 1) * 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return calm_fail(e, "%s: out of memory", path), NULL;
            }
            buf = nb;
        }
        size_t r = fread(buf + len, 1, 65536, f);
        len += r;
        if (r < 65536) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return calm_fail(e, "%s: read error", path), NULL;
    }
    buf[len] = 0;
    *n = len;
    return buf;
}

char *calm_read_text(const char *path, size_t *n) {
    calm_err e;
    char *text = read_file(path, n, &e);
    if (!text) fprintf(stderr, "error: %s\n", e.msg);
    return text;
}
