"""Common-pool fishery: PettingZoo suites, the stock dynamics by hand, MSY and greedy closed forms, bad inputs, the twin."""

from __future__ import annotations

import numpy as np
import pettingzoo
import pettingzoo.test as pzt  # imported as a module: pytest would collect test_save_obs otherwise
import pytest
import torch
from pettingzoo.utils.conversions import parallel_to_aec

import lola_zoo
import lola_zoo.envs.fishery as fishery_module
from lola_zoo.agents.gaussian import GaussianPolicy
from lola_zoo.envs.fishery import Fishery, fishery_step, msy_effort
from lola_zoo.experiments.continuous import BatchedFishery, rollout_continuous, train_continuous

VARIANTS = [{}, {"n_players": 3, "r": 1.0, "K": 10.0, "initial_stock": 10.0}, {"max_steps": 5, "collapse_fraction": 0.3}]


# --------------------------------------------------------------- PettingZoo suites
@pytest.mark.parametrize("kwargs", VARIANTS, ids=str)
def test_passes_pettingzoo_parallel_aec_seed_and_render_tests(kwargs: dict) -> None:
    pzt.parallel_api_test(Fishery(**kwargs), num_cycles=100)
    pzt.parallel_seed_test(lambda: Fishery(**kwargs))
    pzt.api_test(parallel_to_aec(Fishery(**kwargs)), num_cycles=100)
    pzt.seed_test(lambda: fishery_module.env(**kwargs))
    pzt.render_test(lambda render_mode=None: parallel_to_aec(Fishery(render_mode=render_mode, **kwargs)))


def test_max_cycles_truncates_in_both_apis() -> None:
    pzt.max_cycles_test(fishery_module)


def test_registered_for_make_and_pettingzoo() -> None:
    env = lola_zoo.make("fishery", n_players=3, r=0.2, max_steps=7)
    assert isinstance(env, Fishery) and env.n_players == 3 and env.r == 0.2 and env.max_steps == 7
    assert "fishery" in lola_zoo.registered()
    assert isinstance(pettingzoo.make("parallel", "lola_zoo/fishery-v0"), Fishery)


def test_defaults_and_spaces() -> None:
    env = Fishery()
    assert (env.n_players, env.r, env.K, env.initial_stock, env.collapse_fraction, env.max_steps) == (2, 0.5, 100.0, 50.0, 0.01, 50)
    act = env.action_space("player_0")
    assert act.shape == (1,) and act.low[0] == 0.0 and act.high[0] == 1.0 and env.action_space("player_1") is act
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(obs["player_0"], np.array([0.5, 0.0, 0.0], np.float32))


# ------------------------------------------------------------------ dynamics
def test_one_season_by_hand() -> None:
    env = Fishery(r=0.5, K=100.0, initial_stock=40.0)
    env.reset(seed=0)
    # G(40) = 40 + 0.5 * 40 * 0.6 = 52; harvests e_i * 52 / 2 = 13 and 5.2; stock 52 - 18.2 = 33.8.
    obs, rewards, terminations, truncations, infos = env.step({"player_0": 0.5, "player_1": np.array([0.2], np.float32)})
    assert rewards["player_0"] == pytest.approx(13.0) and rewards["player_1"] == pytest.approx(5.2, rel=1e-6)
    assert infos["player_0"]["stock"] == pytest.approx(33.8, rel=1e-6) and env.stock == pytest.approx(33.8, rel=1e-6)
    assert not any(terminations.values()) and not any(truncations.values())
    np.testing.assert_allclose(obs["player_0"], [0.338, 0.5, 0.2], rtol=1e-6)  # stock / K, own effort first
    np.testing.assert_allclose(obs["player_1"], [0.338, 0.2, 0.5], rtol=1e-6)
    # The brief's form: S' = S + r S (1 - S/K) - sum h, with sum h <= G(S).
    harvests, stock = fishery_step(40.0, [0.5, 0.2])
    assert stock == pytest.approx(40.0 + 0.5 * 40.0 * (1 - 0.4) - harvests.sum())


