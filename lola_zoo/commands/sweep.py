"""``lola-zoo sweep``: run a grid of configurations x seeds into one resumable results file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from lola_zoo.commands._common import out_path

NAME = "sweep"
HELP = "Run a grid of configurations x seeds (local process pool or Ray); resumes an interrupted sweep."
ORDER = 40


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Spec file or flags, output folder, backend."""
    parser.add_argument("spec", nargs="?", help="sweep spec (.json/.yaml: kind, grid, seeds, params); "
                        "omit to resume the spec saved in --out, or build one with --kind/--grid")
    parser.add_argument("--out", type=out_path, required=True, help="output folder (results.jsonl, results.csv, sweep.json)")
    parser.add_argument("--device", default=None, metavar="{auto,cpu,cuda}",
                        help="device of every cell (added to the cells' params; default: the kinds' own)")
    parser.add_argument("--kind", help="cell kind when no spec file is given (e.g. exact, exact-value)")
    parser.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2",
                        help="one grid axis (repeatable); values are parsed as JSON where possible")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="a parameter shared by every cell (repeatable)")
    parser.add_argument("--seeds", type=int, help="number of seeds 0..N-1 (overrides the spec's seeds)")
    parser.add_argument("--backend", choices=("local", "ray"), default="local",
                        help="local process pool (default) or Ray tasks")
    parser.add_argument("--workers", type=int, default=2,
                        help="worker processes / Ray CPUs (default: 2; 0 runs cells in this process)")
    parser.add_argument("--ray-address", help="address of a running Ray cluster (default: start a local one)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--no-batch", action="store_true",
                        help="run every cell on its own (by default `exact` cells of a 2x2 game with closed-form rules "
                             "that differ only in lr, eta, gamma, init_std, seed or runs run as one batch; same results)")


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{flag} expects KEY=VALUE, got {item!r}")
        if key in out:  # a second value would silently replace the first
            raise ValueError(f"{flag} {key}=... is given twice ({flag} {key}={out[key]} and {flag} {item}); give it once")
        out[key] = value
    return out


def _spec(args: argparse.Namespace):
    from lola_zoo.experiments.sweep import SPEC_JSON, load_spec, spec_from_dict

    saved = Path(args.out) / SPEC_JSON
    if args.spec:
        spec = load_spec(args.spec).to_dict()
    elif args.kind:
        spec = {"kind": args.kind, "grid": {}, "seeds": 1, "params": {}}
    elif saved.is_file():
        spec = load_spec(saved).to_dict()
    else:
        raise ValueError("give a spec file, --kind with --grid/--param, or an --out folder holding sweep.json")
    if args.kind and args.spec:
        spec["kind"] = args.kind
    for key, values in _pairs(args.grid, "--grid").items():
        spec["grid"][key] = [_value(v) for v in values.split(",")]
    for key, value in _pairs(args.param, "--param").items():
        spec["params"][key] = _value(value)
    if args.seeds is not None:
        spec["seeds"] = args.seeds
    if args.device is not None and "device" not in spec["grid"]:
        from lola_zoo.devices import resolve_device

        resolve_device(args.device)  # fail before any cell runs
        spec["params"]["device"] = args.device  # every cell's config takes it (exact, train, tournament-league)
    return spec_from_dict(spec)


def run(args: argparse.Namespace) -> int:
    """Run the missing cells, then print the aggregated table and where the files are."""
    from lola_zoo.experiments.report import Block, render_markdown, sweep_table
    from lola_zoo.experiments.sweep import RESULTS_CSV, RESULTS_JSONL, run_sweep
    from lola_zoo.io import prepare_out_dir

    if args.ray_address is not None and args.backend != "ray":
        raise ValueError(f"--ray-address {args.ray_address} is for --backend ray; the {args.backend} backend would ignore it")
    spec = _spec(args)
    prepare_out_dir(args.out)
    result = run_sweep(spec, args.out, backend=args.backend, workers=args.workers,
                       ray_address=args.ray_address, progress=not args.no_progress, batch=not args.no_batch)
    if result.rows:
        header, body = sweep_table(result.rows, brief=True)  # `lola-zoo report` shows every metric
        print(render_markdown([Block("table", header=header, rows=body)]), end="")
    print(f"{result.ran} cell(s) run, {result.skipped} already done, {len(result.failed)} failed "
          f"of {result.total} in {result.elapsed_s:.1f} s -> {Path(args.out) / RESULTS_JSONL}, "
          f"{Path(args.out) / RESULTS_CSV}")
    if result.other:
        print(f"note: {result.other} row(s) of another sweep configuration in {Path(args.out) / RESULTS_JSONL} "
              f"are left out of {RESULTS_CSV} and the table")
    for cid, message in result.failed[:5]:
        print(f"  failed {cid}: {message}")
    return 1 if result.failed else 0
