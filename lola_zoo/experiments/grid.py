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
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

import lola_zoo
from lola_zoo.agents.exact_rules import exact_update, make_learner
from lola_zoo.devices import torch_threads
from lola_zoo.experiments.exact import (
    ExactConfig,
    classify_ipd,
    initial_params,
    make_value_fn,
    non_finite_error,
    policy_probs_first_action,
)

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
            items = text.split(",")
            if any(not v.strip() for v in items):  # "1,,2" or a trailing comma: a typo, not a value
                raise ValueError
            values = tuple(float(v) for v in items)
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


# ---------------------------------------------------------------------------------------------
# sweeps: exact cells that differ only in per-row settings, run as one batch

#: rules whose batched trajectories are bitwise those of a run alone (closed form, no autograd graph)
BATCHED_CELL_RULES = ("nl", "lola", "lookahead", "lola-taylor", "exact-lola", "sos")
#: rules that take η as one number (SOS's switching criterion): their cells batch only with the same η
SCALAR_ETA_RULES = ("sos",)
#: the cell settings one batch may mix, each becoming one value per batch row
ROW_SETTINGS = ("lr", "eta", "gamma", "init_std", "seed", "runs")
#: most runs (batch rows) one batched computation holds
MAX_BATCH_ROWS = 100_000


def exact_cell_config(config: dict) -> ExactConfig:
    """The :class:`ExactConfig` of one sweep cell of kind ``exact`` (``runs`` batched runs, the cell's ``seed``)."""
    from dataclasses import fields

    config = dict(config)
    if "seeds" in config:
        raise ValueError("exact: 'seeds' inside a cell is ambiguous; use 'runs' for the runs batched in "
                         "one cell and the sweep's seeds for independent cells")
    kwargs = {k: v for k, v in config.items() if k != "runs"}
    kwargs["seeds"] = int(config.get("runs", 50))
    allowed = {f.name for f in fields(ExactConfig)} - {"seeds"}
    unknown = set(kwargs) - allowed - {"seeds"}
    if unknown:
        raise ValueError(f"exact: unknown parameter(s) {sorted(unknown)}; allowed: runs, {', '.join(sorted(allowed))}")
    learners = kwargs.get("learners")
    if isinstance(learners, str):
        kwargs["learners"] = tuple(learners.split(","))  # "lola" (both seats) or "lola,nl"
    elif isinstance(learners, list):
        kwargs["learners"] = tuple(learners)
    for key in ("lr", "eta"):
        if isinstance(kwargs.get(key), list):
            kwargs[key] = tuple(kwargs[key])
    return ExactConfig(**kwargs)


def exact_cell_metrics(summary: dict[str, Any]) -> dict[str, Any]:
    """A cell's flat metrics from :func:`~lola_zoo.experiments.exact.summarize`: rewards, outcome shares, mean policies."""
    metrics: dict[str, Any] = {}
    for i, stats in enumerate(summary["players"].values()):
        metrics[f"reward_{i}"] = stats["reward_mean"]
        metrics[f"reward_{i}_std"] = stats["reward_std"]
    for outcome, share in summary.get("shares", {}).items():
        metrics[f"share_{outcome}"] = share
    for i, policy in enumerate(summary.get("mean_final_policy", {}).values()):
        for state, prob in policy.items():
            metrics[f"policy_{i}.{state}"] = prob
    return metrics


def exact_cells_key(config: dict) -> str | None:
    """Cells of kind ``exact`` with the same key run as one batch; ``None``: this cell runs alone.

    Batched: two-player 2×2 games, tabular policies, the closed-form rules of
    :data:`BATCHED_CELL_RULES`; the cells may differ in :data:`ROW_SETTINGS` only (SOS cells
    not in η, which its criterion takes as one number).
    """
    try:
        cfg = exact_cell_config(config)
        game = lola_zoo.game(cfg.game)
    except (KeyError, ValueError, TypeError):
        return None  # the cell's own run reports the error
    if (game.n_players != 2 or tuple(game.n_actions) != (2, 2) or cfg.policy != "tabular"
            or not set(cfg.learners) <= set(BATCHED_CELL_RULES) or cfg.device not in ("cpu", None)):
        return None
    shared = {k: v for k, v in config.items() if k not in ROW_SETTINGS}
    if set(cfg.learners) & set(SCALAR_ETA_RULES):
        shared["eta"] = cfg.eta  # per player, after ExactConfig normalised it
    return json.dumps(shared, sort_keys=True, default=str)