def test_several_seasons_follow_the_recursion() -> None:
    env = Fishery(n_players=3, r=0.8, K=10.0, initial_stock=3.0, max_steps=6)
    env.reset(seed=0)
    s = 3.0
    for t, e in enumerate([(0.1, 0.2, 0.3), (0.0, 0.0, 0.0), (1.0, 0.5, 0.0), (0.3, 0.3, 0.3), (0.2, 0.9, 0.4), (0.0, 1.0, 0.0)]):
        grown = s + 0.8 * s * (1 - s / 10.0)
        expected = [ei * grown / 3 for ei in e]
        _, rewards, terms, truncs, infos = env.step(dict(zip(env.possible_agents, e)))
        s = grown - sum(expected)
        np.testing.assert_allclose(list(rewards.values()), expected, rtol=1e-12)
        assert infos["player_2"]["stock"] == pytest.approx(s, rel=1e-12) and 0 < s <= 10.0
        assert all(truncs.values()) == (t == 5) and not any(terms.values())


def test_greedy_fishers_collapse_the_fishery_in_one_season() -> None:
    env = Fishery()
    env.reset(seed=0)
    _, rewards, terminations, truncations, infos = env.step({"player_0": 1.0, "player_1": 1.0})
    # Everyone greedy takes the whole grown stock G(50) = 62.5, half each, and the episode terminates.
    assert rewards == {"player_0": 31.25, "player_1": 31.25}
    assert all(terminations.values()) and not any(truncations.values()) and env.agents == []
    assert infos["player_0"]["stock"] == 0.0


def test_msy_effort_holds_the_stock_at_half_capacity_and_yields_rk_over_4() -> None:
    for r in (0.1, 0.5, 1.0):
        env = Fishery(r=r, K=80.0, max_steps=30)
        env.reset(seed=0)
        e = msy_effort(r)
        assert env.msy_effort == pytest.approx(r / (2 + r)) and env.msy == pytest.approx(r * 80.0 / 4)
        while env.agents:
            _, rewards, *_ = env.step({"player_0": e, "player_1": e})
            assert sum(rewards.values()) == pytest.approx(env.msy, rel=1e-12)
            assert env.stock == pytest.approx(env.msy_stock, rel=1e-12)
    # No stock gives a larger sustainable yield r S (1 - S/K) than K/2.
    s = np.linspace(0.0, 80.0, 8001)
    assert s[(0.5 * s * (1 - s / 80.0)).argmax()] == pytest.approx(40.0)


def test_collapse_threshold_terminates_below_it() -> None:
    env = Fishery(collapse_fraction=0.3, max_steps=10)  # collapse at a stock <= 30
    env.reset(seed=0)
    _, _, terms, _, _ = env.step({"player_0": 0.2, "player_1": 0.2})  # G(50) = 62.5 -> 50
    assert not any(terms.values())
    _, _, terms, truncs, _ = env.step({"player_0": 0.8, "player_1": 0.8})  # -> 12.5 <= 30
    assert all(terms.values()) and not any(truncs.values())


# ------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, match", [
    ({"n_players": 1}, "n_players must be an integer >= 2, got 1"),
    ({"r": 0.0}, r"r \(growth rate\) must be a finite positive number, got 0.0"),
    ({"r": 1.5}, r"r \(growth rate\) must lie in \(0, 1\]"),
    ({"K": -5}, r"K \(carrying capacity\) must be a finite positive number, got -5"),
    ({"initial_stock": 0.0}, "initial_stock must be a finite positive number, got 0.0"),
    ({"initial_stock": 101.0}, r"initial_stock must lie in \(0, K\]"),
    ({"collapse_fraction": 1.0}, r"collapse_fraction must lie in \[0, 1\)"),
    ({"collapse_fraction": -0.1}, "collapse_fraction must be a finite non-negative number"),
    ({"max_steps": 0}, "max_steps must be an integer >= 1, got 0"),
])
def test_bad_parameters_raise_one_clear_value_error(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Fishery(**kwargs)
    with pytest.raises(ValueError, match=match):
        lola_zoo.make("fishery", **kwargs)


@pytest.mark.parametrize("bad", [-0.1, 1.01, float("nan"), None, np.array([0.1, 0.2])])
def test_bad_effort_raises_value_error_naming_it(bad: object) -> None:
    env = Fishery()
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"invalid effort .* for player_0: expected one number in \[0, 1\]"):
        env.step({"player_0": bad, "player_1": 0.5})


