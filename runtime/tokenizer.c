#include "tokenizer.h"

#include <stdlib.h>
#include <string.h>

#include "unicode.h"
#include "../formats/hf.h"

// GPT-2's reversible map from bytes to printable code points.
static uint32_t byte_to_cp(int b) {
    if ((b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff))
        return (uint32_t)b;
    int n = 0;
    for (int x = 0; x < b; x++)
        if (!((x >= '!' && x <= '~') || (x >= 0xa1 && x <= 0xac) || (x >= 0xae && x <= 0xff))) n++;
    return 256u + (uint32_t)n;
}

static int cp_to_byte(uint32_t cp) {
    static int16_t inv[324];
    static int ready = 0;
    if (!ready) { // idempotent: racing threads write the same values
        for (int i = 0; i < 324; i++) inv[i] = -1;
        for (int b = 0; b < 256; b++) inv[byte_to_cp(b)] = (int16_t)b;
        ready = 1;
    }
    return cp < 324 ? inv[cp] : -1;
}

int calm_token_lookup(const calm_tokenizer *t, const char *s, size_t n) {
    return calm_vocab_find(&t->index, &t->v, s, n);
}

static uint64_t pair_hash(int a, int b) {
    return ((uint64_t)(uint32_t)a * 0x9e3779b97f4a7c15ull) ^ (uint32_t)b * 0xc2b2ae3d27d4eb4full;
}

static const struct calm_merge *merge_find(const calm_tokenizer *t, int a, int b) {
    if (!t->merge_cap) return NULL;
    size_t mask = t->merge_cap - 1;
    for (size_t i = pair_hash(a, b) & mask;; i = (i + 1) & mask) {
        const struct calm_merge *m = &t->merges[i];
        if (m->rank < 0) return NULL;
        if (m->a == a && m->b == b) return m;
    }
}

static int cmp_special(const void *x, const void *y, void *ctx) {
    const calm_tokenizer *t = ctx;
    int a = *(const int *)x, b = *(const int *)y;
    if (t->v.len[a] != t->v.len[b]) return t->v.len[b] - t->v.len[a];
    return a - b;
}

static calm_pre_kind pre_kind(const char *name) {
    if (strcmp(name, "smollm") == 0) return CALM_PRE_SMOLLM;
    if (strcmp(name, "llama-bpe") == 0 || strcmp(name, "llama3") == 0) return CALM_PRE_LLAMA3;
    if (strcmp(name, "qwen2") == 0) return CALM_PRE_QWEN2;
    return CALM_PRE_GPT2;
}

// The (left, right) -> rank table of a BPE vocabulary's merges; ones naming unknown tokens, or a
// pair already ranked, are skipped.
static int build_merges(calm_tokenizer *t, calm_err *e) {
    const calm_vocab *v = &t->v;
    size_t mc = 1;
    while (mc < (size_t)v->n_merges * 2) mc <<= 1;
    t->merges = malloc(mc * sizeof *t->merges);
    if (!t->merges) return calm_fail(e, "tokenizer: out of memory");
    t->merge_cap = mc;
    for (size_t i = 0; i < mc; i++) t->merges[i].rank = -1;
    for (int r = 0; r < v->n_merges; r++) {
        const char *m = v->merges[r], *sp = strchr(m + (m[0] == ' ' ? 1 : 0), ' ');
        if (!sp) continue;
        int a = calm_token_lookup(t, m, (size_t)(sp - m));
        int b = calm_token_lookup(t, sp + 1, strlen(sp + 1));
        size_t la = (size_t)(sp - m), lb = strlen(sp + 1);
        char *cat = malloc(la + lb + 1);
        if (!cat) return calm_fail(e, "tokenizer: out of memory");
        memcpy(cat, m, la);
        memcpy(cat + la, sp + 1, lb);
        int id = calm_token_lookup(t, cat, la + lb);
        free(cat);
        if (a < 0 || b < 0 || id < 0 || merge_find(t, a, b)) continue;
        size_t i = pair_hash(a, b) & (mc - 1);
        while (t->merges[i].rank >= 0) i = (i + 1) & (mc - 1);
        t->merges[i] = (struct calm_merge){a, b, r, id};
        t->n_merges++;
    }
    return 0;
}

