#!/usr/bin/env bash
# Create .venv (if needed) and install lola-zoo with every extra the tests use.
# torch is pinned to the CPU wheel first: an unpinned torch would pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "torch==2.13.0"
.venv/bin/python -m pip install --quiet -e ".[${LOLA_ZOO_EXTRAS:-sb3,axelrod,torchrl,ray,loggers,docs,test}]"
