#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { ARG_FLAG, ARG_INT, ARG_FLOAT, ARG_STRING, ARG_LIST } arg_kind;

// One option, as ggml-cpu's type traits describe a type: parsing and --help read only this.
typedef struct {
    const char *l, *s;   // long and short name (s may be NULL)
    arg_kind kind;       // what follows it: nothing (a flag), an int, a float, text, a list of ints
    size_t at;           // where the value goes: offsetof(calm_opts, ...)
    int flag;            // ARG_FLAG: the int it stores (1, or 0 for --no-...)
    double lo, hi;       // ARG_INT, ARG_FLOAT, ARG_LIST: the accepted range
    const char *expects; // ARG_INT, ARG_LIST: what the error says it wants, when not the range
    void (*set)(calm_opts *o, double v); // ARG_INT: stores the value where `at` cannot
    int alone;        // valid only as the whole command line (inspect --system): no model then
    const char *arg;  // the value's name in --help
    const char *help; // the rest of its --help line
    unsigned cmds;    // the commands that take it (CALM_CMD_* bits)
} opt;

#define AT(f) offsetof(calm_opts, f)

static void set_seed(calm_opts *o, double v) {
    o->sp.seed = (uint64_t)v;
}

// Groups of commands: GEN generate text (and can --calibrate first; calm serve takes the sampling
// options as the defaults of its requests), SEARCH run the CALM search (GEN through --calibrate),
// QUANT take the algorithm options, CALIB read calibration text; ALL is every bit up to
// CALM_CMD_SERVE, the last.
enum {
    GEN = CALM_CMD_RUN | CALM_CMD_CHAT | CALM_CMD_SERVE,
    SEARCH = GEN | CALM_CMD_CALIBRATE,
    QUANT = CALM_CMD_CALIBRATE | CALM_CMD_QUANTIZE,
    CALIB = SEARCH | CALM_CMD_QUANTIZE,
    ALL = (CALM_CMD_SERVE << 1) - 1,
};

