"""Wall time of LOLA vs LOLA on the IPD with exact gradients: batched over seeds vs a loop over seeds.

    .venv/bin/python benchmarks/bench_exact_learners.py [--seeds 1000] [--steps 200] [--loop-seeds 20]

The batched run does every seed's update in one torch computation per step (lola_zoo's way).
The loop does the *same* work seed by seed (B = 1 per call); it is timed on ``--loop-seeds``
seeds and scaled linearly to ``--seeds`` (running all 1000 one by one takes minutes), and its
final parameters are checked against the batched run's for those seeds.  Both run in this one
process, one torch thread, so the ratio is fair even on a busy machine; absolute times are not.
"""

from __future__ import annotations

import argparse
import time

import torch

import lola_zoo
from lola_zoo.agents.exact_rules import exact_update, make_learner
from lola_zoo.experiments.exact import ExactConfig, initial_params, make_value_fn


def run_batched(value_fn, params, learners, steps: int) -> tuple[list[torch.Tensor], float]:
    """All seeds at once: ``steps`` updates of the whole batch."""
    start = time.perf_counter()
    for _ in range(steps):
        params, _ = exact_update(value_fn, params, learners, (1.0, 1.0))
    return params, time.perf_counter() - start


def run_loop(value_fn, params, learners, steps: int, n: int) -> tuple[list[torch.Tensor], float]:
    """The same updates seed by seed, for the first ``n`` seeds."""
    start = time.perf_counter()
    finals = []
    for b in range(n):
        one = [p[b : b + 1] for p in params]
        for _ in range(steps):
            one, _ = exact_update(value_fn, one, learners, (1.0, 1.0))
        finals.append(one)
    elapsed = time.perf_counter() - start
    return [torch.cat([f[i] for f in finals]) for i in range(2)], elapsed


def main() -> None:
    """Time both ways, print times, the ratio and a correctness check."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--loop-seeds", type=int, default=20, help="seeds actually run one by one")
    parser.add_argument("--repeats", type=int, default=3, help="batched repeats; the best is reported")
    args = parser.parse_args()
    torch.set_num_threads(1)
    game = lola_zoo.game("ipd")
    cfg = ExactConfig(seeds=args.seeds, steps=args.steps)
    params = initial_params(cfg, game)
    learners = [make_learner("lola"), make_learner("lola")]
    lean, general = make_value_fn(game, 0.96), make_value_fn(game, 0.96, fast=False)

    run_batched(lean, [p[:8] for p in params], learners, 3)  # warm-up (allocator, autograd)
    batched_times = []
    for _ in range(args.repeats):
        final, t = run_batched(lean, params, learners, args.steps)
        batched_times.append(t)
    _, t_general = run_batched(general, params, learners, args.steps)
    loop_final, t_loop = run_loop(lean, params, learners, args.steps, args.loop_seeds)
    t_loop_all = t_loop * args.seeds / args.loop_seeds
    # Same work: one update agrees to rounding; after many updates the (chaotic) dynamics may
    # amplify rounding differences between batch sizes, so the final gap is printed, not asserted.
    one_b, _ = exact_update(lean, params, learners, (1.0, 1.0))
    one_l, _ = run_loop(lean, params, learners, 1, args.loop_seeds)
    gap_one = max((a[: args.loop_seeds] - b).abs().max().item() for a, b in zip(one_b, one_l))
    gap_end = max((a[: args.loop_seeds] - b).abs().max().item() for a, b in zip(final, loop_final))
    best = min(batched_times)
    rewards = (1 - 0.96) * lean(final)
    print(f"LOLA vs LOLA, IPD, exact gradients: {args.seeds} seeds x {args.steps} updates, float64, 1 thread")
    print(f"  batched (lean 2x2 value), best of {args.repeats}: {best:7.3f} s   "
          f"(all: {', '.join(f'{t:.3f}' for t in batched_times)})")
    print(f"  batched (general exact_value):         {t_general:7.3f} s")
    print(f"  seed-by-seed loop: {t_loop:.3f} s for {args.loop_seeds} seeds -> {t_loop_all:7.1f} s for {args.seeds} "
          f"(extrapolated linearly)")
    print(f"  speed-up of batching: {t_loop_all / best:,.0f}x;  target batched < 0.5 s: {'met' if best < 0.5 else 'NOT met'}")
    print(f"  max |batched - loop| of the logits after 1 update: {gap_one:.1e}; after {args.steps}: {gap_end:.1e}")
    print(f"  mean reward per step (batched): {', '.join(f'{r:+.3f}' for r in rewards.mean(0).tolist())}")


if __name__ == "__main__":
    main()
