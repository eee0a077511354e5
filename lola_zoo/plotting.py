"""Figures: learning curves with their spread over seeds, and final policies per state.

Every function takes plain arrays (no experiment objects), draws with matplotlib's Agg backend
(no display needed) and writes the PNG atomically.  Append new figure kinds here as functions
of the same shape: ``plot_x(data..., path, title=...) -> Path``.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from lola_zoo.io import atomic_write_bytes

__all__ = ["plot_learning_curves", "plot_policies", "plot_tournament_matrix", "save_figure"]

_COLORS = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:gray"]


def _pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend, imported lazily (it costs ~0.5 s)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | Path, dpi: int = 110) -> Path:
    """Render ``fig`` to PNG in memory, write it atomically to ``path`` and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    _pyplot().close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def plot_learning_curves(
    curves: Mapping[str, np.ndarray],
    path: str | Path,
    title: str = "",
    ylabel: str = "average reward per step",
    xlabel: str = "update",
    band: tuple[float, float] = (10.0, 90.0),
    reference: Mapping[str, float] | None = None,
) -> Path:
    """Mean over seeds of each ``curves[label]`` of shape ``(T, B)``, with a percentile band.

    ``band`` gives the lower and upper percentiles of the shaded spread (default 10th-90th);
    ``reference`` draws labelled horizontal lines (e.g. mutual cooperation at -1).
    """
    if not curves:
        raise ValueError("plot_learning_curves needs at least one curve")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    for k, (label, values) in enumerate(curves.items()):
        values = np.asarray(values, dtype=float)
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2:
            raise ValueError(f"curve {label!r} must have shape (T, B), got {values.shape}")
        x = np.arange(values.shape[0])
        color = _COLORS[k % len(_COLORS)]
        ax.plot(x, values.mean(1), color=color, label=f"{label} (mean of {values.shape[1]})", lw=1.6)
        lo, hi = np.percentile(values, band, axis=1)
        ax.fill_between(x, lo, hi, color=color, alpha=0.18, lw=0)
    for label, y in (reference or {}).items():
        ax.axhline(y, color="black", ls=":", lw=0.8)
        ax.annotate(label, (0, y), textcoords="offset points", xytext=(2, 2), fontsize=7)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title + f"\nshaded: {band[0]:g}th-{band[1]:g}th percentile over seeds", fontsize=10)
    ax.legend(fontsize=7, loc="best")
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def plot_policies(
    policies: Mapping[str, np.ndarray],
    state_labels: Sequence[str],
    path: str | Path,
    title: str = "",
    ylabel: str = "P(cooperate | state)",
    max_points: int = 400,
    seed: int = 0,
) -> Path:
    """Final P(first action | state) per state: mean bar plus one jittered dot per seed.

    ``policies[label]`` has shape ``(B, S)``; at most ``max_points`` seeds are drawn as dots.
    """
    if not policies:
        raise ValueError("plot_policies needs at least one policy set")
    plt = _pyplot()
    rng = np.random.default_rng(seed)
    n_states = len(state_labels)
    n = len(policies)
    width = 0.8 / n
    fig, ax = plt.subplots(figsize=(min(12.0, max(6.0, 0.9 * n_states * max(1.0, n / 2))), 4.2))
    for k, (label, probs) in enumerate(policies.items()):
        probs = np.asarray(probs, dtype=float)
        if probs.ndim != 2 or probs.shape[1] != n_states:
            raise ValueError(f"policies[{label!r}] must have shape (B, {n_states}), got {probs.shape}")
        centers = np.arange(n_states) - 0.4 + width * (k + 0.5)
        color = _COLORS[k % len(_COLORS)]
        ax.bar(centers, probs.mean(0), width=width * 0.9, color=color, alpha=0.45, label=f"{label} (mean)")
        shown = probs if probs.shape[0] <= max_points else probs[rng.choice(probs.shape[0], max_points, False)]
        jitter = rng.uniform(-width * 0.35, width * 0.35, size=shown.shape)
        ax.scatter((centers + jitter).ravel(), shown.ravel(), s=3, color=color, alpha=0.35, lw=0)
    ax.set_xticks(np.arange(n_states))
    ax.set_xticklabels(list(state_labels))
    ax.set_ylim(-0.03, 1.03)
    ax.set_ylabel(ylabel)
    ax.set_xlabel("state (own action first)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="best")
    ax.grid(alpha=0.3, axis="y")
    return save_figure(fig, path)


def plot_tournament_matrix(
    matrix: np.ndarray,
    rows: Sequence[str],
    cols: Sequence[str],
    path: str | Path,
    title: str = "average reward per step of the row player",
) -> Path:
    """Heat-map of a tournament's cross table, every cell annotated with its value."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1.0 + 0.62 * len(cols), 0.8 + 0.45 * len(rows)))
    image = ax.imshow(matrix, cmap="RdYlGn", aspect="auto")
    ax.set_xticks(range(len(cols)), labels=list(cols), rotation=45, ha="right")
    ax.set_yticks(range(len(rows)), labels=list(rows))
    finite = matrix[np.isfinite(matrix)]
    middle = float(finite.mean()) if finite.size else 0.0
    for i in range(len(rows)):
        for j in range(len(cols)):
            if np.isfinite(matrix[i, j]):
                ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="black" if abs(matrix[i, j] - middle) < 1.0 else "white")
    ax.set_xlabel("opponent (column)")
    ax.set_ylabel("player (row)")
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.04)
    return save_figure(fig, path)