static int bind(calm_tokenizer *t, calm_err *e) {
    const calm_vocab *v = &t->v;
    t->pre = pre_kind(v->pre ? v->pre : "");
    if (calm_vocab_index_init(&t->index, v, e)) return -1;
    t->special = malloc((size_t)v->n_tokens * sizeof(int));
    if (!t->special) return calm_fail(e, "tokenizer: out of memory");
    for (int id = 0; id < v->n_tokens; id++) {
        int ty = v->type[id];
        if ((ty == CALM_TT_CONTROL || ty == CALM_TT_USER || ty == CALM_TT_UNKNOWN) &&
            v->len[id] > 0)
            t->special[t->n_special++] = id;
    }
    qsort_r(t->special, (size_t)t->n_special, sizeof(int), cmp_special, t);
    for (int b = 0; b < 256; b++) {
        char buf[8];
        int n;
        if (v->kind == CALM_VOCAB_BPE)
            n = calm_utf8_encode(byte_to_cp(b), buf);
        else
            n = snprintf(buf, sizeof buf, "<0x%02X>", b);
        t->byte_token[b] = calm_token_lookup(t, buf, (size_t)n);
    }
    return v->kind == CALM_VOCAB_BPE && v->n_merges > 0 ? build_merges(t, e) : 0;
}

int calm_tokenizer_init(calm_tokenizer *t, calm_vocab *v, calm_err *e) {
    memset(t, 0, sizeof *t);
    t->v = *v;
    memset(v, 0, sizeof *v);
    int rc = bind(t, e);
    if (rc) calm_tokenizer_free(t);
    return rc;
}

int calm_tokenizer_from_gguf(calm_tokenizer *t, const gguf_file *g, calm_err *e) {
    calm_vocab v;
    return calm_vocab_from_gguf(&v, g, e) ? -1 : calm_tokenizer_init(t, &v, e);
}

int calm_tokenizer_from_hf(calm_tokenizer *t, const char *dir, calm_err *e) {
    calm_vocab v;
    return calm_vocab_from_hf(&v, dir, e) ? -1 : calm_tokenizer_init(t, &v, e);
}

int calm_tokenizer_from_model(calm_tokenizer *t, const calm_model *m, calm_err *e) {
    return m->hf ? calm_tokenizer_from_hf(t, m->hf->dir, e)
                 : calm_tokenizer_from_gguf(t, &m->gguf, e);
}

void calm_tokenizer_free(calm_tokenizer *t) {
    calm_vocab_free(&t->v);
    calm_vocab_index_free(&t->index);
    free(t->merges);
    free(t->special);
    memset(t, 0, sizeof *t);
}

typedef struct {
    int *v;
    long n, cap;
} ids;

static int push_id(ids *o, int id) {
    if (o->n == o->cap) {
        long cap = o->cap ? o->cap * 2 : 256;
        int *nv = realloc(o->v, (size_t)cap * sizeof(int));
        if (!nv) return -1;
        o->v = nv;
        o->cap = cap;
    }
    o->v[o->n++] = id;
    return 0;
}

// A symbol during merging: a token id over bytes [start, start+len) of the word.
typedef struct {
    int id, start, len;
} sym;

// Pushes the ids of symbols s. One without a token becomes the tokens of its bytes when bytes (the
// text the symbols index) is given, as SentencePiece's byte fallback. Without bytes (byte-level
// BPE, where such a symbol is one byte the vocabulary lacks) it is dropped, as llama.cpp drops it,
// rather than becoming token 0 (SmolLM2's <|endoftext|>) in the middle of the text.
static int push_syms(const calm_tokenizer *t, const sym *s, int ns, const char *bytes, ids *o) {
    int unk = t->v.unk >= 0 ? t->v.unk : 0;
    for (int i = 0; i < ns; i++) {
        if (s[i].id >= 0) {
            if (push_id(o, s[i].id)) return -1;
            continue;
        }
        if (!bytes) continue;
        for (int b = 0; b < s[i].len; b++) {
            int id = t->byte_token[(unsigned char)bytes[s[i].start + b]];
            if (push_id(o, id >= 0 ? id : unk)) return -1;
        }
    }
    return 0;
}

// The token merging adjacent symbols a and b of text would make (-1: none), and its priority.
typedef int (*pair_fn)(const calm_tokenizer *t, const char *text, const sym *a, const sym *b,
                       float *priority);

// Merges the adjacent pair of highest priority (the first of equals) until none merges, then
// pushes the symbols' ids (push_syms; byte_fallback: a symbol without a token becomes its bytes').
static int merge_and_push(const calm_tokenizer *t, const char *text, sym *s, int ns, pair_fn pair,
                          int byte_fallback, ids *o) {
    for (;;) {
        int best = -1, best_id = -1;
        float best_prio = 0;
        for (int i = 0; i + 1 < ns; i++) {
            float prio;
            int id = pair(t, text, &s[i], &s[i + 1], &prio);
            if (id >= 0 && (best < 0 || prio > best_prio)) {
                best = i;
                best_id = id;
                best_prio = prio;
            }
        }
        if (best < 0) return push_syms(t, s, ns, byte_fallback ? text : NULL, o);
        s[best].id = best_id;
        s[best].len += s[best + 1].len;
        memmove(&s[best + 1], &s[best + 2], (size_t)(ns - best - 2) * sizeof(sym));
        ns--;
    }
}

