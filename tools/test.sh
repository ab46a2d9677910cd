#!/usr/bin/env bash
# The test command: set up, build, run every test. With --sanitize, in a separate build with
# -fsanitize=address,undefined.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
if [ "${1:-}" = "--sanitize" ]; then
    tools/build.sh build-asan -DCALM_SANITIZE=ON
    cd build-asan
else
    tools/build.sh build
    cd build
fi
# OpenMP's runtime keeps thread pools alive at exit, which LeakSanitizer would report.
ASAN_OPTIONS=detect_leaks=0 ctest --output-on-failure -j1
