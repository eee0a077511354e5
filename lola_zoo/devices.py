"""``--device auto|cpu|cuda``: one resolver for every command that trains or evaluates."""

from __future__ import annotations

import argparse
import contextlib
from typing import Iterator

import torch

__all__ = ["DEVICE_CHOICES", "resolve_device", "add_device_argument", "torch_threads"]

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """``auto`` -> CUDA when available else CPU; ``cuda`` without a GPU is an error, not a silent CPU run."""
    if isinstance(name, torch.device):
        name = str(name)
    text = "auto" if name is None else str(name).strip().lower()
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if text == "cpu":
        return torch.device("cpu")
    if text == "cuda" or text.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} asked for, but torch sees no CUDA GPU here "
                             f"(torch {torch.__version__}); use --device cpu or auto")
        device = torch.device(text)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device {name!r}: only {torch.cuda.device_count()} CUDA device(s) visible")
        return device
    raise ValueError(f"unknown device {name!r}; choose from {', '.join(DEVICE_CHOICES)} (or cuda:N)")


def add_device_argument(parser: argparse.ArgumentParser, default: str = "auto") -> None:
    """Add the shared ``--device`` option to a sub-command's parser."""
    parser.add_argument("--device", default=default, metavar="{auto,cpu,cuda}",
                        help=f"where tensors live: auto (CUDA if present), cpu or cuda[:N] (default: {default})")


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Set torch's CPU thread count for a block, then restore it (``None``: leave it alone).

    Small batched ops lose to thread contention on a shared machine, so runs pin 1 thread.
    """
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)
