#!/usr/bin/env bash
# RLlib pins its own gymnasium (1.2.2), so its tests run in a second environment, .venv-rllib,
# beside the main one: torch pinned first, then lola-zoo with the rllib extra.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv-rllib/bin/python ]; then
  "$PYTHON" -m venv .venv-rllib
fi
.venv-rllib/bin/python -m pip install --quiet --upgrade pip
.venv-rllib/bin/python -m pip install --quiet "torch==2.13.0"
.venv-rllib/bin/python -m pip install --quiet -e ".[rllib,test]"
exec .venv-rllib/bin/python -m pytest -q tests/test_torchrl_rllib.py -k rllib "$@"
