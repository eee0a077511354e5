"""Cournot oligopoly: PettingZoo suites, closed-form profits and equilibria, bad inputs, the batched twin, learning."""

from __future__ import annotations

import numpy as np
import pettingzoo
import pettingzoo.test as pzt  # imported as a module: pytest would collect test_save_obs otherwise
import pytest
import torch
from pettingzoo.utils.conversions import parallel_to_aec

import lola_zoo
import lola_zoo.envs.cournot as cournot_module
from lola_zoo.agents.gaussian import GaussianPolicy
from lola_zoo.agents.naive import PolicyGradient
from lola_zoo.envs.cournot import CournotGame, collusive_quantity, cournot_profits, nash_quantity
from lola_zoo.experiments.continuous import BatchedCournot, rollout_continuous, train_continuous

# The start observation is all zeros (no quantities yet); PettingZoo's AEC test warns about that.
pytestmark = pytest.mark.filterwarnings("ignore:Observation numpy array is all zeros")

VARIANTS = [{}, {"n_players": 3, "a": 50.0, "b": 2.0, "c": 0.0}, {"max_steps": 1}]


# --------------------------------------------------------------- PettingZoo suites
@pytest.mark.parametrize("kwargs", VARIANTS, ids=str)
def test_passes_pettingzoo_parallel_aec_seed_and_render_tests(kwargs: dict) -> None:
    pzt.parallel_api_test(CournotGame(**kwargs), num_cycles=100)
    pzt.parallel_seed_test(lambda: CournotGame(**kwargs))
    pzt.api_test(parallel_to_aec(CournotGame(**kwargs)), num_cycles=100)
    pzt.seed_test(lambda: cournot_module.env(**kwargs))
    pzt.render_test(lambda render_mode=None: parallel_to_aec(CournotGame(render_mode=render_mode, **kwargs)))


def test_max_cycles_truncates_in_both_apis() -> None:
    pzt.max_cycles_test(cournot_module)


def test_registered_for_make_and_pettingzoo() -> None:
    env = lola_zoo.make("cournot", n_players=4, max_steps=3)
    assert isinstance(env, CournotGame) and env.n_players == 4 and env.max_steps == 3
    assert "cournot" in lola_zoo.registered()
    assert isinstance(pettingzoo.make("parallel", "lola_zoo/cournot-v0"), CournotGame)
    aec = lola_zoo.make("cournot", api="aec")
    aec.reset(seed=0)
    assert aec.observe("player_1").dtype == np.float32


def test_defaults_and_spaces() -> None:
    env = CournotGame()
    assert (env.n_players, env.a, env.b, env.c, env.max_steps) == (2, 100.0, 1.0, 10.0, 10)
    act = env.action_space("player_0")
    assert act.shape == (1,) and act.low[0] == 0.0 and act.high[0] == 100.0
    assert env.action_space("player_1") is act
    obs = env.observation_space("player_0")
    assert obs.shape == (2,) and obs.dtype == np.float32


# ------------------------------------------------------------------ closed forms
def test_profits_at_given_quantities_by_hand() -> None:
    env = CournotGame(max_steps=2)
    env.reset(seed=0)
    _, rewards, _, truncations, infos = env.step({"player_0": np.array([20.0], np.float32), "player_1": 35.0})
    # P = 100 - 55 = 45; profits 20 * 35 = 700 and 35 * 35 = 1225.
    assert rewards == {"player_0": 700.0, "player_1": 1225.0}
    assert infos["player_0"]["price"] == 45.0 and infos["player_1"]["quantities"] == (20.0, 35.0)
    assert not any(truncations.values())
    obs, rewards, _, truncations, _ = env.step({"player_0": 70.0, "player_1": 60.0})
    # Total 130 > a/b: the price is 0 and each firm loses its unit cost on every unit.
    assert rewards == {"player_0": -700.0, "player_1": -600.0}
    assert all(truncations.values()) and env.agents == []
    # Observations: previous quantities / (a/b), own first.
    np.testing.assert_allclose(obs["player_0"], [0.7, 0.6], rtol=1e-6)
    np.testing.assert_allclose(obs["player_1"], [0.6, 0.7], rtol=1e-6)
    np.testing.assert_allclose(cournot_profits([[20.0, 35.0], [70.0, 60.0]]), [[700.0, 1225.0], [-700.0, -600.0]])


