// A vocabulary as the files give it, whatever the file: GGUF's tokenizer.ggml.* keys
// (formats/vocab_gguf.c) or an HF directory's tokenizer.json and tokenizer_config.json
// (formats/vocab_hf.c). Plain data; runtime/tokenizer binds it into a tokenizer.
#ifndef CALM_VOCAB_H
#define CALM_VOCAB_H

#include <stddef.h>

#include "gguf.h"
#include "../kernels/status.h"

typedef enum {
    CALM_VOCAB_BPE = 0, // byte-level BPE (GPT-2 style: Llama 3, Qwen, SmolLM); GGUF "gpt2"
    CALM_VOCAB_SPM = 1, // SentencePiece BPE with byte fallback (Llama 2, TinyStories); "llama"
} calm_vocab_kind;

// ggml's token types, as GGUF stores them
enum {
    CALM_TT_NORMAL = 1,
    CALM_TT_UNKNOWN = 2,
    CALM_TT_CONTROL = 3,
    CALM_TT_USER = 4,
    CALM_TT_UNUSED = 5,
    CALM_TT_BYTE = 6
};

typedef struct {
    calm_vocab_kind kind;
    char *pre; // pre-tokenizer by GGUF's name ("smollm", "llama-bpe", ...); "" when none given
    int n_tokens;
    char **text; // token texts as stored (byte-level BPE: mapped code points; SPM: with U+2581)
    int *len;
    float *scores; // SPM merge priority
    int *type;     // CALM_TT_*
    char **merges; // "left right", in rank order
    int n_merges;
    int bos, eos, eot, unk; // -1 when the file names none
    int add_bos, add_eos, add_space_prefix, ignore_merges;
    char *chat_template; // NULL when none
} calm_vocab;

// Allocates n tokens (texts NULL, types 0) and sets every id to -1. On failure frees what it took.
int calm_vocab_alloc(calm_vocab *v, int n, calm_err *e);
// Frees everything and leaves v zeroed (safe on a zeroed or half-filled vocabulary).
void calm_vocab_free(calm_vocab *v);

// A text -> id index over a vocabulary's texts (open addressing). Where texts repeat the lowest id
// wins, as in a dictionary built in id order. It points into nothing: pass the vocabulary again.
typedef struct {
    int *slot;
    size_t cap;
} calm_vocab_index;
int calm_vocab_index_init(calm_vocab_index *x, const calm_vocab *v, calm_err *e);
// The id of the token whose text is s[0..n), or -1.
int calm_vocab_find(const calm_vocab_index *x, const calm_vocab *v, const char *s, size_t n);
void calm_vocab_index_free(calm_vocab_index *x);

// Reads the tokenizer.ggml.* and tokenizer.chat_template keys. Fails naming the file and the key
// when the tokenizer is missing, of an unsupported model, or a key has the wrong type or size.
int calm_vocab_from_gguf(calm_vocab *v, const gguf_file *g, calm_err *e);
// Writes v as tokenizer.ggml.* keys (and the chat template) into w; the strings are copied.
void calm_vocab_to_gguf(gguf_writer *w, const calm_vocab *v);

// Reads dir/tokenizer.json (required: a BPE model with a vocab object) and
// dir/tokenizer_config.json (optional: special tokens, add_bos/eos, chat template). The
// pre-tokenizer is recognised from the shapes each model family's tokenizer.json uses and named
// as GGUF names it.
int calm_vocab_from_hf(calm_vocab *v, const char *dir, calm_err *e);
// Writes v as dir/tokenizer.json and dir/tokenizer_config.json.
int calm_vocab_write_hf(const calm_vocab *v, const char *dir, calm_err *e);

#endif
