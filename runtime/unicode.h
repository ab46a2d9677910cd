// UTF-8 decoding and the Unicode categories the pre-tokenizer regexes use (\p{L}, \p{N}, \s).
#ifndef CALM_UNICODE_H
#define CALM_UNICODE_H

#include <stddef.h>
#include <stdint.h>

enum { CALM_U_LETTER = 1, CALM_U_NUMBER = 2, CALM_U_MARK = 4 };

typedef struct {
    uint32_t first, last;
    uint8_t flags;
} calm_ucd_range;

extern const calm_ucd_range calm_ucd_ranges[];
extern const int calm_ucd_n_ranges;

int calm_u_flags(uint32_t cp);
int calm_u_is_space(uint32_t cp); // Unicode White_Space
// Decodes one code point at s (n bytes left); returns its length (>= 1). Invalid bytes decode as
// U+FFFD of length 1, so every input makes progress.
int calm_utf8_decode(const char *s, size_t n, uint32_t *cp);
int calm_utf8_encode(uint32_t cp, char *out);
// Length of the UTF-8 sequence a lead byte announces (1 for invalid leads).
int calm_utf8_len(unsigned char lead);

#endif
