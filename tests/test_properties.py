"""Property-based tests (hypothesis): observations stay in their spaces, exact values match Monte Carlo."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lola_zoo
from lola_zoo.envs.games import MatrixGame
from lola_zoo.envs.iterated import perspective_tables

MATRIX_IDS = [i for i in sorted(lola_zoo.registered()) if lola_zoo.spec(i).game is not None]
# derandomize: the same examples on every run, so CI cannot turn red by luck; the Monte-Carlo test's
# tolerance of 4 standard errors would otherwise fail about once in 10^4 examples.
FAST = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _assert_step_in_spaces(env, observations, rewards) -> None:
    for agent, obs in observations.items():
        assert env.observation_space(agent).contains(obs), (agent, obs)
    for agent, reward in rewards.items():
        assert isinstance(reward, float) and math.isfinite(reward), (agent, reward)


@FAST
@given(env_id=st.sampled_from(MATRIX_IDS), observation_type=st.sampled_from(["discrete", "onehot"]),
       max_steps=st.integers(1, 12), seed=st.integers(0, 2**31 - 1), data=st.data())
def test_any_valid_action_sequence_keeps_matrix_game_observations_in_their_spaces(
        env_id, observation_type, max_steps, seed, data):
    env = lola_zoo.make(env_id, max_steps=max_steps, observation_type=observation_type)
    observations, _ = env.reset(seed=seed)
    _assert_step_in_spaces(env, observations, {})
    for t in range(1, max_steps + 1):
        actions = {a: data.draw(st.integers(0, int(env.action_space(a).n) - 1), label=f"{a}@{t}") for a in env.agents}
        observations, rewards, terminations, truncations, infos = env.step(actions)
        _assert_step_in_spaces(env, observations, rewards)
        assert infos["player_0"]["round"] == t and all(truncations.values()) == (t == max_steps)
        assert not any(terminations.values())
    assert env.agents == []


@FAST
@given(env_id=st.sampled_from(MATRIX_IDS), max_steps=st.integers(1, 6), data=st.data())
def test_any_valid_action_sequence_keeps_aec_observations_in_their_spaces(env_id, max_steps, data):
    env = lola_zoo.make(env_id, api="aec", max_steps=max_steps)
    env.reset(seed=0)
    for agent in env.agent_iter():
        observation, reward, terminated, truncated, _ = env.last()
        assert isinstance(observation, np.ndarray) and env.observation_space(agent).contains(observation)
        assert math.isfinite(reward)
        if terminated or truncated:
            env.step(None)
        else:
            env.step(data.draw(st.integers(0, int(env.action_space(agent).n) - 1)))


@FAST
@given(grid_size=st.integers(2, 5), n_players=st.integers(2, 3), max_steps=st.integers(1, 25),
       coin_respawn=st.sampled_from(["random", "alternate"]), tie_rule=st.sampled_from(["all", "first"]),
       seed=st.integers(0, 2**31 - 1), data=st.data())
def test_any_valid_action_sequence_keeps_coin_game_observations_in_their_spaces(
        grid_size, n_players, max_steps, coin_respawn, tie_rule, seed, data):
    if n_players + 1 > grid_size * grid_size:
        n_players = grid_size * grid_size - 1  # a 2x2 grid holds at most 3 players and the coin
    env = lola_zoo.make("coin-game", grid_size=grid_size, n_players=n_players, max_steps=max_steps,
                        coin_respawn=coin_respawn, tie_rule=tie_rule)
    observations, _ = env.reset(seed=seed)
    _assert_step_in_spaces(env, observations, {})
    for _ in range(max_steps):
        actions = {a: data.draw(st.integers(0, 3)) for a in env.agents}
        observations, rewards, terminations, truncations, infos = env.step(actions)
        _assert_step_in_spaces(env, observations, rewards)
        for obs in observations.values():
            own, coins = obs[0], obs[2] + obs[3]
            assert own.sum() == 1 and coins.sum() == 1 and (own * coins).sum() == 0  # one self, one coin, apart
        assert env.state().shape == (2 * n_players, grid_size, grid_size)
    assert env.agents == []


# ---------------------------------------------------------------- exact value vs Monte Carlo
def _monte_carlo_returns(game: MatrixGame, p_first: np.ndarray, gamma: float, episodes: int, horizon: int,
                         rng: np.random.Generator) -> np.ndarray:
    """Discounted returns ``(episodes, 2)`` of two memory-1 policies, all episodes stepped at once in NumPy.

    ``p_first[i, s]`` is player i's probability of its first action in its own state s; the first
    reward is undiscounted, as in ``exact_value``.
    """
    tables = perspective_tables(game)  # [player, joint] -> own state
    payoffs = game.payoffs.reshape(game.n_players, -1)  # [player, joint]
    states = np.zeros((2, episodes), dtype=np.int64)
    returns = np.zeros((episodes, 2))
    discount = 1.0
    for _ in range(horizon):
        second = rng.random((2, episodes)) >= p_first[np.arange(2)[:, None], states]  # action 1 when True
        joint = 2 * second[0] + second[1]
        returns += discount * payoffs[:, joint].T
        states = tables[:, joint]
        discount *= gamma
    return returns


@settings(max_examples=12, deadline=None, derandomize=True)
@given(
    payoffs=st.lists(st.floats(-10, 10, allow_nan=False), min_size=8, max_size=8),
    probs=st.lists(st.floats(0, 1), min_size=10, max_size=10),
    gamma=st.floats(0.5, 0.95),
    seed=st.integers(0, 2**31 - 1),
)
def test_exact_value_equals_the_monte_carlo_mean_of_discounted_returns(payoffs, probs, gamma, seed):
    torch = pytest.importorskip("torch")
    from lola_zoo.envs.exact import exact_value  # read, not changed, by these tests

    game = MatrixGame("random 2x2", np.array(payoffs).reshape(2, 2, 2))
    p_first = np.array(probs).reshape(2, 5)
    exact = exact_value(game, [torch.tensor(p_first[i], dtype=torch.float64) for i in range(2)], gamma,
                        kind="probs")[0].numpy()
    horizon = math.ceil(math.log(1e-8) / math.log(gamma))  # what is left after it: under 1e-8 of the value
    returns = _monte_carlo_returns(game, p_first, gamma, 4000, horizon, np.random.default_rng(seed))
    mean, stderr = returns.mean(0), returns.std(0, ddof=1) / math.sqrt(len(returns))
    tail = gamma**horizon * np.abs(game.payoffs).max() / (1 - gamma)
    assert np.all(np.abs(mean - exact) <= 4 * stderr + tail + 1e-9), (mean, exact, stderr)


def test_the_monte_carlo_rollout_moves_as_the_env_does():
    """The NumPy rollout above is only a fair referee if it reads states as the env writes them."""
    game = lola_zoo.game("battle-of-the-sexes")
    tables = perspective_tables(game)
    env = lola_zoo.make("battle-of-the-sexes", max_steps=4)
    env.reset(seed=0)
    for a0, a1 in [(0, 1), (1, 0), (1, 1), (0, 0)]:
        observations, rewards, *_ = env.step({"player_0": a0, "player_1": a1})
        joint = 2 * a0 + a1
        assert [int(observations[p]) for p in ("player_0", "player_1")] == tables[:, joint].tolist()
        assert [rewards["player_0"], rewards["player_1"]] == game.payoffs.reshape(2, -1)[:, joint].tolist()
