// calm inspect: what a model file holds.
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "../kernels/matmul.h"
#include "../kernels/types.h"
#include "../quant/model_quant.h"
#include "../runtime/threads.h"
#include "../runtime/tokenizer.h"

// The per-layer table of a quantized or calibrated file: each matrix's algorithm, type and CKA.
static void print_choices(calm_model *m) {
    char key[256], algo[32];
    snprintf(key, sizeof key, "calm.tensor.%s.algo", m->layers[0].wq.name);
    if (!m->gguf.map || gguf_get_str(&m->gguf, key, algo, sizeof algo, NULL)) return;
    printf("\nper layer: algorithm, type and CKA of the layer's output in the search (matrices in "
           "the order q k v o gate up down where they differ)\n");
    for (int l = 0; l < m->cfg.n_layers; l++) {
        char names[CALM_BLOCK_MATS][32];
        float cka[CALM_BLOCK_MATS];
        int same = 1;
        for (int i = 0; i < CALM_BLOCK_MATS; i++) {
            const calm_tensor *t = calm_block_mat(&m->layers[l], i);
            snprintf(key, sizeof key, "calm.tensor.%s.algo", t->name);
            if (gguf_get_str(&m->gguf, key, names[i], sizeof names[i], NULL))
                snprintf(names[i], sizeof names[i], "?");
            snprintf(key, sizeof key, "calm.tensor.%s.cka", t->name);
            if (gguf_get_f32(&m->gguf, key, &cka[i], NULL)) cka[i] = -1;
            same &=
                !strcmp(names[i], names[0]) && cka[i] == cka[0] && t->type == m->layers[l].wq.type;
        }
        printf("  layer %2d ", l);
        for (int i = 0; i < (same ? 1 : CALM_BLOCK_MATS); i++) {
            const calm_tensor *t = calm_block_mat(&m->layers[l], i);
            printf(" %-11s %-8s", names[i], calm_type_get(t->type)->name);
            if (cka[i] >= 0) printf(" %.5f", cka[i]);
            printf("%s", same ? "" : " |");
        }
        putchar('\n');
    }
}

static void print_metadata(const gguf_file *g) {
    printf("\nmetadata (%llu keys, GGUF v%u):\n", (unsigned long long)g->n_kv, g->version);
    int per_tensor = 0;
    for (uint64_t i = 0; i < g->n_kv; i++) {
        const gguf_kv *kv = &g->kv[i];
        if ((kv->key.len > 12 && !memcmp(kv->key.ptr, "calm.tensor.", 12)) ||
            (kv->key.len > 11 && !memcmp(kv->key.ptr, "calm.input.", 11))) { // tables below
            per_tensor++;
            continue;
        }
        printf("  %-40.*s ", (int)kv->key.len, kv->key.ptr);
        gguf_print_value(stdout, kv);
        putchar('\n');
    }
    if (per_tensor)
        printf("  (and %d calm.tensor.* and calm.input.* keys: the tables below)\n", per_tensor);
}

// A GGUF with a vocabulary and no tensors (llama.cpp's ggml-vocab-*.gguf), whatever its
// architecture: its vocabulary and metadata. -1 when path is not such a file (or not a GGUF: the
// model loader then says what it is), else the exit code.
static int inspect_vocab_only(const char *path) {
    struct stat st;
    gguf_file g;
    calm_err e;
    if (stat(path, &st) || !S_ISREG(st.st_mode) || gguf_open(&g, path, &e)) return -1;
    if (g.n_tensors) {
        gguf_close(&g);
        return -1;
    }
    calm_tokenizer t;
    int rc = calm_tokenizer_from_gguf(&t, &g, &e);
    if (rc) {
        fprintf(stderr, "error: %s\n", e.msg);
    } else {
        char arch[64] = "?";
        gguf_get_str(&g, "general.architecture", arch, sizeof arch, NULL);
        printf("model:        %s\n", path);
        printf("vocabulary only (no tensors), architecture '%s'\n", arch);
        printf("vocabulary:   %d tokens, %s, pre-tokenizer '%s', %d merges, bos %d, eos %d\n",
               t.v.n_tokens, t.v.kind == CALM_VOCAB_SPM ? "sentencepiece" : "byte-level bpe",
               t.v.pre, t.v.n_merges, t.v.bos, t.v.eos);
        print_metadata(&g);
        calm_tokenizer_free(&t);
    }
    gguf_close(&g);
    return rc ? 1 : 0;
}