def run_exact_cells(configs: Sequence[dict]) -> list[dict[str, Any] | BaseException]:
    """Each cell's ``exact`` metrics, computed as one batch: the same numbers, bit for bit, as one cell at a time.

    Every cell keeps its own seed's initial logits, learning rates, η, γ and init std as rows of
    one batch; each seed's trajectory in the closed-form path does not depend on the rows around
    it (``tests/test_closed_form.py``), and each cell's summary is computed from a copy of its own
    rows exactly as :func:`~lola_zoo.experiments.exact.run_exact` would.  A cell whose values
    become non-finite gets its exception; the others their metrics.
    """
    from lola_zoo.experiments.exact import ExactResult, summarize

    cfgs = [exact_cell_config(c) for c in configs]
    keys = {exact_cells_key(c) for c in configs}
    if None in keys or len(keys) != 1:
        raise ValueError("run_exact_cells needs cells that exact_cells_key puts in one batch")
    first = cfgs[0]
    game = lola_zoo.game(first.game)
    inits = [initial_params(cfg, game) for cfg in cfgs]
    dtype, device = inits[0][0].dtype, inits[0][0].device

    def rows(per_cell: Sequence[float], as_dtype: torch.dtype = dtype) -> torch.Tensor:
        return torch.cat([torch.full((cfg.seeds, 1), v, dtype=as_dtype, device=device) for cfg, v in zip(cfgs, per_cell)])

    params = [torch.cat([init[i] for init in inits]) for i in range(2)]
    lrs = [rows([cfg.lr[i] for cfg in cfgs]) for i in range(2)]  # type: ignore[index]
    learners = [
        make_learner(first.learners[i], order=first.hola_order, a=first.sos_a, b=first.sos_b,
                     # SOS's criterion takes η as a number; its cells share one (exact_cells_key)
                     eta=first.eta[i] if first.learners[i] in SCALAR_ETA_RULES else rows([cfg.eta[i] for cfg in cfgs]))  # type: ignore[index]
        for i in range(2)
    ]
    # γ stays float64 until it meets the values, as a Python float does in a cell's own run
    gammas = rows([cfg.discount for cfg in cfgs], torch.float64)
    value_fn = make_value_fn(game, gammas.squeeze(-1) if len(cfgs) > 1 else cfgs[0].discount)
    begin = time.perf_counter()
    with torch_threads(first.threads):
        for _ in range(first.steps):
            params, _ = exact_update(value_fn, params, learners, lrs)
        with torch.no_grad():
            final = (1.0 - gammas).to(dtype) * value_fn(params)
    seconds = (time.perf_counter() - begin) / len(cfgs)
    out: list[dict[str, Any] | BaseException] = []
    start = 0
    for cfg in cfgs:
        mine = slice(start, start + cfg.seeds)
        start += cfg.seeds
        rewards = final[mine].clone(memory_format=torch.contiguous_format).unsqueeze(0)
        if not torch.isfinite(rewards).all():
            out.append(non_finite_error(cfg))
            continue
        logits = [p[mine].clone() for p in params]  # own copies: the same kernels as a run of this cell alone
        probs = torch.stack([policy_probs_first_action(p) for p in logits], dim=1)
        result = ExactResult(cfg, rewards, logits, probs, game.state_labels(0), seconds)
        out.append(exact_cell_metrics(summarize(result)))
    return out


def batch_exact_cells(configs: Sequence[dict], max_rows: int = MAX_BATCH_ROWS, parts: int = 1) -> list[list[int]]:
    """Indices of ``configs`` grouped into batches: the same :func:`exact_cells_key`, at most ``max_rows`` runs each.

    ``parts`` splits each group into about that many batches of similar size (one per worker).
    """
    keyed: dict[str, list[int]] = {}
    alone: list[list[int]] = []
    for index, config in enumerate(configs):
        key = exact_cells_key(config)
        if key is None:
            alone.append([index])
        else:
            keyed.setdefault(key, []).append(index)
    batches: list[list[int]] = []
    for members in keyed.values():
        runs = [int(configs[i].get("runs", 50)) for i in members]
        cap = min(max_rows, max(1, -(-sum(runs) // max(1, parts))))  # ceil(total / parts)
        current: list[int] = []
        size = 0
        for i, n in zip(members, runs):
            if current and size + n > cap:
                batches.append(current)
                current, size = [], 0
            current.append(i)
            size += n
        batches.append(current)
    return batches + alone
