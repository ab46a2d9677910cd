// calm tokenize: token ids of a text, printed like llama-tokenize.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "load.h"

int cmd_tokenize(const calm_opts *o) {
    char *text = NULL;
    size_t n = 0;
    if (!o->file && !o->prompt) {
        fprintf(stderr, "error: calm tokenize: give -p TEXT or -f FILE\n");
        return 2;
    }
    // Only the vocabulary: a vocabulary-only GGUF, or a model of an architecture calm does not
    // run, tokenizes too, as with llama-tokenize --vocab-only.
    calm_tokenizer tok;
    if ((o->file && !(text = calm_read_text(o->file, &n))) || calm_load_tokenizer(o->model, &tok)) {
        free(text);
        return 1;
    }
    int rc = 0;
    int *ids = NULL;
    long k = calm_tokenize(&tok, text ? text : o->prompt, text ? n : strlen(o->prompt), o->add_bos,
                           o->parse_special, &ids);
    if (k < 0) {
        fprintf(stderr, "error: tokenization failed (out of memory)\n");
        rc = 1;
    } else if (o->show_ids) {
        putchar('[');
        for (long i = 0; i < k; i++) printf("%s%d", i ? ", " : "", ids[i]);
        printf("]\n");
    } else {
        char piece[512];
        for (long i = 0; i < k; i++) {
            int l = calm_token_piece(&tok, ids[i], 1, piece, (int)sizeof piece);
            printf("%6d -> '%.*s'\n", ids[i], l, piece);
        }
    }
    free(ids);
    free(text);
    calm_tokenizer_free(&tok);
    return rc;
}
