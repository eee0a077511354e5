"""POLA-DiCE / POLA-OM from samples: importance-weighted DiCE, its limits (LOLA-DiCE, NL-PG), finite differences, outcome."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lola_zoo.agents.dice import dice_objective
from lola_zoo.agents.lola import lola_gradient
from lola_zoo.agents.naive import SeatBatch, episode_mean, naive_gradient, params_of, trajectory_log_probs
from lola_zoo.agents.pola_dice import POLADiCE, pola_dice_gradient, sampled_kl
from lola_zoo.agents.policies import Memory1Policy
from lola_zoo.envs.batched import BatchedIteratedGame, rollout
from lola_zoo.envs.exact import exact_value
from lola_zoo.envs.games import CANONICAL_GAMES
from lola_zoo.experiments.engine import TrainConfig, Trainer

F64 = torch.float64


def _batch(seed: int, runs: int = 2, episodes: int = 64, steps: int = 20, logits: tuple[torch.Tensor, ...] | None = None
           ) -> tuple[Memory1Policy, Memory1Policy, SeatBatch]:
    gen = torch.Generator().manual_seed(seed)
    if logits is None:
        p1, p2 = (Memory1Policy(runs=runs, generator=gen, dtype=F64) for _ in range(2))
    else:
        p1, p2 = (Memory1Policy(runs=runs, logits=t.expand(runs, 5), dtype=F64) for t in logits)
    env = BatchedIteratedGame("ipd", (runs, episodes), steps, dtype=F64)
    return p1, p2, SeatBatch.from_episodes(rollout(env, [p1, p2], gen), 0)


def test_importance_weighted_dice_is_plain_dice_at_the_sampling_parameters() -> None:
    """Value, gradient and Hessian agree where the episodes were sampled."""
    gen = torch.Generator().manual_seed(0)
    rewards = torch.randn(3, 8, 6, generator=gen, dtype=F64)
    x = torch.randn(3, 8, 6, generator=gen, dtype=F64, requires_grad=True)
    y = torch.randn(3, 8, 6, generator=gen, dtype=F64, requires_grad=True)

    def both(behaviour: list[torch.Tensor] | None) -> tuple[torch.Tensor, ...]:
        v = dice_objective(rewards, [x, y], 0.9, behaviour=behaviour).sum()
        gx, gy = torch.autograd.grad(v, [x, y], create_graph=True)
        (h,) = torch.autograd.grad((gx * gy.detach()).sum() + gy.sum(), x)
        return v, gx, gy, h

    for plain, weighted in zip(both(None), both([x.detach(), y.detach()])):
        assert torch.allclose(plain, weighted, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="one log-probability tensor per stochastic node"):
        dice_objective(rewards, [x, y], 0.9, behaviour=[x.detach()])


def test_importance_weighted_value_is_unbiased_away_from_the_sampling_parameters() -> None:
    """Episodes sampled at theta, weighted to theta': their mean is the exact value at theta'."""
    th1, th2 = torch.tensor([0.5, -0.3, 0.2, 0.1, -0.4], dtype=F64), torch.tensor([-0.2, 0.4, 0.0, 0.3, 0.1], dtype=F64)
    runs, gamma = 40, 0.5
    p1, p2, batch = _batch(3, runs=runs, episodes=400, steps=25, logits=(th1, th2))
    shift = torch.tensor([0.3, -0.2, 0.25, -0.1, 0.2], dtype=F64)
    new1, new2 = {"logits": (th1 + shift).expand(runs, 5)}, {"logits": (th2 - shift).expand(runs, 5)}
    own = trajectory_log_probs(p1, new1, batch.own_observations, batch.own_actions)
    opp = trajectory_log_probs(p2, new2, batch.opp_observations, batch.opp_actions)
    behaviour = [trajectory_log_probs(p1, params_of(p1), batch.own_observations, batch.own_actions),
                 trajectory_log_probs(p2, params_of(p2), batch.opp_observations, batch.opp_actions)]
    exact = exact_value(CANONICAL_GAMES["ipd"], [(th1 + shift)[None], (th2 - shift)[None]], gamma)[0]
    for rewards, v in ((batch.own_rewards, exact[0]), (batch.opp_rewards, exact[1])):
        per_run = dice_objective(rewards, [own, opp], gamma, behaviour=behaviour).mean(-1).detach()
        se = per_run.std() / runs**0.5
        assert abs(float(per_run.mean() - v)) < 4.5 * float(se) + 1e-3, (per_run.mean(), v, se)
    # ...where the unweighted sample mean is the value at theta, not theta' (the weights matter)
    assert abs(float(dice_objective(batch.own_rewards, [own, opp], gamma).mean() - exact[0])) > 10 * float(se)


def test_sampled_kl_is_zero_with_zero_gradient_at_the_sampling_policy_and_positive_elsewhere() -> None:
    lp = torch.log(torch.rand(2, 5, 7, generator=torch.Generator().manual_seed(1), dtype=F64)).requires_grad_()
    kl = sampled_kl(lp.detach(), lp)
    (g,) = torch.autograd.grad(kl, lp)
    assert kl.item() == 0.0 and torch.all(g == 0)
    assert sampled_kl(lp.detach(), lp.detach() + 0.3).item() > 0 and sampled_kl(lp.detach(), lp.detach() - 0.3).item() > 0


def test_without_proximity_one_step_each_is_lola_dice_lookahead() -> None:
    """POLA's proximal term -> 0 with one inner and one outer step: LOLA-DiCE's lookahead gradient, to 1e-12."""
    p1, p2, batch = _batch(4)
    naive, correction = lola_gradient(p1, params_of(p1), p2, params_of(p2), batch, 0.9, 0.7, "lookahead")
    pola = pola_dice_gradient(p1, params_of(p1), p2, params_of(p2), batch, 0.9, eta=0.7, lr=0.3, inner_steps=1,
                              outer_steps=1, prox_inner=0.0, prox_outer=0.0)
    assert torch.allclose(pola["logits"], naive["logits"] + correction["logits"], rtol=1e-12, atol=1e-12)
    assert correction["logits"].abs().max() > 1e-3  # the opponent's anticipated step did matter


def test_without_an_opponent_step_it_is_the_naive_gradient_whatever_the_proximity() -> None:
    p1, p2, batch = _batch(5)
    naive = naive_gradient(p1, params_of(p1), batch.own_observations, batch.own_actions, batch.own_rewards, 0.9)
    for prox in (0.0, 3.0):
        pola = pola_dice_gradient(p1, params_of(p1), p2, params_of(p2), batch, 0.9, eta=0.0, lr=1.0, inner_steps=3,
                                  prox_inner=prox, prox_outer=prox)
        assert torch.allclose(pola["logits"], naive["logits"], rtol=1e-12, atol=1e-12)


def test_gradient_through_the_proximal_inner_loop_matches_finite_differences() -> None:
    """Importance-weighted, the surrogate is a true function of theta_1: its derivative is checked numerically."""
    p1, p2, batch = _batch(6, runs=1, episodes=32, steps=12)
    gamma, eta, steps, prox = 0.9, 0.5, 3, 2.0
    th1, th2 = p1.logits.detach().clone(), p2.logits.detach().clone()
    sampled = [trajectory_log_probs(p1, {"logits": th1}, batch.own_observations, batch.own_actions).detach(),
               trajectory_log_probs(p2, {"logits": th2}, batch.opp_observations, batch.opp_actions).detach()]

    def objective(x: torch.Tensor) -> torch.Tensor:
        own = trajectory_log_probs(p1, {"logits": x}, batch.own_observations, batch.own_actions)
        y = th2.clone().requires_grad_()
        for _ in range(steps):
            opp = trajectory_log_probs(p2, {"logits": y}, batch.opp_observations, batch.opp_actions)
            v2 = episode_mean(dice_objective(batch.opp_rewards, [own, opp], gamma, behaviour=sampled))
            (g,) = torch.autograd.grad(v2 - prox * sampled_kl(sampled[1], opp), y, create_graph=True)
            y = y + eta * g
        opp = trajectory_log_probs(p2, {"logits": y}, batch.opp_observations, batch.opp_actions)
        v1 = episode_mean(dice_objective(batch.own_rewards, [own, opp], gamma, behaviour=sampled))
        return v1 - prox * sampled_kl(sampled[0], own)

    pola = pola_dice_gradient(p1, {"logits": th1}, p2, {"logits": th2}, batch, gamma, eta, lr=1.0, inner_steps=steps,
                              prox_inner=prox, prox_outer=prox, importance=True)["logits"]
    h = 1e-6
    numeric = torch.zeros_like(th1)
    for i in range(th1.numel()):
        e = torch.zeros_like(th1).view(-1)
        e[i] = h
        e = e.view_as(th1)
        with torch.enable_grad():
            numeric.view(-1)[i] = (objective(th1 + e).detach() - objective(th1 - e).detach()) / (2 * h)
    assert torch.allclose(pola, numeric, rtol=1e-5, atol=1e-7), (pola, numeric)


def test_pola_dice_reaches_reciprocity_in_the_ipd_and_is_not_exploited_by_nl() -> None:
    """Over 16 seeds POLA-DiCE (fresh episodes per proximal step) nears mutual cooperation in self-play (-1),
    where NL-PG sits at -2, and against NL-PG it gives away little; reusing one batch instead, NL exploits it."""
    cfg = dict(game="ipd", runs=16, updates=60, episodes_per_batch=64)
    mean = lambda s, i: s["reward_per_step"][f"player_{i}"]["mean"]  # noqa: E731
    pola = Trainer(TrainConfig(agents=("pola", "pola"), **cfg)).run().summary  # type: ignore[arg-type]
    nl = Trainer(TrainConfig(agents=("nl", "nl"), **cfg)).run().summary  # type: ignore[arg-type]
    assert mean(nl, 0) < -1.9 and mean(nl, 1) < -1.9
    assert (mean(pola, 0) + mean(pola, 1)) / 2 > -1.3, pola["reward_per_step"]
    against = Trainer(TrainConfig(agents=("pola", "nl"), **cfg)).run().summary  # type: ignore[arg-type]
    one_batch = Trainer(TrainConfig(agents=("pola", "nl"), learner_kwargs={"pola_resample": False},
                                    **cfg)).run().summary  # type: ignore[arg-type]
    assert mean(against, 0) > -1.9 and mean(against, 0) > mean(one_batch, 0) + 0.5, (against, one_batch)


def test_resampling_draws_fresh_episodes_for_every_proximal_step() -> None:
    backend = Trainer(TrainConfig(game="ipd", agents=("pola", "nl"), runs=2, updates=1, episodes_per_batch=8,
                                  learner_kwargs={"pola_inner_steps": 3, "pola_outer_steps": 2})).backend
    learner, calls = backend.learners[0], []
    sampler = learner.sampler

    def counting(own, opp):  # type: ignore[no-untyped-def]
        calls.append((own["logits"].clone(), opp["logits"].clone()))
        return sampler(own, opp)

    learner.sampler = counting
    backend.step()
    assert len(calls) == (3 + 1) * 2 - 1  # the update's own batch serves the first inner step
    assert not torch.equal(calls[0][1], calls[1][1])  # later steps play the opponent's stepped policy
    with pytest.raises(ValueError, match="exclude each other"):
        Trainer(TrainConfig(game="ipd", agents=("pola", "nl"), learner_kwargs={"pola_importance": True}))


def test_pola_om_fits_a_model_and_learns_from_the_engine(tmp_path: Path) -> None:
    result = Trainer(TrainConfig(game="ipd", agents=("pola-om", "nl"), runs=2, updates=2, episodes_per_batch=16,
                                 learner_kwargs={"pola_inner_steps": 1, "pola_prox": 0.5}), tmp_path / "om").run()
    assert result.labels == ["POLA-OM", "NL-PG"]
    learner = Trainer(TrainConfig(game="ipd", agents=("pola-om", "nl"), runs=2, updates=1)).backend.learners[0]
    assert learner.opponent.__class__.__name__ == "OpponentModel"
    assert learner.opponent.policy is not learner.base.policy


@pytest.mark.parametrize("kwargs, match", [
    ({"inner_steps": 0}, "inner_steps must be a positive integer"),
    ({"outer_steps": 1.5}, "outer_steps must be a positive integer"),
    ({"prox": -1.0}, "prox must be a finite number >= 0"),
    ({"prox_inner": float("nan")}, "prox_inner must be a finite number >= 0"),
    ({"opponent": "grey-box"}, "opponent must be"),
])
def test_bad_pola_options_are_named(kwargs: dict, match: str) -> None:
    from lola_zoo.agents.naive import PolicyGradient

    p1, p2 = Memory1Policy(), Memory1Policy()
    with pytest.raises(ValueError, match=match):
        POLADiCE(PolicyGradient(p1), p2, **kwargs)


def test_cli_passes_pola_options_and_refuses_them_without_a_pola_seat(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from lola_zoo.cli import main

    assert main(["train", "--agents", "pola", "nl", "--pola-inner-steps", "1", "--pola-prox", "0.5", "--runs", "2",
                 "--updates", "2", "--episodes-per-batch", "8", "--no-progress", "--out", str(tmp_path / "a")]) == 0
    config = json.loads((tmp_path / "a" / "metrics.json").read_text())["config"]
    assert config["learner_kwargs"] == {"pola_inner_steps": 1, "pola_prox": 0.5}
    assert main(["train", "--agents", "nl", "nl", "--pola-prox", "1", "--out", str(tmp_path / "b")]) == 2
    assert "--pola-prox applies to pola / pola-om seats" in capsys.readouterr().err
    assert main(["train", "--agents", "pola", "pola", "--pola-inner-steps", "0", "--out", str(tmp_path / "c")]) == 2
    assert "--pola-inner-steps must be a finite number >= 1" in capsys.readouterr().err
