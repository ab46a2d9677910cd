#include "quant_opts.h"

#include <stdio.h>
#include <string.h>

#include "load.h"
#include "../kernels/types.h"

int calm_pick_type(const calm_opts *o, const char *algo) {
    if (!strcmp(algo, "smoothquant")) return CALM_TYPE_W8A8;
    if (o->type && strcmp(o->type, "f32")) { // --type names a storage type directly
        for (uint32_t t = 0; t < CALM_TYPE_COUNT; t++) {
            const calm_type_traits *tt = calm_type_get(t);
            calm_qfmt f;
            if (tt && !strcmp(tt->name, o->type) && !calm_qfmt_init(&f, t, 0, NULL)) return (int)t;
        }
        fprintf(stderr, "error: --type must be qgB_G, q4_0, q4_1, q8_0 or w8a8, not '%s'\n",
                o->type);
        return -1;
    }
    int t = calm_type_qg(o->bits, o->group);
    if (t < 0) fprintf(stderr, "error: --bits must be 2, 3, 4 or 8 and --group 32, 64 or 128\n");
    return t;
}

int calm_qopts_from(const calm_opts *o, uint32_t type, calm_qopts *q) {
    calm_qopts_default(q);
    calm_err e;
    int sym = o->sym || calm_type_get(type)->symmetric;
    if (type == CALM_TYPE_Q4_1 && o->sym) {
        fprintf(stderr, "error: q4_1 is asymmetric; use q4_0 for a symmetric 4-bit grid\n");
        return -1;
    }
    if (calm_qfmt_init(&q->fmt, type, sym, &e)) {
        fprintf(stderr, "error: %s\n", e.msg);
        return -1;
    }
    q->act_order = o->act_order;
    q->clip_search = !o->no_clip;
    q->alpha = o->alpha;
    q->seed = o->sp.seed;
    return 0;
}

int calm_pick_embd_type(const char *name, uint32_t *type) {
    static const struct {
        const char *n;
        uint32_t t;
    } ts[] = {{"q8_0", CALM_TYPE_Q8_0},
              {"q4_0", CALM_TYPE_Q4_0},
              {"f16", CALM_TYPE_F16},
              {"f32", CALM_TYPE_F32}};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
        if (!strcmp(name, ts[i].n)) return *type = ts[i].t, 0;
    fprintf(stderr, "error: --embd-type must be q8_0, q4_0, f16 or f32, not '%s'\n", name);
    return -1;
}

double calm_bpw(uint32_t type, int n) {
    return 8.0 * (double)calm_row_size(type, n) / n;
}

int calm_quant_begin(const calm_opts *o, calm_outfile *out, calm_model *m, calm_tokenizer *t) {
    const char *inputs[] = {o->model, o->data};
    if (calm_outfile_begin(out, o->out, 0, inputs, 2) || calm_load_for(o, m, t)) return -1;
    for (int i = 0; i < m->n_tensors; i++) {
        uint32_t type = m->tensors[i].type;
        if (m->tensors[i].n_dims < 2 || type == CALM_TYPE_F32 || type == CALM_TYPE_F16 ||
            type == CALM_TYPE_BF16)
            continue;
        fprintf(stderr,
                "calm: warning: %s is already quantized ('%s' is %s); quantizing it again adds a "
                "second rounding error (start from an f32, f16 or bf16 model: calm convert)\n",
                m->path, m->tensors[i].name, calm_type_get(type)->name);
        break;
    }
    return 0;
}
