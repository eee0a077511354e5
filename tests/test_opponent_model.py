"""LOLA-OM: the opponent model recovers a fixed opponent's policy from its actions; black-box never reads it."""

from __future__ import annotations

import pytest
import torch

from lola_zoo.agents.lola import LOLA
from lola_zoo.agents.naive import PolicyGradient, SeatBatch
from lola_zoo.agents.opponent_model import OpponentModel
from lola_zoo.agents.policies import Memory1Policy, as_memory1_probs
from lola_zoo.envs.batched import BatchedIteratedGame, rollout

# A stochastic, TFT-like opponent: P(cooperate | start, CC, CD, DC, DD) from its own perspective.
TRUE_P = torch.tensor([0.9, 0.8, 0.3, 0.7, 0.15])


def _opponent_data(runs: int = 4, episodes: int = 200, steps: int = 30):
    gen = torch.Generator().manual_seed(0)
    me = Memory1Policy(runs=runs, init_std=0.0)  # uniform play visits every state often
    opponent = as_memory1_probs(TRUE_P, runs=runs)
    ep = rollout(BatchedIteratedGame("ipd", (runs, episodes), steps), [me, opponent], gen)
    return ep, SeatBatch.from_episodes(ep, 0)


@pytest.mark.parametrize("method", ["counts", "gradient"])
def test_opponent_model_recovers_a_fixed_opponents_policy_from_its_actions(method: str) -> None:
    _, batch = _opponent_data()
    model = OpponentModel(Memory1Policy(runs=4, generator=torch.Generator().manual_seed(9)), method=method,
                          lr=0.2, fit_steps=300)
    assert torch.allclose(model.probs()[..., 0], torch.full((4, 5), 0.5))  # starts knowing nothing
    model.observe(batch.opp_observations, batch.opp_actions)
    visits = torch.stack([(batch.opp_observations == s).flatten(1).sum(1) for s in range(5)], dim=1)
    tolerance = 4 * (TRUE_P * (1 - TRUE_P) / visits).sqrt() + 0.01  # 4 standard errors of an ML frequency
    assert torch.all((model.probs()[..., 0] - TRUE_P).abs() < tolerance)


def test_black_box_lola_never_reads_the_opponents_parameters() -> None:
    ep, _ = _opponent_data(runs=2, episodes=50, steps=20)
    opponent = Memory1Policy(runs=2, generator=torch.Generator().manual_seed(1))
    me = Memory1Policy(runs=2, generator=torch.Generator().manual_seed(2))
    black = LOLA(PolicyGradient(me, gamma=0.9), opponent, opponent="black-box")
    white = LOLA(PolicyGradient(me, gamma=0.9), opponent, opponent="white-box")
    g_black, g_white = black.gradient(ep, 0), white.gradient(ep, 0)
    with torch.no_grad():
        opponent.logits.mul_(-5.0).add_(3.0)  # the real opponent changes; the data do not
    assert torch.equal(black.gradient(ep, 0)["logits"], g_black["logits"])
    assert not torch.allclose(white.gradient(ep, 0)["logits"], g_white["logits"])


def test_lola_om_gradient_approaches_white_box_lola_when_the_model_fits() -> None:
    ep, _ = _opponent_data(runs=2, episodes=800, steps=30)
    opponent = as_memory1_probs(TRUE_P, runs=2)
    me = Memory1Policy(runs=2, init_std=0.0)
    naive = PolicyGradient(me, gamma=0.9).gradient(ep, 0)["logits"]
    white = LOLA(PolicyGradient(me, gamma=0.9), opponent).gradient(ep, 0)["logits"]
    black = LOLA(PolicyGradient(me, gamma=0.9), opponent, opponent="black-box").gradient(ep, 0)["logits"]
    # The shaping term is large here, and the model's estimate of it is close to the white-box one.
    assert (white - naive).norm() > 0.5 * naive.norm()
    assert (black - white).norm() < 0.2 * (white - naive).norm()


def test_counts_method_needs_a_tabular_template() -> None:
    with pytest.raises(ValueError, match="Memory1Policy"):
        OpponentModel(torch.nn.Linear(2, 2), method="counts")
    with pytest.raises(ValueError, match="method"):
        OpponentModel(Memory1Policy(), method="bayes")  # type: ignore[arg-type]
