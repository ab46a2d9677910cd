// calm serve's scheduler: N slots, each with its own KV cache (a calm_state) and sampler, and the
// queue of requests waiting for one. One thread (the one that loaded the model) runs it; the HTTP
// threads submit jobs and wait for their text.
#ifndef CALM_SERVE_SCHED_H
#define CALM_SERVE_SCHED_H

#include <pthread.h>
#include <signal.h>
#include <stddef.h>

#include "../runtime/forward.h"
#include "../runtime/sampler.h"
#include "../runtime/tokenizer.h"

// One request's generation. The HTTP thread fills the request part, submits it, and then reads
// the progress part under the scheduler's mutex; the scheduler writes it. Both hold a reference;
// the last serve_job_release frees it.
typedef struct serve_job {
    // the request: read-only once submitted
    int *prompt; // owned
    int n_prompt, max_tokens;
    calm_sampler_params sp;
    char **stop; // owned, n_stop strings that end the text (not included in it)
    int n_stop;
    // progress, under the mutex
    char *text;         // the generated text so far (NUL-terminated)
    size_t len, cap;    // its length and allocation
    size_t ready;       // the leading bytes that are final (no stop string can begin in them)
    int n_gen;          // tokens generated
    int done;           // the text is complete: finish says why
    const char *finish; // "stop", "length", or "cancelled" (the server stopped)
    int cancelled;      // the client went away: the scheduler frees its slot at the next step
    int refs;
    struct serve_job *next; // in the queue
} serve_job;

typedef struct {
    calm_state s;
    calm_sampler smp;
    serve_job *job; // NULL when the slot is free
    int fed;        // prompt tokens already in the cache
    int next;       // the sampled token the next step feeds
    calm_utf8_stream u;
} serve_slot;

typedef struct {
    const calm_model *m;
    const calm_tokenizer *tok;
    serve_slot *slots;
    int n_slots, chunk; // chunk: the most prompt tokens one slot feeds in one step
    pthread_mutex_t mu;
    pthread_cond_t work;     // a job was queued or cancelled
    pthread_cond_t progress; // some job has more text or is done
    serve_job *head, *tail;  // queued jobs, oldest first
    int n_queued, n_active;
    int stopping; // no new jobs are taken
} serve_sched;

// Makes n_slots slots of seq_len tokens each, feeding prompts in chunks of up to chunk tokens
// (also the states' batch size). -1 with e set when memory runs out.
int serve_sched_init(serve_sched *sc, const calm_model *m, const calm_tokenizer *tok, int n_slots,
                     int seq_len, int chunk, calm_err *e);
void serve_sched_free(serve_sched *sc);

// A job for prompt (taken over) with refs 1 (the caller's); NULL when memory runs out.
serve_job *serve_job_new(int *prompt, int n_prompt);
// Drops one reference; the last frees the job.
void serve_job_release(serve_sched *sc, serve_job *j);

// Queues j (taking a second reference for the scheduler). 0, or -1 when the server is stopping
// (j is untouched then).
int serve_submit(serve_sched *sc, serve_job *j);
// The client of j went away: its slot is freed at the next step (or it leaves the queue).
void serve_cancel(serve_sched *sc, serve_job *j);

// Under sc->mu: waits on cv for at most ms milliseconds (less when it is signalled).
void serve_wait(serve_sched *sc, pthread_cond_t *cv, int ms);

// Runs the scheduler until *stop becomes non-zero (a signal handler's flag), then finishes every
// queued and running job as "cancelled" so that their clients get a final event. Between steps it
// takes queued jobs into free slots and drops cancelled ones; each step runs the next tokens of
// every active slot. Returns 0, or -1 after printing an error when a forward pass fails.
int serve_sched_run(serve_sched *sc, const volatile sig_atomic_t *stop);

#endif