// One option per row: its names and help text, then how it is parsed and who takes it.
// clang-format off
static const opt opts[] = {
    {.l = "--model", .s = "-m", .help = "model: a .gguf file or a Hugging Face directory",
     .kind = ARG_STRING, .at = AT(model), .arg = "PATH", .cmds = ALL},
    {.l = "--prompt", .s = "-p", .help = "prompt text",
     .kind = ARG_STRING, .at = AT(prompt), .arg = "TEXT", .cmds = CALM_CMD_RUN | CALM_CMD_TOKENIZE},
    {.l = "--n-prompt", .s = "-p", .help = "prompt tokens of the pp test (default 512)",
     .kind = ARG_INT, .at = AT(bench.pp), .lo = 0, .hi = 1 << 20, .expects = "a count", .arg = "N",
     .cmds = CALM_CMD_BENCH},
    {.l = "--file", .s = "-f", .help = "text file",
     .kind = ARG_STRING, .at = AT(file), .arg = "FILE",
     .cmds = CALM_CMD_PERPLEXITY | CALM_CMD_TOKENIZE},
    {.l = "--output", .s = "-o", .help = "output path",
     .kind = ARG_STRING, .at = AT(out), .arg = "PATH", .cmds = CALM_CMD_CONVERT | QUANT},
    {.l = "--n-predict", .s = "-n", .help = "tokens to generate (default 256)",
     .kind = ARG_INT, .at = AT(n_predict), .lo = 0, .hi = 1 << 30, .arg = "N", .cmds = GEN},
    {.l = "--n-gen", .s = "-n", .help = "tokens of the tg test (default 128)",
     .kind = ARG_INT, .at = AT(bench.tg), .lo = 0, .hi = 1 << 20, .expects = "a count", .arg = "N",
     .cmds = CALM_CMD_BENCH},
    {.l = "--repetitions", .s = "-r", .help = "repetitions of each test (default 5)",
     .kind = ARG_INT, .at = AT(bench.reps), .lo = 1, .hi = 1 << 20, .expects = "a count",
     .arg = "N", .cmds = CALM_CMD_BENCH},
    {.l = "--threads", .s = "-t", .help = "threads (default: physical cores)",
     .kind = ARG_INT, .at = AT(threads), .lo = 1, .hi = 1024, .arg = "N",
     .cmds = GEN | CALM_CMD_PERPLEXITY | QUANT},
    {.l = "--threads", .s = "-t", .help = "thread counts, each measured (default: physical cores)",
     .kind = ARG_LIST, .at = AT(bench.threads), .lo = 1, .hi = 4096,
     .expects = "a list like 1,2,4", .arg = "LIST", .cmds = CALM_CMD_BENCH},
    {.l = "--ctx-size", .s = "-c", .help = "context size in tokens",
     .kind = ARG_INT, .at = AT(ctx), .lo = 8, .hi = 1 << 20, .arg = "N",
     .cmds = GEN | CALM_CMD_PERPLEXITY | QUANT},
    {.l = "--batch-size", .s = "-b", .help = "tokens per forward batch (default 512)",
     .kind = ARG_INT, .at = AT(batch), .lo = 1, .hi = 1 << 16, .arg = "N", .cmds = GEN},
    {.l = "--chunks", .help = "evaluate at most N chunks (default: all)",
     .kind = ARG_INT, .at = AT(chunks), .lo = 1, .hi = 1 << 30, .arg = "N",
     .cmds = CALM_CMD_PERPLEXITY},
    {.l = "--kl-base", .help = "save this model's next-token distributions to FILE (for --kl)",
     .kind = ARG_STRING, .at = AT(kl_base), .arg = "FILE", .cmds = CALM_CMD_PERPLEXITY},
    {.l = "--kl", .help = "KL divergence from the distributions saved by --kl-base in FILE",
     .kind = ARG_STRING, .at = AT(kl), .arg = "FILE", .cmds = CALM_CMD_PERPLEXITY},
    {.l = "--temp", .help = "temperature; 0 is greedy (default 0.8)",
     .kind = ARG_FLOAT, .at = AT(sp.temp), .lo = 0, .hi = 100, .arg = "T", .cmds = GEN},
    {.l = "--top-k", .help = "keep the K most likely tokens; 0 off (default 40)",
     .kind = ARG_INT, .at = AT(sp.top_k), .lo = 0, .hi = 1 << 30, .arg = "K", .cmds = GEN},
    {.l = "--top-p", .help = "nucleus sampling; 1 off (default 0.95)",
     .kind = ARG_FLOAT, .at = AT(sp.top_p), .lo = 0, .hi = 1, .arg = "P", .cmds = GEN},
    {.l = "--min-p", .help = "drop tokens below P x the top probability (default 0.05)",
     .kind = ARG_FLOAT, .at = AT(sp.min_p), .lo = 0, .hi = 1, .arg = "P", .cmds = GEN},
    {.l = "--repeat-penalty", .help = "penalise the last 64 tokens; 1 off (default 1.0)",
     .kind = ARG_FLOAT, .at = AT(sp.repeat_penalty), .lo = 0.01f, .hi = 100, .arg = "R",
     .cmds = GEN},
    {.l = "--seed", .help = "sampling seed (default 42)",
     .kind = ARG_INT, .set = set_seed, .lo = 0, .hi = 2147483647, .arg = "S", .cmds = GEN | QUANT},
    {.l = "--system", .help = "system prompt",
     .kind = ARG_STRING, .at = AT(system), .arg = "TEXT", .cmds = CALM_CMD_RUN | CALM_CMD_CHAT},
    {.l = "--system", .help = "the CPU features and the kernels chosen for them",
     .kind = ARG_FLAG, .at = AT(sys_info), .flag = 1, .alone = 1, .cmds = CALM_CMD_INSPECT},
    {.l = "--chat", .help = "wrap the prompt in the model's chat template",
     .kind = ARG_FLAG, .at = AT(chat), .flag = 1, .cmds = CALM_CMD_RUN},
    {.l = "--type",
     .help = "storage type: f32, f16, bf16, q4_0, qgB_G (convert); qgB_G, q4_0, q4_1, q8_0",
     .kind = ARG_STRING, .at = AT(type), .arg = "T", .cmds = CALM_CMD_CONVERT | QUANT},
    {.l = "--format", .help = "gguf (default) or hf",
     .kind = ARG_STRING, .at = AT(format), .arg = "F", .cmds = CALM_CMD_CONVERT},
    {.l = "--ids", .help = "print ids only",
     .kind = ARG_FLAG, .at = AT(show_ids), .flag = 1, .cmds = CALM_CMD_TOKENIZE},
    {.l = "--no-bos", .help = "do not add the BOS token even if the model asks for it",
     .kind = ARG_FLAG, .at = AT(add_bos), .flag = 0,
     .cmds = CALM_CMD_RUN | CALM_CMD_PERPLEXITY | CALM_CMD_TOKENIZE},
    {.l = "--no-parse-special", .help = "treat special-token text as plain text",
     .kind = ARG_FLAG, .at = AT(parse_special), .flag = 0, .cmds = CALM_CMD_TOKENIZE},
    {.l = "--tensors", .help = "list every tensor",
     .kind = ARG_FLAG, .at = AT(tensors), .flag = 1, .cmds = CALM_CMD_INSPECT},
    {.l = "--algo", .help = "rtn, gptq, awq, smoothquant, hadamard or hero (default rtn)",
     .kind = ARG_STRING, .at = AT(algo), .arg = "NAME", .cmds = CALM_CMD_QUANTIZE},
    {.l = "--bits", .help = "weight bits: 2, 3, 4 or 8 (default 4)",
     .kind = ARG_INT, .at = AT(bits), .lo = 2, .hi = 8, .arg = "B", .cmds = CALIB},
    {.l = "--group", .help = "weights per scale: 32, 64 or 128 (default 128)",
     .kind = ARG_INT, .at = AT(group), .lo = 32, .hi = 128, .arg = "G", .cmds = CALIB},
    {.l = "--sym", .help = "symmetric grid (no offset per group)",
     .kind = ARG_FLAG, .at = AT(sym), .flag = 1, .cmds = QUANT},
    {.l = "--act-order", .help = "GPTQ: columns by decreasing Hessian diagonal",
     .kind = ARG_FLAG, .at = AT(act_order), .flag = 1, .cmds = QUANT},
    {.l = "--alpha", .help = "SmoothQuant migration strength (default 0.5)",
     .kind = ARG_FLOAT, .at = AT(alpha), .lo = 0, .hi = 1, .arg = "A", .cmds = QUANT},
    {.l = "--no-clip", .help = "AWQ: no clipping search",
     .kind = ARG_FLAG, .at = AT(no_clip), .flag = 1, .cmds = QUANT},
    {.l = "--data", .help = "calibration text (e.g. wikitext-2 calib.raw)",
     .kind = ARG_STRING, .at = AT(data), .arg = "FILE", .cmds = CALIB},
    {.l = "--samples", .help = "calibration windows (default 128)",
     .kind = ARG_INT, .at = AT(samples), .lo = 1, .hi = 1 << 20, .arg = "N", .cmds = CALIB},
    {.l = "--holdout", .help = "CALM search: further windows it scores on (default samples/4)",
     .kind = ARG_INT, .at = AT(holdout), .lo = 0, .hi = 1 << 20, .arg = "N", .cmds = SEARCH},
    {.l = "--embd-type", .help = "type of token_embd/output: q8_0 (default), q4_0, f16, f32",
     .kind = ARG_STRING, .at = AT(embd_type), .arg = "T", .cmds = CALIB},
    {.l = "--pool", .help = "algorithms to choose from (default rtn,gptq,awq,hadamard,hero)",
     .kind = ARG_STRING, .at = AT(pool), .arg = "LIST", .cmds = SEARCH},
    {.l = "--granularity",
     .help = "block (default: one algorithm per layer) or linear (per matrix)",
     .kind = ARG_STRING, .at = AT(granularity), .arg = "G", .cmds = SEARCH},
    {.l = "--score",
     .help = "what ranks candidates: cka (default) or error (relative squared error)",
     .kind = ARG_STRING, .at = AT(score), .arg = "S", .cmds = SEARCH},
    {.l = "--target-bpw", .help = "mixed bit widths per layer under this average bits per weight",
     .kind = ARG_FLOAT, .at = AT(target_bpw), .lo = 2, .hi = 9, .arg = "X", .cmds = SEARCH},
    {.l = "--host", .help = "address to listen on (default 127.0.0.1: this machine only)",
     .kind = ARG_STRING, .at = AT(serve.host), .arg = "ADDR", .cmds = CALM_CMD_SERVE},
    {.l = "--port", .help = "port to listen on; 0 picks a free one (default 8080)",
     .kind = ARG_INT, .at = AT(serve.port), .lo = 0, .hi = 65535, .arg = "N",
     .cmds = CALM_CMD_SERVE},
    {.l = "--parallel", .help = "slots: requests generated at once, each its own -c (default 4)",
     .kind = ARG_INT, .at = AT(serve.parallel), .lo = 1, .hi = 256, .arg = "N",
     .cmds = CALM_CMD_SERVE},
    {.l = "--api-key", .help = "clients must send Authorization: Bearer KEY (all but /health)",
     .kind = ARG_STRING, .at = AT(serve.api_key), .arg = "KEY", .cmds = CALM_CMD_SERVE},
    {.l = "--calibrate", .help = "calibrate the model first (cached next to it), then use it",
     .kind = ARG_FLAG, .at = AT(calibrate), .flag = 1, .cmds = GEN},
};
// clang-format on

