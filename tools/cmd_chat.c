// calm chat: multi-turn chat; the KV cache keeps the conversation, each turn adds only its tokens.
#include <editline/readline.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "load.h"
#include "timings.h"
#include "../runtime/chat.h"
#include "../runtime/generate.h"

// Reads one line: with line editing on a terminal, plainly otherwise (pipes, tests).
static char *read_line(int tty) {
    if (tty) {
        char *l = readline("> ");
        if (l && *l) add_history(l);
        return l;
    }
    size_t cap = 0;
    char *l = NULL;
    ssize_t n = getline(&l, &cap, stdin);
    if (n < 0) {
        free(l);
        return NULL;
    }
    if (n > 0 && l[n - 1] == '\n') l[n - 1] = 0;
    return l;
}

int cmd_chat(const calm_opts *o) {
    calm_err e;
    calm_model m;
    calm_tokenizer tok;
    if (calm_load_for(o, &m, &tok)) return 1;
    calm_chat_template ct = calm_chat_detect(tok.v.chat_template);
    calm_state s;
    calm_sampler smp;
    if (calm_state_init(&s, &m, o->ctx ? o->ctx : 4096, o->batch, &e) ||
        calm_sampler_init(&smp, o->sp, m.cfg.vocab_size)) {
        fprintf(stderr, "error: %s\n", e.msg);
        return 1;
    }
    int tty = isatty(0);
    fprintf(stderr, "calm: chat template %s, context %d; empty line to quit\n",
            calm_chat_name(ct.kind), s.kv.seq_len);
    calm_msg msgs[2];
    int turn = 0;
    calm_gen_stats st = {0};
    int rc = 0;
    for (char *line; (line = read_line(tty)) != NULL; free(line)) {
        if (!*line) {
            free(line);
            break;
        }
        if (!strcmp(line, "/reset")) {
            s.kv.n = 0;
            turn = 0;
            continue;
        }
        int n = 0;
        if (turn == 0 && o->system) msgs[n++] = (calm_msg){"system", o->system};
        msgs[n++] = (calm_msg){"user", line};
        // Later turns render as a continuation: no default system prompt, no BOS.
        char *text = calm_chat_render(&ct, msgs, n, turn == 0 ? 0 : n - 1, 1);
        if (turn > 0 && ct.kind != CALM_CHAT_LLAMA3) {
            // The previous answer's end-of-turn token is not in the cache yet: add it and the
            // template's separator.
            char *sep = ct.kind == CALM_CHAT_CHATML ? "<|im_end|>\n" : "</s>";
            char *full = malloc(strlen(sep) + strlen(text) + 1);
            strcpy(full, sep);
            strcat(full, text);
            free(text);
            text = full;
        } else if (turn > 0) {
            char *full = malloc(strlen(text) + 16);
            strcpy(full, "<|eot_id|>");
            strcat(full, text + strlen("<|begin_of_text|>") *
                                    (strncmp(text, "<|begin_of_text|>", 17) == 0));
            free(text);
            text = full;
        }
        int *ids = NULL;
        long n_ids = calm_tokenize(&tok, text, strlen(text), turn == 0, 1, &ids);
        free(text);
        if (n_ids <= 0 || s.kv.n + n_ids + 1 > s.kv.seq_len) {
            fprintf(stderr, "calm: the context is full (%d tokens); /reset to start over\n",
                    s.kv.n);
            free(ids);
            continue;
        }
        if (calm_generate(&s, &tok, &smp, ids, (int)n_ids, o->n_predict, stdout, &st, &e)) {
            fprintf(stderr, "\nerror: %s\n", e.msg);
            rc = 1;
        }
        fputc('\n', stdout);
        free(ids);
        turn++;
        if (rc) {
            free(line);
            break;
        }
    }
    if (st.n_gen) calm_print_timings(&st);
    calm_sampler_free(&smp);
    calm_state_free(&s);
    calm_tokenizer_free(&tok);
    calm_model_free(&m);
    return rc;
}
