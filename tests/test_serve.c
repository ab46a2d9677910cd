// calm serve as a client meets it over loopback: the same text as calm run, streaming, the API
// key, malformed requests, a clean stop.
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

#define KEY      "sk-test-0123456789"
#define QUESTION "What is the capital of France?"
#define CHAT_BODY(extra)                                                                           \
    "{\"messages\":[{\"role\":\"user\",\"content\":\"" QUESTION "\"}],\"temperature\":0,"          \
    "\"max_tokens\":24" extra "}"

typedef struct {
    pid_t pid;
    int port;
} server;

// Starts calm serve on a free loopback port (it picks one: --port 0) and reads the port from
// the line it prints when it listens.
static server start(void) {
    int p[2];
    cr_assert(pipe(p) == 0);
    server s = {fork(), 0};
    cr_assert(s.pid >= 0);
    if (s.pid == 0) {
        // A failed assertion ends the test without stop(): the server goes with it, and it holds
        // no pipe of ctest's open.
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(p[1], 2);
        close(p[0]);
        execl(CALM_BIN, "calm", "serve", "-m", CALM_MODEL_Q41, "--port", "0", "--parallel", "2",
              "-c", "1024", "--api-key", KEY, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    FILE *f = fdopen(p[0], "r");
    char line[1024];
    while (!s.port && fgets(line, sizeof line, f)) {
        const char *at = strstr(line, "http://127.0.0.1:");
        if (at) s.port = atoi(at + strlen("http://127.0.0.1:"));
    }
    fclose(f); // later lines on stderr go nowhere: the server ignores SIGPIPE
    cr_assert(s.port > 0, "calm serve did not say where it listens");
    return s;
}

// Stops the server with SIGTERM; it must exit 0.
static void stop(server s) {
    kill(s.pid, SIGTERM);
    int st;
    cr_assert(waitpid(s.pid, &st, 0) == s.pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "calm serve ended with status %d", st);
}

static int connect_to(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert(fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    return fd;
}

static void send_all(int fd, const char *s, size_t n) {
    while (n) {
        ssize_t k = send(fd, s, n, MSG_NOSIGNAL);
        if (k <= 0) return; // the server may answer (413) and close before taking everything
        s += k;
        n -= (size_t)k;
    }
}

// Reads until the server closes; returns the bytes read into out (NUL-terminated).
static size_t read_all(int fd, char *out, size_t cap) {
    size_t n = 0;
    ssize_t k;
    while (n + 1 < cap && (k = recv(fd, out + n, cap - 1 - n, 0)) > 0) n += (size_t)k;
    out[n] = 0;
    return n;
}

// One HTTP/1.0 request (the server closes after the answer); returns the status, the body in
// out. key: the API key to send, or NULL.
static int http(int port, const char *method, const char *path, const char *key, const char *body,
                size_t len, char *out, size_t cap) {
    int fd = connect_to(port);
    char head[512];
    int n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: "
                     "%zu\r\n%s%s%s\r\n",
                     method, path, len, key ? "Authorization: Bearer " : "", key ? key : "",
                     key ? "\r\n" : "");
    send_all(fd, head, (size_t)n);
    send_all(fd, body, len);
    char *buf = malloc(1 << 20);
    read_all(fd, buf, 1 << 20);
    close(fd);
    int status = 0;
    sscanf(buf, "HTTP/1.%*d %d", &status);
    const char *b = strstr(buf, "\r\n\r\n");
    snprintf(out, cap, "%s", b ? b + 4 : "");
    free(buf);
    return status;
}

static int post(int port, const char *path, const char *body, char *out, size_t cap) {
    return http(port, "POST", path, KEY, body, strlen(body), out, cap);
}

// choices[0].message.content of a chat completion (malloc'd), checking the usage on the way.
static char *chat_text(const char *json) {
    cJSON *r = cJSON_Parse(json);
    cr_assert(r, "not JSON: %s", json);
    cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "choices"), 0);
    cJSON *content = cJSON_GetObjectItem(cJSON_GetObjectItem(c, "message"), "content");
    cJSON *u = cJSON_GetObjectItem(r, "usage");
    cr_assert(cJSON_IsString(content), "%s", json);
    int np = cJSON_GetObjectItem(u, "prompt_tokens")->valueint;
    int ng = cJSON_GetObjectItem(u, "completion_tokens")->valueint;
    cr_assert(np > 0 && ng > 0 && ng <= 24, "%s", json);
    cr_assert_eq(cJSON_GetObjectItem(u, "total_tokens")->valueint, np + ng);
    char *s = strdup(content->valuestring);
    cJSON_Delete(r);
    return s;
}

