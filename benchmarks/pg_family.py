"""The sampled opponent-shaping family side by side: POLA-DiCE, LOQA and Advantage Alignment against LOLA-PG and NL-PG.

    .venv/bin/python benchmarks/pg_family.py --game coin-game --out runs/pg-family-coin     # ~15 min, 2 cores
    .venv/bin/python benchmarks/pg_family.py --game ipd --out runs/pg-family-ipd
    .venv/bin/python benchmarks/pg_family.py --game coin-game --preset paper --device cuda --out runs/pg-family-gpu

Every pairing is one run of the training engine (``lola_zoo.experiments.engine``): self-play for
NL-PG, LOLA-PG, POLA-DiCE, LOQA-PG and AA-PG, then each of POLA-DiCE, LOQA-PG and AA-PG in seat 0
against LOLA-PG and against NL-PG.  The Coin Game uses the engine's ``linear`` preset (3×3 grid, the
self-centred linear policy, 5 seeds, 600 updates of 64 episodes × 20 steps, Adam lr 0.05, η 10) and
the IPD the ``quick`` preset with ``--runs`` seeds.  Learner options (``--pola-*``, ``--loqa-scale``,
``--aa-beta``) apply to every seat of their kind.

Writes ``results.json`` (the summary of every finished pairing, rewritten atomically after each,
so an interrupted run resumes where it stopped with ``--resume``), ``results.csv`` and ``table.md``
into ``--out`` and prints the table.  Numbers are mean ± std over seeds of each seed's last
``window`` updates (the engine's summary).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch

from lola_zoo.experiments.engine import Trainer, preset_config
from lola_zoo.io import atomic_write_csv, atomic_write_json, atomic_write_text

SELF_PLAY = ("nl", "lola", "pola", "loqa", "aa")
SHAPERS = ("pola", "loqa", "aa")
FIELDS = ["row", "col", "reward_or_share", "std", "points_row", "points_col", "runs", "updates", "seconds"]


def pairings() -> list[tuple[str, str]]:
    """Self-play for every kind, then each newer shaper against LOLA-PG and NL-PG."""
    return [(k, k) for k in SELF_PLAY] + [(k, o) for k in SHAPERS for o in ("lola", "nl")]


def _number(kind: type, minimum: float) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not value >= minimum or value == float("inf"):
            raise argparse.ArgumentTypeError(f"must be a finite number >= {minimum}, got {text!r}")
        return value

    return parse


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--game", choices=["coin-game", "ipd"], default="coin-game")
    p.add_argument("--preset", default=None, help="engine preset (default: linear for coin-game, quick for ipd)")
    p.add_argument("--runs", type=_number(int, 1), help="seeds per pairing (default: the preset's; ipd: 64)")
    p.add_argument("--updates", type=_number(int, 1), help="updates per run (default: the preset's)")
    p.add_argument("--pola-inner-steps", type=_number(int, 1), default=None)
    p.add_argument("--pola-prox", type=_number(float, 0.0), default=None)
    p.add_argument("--no-pola-resample", action="store_true",
                   help="POLA-DiCE reuses each update's batch for its proximal steps (default: fresh episodes)")
    p.add_argument("--loqa-scale", type=_number(float, 0.0), default=None)
    p.add_argument("--aa-beta", type=_number(float, 0.0), default=None)
    p.add_argument("--only", default=None, help="comma-separated pairings row:col (e.g. pola:pola,loqa:nl)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--out", default="runs/pg-family", help="output folder")
    p.add_argument("--resume", action="store_true", help="keep the finished pairings of OUT/results.json")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def run_pairing(args: argparse.Namespace, row: str, col: str) -> dict[str, Any]:
    """Train one pairing and return its table row."""
    preset = args.preset or ("linear" if args.game == "coin-game" else "quick")
    options = {k: getattr(args, k) for k in ("pola_inner_steps", "pola_prox", "loqa_scale", "aa_beta")
               if getattr(args, k) is not None}
    if args.no_pola_resample:
        options["pola_resample"] = False
    runs = args.runs if args.runs is not None else (None if args.game == "coin-game" else 64)
    cfg = preset_config(preset, args.game, (row, col), runs=runs, updates=args.updates, device=args.device,
                        learner_kwargs=options)
    start = time.perf_counter()
    result = Trainer(cfg, progress=not args.no_progress).run()
    seconds = time.perf_counter() - start
    s = result.summary
    out: dict[str, Any] = {"row": result.labels[0], "col": result.labels[1], "runs": cfg.runs, "updates": cfg.updates,
                           "seconds": round(seconds, 1), "config": cfg.to_dict()}
    if args.game == "coin-game":
        out["reward_or_share"], out["std"] = s["own_coin_share"]["mean"], s["own_coin_share"]["std"]
        points = s["points_per_episode"]
        steps = float(cfg.episode_length or 1)  # points per step, as the issue asks
        out["points_row"] = points["player_0"]["mean"] / steps
        out["points_col"] = points["player_1"]["mean"] / steps
    else:
        r = s["reward_per_step"]
        out["reward_or_share"], out["std"] = r["player_0"]["mean"], r["player_0"]["std"]
        out["points_row"], out["points_col"] = r["player_0"]["mean"], r["player_1"]["mean"]
        out["share_mutual_cooperation"] = s.get("share_mutual_cooperation")
    return out


def table(rows: list[dict[str, Any]], game: str) -> str:
    """A Markdown table of the finished pairings."""
    if game == "coin-game":
        head = "| row | column | own-coin share (mean ± std over seeds) | points per step (row, column) | seeds | time |"
        fmt = "| {row} | {col} | {reward_or_share:.3f} ± {std:.3f} | {points_row:+.3f}, {points_col:+.3f} | {runs} | {seconds:.0f} s |"
    else:
        head = "| row | column | reward per step (row, mean ± std) | reward per step (column) | seeds | time |"
        fmt = "| {row} | {col} | {reward_or_share:.3f} ± {std:.3f} | {points_col:.3f} | {runs} | {seconds:.0f} s |"
    return "\n".join([head, "|" + "---|" * 6] + [fmt.format(**r) for r in rows]) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the pairings, write the results, print the table."""
    args = parse_args(argv)
    torch.set_num_threads(1)  # small tensors: one thread is faster on a shared 2-core machine
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    todo = pairings()
    if args.only:
        wanted = [tuple(p.split(":")) for p in args.only.split(",") if p]
        unknown = [":".join(p) for p in wanted if p not in todo]
        if unknown or not wanted:
            print(f"error: --only names unknown pairings {unknown or args.only!r}; choose from "
                  f"{', '.join(a + ':' + b for a, b in todo)}", file=sys.stderr)
            return 2
        todo = [p for p in todo if p in wanted]
    done: dict[str, dict[str, Any]] = {}
    results = out / "results.json"
    if args.resume and results.exists():
        done = {f"{r['kinds'][0]}:{r['kinds'][1]}": r for r in json.loads(results.read_text())["rows"]}
    for row, col in todo:
        key = f"{row}:{col}"
        if key in done:
            continue
        print(f"{args.game}: {row} vs {col}", flush=True)
        done[key] = {**run_pairing(args, row, col), "kinds": [row, col]}
        rows = list(done.values())
        atomic_write_json(results, {"game": args.game, "machine": platform.processor() or platform.machine(),
                                    "torch": torch.__version__, "rows": rows})
        atomic_write_csv(out / "results.csv", [{k: r.get(k) for k in FIELDS} for r in rows], FIELDS)
        atomic_write_text(out / "table.md", table(rows, args.game))
    print(table(list(done.values()), args.game))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
