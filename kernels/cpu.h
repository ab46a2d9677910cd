// What the CPU can do, read once from CPUID (x86) or the auxiliary vector (Arm).
#ifndef CALM_CPU_H
#define CALM_CPU_H

typedef struct {
    int avx2, fma, f16c, avx512f, avx512bw, avx512vl, avx512vnni, avxvnni; // x86
    // AMX tiles and their int8 products (CPUID), and whether Linux granted this process the tile
    // state (arch_prctl ARCH_REQ_XCOMP_PERM): without it the first tile instruction faults.
    int amx_tile, amx_int8, amx_granted;
    int neon, dotprod; // Arm
} calm_cpu;

// Reads the features; on a CPU with AMX it also asks Linux for the tile state (idempotent), so
// that a caller finding amx_granted may run tile instructions on any thread of the process.
calm_cpu calm_cpu_detect(void);

#endif
