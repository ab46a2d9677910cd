#include "kl_base.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char MAGIC[8] = {'C', 'A', 'L', 'M', 'K', 'L', 'B', '1'};

uint64_t calm_fnv1a(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static long n_positions(const calm_kl_header *h) {
    return (long)h->n_chunk * (long)(h->n_ctx - 1 - h->n_ctx / 2);
}

static long record_size(const calm_kl_header *h) {
    return 2 * (long)sizeof(float) + (long)sizeof(uint32_t) + (long)h->n_vocab * 2;
}

static int setup(calm_kl_file *k, calm_err *e) {
    k->step = k->h.range / (double)CALM_KL_BELOW;
    k->left = n_positions(&k->h);
    k->pos.code = malloc(k->h.n_vocab * sizeof *k->pos.code);
    return k->pos.code ? 0 : calm_fail(e, "%s: out of memory", k->path);
}

int calm_kl_create(calm_kl_file *k, const char *path, const calm_kl_header *h, calm_err *e) {
    memset(k, 0, sizeof *k);
    k->path = path;
    k->h = *h;
    if (setup(k, e)) return -1;
    k->f = fopen(path, "wb");
    if (!k->f) return calm_fail(e, "%s: cannot create: %s", path, strerror(errno));
    if (fwrite(MAGIC, 1, 8, k->f) != 8 || fwrite(h, sizeof *h, 1, k->f) != 1)
        return calm_fail(e, "%s: write error", path);
    return 0;
}

int calm_kl_put(calm_kl_file *k, const float *logits, double lse, int top, int next, calm_err *e) {
    if (k->left <= 0) return calm_fail(e, "%s: more positions than the header says", k->path);
    calm_kl_pos *p = &k->pos;
    p->lp_top = calm_logprob(logits[top], lse);
    p->lp_next = calm_logprob(logits[next], lse);
    p->top_id = (uint32_t)top;
    for (uint32_t i = 0; i < k->h.n_vocab; i++) {
        double c = calm_kl_code(p->lp_top, calm_logprob(logits[i], lse), k->step);
        p->code[i] = c < CALM_KL_BELOW ? (uint16_t)c : CALM_KL_BELOW;
    }
    if (fwrite(&p->lp_top, sizeof(float), 1, k->f) != 1 ||
        fwrite(&p->lp_next, sizeof(float), 1, k->f) != 1 ||
        fwrite(&p->top_id, sizeof(uint32_t), 1, k->f) != 1 ||
        fwrite(p->code, sizeof *p->code, k->h.n_vocab, k->f) != k->h.n_vocab)
        return calm_fail(e, "%s: write error", k->path);
    k->left--;
    return 0;
}

int calm_kl_open(calm_kl_file *k, const char *path, calm_err *e) {
    memset(k, 0, sizeof *k);
    k->path = path;
    k->f = fopen(path, "rb");
    if (!k->f) return calm_fail(e, "%s: cannot open: %s", path, strerror(errno));
    char magic[8];
    if (fread(magic, 1, 8, k->f) != 8 || memcmp(magic, MAGIC, 8))
        return calm_fail(e, "%s: not a KL base file (made by calm perplexity --kl-base)", path);
    if (fread(&k->h, sizeof k->h, 1, k->f) != 1)
        return calm_fail(e, "%s: truncated in its header", path);
    const calm_kl_header *h = &k->h;
    if (h->n_vocab < 1 || h->n_vocab > 1u << 24 || h->n_ctx < 8 || h->n_ctx > 1u << 20 ||
        h->n_chunk < 1 || h->n_chunk > 1u << 24 || h->range < 1 || h->range > 1000)
        return calm_fail(e,
                         "%s: header out of range (vocabulary %u, context %u, %u chunks, range %u)",
                         path, h->n_vocab, h->n_ctx, h->n_chunk, h->range);
    long want = 8 + (long)sizeof *h + n_positions(h) * record_size(h);
    long size = fseek(k->f, 0, SEEK_END) ? -1 : ftell(k->f);
    if (size != want || fseek(k->f, 8 + (long)sizeof *h, SEEK_SET))
        return calm_fail(e, "%s: %ld bytes where its header makes %ld (truncated or extended)",
                         path, size, want);
    return setup(k, e);
}

int calm_kl_check(const calm_kl_file *k, const calm_kl_header *h, const char *text_path,
                  calm_err *e) {
    const calm_kl_header *b = &k->h;
    if (b->n_vocab != h->n_vocab || b->vocab_hash != h->vocab_hash)
        return calm_fail(e,
                         "%s was made with another tokenizer (vocabulary of %u tokens, this "
                         "model's %u, or other token texts)",
                         k->path, b->n_vocab, h->n_vocab);
    if (b->text_hash != h->text_hash)
        return calm_fail(e, "%s was made from another text than %s", k->path, text_path);
    if (b->n_ctx != h->n_ctx)
        return calm_fail(e, "%s was made with a context of %u tokens, this run %u (-c)", k->path,
                         b->n_ctx, h->n_ctx);
    if (b->n_chunk != h->n_chunk)
        return calm_fail(e, "%s holds %u chunks, this run scores %u (--chunks)", k->path,
                         b->n_chunk, h->n_chunk);
    if (b->token_hash != h->token_hash)
        return calm_fail(e, "%s was made from other tokens of the same text (--no-bos?)", k->path);
    return 0;
}

int calm_kl_get(calm_kl_file *k, calm_err *e) {
    calm_kl_pos *p = &k->pos;
    long at = n_positions(&k->h) - k->left;
    if (k->left <= 0 || fread(&p->lp_top, sizeof(float), 1, k->f) != 1 ||
        fread(&p->lp_next, sizeof(float), 1, k->f) != 1 ||
        fread(&p->top_id, sizeof(uint32_t), 1, k->f) != 1 ||
        fread(p->code, sizeof *p->code, k->h.n_vocab, k->f) != k->h.n_vocab)
        return calm_fail(e, "%s: read error at position %ld", k->path, at);
    if (!(p->lp_top <= 0) || !(p->lp_next <= p->lp_top) || p->top_id >= k->h.n_vocab ||
        p->code[p->top_id] != 0)
        return calm_fail(e, "%s: position %ld is not a distribution (corrupt file)", k->path, at);
    k->left--;
    return 0;
}

int calm_kl_close(calm_kl_file *k, calm_err *e) {
    int rc = 0;
    if (k->f && fclose(k->f)) rc = calm_fail(e, "%s: write error", k->path);
    free(k->pos.code);
    memset(k, 0, sizeof *k);
    return rc;
}
