// calm bench: prompt processing (ppN) and generation (tgN) tokens/s, printed like llama-bench.
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "load.h"
#include "../kernels/matmul.h"
#include "../runtime/generate.h"
#include "../runtime/threads.h"

static void stats(const double *v, int n, double *mean, double *sd) {
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++) s += v[i];
    *mean = s / n;
    for (int i = 0; i < n; i++) s2 += (v[i] - *mean) * (v[i] - *mean);
    *sd = n > 1 ? sqrt(s2 / (n - 1)) : 0;
}

int cmd_bench(const calm_opts *o) {
    int pp = o->bench.pp, tg = o->bench.tg, reps = o->bench.reps, rc = 0;
    calm_int_list threads = o->bench.threads;
    if (threads.n == 0) threads.v[threads.n++] = calm_physical_cores();
    calm_err e;
    calm_model m;
    if (calm_load_for(o, &m, NULL)) return 1;
    int64_t params;
    size_t bytes;
    calm_model_size(&m, &params, &bytes);
    int n_toks = pp > 0 ? pp : 1; // generation starts from toks[0] even when -p 0
    int *toks = malloc(sizeof(int) * (size_t)n_toks);
    for (int i = 0; i < n_toks; i++) toks[i] = (int)((i * 7919u + 13) % (unsigned)m.cfg.vocab_size);
    const char *name = strrchr(o->model, '/') ? strrchr(o->model, '/') + 1 : o->model;
    printf("| model                          |       size |     params | kernels | threads |  test "
           "|                  t/s |\n");
    printf("| ------------------------------ | ---------: | ---------: | ------- | ------: | ----: "
           "| -------------------: |\n");
    for (int ti = 0; ti < threads.n; ti++) {
        calm_threads_init(threads.v[ti]);
        calm_state s;
        if (calm_state_init(&s, &m, pp + tg + 1, pp > 0 ? pp : 1, &e)) {
            fprintf(stderr, "error: %s\n", e.msg);
            rc = 1;
            break;
        }
        for (int test = 0; test < 2; test++) {
            int n = test == 0 ? pp : tg;
            if (n == 0) continue;
            double v[64];
            for (int r = -1; r < reps && r < 64; r++) { // r = -1: warm-up
                s.kv.n = 0;
                double t0 = calm_now();
                int ok = 1;
                if (test == 0) {
                    ok = calm_forward(&s, toks, pp, 0, &e) != NULL;
                } else {
                    int tok = toks[0];
                    for (int i = 0; i < tg && ok; i++) {
                        float *l = calm_forward(&s, &tok, 1, 0, &e);
                        ok = l != NULL;
                        if (ok) tok = (int)((tok + (l[0] > 0)) * 31u % (unsigned)m.cfg.vocab_size);
                    }
                }
                if (!ok) {
                    fprintf(stderr, "error: %s\n", e.msg);
                    calm_state_free(&s);
                    free(toks);
                    calm_model_free(&m);
                    return 1;
                }
                if (r >= 0) v[r] = n / (calm_now() - t0);
            }
            double mean, sd;
            stats(v, reps, &mean, &sd);
            printf("| %-30.30s | %6.2f MiB | %8.2f M | %-7s | %7d | %2s%-3d | %12.2f ± %6.2f |\n",
                   name, bytes / 1048576.0, params / 1e6, calm_isa_name(), threads.v[ti],
                   test ? "tg" : "pp", n, mean, sd);
            fflush(stdout);
        }
        calm_state_free(&s);
    }
    free(toks);
    calm_model_free(&m);
    return rc;
}
