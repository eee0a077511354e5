"""The closed-form 2×2 derivatives against autograd and finite differences (float64, 1e-10)."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

import lola_zoo
from lola_zoo.agents.closed_form import ClosedFormDerivatives, TwoByTwoValue
from lola_zoo.agents.exact_rules import (
    Derivatives,
    derivatives,
    exact_update,
    lola_correction,
    make_learner,
)
from lola_zoo.envs.exact import exact_value
from lola_zoo.envs.games import MatrixGame
from lola_zoo.experiments.exact import ExactConfig, make_value_fn, run_exact

GAMES = ["ipd", "imp", "chicken", "stag-hunt", "battle-of-the-sexes"]
RULES = ["nl", "lola", "lookahead", "lola-taylor", "sos", "exact-lola", "hola"]


def random_game(seed: int) -> MatrixGame:
    """A two-player 2×2 game with random payoffs (no symmetry to hide seat-order mistakes)."""
    rng = np.random.default_rng(seed)
    return MatrixGame(f"random-{seed}", rng.normal(0, 2, size=(2, 2, 2)))


def draw(seed: int, batch: int = 16, scale: float = 2.0) -> list[torch.Tensor]:
    """Random tabular logits for both players."""
    g = torch.Generator().manual_seed(seed)
    return [scale * torch.randn(batch, 5, generator=g, dtype=torch.float64) for _ in range(2)]


def games() -> list[MatrixGame]:
    """The canonical 2×2 games and two random ones."""
    return [lola_zoo.game(name) for name in GAMES] + [random_game(1), random_game(2)]


@pytest.mark.parametrize("game", games(), ids=lambda g: g.name)
def test_values_and_gradients_equal_autograd_of_the_general_engine(game: MatrixGame) -> None:
    """V and every ∇_j V_i match exact_value and autograd through it."""
    params = draw(0)
    closed = ClosedFormDerivatives(TwoByTwoValue(game, 0.9), params, create_graph=False)
    auto = Derivatives(lambda p: exact_value(game, p, 0.9), params, create_graph=False)
    torch.testing.assert_close(closed.values, auto.values, rtol=0, atol=1e-12)
    for i in range(2):
        for j in range(2):
            torch.testing.assert_close(closed.grad(i, j), auto.grad(i, j), rtol=0, atol=1e-10)


@pytest.mark.parametrize("game", games(), ids=lambda g: g.name)
def test_mixed_products_equal_autograd_for_any_direction(game: MatrixGame) -> None:
    """``mixed_vp(k, i, j, v)`` = ∇_i [v · ∇_j V_k] for random v, every k and i ≠ j."""
    params, v = draw(1), draw(2)
    closed = ClosedFormDerivatives(TwoByTwoValue(game, 0.95), params, create_graph=False)
    auto = Derivatives(lambda p: exact_value(game, p, 0.95), params, create_graph=True)
    for k in range(2):
        for i in range(2):
            j = 1 - i
            torch.testing.assert_close(closed.mixed_vp(k, i, j, v[j]), auto.mixed_vp(k, i, j, v[j]), rtol=0, atol=1e-10)


def test_gradient_and_mixed_product_match_finite_differences() -> None:
    """Independent of autograd: central differences of V and of the closed-form gradient."""
    game, eps = random_game(3), 1e-6
    fn = TwoByTwoValue(game, 0.9)
    params = draw(4, batch=4)
    d = ClosedFormDerivatives(fn, params, create_graph=False)
    for j in range(2):
        for s in range(5):
            up = [p.clone() for p in params]
            down = [p.clone() for p in params]
            up[j][:, s] += eps
            down[j][:, s] -= eps
            numeric = (fn(up) - fn(down)) / (2 * eps)  # (B, 2)
            for i in range(2):
                torch.testing.assert_close(d.grad(i, j)[:, s], numeric[:, i], rtol=0, atol=1e-7)
    # ∇_0 [v · ∇_1 V_1] by differencing the closed-form ∇_1 V_1 along θ_0
    v = draw(5, batch=4)[1]
    for s in range(5):
        up = [p.clone() for p in params]
        down = [p.clone() for p in params]
        up[0][:, s] += eps
        down[0][:, s] -= eps
        g_up = ClosedFormDerivatives(fn, up, create_graph=False).grad(1, 1)
        g_down = ClosedFormDerivatives(fn, down, create_graph=False).grad(1, 1)
        numeric = ((g_up - g_down) * v).sum(1) / (2 * eps)
        torch.testing.assert_close(d.mixed_vp(1, 0, 1, v)[:, s], numeric, rtol=0, atol=1e-7)


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("game", games(), ids=lambda g: g.name)
def test_every_rule_takes_the_same_step_as_the_autograd_path(game: MatrixGame, rule: str) -> None:
    """One update of each learning rule: closed form (the default) = general engine + autograd, to 1e-10."""
    params = draw(6, batch=32)
    learners = [make_learner(rule, eta=0.7), make_learner(rule, eta=1.3)]
    fast, slow = make_value_fn(game, 0.96), make_value_fn(game, 0.96, fast=False)
    assert isinstance(fast, TwoByTwoValue)
    assert isinstance(derivatives(fast, params, learners), ClosedFormDerivatives)
    a, va = exact_update(fast, params, learners, (0.5, 2.0))
    b, vb = exact_update(slow, params, learners, (0.5, 2.0))
    torch.testing.assert_close(va, vb, rtol=0, atol=1e-12)
    for x, y in zip(a, b):  # chicken's steps reach 1e3: agreement is to 1e-10 relative
        torch.testing.assert_close(x, y, rtol=1e-10, atol=1e-10)


def test_rules_without_graphs_only_when_every_learner_allows_it() -> None:
    """Built-in rules run graph-free; a user correction gets differentiable closed-form derivatives."""
    fn, params = make_value_fn(lola_zoo.game("ipd"), 0.96), draw(7)
    plain = derivatives(fn, params, [make_learner("lola"), make_learner("sos")])
    assert isinstance(plain, ClosedFormDerivatives) and not plain.values.requires_grad

    def user_correction(d: Derivatives, i: int) -> torch.Tensor:
        """LOLA's shaping term written with autograd directly, as a user might."""
        j = 1 - i
        (g,) = torch.autograd.grad((d.grad(i, j).detach() * d.grad(j, j)).sum(), d.params[i], retain_graph=True)
        return g

    custom = make_learner("nl").with_correction(user_correction, "mine")
    assert not custom.closed_form
    graph = derivatives(fn, params, [custom, custom])
    assert isinstance(graph, ClosedFormDerivatives) and graph.values.requires_grad
    a, _ = exact_update(fn, params, [custom, custom], (1.0, 1.0))
    b, _ = exact_update(fn, params, [make_learner("lola")] * 2, (1.0, 1.0))
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, rtol=0, atol=1e-10)
    auto = Derivatives(make_value_fn(lola_zoo.game("ipd"), 0.96, fast=False), params)
    torch.testing.assert_close(lola_correction(graph, 0), lola_correction(auto, 0), rtol=0, atol=1e-10)