#define N_OPTS (sizeof opts / sizeof opts[0])

static void defaults(calm_opts *o) {
    memset(o, 0, sizeof *o);
    o->n_predict = 256;
    o->batch = 512;
    o->add_bos = 1;
    o->parse_special = 1;
    o->type = "f32";
    o->format = "gguf";
    o->sp = calm_sampler_defaults();
    o->algo = "rtn";
    o->bits = 4;
    o->group = 128;
    o->samples = 128;
    o->holdout = -1;
    o->alpha = 0.5f;
    o->embd_type = "q8_0";
    o->pool = "rtn,gptq,awq,hadamard,hero";
    o->granularity = "block";
    o->score = "cka";
    o->bench.pp = 512;
    o->bench.tg = 128;
    o->bench.reps = 5;
    o->serve.host = "127.0.0.1";
    o->serve.port = 8080;
    o->serve.parallel = 4;
}

// The entry for argument a that cmd takes; else *named gets an entry of that name that another
// command takes (or NULL when no option has that name).
static const opt *find(const char *a, const calm_cmd *cmd, const opt **named) {
    *named = NULL;
    for (size_t k = 0; k < N_OPTS; k++) {
        if ((!opts[k].s || strcmp(a, opts[k].s)) && strcmp(a, opts[k].l)) continue;
        if (opts[k].cmds & cmd->id) return &opts[k];
        *named = &opts[k];
    }
    return NULL;
}