# -------------------------------------------------------------------- rendering
def test_ansi_and_rgb_render() -> None:
    env = Fishery(render_mode="ansi")
    env.reset(seed=0)
    assert env.render() == "fishery season 0/50: start, stock 50/100 (MSY 12.5 at stock 50)"
    env.step({"player_0": 1.0, "player_1": 1.0})
    assert env.render() == "fishery season 1/50: efforts (1.000, 1.000) -> harvests (31.25, 31.25), stock 0/100 -- COLLAPSED"
    rgb = Fishery(render_mode="rgb_array")
    rgb.reset(seed=0)
    img = rgb.render()
    assert img.shape == (160, 96 + 120, 3) and img.dtype == np.uint8
    np.testing.assert_array_equal(img[120, 48], (30, 100, 180))  # water up to half the tank
    np.testing.assert_array_equal(img[40, 48], (215, 230, 240))  # empty above it


# ------------------------------------------------------------------ batched twin
def test_batched_twin_matches_the_pettingzoo_env_including_collapse() -> None:
    kwargs = {"n_players": 3, "r": 0.7, "K": 20.0, "initial_stock": 12.0, "collapse_fraction": 0.05, "max_steps": 12}
    rng = np.random.default_rng(1)
    collapses = 0
    for trial in range(4):
        env, twin = Fishery(**kwargs), BatchedFishery(1, dtype=torch.float64, **kwargs)
        obs, _ = env.reset(seed=trial)
        tobs = twin.reset()
        while env.agents:
            e = rng.uniform(0.0, min(1.0, 0.6 + 0.15 * trial), size=3)
            for i, agent in enumerate(env.possible_agents):
                np.testing.assert_allclose(tobs[i][0].numpy(), obs[agent], rtol=1e-6, atol=1e-7)
            obs, rewards, terms, *_ = env.step(dict(zip(env.possible_agents, e)))
            tobs, trewards, info = twin.step(torch.tensor(e)[None])
            np.testing.assert_allclose(trewards[0].numpy(), list(rewards.values()), rtol=1e-12)
            assert bool(info["collapsed"][0]) == terms["player_0"]
        if terms["player_0"]:  # after a collapse the twin stays at 0 with zero catches: the same return
            collapses += 1
            for _ in range(twin.max_steps - twin._round):
                _, trewards, _ = twin.step(torch.ones(1, 3, dtype=torch.float64))
                assert (trewards == 0).all()
    assert collapses >= 1  # the greediest trial (efforts up to 1) collapses


def test_rollout_gives_float_actions_in_the_box() -> None:
    env = BatchedFishery((2, 16), max_steps=5)
    policies = [GaussianPolicy(env.obs_dim, 0.0, 1.0, runs=2, mean=m, std=0.5) for m in (0.9, 0.1)]
    episodes = rollout_continuous(env, policies, torch.Generator().manual_seed(0))
    assert episodes.actions.shape == (2, 16, 5, 2) and episodes.observations[1].shape == (2, 16, 5, 3)
    assert episodes.actions.min() >= 0.0 and episodes.actions.max() <= 1.0
    assert (episodes.actions == 1.0).any() and (episodes.actions == 0.0).any()  # the censored bounds are hit
    assert (episodes.rewards >= 0).all()


@pytest.mark.slow
def test_nl_pg_overfishes_beyond_the_msy_effort() -> None:
    # Two NL-PG fishers started at the MSY effort (0.2) drift to more effort: each one's restraint
    # mostly benefits the other. Measured (4 seeds, T 20, 100 iterations, seed 0): 0.333-0.352 per fisher.
    result = train_continuous("fishery", ("nl", "nl"), runs=4, episodes=64, iterations=100, max_steps=20, mean=0.2,
                              mean_spread=0.0, seed=0)
    assert (result.mean_actions > result.benchmarks["msy"] + 0.03).all(), result.mean_actions
    assert (result.mean_actions < 0.6).all(), result.mean_actions
