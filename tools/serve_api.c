#include "serve_api.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/unicode.h"

static int fail(serve_error *err, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(serve_error *err, const char *param, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->status = 400;
    err->param = param;
    return -1;
}

// Strict UTF-8: no stray or missing continuation bytes, no overlong forms, no surrogates, nothing
// above U+10FFFF, no NUL (which would cut a C string short). The byte offset of the first fault,
// or -1.
static long utf8_fault(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int len = calm_utf8_decode(s + i, n - i, &cp);
        char again[8];
        int bad = cp == 0 || (cp == 0xfffd && len == 1) || (cp >= 0xd800 && cp <= 0xdfff) ||
                  cp > 0x10ffff || calm_utf8_encode(cp, again) != len;
        if (bad) return (long)i;
        i += (size_t)len;
    }
    return -1;
}

typedef enum { F_NUMBER, F_INT, F_BOOL, F_STRING, F_STOP, F_MESSAGES, F_PROMPT, F_OPTIONS } f_kind;

// One request field, as the option table of cli.c: its name, type and range, where it goes.
typedef struct {
    const char *name;
    f_kind kind;
    double lo, hi;  // F_NUMBER, F_INT: the accepted range
    size_t at;      // F_NUMBER (float), F_INT (int), F_BOOL (int): offsetof(serve_request, ...)
    unsigned kinds; // 1 << SERVE_CHAT, 1 << SERVE_COMPLETION: the endpoints that take it
    int off_only;   // the sampler has no such thing: only the value that turns it off is taken
} field;

#define AT(f) offsetof(serve_request, f)
enum { CHAT = 1u << SERVE_CHAT, COMPL = 1u << SERVE_COMPLETION, BOTH = CHAT | COMPL };

// clang-format off
static const field fields[] = {
    {.name = "model", .kind = F_STRING, .kinds = BOTH},
    {.name = "user", .kind = F_STRING, .kinds = BOTH},
    {.name = "messages", .kind = F_MESSAGES, .kinds = CHAT},
    {.name = "prompt", .kind = F_PROMPT, .kinds = COMPL},
    {.name = "stream", .kind = F_BOOL, .at = AT(stream), .kinds = BOTH},
    {.name = "stream_options", .kind = F_OPTIONS, .kinds = BOTH},
    {.name = "temperature", .kind = F_NUMBER, .lo = 0, .hi = 2, .at = AT(sp.temp), .kinds = BOTH},
    {.name = "top_p", .kind = F_NUMBER, .lo = 0, .hi = 1, .at = AT(sp.top_p), .kinds = BOTH},
    {.name = "min_p", .kind = F_NUMBER, .lo = 0, .hi = 1, .at = AT(sp.min_p), .kinds = BOTH},
    {.name = "top_k", .kind = F_INT, .lo = 0, .hi = 1 << 20, .at = AT(sp.top_k), .kinds = BOTH},
    {.name = "max_tokens", .kind = F_INT, .lo = 1, .hi = 1 << 30, .at = AT(max_tokens),
     .kinds = BOTH},
    {.name = "max_completion_tokens", .kind = F_INT, .lo = 1, .hi = 1 << 30, .at = AT(max_tokens),
     .kinds = CHAT},
    {.name = "seed", .kind = F_INT, .lo = 0, .hi = 9007199254740991.0, .kinds = BOTH},
    {.name = "n", .kind = F_INT, .lo = 1, .hi = 1, .kinds = BOTH},
    {.name = "stop", .kind = F_STOP, .kinds = BOTH},
    {.name = "presence_penalty", .kind = F_NUMBER, .lo = -2, .hi = 2, .off_only = 1,
     .kinds = BOTH},
    {.name = "frequency_penalty", .kind = F_NUMBER, .lo = -2, .hi = 2, .off_only = 1,
     .kinds = BOTH},
};
// clang-format on

#define N_FIELDS (sizeof fields / sizeof fields[0])

