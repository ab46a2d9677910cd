#!/usr/bin/env bash
# Cross-compiles the kernels and their comparison tests for aarch64 and runs them under qemu.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
if ! command -v aarch64-linux-gnu-gcc >/dev/null || ! command -v qemu-aarch64 >/dev/null; then
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user >/dev/null
fi
out=build-neon
mkdir -p "$out"
CC=aarch64-linux-gnu-gcc
FLAGS="-O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -fopenmp -I. -Itests"
$CC $FLAGS -march=armv8.2-a+dotprod+fp16 -c kernels/neon/vec_dot.c -o "$out/neon.o"
$CC $FLAGS -static kernels/types.c kernels/grid.c kernels/cpu.c kernels/isa.c kernels/matmul.c kernels/hadamard.c kernels/pack.c kernels/scalar/vec_dot.c kernels/scalar/attention.c \
    tests/kernel_compare.c tests/neon_main.c "$out/neon.o" -lm -o "$out/neon_kernels"
qemu-aarch64 -cpu max "$out/neon_kernels"
