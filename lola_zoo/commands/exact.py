"""``lola-zoo exact``: one exact-gradient experiment (game, one learner per player, rates, γ, seeds, steps)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lola_zoo.commands._common import finite_float, given, nonnegative_float, out_path, seed_int
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
    # None: not given (the defaults are filled in by run(), so that a flag a grid replaces can be refused).
    parser.add_argument("--lr", type=finite_float, nargs="+", default=None, help="learning rate δ, one or one per player (default: 1)")
    parser.add_argument("--eta", type=finite_float, nargs="+", default=None, help="correction rate η, one or one per player (default: 1)")
    parser.add_argument("--gamma", type=finite_float, default=None, help="discount in (0, 1) (default: IPD 0.96, IMP 0.9)")
    parser.add_argument("--seeds", type=int, default=1000, help="independent runs, batched (default: 1000)")
    parser.add_argument("--steps", type=int, default=200, help="updates per run (default: 200)")
    parser.add_argument("--init-std", type=nonnegative_float, default=None, help="initial logits ~ N(0, std²) (default: 1)")
    parser.add_argument("--seed", type=seed_int, default=0, help="seed of the initial logits (>= 0; default: 0)")
    # Learner options default to None (= ExactConfig's default) so that one given for a learner that is not playing
    # is an error instead of silently doing nothing.
    parser.add_argument("--sos-a", type=finite_float, default=None, help="SOS parameter a (sos learners; default: 0.5)")
    parser.add_argument("--sos-b", type=finite_float, default=None, help="SOS parameter b (sos learners; default: 0.1)")
    parser.add_argument("--order", type=int, default=None, help="order of higher-order LOLA (hola learners; default: 2)")
    parser.add_argument("--pola-inner-steps", type=int, default=None,
                        help="POLA: opponent's proximal gradient steps (pola learners; default: 2)")
    parser.add_argument("--pola-outer-steps", type=int, default=None,
                        help="POLA: own proximal gradient steps (pola learners; default: 2)")
    parser.add_argument("--pola-prox", type=finite_float, default=None,
                        help="POLA: proximity weight β of the policy KL (pola learners; default: 1)")
    parser.add_argument("--policy", default="tabular", choices=["tabular", "mlp"],
                        help="policy parameterisation: one logit per state, or a one-hidden-layer network (default: tabular)")
    parser.add_argument("--hidden", type=int, default=None, help="hidden units of the mlp policy (--policy mlp; default: 8)")
    parser.add_argument("--cola-steps", type=int, default=None,
                        help="COLA: Adam steps on the consistency loss before the run, when a learner is 'cola' (default: 1000)")
    parser.add_argument("--grid-lr", metavar="VALUES",
                        help="a grid of learning rates, '0.1,0.5,1' or 'start:stop:count', run with --grid-eta as one "
                             "batch of cells x seeds; writes grid.csv, grid.json and a heat-map grid.png")
    parser.add_argument("--grid-eta", metavar="VALUES", help="a grid of correction rates (same forms as --grid-lr)")
    parser.add_argument("--grid-gamma", metavar="VALUES", help="a grid of discounts in (0, 1) (2x2 two-player games)")
    parser.add_argument("--grid-init-std", metavar="VALUES", help="a grid of initial-logit stds")
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    parser.add_argument("--out", type=out_path, default=None, help="output folder (default: runs/exact-<timestamp>)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    add_device_argument(parser, default="cpu")


def run(args: argparse.Namespace) -> int:
    """Validate, run, print the summary, write summary.json and the PNG plots."""
    from lola_zoo.experiments.exact import ExactConfig, run_exact, save_exact_outputs, summarize
    from lola_zoo.io import atomic_write_json, prepare_out_dir
    from lola_zoo.paper.core import default_out_dir

    out = Path(args.out) if args.out else default_out_dir("exact")
    learners = [name.lower() for name in args.learners]
    _check_learner_options(args, learners)
    if "cola" in learners:
        prepare_out_dir(out)  # before minutes of COLA training, not after
        _train_cola(args)
    options = {field: getattr(args, flag) for flag, field in _OPTION_FIELDS.items() if getattr(args, flag) is not None}
    config = ExactConfig(
        game=args.game, learners=tuple(args.learners), lr=tuple(args.lr or [1.0]), eta=tuple(args.eta or [1.0]),
        gamma=args.gamma, seeds=args.seeds, steps=args.steps, seed=args.seed, policy=args.policy, dtype=args.dtype,
        device=args.device, **options,
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


#: command-line flag (attribute) -> ExactConfig field, for the options left None unless given
_OPTION_FIELDS = {"init_std": "init_std", "sos_a": "sos_a", "sos_b": "sos_b", "order": "hola_order",
                  "pola_inner_steps": "pola_inner_steps", "pola_outer_steps": "pola_outer_steps",
                  "pola_prox": "pola_prox", "hidden": "hidden"}

#: learner-specific flags: the learners (or, for --hidden, the policy) they apply to
_LEARNER_OPTIONS = {"sos_a": ("sos",), "sos_b": ("sos",), "order": ("hola",),
                    "pola_inner_steps": ("pola",), "pola_outer_steps": ("pola",), "pola_prox": ("pola",),
                    "cola_steps": ("cola",)}


def _check_learner_options(args: argparse.Namespace, learners: list[str]) -> None:
    """Refuse a learner's option when no player uses that learner (it would change nothing, silently)."""
    for option, names in _LEARNER_OPTIONS.items():
        if getattr(args, option) is not None and not any(name in learners for name in names):
            flag = given(args, option)[0]
            raise ValueError(f"{flag} applies to {' / '.join(names)} learners; none of --learners "
                             f"{' '.join(learners)} is one")
    if args.hidden is not None and args.policy != "mlp":
        raise ValueError(f"--hidden sizes the mlp policy; give --policy mlp too (the policy is {args.policy!r})")


