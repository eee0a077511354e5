"""LOLA agents in the Coin Game, in your own PettingZoo loop.

Two LOLA-PG learners (white-box: each reads the other's policy) and, for contrast, two NL-PG
learners play the Coin Game (``lola_zoo.make("coin-game")``) in a plain parallel loop; each holds a
linear softmax policy over the self-centred grid (:class:`~lola_zoo.agents.coin_linear.CoinLinearPolicy`).
The loop counts, from ``infos[agent]["picked"]``, how many picked coins were the picker's own colour
and the points each player earned.  Run: ``.venv/bin/python examples/coin_own_loop.py`` (~45 s).

What it shows, honestly: this is a *small* run — 40 updates of 32 episodes of 20 steps, one seed
per pair — because the plain loop calls the torch policy at every step (about 0.4 ms per call on
the shared 2-core machine this was written on), while the batched engine plays all episodes of an
update at once.  The settings are the engine's ``linear`` Coin Game preset (Adam lr 0.05, eta 10,
gamma 0.96) with fewer and smaller batches; at this size the batched engine measured an own-coin
share of 65 % for LOLA-PG and 53 % for NL-PG (5 seeds), and LOLA's share grows further with more
updates (88 % after 600 updates of 64 episodes, docs/coin-game-results.md).  With one seed per pair
here, expect LOLA's share above NL's but noisy.  The recurrent ``CoinRecurrentPolicy`` works in
the same loop (``policy_kind="gru"``) at about twice the cost per step.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

import lola_zoo
from lola_zoo.agents import make_pg_agent, observe_all


@dataclass
class Config:
    """Every setting of the example, with its default."""

    updates: int = 40  # learning steps per pair
    episodes_per_update: int = 32  # episodes per batch (the paper: 4000)
    episode_length: int = 20  # steps per episode (the paper: 150)
    lr: float = 0.05  # Adam (the paper: 0.005 with a recurrent policy)
    eta: float = 10.0  # LOLA's anticipated opponent step (see docs/coin-game-results.md)
    gamma: float = 0.96  # discount (the paper's)
    policy_kind: str = "linear"  # linear | conv | gru | lstm
    seed: int = 0
    window: int = 5  # final numbers: the last `window` updates


def train_pair(kind: str, cfg: Config) -> list[dict[str, float]]:
    """Train two ``kind`` learners in the Coin Game with a hand-written loop; one row per update."""
    env = lola_zoo.make("coin-game", max_steps=cfg.episode_length)
    settings = dict(lr=cfg.lr, eta=cfg.eta, gamma=cfg.gamma, optimizer="adam", policy_kind=cfg.policy_kind,
                    episodes_per_update=cfg.episodes_per_update)
    red = make_pg_agent(kind, env, "player_0", seed=2 * cfg.seed, **settings)
    blue = make_pg_agent(kind, env, "player_1", opponent=red, seed=2 * cfg.seed + 1, **settings)
    red.set_opponent(blue)
    agents = {"player_0": red, "player_1": blue}

    rows: list[dict[str, float]] = []
    own = other = 0
    points = dict.fromkeys(agents, 0.0)
    for episode in range(cfg.updates * cfg.episodes_per_update):
        observations, infos = env.reset(seed=cfg.seed if episode == 0 else None)
        for agent in agents.values():
            agent.reset()
        while env.agents:
            actions = {name: agents[name].act(observations[name]) for name in env.agents}
            next_observations, rewards, terminations, truncations, infos = env.step(actions)
            observe_all(agents, observations, actions, rewards, next_observations, terminations, truncations, infos)
            for name in actions:
                picked = infos[name]["picked"]  # "own", "other" or None
                own += picked == "own"
                other += picked == "other"
                points[name] += rewards[name]
            observations = next_observations
        metrics = {name: agent.update() for name, agent in agents.items()}
        if metrics["player_0"]:  # a batch is complete: both learned; record it and start counting again
            n = cfg.episodes_per_update
            rows.append({"own_coin_share": own / max(own + other, 1), "coins_per_episode": (own + other) / n,
                         "points_per_episode": sum(points.values()) / (2 * n)})
            own = other = 0
            points = dict.fromkeys(agents, 0.0)
    return rows


def main(verbose: bool = True, **overrides: float) -> dict[str, dict[str, float]]:
    """Train a LOLA-PG pair and an NL-PG pair; print own-coin share and points; return the final numbers."""
    torch.set_num_threads(1)
    cfg = Config(**overrides)  # type: ignore[arg-type]
    results: dict[str, dict[str, float]] = {}
    for kind, label in (("lola", "LOLA-PG vs LOLA-PG"), ("nl", "NL-PG vs NL-PG")):
        start = time.perf_counter()
        rows = train_pair(kind, cfg)
        last = rows[-cfg.window:]
        results[label] = {key: float(np.mean([r[key] for r in last])) for key in rows[0]}
        results[label]["seconds"] = time.perf_counter() - start
        if verbose:
            curve = " ".join(f"{r['own_coin_share']:.0%}" for r in rows[:: max(len(rows) // 8, 1)])
            print(f"{label}: own-coin share every {max(len(rows) // 8, 1)} updates: {curve}")
    if verbose:
        print(f"\nCoin Game, {cfg.policy_kind} policy, {cfg.updates} updates x {cfg.episodes_per_update} episodes x "
              f"{cfg.episode_length} steps, seed {cfg.seed}; mean of the last {cfg.window} updates")
        print(f"{'pair':<20} {'own-coin share':>14} {'coins/episode':>13} {'points/episode':>14} {'time':>6}")
        for label, r in results.items():
            print(f"{label:<20} {r['own_coin_share']:>14.1%} {r['coins_per_episode']:>13.2f} "
                  f"{r['points_per_episode']:>14.2f} {r['seconds']:>5.0f}s")
    return results


if __name__ == "__main__":
    main()
