#!/usr/bin/env bash
# Writes the reference files the tests compare with into tests/ref/data/, with llama.cpp built by
# build_llama.sh (kept in build/llama.cpp for bench/ to reuse).
set -euo pipefail
cd "$(dirname "$0")/../.."
LL=$(tests/ref/build_llama.sh)
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
