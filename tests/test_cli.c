// The calm binary as a user meets it: --help everywhere, clear one-line errors, exit codes.
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/gguf.h"
#include "helpers.h"

#define CALIB_TEXT CALM_SOURCE_DIR "/../shared/data/wikitext-2/calib.raw"

static char out[65536], err[8192];

static int lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

// A command line that is wrong, and what its one-line error says.
typedef struct {
    const char *args, *says;
} usage_error;

static void expect_usage_errors(const usage_error *q, size_t n) {
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(th_calm(q[i].args, out, sizeof out, err, sizeof err), 2, "%s: %s", q[i].args,
                     err);
        cr_assert(strstr(err, q[i].says) && lines(err) == 1, "%s: %s", q[i].args, err);
    }
}

Test(cli, help_on_every_command) {
    const char *cmds[] = {"run",     "chat",  "perplexity", "tokenize",  "convert",
                          "inspect", "bench", "quantize",   "calibrate", "serve"};
    for (int i = 0; i < 10; i++) {
        char a[64];
        snprintf(a, sizeof a, "%s --help", cmds[i]);
        cr_assert_eq(th_calm(a, out, sizeof out, err, sizeof err), 0, "%s", a);
        cr_assert(strstr(out, "usage: calm"), "%s: %s", a, out);
    }
    cr_assert_eq(th_calm("--help", out, sizeof out, err, sizeof err), 0);
    cr_assert_eq(th_calm("frobnicate", out, sizeof out, err, sizeof err), 2);
    cr_assert(strstr(err, "unknown command 'frobnicate'"));
}

Test(cli, bad_options) {
    cr_assert_eq(th_calm("run -m x.gguf -p hi --temp hot", out, sizeof out, err, sizeof err), 2);
    cr_assert(strstr(err, "--temp expects a number"), "%s", err);
    cr_assert_eq(th_calm("run -p hi", out, sizeof out, err, sizeof err), 2);
    cr_assert(strstr(err, "no model given"), "%s", err);
    cr_assert_eq(th_calm("inspect --bogus x", out, sizeof out, err, sizeof err), 2);
    cr_assert_eq(th_calm("convert -m " CALM_MODEL_Q41 " -o /tmp/x --type q9", out, sizeof out, err,
                         sizeof err),
                 2);
    cr_assert(strstr(err, "--type must be"), "%s", err);
    // quantize and calibrate: one line naming what is missing or wrong
    static const usage_error q[] = {
        {"quantize -m x.gguf --algo magic -o y.gguf", "unknown --algo 'magic'"},
        {"quantize -m x.gguf --algo gptq -o y.gguf", "gptq needs calibration text"},
        {"quantize -m x.gguf --algo rtn", "no output"},
        {"quantize -m x.gguf --algo rtn --bits 5 -o y.gguf", "--bits must be"},
        {"quantize -m x.gguf --algo rtn --bits 9 -o y.gguf", "--bits expects an integer"},
        {"calibrate -m x.gguf -o y.gguf", "--data FILE"},
        {"calibrate -m x.gguf --data d --pool rtn,magic -o y.gguf", "unknown algorithm 'magic'"},
        {"calibrate -m x.gguf --data d --granularity layer -o y.gguf", "--granularity must be"},
        {"calibrate -m x.gguf --data d --score mse -o y.gguf", "--score must be cka or error"},
        {"calibrate -m x.gguf --data d --target-bpw 1 -o y.gguf", "--target-bpw expects"},
    };
    expect_usage_errors(q, sizeof q / sizeof q[0]);
    // a missing calibration file is named
    cr_assert_eq(th_calm("quantize -m " CALM_MODEL_Q41 " --algo gptq --data /nonexistent.txt -o "
                         "/tmp/calm-never.gguf",
                         out, sizeof out, err, sizeof err),
                 1);
    cr_assert(strstr(err, "/nonexistent.txt"), "%s", err);
}

