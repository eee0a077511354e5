"""``lola-zoo exact``: one exact-gradient experiment (game, one learner per player, rates, γ, seeds, steps)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lola_zoo.commands._common import finite_float, nonnegative_float, seed_int
from lola_zoo.devices import add_device_argument

NAME = "exact"
HELP = "Run one exact-gradient experiment (e.g. LOLA vs NL in the IPD) batched over seeds; writes summary and plots."
ORDER = 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Every field of ExactConfig as an option; defaults are the paper's IPD setting."""
    from lola_zoo.agents.exact_rules import learner_names

    parser.add_argument("--game", default="ipd",
                        help="registered matrix game id, any number of players: ipd, imp, public-goods-3, ipd-4, ... "
                             "(default: ipd)")
    parser.add_argument(
        "--learners", nargs="+", default=["lola", "lola"], metavar="NAME",
        help=f"one learner per player, or one for all; known: {', '.join(learner_names())} (default: lola lola)",
    )
    parser.add_argument("--lr", type=finite_float, nargs="+", default=[1.0], help="learning rate δ, one or one per player (default: 1)")
    parser.add_argument("--eta", type=finite_float, nargs="+", default=[1.0], help="correction rate η, one or one per player (default: 1)")
    parser.add_argument("--gamma", type=finite_float, default=None, help="discount in (0, 1) (default: IPD 0.96, IMP 0.9)")
    parser.add_argument("--seeds", type=int, default=1000, help="independent runs, batched (default: 1000)")
    parser.add_argument("--steps", type=int, default=200, help="updates per run (default: 200)")
    parser.add_argument("--init-std", type=nonnegative_float, default=1.0, help="initial logits ~ N(0, std²) (default: 1)")
    parser.add_argument("--seed", type=seed_int, default=0, help="seed of the initial logits (>= 0; default: 0)")
    parser.add_argument("--sos-a", type=finite_float, default=0.5, help="SOS parameter a (default: 0.5)")
    parser.add_argument("--sos-b", type=finite_float, default=0.1, help="SOS parameter b (default: 0.1)")
    parser.add_argument("--order", type=int, default=2, help="order of higher-order LOLA 'hola' (default: 2)")
    parser.add_argument("--pola-inner-steps", type=int, default=2, help="POLA: opponent's proximal gradient steps (default: 2)")
    parser.add_argument("--pola-outer-steps", type=int, default=2, help="POLA: own proximal gradient steps (default: 2)")
    parser.add_argument("--pola-prox", type=finite_float, default=1.0, help="POLA: proximity weight β of the policy KL (default: 1)")
    parser.add_argument("--policy", default="tabular", choices=["tabular", "mlp"],
                        help="policy parameterisation: one logit per state, or a one-hidden-layer network (default: tabular)")
    parser.add_argument("--hidden", type=int, default=8, help="hidden units of the mlp policy (default: 8)")
    parser.add_argument("--cola-steps", type=int, default=1000,
                        help="COLA: Adam steps on the consistency loss before the run, when a learner is 'cola' (default: 1000)")
    parser.add_argument("--grid-lr", metavar="VALUES",
                        help="a grid of learning rates, '0.1,0.5,1' or 'start:stop:count', run with --grid-eta as one "
                             "batch of cells x seeds; writes grid.csv, grid.json and a heat-map grid.png")
    parser.add_argument("--grid-eta", metavar="VALUES", help="a grid of correction rates (same forms as --grid-lr)")
    parser.add_argument("--grid-gamma", metavar="VALUES", help="a grid of discounts in (0, 1) (2x2 two-player games)")
    parser.add_argument("--grid-init-std", metavar="VALUES", help="a grid of initial-logit stds")
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    parser.add_argument("--out", default=None, help="output folder (default: runs/exact-<timestamp>)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    add_device_argument(parser, default="cpu")


def run(args: argparse.Namespace) -> int:
    """Validate, run, print the summary, write summary.json and the PNG plots."""
    from lola_zoo.experiments.exact import ExactConfig, run_exact, save_exact_outputs, summarize
    from lola_zoo.io import atomic_write_json, prepare_out_dir
    from lola_zoo.paper.core import default_out_dir

    out = Path(args.out) if args.out else default_out_dir("exact")
    learners = [name.lower() for name in args.learners]
    if "cola" in learners:
        prepare_out_dir(out)  # before minutes of COLA training, not after
        _train_cola(args)
    config = ExactConfig(
        game=args.game, learners=tuple(args.learners), lr=tuple(args.lr), eta=tuple(args.eta), gamma=args.gamma,
        seeds=args.seeds, steps=args.steps, init_std=args.init_std, seed=args.seed, sos_a=args.sos_a,
        sos_b=args.sos_b, hola_order=args.order, pola_inner_steps=args.pola_inner_steps,
        pola_outer_steps=args.pola_outer_steps, pola_prox=args.pola_prox, policy=args.policy, hidden=args.hidden,
        dtype=args.dtype, device=args.device,
    )
    prepare_out_dir(out)  # a file or a read-only folder fails now, not when the plots are saved
    if any(v is not None for v in (args.grid_lr, args.grid_eta, args.grid_gamma, args.grid_init_std)):
        return _run_grid(args, config, out)
    print(f"lola-zoo exact: {config.label()} on {config.game}, gamma {config.discount}, {config.seeds} seeds x "
          f"{config.steps} updates; writing to {out}")
    result = run_exact(config, progress=not args.no_progress)
    summary = summarize(result)
    plots = save_exact_outputs([result], out, f"{config.game}-exact", f"{config.game}: {config.label()}")
    summary["plots"] = [str(p) for p in plots]
    atomic_write_json(out / "summary.json", summary)
    for name, p in summary["players"].items():
        print(f"  {name} ({p['learner']}): reward per step {p['reward_mean']:+.3f} (std {p['reward_std']:.3f})")
    for name, share in summary.get("shares", {}).items():
        print(f"  share {name}: {100 * share:.1f}%")
    for name, policy in summary["mean_final_policy"].items():
        print(f"  mean final P(first action | state), {name}: " + ", ".join(f"{k} {v:.2f}" for k, v in policy.items()))
    print(f"  {result.seconds:.2f} s of updates; wrote {out / 'summary.json'} and {len(plots)} plots")
    return 0


def _run_grid(args: argparse.Namespace, config: Any, out: Path) -> int:
    """The (lr, eta) grid: one batched run, a table of its corners and best cell, the files."""
    from lola_zoo.experiments.grid import parse_axis, run_exact_grid, save_grid

    if len(set(args.lr)) > 1 or len(set(args.eta)) > 1:
        raise ValueError("a grid gives every player the same lr and eta; pass one --lr / --eta value with --grid-*")
    lrs = parse_axis(args.grid_lr, "--grid-lr") if args.grid_lr is not None else (args.lr[0],)
    etas = parse_axis(args.grid_eta, "--grid-eta") if args.grid_eta is not None else (args.eta[0],)
    gammas = parse_axis(args.grid_gamma, "--grid-gamma") if args.grid_gamma is not None else None
    stds = parse_axis(args.grid_init_std, "--grid-init-std") if args.grid_init_std is not None else None
    cells = len(lrs) * len(etas) * len(gammas or (0,)) * len(stds or (0,))
    print(f"lola-zoo exact: {config.label()} on {config.game}, grid of {cells} cells x {config.seeds} seeds = "
          f"{cells * config.seeds} runs x {config.steps} updates in one batch; writing to {out}")
    result = run_exact_grid(config, lrs, etas, gammas, stds, progress=not args.no_progress)
    paths = save_grid(result, out)
    rows = result.rows()
    best = max(rows, key=lambda r: r["reward_mean"])
    worst = min(rows, key=lambda r: r["reward_mean"])
    for label, r in (("best", best), ("worst", worst)):
        tft = f", both TFT-like {100 * r['tit_for_tat']:.1f}%" if "tit_for_tat" in r else ""
        print(f"  {label} cell: lr {r['lr']:g}, eta {r['eta']:g}, gamma {r['gamma']:g}, init std {r['init_std']:g}: "
              f"mean reward per step {r['reward_mean']:+.3f}{tft}")
    print(f"  {result.seconds:.2f} s of updates; wrote {paths['csv']}, {paths['json'].name} and {paths['png'].name}")
    return 0


def _train_cola(args: argparse.Namespace) -> None:
    """Train COLA's update functions for this game (a progress bar) and register them as learner ``cola``."""
    from lola_zoo.agents.cola import COLAConfig, register_cola, trained_cola

    if args.cola_steps < 1:
        raise ValueError(f"--cola-steps must be a positive integer, got {args.cola_steps}")
    update = trained_cola(args.game, args.gamma, COLAConfig(steps=args.cola_steps), progress=not args.no_progress)
    register_cola(update, "cola", override=True)
    etas = set(args.eta) | set(args.lr)
    if etas != {update.config.eta}:
        print(f"note: COLA was trained with eta {update.config.eta:g} and is meant to be played with lr = eta = "
              f"{update.config.eta:g} (its update is theta += eta h)")
    print(f"COLA trained: consistency loss {update.history[-1]:.4f} after {len(update.history)} steps")

