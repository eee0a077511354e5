"""DiCE: magic-box identities, and DiCE estimates of LOLA's gradient match the exact-value engine."""

from __future__ import annotations

import pytest
import torch

from lola_zoo.agents.dice import dice_objective, leave_one_out_baseline, magic_box
from lola_zoo.agents.lola import lola_gradient
from lola_zoo.agents.naive import SeatBatch, params_of
from lola_zoo.agents.policies import Memory1Policy
from lola_zoo.envs.batched import BatchedIteratedGame, rollout
from lola_zoo.envs.exact import exact_value
from lola_zoo.envs.games import CANONICAL_GAMES


def test_magic_box_is_one_with_derivative_of_its_argument() -> None:
    x = torch.tensor([0.3, -2.0], dtype=torch.float64, requires_grad=True)
    f = (x**2).sum()
    box = magic_box(f)
    assert box.item() == 1.0
    (g,) = torch.autograd.grad(box, x, create_graph=True)
    assert torch.allclose(g, 2 * x)
    (h,) = torch.autograd.grad(g.sum(), x)  # d/dx of box * f' : box * (f'^2 + f'')
    assert torch.allclose(h, 2 * x * (2 * x).sum() + 2)


def test_dice_objective_value_is_the_discounted_return_with_or_without_baseline() -> None:
    rewards = torch.randn(4, 6, 10, dtype=torch.float64)
    log_probs = [torch.randn(4, 6, 10, dtype=torch.float64) for _ in range(2)]
    discounted = (rewards * 0.9 ** torch.arange(10, dtype=torch.float64)).sum(-1)
    for baseline in (True, False):
        for loaded in (True, False):
            assert torch.allclose(dice_objective(rewards, log_probs, 0.9, baseline, loaded), discounted)


def test_leave_one_out_baseline_excludes_the_episode_itself() -> None:
    g = torch.tensor([[1.0], [2.0], [6.0]])
    assert torch.allclose(leave_one_out_baseline(g, episode_dim=-2), torch.tensor([[4.0], [3.5], [1.5]]))


def _exact_lola(th1: torch.Tensor, th2: torch.Tensor, gamma: float, eta: float) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = th1.clone().requires_grad_(), th2.clone().requires_grad_()
    values = exact_value(CANONICAL_GAMES["ipd"], [a[None], b[None]], gamma)[0]
    naive, own_grad_opp = torch.autograd.grad(values[0], [a, b], retain_graph=True)
    opp_step = eta * torch.autograd.grad(values[1], b, create_graph=True)[0]
    (correction,) = torch.autograd.grad((own_grad_opp.detach() * opp_step).sum(), a)
    return naive, correction


@pytest.mark.parametrize("loaded", [True, False], ids=["loaded-baseline", "dice-baseline"])
def test_dice_lola_gradient_mean_matches_exact_lola_gradient(loaded: bool, monkeypatch) -> None:
    """Many independent DiCE estimates (runs as a batch dim) average to the closed-form LOLA terms."""
    import lola_zoo.agents.lola as lola_module

    monkeypatch.setattr(lola_module, "dice_objective",
                        lambda *a, **k: dice_objective(*a, loaded=loaded, **k))
    gen = torch.Generator().manual_seed(1)
    th1, th2 = torch.randn(5, generator=gen, dtype=torch.float64), torch.randn(5, generator=gen, dtype=torch.float64)
    runs, episodes, steps, gamma, eta = 40, 800, 25, 0.5, 1.0  # gamma^T ~ 3e-8: truncation negligible
    p1 = Memory1Policy(runs=runs, logits=th1.expand(runs, 5), dtype=torch.float64)
    p2 = Memory1Policy(runs=runs, logits=th2.expand(runs, 5), dtype=torch.float64)
    env = BatchedIteratedGame("ipd", (runs, episodes), steps, dtype=torch.float64)
    batch = SeatBatch.from_episodes(rollout(env, [p1, p2], gen), seat=0)
    naive, correction = lola_gradient(p1, params_of(p1), p2, params_of(p2), batch, gamma, eta)
    exact_naive, exact_correction = _exact_lola(th1, th2, gamma, eta)
    for estimate, exact in ((naive["logits"], exact_naive), (correction["logits"], exact_correction)):
        se = estimate.std(0) / runs**0.5
        assert torch.all((estimate.mean(0) - exact).abs() < 4.5 * se + 1e-4), (estimate.mean(0), exact, se)
    assert exact_correction.abs().max() > 10 * (correction["logits"].std(0) / runs**0.5).max()  # not trivially 0


def test_lookahead_and_taylor_corrections_agree_for_small_steps() -> None:
    gen = torch.Generator().manual_seed(2)
    p1, p2 = (Memory1Policy(runs=2, generator=gen, dtype=torch.float64) for _ in range(2))
    batch = SeatBatch.from_episodes(rollout(BatchedIteratedGame("ipd", (2, 200), 20, dtype=torch.float64), [p1, p2], gen), 0)
    eta = 1e-4
    _, taylor = lola_gradient(p1, params_of(p1), p2, params_of(p2), batch, 0.9, eta, "taylor")
    _, ahead = lola_gradient(p1, params_of(p1), p2, params_of(p2), batch, 0.9, eta, "lookahead")
    assert torch.allclose(ahead["logits"] / eta, taylor["logits"] / eta, rtol=1e-2, atol=1e-3)
    assert taylor["logits"].abs().max() > 0
    with pytest.raises(ValueError, match="correction"):
        lola_gradient(p1, params_of(p1), p2, params_of(p2), batch, 0.9, eta, "third-order")  # type: ignore[arg-type]