// Parsing and --help both come from the option table: an unknown option, one that another
// command takes, a missing or malformed value, each one line and exit code 2.
Test(cli, option_table) {
    static const usage_error q[] = {
        {"run -m x.gguf -p hi --bogus", "calm run: unknown option '--bogus'"},
        {"run -m x.gguf -p", "-p needs a value (TEXT)"},
        {"tokenize -m x.gguf -p hi --temp 0", "calm tokenize does not take --temp"},
        {"run -m x.gguf -p hi -n many", "-n expects an integer in [0, 1073741824]"},
        {"bench -m x.gguf -t 1,x", "-t expects a list like 1,2,4, got '1,x'"},
        {"bench -m x.gguf -r 0", "-r expects a count, got '0'"},
        {"inspect x.gguf --system", "calm inspect does not take --system"},
    };
    expect_usage_errors(q, sizeof q / sizeof q[0]);
    // each command's --help lists the options it takes, and only those
    cr_assert_eq(th_calm("bench --help", out, sizeof out, err, sizeof err), 0);
    cr_assert(strstr(out, "-t, --threads LIST") && !strstr(out, "--temp"), "%s", out);
    cr_assert_eq(th_calm("run --help", out, sizeof out, err, sizeof err), 0);
    cr_assert(strstr(out, "-p, --prompt TEXT") && strstr(out, "--temp T"), "%s", out);
    cr_assert(!strstr(out, "--n-prompt") && !strstr(out, "--format"), "%s", out);
}

Test(cli, bad_model_files) {
    cr_assert_eq(th_calm("run -m /nonexistent.gguf -p hi", out, sizeof out, err, sizeof err), 1);
    cr_assert(strstr(err, "/nonexistent.gguf: no such file"), "%s", err);
    cr_assert_eq(lines(err), 1, "one line: %s", err);
    // A truncated copy of the real model, and a file that is not GGUF at all.
    size_t n;
    char *m = th_read(CALM_MODEL_Q41, &n);
    char path[512];
    snprintf(path, sizeof path, "%s", th_tmp("trunc.gguf"));
    th_write(path, m, n / 3);
    char a[1024];
    snprintf(a, sizeof a, "run -m %s -p hi", path);
    cr_assert_eq(th_calm(a, out, sizeof out, err, sizeof err), 1);
    cr_assert(strstr(err, "trunc.gguf: truncated file"), "%s", err);
    cr_assert_eq(lines(err), 1, "one line: %s", err);
    th_write(path, "hello, I am text", 16);
    cr_assert_eq(th_calm(a, out, sizeof out, err, sizeof err), 1);
    cr_assert(strstr(err, "not a GGUF file"), "%s", err);
    free(m);
}

Test(cli, run_generates_and_reports_speed, .timeout = 300) {
    cr_assert_eq(th_calm("run -m " CALM_MODEL_Q41 " -p 'The capital of France is' -n 8 --temp 0",
                         out, sizeof out, err, sizeof err),
                 0, "%s", err);
    cr_assert(strstr(out, "The capital of France is Paris"), "%s", out);
    cr_assert(strstr(err, "tokens/s"), "%s", err);
}

Test(cli, chat_keeps_the_conversation, .timeout = 300) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "printf 'What is the capital of France?\\nAnd of Germany?\\n' | %s chat -m %s --temp "
             "0 -n 24 "
             ">%s 2>&1",
             CALM_BIN, CALM_MODEL_Q41, th_tmp("chat.txt"));
    cr_assert_eq(system(cmd), 0);
    char *o = th_read(th_tmp("chat.txt"), NULL);
    cr_assert(strstr(o, "Paris"), "%s", o);
    cr_assert(strstr(o, "Berlin"), "%s", o);
    free(o);
}

Test(cli, tokenize_and_inspect) {
    cr_assert_eq(th_calm("tokenize -m " CALM_MODEL_Q41 " -p 'Hello world' --ids", out, sizeof out,
                         err, sizeof err),
                 0);
    cr_assert_str_eq(out, "[19556, 905]\n");
    cr_assert_eq(th_calm("inspect " CALM_MODEL_Q41, out, sizeof out, err, sizeof err), 0);
    cr_assert(strstr(out, "layers 30, dim 576"), "%s", out);
    cr_assert(strstr(out, "q4_1: 210"), "%s", out);
    cr_assert_eq(th_calm("inspect --system", out, sizeof out, err, sizeof err), 0);
    cr_assert(strstr(out, "kernels chosen:"), "%s", out);
}

