"""Metric loggers beside the default JSON/CSV files: TensorBoard and Weights & Biases (offline).

``--logger tensorboard`` writes event files under ``OUT/tensorboard/`` (``tensorboard --logdir OUT``);
``--logger wandb`` writes an offline run under ``OUT/wandb/`` (``wandb sync OUT/wandb/offline-run-*``
uploads it later).  Both are optional dependencies: asking for one that is not installed is a
clear error before any training starts.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

__all__ = ["LOGGER_CHOICES", "MetricLogger", "make_logger"]

LOGGER_CHOICES = ("tensorboard", "wandb")


class MetricLogger:
    """Fans one row of scalars out to every configured backend; a no-op with none."""

    def __init__(self, backends: Sequence[Any] = ()) -> None:
        self._backends = list(backends)

    def log(self, row: Mapping[str, float], step: int) -> None:
        """Log every finite scalar of ``row`` at ``step``."""
        scalars = {k: float(v) for k, v in row.items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))}
        for backend in self._backends:
            backend.log(scalars, step)

    def close(self) -> None:
        """Flush and close every backend (safe to call twice)."""
        for backend in self._backends:
            backend.close()
        self._backends = []


class _TensorBoard:
    def __init__(self, out: Path) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(out / "tensorboard"))

    def log(self, scalars: dict[str, float], step: int) -> None:
        for key, value in scalars.items():
            self.writer.add_scalar(key, value, step)

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()


class _WandB:
    def __init__(self, out: Path, config: Mapping[str, Any], name: str) -> None:
        import wandb

        # Offline: nothing leaves the machine; `wandb sync` uploads the run when the user wants.
        os.environ.setdefault("WANDB_SILENT", "true")
        self.run = wandb.init(mode="offline", dir=str(out), config=dict(config), name=name,
                              project="lola-zoo", reinit="finish_previous")

    def log(self, scalars: dict[str, float], step: int) -> None:
        self.run.log(scalars, step=step)

    def close(self) -> None:
        self.run.finish()


def _require(name: str) -> None:
    module = {"tensorboard": "tensorboard", "wandb": "wandb"}[name]
    try:
        __import__(module)
    except ImportError as exc:
        raise ValueError(f"--logger {name} needs the {module!r} package: pip install 'lola-zoo[loggers]'") from exc


def make_logger(names: Sequence[str] | None, out_dir: str | Path | None, config: Mapping[str, Any] | None = None,
                run_name: str = "lola-zoo") -> MetricLogger:
    """A :class:`MetricLogger` for ``names`` (each ``tensorboard`` or ``wandb``) writing under ``out_dir``."""
    names = [n.strip().lower() for n in (names or []) if n and n.strip()]
    unknown = [n for n in names if n not in LOGGER_CHOICES]
    if unknown:
        raise ValueError(f"unknown logger(s) {unknown}; choose from {', '.join(LOGGER_CHOICES)}")
    if names and out_dir is None:
        raise ValueError("loggers write into the output folder: give one (--out)")
    for n in names:
        _require(n)
    out = Path(out_dir) if out_dir is not None else Path(".")
    backends: list[Any] = []
    for n in dict.fromkeys(names):  # each backend once, in the order asked
        backends.append(_TensorBoard(out) if n == "tensorboard" else _WandB(out, config or {}, run_name))
    return MetricLogger(backends)
