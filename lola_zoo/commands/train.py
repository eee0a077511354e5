"""``lola-zoo train``: one run of the training engine — any registered game, any pair of seats.

Writes ``metrics.json``, ``metrics.csv``, ``curves.png`` and ``checkpoint.pt`` to ``--out``;
``--resume`` continues from the checkpoint (Ctrl-C writes one first); ``--logger`` adds
TensorBoard or offline Weights & Biases logs.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from typing import Any

from lola_zoo.commands._common import Terminated, finite_float, nonnegative_float, out_path, seed_int
from lola_zoo.devices import add_device_argument

NAME = "train"
HELP = ("Train two seats (nl, lola, lola-om, aa, pola, pola-om, loqa, ppo, a2c, dqn, a fixed strategy or axelrod:<Name>) in any "
        "registered game on the training engine; seeds batched, --device cpu|cuda.")
ORDER = 20

_OVERRIDES = ("updates", "episodes_per_batch", "episode_length", "gamma", "lr", "eta", "runs", "seed", "init_std",
              "checkpoint_every", "optimizer", "correction", "policy", "window")


#: learner-option flags: the seat kinds they apply to and their smallest valid value
_LEARNER_FLAGS: dict[str, tuple[tuple[str, ...], float]] = {
    "aa_beta": (("aa",), 0.0),
    "pola_inner_steps": (("pola", "pola-om"), 1),
    "pola_outer_steps": (("pola", "pola-om"), 1),
    "pola_prox": (("pola", "pola-om"), 0.0),
    "loqa_scale": (("loqa",), 0.0),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Game, seats, preset, every engine setting, output and device options."""
    parser.add_argument("--game", default="ipd", help="registered game id: ipd, imp, coin-game, ... (default: ipd)")
    parser.add_argument("--agents", nargs="+", default=["lola", "lola"], metavar="SEAT",
                        help="one seat per player, or one kind for all (N-player games such as public-goods-3: nl or lola), "
                             "each one of: nl (NL-PG), lola (LOLA-PG, white-box), lola-om "
                             "(LOLA with an opponent model, black-box), aa (Advantage Alignment), pola / pola-om "
                             "(POLA-DiCE, white-box / opponent model), loqa (LOQA), tft, allc, "
                             "alld, random, ppo, a2c, dqn, "
                             "axelrod:<Strategy> (default: lola lola)")
    parser.add_argument("--preset", default=None,
                        help="matrix games: quick (64 episodes/batch, 75 updates, 10 seeds) or paper (4000 "
                             "episodes/batch); coin-game: quick, linear, gru (the recurrent setting of "
                             "docs/coin-game-results.md) or paper (conv + LSTM, 4000 x 150; a GPU job) "
                             "(default: quick; not for SB3 or Axelrod seats, which run the plain loop)")
    parser.add_argument("--policy", help="memory1 (matrix games) or conv, gru, lstm, linear (coin-game)")
    parser.add_argument("--updates", type=int, help="learning steps")
    parser.add_argument("--episodes-per-batch", type=int, help="episodes per update and seed (paper: 4000)")
    parser.add_argument("--episode-length", type=int, help="steps per episode (paper: 150)")
    parser.add_argument("--gamma", type=finite_float, help="discount (default: 0.96; 0.9 for imp)")
    parser.add_argument("--lr", type=finite_float, help="learning rate (matrix games: 1 with sgd; coin-game: Adam)")
    parser.add_argument("--eta", type=finite_float, help="LOLA's anticipated opponent learning rate (default: lr)")
    parser.add_argument("--optimizer", choices=["sgd", "adam"], help="sgd (paper, matrix games) or adam (coin-game)")
    parser.add_argument("--correction", choices=["taylor", "lookahead"], help="LOLA form (default: taylor)")
    parser.add_argument("--no-baseline", action="store_true", help="drop the DiCE baseline")
    parser.add_argument("--aa-beta", type=float, help="Advantage Alignment's alignment weight for aa seats (default: 1)")
    parser.add_argument("--pola-inner-steps", type=int,
                        help="POLA: the opponent's anticipated proximal steps (pola/pola-om seats; default: 2)")
    parser.add_argument("--pola-outer-steps", type=int, help="POLA: the seat's own proximal steps per update (default: 1)")
    parser.add_argument("--pola-prox", type=float, help="POLA: proximity weight beta of both loops (default: 1)")
    parser.add_argument("--no-pola-resample", action="store_true",
                        help="POLA: reuse each update's batch for the proximal steps (default: fresh episodes per step)")
    parser.add_argument("--loqa-scale", type=float,
                        help="LOQA: inverse temperature 1/tau of the modelled opponent softmax (loqa seats; default: 1)")
    parser.add_argument("--env-kwarg", action="append", default=[], metavar="KEY=VALUE",
                        help="a keyword of the game, repeatable (VALUE read as JSON, else text): factor=2.5 for "
                             "public-goods-N, grid_size=4 for coin-game, payoffs=\"ipd\" for in-the-matrix")
    parser.add_argument("--runs", type=int, help="independent seeds trained together")
    parser.add_argument("--seed", type=seed_int, help="base seed (>= 0; default: 0)")
    parser.add_argument("--init-std", type=nonnegative_float, help="std of the initial memory-1 logits (default: 1)")
    parser.add_argument("--window", type=int, help="updates averaged for the final numbers")
    parser.add_argument("--checkpoint-every", type=int, help="updates between checkpoints (default: 10)")
    parser.add_argument("--episodes", type=int,
                        help="plain-loop runs (an SB3 or Axelrod seat): total episodes; sets --updates to "
                             "episodes / episodes-per-batch")
    parser.add_argument("--out", type=out_path, default=None, help="output folder (default: runs/train-GAME-SEAT-SEAT...)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt (must exist)")
    parser.add_argument("--logger", action="append", default=[], choices=["tensorboard", "wandb"],
                        help="also log to TensorBoard (OUT/tensorboard) or W&B offline (OUT/wandb); repeatable")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default: 1 — the tensors are small; 1 thread measured ~3x "
                             "faster than 2 on a busy 2-core machine)")
    add_device_argument(parser)


