#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../formats/hf.h"
#include "../runtime/generate.h"

static const struct opt {
    const char *s, *l, *arg, *help;
} opts[] = {
    {"-m", "--model", "PATH", "model: a .gguf file or a Hugging Face directory"},
    {"-p", "--prompt", "TEXT", "prompt text"},
    {"-f", "--file", "FILE", "text file"},
    {"-o", "--output", "PATH", "output path"},
    {"-n", "--n-predict", "N", "tokens to generate (default 256)"},
    {"-t", "--threads", "N", "threads (default: physical cores)"},
    {"-c", "--ctx-size", "N", "context size in tokens"},
    {"-b", "--batch-size", "N", "tokens per forward batch (default 512)"},
    {NULL, "--chunks", "N", "evaluate at most N chunks (default: all)"},
    {NULL, "--temp", "T", "temperature; 0 is greedy (default 0.8)"},
    {NULL, "--top-k", "K", "keep the K most likely tokens; 0 off (default 40)"},
    {NULL, "--top-p", "P", "nucleus sampling; 1 off (default 0.95)"},
    {NULL, "--min-p", "P", "drop tokens below P x the top probability (default 0.05)"},
    {NULL, "--repeat-penalty", "R", "penalise the last 64 tokens; 1 off (default 1.0)"},
    {NULL, "--seed", "S", "sampling seed (default 42)"},
    {NULL, "--system", "TEXT", "system prompt"},
    {NULL, "--chat", NULL, "wrap the prompt in the model's chat template"},
    {NULL, "--type", "T", "storage type: f32, f16, bf16, qgB_G (convert); qgB_G, q4_0, q4_1, q8_0"},
    {NULL, "--format", "F", "gguf (default) or hf"},
    {NULL, "--ids", NULL, "print ids only"},
    {NULL, "--no-bos", NULL, "do not add the BOS token even if the model asks for it"},
    {NULL, "--no-parse-special", NULL, "treat special-token text as plain text"},
    {NULL, "--tensors", NULL, "list every tensor"},
    {NULL, "--algo", "NAME", "rtn, gptq, awq, smoothquant, hadamard or hero (default rtn)"},
    {NULL, "--bits", "B", "weight bits: 2, 3, 4 or 8 (default 4)"},
    {NULL, "--group", "G", "weights per scale: 32, 64 or 128 (default 128)"},
    {NULL, "--sym", NULL, "symmetric grid (no offset per group)"},
    {NULL, "--act-order", NULL, "GPTQ: columns by decreasing Hessian diagonal"},
    {NULL, "--alpha", "A", "SmoothQuant migration strength (default 0.5)"},
    {NULL, "--no-clip", NULL, "AWQ: no clipping search"},
    {NULL, "--data", "FILE", "calibration text (e.g. wikitext-2 calib.raw)"},
    {NULL, "--samples", "N", "calibration windows (default 128)"},
    {NULL, "--holdout", "N", "CALM search: further windows it scores on (default samples/4)"},
    {NULL, "--embd-type", "T", "type of token_embd/output: q8_0 (default), q4_0, f16, f32"},
    {NULL, "--pool", "LIST", "algorithms to choose from (default rtn,gptq,awq,hadamard,hero)"},
    {NULL, "--granularity", "G", "block (default: one algorithm per layer) or linear (per matrix)"},
    {NULL, "--score", "S",
     "what ranks candidates: cka (default) or error (relative squared error)"},
    {NULL, "--target-bpw", "X", "mixed bit widths per layer under this average bits per weight"},
    {NULL, "--calibrate", NULL, "calibrate the model first (cached next to it), then use it"},
};

static int allowed_opt(const char *allowed, const struct opt *o) {
    const char *name = o->l + 2;
    size_t n = strlen(name);
    for (const char *p = allowed; (p = strstr(p, name)); p += n)
        if ((p == allowed || p[-1] == ' ') && (p[n] == ' ' || p[n] == 0)) return 1;
    return 0;
}

