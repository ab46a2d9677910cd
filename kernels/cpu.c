#include "cpu.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA  18

static unsigned long long xgetbv0(void) {
    unsigned eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

calm_cpu calm_cpu_detect(void) {
    calm_cpu c;
    memset(&c, 0, sizeof c);
    unsigned a, b, cx, d;
    if (!__get_cpuid(1, &a, &b, &cx, &d)) return c;
    int osxsave = (cx >> 27) & 1;
    unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
    int ymm = (xcr0 & 6) == 6, zmm = ymm && (xcr0 & 0xe0) == 0xe0; // OS saves the registers
    c.fma = ymm && ((cx >> 12) & 1);
    c.f16c = ymm && ((cx >> 29) & 1);
    if (__get_cpuid_count(7, 0, &a, &b, &cx, &d)) {
        c.avx2 = ymm && ((b >> 5) & 1);
        c.avx512f = zmm && ((b >> 16) & 1);
        c.avx512bw = zmm && ((b >> 30) & 1);
        c.avx512vl = zmm && ((b >> 31) & 1);
        c.avx512vnni = zmm && ((cx >> 11) & 1);
        c.amx_tile = (d >> 24) & 1;
        c.amx_int8 = (d >> 25) & 1;
    }
    // Linux enables the 8 KiB tile state per process, on request, before its first use.
    c.amx_granted = c.amx_tile && c.amx_int8 &&
                    syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
    if (__get_cpuid_count(7, 1, &a, &b, &cx, &d)) c.avxvnni = ymm && ((a >> 4) & 1);
    return c;
}

#elif defined(__aarch64__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif

calm_cpu calm_cpu_detect(void) {
    calm_cpu c;
    memset(&c, 0, sizeof c);
    unsigned long hw = getauxval(AT_HWCAP);
    c.neon = 1; // Advanced SIMD is mandatory on AArch64
    c.dotprod = (hw & HWCAP_ASIMDDP) != 0;
    return c;
}

#else
calm_cpu calm_cpu_detect(void) {
    calm_cpu c;
    memset(&c, 0, sizeof c);
    return c;
}
#endif