def test_other_layouts_fall_back_to_the_general_engine() -> None:
    """Softmax (B, 5, 2) logits are not the closed form's layout: autograd's Derivatives take over."""
    game = lola_zoo.game("ipd")
    fn = make_value_fn(game, 0.9)
    params = [torch.randn(4, 5, 2, dtype=torch.float64) for _ in range(2)]
    d = derivatives(fn, params, [make_learner("lola")] * 2)
    assert type(d) is Derivatives
    torch.testing.assert_close(fn(params), exact_value(game, params, 0.9), rtol=0, atol=1e-12)


def test_a_discount_per_row_equals_separate_runs() -> None:
    """γ as one value per batch row (the grids' γ axis) gives each row its own closed-form update."""
    game, params = lola_zoo.game("ipd"), draw(8, batch=6)
    gammas = torch.tensor([0.5, 0.5, 0.9, 0.9, 0.99, 0.99], dtype=torch.float64)
    learners = [make_learner("lola")] * 2
    together, _ = exact_update(make_value_fn(game, gammas), params, learners, (1.0, 1.0))
    for row, gamma in enumerate(gammas.tolist()):
        alone, _ = exact_update(make_value_fn(game, gamma, fast=False), [p[row:row + 1] for p in params], learners, (1.0, 1.0))
        for x, y in zip(together, alone):
            torch.testing.assert_close(x[row:row + 1], y, rtol=0, atol=1e-10)


