"""LOQA from samples: its surrogate's gradient by hand, the REINFORCE opponent-Q term against exact values, limits, outcome."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lola_zoo.agents.advantage_alignment import monte_carlo_advantages
from lola_zoo.agents.loqa import LOQA, discounted_future_sum, loqa_surrogate
from lola_zoo.agents.naive import PolicyGradient, SeatBatch, params_of, trajectory_log_probs
from lola_zoo.agents.policies import Memory1Policy
from lola_zoo.envs.batched import BatchedIteratedGame, rollout, rollout_tabular
from lola_zoo.envs.exact import exact_value
from lola_zoo.envs.games import CANONICAL_GAMES
from lola_zoo.experiments.engine import TrainConfig, Trainer

F64 = torch.float64


def test_discounted_future_sum_by_hand() -> None:
    x = torch.tensor([1.0, 2.0, 4.0], dtype=F64)
    assert torch.allclose(discounted_future_sum(x, 0.5), torch.tensor([1 + 1 + 1, 2 + 2, 4], dtype=F64))


def test_surrogate_gradient_is_the_advantage_alignment_form() -> None:
    """d/d lp_j = γ^j A1_j + s A2_j Σ_{t≤j} γ^j A1_t (1 − p2_t): own advantage plus past own advantages × present opponent's."""
    gen = torch.Generator().manual_seed(0)
    shape = (3, 4, 6)
    lp = torch.randn(shape, generator=gen, dtype=F64, requires_grad=True)
    a1, a2 = torch.randn(shape, generator=gen, dtype=F64), torch.randn(shape, generator=gen, dtype=F64)
    p2 = torch.rand(shape, generator=gen, dtype=F64)
    gamma, scale = 0.8, 1.7
    (g,) = torch.autograd.grad(loqa_surrogate(lp, a1, a2, p2, gamma, scale).sum(), lp)
    expected = torch.zeros_like(g)
    for j in range(shape[-1]):
        past = sum(a1[..., t] * (1 - p2[..., t]) for t in range(j + 1))
        expected[..., j] = gamma**j * (a1[..., j] + scale * a2[..., j] * past)
    assert torch.allclose(g, expected, rtol=1e-12, atol=1e-12)


def test_opponent_q_term_averages_to_the_exact_gradient_of_the_opponents_value() -> None:
    """E over a2_0 of ∇θ1 Q2(start, a2_0) is ∇θ1 V2: the REINFORCE term at t = 0, checked against the closed form."""
    th1, th2 = torch.tensor([0.4, -0.6, 0.3, 0.8, -0.2], dtype=F64), torch.tensor([-0.5, 0.2, 0.6, -0.3, 0.4], dtype=F64)
    runs, gamma = 40, 0.5
    gen = torch.Generator().manual_seed(2)
    p1, p2 = (Memory1Policy(runs=runs, logits=t.expand(runs, 5), dtype=F64) for t in (th1, th2))
    env = BatchedIteratedGame("ipd", (runs, 800), 25, dtype=F64)
    b = SeatBatch.from_episodes(rollout(env, [p1, p2], gen), 0)
    params = params_of(p1)
    lp = trajectory_log_probs(p1, params, b.own_observations, b.own_actions)
    q2 = discounted_future_sum(lp * monte_carlo_advantages(b.opp_rewards, gamma), gamma)[..., 0]
    (estimate,) = torch.autograd.grad(q2.mean(-1).sum(), params["logits"])
    a = th1.clone().requires_grad_()
    (exact,) = torch.autograd.grad(exact_value(CANONICAL_GAMES["ipd"], [a[None], th2[None]], gamma)[0, 1], a)
    se = estimate.std(0) / runs**0.5
    assert torch.all((estimate.mean(0) - exact).abs() < 4.5 * se + 1e-4), (estimate.mean(0), exact, se)
    assert exact.abs().max() > 10 * se.max()  # not trivially zero


def test_without_shaping_it_is_the_naive_policy_gradient() -> None:
    backend = Trainer(TrainConfig(game="ipd", agents=("loqa", "nl"), runs=3, updates=1, episodes_per_batch=16,
                                  learner_kwargs={"loqa_scale": 0.0})).backend
    with torch.no_grad():
        tables = [p.probs() for p in backend.policies]
    episodes = rollout_tabular(backend.env, tables, torch.Generator().manual_seed(0))
    loqa = backend.learners[0].gradient(episodes, 0)
    naive = PolicyGradient(backend.policies[0], 1.0, backend.learners[0].base.gamma).gradient(episodes, 0)
    assert torch.allclose(loqa["logits"], naive["logits"], rtol=1e-5, atol=1e-5)
    shaped = Trainer(TrainConfig(game="ipd", agents=("loqa", "nl"), runs=3, updates=1, episodes_per_batch=16)
                     ).backend.learners[0]
    shaped.base.policy.load_state_dict(backend.policies[0].state_dict())
    assert not torch.allclose(shaped.gradient(episodes, 0)["logits"], naive["logits"], atol=1e-3)


def test_loqa_reaches_reciprocity_in_the_ipd_where_nl_defects() -> None:
    """Over 16 seeds LOQA vs LOQA ends well above mutual defection (-2), where NL-PG sits."""
    s = Trainer(TrainConfig(game="ipd", agents=("loqa", "loqa"), runs=16, updates=60, episodes_per_batch=64)).run().summary
    mean = (s["reward_per_step"]["player_0"]["mean"] + s["reward_per_step"]["player_1"]["mean"]) / 2
    assert mean > -1.6, s["reward_per_step"]


@pytest.mark.parametrize("scale", [-1.0, float("nan"), float("inf")])
def test_bad_scale_is_named(scale: float) -> None:
    with pytest.raises(ValueError, match="LOQA's scale"):
        LOQA(PolicyGradient(Memory1Policy()), Memory1Policy(), scale=scale)


def test_cli_sets_the_scale(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from lola_zoo.cli import main

    assert main(["train", "--agents", "loqa", "nl", "--loqa-scale", "2", "--runs", "2", "--updates", "2",
                 "--episodes-per-batch", "8", "--no-progress", "--out", str(tmp_path / "a")]) == 0
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert metrics["config"]["learner_kwargs"] == {"loqa_scale": 2.0} and metrics["labels"][0] == "LOQA-PG"
    assert main(["train", "--agents", "nl", "aa", "--loqa-scale", "2", "--out", str(tmp_path / "b")]) == 2
    assert "--loqa-scale applies to loqa seats" in capsys.readouterr().err
