// calm perplexity: as llama-perplexity computes it. The text is cut into chunks of ctx tokens;
// each chunk is evaluated from scratch and the second half of its tokens is scored.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "load.h"
#include "../runtime/generate.h"

int cmd_perplexity(const calm_opts *o) {
    int n_ctx = o->ctx ? o->ctx : 512, rc = 0;
    size_t n;
    char *text = calm_read_text(o->file, &n);
    calm_model m;
    calm_tokenizer tok;
    if (!text || calm_load_for(o, &m, &tok)) {
        free(text);
        return 1;
    }
    calm_err e;
    int *ids = NULL;
    double t0 = calm_now();
    long n_tok = calm_tokenize(&tok, text, n, o->add_bos, 1, &ids);
    free(text);
    fprintf(stderr, "calm: tokenized %s: %ld tokens in %.1f s\n", o->file, n_tok, calm_now() - t0);
    long n_chunk = n_tok / n_ctx;
    if (o->chunks && o->chunks < n_chunk) n_chunk = o->chunks;
    calm_state s;
    if (n_chunk < 1) {
        fprintf(stderr, "error: %s: %ld tokens, fewer than one chunk of %d\n", o->file, n_tok,
                n_ctx);
        rc = 1;
    } else if (calm_state_init(&s, &m, n_ctx, n_ctx, &e)) {
        fprintf(stderr, "error: %s\n", e.msg);
        rc = 1;
    } else {
        fprintf(stderr, "calm: perplexity over %ld chunks of %d tokens\n", n_chunk, n_ctx);
        int first = n_ctx / 2, V = m.cfg.vocab_size;
        double nll = 0, nll2 = 0;
        long count = 0;
        t0 = calm_now();
        for (long c = 0; c < n_chunk && !rc; c++) {
            int *chunk = ids + c * n_ctx;
            int saved = chunk[0];
            if (o->add_bos && tok.v.add_bos && tok.v.bos >= 0) chunk[0] = tok.v.bos;
            s.kv.n = 0;
            float *logits = calm_forward(&s, chunk, n_ctx, 1, &e);
            chunk[0] = saved;
            if (!logits) {
                fprintf(stderr, "error: %s\n", e.msg);
                rc = 1;
                break;
            }
            for (int j = first; j < n_ctx - 1; j++) {
                const float *l = logits + (size_t)j * V;
                float max = l[0];
                for (int i = 1; i < V; i++) max = l[i] > max ? l[i] : max;
                double sum = 0;
                for (int i = 0; i < V; i++) sum += exp((double)(l[i] - max));
                double v = -(double)(l[chunk[j + 1]] - max) + log(sum);
                nll += v;
                nll2 += v * v;
                count++;
            }
            if (c == 0)
                fprintf(stderr, "calm: %.2f s per chunk, about %.1f minutes in all\n",
                        calm_now() - t0, (calm_now() - t0) * n_chunk / 60.0);
            printf("[%ld]%.4f,", c + 1, exp(nll / count));
            fflush(stdout);
        }
        if (!rc) {
            double mean = nll / count, var = nll2 / count - mean * mean, ppl = exp(mean);
            double err = var > 0 ? sqrt(var / (count - 1)) * ppl : 0;
            printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", ppl, err);
            fprintf(stderr, "calm: %ld tokens scored in %.1f s (%.1f tokens/s evaluated)\n", count,
                    calm_now() - t0, n_chunk * n_ctx / (calm_now() - t0));
        }
        calm_state_free(&s);
    }
    free(ids);
    calm_tokenizer_free(&tok);
    calm_model_free(&m);
    return rc;
}
