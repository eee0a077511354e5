#!/usr/bin/env bash
# The GPU check, prepared to run in one call on a machine with one CUDA GPU (<= 5 minutes: 100 s + 180 s caps):
# the CUDA-marked tests, then the GPU benchmarks (benchmarks/bench_gpu.py).  Figures go to $OUT
# (or ./results) as gpu.json and gpu_tests.log.  Without a GPU the tests skip and the benchmark says so.
#   bash benchmarks/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-results}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
export PYTHONUNBUFFERED=1
# A machine without our dependencies gets them from wheels carried in .whl/ (see docs/benchmarks.md).
if [ -d .whl ] && ! "$PY" -c "import pettingzoo" 2>/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD
fi
export PYTHONPATH="${PYTHONPATH:-}:$PWD"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
timeout 100 "$PY" -m pytest -q -p no:cacheprovider -m cuda tests/test_engine.py -o addopts="" 2>&1 | tee "$OUT/gpu_tests.log"
timeout 180 "$PY" benchmarks/bench_gpu.py --out "$OUT/gpu.json"