@pytest.mark.parametrize("n, a, b, c", [(2, 100.0, 1.0, 10.0), (3, 50.0, 2.0, 5.0), (5, 10.0, 0.5, 0.0)])
def test_nash_quantity_is_a_best_response_and_collusion_maximises_joint_profit(n: int, a: float, b: float, c: float) -> None:
    q_star, q_coll = nash_quantity(n, a, b, c), collusive_quantity(n, a, b, c)
    assert q_star == pytest.approx((a - c) / (b * (n + 1))) and q_coll * n == pytest.approx((a - c) / (2 * b))
    grid = np.linspace(0.0, a / b, 20001)
    # Firm 0's profit against N - 1 firms at q*: maximised at q* (on a fine grid).
    joint = np.column_stack([grid] + [np.full_like(grid, q_star)] * (n - 1))
    assert grid[cournot_profits(joint, a, b, c)[:, 0].argmax()] == pytest.approx(q_star, abs=a / b / 10000)
    # Total profit of N equal firms is maximised at the collusive share, which beats Nash for every firm.
    equal = np.repeat(grid[:, None], n, axis=1)
    assert grid[cournot_profits(equal, a, b, c).sum(-1).argmax()] == pytest.approx(q_coll, abs=a / b / 10000)
    nash_profit = cournot_profits([q_star] * n, a, b, c)
    assert nash_profit[0] == pytest.approx((a - c) ** 2 / (b * (n + 1) ** 2))
    collusive_profit = cournot_profits([q_coll] * n, a, b, c)[0]
    assert collusive_profit == pytest.approx((a - c) ** 2 / (4 * b * n)) and collusive_profit > nash_profit[0]


# ------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, match", [
    ({"n_players": 1}, "n_players must be an integer >= 2, got 1"),
    ({"n_players": 2.5}, "n_players"),
    ({"a": 0}, r"a \(demand intercept\) must be a finite positive number, got 0"),
    ({"b": -1.0}, r"b \(demand slope\) must be a finite positive number, got -1.0"),
    ({"c": -2.0}, r"c \(unit cost\) must be a finite non-negative number, got -2.0"),
    ({"c": 100.0}, r"c \(unit cost\) must be below a"),
    ({"a": float("nan")}, "a"),
    ({"max_steps": 0}, "max_steps must be an integer >= 1, got 0"),
    ({"render_mode": "rgb"}, "render_mode"),
])
def test_bad_parameters_raise_one_clear_value_error(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        CournotGame(**kwargs)
    with pytest.raises(ValueError, match=match.split(",")[0]):
        lola_zoo.make("cournot", **kwargs)


@pytest.mark.parametrize("bad", [-1.0, -1e-9, 100.5, float("nan"), float("inf"), "ten", [1.0, 2.0]])
def test_bad_quantity_raises_value_error_naming_it(bad: object) -> None:
    env = CournotGame()
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"invalid quantity .* for player_1: expected one number in \[0, a/b\] = \[0, 100\]"):
        env.step({"player_0": 10.0, "player_1": bad})
    env.step({"player_0": 10.0, "player_1": 100.0})  # the bound itself is allowed; the env is still usable


def test_step_after_the_end_and_missing_agents_fail_clearly() -> None:
    env = CournotGame(max_steps=1)
    env.reset(seed=0)
    with pytest.raises(KeyError, match="no action given for player_1"):
        env.step({"player_0": 1.0})
    env.step({"player_0": 1.0, "player_1": 2.0})
    with pytest.raises(RuntimeError, match="call reset"):
        env.step({"player_0": 1.0, "player_1": 2.0})


