// calm calibrate: the CALM search, and the cached calibration behind `calm chat --calibrate`.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "calibrate.h"
#include "cli.h"
#include "load.h"
#include "outfile.h"
#include "quant_opts.h"
#include "../formats/gguf.h"
#include "../kernels/types.h"
#include "../quant/search.h"
#include "../runtime/generate.h"
#include "../runtime/threads.h"

int calm_search_opts_from(const calm_opts *o, calm_search_opts *so) {
    calm_err e;
    memset(so, 0, sizeof *so);
    if (calm_parse_pool(o->pool, so, &e)) {
        fprintf(stderr, "error: --pool: %s (rtn, gptq, awq, smoothquant, hadamard, hero)\n", e.msg);
        return -1;
    }
    if (!strcmp(o->granularity, "block"))
        so->grain = CALM_GRAIN_BLOCK;
    else if (!strcmp(o->granularity, "linear"))
        so->grain = CALM_GRAIN_LINEAR;
    else {
        fprintf(stderr, "error: --granularity must be block or linear, not '%s'\n", o->granularity);
        return -1;
    }
    if (!strcmp(o->score, "cka") || !strcmp(o->score, "error"))
        so->score = o->score[0] == 'e' ? CALM_SCORE_ERROR : CALM_SCORE_CKA;
    else {
        fprintf(stderr, "error: --score must be cka or error, not '%s'\n", o->score);
        return -1;
    }
    so->bits = o->bits, so->group = o->group, so->target_bpw = o->target_bpw;
    if (o->type && strcmp(o->type, "f32")) { // --type q4_0 etc.: ggml types, llama.cpp-loadable
        int t = calm_pick_type(o, "");
        if (t < 0) return -1;
        so->type = (uint32_t)t;
        if (o->target_bpw > 0) {
            fprintf(stderr, "error: --target-bpw mixes calm's qgB_G widths; leave out --type\n");
            return -1;
        }
    }
    if (calm_type_qg(so->bits, so->group) < 0) {
        fprintf(stderr, "error: --bits must be 2, 3, 4 or 8 and --group 32, 64 or 128\n");
        return -1;
    }
    if (calm_qopts_from(o, (uint32_t)calm_type_qg(so->bits, so->group), &so->base) ||
        calm_pick_embd_type(o->embd_type, &so->embd_type))
        return -1;
    // Held-out windows: the algorithms fit the --samples windows, CKA is measured on others.
    int holdout = o->holdout >= 0 ? o->holdout : (o->samples / 4 > 0 ? o->samples / 4 : 1);
    so->calib = (calm_calib_opts){o->samples, o->ctx ? o->ctx : 512, o->sp.seed, holdout};
    so->data = o->data;
    if (!so->data) {
        fprintf(stderr, "error: calibration needs text: --data FILE (e.g. "
                        "../shared/data/wikitext-2/calib.raw)\n");
        return -1;
    }
    return 0;
}

int calm_calibrate_to(const calm_model *m, const calm_tokenizer *t, const calm_search_opts *so,
                      const char *out, const char *final) {
    calm_err e;
    double t0 = calm_now();
    if (calm_search(m, t, so, out, &e)) {
        fprintf(stderr, "error: %s\n", e.msg);
        return -1;
    }
    struct stat st;
    double mb = stat(out, &st) == 0 ? (double)st.st_size / 1e6 : 0;
    fprintf(stderr, "calm: wrote %s in %.1f s (%.1f MB); `calm inspect %s` lists the choices\n",
            final, calm_now() - t0, mb, final);
    return 0;
}

int cmd_calibrate(const calm_opts *o) {
    calm_search_opts so;
    if (calm_search_opts_from(o, &so)) return 2;
    calm_model m;
    calm_tokenizer t;
    calm_outfile out;
    if (calm_quant_begin(o, &out, &m, &t)) return 1;
    int rc = calm_outfile_end(&out, calm_calibrate_to(&m, &t, &so, out.tmp, o->out));
    calm_tokenizer_free(&t);
    calm_model_free(&m);
    return rc ? 1 : 0;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ ((const uint8_t *)p)[i]) * 1099511628211ull;
    return h;
}

