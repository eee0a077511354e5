"""Tabular baselines of the tournament (NL-Q, JAL-Q, FP) learn the textbook responses, batched over runs."""

from __future__ import annotations

import pytest
import torch

import lola_zoo
from lola_zoo.agents.tabular import FictitiousPlay, JointActionLearner, QLearner, TabularConfig

IPD = lola_zoo.game("ipd")
TFT = torch.tensor([[1.0, 0], [1, 0], [0, 1], [1, 0], [0, 1]], dtype=torch.float64)  # (S, 2) own-perspective
ALLD = torch.tensor([[0.0, 1]] * 5, dtype=torch.float64)


def play_against_fixed(learner, opponent_probs: torch.Tensor, steps: int, seed: int) -> None:
    """Run ``steps`` rounds of the IPD between a batched learner (seat 0) and a fixed memory-1 strategy."""
    gen = torch.Generator().manual_seed(seed)
    runs = learner.runs
    own_state = torch.zeros(runs, dtype=torch.long)
    opp_state = torch.zeros(runs, dtype=torch.long)
    payoff = torch.tensor(IPD.payoffs[0], dtype=torch.float64)
    for _ in range(steps):
        a = learner.act(own_state)
        b = torch.multinomial(opponent_probs[opp_state], 1, generator=gen).squeeze(-1)
        learner.observe(own_state, a, b, payoff[a, b])
        own_state, opp_state = 1 + 2 * a + b, 1 + 2 * b + a


@pytest.mark.parametrize("cls", [QLearner, JointActionLearner, FictitiousPlay])
def test_learners_defect_against_always_defect(cls) -> None:
    config = TabularConfig(alpha=0.1, alpha_decay=0.0, epsilon=0.1)
    learner = cls(IPD, seat=0, runs=16, config=config, generator=torch.Generator().manual_seed(0))
    # gamma = 0.96 values need a few thousand steps at lr 0.1 to separate (horizon 25).
    play_against_fixed(learner, ALLD, steps=5000, seed=1)
    # Against AllD the states revisited are CD and DD (own perspective); the start is seen once.
    p_defect = learner.policy()[:, [2, 4], 1]
    assert (p_defect > 0.9).float().mean() >= 0.9, p_defect


def test_fictitious_play_best_responds_to_tit_for_tat_by_cooperating() -> None:
    # Against TFT with gamma 0.96, cooperating forever (-1 per step) beats defecting (-2 after one 0).
    learner = FictitiousPlay(IPD, seat=0, runs=16, config=TabularConfig(epsilon=0.2), generator=torch.Generator().manual_seed(2))
    play_against_fixed(learner, TFT, steps=600, seed=3)
    p_cooperate = learner.policy()[:, [1, 3], 0]  # CC, DC: states where TFT's next move is C
    assert (p_cooperate > 0.5).all(), p_cooperate


def test_fictitious_play_model_converges_to_the_opponents_frequencies() -> None:
    mixed = torch.tensor([[0.3, 0.7]] * 5, dtype=torch.float64)
    learner = FictitiousPlay(IPD, seat=0, runs=8, config=TabularConfig(epsilon=1.0), generator=torch.Generator().manual_seed(4))
    play_against_fixed(learner, mixed, steps=4000, seed=5)
    model = learner.opponent_model()[:, 1:]  # the start state is seen once per run
    assert torch.allclose(model[..., 0], torch.full_like(model[..., 0], 0.3), atol=0.07)


def test_jal_model_counts_the_opponents_actions() -> None:
    learner = JointActionLearner(IPD, seat=0, runs=4, generator=torch.Generator().manual_seed(6))
    play_against_fixed(learner, ALLD, steps=50, seed=7)
    assert learner.counts[..., 0].sum() == 0 and learner.counts[..., 1].sum() == 4 * 50


def test_q_update_matches_the_textbook_rule() -> None:
    config = TabularConfig(gamma=0.9, alpha=0.5, alpha_decay=0.0)
    q = QLearner(IPD, seat=0, runs=1, config=config, generator=torch.Generator().manual_seed(8))
    before = q.q.clone()
    s, a, b, r = torch.tensor([0]), torch.tensor([1]), torch.tensor([0]), torch.tensor([0.0], dtype=torch.float64)
    q.observe(s, a, b, r)
    target = 0.0 + 0.9 * before[0, 1 + 2 * 1 + 0].max()
    assert torch.isclose(q.q[0, 0, 1], 0.5 * before[0, 0, 1] + 0.5 * target)
    assert torch.equal(q.q[0, 0, 0], before[0, 0, 0])


def test_seat_one_sees_the_transposed_payoffs() -> None:
    chicken = lola_zoo.game("battle-of-the-sexes")
    learner = QLearner(chicken, seat=1, runs=1)
    # player_1's own payoff for (own opera, other opera) is 2, for (own football, other football) 3.
    assert learner.payoff[0, 0] == 2 and learner.payoff[1, 1] == 3


@pytest.mark.parametrize("kwargs, match", [({"gamma": 1.0}, "gamma"), ({"epsilon": 2.0}, "epsilon"), ({"alpha": 0.0}, "alpha")])
def test_bad_hyperparameters_are_refused(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        TabularConfig(**kwargs)
