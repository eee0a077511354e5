"""``lola-zoo reproduce``: the main job — the paper's experiments, our numbers beside the paper's."""

from __future__ import annotations

import argparse

from lola_zoo.commands._common import out_path
from lola_zoo.devices import add_device_argument

NAME = "reproduce"
HELP = "Reproduce the LOLA paper's experiments (no arguments needed): table, summary.json and plots."
ORDER = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Output folder, quick mode, section selection, seeds, progress."""
    parser.add_argument("--out", type=out_path, default=None, help="output folder (default: runs/reproduce-<timestamp>)")
    parser.add_argument(
        "--quick", action="store_true", help="128 seeds instead of 1000 (a smoke test; same steps and settings)"
    )
    parser.add_argument(
        "--only", default=None,
        help="comma-separated sections or tags to run, e.g. 'ipd-exact' or 'exact' (default: all)",
    )
    parser.add_argument("--full", action="store_true",
                        help="also run the long sections left out by default (the Coin Game, minutes) and the "
                             "policy-gradient rows over the paper's 50 runs instead of 10")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per setting (default: 1000, --quick: 128)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")
    parser.add_argument("--list", action="store_true", help="list the sections and exit")
    parser.add_argument("--policy", default=None,
                        help="Coin Game section: the policy whose setting to run (e.g. linear, gru; default: linear)")
    add_device_argument(parser)


def run(args: argparse.Namespace) -> int:
    """Run the selected sections and print where the outputs went."""
    from lola_zoo import paper
    from lola_zoo.devices import resolve_device
    from lola_zoo.io import prepare_out_dir

    if args.list and (args.only is not None or args.full):
        raise ValueError("--list lists every section; drop --only / --full (or drop --list to run them)")
    if args.list:
        for section in paper.SECTIONS:
            tags = f"  [tags: {', '.join(section.tags)}]" if section.tags else ""
            tags += "" if section.default else "  (not in the default run: --only or --full)"
            print(f"{section.name:<12} {section.title}{tags}")
        return 0
    if args.seeds is not None and args.seeds < 1:  # before the output folder is created
        raise ValueError(f"--seeds must be a positive integer, got {args.seeds}")
    only = args.only
    if only is not None and not [name for name in only.split(",") if name.strip()]:
        raise ValueError(f"--only {only!r} names no section; see --list, or leave --only out for every default section")
    if args.full:
        if only:
            raise ValueError("give --full or --only, not both")
        only = ",".join(section.name for section in paper.SECTIONS)
    sections = paper.select_sections(only)  # fail on unknown names before creating any folder
    if args.policy is not None and not any(section.name == "coin" for section in sections):
        # Only the Coin Game section has a policy setting; elsewhere the flag would change nothing.
        raise ValueError(f"--policy {args.policy} applies to the Coin Game section; add --only coin (or --full)")
    resolve_device(args.device)  # and on a device that is not there
    out = prepare_out_dir(args.out if args.out else paper.default_out_dir())  # a bad --out fails before any section
    paper.reproduce(
        out_dir=out, quick=args.quick, only=only, progress=not args.no_progress, seeds=args.seeds,
        device=args.device, policy=args.policy, full=args.full,
    )
    return 0