// The text of a message's content: a string, or an array of {"type": "text", "text": ...} parts
// joined. A malloc'd string, or NULL after fail().
static char *content_text(const cJSON *c, serve_error *err) {
    if (cJSON_IsString(c)) return strdup(c->valuestring);
    if (!cJSON_IsArray(c)) {
        fail(err, "messages", "a message's content must be a string or an array of text parts");
        return NULL;
    }
    size_t n = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, c) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(p, "type");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(p, "text");
        if (!cJSON_IsString(type) || strcmp(type->valuestring, "text") || !cJSON_IsString(text)) {
            fail(err, "messages", "a content part must be {\"type\": \"text\", \"text\": STRING}");
            return NULL;
        }
        n += strlen(text->valuestring);
    }
    char *s = malloc(n + 1);
    if (!s) {
        fail(err, "messages", "out of memory");
        return NULL;
    }
    s[0] = 0;
    cJSON_ArrayForEach(p, c) strcat(s, cJSON_GetObjectItemCaseSensitive(p, "text")->valuestring);
    return s;
}

// The chat's messages rendered with the template into r->prompt.
static int read_messages(const cJSON *v, const calm_chat_template *ct, serve_request *r,
                         serve_error *err) {
    int n = cJSON_GetArraySize(v);
    if (!cJSON_IsArray(v) || n < 1 || n > 1024)
        return fail(err, "messages", "messages must be an array of 1 to 1024 messages");
    calm_msg *msgs = calloc((size_t)n, sizeof *msgs);
    char **texts = calloc((size_t)n, sizeof *texts);
    int rc = msgs && texts ? 0 : fail(err, "messages", "out of memory");
    int i = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, v) {
        if (rc) break;
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        const cJSON *k;
        if (cJSON_IsObject(m))
            cJSON_ArrayForEach(k, m) if (strcmp(k->string, "role") &&
                                         strcmp(k->string, "content") &&
                                         strcmp(k->string, "name")) {
                rc = fail(err, "messages", "messages[%d] has an unknown field '%.64s'", i,
                          k->string);
                break;
            }
        if (rc) break;
        if (!cJSON_IsObject(m) || !cJSON_IsString(role) || !content) {
            rc = fail(err, "messages", "messages[%d] must be an object with role and content", i);
            break;
        }
        if (strcmp(role->valuestring, "system") && strcmp(role->valuestring, "user") &&
            strcmp(role->valuestring, "assistant")) {
            rc = fail(err, "messages", "messages[%d].role must be system, user or assistant", i);
            break;
        }
        if (!(texts[i] = content_text(content, err))) {
            rc = -1;
            break;
        }
        msgs[i] = (calm_msg){role->valuestring, texts[i]};
        i++;
    }
    if (!rc) {
        r->prompt = calm_chat_render(ct, msgs, n, 0, 1);
        r->parse_special = 1;
    }
    for (int t = 0; texts && t < n; t++) free(texts[t]);
    free(texts);
    free(msgs);
    return rc;
}

// stop: one string or an array of up to 4, none empty.
static int read_stop(const cJSON *v, serve_request *r, serve_error *err) {
    if (cJSON_IsNull(v)) return 0;
    int n = cJSON_IsString(v) ? 1 : cJSON_GetArraySize(v);
    if (!cJSON_IsString(v) && (!cJSON_IsArray(v) || n > 4))
        return fail(err, "stop", "stop must be a string or an array of up to 4 strings");
    r->stop = calloc((size_t)(n ? n : 1), sizeof *r->stop);
    if (!r->stop) return fail(err, "stop", "out of memory");
    for (int i = 0; i < n; i++) {
        const cJSON *s = cJSON_IsString(v) ? v : cJSON_GetArrayItem(v, i);
        if (!cJSON_IsString(s) || !s->valuestring[0] || strlen(s->valuestring) > 256)
            return fail(err, "stop", "stop strings must be strings of 1 to 256 bytes");
        if (!(r->stop[r->n_stop] = strdup(s->valuestring)))
            return fail(err, "stop", "out of memory");
        r->n_stop++;
    }
    return 0;
}

