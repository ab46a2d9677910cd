// calm chat: multi-turn chat; the KV cache keeps the conversation, each turn adds only its tokens.
#include <editline/readline.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "load.h"
#include "timings.h"
#include "../runtime/chat.h"
#include "../runtime/generate.h"

// Reads one line without its newline, its length in *n: with line editing on a terminal, plainly
// otherwise (pipes, tests). NULL at the end of the input.
static char *read_line(int tty, const char *prompt, size_t *n) {
    if (tty) {
        char *l = readline(prompt);
        if (l && *l) add_history(l);
        if (l) *n = strlen(l);
        return l;
    }
    size_t cap = 0;
    char *l = NULL;
    ssize_t k = getline(&l, &cap, stdin);
    if (k < 0) {
        free(l);
        return NULL;
    }
    if (k > 0 && l[k - 1] == '\n') l[--k] = 0;
    *n = (size_t)k;
    return l;
}

// One message: a line, and the next ones while a line ends with a backslash (which becomes a
// newline), so that a text with blank lines can be pasted. NULL at the end of the input.
static char *read_message(int tty, size_t *n) {
    char *msg = read_line(tty, "> ", n);
    while (msg && *n > 0 && msg[*n - 1] == '\\') {
        msg[*n - 1] = '\n';
        size_t k;
        char *more = read_line(tty, ". ", &k);
        if (!more) break;
        char *joined = realloc(msg, *n + k + 1);
        if (!joined) {
            free(more);
            break;
        }
        memcpy(joined + *n, more, k + 1);
        free(more);
        msg = joined;
        *n += k;
    }
    return msg;
}

// Ctrl-C during an answer sets this (a signal handler's only way out) and the answer stops; the
// handler is installed for the answer only, so Ctrl-C elsewhere ends calm as usual.
static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig) {
    (void)sig;
    interrupted = 1;
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
    fprintf(stderr,
            "calm: chat template %s, context %d; end a line with \\ to go on to the next, Ctrl-C "
            "stops an answer, /quit or Ctrl-D quits\n",
            calm_chat_name(ct.kind), s.kv.seq_len);
    calm_msg msgs[2];
    int turn = 0;
    calm_gen_stats st = {0};
    st.stop = &interrupted;
    int rc = 0;
    size_t len;
    for (char *line; (line = read_message(tty, &len)) != NULL; free(line)) {
        if (len == 0) continue; // a blank line, in a paste say, ends nothing
        if (strlen(line) != len) {
            fprintf(stderr, "calm: the message has a NUL byte at byte %zu; it was not sent\n",
                    strlen(line));
            continue;
        }
        if (!strcmp(line, "/quit")) {
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
            fprintf(stderr,
                    "calm: this message needs %ld tokens (with the template's) and the context "
                    "has %d of %d left%s\n",
                    n_ids, s.kv.seq_len - s.kv.n, s.kv.seq_len,
                    s.kv.n ? "; /reset to start over" : "; a larger -c makes room");
            free(ids);
            continue;
        }
        struct sigaction sa = {.sa_handler = on_interrupt}, old;
        interrupted = 0;
        sigaction(SIGINT, &sa, &old);
        if (calm_generate(&s, &tok, &smp, ids, (int)n_ids, o->n_predict, stdout, &st, &e)) {
            fprintf(stderr, "\nerror: %s\n", e.msg);
            rc = 1;
        }
        sigaction(SIGINT, &old, NULL);
        fputc('\n', stdout);
        if (interrupted) fprintf(stderr, "calm: stopped\n");
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