// Byte-level BPE: the pair's merge rule; lower ranks merge first (ranks < 2^24 are exact floats).
static int bpe_pair(const calm_tokenizer *t, const char *text, const sym *a, const sym *b,
                    float *priority) {
    (void)text;
    if (a->id < 0 || b->id < 0) return -1;
    const struct calm_merge *mg = merge_find(t, a->id, b->id);
    if (!mg) return -1;
    *priority = -(float)mg->rank;
    return mg->id;
}

// SentencePiece BPE: the token spelling both, if any; higher scores merge first.
static int spm_pair(const calm_tokenizer *t, const char *text, const sym *a, const sym *b,
                    float *priority) {
    int id = calm_token_lookup(t, text + a->start, (size_t)(a->len + b->len));
    if (id >= 0) *priority = t->v.scores[id];
    return id;
}

// Byte-level BPE of one word.
static int bpe_word(const calm_tokenizer *t, const char *w, size_t n, ids *o) {
    char *mapped = malloc(n * 2 + 1); // each byte maps to a 1- or 2-byte UTF-8 char
    sym *s = malloc((n + 1) * sizeof(sym));
    int rc = -1, ns = 0;
    if (!mapped || !s) goto done;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        int k = calm_utf8_encode(byte_to_cp((unsigned char)w[i]), mapped + m);
        s[ns++] = (sym){t->byte_token[(unsigned char)w[i]], (int)m, k};
        m += (size_t)k;
    }
    if (t->v.ignore_merges) {
        int id = calm_token_lookup(t, mapped, m);
        if (id >= 0) {
            rc = push_id(o, id);
            goto done;
        }
    }
    rc = merge_and_push(t, mapped, s, ns, bpe_pair, 0, o);
done:
    free(mapped);
    free(s);
    return rc;
}

// SentencePiece BPE: merge the adjacent pair whose concatenation is the highest-scoring token.
static int spm_fragment(const calm_tokenizer *t, const char *text, size_t n, int prefix, ids *o) {
    size_t cap = n * 3 + 4;
    sym *s = malloc((cap + 1) * sizeof(sym) + cap); // the symbols, then the text they index
    if (!s) return -1;
    char *buf = (char *)(s + cap + 1);
    int ns = 0;
    size_t m = 0;
    if (prefix) {
        memcpy(buf, "\xe2\x96\x81", 3);
        m = 3;
    }
    for (size_t i = 0; i < n; i++) {
        if (text[i] == ' ') {
            memcpy(buf + m, "\xe2\x96\x81", 3);
            m += 3;
        } else
            buf[m++] = text[i];
    }
    for (size_t i = 0; i < m;) {
        int k = calm_utf8_len((unsigned char)buf[i]);
        if (i + (size_t)k > m) k = (int)(m - i);
        s[ns++] = (sym){calm_token_lookup(t, buf + i, (size_t)k), (int)i, k};
        i += (size_t)k;
    }
    int rc = merge_and_push(t, buf, s, ns, spm_pair, 1, o);
    free(s);
    return rc;
}

static int encode_fragment(const calm_tokenizer *t, const char *text, size_t n, int first, ids *o) {
    if (n == 0) return 0;
    if (t->v.kind == CALM_VOCAB_SPM)
        return spm_fragment(t, text, n, first && t->v.add_space_prefix, o);
    // Byte-level BPE reads the text as llama.cpp does: UTF-8 with each invalid byte as U+FFFD.
    char *clean = malloc(n * 3 + 1);
    if (!clean) return -1;
    size_t m = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        i += (size_t)calm_utf8_decode(text + i, n - i, &cp);
        m += (size_t)calm_utf8_encode(cp, clean + m);
    }
    calm_span *sp = NULL;
    long ns = calm_pretokenize(t->pre, clean, m, &sp);
    int rc = ns < 0 ? -1 : 0;
    for (long i = 0; i < ns && rc == 0; i++) rc = bpe_word(t, clean + sp[i].start, sp[i].len, o);
    free(sp);
    free(clean);
    return rc;
}

typedef struct {
    size_t start, len;
    int id; // >= 0: a special token; -1: raw text
} frag;

