// Tokenizers: byte-level BPE (GPT-2 style: Llama 3, Qwen, SmolLM) and SentencePiece BPE (Llama 2,
// TinyStories), bound from a calm_vocab (formats/vocab.h) read from GGUF metadata or
// tokenizer.json.
#ifndef CALM_TOKENIZER_H
#define CALM_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "pretokenize.h"
#include "../kernels/status.h"
#include "model.h"
#include "../formats/vocab.h"

typedef struct {
    calm_vocab v; // owned
    calm_pre_kind pre;
    calm_vocab_index index; // text -> id
    // (left id, right id) -> merge rank, open addressing
    struct calm_merge {
        int a, b, rank, id;
    } * merges;
    size_t merge_cap;
    int n_merges;
    int *special; // CONTROL / USER_DEFINED / UNKNOWN ids, longest text first
    int n_special;
    int byte_token[256]; // the token of each byte (BPE: its mapped char; SPM: <0xXX>), or -1
} calm_tokenizer;

// Binds a vocabulary, whichever file it came from: names its pre-tokenizer (GGUF's names:
// "smollm", "llama-bpe"/"llama3", "qwen2", anything else GPT-2's) and builds the text, merge,
// special-token and byte tables. Takes v's contents (v is left empty, also on failure, when
// everything is freed).
int calm_tokenizer_init(calm_tokenizer *t, calm_vocab *v, calm_err *e);
// The two loaders: calm_vocab_from_gguf or calm_vocab_from_hf, then calm_tokenizer_init.
int calm_tokenizer_from_gguf(calm_tokenizer *t, const gguf_file *g, calm_err *e);
int calm_tokenizer_from_hf(calm_tokenizer *t, const char *dir, calm_err *e);
// The tokenizer of a loaded model, from whichever layout it came: its GGUF metadata, or the
// tokenizer.json of its Hugging Face directory.
int calm_tokenizer_from_model(calm_tokenizer *t, const calm_model *m, calm_err *e);
void calm_tokenizer_free(calm_tokenizer *t);

int calm_token_lookup(const calm_tokenizer *t, const char *s, size_t n); // -1 if absent
// Tokenizes text; returns the number of ids written into *out (malloc'd), or -1.
long calm_tokenize(const calm_tokenizer *t, const char *text, size_t n, int add_special,
                   int parse_special, int **out);
// The bytes a token stands for. Control tokens give their text only when `special` is set.
// Returns the length written into buf (at most cap).
int calm_token_piece(const calm_tokenizer *t, int id, int special, char *buf, int cap);
int calm_token_is_eog(const calm_tokenizer *t, int id);

// Streams token pieces as valid UTF-8: bytes of an incomplete character wait for the next piece.
typedef struct {
    char pending[8];
    int n_pending;
} calm_utf8_stream;
// Appends bytes and returns how many leading bytes of out (cap >= n + 8) are complete UTF-8.
int calm_utf8_stream_push(calm_utf8_stream *s, const char *bytes, int n, char *out);

#endif
