"""Advantage Alignment from samples: its weights, its beta = 0 limit, its outcome in the IPD."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lola_zoo.agents.advantage_alignment import AdvantageAlignment, aligned_advantages, monte_carlo_advantages
from lola_zoo.agents.naive import PolicyGradient
from lola_zoo.envs.batched import rollout_tabular
from lola_zoo.experiments.engine import TrainConfig, Trainer, train


def test_aligned_advantages_by_hand() -> None:
    own = torch.tensor([[1.0, -2.0, 0.5]])
    opp = torch.tensor([[3.0, 1.0, -1.0]])
    gamma, beta = 0.5, 2.0
    # t=0: no past; t=1: past = g*A1_0 = 0.5; t=2: past = g*(0.5 + A1_1) = g^2 A1_0 + g A1_1 = -0.75
    expected = torch.tensor([[1.0, -2.0 + beta * 0.5 * 1.0, 0.5 + beta * (-0.75) * (-1.0)]])
    assert torch.allclose(aligned_advantages(own, opp, gamma, beta), expected)
    assert torch.equal(aligned_advantages(own, opp, gamma, 0.0), own)


def test_monte_carlo_advantages_are_centred_per_step_over_episodes() -> None:
    rewards = torch.randn(2, 6, 4, generator=torch.Generator().manual_seed(0))
    adv = monte_carlo_advantages(rewards, 0.9)
    # leave-one-out centring: the batch mean of the advantages is zero at every step
    assert torch.allclose(adv.mean(-2), torch.zeros(2, 4), atol=1e-6)


def test_without_alignment_it_is_the_naive_policy_gradient() -> None:
    backend = Trainer(TrainConfig(game="ipd", agents=("aa", "nl"), runs=3, updates=1, episodes_per_batch=16,
                                  learner_kwargs={"aa_beta": 0.0})).backend
    with torch.no_grad():
        tables = [p.probs() for p in backend.policies]
    episodes = rollout_tabular(backend.env, tables, torch.Generator().manual_seed(0))
    aa = backend.learners[0].gradient(episodes, 0)
    naive = PolicyGradient(backend.policies[0], 1.0, backend.learners[0].base.gamma).gradient(episodes, 0)
    for k in aa:
        assert torch.allclose(aa[k], naive[k], rtol=1e-5, atol=1e-5)


def test_bad_beta_is_refused() -> None:
    backend = Trainer(TrainConfig(game="ipd", agents=("nl", "nl"), runs=1, updates=1, episodes_per_batch=2)).backend
    with pytest.raises(ValueError, match="beta"):
        AdvantageAlignment(backend.learners[0], beta=float("nan"))
    with pytest.raises(ValueError, match="aa_beta|unknown learner option"):
        Trainer(TrainConfig(game="ipd", agents=("aa", "aa"), runs=1, learner_kwargs={"aa_bta": 1.0}))


@pytest.mark.slow
def test_aligned_agents_reciprocate_where_naive_ones_defect() -> None:
    # Measured (32 runs, 75 updates x 64 episodes): beta 0 -> -2.00 each; beta 1 -> -1.39 / -1.27.
    def run(beta: float) -> tuple[float, float]:
        cfg = TrainConfig(game="ipd", agents=("aa", "aa"), runs=32, updates=75, episodes_per_batch=64,
                          learner_kwargs={"aa_beta": beta})
        e = train(cfg, progress=False).summary["exact_value_per_step"]
        return e["player_0"]["mean"], e["player_1"]["mean"]

    naive, aligned = run(0.0), run(1.0)
    assert max(naive) < -1.9
    assert min(aligned) > -1.7 and sum(aligned) / 2 < -1.0


def test_cli_sets_beta_and_refuses_it_without_an_aa_seat(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from lola_zoo.cli import main

    assert main(["train", "--game", "ipd", "--agents", "aa", "nl", "--aa-beta", "2", "--runs", "2", "--updates", "2",
                 "--episodes-per-batch", "4", "--out", str(tmp_path / "a"), "--no-progress"]) == 0
    import json

    config = json.loads((tmp_path / "a" / "metrics.json").read_text())["config"]
    assert config["learner_kwargs"] == {"aa_beta": 2.0}
    assert main(["train", "--game", "ipd", "--agents", "nl", "nl", "--aa-beta", "2", "--out", str(tmp_path / "b")]) == 2
    assert "--aa-beta applies to aa seats; neither seat is one" in capsys.readouterr().err


def test_aa_is_a_tournament_entrant() -> None:
    from lola_zoo.experiments.tournament import TournamentConfig, play_match

    r = play_match(TournamentConfig(runs=4, rounds=5, pg_episodes=8), "AA-PG", "AllD")
    assert -3.0 <= r["row_mean"] <= 0.0 and r["row"] == "AA-PG"
