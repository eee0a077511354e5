"""Shared test set-up: a headless matplotlib, and one torch thread per pytest worker."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import torch  # noqa: E402

# The tests run small tensors on `pytest -n auto` workers (2 cores in CI): more threads than
# cores only adds contention, which made tiny per-step updates ~10x slower when measured.
torch.set_num_threads(1)
