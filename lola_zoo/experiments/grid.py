"""Hyperparameter grids on exact values: every (lr, η, γ, init std) cell and every seed of it in one batched computation.

The exact rules are per-row functions of a batch of seeds, and their learning rate δ and
correction rate η enter as multipliers; given as ``(B, 1)`` tensors, one batch holds a whole grid.
The discount γ enters the closed-form value of 2×2 games as one number per row, and the initial
std scales each row's initial logits.  Every cell starts from the same ``seeds`` standard-normal
draws (common random numbers), so the differences across the grid are the hyperparameters', not
the draws'.  A cell equals :func:`~lola_zoo.experiments.exact.run_exact` with that cell's settings
(``tests/test_grid.py``).
"""

from __future__ import annotations

import itertools
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

    :param reward: ``(len(lr), len(eta), len(gamma), len(init_std), N)`` mean final reward per step
        ``(1 − γ) V`` of each player over the seeds.
    :param tit_for_tat: ``(len(lr), len(eta), len(gamma), len(init_std))`` share of seeds whose final
        IPD policies are both TFT-like (IPD only).
    """

    config: ExactConfig
    lr: tuple[float, ...]
    eta: tuple[float, ...]
    gamma: tuple[float, ...]
    init_std: tuple[float, ...]
    reward: np.ndarray
    tit_for_tat: np.ndarray | None
    seconds: float

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per cell, for CSV/JSON."""
        out = []
        for index in np.ndindex(*self.reward.shape[:-1]):
            a, b, c, d = index
            row: dict[str, Any] = {"lr": self.lr[a], "eta": self.eta[b], "gamma": self.gamma[c],
                                   "init_std": self.init_std[d], "reward_mean": float(self.reward[index].mean())}
            for i in range(self.reward.shape[-1]):
                row[f"reward_{i}"] = float(self.reward[index + (i,)])
            if self.tit_for_tat is not None:
                row["tit_for_tat"] = float(self.tit_for_tat[index])
            out.append(row)
        return out


def run_exact_grid(
    config: ExactConfig,
    lr: Sequence[float],
    eta: Sequence[float],
    gamma: Sequence[float] | None = None,
    init_std: Sequence[float] | None = None,
    progress: bool = False,
) -> GridResult:
    """Run ``config.seeds`` seeds in every (lr, η, γ, init std) cell, all cells as one batch.

    ``gamma``/``init_std``: ``None`` takes the config's single value.  A γ axis needs a two-player
    2×2 game (the closed-form value takes one discount per row).
    """
    unfit = sorted({name for name in config.learners if name not in GRID_RULES})
    if unfit:
        raise ValueError(f"grids take the rules {', '.join(GRID_RULES)}; {unfit} need scalar rates "
                         "(run them one setting at a time with `lola-zoo exact`)")
    if config.policy != "tabular":
        raise ValueError("grids run on the tabular parameterisation")
    axes = {
        "lr": tuple(float(v) for v in lr), "eta": tuple(float(v) for v in eta),
        "gamma": tuple(float(v) for v in (gamma if gamma is not None else (config.discount,))),
        "init_std": tuple(float(v) for v in (init_std if init_std is not None else (config.init_std,))),
    }
    for name, values in axes.items():
        if not values:
            raise ValueError(f"a grid needs at least one {name}")
    if not all(0.0 < g < 1.0 for g in axes["gamma"]):
        raise ValueError(f"gamma values must lie in (0, 1), got {axes['gamma']}")
    if any(v < 0 for v in axes["init_std"]):
        raise ValueError(f"init_std values must be >= 0, got {axes['init_std']}")
    game = lola_zoo.game(config.game)
    dtype = torch.float64 if config.dtype == "float64" else torch.float32
    shape = tuple(len(v) for v in axes.values())
    cells, seeds = int(np.prod(shape)), config.seeds
    draws = initial_params(replace(config, init_std=1.0), game)  # the same standard-normal seeds in every cell
    device = draws[0].device
    settings = torch.tensor(list(itertools.product(*axes.values())), dtype=dtype, device=device)  # (cells, 4)
    per_row = settings.repeat_interleave(seeds, dim=0)  # (cells * seeds, 4)
    lr_rows, eta_rows, gamma_rows, std_rows = (per_row[:, k:k + 1] for k in range(4))
    params = [d.repeat(cells, *([1] * (d.dim() - 1))) * std_rows.reshape(-1, *([1] * (d.dim() - 1))) for d in draws]
    learners = [make_learner(name, eta=eta_rows, order=config.hola_order) for name in config.learners]
    several = len(axes["gamma"]) > 1
    value_fn = make_value_fn(game, gamma_rows.squeeze(-1) if several else axes["gamma"][0])
    from tqdm.auto import tqdm

    begin = time.perf_counter()
    with torch_threads(config.threads):
        for _ in tqdm(range(config.steps), desc=f"grid {config.label()}", disable=not progress, leave=False, unit="upd"):
            params, _ = exact_update(value_fn, params, learners, [lr_rows] * len(params))
        with torch.no_grad():
            final = (1.0 - gamma_rows) * value_fn(params)
    seconds = time.perf_counter() - begin
    if not torch.isfinite(final).all():
        bad = int((~torch.isfinite(final)).any(-1).sum())
        raise RuntimeError(f"{bad} of {final.shape[0]} runs became non-finite; lower the largest lr or eta")
    reward = final.reshape(*shape, seeds, -1).mean(-2).cpu().numpy()
    tft = None
    if config.game == "ipd":
        probs = torch.stack([policy_probs_first_action(p) for p in params], dim=1)
        tft = classify_ipd(probs)["tit_for_tat"].double().reshape(*shape, seeds).mean(-1).cpu().numpy()
    return GridResult(replace(config), axes["lr"], axes["eta"], axes["gamma"], axes["init_std"], reward, tft, seconds)