// One field's value into r.
static int read_field(const field *f, const cJSON *v, const calm_chat_template *ct,
                      serve_request *r, serve_error *err) {
    char *dst = (char *)r + f->at;
    switch (f->kind) {
    case F_NUMBER:
    case F_INT: {
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
            return fail(err, f->name, "%s must be a number", f->name);
        double x = v->valuedouble;
        if (f->kind == F_INT && x != floor(x))
            return fail(err, f->name, "%s must be an integer", f->name);
        if (x < f->lo || x > f->hi)
            return fail(err, f->name, "%s must be in [%.17g, %.17g]", f->name, f->lo, f->hi);
        if (f->off_only && x != 0)
            return fail(err, f->name, "%s is not supported (only 0)", f->name);
        if (!strcmp(f->name, "seed"))
            r->sp.seed = (uint64_t)x;
        else if (f->kind == F_NUMBER && f->at)
            *(float *)dst = (float)x;
        else if (f->at)
            *(int *)dst = (int)x;
        return 0;
    }
    case F_BOOL:
        if (!cJSON_IsBool(v)) return fail(err, f->name, "%s must be true or false", f->name);
        *(int *)dst = cJSON_IsTrue(v);
        return 0;
    case F_STRING:
        return cJSON_IsString(v) ? 0 : fail(err, f->name, "%s must be a string", f->name);
    case F_STOP:
        return read_stop(v, r, err);
    case F_MESSAGES:
        return read_messages(v, ct, r, err);
    case F_PROMPT:
        // A string, or an array of one string (the openai client's form for a batch of one).
        if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 1) v = cJSON_GetArrayItem(v, 0);
        if (!cJSON_IsString(v)) return fail(err, "prompt", "prompt must be a string");
        if (!(r->prompt = strdup(v->valuestring))) return fail(err, "prompt", "out of memory");
        return 0;
    case F_OPTIONS: { // stream_options: usage is in every stream's last chunk anyway
        const cJSON *k;
        if (!cJSON_IsObject(v)) return fail(err, f->name, "stream_options must be an object");
        cJSON_ArrayForEach(k, v) if (strcmp(k->string, "include_usage") || !cJSON_IsBool(k)) {
            return fail(err, f->name, "stream_options takes only include_usage (true or false)");
        }
        return 0;
    }
    }
    return 0;
}

int serve_parse_request(const char *body, size_t n, serve_kind kind, const calm_chat_template *ct,
                        calm_sampler_params defaults, serve_request *r, serve_error *err) {
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->sp = defaults;
    long bad = utf8_fault(body, n);
    if (bad >= 0) return fail(err, NULL, "the body is not valid UTF-8 (byte %ld)", bad);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(body, &end, 1);
    if (!root)
        return fail(err, NULL, "the body is not valid JSON (at byte %ld)",
                    end ? (long)(end - body) : 0L);
    int rc = cJSON_IsObject(root) ? 0 : fail(err, NULL, "the body must be a JSON object");
    const cJSON *v;
    cJSON_ArrayForEach(v, root) {
        if (rc) break;
        const field *f = NULL;
        for (size_t i = 0; i < N_FIELDS && !f; i++)
            if (!strcmp(v->string, fields[i].name) && (fields[i].kinds & (1u << kind)))
                f = &fields[i];
        if (!f) {
            rc = fail(err, NULL, "unknown field '%.64s'", v->string);
            break;
        }
        // A repeated key would let a later value silently replace a checked one.
        for (const cJSON *w = root->child; w != v && !rc; w = w->next)
            if (!strcmp(w->string, v->string))
                rc = fail(err, f->name, "field '%s' is given twice", f->name);
        if (!rc) rc = read_field(f, v, ct, r, err);
    }
    if (!rc && !r->prompt)
        rc = fail(err, kind == SERVE_CHAT ? "messages" : "prompt", "%s is required",
                  kind == SERVE_CHAT ? "messages" : "prompt");
    cJSON_Delete(root);
    if (rc) serve_request_free(r);
    return rc;
}

