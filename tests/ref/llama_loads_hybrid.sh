#!/usr/bin/env bash
# A CALM hybrid whose tensors all keep ggml types (--type q4_0, a pool without input transforms)
# loads and generates in llama.cpp. 8 windows of 128 tokens: on fewer GPTQ overfits them and
# loses every layer to round to nearest on the held-out window.
# Usage: llama_loads_hybrid.sh CALM_BIN F32_MODEL LLAMA_DIR
set -euo pipefail
calm=$1 model=$2 ll=$3
data="$(dirname "$0")/../../../shared/data/wikitext-2/calib.raw"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$calm" calibrate -m "$model" --data "$data" --samples 8 -c 128 --pool rtn,gptq --type q4_0 \
    -o "$tmp/hybrid.gguf" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
"$calm" inspect "$tmp/hybrid.gguf" >"$tmp/table" # (grep -q in a pipe would cut inspect short)
grep -q "gptq" "$tmp/table" || { echo "no layer chose gptq"; exit 1; }
"$ll/build/bin/llama-simple" -m "$tmp/hybrid.gguf" -n 8 "The capital of France is" >"$tmp/out" 2>&1 ||
    { tail -20 "$tmp/out"; exit 1; }
grep -q "decoded 8 tokens" "$tmp/out" || { tail -20 "$tmp/out"; exit 1; }
echo "llama.cpp loaded the hybrid and generated:"
grep -a "The capital of France is" "$tmp/out" | head -1
