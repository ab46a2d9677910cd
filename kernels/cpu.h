// What the CPU can do, read once from CPUID (x86) or the auxiliary vector (Arm).
#ifndef CALM_CPU_H
#define CALM_CPU_H

typedef struct {
    int avx2, fma, f16c, avx512f, avx512bw, avx512vl, avx512vnni, avxvnni; // x86
    int neon, dotprod;                                                     // Arm
} calm_cpu;

calm_cpu calm_cpu_detect(void);

#endif
