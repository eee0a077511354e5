"""Shared fixtures: a headless matplotlib and float64 helpers."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
