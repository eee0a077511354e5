"""``lola-zoo tournament``: the paper's round-robin tournament of learners, or every learner against fixed strategies."""

from __future__ import annotations

import argparse
import time

from lola_zoo.commands._common import finite_float, nonnegative_float, out_path, seed_int
from lola_zoo.devices import add_device_argument

NAME = "tournament"
HELP = "Round-robin tournament of learners learning together (defaults: the paper's IPD tournament)."
ORDER = 40


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Game, entrants, mode, sizes, output, backend."""
    from lola_zoo.experiments.tournament import DEFAULT_ENTRANTS, ENTRANTS, TournamentConfig

    d = TournamentConfig.__dataclass_fields__
    parser.add_argument(
        "--preset", default=None, choices=["paper"],
        help="paper: the reference field (NL-Q, JAL-Q, PHC, WoLF-PHC, NL-Ex, LOLA-Ex) on the IPD and IMP, 50 rounds "
             "of 200 steps, printed beside the paper's Figure 4; sets game, entrants, gamma, rounds, steps per round",
    )
    parser.add_argument("--game", default="ipd",
                        help="registered matrix game; N-player games (public-goods-3, ipd-4...) play focal entrants "
                             "against fields (default: ipd)")
    parser.add_argument(
        "--entrants", default=None,
        help=f"comma-separated entrants (default: {','.join(DEFAULT_ENTRANTS)}); known: {', '.join(ENTRANTS)}",
    )
    parser.add_argument("--mode", default="round-robin", choices=["round-robin", "against-fixed"])
    parser.add_argument("--runs", type=int, default=d["runs"].default, help="independent matches per pair")
    # None: the preset's value, else the config default (so a preset can be shrunk from the command line).
    parser.add_argument("--rounds", type=int, default=None, help=f"rounds per match (default: {d['rounds'].default})")
    parser.add_argument("--steps-per-round", type=int, default=None,
                        help=f"game steps per round (default: {d['steps_per_round'].default})")
    parser.add_argument("--gamma", type=finite_float, default=None, help=f"discount (default: {d['gamma'].default})")
    parser.add_argument("--lr", type=nonnegative_float, default=d["lr"].default, help="exact learners' learning rate")
    parser.add_argument("--eta", type=nonnegative_float, default=d["eta"].default, help="LOLA's opponent learning rate")
    parser.add_argument("--pg-lr", type=nonnegative_float, default=d["pg_lr"].default,
                        help="policy-gradient learners' learning rate")
    parser.add_argument("--seed", type=seed_int, default=0, help="base seed (>= 0; default: 0)")
    parser.add_argument("--out", type=out_path, default=None,
                        help="output folder (default: runs/tournament-<timestamp>); resumed if it holds results")
    parser.add_argument("--backend", default="local", choices=["local", "ray"])
    parser.add_argument("--workers", type=int, default=2, help="parallel matches (0: in this process)")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--cells", type=int, default=d["cells"].default,
                        help="leagues the pairs are split into, one sweep cell each, batched inside (1: all pairs at "
                             "once; more: finer resume, more workers busy; results depend on it like on the seed)")
    add_device_argument(parser)


def run(args: argparse.Namespace) -> int:
    """Play, print the cross table and ranking, write CSV/JSON/PNG."""
    from lola_zoo.experiments.tournament import TournamentConfig, format_tournament, run_tournament, save_tournament

    if args.preset == "paper":
        return _run_paper_preset(args)
    from lola_zoo.io import prepare_out_dir

    entrants = tuple(e.strip() for e in args.entrants.split(",") if e.strip()) if args.entrants is not None else ()
    if args.entrants is not None and not entrants:
        raise ValueError(f"--entrants {args.entrants!r} names no entrant; give comma-separated names or leave "
                         "--entrants out for the default field")
    if args.entrants is not None and any(not e.strip() for e in args.entrants.split(",")):
        raise ValueError(f"--entrants {args.entrants!r} has an empty name between commas; give each entrant once")
    config = TournamentConfig(
        game=args.game, entrants=entrants, mode=args.mode, runs=args.runs, lr=args.lr, eta=args.eta,
        pg_lr=args.pg_lr, seed=args.seed, cells=args.cells, device=args.device, **_given(args),
    )
    out = prepare_out_dir(args.out or f"runs/tournament-{time.strftime('%Y%m%d-%H%M%S')}")
    print(f"tournament: {len(config.pairs())} matches x {config.runs} runs -> {out}")
    result = run_tournament(config, out, backend=args.backend, workers=args.workers, progress=not args.no_progress)
    print(format_tournament(result))
    paths = save_tournament(result, out)
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0


def _run_paper_preset(args: argparse.Namespace) -> int:
    """Both games of the paper's tournament, then ours beside the paper's Figure 4 values."""
    from lola_zoo.experiments.tournament import (
        format_paper_comparison,
        format_tournament,
        paper_comparison,
        paper_preset_configs,
        run_tournament,
        save_paper_comparison,
        save_tournament,
    )
    from lola_zoo.io import prepare_out_dir

    if args.entrants is not None or args.game != "ipd" or args.mode != "round-robin":
        raise ValueError("--preset paper fixes the games (ipd, imp), the entrants and the mode; drop --game/--entrants/--mode")
    configs = paper_preset_configs(runs=args.runs, seed=args.seed, lr=args.lr, eta=args.eta, cells=args.cells,
                                   device=args.device, **_given(args))
    out = prepare_out_dir(args.out or f"runs/tournament-paper-{time.strftime('%Y%m%d-%H%M%S')}")
    results = {}
    for game, config in configs.items():
        print(f"{game}: {len(config.pairs())} matches x {config.runs} runs, {config.rounds} rounds of "
              f"{config.steps_per_round} steps, gamma {config.gamma} -> {out / game}")
        results[game] = run_tournament(config, out / game, backend=args.backend, workers=args.workers,
                                       progress=not args.no_progress)
        print(format_tournament(results[game]))
        save_tournament(results[game], out / game)
    rows = paper_comparison(results)
    print(format_paper_comparison(rows))
    paths = save_paper_comparison(rows, out)
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0


def _given(args: argparse.Namespace) -> dict:
    """The optional sizes set on the command line (rounds, steps per round, gamma)."""
    given = {"rounds": args.rounds, "steps_per_round": args.steps_per_round, "gamma": args.gamma}
    return {k: v for k, v in given.items() if v is not None}
