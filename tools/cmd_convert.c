// calm convert: a model (GGUF or HF) to full-precision GGUF or an HF directory, the starting point
// of calibration.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "load.h"
#include "outfile.h"
#include "../runtime/model_gguf.h"
#include "../runtime/model_hf.h"
#include "../kernels/types.h"

// Converts every matrix to `type`; vectors (norms, biases) stay f32 as llama.cpp keeps them.
static int write_gguf(const calm_model *m, const calm_tokenizer *t, uint32_t type, const char *out,
                      calm_err *e) {
    gguf_writer w;
    gguf_writer_init(&w);
    calm_gguf_model_metadata(&w, m, t);
    // llama_ftype for the types llama.cpp knows; calm's group formats say so in calm.weight_type
    int ftype = calm_type_get(type)->ftype;
    gguf_w_u32(&w, "general.file_type", ftype >= 0 ? (uint32_t)ftype : 0);
    if (calm_type_get(type)->qg_bits) {
        gguf_w_str(&w, "calm.weight_type", calm_type_get(type)->name);
        gguf_w_str(&w, "calm.algorithm", "rtn");
    }
    void **bufs = calloc((size_t)m->n_tensors, sizeof(void *));
    int rc = bufs ? 0 : calm_fail(e, "%s: out of memory", out);
    for (int i = 0; i < m->n_tensors && !rc; i++) {
        const calm_tensor *s = &m->tensors[i];
        uint32_t dt = s->n_dims == 1 ? CALM_TYPE_F32 : type;
        if (s->ne[0] % calm_type_get(dt)->block_size)
            dt = CALM_TYPE_F16; // rows too short for a group
        size_t nbytes;
        bufs[i] = calm_tensor_convert(s, dt, 0, &nbytes);
        if (!bufs[i]) {
            rc = calm_fail(e, "%s: out of memory", out);
            break;
        }
        gguf_w_tensor(&w, s->name, dt, s->ne, (uint32_t)s->n_dims, bufs[i], nbytes);
    }
    if (!rc) rc = gguf_writer_write(&w, out, e);
    for (int i = 0; bufs && i < m->n_tensors; i++) free(bufs[i]);
    free(bufs);
    gguf_writer_free(&w);
    return rc;
}

int cmd_convert(const calm_opts *o) {
    uint32_t type;
    if (!strcmp(o->type, "f32"))
        type = CALM_TYPE_F32;
    else if (!strcmp(o->type, "f16"))
        type = CALM_TYPE_F16;
    else if (!strcmp(o->type, "bf16"))
        type = CALM_TYPE_BF16;
    else if (!strcmp(o->type, "q4_0")) // as llama-quantize --pure Q4_0 (tests/test_kl.c)
        type = CALM_TYPE_Q4_0;
    else {
        int b = 0, g = 0;
        int qg = sscanf(o->type, "qg%d_%d", &b, &g) == 2 ? calm_type_qg(b, g) : -1;
        if (qg < 0) {
            fprintf(stderr,
                    "error: --type must be f32, f16, bf16, q4_0 or qgB_G (e.g. qg4_128), "
                    "not '%s'\n",
                    o->type);
            return 2;
        }
        type = (uint32_t)qg;
    }
    int hf = !strcmp(o->format, "hf");
    if (hf && type != CALM_TYPE_F32 && type != CALM_TYPE_F16 && type != CALM_TYPE_BF16) {
        fprintf(stderr, "error: --format hf takes f32, f16 or bf16\n");
        return 2;
    }
    if (!hf && strcmp(o->format, "gguf")) {
        fprintf(stderr, "error: --format must be gguf or hf, not '%s'\n", o->format);
        return 2;
    }
    calm_err e;
    calm_model m;
    calm_tokenizer t;
    calm_outfile out;
    if (calm_outfile_begin(&out, o->out, hf, &o->model, 1) || calm_load_for(o, &m, &t)) return 1;
    int rc =
        hf ? calm_hf_write(&m, &t.v, type, out.tmp, &e) : write_gguf(&m, &t, type, out.tmp, &e);
    if (rc) fprintf(stderr, "error: %s\n", e.msg);
    rc = calm_outfile_end(&out, rc);
    if (!rc) fprintf(stderr, "calm: wrote %s (%s, %s)\n", o->out, hf ? "hf" : "gguf", o->type);
    calm_tokenizer_free(&t);
    calm_model_free(&m);
    return rc ? 1 : 0;
}
