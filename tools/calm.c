// calm: calibrate and run quantized LLMs on the CPU.
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
    const char *name, *help;
    int (*fn)(int, char **);
} cmds[] = {
    {"run", "generate text from a prompt", cmd_run},
    {"chat", "interactive chat with the model's chat template", cmd_chat},
    {"perplexity", "perplexity of a text file, as llama-perplexity computes it", cmd_perplexity},
    {"bench", "prompt processing and generation speed, like llama-bench", cmd_bench},
    {"tokenize", "print the token ids of a text", cmd_tokenize},
    {"convert", "write a model as f32/f16/bf16 GGUF or Hugging Face directory", cmd_convert},
    {"calibrate", "the CALM search: the best algorithm per layer by CKA, one hybrid file",
     cmd_calibrate},
    {"quantize", "quantize a full-precision model with one PTQ algorithm", cmd_quantize},
    {"inspect", "metadata and tensors of a model", cmd_inspect},
};

int main(int argc, char **argv) {
    int n = (int)(sizeof cmds / sizeof cmds[0]);
    if (argc >= 2 && argv[1][0] != '-')
        for (int i = 0; i < n; i++)
            if (!strcmp(argv[1], cmds[i].name)) return cmds[i].fn(argc - 1, argv + 1);
    int help = argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"));
    if (argc >= 2 && !help) fprintf(stderr, "error: unknown command '%s'\n\n", argv[1]);
    FILE *o = help ? stdout : stderr;
    fprintf(o, "usage: calm <command> [options]   (calm <command> --help for its options)\n\n"
               "commands:\n");
    for (int i = 0; i < n; i++) fprintf(o, "  %-12s %s\n", cmds[i].name, cmds[i].help);
    return help ? 0 : 2;
}