# -------------------------------------------------------------------- rendering
def test_ansi_and_rgb_render() -> None:
    env = CournotGame(render_mode="ansi")
    env.reset(seed=0)
    assert env.render() == "cournot round 0/10: start (Nash q* = 30, collusive share = 22.5)"
    env.step({"player_0": 20.0, "player_1": 35.0})
    assert env.render() == "cournot round 1/10: quantities (20, 35) -> price 45, profits (+700, +1225)"
    rgb = CournotGame(render_mode="rgb_array")
    rgb.reset(seed=0)
    rgb.step({"player_0": 100.0, "player_1": 0.0})
    img = rgb.render()
    assert img.shape == (160, 120, 3) and img.dtype == np.uint8
    np.testing.assert_array_equal(img[10, 24 + 12], cournot_module.PLAYER_RGB[0])  # a full bar: q = a/b
    np.testing.assert_array_equal(img[100, 72 + 12], (245, 245, 245))  # q = 0: no bar


# ------------------------------------------------------------------ batched twin
def test_batched_twin_matches_the_pettingzoo_env_step_for_step() -> None:
    kwargs = {"n_players": 3, "a": 60.0, "b": 1.5, "c": 4.0, "max_steps": 6}
    env, twin = CournotGame(**kwargs), BatchedCournot(1, dtype=torch.float64, **kwargs)
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=0)
    tobs = twin.reset()
    for _ in range(6):
        q = rng.uniform(0.0, 40.0, size=3)
        for i, agent in enumerate(env.possible_agents):
            np.testing.assert_allclose(tobs[i][0].numpy(), obs[agent], rtol=1e-6)
        obs, rewards, *_ = env.step({agent: q[i] for i, agent in enumerate(env.possible_agents)})
        tobs, trewards, _ = twin.step(torch.tensor(q)[None])
        np.testing.assert_allclose(trewards[0].numpy(), list(rewards.values()), rtol=1e-12)
    with pytest.raises(RuntimeError, match="call reset"):
        twin.step(torch.zeros(1, 3, dtype=torch.float64))


def test_batched_twin_rejects_bad_quantities() -> None:
    twin = BatchedCournot((2, 3))
    twin.reset()
    with pytest.raises(ValueError, match=r"invalid quantity -1.0: every action must lie in \[0, 100\]"):
        twin.step(torch.tensor([[[1.0, -1.0]] * 3] * 2))
    with pytest.raises(ValueError, match="actions must have shape"):
        twin.step(torch.zeros(2, 2))


# ------------------------------------------------------------------- learning
def test_rollout_episodes_train_with_the_existing_naive_learner() -> None:
    env = BatchedCournot((3, 64), max_steps=2)
    policies = [GaussianPolicy(env.obs_dim, env.low, env.high, runs=3, mean=0.6) for _ in range(2)]
    g = torch.Generator().manual_seed(0)
    episodes = rollout_continuous(env, policies, g)
    assert episodes.actions.shape == (3, 64, 2, 2) and episodes.observations[0].shape == (3, 64, 2, 2)
    assert episodes.actions.min() >= 0 and episodes.actions.max() <= 100
    learner = PolicyGradient(policies[0], lr=0.01, optimizer="adam")
    before = policies[0].loc.detach().clone()
    learner.update(episodes, 0)
    # At q = 60 each the price is below cost: every run's gradient says produce less.
    assert (policies[0].loc.detach() < before).all()


@pytest.mark.slow
def test_nl_pg_reaches_the_cournot_nash_quantity() -> None:
    # Measured (8 seeds, 300 iterations, seed 0): final mean quantities 28.9-31.4 per firm and seed,
    # mean 30.0 over all (q* = 30); a few seconds. Asserted with ~2x margin.
    result = train_continuous("cournot", ("nl", "nl"), runs=8, iterations=300, seed=0)
    q_star = result.benchmarks["nash"]
    assert q_star == 30.0
    assert abs(result.mean_actions.mean().item() - q_star) < 0.05 * q_star
    assert ((result.mean_actions - q_star).abs() < 0.10 * q_star).all(), result.mean_actions


