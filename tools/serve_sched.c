#include "serve_sched.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int serve_sched_init(serve_sched *sc, const calm_model *m, const calm_tokenizer *tok, int n_slots,
                     int seq_len, int chunk, calm_err *e) {
    memset(sc, 0, sizeof *sc);
    sc->m = m;
    sc->tok = tok;
    sc->chunk = chunk;
    sc->slots = calloc((size_t)n_slots, sizeof *sc->slots);
    if (!sc->slots) return calm_fail(e, "out of memory for %d slots", n_slots);
    for (int i = 0; i < n_slots; i++, sc->n_slots++)
        if (calm_state_init(&sc->slots[i].s, m, seq_len, chunk, e)) {
            serve_sched_free(sc);
            return -1;
        }
    pthread_mutex_init(&sc->mu, NULL);
    pthread_cond_init(&sc->work, NULL);
    pthread_cond_init(&sc->progress, NULL);
    return 0;
}

void serve_sched_free(serve_sched *sc) {
    for (int i = 0; i < sc->n_slots; i++) {
        calm_state_free(&sc->slots[i].s);
        calm_sampler_free(&sc->slots[i].smp);
    }
    free(sc->slots);
    if (sc->n_slots) {
        pthread_mutex_destroy(&sc->mu);
        pthread_cond_destroy(&sc->work);
        pthread_cond_destroy(&sc->progress);
    }
    memset(sc, 0, sizeof *sc);
}

serve_job *serve_job_new(int *prompt, int n_prompt) {
    serve_job *j = calloc(1, sizeof *j);
    char *text = malloc(256);
    if (!j || !text) {
        free(j);
        free(text);
        return NULL;
    }
    text[0] = 0;
    j->text = text;
    j->cap = 256;
    j->prompt = prompt;
    j->n_prompt = n_prompt;
    j->refs = 1;
    return j;
}

static void job_free(serve_job *j) {
    for (int i = 0; i < j->n_stop; i++) free(j->stop[i]);
    free(j->stop);
    free(j->prompt);
    free(j->text);
    free(j);
}

void serve_job_release(serve_sched *sc, serve_job *j) {
    pthread_mutex_lock(&sc->mu);
    int last = --j->refs == 0;
    pthread_mutex_unlock(&sc->mu);
    if (last) job_free(j);
}

int serve_submit(serve_sched *sc, serve_job *j) {
    pthread_mutex_lock(&sc->mu);
    int ok = !sc->stopping;
    if (ok) {
        j->refs++;
        if (sc->tail)
            sc->tail->next = j;
        else
            sc->head = j;
        sc->tail = j;
        sc->n_queued++;
        pthread_cond_signal(&sc->work);
    }
    pthread_mutex_unlock(&sc->mu);
    return ok ? 0 : -1;
}

void serve_cancel(serve_sched *sc, serve_job *j) {
    pthread_mutex_lock(&sc->mu);
    j->cancelled = 1;
    pthread_cond_signal(&sc->work);
    pthread_mutex_unlock(&sc->mu);
}

// Under the mutex: j's text is complete; wakes its client and drops the scheduler's reference.
static void finish(serve_sched *sc, serve_job *j, const char *why) {
    j->done = 1;
    j->finish = why;
    j->ready = j->len;
    pthread_cond_broadcast(&sc->progress);
    if (--j->refs == 0) job_free(j);
}

// Under the mutex: appends text to j, then ends it at the first stop string, or else makes final
// all of it but the longest tail that a stop string could still begin with. 0, or -1 when memory
// runs out.
static int append(serve_job *j, const char *text, size_t n, int *stopped) {
    if (j->len + n + 1 > j->cap) {
        size_t cap = (j->len + n + 1) * 2;
        char *t = realloc(j->text, cap);
        if (!t) return -1;
        j->text = t;
        j->cap = cap;
    }
    memcpy(j->text + j->len, text, n);
    j->len += n;
    j->text[j->len] = 0;
    *stopped = 0;
    size_t hold = 0;
    for (int i = 0; i < j->n_stop; i++) {
        // A stop string cannot begin in the final bytes (the held-back tail saw to that).
        char *at = strstr(j->text + j->ready, j->stop[i]);
        if (at) { // the text is cut there, so a later match can only be earlier
            j->len = (size_t)(at - j->text);
            j->text[j->len] = 0;
            *stopped = 1;
        }
    }
    if (*stopped) return 0;
    for (int i = 0; i < j->n_stop; i++) {
        size_t sl = strlen(j->stop[i]);
        for (size_t k = sl - 1; k > hold; k--)
            if (k <= j->len - j->ready && !memcmp(j->text + j->len - k, j->stop[i], k)) {
                hold = k;
                break;
            }
    }
    j->ready = j->len - hold;
    return 0;
}

