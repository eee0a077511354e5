"""``lola-zoo demo``: play a few rounds between two fixed strategies and print exact values."""

from __future__ import annotations

import argparse

import torch

import lola_zoo
from lola_zoo.agents.strategies import FIXED_STRATEGIES, Memory1Strategy, make_strategy
from lola_zoo.commands._common import finite_float, seed_int
from lola_zoo.envs.exact import exact_value

NAME = "demo"
HELP = "Play a few IPD rounds between two fixed strategies and print their exact discounted values."
ORDER = 80


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Game, the two strategies, rounds and gamma."""
    parser.add_argument("--game", default="ipd", help="registered two-action game id (default: ipd)")
    parser.add_argument("--row", default="tft", choices=sorted(FIXED_STRATEGIES), help="player_0's strategy")
    parser.add_argument("--col", default="alld", choices=sorted(FIXED_STRATEGIES), help="player_1's strategy")
    parser.add_argument("--rounds", type=int, default=5, help="rounds to play and show (default: 5)")
    parser.add_argument("--gamma", type=finite_float, default=0.96, help="discount of the exact value (default: 0.96)")
    parser.add_argument("--seed", type=seed_int, default=0, help="seed of the strategies and the game (>= 0; default: 0)")


def _probs(agent, n_states: int, n_actions: int) -> torch.Tensor:
    if isinstance(agent, Memory1Strategy):
        return torch.tensor(agent.probs, dtype=torch.float64)
    return torch.full((n_states, n_actions), 1.0 / n_actions, dtype=torch.float64)


def run(args: argparse.Namespace) -> int:
    """Play, render every round, then print V_i and (1 - gamma) V_i for both players."""
    if args.rounds < 1:
        raise ValueError(f"--rounds must be positive, got {args.rounds}")
    game = lola_zoo.game(args.game)
    if game.n_actions != (2, 2):
        raise ValueError(f"demo strategies need a 2x2 game; {args.game!r} has actions {game.n_actions}")
    env = lola_zoo.make(args.game, max_steps=args.rounds, render_mode="ansi")
    agents = {"player_0": make_strategy(args.row), "player_1": make_strategy(args.col)}
    for i, agent in enumerate(agents.values()):
        agent.seed(args.seed + i)
    observations, _ = env.reset(seed=args.seed)
    totals = dict.fromkeys(agents, 0.0)
    print(f"{agents['player_0'].name} (player_0) vs {agents['player_1'].name} (player_1) in {game.name}")
    while env.agents:
        actions = {a: agents[a].act(observations[a]) for a in env.agents}
        observations, rewards, _, _, _ = env.step(actions)
        for a, r in rewards.items():
            totals[a] += r
        print("  " + env.render())
    print(f"  total over {args.rounds} rounds: " + ", ".join(f"{a} {v:+g}" for a, v in totals.items()))
    policies = [_probs(agents[a], game.n_states, 2) for a in agents]
    values = exact_value(game, policies, args.gamma, kind="probs")[0]
    print(f"exact discounted values (gamma = {args.gamma}):")
    for i, a in enumerate(agents):
        v = float(values[i])
        print(f"  {a}: V = {v:9.4f}   per step (1 - gamma) V = {(1 - args.gamma) * v:7.4f}")
    return 0
