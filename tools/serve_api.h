// calm serve's OpenAI API: request bodies checked and read into a serve_request, and the JSON of
// responses, stream chunks and errors.
#ifndef CALM_SERVE_API_H
#define CALM_SERVE_API_H

#include <stddef.h>

#include "../runtime/chat.h"
#include "../runtime/sampler.h"

typedef enum { SERVE_CHAT, SERVE_COMPLETION } serve_kind;

// A request as the scheduler needs it; every field is checked.
typedef struct {
    serve_kind kind;
    int stream;
    char *prompt;      // the text to tokenize (chat: rendered with the template); owned
    int parse_special; // chat: the template's special tokens are tokens
    calm_sampler_params sp;
    int max_tokens; // 0 when not given
    char **stop;    // owned, n_stop non-empty strings
    int n_stop;
} serve_request;

// Why a request is refused: the HTTP status, a one-line message and the field it names (or NULL).
typedef struct {
    int status;
    char msg[256];
    const char *param;
} serve_error;

// Reads body (n bytes, NUL-terminated) as a request of kind: valid UTF-8, a JSON object, known
// fields only, each of its type and range. Sampling fields not given keep defaults'. The chat
// messages are rendered with ct. 0, or -1 with err filled (status 400).
int serve_parse_request(const char *body, size_t n, serve_kind kind, const calm_chat_template *ct,
                        calm_sampler_params defaults, serve_request *r, serve_error *err);
void serve_request_free(serve_request *r);

// {"error": {message, type, param, code}} as OpenAI writes it; malloc'd.
char *serve_error_json(const char *msg, const char *type, const char *param, const char *code);

// GET /v1/models: the one model served, under name; malloc'd.
char *serve_models_json(const char *name);

// What a response says besides its text: the id, the model's name, the creation time.
typedef struct {
    serve_kind kind;
    const char *id, *model;
    long created;
} serve_meta;

// The whole non-streaming response; malloc'd.
char *serve_response_json(const serve_meta *m, const char *text, size_t len, const char *finish,
                          int n_prompt, int n_gen);
// One stream chunk's JSON: len bytes of new text (the first chunk of a chat also names the
// role), or with finish the last chunk, which carries the usage; malloc'd.
char *serve_chunk_json(const serve_meta *m, const char *text, size_t len, int first,
                       const char *finish, int n_prompt, int n_gen);

#endif
