"""Issue 15: a ``train`` run stopped after any update — cleanly, by Ctrl-C, by SIGKILL — and resumed writes the
files of an uninterrupted run, byte for byte, and a killed run leaves no process behind.

Every file ``lola-zoo train`` writes is compared: ``checkpoint.pt``, ``metrics.json``, ``metrics.csv`` and
``curves.png``, and the folder holds nothing else (no stray temporary file of an interrupted atomic write).
The one exclusion: the top-level ``"seconds"`` of ``metrics.json`` is the wall time of the last training
session, so it legitimately differs; its line is dropped from both files before the byte comparison.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch
from helpers import session_processes
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from lola_zoo.cli import main
from lola_zoo.commands.train import add_arguments, config_from_args
from lola_zoo.experiments.engine import Trainer

UPDATES = 6
WINDOW = 3  # updates UPDATES - WINDOW + 1 .. UPDATES are the summary's window
# The smallest sizes the engine takes: 2 episodes (the leave-one-out baseline needs two) of 3 steps, 2 seeds.
BASE = ["--runs", "2", "--episodes-per-batch", "2", "--episode-length", "3", "--window", str(WINDOW),
        "--seed", "3", "--no-progress", "--device", "cpu"]
SETTINGS = {
    "ipd-nl-nl": ["--agents", "nl", "nl"],
    "ipd-lola-lola": ["--agents", "lola", "lola"],
    "ipd-lolaom-nl": ["--agents", "lola-om", "nl"],
    "coin-lola-nl": ["--game", "coin-game", "--agents", "lola", "nl", "--policy", "gru",
                     "--env-kwarg", "grid_size=3"],
}
FILES = {"checkpoint.pt", "metrics.json", "metrics.csv", "curves.png"}
_SECONDS = re.compile(rb'^  "seconds": [^\n]*\n', re.M)


def _argv(setting: str, updates: int = UPDATES, checkpoint_every: int = 2) -> list[str]:
    return ["train", *SETTINGS[setting], *BASE, "--updates", str(updates), "--checkpoint-every", str(checkpoint_every)]


def _config(argv: list[str]):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return config_from_args(parser.parse_args(argv[1:]))


def _train(argv: list[str], out: Path, *extra: str) -> None:
    assert main([*argv, "--out", str(out), *extra]) == 0


def _files(out: Path) -> dict[str, bytes]:
    """Every entry of the folder (hidden ones too), ``metrics.json`` without its wall-time line."""
    files = {p.name: p.read_bytes() for p in sorted(out.iterdir())}
    if "metrics.json" in files:
        files["metrics.json"], n = _SECONDS.subn(b"", files["metrics.json"])
        assert n == 1, "a finished run's metrics.json has one top-level seconds"
    return files


def _assert_same_files(out: Path, reference: Path) -> None:
    got, want = _files(out), _files(reference)
    assert set(want) == FILES
    assert sorted(got) == sorted(want), "other files in the folder"
    different = [name for name in want if got[name] != want[name]]
    assert not different, f"differ from the uninterrupted run byte for byte: {different}"


_REFERENCE: dict[str, Path] = {}
_ROOT = tempfile.TemporaryDirectory(prefix="resume-properties-")


def _reference(setting: str) -> Path:
    """The uninterrupted run of ``setting`` (made once per test session)."""
    if setting not in _REFERENCE:
        out = Path(_ROOT.name) / setting
        _train(_argv(setting), out)
        _REFERENCE[setting] = out
    return _REFERENCE[setting]


def _stop(how: str, setting: str, k: int, checkpoint_every: int, out: Path) -> None:
    """Leave in ``out`` what a run stopped after ``k`` updates leaves."""
    argv = _argv(setting, checkpoint_every=checkpoint_every)
    if how == "stop":  # Trainer.run(stop_after=k): the engine's own partial run
        Trainer(_config(argv), out).run(stop_after=k)
    elif how == "ctrl-c":  # KeyboardInterrupt after update k: the checkpoint and metrics of the last completed update
        def interrupt(row: dict[str, float]) -> None:
            if row["update"] == k:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            Trainer(_config(argv), out, on_update=interrupt).run()
    elif how == "shorter":  # a finished CLI run of k updates, extended by the resume
        _train(_argv(setting, updates=k, checkpoint_every=checkpoint_every), out)
    else:  # "killed": SIGKILL after the checkpoint of update k, before any metrics file, inside the next write
        Trainer(_config(argv), out).run(stop_after=k)
        for name in ("metrics.json", "metrics.csv", "curves.png"):
            (out / name).unlink(missing_ok=True)
        half = (out / "checkpoint.pt").read_bytes()[:1000]
        (out / ".checkpoint.pt.k1ll3d.tmp").write_bytes(half)  # what a kill inside atomic_write_bytes leaves


@settings(max_examples=12, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(setting=st.sampled_from(sorted(SETTINGS)), how=st.sampled_from(["stop", "ctrl-c", "shorter", "killed"]),
       k=st.integers(0, UPDATES), checkpoint_every=st.sampled_from([1, 2, 4]))
# the first update, the last one, the final window and a stop before any update, for every way of stopping
@example(setting="ipd-nl-nl", how="stop", k=0, checkpoint_every=2)
@example(setting="ipd-lola-lola", how="killed", k=0, checkpoint_every=1)
@example(setting="ipd-lola-lola", how="ctrl-c", k=1, checkpoint_every=4)
@example(setting="ipd-nl-nl", how="shorter", k=1, checkpoint_every=1)
@example(setting="ipd-lola-lola", how="stop", k=UPDATES - WINDOW + 1, checkpoint_every=2)
@example(setting="ipd-nl-nl", how="ctrl-c", k=UPDATES - 1, checkpoint_every=1)
@example(setting="ipd-lolaom-nl", how="killed", k=UPDATES - 2, checkpoint_every=4)
@example(setting="ipd-lola-lola", how="stop", k=UPDATES, checkpoint_every=2)
@example(setting="ipd-nl-nl", how="ctrl-c", k=UPDATES, checkpoint_every=2)
@example(setting="ipd-lola-lola", how="killed", k=UPDATES, checkpoint_every=4)
@example(setting="ipd-lola-lola", how="shorter", k=UPDATES, checkpoint_every=2)
@example(setting="coin-lola-nl", how="ctrl-c", k=UPDATES - 1, checkpoint_every=1)
@example(setting="coin-lola-nl", how="killed", k=2, checkpoint_every=2)
def test_a_run_stopped_after_any_update_resumes_to_the_uninterrupted_files(setting, how, k, checkpoint_every):
    if how in ("ctrl-c", "shorter"):
        k = max(k, 1)  # Ctrl-C comes after an update; a CLI run has at least one
    reference = _reference(setting)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        _stop(how, setting, k, checkpoint_every, out)
        _train(_argv(setting), out, "--resume")
        _assert_same_files(out, reference)


# ----------------------------------------------------------------------------------------------- SIGKILL


@pytest.mark.skipif(sys.platform != "linux", reason="process sessions and /proc: Linux")
@pytest.mark.parametrize("point", range(3))
def test_sigkill_of_train_at_a_random_point_resumes_to_the_uninterrupted_files(tmp_path, capsys, point):
    rng = random.Random(1500 + point)
    setting = ["ipd-lola-lola", "ipd-nl-nl", "ipd-lola-lola"][point]
    every = [1, 3, 2][point]  # checkpoints of the killed run: the updates since the last one are lost and redone
    out = tmp_path / "killed"
    # Far more updates than it can reach: the kill always lands in training (or in a checkpoint's write).
    cmd = [sys.executable, "-m", "lola_zoo.cli", *_argv(setting, updates=1_000_000, checkpoint_every=every),
           "--out", str(out)]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        while not (out / "checkpoint.pt").exists():  # the first checkpoint: training is under way
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "no checkpoint after 90 s"
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.6))
        proc.kill()
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        deadline = time.monotonic() + 5
        while session_processes(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not session_processes(proc.pid), "left alive after SIGKILL of train"
    finally:
        for line in session_processes(proc.pid):  # never leave a trainer running, even on failure
            os.kill(int(line.split()[0]), signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        proc.stderr.close()  # type: ignore[union-attr]
    done = int(torch.load(out / "checkpoint.pt", weights_only=False)["update"])
    assert done >= 1
    total = done + rng.randint(1, WINDOW + 1)  # the resume ends inside, at or just past the final window
    _train(_argv(setting, updates=total), out, "--resume")
    _train(_argv(setting, updates=total), tmp_path / "straight")
    capsys.readouterr()
    _assert_same_files(out, tmp_path / "straight")
