"""LOLA-PG: learning with opponent-learning awareness from sampled episodes, via DiCE.

LOLA (Foerster et al. 2018, Eq. 4.2) adds to the naive gradient the effect of one's own parameters
on the opponent's anticipated naive step ``Delta theta_2 = eta * grad_theta_2 V_2``:

    lola_correction = grad_theta_1 [ stop_grad(grad_theta_2 V_1) . Delta theta_2(theta_1, theta_2) ]
                    = eta * (grad_theta_1 grad_theta_2 V_2)^T grad_theta_2 V_1

(the first-order Taylor term of ``V_1(theta_1, theta_2 + Delta theta_2)``; the reference code's form).
Here every term is estimated from the *same sampled episodes* with the DiCE surrogate
(:mod:`lola_zoo.agents.dice`): the opponent's step is computed inside the autograd graph with
``create_graph=True`` and the agent differentiates through it.  ``correction="lookahead"`` instead
differentiates the agent's surrogate evaluated at the stepped parameters,
``grad_theta_1 V_1(theta_1, theta_2 + Delta theta_2(theta_1))`` (the LOLA-DiCE form of the DiCE paper).

:class:`LOLA` wraps any base learner (:class:`~lola_zoo.agents.naive.PolicyGradient`) and an
opponent handle: ``opponent="white-box"`` reads the opponent's parameters, ``"black-box"``
(LOLA-OM) fits an :class:`~lola_zoo.agents.opponent_model.OpponentModel` to its observed actions.
"""

from __future__ import annotations

from typing import Any, Callable, Literal, Sequence, cast

import torch
from torch import nn

from lola_zoo.agents.dice import dice_objective
from lola_zoo.agents.naive import (
    Params,
    PolicyGradient,
    SeatBatch,
    episode_mean,
    grads_of,
    params_of,
    trajectory_log_probs,
)
from lola_zoo.agents.opponent_model import OpponentModel, WhiteBoxOpponent, opponent_handle
from lola_zoo.envs.batched import Episodes

__all__ = ["lola_gradient", "lola_gradient_n_player", "anticipated_params", "LOLA", "OpponentMode", "CorrectionForm", "StepNormalisation"]

OpponentMode = Literal["white-box", "black-box"]
CorrectionForm = Literal["taylor", "lookahead"]
StepNormalisation = Literal["none", "adam", "norm"]


def _grad(output: torch.Tensor, params: Params, create_graph: bool = False) -> Params:
    # the same surrogate is differentiated several times (naive gradient, opponent step, shaping term)
    return grads_of(output, params, create_graph, retain_graph=True)


def lola_gradient(
    own_policy: nn.Module,
    own_params: Params,
    opp_policy: nn.Module,
    opp_params: Params,
    batch: SeatBatch,
    gamma: float,
    eta: float,
    correction: CorrectionForm = "taylor",
    baseline: bool | tuple[bool | torch.Tensor, bool | torch.Tensor] = True,
    normalise_step: Callable[[Params], Params] | None = None,
    anticipate: Sequence[str] | None = None,
) -> tuple[Params, Params]:
    """``(naive_gradient, lola_correction)`` of the own return, both estimated with DiCE on ``batch``.

    For ``correction="lookahead"`` the second item is the whole lookahead gradient minus the naive one,
    so their sum is always the LOLA gradient.  ``baseline``: a flag (leave-one-out or none) or a pair of
    discounted baselines ``(own, opponent)`` ``(*batch, T)`` (a learned critic's).  ``normalise_step``
    maps the opponent's gradient (still in the graph) to the direction its anticipated step takes,
    e.g. divided by a *detached* Adam second moment; ``None``: the raw gradient (the paper's form).
    ``anticipate``: names (or name prefixes) of the opponent parameters whose learning step is
    anticipated; the others are held where they are. ``None``: every parameter (the paper's LOLA).
    """
    own_baseline, opp_baseline = baseline if isinstance(baseline, tuple) else (baseline, baseline)
    own_lp = trajectory_log_probs(own_policy, own_params, batch.own_observations, batch.own_actions)
    opp_lp = trajectory_log_probs(opp_policy, opp_params, batch.opp_observations, batch.opp_actions)
    own_value = episode_mean(dice_objective(batch.own_rewards, [own_lp, opp_lp], gamma, own_baseline))
    opp_value = episode_mean(dice_objective(batch.opp_rewards, [own_lp, opp_lp], gamma, opp_baseline))
    naive = _grad(own_value, own_params)
    stepped_params = anticipated_params(opp_params, anticipate)
    # The opponent's anticipated naive step, kept in the graph so it is a function of theta_1.
    opp_grad = _grad(opp_value, stepped_params, create_graph=True)
    if normalise_step is not None:
        opp_grad = normalise_step(opp_grad)
    opp_step = {k: eta * g for k, g in opp_grad.items()}
    if correction == "taylor":
        own_grad_opp = _grad(own_value, stepped_params)  # grad_theta_2 V_1, held fixed (stop_grad)
        shaped = sum((own_grad_opp[k].detach() * opp_step[k]).sum() for k in stepped_params)
        return naive, _grad(shaped, own_params)  # type: ignore[arg-type]
    if correction == "lookahead":
        stepped = {k: opp_params[k] + opp_step[k] if k in opp_step else opp_params[k] for k in opp_params}
        opp_lp_new = trajectory_log_probs(opp_policy, stepped, batch.opp_observations, batch.opp_actions)
        ahead = episode_mean(dice_objective(batch.own_rewards, [own_lp, opp_lp_new], gamma, own_baseline))
        full = _grad(ahead, own_params)
        return naive, {k: full[k] - naive[k] for k in naive}
    raise ValueError(f"correction must be 'taylor' or 'lookahead', got {correction!r}")


