// calm: calibrate and run quantized LLMs on the CPU.
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

// The commands: what calm --help lists, and what calm NAME --help says (its help text as it
// prints, line by line).
// clang-format off
static const calm_cmd cmds[] = {
    {.name = "run", .id = CALM_CMD_RUN, .run = cmd_run,
     .summary = "generate text from a prompt",
     .usage = "-m MODEL -p PROMPT [options]",
     .help = "Generates text from PROMPT and streams it to stdout.",
     .needs = "no prompt (-p TEXT)", .needs_at = offsetof(calm_opts, prompt)},
    {.name = "chat", .id = CALM_CMD_CHAT, .run = cmd_chat,
     .summary = "interactive chat with the model's chat template",
     .usage = "-m MODEL [options]",
     .help =
        "Interactive chat. Type a message and press Enter; an empty line or Ctrl-D ends the chat,\n"
        "/reset starts a new conversation. With --calibrate (and --data FILE), MODEL is a\n"
        "full-precision model: it is calibrated once with calm calibrate's search, the result is\n"
        "cached next to it and reused, and the chat runs on the calibrated model."},
    {.name = "serve", .id = CALM_CMD_SERVE, .run = cmd_serve,
     .summary = "an OpenAI-compatible HTTP server",
     .usage = "-m MODEL [--host 127.0.0.1] [--port 8080] [--parallel 4] [-c 4096] [--api-key KEY]",
     .help = "Serves MODEL with the OpenAI API over HTTP: /v1/chat/completions (streaming too),\n"
             "/v1/completions, /v1/models, /health. --parallel requests run at once, each in a slot\n"
             "with a context of -c tokens; the sampling options are the requests' defaults and -n\n"
             "their max_tokens. SIGINT/SIGTERM stop it; running requests end as \"cancelled\"."},
    {.name = "perplexity", .id = CALM_CMD_PERPLEXITY, .run = cmd_perplexity,
     .summary = "perplexity of a text file, as llama-perplexity computes it",
     .usage = "-m MODEL -f FILE [-c 512] [--chunks N]",
     .help = "Perplexity of FILE, computed as llama-perplexity does.",
     .needs = "no text file (-f FILE)", .needs_at = offsetof(calm_opts, file)},
    {.name = "bench", .id = CALM_CMD_BENCH, .run = cmd_bench,
     .summary = "prompt processing and generation speed, like llama-bench",
     .usage = "-m MODEL [-p 512] [-n 128] [-r 5] [-t 1,2]",
     .help =
        "Measures prompt processing (a batch of -p tokens on an empty context) and generation\n"
        "(-n tokens one at a time) in tokens/s, -r repetitions each, for each thread count."},
    {.name = "tokenize", .id = CALM_CMD_TOKENIZE, .run = cmd_tokenize,
     .summary = "print the token ids of a text",
     .usage = "-m MODEL (-p TEXT | -f FILE) [--ids]",
     .help = "Prints each token id and its text, or with --ids a list."},
    {.name = "convert", .id = CALM_CMD_CONVERT, .run = cmd_convert,
     .summary = "write a model as f32/f16/bf16 GGUF or Hugging Face directory",
     .usage = "-m IN -o OUT [--type f32|f16|bf16|qgB_G] [--format gguf|hf]",
     .help =
        "Writes IN (GGUF or HF directory) with full-precision weights: a GGUF file, or with\n"
        "--format hf a directory with config.json, model.safetensors and the tokenizer files.\n"
        "--type qgB_G (B = 2, 3, 4, 8 bits; G = 32, 64, 128) rounds matrices to nearest into\n"
        "calm's group format (GGUF only; the PTQ algorithms are in calm quantize).",
     .needs = "no output (-o PATH)", .needs_at = offsetof(calm_opts, out)},
    {.name = "calibrate", .id = CALM_CMD_CALIBRATE, .run = cmd_calibrate,
     .summary = "the CALM search: the best algorithm per layer by CKA, one hybrid file",
     .usage = "-m FP_MODEL --data FILE -o OUT.gguf [--pool LIST] [--bits 4 | --target-bpw 3.5] "
              "[--granularity block|linear]",
     .help =
        "The CALM search. Layer by layer, every algorithm of the pool quantizes the layer; the\n"
        "quantized layer runs on the calibration inputs that the layers already chosen produce,\n"
        "and the one whose output keeps the highest linear CKA with the full-precision layer's\n"
        "output wins. The result is one GGUF with each layer in its winner's format; its metadata\n"
        "records the algorithm and CKA of every matrix. Then: calm chat -m OUT.gguf.\n"
        "With --type q4_0|q4_1|q8_0 and a pool without input transforms (rtn, gptq) every tensor\n"
        "keeps a ggml type and the file loads in llama.cpp too.",
     .needs = "no output (-o OUT.gguf)", .needs_at = offsetof(calm_opts, out)},
    {.name = "quantize", .id = CALM_CMD_QUANTIZE, .run = cmd_quantize,
     .summary = "quantize a full-precision model with one PTQ algorithm",
     .usage = "-m FP_MODEL --algo NAME [--bits B] [--group G] [--data FILE] -o OUT.gguf",
     .help =
        "Quantizes every matrix of every transformer block with one algorithm, layer by layer:\n"
        "each layer is quantized from the statistics of its inputs as the already quantized\n"
        "layers before it produce them. Algorithms: rtn, hadamard (no data needed); gptq, awq,\n"
        "smoothquant (W8A8) and hero (HeRo-Q) need --data. Weights go to calm's qgB_G formats\n"
        "(or --type q4_0, q4_1, q8_0); token_embd/output are rounded to --embd-type.",
     .needs = "no output (-o OUT.gguf)", .needs_at = offsetof(calm_opts, out)},
    {.name = "inspect", .id = CALM_CMD_INSPECT, .run = cmd_inspect,
     .summary = "metadata and tensors of a model",
     .usage = "MODEL [--tensors] | --system",
     .help = "Prints a model's hyper-parameters, metadata and tensors, or with\n"
        "--system the CPU features and the kernels chosen for them."},
};
// clang-format on

int main(int argc, char **argv) {
    int n = (int)(sizeof cmds / sizeof cmds[0]);
    if (argc >= 2 && argv[1][0] != '-')
        for (int i = 0; i < n; i++)
            if (!strcmp(argv[1], cmds[i].name)) {
                calm_opts o;
                int rc = calm_parse_opts(argc - 1, argv + 1, &o, &cmds[i]);
                return rc ? (rc > 0 ? 0 : 2) : cmds[i].run(&o);
            }
    int help = argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"));
    if (argc >= 2 && !help) fprintf(stderr, "error: unknown command '%s'\n\n", argv[1]);
    FILE *o = help ? stdout : stderr;
    fprintf(o, "usage: calm <command> [options]   (calm <command> --help for its options)\n\n"
               "commands:\n");
    for (int i = 0; i < n; i++) fprintf(o, "  %-12s %s\n", cmds[i].name, cmds[i].summary);
    return help ? 0 : 2;
}