def config_from_args(args: argparse.Namespace) -> Any:
    """The :class:`~lola_zoo.experiments.engine.TrainConfig` the arguments describe (preset, then overrides)."""
    from lola_zoo.experiments.engine import SB3_KINDS, preset_config

    overrides: dict[str, Any] = {k: getattr(args, k) for k in _OVERRIDES if getattr(args, k, None) is not None}
    if args.no_baseline:
        overrides["baseline"] = False
    env_kwargs: dict[str, Any] = {}
    for item in getattr(args, "env_kwarg", None) or []:
        key, sep, text = str(item).partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--env-kwarg must look like KEY=VALUE, got {item!r}")
        if key.strip() in env_kwargs:  # the second value would silently win
            raise ValueError(f"--env-kwarg {key.strip()} is given twice ({item!r} and "
                             f"{key.strip()}={json.dumps(env_kwargs[key.strip()])}); give it once")
        try:
            env_kwargs[key.strip()] = json.loads(text)
        except json.JSONDecodeError:
            env_kwargs[key.strip()] = text
    if env_kwargs:
        overrides["env_kwargs"] = env_kwargs
    learner_kwargs: dict[str, Any] = {}
    seats = [str(a).lower() for a in args.agents]
    for option, (kinds, minimum) in _LEARNER_FLAGS.items():
        value = getattr(args, option, None)
        if value is None:
            continue
        flag = "--" + option.replace("_", "-")
        if not any(k in seats for k in kinds):
            raise ValueError(f"{flag} applies to {' / '.join(kinds)} seats; neither seat is one")
        if not (value >= minimum and value != float("inf")):  # also rejects NaN
            raise ValueError(f"{flag} must be a finite number >= {minimum}, got {value}")
        learner_kwargs[option] = value
    if getattr(args, "no_pola_resample", False):
        if not any(k in seats for k in ("pola", "pola-om")):
            raise ValueError("--no-pola-resample applies to pola / pola-om seats; neither seat is one")
        learner_kwargs["pola_resample"] = False
    if learner_kwargs:
        overrides["learner_kwargs"] = learner_kwargs
    plain_loop = any(str(a).lower() in SB3_KINDS or str(a).lower().startswith("axelrod:") for a in args.agents)
    if plain_loop and args.preset is not None:
        # The plain loop sets its own sizes (1 seed, 16 episodes of 50 steps, 20 updates): a preset's
        # would be silently replaced, so say so instead of pretending to honour it.
        raise ValueError(f"--preset {args.preset} sizes batched runs; an SB3 or Axelrod seat runs the plain loop: "
                         "set --runs, --updates (or --episodes), --episodes-per-batch, --episode-length instead")
    if args.episodes is not None:
        if not plain_loop:
            raise ValueError("--episodes applies to plain-loop runs (an SB3 or Axelrod seat); batched runs count "
                             "--updates x --episodes-per-batch")
        if args.episodes < 1:
            raise ValueError(f"--episodes must be positive, got {args.episodes}")
    if plain_loop:
        # SB3 learns one game at a time: one seed, short episodes, an update every 16 episodes.
        overrides.setdefault("runs", 1)
        overrides.setdefault("episodes_per_batch", 16)
        overrides.setdefault("episode_length", 50)
        if args.episodes is not None:
            overrides["updates"] = max(1, -(-args.episodes // overrides["episodes_per_batch"]))
        else:
            overrides.setdefault("updates", 20)
    overrides["device"] = args.device
    agents = tuple(args.agents)
    if len(agents) == 1:  # one kind for every seat
        from lola_zoo.experiments.engine import game_family
        from lola_zoo.registry import spec

        players = spec(args.game).game.n_players if game_family(args.game) == "matrix" else 2  # type: ignore[union-attr]
        agents = agents * players
    return preset_config(args.preset or "quick", args.game, agents, **overrides)


def _print_summary(result: Any, out: str, wrote: bool = True) -> None:
    c, s = result.config, result.summary
    seats = " vs ".join(f"{label} (player_{i})" for i, label in enumerate(result.labels))
    print(f"{c.game}: {seats}, {c.runs} seed(s), "
          f"{c.updates} updates x {c.episodes_per_batch} episodes of {c.episode_length} steps, {c.policy} policy, "
          f"device {result.device}")
    print(f"  (numbers: mean +- std over seeds of the last {s.get('window', c.window)} updates)")
    if "own_coin_share" in s:
        share = s["own_coin_share"]
        print(f"  share of own-colour coins picked: {share['mean']:.3f} +- {share['std']:.3f}   (random play: 0.5)")
        for i in range(2):
            p = s["points_per_episode"][f"player_{i}"]
            print(f"  points per episode, player_{i}: {p['mean']:+.2f} +- {p['std']:.2f}")
        co = s["coins_per_episode"]
        print(f"  coins picked per episode (both players): {co['mean']:.1f} +- {co['std']:.1f}")
    if "reward_per_step" in s:
        print(f"{'':12}{'reward/step (last batches)':>28}{'exact (1-g)V':>20}")
        for i in range(len(s["reward_per_step"])):
            rps = s["reward_per_step"][f"player_{i}"]
            ex = s.get("exact_value_per_step", {}).get(f"player_{i}")
            ex_text = f"{ex['mean']:>13.3f} +- {ex['std']:.3f}" if ex else f"{'-':>13}"
            print(f"player_{i:<5}{rps['mean']:>18.3f} +- {rps['std']:<6.3f}{ex_text}")
    if "p_action0" in s:
        states = "start, CC, CD, DC, DD" if len(s["p_action0"][0]) == 5 else "start, then each previous joint action"
        print(f"P(action 0 | {states}), mean over seeds:")
        for i, p in enumerate(s["p_action0"]):
            print(f"  player_{i}: " + " ".join(f"{x:.2f}" for x in p))
    for key in ("share_mutual_cooperation", "share_mutual_defection", "nash_distance", "share_near_nash"):
        if key in s:
            print(f"{key.replace('_', ' ')}: {s[key]:.2f}")
    if wrote:
        print(f"wrote {out}/metrics.json, metrics.csv, curves.png, checkpoint.pt ({result.seconds:.1f} s)")


def run(args: argparse.Namespace) -> int:
    """Run the experiment, print a table of the final numbers, write the files."""
    import torch

    from lola_zoo.experiments.engine import Trainer

    if args.threads < 1:
        raise ValueError(f"--threads must be positive, got {args.threads}")
    config = config_from_args(args)
    torch.set_num_threads(args.threads)
    out = args.out or f"runs/train-{config.game}-{'-'.join(config.agents)}"
    trainer = Trainer(config, out, resume=args.resume, progress=not args.no_progress, loggers=args.logger)
    if trainer.update > config.updates:
        # Continuing would mean un-training; reporting it as a run of fewer updates would mislabel the files.
        raise ValueError(f"--updates {config.updates} is fewer than the {trainer.update} updates the checkpoint in "
                         f"{out} already holds; give --updates {trainer.update} or more (or another --out)")
    if not trainer.restored_rng:
        print("note: the checkpoint was written on another device type; the sampling streams restart from a "
              "fresh seed (parameters and optimiser state are restored)", file=sys.stderr)
    try:
        result = trainer.run()
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM through the CLI's handler
        print(f"interrupted: checkpoint and metrics written to {out}; continue with --resume", file=sys.stderr)
        return 128 + signal.SIGTERM if isinstance(exc, Terminated) else 130
    if result.message:
        print(f"{out}: {result.message}")
    _print_summary(result, out, wrote=not result.message)  # a finished run's files were left as they were
    return 0
