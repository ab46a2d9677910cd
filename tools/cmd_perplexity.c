// calm perplexity: as llama-perplexity computes it. The text is cut into chunks of ctx tokens;
// each chunk is evaluated from scratch and the second half of its tokens is scored. With
// --kl-base the model's distributions at the scored positions are saved (tools/kl_base.h); with
// --kl another model is compared with them (tools/kl_stats.h), as llama-perplexity
// --kl-divergence-base / --kl-divergence do.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "kl_base.h"
#include "kl_stats.h"
#include "load.h"
#include "../runtime/generate.h"

// What a base file must match for this run: the text, the tokenizer, the chunks.
static calm_kl_header run_header(const char *text, size_t n, const calm_model *m,
                                 const calm_tokenizer *tok, const int *ids, int n_ctx, long n_chunk,
                                 int bos) {
    calm_kl_header h = {.n_vocab = (uint32_t)m->cfg.vocab_size,
                        .n_ctx = (uint32_t)n_ctx,
                        .n_chunk = (uint32_t)n_chunk,
                        .range = CALM_KL_RANGE};
    h.text_hash = calm_fnv1a(CALM_FNV_SEED, text, n);
    h.vocab_hash = CALM_FNV_SEED;
    for (int i = 0; i < tok->v.n_tokens; i++)
        h.vocab_hash = calm_fnv1a(h.vocab_hash, tok->v.text[i], (size_t)tok->v.len[i] + 1);
    h.token_hash = calm_fnv1a(CALM_FNV_SEED, &bos, sizeof bos);
    h.token_hash = calm_fnv1a(h.token_hash, ids, (size_t)n_chunk * (size_t)n_ctx * sizeof *ids);
    return h;
}

// The chunks: perplexity (and the base file, or the comparison with one). kl is NULL without
// --kl-base or --kl, and stats NULL without --kl.
static int score(const calm_opts *o, calm_model *m, const calm_tokenizer *tok, int *ids, int n_ctx,
                 long n_chunk, calm_kl_file *kl, calm_kl_stats *stats) {
    calm_err e;
    calm_state s;
    if (calm_state_init(&s, m, n_ctx, n_ctx, &e)) {
        fprintf(stderr, "error: %s\n", e.msg);
        return 1;
    }
    fprintf(stderr, "calm: perplexity over %ld chunks of %d tokens\n", n_chunk, n_ctx);
    int first = n_ctx / 2, V = m->cfg.vocab_size, rc = 0;
    double nll = 0, nll2 = 0, t0 = calm_now();
    long count = 0;
    for (long c = 0; c < n_chunk && !rc; c++) {
        int *chunk = ids + c * n_ctx;
        int saved = chunk[0];
        if (o->add_bos && tok->v.add_bos && tok->v.bos >= 0) chunk[0] = tok->v.bos;
        s.kv.n = 0;
        float *logits = calm_forward(&s, chunk, n_ctx, 1, &e);
        chunk[0] = saved;
        rc = logits ? 0 : -1;
        for (int j = first; j < n_ctx - 1 && !rc; j++) {
            const float *l = logits + (size_t)j * V;
            if (stats) {
                rc = calm_kl_get(kl, &e) || calm_kl_stats_add(stats, kl, l, chunk[j + 1], &e);
                continue;
            }
            int top;
            double lse = calm_logsumexp(l, V, &top), v = lse - (double)l[chunk[j + 1]];
            nll += v;
            nll2 += v * v;
            count++;
            if (kl) rc = calm_kl_put(kl, l, lse, top, chunk[j + 1], &e);
        }
        if (rc) break;
        if (c == 0)
            fprintf(stderr, "calm: %.2f s per chunk, about %.1f minutes in all\n", calm_now() - t0,
                    (calm_now() - t0) * n_chunk / 60.0);
        if (stats) {
            calm_kl_stats_print_chunk(stats, c + 1, stdout);
            continue;
        }
        printf("[%ld]%.4f,", c + 1, exp(nll / count));
        fflush(stdout);
    }
    if (rc) {
        fprintf(stderr, "error: %s\n", e.msg);
    } else if (stats) {
        calm_kl_stats_print(stats, stdout);
    } else {
        double mean = nll / count, var = nll2 / count - mean * mean, ppl = exp(mean);
        double err = var > 0 ? sqrt(var / (count - 1)) * ppl : 0;
        printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", ppl, err);
        fprintf(stderr, "calm: %ld tokens scored in %.1f s (%.1f tokens/s evaluated)\n", count,
                calm_now() - t0, n_chunk * n_ctx / (calm_now() - t0));
    }
    calm_state_free(&s);
    return rc ? 1 : 0;
}

int cmd_perplexity(const calm_opts *o) {
    if (o->kl_base && o->kl) {
        fprintf(stderr, "error: --kl-base saves a base model's distributions and --kl compares "
                        "with them: give one\n");
        return 2;
    }
    int n_ctx = o->ctx ? o->ctx : 512, rc = 1;
    size_t n;
    char *text = calm_read_text(o->file, &n);
    calm_model m;
    calm_tokenizer tok;
    if (!text || calm_load_for(o, &m, &tok)) {
        free(text);
        return 1;
    }
    int *ids = NULL;
    double t0 = calm_now();
    long n_tok = calm_tokenize(&tok, text, n, o->add_bos, 1, &ids);
    fprintf(stderr, "calm: tokenized %s: %ld tokens in %.1f s\n", o->file, n_tok, calm_now() - t0);
    long n_chunk = n_tok / n_ctx;
    if (o->chunks && o->chunks < n_chunk) n_chunk = o->chunks;
    calm_kl_file kl = {0};
    calm_kl_stats stats = {0};
    calm_err e;
    calm_kl_header h;
    if (n_chunk >= 1)
        h = run_header(text, n, &m, &tok, ids, n_ctx, n_chunk,
                       o->add_bos && tok.v.add_bos && tok.v.bos >= 0);
    if (n_chunk < 1)
        fprintf(stderr, "error: %s: %ld tokens, fewer than one chunk of %d\n", o->file, n_tok,
                n_ctx);
    else if (o->kl_base && calm_kl_create(&kl, o->kl_base, &h, &e))
        fprintf(stderr, "error: %s\n", e.msg);
    else if (o->kl && (calm_kl_open(&kl, o->kl, &e) || calm_kl_check(&kl, &h, o->file, &e) ||
                       calm_kl_stats_init(&stats, (long)n_chunk * (n_ctx - 1 - n_ctx / 2), &e)))
        fprintf(stderr, "error: %s\n", e.msg);
    else
        rc = score(o, &m, &tok, ids, n_ctx, n_chunk, o->kl_base || o->kl ? &kl : NULL,
                   o->kl ? &stats : NULL);
    if (calm_kl_close(&kl, &e) && !rc) {
        fprintf(stderr, "error: %s\n", e.msg);
        rc = 1;
    }
    calm_kl_stats_free(&stats);
    free(text);
    free(ids);
    calm_tokenizer_free(&tok);
    calm_model_free(&m);
    return rc;
}