// The text of a stream of chat chunks, checking its shape: data lines, a last chunk with a
// finish_reason and usage, then [DONE]. malloc'd.
static char *stream_text(char *sse) {
    char *text = calloc(1, strlen(sse) + 1);
    int done = 0, finished = 0;
    for (char *ev = strtok(sse, "\n"); ev; ev = strtok(NULL, "\n")) {
        cr_assert(!done, "an event after [DONE]: %s", ev);
        cr_assert(!strncmp(ev, "data: ", 6), "not an SSE data line: %s", ev);
        if (!strcmp(ev + 6, "[DONE]")) {
            done = 1;
            continue;
        }
        cJSON *r = cJSON_Parse(ev + 6);
        cr_assert(r, "not JSON: %s", ev);
        cr_assert_str_eq(cJSON_GetObjectItem(r, "object")->valuestring, "chat.completion.chunk");
        cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "choices"), 0);
        cJSON *content = cJSON_GetObjectItem(cJSON_GetObjectItem(c, "delta"), "content");
        if (content) strcat(text, content->valuestring);
        if (cJSON_IsString(cJSON_GetObjectItem(c, "finish_reason"))) {
            finished = 1;
            cr_assert(cJSON_GetObjectItem(r, "usage"), "the last chunk has no usage: %s", ev);
        }
        cJSON_Delete(r);
    }
    cr_assert(done && finished, "the stream did not end with a finish_reason and [DONE]");
    return text;
}

static char body[1 << 16];

typedef struct {
    int port;
    char *text;
} client;

static void *ask(void *arg) {
    client *c = arg;
    char *out = malloc(1 << 16);
    cr_assert_eq(post(c->port, "/v1/chat/completions", CHAT_BODY(""), out, 1 << 16), 200);
    c->text = chat_text(out);
    free(out);
    return NULL;
}

Test(serve, answers_as_calm_run_does) {
    char ref[4096], err[4096];
    cr_assert_eq(th_calm("run -m " CALM_MODEL_Q41 " --chat --temp 0 -n 24 -p '" QUESTION "'", ref,
                         sizeof ref, err, sizeof err),
                 0, "%s", err);
    server s = start();
    cr_assert_eq(http(s.port, "GET", "/health", NULL, "", 0, body, sizeof body), 200);
    cr_assert(strstr(body, "\"ok\""), "%s", body);
    cr_assert_eq(http(s.port, "GET", "/v1/models", KEY, "", 0, body, sizeof body), 200);
    cr_assert(strstr(body, "SmolLM2-135M-Instruct.Q4_1.gguf"), "%s", body);
    // Three clients at once on two slots: each gets the text calm run prints.
    client c[3];
    pthread_t t[3];
    for (int i = 0; i < 3; i++) {
        c[i].port = s.port;
        pthread_create(&t[i], NULL, ask, &c[i]);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        cr_assert_str_eq(c[i].text, ref, "client %d", i);
        free(c[i].text);
    }
    cr_assert_eq(
        post(s.port, "/v1/chat/completions", CHAT_BODY(",\"stream\":true"), body, sizeof body),
        200);
    char *text = stream_text(body);
    cr_assert_str_eq(text, ref);
    free(text);
    // A stop string ends the text before it.
    const char *cut = strchr(ref, ' ');
    cr_assert(cut, "%s", ref);
    char req[512];
    snprintf(req, sizeof req, CHAT_BODY(",\"stop\":[\"%s\"]"), cut + 1);
    cr_assert_eq(post(s.port, "/v1/chat/completions", req, body, sizeof body), 200);
    text = chat_text(body);
    cr_assert_eq(strlen(text), (size_t)(cut + 1 - ref), "%s", text);
    free(text);
    cr_assert_eq(
        post(s.port, "/v1/completions",
             "{\"prompt\":\"The capital of France is\",\"max_tokens\":4,\"temperature\":0}", body,
             sizeof body),
        200);
    cr_assert(strstr(body, "\"text_completion\"") && strstr(body, "\"completion_tokens\":4"), "%s",
              body);
    stop(s);
}

