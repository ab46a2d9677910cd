#!/usr/bin/env bash
# Runs tests/test_openai.py (calm serve through the official openai client) with the virtual
# environment that tools/setup.sh makes in .venv; without it, or without the package in it, the
# test is skipped (exit 77) with the reason. Usage: openai_client.sh CALM_BINARY MODEL
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py=$root/.venv/bin/python
if [ ! -x "$py" ]; then
    echo "skipped: no virtual environment at $root/.venv (tools/setup.sh makes it)"
    exit 77
fi
if ! "$py" -c 'import openai' 2>/dev/null; then
    echo "skipped: the openai package is not in $root/.venv (tools/setup.sh installs it)"
    exit 77
fi
exec "$py" "$root/tests/test_openai.py" "$@"
