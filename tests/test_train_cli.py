"""`lola-zoo train` and run_pg_experiment: outputs, interrupt + resume == straight run, clear errors."""

from __future__ import annotations

import json

import pytest
import torch

from lola_zoo.cli import main
from lola_zoo.experiments.pg import PGConfig, quick_pg_config, run_pg_experiment


def _small(agents=("lola-om", "lola"), **kw) -> PGConfig:
    base = dict(updates=6, episodes_per_batch=8, episode_length=10, runs=3, checkpoint_every=2, seed=4)
    base.update(kw)
    return quick_pg_config("ipd", agents, **base)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_interrupted_and_resumed_run_equals_a_straight_run(tmp_path, optimizer: str) -> None:
    config = _small(optimizer=optimizer, lr=0.1 if optimizer == "adam" else 1.0)
    straight = run_pg_experiment(config, out_dir=tmp_path / "straight")

    def interrupt(row):
        if row["update"] == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_pg_experiment(config, out_dir=tmp_path / "resumed", on_update=interrupt)
    saved = json.loads((tmp_path / "resumed" / "metrics.json").read_text())
    assert [r["update"] for r in saved["history"]] == [1, 2, 3]  # nothing already logged is lost
    resumed = run_pg_experiment(config, out_dir=tmp_path / "resumed", resume=True)
    assert resumed.history == straight.history
    for a, b in zip(resumed.final_probs, straight.final_probs):
        assert torch.equal(a, b)


def test_resume_can_extend_a_finished_run_and_rejects_changed_settings(tmp_path) -> None:
    run_pg_experiment(_small(updates=3), out_dir=tmp_path)
    longer = run_pg_experiment(_small(updates=5), out_dir=tmp_path, resume=True)
    assert [r["update"] for r in longer.history] == [1, 2, 3, 4, 5]
    assert longer.history == run_pg_experiment(_small(updates=5)).history
    with pytest.raises(ValueError, match="different settings"):
        run_pg_experiment(_small(updates=5, lr=0.5), out_dir=tmp_path, resume=True)


def test_train_command_writes_metrics_curves_and_checkpoint(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    code = main(["train", "--game", "imp", "--agents", "nl", "tft", "--updates", "3", "--episodes-per-batch", "4",
                 "--episode-length", "5", "--runs", "2", "--out", str(out), "--no-progress"])
    assert code == 0
    text = capsys.readouterr().out
    assert "player_0" in text and "P(action 0" in text
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["agents"] == ["nl", "tft"] and len(metrics["history"]) == 3
    assert metrics["summary"]["p_action0"][1] == pytest.approx([1.0, 1.0, 0.0, 1.0, 0.0], abs=1e-6)  # TFT is fixed
    assert (out / "metrics.csv").read_text().startswith("update,")
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert torch.load(out / "checkpoint.pt", weights_only=False)["update"] == 3


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--agents", "lola", "sb3"], "unknown agent kind 'sb3'"),
        (["--game", "ipdd"], "unknown dilemma id 'ipdd'"),
        (["--game", "rps"], "2x2"),
        (["--updates", "0"], "updates must be a positive integer"),
    ],
)
def test_train_command_rejects_bad_input_with_one_error_line(tmp_path, capsys, argv, message) -> None:
    code = main(["train", "--out", str(tmp_path), "--no-progress", *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