Test(serve, api_key) {
    server s = start();
    const char *keys[] = {NULL, "", "sk-test-0123456788", "sk-test-012345678", KEY "9"};
    for (int i = 0; i < 5; i++) {
        int st = http(s.port, "POST", "/v1/chat/completions", keys[i], CHAT_BODY(""),
                      strlen(CHAT_BODY("")), body, sizeof body);
        cr_assert_eq(st, 401, "key %d: %d %s", i, st, body);
        cr_assert(strstr(body, "\"invalid_api_key\""), "%s", body);
        cr_assert_eq(http(s.port, "GET", "/v1/models", keys[i], "", 0, body, sizeof body), 401);
    }
    cr_assert_eq(http(s.port, "GET", "/health", NULL, "", 0, body, sizeof body), 200);
    stop(s);
}

// A request that must be refused, and the status.
typedef struct {
    const char *method, *path, *body;
    int status;
} bad_request;

Test(serve, malformed_requests) {
    server s = start();
    cr_assert_eq(post(s.port, "/v1/chat/completions", CHAT_BODY(""), body, sizeof body), 200);
    char *before = chat_text(body);
#define MSG(extra) "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]" extra "}"
    static const bad_request q[] = {
        {"POST", "/v1/chat/completions", "", 400},
        {"POST", "/v1/chat/completions", "{", 400},
        {"POST", "/v1/chat/completions", "[1,2]", 400},
        {"POST", "/v1/chat/completions", "null", 400},
        {"POST", "/v1/chat/completions", MSG(" trailing"), 400},
        {"POST", "/v1/chat/completions", "{\"messages\":\"hi\"}", 400},
        {"POST", "/v1/chat/completions", "{\"messages\":[]}", 400},
        {"POST", "/v1/chat/completions", "{\"messages\":[{\"role\":\"bot\",\"content\":\"x\"}]}",
         400},
        {"POST", "/v1/chat/completions", "{\"messages\":[{\"role\":\"user\"}]}", 400},
        {"POST", "/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":7}]}", 400},
        {"POST", "/v1/chat/completions", "{\"messages\":[\"\\ud800\"]}", 400},
        {"POST", "/v1/chat/completions",
         "{\"messages\":[{\"role\":\"user\",\"content\":\"\xff\"}]}", 400},
        {"POST", "/v1/chat/completions",
         "{\"messages\":[{\"role\":\"user\",\"content\":\"\xc0\xaf\"}]}", 400},
        {"POST", "/v1/chat/completions", MSG(",\"temperature\":\"hot\""), 400},
        {"POST", "/v1/chat/completions", MSG(",\"temperature\":-1"), 400},
        {"POST", "/v1/chat/completions", MSG(",\"temperature\":1e999"), 400},
        {"POST", "/v1/chat/completions", MSG(",\"top_p\":2"), 400},
        {"POST", "/v1/chat/completions", MSG(",\"top_k\":1.5"), 400},
        {"POST", "/v1/chat/completions", MSG(",\"min_p\":null"), 400},
        {"POST", "/v1/chat/completions", MSG(",\"max_tokens\":0"), 400},
        {"POST", "/v1/chat/completions", MSG(",\"max_tokens\":-5"), 400},
        {"POST", "/v1/chat/completions", MSG(",\"max_tokens\":1020"), 400},
        {"POST", "/v1/chat/completions", MSG(",\"max_tokens\":99999999999999"), 400},
        {"POST", "/v1/chat/completions", MSG(",\"seed\":-1"), 400},
        {"POST", "/v1/chat/completions", MSG(",\"stream\":\"yes\""), 400},
        {"POST", "/v1/chat/completions", MSG(",\"stop\":[\"\"]"), 400},
        {"POST", "/v1/chat/completions", MSG(",\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]"), 400},
        {"POST", "/v1/chat/completions", MSG(",\"stop\":5"), 400},
        {"POST", "/v1/chat/completions", MSG(",\"presence_penalty\":0.5"), 400},
        {"POST", "/v1/chat/completions", MSG(",\"frequency_penalty\":1"), 400},
        {"POST", "/v1/chat/completions", MSG(",\"n\":2"), 400},
        {"POST", "/v1/chat/completions", MSG(",\"bogus\":1"), 400},
        {"POST", "/v1/chat/completions", MSG(",\"temperature\":0,\"temperature\":\"x\""), 400},
        {"POST", "/v1/chat/completions", MSG(",\"prompt\":\"x\""), 400},
        {"POST", "/v1/completions", "{\"prompt\":3}", 400},
        {"POST", "/v1/completions", "{\"prompt\":\"\"}", 400},
        {"POST", "/v1/completions", MSG(""), 400},
        {"GET", "/v1/chat/completions", "", 405},
        {"POST", "/v1/models", "", 405},
        {"GET", "/v2/anything", "", 404},
    };
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        int st = http(s.port, q[i].method, q[i].path, KEY, q[i].body, strlen(q[i].body), body,
                      sizeof body);
        cr_assert_eq(st, q[i].status, "%s %s %s: %d %s", q[i].method, q[i].path, q[i].body, st,
                     body);
        cJSON *r = cJSON_Parse(body);
        cr_assert(cJSON_IsString(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "error"), "message")),
                  "%s: not an OpenAI error: %s", q[i].body, body);
        cJSON_Delete(r);
    }
    // A body over the limit: refused whole, the server reads no more of it.
    size_t big = (1 << 20) + 100;
    char *huge = malloc(big);
    memset(huge, 'a', big);
    cr_assert_eq(http(s.port, "POST", "/v1/chat/completions", KEY, huge, big, body, sizeof body),
                 413, "%s", body);
    free(huge);
    // Not HTTP at all: the connection closes, the server goes on.
    int fd = connect_to(s.port);
    send_all(fd, "\x01\x02garbage\r\n\r\n", 13);
    read_all(fd, body, sizeof body);
    close(fd);
    cr_assert_eq(post(s.port, "/v1/chat/completions", CHAT_BODY(""), body, sizeof body), 200);
    char *after = chat_text(body);
    cr_assert_str_eq(after, before);
    free(before);
    free(after);
    stop(s);
}

