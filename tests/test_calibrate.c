// calm calibrate on the default model with a small calibration set: the hybrid file, its
// metadata, bit allocation under --target-bpw, and the calibrate-once cache of --calibrate.
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "kernels/types.h"
#include "quant/model_quant.h"

#define CALIB CALM_SOURCE_DIR "/../shared/data/wikitext-2/calib.raw"

static char out[1 << 16], err[1 << 16];

// Calibrates the default model on 2 windows of 64 tokens with `opts` into a temporary file named
// `name` and loads the result into m.
static void calibrate_small(calm_model *m, const char *name, const char *opts) {
    const char *path = th_tmp(name);
    char args[2048];
    snprintf(args, sizeof args, "calibrate -m %s --data %s --samples 2 -c 64 %s -o %s",
             CALM_MODEL_F32, CALIB, opts, path);
    cr_assert_eq(th_calm(args, out, sizeof out, err, sizeof err), 0, "%s", err);
    calm_err e;
    cr_assert_eq(calm_model_load(m, path, &e), 0, "%s", e.msg);
}

Test(calibrate, hybrid_file_records_the_search) {
    const char *path = th_tmp("hybrid.gguf");
    char args[2048];
    snprintf(args, sizeof args, "calibrate -m %s --data %s --samples 2 -c 64 --pool rtn,gptq -o %s",
             CALM_MODEL_F32, CALIB, path);
    cr_assert_eq(th_calm(args, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_assert(strstr(err, "layer 29"), "no live table: %s", err);
    calm_model m;
    calm_err e;
    cr_assert_eq(calm_model_load(&m, path, &e), 0, "%s", e.msg);
    char s[128];
    uint32_t u;
    cr_assert_eq(gguf_get_str(&m.gguf, "calm.pool", s, sizeof s, NULL), 0);
    cr_assert_str_eq(s, "rtn,gptq");
    cr_assert_eq(gguf_get_str(&m.gguf, "calm.granularity", s, sizeof s, NULL), 0);
    cr_assert_str_eq(s, "block");
    cr_assert_eq(gguf_get_u32(&m.gguf, "calm.calib.samples", &u, NULL), 0);
    cr_assert_eq(u, 2);
    // holdout: samples / 4, at least 1
    cr_assert_eq(gguf_get_u32(&m.gguf, "calm.calib.holdout", &u, NULL), 0);
    cr_assert_eq(u, 1);
    cr_assert_eq(gguf_get_str(&m.gguf, "calm.calib.hash", s, sizeof s, NULL), 0);
    cr_assert_eq(strlen(s), 16);
    int won[2] = {0};
    for (int l = 0; l < m.cfg.n_layers; l++)
        for (int i = 0; i < CALM_BLOCK_MATS; i++) {
            const calm_tensor *t = calm_block_mat(&m.layers[l], i);
            char key[160];
            float cka;
            snprintf(key, sizeof key, "calm.tensor.%s.algo", t->name);
            cr_assert_eq(gguf_get_str(&m.gguf, key, s, sizeof s, NULL), 0, "%s", key);
            int k = !strcmp(s, "rtn") ? 0 : !strcmp(s, "gptq") ? 1 : -1;
            cr_assert(k >= 0, "%s = %s, not in the pool", key, s);
            won[k]++;
            snprintf(key, sizeof key, "calm.tensor.%s.cka", t->name);
            cr_assert_eq(gguf_get_f32(&m.gguf, key, &cka, NULL), 0, "%s", key);
            // a score, not a similarity of whole outputs: on layer 11, whose update is one massive
            // direction, round to nearest and GPTQ keep little of the rest and score near 0
            cr_assert(cka >= 0.0f && cka <= 1.0f, "%s = %g", key, cka);
            cr_assert_eq(t->type, (uint32_t)calm_type_qg(4, 128));
        }
    cr_log_info("winners: rtn %d, gptq %d matrices", won[0], won[1]);
    cr_assert(won[0] < m.cfg.n_layers * CALM_BLOCK_MATS, "round to nearest won every layer");
    calm_model_free(&m);
    // calm inspect shows the table, calm run runs the file
    snprintf(args, sizeof args, "inspect %s", path);
    cr_assert_eq(th_calm(args, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_assert(strstr(out, "per layer") && strstr(out, "layer 29"), "%s", out);
    snprintf(args, sizeof args, "run -m %s -p 'The capital of France is' -n 4 --temp 0", path);
    cr_assert_eq(th_calm(args, out, sizeof out, err, sizeof err), 0, "%s", err);
}

// --score error ranks by the relative squared error of each block's update and says so.
Test(calibrate, error_score_is_recorded) {
    calm_model m;
    calibrate_small(&m, "by-error.gguf", "--pool rtn,awq --score error");
    char s[64];
    cr_assert_eq(gguf_get_str(&m.gguf, "calm.score", s, sizeof s, NULL), 0);
    cr_assert_str_eq(s, "error");
    float v; // 1 - relative error: at most 1, and well above 0 for 4-bit AWQ or RTN
    cr_assert_eq(gguf_get_f32(&m.gguf, "calm.tensor.blk.0.attn_q.weight.cka", &v, NULL), 0);
    cr_assert(v > 0.5f && v <= 1.0f, "score %g", v);
    calm_model_free(&m);
}

Test(calibrate, target_bpw_mixes_bit_widths_under_the_average) {
    calm_model m;
    calibrate_small(&m, "mixed.gguf", "--pool rtn --target-bpw 3.5");
    int n3 = 0, n4 = 0;
    for (int l = 0; l < m.cfg.n_layers; l++) {
        uint32_t t = m.layers[l].wq.type;
        for (int i = 0; i < CALM_BLOCK_MATS; i++)
            cr_assert_eq(calm_block_mat(&m.layers[l], i)->type, t, "layer %d mixes widths", l);
        n3 += t == (uint32_t)calm_type_qg(3, 128);
        n4 += t == (uint32_t)calm_type_qg(4, 128);
    }
    // 3.25 and 4.25 bits per weight: 7 of 30 layers fit at 4 bits under an average of 3.5
    cr_assert_eq(n3 + n4, m.cfg.n_layers);
    cr_assert_eq(n4, 7, "%d layers at 4 bits", n4);
    calm_model_free(&m);
}

Test(calibrate, chat_calibrates_once_then_reuses_the_cache) {
    const char *model = th_tmp("model.gguf");
    unlink(model);
    cr_assert_eq(symlink(CALM_MODEL_F32, model), 0);
    char args[2048];
    snprintf(args, sizeof args,
             "run -m %s --calibrate --data %s --samples 2 -c 64 --pool rtn -p Hello -n 2 --temp 0",
             model, CALIB);
    cr_assert_eq(th_calm(args, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_assert(strstr(err, "calibrating"), "%s", err);
    cr_assert_eq(th_calm(args, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_assert(strstr(err, "using the calibration cached in"), "%s", err);
    cr_assert(!strstr(err, "calibrating"), "calibrated twice: %s", err);
    // other options, another calibration
    snprintf(args, sizeof args,
             "run -m %s --calibrate --data %s --samples 2 -c 64 --pool rtn --bits 8 -p Hi -n 1",
             model, CALIB);
    cr_assert_eq(th_calm(args, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_assert(strstr(err, "calibrating"), "%s", err);
    // without calibration data: a clear error
    snprintf(args, sizeof args, "chat -m %s --calibrate", model);
    cr_assert_neq(th_calm(args, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_assert(strstr(err, "--data"), "%s", err);
}