// Under the mutex: takes queued jobs into free slots and frees the slots of cancelled jobs.
static void admit(serve_sched *sc) {
    for (int i = 0; i < sc->n_slots; i++) {
        serve_slot *sl = &sc->slots[i];
        if (sl->job && sl->job->cancelled) {
            finish(sc, sl->job, "cancelled");
            sl->job = NULL;
            sc->n_active--;
        }
    }
    // Cancelled jobs leave the queue without taking a slot.
    for (serve_job **p = &sc->head; *p;) {
        serve_job *j = *p;
        if (!j->cancelled) {
            p = &j->next;
            continue;
        }
        *p = j->next;
        sc->n_queued--;
        finish(sc, j, "cancelled");
    }
    sc->tail = NULL;
    for (serve_job *j = sc->head; j; j = j->next) sc->tail = j;
    for (int i = 0; i < sc->n_slots && sc->head; i++) {
        serve_slot *sl = &sc->slots[i];
        if (sl->job) continue;
        serve_job *j = sc->head;
        sc->head = j->next;
        if (!sc->head) sc->tail = NULL;
        j->next = NULL;
        sc->n_queued--;
        calm_sampler_free(&sl->smp);
        if (calm_sampler_init(&sl->smp, j->sp, sc->m->cfg.vocab_size)) {
            finish(sc, j, "cancelled");
            continue;
        }
        for (int t = 0; t < j->n_prompt; t++) calm_sampler_accept(&sl->smp, j->prompt[t]);
        sl->s.kv.n = 0; // a new conversation: the cache starts empty
        sl->fed = 0;
        sl->u = (calm_utf8_stream){0};
        sl->job = j;
        sc->n_active++;
    }
}

// One slot's part of a step: n tokens into its cache, and the logits of the last one.
typedef struct {
    serve_slot *slot;
    const int *tokens;
    int n;
    float *logits;
} step_part;

// Runs every part's tokens through the model. Each slot has its own cache, so the parts are
// independent: today one forward pass each, in turn; a batched forward over all slots' caches
// takes this function's place without changing the scheduler around it.
static int run_parts(step_part *parts, int n, calm_err *e) {
    for (int i = 0; i < n; i++) {
        parts[i].logits = calm_forward(&parts[i].slot->s, parts[i].tokens, parts[i].n, 0, e);
        if (!parts[i].logits) return -1;
    }
    return 0;
}

// Under the mutex: the token that the step's logits give slot sl, into its job's text.
static void take_token(serve_sched *sc, serve_slot *sl, float *logits) {
    serve_job *j = sl->job;
    int next = calm_sample(&sl->smp, logits);
    calm_sampler_accept(&sl->smp, next);
    j->n_gen++;
    const char *why = NULL;
    if (calm_token_is_eog(sc->tok, next)) {
        why = "stop";
    } else {
        char piece[512], text[600];
        int n = calm_token_piece(sc->tok, next, 0, piece, (int)sizeof piece);
        int k = calm_utf8_stream_push(&sl->u, piece, n, text);
        int stopped;
        if (append(j, text, (size_t)k, &stopped))
            why = "length"; // out of memory: end with the text so far
        else if (stopped)
            why = "stop";
        else if (j->n_gen >= j->max_tokens || sl->s.kv.n >= sl->s.kv.seq_len)
            why = "length";
    }
    if (why) {
        finish(sc, j, why);
        sl->job = NULL;
        sc->n_active--;
    } else {
        sl->next = next;
        pthread_cond_broadcast(&sc->progress);
    }
}

// Under the mutex: every job, queued or running, ends as "cancelled".
static void cancel_all(serve_sched *sc) {
    sc->stopping = 1;
    for (serve_job *j = sc->head; j; j = j->next) j->cancelled = 1;
    for (int i = 0; i < sc->n_slots; i++)
        if (sc->slots[i].job) sc->slots[i].job->cancelled = 1;
    admit(sc);
}

void serve_wait(serve_sched *sc, pthread_cond_t *cv, int ms) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_nsec += ms * 1000000L;
    t.tv_sec += t.tv_nsec / 1000000000L;
    t.tv_nsec %= 1000000000L;
    pthread_cond_timedwait(cv, &sc->mu, &t);
}

int serve_sched_run(serve_sched *sc, const volatile sig_atomic_t *stop) {
    step_part *parts = malloc((size_t)sc->n_slots * sizeof *parts);
    if (!parts) {
        fprintf(stderr, "error: out of memory for the scheduler\n");
        return -1;
    }
    int rc = 0;
    pthread_mutex_lock(&sc->mu);
    while (!*stop) {
        admit(sc);
        if (!sc->n_active) {
            // Idle: wait for a job, waking now and then to see the stop flag (a signal handler
            // cannot signal a condition variable).
            serve_wait(sc, &sc->work, 100);
            continue;
        }
        int n = 0;
        for (int i = 0; i < sc->n_slots; i++) {
            serve_slot *sl = &sc->slots[i];
            if (!sl->job) continue;
            step_part *p = &parts[n++];
            p->slot = sl;
            if (sl->fed < sl->job->n_prompt) { // the prompt, a chunk at a time
                p->tokens = sl->job->prompt + sl->fed;
                p->n = sl->job->n_prompt - sl->fed < sc->chunk ? sl->job->n_prompt - sl->fed
                                                               : sc->chunk;
                sl->fed += p->n;
            } else {
                p->tokens = &sl->next;
                p->n = 1;
            }
        }
        // The slots' jobs stay put while the mutex is released: only this thread frees slots.
        pthread_mutex_unlock(&sc->mu);
        calm_err e;
        int bad = run_parts(parts, n, &e);
        pthread_mutex_lock(&sc->mu);
        if (bad) {
            fprintf(stderr, "error: %s\n", e.msg);
            rc = -1;
            break;
        }
        for (int i = 0; i < n; i++) {
            serve_slot *sl = parts[i].slot;
            if (sl->fed == sl->job->n_prompt && !sl->job->cancelled)
                take_token(sc, sl, parts[i].logits);
        }
    }
    cancel_all(sc);
    pthread_mutex_unlock(&sc->mu);
    free(parts);
    return rc;
}