Test(cli, convert_to_calm_group_format_and_run, .timeout = 300) {
    char a[1024];
    snprintf(a, sizeof a, "convert -m %s -o %s --type qg8_128", CALM_MODEL_Q41, th_tmp("qg8.gguf"));
    cr_assert_eq(th_calm(a, out, sizeof out, err, sizeof err), 0, "%s", err);
    snprintf(a, sizeof a, "run -m %s -p 'The capital of France is' -n 6 --temp 0",
             th_tmp("qg8.gguf"));
    cr_assert_eq(th_calm(a, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_assert(strstr(out, "Paris"), "%s", out);
    cr_assert_eq(th_calm("convert -m x -o y --type qg5_64", out, sizeof out, err, sizeof err), 2);
    cr_assert(strstr(err, "qgB_G"), "%s", err);
}

static long long size_of(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

// An output that is an input (the same file, here through a symlink) is refused before any work:
// writing it once truncated the mmapped model under the reader (SIGBUS) and lost it.
Test(cli, output_that_is_an_input_is_refused) {
    const char *link = th_tmp("same.gguf");
    unlink(link);
    cr_assert_eq(symlink(CALM_MODEL_Q41, link), 0);
    long long before = size_of(CALM_MODEL_Q41);
    char a[2048];
    snprintf(a, sizeof a, "quantize -m %s -o %s --algo rtn", link, link);
    cr_assert_eq(th_calm(a, out, sizeof out, err, sizeof err), 1, "%s", err);
    cr_assert(strstr(err, "the output is the input") && lines(err) == 1, "%s", err);
    snprintf(a, sizeof a, "calibrate -m %s --data %s -o %s", CALM_MODEL_Q41, CALIB_TEXT,
             CALM_MODEL_Q41);
    cr_assert_eq(th_calm(a, out, sizeof out, err, sizeof err), 1, "%s", err);
    cr_assert(strstr(err, "the output is the input"), "%s", err);
    snprintf(a, sizeof a, "convert -m %s -o %s", link, CALM_MODEL_Q41);
    cr_assert_eq(th_calm(a, out, sizeof out, err, sizeof err), 1, "%s", err);
    cr_assert(strstr(err, "the output is the input"), "%s", err);
    cr_assert_eq(size_of(CALM_MODEL_Q41), before);
    // the calibration text is an input too
    snprintf(a, sizeof a, "quantize -m %s --algo gptq --data %s -o %s", CALM_MODEL_Q41, CALIB_TEXT,
             CALIB_TEXT);
    cr_assert_eq(th_calm(a, out, sizeof out, err, sizeof err), 1, "%s", err);
    cr_assert(strstr(err, "the output is the input"), "%s", err);
}

// The output's directory is checked first, not after the whole quantization.
Test(cli, output_directory_is_checked_first) {
    cr_assert_eq(th_calm("quantize -m " CALM_MODEL_Q41 " --algo rtn -o /nonexistent/dir/x.gguf",
                         out, sizeof out, err, sizeof err),
                 1);
    cr_assert(strstr(err, "/nonexistent/dir/x.gguf: the directory /nonexistent/dir does not exist"),
              "%s", err);
    cr_assert(!strstr(err, "loaded"), "loaded the model first: %s", err);
    char a[1024];
    snprintf(a, sizeof a, "convert -m %s -o %s", CALM_MODEL_Q41, th_tmp(""));
    cr_assert_eq(th_calm(a, out, sizeof out, err, sizeof err), 1);
    cr_assert(strstr(err, "is a directory"), "%s", err);
}

// convert writes to a temporary name and renames it: an earlier output is replaced whole, and no
// temporary file stays behind.
Test(cli, outputs_are_renamed_into_place, .timeout = 300) {
    const char *dst = th_tmp("renamed.gguf");
    th_write(dst, "old", 3);
    char a[1024], part[600];
    snprintf(a, sizeof a, "convert -m %s -o %s --type f16", CALM_MODEL_Q41, dst);
    cr_assert_eq(th_calm(a, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_assert_gt(size_of(dst), 1000000);
    snprintf(part, sizeof part, "%s.part", dst);
    cr_assert_eq(size_of(part), -1, "%s left behind", part);
}

// --calibrate with a model path of ~600 characters (the cache key once over-read a 512-byte
// buffer), and a truncated cache file: calibrated again, not loaded.
Test(cli, calibration_cache_long_path_and_truncated_cache, .timeout = 600) {
    char dir[1024], cmd[2048];
    snprintf(dir, sizeof dir, "%s", th_tmp(""));
    for (int i = 0; i < 5; i++)
        strcat(dir,
               "/dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
               "dddddddddddddddddddddddddddddddddddddddd");
    snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
    cr_assert_eq(system(cmd), 0);
    char model[1200];
    snprintf(model, sizeof model, "%s/m.gguf", dir);
    cr_assert_eq(symlink(CALM_MODEL_F32, model), 0);
    cr_assert_gt(strlen(model), 600);
    char a[4096];
    snprintf(a, sizeof a, "run -m %s --calibrate --data %s --samples 2 -c 64 --pool rtn -p Hi -n 1",
             model, CALIB_TEXT);
    // calibrate, reuse; then with the cache cut to half: calibrate again, reuse
    static const char *const says[] = {"calibrating", "using the calibration cached in",
                                       "is unreadable (", "using the calibration cached in"};
    for (int i = 0; i < 4; i++) {
        snprintf(cmd, sizeof cmd,
                 "f=$(ls %s/m.calm-*.gguf) && truncate -s $(($(stat -c %%s $f) / 2)) $f", dir);
        cr_assert(i != 2 || system(cmd) == 0);
        cr_assert_eq(th_calm(a, out, sizeof out, err, sizeof err), 0, "%s", err);
        cr_assert(strstr(err, says[i]), "run %d: %s", i, err);
    }
    cr_assert(strstr(err, "calibrating again") == NULL);
}

// A FIFO given as the model is refused at once instead of blocking for a writer for ever.
Test(cli, fifo_model_is_refused, .timeout = 60) {
    const char *fifo = th_tmp("fifo.gguf");
    unlink(fifo);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    char a[1024];
    snprintf(a, sizeof a, "inspect %s", fifo);
    cr_assert_eq(th_calm(a, out, sizeof out, err, sizeof err), 1, "%s", err);
    cr_assert(strstr(err, "fifo.gguf: not a regular file") && lines(err) == 1, "%s", err);
}

// --samples far beyond what a short text holds is refused up front instead of growing memory
// without bound.
Test(cli, too_many_calibration_windows_are_refused, .timeout = 120) {
    const char *text = th_tmp("short.txt");
    const char *s = "The quick brown fox jumps over the lazy dog. It was a sunny day in the park.";
    th_write(text, s, strlen(s));
    char a[1024];
    snprintf(a, sizeof a, "calibrate -m %s --data %s --samples 1000000 -c 8 -o %s", CALM_MODEL_Q41,
             text, th_tmp("never.gguf"));
    cr_assert_eq(th_calm(a, out, sizeof out, err, sizeof err), 1, "%s", err);
    cr_assert(strstr(err, "short.txt: 1250000 windows of 8 tokens") && strstr(err, "--samples"),
              "%s", err);
}

// A stray positional argument once replaced -m (calm run -m A.gguf -p hi B.gguf ran B).
Test(cli, unexpected_arguments_are_errors) {
    static const usage_error q[] = {
        {"run -m A.gguf -p hi B.gguf",
         "calm run: unexpected argument 'B.gguf' (the model is 'A.gguf')"},
        {"inspect A.gguf B.gguf", "unexpected argument 'B.gguf'"},
        {"inspect A.gguf -m B.gguf", "unexpected argument 'B.gguf' (the model is 'A.gguf')"},
        {"run -m A.gguf -m B.gguf -p hi", "unexpected argument 'B.gguf'"},
    };
    expect_usage_errors(q, sizeof q / sizeof q[0]);
}

// A copy of the default model whose token list is the first n_tokens of its own (no scores or
// types), at path.
static void model_with_tokens(const char *path, int n_tokens) {
    gguf_file g;
    calm_err e;
    cr_assert_eq(gguf_open(&g, CALM_MODEL_Q41, &e), 0, "%s", e.msg);
    gguf_writer w;
    gguf_writer_init(&w);
    for (uint64_t i = 0; i < g.n_kv; i++) {
        gguf_str k = g.kv[i].key;
        if (k.len > 16 && !memcmp(k.ptr, "tokenizer.ggml.", 15) &&
            (gguf_str_eq(k, "tokenizer.ggml.tokens") || gguf_str_eq(k, "tokenizer.ggml.scores") ||
             gguf_str_eq(k, "tokenizer.ggml.token_type")))
            continue;
        gguf_w_copy(&w, &g.kv[i]);
    }
    const char *toks[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
    gguf_w_arr_str(&w, "tokenizer.ggml.tokens", toks, (uint64_t)n_tokens);
    char name[256];
    for (uint64_t i = 0; i < g.n_tensors; i++) {
        const gguf_tensor *t = &g.tensors[i];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        gguf_w_tensor(&w, name, t->type, t->ne, t->n_dims, t->data, t->nbytes);
    }
    cr_assert_eq(gguf_writer_write(&w, path, &e), 0, "%s", e.msg);
    gguf_writer_free(&w);
    gguf_close(&g);
}

// A 5-token list against the embedding's 49,152 rows once ran, printing nothing for most ids.
Test(cli, vocabulary_smaller_than_the_embedding_is_refused, .timeout = 120) {
    const char *path = th_tmp("five-tokens.gguf");
    model_with_tokens(path, 5);
    char a[1024];
    snprintf(a, sizeof a, "run -m %s -p abc -n 4", path);
    cr_assert_eq(th_calm(a, out, sizeof out, err, sizeof err), 1, "%s", err);
    cr_assert(
        strstr(err, "five-tokens.gguf: the vocabulary has 5 tokens and the embedding 49152 rows"),
        "%s", err);
}

// Quantizing an already quantized model says so (its rounding error is rounded again).
Test(cli, quantizing_a_quantized_model_warns, .timeout = 300) {
    char a[1024];
    snprintf(a, sizeof a, "quantize -m %s --algo rtn -o %s", CALM_MODEL_Q41, th_tmp("q2.gguf"));
    cr_assert_eq(th_calm(a, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_assert(strstr(err, "warning: " CALM_MODEL_Q41 " is already quantized"), "%s", err);
}

// Runs `calm chat ARGS` on the default model at temperature 0 with the shell command `input`
// feeding its stdin (it may signal calm, whose pid is in the file $PIDF, and watch its output
// grow in the file $OUTF); returns stdout and stderr together.
static char *chat(const char *input, const char *args) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "PIDF=%s; OUTF=%s; export PIDF OUTF; (%s) | sh -c 'echo $$ > %s; exec %s chat -m %s "
             "--temp 0 %s' >%s 2>&1",
             th_tmp("chat.pid"), th_tmp("chat-out.txt"), input, th_tmp("chat.pid"), CALM_BIN,
             CALM_MODEL_Q41, args, th_tmp("chat-out.txt"));
    cr_assert_neq(system(cmd), -1);
    return th_read(th_tmp("chat-out.txt"), NULL);
}

// A pasted text with a blank line once ended the chat; a line ending in \ goes on to the next.
Test(cli, chat_blank_lines_and_continued_lines, .timeout = 300) {
    char *o = chat("printf 'Hello\\n\\nWhat is the capital \\\\\\nof France?\\n'", "-n 16");
    cr_assert(strstr(o, "Paris"), "%s", o);
    free(o);
}

// Ctrl-C during an answer stops it and the chat goes on; a NUL byte is not cut silently; a
// context too small says how many tokens the message needs.
Test(cli, chat_interrupt_nul_and_small_context, .timeout = 300) {
    // The signal goes while the answer runs: once some 300 bytes of it are out (it is some 2,000
    // long), however fast the machine.
    char *o = chat("printf 'Count from 1 to 1000, one number per line.\\n'; "
                   "while [ $(cat $OUTF 2>/dev/null | wc -c) -lt 600 ]; do sleep 0.05; done; "
                   "kill -INT $(cat $PIDF); sleep 1; printf 'What is the capital of France?\\n'",
                   "-n 3000");
    cr_assert(strstr(o, "calm: stopped") && strstr(o, "Paris"), "%s", o);
    free(o);
    o = chat("printf 'What\\000 is this?\\nWhat is the capital of France?\\n'", "-n 16");
    cr_assert(strstr(o, "the message has a NUL byte at byte 4; it was not sent") &&
                  strstr(o, "Paris"),
              "%s", o);
    free(o);
    o = chat("printf 'hi\\n'", "-c 8");
    cr_assert(strstr(o, "this message needs") && strstr(o, "the context has 8 of 8 left"), "%s", o);
    free(o);
}

// A prompt as long as the context (8 tokens in -c 8) was refused; it leaves room to sample one
// token.
Test(cli, prompt_that_fills_the_context_runs) {
    const char *p = "'The capital of France is a city called'";
    char a[512];
    snprintf(a, sizeof a, "tokenize -m %s -p %s --ids", CALM_MODEL_Q41, p);
    cr_assert_eq(th_calm(a, out, sizeof out, err, sizeof err), 0);
    cr_assert_str_eq(out, "[504, 3575, 282, 4649, 314, 253, 2240, 1217]\n");
    snprintf(a, sizeof a, "run -m %s -p %s -c 8 -n 8 --temp 0", CALM_MODEL_Q41, p);
    cr_assert_eq(th_calm(a, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_assert(strstr(out, "a city called Paris"), "%s", out);
    snprintf(a, sizeof a, "run -m %s -p %s' and more' -c 8", CALM_MODEL_Q41, p);
    cr_assert_eq(th_calm(a, out, sizeof out, err, sizeof err), 1);
    cr_assert(strstr(err, "prompt of 10 tokens does not fit the context of 8"), "%s", err);
}

// A vocabulary-only GGUF (no tensors; here the default model's keys with architecture 'gpt2', as
// llama.cpp's ggml-vocab-*.gguf) tokenizes like the model and inspects.
Test(cli, vocabulary_only_files_tokenize_and_inspect) {
    gguf_file g;
    calm_err e;
    cr_assert_eq(gguf_open(&g, CALM_MODEL_Q41, &e), 0, "%s", e.msg);
    gguf_writer w;
    gguf_writer_init(&w);
    gguf_w_str(&w, "general.architecture", "gpt2");
    for (uint64_t i = 0; i < g.n_kv; i++)
        if (!gguf_str_eq(g.kv[i].key, "general.architecture")) gguf_w_copy(&w, &g.kv[i]);
    const char *path = th_tmp("vocab-only.gguf");
    cr_assert_eq(gguf_writer_write(&w, path, &e), 0, "%s", e.msg);
    gguf_writer_free(&w);
    gguf_close(&g);
    char a[1024], *want;
    const char *text = "'Hello world, naïve café 12345 <|im_end|>'";
    snprintf(a, sizeof a, "tokenize -m %s -p %s --ids", CALM_MODEL_Q41, text);
    cr_assert_eq(th_calm(a, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_assert_not_null(want = strdup(out));
    snprintf(a, sizeof a, "tokenize -m %s -p %s --ids", path, text);
    cr_assert_eq(th_calm(a, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(out, want);
    free(want);
    snprintf(a, sizeof a, "inspect %s", path);
    cr_assert_eq(th_calm(a, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_assert(strstr(out, "vocabulary only (no tensors), architecture 'gpt2'") &&
                  strstr(out, "49152 tokens, byte-level bpe, pre-tokenizer 'smollm'"),
              "%s", out);
}
