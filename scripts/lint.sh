#!/usr/bin/env bash
# Static checks CI runs: ruff (lint + import order) and mypy (configured in pyproject.toml [tool.mypy]).
set -euo pipefail
cd "$(dirname "$0")/.."

.venv/bin/ruff check lola_zoo tests benchmarks examples docs
.venv/bin/python -m mypy
