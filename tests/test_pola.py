"""POLA on exact values: its limits, its gradient through the inner loop, its parameterisation and its outcomes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import lola_zoo
from lola_zoo.agents.exact_rules import Derivatives, exact_lola_gradient, make_learner
from lola_zoo.agents.pola import pola_direction, policy_kl
from lola_zoo.experiments.exact import (
    ExactConfig,
    MLPPolicyForm,
    make_value_fn,
    parameterised_value_fn,
    run_exact,
    summarize,
)

GAME = lola_zoo.game("ipd")
VALUE = make_value_fn(GAME, 0.96)


def _params(seeds: int = 6, seed: int = 0, std: float = 1.0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [std * torch.randn(seeds, 5, generator=gen, dtype=torch.float64) for _ in range(2)]


@pytest.mark.parametrize("eta", [0.3, 1.0])
def test_without_proximity_one_step_each_is_exact_lola(eta: float) -> None:
    params = _params()
    d = Derivatives(VALUE, params, create_graph=True)
    for i in range(2):
        pola = pola_direction(d, i, eta=eta, lr=0.7, inner_steps=1, outer_steps=1, prox_inner=0.0, prox_outer=0.0)
        assert torch.allclose(pola, exact_lola_gradient(d, i, eta=eta), rtol=1e-12, atol=1e-12)


def test_without_an_opponent_step_it_is_the_naive_gradient() -> None:
    # eta = 0: the opponent does not move, one outer step of a proximal objective at its centre is NL.
    params = _params(seed=1)
    d = Derivatives(VALUE, params, create_graph=True)
    for i in range(2):
        pola = pola_direction(d, i, eta=0.0, lr=0.5, inner_steps=3, outer_steps=1, prox_inner=2.0, prox_outer=2.0)
        assert torch.allclose(pola, d.grad(i, i), rtol=1e-12, atol=1e-12)


def test_outer_gradient_differentiates_through_the_inner_loop() -> None:
    # One outer step from theta: its direction is the gradient of F(x) = V_1(x, y_K(x)) - beta KL(x0 || x)
    # at x = theta, y_K the opponent's K proximal steps; compare with central finite differences of F.
    params = _params(seeds=1, seed=2)
    eta, beta, K = 0.4, 3.0, 3

    def inner(x: torch.Tensor) -> torch.Tensor:
        y = params[1].clone().requires_grad_(True)
        for _ in range(K):
            objective = VALUE([x, y])[:, 1].sum() - beta * policy_kl(params[1], y).sum()
            (g,) = torch.autograd.grad(objective, y, create_graph=True)
            y = y + eta * g
        return y

    def F(x: torch.Tensor) -> float:
        with torch.enable_grad():
            x = x.clone().requires_grad_(True)
            y = inner(x).detach()
        return float(VALUE([x.detach(), y])[:, 0].sum() - beta * policy_kl(params[0], x.detach()).sum())

    d = Derivatives(VALUE, params, create_graph=True)
    direction = pola_direction(d, 0, eta=eta, lr=1.0, inner_steps=K, outer_steps=1, prox_inner=beta, prox_outer=beta)
    h = 1e-6
    for s in range(5):
        e = torch.zeros_like(params[0])
        e[0, s] = h
        fd = (F(params[0] + e) - F(params[0] - e)) / (2 * h)
        assert direction[0, s].item() == pytest.approx(fd, rel=1e-5, abs=1e-7)


def test_a_heavy_proximity_weight_keeps_the_policy_where_it_is() -> None:
    # Small outer steps (lr * prox * max KL curvature 1/4 well below 2) so the ascent itself is stable.
    params = _params(seed=3)
    d = Derivatives(VALUE, params, create_graph=True)
    kw = dict(eta=1.0, lr=0.01, inner_steps=2, outer_steps=50, prox_inner=0.0)
    free = pola_direction(d, 0, prox_outer=0.0, **kw)
    held = pola_direction(d, 0, prox_outer=100.0, **kw)
    assert held.norm() < 0.3 * free.norm()


def test_policy_kl_is_zero_at_the_same_policy_and_matches_its_definition() -> None:
    old, new = _params(seeds=4, seed=4)
    assert torch.allclose(policy_kl(old, old), torch.zeros(4, dtype=torch.float64), atol=1e-15)
    p, q = torch.sigmoid(old), torch.sigmoid(new)
    by_hand = (p * torch.log(p / q) + (1 - p) * torch.log((1 - p) / (1 - q))).sum(-1)
    assert torch.allclose(policy_kl(old, new), by_hand, rtol=1e-10)
    # the softmax form agrees with the binary one on the same two-action policies
    two = torch.stack([old, torch.zeros_like(old)], -1), torch.stack([new, torch.zeros_like(new)], -1)
    assert torch.allclose(policy_kl(*two), by_hand, rtol=1e-10)


def test_mlp_form_maps_flat_parameters_to_state_logits() -> None:
    form = MLPPolicyForm(5, 3)
    params = form.initial(2, 1.0, torch.Generator().manual_seed(0), torch.float64)
    assert params.shape == (2, form.n_params) == (2, 5 * 3 + 3 + 3 + 1)
    w1, b1, w2, b2 = torch.split(params[0], form.sizes)
    by_hand = torch.tanh(w1.reshape(5, 3) + b1) @ w2 + b2
    assert torch.allclose(form.logits_of(params)[0], by_hand)
    value = parameterised_value_fn(VALUE, form)
    assert torch.allclose(value([params, params]), VALUE([form.logits_of(params)] * 2))
    assert value.logits_of == form.logits_of  # type: ignore[attr-defined]


def test_pola_hyper_parameters_are_checked() -> None:
    with pytest.raises(ValueError, match="inner_steps"):
        make_learner("pola", inner_steps=0)
    with pytest.raises(ValueError, match="prox_outer"):
        make_learner("pola", prox_outer=-1.0)
    with pytest.raises(ValueError, match="lr"):
        make_learner("pola", lr=0.0)
    with pytest.raises(ValueError, match="policy"):
        ExactConfig(policy="lstm")
    with pytest.raises(ValueError, match="two-action"):
        ExactConfig(game="rps", policy="mlp")


def test_pola_agents_learn_reciprocity_in_the_ipd_where_naive_learners_defect() -> None:
    cfg = ExactConfig(learners=("pola", "pola"), seeds=256, steps=150)
    s = summarize(run_exact(cfg))
    naive = summarize(run_exact(ExactConfig(learners=("nl", "nl"), seeds=256, steps=150)))
    for player in ("player_0", "player_1"):
        assert s["players"][player]["reward_mean"] > -1.3
        assert naive["players"][player]["reward_mean"] < -1.9
    assert s["shares"]["tit_for_tat"] > 0.3 > naive["shares"]["tit_for_tat"]


def test_cli_exact_trains_cola_before_running_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from lola_zoo.cli import main

    code = main(["exact", "--learners", "cola", "nl", "--cola-steps", "20", "--seeds", "16", "--steps", "10",
                 "--out", str(tmp_path), "--no-progress"])
    assert code == 0
    out = capsys.readouterr().out
    assert "COLA trained: consistency loss" in out and "player_0 (cola)" in out


def test_cola_and_pola_are_tournament_entrants(monkeypatch: pytest.MonkeyPatch) -> None:
    from lola_zoo.agents.cola import COLAConfig
    from lola_zoo.experiments.tournament import COLAEntrant, TournamentConfig, play_league

    monkeypatch.setattr(COLAEntrant, "training", COLAConfig(steps=20, batch_size=32))
    cfg = TournamentConfig(entrants=("COLA-Ex", "POLA-Ex", "AllD"), runs=4, rounds=5)
    matches = play_league(cfg, cfg.pairs(), seed=0)
    assert len(matches) == 6
    for m in matches:
        assert -3.0 <= m["row_mean"] <= 0.0 and -3.0 <= m["col_mean"] <= 0.0