void serve_request_free(serve_request *r) {
    free(r->prompt);
    for (int i = 0; i < r->n_stop; i++) free(r->stop[i]);
    free(r->stop);
    memset(r, 0, sizeof *r);
}

// cJSON_PrintUnformatted of o, which it frees.
static char *print(cJSON *o) {
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

char *serve_error_json(const char *msg, const char *type, const char *param, const char *code) {
    cJSON *o = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "message", msg);
    cJSON_AddStringToObject(e, "type", type);
    if (param)
        cJSON_AddStringToObject(e, "param", param);
    else
        cJSON_AddNullToObject(e, "param");
    if (code)
        cJSON_AddStringToObject(e, "code", code);
    else
        cJSON_AddNullToObject(e, "code");
    return print(o);
}

// A string of len bytes (text is not NUL-terminated at len).
static void add_text(cJSON *o, const char *key, const char *text, size_t len) {
    char *s = malloc(len + 1);
    if (!s) return;
    memcpy(s, text, len);
    s[len] = 0;
    cJSON_AddStringToObject(o, key, s);
    free(s);
}

// The fields every response and chunk begins with, and its one choice.
static cJSON *head(const serve_meta *m, int chunk, cJSON **choice) {
    static const char *objects[2][2] = {{"chat.completion", "chat.completion.chunk"},
                                        {"text_completion", "text_completion"}};
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", m->id);
    cJSON_AddStringToObject(o, "object", objects[m->kind][chunk]);
    cJSON_AddNumberToObject(o, "created", (double)m->created);
    cJSON_AddStringToObject(o, "model", m->model);
    *choice = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(o, "choices"), *choice);
    cJSON_AddNumberToObject(*choice, "index", 0);
    return o;
}

static void add_usage(cJSON *o, int n_prompt, int n_gen) {
    cJSON *u = cJSON_AddObjectToObject(o, "usage");
    cJSON_AddNumberToObject(u, "prompt_tokens", n_prompt);
    cJSON_AddNumberToObject(u, "completion_tokens", n_gen);
    cJSON_AddNumberToObject(u, "total_tokens", n_prompt + n_gen);
}

char *serve_response_json(const serve_meta *m, const char *text, size_t len, const char *finish,
                          int n_prompt, int n_gen) {
    cJSON *c, *o = head(m, 0, &c);
    if (m->kind == SERVE_CHAT) {
        cJSON *msg = cJSON_AddObjectToObject(c, "message");
        cJSON_AddStringToObject(msg, "role", "assistant");
        add_text(msg, "content", text, len);
    } else {
        add_text(c, "text", text, len);
        cJSON_AddNullToObject(c, "logprobs");
    }
    cJSON_AddStringToObject(c, "finish_reason", finish);
    add_usage(o, n_prompt, n_gen);
    return print(o);
}

char *serve_chunk_json(const serve_meta *m, const char *text, size_t len, int first,
                       const char *finish, int n_prompt, int n_gen) {
    cJSON *c, *o = head(m, 1, &c);
    if (m->kind == SERVE_CHAT) {
        cJSON *d = cJSON_AddObjectToObject(c, "delta");
        if (first) cJSON_AddStringToObject(d, "role", "assistant");
        if (!finish) add_text(d, "content", text, len);
    } else {
        add_text(c, "text", text, finish ? 0 : len);
        cJSON_AddNullToObject(c, "logprobs");
    }
    if (finish)
        cJSON_AddStringToObject(c, "finish_reason", finish);
    else
        cJSON_AddNullToObject(c, "finish_reason");
    if (finish) add_usage(o, n_prompt, n_gen);
    return print(o);
}

char *serve_models_json(const char *name) {
    cJSON *o = cJSON_CreateObject(), *m = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "object", "list");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(o, "data"), m);
    cJSON_AddStringToObject(m, "id", name);
    cJSON_AddStringToObject(m, "object", "model");
    cJSON_AddNumberToObject(m, "created", 0);
    cJSON_AddStringToObject(m, "owned_by", "calm");
    return print(o);
}
