#include "generate.h"

#include <time.h>

double calm_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int calm_generate(calm_state *s, const calm_tokenizer *tok, calm_sampler *smp, const int *prompt,
                  int n_prompt, int n_predict, FILE *out, calm_gen_stats *st, calm_err *e) {
    double t0 = calm_now();
    float *logits = calm_forward(s, prompt, n_prompt, 0, e);
    if (!logits) return -1;
    for (int i = 0; i < n_prompt; i++) calm_sampler_accept(smp, prompt[i]);
    double t1 = calm_now();
    st->n_prompt += n_prompt;
    st->prompt_s += t1 - t0;
    calm_utf8_stream u = {0};
    char piece[512], text[600];
    for (int i = 0; i < n_predict && !(st->stop && *st->stop); i++) {
        int next = calm_sample(smp, logits);
        calm_sampler_accept(smp, next);
        st->n_gen++;
        st->last = next;
        if (calm_token_is_eog(tok, next)) break;
        int n = calm_token_piece(tok, next, 0, piece, (int)sizeof piece);
        int k = calm_utf8_stream_push(&u, piece, n, text);
        fwrite(text, 1, (size_t)k, out);
        fflush(out);
        if (s->kv.n >= s->kv.seq_len) break;
        // The sampled token enters the cache so the next turn of a chat continues from it.
        logits = calm_forward(s, &next, 1, 0, e);
        if (!logits) return -1;
    }
    st->gen_s += calm_now() - t1;
    return 0;
}