// SIGTERM while a stream runs: the stream gets a last chunk and [DONE], the server exits 0.
Test(serve, stops_cleanly) {
    server s = start();
    int fd = connect_to(s.port);
    body[0] = 0;
    const char *req =
        "{\"prompt\":\"Chapter 1\\n\\nOnce upon a time\",\"max_tokens\":1000,\"temperature\":1,"
        "\"min_p\":0,\"top_k\":0,\"top_p\":1,\"stream\":true}";
    char head[256];
    int n = snprintf(head, sizeof head,
                     "POST /v1/completions HTTP/1.0\r\nAuthorization: Bearer " KEY
                     "\r\nContent-Length: %zu\r\n\r\n",
                     strlen(req));
    send_all(fd, head, (size_t)n);
    send_all(fd, req, strlen(req));
    // Wait for the first event, so the request is running when the signal comes.
    size_t got = 0;
    ssize_t k;
    while (!strstr(body, "data: ") && (k = recv(fd, body + got, 4096, 0)) > 0) {
        got += (size_t)k;
        body[got] = 0;
    }
    kill(s.pid, SIGTERM);
    got += read_all(fd, body + got, sizeof body - got);
    close(fd);
    int st;
    cr_assert(waitpid(s.pid, &st, 0) == s.pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    cr_assert(strstr(body, "\"finish_reason\":\"") && strstr(body, "data: [DONE]\n\n"), "%s", body);
}
