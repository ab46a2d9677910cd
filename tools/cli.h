// The command line of the calm subcommands: the options struct every command reads, the table of
// options (cli.c) from which both parsing and --help are made, and the commands themselves.
#ifndef CALM_CLI_H
#define CALM_CLI_H

#include <stddef.h>

#include "../runtime/sampler.h"

// Up to 16 comma-separated integers (calm bench -t 1,2,4).
typedef struct {
    int v[16];
    int n;
} calm_int_list;

typedef struct {
    const char *model, *prompt, *file, *out, *system, *type, *format;
    int n_predict, threads, ctx, batch, chunks, add_bos, parse_special, show_ids, tensors, chat;
    int sys_info;             // inspect --system
    const char *kl_base, *kl; // perplexity: write / read the base model's distributions
    // quantize / calibrate
    const char *algo, *data, *pool, *granularity, *embd_type;
    int bits, group, sym, act_order, no_clip, samples, holdout, calibrate;
    const char *score;
    float alpha, target_bpw;
    calm_sampler_params sp;
    struct {
        int pp, tg, reps;
        calm_int_list threads;
    } bench;
    struct {
        const char *host, *api_key;
        int port, parallel;
    } serve;
} calm_opts;

// One bit per command: the set of commands that take an option.
enum {
    CALM_CMD_RUN = 1u << 0,
    CALM_CMD_CHAT = 1u << 1,
    CALM_CMD_PERPLEXITY = 1u << 2,
    CALM_CMD_BENCH = 1u << 3,
    CALM_CMD_TOKENIZE = 1u << 4,
    CALM_CMD_CONVERT = 1u << 5,
    CALM_CMD_CALIBRATE = 1u << 6,
    CALM_CMD_QUANTIZE = 1u << 7,
    CALM_CMD_INSPECT = 1u << 8,
    CALM_CMD_SERVE = 1u << 9,
};

// A subcommand: its name and one-line summary (calm --help), its usage line and help text
// (calm NAME --help), its bit in the option table, what it does with the parsed options (the
// process's exit code: 0, 1 on a failure, 2 on a usage error), and the option besides the model
// it cannot run without.
typedef struct {
    const char *name, *summary, *usage, *help;
    unsigned id;
    int (*run)(const calm_opts *o);
    const char *needs; // NULL, or what is missing when the text option at needs_at is not given
    size_t needs_at;   // offsetof(calm_opts, ...)
} calm_cmd;

// Parses argv[1..] for cmd into o (the defaults first, then the options cmd takes); prints the
// usage and returns 1 for --help, -1 after a one-line error on stderr for an unknown option, one
// cmd does not take, a missing or malformed value, a missing model or cmd->needs, and 0
// otherwise.
int calm_parse_opts(int argc, char **argv, calm_opts *o, const calm_cmd *cmd);

// The commands (tools/cmd_NAME.c), each given the options parsed for it.
int cmd_run(const calm_opts *o);
int cmd_chat(const calm_opts *o);
int cmd_perplexity(const calm_opts *o);
int cmd_bench(const calm_opts *o);
int cmd_tokenize(const calm_opts *o);
int cmd_convert(const calm_opts *o);
int cmd_calibrate(const calm_opts *o);
int cmd_quantize(const calm_opts *o);
int cmd_inspect(const calm_opts *o);
int cmd_serve(const calm_opts *o);

#endif
