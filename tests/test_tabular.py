"""Tabular baselines of the tournament (NL-Q, JAL-Q, PHC, WoLF-PHC, FP) learn the textbook responses, batched over runs."""

from __future__ import annotations

import pytest
import torch

import lola_zoo
from lola_zoo.agents.tabular import (
    FictitiousPlay,
    HillClimbingConfig,
    JointActionLearner,
    PolicyHillClimbing,
    QLearner,
    TabularConfig,
    WoLFPolicyHillClimbing,
    hill_climb_step,
    wolf_step_size,
)

IPD = lola_zoo.game("ipd")
IMP = lola_zoo.game("imp")
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


@pytest.mark.parametrize("cls", [PolicyHillClimbing, WoLFPolicyHillClimbing])
def test_hill_climbers_defect_against_always_defect(cls) -> None:
    # gamma 0.8: a shorter horizon lets the Q-values settle in fewer visits; defecting is AllD's best
    # response at every gamma.  The policy then needs about 1 / delta visits to reach the vertex.
    config = HillClimbingConfig(gamma=0.8, alpha=0.1, alpha_decay=0.0, epsilon=0.1, delta_win=0.05, delta_lose=0.1,
                                delta_decay=0.0)
    learner = cls(IPD, seat=0, runs=16, config=config, generator=torch.Generator().manual_seed(0))
    play_against_fixed(learner, ALLD, steps=1500, seed=1)
    # pi itself (without the epsilon mixing) ends on defection in the revisited states CD and DD.
    p_defect = learner.pi[:, [2, 4], 1]
    assert (p_defect > 0.9).float().mean() >= 0.9, p_defect


def test_hill_climb_step_moves_delta_toward_the_greedy_action_and_stays_a_distribution() -> None:
    pi = torch.tensor([[0.5, 0.5], [0.01, 0.99], [0.2, 0.3]], dtype=torch.float64)[:, :2]
    pi = pi / pi.sum(-1, keepdim=True)
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]], dtype=torch.float64)
    out = hill_climb_step(pi, q, torch.tensor([0.1, 0.1, 0.1], dtype=torch.float64))
    assert torch.allclose(out[0], torch.tensor([0.6, 0.4], dtype=torch.float64))
    assert torch.allclose(out[1], torch.tensor([0.0, 1.0], dtype=torch.float64))  # clipped at the simplex's edge
    assert torch.allclose(out.sum(-1), torch.ones(3, dtype=torch.float64)) and (out >= 0).all()
    three = hill_climb_step(torch.full((1, 3), 1 / 3, dtype=torch.float64), torch.tensor([[0.0, 2.0, 1.0]]).double(),
                            torch.tensor([0.2], dtype=torch.float64))
    assert torch.allclose(three, torch.tensor([[1 / 3 - 0.1, 1 / 3 + 0.2, 1 / 3 - 0.1]], dtype=torch.float64))


def test_wolf_steps_fast_when_its_policy_does_worse_than_its_average() -> None:
    q = torch.tensor([[1.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
    pi = torch.tensor([[0.8, 0.2], [0.3, 0.7]], dtype=torch.float64)
    avg = torch.full((2, 2), 0.5, dtype=torch.float64)
    # Run 0: pi leans to the better action more than its average does -> winning -> delta_win.
    assert wolf_step_size(pi, avg, q, 0.01, 0.04).tolist() == [0.01, 0.04]


def _stage_game_self_play(cls: type, steps: int, runs: int = 256) -> tuple[torch.Tensor, float]:
    """Bowling & Veloso's matching pennies: repeated IMP in one state; |pi(heads) - 1/2| over the last half, losing share."""
    config = HillClimbingConfig(gamma=0.01, alpha=0.3, alpha_decay=0.0, epsilon=0.1, delta_win=0.01, delta_lose=0.08,
                                delta_decay=0.0)
    players = [cls(IMP, seat, runs, config, torch.Generator().manual_seed(10 + seat)) for seat in (0, 1)]
    payoff = torch.tensor(IMP.payoffs, dtype=torch.float64)
    start = torch.zeros(runs, dtype=torch.long)  # one state: the stage game, as in the paper's experiment
    distance, losing = [], 0.0
    for t in range(steps):
        a0, a1 = players[0].act(start), players[1].act(start)
        players[0].observe(start, a0, a1, payoff[0, a0, a1])
        players[1].observe(start, a1, a0, payoff[1, a0, a1])
        if isinstance(players[0], WoLFPolicyHillClimbing):
            losing += float((players[0].last_step > 0.01 * 1.5).double().mean())
        if t >= steps // 2:
            distance.append((players[0].pi[:, 0, 0] - 0.5).abs().mean())
    return torch.stack(distance).mean(), losing / steps


def test_wolf_learns_fast_while_losing_and_damps_the_matching_pennies_cycle() -> None:
    # PHC cycles around the mixed equilibrium of matching pennies; WoLF-PHC's variable rate spirals in
    # (Bowling & Veloso 2002, Fig. 3).  Over 256 runs the late distance from 1/2 is far smaller.
    phc, _ = _stage_game_self_play(PolicyHillClimbing, steps=1200)
    wolf, losing_share = _stage_game_self_play(WoLFPolicyHillClimbing, steps=1200)
    assert wolf < 0.6 * phc, (float(wolf), float(phc))
    assert 0.05 < losing_share < 0.95, losing_share  # it does switch to delta_lose, and not always


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"delta_win": 0.0}, "delta_win"),
        ({"delta_lose": -0.1}, "delta_lose"),
        ({"delta_win": 2.0}, "delta_win"),
        ({"delta_decay": -1.0}, "delta_decay"),
    ],
)
def test_bad_policy_steps_are_refused(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        HillClimbingConfig(**kwargs)


def test_wolf_refuses_a_winning_step_not_below_the_losing_step() -> None:
    with pytest.raises(ValueError, match="delta_win < delta_lose"):
        WoLFPolicyHillClimbing(IMP, 0, 2, HillClimbingConfig(delta_win=0.02, delta_lose=0.02))
    with pytest.raises(TypeError, match="HillClimbingConfig"):
        PolicyHillClimbing(IMP, 0, 2, TabularConfig())


def test_hill_climbers_default_to_the_reference_rates() -> None:
    assert PolicyHillClimbing(IPD, 0, 1).config.delta_win == 5e-5
    wolf = WoLFPolicyHillClimbing(IPD, 0, 1).config
    assert (wolf.delta_win, wolf.delta_lose, wolf.delta_decay) == (1e-2, 2e-2, 5e-5)
