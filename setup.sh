#!/usr/bin/env bash
# Creates .venv with the pinned CPU build of torch and rtvos installed (editable) with its test tools,
# and headless Chromium for the browser-view test when it can.
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
# Headless Chromium (Debian's package) for the browser-view test; where it cannot be installed (no apt,
# no root or sudo) that test is skipped with the reason. RTVOS_SKIP_CHROMIUM=1 leaves it out.
if [ -z "${RTVOS_SKIP_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO="none"; fi
    if [ "$SUDO" = "none" ]; then
        echo "setup: chromium is not installed and apt-get needs root: the browser-view test will be skipped" >&2
    elif ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
                 --no-install-recommends chromium; } >/dev/null 2>&1; then
        echo "setup: could not install chromium (apt-get failed): the browser-view test will be skipped" >&2
    fi
fi
.venv/bin/rtvos --version
