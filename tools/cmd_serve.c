// calm serve: the OpenAI API over HTTP (libmicrohttpd, one thread per connection) in front of
// the scheduler (serve_sched.c), which runs on this thread: the one that loaded the model and set
// its OpenMP thread count.
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "cli.h"
#include "load.h"
#include "serve_api.h"
#include "serve_sched.h"

enum {
    BODY_LIMIT = 1 << 20, // bytes of a request body
    IDLE_TIMEOUT = 30,    // seconds a connection may sit idle (or trickle a request in)
    MAX_CONNECTIONS = 256,
};

typedef struct {
    serve_sched sc;
    const calm_tokenizer *tok;
    calm_chat_template ct;
    calm_sampler_params sp; // the defaults of requests
    int default_max;        // max_tokens when a request gives none (0: the rest of the context)
    int seq_len;
    const char *api_key, *model_name;
    unsigned long next_id; // under sc.mu
    int n_replies;         // generation responses not yet done with, under sc.mu
} server;

// A request body as it arrives; too_big once it passed BODY_LIMIT (the rest is dropped).
typedef struct {
    char *buf;
    size_t len;
    int too_big;
} upload;

// A generation's response as the connection sends it: JSON once the job is done, or server-sent
// events as its text grows. sent: the job's text bytes already in events.
typedef struct {
    server *srv;
    serve_job *job;
    serve_meta meta;
    char id[48];
    struct MHD_Connection *conn;
    int stream, fd, first, finished;
    size_t sent;
    char *out; // what the next reads return, out_len bytes of which out_off are sent
    size_t out_len, out_off;
} reply;

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, char *json) {
    if (!json) return MHD_NO;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(json), json, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(json);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *msg,
                                  const char *param, const char *code) {
    const char *type = status == 401   ? "authentication_error"
                       : status == 404 ? "not_found_error"
                       : status >= 500 ? "server_error"
                                       : "invalid_request_error";
    return send_json(c, status, serve_error_json(msg, type, param, code));
}

// Compares the Authorization header with "Bearer KEY" in time that depends only on KEY's length,
// so that the time of a refusal tells nothing about how much of a guess was right.
static int authorized(struct MHD_Connection *c, const char *key) {
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncmp(h, "Bearer ", 7)) return 0;
    h += 7;
    size_t n = strlen(key), m = strlen(h);
    unsigned char d = n != m;
    for (size_t i = 0; i < n; i++) d |= (unsigned char)key[i] ^ (unsigned char)(i < m ? h[i] : 0);
    return d == 0;
}

