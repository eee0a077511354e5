"""Throughput of the foundation: PettingZoo env agent-steps/s and exact-value evaluations/s.

Run: ``.venv/bin/python benchmarks/bench_envs.py``.  Numbers on a shared 2-core machine are noisy;
compare rows of one run with each other, not with another run.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import lola_zoo
from lola_zoo.envs.exact import exact_value


def env_agent_steps_per_second(env_id: str, steps: int, api: str = "parallel") -> float:
    """Agent-steps per second of the env with random (pre-drawn) actions."""
    env = lola_zoo.make(env_id, max_steps=steps, api=api)
    n = len(env.possible_agents)
    actions = np.random.default_rng(0).integers(0, 2, size=(steps, n)).tolist()
    if api == "aec":
        env.reset(seed=0)
        start = time.perf_counter()
        k = 0
        for agent in env.agent_iter():
            _, _, term, trunc, _ = env.last()
            env.step(None if term or trunc else actions[k // n][k % n])
            k += 1
        return k / (time.perf_counter() - start)
    env.reset(seed=0)
    agents = env.possible_agents
    start = time.perf_counter()
    for row in actions:
        env.step(dict(zip(agents, row)))
    return steps * n / (time.perf_counter() - start)


def exact_evals_per_second(batch: int, repeats: int, dtype: torch.dtype) -> float:
    """Exact-value evaluations (one policy pair = one evaluation) per second at batch size B."""
    game = lola_zoo.game("ipd")
    theta = torch.randn(2, batch, 5, dtype=dtype)
    exact_value(game, [theta[0], theta[1]], 0.96)  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        exact_value(game, [theta[0], theta[1]], 0.96)
    return batch * repeats / (time.perf_counter() - start)


def main() -> None:
    """Print the two tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200_000, help="env steps per measurement")
    args = parser.parse_args()
    torch.set_num_threads(2)
    print("PettingZoo env, random actions (IPD)")
    print(f"  {'view':<10} {'agent-steps/s':>15}")
    for api, steps in (("parallel", args.steps), ("aec", args.steps // 10)):
        print(f"  {api:<10} {env_agent_steps_per_second('ipd', steps, api):>15,.0f}")
    print("Exact value V = p0^T (I - gamma P)^-1 r (IPD), evaluations/s")
    print(f"  {'B':>8} {'float32':>15} {'float64':>15}")
    for batch, repeats in ((1, 2000), (1000, 200), (100_000, 5)):
        f32 = exact_evals_per_second(batch, repeats, torch.float32)
        f64 = exact_evals_per_second(batch, repeats, torch.float64)
        print(f"  {batch:>8} {f32:>15,.0f} {f64:>15,.0f}")


if __name__ == "__main__":
    main()
