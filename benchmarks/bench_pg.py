"""Speed of the PG path: batched rollouts vs the PettingZoo loop (agent-steps/s), and time per LOLA-PG update.

Run: ``.venv/bin/python benchmarks/bench_pg.py`` (``--quick`` for a smaller run).  All rows come from
one run on the same machine; on a shared machine compare the ratios, not the absolute numbers.
Both rollouts sample actions from the same memory-1 policies, so the work per step is comparable:
the PettingZoo row plays one game at a time through the Agent protocol (what a user's own loop does).
"""

from __future__ import annotations

import argparse
import time

import torch

import lola_zoo
from lola_zoo.agents.in_loop import PolicyGradientAgent  # noqa: E402
from lola_zoo.agents.lola import LOLA
from lola_zoo.agents.naive import PolicyGradient
from lola_zoo.agents.policies import Memory1Policy
from lola_zoo.envs.batched import BatchedIteratedGame, rollout
from lola_zoo.experiments.loop import play_episode


def batched_steps_per_second(batch_shape: tuple[int, ...], steps: int, repeats: int) -> float:
    """Agent-steps/s of :func:`rollout` with two memory-1 policies over ``batch_shape`` games."""
    runs = batch_shape[0] if len(batch_shape) == 2 else None
    policies = [Memory1Policy(runs=runs, generator=torch.Generator().manual_seed(i)) for i in range(2)]
    env = BatchedIteratedGame("ipd", batch_shape, steps)
    gen = torch.Generator().manual_seed(0)
    rollout(env, policies, gen)  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        rollout(env, policies, gen)
    elapsed = time.perf_counter() - start
    games = 1
    for b in batch_shape:
        games *= b
    return 2 * games * steps * repeats / elapsed


def pettingzoo_steps_per_second(episodes: int, steps: int) -> float:
    """Agent-steps/s of the plain loop with two in-loop PG agents sampling from memory-1 policies."""
    env = lola_zoo.make("ipd", max_steps=steps)
    agents = {
        f"player_{i}": PolicyGradientAgent(PolicyGradient(Memory1Policy()), seat=i, episodes_per_update=10**9)
        for i in range(2)
    }
    for i, a in enumerate(agents.values()):
        a.seed(i)
    start = time.perf_counter()
    for k in range(episodes):
        play_episode(env, agents, seed=k)
    return 2 * episodes * steps / (time.perf_counter() - start)


def lola_update_seconds(runs: int, episodes: int, steps: int, repeats: int) -> tuple[float, float]:
    """Wall time of one LOLA-PG update for both seats: (rollout, gradients + steps)."""
    gen = torch.Generator().manual_seed(0)
    p = [Memory1Policy(runs=runs, generator=gen) for _ in range(2)]
    learners = [LOLA(PolicyGradient(p[i]), p[1 - i]) for i in range(2)]
    env = BatchedIteratedGame("ipd", (runs, episodes), steps)
    t_roll = t_learn = 0.0
    for k in range(repeats + 1):
        t0 = time.perf_counter()
        batch = rollout(env, p, gen)
        t1 = time.perf_counter()
        grads = [learner.gradient(batch, i) for i, learner in enumerate(learners)]
        for learner, g in zip(learners, grads):
            learner.apply(g)
        t2 = time.perf_counter()
        if k:  # the first update is a warm-up
            t_roll += t1 - t0
            t_learn += t2 - t1
    return t_roll / repeats, t_learn / repeats


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a few seconds)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    steps = 150
    pz = pettingzoo_steps_per_second(4 if args.quick else 20, steps)
    print(f"{'setup':52}{'agent-steps/s':>16}{'x PettingZoo loop':>20}")
    print(f"{'PettingZoo ParallelEnv loop, in-loop PG agents':52}{pz:16,.0f}{1.0:20.1f}")
    for shape in ([(1024,), (10, 64)] if args.quick else [(1024,), (10, 64), (10, 4000)]):
        rate = batched_steps_per_second(shape, steps, 2 if args.quick else 5)
        print(f"{'batched rollout, games ' + 'x'.join(map(str, shape)):52}{rate:16,.0f}{rate / pz:20.1f}")
    print()
    print(f"{'LOLA-PG update (both seats), runs x episodes x steps':52}{'rollout s':>12}{'learn s':>10}{'total s':>10}")
    for runs, eps in ([(10, 64)] if args.quick else [(10, 64), (1, 4000), (10, 4000)]):
        roll, learn = lola_update_seconds(runs, eps, steps, 2 if args.quick else 3)
        print(f"{f'{runs} x {eps} x {steps}':52}{roll:12.3f}{learn:10.3f}{roll + learn:10.3f}")
    print(f"\n(torch {torch.__version__}, {torch.get_num_threads()} threads)")


if __name__ == "__main__":
    main()