static void usage(const calm_cmd *cmd) {
    printf("usage: calm %s %s\n\n%s\n\noptions:\n", cmd->name, cmd->usage, cmd->help);
    for (size_t i = 0; i < N_OPTS; i++) {
        const opt *p = &opts[i];
        if (!(p->cmds & cmd->id)) continue;
        char left[64];
        snprintf(left, sizeof left, "%s%s%s %s", p->s ? p->s : "", p->s ? ", " : "", p->l,
                 p->arg ? p->arg : "");
        printf("  %-28s %s\n", left, p->help);
    }
    printf("  %-28s %s\n", "-h, --help", "show this help");
}

static int bad_value(const opt *p, const char *name, const char *v) {
    if (p->expects)
        fprintf(stderr, "error: %s expects %s, got '%s'\n", name, p->expects, v);
    else if (p->kind == ARG_INT)
        fprintf(stderr, "error: %s expects an integer in [%d, %d], got '%s'\n", name, (int)p->lo,
                (int)p->hi, v);
    else
        fprintf(stderr, "error: %s expects a number in [%g, %g], got '%s'\n", name, p->lo, p->hi,
                v);
    return -1;
}

static int parse_int(const char *v, const opt *p, long *out, char **end) {
    errno = 0;
    *out = strtol(v, end, 10);
    return !errno && *end != v && *out >= p->lo && *out <= p->hi;
}