static void usage(const calm_cmd_doc *doc, const char *allowed) {
    printf("usage: calm %s %s\n\n%s\n\noptions:\n", doc->name, doc->usage, doc->help);
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        if (!allowed_opt(allowed, &opts[i])) continue;
        char left[64];
        snprintf(left, sizeof left, "%s%s%s %s", opts[i].s ? opts[i].s : "", opts[i].s ? ", " : "",
                 opts[i].l, opts[i].arg ? opts[i].arg : "");
        printf("  %-28s %s\n", left, opts[i].help);
    }
    printf("  %-28s %s\n", "-h, --help", "show this help");
}

static int to_int(const char *opt, const char *v, int lo, int hi, int *out) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || end == v || x < lo || x > hi) {
        fprintf(stderr, "error: %s expects an integer in [%d, %d], got '%s'\n", opt, lo, hi, v);
        return -1;
    }
    *out = (int)x;
    return 0;
}

static int to_float(const char *opt, const char *v, float lo, float hi, float *out) {
    char *end;
    float x = strtof(v, &end);
    if (*end || end == v || !(x >= lo && x <= hi)) {
        fprintf(stderr, "error: %s expects a number in [%g, %g], got '%s'\n", opt, lo, hi, v);
        return -1;
    }
    *out = x;
    return 0;
}

int calm_parse_opts(int argc, char **argv, calm_opts *o, const calm_cmd_doc *doc,
                    const char *allowed) {
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
    int positional = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(doc, allowed);
            return 1;
        }
        const struct opt *op = NULL;
        for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++)
            if ((opts[k].s && !strcmp(a, opts[k].s)) || !strcmp(a, opts[k].l)) op = &opts[k];
        if (!op) {
            // A single positional argument names the model (calm inspect MODEL).
            if (a[0] != '-' && !positional && strstr(allowed, "model")) {
                o->model = a;
                positional = 1;
                continue;
            }
            fprintf(stderr, "error: calm %s: unknown option '%s' (see calm %s --help)\n", doc->name,
                    a, doc->name);
            return -1;
        }
        if (!allowed_opt(allowed, op)) {
            fprintf(stderr, "error: calm %s does not take %s\n", doc->name, op->l);
            return -1;
        }
        const char *v = NULL;
        if (op->arg) {
            if (i + 1 >= argc) {
                fprintf(stderr, "error: %s needs a value (%s)\n", a, op->arg);
                return -1;
            }
            v = argv[++i];
        }
        const char *l = op->l;
        int rc = 0;
        if (!strcmp(l, "--model"))
            o->model = v;
        else if (!strcmp(l, "--prompt"))
            o->prompt = v;
        else if (!strcmp(l, "--file"))
            o->file = v;
        else if (!strcmp(l, "--output"))
            o->out = v;
        else if (!strcmp(l, "--system"))
            o->system = v;
        else if (!strcmp(l, "--type"))
            o->type = v;
        else if (!strcmp(l, "--format"))
            o->format = v;
        else if (!strcmp(l, "--n-predict"))
            rc = to_int(a, v, 0, 1 << 30, &o->n_predict);
        else if (!strcmp(l, "--threads"))
            rc = to_int(a, v, 1, 1024, &o->threads);
        else if (!strcmp(l, "--ctx-size"))
            rc = to_int(a, v, 8, 1 << 20, &o->ctx);
        else if (!strcmp(l, "--batch-size"))
            rc = to_int(a, v, 1, 1 << 16, &o->batch);
        else if (!strcmp(l, "--chunks"))
            rc = to_int(a, v, 1, 1 << 30, &o->chunks);
        else if (!strcmp(l, "--temp"))
            rc = to_float(a, v, 0, 100, &o->sp.temp);
        else if (!strcmp(l, "--top-k"))
            rc = to_int(a, v, 0, 1 << 30, &o->sp.top_k);
        else if (!strcmp(l, "--top-p"))
            rc = to_float(a, v, 0, 1, &o->sp.top_p);
        else if (!strcmp(l, "--min-p"))
            rc = to_float(a, v, 0, 1, &o->sp.min_p);
        else if (!strcmp(l, "--repeat-penalty"))
            rc = to_float(a, v, 0.01f, 100, &o->sp.repeat_penalty);
        else if (!strcmp(l, "--seed")) {
            int s;
            rc = to_int(a, v, 0, 2147483647, &s);
            o->sp.seed = (uint64_t)s;
        } else if (!strcmp(l, "--chat"))
            o->chat = 1;
        else if (!strcmp(l, "--ids"))
            o->show_ids = 1;
        else if (!strcmp(l, "--no-bos"))
            o->add_bos = 0;
        else if (!strcmp(l, "--no-parse-special"))
            o->parse_special = 0;
        else if (!strcmp(l, "--tensors"))
            o->tensors = 1;
        else if (!strcmp(l, "--algo"))
            o->algo = v;
        else if (!strcmp(l, "--bits"))
            rc = to_int(a, v, 2, 8, &o->bits);
        else if (!strcmp(l, "--group"))
            rc = to_int(a, v, 32, 128, &o->group);
        else if (!strcmp(l, "--sym"))
            o->sym = 1;
        else if (!strcmp(l, "--act-order"))
            o->act_order = 1;
        else if (!strcmp(l, "--alpha"))
            rc = to_float(a, v, 0, 1, &o->alpha);
        else if (!strcmp(l, "--no-clip"))
            o->no_clip = 1;
        else if (!strcmp(l, "--data"))
            o->data = v;
        else if (!strcmp(l, "--samples"))
            rc = to_int(a, v, 1, 1 << 20, &o->samples);
        else if (!strcmp(l, "--holdout"))
            rc = to_int(a, v, 0, 1 << 20, &o->holdout);
        else if (!strcmp(l, "--embd-type"))
            o->embd_type = v;
        else if (!strcmp(l, "--pool"))
            o->pool = v;
        else if (!strcmp(l, "--granularity"))
            o->granularity = v;
        else if (!strcmp(l, "--score"))
            o->score = v;
        else if (!strcmp(l, "--target-bpw"))
            rc = to_float(a, v, 2, 9, &o->target_bpw);
        else if (!strcmp(l, "--calibrate"))
            o->calibrate = 1;
        if (rc) return -1;
    }
    if (strstr(allowed, "model") && !o->model) {
        fprintf(stderr, "error: calm %s: no model given (-m PATH; see calm %s --help)\n", doc->name,
                doc->name);
        return -1;
    }
    return 0;
}

