"""The batched exact-gradient runner: the paper's outcomes over many seeds, determinism, metrics."""

from __future__ import annotations

import pytest
import torch

import lola_zoo
from lola_zoo.agents.exact_rules import Derivatives, lola_correction
from lola_zoo.envs.exact import exact_value
from lola_zoo.experiments.exact import (
    ExactConfig,
    classify_imp,
    classify_ipd,
    initial_params,
    make_value_fn,
    run_exact,
    summarize,
)


@pytest.mark.parametrize("game_id", ["ipd", "imp", "stag-hunt", "battle-of-the-sexes"])
def test_lean_two_by_two_value_equals_exact_value_with_first_and_second_derivatives(game_id):
    game = lola_zoo.game(game_id)
    gen = torch.Generator().manual_seed(0)
    params = [2.0 * torch.randn(6, 5, generator=gen, dtype=torch.float64) for _ in range(2)]
    fast = make_value_fn(game, 0.9)
    slow = make_value_fn(game, 0.9, fast=False)
    torch.testing.assert_close(fast(params), exact_value(game, params, 0.9), rtol=1e-12, atol=1e-12)
    d_fast, d_slow = Derivatives(fast, params), Derivatives(slow, params)
    for i in range(2):
        for j in range(2):
            torch.testing.assert_close(d_fast.grad(i, j), d_slow.grad(i, j), rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(lola_correction(d_fast, i), lola_correction(d_slow, i), rtol=1e-9, atol=1e-9)


def _final(game: str, learners: tuple[str, str], seeds: int = 1000):
    result = run_exact(ExactConfig(game=game, learners=learners, seeds=seeds))
    return result, summarize(result)


def test_lola_vs_lola_in_the_ipd_cooperates_with_tit_for_tat_like_policies():
    result, s = _final("ipd", ("lola", "lola"))
    assert result.rewards.shape == (201, 1000, 2)
    for p in s["players"].values():
        assert p["reward_mean"] >= -1.15
    assert s["shares"]["tit_for_tat"] > 0.5
    assert s["shares"]["mutual_defection"] < 0.05


def test_naive_learners_in_the_ipd_end_in_mutual_defection():
    _, s = _final("ipd", ("nl", "nl"))
    for p in s["players"].values():
        assert p["reward_mean"] <= -1.8
    assert s["shares"]["mutual_defection"] > 0.5
    assert s["shares"]["tit_for_tat"] < 0.2


def test_lola_earns_at_least_as_much_as_the_naive_learner_it_plays():
    _, s = _final("ipd", ("lola", "nl"))
    assert s["players"]["player_0"]["reward_mean"] >= s["players"]["player_1"]["reward_mean"]
    # and it does better than a naive learner does against a naive learner
    assert s["players"]["player_0"]["reward_mean"] > -1.8


def test_lola_reaches_the_mixed_nash_equilibrium_in_matching_pennies_and_naive_learners_do_not():
    result, s = _final("imp", ("lola", "lola"))
    assert result.config.discount == 0.9
    assert s["shares"]["nash"] > 0.5
    _, s_nl = _final("imp", ("nl", "nl"), seeds=300)
    assert s_nl["shares"]["nash"] < 0.5


def test_identical_seeds_give_identical_results_and_other_seeds_do_not():
    cfg = ExactConfig(game="ipd", learners=("lola", "nl"), seeds=32, steps=30, seed=5)
    a, b = run_exact(cfg), run_exact(cfg)
    assert torch.equal(a.rewards, b.rewards)
    assert all(torch.equal(x, y) for x, y in zip(a.final_params, b.final_params))
    c = run_exact(ExactConfig(game="ipd", learners=("lola", "nl"), seeds=32, steps=30, seed=6))
    assert not torch.equal(a.rewards, c.rewards)


def test_initial_logits_follow_the_configured_normal():
    params = initial_params(ExactConfig(seeds=4000, init_std=2.0, seed=1))
    flat = torch.cat([p.flatten() for p in params])
    assert abs(flat.mean().item()) < 0.05 and abs(flat.std().item() - 2.0) < 0.05
    assert all(p.shape == (4000, 5) and p.dtype == torch.float64 for p in params)


def test_curves_start_at_the_value_of_the_initial_policies_and_are_per_step_averages():
    cfg = ExactConfig(game="ipd", learners=("nl", "nl"), seeds=8, steps=3)
    result = run_exact(cfg)
    game = lola_zoo.game("ipd")
    expected = (1 - 0.96) * exact_value(game, initial_params(cfg), 0.96)
    torch.testing.assert_close(result.rewards[0], expected)
    torch.testing.assert_close(result.rewards[-1], (1 - 0.96) * exact_value(game, result.final_params, 0.96))


def test_general_games_run_with_softmax_policies():
    result = run_exact(ExactConfig(game="rps", learners=("lola", "nl"), seeds=4, steps=3, gamma=0.9))
    assert result.final_probs.shape == (4, 2, 10, 3)
    torch.testing.assert_close(result.final_probs.sum(-1), torch.ones(4, 2, 10, dtype=torch.float64))


def test_ipd_classification_of_known_strategies():
    def pol(*p):
        return torch.tensor(p, dtype=torch.float64)

    tft = pol(0.9, 0.95, 0.05, 0.9, 0.1)
    alld = pol(0.05, 0.1, 0.02, 0.3, 0.01)
    allc = pol(0.9, 0.9, 0.8, 0.7, 0.6)
    generous = pol(0.9, 0.95, 0.7, 0.9, 0.1)  # keeps cooperating after being exploited
    probs = torch.stack([
        torch.stack([tft, tft]), torch.stack([alld, alld]), torch.stack([allc, allc]), torch.stack([tft, generous]),
    ])
    c = classify_ipd(probs)
    assert c["tit_for_tat"].tolist() == [True, False, False, False]
    assert c["strict_tit_for_tat"].tolist() == [True, False, False, False]
    assert c["mutual_defection"].tolist() == [False, True, False, False]
    assert c["all_cooperate"].tolist() == [False, False, True, False]


def test_imp_nash_classification_uses_the_tolerance_in_every_state():
    near = torch.full((1, 2, 5), 0.5, dtype=torch.float64) + 0.04
    off = near.clone()
    off[0, 1, 3] = 0.56
    assert classify_imp(torch.cat([near, off])).get("nash").tolist() == [True, False]
    assert classify_imp(off, tol=0.07)["nash"].tolist() == [True]


def test_summary_reports_means_and_shares_of_the_final_policies():
    result = run_exact(ExactConfig(game="ipd", learners=("lola", "nl"), seeds=16, steps=5))
    s = summarize(result)
    assert s["setting"] == "LOLA vs NL" and s["config"]["gamma"] == 0.96
    assert s["players"]["player_1"]["reward_mean"] == pytest.approx(result.final_rewards[:, 1].mean().item())
    assert s["shares"]["tit_for_tat"] == pytest.approx(classify_ipd(result.final_probs)["tit_for_tat"].double().mean().item())


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"learners": ("lola", "nll")}, KeyError, "unknown learner 'nll'"),
        ({"game": "ipdd"}, KeyError, "unknown dilemma id 'ipdd'"),
        ({"lr": -1.0}, ValueError, "lr must be >= 0"),
        ({"eta": (1.0, -0.1)}, ValueError, "eta must be >= 0"),
        ({"gamma": 1.0}, ValueError, r"gamma must lie in \(0, 1\)"),
        ({"gamma": 0.0}, ValueError, r"gamma must lie in \(0, 1\)"),
        ({"seeds": 0}, ValueError, "seeds must be a positive integer"),
        ({"steps": -3}, ValueError, "steps must be a positive integer"),
        ({"learners": ("lola", "nl", "nl")}, ValueError, "one per player"),
        ({"lr": float("inf")}, ValueError, "lr must be finite"),
        ({"init_std": float("inf")}, ValueError, "init_std must be finite"),
        ({"pola_prox": float("nan")}, ValueError, "pola_prox must be finite"),
        ({"seed": -1}, ValueError, "seed must be an integer >= 0"),
        ({"seed": 1.5}, ValueError, "seed must be an integer"),
        ({"gamma": "0.9"}, TypeError, "gamma must be a number"),
        ({"lr": "1"}, TypeError, "lr must be a number"),
        ({"seeds": None}, TypeError, "seeds must be a number"),
        ({"hola_order": "2"}, TypeError, "hola_order must be a number"),
        ({"learners": None}, TypeError, "learners must be a learner name"),
        ({"seeds": True}, TypeError, "seeds must be a number"),
    ],
)
def test_bad_configurations_fail_with_a_message_naming_the_problem(kwargs, error, match):
    with pytest.raises(error, match=match):
        ExactConfig(**kwargs)


def test_run_exact_and_make_learner_refuse_what_they_cannot_use():
    """A dict instead of an ExactConfig, a value function that is not callable, and unusable hyper-parameters."""
    from lola_zoo.agents.exact_rules import make_learner

    with pytest.raises(TypeError, match="run_exact takes an ExactConfig"):
        run_exact({"game": "ipd"})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="value_fn must be callable"):
        run_exact(ExactConfig(seeds=2, steps=1), value_fn=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="eta of 'lola' must be a number"):
        make_learner("lola", eta=None)
    with pytest.raises(TypeError, match="eta of 'lola' must be a number"):
        make_learner("lola", eta="x")
    with pytest.raises(TypeError, match=r"unknown hyper-parameter\(s\) \['etta'\]"):
        make_learner("lola", etta=1.0)
    with pytest.raises(ValueError, match="eta of 'lola' must be finite"):
        make_learner("lola", eta=float("inf"))