// Stores the value v of option p (spelled `name` on the command line) into o.
static int store(calm_opts *o, const opt *p, const char *name, const char *v) {
    char *dst = (char *)o + p->at, *end;
    long x;
    switch (p->kind) {
    case ARG_FLAG:
        *(int *)dst = p->flag;
        return 0;
    case ARG_STRING:
        *(const char **)dst = v;
        return 0;
    case ARG_INT:
        if (!parse_int(v, p, &x, &end) || *end) return bad_value(p, name, v);
        if (p->set)
            p->set(o, (double)x);
        else
            *(int *)dst = (int)x;
        return 0;
    case ARG_FLOAT: {
        float f = strtof(v, &end);
        if (*end || end == v || !(f >= p->lo && f <= p->hi)) return bad_value(p, name, v);
        *(float *)dst = f;
        return 0;
    }
    case ARG_LIST: {
        calm_int_list *l = (calm_int_list *)dst;
        l->n = 0;
        for (const char *s = v; *s && l->n < 16; s = end + 1) { // the first 16 count
            if (!parse_int(s, p, &x, &end) || (*end && *end != ',')) return bad_value(p, name, v);
            l->v[l->n++] = (int)x;
            if (!*end) break;
        }
        return l->n ? 0 : bad_value(p, name, v);
    }
    }
    return -1;
}

int calm_parse_opts(int argc, char **argv, calm_opts *o, const calm_cmd *cmd) {
    defaults(o);
    const opt *named, *model = find("--model", cmd, &named);
    int alone = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(cmd);
            return 1;
        }
        const opt *p = find(a, cmd, &named);
        if (!p && named) {
            fprintf(stderr, "error: calm %s does not take %s\n", cmd->name, named->l);
            return -1;
        }
        // A single positional argument names the model (calm inspect MODEL); any other, or a
        // second model, is an error rather than silently replacing the first.
        if ((p == model || (!p && a[0] != '-')) && model && o->model) {
            fprintf(stderr, "error: calm %s: unexpected argument '%s' (the model is '%s')\n",
                    cmd->name, p ? argv[i + 1 < argc ? i + 1 : i] : a, o->model);
            return -1;
        }
        if (!p) {
            if (a[0] != '-' && model) {
                o->model = a;
                continue;
            }
            fprintf(stderr, "error: calm %s: %s '%s' (see calm %s --help)\n", cmd->name,
                    a[0] == '-' ? "unknown option" : "unexpected argument", a, cmd->name);
            return -1;
        }
        if (p->alone && argc != 2) {
            fprintf(stderr, "error: calm %s does not take %s\n", cmd->name, p->l);
            return -1;
        }
        alone |= p->alone;
        const char *v = NULL;
        if (p->kind != ARG_FLAG) {
            if (i + 1 >= argc) {
                fprintf(stderr, "error: %s needs a value (%s)\n", a, p->arg);
                return -1;
            }
            v = argv[++i];
        }
        if (store(o, p, a, v)) return -1;
    }
    if (model && !o->model && !alone) {
        fprintf(stderr, "error: calm %s: no model given (-m PATH; see calm %s --help)\n", cmd->name,
                cmd->name);
        return -1;
    }
    if (cmd->needs && !*(const char **)((const char *)o + cmd->needs_at)) {
        fprintf(stderr, "error: calm %s: %s\n", cmd->name, cmd->needs);
        return -1;
    }
    return 0;
}
