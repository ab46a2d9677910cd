// Chat templates: Llama 2, Llama 3 and ChatML, recognised from the model's Jinja template.
#ifndef CALM_CHAT_H
#define CALM_CHAT_H

#include <stddef.h>

typedef enum { CALM_CHAT_CHATML = 0, CALM_CHAT_LLAMA3, CALM_CHAT_LLAMA2 } calm_chat_kind;

typedef struct {
    const char *role; // "system", "user", "assistant"
    const char *content;
} calm_msg;

typedef struct {
    calm_chat_kind kind;
    char default_system[512]; // a system prompt the template inserts when none is given
} calm_chat_template;

// Recognises the template (NULL or unknown: ChatML).
calm_chat_template calm_chat_detect(const char *jinja);
const char *calm_chat_name(calm_chat_kind k);
// Renders msgs[from..n) as they extend a conversation whose earlier turns are already in the KV
// cache, ending with the assistant's opening when add_assistant. Returns a malloc'd string.
char *calm_chat_render(const calm_chat_template *t, const calm_msg *msgs, int n, int from,
                       int add_assistant);

#endif