long calm_tokenize(const calm_tokenizer *t, const char *text, size_t n, int add_special,
                   int parse_special, int **out) {
    ids o = {0};
    frag *f = malloc(sizeof(frag)), *g = NULL;
    long nf = 1;
    if (!f) return -1;
    f[0] = (frag){0, n, -1};
    // Longest special tokens first, each splitting every raw fragment at all its occurrences.
    for (int si = 0; si < t->n_special; si++) {
        int id = t->special[si];
        if (!parse_special && t->v.type[id] != CALM_TT_USER) continue;
        const char *tx = t->v.text[id];
        size_t tl = (size_t)t->v.len[id];
        long cap = nf, ng = 0;
        for (long i = 0; i < nf; i++) {
            if (f[i].id >= 0 || f[i].len < tl) continue;
            const char *p = text + f[i].start, *end = p + f[i].len;
            while ((p = memmem(p, (size_t)(end - p), tx, tl))) cap += 2, p += tl;
        }
        if (cap == nf) continue;
        g = malloc((size_t)cap * sizeof(frag));
        if (!g) goto fail;
        for (long i = 0; i < nf; i++) {
            if (f[i].id >= 0 || f[i].len < tl) {
                g[ng++] = f[i];
                continue;
            }
            size_t a = f[i].start, end = f[i].start + f[i].len;
            const char *p;
            while ((p = memmem(text + a, end - a, tx, tl))) {
                size_t at = (size_t)(p - text);
                if (at > a) g[ng++] = (frag){a, at - a, -1};
                g[ng++] = (frag){at, tl, id};
                a = at + tl;
            }
            if (a < end) g[ng++] = (frag){a, end - a, -1};
        }
        free(f);
        f = g;
        g = NULL;
        nf = ng;
    }
    if (add_special && t->v.add_bos && t->v.bos >= 0 && push_id(&o, t->v.bos)) goto fail;
    for (long i = 0; i < nf; i++) {
        if (f[i].id >= 0) {
            if (push_id(&o, f[i].id)) goto fail;
        } else if (encode_fragment(t, text + f[i].start, f[i].len, i == 0, &o)) {
            goto fail;
        }
    }
    if (add_special && t->v.add_eos && t->v.eos >= 0 && push_id(&o, t->v.eos)) goto fail;
    free(f);
    if (!o.v && !(o.v = malloc(sizeof(int)))) return -1;
    *out = o.v;
    return o.n;
fail:
    free(f);
    free(g);
    free(o.v);
    return -1;
}

int calm_token_piece(const calm_tokenizer *t, int id, int special, char *buf, int cap) {
    if (id < 0 || id >= t->v.n_tokens || cap <= 0) return 0;
    int ty = t->v.type[id];
    const char *s = t->v.text[id];
    int n = t->v.len[id], o = 0;
    if (ty == CALM_TT_CONTROL || ty == CALM_TT_UNKNOWN || ty == CALM_TT_UNUSED) {
        if (!special) return 0;
        n = n < cap ? n : cap;
        memcpy(buf, s, (size_t)n);
        return n;
    }
    if (ty == CALM_TT_USER) {
        n = n < cap ? n : cap;
        memcpy(buf, s, (size_t)n);
        return n;
    }
    if (t->v.kind == CALM_VOCAB_SPM) {
        if (ty == CALM_TT_BYTE && n == 6) {
            buf[0] = (char)strtol(s + 3, NULL, 16);
            return 1;
        }
        for (int i = 0; i < n && o < cap;) {
            if (i + 3 <= n && memcmp(s + i, "\xe2\x96\x81", 3) == 0) {
                buf[o++] = ' ';
                i += 3;
            } else
                buf[o++] = s[i++];
        }
        return o;
    }
    for (int i = 0; i < n && o < cap;) {
        uint32_t cp;
        i += calm_utf8_decode(s + i, (size_t)(n - i), &cp);
        int b = cp_to_byte(cp);
        if (b >= 0) buf[o++] = (char)b;
    }
    return o;
}

int calm_token_is_eog(const calm_tokenizer *t, int id) {
    if (id == t->v.eos || id == t->v.eot) return 1;
    if (id < 0 || id >= t->v.n_tokens || t->v.type[id] != CALM_TT_CONTROL) return 0;
    // Chat models end a turn with these even when eos names another token.
    const char *s = t->v.text[id];
    return strcmp(s, "<|im_end|>") == 0 || strcmp(s, "<|eot_id|>") == 0 ||
           strcmp(s, "<|endoftext|>") == 0 || strcmp(s, "<|end_of_text|>") == 0 ||
           strcmp(s, "</s>") == 0 || strcmp(s, "<end_of_turn>") == 0;
}

int calm_utf8_stream_push(calm_utf8_stream *st, const char *bytes, int n, char *out) {
    int m = st->n_pending;
    memcpy(out, st->pending, (size_t)m);
    memcpy(out + m, bytes, (size_t)n);
    m += n;
    // Find the start of a trailing incomplete sequence, if any.
    int cut = m;
    for (int back = 1; back <= 3 && back <= m; back++) {
        unsigned char c = (unsigned char)out[m - back];
        if ((c & 0xc0) == 0x80) continue; // continuation byte: look further back
        if (c >= 0xc0 && calm_utf8_len(c) > back) cut = m - back;
        break;
    }
    st->n_pending = m - cut;
    memcpy(st->pending, out + cut, (size_t)st->n_pending);
    return cut;
}
