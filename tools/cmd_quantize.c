// calm quantize: a full-precision model to a quantized GGUF with one algorithm of the pool.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "load.h"
#include "outfile.h"
#include "quant_opts.h"
#include "../kernels/types.h"
#include "../quant/model_quant.h"
#include "../runtime/generate.h"

int cmd_quantize(const calm_opts *o) {
    const calm_algo *a = calm_algo_find(o->algo);
    if (!a) {
        fprintf(stderr,
                "error: unknown --algo '%s' (rtn, gptq, awq, smoothquant, hadamard, hero)\n",
                o->algo);
        return 2;
    }
    if (a->needs_data && !o->data) {
        fprintf(stderr, "error: %s needs calibration text: --data FILE (e.g. calib.raw)\n",
                a->name);
        return 2;
    }
    calm_quantize_opts qo;
    memset(&qo, 0, sizeof qo);
    qo.algo = a;
    qo.calib = (calm_calib_opts){o->samples, o->ctx ? o->ctx : 512, o->sp.seed, 0};
    qo.data = o->data;
    int type = calm_pick_type(o, a->name);
    if (type < 0 || calm_qopts_from(o, (uint32_t)type, &qo.q) ||
        calm_pick_embd_type(o->embd_type, &qo.embd_type))
        return 2;
    calm_err e;
    calm_model m;
    calm_tokenizer t;
    calm_outfile out;
    if (calm_quant_begin(o, &out, &m, &t)) return 1;
    fprintf(stderr, "calm: quantizing %s with %s to %s%s\n", o->model, a->name,
            calm_type_get((uint32_t)type)->name, qo.q.fmt.sym ? " (symmetric)" : "");
    double t0 = calm_now();
    int rc = calm_quantize_model(&m, &t, &qo, out.tmp, &e);
    if (rc) fprintf(stderr, "error: %s\n", e.msg);
    rc = calm_outfile_end(&out, rc);
    if (!rc) {
        struct stat st;
        double mb = stat(o->out, &st) == 0 ? (double)st.st_size / 1e6 : 0;
        int64_t params;
        size_t bytes;
        calm_model_size(&m, &params, &bytes);
        fprintf(stderr,
                "calm: wrote %s in %.1f s: %.1f MB, %.2f bits per weight in the blocks "
                "(%s), %.2f over the whole file\n",
                o->out, calm_now() - t0, mb, calm_bpw((uint32_t)type, m.cfg.dim),
                calm_type_get((uint32_t)type)->name, 8.0 * mb * 1e6 / (double)params);
    }
    calm_tokenizer_free(&t);
    calm_model_free(&m);
    return rc ? 1 : 0;
}