// What happens to one input of layer l at run time, from the loaded layer: its shared transform,
// or per-matrix ones where its readers differ.
static void describe_input(const calm_layer *L, int in, char *buf, size_t cap) {
    const calm_xform *x = &L->in[in];
    int per_matrix = 0;
    for (int i = 0; i < CALM_BLOCK_MATS; i++) {
        const calm_tensor *t = calm_block_mat((calm_layer *)L, i);
        per_matrix |= (int)calm_block_tensors[i].input == in && (t->in_scale || t->in_rot);
    }
    snprintf(buf, cap, "%s",
             per_matrix           ? "per matrix"
             : x->scale && x->rot ? "scale+hadamard once per token"
             : x->scale           ? "scale once per token"
             : x->rot             ? "hadamard once per token"
                                  : "none");
}

// Per layer and input (calm.input.* of a calibrated file, or for older files what the loader made
// of the matrices' transforms): which transform each input takes and where it was folded.
static void print_inputs(calm_model *m) {
    int any = 0;
    for (int l = 0; l < m->cfg.n_layers && !any; l++)
        for (int in = 0; in < CALM_IN_COUNT; in++) {
            char d[64];
            describe_input(&m->layers[l], in, d, sizeof d);
            any |= strcmp(d, "none") != 0;
        }
    if (!any) return;
    printf(
        "\ninput transforms per layer (attn: q/k/v, attn_out: o, ffn: gate/up, down), as recorded "
        "in the file (calm.input.*) or, for older files, as loaded:\n");
    for (int l = 0; l < m->cfg.n_layers; l++) {
        printf("  layer %2d", l);
        for (int in = 0; in < CALM_IN_COUNT; in++) {
            char key[96], val[192];
            snprintf(key, sizeof key, "calm.input.blk.%d.%s", l, calm_input_names[in]);
            if (!m->gguf.map || gguf_get_str(&m->gguf, key, val, sizeof val, NULL))
                describe_input(&m->layers[l], in, val, sizeof val);
            printf("%s %s: %s", in ? ";" : "", calm_input_names[in], val);
        }
        putchar('\n');
    }
}

int cmd_inspect(const calm_opts *o) {
    if (o->sys_info) {
        calm_threads_init(0);
        calm_print_system(stdout);
        return 0;
    }
    int vocab_only = inspect_vocab_only(o->model);
    if (vocab_only >= 0) return vocab_only;
    calm_err e;
    calm_model m;
    if (calm_model_load(&m, o->model, &e)) {
        fprintf(stderr, "error: %s\n", e.msg);
        return 1;
    }
    const calm_config *c = &m.cfg;
    int64_t params;
    size_t bytes;
    calm_model_size(&m, &params, &bytes);
    printf("model:        %s\n", o->model);
    printf("architecture: %s\n", c->arch);
    printf("parameters:   %.1f M, %.1f MiB (%.2f bits per weight)\n", params / 1e6,
           bytes / 1048576.0, 8.0 * bytes / (double)params);
    printf("layers %d, dim %d, ffn %d, heads %d (kv %d), head dim %d, vocab %d, context %d\n",
           c->n_layers, c->dim, c->hidden_dim, c->n_heads, c->n_kv_heads, c->head_dim,
           c->vocab_size, c->seq_len);
    printf("rope %s theta %g%s, rms eps %g%s%s%s\n", c->rope_style ? "neox" : "norm", c->rope_theta,
           m.rope_freqs.data ? " (with frequency factors)" : "", c->norm_eps,
           c->qkv_bias ? ", qkv bias" : "", c->qk_norm ? ", qk-norm" : "",
           c->tied_embeddings ? ", tied embeddings" : "");
    printf("kernels:      %s\n", calm_isa_name());
    if (m.gguf.map) print_metadata(&m.gguf);
    print_choices(&m);
    print_inputs(&m);
    // Counts per type, then optionally every tensor.
    int count[CALM_TYPE_COUNT] = {0};
    for (int i = 0; i < m.n_tensors; i++)
        if (m.tensors[i].type < CALM_TYPE_COUNT) count[m.tensors[i].type]++;
    printf("\ntensors: %d (", m.n_tensors);
    const char *sep = "";
    for (int t = 0; t < CALM_TYPE_COUNT; t++)
        if (count[t])
            printf("%s%s: %d", sep, calm_type_get((uint32_t)t)->name, count[t]), sep = ", ";
    printf(")\n");
    if (o->tensors)
        for (int i = 0; i < m.n_tensors; i++) {
            const calm_tensor *t = &m.tensors[i];
            printf("  %-32s %-5s [%lld, %lld]\n", t->name, calm_type_get(t->type)->name,
                   (long long)t->ne[0], (long long)t->ne[1]);
        }
    calm_model_free(&m);
    return 0;
}
