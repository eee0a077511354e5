"""Hyperparameter grids on exact values: every (lr, η) cell and every seed of it in one batched computation.

The exact rules are per-row functions of a batch of seeds, and their learning rate δ and
correction rate η enter as multipliers; given as ``(B, 1)`` tensors, one batch holds a whole grid.
Every cell starts from the same ``seeds`` initial policies (common random numbers), so the
differences across the grid are the hyperparameters', not the draws'.  A cell of the grid equals
:func:`~lola_zoo.experiments.exact.run_exact` with that cell's lr and η (``tests/test_grid.py``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

import lola_zoo
from lola_zoo.agents.exact_rules import exact_update, make_learner
from lola_zoo.devices import torch_threads
from lola_zoo.experiments.exact import ExactConfig, classify_ipd, initial_params, make_value_fn, policy_probs_first_action

__all__ = ["GRID_RULES", "GridResult", "parse_axis", "run_exact_grid", "save_grid", "plot_grid"]

#: rules whose δ and η may differ per batch row (SOS's switching criterion and POLA's inner loops take scalars)
GRID_RULES = ("nl", "lola", "lookahead", "lola-taylor", "hola", "exact-lola")


def parse_axis(text: str, name: str) -> tuple[float, ...]:
    """Grid values from ``"0.1,0.5,1"`` or ``"start:stop:count"`` (evenly spaced, both ends included)."""
    text = str(text).strip()
    try:
        if ":" in text:
            start, stop, count = text.split(":")
            n = int(count)
            if n < 1:
                raise ValueError
            values = tuple(float(v) for v in np.linspace(float(start), float(stop), n))
        else:
            values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ValueError(f"{name} must be a comma list (0.1,0.5,1) or start:stop:count (0.1:2:20), got {text!r}") from None
    if not values or not all(np.isfinite(v) and v >= 0 for v in values):
        raise ValueError(f"{name} needs finite values >= 0, got {text!r}")
    return values


@dataclass
class GridResult:
    """What :func:`run_exact_grid` returns: per (lr, η) cell, the mean final reward and outcome shares.

    :param reward: ``(len(lr), len(eta), N)`` mean final reward per step of each player over the seeds.
    :param tit_for_tat: ``(len(lr), len(eta))`` share of seeds whose final IPD policies are both TFT-like (IPD only).
    """

    config: ExactConfig
    lr: tuple[float, ...]
    eta: tuple[float, ...]
    reward: np.ndarray
    tit_for_tat: np.ndarray | None
    seconds: float

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per cell, for CSV/JSON."""
        out = []
        for a, lr in enumerate(self.lr):
            for b, eta in enumerate(self.eta):
                row: dict[str, Any] = {"lr": lr, "eta": eta, "reward_mean": float(self.reward[a, b].mean())}
                for i in range(self.reward.shape[-1]):
                    row[f"reward_{i}"] = float(self.reward[a, b, i])
                if self.tit_for_tat is not None:
                    row["tit_for_tat"] = float(self.tit_for_tat[a, b])
                out.append(row)
        return out