def plot_grid(result: GridResult, path: str | Path) -> Path:
    """Heat-maps over (lr, η) of the mean final reward (and, in the IPD, the TFT share): one row per (γ, init std), at most 4."""
    from lola_zoo.plotting import _pyplot, save_figure

    plt = _pyplot()
    others = list(itertools.product(range(len(result.gamma)), range(len(result.init_std))))
    shown = others[:4]
    panels = 2 if result.tit_for_tat is not None else 1
    fig, axes = plt.subplots(len(shown), panels, figsize=(5.2 * panels, 4.1 * len(shown)), squeeze=False,
                             constrained_layout=True)

    def ticks(ax: Any, values: tuple[float, ...], axis: str) -> None:
        # cells are indexed, labelled with their values (lists need not be evenly spaced); at most ~8 labels
        step = max(1, len(values) // 8)
        positions = list(range(0, len(values), step))
        labels = [f"{values[k]:g}" for k in positions]
        if axis == "x":
            ax.set_xticks(positions, labels)
        else:
            ax.set_yticks(positions, labels)

    for r, (c, d) in enumerate(shown):
        maps = [("mean final reward per step", result.reward[:, :, c, d].mean(-1), "viridis")]
        if result.tit_for_tat is not None:
            maps.append(("share of seeds both TFT-like", result.tit_for_tat[:, :, c, d], "magma"))
        for ax, (title, data, cmap) in zip(axes[r], maps):
            image = ax.imshow(data, origin="lower", aspect="auto", cmap=cmap)
            ticks(ax, result.eta, "x")
            ticks(ax, result.lr, "y")
            ax.set_xlabel("η (correction rate)")
            ax.set_ylabel("lr δ")
            ax.set_title(f"{title}, γ {result.gamma[c]:g}, init std {result.init_std[d]:g}", fontsize=9)
            fig.colorbar(image, ax=ax)
    cfg = result.config
    more = f" (first 4 of {len(others)} (γ, init std) settings)" if len(others) > 4 else ""
    fig.suptitle(f"{cfg.game}: {cfg.label()}, {len(result.lr)}×{len(result.eta)} (lr, η) × {cfg.seeds} seeds, "
                 f"{cfg.steps} updates{more}", fontsize=10)
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
                                                      "gamma": result.gamma, "init_std": result.init_std,
                                                      "seconds": result.seconds, "cells": rows}),
        "png": plot_grid(result, out / "grid.png"),
    }
