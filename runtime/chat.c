#include "chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

calm_chat_template calm_chat_detect(const char *j) {
    calm_chat_template t = {CALM_CHAT_CHATML, ""};
    if (!j) return t;
    if (strstr(j, "<|start_header_id|>"))
        t.kind = CALM_CHAT_LLAMA3;
    else if (strstr(j, "[INST]"))
        t.kind = CALM_CHAT_LLAMA2;
    // A literal default system turn, as SmolLM's and Qwen's templates write it.
    const char *key = "<|im_start|>system\\n";
    const char *p = t.kind == CALM_CHAT_CHATML ? strstr(j, key) : NULL;
    if (p) {
        p += strlen(key);
        const char *end = strstr(p, "<|im_end|>");
        if (end && !memchr(p, '{', (size_t)(end - p)) && !memchr(p, '\'', (size_t)(end - p)) &&
            (size_t)(end - p) < sizeof t.default_system) {
            memcpy(t.default_system, p, (size_t)(end - p));
            t.default_system[end - p] = 0;
        }
    }
    return t;
}

const char *calm_chat_name(calm_chat_kind k) {
    static const char *n[] = {"chatml", "llama3", "llama2"};
    return n[k];
}

typedef struct {
    char *s;
    size_t n, cap;
} sbuf;

static void add(sbuf *b, const char *s) {
    size_t l = strlen(s);
    if (b->n + l + 1 > b->cap) {
        b->cap = (b->n + l + 1) * 2;
        char *ns = realloc(b->s, b->cap);
        if (!ns) abort();
        b->s = ns;
    }
    memcpy(b->s + b->n, s, l + 1);
    b->n += l;
}

char *calm_chat_render(const calm_chat_template *t, const calm_msg *m, int n, int from,
                       int add_assistant) {
    sbuf b = {0};
    add(&b, "");
    int has_system = n > 0 && strcmp(m[0].role, "system") == 0;
    for (int i = from; i < n; i++) {
        switch (t->kind) {
        case CALM_CHAT_CHATML:
            if (i == 0 && !has_system && t->default_system[0]) {
                add(&b, "<|im_start|>system\n");
                add(&b, t->default_system);
                add(&b, "<|im_end|>\n");
            }
            add(&b, "<|im_start|>");
            add(&b, m[i].role);
            add(&b, "\n");
            add(&b, m[i].content);
            add(&b, "<|im_end|>\n");
            break;
        case CALM_CHAT_LLAMA3:
            if (i == 0) add(&b, "<|begin_of_text|>");
            add(&b, "<|start_header_id|>");
            add(&b, m[i].role);
            add(&b, "<|end_header_id|>\n\n");
            add(&b, m[i].content);
            add(&b, "<|eot_id|>");
            break;
        case CALM_CHAT_LLAMA2:
            // <s>[INST] <<SYS>>\nsys\n<</SYS>>\n\nuser [/INST] answer </s>
            if (strcmp(m[i].role, "system") == 0) {
                add(&b, "<s>[INST] <<SYS>>\n");
                add(&b, m[i].content);
                add(&b, "\n<</SYS>>\n\n");
            } else if (strcmp(m[i].role, "user") == 0) {
                if (!(i > 0 && strcmp(m[i - 1].role, "system") == 0)) add(&b, "<s>[INST] ");
                add(&b, m[i].content);
                add(&b, " [/INST]");
            } else {
                add(&b, " ");
                add(&b, m[i].content);
                add(&b, " </s>");
            }
            break;
        }
    }
    if (add_assistant) {
        if (t->kind == CALM_CHAT_CHATML)
            add(&b, "<|im_start|>assistant\n");
        else if (t->kind == CALM_CHAT_LLAMA3)
            add(&b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
    }
    return b.s;
}