def run_exact_grid(config: ExactConfig, lr: Sequence[float], eta: Sequence[float], progress: bool = False) -> GridResult:
    """Run ``config.seeds`` seeds in every (lr, η) cell, all cells as one batch of ``len(lr)·len(eta)·seeds`` rows."""
    unfit = sorted({name for name in config.learners if name not in GRID_RULES})
    if unfit:
        raise ValueError(f"grids take the rules {', '.join(GRID_RULES)}; {unfit} need scalar rates "
                         "(run them one setting at a time with `lola-zoo exact`)")
    if config.policy != "tabular":
        raise ValueError("grids run on the tabular parameterisation")
    lrs, etas = tuple(float(v) for v in lr), tuple(float(v) for v in eta)
    if not lrs or not etas:
        raise ValueError("a grid needs at least one lr and one eta")
    game = lola_zoo.game(config.game)
    dtype = torch.float64 if config.dtype == "float64" else torch.float32
    cells, seeds = len(lrs) * len(etas), config.seeds
    start_params = initial_params(config, game)  # the same seeds in every cell
    params = [p.repeat(cells, *([1] * (p.dim() - 1))) for p in start_params]
    device = params[0].device
    per_cell = torch.tensor([[a, b] for a in lrs for b in etas], dtype=dtype, device=device)
    lr_rows = per_cell[:, 0].repeat_interleave(seeds).unsqueeze(-1)
    eta_rows = per_cell[:, 1].repeat_interleave(seeds).unsqueeze(-1)
    learners = [make_learner(name, eta=eta_rows, order=config.hola_order) for name in config.learners]
    value_fn = make_value_fn(game, config.discount)
    from tqdm.auto import tqdm

    begin = time.perf_counter()
    with torch_threads(config.threads):
        for _ in tqdm(range(config.steps), desc=f"grid {config.label()}", disable=not progress, leave=False, unit="upd"):
            params, _ = exact_update(value_fn, params, learners, [lr_rows] * len(params))
        with torch.no_grad():
            final = (1.0 - config.discount) * value_fn(params)
    seconds = time.perf_counter() - begin
    if not torch.isfinite(final).all():
        bad = int((~torch.isfinite(final)).any(-1).sum())
        raise RuntimeError(f"{bad} of {final.shape[0]} runs became non-finite; lower the largest lr or eta")
    reward = final.reshape(len(lrs), len(etas), seeds, -1).mean(2).cpu().numpy()
    tft = None
    if config.game == "ipd":
        probs = torch.stack([policy_probs_first_action(p) for p in params], dim=1)
        tft = classify_ipd(probs)["tit_for_tat"].double().reshape(len(lrs), len(etas), seeds).mean(-1).cpu().numpy()
    return GridResult(replace(config), lrs, etas, reward, tft, seconds)


def plot_grid(result: GridResult, path: str | Path) -> Path:
    """Heat-maps of the mean final reward (and, in the IPD, the TFT share) over the (lr, η) grid."""
    from lola_zoo.plotting import _pyplot, save_figure

    plt = _pyplot()
    panels = [("mean final reward per step", result.reward.mean(-1), "viridis")]
    if result.tit_for_tat is not None:
        panels.append(("share of seeds both TFT-like", result.tit_for_tat, "magma"))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.2), squeeze=False)
    def edges(values: tuple[float, ...]) -> tuple[float, float]:
        # cells centred on their values (the axes are evenly spaced or short lists)
        half = (max(values) - min(values)) / (2 * (len(values) - 1)) if len(values) > 1 else 0.5
        return min(values) - half, max(values) + half

    extent = (*edges(result.eta), *edges(result.lr))
    for ax, (title, data, cmap) in zip(axes[0], panels):
        image = ax.imshow(data, origin="lower", aspect="auto", cmap=cmap, extent=extent)
        ax.set_xlabel("η (correction rate)")
        ax.set_ylabel("lr δ")
        ax.set_title(title, fontsize=10)
        fig.colorbar(image, ax=ax)
    c = result.config
    fig.suptitle(f"{c.game}: {c.label()}, {len(result.lr)}×{len(result.eta)} grid × {c.seeds} seeds, {c.steps} updates",
                 fontsize=10)
    return save_figure(fig, Path(path))


def save_grid(result: GridResult, out_dir: str | Path) -> dict[str, Path]:
    """``grid.csv``, ``grid.json`` (atomically) and ``grid.png`` in ``out_dir``."""
    from dataclasses import asdict

    from lola_zoo.io import atomic_write_csv, atomic_write_json

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = result.rows()
    return {
        "csv": atomic_write_csv(out / "grid.csv", rows),
        "json": atomic_write_json(out / "grid.json", {"config": asdict(result.config), "lr": result.lr, "eta": result.eta,
                                                      "seconds": result.seconds, "cells": rows}),
        "png": plot_grid(result, out / "grid.png"),
    }
