"""The closed-form value V = p0^T (I - gamma P)^-1 r against Monte-Carlo play, finite differences and known cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lola_zoo
from lola_zoo.agents.strategies import Memory1Strategy
from lola_zoo.envs.exact import exact_value, exact_value_per_step, joint_chain, policy_probs


@pytest.fixture(autouse=True)
def float64_default():
    """Exact-value checks in double precision; restored afterwards so other modules keep float32."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


def monte_carlo_values(env_id: str, probs: list[np.ndarray], gamma: float, episodes: int, steps: int, seed: int):
    """Discounted returns of every player from stepping the PettingZoo env; returns (mean, standard error)."""
    agents = {f"player_{i}": Memory1Strategy(p) for i, p in enumerate(probs)}
    for i, agent in enumerate(agents.values()):
        agent.seed(seed + i)
    env = lola_zoo.make(env_id, max_steps=steps)
    returns = np.zeros((episodes, len(agents)))
    discounts = gamma ** np.arange(steps)
    for e in range(episodes):
        obs, _ = env.reset(seed=seed + e)
        rewards = np.zeros((steps, len(agents)))
        t = 0
        while env.agents:
            obs, r, *_ = env.step({a: agents[a].act(obs[a]) for a in env.agents})
            rewards[t] = list(r.values())
            t += 1
        returns[e] = discounts @ rewards
    return returns.mean(0), returns.std(0, ddof=1) / np.sqrt(episodes)


@pytest.mark.parametrize("env_id, gamma", [("ipd", 0.8), ("rps", 0.75)])
def test_exact_value_matches_monte_carlo_play_in_the_pettingzoo_env(env_id: str, gamma: float) -> None:
    game = lola_zoo.game(env_id)
    gen = torch.Generator().manual_seed(7)
    logits = [torch.randn(game.n_states, n, generator=gen) for n in game.n_actions]
    probs = [torch.softmax(logit, -1).numpy() for logit in logits]
    exact = exact_value(game, logits, gamma)[0].numpy()
    # 100 steps: gamma^100 < 3e-10, so truncation bias is far below the sampling error.
    mean, sem = monte_carlo_values(env_id, probs, gamma, episodes=1500, steps=100, seed=11)
    # Tolerance: 4 standard errors of the Monte-Carlo mean (a false alarm about 1 run in 15 000).
    assert np.all(np.abs(mean - exact) < 4 * sem), (mean, exact, sem)
    assert np.all(sem < 0.15)  # the test has power: errors are small against |V| of a few units


def test_binary_form_equals_full_softmax_form() -> None:
    game = lola_zoo.game("ipd")
    theta = torch.randn(4, 2, 5)
    binary = exact_value(game, [theta[:, 0], theta[:, 1]], 0.96)
    # sigmoid(x) = softmax([x, 0])[0]
    full = [torch.stack([t, torch.zeros_like(t)], -1) for t in (theta[:, 0], theta[:, 1])]
    assert torch.allclose(binary, exact_value(game, full, 0.96))
    probs = [torch.sigmoid(theta[:, 0]), torch.sigmoid(theta[:, 1])]
    assert torch.allclose(binary, exact_value(game, probs, 0.96, kind="probs"))


@pytest.mark.parametrize(
    "p0, p1, expected_per_step",
    [
        ([1, 1, 1, 1, 1], [1, 1, 1, 1, 1], (-1.0, -1.0)),  # AllC vs AllC
        ([0, 0, 0, 0, 0], [0, 0, 0, 0, 0], (-2.0, -2.0)),  # AllD vs AllD
        ([1, 1, 0, 1, 0], [1, 1, 0, 1, 0], (-1.0, -1.0)),  # TFT vs TFT
        ([1, 1, 1, 1, 1], [0, 0, 0, 0, 0], (-3.0, 0.0)),  # AllC exploited by AllD
    ],
)
def test_known_ipd_strategy_pairs(p0: list, p1: list, expected_per_step: tuple) -> None:
    game = lola_zoo.game("ipd")
    v = exact_value_per_step(game, [torch.tensor(p0, dtype=torch.float64), torch.tensor(p1, dtype=torch.float64)], 0.96, kind="probs")
    assert torch.allclose(v[0], torch.tensor(expected_per_step))


