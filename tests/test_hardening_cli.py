"""Hardening of the CLI and its files: bad input ends in one ``error:`` line and exit status 2, never a traceback or a silent default."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest
from helpers import error_line

from lola_zoo.cli import main
from lola_zoo.io import atomic_torch_save, atomic_write_json, atomic_write_text, prepare_out_dir


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")
def test_atomic_writes_get_the_umask_mode_not_mkstemps_0600(tmp_path):
    old = os.umask(0o022)
    try:
        paths = [atomic_write_text(tmp_path / "a.txt", "x"), atomic_write_json(tmp_path / "b.json", {"a": 1}),
                 atomic_torch_save(tmp_path / "c.pt", {"a": 1})]
        os.umask(0o027)
        paths.append(atomic_write_text(tmp_path / "d.txt", "x"))
    finally:
        os.umask(old)
    modes = [stat.S_IMODE(p.stat().st_mode) for p in paths]
    assert modes == [0o644, 0o644, 0o644, 0o640]


def test_prepare_out_dir_refuses_a_file_and_a_read_only_folder(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="exists and is not a folder"):
        prepare_out_dir(tmp_path / "file")
    assert prepare_out_dir(tmp_path / "new" / "deep").is_dir()
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        try:
            with pytest.raises(ValueError, match="is not writable"):
                prepare_out_dir(ro)
        finally:
            ro.chmod(0o755)




TINY_TRAIN = ["train", "--updates", "2", "--runs", "1", "--episodes-per-batch", "4", "--episode-length", "5",
              "--no-progress", "--device", "cpu"]


@pytest.mark.parametrize("argv", [
    ["exact", "--seeds", "2", "--steps", "2", "--no-progress"],
    TINY_TRAIN,
    ["sweep", "--kind", "exact-value", "--no-progress"],
    ["tournament", "--entrants", "TFT,AllD", "--runs", "2", "--rounds", "2", "--no-progress"],
    ["reproduce", "--only", "ipd-exact", "--quick", "--no-progress"],
], ids=lambda argv: argv[0])
def test_out_naming_a_file_is_oneerror_line(tmp_path, capsys, argv):
    target = tmp_path / "a-file"
    target.write_text("keep me")
    assert main([*argv, "--out", str(target)]) == 2
    line = error_line(capsys)
    assert str(target) in line and ("not a folder" in line or "is a file" in line)
    assert target.read_text() == "keep me"


def test_a_read_only_out_folder_fails_before_any_computing(tmp_path, capsys, monkeypatch):
    import lola_zoo.experiments.exact as exact_module
    import lola_zoo.io as io_module

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    def never(*args, **kwargs):
        raise AssertionError("computed before checking the output folder")

    # As root every folder is writable: simulate the refusal where the probe writes.
    monkeypatch.setattr(io_module.tempfile, "mkstemp", refuse)
    monkeypatch.setattr(exact_module, "run_exact", never)
    assert main(["exact", "--seeds", "2", "--steps", "2", "--no-progress", "--out", str(tmp_path / "ro")]) == 2
    assert "is not writable: Permission denied" in error_line(capsys)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny train run (2 updates)."""
    out = tmp_path_factory.mktemp("trained") / "run"
    assert main([*TINY_TRAIN, "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage", "directory"])
def test_a_damaged_checkpoint_on_resume_is_an_error_naming_the_file(tmp_path, capsys, trained, damage):
    out = tmp_path / "run"
    out.mkdir()
    ckpt = out / "checkpoint.pt"
    data = (trained / "checkpoint.pt").read_bytes()
    if damage == "truncated":
        ckpt.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        ckpt.write_bytes(b"")
    elif damage == "garbage":
        ckpt.write_bytes(b"not a checkpoint at all\n" * 10)
    else:
        ckpt.mkdir()
    assert main([*TINY_TRAIN, "--out", str(out), "--resume"]) == 2
    assert str(ckpt) in error_line(capsys)


def test_resume_without_a_checkpoint_is_an_error_not_a_fresh_start(tmp_path, capsys):
    assert main([*TINY_TRAIN, "--out", str(tmp_path / "new"), "--resume"]) == 2
    assert "no checkpoint" in error_line(capsys)
    assert not (tmp_path / "new" / "metrics.json").exists()


def test_resuming_a_finished_run_reprints_its_summary_and_rewrites_nothing(trained, capsys):
    capsys.readouterr()
    before = {p.name: p.read_bytes() for p in trained.iterdir() if p.is_file()}
    assert main([*TINY_TRAIN, "--out", str(trained), "--resume"]) == 0
    out = capsys.readouterr().out
    assert "nothing was trained" in out and "reward/step" in out and "P(action 0" in out
    assert "wrote" not in out  # it did not
    assert {p.name: p.read_bytes() for p in trained.iterdir() if p.is_file()} == before


