#!/usr/bin/env bash
# Install into .venv, then run the whole test suite on every core.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest -n auto -q "$@"
