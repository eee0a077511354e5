"""lola-zoo envs in other MARL loops: TorchRL's PettingZooWrapper and RLlib's ParallelPettingZooEnv."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent




@pytest.mark.filterwarnings("ignore:PettingZoo in TorchRL is tested:UserWarning")
def test_torchrl_page_rollouts_follow_the_payoff_table(run_doc_page, tmp_path, monkeypatch):
    pytest.importorskip("torchrl", reason="TorchRL is the optional extra lola-zoo[torchrl]")
    ns = run_doc_page("integrations/torchrl.md")
    rewards = ns["rollout"]["next", "player_0", "reward"].reshape(-1).tolist()
    # Tit-for-tat against always-defect: exploited once (CD = -3), then mutual defection (DD = -2).
    assert rewards == [-3.0] + [-2.0] * 9
    assert ns["rollout"]["player_1", "action"].reshape(-1).tolist() == [1] * 10


@pytest.mark.filterwarnings("ignore:PettingZoo in TorchRL is tested:UserWarning")
def test_torchrl_example_runs_matrix_game_and_coin_game(monkeypatch):
    pytest.importorskip("torchrl", reason="TorchRL is the optional extra lola-zoo[torchrl]")
    import lola_zoo

    if "coin-game" not in lola_zoo.registered():
        pytest.skip("lola_zoo.envs.coin_game is not registered yet")
    monkeypatch.setattr(sys, "argv", ["torchrl_example.py"])
    example = runpy.run_path(str(ROOT / "examples" / "torchrl_example.py"))
    out = example["main"]()
    assert out["tft"]["next", "player_0", "reward"].reshape(-1).tolist() == [-1.0] * 10  # TFT vs TFT
    assert tuple(out["coin"]["player_0", "observation"].shape) == (20, 1, 4, 3, 3)


@pytest.mark.slow
def test_rllib_page_trains_one_ppo_policy_per_seat(run_doc_page, tmp_path, monkeypatch):
    pytest.importorskip("ray.rllib", reason="RLlib (ray[rllib], the extra lola-zoo[rllib]) is not installed")
    ns = run_doc_page("integrations/rllib.md")
    assert ns["result"]["env_runners"]["num_episodes"] >= 1


@pytest.mark.slow
def test_rllib_example_runs(monkeypatch):
    pytest.importorskip("ray.rllib", reason="RLlib (ray[rllib], the extra lola-zoo[rllib]) is not installed")
    example = runpy.run_path(str(ROOT / "examples" / "rllib_example.py"))
    results = example["main"](["--iterations", "1", "--max-steps", "20"])
    assert len(results) == 1
