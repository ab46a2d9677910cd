// Tokenization against llama.cpp's ids (tests/ref/data/tokens.tsv), decoding, pre-tokenizers, SPM.
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "runtime/model.h"
#include "runtime/tokenizer.h"

static calm_tokenizer tok;
static gguf_file g;

static void setup(void) {
    calm_err e;
    cr_assert_eq(gguf_open(&g, CALM_MODEL_Q41, &e), 0, "%s", e.msg);
    cr_assert_eq(calm_tokenizer_from_gguf(&tok, &g, &e), 0, "%s", e.msg);
}
static void teardown(void) {
    calm_tokenizer_free(&tok);
    gguf_close(&g);
}

Test(tokenizer, matches_llama_cpp, .init = setup, .fini = teardown) {
    char *tsv = th_read(CALM_SOURCE_DIR "/tests/ref/data/tokens.tsv", NULL);
    int lines = 0;
    for (char *line = strtok(tsv, "\n"); line; line = strtok(NULL, "\n")) {
        char text[4096];
        size_t n = th_unhex(line, text);
        const char *want = strchr(line, '\t') + 1;
        int *ids;
        long k = calm_tokenize(&tok, text, n, 1, 1, &ids);
        char got[8192] = "";
        for (long i = 0; i < k; i++) sprintf(got + strlen(got), "%s%d", i ? " " : "", ids[i]);
        cr_expect_str_eq(got, want, "text '%.*s'", (int)n, text);
        free(ids);
        lines++;
    }
    cr_assert_geq(lines, 19);
    free(tsv);
}

Test(tokenizer, decode_inverts_encode, .init = setup, .fini = teardown) {
    const char *s[] = {"Hello  world\n\n", "naïve café 你好 😀", " 12345 ",
                       "<|im_start|>x<|im_end|>"};
    for (int i = 0; i < 4; i++) {
        int *ids;
        long k = calm_tokenize(&tok, s[i], strlen(s[i]), 0, 1, &ids);
        char out[256] = "";
        int m = 0;
        for (long j = 0; j < k; j++)
            m += calm_token_piece(&tok, ids[j], 1, out + m, (int)sizeof out - m);
        cr_assert_eq(m, (int)strlen(s[i]));
        cr_assert(memcmp(out, s[i], (size_t)m) == 0, "'%s' decodes to '%.*s'", s[i], m, out);
        free(ids);
    }
}

Test(tokenizer, special_text_is_plain_without_parse_special, .init = setup, .fini = teardown) {
    int *ids;
    long k = calm_tokenize(&tok, "<|im_end|>", 10, 0, 0, &ids);
    cr_assert_gt(k, 1);
    for (long i = 0; i < k; i++) cr_assert_neq(ids[i], 2);
    free(ids);
}

// A byte SmolLM2's byte-level vocabulary lacks (0x1D) is dropped and invalid UTF-8 (0xC0,
// 0xFF) reads as U+FFFD ("ï¿½", token 24211), both as llama-tokenize does; a missing byte
// once became token 0, <|endoftext|>, in the middle of the prompt.
Test(tokenizer, bytes_without_a_token_as_llama_cpp, .init = setup, .fini = teardown) {
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"a\x1d"
         "a",
         "81 81"},
        {"a\xc0"
         "a\xff"
         "b",
         "81 24211 81 24211 82"},
        {"a\xef\xbf\xbd"
         "a",
         "81 24211 81"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int *ids;
        long k = calm_tokenize(&tok, cases[c].text, strlen(cases[c].text), 0, 1, &ids);
        char got[256] = "";
        for (long i = 0; i < k; i++) sprintf(got + strlen(got), "%s%d", i ? " " : "", ids[i]);
        cr_expect_str_eq(got, cases[c].want, "case %zu", c);
        free(ids);
    }
}