// The client closed its end (or the connection broke) while its answer is being made.
static int client_gone(int fd) {
    struct pollfd p = {.fd = fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

// Makes json (taken over) what the connection sends next: an event followed by tail when
// streaming, else the body itself. -1 when json is NULL or memory runs out.
static int set_out(reply *rp, char *json, const char *tail) {
    if (!json) return -1;
    size_t n = strlen(json), t = strlen(tail);
    char *s = malloc(n + t + 9);
    if (!s) {
        free(json);
        return -1;
    }
    if (rp->stream)
        n = (size_t)sprintf(s, "data: %s\n\n%s", json, tail);
    else
        memcpy(s, json, n + 1);
    free(json);
    free(rp->out);
    rp->out = s;
    rp->out_len = n;
    rp->out_off = 0;
    return 0;
}

// Waits for the job's next text (streaming) or its end, and makes what the connection sends next.
// 0; 1 when the client went away (the job is cancelled); -1 when memory ran out.
static int next_output(reply *rp) {
    serve_sched *sc = &rp->srv->sc;
    serve_job *j = rp->job;
    pthread_mutex_lock(&sc->mu);
    while (!j->done && !(rp->stream && j->ready > rp->sent)) {
        serve_wait(sc, &sc->progress, 100);
        if (!j->done && client_gone(rp->fd)) {
            pthread_mutex_unlock(&sc->mu);
            serve_cancel(sc, j);
            return 1;
        }
    }
    int rc;
    if (!rp->stream) {
        rc = set_out(
            rp, serve_response_json(&rp->meta, j->text, j->len, j->finish, j->n_prompt, j->n_gen),
            "");
        rp->finished = 1;
    } else if (j->ready > rp->sent) {
        rc = set_out(rp,
                     serve_chunk_json(&rp->meta, j->text + rp->sent, j->ready - rp->sent, rp->first,
                                      NULL, 0, 0),
                     "");
        rp->sent = j->ready;
        rp->first = 0;
    } else {
        rc = set_out(
            rp, serve_chunk_json(&rp->meta, "", 0, rp->first, j->finish, j->n_prompt, j->n_gen),
            "data: [DONE]\n\n");
        rp->finished = 1;
    }
    pthread_mutex_unlock(&sc->mu);
    return rc;
}

static ssize_t read_reply(void *cls, uint64_t pos, char *buf, size_t max) {
    reply *rp = cls;
    (void)pos;
    while (rp->out_off == rp->out_len) {
        if (rp->finished) return MHD_CONTENT_READER_END_OF_STREAM;
        int rc = next_output(rp);
        // Nobody reads a client that left: the response just ends (no error for the log).
        if (rc)
            return rc > 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t n = rp->out_len - rp->out_off < max ? rp->out_len - rp->out_off : max;
    memcpy(buf, rp->out + rp->out_off, n);
    rp->out_off += n;
    return (ssize_t)n;
}

// The response is done with (sent, or the connection closed): a job still running is cancelled.
static void free_reply(void *cls) {
    reply *rp = cls;
    serve_sched *sc = &rp->srv->sc;
    if (!rp->finished) serve_cancel(sc, rp->job);
    serve_job_release(sc, rp->job);
    pthread_mutex_lock(&sc->mu);
    rp->srv->n_replies--;
    pthread_cond_broadcast(&sc->progress);
    pthread_mutex_unlock(&sc->mu);
    // The answer is out: an idle connection times out again.
    MHD_set_connection_option(rp->conn, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)IDLE_TIMEOUT);
    free(rp->out);
    free(rp);
}

// POST /v1/chat/completions and /v1/completions: checks the request, queues its job, and answers
// with a response that waits for the job's text.
static enum MHD_Result generate(server *srv, struct MHD_Connection *c, const upload *u,
                                serve_kind kind) {
    serve_request r;
    serve_error err;
    if (serve_parse_request(u->buf ? u->buf : "", u->len, kind, &srv->ct, srv->sp, &r, &err))
        return send_error(c, (unsigned)err.status, err.msg, err.param, NULL);
    const char *what = kind == SERVE_CHAT ? "messages" : "prompt";
    int *ids = NULL;
    long n = calm_tokenize(srv->tok, r.prompt, strlen(r.prompt), 1, r.parse_special, &ids);
    char msg[256];
    int max = r.max_tokens;
    if (!max) max = srv->default_max;
    if (n > 0 && (!max || max > srv->seq_len - n)) max = srv->seq_len - (int)n;
    if (n <= 0 || n >= srv->seq_len) {
        snprintf(msg, sizeof msg, "the prompt has %ld tokens; the context holds %d", n,
                 srv->seq_len);
        free(ids);
        serve_request_free(&r);
        return send_error(c, 400, n <= 0 ? "the prompt gives no tokens" : msg, what,
                          n <= 0 ? NULL : "context_length_exceeded");
    }
    if (r.max_tokens && n + r.max_tokens > srv->seq_len) {
        snprintf(msg, sizeof msg,
                 "max_tokens %d and the prompt's %ld tokens do not fit the context of %d",
                 r.max_tokens, n, srv->seq_len);
        free(ids);
        serve_request_free(&r);
        return send_error(c, 400, msg, "max_tokens", "context_length_exceeded");
    }
    serve_job *j = serve_job_new(ids, (int)n);
    reply *rp = calloc(1, sizeof *rp);
    if (!j || !rp) {
        if (j)
            serve_job_release(&srv->sc, j);
        else
            free(ids);
        free(rp);
        serve_request_free(&r);
        return send_error(c, 503, "out of memory", NULL, NULL);
    }
    j->max_tokens = max;
    j->sp = r.sp;
    j->stop = r.stop;
    j->n_stop = r.n_stop;
    r.stop = NULL;
    r.n_stop = 0;
    rp->stream = r.stream;
    serve_request_free(&r);
    if (serve_submit(&srv->sc, j)) {
        serve_job_release(&srv->sc, j);
        free(rp);
        return send_error(c, 503, "the server is shutting down", NULL, NULL);
    }
    pthread_mutex_lock(&srv->sc.mu);
    unsigned long id = ++srv->next_id;
    srv->n_replies++;
    pthread_mutex_unlock(&srv->sc.mu);
    snprintf(rp->id, sizeof rp->id, "%s-calm-%lu", kind == SERVE_CHAT ? "chatcmpl" : "cmpl", id);
    rp->meta = (serve_meta){kind, rp->id, srv->model_name, (long)time(NULL)};
    rp->srv = srv;
    rp->job = j;
    rp->conn = c;
    rp->first = 1;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    rp->fd = ci ? ci->connect_fd : -1;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, read_reply, rp, free_reply);
    if (!resp) {
        free_reply(rp);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            rp->stream ? "text/event-stream" : "application/json");
    if (rp->stream) MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    // Making the answer may take longer than an idle connection may last; a client that leaves
    // is seen by client_gone instead.
    MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
    enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ok;
}

// Routes a request whose body (if any) has arrived.
static enum MHD_Result route(server *srv, struct MHD_Connection *c, const char *url,
                             const char *method, const upload *u) {
    int get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
    if (!strcmp(url, "/health"))
        return get ? send_json(c, MHD_HTTP_OK, strdup("{\"status\":\"ok\"}"))
                   : send_error(c, 405, "/health takes GET", NULL, NULL);
    if (srv->api_key && !authorized(c, srv->api_key))
        return send_error(c, 401, "a valid API key is required (Authorization: Bearer KEY)", NULL,
                          "invalid_api_key");
    if (u->too_big) {
        char msg[96];
        snprintf(msg, sizeof msg, "the body is larger than %d bytes", BODY_LIMIT);
        return send_error(c, 413, msg, NULL, NULL);
    }
    static const struct {
        const char *url;
        int kind; // a serve_kind, or -1 for /v1/models
    } routes[] = {{"/v1/chat/completions", SERVE_CHAT},
                  {"/v1/completions", SERVE_COMPLETION},
                  {"/v1/models", -1}};
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(url, routes[i].url)) continue;
        if (routes[i].kind < 0)
            return get ? send_json(c, MHD_HTTP_OK, serve_models_json(srv->model_name))
                       : send_error(c, 405, "/v1/models takes GET", NULL, NULL);
        if (!post) return send_error(c, 405, "this endpoint takes POST", NULL, NULL);
        return generate(srv, c, u, (serve_kind)routes[i].kind);
    }
    char msg[160];
    snprintf(msg, sizeof msg, "no endpoint %.100s", url);
    return send_error(c, 404, msg, NULL, NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **con_cls) {
    (void)version;
    upload *u = *con_cls;
    if (!u) { // the headers are in; the body (if any) follows in later calls
        if (!(u = calloc(1, sizeof *u))) return MHD_NO;
        *con_cls = u;
        const char *cl =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        u->too_big = cl && strtoull(cl, NULL, 10) > BODY_LIMIT;
        return MHD_YES;
    }
    if (*size) {
        if (!u->too_big && u->len + *size > BODY_LIMIT) {
            u->too_big = 1;
            free(u->buf);
            u->buf = NULL;
        }
        if (!u->too_big) {
            char *b = realloc(u->buf, u->len + *size + 1);
            if (!b) return MHD_NO;
            memcpy(b + u->len, data, *size);
            u->len += *size;
            b[u->len] = 0;
            u->buf = b;
        }
        *size = 0;
        return MHD_YES;
    }
    return route(cls, c, url, method, u);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode why) {
    (void)cls, (void)c, (void)why;
    upload *u = *con_cls;
    if (u) free(u->buf);
    free(u);
    *con_cls = NULL;
}

