#!/usr/bin/env python
"""Audit of bad inputs (issue 15): try hundreds of wrong values on every CLI command and the public API.

Every case ends in one of:

* ``clean``      - the CLI exits 2 with one ``error:`` line (the API raises ValueError / TypeError / KeyError,
                   or the OSError / RuntimeError a case names) whose text names the bad value or the option;
* ``unclear``    - an error, but its message names neither (or the CLI's exit status / error lines are off);
* ``traceback``  - an exception of another type escaped (AttributeError, IndexError, a library's own...);
* ``silent``     - the input was accepted (exit 0 / no exception) although it is wrong;
* ``expected``   - accepted, and rightly so: the case says why.

Usage::

    .venv/bin/python scripts/audit_inputs.py --out audit.json [--only SUBSTRING] [--subprocess]

CLI cases run in this process through :func:`lola_zoo.cli.main` (a fresh interpreter per case costs ~2 s of
imports; ``--subprocess`` does that instead, to check the real console script).  Every case gets its own
temporary folder, removed afterwards; the working directory is a temporary folder too, so that a command
falling back to its default ``runs/...`` output writes nothing into the repository.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

CATEGORIES = ("clean", "unclear", "traceback", "silent", "expected")
API_ERRORS: tuple[type[BaseException], ...] = (ValueError, TypeError, KeyError)


@dataclass
class Case:
    """One bad input: a command line (``argv``, ``{d}`` = the case's own temporary folder) or an API call."""

    id: str
    argv: list[str] | None = None
    fn: Callable[[Path], Any] | None = None
    expect: tuple[str, ...] = ()  # the message must contain one of these (case-insensitive)
    ok: str = ""  # accepting this input is right: the reason
    setup: Callable[[Path], None] | None = None
    also: tuple[type[BaseException], ...] = ()  # API: further exception types that count as clean here


@dataclass
class Outcome:
    """What one case did."""

    id: str
    category: str
    detail: str
    seconds: float
    surface: str = field(default="cli")


# --------------------------------------------------------------------------- CLI cases
def _file(d: Path) -> None:
    (d / "a-file").write_text("keep me")


def _trained(d: Path, *extra: str) -> None:
    """A finished tiny train run in d/out (2 updates)."""
    from lola_zoo.cli import main

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main([*TRAIN, "--updates", "2", "--out", str(d / "out"), *extra]) == 0


def _sweep_spec(data: Any, name: str = "spec.json") -> Callable[[Path], None]:
    def setup(d: Path) -> None:
        (d / name).write_text(data if isinstance(data, str) else json.dumps(data))
    return setup


def _run_folder(kind: str) -> Callable[[Path], None]:
    """A folder with a damaged file the report reads."""
    def setup(d: Path) -> None:
        out = d / "out"
        out.mkdir()
        if kind == "summary":
            (out / "summary.json").write_text("{not json")
        elif kind == "metrics":
            (out / "metrics.json").write_text("[1, 2")
        elif kind == "results":
            (out / "results.jsonl").write_text('{"cell_id": "a", "kind": "x"}\ngarbage\n{"cell_id": "b"}\n')
        elif kind == "sweep-json":
            (out / "sweep.json").write_text("not json")
            (out / "results.jsonl").write_text("")
        elif kind == "grid":
            (out / "grid.json").write_text("{")
    return setup


DAMAGED_JSON = "the report shows '`x.json`: not readable as JSON.' in that file's place; one damaged file does not hide the rest"
EXACT = ["exact", "--seeds", "2", "--steps", "2", "--no-progress"]
TRAIN = ["train", "--updates", "1", "--runs", "1", "--episodes-per-batch", "2", "--episode-length", "3",
         "--no-progress", "--device", "cpu"]
SWEEP = ["sweep", "--kind", "exact-value", "--param", "n_pairs=2", "--seeds", "1", "--workers", "0", "--no-progress"]
TOURN = ["tournament", "--entrants", "TFT,AllD", "--runs", "2", "--rounds", "2", "--steps-per-round", "2",
         "--workers", "0", "--no-progress"]
OUT = ["--out", "{d}/out"]
NOT_WRITABLE = ("/proc/lola-zoo-audit", "/dev/null/sub")  # as root every chmod-ed folder is writable


def cli_cases() -> list[Case]:
    """Every command and flag, with wrong types, ranges, names, conflicts and files."""
    c: list[Case] = []

    def add(id: str, argv: list[str], *expect: str, **kw: Any) -> None:
        c.append(Case(id=id, argv=argv, expect=expect, **kw))

    add("cli: no such command", ["nosuchcmd"], "nosuchcmd")
    add("cli: unknown global flag", ["--frobnicate"], "--frobnicate")

    # demo
    for game in ("nosuch", "rps", "coin-game", "public-goods-3", ""):
        add(f"demo --game {game!r}", ["demo", "--game", game], repr(game) if game else "''", game or "--game")
    add("demo --row foo", ["demo", "--row", "foo"], "foo")
    add("demo --col ''", ["demo", "--col", ""], "--col")
    for v in ("0", "-1", "x", "1.5"):
        add(f"demo --rounds {v}", ["demo", "--rounds", v], "--rounds")
    for v in ("0", "1", "1.5", "-0.5", "nan", "inf", "x"):
        add(f"demo --gamma {v}", ["demo", "--gamma", v], "gamma")
    for v in ("-1", "x", "1.5"):
        add(f"demo --seed {v}", ["demo", "--seed", v], "--seed")
    add("demo extra positional", ["demo", "extra"], "extra")
    add("envs extra flag", ["envs", "--foo"], "--foo")
    add("envs extra positional", ["envs", "ipd"], "ipd")

    # exact
    for game in ("nosuch", "coin-game", "cournot", ""):
        add(f"exact --game {game!r}", [*EXACT, "--game", game, *OUT], repr(game), "--game")
    add("exact --learners foo", [*EXACT, "--learners", "foo", *OUT], "foo")
    add("exact --learners x3 for 2 players", [*EXACT, "--learners", "lola", "lola", "nl", *OUT], "3", "learner")
    add("exact --learners ''", [*EXACT, "--learners", "", *OUT], "''", "learner")
    add("exact --learners (none)", [*EXACT, "--learners", *OUT], "--learners")
    for flag in ("--lr", "--eta"):
        for v in ("nan", "inf", "x"):
            add(f"exact {flag} {v}", [*EXACT, flag, v, *OUT], flag)
        add(f"exact {flag} three values", [*EXACT, flag, "1", "2", "3", *OUT], "3", flag.strip("-"))
    add("exact --eta -1", [*EXACT, "--eta", "-1", *OUT], "eta", "-1")
    add("exact --lr -1", [*EXACT, "--lr", "-1", *OUT], "--lr", "-1")
    add("exact --lr 0", [*EXACT, "--lr", "0", *OUT], "--lr", ok="lr 0 freezes the policies: a valid baseline")
    for v in ("0", "1", "-1", "2", "nan", "x"):
        add(f"exact --gamma {v}", [*EXACT, "--gamma", v, *OUT], "gamma")
    for flag in ("--seeds", "--steps", "--hidden", "--order", "--pola-inner-steps", "--pola-outer-steps"):
        for v in ("0", "-1", "x", "1.5"):
            add(f"exact {flag} {v}", [*EXACT, flag, v, *OUT], flag, flag.strip("-").replace("-", "_"),
                "order" if flag == "--order" else flag)
    for v in ("-1", "nan", "inf"):
        add(f"exact --init-std {v}", [*EXACT, "--init-std", v, *OUT], "--init-std", "init_std")
    add("exact --seed -1", [*EXACT, "--seed", "-1", *OUT], "--seed")
    for flag in ("--sos-a", "--sos-b", "--pola-prox"):
        for v in ("-1", "nan"):
            add(f"exact {flag} {v}", [*EXACT, flag, v, *OUT], flag, flag.strip("-").replace("-", "_"))
    add("exact --policy foo", [*EXACT, "--policy", "foo", *OUT], "foo")
    add("exact --policy mlp --game rps", [*EXACT, "--policy", "mlp", "--game", "rps", *OUT], "mlp")
    add("exact --cola-steps 0 --learners cola", [*EXACT, "--learners", "cola", "--cola-steps", "0", *OUT], "--cola-steps")
    add("exact --cola-steps 5 without cola", [*EXACT, "--cola-steps", "5", *OUT], "--cola-steps")
    add("exact --sos-a without sos", [*EXACT, "--sos-a", "0.3", *OUT], "--sos-a")
    add("exact --order without hola", [*EXACT, "--order", "3", *OUT], "--order")
    add("exact --pola-prox without pola", [*EXACT, "--pola-prox", "2", *OUT], "--pola-prox")
    add("exact --hidden without mlp", [*EXACT, "--hidden", "4", *OUT], "--hidden")
    for axis in ("--grid-lr", "--grid-eta", "--grid-gamma", "--grid-init-std"):
        for v in ("", "a,b", "1,,2", "nan", "0:1:0", "0:1", "1:0:3:4", "0:1:x"):
            add(f"exact {axis} {v!r}", [*EXACT, axis, v, *OUT], axis)
    add("exact --grid-gamma 0,1", [*EXACT, "--grid-gamma", "0,1", *OUT], "--grid-gamma", "gamma")
    add("exact --grid-gamma 1.5", [*EXACT, "--grid-gamma", "1.5", *OUT], "--grid-gamma", "gamma")
    add("exact --grid-init-std -1", [*EXACT, "--grid-init-std", "-1", *OUT], "--grid-init-std", "init")
    add("exact --grid-eta -1", [*EXACT, "--grid-eta", "-1,1", *OUT], "--grid-eta", "eta")
    add("exact --grid-lr inf", [*EXACT, "--grid-lr", "1,inf", *OUT], "--grid-lr", "inf")
    add("exact --grid-lr 0:1:1000", [*EXACT, "--grid-lr", "0:1:1000", *OUT], "--grid-lr", "1000",
        ok="a big grid is not a wrong one: 1000 cells x 2 seeds run in one batch")
    add("exact --grid-lr with two --lr", [*EXACT, "--grid-lr", "1,2", "--lr", "1", "2", *OUT], "--lr")
    add("exact --grid-gamma with --gamma", [*EXACT, "--grid-gamma", "0.5,0.9", "--gamma", "0.9", *OUT], "--gamma")
    add("exact --grid-lr with --policy mlp", [*EXACT, "--grid-lr", "1,2", "--policy", "mlp", *OUT], "mlp", "grid",
        ok="a grid runs any policy form; mlp cells are batched like tabular ones")
    add("exact --grid-lr duplicate values", [*EXACT, "--grid-lr", "1,1", *OUT], "--grid-lr", "1")
    add("exact --grid-gamma on rps", [*EXACT, "--grid-gamma", "0.5,0.9", "--game", "rps", *OUT], "rps",
        "rock paper scissors")
    add("exact --dtype float16", [*EXACT, "--dtype", "float16", *OUT], "float16")
    add("exact --device tpu", [*EXACT, "--device", "tpu", *OUT], "tpu")
    add("exact --device cuda:x", [*EXACT, "--device", "cuda:x", *OUT], "cuda:x")
    add("exact --device cuda:7", [*EXACT, "--device", "cuda:7", *OUT], "cuda")
    add("exact --out a file", [*EXACT, "--out", "{d}/a-file"], "a-file", setup=_file)
    for where in NOT_WRITABLE:
        add(f"exact --out {where}", [*EXACT, "--out", where], where)
    add("exact --out ''", [*EXACT, "--out", ""], "--out")

    # train
    t = [*TRAIN, *OUT]
    for game in ("nosuch", ""):
        add(f"train --game {game!r}", [*t, "--game", game], repr(game))
    add("train --agents foo lola", [*t, "--agents", "foo", "lola"], "foo")
    add("train --agents x3 in ipd", [*t, "--agents", "lola", "lola", "nl"], "lola", "3", "seat")
    add("train --agents (none)", [*t, "--agents"], "--agents")
    add("train --agents '' lola", [*t, "--agents", "", "lola"], "''", "agent")
    add("train public-goods-3 with 2 seats", [*t, "--game", "public-goods-3", "--agents", "lola", "lola"], "3")
    add("train public-goods-3 with ppo seats", [*t, "--game", "public-goods-3", "--agents", "ppo"], "ppo")
    add("train coin-game with tft", [*t, "--game", "coin-game", "--agents", "tft", "lola"], "tft")
    add("train axelrod:NoSuch", [*t, "--agents", "axelrod:NoSuch", "lola"], "NoSuch")
    add("train axelrod:TitForTat in rps", [*t, "--game", "rps", "--agents", "axelrod:TitForTat", "lola"], "rps")
    add("train axelrod:TitForTat in coin-game", [*t, "--game", "coin-game", "--agents", "axelrod:TitForTat", "lola"],
        "coin-game")
    add("train axelrod: (empty name)", [*t, "--agents", "axelrod:", "lola"], "axelrod:", "''")
    add("train --preset nosuch", [*t, "--preset", "nosuch"], "nosuch")
    add("train --preset linear for ipd", [*t, "--preset", "linear"], "linear")
    add("train --policy foo", [*t, "--policy", "foo"], "foo")
    add("train --policy conv in ipd", [*t, "--policy", "conv"], "conv")
    add("train --policy memory1 in coin-game", [*t, "--game", "coin-game", "--policy", "memory1"], "memory1", "memory-1")
    for flag in ("--updates", "--episodes-per-batch", "--episode-length", "--runs", "--window", "--checkpoint-every",
                 "--threads"):
        for v in ("0", "-1", "x"):
            add(f"train {flag} {v}", [*t, flag, v], flag, flag.strip("-").replace("-", "_"))
    add("train --episodes-per-batch 1 (baseline)", [*t, "--episodes-per-batch", "1"], "episodes_per_batch",
        "--episodes-per-batch")
    add("train --window 5 > --updates 1", [*t, "--window", "5"], "--window", "window",
        ok="the final numbers average the last min(window, updates) updates and say how many")
    for flag in ("--gamma",):
        for v in ("0", "1", "-1", "nan", "2"):
            add(f"train {flag} {v}", [*t, flag, v], "gamma")
    for flag in ("--lr", "--eta"):
        for v in ("0", "-1", "nan", "inf"):
            add(f"train {flag} {v}", [*t, flag, v], flag.strip("-"))
    add("train --optimizer foo", [*t, "--optimizer", "foo"], "foo")
    add("train --correction foo", [*t, "--correction", "foo"], "foo")
    add("train --aa-beta -1 with aa", [*t, "--agents", "aa", "aa", "--aa-beta", "-1"], "--aa-beta")
    add("train --aa-beta nan with aa", [*t, "--agents", "aa", "aa", "--aa-beta", "nan"], "--aa-beta")
    add("train --aa-beta for lola seats", [*t, "--aa-beta", "1"], "--aa-beta")
    add("train --pola-inner-steps 0", [*t, "--agents", "pola", "pola", "--pola-inner-steps", "0"], "--pola-inner-steps")
    add("train --pola-outer-steps 1.5", [*t, "--agents", "pola", "pola", "--pola-outer-steps", "1.5"],
        "--pola-outer-steps")
    add("train --pola-prox inf", [*t, "--agents", "pola", "pola", "--pola-prox", "inf"], "--pola-prox")
    add("train --loqa-scale -1", [*t, "--agents", "loqa", "loqa", "--loqa-scale", "-1"], "--loqa-scale")
    add("train --loqa-scale for lola seats", [*t, "--loqa-scale", "2"], "--loqa-scale")
    add("train --no-pola-resample for lola", [*t, "--no-pola-resample"], "--no-pola-resample")
    add("train --env-kwarg foo", [*t, "--env-kwarg", "foo"], "foo", "--env-kwarg")
    add("train --env-kwarg =1", [*t, "--env-kwarg", "=1"], "=1", "--env-kwarg")
    add("train --env-kwarg nosuch=1", [*t, "--env-kwarg", "nosuch=1"], "nosuch")
    add("train --env-kwarg max_steps=0", [*t, "--env-kwarg", "max_steps=0"], "max_steps")
    add("train --env-kwarg grid_size=0", [*t, "--game", "coin-game", "--env-kwarg", "grid_size=0"], "grid_size")
    add("train --env-kwarg grid_size=x", [*t, "--game", "coin-game", "--env-kwarg", "grid_size=x"], "grid_size")
    add("train --env-kwarg factor=-1", [*t, "--game", "public-goods-3", "--agents", "lola", "--env-kwarg", "factor=-1"],
        "factor")
    add("train --env-kwarg twice", [*t, "--env-kwarg", "max_steps=3", "--env-kwarg", "max_steps=4"], "max_steps")
    add("train --seed -1", [*t, "--seed", "-1"], "--seed")
    add("train --init-std nan", [*t, "--init-std", "nan"], "--init-std")
    add("train --episodes 0 with ppo", [*t, "--agents", "ppo", "tft", "--episodes", "0"], "--episodes")
    add("train --episodes with lola", [*t, "--episodes", "5"], "--episodes")
    add("train --preset paper with ppo", [*t, "--agents", "ppo", "tft", "--preset", "paper"], "--preset")
    add("train --logger foo", [*t, "--logger", "foo"], "foo")
    add("train --device tpu", [*t, "--device", "tpu"], "tpu")
    add("train --device cuda:7", [*t, "--device", "cuda:7"], "cuda")
    add("train --out a file", [*TRAIN, "--out", "{d}/a-file"], "a-file", setup=_file)
    for where in NOT_WRITABLE:
        add(f"train --out {where}", [*TRAIN, "--out", where], where)
    add("train --out ''", [*TRAIN, "--out", ""], "--out")
    add("train --resume without checkpoint", [*t, "--resume"], "checkpoint")
    add("train --resume fewer updates", [*t, "--resume"], "--updates", setup=_trained)
    add("train --resume other lr", [*t, "--updates", "3", "--lr", "0.5", "--resume"], "lr", setup=_trained)
    add("train --resume other agents", [*t, "--updates", "3", "--agents", "nl", "nl", "--resume"], "agents", "nl",
        setup=_trained)
    add("train --resume other game", [*t, "--updates", "3", "--game", "imp", "--resume"], "game", "imp",
        setup=_trained)
    add("train --resume finished run", [*t, "--updates", "2", "--resume"], ok="a finished run's resume reprints its "
        "summary and writes nothing (documented)", setup=_trained)
    add("train --resume garbage checkpoint", [*t, "--resume"], "checkpoint.pt",
        setup=lambda d: ((d / "out").mkdir(), (d / "out" / "checkpoint.pt").write_bytes(b"garbage")) and None)

    # sweep
    s = [*SWEEP, *OUT]
    add("sweep with nothing", ["sweep", *OUT], "spec")
    add("sweep without --out", ["sweep", "--kind", "exact-value"], "--out")
    add("sweep spec missing", ["sweep", "{d}/nope.json", *OUT], "nope.json")
    add("sweep spec is a folder", ["sweep", "{d}", *OUT], "{d}")
    add("sweep spec invalid JSON", ["sweep", "{d}/spec.json", *OUT], "spec.json", setup=_sweep_spec("{kind"))
    add("sweep spec invalid YAML", ["sweep", "{d}/spec.yaml", *OUT], "spec.yaml", setup=_sweep_spec("a: [", "spec.yaml"))
    add("sweep spec a list", ["sweep", "{d}/spec.json", *OUT], "mapping", setup=_sweep_spec([1, 2]))
    add("sweep spec unknown key", ["sweep", "{d}/spec.json", *OUT], "colour",
        setup=_sweep_spec({"kind": "exact-value", "colour": 1}))
    add("sweep spec no kind", ["sweep", "{d}/spec.json", *OUT], "kind", setup=_sweep_spec({"grid": {}}))
    add("sweep spec kind 3", ["sweep", "{d}/spec.json", *OUT], "kind", setup=_sweep_spec({"kind": 3}))
    add("sweep spec unknown kind", ["sweep", "{d}/spec.json", *OUT], "nosuch", setup=_sweep_spec({"kind": "nosuch"}))
    add("sweep spec grid a list", ["sweep", "{d}/spec.json", *OUT], "grid",
        setup=_sweep_spec({"kind": "exact-value", "grid": [1]}))
    add("sweep spec empty axis", ["sweep", "{d}/spec.json", *OUT], "gamma",
        setup=_sweep_spec({"kind": "exact-value", "grid": {"gamma": []}}))
    add("sweep spec params a list", ["sweep", "{d}/spec.json", *OUT], "params",
        setup=_sweep_spec({"kind": "exact-value", "params": [1]}))
    add("sweep spec name a dict", ["sweep", "{d}/spec.json", *OUT], "name",
        setup=_sweep_spec({"kind": "exact-value", "name": {"a": 1}}))
    for seeds in (0, -2, [], [-1], ["a"], [1, 1], [1.5], {"count": 0}, {"count": "x"}, {"start": -1, "count": 2},
                  {"count": 2, "stop": 3}, "3", True, 2.0):
        add(f"sweep spec seeds {seeds!r}", ["sweep", "{d}/spec.json", *OUT], "seeds",
            setup=_sweep_spec({"kind": "exact-value", "seeds": seeds}))
    add("sweep spec seed as axis", ["sweep", "{d}/spec.json", *OUT], "seed",
        setup=_sweep_spec({"kind": "exact-value", "grid": {"seed": [1, 2]}}))
    add("sweep --kind nosuch", ["sweep", "--kind", "nosuch", *OUT], "nosuch")
    add("sweep --kind os:nosuch", ["sweep", "--kind", "os:nosuch", *OUT], "os:nosuch")
    add("sweep --kind ''", ["sweep", "--kind", "", *OUT], "kind")
    add("sweep --grid foo", [*s, "--grid", "foo"], "foo", "--grid")
    add("sweep --grid =1", [*s, "--grid", "=1"], "=1", "--grid")
    add("sweep --grid gamma=", [*s, "--grid", "gamma="], "gamma")
    add("sweep --grid gamma=0.5,,0.9", [*s, "--grid", "gamma=0.5,,0.9"], "gamma")
    add("sweep --grid gamma=0.5,0.5", [*s, "--grid", "gamma=0.5,0.5"], "gamma", "0.5")
    add("sweep --grid gamma=2", [*s, "--grid", "gamma=2"], "gamma", "2")
    add("sweep --grid nosuch=1,2", [*s, "--grid", "nosuch=1,2"], "nosuch")
    add("sweep --grid seed=1,2", [*s, "--grid", "seed=1,2"], "seed")
    add("sweep --grid twice", [*s, "--grid", "gamma=0.5", "--grid", "gamma=0.9"], "gamma")
    add("sweep --param foo", [*s, "--param", "foo"], "foo", "--param")
    add("sweep --param nosuch=1", [*s, "--param", "nosuch=1"], "nosuch")
    add("sweep --param n_pairs=0", [*s, "--param", "n_pairs=0"], "n_pairs")
    add("sweep --param n_pairs=x", [*s, "--param", "n_pairs=x"], "n_pairs", "'x'")
    add("sweep --param game=nosuch", [*s, "--param", "game=nosuch"], "nosuch")
    add("sweep --param gamma=nan", [*s, "--param", "gamma=NaN"], "gamma")
    add("sweep --param seed=3", [*s, "--param", "seed=3"], "seed")
    add("sweep --param also a --grid axis", [*s, "--param", "gamma=0.5", "--grid", "gamma=0.6,0.7"], "gamma")
    add("sweep --kind exact --param learners=foo", ["sweep", "--kind", "exact", "--param", "learners=[\"foo\"]",
        "--param", "steps=1", "--param", "runs=1", "--workers", "0", "--no-progress", *OUT], "foo")
    add("sweep --kind exact --grid lr=nan", ["sweep", "--kind", "exact", "--grid", "lr=NaN,1", "--param", "steps=1",
        "--param", "runs=1", "--workers", "0", "--no-progress", *OUT], "lr")
    add("sweep --kind train --param agents=foo", ["sweep", "--kind", "train", "--param", 'agents=["foo","lola"]',
        "--workers", "0", "--no-progress", *OUT], "foo")
    add("sweep --kind tournament-league --param x", ["sweep", "--kind", "tournament-league", "--param", "nosuch=1",
        "--workers", "0", "--no-progress", *OUT], "nosuch", "pairs")
    for v in ("0", "-1", "x"):
        add(f"sweep --seeds {v}", [*s, "--seeds", v], "seeds")
    for v in ("-1", "x", "1.5"):
        add(f"sweep --workers {v}", [*s, "--workers", v], "workers")
    add("sweep --backend foo", [*s, "--backend", "foo"], "foo")
    add("sweep --device tpu", [*s, "--device", "tpu"], "tpu")
    add("sweep --device cuda:7", [*s, "--device", "cuda:7"], "cuda")
    add("sweep --ray-address with local backend", [*s, "--ray-address", "127.0.0.1:1"], "--ray-address")
    add("sweep --out a file", [*SWEEP, "--out", "{d}/a-file"], "a-file", setup=_file)
    for where in NOT_WRITABLE:
        add(f"sweep --out {where}", [*SWEEP, "--out", where], where)
    add("sweep --out ''", [*SWEEP, "--out", ""], "--out")
    add("sweep resume with damaged sweep.json", ["sweep", *OUT], "sweep.json", setup=_run_folder("sweep-json"))

    # tournament
    tt = [*TOURN, *OUT]
    for v in ("Foo", "TFT", "TFT,TFT", "TFT,,AllD", ",", ""):
        add(f"tournament --entrants {v!r}", [*tt, "--entrants", v], "entrant", v or "--entrants",
            ok="a round robin includes self-play: one entrant is a (small) tournament" if v == "TFT" else "")
    for game in ("nosuch", "coin-game", ""):
        add(f"tournament --game {game!r}", [*tt, "--game", game], repr(game), "--game")
    add("tournament --mode foo", [*tt, "--mode", "foo"], "foo")
    for flag in ("--runs", "--rounds", "--steps-per-round", "--cells"):
        for v in ("0", "-1", "x"):
            add(f"tournament {flag} {v}", [*tt, flag, v], flag, flag.strip("-").replace("-", "_"))
    add("tournament --cells 50 > pairs", [*tt, "--cells", "50"], "--cells", "cells",
        ok="--cells is at most the number of pairs: a one-pair tournament must run with the default --cells 2")
    for v in ("0", "1", "nan", "-1"):
        add(f"tournament --gamma {v}", [*tt, "--gamma", v], "gamma")
    for flag in ("--lr", "--eta", "--pg-lr"):
        add(f"tournament {flag} -1", [*tt, flag, "-1"], flag)
    add("tournament --seed -1", [*tt, "--seed", "-1"], "--seed")
    add("tournament --workers -1", [*tt, "--workers", "-1"], "workers")
    add("tournament --backend foo", [*tt, "--backend", "foo"], "foo")
    add("tournament --preset foo", [*tt, "--preset", "foo"], "foo")
    add("tournament --preset paper --game imp", [*tt, "--preset", "paper", "--game", "imp"], "--preset")
    add("tournament --preset paper --entrants", [*TOURN, "--preset", "paper", *OUT], "--preset", "--entrants")
    add("tournament --device tpu", [*tt, "--device", "tpu"], "tpu")
    add("tournament --out a file", [*TOURN, "--out", "{d}/a-file"], "a-file", setup=_file)
    for where in NOT_WRITABLE:
        add(f"tournament --out {where}", [*TOURN, "--out", where], where)
    add("tournament --out ''", [*TOURN, "--out", ""], "--out")
    add("tournament against-fixed with no learner", [*tt, "--mode", "against-fixed"], "against-fixed", "learner")

    # report
    add("report missing folder", ["report", "{d}/nope"], "nope")
    add("report on a file", ["report", "{d}/a-file"], "a-file", setup=_file)
    add("report empty folder", ["report", "{d}"], "{d}", "nothing", "no ")
    add("report --format pdf", ["report", "{d}", "--format", "pdf"], "pdf")
    add("report damaged summary.json", ["report", "{d}/out"], "summary.json", setup=_run_folder("summary"),
        ok=DAMAGED_JSON)
    add("report damaged metrics.json", ["report", "{d}/out"], "metrics.json", setup=_run_folder("metrics"),
        ok=DAMAGED_JSON)
    add("report damaged results.jsonl", ["report", "{d}/out"], "results.jsonl", setup=_run_folder("results"))
    add("report damaged grid.json", ["report", "{d}/out"], "grid.json", setup=_run_folder("grid"),
        ok=DAMAGED_JSON)
    add("report in /proc", ["report", "/proc/self"], "/proc", ok="a folder with nothing of ours: the report says so")
    add("report no argument", ["report"], "run_dir")

    # reproduce
    r = ["reproduce", "--no-progress", "--quick", *OUT]
    for v in ("nosuch", ",", "ipd-exact,nosuch"):
        add(f"reproduce --only {v!r}", [*r, "--only", v], "--only", "nosuch")
    add("reproduce --full --only", [*r, "--full", "--only", "ipd-exact"], "--full")
    for v in ("0", "-1", "x"):
        add(f"reproduce --seeds {v}", [*r, "--seeds", v], "--seeds")
    add("reproduce --policy foo", [*r, "--only", "coin", "--policy", "foo"], "foo")
    add("reproduce --policy without coin", [*r, "--only", "ipd-exact", "--policy", "gru"], "--policy")
    add("reproduce --device tpu", [*r, "--device", "tpu"], "tpu")
    add("reproduce --device cuda:7", [*r, "--device", "cuda:7"], "cuda")
    add("reproduce --out a file", ["reproduce", "--only", "ipd-exact", "--out", "{d}/a-file"], "a-file", setup=_file)
    for where in NOT_WRITABLE:
        add(f"reproduce --out {where}", ["reproduce", "--only", "ipd-exact", "--out", where], where)
    add("reproduce --out ''", ["reproduce", "--only", "ipd-exact", "--quick", "--out", ""], "--out")
    add("reproduce --list with --only", ["reproduce", "--list", "--only", "nosuch"], "--list", "nosuch")
    return c


# --------------------------------------------------------------------------- API cases
def api_cases() -> list[Case]:
    """The public API: registry, envs, games, exact values, learners, configs, agents, sweeps."""
    import numpy as np
    import torch

    import lola_zoo
    from lola_zoo.agents.exact_rules import make_learner
    from lola_zoo.envs.exact import exact_value
    from lola_zoo.experiments import sweep as sw
    from lola_zoo.experiments.engine import TrainConfig, Trainer, preset_config
    from lola_zoo.experiments.exact import ExactConfig, run_exact

    c: list[Case] = []

    def add(id: str, fn: Callable[[Path], Any], *expect: str, also: tuple[type[BaseException], ...] = (),
            ok: str = "") -> None:
        c.append(Case(id=id, fn=fn, expect=expect, also=also, ok=ok))

    ipd = lola_zoo.game("ipd")

    def env(game: str = "ipd", **kw: Any) -> Any:
        e = lola_zoo.make(game, **kw)
        e.reset(seed=0)
        return e

    # registry
    add("make('nosuch')", lambda d: lola_zoo.make("nosuch"), "nosuch")
    add("make(3)", lambda d: lola_zoo.make(3), "3")
    add("make(None)", lambda d: lola_zoo.make(None), "None")
    add("make api='foo'", lambda d: lola_zoo.make("ipd", api="foo"), "foo")
    add("make max_steps=0", lambda d: lola_zoo.make("ipd", max_steps=0), "max_steps")
    add("make max_steps=2.5", lambda d: lola_zoo.make("ipd", max_steps=2.5), "max_steps")
    add("make max_steps=True", lambda d: lola_zoo.make("ipd", max_steps=True), "max_steps")
    add("make unknown kwarg", lambda d: lola_zoo.make("ipd", nosuch=1), "nosuch")
    add("make render_mode foo", lambda d: lola_zoo.make("ipd", render_mode="foo"), "foo")
    add("make obs_type foo", lambda d: lola_zoo.make("ipd", observation="foo"), "foo", "observation")
    add("make coin grid_size 0", lambda d: lola_zoo.make("coin-game", grid_size=0), "grid_size")
    add("make coin grid_size 2.5", lambda d: lola_zoo.make("coin-game", grid_size=2.5), "grid_size")
    add("make coin n_players 1", lambda d: lola_zoo.make("coin-game", n_players=1), "n_players")
    add("make coin tie_rule foo", lambda d: lola_zoo.make("coin-game", tie_rule="foo"), "foo")
    add("make coin max_steps -1", lambda d: lola_zoo.make("coin-game", max_steps=-1), "max_steps")
    add("make public-goods-3 factor -1", lambda d: lola_zoo.make("public-goods-3", factor=-1), "factor")
    add("make public-goods-3 factor nan", lambda d: lola_zoo.make("public-goods-3", factor=float("nan")), "factor")
    add("make public-goods-1", lambda d: lola_zoo.make("public-goods-1"), "1")
    add("make public-goods-x", lambda d: lola_zoo.make("public-goods-x"), "public-goods-x")
    add("make ipd-99", lambda d: lola_zoo.make("ipd-99"), "99")
    add("make cournot bad kwarg", lambda d: lola_zoo.make("cournot", n_firms=0), "n_firms")
    add("make cournot n_players 0", lambda d: lola_zoo.make("cournot", n_players=0), "n_players")
    add("make fishery bad kwarg", lambda d: lola_zoo.make("fishery", growth=-1), "growth")
    add("make in-the-matrix payoffs nosuch", lambda d: lola_zoo.make("in-the-matrix", payoffs="nosuch"), "nosuch")
    add("make in-the-matrix grid_size 0", lambda d: lola_zoo.make("in-the-matrix", grid_size=0), "grid_size")
    add("game('coin-game')", lambda d: lola_zoo.game("coin-game"), "coin-game")
    add("game('nosuch')", lambda d: lola_zoo.game("nosuch"), "nosuch")
    add("game kwargs", lambda d: lola_zoo.game("ipd", factor=2), "factor")
    add("spec(None)", lambda d: lola_zoo.spec(None), "None")
    for label, kw in (
        ("register id ''", dict(id="", payoffs=[[3, 0], [5, 1]])),
        ("register id 3", dict(id=3, payoffs=[[3, 0], [5, 1]])),
        ("register existing id", dict(id="ipd", payoffs=[[3, 0], [5, 1]])),
        ("register neither source", dict(id="audit-x")),
        ("register both sources", dict(id="audit-x", payoffs=[[3, 0], [5, 1]], entry_point="a:b")),
        ("register payoffs nan", dict(id="audit-x", payoffs=[[3, float("nan")], [5, 1]])),
        ("register payoffs text", dict(id="audit-x", payoffs=[["a", 0], [5, 1]])),
        ("register payoffs ragged", dict(id="audit-x", payoffs=[[3, 0], [5]])),
        ("register payoffs 1x1", dict(id="audit-x", payoffs=[[3]])),
        ("register payoffs scalar", dict(id="audit-x", payoffs=3)),
        ("register payoffs 3d wrong", dict(id="audit-x", payoffs=np.zeros((3, 2, 2)))),
        ("register payoffs huge", dict(id="audit-x", payoffs=[[1e12, 0], [5, 1]])),
        ("register payoffs bool", dict(id="audit-x", payoffs=[[True, False], [False, True]])),
        ("register payoffs None entries", dict(id="audit-x", payoffs=[[None, 0], [5, 1]])),
        ("register max_steps 0", dict(id="audit-x", payoffs=[[3, 0], [5, 1]], max_steps=0)),
        ("register kwargs a list", dict(id="audit-x", payoffs=[[3, 0], [5, 1]], kwargs=[1])),
        ("register kwargs unknown", dict(id="audit-x", payoffs=[[3, 0], [5, 1]], kwargs={"nosuch": 1})),
        ("register action_names wrong", dict(id="audit-x", payoffs=[[3, 0], [5, 1]], action_names=[["a"]])),
        ("register entry_point bad", dict(id="audit-x", entry_point="nosuch_mod_xyz:Env")),
        ("register entry_point 42", dict(id="audit-x", entry_point=42)),
        ("register description 3", dict(id="audit-x", payoffs=[[3, 0], [5, 1]], description=3)),
    ):
        expect = {"register id ''": ("''",), "register id 3": ("3",), "register existing id": ("ipd",),
                  "register neither source": ("payoffs",), "register both sources": ("payoffs",),
                  "register payoffs nan": ("nan",), "register payoffs text": ("'a'",),
                  "register payoffs ragged": ("payoffs", "shape", "ragged", "inhomogeneous"),
                  "register payoffs 1x1": ("two actions", "(1", "1)"), "register payoffs scalar": ("shape", "3"),
                  "register payoffs 3d wrong": ("shape",), "register payoffs huge": ("1e+12", "1e12"),
                  "register payoffs bool": ("bool",), "register payoffs None entries": ("None",),
                  "register max_steps 0": ("max_steps",), "register kwargs a list": ("kwargs",),
                  "register kwargs unknown": ("nosuch",), "register action_names wrong": ("action_names",),
                  "register entry_point bad": ("nosuch_mod_xyz",), "register entry_point 42": ("42",),
                  "register description 3": ("description",)}[label]

        def call(d: Path, kw: dict = kw) -> Any:
            try:
                return lola_zoo.register(**kw)
            finally:
                from lola_zoo import registry

                registry._REGISTRY.pop("audit-x", None)  # a wrongly accepted id must not leak into other cases
        add(label, call, *expect)

    # MatrixGame
    add("MatrixGame 2-d payoffs", lambda d: lola_zoo.MatrixGame("x", [[1, 2], [3, 4]]), "shape")
    add("MatrixGame nan payoffs", lambda d: lola_zoo.MatrixGame("x", np.full((2, 2, 2), np.nan)), "nan")
    add("MatrixGame inf payoffs", lambda d: lola_zoo.MatrixGame("x", np.full((2, 2, 2), np.inf)), "inf")
    add("MatrixGame text payoffs", lambda d: lola_zoo.MatrixGame("x", "abc"), "'abc'")
    add("MatrixGame complex payoffs", lambda d: lola_zoo.MatrixGame("x", np.ones((2, 2, 2)) * 1j), "complex")
    add("MatrixGame axes mismatch", lambda d: lola_zoo.MatrixGame("x", np.zeros((3, 2, 2))), "shape")
    add("MatrixGame 1 action", lambda d: lola_zoo.MatrixGame("x", np.zeros((2, 1, 2))), "two actions", "(1, 2)")
    add("MatrixGame action_names mismatch",
        lambda d: lola_zoo.MatrixGame("x", np.zeros((2, 2, 3)), action_names=[["a", "b"]]), "action_names")
    add("MatrixGame name 3", lambda d: lola_zoo.MatrixGame(3, np.zeros((2, 2, 2))), "name")
    add("MatrixGame description 3", lambda d: lola_zoo.MatrixGame("x", np.zeros((2, 2, 2)), description=3),
        "description")
    add("MatrixGame action_names a string", lambda d: lola_zoo.MatrixGame("x", np.zeros((2, 2, 2)), action_names="ab"),
        "action_names")
    add("MatrixGame.payoff bad player", lambda d: ipd.payoff(5, (0, 0)), "5", "player")
    add("MatrixGame.payoff bad joint", lambda d: ipd.payoff(0, (0, 7)), "7", "(0, 7)")
    add("MatrixGame.payoff short joint", lambda d: ipd.payoff(0, (0,)), "(0,)", "joint")
    add("MatrixGame.perspective bad player", lambda d: ipd.perspective(9), "9", "player")
    add("MatrixGame.state_labels bad player", lambda d: ipd.state_labels(9), "9", "player")

    # envs: reset / step / spaces
    for seed in (-1, 1.5, "a", True, [1]):
        add(f"env.reset(seed={seed!r})", lambda d, seed=seed: lola_zoo.make("ipd").reset(seed=seed), "seed")
        add(f"coin reset(seed={seed!r})", lambda d, seed=seed: lola_zoo.make("coin-game").reset(seed=seed), "seed")
    add("env.reset(seed=2**70)", lambda d: lola_zoo.make("ipd").reset(seed=2**70), "seed",
        ok="numpy seeds any non-negative integer, however large")
    add("env.reset(options={...})", lambda d: lola_zoo.make("ipd").reset(options={"x": 1}), "options",
        ok="PettingZoo's reset takes options it may ignore; the envs have none")
    add("step before reset", lambda d: lola_zoo.make("ipd").step({"player_0": 0, "player_1": 0}), "reset",
        also=(RuntimeError,))
    add("coin step before reset", lambda d: lola_zoo.make("coin-game").step({"player_0": 0, "player_1": 0}), "reset",
        also=(RuntimeError,))
    for label, actions, expect in (
        ("action 2", {"player_0": 2, "player_1": 0}, ("2",)),
        ("action -1", {"player_0": -1, "player_1": 0}, ("-1",)),
        ("action 0.5", {"player_0": 0.5, "player_1": 0}, ("0.5",)),
        ("action True", {"player_0": True, "player_1": 0}, ("True",)),
        ("action '0'", {"player_0": "0", "player_1": 0}, ("'0'",)),
        ("action None", {"player_0": None, "player_1": 0}, ("None",)),
        ("action array", {"player_0": np.array([0]), "player_1": 0}, ("array",)),
        ("action nan", {"player_0": float("nan"), "player_1": 0}, ("nan",)),
        ("missing agent", {"player_0": 0}, ("player_1",)),
        ("unknown agent", {"player_0": 0, "player_1": 0, "player_9": 0}, ("player_9",)),
        ("actions a list", [0, 0], ("dict",)),
        ("actions None", None, ("None", "dict")),
    ):
        add(f"ipd step {label}", lambda d, actions=actions: env().step(actions), *expect)
        add(f"coin step {label}", lambda d, actions=actions: env("coin-game").step(
            actions if not (isinstance(actions, dict) and actions.get("player_0") == 2) else
            {"player_0": 9, "player_1": 0}), *(("9",) if label == "action 2" else expect))
    add("rps step action 3", lambda d: env("rps").step({"player_0": 3, "player_1": 0}), "3")
    add("public-goods-3 step 2 agents", lambda d: env("public-goods-3").step({"player_0": 0, "player_1": 0}), "player_2")
    add("cournot step negative quantity", lambda d: env("cournot").step(
        {a: np.array([-1.0], dtype=np.float32) for a in env("cournot").possible_agents}), "-1")
    add("cournot step nan", lambda d: env("cournot").step(
        {a: np.array([np.nan], dtype=np.float32) for a in env("cournot").possible_agents}), "nan")
    add("fishery step wrong shape", lambda d: env("fishery").step(
        {a: np.zeros(3, dtype=np.float32) for a in env("fishery").possible_agents}), "shape", "(3,)", "array([0., 0., 0.]")
    add("in-the-matrix step action 99", lambda d: env("in-the-matrix").step(
        {a: 99 for a in env("in-the-matrix").possible_agents}), "99")
    add("step after the episode ended", lambda d: _after_end(), "ended", also=(RuntimeError,))
    add("observation_space unknown agent", lambda d: lola_zoo.make("ipd").observation_space("player_9"), "player_9")
    add("action_space unknown agent", lambda d: lola_zoo.make("ipd").action_space("nobody"), "nobody")
    add("aec step bad action", lambda d: _aec_bad(), "7")

    # exact_value
    p = torch.zeros(1, 5)
    add("exact_value gamma 1", lambda d: exact_value(ipd, [p, p], 1.0), "gamma")
    add("exact_value gamma 0", lambda d: exact_value(ipd, [p, p], 0.0), "gamma")
    add("exact_value gamma nan", lambda d: exact_value(ipd, [p, p], float("nan")), "gamma")
    add("exact_value gamma '0.9'", lambda d: exact_value(ipd, [p, p], "0.9"), "gamma", "'0.9'")
    add("exact_value gamma tensor", lambda d: exact_value(ipd, [p, p], torch.tensor([0.5, 0.9])), "gamma")
    add("exact_value gamma None", lambda d: exact_value(ipd, [p, p], None), "gamma")
    add("exact_value one policy", lambda d: exact_value(ipd, [p], 0.9), "1 polic", "2 polic")
    add("exact_value bad shape", lambda d: exact_value(ipd, [torch.zeros(1, 4), p], 0.9), "(1, 4)")
    add("exact_value nan policy", lambda d: exact_value(ipd, [torch.full((1, 5), float("nan")), p], 0.9), "nan")
    add("exact_value numpy policy", lambda d: exact_value(ipd, [np.zeros((1, 5)), p], 0.9), "ndarray")
    add("exact_value list policy", lambda d: exact_value(ipd, [[0.0] * 5, p], 0.9), "list")
    add("exact_value probs > 1", lambda d: exact_value(ipd, [torch.full((1, 5), 2.0), p], 0.9, kind="probs"), "[0, 1]",
        "probabilit")
    add("exact_value kind foo", lambda d: exact_value(ipd, [p, p], 0.9, kind="foo"), "foo")
    add("exact_value batch mismatch", lambda d: exact_value(ipd, [torch.zeros(2, 5), torch.zeros(3, 5)], 0.9),
        "[2, 3]", "batch")
    add("exact_value game a str", lambda d: exact_value("ipd", [p, p], 0.9), "ipd", "MatrixGame")
    add("exact_value policies a tensor", lambda d: exact_value(ipd, torch.zeros(2, 1, 5), 0.9),
        ok="a stacked (N, B, S) tensor is a sequence of per-player policies")
    add("exact_value dtype mismatch", lambda d: exact_value(ipd, [p.double(), p.float()], 0.9),
        ok="policies of different float dtypes are promoted, as torch does")

    # make_learner
    add("make_learner('foo')", lambda d: make_learner("foo"), "foo")
    add("make_learner(3)", lambda d: make_learner(3), "3")
    add("make_learner eta -1", lambda d: make_learner("lola", eta=-1), "eta")
    add("make_learner eta nan", lambda d: make_learner("lola", eta=float("nan")), "eta")
    add("make_learner eta 'x'", lambda d: make_learner("lola", eta="x"), "eta", "'x'")
    add("make_learner eta None", lambda d: make_learner("lola", eta=None), "eta", "None")
    add("make_learner unknown option", lambda d: make_learner("lola", colour=1), "colour")
    add("make_learner sos a -1", lambda d: make_learner("sos", a=-1), "a", "-1")
    add("make_learner hola order 0", lambda d: make_learner("hola", order=0), "order")

    # ExactConfig / run_exact
    for label, kw, expect in (
        ("game nosuch", {"game": "nosuch"}, ("nosuch",)),
        ("game coin-game", {"game": "coin-game"}, ("coin-game",)),
        ("learners foo", {"learners": ("foo", "lola")}, ("foo",)),
        ("learners empty", {"learners": ()}, ("learner",)),
        ("learners 3", {"learners": ("lola",) * 3}, ("3",)),
        ("learners None", {"learners": None}, ("learners",)),
        ("lr nan", {"lr": float("nan")}, ("lr",)),
        ("lr inf", {"lr": float("inf")}, ("lr",)),
        ("lr 3 values", {"lr": (1.0, 1.0, 1.0)}, ("lr",)),
        ("lr 'x'", {"lr": "x"}, ("lr",)),
        ("lr empty", {"lr": ()}, ("lr",)),
        ("eta -1", {"eta": -1.0}, ("eta",)),
        ("eta nan", {"eta": float("nan")}, ("eta",)),
        ("gamma 1", {"gamma": 1.0}, ("gamma",)),
        ("gamma nan", {"gamma": float("nan")}, ("gamma",)),
        ("gamma 'x'", {"gamma": "x"}, ("gamma",)),
        ("seeds 0", {"seeds": 0}, ("seeds",)),
        ("seeds 1.5", {"seeds": 1.5}, ("seeds",)),
        ("seeds 'x'", {"seeds": "x"}, ("seeds",)),
        ("seeds None", {"seeds": None}, ("seeds",)),
        ("steps -1", {"steps": -1}, ("steps",)),
        ("steps True", {"steps": True}, ("steps",)),
        ("init_std -1", {"init_std": -1.0}, ("init_std",)),
        ("init_std nan", {"init_std": float("nan")}, ("init_std",)),
        ("init_std inf", {"init_std": float("inf")}, ("init_std",)),
        ("seed -1", {"seed": -1}, ("seed",)),
        ("seed 1.5", {"seed": 1.5}, ("seed",)),
        ("sos_a -1", {"sos_a": -1.0}, ("sos_a",)),
        ("sos_b nan", {"sos_b": float("nan")}, ("sos_b",)),
        ("hola_order 0", {"hola_order": 0}, ("hola_order",)),
        ("hola_order 'x'", {"hola_order": "x"}, ("hola_order",)),
        ("pola_inner_steps 0", {"pola_inner_steps": 0}, ("pola_inner_steps",)),
        ("pola_prox nan", {"pola_prox": float("nan")}, ("pola_prox",)),
        ("pola_prox inf", {"pola_prox": float("inf")}, ("pola_prox",)),
        ("policy foo", {"policy": "foo"}, ("foo",)),
        ("hidden 0", {"hidden": 0}, ("hidden",)),
        ("dtype float16", {"dtype": "float16"}, ("float16",)),
        ("threads 0", {"threads": 0}, ("threads",)),
        ("threads -1", {"threads": -1}, ("threads",)),
        ("device tpu", {"device": "tpu"}, ("tpu",)),
    ):
        add(f"ExactConfig {label}", lambda d, kw=kw: ExactConfig(**kw), *expect)
    add("run_exact a dict", lambda d: run_exact({"game": "ipd"}), "dict", "ExactConfig")
    add("run_exact value_fn not callable", lambda d: run_exact(ExactConfig(seeds=2, steps=1), value_fn=3), "value_fn", "3")

    # TrainConfig / preset_config / Trainer
    train_cases: list[tuple] = [
        ("game nosuch", {"game": "nosuch"}, ("nosuch",)),
        ("agents foo", {"agents": ("foo", "lola")}, ("foo",)),
        ("agents a string", {"agents": "lola"}, ("agents", "'lola'")),
        ("agents 3", {"agents": ("lola",) * 3}, ("3", "seat")),
        ("agents axelrod rps", {"game": "rps", "agents": ("axelrod:TitForTat", "lola")}, ("rps",)),
        ("agents axelrod coin", {"game": "coin-game", "agents": ("axelrod:TitForTat", "lola")}, ("coin-game",)),
        ("agents axelrod nosuch", {"agents": ("axelrod:NoSuch", "lola")}, ("NoSuch",)),
        ("updates 0", {"updates": 0}, ("updates",)),
        ("updates 'x'", {"updates": "x"}, ("updates",)),
        ("episodes_per_batch 1", {"episodes_per_batch": 1}, ("episodes_per_batch",)),
        ("episode_length 0", {"episode_length": 0}, ("episode_length",)),
        ("gamma 1", {"gamma": 1.0}, ("gamma",)),
        ("gamma 'x'", {"gamma": "x"}, ("gamma",)),
        ("lr 0", {"lr": 0.0}, ("lr",)),
        ("lr 'x'", {"lr": "x"}, ("lr",)),
        ("eta nan", {"eta": float("nan")}, ("eta",)),
        ("eta 'x'", {"eta": "x"}, ("eta",)),
        ("runs 0", {"runs": 0}, ("runs",)),
        ("seed -1", {"seed": -1}, ("seed",)),
        ("seed 'x'", {"seed": "x"}, ("seed",)),
        ("init_std -1", {"init_std": -1.0}, ("init_std",)),
        ("init_std 'x'", {"init_std": "x"}, ("init_std",)),
        ("optimizer foo", {"optimizer": "foo"}, ("foo",)),
        ("correction foo", {"correction": "foo"}, ("foo",)),
        ("policy foo", {"policy": "foo"}, ("foo",)),
        ("policy conv in ipd", {"policy": "conv"}, ("conv",)),
        ("device tpu", {"device": "tpu"}, ("tpu",)),
        ("window 0", {"window": 0}, ("window",)),
        ("window > updates", {"window": 10, "updates": 2}, ("window",),
         "the final numbers average the last min(window, updates) updates; the summary records the window used"),
        ("checkpoint_every 0", {"checkpoint_every": 0}, ("checkpoint_every",)),
        ("om_lr nan", {"om_lr": float("nan")}, ("om_lr",)),
        ("om_fit_steps 0", {"om_fit_steps": 0}, ("om_fit_steps",)),
        ("env_kwargs a list", {"env_kwargs": [1]}, ("env_kwargs",)),
        ("env_kwargs unknown", {"env_kwargs": {"nosuch": 1}}, ("nosuch",)),
        ("env_kwargs max_steps 0", {"env_kwargs": {"max_steps": 0}}, ("max_steps",)),
        ("learner_kwargs aa_beta for lola", {"learner_kwargs": {"aa_beta": 1.0}}, ("aa_beta",),
         "one config may carry options for several seat kinds (a sweep over agents); `train --aa-beta` refuses it"),
        ("policy_kwargs for memory1", {"policy_kwargs": {"channels": 3}}, ("channels",)),
        ("baseline 'no'", {"baseline": "no"}, ("baseline",)),
    ]
    for label, kw, expect, *reason in train_cases:
        ok = reason[0] if reason else ""
        add(f"TrainConfig {label}", lambda d, kw=kw: TrainConfig(**kw), *expect, ok=ok)
    add("Trainer learner_kwargs unknown", lambda d: Trainer(TrainConfig(learner_kwargs={"nosuch": 1}, runs=1)),
        "nosuch")
    add("TrainConfig.from_dict unknown", lambda d: TrainConfig.from_dict({"nosuch": 1}), "nosuch")
    add("TrainConfig.from_dict a list", lambda d: TrainConfig.from_dict([1]), "list", "mapping")
    add("preset_config nosuch", lambda d: preset_config("nosuch"), "nosuch")
    add("preset_config game nosuch", lambda d: preset_config("quick", "nosuch"), "nosuch")
    add("preset_config bad override", lambda d: preset_config("quick", nosuch=1), "nosuch")
    add("preset_config updates 0", lambda d: preset_config("quick", updates=0), "updates")
    add("Trainer a dict", lambda d: Trainer({"game": "ipd"}, d / "out"), "dict", "TrainConfig")
    add("Trainer out a file", lambda d: (_file(d), Trainer(TrainConfig(updates=1, runs=1, episodes_per_batch=2,
        episode_length=2), d / "a-file")), "a-file")
    add("Trainer resume without checkpoint", lambda d: Trainer(TrainConfig(), d / "out", resume=True), "checkpoint",
        also=(FileNotFoundError,))
    add("Trainer logger foo", lambda d: Trainer(TrainConfig(), d / "out", loggers=["foo"]), "foo")
    add("Trainer.run stop_after -1", lambda d: Trainer(TrainConfig(updates=1, runs=1, episodes_per_batch=2,
        episode_length=2, device="cpu"), d / "out", progress=False).run(stop_after=-1), "stop_after", "-1")

    # make_pg_agent
    from lola_zoo.agents.in_loop import make_pg_agent

    add("make_pg_agent kind foo", lambda d: make_pg_agent("foo", "ipd", "player_0"), "foo")
    add("make_pg_agent agent nobody", lambda d: make_pg_agent("nl", "ipd", "nobody"), "nobody")
    add("make_pg_agent env 3", lambda d: make_pg_agent("nl", 3, "player_0"), "int", "3")
    add("make_pg_agent env nosuch", lambda d: make_pg_agent("nl", "nosuch", "player_0"), "nosuch")
    add("make_pg_agent lr -1", lambda d: make_pg_agent("nl", "ipd", "player_0", lr=-1.0), "lr")
    add("make_pg_agent lr nan", lambda d: make_pg_agent("nl", "ipd", "player_0", lr=float("nan")), "lr")
    add("make_pg_agent gamma 1", lambda d: make_pg_agent("nl", "ipd", "player_0", gamma=1.0), "gamma")
    add("make_pg_agent eta -1", lambda d: make_pg_agent("lola", "ipd", "player_0", eta=-1.0), "eta")
    add("make_pg_agent optimizer foo", lambda d: make_pg_agent("nl", "ipd", "player_0", optimizer="foo"), "foo")
    add("make_pg_agent correction foo", lambda d: make_pg_agent("lola", "ipd", "player_0", correction="foo"), "foo")
    add("make_pg_agent episodes 0", lambda d: make_pg_agent("nl", "ipd", "player_0", episodes_per_update=0),
        "episodes_per_update")
    add("make_pg_agent baseline with 1 episode", lambda d: make_pg_agent("nl", "ipd", "player_0",
        episodes_per_update=1), "episodes_per_update", "baseline", ok="with one episode the leave-one-out baseline is "
        "zero (dice.leave_one_out_baseline); the in-loop agent updates after every episode")
    add("make_pg_agent seed -1", lambda d: make_pg_agent("nl", "ipd", "player_0", seed=-1), "seed")
    add("make_pg_agent opponent_id same seat", lambda d: make_pg_agent("lola", "ipd", "player_0",
        opponent_id="player_0"), "player_0")
    add("make_pg_agent opponent_id nobody", lambda d: make_pg_agent("lola", "ipd", "player_0", opponent_id="nobody"),
        "nobody")
    add("make_pg_agent policy_kind foo", lambda d: make_pg_agent("nl", "ipd", "player_0", policy_kind="foo"), "foo")
    add("make_pg_agent om_method foo", lambda d: make_pg_agent("lola-om", "ipd", "player_0", om_method="foo"), "foo")
    add("make_pg_agent init_std -1", lambda d: make_pg_agent("nl", "ipd", "player_0", init_std=-1.0), "init_std")
    add("make_pg_agent learner_kwargs unknown", lambda d: make_pg_agent("nl", "ipd", "player_0",
        learner_kwargs={"nosuch": 1}), "nosuch")
    add("make_pg_agent opponent a str", lambda d: make_pg_agent("lola", "ipd", "player_0", opponent="tft"),
        "opponent", "str")
    add("make_pg_agent device tpu", lambda d: make_pg_agent("nl", "ipd", "player_0", device="tpu"), "tpu")

    # Axelrod adapter
    from lola_zoo.agents import axelrod_adapter as ax

    add("AxelrodAgent NoSuch", lambda d: ax.AxelrodAgent("NoSuch"), "NoSuch")
    add("AxelrodAgent 3", lambda d: ax.AxelrodAgent(3), "3")
    add("AxelrodAgent game rps", lambda d: ax.AxelrodAgent("TitForTat", game="rps"), "rps", "rock paper scissors")
    add("AxelrodAgent game nosuch", lambda d: ax.AxelrodAgent("TitForTat", game="nosuch"), "nosuch")
    add("AxelrodAgent game 3", lambda d: ax.AxelrodAgent("TitForTat", game=3), "int", "game")
    add("AxelrodAgent match_length 0", lambda d: ax.AxelrodAgent("TitForTat", match_length=0), "match_length")
    add("AxelrodAgent match_length 'x'", lambda d: ax.AxelrodAgent("TitForTat", match_length="x"), "match_length")
    add("AxelrodAgent bad strategy kwarg", lambda d: ax.AxelrodAgent("TitForTat", nosuch=1), "nosuch")
    add("AxelrodAgent cheater", lambda d: ax.AxelrodAgent("Geller"), "Geller")
    add("AxelrodAgent.act state 9", lambda d: ax.AxelrodAgent("TitForTat").act(9), "9")
    add("AxelrodAgent.act obs shape", lambda d: ax.AxelrodAgent("TitForTat").act(np.zeros(10)), "(10,)")
    add("AxelrodAgent.act 'x'", lambda d: ax.AxelrodAgent("TitForTat").act("x"), "'x'")
    add("as_axelrod_player bad table", lambda d: ax.as_axelrod_player([0.5, 2.0]), "2.0", "[0, 1]")
    add("as_axelrod_player 3", lambda d: ax.as_axelrod_player(3), "3", "int")
    add("run_axelrod_tournament turns 0", lambda d: ax.run_axelrod_tournament(["TitForTat", "Defector"], turns=0),
        "turns")
    add("run_axelrod_tournament one player", lambda d: ax.run_axelrod_tournament(["TitForTat"], turns=2), "player",
        "two")
    add("run_axelrod_tournament repetitions 0",
        lambda d: ax.run_axelrod_tournament(["TitForTat", "Defector"], turns=2, repetitions=0), "repetitions")
    add("run_axelrod_tournament game rps", lambda d: ax.run_axelrod_tournament(["TitForTat", "Defector"], turns=2,
        game="rps"), "rps", "rock paper scissors")

    # strategies
    from lola_zoo.agents.strategies import Memory1Strategy, make_strategy

    add("make_strategy foo", lambda d: make_strategy("foo"), "foo")
    add("make_strategy random n_actions 0", lambda d: make_strategy("random", n_actions=0), "n_actions")
    add("Memory1Strategy probs > 1", lambda d: Memory1Strategy([2.0, 0, 0, 0, 0]), "2.0", "[0, 1]")
    add("Memory1Strategy probs short", lambda d: Memory1Strategy([0.5]), "5", "length")
    add("Memory1Strategy probs nan", lambda d: Memory1Strategy([float("nan")] * 5), "nan")
    add("TitForTat.act state 9", lambda d: make_strategy("tft").act(9), "9")

    # sweeps
    spec_cases: list[tuple] = [
        ("not a mapping", [1], ("mapping", "list")),
        ("unknown key", {"kind": "exact-value", "colour": 1}, ("colour",)),
        ("no kind", {"grid": {}}, ("kind",)),
        ("kind 3", {"kind": 3}, ("kind",)),
        ("kind nosuch", {"kind": "nosuch"}, ("nosuch",)),
        ("grid a list", {"kind": "exact-value", "grid": [1]}, ("grid",)),
        ("grid axis empty", {"kind": "exact-value", "grid": {"gamma": []}}, ("gamma",)),
        ("grid axis a dict", {"kind": "exact-value", "grid": {"gamma": {"a": 1}}}, ("gamma",),
         "a scalar (any JSON value, a dict too) is a one-value axis; the cell check then judges the value"),
        ("grid duplicate values", {"kind": "exact-value", "grid": {"gamma": [0.5, 0.5]}}, ("gamma", "0.5")),
        ("grid seed axis", {"kind": "exact-value", "grid": {"seed": [1]}}, ("seed",)),
        ("params a list", {"kind": "exact-value", "params": [1]}, ("params",)),
        ("params a str", {"kind": "exact-value", "params": "gamma=1"}, ("params",)),
        ("params seed", {"kind": "exact-value", "params": {"seed": 1}}, ("seed",)),
        ("params also an axis", {"kind": "exact-value", "params": {"gamma": 0.5}, "grid": {"gamma": [0.6]}}, ("gamma",)),
        ("seeds 0", {"kind": "exact-value", "seeds": 0}, ("seeds",)),
        ("seeds -1", {"kind": "exact-value", "seeds": -1}, ("seeds",)),
        ("seeds []", {"kind": "exact-value", "seeds": []}, ("seeds",)),
        ("seeds [-1]", {"kind": "exact-value", "seeds": [-1]}, ("seeds", "-1")),
        ("seeds ['a']", {"kind": "exact-value", "seeds": ["a"]}, ("seeds",)),
        ("seeds [1, 1]", {"kind": "exact-value", "seeds": [1, 1]}, ("seeds",)),
        ("seeds 2.0", {"kind": "exact-value", "seeds": 2.0}, ("seeds",)),
        ("seeds True", {"kind": "exact-value", "seeds": True}, ("seeds",)),
        ("seeds '3'", {"kind": "exact-value", "seeds": "3"}, ("seeds",)),
        ("seeds {count: 0}", {"kind": "exact-value", "seeds": {"count": 0}}, ("seeds", "count")),
        ("seeds {count: 'x'}", {"kind": "exact-value", "seeds": {"count": "x"}}, ("seeds", "count")),
        ("seeds {count: 2.5}", {"kind": "exact-value", "seeds": {"count": 2.5}}, ("seeds", "count")),
        ("seeds {start: -1}", {"kind": "exact-value", "seeds": {"start": -1, "count": 2}}, ("seeds", "start")),
        ("seeds {start: 'x'}", {"kind": "exact-value", "seeds": {"start": "x", "count": 2}}, ("seeds", "start")),
        ("seeds {stop: 3}", {"kind": "exact-value", "seeds": {"count": 2, "stop": 3}}, ("seeds", "stop")),
        ("name a dict", {"kind": "exact-value", "name": {"a": 1}}, ("name",)),
        ("name empty", {"kind": "exact-value", "name": ""}, ("name",)),
    ]
    for label, data, expect, *reason in spec_cases:
        add(f"spec_from_dict {label}", lambda d, data=data: sw.spec_from_dict(data), *expect, ok=reason[0] if reason else "")
    ok_spec = sw.spec_from_dict({"kind": "exact-value", "params": {"n_pairs": 2}, "seeds": 1})
    add("run_sweep backend foo", lambda d: sw.run_sweep(ok_spec, d / "out", backend="foo", progress=False), "foo")
    add("run_sweep workers -1", lambda d: sw.run_sweep(ok_spec, d / "out", workers=-1, progress=False), "workers")
    add("run_sweep workers 1.5", lambda d: sw.run_sweep(ok_spec, d / "out", workers=1.5, progress=False), "workers")
    add("run_sweep workers 'x'", lambda d: sw.run_sweep(ok_spec, d / "out", workers="x", progress=False), "workers")
    add("run_sweep out a file", lambda d: (_file(d), sw.run_sweep(ok_spec, d / "a-file", workers=0, progress=False)),
        "a-file")
    add("run_sweep spec a dict", lambda d: sw.run_sweep({"kind": "exact-value"}, d / "out", workers=0, progress=False),
        "SweepSpec", "dict")
    add("run_sweep ray_address with local", lambda d: sw.run_sweep(ok_spec, d / "out", workers=0, progress=False,
        ray_address="127.0.0.1:1"), "ray_address")
    add("run_sweep bad param in every cell", lambda d: _all_failed(sw.run_sweep(
        sw.spec_from_dict({"kind": "exact-value", "params": {"nosuch": 1}}), d / "out", workers=0, progress=False)),
        "nosuch")
    add("register_kind ''", lambda d: sw.register_kind("", "a:b"), "''")
    add("register_kind target 3", lambda d: sw.register_kind("audit-k", 3), "3")
    add("read_results damaged", lambda d: ((d / "r.jsonl").write_text("{x\n{}\n"), sw.read_results(d / "r.jsonl")),
        "r.jsonl", "line")
    add("load_spec missing", lambda d: sw.load_spec(d / "nope.json"), "nope.json", also=(FileNotFoundError,))

    # tournament / report API
    from lola_zoo.experiments.report import write_report
    from lola_zoo.experiments.tournament import TournamentConfig

    tournament_cases: list[tuple] = [
        ("entrants Foo", {"entrants": ("Foo", "TFT")}, ("Foo",)),
        ("entrants a string", {"entrants": "TFT,AllD"}, ("entrants",)),
        ("entrants one", {"entrants": ("TFT",)}, ("entrant",), "a round robin includes self-play: one entrant plays itself"),
        ("entrants duplicated", {"entrants": ("TFT", "TFT")}, ("TFT",)),
        ("game nosuch", {"game": "nosuch"}, ("nosuch",)),
        ("mode foo", {"mode": "foo"}, ("foo",)),
        ("runs 0", {"runs": 0}, ("runs",)),
        ("rounds -1", {"rounds": -1}, ("rounds",)),
        ("steps_per_round 0", {"steps_per_round": 0}, ("steps_per_round",)),
        ("gamma 1", {"gamma": 1.0}, ("gamma",)),
        ("lr nan", {"lr": float("nan")}, ("lr",)),
        ("pg_lr -1", {"pg_lr": -1.0}, ("pg_lr",)),
        ("seed -1", {"seed": -1}, ("seed",)),
        ("cells 0", {"cells": 0}, ("cells",)),
        ("device tpu", {"device": "tpu"}, ("tpu",)),
    ]
    for label, kw, expect, *reason in tournament_cases:
        add(f"TournamentConfig {label}", lambda d, kw=kw: TournamentConfig(**kw), *expect, ok=reason[0] if reason else "")
    add("write_report missing folder", lambda d: write_report(d / "nope"), "nope", also=(FileNotFoundError,))
    add("write_report format pdf", lambda d: write_report(d, "pdf"), "pdf")
    add("write_report on a file", lambda d: (_file(d), write_report(d / "a-file")), "a-file",
        also=(NotADirectoryError,))
    return c


def _after_end() -> None:
    import lola_zoo

    e = lola_zoo.make("ipd", max_steps=1)
    e.reset(seed=0)
    e.step({"player_0": 0, "player_1": 0})
    e.step({"player_0": 0, "player_1": 0})


def _aec_bad() -> None:
    import lola_zoo

    e = lola_zoo.make("ipd", api="aec")
    e.reset(seed=0)
    e.step(7)


def _all_failed(result: Any) -> None:
    """A sweep whose every cell failed is an error, not a result: raise its first message."""
    if result.failed and result.ran == 0:
        raise ValueError(f"(sweep returned every cell failed; no up-front error) {result.failed[0][1]}")
    return None


# --------------------------------------------------------------------------- running
def _substitute(argv: list[str], d: Path) -> list[str]:
    return [a.replace("{d}", str(d)) for a in argv]


def _names(message: str, expect: tuple[str, ...], d: Path) -> bool:
    low = message.lower()
    return not expect or any(e.replace("{d}", str(d)).lower() in low for e in expect)


def run_cli_in_process(case: Case, d: Path) -> tuple[str, str]:
    """Run ``lola-zoo ARGV`` through main(); classify by exit status and stderr."""
    from lola_zoo.cli import main

    argv = _substitute(case.argv or [], d)
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                rc = main(argv)
            except SystemExit as exc:  # argparse
                rc = exc.code if isinstance(exc.code, int) else 2
    except BaseException as exc:  # noqa: BLE001 - anything that escapes main() is what the audit is for
        if isinstance(exc, KeyboardInterrupt) and not isinstance(exc, Exception):
            raise
        tb = traceback.format_exception(exc)
        return "traceback", f"{type(exc).__name__}: {exc} | " + "".join(tb[-3:]).strip().replace("\n", " | ")[-400:]
    return _classify_cli(case, rc, err.getvalue(), d)


def run_cli_subprocess(case: Case, d: Path) -> tuple[str, str]:
    """Run the real console script in a fresh interpreter."""
    exe = Path(sys.executable).with_name("lola-zoo")
    argv = _substitute(case.argv or [], d)
    try:
        proc = subprocess.run([str(exe), *argv], capture_output=True, text=True, timeout=300, cwd=d)
    except subprocess.TimeoutExpired:
        return "traceback", "timed out after 300 s"
    return _classify_cli(case, proc.returncode, proc.stderr, d)


def _classify_cli(case: Case, rc: int, err: str, d: Path) -> tuple[str, str]:
    errors = [line for line in err.splitlines() if "error:" in line]
    if "Traceback (most recent call last)" in err:
        return "traceback", err.strip().splitlines()[-1][:400]
    if rc == 0:
        return ("expected", case.ok) if case.ok else ("silent", "exit 0")
    if rc != 2 or len(errors) != 1:
        tail = " / ".join(err.strip().splitlines()[-3:])[:400]
        return "unclear", f"exit {rc}, {len(errors)} error line(s): {tail}"
    if not _names(errors[0], case.expect, d):
        return "unclear", f"does not name {list(case.expect)}: {errors[0][:400]}"
    return "clean", errors[0][:400]


def run_api(case: Case, d: Path) -> tuple[str, str]:
    """Call the function; classify by the exception it raises (or not)."""
    assert case.fn is not None
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")
            case.fn(d)
    except (*API_ERRORS, *case.also) as exc:
        message = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
        if not _names(message, case.expect, d):
            return "unclear", f"{type(exc).__name__}: does not name {list(case.expect)}: {message[:400]}"
        return "clean", f"{type(exc).__name__}: {message[:400]}"
    except Exception as exc:  # noqa: BLE001
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return "traceback", f"{type(exc).__name__}: {str(exc)[:300]} (at {Path(where.filename).name}:{where.lineno})"
    return ("expected", case.ok) if case.ok else ("silent", "no exception")


def main(argv: list[str] | None = None) -> int:
    """Run the audit, print the table, write the JSON; exit 1 if any traceback or silent acceptance remains."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="JSON file for every case's outcome")
    parser.add_argument("--only", default=None, help="run only the cases whose id contains this text")
    parser.add_argument("--subprocess", action="store_true", help="run CLI cases through the console script")
    parser.add_argument("--surface", choices=("cli", "api", "all"), default="all")
    parser.add_argument("--list", action="store_true", help="list the case ids and exit")
    args = parser.parse_args(argv)
    out_path = Path(args.out).resolve()

    import torch

    torch.set_num_threads(1)  # two shared cores: tiny cases lose to thread contention
    cases = []
    if args.surface in ("cli", "all"):
        cases += [(c, "cli") for c in cli_cases()]
    if args.surface in ("api", "all"):
        cases += [(c, "api") for c in api_cases()]
    if args.only:
        cases = [(c, s) for c, s in cases if args.only.lower() in c.id.lower()]
    ids = [c.id for c, _ in cases]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise SystemExit(f"duplicate case ids: {duplicates}")
    if args.list:
        print("\n".join(f"{s}: {i}" for (c, s), i in zip(cases, ids)))
        return 0

    outcomes: list[Outcome] = []
    home = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="lola-zoo-audit-") as root:
        os.chdir(root)  # a default runs/... output lands here, not in the repository
        try:
            for n, (case, surface) in enumerate(cases):
                d = Path(root) / f"case{n:04d}"
                d.mkdir()
                t0 = time.perf_counter()
                try:
                    if case.setup is not None:
                        case.setup(d)
                    if surface == "api":
                        category, detail = run_api(case, d)
                    elif args.subprocess:
                        category, detail = run_cli_subprocess(case, d)
                    else:
                        category, detail = run_cli_in_process(case, d)
                except Exception as exc:  # noqa: BLE001 - a broken setup is the script's bug; report it
                    category, detail = "traceback", f"audit setup failed: {type(exc).__name__}: {exc}"
                outcomes.append(Outcome(case.id, category, detail, time.perf_counter() - t0, surface))
                for p in d.rglob("*"):  # a case may leave read-only files behind; make them removable
                    with contextlib.suppress(OSError):
                        p.chmod(0o700)
                shutil.rmtree(d, ignore_errors=True)
                mark = {"clean": ".", "expected": "e", "unclear": "?", "traceback": "T", "silent": "S"}[category]
                print(mark, end="", flush=True, file=sys.stderr)
        finally:
            os.chdir(home)
    print(file=sys.stderr)

    counts = {k: sum(o.category == k for o in outcomes) for k in CATEGORIES}
    for surface in ("cli", "api"):
        sub = [o for o in outcomes if o.surface == surface]
        if sub:
            print(f"{surface}: {len(sub)} cases: " + ", ".join(f"{k} {sum(o.category == k for o in sub)}"
                                                            for k in CATEGORIES))
    print(f"all: {len(outcomes)} cases: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    bad = [o for o in outcomes if o.category not in ("clean",)]
    if bad:
        width = max(len(o.id) for o in bad)
        print()
        print(f"{'category':<10} {'case':<{width}}  detail")
        for o in sorted(bad, key=lambda o: (CATEGORIES.index(o.category), o.surface, o.id)):
            print(f"{o.category:<10} {o.id:<{width}}  {o.detail}")
    total = sum(o.seconds for o in outcomes)
    slow = sorted(outcomes, key=lambda o: -o.seconds)[:5]
    print(f"\n{total:.0f} s in all; slowest: " + ", ".join(f"{o.id} {o.seconds:.1f} s" for o in slow))
    payload = {"counts": counts, "cases": [o.__dict__ for o in outcomes],
               "mode": "subprocess" if args.subprocess else "in-process"}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(payload, indent=1, default=str) + "\n")
    print(f"wrote {out_path}")
    return 1 if counts["traceback"] or counts["silent"] else 0


if __name__ == "__main__":
    sys.exit(main())
