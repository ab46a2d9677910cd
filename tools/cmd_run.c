// calm run: one prompt in, streamed text out, timings at the end like llama.cpp prints them.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "load.h"
#include "timings.h"
#include "../runtime/chat.h"
#include "../runtime/generate.h"

int cmd_run(const calm_opts *o) {
    calm_err e;
    calm_model m;
    calm_tokenizer tok;
    if (calm_load_for(o, &m, &tok)) return 1;
    char *text = NULL;
    if (o->chat || o->system) {
        calm_chat_template ct = calm_chat_detect(tok.v.chat_template);
        calm_msg msgs[2];
        int n = 0;
        if (o->system) msgs[n++] = (calm_msg){"system", o->system};
        msgs[n++] = (calm_msg){"user", o->prompt};
        text = calm_chat_render(&ct, msgs, n, 0, 1);
    }
    int *ids = NULL;
    const char *p = text ? text : o->prompt;
    long n_ids = calm_tokenize(&tok, p, strlen(p), o->add_bos, text != NULL, &ids);
    int ctx = o->ctx ? o->ctx : (int)(n_ids + o->n_predict + 1);
    calm_state s;
    calm_sampler smp;
    calm_gen_stats st = {0};
    int rc = 1;
    if (n_ids <= 0) {
        fprintf(stderr, "error: the prompt gives no tokens\n");
    } else if (calm_state_init(&s, &m, ctx, o->batch, &e) == 0) {
        // A prompt that fills the context exactly still has the logits of one more token.
        if (n_ids > s.kv.seq_len) {
            fprintf(stderr, "error: prompt of %ld tokens does not fit the context of %d\n", n_ids,
                    s.kv.seq_len);
        } else if (calm_sampler_init(&smp, o->sp, m.cfg.vocab_size) == 0) {
            if (!text) fputs(o->prompt, stdout);
            rc = calm_generate(&s, &tok, &smp, ids, (int)n_ids, o->n_predict, stdout, &st, &e);
            if (rc)
                fprintf(stderr, "\nerror: %s\n", e.msg);
            else
                calm_print_timings(&st);
            calm_sampler_free(&smp);
        }
        calm_state_free(&s);
    } else {
        fprintf(stderr, "error: %s\n", e.msg);
    }
    free(ids);
    free(text);
    calm_tokenizer_free(&tok);
    calm_model_free(&m);
    return rc ? 1 : 0;
}
