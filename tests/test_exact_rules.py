"""Exact learning rules: each correction against an independent computation, batching, SOS limits."""

from __future__ import annotations

import pytest
import torch
from torch.autograd.functional import hessian, jacobian

import lola_zoo
from lola_zoo.agents.exact_rules import (
    Derivatives,
    exact_lola_gradient,
    exact_update,
    higher_order_lola_correction,
    lola_correction,
    lookahead_correction,
    make_learner,
    naive_gradient,
    sos_correction,
    sos_p,
    taylor_lola_correction,
)
from lola_zoo.envs.exact import exact_value

GAMMA = 0.96


def _value_fn(game_id: str, gamma: float = GAMMA):
    game = lola_zoo.game(game_id)
    return lambda params: exact_value(game, params, gamma)


def _params(b: int = 3, shape: tuple[int, ...] = (5,), seed: int = 0, scale: float = 1.0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [scale * torch.randn((b, *shape), generator=gen, dtype=torch.float64) for _ in range(2)]


def _blocks(value_fn, params, seed_index: int):
    """Per-seed gradients and second-derivative blocks of V_0, V_1 by autograd.functional (no batching)."""
    th0, th1 = (p[seed_index : seed_index + 1].clone() for p in params)
    n0 = th0.numel()

    def v(i):
        def f(flat):
            a = flat[:n0].reshape(th0.shape)
            b = flat[n0:].reshape(th1.shape)
            return value_fn([a, b])[0, i]
        return f

    flat = torch.cat([th0.flatten(), th1.flatten()])
    grads = [jacobian(v(i), flat) for i in range(2)]
    hess = [hessian(v(i), flat) for i in range(2)]
    return grads, hess, n0


@pytest.mark.parametrize("game_id, shape", [("ipd", (5,)), ("imp", (5,)), ("rps", (10, 3))])
def test_lola_and_lookahead_corrections_equal_explicit_second_derivatives(game_id, shape):
    vf = _value_fn(game_id, 0.9)
    params = _params(3, shape, seed=1)
    d = Derivatives(vf, params)
    eta = 0.7
    lola = [lola_correction(d, i, eta) for i in range(2)]
    look = [lookahead_correction(d, i, eta) for i in range(2)]
    for b in range(3):
        grads, hess, n0 = _blocks(vf, params, b)
        sl = [slice(0, n0), slice(n0, None)]
        for i, j in ((0, 1), (1, 0)):
            # LOLA: η (∂²V_j / ∂θ_i ∂θ_j) ∇_j V_i ;  LookAhead: η (∂²V_i / ∂θ_i ∂θ_j) ∇_j V_j
            expected_lola = eta * hess[j][sl[i], sl[j]] @ grads[i][sl[j]]
            expected_look = eta * hess[i][sl[i], sl[j]] @ grads[j][sl[j]]
            torch.testing.assert_close(lola[i][b].flatten(), expected_lola, rtol=1e-9, atol=1e-9)
            torch.testing.assert_close(look[i][b].flatten(), expected_look, rtol=1e-9, atol=1e-9)
        torch.testing.assert_close(naive_gradient(d, 0)[b].flatten(), grads[0][sl[0]], rtol=1e-10, atol=1e-10)


def test_lola_correction_matches_finite_differences_of_the_shaping_objective():
    vf = _value_fn("ipd")
    params = _params(2, seed=3)
    d = Derivatives(vf, params)
    u = d.grad(0, 1).detach()  # ∇_1 V_0, held fixed as in the paper

    def shaping(theta0: torch.Tensor) -> torch.Tensor:
        dd = Derivatives(vf, [theta0, params[1]])
        return (u * dd.grad(1, 1)).sum(1)  # per seed: stop(∇_1 V_0) · ∇_1 V_1

    h = 1e-5
    fd = torch.zeros_like(params[0])
    for k in range(5):
        e = torch.zeros_like(params[0])
        e[:, k] = h
        fd[:, k] = (shaping(params[0] + e) - shaping(params[0] - e)).detach() / (2 * h)
    torch.testing.assert_close(lola_correction(d, 0, 1.0), fd, rtol=1e-6, atol=1e-6)


def test_taylor_lola_is_lookahead_plus_shaping():
    d = Derivatives(_value_fn("ipd"), _params(4, seed=2))
    for i in range(2):
        torch.testing.assert_close(
            taylor_lola_correction(d, i, 0.5), lookahead_correction(d, i, 0.5) + lola_correction(d, i, 0.5)
        )


def test_exact_lola_matches_finite_differences_through_the_opponents_step():
    vf = _value_fn("ipd")
    params = _params(2, seed=4)
    eta = 0.3

    def looked_ahead_value(theta0: torch.Tensor) -> torch.Tensor:
        d = Derivatives(vf, [theta0, params[1]])
        step = eta * d.grad(1, 1).detach()
        return vf([theta0, params[1] + step])[:, 0].detach()

    h = 1e-5
    fd = torch.zeros_like(params[0])
    for k in range(5):
        e = torch.zeros_like(params[0])
        e[:, k] = h
        fd[:, k] = (looked_ahead_value(params[0] + e) - looked_ahead_value(params[0] - e)) / (2 * h)
    d = Derivatives(vf, params)
    torch.testing.assert_close(exact_lola_gradient(d, 0, eta), fd, rtol=1e-6, atol=1e-6)


def test_exact_lola_agrees_with_taylor_lola_to_first_order_in_eta():
    """For small η the exact look-ahead gradient minus the naive one is η·(lookahead + shaping) + O(η²)."""
    vf = _value_fn("ipd")
    d = Derivatives(vf, _params(3, seed=5))
    errors = []
    for eta in (1e-2, 1e-3):
        diff = exact_lola_gradient(d, 0, eta) - naive_gradient(d, 0)
        errors.append((diff - taylor_lola_correction(d, 0, eta)).abs().max().item())
    assert errors[1] < errors[0] / 50  # the remainder shrinks like η²


def test_higher_order_lola_of_order_one_is_lola_and_order_two_differentiates_through_a_lola_opponent():
    vf = _value_fn("ipd")
    params = _params(2, seed=6)
    d = Derivatives(vf, params)
    eta = 0.5
    torch.testing.assert_close(higher_order_lola_correction(d, 0, eta, order=1), lola_correction(d, 0, eta))
    u = d.grad(0, 1).detach()

    def opponent_lola_step(theta0: torch.Tensor) -> torch.Tensor:
        dd = Derivatives(vf, [theta0, params[1]])
        return (u * (dd.grad(1, 1) + lola_correction(dd, 1, eta))).sum(1).detach()

    h = 1e-5
    fd = torch.zeros_like(params[0])
    for k in range(5):
        e = torch.zeros_like(params[0])
        e[:, k] = h
        fd[:, k] = (opponent_lola_step(params[0] + e) - opponent_lola_step(params[0] - e)) / (2 * h)
    torch.testing.assert_close(higher_order_lola_correction(d, 0, eta, order=2), eta * fd, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(higher_order_lola_correction(d, 0, eta, order=2), lola_correction(d, 0, eta))


def test_sos_reduces_to_full_lola_when_p_is_one_and_to_lookahead_when_p_is_zero():
    d = Derivatives(_value_fn("ipd"), _params(64, seed=7))
    eta = 1.0
    # a -> infinity and b = 0 force p = 1: SOS is LookAhead plus the whole shaping term (Letcher's LOLA)
    assert torch.all(sos_p(d, eta, a=1e12, b=0.0) == 1.0)
    for i in range(2):
        torch.testing.assert_close(sos_correction(d, i, eta, a=1e12, b=0.0), taylor_lola_correction(d, i, eta))
    # a = 0: p = 0 wherever shaping opposes the LookAhead direction; there SOS is exactly LookAhead
    p = sos_p(d, eta, a=0.0, b=0.0)
    zero = p == 0.0
    assert zero.any() and (~zero).any(), "the draw should contain both kinds of seeds"
    for i in range(2):
        sos = sos_correction(d, i, eta, a=0.0, b=0.0)
        torch.testing.assert_close(sos[zero], lookahead_correction(d, i, eta)[zero])
        torch.testing.assert_close(sos[~zero], taylor_lola_correction(d, i, eta)[~zero])


def test_sos_p_shrinks_to_the_squared_gradient_norm_near_fixed_points():
    d = Derivatives(_value_fn("ipd"), _params(16, seed=8))
    xi2 = sum((d.grad(k, k) ** 2).sum(1) for k in range(2)).detach()
    p = sos_p(d, 1.0, a=1e12, b=1e6)  # b above every ‖ξ‖: p2 = ‖ξ‖² decides wherever it is < 1
    torch.testing.assert_close(p, torch.clamp(xi2, max=1.0))


@pytest.mark.parametrize("name", ["nl", "lola", "lola-taylor", "hola", "lookahead", "sos", "exact-lola"])
def test_every_rule_computes_each_seed_as_if_it_ran_alone(name):
    vf = _value_fn("ipd")
    params = _params(5, seed=9)
    learner = make_learner(name, eta=0.8)
    batched, values = exact_update(vf, params, [learner, learner], [1.0, 1.0])
    for b in range(5):
        alone, v_alone = exact_update(vf, [p[b : b + 1] for p in params], [learner, learner], [1.0, 1.0])
        for p_batch, p_alone in zip(batched, alone):
            torch.testing.assert_close(p_batch[b : b + 1], p_alone, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(values[b : b + 1], v_alone)


def test_update_is_theta_plus_learning_rate_times_direction_and_leaves_inputs_untouched():
    vf = _value_fn("ipd")
    params = _params(3, seed=10)
    before = [p.clone() for p in params]
    nl, lola = make_learner("nl"), make_learner("lola", eta=2.0)
    new, _ = exact_update(vf, params, [lola, nl], [0.5, 0.25])
    d = Derivatives(vf, params)
    torch.testing.assert_close(new[0], params[0] + 0.5 * (d.grad(0, 0) + lola_correction(d, 0, 2.0)))
    torch.testing.assert_close(new[1], params[1] + 0.25 * d.grad(1, 1))
    for p, b in zip(params, before):
        assert torch.equal(p, b) and not p.requires_grad


def test_unknown_learner_names_and_bad_hyper_parameters_fail_clearly():
    with pytest.raises(KeyError, match="unknown learner 'lolla'.*did you mean 'lola'"):
        make_learner("lolla")
    with pytest.raises(ValueError, match="eta must be >= 0"):
        make_learner("lola", eta=-1.0)
    with pytest.raises(ValueError, match="a >= 0 and b >= 0"):
        make_learner("sos", a=-0.5)
    with pytest.raises(ValueError, match="positive integer"):
        make_learner("hola", order=0)
    with pytest.raises(ValueError, match="one learner and one learning rate per player"):
        exact_update(_value_fn("ipd"), _params(2), [make_learner("nl")], [1.0, 1.0])
