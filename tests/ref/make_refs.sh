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
# KL divergence of a Q4_0 file from the f32 model on 8 chunks of 128 tokens, by llama-perplexity
# --kl-divergence (test_kl.c runs calm on the same file). calm convert --type q4_0 writes the file
# llama-quantize --pure writes but for codes one step apart in about 0.7% of the blocks, which
# moves the KLD by about 1%, so the reference is measured on calm's file.
Q40=build/smollm2-q4_0.gguf
./build/calm convert -m "$F32" -o "$Q40" --type q4_0
kl() { "$LL/build/bin/llama-perplexity" -c 128 -b 128 --kl-divergence-base build/kl-base.kld "$@" 2>&1; }
kl -m "$F32" -f ../shared/data/wikitext-2/wiki.test.raw --chunks 8 >/dev/null
out=$(kl -m "$Q40" --kl-divergence)
kld=$(sed -n 's/.*Mean    KLD: *\([0-9.]*\).*/\1/p' <<<"$out")
top=$(sed -n 's/.*Same top p: *\([0-9.]*\).*/\1/p' <<<"$out")
echo "chunks=8 ctx=128 kld=$kld same_top=$top" > tests/ref/data/kl.txt
echo "wrote tests/ref/data: $(ls tests/ref/data | tr '\n' ' ')"
