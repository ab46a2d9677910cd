#!/usr/bin/env bash
# The main job: set up, build, and generate with the default model.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh build
MODEL=models/SmolLM2-135M-Instruct.Q4_1.gguf
./build/calm run -m "$MODEL" --chat --temp 0 -n 128 \
    -p "${1:-Explain in three sentences why the sky is blue.}"
