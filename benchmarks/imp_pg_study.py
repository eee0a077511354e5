"""IMP: does LOLA-PG reach the mixed Nash equilibrium? A sweep of the PG settings (issue 11, item 2).

The paper (Foerster et al. 2018) reports LOLA-PG vs LOLA-PG ending at P(heads) = 0.5 in every state
in 93.2 % of 50 runs of iterated matching pennies; the ``reproduce`` quick preset gives 0 % within the
tolerance of :func:`lola_zoo.experiments.exact.classify_imp` (0.05 in every state of both players).
This script trains LOLA-PG (and NL-PG for reference) on ``imp`` with one setting after another, each
setting a set of :class:`~lola_zoo.experiments.engine.TrainConfig` overrides of the ``quick`` preset,
and writes one row per setting: share of runs within the tolerance, mean Nash distance (mean over
players and states of ``|P(heads | s) - 0.5|``), the share within 0.1, and the wall time.  A row
``exact`` runs the exact-gradient LOLA of ``reproduce`` (``run_exact``) for comparison.

Run (one setting at a time keeps each CPU run short; rows are appended to the output files)::

    .venv/bin/python benchmarks/imp_pg_study.py --list
    .venv/bin/python benchmarks/imp_pg_study.py --only quick lr0.3 --out runs/imp-pg-study
    .venv/bin/python benchmarks/imp_pg_study.py --set lr=0.5 episodes_per_batch=256 --name mine

Writes ``<out>/imp_pg_study.json`` and ``<out>/imp_pg_study.csv`` (all rows so far, newest last).
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import time
from pathlib import Path
from typing import Any

import torch

from lola_zoo.experiments.engine import preset_config, train
from lola_zoo.experiments.exact import NASH_TOLERANCE, ExactConfig, classify_imp, run_exact

#: named settings: TrainConfig overrides of the quick preset (runs=50 unless given)
SETTINGS: dict[str, dict[str, Any]] = {
    # the reproduce row as it is (64 x 150, 75 updates, lr 1, eta = lr, baseline)
    "quick": {},
    "quick-nl": {"agents": ("nl", "nl")},
    # learning rate (eta follows lr unless given)
    "lr0.5": {"lr": 0.5},
    "lr0.3": {"lr": 0.3},
    "lr0.3-u200": {"lr": 0.3, "updates": 200},
    "lr0.1-u300": {"lr": 0.1, "updates": 300},
    # eta apart from lr
    "eta0.3": {"eta": 0.3},
    "eta3": {"eta": 3.0},
    # a small lr with a large eta: exact LOLA's pull towards Nash grows with lr * eta, the PG noise with lr
    "lr0.3-eta3": {"lr": 0.3, "eta": 3.0},
    "lr0.3-eta10": {"lr": 0.3, "eta": 10.0},
    "lr0.1-eta10": {"lr": 0.1, "eta": 10.0},
    # batch size
    "b256": {"episodes_per_batch": 256},
    "b1024-L50": {"episodes_per_batch": 1024, "episode_length": 50},
    "b4000-L50-r10": {"episodes_per_batch": 4000, "episode_length": 50, "runs": 10},
    # baseline off
    "nobaseline": {"baseline": False},
    # episode length (gamma 0.9: steps after ~50 weigh < 0.5 %)
    "L50": {"episode_length": 50},
    "L50-b192": {"episode_length": 50, "episodes_per_batch": 192},
    # updates
    "u300": {"updates": 300},
    # LOLA form
    "lookahead": {"correction": "lookahead"},
    # the combination that reaches the Nash equilibrium (small lr, large eta, 192 x 50-step episodes)
    "L50-b192-lr0.1-eta10": {"episode_length": 50, "episodes_per_batch": 192, "lr": 0.1, "eta": 10.0},
    "L50-b192-lr0.03-eta30": {"episode_length": 50, "episodes_per_batch": 192, "lr": 0.03, "eta": 30.0},
    "L50-b192-lr0.1-eta10-u30": {"episode_length": 50, "episodes_per_batch": 192, "lr": 0.1, "eta": 10.0,
                                 "updates": 30},
    "L50-b192-lr0.1-eta10-u150": {"episode_length": 50, "episodes_per_batch": 192, "lr": 0.1, "eta": 10.0,
                                  "updates": 150},
    "L50-b384-lr0.1-eta10": {"episode_length": 50, "episodes_per_batch": 384, "lr": 0.1, "eta": 10.0},
    "nobaseline-L50-b192-lr0.1-eta10": {"baseline": False, "episode_length": 50, "episodes_per_batch": 192,
                                        "lr": 0.1, "eta": 10.0},
    "lookahead-L50-b192-lr0.1-eta10": {"correction": "lookahead", "episode_length": 50, "episodes_per_batch": 192,
                                       "lr": 0.1, "eta": 10.0},
    "nl-L50-b192-lr0.1": {"agents": ("nl", "nl"), "episode_length": 50, "episodes_per_batch": 192, "lr": 0.1},
}


def _parse_value(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def run_pg(name: str, overrides: dict[str, Any], runs: int, seed: int, tol: float) -> dict[str, Any]:
    """Train one setting; its row."""
    o = dict(overrides)
    agents = tuple(o.pop("agents", ("lola", "lola")))
    o.setdefault("runs", runs)
    o.setdefault("seed", seed)
    o.setdefault("device", "cpu")
    config = preset_config("quick", "imp", agents, **o)
    t0 = time.perf_counter()
    result = train(config)
    seconds = time.perf_counter() - t0
    probs = torch.stack([p[..., 0] for p in result.final_probs], dim=1).double()  # (runs, 2, S)
    dev = (probs - 0.5).abs()
    within = classify_imp(probs, tol)["nash"].double()
    return {
        "name": name,
        "agents": "-".join(agents),
        "overrides": json.dumps({k: v for k, v in overrides.items() if k != "agents"}, sort_keys=True),
        "runs": config.runs,
        "episodes_per_batch": config.episodes_per_batch,
        "episode_length": config.episode_length,
        "updates": config.updates,
        "lr": config.lr,
        "eta": config.eta if config.eta is not None else config.lr,
        "baseline": config.baseline,
        "correction": config.correction,
        "share_within_tol": float(within.mean()),
        "share_within_0.1": float((dev.flatten(1).amax(-1) < 0.1).double().mean()),
        "nash_distance": float(dev.mean()),
        "max_dev_median": float(dev.flatten(1).amax(-1).median()),
        "seconds": round(seconds, 1),
    }


def run_exact_row(name: str, overrides: dict[str, Any], runs: int, seed: int, tol: float) -> dict[str, Any]:
    """The exact-gradient LOLA of ``reproduce`` (lr 1, eta 1, 200 steps) with ``overrides``."""
    o = {"game": "imp", "learners": ("lola", "lola"), "seeds": runs, "seed": seed, **overrides}
    cfg = ExactConfig(**o)
    t0 = time.perf_counter()
    result = run_exact(cfg)
    seconds = time.perf_counter() - t0
    probs = result.final_probs.double()
    dev = (probs - 0.5).abs()
    return {
        "name": name, "agents": "exact-" + "-".join(cfg.learners), "overrides": json.dumps(overrides, sort_keys=True),
        "runs": cfg.seeds, "episodes_per_batch": "", "episode_length": "", "updates": cfg.steps,
        "lr": cfg.lr[0], "eta": cfg.eta[0], "baseline": "", "correction": "exact",
        "share_within_tol": float(classify_imp(probs, tol)["nash"].double().mean()),
        "share_within_0.1": float((dev.flatten(1).amax(-1) < 0.1).double().mean()),
        "nash_distance": float(dev.mean()),
        "max_dev_median": float(dev.flatten(1).amax(-1).median()),
        "seconds": round(seconds, 1),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="*", help=f"named settings to run (default: all); 'exact' for run_exact; "
                                              f"known: {', '.join(SETTINGS)}")
    ap.add_argument("--set", nargs="*", default=None, metavar="KEY=VALUE",
                    help="a custom setting: TrainConfig overrides of the quick preset (with --name)")
    ap.add_argument("--exact-set", nargs="*", default=None, metavar="KEY=VALUE",
                    help="a custom exact setting: ExactConfig overrides (with --name)")
    ap.add_argument("--name", default="custom", help="row name of --set / --exact-set")
    ap.add_argument("--runs", type=int, default=50, help="seeds per setting, as one batch (default 50)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tol", type=float, default=NASH_TOLERANCE, help="Nash tolerance (classify_imp's: 0.05)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    ap.add_argument("--out", default="runs/imp-pg-study", help="folder of imp_pg_study.json / .csv")
    ap.add_argument("--list", action="store_true", help="print the named settings and exit")
    args = ap.parse_args(argv)
    if args.list:
        for k, v in SETTINGS.items():
            print(f"{k:16s} {v}")
        return
    torch.set_num_threads(args.threads)
    jobs: list[tuple[str, str, dict[str, Any]]] = []
    if args.set is not None:
        jobs.append(("pg", args.name, {k: _parse_value(v) for k, v in (s.split("=", 1) for s in args.set)}))
    if args.exact_set is not None:
        jobs.append(("exact", args.name, {k: _parse_value(v) for k, v in (s.split("=", 1) for s in args.exact_set)}))
    if not jobs:
        for name in (args.only or ["exact", *SETTINGS]):
            if name == "exact":
                jobs.append(("exact", "exact", {}))
            elif name in SETTINGS:
                jobs.append(("pg", name, SETTINGS[name]))
            else:
                ap.error(f"unknown setting {name!r}; known: exact, {', '.join(SETTINGS)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path_json = out / "imp_pg_study.json"
    rows: list[dict[str, Any]] = json.loads(path_json.read_text()) if path_json.exists() else []
    for kind, name, overrides in jobs:
        fn = run_exact_row if kind == "exact" else run_pg
        row = fn(name, overrides, args.runs, args.seed, args.tol)
        row["seed"] = args.seed
        row["tol"] = args.tol
        rows.append(row)
        print(f"{name:18s} within {args.tol}: {row['share_within_tol']:6.1%}  within 0.1: "
              f"{row['share_within_0.1']:6.1%}  nash distance {row['nash_distance']:.3f}  {row['seconds']:6.1f} s",
              flush=True)
        path_json.write_text(json.dumps(rows, indent=1))
        keys = list(dict.fromkeys(k for r in rows for k in r))
        with open(out / "imp_pg_study.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=keys)
            w.writeheader()
            w.writerows(rows)


if __name__ == "__main__":
    main()
