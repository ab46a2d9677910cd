#!/usr/bin/env bash
# The main job: set up, build, calibrate the default model with the CALM search (once; the result
# is cached next to the full-precision copy), then chat with it - or, with a prompt argument or
# without a terminal, answer one prompt.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh build
FP=models/smollm2-f32.gguf
[ -f "$FP" ] || ./build/calm convert -m models/SmolLM2-135M-Instruct.Q4_1.gguf -o "$FP" --type f32
CALIB=(--calibrate --data ../shared/data/wikitext-2/calib.raw --samples "${CALM_SAMPLES:-32}"
    --bits "${CALM_BITS:-4}")
if [ $# -eq 0 ] && [ -t 0 ]; then
    exec ./build/calm chat -m "$FP" "${CALIB[@]}"
fi
exec ./build/calm run -m "$FP" "${CALIB[@]}" --chat --temp 0 -n 128 \
    -p "${1:-Explain in three sentences why the sky is blue.}"
