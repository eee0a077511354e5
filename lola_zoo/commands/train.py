"""``lola-zoo train``: a policy-gradient experiment (NL-PG, LOLA-PG, LOLA-OM) on batched rollouts.

Writes ``metrics.json``, ``metrics.csv``, ``curves.png`` and ``checkpoint.pt`` to ``--out``;
``--resume`` continues from the checkpoint (Ctrl-C writes one first).
"""

from __future__ import annotations

import argparse
import sys

from lola_zoo.experiments.pg import AGENT_KINDS, PGConfig, paper_pg_config, quick_pg_config, run_pg_experiment

NAME = "train"
HELP = ("Train two agents (nl, lola, lola-om, ppo, a2c, dqn, or a fixed strategy) in an iterated game; "
        "SB3 agents (ppo, a2c, dqn) train in the PettingZoo loop.")
ORDER = 20

_OVERRIDES = {
    "updates": int, "episodes_per_batch": int, "episode_length": int, "gamma": float, "lr": float,
    "eta": float, "runs": int, "seed": int, "init_std": float, "checkpoint_every": int,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Game, agents, preset and every hyperparameter of :class:`PGConfig`."""
    parser.add_argument("--game", default="ipd", help="registered 2x2 game id (default: ipd)")
    parser.add_argument("--agents", nargs=2, default=["lola", "lola"], metavar=("ROW", "COL"),
                        help=f"the two seats, each one of: {', '.join(AGENT_KINDS)}, ppo, a2c, dqn "
                             "(default: lola lola)")
    parser.add_argument("--policy", choices=["conv", "gru", "linear"],
                        help="coin-game only: conv (feed-forward, default), gru (conv + GRU, the paper's kind) "
                             "or linear (egocentric linear softmax)")
    parser.add_argument("--episodes", type=int,
                        help="with an SB3 agent: episodes played in the PettingZoo loop (default: 300)")
    parser.add_argument("--preset", choices=["quick", "paper", "linear"], default="quick",
                        help="quick: 64 episodes/batch, 75 updates, 10 seeds (under a minute); "
                             "paper: 4000 episodes/batch (default: quick); "
                             "linear: coin-game only, the linear-policy setting where LOLA's effect shows")
    parser.add_argument("--updates", type=int, help="learning steps")
    parser.add_argument("--episodes-per-batch", type=int, help="episodes per update and seed (paper: 4000)")
    parser.add_argument("--episode-length", type=int, help="rounds per episode (paper: 150)")
    parser.add_argument("--gamma", type=float, help="discount (default: 0.96; 0.9 for imp)")
    parser.add_argument("--lr", type=float, help="learning rate (paper: 1)")
    parser.add_argument("--eta", type=float, help="LOLA's anticipated opponent learning rate (default: lr)")
    parser.add_argument("--optimizer", choices=["sgd", "adam"], help="sgd (paper, matrix games) or adam")
    parser.add_argument("--correction", choices=["taylor", "lookahead"], help="LOLA form (default: taylor)")
    parser.add_argument("--no-baseline", action="store_true", help="drop the DiCE baseline")
    parser.add_argument("--runs", type=int, help="independent seeds trained together (default: 10)")
    parser.add_argument("--seed", type=int, help="base seed (default: 0)")
    parser.add_argument("--init-std", type=float, help="std of the initial logits (default: 1)")
    parser.add_argument("--checkpoint-every", type=int, help="updates between checkpoints (default: 10)")
    parser.add_argument("--out", default=None, help="output folder (default: runs/train-GAME-ROW-COL)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default: 1 — the tensors are small; 1 thread measured ~3x "
                             "faster than 2 on a busy 2-core machine)")


def config_from_args(args: argparse.Namespace) -> PGConfig:
    """The :class:`PGConfig` the arguments describe (preset, then explicit overrides)."""
    overrides = {k: getattr(args, k) for k in _OVERRIDES if getattr(args, k, None) is not None}
    for k in ("optimizer", "correction"):
        if getattr(args, k, None) is not None:
            overrides[k] = getattr(args, k)
    if args.no_baseline:
        overrides["baseline"] = False
    if args.preset == "linear":
        raise ValueError("--preset linear applies to --game coin-game only")
    make = quick_pg_config if args.preset == "quick" else paper_pg_config
    return make(args.game, tuple(args.agents), **overrides)


def _run_mixed(args: argparse.Namespace) -> int:
    """A pair with an SB3 agent: the plain PettingZoo loop (see lola_zoo.experiments.mixed)."""
    import torch

    from lola_zoo.experiments.mixed import MixedConfig, run_mixed_experiment

    torch.set_num_threads(args.threads)
    given = {"episodes": args.episodes, "episode_length": args.episode_length, "gamma": args.gamma,
             "lr": args.lr, "episodes_per_update": args.episodes_per_batch, "seed": args.seed,
             "checkpoint_every": args.checkpoint_every}
    config = MixedConfig(game=args.game, agents=tuple(args.agents), **{k: v for k, v in given.items() if v is not None})
    out = args.out or f"runs/train-{config.game}-{config.agents[0]}-{config.agents[1]}"
    try:
        summary = run_mixed_experiment(config, out, resume=args.resume, progress=not args.no_progress)
    except KeyboardInterrupt:
        print(f"interrupted: checkpoint and metrics written to {out}; continue with --resume", file=sys.stderr)
        return 130
    print(f"{config.game}: {summary['agents']['player_0']} vs {summary['agents']['player_1']}, "
          f"{config.episodes} episodes of {config.episode_length}")
    for i in range(2):
        seat = f"player_{i}"
        print(f"  {seat}: reward/step (last 10% of episodes) {summary['reward_per_step_last_10pct'][seat]:.3f}, "
              f"exact (1-g)V of final policies {summary['exact_value_per_step_final'][i]:.3f}, "
              "P(action 0 | start, CC, CD, DC, DD) "
              + " ".join(f"{p:.2f}" for p in summary["final_policy_p_action0"][i]))
    print(f"wrote {out}/metrics.json, metrics.csv, curves.png, checkpoint.pt")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the experiment, print a table of the final rewards, write the files."""
    from lola_zoo.experiments.mixed import SB3_ALGORITHMS

    if args.threads < 1:
        raise ValueError(f"--threads must be positive, got {args.threads}")
    if args.game == "coin-game":  # grid game with conv policies: its own runner (lola_zoo.experiments.coin)
        from lola_zoo.experiments.coin import train_command

        return train_command(args)
    if args.policy is not None:
        raise ValueError("--policy applies to --game coin-game only")
    if any(str(a).lower() in SB3_ALGORITHMS for a in args.agents):
        return _run_mixed(args)
    if args.episodes is not None:
        raise ValueError("--episodes applies to SB3 agents only; PG runs count --updates x --episodes-per-batch")
    config = config_from_args(args)
    import torch

    import lola_zoo

    torch.set_num_threads(args.threads)
    lola_zoo.game(config.game)  # unknown ids fail here with the closest known ids
    out = args.out or f"runs/train-{config.game}-{config.agents[0]}-{config.agents[1]}"
    try:
        result = run_pg_experiment(config, out_dir=out, resume=args.resume, progress=not args.no_progress)
    except KeyboardInterrupt:
        print(f"interrupted: checkpoint and metrics written to {out}; continue with --resume", file=sys.stderr)
        return 130
    summary = result.summary()
    print(f"{config.game}: {config.agents[0]} (player_0) vs {config.agents[1]} (player_1), "
          f"{config.runs} seeds, {config.updates} updates x {config.episodes_per_batch} episodes of {config.episode_length}")
    print(f"{'':10}{'reward/step (last batches)':>30}{'exact (1-g)V':>20}")
    for i in range(2):
        rps = summary["reward_per_step"][f"player_{i}"]
        ex = summary["exact_value_per_step"][f"player_{i}"]
        print(f"player_{i:<3}{rps['mean']:>20.3f} +- {rps['std']:<6.3f}{ex['mean']:>13.3f} +- {ex['std']:.3f}")
    print("P(action 0 | start, CC, CD, DC, DD), mean over seeds:")
    for i, p in enumerate(summary["p_action0"]):
        print(f"  player_{i}: " + " ".join(f"{x:.2f}" for x in p))
    for key in ("share_mutual_cooperation", "share_mutual_defection", "nash_distance", "share_near_nash"):
        if key in summary:
            print(f"{key.replace('_', ' ')}: {summary[key]:.2f}")
    print(f"wrote {out}/metrics.json, metrics.csv, curves.png, checkpoint.pt ({result.seconds:.1f} s)")
    return 0
