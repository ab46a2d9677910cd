// The machine's ceilings for the roofline in bench/compare.py: read bandwidth (all threads
// streaming a buffer much larger than the caches) and the int8 (VNNI) and f32 FMA peaks.
// Prints "bandwidth_gib_s=... int8_gmac_s=... f32_gflop_s=...".
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

__attribute__((target("avx2"))) static double bandwidth(void) {
    size_t n = (size_t)1 << 28; // 1 GiB of floats
    float *a = aligned_alloc(64, n * sizeof(float));
#pragma omp parallel for
    for (size_t i = 0; i < n; i++) a[i] = (float)(i & 7);
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now();
        __m256 total = _mm256_setzero_ps();
#pragma omp parallel
        {
            __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
#pragma omp for
            for (size_t i = 0; i < n; i += 32) {
                s0 = _mm256_add_ps(s0, _mm256_load_ps(a + i));
                s1 = _mm256_add_ps(s1, _mm256_load_ps(a + i + 8));
                s2 = _mm256_add_ps(s2, _mm256_load_ps(a + i + 16));
                s3 = _mm256_add_ps(s3, _mm256_load_ps(a + i + 24));
            }
#pragma omp critical
            total =
                _mm256_add_ps(total, _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
        }
        double dt = now() - t0;
        float sink[8];
        _mm256_storeu_ps(sink, total);
        if (sink[0] == -1) puts(""); // keep the sums alive
        double gib = n * sizeof(float) / dt / (1 << 30);
        best = gib > best ? gib : best;
    }
    free(a);
    return best;
}

// 12 independent accumulators hide the instruction latency; every vpdpbusd is 64 MACs.
__attribute__((target("avx512f,avx512vnni"))) static double int8_peak(void) {
    const long iters = 20000000;
    double t0 = now();
#pragma omp parallel
    {
        __m512i a = _mm512_set1_epi8(1), b = _mm512_set1_epi8(2), acc[12];
        for (int k = 0; k < 12; k++) acc[k] = _mm512_setzero_si512();
        for (long i = 0; i < iters; i++)
            for (int k = 0; k < 12; k++) acc[k] = _mm512_dpbusd_epi32(acc[k], a, b);
        int s = 0;
        for (int k = 0; k < 12; k++) s += _mm512_reduce_add_epi32(acc[k]);
        if (s == 42) puts("");
    }
    return omp_get_max_threads() * iters * 12.0 * 64 / (now() - t0) / 1e9;
}

__attribute__((target("avx512f"))) static double f32_peak(void) {
    const long iters = 20000000;
    double t0 = now();
#pragma omp parallel
    {
        __m512 a = _mm512_set1_ps(1.0001f), b = _mm512_set1_ps(0.9999f), acc[12];
        for (int k = 0; k < 12; k++) acc[k] = _mm512_setzero_ps();
        for (long i = 0; i < iters; i++)
            for (int k = 0; k < 12; k++) acc[k] = _mm512_fmadd_ps(a, b, acc[k]);
        float s = 0;
        for (int k = 0; k < 12; k++) s += _mm512_reduce_add_ps(acc[k]);
        if (s == 42) puts("");
    }
    return omp_get_max_threads() * iters * 12.0 * 16 * 2 / (now() - t0) / 1e9;
}

int main(void) {
    __builtin_cpu_init();
    int vnni = __builtin_cpu_supports("avx512vnni"), avx512 = __builtin_cpu_supports("avx512f");
    printf("threads=%d bandwidth_gib_s=%.1f int8_gmac_s=%.0f f32_gflop_s=%.0f\n",
           omp_get_max_threads(), bandwidth(), vnni ? int8_peak() : 0.0, avx512 ? f32_peak() : 0.0);
    return 0;
}
