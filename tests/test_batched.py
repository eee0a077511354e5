"""The batched torch games follow the PettingZoo env's rules: same states, rewards, and statistics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lola_zoo
from lola_zoo.agents.policies import Memory1Policy, as_memory1_probs
from lola_zoo.agents.strategies import Memory1Strategy
from lola_zoo.envs.batched import BatchedIteratedGame, rollout, sample_actions
from lola_zoo.envs.exact import exact_value
from lola_zoo.envs.games import CANONICAL_GAMES, MatrixGame
from lola_zoo.experiments.loop import play_episode


def _three_player_game() -> MatrixGame:
    rng = np.random.default_rng(3)
    return MatrixGame("three", rng.integers(-3, 4, size=(3, 2, 3, 2)).astype(float))


@pytest.mark.parametrize("game", [*CANONICAL_GAMES.values(), _three_player_game()], ids=lambda g: g.name)
def test_same_actions_give_same_states_and_rewards_as_pettingzoo_env(game: MatrixGame) -> None:
    steps, batch = 12, 7
    rng = np.random.default_rng(0)
    actions = np.stack([rng.integers(0, n, size=(batch, steps)) for n in game.n_actions], axis=-1)
    benv = BatchedIteratedGame(game, batch, max_steps=steps, dtype=torch.float64)
    assert all(int(o.max()) == 0 for o in benv.reset())
    trace = [benv.step(torch.as_tensor(actions[:, t]))[:2] for t in range(steps)]
    for b in range(batch):
        env = lola_zoo.envs.iterated.IteratedMatrixGame(game, max_steps=steps)
        env.reset(seed=b)
        for t, (b_obs, b_rew) in enumerate(trace):
            pz_obs, pz_rew, *_ = env.step({f"player_{i}": int(actions[b, t, i]) for i in range(game.n_players)})
            for i in range(game.n_players):
                assert int(b_obs[i][b]) == int(pz_obs[f"player_{i}"])
                assert float(b_rew[b, i]) == pz_rew[f"player_{i}"]


def test_rollout_discounted_return_matches_exact_value_and_pettingzoo_loop() -> None:
    game = CANONICAL_GAMES["ipd"]
    gamma, steps = 0.8, 40
    p0 = torch.tensor([0.7, 0.9, 0.2, 0.6, 0.3], dtype=torch.float64)
    p1 = torch.tensor([0.4, 0.8, 0.5, 0.1, 0.6], dtype=torch.float64)
    exact = exact_value(game, [p0, p1], gamma, kind="probs")[0]
    discount = gamma ** torch.arange(steps, dtype=torch.float64)

    env = BatchedIteratedGame("ipd", 4000, max_steps=steps, dtype=torch.float64)
    episodes = rollout(env, [as_memory1_probs(p0), as_memory1_probs(p1)], torch.Generator().manual_seed(0))
    returns = (episodes.rewards * discount[:, None]).sum(-2)  # (B, 2)
    se = returns.std(0) / len(returns) ** 0.5
    assert torch.all((returns.mean(0) - exact).abs() < 4 * se + gamma**steps * 3 / (1 - gamma))

    pz = lola_zoo.make("ipd", max_steps=steps)
    agents = {"player_0": Memory1Strategy(p0.numpy()), "player_1": Memory1Strategy(p1.numpy())}
    for i, a in enumerate(agents.values()):
        a.seed(10 + i)
    pz_returns = []
    rewards_seen: list[list[float]] = []

    class Recorder:
        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def observe(self, transition):
            rewards_seen[-1].append(transition.reward)

        def observe_parallel(self, agent_id, observations, actions, rewards, *rest):
            # the loop hands every agent the step's dicts; this recorder keeps its own reward only
            rewards_seen[-1].append(float(rewards[agent_id]))

    rec = {"player_0": Recorder(agents["player_0"]), "player_1": agents["player_1"]}
    for k in range(400):
        rewards_seen.append([])
        play_episode(pz, rec, seed=k, learn=False)
        pz_returns.append(float(np.dot(rewards_seen[-1], discount.numpy())))
    pz_mean, pz_se = np.mean(pz_returns), np.std(pz_returns) / np.sqrt(len(pz_returns))
    assert abs(pz_mean - float(returns[:, 0].mean())) < 4 * float(np.hypot(pz_se, float(se[0])))


def test_rollout_is_reproducible_from_the_generator_seed() -> None:
    env = BatchedIteratedGame("imp", (3, 50), max_steps=20)
    policies = [Memory1Policy(runs=3, generator=torch.Generator().manual_seed(s)) for s in (1, 2)]
    a = rollout(env, policies, torch.Generator().manual_seed(5))
    b = rollout(env, policies, torch.Generator().manual_seed(5))
    c = rollout(env, policies, torch.Generator().manual_seed(6))
    assert torch.equal(a.actions, b.actions) and torch.equal(a.rewards, b.rewards)
    assert not torch.equal(a.actions, c.actions)
    assert a.actions.shape == (3, 50, 20, 2) and a.observations[0].shape == (3, 50, 20)


def test_observations_in_episodes_are_the_states_before_each_action() -> None:
    env = BatchedIteratedGame("ipd", 30, max_steps=8)
    ep = rollout(env, [Memory1Policy(), Memory1Policy()], torch.Generator().manual_seed(0))
    table = env.state_table
    joint = ep.actions[..., 0] * 2 + ep.actions[..., 1]
    assert torch.all(ep.observations[0][:, 0] == 0)
    assert torch.equal(ep.observations[0][:, 1:], table[0][joint[:, :-1]])
    assert torch.equal(ep.observations[1][:, 1:], table[1][joint[:, :-1]])


def test_sample_actions_follows_the_probabilities() -> None:
    probs = torch.tensor([[0.2, 0.5, 0.3]]).expand(60000, 3)
    actions = sample_actions(probs.log(), torch.Generator().manual_seed(0))
    freq = torch.bincount(actions, minlength=3).float() / len(actions)
    assert torch.allclose(freq, probs[0], atol=0.01)


def test_bad_actions_and_stepping_after_the_end_fail_clearly() -> None:
    env = BatchedIteratedGame("ipd", 4, max_steps=1)
    env.reset()
    with pytest.raises(ValueError, match="shape"):
        env.step(torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="integers in"):
        env.step(torch.full((4, 2), 2))
    env.step(torch.zeros(4, 2, dtype=torch.long))
    with pytest.raises(RuntimeError, match="reset"):
        env.step(torch.zeros(4, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="batch_shape"):
        BatchedIteratedGame("ipd", 0)
    with pytest.raises(KeyError, match="unknown dilemma"):
        BatchedIteratedGame("ipdd")


def test_tabular_rollout_equals_the_generic_rollout_for_deterministic_tables() -> None:
    from lola_zoo.agents.policies import as_memory1_probs
    from lola_zoo.envs.batched import rollout_tabular

    tft, alld = [1.0, 1.0, 0.0, 1.0, 0.0], [0.0] * 5
    env = BatchedIteratedGame("ipd", (3, 4), max_steps=7)
    policies = [as_memory1_probs(tft, runs=3), as_memory1_probs(alld, runs=3)]
    generic = rollout(env, policies, torch.Generator().manual_seed(0))
    fast = rollout_tabular(env, [p.probs() for p in policies], torch.Generator().manual_seed(1))
    assert torch.equal(generic.actions, fast.actions) and torch.equal(generic.rewards, fast.rewards)
    for a, b in zip(generic.observations, fast.observations):
        assert torch.equal(a, b)


def test_tabular_rollout_samples_the_same_distribution_as_the_generic_rollout() -> None:
    from lola_zoo.agents.policies import Memory1Policy
    from lola_zoo.envs.batched import rollout_tabular

    gen = torch.Generator().manual_seed(5)
    policies = [Memory1Policy(runs=2, generator=gen), Memory1Policy(runs=2, generator=gen)]
    env = BatchedIteratedGame("ipd", (2, 4000), max_steps=6)
    generic = rollout(env, policies, torch.Generator().manual_seed(0))
    fast = rollout_tabular(env, [p.probs().detach() for p in policies], torch.Generator().manual_seed(1))
    # per run and step, the share of action 0 of each seat: equal within 5 standard errors
    for seat in range(2):
        a = (generic.actions[..., seat] == 0).double().mean(1)
        b = (fast.actions[..., seat] == 0).double().mean(1)
        se = torch.sqrt(a * (1 - a) / 4000 + b * (1 - b) / 4000).clamp_min(1e-3)
        assert ((a - b).abs() < 5 * se).all(), (a, b)
    assert torch.allclose(generic.rewards.mean((1, 2)), fast.rewards.mean((1, 2)), atol=0.05)


@pytest.mark.parametrize("game_id", ["ipd", "rps"])
def test_table_rollout_is_the_step_by_step_inverse_cdf_walk_bit_for_bit(game_id: str) -> None:
    # Reference: the same uniforms (drawn up front, as rollout_tabular does), one env.step per round.
    from lola_zoo.envs.batched import rollout_tabular

    game = lola_zoo.game(game_id)
    runs, rest, T, n = 5, 3, 8, game.n_actions[0]
    gen = torch.Generator().manual_seed(2)
    tables = [torch.rand(runs, game.n_states, n, generator=gen, dtype=torch.float64).softmax(-1) for _ in range(2)]
    env = BatchedIteratedGame(game, (runs, rest), max_steps=T)
    fast = rollout_tabular(env, tables, torch.Generator().manual_seed(9))
    uniforms = torch.rand((T, 2, runs, rest), generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    states = env.reset()
    obs, acts, rews = [], [], []
    for t in range(T):
        actions = []
        for i in range(2):
            cdf = tables[i].cumsum(-1)[torch.arange(runs).unsqueeze(-1), states[i]]  # (runs, rest, n)
            actions.append((cdf < uniforms[t, i].unsqueeze(-1) * cdf[..., -1:]).sum(-1).clamp_max(n - 1))
        obs.append(states)
        states, rewards, _ = env.step(torch.stack(actions, -1))
        acts.append(torch.stack(actions, -1))
        rews.append(rewards)
    assert torch.equal(fast.actions, torch.stack(acts, 2)) and torch.equal(fast.rewards, torch.stack(rews, 2))
    for i in range(2):
        assert torch.equal(fast.observations[i], torch.stack([o[i] for o in obs], -1))
