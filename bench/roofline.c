// The machine's ceilings for the roofline in bench/compare.py and bench/device.py: read
// bandwidth (all threads streaming a buffer much larger than the caches), the int8 peaks of
// AVX-512 VNNI and of AMX tiles, and the f32 FMA peak. Prints
// "threads=... bandwidth_gib_s=... int8_gmac_s=... amx_int8_gmac_s=... f32_gflop_s=..."
// (0 for a unit the CPU lacks).
#include <cpuid.h>
#include <immintrin.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

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

// Linux hands out the AMX tile state only on request (arch_prctl ARCH_REQ_XCOMP_PERM for
// XFEATURE_XTILEDATA); before that the first tile instruction faults.
static int amx_usable(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d & (1u << 24)) || !(d & (1u << 25)))
        return 0;
    return syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XTILEDATA */) == 0;
}

// Four accumulator tiles of 16 x 16 int32, each tdpbusd 16 x 16 x 64 = 16,384 MACs; the two A and
// two B tiles stay loaded, so this measures the tile unit alone.
__attribute__((target("amx-tile,amx-int8"))) static double amx_peak(void) {
    const long iters = 2000000;
    double t0 = now();
#pragma omp parallel
    {
        struct __attribute__((aligned(64))) {
            uint8_t palette, start_row, reserved[14];
            uint16_t colsb[16];
            uint8_t rows[16];
        } cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.palette = 1;
        for (int t = 0; t < 8; t++) cfg.colsb[t] = 64, cfg.rows[t] = 16;
        _tile_loadconfig(&cfg);
        static const int8_t ones[16 * 64] = {1};
        _tile_zero(0); // tile numbers are immediates: no loop
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
        _tile_loadd(4, ones, 64);
        _tile_loadd(5, ones, 64);
        _tile_loadd(6, ones, 64);
        _tile_loadd(7, ones, 64);
        for (long i = 0; i < iters; i++) {
            _tile_dpbusd(0, 4, 6);
            _tile_dpbusd(1, 4, 7);
            _tile_dpbusd(2, 5, 6);
            _tile_dpbusd(3, 5, 7);
        }
        int32_t out[16 * 16];
        _tile_stored(0, out, 64);
        if (out[0] == 42) puts(""); // keep the products alive
        _tile_release();
    }
    return omp_get_max_threads() * iters * 4.0 * 16384 / (now() - t0) / 1e9;
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
    double bw = bandwidth(), int8 = vnni ? int8_peak() : 0.0, amx = amx_usable() ? amx_peak() : 0.0;
    printf("threads=%d bandwidth_gib_s=%.1f int8_gmac_s=%.0f amx_int8_gmac_s=%.0f f32_gflop_s=%.0f\n",
           omp_get_max_threads(), bw, int8, amx, avx512 ? f32_peak() : 0.0);
    return 0;
}
