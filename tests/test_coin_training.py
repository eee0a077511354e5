"""Coin Game training pieces: seeds batched as a leading dimension (StackedPolicy), per-run coin metrics."""

from __future__ import annotations

import math

import pytest
import torch

from lola_zoo.agents.coin_policies import CoinConvPolicy, CoinRecurrentPolicy
from lola_zoo.agents.lola import LOLA
from lola_zoo.agents.naive import PolicyGradient
from lola_zoo.agents.stacked import StackedPolicy
from lola_zoo.envs.batched import rollout
from lola_zoo.envs.batched_coin import BatchedCoinGame, RecordingCoinView, coin_game_metrics, per_run_coin_metrics


@pytest.mark.parametrize("member", [CoinConvPolicy, CoinRecurrentPolicy])
def test_stacked_policy_acts_and_scores_like_each_separate_member(member) -> None:
    runs, episodes, steps = 3, 2, 5
    stacked = StackedPolicy(lambda s: member(channels=4, features=8, seed=s), runs, seed=10)
    g = torch.Generator().manual_seed(0)
    obs = (torch.rand(runs, episodes, steps, 4, 3, 3, generator=g) < 0.2).float()
    actions = torch.randint(4, (runs, episodes, steps), generator=g)
    together = stacked(obs, actions)
    hidden = stacked.initial_state((runs, episodes))
    first_step, _ = stacked.step(obs[:, :, 0], hidden)
    for k in range(runs):
        alone = member(channels=4, features=8, seed=10 + k)  # the member StackedPolicy built for run k
        torch.testing.assert_close(together[k], alone(obs[k], actions[k]))
        torch.testing.assert_close(first_step[k], alone.step(obs[k, :, 0], alone.initial_state(episodes))[0])
        torch.testing.assert_close(stacked.member(k)(obs[k], actions[k]), together[k])


@pytest.mark.parametrize("kind", ["nl", "lola"])
def test_each_seed_of_a_stacked_run_gets_exactly_its_own_gradient(kind: str) -> None:
    # Batching seeds must not mix them: the gradient of run k inside the stack equals the gradient of
    # the same two networks trained alone on the same episodes (LOLA's second-order term included).
    runs = 3
    make = lambda s: CoinConvPolicy(channels=4, features=8, seed=s)  # noqa: E731
    seats = [StackedPolicy(make, runs, seed=0), StackedPolicy(make, runs, seed=100)]
    env = RecordingCoinView(BatchedCoinGame((runs, 6), max_steps=8))
    episodes = rollout(env, seats, torch.Generator().manual_seed(1), seed=2)

    def learner(own, other):
        base = PolicyGradient(own, lr=0.01, gamma=0.96, optimizer="adam")
        return base if kind == "nl" else LOLA(base, other, "white-box", eta=1.0)

    together = learner(seats[0], seats[1]).gradient(episodes, 0)
    k = 1
    singles = [StackedPolicy(make, 1, seed=0 + k), StackedPolicy(make, 1, seed=100 + k)]
    sliced = type(episodes)([o[k : k + 1] for o in episodes.observations], episodes.actions[k : k + 1],
                            episodes.rewards[k : k + 1])
    alone = learner(singles[0], singles[1]).gradient(sliced, 0)
    for name, g in together.items():
        assert g[k].abs().sum() > 0
        torch.testing.assert_close(g[k : k + 1], alone[name], rtol=1e-4, atol=1e-6)


def test_metrics_count_own_and_other_coins_on_a_hand_built_episode() -> None:
    # Two games, 3x3 grid. Game 0: red (seat 0) steps right onto a red coin (own pickup); game 1: red
    # steps right onto a blue coin (a pickup of the other's coin: +1 red, -2 blue).
    game = BatchedCoinGame((1, 2), max_steps=1)
    env = RecordingCoinView(game)
    env.reset(seed=0)
    game.set_state(
        positions=torch.tensor([[[[0, 0], [2, 2]], [[0, 0], [2, 2]]]]),
        coin_position=torch.tensor([[[0, 1], [0, 1]]]),
        coin_owner=torch.tensor([[0, 1]]),
    )
    _, rewards, _ = env.step(torch.tensor([[[0, 3], [0, 3]]]))  # red: right; blue: up (onto an empty cell)
    picked_own, picked_other = env.pickups()
    rewards = rewards.unsqueeze(2)  # (runs, episodes, T, N)
    assert picked_own.shape == (1, 2, 1, 2)
    m = per_run_coin_metrics(rewards, picked_own, picked_other)
    assert m["own_coin_share"].tolist() == [0.5]  # one own pickup, one of the other's
    assert m["points_per_episode"].tolist() == [[1.0, -1.0]]  # red (1 + 1) / 2, blue (0 - 2) / 2
    assert m["coins_per_episode"].tolist() == [1.0]
    reference = coin_game_metrics(rewards, picked_own, picked_other, time_dim=-2)
    assert reference["own_coin_share"] == pytest.approx(float(m["own_coin_share"][0]))
    torch.testing.assert_close(reference["points_per_episode"], m["points_per_episode"][0])


def test_metrics_are_per_run_and_nan_when_a_run_picked_nothing() -> None:
    own = torch.zeros(2, 3, 4, 2, dtype=torch.bool)
    other = torch.zeros_like(own)
    own[0, 0, 0, 0] = own[0, 1, 2, 1] = own[0, 2, 3, 0] = True
    other[0, 2, 1, 1] = True
    m = per_run_coin_metrics(torch.zeros(2, 3, 4, 2), own, other)
    assert m["own_coin_share"][0] == pytest.approx(0.75)
    assert math.isnan(float(m["own_coin_share"][1]))
    assert m["coins_per_episode"].tolist() == pytest.approx([4 / 3, 0.0])
    with pytest.raises(ValueError, match="runs, episodes, T, N"):
        per_run_coin_metrics(torch.zeros(3, 4, 2), own[0], other[0])
