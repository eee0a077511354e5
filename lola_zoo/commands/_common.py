"""Pieces every command shares: argument types that refuse bad numbers at parse time, and SIGTERM as an interrupt.

The leading underscore keeps :mod:`lola_zoo.cli` from taking this module for a command.
"""

from __future__ import annotations

import argparse
import math

__all__ = ["Terminated", "seed_int", "positive_int", "finite_float", "nonnegative_float", "check_finite", "out_path",
           "given"]


class Terminated(KeyboardInterrupt):
    """Raised by the CLI's SIGTERM handler: a KeyboardInterrupt, so every Ctrl-C clean-up runs for it too."""


def seed_int(text: str) -> int:
    """A seed: an integer >= 0 (numpy and torch generators refuse negative seeds, so every command does)."""
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1."""
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def finite_float(text: str) -> float:
    """A finite number (no nan, no inf)."""
    value = _float(text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def nonnegative_float(text: str) -> float:
    """A finite number >= 0."""
    value = _float(text)
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def out_path(text: str) -> str:
    """An output folder: any non-empty path (an empty ``--out ''`` would silently fall back to the default)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"must name a folder, got {text!r}")
    return text


def given(args: argparse.Namespace, *names: str) -> list[str]:
    """The ``--flags`` among ``names`` (attribute names) that were set on the command line (default ``None``)."""
    return ["--" + n.replace("_", "-") for n in names if getattr(args, n, None) is not None]


def check_finite(flag: str, value: float | None, minimum: float | None = None) -> None:
    """Refuse a non-finite (or too small) value of ``flag`` with a message naming the flag."""
    if value is None:
        return
    if not math.isfinite(value) or (minimum is not None and value < minimum):
        bound = f" >= {minimum:g}" if minimum is not None else ""
        raise ValueError(f"{flag} must be a finite number{bound}, got {value}")


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid float value: {text!r}") from None
