// Writes calm's reference files with llama.cpp (built by make_refs.sh): token ids of tricky
// strings, top-k logits over a stretch of eval.raw, and a greedy continuation.
// Usage: llama_ref MODEL.gguf EVAL_TEXT OUT_DIR
#include <llama.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_POS    384 // positions of eval.raw whose logits are kept
#define TOP_K    64
#define N_GREEDY 48

static const char *strings[] = {
    "Hello world",
    " Hello world",
    "hello  world   with    runs of     spaces",
    "\n\n\nnew\nlines\r\n\tand tabs\t\t",
    "1234567890 3.14159 1,000,000 2024-11-24",
    "I'm sure you've seen what they'd do, we'll see, it's OK, DON'T",
    "caf\xc3\xa9 na\xc3\xafve \xc3\xbc"
    "ber Stra\xc3\x9f"
    "e",
    "\xe4\xbd\xa0\xe5\xa5\xbd\xef\xbc\x8c\xe4\xb8\x96\xe7\x95\x8c",              // Chinese
    "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xd0\xbc\xd0\xb8\xd1\x80", // Russian
    "emoji \xf0\x9f\x98\x80\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd and \xe2\x9c\x93",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "<|endoftext|>text after special<|im_end|>",
    "def f(x):\n    return x**2  # square\n",
    "   leading and trailing   ",
    "a",
    " ",
    "",
    "$$$ ### @@@ !!! ??? ... --- ___",
    "https://example.com/path?query=1&b=2",
    "The quick brown fox jumps over the lazy dog.",
};

static void fail(const char *m) {
    fprintf(stderr, "llama_ref: %s\n", m);
    exit(1);
}

static int tokenize(const struct llama_vocab *v, const char *s, int n, llama_token *out, int cap) {
    int k = llama_tokenize(v, s, n, out, cap, true, true);
    if (k < 0) fail("tokenize overflow");
    return k;
}

int main(int argc, char **argv) {
    if (argc != 4) fail("usage: llama_ref MODEL.gguf EVAL_TEXT OUT_DIR");
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    struct llama_model *model = llama_model_load_from_file(argv[1], mp);
    if (!model) fail("cannot load model");
    const struct llama_vocab *vocab = llama_model_get_vocab(model);
    int V = llama_vocab_n_tokens(vocab);
    char path[4096];
    static llama_token toks[1 << 16];

    snprintf(path, sizeof path, "%s/tokens.tsv", argv[3]);
    FILE *f = fopen(path, "w");
    if (!f) fail("cannot write tokens.tsv");
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        int n = tokenize(vocab, strings[i], (int)strlen(strings[i]), toks, 1 << 16);
        for (const char *p = strings[i]; *p; p++) fprintf(f, "%02x", (unsigned char)*p);
        fputc('\t', f);
        for (int k = 0; k < n; k++) fprintf(f, "%s%d", k ? " " : "", toks[k]);
        fputc('\n', f);
    }
    fclose(f);

    // The first N_POS tokens of the evaluation text, in one batch, all logits.
    FILE *ef = fopen(argv[2], "rb");
    if (!ef) fail("cannot open eval text");
    static char text[1 << 16];
    size_t tl = fread(text, 1, sizeof text - 1, ef);
    fclose(ef);
    int n = tokenize(vocab, text, (int)tl, toks, 1 << 16);
    if (n < N_POS) fail("eval text too short");
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = 1024;
    cp.n_batch = 1024;
    cp.n_ubatch = 1024;
    cp.type_k = GGML_TYPE_F32; // an exact cache, as calm's reference path keeps
    cp.type_v = GGML_TYPE_F32;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    struct llama_context *ctx = llama_init_from_model(model, cp);
    if (!ctx) fail("cannot create context");
    struct llama_batch b = llama_batch_init(N_POS, 0, 1);
    for (int i = 0; i < N_POS; i++) {
        b.token[i] = toks[i];
        b.pos[i] = i;
        b.n_seq_id[i] = 1;
        b.seq_id[i][0] = 0;
        b.logits[i] = 1;
    }
    b.n_tokens = N_POS;
    if (llama_decode(ctx, b)) fail("decode failed");
    snprintf(path, sizeof path, "%s/logits.bin", argv[3]);
    f = fopen(path, "wb");
    if (!f) fail("cannot write logits.bin");
    int hdr[4] = {N_POS, TOP_K, V, 0};
    fwrite("CLGT", 1, 4, f);
    fwrite(hdr, 4, 4, f);
    fwrite(toks, 4, N_POS, f);
    for (int i = 0; i < N_POS; i++) {
        const float *l = llama_get_logits_ith(ctx, i);
        float mx = l[0];
        for (int j = 1; j < V; j++) mx = l[j] > mx ? l[j] : mx;
        double s = 0;
        for (int j = 0; j < V; j++) s += exp((double)(l[j] - mx));
        float lse = (float)(mx + log(s));
        fwrite(&lse, 4, 1, f);
        // top-k by repeated selection (k is small)
        static char used[1 << 20];
        memset(used, 0, (size_t)V);
        for (int k = 0; k < TOP_K; k++) {
            int best = -1;
            for (int j = 0; j < V; j++)
                if (!used[j] && (best < 0 || l[j] > l[best])) best = j;
            used[best] = 1;
            fwrite(&best, 4, 1, f);
            fwrite(&l[best], 4, 1, f);
        }
    }
    fclose(f);
    llama_batch_free(b);

    // Greedy continuation of a prompt.
    llama_memory_clear(llama_get_memory(ctx), true);
    const char *prompt =
        "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n";
    int np = tokenize(vocab, prompt, (int)strlen(prompt), toks, 1 << 16);
    snprintf(path, sizeof path, "%s/greedy.txt", argv[3]);
    f = fopen(path, "w");
    if (!f) fail("cannot write greedy.txt");
    for (const char *p = prompt; *p; p++) fprintf(f, "%02x", (unsigned char)*p);
    fputc('\t', f);
    struct llama_batch one = llama_batch_get_one(toks, np);
    for (int i = 0; i < N_GREEDY; i++) {
        if (llama_decode(ctx, one)) fail("decode failed");
        const float *l = llama_get_logits_ith(ctx, -1);
        llama_token best = 0;
        for (int j = 1; j < V; j++)
            if (l[j] > l[best]) best = j;
        fprintf(f, "%s%d", i ? " " : "", best);
        toks[np + i] = best;
        one = llama_batch_get_one(&toks[np + i], 1);
    }
    fputc('\n', f);
    fclose(f);
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    return 0;
}
