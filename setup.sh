#!/usr/bin/env bash
# Creates .venv with the pinned CPU build of torch and rtvos installed (editable) with its test tools.
# Safe to run again. Usage: ./setup.sh
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
# The CPU wheel first: a bare `torch` requirement would otherwise pull the multi-GB CUDA build.
.venv/bin/pip install --quiet --disable-pip-version-check "torch==2.13.0"
.venv/bin/pip install --quiet --disable-pip-version-check -e ".[dev]"
.venv/bin/rtvos --version