@pytest.mark.slow
def test_lola_pg_overproduces_as_its_first_order_fixed_point_predicts() -> None:
    # LOLA's Taylor term in the one-shot game moves each LOLA firm to q = (a - c) / (3b - kappa),
    # kappa = eta * b^2 W^2 / R (W = a/b the box width, R = 900 the Nash profit that scales rewards):
    # away from collusion (22.5), towards the Stackelberg leader (45). eta = 0.05: q = 36.8.
    # Measured (8 seeds): 36.1 over all seeds with seed 0 (32.2-38.7 per firm and seed), 35.4-35.8 with seeds 1-3.
    result = train_continuous("cournot", ("lola", "lola"), runs=8, iterations=300, eta=0.05, seed=0)
    kappa = 0.05 * 100.0**2 / 900.0
    predicted = 90.0 / (3.0 - kappa)
    mean = result.mean_actions.mean().item()
    assert abs(mean - predicted) < 3.0 and mean > result.benchmarks["nash"] + 3.0, result.mean_actions


# -------------------------------------------------------------- Gaussian policy
def test_gaussian_log_prob_is_the_censored_normal_and_integrates_to_one() -> None:
    policy = GaussianPolicy(2, 0.0, 10.0, mean=0.2, std=0.3, dtype=torch.float64)  # mu 2, sigma 3 in action units
    obs = torch.zeros(5, 2, dtype=torch.float64)
    actions = torch.tensor([0.0, 1.0, 2.0, 9.5, 10.0], dtype=torch.float64)
    f64 = torch.float64
    normal = torch.distributions.Normal(torch.tensor(2.0, dtype=f64), torch.tensor(3.0, dtype=f64))
    expected = torch.stack([normal.cdf(torch.tensor(0.0, dtype=f64)).log(), normal.log_prob(actions[1]),
                            normal.log_prob(actions[2]), normal.log_prob(actions[3]),
                            (1 - normal.cdf(torch.tensor(10.0, dtype=f64))).log()])
    torch.testing.assert_close(policy(obs, actions), expected)
    # Interior density (midpoint rule) plus both point masses is one probability.
    h = 10.0 / 100000
    mid = torch.arange(100000, dtype=torch.float64) * h + h / 2
    with torch.no_grad():
        density = policy(torch.zeros(len(mid), 2, dtype=torch.float64), mid).exp()
        mass = density.sum() * h + policy(obs[:2], torch.tensor([0.0, 10.0], dtype=torch.float64)).exp().sum()
    assert float(mass) == pytest.approx(1.0, abs=1e-6)


def test_gaussian_samples_stay_in_the_box_and_match_the_closed_form_mean() -> None:
    policy = GaussianPolicy(1, 0.0, 1.0, runs=3, mean=torch.tensor([0.05, 0.5, 1.1]), std=0.2, dtype=torch.float64)
    obs = torch.zeros(3, 200000, 1, dtype=torch.float64)
    a = policy.sample(obs, torch.Generator().manual_seed(0))
    assert a.shape == (3, 200000) and a.min() == 0.0 and a.max() == 1.0
    torch.testing.assert_close(a.mean(-1), policy.mean_action(obs).mean(-1), atol=2e-3, rtol=0)
    assert float(policy.mean_action(obs)[1, 0]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="leading dimension of 3"):
        policy.sample(torch.zeros(4, 1))
    with pytest.raises(ValueError, match="obs_dim=1"):
        policy.sample(torch.zeros(3, 2))
    with pytest.raises(ValueError, match="high > low"):
        GaussianPolicy(1, 1.0, 1.0)


def test_gaussian_score_gives_the_analytic_gradient_of_a_quadratic_reward() -> None:
    # E[-(a - 3)^2] for a ~ N(mu, 1) unclipped in a wide box: d/dmu = -2 (mu - 3); REINFORCE must agree.
    policy = GaussianPolicy(1, -100.0, 100.0, mean=0.51, std=0.005, state_dependent=True, dtype=torch.float64)
    obs = torch.ones(400000, 1, dtype=torch.float64)
    a = policy.sample(obs, torch.Generator().manual_seed(1))
    reward = -((a - 3.0) ** 2)
    surrogate = ((reward - reward.mean()) * policy(obs, a)).mean()
    (grad_loc, grad_w) = torch.autograd.grad(surrogate, [policy.loc, policy.weight])
    mu = -100.0 + 200.0 * 0.51  # 2.0
    assert float(grad_loc) == pytest.approx(-2 * (mu - 3.0) * 200.0, rel=0.03)  # chain rule: box units
    assert float(grad_w[0]) == pytest.approx(float(grad_loc), rel=1e-9)  # the observation is 1