def lola_gradient_n_player(
    own_policy: nn.Module,
    own_params: Params,
    opponents: Sequence[tuple[nn.Module, Params]],
    episodes: Episodes,
    seat: int,
    gamma: float,
    eta: float,
    correction: CorrectionForm = "taylor",
    baseline: bool = True,
) -> tuple[Params, Params]:
    """``(naive_gradient, lola_correction)`` of seat ``seat`` in an N-player game: the correction summed over opponents.

    LOLA's derivation holds for any number of players (Foerster et al. 2018, Sec. 3): each opponent
    j is anticipated to take its naive step ``η ∇θj Vj``, and the shaping terms add up,
    ``Σ_j η ∇θ1 [stop(∇θj V1) · ∇θj Vj]`` (``"taylor"``); ``"lookahead"`` differentiates ``V1`` at
    every opponent's stepped parameters at once.  ``opponents`` are the other seats in seat order.
    With two players this is :func:`lola_gradient`.
    """
    n = episodes.actions.shape[-1]
    others = [j for j in range(n) if j != seat]
    if len(opponents) != len(others):
        raise ValueError(f"{n}-player episodes need {len(others)} opponents, got {len(opponents)}")
    obs, actions, rewards = episodes.observations, episodes.actions, episodes.rewards
    own_lp = trajectory_log_probs(own_policy, own_params, obs[seat], actions[..., seat])
    opp_lp = [trajectory_log_probs(p, q, obs[j], actions[..., j]) for (p, q), j in zip(opponents, others)]
    everyone = [own_lp, *opp_lp]
    own_value = episode_mean(dice_objective(rewards[..., seat], everyone, gamma, baseline))
    naive = _grad(own_value, own_params)
    steps = []
    for (_, q), j in zip(opponents, others):
        value_j = episode_mean(dice_objective(rewards[..., j], everyone, gamma, baseline))
        steps.append({k: eta * g for k, g in _grad(value_j, q, create_graph=True).items()})
    if correction == "taylor":
        shaped = sum(
            (_grad(own_value, q)[k].detach() * step[k]).sum() for (_, q), step in zip(opponents, steps) for k in q
        )
        return naive, _grad(shaped, own_params)  # type: ignore[arg-type]
    if correction == "lookahead":
        stepped = [trajectory_log_probs(p, {k: q[k] + step[k] for k in q}, obs[j], actions[..., j])
                   for (p, q), step, j in zip(opponents, steps, others)]
        ahead = episode_mean(dice_objective(rewards[..., seat], [own_lp, *stepped], gamma, baseline))
        full = _grad(ahead, own_params)
        return naive, {k: full[k] - naive[k] for k in naive}
    raise ValueError(f"correction must be 'taylor' or 'lookahead', got {correction!r}")


def anticipated_params(params: Params, anticipate: Sequence[str] | None) -> Params:
    """The parameters named by ``anticipate`` (exact names or prefixes; ``.`` and a stacked policy's ``__`` alike)."""
    if anticipate is None:
        return params
    wanted = [a.replace(".", "__") for a in anticipate]
    chosen = {k: v for k, v in params.items()
              if any(k.replace(".", "__") == w or k.replace(".", "__").startswith(w + "__") for w in wanted)}
    if not chosen:
        raise ValueError(f"anticipate={list(anticipate)} names none of the opponent's parameters {sorted(params)}")
    return chosen