Test(tokenizer, utf8_stream_holds_incomplete_characters) {
    calm_utf8_stream st = {0};
    char out[64];
    const char *smile = "\xf0\x9f\x98\x80"; // one 4-byte character, fed a byte at a time
    for (int i = 0; i < 3; i++) cr_assert_eq(calm_utf8_stream_push(&st, smile + i, 1, out), 0);
    cr_assert_eq(calm_utf8_stream_push(&st, smile + 3, 1, out), 4);
    cr_assert(memcmp(out, smile, 4) == 0);
    cr_assert_eq(calm_utf8_stream_push(&st, "ab\xc3", 3, out), 2);
    cr_assert_eq(calm_utf8_stream_push(&st, "\xa9", 1, out), 2);
    cr_assert(memcmp(out, "\xc3\xa9", 2) == 0);
}

static void expect_split(calm_pre_kind k, const char *s, const char *want) {
    calm_span *sp;
    long n = calm_pretokenize(k, s, strlen(s), &sp);
    char got[512] = "";
    for (long i = 0; i < n; i++)
        sprintf(got + strlen(got), "%s%.*s", i ? "|" : "", (int)sp[i].len, s + sp[i].start);
    cr_expect_str_eq(got, want, "%s on '%s'", calm_pre_name(k), s);
    free(sp);
}

Test(pretokenize, rules_of_each_family) {
    expect_split(CALM_PRE_GPT2, "Hello  world's 123abc!!", "Hello| | world|'s| 123|abc|!!");
    expect_split(CALM_PRE_GPT2, "a   \n", "a|   \n");
    expect_split(CALM_PRE_SMOLLM, "x 2024 y", "x| |2|0|2|4| y");
    expect_split(CALM_PRE_LLAMA3, "I'M 12345 ok\n\n  x", "I|'M| |123|45| ok|\n\n| | x");
    expect_split(CALM_PRE_LLAMA3, "(hi) --x", "(hi|)| --|x");
    expect_split(CALM_PRE_QWEN2, "ab 123", "ab| |1|2|3");
}

// SentencePiece BPE on a hand-made vocabulary: merges by score, byte fallback, the ▁ prefix.
Test(tokenizer, sentencepiece_merges_by_score) {
    calm_tokenizer t;
    const char *v[] = {"<unk>",
                       "<s>",
                       "</s>",
                       "\xe2\x96\x81",
                       "a",
                       "b",
                       "\xe2\x96\x81"
                       "a",
                       "ab",
                       "\xe2\x96\x81"
                       "ab",
                       "<0x21>",
                       "<0xC3>",
                       "<0xA9>"};
    float sc[] = {0, 0, 0, -1, -2, -2, -3, -1, -0.5f, 0, 0, 0};
    int ty[] = {2, 3, 3, 1, 1, 1, 1, 1, 1, 6, 6, 6};
    int n = 12;
    calm_vocab vc;
    calm_err e;
    cr_assert_eq(calm_vocab_alloc(&vc, n, &e), 0);
    vc.kind = CALM_VOCAB_SPM;
    for (int i = 0; i < n; i++) {
        vc.text[i] = strdup(v[i]);
        vc.len[i] = (int)strlen(v[i]);
        vc.scores[i] = sc[i];
        vc.type[i] = ty[i];
    }
    vc.bos = 1, vc.eos = 2, vc.unk = 0, vc.eot = -1, vc.add_bos = 1, vc.add_space_prefix = 1;
    cr_assert_eq(calm_tokenizer_init(&t, &vc, &e), 0);
    int *ids;
    long k = calm_tokenize(&t, "ab b!é", strlen("ab b!é"), 1, 1, &ids);
    // <s> ▁ab ▁ b <0x21> <0xC3> <0xA9>: "ab" (-1) merges before "▁a" (-3); ▁ab wins over ▁+ab.
    int want[] = {1, 8, 3, 5, 9, 10, 11};
    cr_assert_eq(k, 7);
    for (int i = 0; i < 7; i++) cr_assert_eq(ids[i], want[i], "position %d: %d", i, ids[i]);
    char out[32];
    int m = 0;
    for (long i = 1; i < k; i++) m += calm_token_piece(&t, ids[i], 0, out + m, 32 - m);
    cr_assert(m == (int)strlen(" ab b!é") && memcmp(out, " ab b!é", (size_t)m) == 0,
              "decoded '%.*s'", m, out);
    free(ids);
    calm_tokenizer_free(&t);
}
