#include "block.h"

#include <stdio.h>
#include <string.h>

#define F(x) offsetof(calm_layer, x)
#define MAT(g, h, f, c, r, in, rot)                                                                \
    { g, h, F(f), CALM_EXT_##c, CALM_EXT_##r, 1, in, rot }
#define VEC(g, h, f, c, req)                                                                       \
    { g, h, F(f), CALM_EXT_##c, CALM_EXT_ONE, req, CALM_IN_COUNT, 0 }

const calm_block_tensor calm_block_tensors[CALM_BLOCK_TENSORS] = {
    [CALM_BT_Q] = MAT("attn_q.weight", "self_attn.q_proj.weight", wq, DIM, QDIM, CALM_IN_ATTN, 1),
    [CALM_BT_K] = MAT("attn_k.weight", "self_attn.k_proj.weight", wk, DIM, KVDIM, CALM_IN_ATTN, 1),
    [CALM_BT_V] = MAT("attn_v.weight", "self_attn.v_proj.weight", wv, DIM, KVDIM, CALM_IN_ATTN, 0),
    [CALM_BT_O] =
        MAT("attn_output.weight", "self_attn.o_proj.weight", wo, QDIM, DIM, CALM_IN_ATTN_OUT, 0),
    [CALM_BT_GATE] =
        MAT("ffn_gate.weight", "mlp.gate_proj.weight", w_gate, DIM, HIDDEN, CALM_IN_FFN, 0),
    [CALM_BT_UP] = MAT("ffn_up.weight", "mlp.up_proj.weight", w_up, DIM, HIDDEN, CALM_IN_FFN, 0),
    [CALM_BT_DOWN] =
        MAT("ffn_down.weight", "mlp.down_proj.weight", w_down, HIDDEN, DIM, CALM_IN_DOWN, 0),
    [CALM_BT_ATTN_NORM] = VEC("attn_norm.weight", "input_layernorm.weight", attn_norm, DIM, 1),
    [CALM_BT_Q_BIAS] = VEC("attn_q.bias", "self_attn.q_proj.bias", bq, QDIM, 0),
    [CALM_BT_K_BIAS] = VEC("attn_k.bias", "self_attn.k_proj.bias", bk, KVDIM, 0),
    [CALM_BT_V_BIAS] = VEC("attn_v.bias", "self_attn.v_proj.bias", bv, KVDIM, 0),
    [CALM_BT_Q_NORM] = VEC("attn_q_norm.weight", "self_attn.q_norm.weight", q_norm, HEAD, 0),
    [CALM_BT_K_NORM] = VEC("attn_k_norm.weight", "self_attn.k_norm.weight", k_norm, HEAD, 0),
    [CALM_BT_FFN_NORM] =
        VEC("ffn_norm.weight", "post_attention_layernorm.weight", ffn_norm, DIM, 1),
};

_Static_assert(CALM_IN_COUNT == CALM_LAYER_INPUTS, "calm_layer.in holds one transform per input");

const char *const calm_input_names[CALM_IN_COUNT] = {
    [CALM_IN_ATTN] = "attn",
    [CALM_IN_ATTN_OUT] = "attn_out",
    [CALM_IN_FFN] = "ffn",
    [CALM_IN_DOWN] = "down",
};

int calm_input_norm(int in) {
    return in == CALM_IN_ATTN ? CALM_BT_ATTN_NORM : in == CALM_IN_FFN ? CALM_BT_FFN_NORM : -1;
}

void calm_layer_share_inputs(calm_layer *L) {
    for (int in = 0; in < CALM_IN_COUNT; in++) {
        const calm_tensor *first = NULL;
        int same = !L->in[in].scale && !L->in[in].rot;
        for (int i = 0; i < CALM_BLOCK_MATS && same; i++) {
            const calm_tensor *t = calm_block_tensor_of(L, i);
            if ((int)calm_block_tensors[i].input != in) continue;
            if (!first) first = t;
            same = t->in_rot == first->in_rot && !t->in_scale == !first->in_scale &&
                   (!t->in_scale || t->in_scale == first->in_scale ||
                    !memcmp(t->in_scale, first->in_scale, sizeof(float) * (size_t)t->ne[0]));
        }
        if (!same || !first || (!first->in_scale && !first->in_rot)) continue;
        L->in[in] = (calm_xform){first->in_scale, first->in_rot};
        for (int i = 0; i < CALM_BLOCK_MATS; i++)
            if ((int)calm_block_tensors[i].input == in) {
                calm_tensor *t = calm_block_tensor_of(L, i);
                t->in_scale = NULL;
                t->in_rot = 0;
            }
    }
}

calm_tensor *calm_block_tensor_of(calm_layer *L, int i) {
    return (calm_tensor *)((char *)L + calm_block_tensors[i].field);
}

calm_tensor *calm_block_mat(calm_layer *L, int i) {
    return calm_block_tensor_of(L, i);
}

int calm_extent_of(const calm_config *c, calm_extent x) {
    const int len[] = {
        [CALM_EXT_ONE] = 1,
        [CALM_EXT_DIM] = c->dim,
        [CALM_EXT_QDIM] = c->n_heads * c->head_dim,
        [CALM_EXT_KVDIM] = c->n_kv_heads * c->head_dim,
        [CALM_EXT_HIDDEN] = c->hidden_dim,
        [CALM_EXT_HEAD] = c->head_dim,
    };
    return len[x];
}

// The tensors outside the blocks: {GGUF name, HF name}.
static const char *const global_names[][2] = {
    {"token_embd.weight", "model.embed_tokens.weight"},
    {"output_norm.weight", "model.norm.weight"},
    {"output.weight", "lm_head.weight"},
};

// Renames between the layouts: index 0 of each pair is the GGUF name, 1 the HF one.
static int rename_tensor(const char *name, int to_hf, char *out, size_t cap) {
    static const char *block_prefix[2] = {"blk.%d.%n", "model.layers.%d.%n"},
                      *block_out[2] = {"blk.%d.%s", "model.layers.%d.%s"};
    int from = !to_hf;
    for (size_t i = 0; i < sizeof global_names / sizeof global_names[0]; i++)
        if (!strcmp(name, global_names[i][from]))
            return snprintf(out, cap, "%s", global_names[i][to_hf]) >= (int)cap;
    int l, n = -1;
    if (sscanf(name, block_prefix[from], &l, &n) == 1 && l >= 0 && n > 0)
        for (int i = 0; i < CALM_BLOCK_TENSORS; i++) {
            const char *b[2] = {calm_block_tensors[i].gguf, calm_block_tensors[i].hf};
            if (!strcmp(name + n, b[from]))
                return snprintf(out, cap, block_out[to_hf], l, b[to_hf]) >= (int)cap;
        }
    return -1;
}

int calm_name_hf_to_gguf(const char *hf, char *gguf, size_t cap) {
    return rename_tensor(hf, 0, gguf, cap);
}

int calm_name_gguf_to_hf(const char *gguf, char *hf, size_t cap) {
    return rename_tensor(gguf, 1, hf, cap);
}

int calm_name_is_rotary(const char *gguf) {
    int l, n = -1;
    if (sscanf(gguf, "blk.%d.%n", &l, &n) != 1 || n < 0) return 0;
    for (int i = 0; i < CALM_BLOCK_MATS; i++)
        if (calm_block_tensors[i].rotary && !strcmp(gguf + n, calm_block_tensors[i].gguf)) return 1;
    return 0;
}

int calm_rotary_row(int r, int hd) {
    int h = r / hd, i = r % hd;
    return h * hd + (i % 2) * (hd / 2) + i / 2;
}