def test_resume_with_fewer_updates_than_the_checkpoint_is_an_error_naming_both(trained, capsys):
    capsys.readouterr()
    before = (trained / "metrics.json").read_bytes()
    argv = [a if a != "2" or i != 2 else "1" for i, a in enumerate(TINY_TRAIN)]  # --updates 1
    assert argv[1:3] == ["--updates", "1"]
    assert main([*argv, "--out", str(trained), "--resume"]) == 2
    line = error_line(capsys)
    assert "--updates 1" in line and "2 updates" in line
    assert (trained / "metrics.json").read_bytes() == before


def test_resume_in_the_final_window_gives_the_uninterrupted_summary(tmp_path, capsys):
    import json

    from lola_zoo.commands.train import add_arguments, config_from_args
    from lola_zoo.experiments.engine import Trainer

    argv = ["--updates", "6", "--runs", "2", "--episodes-per-batch", "4", "--episode-length", "5", "--window", "5",
            "--no-progress", "--device", "cpu"]
    assert main(["train", *argv, "--out", str(tmp_path / "straight")]) == 0
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    config = config_from_args(parser.parse_args(argv))
    Trainer(config, tmp_path / "resumed").run(stop_after=4)  # stopped with 2 of the 5 window updates to go
    assert main(["train", *argv, "--out", str(tmp_path / "resumed"), "--resume"]) == 0
    capsys.readouterr()
    a, b = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("straight", "resumed"))
    assert b["history"] == a["history"] and b["summary"] == a["summary"]


@pytest.mark.parametrize("argv, message", [
    (["tournament", "--entrants", ","], "--entrants ',' names no entrant"),
    (["tournament", "--entrants", ""], "names no entrant"),
    (["reproduce", "--only", ",", "--no-progress"], "--only ',' names no section"),
    (["train", "--init-std", "-1"], "argument --init-std: must be a finite number >= 0"),
    (["exact", "--init-std", "-1"], "argument --init-std: must be a finite number >= 0"),
    (["train", "--lr", "nan"], "argument --lr: must be a finite number"),
    (["exact", "--lr", "inf"], "argument --lr: must be a finite number"),
    (["tournament", "--eta", "inf"], "argument --eta: must be a finite number >= 0"),
    (["tournament", "--lr", "-1"], "argument --lr: must be a finite number >= 0"),
    (["demo", "--seed", "-1"], "argument --seed: must be an integer >= 0"),
    (["exact", "--seed", "-1"], "argument --seed: must be an integer >= 0"),
    (["train", "--seed", "-1"], "argument --seed: must be an integer >= 0"),
    (["tournament", "--seed", "-1"], "argument --seed: must be an integer >= 0"),
    (["sweep", "--kind", "exact-value", "--seeds", "0"], "seeds: a count must be positive"),
    (["reproduce", "--seeds", "0"], "--seeds must be a positive integer"),
    (["train", "--agents", "ppo", "tft", "--preset", "paper"], "--preset paper sizes batched runs"),
], ids=lambda v: v if isinstance(v, str) else " ".join(v))
def test_silently_accepted_input_is_now_refused(tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    argv = [*argv, "--out", str(out)] if argv[0] != "demo" else argv
    with pytest.raises(SystemExit) as exit_info:  # argparse exits; main() returns for the others
        raise SystemExit(main(argv))
    assert exit_info.value.code == 2
    line = error_line(capsys)
    assert message in line
    assert not (out / "results.jsonl").exists()  # refused up front, nothing half-written


def test_sb3_seat_honours_runs_and_updates():
    import argparse

    from lola_zoo.commands.train import add_arguments, config_from_args

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    config = config_from_args(parser.parse_args(["--agents", "ppo", "tft", "--runs", "3", "--updates", "7"]))
    assert (config.runs, config.updates) == (3, 7)


def test_report_on_a_corrupt_results_file_names_the_bad_line(tmp_path, capsys):
    from lola_zoo.experiments import sweep as sw

    spec = sw.spec_from_dict({"kind": "exact-value", "params": {"n_pairs": 2}, "seeds": 2})
    sw.run_sweep(spec, tmp_path, workers=0, progress=False)
    results = tmp_path / sw.RESULTS_JSONL
    lines = results.read_text().splitlines(keepends=True)
    results.write_text(lines[0] + "garbage, not JSON\n" + lines[1])
    assert main(["report", str(tmp_path)]) == 2
    line = error_line(capsys)
    assert "line 2" in line and "results.jsonl" in line