// SIGINT and SIGTERM set this; the scheduler sees it between steps.
static volatile sig_atomic_t stop_requested;

static void on_stop(int sig) {
    (void)sig;
    stop_requested = 1;
}

// Starts the HTTP daemon on host:port; NULL after printing the error.
static struct MHD_Daemon *start_http(const char *host, int port, server *srv) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE},
                    *ai;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int rc = getaddrinfo(host, ps, &hints, &ai);
    if (rc) {
        fprintf(stderr, "error: --host %s: %s\n", host, gai_strerror(rc));
        return NULL;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_ERROR_LOG | (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)MAX_CONNECTIONS, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!d) fprintf(stderr, "error: cannot listen on %s port %d\n", host, port);
    return d;
}

int cmd_serve(const calm_opts *o) {
    calm_model m;
    calm_tokenizer tok;
    if (calm_load_for(o, &m, &tok)) return 1;
    server srv = {.tok = &tok,
                  .ct = calm_chat_detect(tok.v.chat_template),
                  .sp = o->sp,
                  .default_max = o->n_predict,
                  .seq_len = o->ctx ? o->ctx : 4096,
                  .api_key = o->serve.api_key};
    const char *slash = strrchr(o->model, '/');
    srv.model_name = slash && slash[1] ? slash + 1 : o->model;
    calm_err e;
    int rc = 1;
    if (serve_sched_init(&srv.sc, &m, &tok, o->serve.parallel, srv.seq_len, o->batch, &e)) {
        fprintf(stderr, "error: %s\n", e.msg);
    } else {
        struct sigaction sa = {.sa_handler = on_stop}, ign = {.sa_handler = SIG_IGN};
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGPIPE, &ign, NULL);
        struct MHD_Daemon *d = start_http(o->serve.host, o->serve.port, &srv);
        if (d) {
            const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
            fprintf(stderr, "calm: serving %s on http://%s:%u (%d slots of %d tokens)\n",
                    srv.model_name, o->serve.host, di ? di->port : (unsigned)o->serve.port,
                    srv.sc.n_slots, srv.seq_len);
            rc = serve_sched_run(&srv.sc, &stop_requested) ? 1 : 0;
            // Stopping the daemon closes the sockets: first let the connections send their last
            // events (for at most 5 s, should a client not read).
            pthread_mutex_lock(&srv.sc.mu);
            for (int i = 0; i < 50 && srv.n_replies; i++)
                serve_wait(&srv.sc, &srv.sc.progress, 100);
            pthread_mutex_unlock(&srv.sc.mu);
            MHD_stop_daemon(d);
            fprintf(stderr, "calm: stopped\n");
        }
        serve_sched_free(&srv.sc);
    }
    calm_tokenizer_free(&tok);
    calm_model_free(&m);
    return rc;
}