def test_whole_runs_agree_and_float32_works() -> None:
    """200 LOLA updates on the IPD: the same trajectories until rounding differences grow, the same outcome.

    LOLA on the IPD amplifies a 1e-16 difference by about 10x every 10 updates (measured: 1e-13 at
    update 10, 4e-10 at 50, 1e-5 at 100), so single seeds may part after ~100 updates; the
    outcome over seeds does not.
    """
    config = ExactConfig(game="ipd", learners=("lola", "lola"), seeds=16, steps=200)
    game = lola_zoo.game("ipd")
    fast = run_exact(config, progress=False)
    slow = run_exact(config, progress=False, value_fn=make_value_fn(game, config.discount, fast=False))
    torch.testing.assert_close(fast.rewards[:51], slow.rewards[:51], rtol=0, atol=1e-8)
    torch.testing.assert_close(fast.rewards[-1].mean(0), slow.rewards[-1].mean(0), rtol=0, atol=0.05)
    config32 = ExactConfig(game="ipd", learners=("lola", "lola"), seeds=16, steps=20, dtype="float32")
    single = run_exact(config32, progress=False)
    single_slow = run_exact(config32, progress=False, value_fn=make_value_fn(game, config.discount, fast=False))
    assert single.final_params[0].dtype == torch.float32
    torch.testing.assert_close(single.rewards, single_slow.rewards, rtol=0, atol=5e-3)  # float32 rounding, amplified


def test_bad_requests_are_refused() -> None:
    """A game that is not two-player 2x2, or a non-mixed product, gets a clear error."""
    with pytest.raises(ValueError, match="two-player 2x2"):
        TwoByTwoValue(lola_zoo.game("rps"), 0.9)
    d = ClosedFormDerivatives(TwoByTwoValue(lola_zoo.game("ipd"), 0.9), draw(9), create_graph=False)
    with pytest.raises(ValueError, match="i != j"):
        d.mixed_vp(0, 0, 0, d.grad(0, 0))


def test_exact_lola_uses_the_chain_rule_at_the_looked_ahead_point() -> None:
    """Exact LOLA's closed form (own gradient ahead + mixed product) equals differentiating through the step."""
    game, params = random_game(11), draw(12)
    learner = functools.partial(make_learner, "exact-lola")
    a, _ = exact_update(make_value_fn(game, 0.8), params, [learner(eta=2.0)] * 2, (1.0, 1.0))
    b, _ = exact_update(make_value_fn(game, 0.8, fast=False), params, [learner(eta=2.0)] * 2, (1.0, 1.0))
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, rtol=0, atol=1e-10)


@pytest.mark.parametrize("rule", ["nl", "lola", "lookahead", "sos", "exact-lola"])
def test_a_seed_takes_the_same_path_bit_for_bit_whatever_the_batch(rule: str) -> None:
    """200 updates of seeds inside a batch of 301 equal the same seeds run alone or in a small batch, bitwise.

    What lets a sweep batch cells together (or a grid batch its cells) without changing any of them.
    """
    game = lola_zoo.game("ipd")
    fn = make_value_fn(game, 0.96)
    params = draw(13, batch=301)
    learners = [make_learner(rule)] * 2
    big, small, alone = list(params), [p[5:9] for p in params], [p[300:] for p in params]
    for _ in range(200):
        big = exact_update(fn, big, learners, (1.0, 1.0))[0]
        small = exact_update(fn, small, learners, (1.0, 1.0))[0]
        alone = exact_update(fn, alone, learners, (1.0, 1.0))[0]
    for b, s, a in zip(big, small, alone):
        assert torch.equal(b[5:9], s) and torch.equal(b[300:], a)
