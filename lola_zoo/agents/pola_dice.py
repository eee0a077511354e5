"""POLA-DiCE and POLA-OM: proximal LOLA (Zhao, Lu, Grosse, Foerster, NeurIPS 2022) from sampled episodes.

The exact form lives in :mod:`lola_zoo.agents.pola`; this is the same two nested proximal loops
with every value replaced by a DiCE estimate on one batch of episodes:

* inner loop (the opponent's anticipated proximal step, ``inner_steps`` gradient steps of size η):
  ``θ2 ← θ2 + η ∇θ2 [ V̂2(θ1, θ2) − β_in KL̂(π2_sampled ‖ π2_θ2) ]``, kept in the graph as a
  function of θ1;
* outer loop (the agent's own proximal step, ``outer_steps`` gradient steps of size lr):
  ``θ1 ← θ1 + lr ∇θ1 [ V̂1(θ1, θ2'(θ1)) − β_out KL̂(π1_sampled ‖ π1_θ1) ]``.

Two choices differ from the paper's POLA-DiCE and are ours:

* **One batch.**  The paper draws fresh rollouts for every inner and outer step.  Here every step
  reuses the batch the engine sampled, and the DiCE surrogate is differentiated at the stepped
  parameters — the convention of LOLA-DiCE's lookahead (``LOLA(correction="lookahead")``), so
  POLA-DiCE costs one rollout per update, like LOLA-PG.  ``importance=True`` instead
  importance-weights the surrogate (``dice_objective(..., behaviour=...)``), which makes it
  unbiased away from the sampling parameters; measured on the IPD (150-step episodes) its weight
  variance costs more than the bias it removes (docs/algorithms/pola.md), so it is off by default.
* **Sampled KL.**  Policies are only known through ``log π(a_t | h_t)`` of the sampled actions
  (recurrent Coin Game policies included), so KL is the per-step mean over the batch of
  ``(r − 1) − log r`` with ``r = π_θ(a_t) / π_sampled(a_t)``: unbiased for
  ``KL(π_sampled ‖ π_θ)`` at the visited histories, never negative, and with zero gradient at the
  sampling parameters (so a proximal term never adds noise to the first step).

With ``prox = 0`` and one step in each loop, POLA-DiCE is LOLA-DiCE's lookahead gradient exactly
(``tests/test_pola_dice.py``).

The update's direction is the outer displacement divided by lr, applied through the base
learner's optimiser: with SGD the step lands on the outer loop's end point; with Adam, use
``outer_steps=1`` (the direction is then the proximal LOLA gradient, which Adam rescales).
``opponent="black-box"`` (POLA-OM) runs both loops on an
:class:`~lola_zoo.agents.opponent_model.OpponentModel` fitted to the opponent's observed actions
instead of its parameters — the LOLA-OM construction applied to POLA.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from lola_zoo.agents.dice import dice_objective
from lola_zoo.agents.naive import (
    Params,
    PolicyGradient,
    SeatBatch,
    WrappedLearner,
    episode_mean,
    grads_of,
    params_of,
    trajectory_log_probs,
)
from lola_zoo.agents.opponent_model import OpponentModel, WhiteBoxOpponent, opponent_handle
from lola_zoo.envs.batched import Episodes

__all__ = ["sampled_kl", "pola_dice_gradient", "POLADiCE", "Sampler"]

#: ``sampler(own_params, opponent_params) -> Episodes``: fresh episodes played with those (detached) parameters
Sampler = Callable[[Params, Params], Episodes]


def sampled_kl(sampled_log_probs: torch.Tensor, log_probs: torch.Tensor) -> torch.Tensor:
    """``KL(π_sampled ‖ π_θ)`` per step, estimated as the mean of ``(r − 1) − log r`` over episodes and steps.

    ``sampled_log_probs``/``log_probs`` ``(*batch, T)``: the sampled actions' log-probabilities under
    the sampling policy and under ``θ``.  Summed over leading (independent-run) dimensions, like
    :func:`~lola_zoo.agents.naive.episode_mean`.
    """
    log_r = log_probs - sampled_log_probs.detach()
    per_step = torch.expm1(log_r) - log_r
    return episode_mean(per_step.mean(-1))


def pola_dice_gradient(
    own_policy: nn.Module,
    own_params: Params,
    opp_policy: nn.Module,
    opp_params: Params,
    batch: SeatBatch,
    gamma: float,
    eta: float,
    lr: float,
    inner_steps: int = 2,
    outer_steps: int = 1,
    prox_inner: float = 1.0,
    prox_outer: float = 1.0,
    baseline: bool | tuple[bool | torch.Tensor, bool | torch.Tensor] = True,
    importance: bool = False,
    sampler: Sampler | None = None,
    seat: int = 0,
) -> Params:
    """POLA-DiCE's direction ``(θ1' − θ1) / lr`` for the own policy, from the episodes in ``batch``.

    ``sampler``: draw fresh episodes for every inner step and every outer value at the parameters
    of that step (the paper's POLA-DiCE; ``seat`` says which of their seats is the own one);
    ``None``: reuse ``batch`` throughout.
    """
    if sampler is not None:
        return _pola_dice_resampled(own_policy, own_params, opp_policy, opp_params, batch, gamma, eta, lr,
                                    inner_steps, outer_steps, prox_inner, prox_outer, sampler, seat)
    own_baseline, opp_baseline = baseline if isinstance(baseline, tuple) else (baseline, baseline)
    own0 = {k: v.detach() for k, v in own_params.items()}
    opp0 = {k: v.detach() for k, v in opp_params.items()}
    with torch.no_grad():
        own_sampled = trajectory_log_probs(own_policy, own0, batch.own_observations, batch.own_actions)
        opp_sampled = trajectory_log_probs(opp_policy, opp0, batch.opp_observations, batch.opp_actions)
    behaviour = [own_sampled, opp_sampled] if importance else None
    x = own0
    for _ in range(outer_steps):
        x = {k: v.detach().requires_grad_(True) for k, v in x.items()}
        own_lp = trajectory_log_probs(own_policy, x, batch.own_observations, batch.own_actions)
        # Inner loop: the opponent's proximal steps from where it stands, as a function of x.
        y = {k: v.clone().requires_grad_(True) for k, v in opp0.items()}
        for _ in range(inner_steps):
            opp_lp = trajectory_log_probs(opp_policy, y, batch.opp_observations, batch.opp_actions)
            opp_value = episode_mean(dice_objective(batch.opp_rewards, [own_lp, opp_lp], gamma, opp_baseline,
                                                    behaviour=behaviour))
            g = grads_of(opp_value - prox_inner * sampled_kl(opp_sampled, opp_lp), y, create_graph=True)
            y = {k: y[k] + eta * g[k] for k in y}
        opp_lp = trajectory_log_probs(opp_policy, y, batch.opp_observations, batch.opp_actions)
        own_value = episode_mean(dice_objective(batch.own_rewards, [own_lp, opp_lp], gamma, own_baseline,
                                                behaviour=behaviour))
        g = grads_of(own_value - prox_outer * sampled_kl(own_sampled, own_lp), x)
        x = {k: (x[k] + lr * g[k]).detach() for k in x}
    return {k: (x[k] - own0[k]) / lr for k in own0}


def _pola_dice_resampled(
    own_policy: nn.Module, own_params: Params, opp_policy: nn.Module, opp_params: Params, batch: SeatBatch,
    gamma: float, eta: float, lr: float, inner_steps: int, outer_steps: int, prox_inner: float, prox_outer: float,
    sampler: Sampler, seat: int,
) -> Params:
    """The paper's form: every DiCE value is estimated on episodes sampled at the parameters it is taken at.

    DiCE is then differentiated at its sampling parameters only, where it is unbiased; KL terms are
    measured against the update's starting policies on the states of the current episodes.
    """
    own0 = {k: v.detach() for k, v in own_params.items()}
    opp0 = {k: v.detach() for k, v in opp_params.items()}

    def log_probs(b: SeatBatch, own: Params, opp: Params) -> tuple[torch.Tensor, torch.Tensor]:
        return (trajectory_log_probs(own_policy, own, b.own_observations, b.own_actions),
                trajectory_log_probs(opp_policy, opp, b.opp_observations, b.opp_actions))

    def kl_to_start(policy: nn.Module, start: Params, now: torch.Tensor, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            old = trajectory_log_probs(policy, start, obs, act)
        # Actions were drawn from the current policy, not the starting one: weight them back to it.
        weight = torch.exp(old - now.detach()).clamp(max=20.0)
        return episode_mean((weight * (old - now)).mean(-1))

    x = own0
    current = batch
    for outer in range(outer_steps):
        x = {k: v.detach().requires_grad_(True) for k, v in x.items()}
        y = {k: v.clone().requires_grad_(True) for k, v in opp0.items()}
        for inner in range(inner_steps):
            b = current if (outer == 0 and inner == 0) else SeatBatch.from_episodes(
                sampler({k: v.detach() for k, v in x.items()}, {k: v.detach() for k, v in y.items()}), seat)
            own_lp, opp_lp = log_probs(b, x, y)
            opp_value = episode_mean(dice_objective(b.opp_rewards, [own_lp, opp_lp], gamma, True))
            prox = kl_to_start(opp_policy, opp0, opp_lp, b.opp_observations, b.opp_actions) if inner else 0.0
            g = grads_of(opp_value - prox_inner * prox, y, create_graph=True)
            y = {k: y[k] + eta * g[k] for k in y}
        b = SeatBatch.from_episodes(
            sampler({k: v.detach() for k, v in x.items()}, {k: v.detach() for k, v in y.items()}), seat)
        own_lp, opp_lp = log_probs(b, x, y)
        own_value = episode_mean(dice_objective(b.own_rewards, [own_lp, opp_lp], gamma, True))
        prox = kl_to_start(own_policy, own0, own_lp, b.own_observations, b.own_actions) if outer else 0.0
        g = grads_of(own_value - prox_outer * prox, x)
        x = {k: (x[k] + lr * g[k]).detach() for k in x}
    return {k: (x[k] - own0[k]) / lr for k in own0}


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value or value < 1:
        raise ValueError(f"POLA's {name} must be a positive integer, got {value!r}")
    return int(value)


class POLADiCE(WrappedLearner):
    """POLA-DiCE (white-box) or POLA-OM (black-box) over a base policy-gradient learner.

    :param base: the naive learner whose policy, γ, lr, baseline/critic and optimiser are used.
    :param opponent_policy: white-box: the opponent's policy (read, never written); black-box: only
        its architecture, for the opponent model.
    :param opponent: ``"white-box"`` (POLA-DiCE) or ``"black-box"`` (POLA-OM).
    :param eta: the opponent's anticipated step size (default: the base learner's lr).
    :param inner_steps: the opponent's proximal gradient steps (the paper's POLA-DiCE: 2 or more).
    :param outer_steps: the agent's own proximal gradient steps per update.
    :param prox: the proximity weight β of both loops (``prox_inner``/``prox_outer`` override it).
    :param model_kwargs: keyword arguments of :class:`OpponentModel` (black-box).
    :param importance: importance-weight the surrogate at the stepped parameters (see the module docstring).
    :param resample: draw fresh episodes for every proximal step (the paper's form, the default)
        through :attr:`sampler`, which the training engine and the tournament set; costs
        ``(inner_steps + 1) · outer_steps − 1`` extra rollouts per update.  ``False``: every step
        reuses the update's batch (one rollout; a user's own loop, which cannot replay the game).
    """

    def __init__(
        self,
        base: PolicyGradient,
        opponent_policy: nn.Module,
        opponent: str = "white-box",
        eta: float | None = None,
        inner_steps: int = 2,
        outer_steps: int = 1,
        prox: float = 1.0,
        prox_inner: float | None = None,
        prox_outer: float | None = None,
        model_kwargs: dict[str, Any] | None = None,
        importance: bool = False,
        resample: bool = True,
    ) -> None:
        self.opponent: WhiteBoxOpponent | OpponentModel = opponent_handle(opponent, opponent_policy, model_kwargs)
        self.inner_steps = _positive_int("inner_steps", inner_steps)
        self.outer_steps = _positive_int("outer_steps", outer_steps)
        weights = {"prox": prox, "prox_inner": prox if prox_inner is None else prox_inner,
                   "prox_outer": prox if prox_outer is None else prox_outer}
        for name, w in weights.items():
            if not float(w) >= 0.0 or w == float("inf"):  # also rejects NaN
                raise ValueError(f"POLA's {name} must be a finite number >= 0, got {w!r}")
        self.prox_inner, self.prox_outer = float(weights["prox_inner"]), float(weights["prox_outer"])
        self.base = base
        self.eta = base.lr if eta is None else float(eta)
        if not self.eta >= 0.0:
            raise ValueError(f"POLA's eta must be >= 0, got {eta!r}")
        self.importance = bool(importance)
        self.resample = bool(resample)
        if self.resample and self.importance:
            raise ValueError("POLA's resample and importance options exclude each other (fresh episodes need no weights)")
        #: set by whoever can play episodes (the training engine) when ``resample`` is on
        self.sampler: Sampler | None = None
        self.name = "POLA-DiCE" if opponent == "white-box" else "POLA-OM"
        self.last_metrics: dict[str, float] = {}

    def gradient(self, episodes: Episodes, seat: int) -> Params:
        """The POLA direction of seat ``seat``, estimated from ``episodes``."""
        batch = SeatBatch.from_episodes(episodes, seat)
        if self.resample and self.sampler is None:
            raise ValueError("POLA-DiCE with resample=True needs a sampler of fresh episodes (the training engine sets one)")
        self.last_metrics = self.opponent.observe(batch.opp_observations, batch.opp_actions)
        baselines = self.base.dice_baselines(batch)
        grad = pola_dice_gradient(
            self.base.policy, params_of(self.base.policy), self.opponent.policy, self.opponent.parameters(), batch,
            self.base.gamma, self.eta, self.base.lr, self.inner_steps, self.outer_steps, self.prox_inner,
            self.prox_outer, baselines, self.importance, self.sampler if self.resample else None, seat,
        )
        self.base.fit_critic(batch)  # after the baselines were read
        self.last_metrics.update(self.base.last_metrics)
        return grad

