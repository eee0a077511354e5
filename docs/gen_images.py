"""Draw the pictures of the environment pages into docs/img/ (committed; rerun after changing a game).

    python docs/gen_images.py

For every registered two-player matrix game: its payoff table, and the exact per-step value
(gamma = 0.96) each memory-1 strategy earns against each other one, computed by
:func:`lola_zoo.envs.exact.exact_value_per_step`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from lola_zoo.envs.exact import exact_value_per_step  # noqa: E402
from lola_zoo.envs.games import CANONICAL_GAMES, MatrixGame  # noqa: E402

IMG = Path(__file__).resolve().parent / "img"
GAMMA = 0.96


def strategies(game: MatrixGame, player: int) -> dict[str, np.ndarray]:
    """Memory-1 strategies of ``player`` as ``(n_states, n_actions)`` tables (states from its own view).

    "always X" for each action X; "tit-for-tat" (or "copy opponent" with more actions) repeats the
    opponent's previous action and opens with the first action (tit-for-tat in the prisoner's
    dilemma); "uniform" plays every action equally often.
    """
    n, m = game.n_actions[player], game.n_actions[1 - player]
    out = {}
    for a, name in enumerate(game.action_names[player]):
        table = np.zeros((game.n_states, n))
        table[:, a] = 1.0
        out[f"always {name}"] = table
    if n == m:
        copy = np.zeros((game.n_states, n))
        copy[0, 0] = 1.0
        for own in range(n):
            for other in range(m):
                copy[1 + own * m + other, other] = 1.0
        out["tit-for-tat" if n == 2 else "copy opponent"] = copy
    out["uniform"] = np.full((game.n_states, n), 1.0 / n)
    return out


def matchup(game: MatrixGame) -> tuple[list[str], list[str], np.ndarray]:
    """Per-step exact values ``(rows, cols, V[r, c, player])`` of every strategy pair, in one batch."""
    s0, s1 = strategies(game, 0), strategies(game, 1)
    pairs = [(a, b) for a in s0.values() for b in s1.values()]
    p0 = torch.tensor(np.stack([a for a, _ in pairs]))
    p1 = torch.tensor(np.stack([b for _, b in pairs]))
    values = exact_value_per_step(game, [p0, p1], GAMMA, kind="probs").numpy()
    return list(s0), list(s1), values.reshape(len(s0), len(s1), 2)


def _z(x: float) -> str:
    """Two decimals without a "-0.00" for values that are zero up to rounding."""
    return f"{round(float(x), 2) + 0.0:.2f}"


def draw(game_id: str, game: MatrixGame) -> Path:
    """One figure: payoff table (left) and strategy match-up (right)."""
    names0, names1 = game.action_names
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10.5, 4.2), gridspec_kw={"width_ratios": [1, 1.5]})
    welfare = game.payoffs.sum(0)
    ax0.imshow(welfare, cmap="RdYlGn", vmin=welfare.min() - 0.5, vmax=welfare.max() + 0.5)
    for r in range(len(names0)):
        for c in range(len(names1)):
            ax0.text(c, r, f"{game.payoffs[0, r, c] + 0.0:g}, {game.payoffs[1, r, c] + 0.0:g}", ha="center",
                     va="center", fontsize=12)
    ax0.set_xticks(range(len(names1)), names1)
    ax0.set_yticks(range(len(names0)), names0)
    ax0.set_xlabel("player_1")
    ax0.set_ylabel("player_0")
    ax0.xaxis.set_label_position("top")
    ax0.xaxis.tick_top()
    ax0.set_title(f"{game.name}: payoffs (player_0, player_1)\ncolour = sum", fontsize=10, pad=28)

    rows, cols, v = matchup(game)
    ax1.imshow(v[..., 0], cmap="viridis")
    for r in range(len(rows)):
        for c in range(len(cols)):
            ax1.text(c, r, f"{_z(v[r, c, 0])}\n{_z(v[r, c, 1])}", ha="center", va="center", fontsize=8,
                     color="white" if v[r, c, 0] < v[..., 0].mean() else "black")
    ax1.set_xticks(range(len(cols)), cols, rotation=30, ha="left")
    ax1.set_yticks(range(len(rows)), rows)
    ax1.xaxis.tick_top()
    ax1.set_title(f"exact per-step values, gamma = {GAMMA}\n(player_0 above, player_1 below)", fontsize=10)
    fig.tight_layout()
    IMG.mkdir(parents=True, exist_ok=True)
    path = IMG / f"{game_id}.png"
    fig.savefig(path, dpi=80, metadata={"Software": None})  # no version stamp: reruns change nothing
    plt.close(fig)
    return path


def main() -> int:
    """Draw every canonical game."""
    for game_id, game in CANONICAL_GAMES.items():
        print(f"wrote {draw(game_id, game)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