def test_tft_against_alld_pays_the_sucker_once() -> None:
    game = lola_zoo.game("ipd")
    tft, alld = torch.tensor([1.0, 1, 0, 1, 0]), torch.zeros(5)
    v = exact_value(game, [tft, alld], 0.9, kind="probs")[0]
    assert torch.allclose(v, torch.tensor([-3 - 0.9 * 2 / 0.1, 0 - 0.9 * 2 / 0.1]))


def test_batch_entries_are_independent() -> None:
    game = lola_zoo.game("imp")
    theta = torch.randn(6, 2, 5)
    batched = exact_value(game, [theta[:, 0], theta[:, 1]], 0.9)
    single = torch.cat([exact_value(game, [theta[b, 0], theta[b, 1]], 0.9) for b in range(6)])
    assert torch.allclose(batched, single)


def test_transition_rows_are_distributions() -> None:
    game = lola_zoo.game("rps")
    p0, P = joint_chain(game, [torch.randn(3, 10, 3), torch.randn(3, 10, 3)])
    assert torch.allclose(p0.sum(-1), torch.ones(3)) and torch.allclose(P.sum(-1), torch.ones(3, 9))


def test_gradient_matches_central_finite_differences() -> None:
    game = lola_zoo.game("ipd")
    theta = torch.randn(2, 5, generator=torch.Generator().manual_seed(3))
    eps = 1e-6
    for player in range(2):
        t = theta.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(exact_value(game, [t[0], t[1]], 0.96)[0, player], t)
        fd = torch.zeros_like(theta)
        for idx in np.ndindex(*theta.shape):
            up, down = theta.clone(), theta.clone()
            up[idx] += eps
            down[idx] -= eps
            fd[idx] = (
                exact_value(game, [up[0], up[1]], 0.96)[0, player] - exact_value(game, [down[0], down[1]], 0.96)[0, player]
            ) / (2 * eps)
        assert torch.allclose(grad, fd, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("env_id", ["ipd", "rps", "battle-of-the-sexes"])
def test_value_is_twice_differentiable(env_id: str) -> None:
    game = lola_zoo.game(env_id)
    shapes = [(2, game.n_states, n) for n in game.n_actions]
    params = tuple(torch.randn(*s, requires_grad=True) for s in shapes)
    fn = lambda *ps: exact_value(game, list(ps), 0.9)  # noqa: E731
    assert torch.autograd.gradcheck(fn, params)
    assert torch.autograd.gradgradcheck(fn, params)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_logits_are_refused(bad: float) -> None:
    game = lola_zoo.game("ipd")
    theta = torch.zeros(3, 5)
    theta[1, 2] = bad
    with pytest.raises(ValueError, match=r"policy of player_1 must be finite.*index \(1, 2\)"):
        exact_value(game, [torch.zeros(3, 5), theta], 0.96)


@pytest.mark.parametrize("gamma", [0.0, 1.0, -0.5, 1.5])
def test_gamma_outside_the_open_unit_interval_is_refused(gamma: float) -> None:
    with pytest.raises(ValueError, match="gamma must lie in"):
        exact_value(lola_zoo.game("ipd"), [torch.zeros(5), torch.zeros(5)], gamma)


def test_wrong_policy_shape_and_count_are_named() -> None:
    game = lola_zoo.game("rps")
    with pytest.raises(ValueError, match=r"shape \(10, 2\); expected \(B, 10, 3\)"):
        exact_value(game, [torch.zeros(10, 2), torch.zeros(10, 3)], 0.9)
    with pytest.raises(ValueError, match="expected 2 policies, got 1"):
        exact_value(game, [torch.zeros(10, 3)], 0.9)


def test_probabilities_must_be_distributions() -> None:
    with pytest.raises(ValueError, match="must lie in"):
        policy_probs(torch.full((5,), 1.5), 2, 5, kind="probs")
    with pytest.raises(ValueError, match="sum to 1"):
        policy_probs(torch.full((5, 2), 0.3), 2, 5, kind="probs")
