#!/usr/bin/env bash
# The main job: install into .venv, then run it (extra arguments go to the command).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/lola-zoo reproduce "$@"