def _axis(text: str, flag: str) -> tuple[float, ...]:
    """A grid axis: parse_axis, but an empty item between commas or a repeated value is an error naming it."""
    from lola_zoo.experiments.grid import parse_axis

    if ":" not in text and any(not item.strip() for item in text.split(",")):
        raise ValueError(f"{flag} {text!r} has an empty item; give comma-separated numbers or start:stop:count")
    values = tuple(parse_axis(text, flag))
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f"{flag} {text!r} repeats {', '.join(f'{v:g}' for v in repeated)}: each value is one grid "
                         "cell, give it once")
    return values


def _run_grid(args: argparse.Namespace, config: Any, out: Path) -> int:
    """The (lr, eta) grid: one batched run, a table of its corners and best cell, the files."""
    from lola_zoo.experiments.grid import run_exact_grid, save_grid

    lr, eta = args.lr or [1.0], args.eta or [1.0]
    if len(set(lr)) > 1 or len(set(eta)) > 1:
        raise ValueError("a grid gives every player the same lr and eta; pass one --lr / --eta value with --grid-*")
    for axis, flag in (("grid_lr", "lr"), ("grid_eta", "eta"), ("grid_gamma", "gamma"), ("grid_init_std", "init_std")):
        if getattr(args, axis) is not None and getattr(args, flag) is not None:
            raise ValueError(f"give --{flag.replace('_', '-')} or --{axis.replace('_', '-')}, not both: the grid "
                             "replaces the single value")
    lrs = _axis(args.grid_lr, "--grid-lr") if args.grid_lr is not None else (lr[0],)
    etas = _axis(args.grid_eta, "--grid-eta") if args.grid_eta is not None else (eta[0],)
    gammas = _axis(args.grid_gamma, "--grid-gamma") if args.grid_gamma is not None else None
    stds = _axis(args.grid_init_std, "--grid-init-std") if args.grid_init_std is not None else None
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

    steps = 1000 if args.cola_steps is None else args.cola_steps
    if steps < 1:
        raise ValueError(f"--cola-steps must be a positive integer, got {steps}")
    update = trained_cola(args.game, args.gamma, COLAConfig(steps=steps), progress=not args.no_progress)
    register_cola(update, "cola", override=True)
    etas = set(args.eta or [1.0]) | set(args.lr or [1.0])
    if etas != {update.config.eta}:
        print(f"note: COLA was trained with eta {update.config.eta:g} and is meant to be played with lr = eta = "
              f"{update.config.eta:g} (its update is theta += eta h)")
    print(f"COLA trained: consistency loss {update.history[-1]:.4f} after {len(update.history)} steps")

