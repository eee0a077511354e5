"""Exact learners on the IPD: the closed-form path against a plain batched-autograd baseline, one run.

    .venv/bin/python benchmarks/bench_exact_learners.py                      # LOLA, 1000 seeds x 200 updates
    .venv/bin/python benchmarks/bench_exact_learners.py --rules nl,lola,sos,exact-lola,hola --json exact.json

Rows, all batched over seeds (one torch computation per update) and measured in this one process
on one torch thread, interleaved, best of ``--repeats``, so ratios are fair on a busy machine:

* ``closed form``: what ``lola-zoo exact`` runs on two-player 2×2 games (the default);
* ``library autograd``: the same rules through :class:`~lola_zoo.agents.exact_rules.Derivatives`
  (autograd through the general ``exact_value``, i.e. ``make_value_fn(..., fast=False)``);
* ``plain autograd`` (LOLA only): :func:`plain_lola_update` below, the straightforward batched
  implementation one would write first — the issue's baseline.

The script also checks that each row's final policies agree with the closed form's after one
update (to 1e-10 in float64) and prints the targets of the issue: closed-form LOLA ≤ 0.25 s for 1000 × 200
and ≥ 5× the plain baseline.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Callable, Sequence

import torch

import lola_zoo
from lola_zoo.agents.exact_rules import exact_update, make_learner
from lola_zoo.envs.exact import exact_value
from lola_zoo.experiments.exact import ExactConfig, initial_params, make_value_fn
from lola_zoo.io import atomic_write_text

TARGET_SECONDS, TARGET_RATIO = 0.25, 5.0
Update = Callable[[list[torch.Tensor]], list[torch.Tensor]]


def plain_lola_update(game: lola_zoo.MatrixGame, gamma: float, eta: float, lr: float) -> Update:
    """LOLA vs LOLA written directly with batched autograd: the baseline the issue measures against."""

    def update(params: list[torch.Tensor]) -> list[torch.Tensor]:
        th = [p.detach().requires_grad_(True) for p in params]
        values = exact_value(game, th, gamma)
        # grads[i][j] = ∇_j V_i, kept differentiable for the shaping term
        grads = [torch.autograd.grad(values[:, i].sum(), th, create_graph=True) for i in range(2)]
        new = []
        for i in range(2):
            j = 1 - i
            shaping = torch.autograd.grad((grads[i][j].detach() * grads[j][j]).sum(), th[i], retain_graph=True)[0]
            new.append((th[i] + lr * (grads[i][i] + eta * shaping)).detach())
        return new

    return update


def library_update(value_fn: Callable, rule: str, eta: float, lr: float) -> Update:
    """``exact_update`` with the given value function (closed form or general) and rule."""
    learners = [make_learner(rule, eta=eta), make_learner(rule, eta=eta)]

    def update(params: list[torch.Tensor]) -> list[torch.Tensor]:
        return exact_update(value_fn, params, learners, (lr, lr))[0]

    return update


def run(update: Update, params: Sequence[torch.Tensor], steps: int) -> tuple[list[torch.Tensor], float]:
    """``steps`` updates of the whole batch; the final parameters and the wall time."""
    start = time.perf_counter()
    current = list(params)
    for _ in range(steps):
        current = update(current)
    return current, time.perf_counter() - start


def main() -> None:
    """Time every row, print the table with ratios and targets, optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rules", default="lola", help="comma-separated exact rules (default: lola)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats; the best is reported")
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    parser.add_argument("--json", help="also write the rows here (atomically)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    game, gamma, eta, lr = lola_zoo.game("ipd"), 0.96, 1.0, 1.0
    params = initial_params(ExactConfig(seeds=args.seeds, steps=args.steps, dtype=args.dtype), game)
    closed_fn, general_fn = make_value_fn(game, gamma), make_value_fn(game, gamma, fast=False)

    setups: list[tuple[str, str, Update]] = []
    for rule in [r.strip() for r in args.rules.split(",") if r.strip()]:
        setups.append((rule, "closed form", library_update(closed_fn, rule, eta, lr)))
        setups.append((rule, "library autograd", library_update(general_fn, rule, eta, lr)))
        if rule == "lola":
            setups.append((rule, "plain autograd", plain_lola_update(game, gamma, eta, lr)))
    for _, _, update in setups:  # warm-up: allocator, autograd, LAPACK
        run(update, [p[:8] for p in params], 3)
    times: dict[int, list[float]] = {k: [] for k in range(len(setups))}
    for _ in range(args.repeats):
        for k, (_, _, update) in enumerate(setups):
            times[k].append(run(update, params, args.steps)[1])

    rows = []
    print(f"Exact learners on the IPD: {args.seeds} seeds x {args.steps} updates, {args.dtype}, 1 torch thread, "
          f"best of {args.repeats} (interleaved)")
    print(f"{'rule':11s} {'path':17s} {'seconds':>8s} {'seed-upd/s':>11s} {'vs closed':>9s} {'1-step gap':>10s}")
    for k, (rule, path, update) in enumerate(setups):
        best = min(times[k])
        closed_k = next(c for c, (r, p, _) in enumerate(setups) if r == rule and p == "closed form")
        reference = run(setups[closed_k][2], params, 1)[0]
        gap = max((a - b).abs().max().item() for a, b in zip(run(update, params, 1)[0], reference))
        ratio = best / min(times[closed_k])
        rows.append({"rule": rule, "path": path, "seconds": best, "all_seconds": times[k],
                     "seed_updates_per_s": args.seeds * args.steps / best, "ratio_to_closed_form": ratio,
                     "one_step_gap": gap})
        print(f"{rule:11s} {path:17s} {best:8.3f} {args.seeds * args.steps / best:11,.0f} {ratio:8.1f}x {gap:10.1e}")
    lola = {r["path"]: r for r in rows if r["rule"] == "lola"}
    if "closed form" in lola and "plain autograd" in lola:
        closed, plain = lola["closed form"]["seconds"], lola["plain autograd"]["seconds"]
        print(f"targets (issue 14): closed-form LOLA <= {TARGET_SECONDS} s: {closed:.3f} s "
              f"{'met' if closed <= TARGET_SECONDS else 'NOT met'}; >= {TARGET_RATIO:.0f}x the plain baseline: "
              f"{plain / closed:.1f}x {'met' if plain / closed >= TARGET_RATIO else 'NOT met'}")
    if args.json:
        meta = {"seeds": args.seeds, "steps": args.steps, "dtype": args.dtype, "threads": 1, "torch": torch.__version__}
        atomic_write_text(args.json, json.dumps({"setup": meta, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
