// Tokenizers: byte-level BPE (GPT-2 style: Llama 3, Qwen, SmolLM) and SentencePiece BPE (Llama 2,
// TinyStories), loaded from GGUF metadata or tokenizer.json.
#ifndef CALM_TOKENIZER_H
#define CALM_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "pretokenize.h"
#include "../kernels/status.h"
#include "../formats/gguf.h"

typedef enum { CALM_TOK_BPE = 0, CALM_TOK_SPM = 1 } calm_tok_kind;

// ggml's token types
enum {
    CALM_TT_NORMAL = 1,
    CALM_TT_UNKNOWN = 2,
    CALM_TT_CONTROL = 3,
    CALM_TT_USER = 4,
    CALM_TT_UNUSED = 5,
    CALM_TT_BYTE = 6
};

typedef struct {
    calm_tok_kind kind;
    calm_pre_kind pre;
    int n_vocab;
    char **text; // token texts as stored (byte-level BPE: mapped code points; SPM: with U+2581)
    int *len;
    float *scores; // SPM merge priority
    int *type;
    // hash tables (open addressing): text -> id, and (left id, right id) -> merge rank
    int *tok_hash;
    size_t tok_hash_cap;
    struct calm_merge {
        int a, b, rank, id;
    } * merges;
    size_t merge_cap;
    int n_merges;
    char **merge_text; // the merges as given ("a b"), kept for writing the tokenizer out
    int n_merge_text;
    int *special; // CONTROL / USER_DEFINED / UNKNOWN ids, longest text first
    int n_special;
    int byte_token[256]; // the token of each byte (BPE: its mapped char; SPM: <0xXX>), or -1
    int bos, eos, eot, unk;
    int add_bos, add_eos, add_space_prefix, ignore_merges;
    char *chat_template;
} calm_tokenizer;

int calm_tokenizer_from_gguf(calm_tokenizer *t, const gguf_file *g, calm_err *e);
// From an HF directory's tokenizer.json and tokenizer_config.json (runtime/tokenizer_hf.c).
struct calm_hf;
int calm_hf_tokenizer(const struct calm_hf *hf, calm_tokenizer *t, calm_err *e);
// Writes t as dir/tokenizer.json and dir/tokenizer_config.json.
int calm_tokenizer_write_hf(const calm_tokenizer *t, const char *dir, calm_err *e);
// Builds the tables once the vocabulary arrays are filled (used by both loaders).
int calm_tokenizer_finish(calm_tokenizer *t, const char *const *merges, int n_merges, calm_err *e);
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
