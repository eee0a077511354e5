"""`lola-zoo train` with SB3 agents: the mixed PettingZoo-loop path, its outputs, resume and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lola_zoo.cli import main
from lola_zoo.experiments.mixed import MixedConfig, build_agents, run_mixed_experiment

pytest.importorskip("stable_baselines3")


def test_ppo_learns_to_defect_against_always_defect(tmp_path: Path) -> None:
    # PPO updates every 2048 steps: 400 episodes of 50 steps are ~10 updates (about 15 s here).
    code = main(["train", "--agents", "ppo", "alld", "--episodes", "400", "--episode-length", "50",
                 "--out", str(tmp_path), "--no-progress"])
    assert code == 0
    summary = json.loads((tmp_path / "metrics.json").read_text())
    history = summary["history"]
    assert len(history) == 400
    early = sum(h["player_0"] for h in history[:10]) / 10
    late = summary["reward_per_step_last_10pct"]["player_0"]
    assert late > early and late > -2.3, (early, late)  # -2 is the best response's reward, -3 the sucker's
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "metrics.csv").read_text().startswith("episode,player_0,player_1")


def test_lola_facing_an_sb3_model_runs_black_box() -> None:
    _, agents = build_agents(MixedConfig(agents=("lola", "ppo")))
    assert agents["player_0"].learner.name == "LOLA-OM"
    _, agents = build_agents(MixedConfig(agents=("lola", "tft")))
    assert agents["player_0"].learner.name == "LOLA-PG"


def test_resume_continues_from_the_checkpoint(tmp_path: Path) -> None:
    short = MixedConfig(agents=("a2c", "tft"), episodes=6, episode_length=10, checkpoint_every=3)
    run_mixed_experiment(short, tmp_path, progress=False)
    first = json.loads((tmp_path / "metrics.json").read_text())["history"]
    # A resumed run with the same config has nothing left to play: the history is kept as it was.
    again = run_mixed_experiment(short, tmp_path, resume=True, progress=False)
    assert again["history"] == first
    with pytest.raises(ValueError, match="different configuration"):
        run_mixed_experiment(MixedConfig(agents=("a2c", "tft"), episodes=9, episode_length=10, checkpoint_every=3),
                             tmp_path, resume=True, progress=False)


@pytest.mark.parametrize(
    "argv, match",
    [
        (["--agents", "ppo", "foo"], "unknown agent 'foo'"),
        (["--agents", "ppo", "tft", "--episodes", "0"], "episodes must be a positive integer"),
        (["--agents", "dqn", "tft", "--gamma", "1.5"], "gamma"),
        (["--agents", "lola", "lola", "--episodes", "3"], "--episodes applies to SB3 agents only"),
        (["--agents", "lola", "lola", "--preset", "linear"], "--preset linear applies to --game coin-game only"),
    ],
)
def test_bad_arguments_give_one_error_line(argv: list[str], match: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", *argv, "--out", "/tmp/lola-zoo-never-written"]) == 2
    err = capsys.readouterr().err
    assert match in err and "Traceback" not in err
