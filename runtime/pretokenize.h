// Pre-tokenizers: split text into words the way the tokenizer.json regexes do, without a regex
// engine.
#ifndef CALM_PRETOKENIZE_H
#define CALM_PRETOKENIZE_H

#include <stddef.h>

typedef enum {
    CALM_PRE_GPT2 = 0, // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
    CALM_PRE_SMOLLM,   // every \p{N} alone, then GPT-2
    CALM_PRE_LLAMA3,   // (?i:'s|...)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
                       // ?[^\s\p{L}\p{N}]+[\r\n]*|...
    CALM_PRE_QWEN2,    // as LLAMA3 with \p{N} alone
} calm_pre_kind;

typedef struct {
    size_t start, len; // bytes
} calm_span;

// Splits s[0..n) into words; returns the number of spans written to *out (malloc'd), or -1.
long calm_pretokenize(calm_pre_kind kind, const char *s, size_t n, calm_span **out);
const char *calm_pre_name(calm_pre_kind kind);

#endif
