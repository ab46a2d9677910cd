// calm tokenize: token ids of a text, printed like llama-tokenize.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cmd_tokenize(int argc, char **argv) {
    static const calm_cmd_doc doc = {"tokenize", "-m MODEL (-p TEXT | -f FILE) [--ids]",
                                     "Prints each token id and its text, or with --ids a list."};
    calm_opts o;
    int rc = calm_parse_opts(argc, argv, &o, &doc, "model prompt file ids no-bos no-parse-special");
    if (rc) return rc > 0 ? 0 : 2;
    calm_err e;
    char *text = NULL;
    size_t n = 0;
    if (o.file) {
        if (!(text = calm_read_file(o.file, &n, &e))) {
            fprintf(stderr, "error: %s\n", e.msg);
            return 1;
        }
    } else if (!o.prompt) {
        fprintf(stderr, "error: calm tokenize: give -p TEXT or -f FILE\n");
        return 2;
    }
    calm_model m;
    calm_tokenizer tok;
    if (calm_load(o.model, &m, &tok)) {
        free(text);
        return 1;
    }
    int *ids = NULL;
    long k = calm_tokenize(&tok, text ? text : o.prompt, text ? n : strlen(o.prompt), o.add_bos,
                           o.parse_special, &ids);
    if (k < 0) {
        fprintf(stderr, "error: tokenization failed (out of memory)\n");
        rc = 1;
    } else if (o.show_ids) {
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
    calm_model_free(&m);
    return rc;
}
