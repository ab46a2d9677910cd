#!/usr/bin/env bash
# Builds llama.cpp (CPU only, GGML_NATIVE) from the source bundled in the npm package
# node-llama-cpp, into build/llama.cpp unless it is there. Prints its directory. Needs npm.
set -euo pipefail
cd "$(dirname "$0")/../.."
NLC_VERSION=${NLC_VERSION:-3.22.1}
LL=${LLAMA_DIR:-$PWD/build/llama.cpp}
if [ ! -x "$LL/build/bin/llama-bench" ]; then
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "node-llama-cpp@$NLC_VERSION" >/dev/null && tar xzf node-llama-cpp-*.tgz)
    echo "llama.cpp release: $(tr -d '\n ' < "$tmp/package/llama/llama.cpp.info.json")" >&2
    rm -rf "$LL"
    git clone -q "$tmp/package/llama/gitRelease.bundle" "$LL"
    rm -rf "$tmp"
    cmake -S "$LL" -B "$LL/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DGGML_NATIVE=ON \
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF >/dev/null
    cmake --build "$LL/build" -j"$(nproc)" --target llama-tokenize llama-perplexity llama-quantize \
        llama-bench llama-simple >/dev/null
fi
echo "$LL"