class LOLA:
    """LOLA-PG (white-box) or LOLA-OM (black-box): a base learner plus the opponent-shaping term.

    :param base: the base learner; its policy, gamma, baseline and optimiser are used.
    :param opponent_policy: white-box: the opponent's policy module (read, never written), or in an
        N-player game a list of every other seat's, in seat order; black-box: only its
        *architecture* is used, to build the opponent model.
    :param opponent: ``"white-box"`` (the paper's LOLA) or ``"black-box"`` (LOLA-OM).
    :param eta: the opponent's anticipated learning rate (the paper: equal to the lr, 1); defaults
        to the base learner's lr.
    :param correction: ``"taylor"`` (the paper's first-order form) or ``"lookahead"`` (LOLA-DiCE).
    :param model_kwargs: keyword arguments of :class:`OpponentModel` in black-box mode.
    :param step_normalisation: how the anticipated opponent step ``eta * g`` is scaled, ``g`` the
        opponent's estimated naive gradient:

        * ``"none"`` (default, the paper's form): ``eta * g``, a raw gradient step;
        * ``"adam"``: ``eta * g / (sqrt(v_hat) + eps)``, ``v_hat`` a bias-corrected running mean of
          ``g**2`` (Adam's second moment, ``beta2``), kept by this learner from the gradients it
          estimates for the opponent; so ``eta`` is in the units of an Adam step (``eta = lr``: one
          step of the opponent's size, if the opponent is an Adam learner);
        * ``"norm"``: ``eta * g / ||g||``, the norm taken per seed (over all parameters but the
          leading runs dimension of a stacked policy); ``eta`` is then the step's length.

        The scale factor is held fixed (detached): it changes the step's size, not what is
        differentiated through.
    :param anticipate: names or name prefixes of the opponent's parameters whose learning LOLA
        anticipates (e.g. ``["skip", "head"]``: only the output layers); ``None`` (default): all of
        them, the paper's form. A smaller set trades the paper's full anticipated step for a
        lower-variance estimate of the shaping term.
    :param beta2: decay of the second-moment estimate (``"adam"``).
    :param eps: added to ``sqrt(v_hat)`` (``"adam"``) or to the norm (``"norm"``).
    """

    def __init__(
        self,
        base: PolicyGradient,
        opponent_policy: nn.Module | Sequence[nn.Module],
        opponent: OpponentMode = "white-box",
        eta: float | None = None,
        correction: CorrectionForm = "taylor",
        model_kwargs: dict[str, Any] | None = None,
        step_normalisation: StepNormalisation = "none",
        beta2: float = 0.999,
        eps: float = 1e-8,
        anticipate: Sequence[str] | None = None,
    ) -> None:
        #: N-player games: one white-box handle per other seat, in seat order (``opponent`` is the first)
        self.opponents: list[WhiteBoxOpponent] = []
        if isinstance(opponent_policy, (list, tuple)):
            if opponent != "white-box":
                raise ValueError("LOLA against several opponents is white-box only (an opponent model per seat is not built)")
            self.opponents = [WhiteBoxOpponent(p) for p in opponent_policy]
        first = cast(nn.Module, opponent_policy[0] if isinstance(opponent_policy, (list, tuple)) else opponent_policy)
        self.opponent: WhiteBoxOpponent | OpponentModel = opponent_handle(opponent, first, model_kwargs)
        if correction not in ("taylor", "lookahead"):
            raise ValueError(f"correction must be 'taylor' or 'lookahead', got {correction!r}")
        if step_normalisation not in ("none", "adam", "norm"):
            raise ValueError(f"step_normalisation must be 'none', 'adam' or 'norm', got {step_normalisation!r}")
        if not 0.0 <= beta2 < 1.0 or eps < 0:
            raise ValueError(f"beta2 must lie in [0, 1) and eps be non-negative, got {beta2!r}, {eps!r}")
        self.base = base
        self.eta = base.lr if eta is None else float(eta)
        self.correction = correction
        self.step_normalisation = step_normalisation
        self.beta2, self.eps = float(beta2), float(eps)
        self._second_moment: Params = {}
        self._moment_steps = 0
        self.name = "LOLA-PG" if opponent == "white-box" else "LOLA-OM"
        self.anticipate = None if anticipate is None else [str(a) for a in anticipate]
        if self.anticipate is not None:
            anticipated_params(dict(self.opponent.policy.named_parameters()), self.anticipate)  # names checked now

    def _normalise(self, grad: Params) -> Params:
        """The opponent gradient scaled as ``step_normalisation`` says (updates the second moment for "adam")."""
        if self.step_normalisation == "adam":
            self._moment_steps += 1
            for k, g in grad.items():
                g2 = g.detach() ** 2
                v = self._second_moment.get(k)
                self._second_moment[k] = (1 - self.beta2) * g2 if v is None else self.beta2 * v + (1 - self.beta2) * g2
            correction = 1.0 - self.beta2**self._moment_steps
            return {k: g / ((self._second_moment[k] / correction).sqrt() + self.eps) for k, g in grad.items()}
        if self.step_normalisation == "norm":
            runs = getattr(self.opponent.policy, "runs", None)
            squares = None
            for g in grad.values():
                d = g.detach() ** 2
                s = d.reshape(d.shape[0], -1).sum(-1) if runs is not None else d.sum()
                squares = s if squares is None else squares + s
            norm = squares.sqrt() + self.eps  # type: ignore[union-attr]
            out = {}
            for k, g in grad.items():
                scale = norm.reshape(-1, *([1] * (g.dim() - 1))) if runs is not None else norm
                out[k] = g / scale
            return out
        return grad

    @property
    def policy(self) -> nn.Module:
        """The learner's own policy (the base learner's)."""
        return self.base.policy

    def gradient(self, episodes: Episodes, seat: int) -> Params:
        """Naive gradient plus the LOLA correction, estimated from ``episodes`` for seat ``seat``."""
        if episodes.actions.shape[-1] > 2:
            return self._n_player_gradient(episodes, seat)
        batch = SeatBatch.from_episodes(episodes, seat)
        self.last_metrics = self.opponent.observe(batch.opp_observations, batch.opp_actions)
        # getattr: a base learner from before the critic option has no dice_baselines
        baselines = self.base.dice_baselines(batch) if hasattr(self.base, "dice_baselines") else self.base.baseline
        own_params = params_of(self.base.policy)
        naive, correction = lola_gradient(
            self.base.policy, own_params, self.opponent.policy, self.opponent.parameters(),
            batch, self.base.gamma, self.eta, self.correction,
            baselines,
            None if self.step_normalisation == "none" else self._normalise,
            self.anticipate,
        )
        self.last_metrics["correction_norm"] = float(
            torch.sqrt(cast(torch.Tensor, sum((c.double() ** 2).sum() for c in correction.values())))
        )
        grad = {k: naive[k] + correction[k] for k in naive}
        bonus = self.base.entropy_gradient(batch, own_params) if hasattr(self.base, "entropy_gradient") else None
        if bonus is not None:
            grad = {k: grad[k] + bonus[k] for k in grad}
        if hasattr(self.base, "fit_critic"):
            self.base.fit_critic(batch)  # after the baselines were read
            self.last_metrics.update(getattr(self.base, "last_metrics", {}))
        return grad

    def _n_player_gradient(self, episodes: Episodes, seat: int) -> Params:
        """The N-player form: white-box handles on every other seat, corrections summed."""
        n = episodes.actions.shape[-1]
        if len(self.opponents) != n - 1:
            raise ValueError(f"LOLA in a {n}-player game needs the policies of all {n - 1} opponents (white-box), "
                             f"got {len(self.opponents) or 1}")
        if self.step_normalisation != "none" or self.anticipate is not None or getattr(self.base, "critic", None) is not None:
            raise ValueError("N-player LOLA supports the paper's form only (no step_normalisation, anticipate or critic)")
        own_params = params_of(self.base.policy)
        naive, correction = lola_gradient_n_player(
            self.base.policy, own_params, [(o.policy, o.parameters()) for o in self.opponents], episodes, seat,
            self.base.gamma, self.eta, self.correction, self.base.baseline,
        )
        self.last_metrics = {"correction_norm": float(
            torch.sqrt(cast(torch.Tensor, sum((c.double() ** 2).sum() for c in correction.values()))))}
        return {k: naive[k] + correction[k] for k in naive}

    def apply(self, gradient: Params) -> None:
        """Step the base learner along ``gradient``."""
        self.base.apply(gradient)

    def update(self, episodes: Episodes, seat: int) -> dict[str, float]:
        """Compute the LOLA gradient on ``episodes`` and apply it."""
        grad = self.gradient(episodes, seat)
        self.apply(grad)
        return {"grad_norm": float(torch.sqrt(cast(torch.Tensor, sum((g.double() ** 2).sum() for g in grad.values())))),
                **self.last_metrics}

    def state_dict(self) -> dict[str, Any]:
        """The base learner's state and the opponent model's (and the step normaliser's, if any)."""
        state = {"base": self.base.state_dict(), "opponent": self.opponent.state_dict()}
        if self.step_normalisation == "adam":
            state["second_moment"] = {"v": dict(self._second_moment), "steps": self._moment_steps}
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.base.load_state_dict(state["base"])
        self.opponent.load_state_dict(state["opponent"])
        if "second_moment" in state:
            self._second_moment = dict(state["second_moment"]["v"])
            self._moment_steps = int(state["second_moment"]["steps"])
