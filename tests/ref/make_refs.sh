#!/usr/bin/env bash
# Builds llama.cpp from the source bundled in the npm package node-llama-cpp (CPU only) and writes
# the reference files the tests compare with into tests/ref/data/. Needs network access to npm.
# The llama.cpp build is kept in build/llama.cpp for bench/ to reuse.
set -euo pipefail
cd "$(dirname "$0")/../.."
NLC_VERSION=${NLC_VERSION:-3.22.1}
LL=${LLAMA_DIR:-$PWD/build/llama.cpp}
if [ ! -x "$LL/build/bin/llama-perplexity" ]; then
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "node-llama-cpp@$NLC_VERSION" >/dev/null && tar xzf node-llama-cpp-*.tgz)
    echo "llama.cpp release: $(cat "$tmp/package/llama/llama.cpp.info.json" | tr -d '\n ')"
    rm -rf "$LL"
    git clone -q "$tmp/package/llama/gitRelease.bundle" "$LL"
    rm -rf "$tmp"
    cmake -S "$LL" -B "$LL/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DGGML_NATIVE=ON \
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF >/dev/null
    cmake --build "$LL/build" -j"$(nproc)" --target llama-tokenize llama-perplexity llama-quantize \
        llama-bench llama-simple >/dev/null
fi
tools/build.sh build
gcc -O2 -I "$LL/include" -I "$LL/ggml/include" tests/ref/llama_ref.c -o build/llama_ref \
    -L "$LL/build/bin" -lllama -lggml -lggml-base -lm -Wl,-rpath,"$LL/build/bin"
F32=build/smollm2-f32.gguf
Q41=models/SmolLM2-135M-Instruct.Q4_1.gguf
./build/calm convert -m "$Q41" -o "$F32" --type f32
mkdir -p tests/ref/data
./build/llama_ref "$F32" ../shared/data/wikitext-2/eval.raw tests/ref/data 2>/dev/null
ppl=$("$LL/build/bin/llama-perplexity" -m "$Q41" -f ../shared/data/wikitext-2/wiki.test.raw \
    -c 512 --chunks 4 2>&1 | sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p')
echo "chunks=4 ctx=512 ppl=$ppl" > tests/ref/data/perplexity.txt
echo "wrote tests/ref/data: $(ls tests/ref/data | tr '\n' ' ')"
