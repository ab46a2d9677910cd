// Shared option handling for the calm subcommands.
#ifndef CALM_CLI_H
#define CALM_CLI_H

#include "../runtime/forward.h"
#include "../runtime/model.h"
#include "../runtime/sampler.h"
#include "../runtime/tokenizer.h"

typedef struct {
    const char *model, *prompt, *file, *out, *system, *type, *format;
    int n_predict, threads, ctx, batch, chunks, add_bos, parse_special, show_ids, tensors, chat;
    // quantize / calibrate
    const char *algo, *data, *pool, *granularity, *embd_type;
    int bits, group, sym, act_order, no_clip, samples, holdout, calibrate;
    const char *score;
    float alpha, target_bpw;
    calm_sampler_params sp;
} calm_opts;

typedef struct {
    const char *name, *usage, *help;
} calm_cmd_doc;

// Parses argv[1..] into o; prints usage and returns 1 for --help, -1 (after an error line) on a
// bad option, 0 otherwise. `allowed` lists the option names this command takes.
int calm_parse_opts(int argc, char **argv, calm_opts *o, const calm_cmd_doc *doc,
                    const char *allowed);

// Loads model and tokenizer (t may be NULL), printing the load time to stderr, or the error
// ("error: ...") and -1.
int calm_load(const char *path, calm_model *m, calm_tokenizer *t);
int calm_tokenizer_load(const calm_model *m, calm_tokenizer *t, calm_err *e);
char *calm_read_file(const char *path, size_t *n, calm_err *e);

int cmd_run(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);

#endif
