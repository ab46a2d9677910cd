#include "pretokenize.h"

#include <stdint.h>
#include <stdlib.h>

#include "unicode.h"

typedef struct {
    uint32_t *cp;
    size_t *off; // byte offset of each code point; off[n] = byte length
    size_t n;
} cps;

static int L(const cps *c, size_t i) {
    return i < c->n && (calm_u_flags(c->cp[i]) & CALM_U_LETTER);
}
static int N(const cps *c, size_t i) {
    return i < c->n && (calm_u_flags(c->cp[i]) & CALM_U_NUMBER);
}
static int S(const cps *c, size_t i) {
    return i < c->n && calm_u_is_space(c->cp[i]);
}
static int NL(const cps *c, size_t i) {
    return i < c->n && (c->cp[i] == '\r' || c->cp[i] == '\n');
}
// [^\s\p{L}\p{N}]
static int P(const cps *c, size_t i) {
    return i < c->n && !S(c, i) && !L(c, i) && !N(c, i);
}
static uint32_t lower(const cps *c, size_t i) {
    uint32_t x = i < c->n ? c->cp[i] : 0;
    return x >= 'A' && x <= 'Z' ? x + 32 : x;
}

// 's 't 're 've 'm 'll 'd; returns the match length or 0.
static size_t contraction(const cps *c, size_t i, int ci) {
    if (c->cp[i] != '\'' || i + 1 >= c->n) return 0;
    uint32_t a = ci ? lower(c, i + 1) : c->cp[i + 1];
    uint32_t b = i + 2 < c->n ? (ci ? lower(c, i + 2) : c->cp[i + 2]) : 0;
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}

// \s+(?!\S)|\s+ from i (a space): the run, less its last space if a non-space follows it.
static size_t spaces(const cps *c, size_t i) {
    size_t j = i;
    while (S(c, j)) j++;
    if (j < c->n && j - i > 1) j--;
    return j;
}

static size_t next_gpt2(const cps *c, size_t i) {
    size_t k = contraction(c, i, 0);
    if (k) return i + k;
    size_t s = c->cp[i] == ' ' ? i + 1 : i; // the optional leading space
    size_t j = s;
    if (L(c, s)) {
        while (L(c, j)) j++;
        return j;
    }
    if (N(c, s)) {
        while (N(c, j)) j++;
        return j;
    }
    if (P(c, s)) {
        while (P(c, j)) j++;
        return j;
    }
    if (S(c, i)) return spaces(c, i);
    return i + 1;
}

static size_t next_llama3(const cps *c, size_t i, int max_digits) {
    size_t k = contraction(c, i, 1);
    if (k) return i + k;
    size_t j;
    if (L(c, i) || (!NL(c, i) && !N(c, i) && L(c, i + 1))) { // [^\r\n\p{L}\p{N}]?\p{L}+
        j = L(c, i) ? i : i + 1;
        while (L(c, j)) j++;
        return j;
    }
    if (N(c, i)) {
        j = i;
        while (N(c, j) && (int)(j - i) < max_digits) j++;
        return j;
    }
    size_t s = c->cp[i] == ' ' ? i + 1 : i;
    if (P(c, s)) { // ?[^\s\p{L}\p{N}]+[\r\n]*
        j = s;
        while (P(c, j)) j++;
        while (NL(c, j)) j++;
        return j;
    }
    if (S(c, i)) {
        size_t end = i, last_nl = 0;
        int has_nl = 0;
        while (S(c, end)) {
            if (NL(c, end)) last_nl = end, has_nl = 1;
            end++;
        }
        if (has_nl) return last_nl + 1; // \s*[\r\n]+
        return spaces(c, i);
    }
    return i + 1;
}

typedef struct {
    calm_span *v;
    size_t n, cap;
} spans;

static int push(spans *sp, size_t start, size_t len) {
    if (len == 0) return 0;
    if (sp->n == sp->cap) {
        size_t cap = sp->cap ? sp->cap * 2 : 64;
        calm_span *nv = realloc(sp->v, cap * sizeof *nv);
        if (!nv) return -1;
        sp->v = nv;
        sp->cap = cap;
    }
    sp->v[sp->n++] = (calm_span){start, len};
    return 0;
}

// Splits code points [a, b) of c with the kind's rules.
static int split(calm_pre_kind kind, const cps *c, size_t a, size_t b, spans *sp) {
    cps sub = {c->cp, c->off, b}; // rules look ahead, never past b
    for (size_t i = a; i < b;) {
        size_t j;
        if (kind == CALM_PRE_LLAMA3)
            j = next_llama3(&sub, i, 3);
        else if (kind == CALM_PRE_QWEN2)
            j = next_llama3(&sub, i, 1);
        else
            j = next_gpt2(&sub, i);
        if (push(sp, c->off[i], c->off[j] - c->off[i])) return -1;
        i = j;
    }
    return 0;
}

long calm_pretokenize(calm_pre_kind kind, const char *s, size_t n, calm_span **out) {
    cps c = {malloc((n + 1) * sizeof(uint32_t)), malloc((n + 1) * sizeof(size_t)), 0};
    spans sp = {0};
    long rc = -1;
    if (!c.cp || !c.off) goto done;
    for (size_t p = 0; p < n;) {
        c.off[c.n] = p;
        p += (size_t)calm_utf8_decode(s + p, n - p, &c.cp[c.n]);
        c.n++;
    }
    c.off[c.n] = n;
    if (kind == CALM_PRE_SMOLLM) {
        size_t a = 0;
        for (size_t i = 0; i < c.n; i++) {
            if (!N(&c, i)) continue;
            if (split(CALM_PRE_GPT2, &c, a, i, &sp) || push(&sp, c.off[i], c.off[i + 1] - c.off[i]))
                goto done;
            a = i + 1;
        }
        if (split(CALM_PRE_GPT2, &c, a, c.n, &sp)) goto done;
    } else if (split(kind, &c, 0, c.n, &sp)) {
        goto done;
    }
    *out = sp.v;
    sp.v = NULL;
    rc = (long)sp.n;
done:
    free(sp.v);
    free(c.cp);
    free(c.off);
    return rc;
}

const char *calm_pre_name(calm_pre_kind kind) {
    static const char *names[] = {"gpt2", "smollm", "llama3", "qwen2"};
    return names[kind];
}
