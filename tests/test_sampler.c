#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "runtime/sampler.h"

static float logits[8] = {1.0f, 3.0f, 2.5f, -1.0f, 0.0f, 2.9f, -5.0f, 0.5f};

static int draw(calm_sampler_params p, int n, int *counts) {
    calm_sampler s;
    cr_assert_eq(calm_sampler_init(&s, p, 8), 0);
    int last = -1;
    for (int i = 0; i < n; i++) {
        float l[8];
        memcpy(l, logits, sizeof l);
        last = calm_sample(&s, l);
        if (counts) counts[last]++;
    }
    calm_sampler_free(&s);
    return last;
}

Test(sampler, greedy_at_zero_temperature) {
    calm_sampler_params p = calm_sampler_defaults();
    p.temp = 0;
    cr_assert_eq(draw(p, 1, NULL), 1);
}

Test(sampler, top_k_one_is_greedy) {
    calm_sampler_params p = calm_sampler_defaults();
    p.top_k = 1;
    int c[8] = {0};
    draw(p, 200, c);
    cr_assert_eq(c[1], 200);
}

Test(sampler, seeded_and_reproducible) {
    calm_sampler_params p = calm_sampler_defaults();
    p.top_k = 0, p.top_p = 1, p.min_p = 0, p.temp = 1;
    int a[8] = {0}, b[8] = {0};
    draw(p, 500, a);
    draw(p, 500, b);
    cr_assert(memcmp(a, b, sizeof a) == 0);
    p.seed = 43;
    int c[8] = {0};
    draw(p, 500, c);
    cr_assert(memcmp(a, c, sizeof a) != 0);
}

Test(sampler, frequencies_follow_softmax) {
    calm_sampler_params p = calm_sampler_defaults();
    p.top_k = 0, p.top_p = 1, p.min_p = 0, p.temp = 1;
    int c[8] = {0}, n = 20000;
    draw(p, n, c);
    double z = 0;
    for (int i = 0; i < 8; i++) z += exp(logits[i]);
    for (int i = 0; i < 8; i++) {
        double want = exp(logits[i]) / z, got = (double)c[i] / n;
        cr_assert(fabs(got - want) < 4 * sqrt(want * (1 - want) / n) + 1e-3, "token %d: %g vs %g",
                  i, got, want);
    }
}

Test(sampler, min_p_and_top_p_cut_the_tail) {
    calm_sampler_params p = calm_sampler_defaults();
    p.top_k = 0, p.top_p = 1, p.temp = 1, p.min_p = 0.5f; // keeps logits within ln 2 of the top
    int c[8] = {0};
    draw(p, 2000, c);
    cr_assert(c[1] > 0 && c[5] > 0 && c[2] > 0);
    cr_assert_eq(c[0] + c[3] + c[4] + c[6] + c[7], 0);
    p.min_p = 0, p.top_p = 0.3f; // the top token alone has p > 0.3
    memset(c, 0, sizeof c);
    draw(p, 500, c);
    cr_assert_eq(c[1], 500);
}

Test(sampler, repetition_penalty_discourages_recent_tokens) {
    calm_sampler_params p = calm_sampler_defaults();
    p.temp = 0, p.repeat_penalty = 2.0f;
    calm_sampler s;
    calm_sampler_init(&s, p, 8);
    calm_sampler_accept(&s, 1);
    float l[8];
    memcpy(l, logits, sizeof l);
    cr_assert_eq(calm_sample(&s, l), 5); // 3.0 / 2 = 1.5 < 2.9
    calm_sampler_free(&s);
}
