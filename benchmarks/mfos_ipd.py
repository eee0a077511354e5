"""M-FOS against naive and LOLA learners on the exact IPD, beside LOLA vs NL and NL vs NL.

    .venv/bin/python benchmarks/mfos_ipd.py --out runs/mfos-ipd [--iterations 200] [--batch 128]

Trains one M-FOS meta-agent (PPO on the exact meta-game of ``lola_zoo.agents.mfos``) against each
opponent in ``--opponents``, evaluates it on ``--eval-episodes`` fresh meta-episodes (opponents drawn
with a different seed than in training), and runs the exact learners LOLA vs NL and NL vs NL for
the same number of updates (``--horizon``) over ``--baseline-seeds`` seeds with ``run_exact``.

Every number is the average reward per step ``(1 - γ) V`` of the inner game, γ = 0.96; "mean" is over
the T meta-steps / updates (the values before each of the T opponent updates), "end" is the last of
them.  Writes ``results.json``, ``results.csv``, ``history-<opponent>.csv`` and ``mfos-<opponent>.pt``
into ``--out`` (each atomically), and prints the table.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from lola_zoo.agents.exact_rules import learner_names
from lola_zoo.agents.mfos import MFOSConfig, evaluate_mfos, save_agent, train_mfos
from lola_zoo.experiments.exact import ExactConfig, run_exact
from lola_zoo.io import atomic_write_csv, atomic_write_json

GAME = "ipd"
FIELDS = ["setting", "method", "vs", "method_mean", "vs_mean", "method_end", "vs_end", "runs", "seconds"]


def _positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.splitlines()[1:]))
    p.add_argument("--out", required=True, type=Path, help="output folder (created)")
    p.add_argument("--opponents", nargs="+", default=["nl", "lola"], help="exact learners M-FOS trains against")
    p.add_argument("--horizon", type=_positive_int, default=100, help="meta-episode length T = opponent updates")
    p.add_argument("--iterations", type=_positive_int, default=200, help="PPO iterations per opponent")
    p.add_argument("--batch", type=_positive_int, default=128, help="meta-episodes per PPO iteration")
    p.add_argument("--hidden", type=_positive_int, default=64, help="hidden width of actor and critic")
    p.add_argument("--minibatches", type=_positive_int, default=2, help="PPO minibatches per epoch")
    p.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate")
    p.add_argument("--seed", type=int, default=0, help="training seed")
    p.add_argument("--eval-episodes", type=_positive_int, default=1000, help="fresh meta-episodes per evaluation")
    p.add_argument("--baseline-seeds", type=_positive_int, default=1000, help="seeds of LOLA vs NL and NL vs NL")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def _baseline(learners: tuple[str, str], steps: int, seeds: int, progress: bool) -> dict[str, Any]:
    """Exact learners against each other for ``steps`` updates; means over the same T values as M-FOS."""
    result = run_exact(ExactConfig(game=GAME, learners=learners, seeds=seeds, steps=steps), progress=progress)
    r = result.rewards.double()  # (steps + 1, B, 2): before each update and after the last
    label = f"{learners[0].upper()} vs {learners[1].upper()}"
    return {
        "setting": label, "method": learners[0].upper(), "vs": learners[1].upper(),
        "method_mean": float(r[:steps, :, 0].mean()), "vs_mean": float(r[:steps, :, 1].mean()),
        "method_end": float(r[steps - 1, :, 0].mean()), "vs_end": float(r[steps - 1, :, 1].mean()),
        "runs": seeds, "seconds": round(result.seconds, 1),
    }


def _table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table."""
    lines = [
        "| setting | method mean | opponent mean | method end | opponent end | runs | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['setting']} | {r['method_mean']:.3f} | {r['vs_mean']:.3f} | {r['method_end']:.3f} | "
            f"{r['vs_end']:.3f} | {r['runs']} | {r['seconds']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Train, evaluate, compare, write the outputs; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    known = set(learner_names()) | {"naive"}
    bad = [o for o in args.opponents if o not in known]
    if bad:
        parser.error(f"unknown opponent(s) {bad}; known learners: {', '.join(sorted(known))}")
    configs = {}
    for opp in args.opponents:
        try:
            configs[opp] = MFOSConfig(
                horizon=args.horizon, opponent=opp, batch=args.batch, iterations=args.iterations,
                hidden=args.hidden, minibatches=args.minibatches, lr=args.lr, seed=args.seed,
            )
        except ValueError as exc:
            parser.error(str(exc))
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        parser.error(f"cannot create --out {args.out}: {exc}")
    torch.set_num_threads(1)  # small batched ops; more threads only contend on a shared machine
    progress = not args.no_progress
    start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    details: dict[str, Any] = {}
    for opp, cfg in configs.items():
        t0 = time.perf_counter()
        agent, history = train_mfos(GAME, cfg, progress=progress)
        train_s = time.perf_counter() - t0
        save_agent(agent, args.out / f"mfos-{opp}.pt", cfg)
        hist_rows = [
            {"iteration": i, **{k: v[i] for k, v in history.items()}} for i in range(cfg.iterations)
        ]
        atomic_write_csv(args.out / f"history-{opp}.csv", hist_rows)
        ev = evaluate_mfos(agent, GAME, cfg, args.eval_episodes)
        ev_mean_action = evaluate_mfos(agent, GAME, cfg, args.eval_episodes, deterministic=True)
        for tag, e in (("", ev), (" (mean action)", ev_mean_action)):
            rows.append({
                "setting": f"M-FOS{tag} vs {opp.upper()}", "method": f"M-FOS{tag}", "vs": opp.upper(),
                "method_mean": e["mfos_mean"], "vs_mean": e["opponent_mean"],
                "method_end": e["mfos_final"], "vs_end": e["opponent_final"],
                "runs": args.eval_episodes, "seconds": round(train_s, 1),
            })
        details[opp] = {"config": asdict(cfg), "train_seconds": train_s, "evaluation": ev,
                        "evaluation_mean_action": ev_mean_action, "history": history}
        print(f"M-FOS vs {opp.upper()}: trained in {train_s:.0f} s; M-FOS {ev['mfos_mean']:.3f}, "
              f"{opp.upper()} {ev['opponent_mean']:.3f} per step", file=sys.stderr)
    for learners in (("lola", "nl"), ("nl", "nl")):
        rows.append(_baseline(learners, args.horizon, args.baseline_seeds, progress))
    wall = time.perf_counter() - start
    atomic_write_csv(args.out / "results.csv", rows, FIELDS)
    atomic_write_json(args.out / "results.json", {
        "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
        "game": GAME, "gamma": 0.96, "wall_seconds": wall, "torch": torch.__version__,
        "python": platform.python_version(), "machine": platform.machine(), "rows": rows, "mfos": details,
    })
    print(_table(rows))
    print(f"\nwall time {wall:.0f} s; wrote {args.out}/results.json, results.csv", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