// The cache key's text: calm's version, the model file and every option that changes calibration.
#define KEY_FORMAT "%s|%s|%lld|%lld|%s|%s|%s|%d|%d|%.3f|%d|%d|%d|%llu|%d|%s"
#define KEY_ARGS(o, co, so, ms)                                                                    \
    CALM_VERSION, (o)->model, (long long)(ms).st_size, (long long)(ms).st_mtime, (co).pool,        \
        (co).granularity, (co).score, (co).bits, (co).group, (co).target_bpw, (so).calib.samples,  \
        (so).calib.holdout, (so).calib.ctx, (unsigned long long)(so).calib.seed, (co).sym,         \
        (co).embd_type

int calm_calibrated_model(const calm_opts *o, char *path, size_t cap) {
    calm_opts co = *o;
    co.sp.seed = calm_sampler_defaults().seed; // the sampling seed does not change calibration
    calm_search_opts so;
    if (calm_search_opts_from(&co, &so)) return -1;
    // The cache key: calm's version, the model file, every option and the calibration text.
    struct stat ms;
    size_t n = 0;
    char *text = calm_read_text(so.data, &n);
    if (!text) return -1;
    if (stat(o->model, &ms) != 0) {
        fprintf(stderr, "error: cannot stat the model\n");
        free(text);
        return -1;
    }
    // The key is as long as the path and the option strings make it: sized first, then written.
    int k = snprintf(NULL, 0, KEY_FORMAT, KEY_ARGS(o, co, so, ms));
    char *key = k >= 0 ? malloc((size_t)k + 1) : NULL;
    if (!key) {
        fprintf(stderr, "error: out of memory\n");
        free(text);
        return -1;
    }
    snprintf(key, (size_t)k + 1, KEY_FORMAT, KEY_ARGS(o, co, so, ms));
    uint64_t h = fnv(fnv(1469598103934665603ull, key, (size_t)k), text, n);
    free(key);
    free(text);
    char base[1024];
    if (strlen(o->model) >= sizeof base - 32) {
        fprintf(stderr, "error: %.64s...: path too long for a calibration cache beside it\n",
                o->model);
        return -1;
    }
    snprintf(base, sizeof base, "%s", o->model);
    size_t bl = strlen(base);
    while (bl > 1 && base[bl - 1] == '/') base[--bl] = 0; // an HF directory given as dir/
    if (bl > 5 && !strcmp(base + bl - 5, ".gguf")) base[bl - 5] = 0;
    snprintf(path, cap, "%s.calm-%016llx.gguf", base, (unsigned long long)h);
    // A cache that does not open whole (truncated, say) is calibrated again, never trusted.
    struct stat cs;
    if (stat(path, &cs) == 0) {
        gguf_file g;
        calm_err ge;
        if (gguf_open(&g, path, &ge) == 0) {
            gguf_close(&g);
            fprintf(stderr, "calm: using the calibration cached in %s\n", path);
            return 0;
        }
        fprintf(stderr, "calm: the cached calibration is unreadable (%s); calibrating again\n",
                ge.msg);
    }
    fprintf(stderr, "calm: calibrating %s once; the result is cached in %s\n", o->model, path);
    calm_outfile out;
    if (calm_outfile_begin(&out, path, 0, NULL, 0)) return -1;
    calm_threads_init(o->threads);
    calm_model m;
    calm_tokenizer t;
    if (calm_load(o->model, &m, &t)) return -1;
    int rc = calm_outfile_end(&out, calm_calibrate_to(&m, &t, &so, out.tmp, path));
    calm_tokenizer_free(&t);
    calm_model_free(&m);
    return rc;
}