int calm_tokenizer_load(const calm_model *m, calm_tokenizer *t, calm_err *e) {
    if (m->hf) return calm_hf_tokenizer(m->hf, t, e);
    return calm_tokenizer_from_gguf(t, &m->gguf, e);
}

int calm_load(const char *path, calm_model *m, calm_tokenizer *t) {
    double t0 = calm_now();
    calm_err e;
    if (calm_model_load(m, path, &e)) {
        fprintf(stderr, "error: %s\n", e.msg);
        return -1;
    }
    if ((t && calm_tokenizer_load(m, t, &e)) || calm_model_pack(m, &e)) {
        fprintf(stderr, "error: %s\n", e.msg);
        calm_model_free(m);
        return -1;
    }
    fprintf(stderr, "calm: loaded %s (%s, %d layers, dim %d) in %.0f ms\n", path, m->cfg.arch,
            m->cfg.n_layers, m->cfg.dim, 1e3 * (calm_now() - t0));
    return 0;
}

char *calm_read_file(const char *path, size_t *n, calm_err *e) {
    FILE *f = fopen(path, "rb");
    if (!f) return calm_fail(e, "%s: cannot open: %s", path, strerror(errno)), NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 65536 + 1 > cap) {
            cap = (len + 65536 + 1) * 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return calm_fail(e, "%s: out of memory", path), NULL;
            }
            buf = nb;
        }
        size_t r = fread(buf + len, 1, 65536, f);
        len += r;
        if (r < 65536) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return calm_fail(e, "%s: read error", path), NULL;
    }
    buf[len] = 0;
    *n = len;
    return buf;
}
