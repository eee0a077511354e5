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

from typing import Any, Literal

import torch
from torch import nn

from lola_zoo.agents.dice import dice_objective
from lola_zoo.agents.naive import Params, PolicyGradient, SeatBatch, episode_mean, params_of, trajectory_log_probs
from lola_zoo.agents.opponent_model import OpponentModel, WhiteBoxOpponent
from lola_zoo.envs.batched import Episodes

__all__ = ["lola_gradient", "LOLA", "OpponentMode", "CorrectionForm"]

OpponentMode = Literal["white-box", "black-box"]
CorrectionForm = Literal["taylor", "lookahead"]


def _grad(output: torch.Tensor, params: Params, create_graph: bool = False) -> Params:
    grads = torch.autograd.grad(
        output, list(params.values()), create_graph=create_graph, retain_graph=True, allow_unused=True
    )
    return {k: torch.zeros_like(v) if g is None else g for (k, v), g in zip(params.items(), grads)}


def lola_gradient(
    own_policy: nn.Module,
    own_params: Params,
    opp_policy: nn.Module,
    opp_params: Params,
    batch: SeatBatch,
    gamma: float,
    eta: float,
    correction: CorrectionForm = "taylor",
    baseline: bool = True,
) -> tuple[Params, Params]:
    """``(naive_gradient, lola_correction)`` of the own return, both estimated with DiCE on ``batch``.

    For ``correction="lookahead"`` the second item is the whole lookahead gradient minus the naive one,
    so their sum is always the LOLA gradient.
    """
    own_lp = trajectory_log_probs(own_policy, own_params, batch.own_observations, batch.own_actions)
    opp_lp = trajectory_log_probs(opp_policy, opp_params, batch.opp_observations, batch.opp_actions)
    own_value = episode_mean(dice_objective(batch.own_rewards, [own_lp, opp_lp], gamma, baseline))
    opp_value = episode_mean(dice_objective(batch.opp_rewards, [own_lp, opp_lp], gamma, baseline))
    naive = _grad(own_value, own_params)
    # The opponent's anticipated naive step, kept in the graph so it is a function of theta_1.
    opp_step = {k: eta * g for k, g in _grad(opp_value, opp_params, create_graph=True).items()}
    if correction == "taylor":
        own_grad_opp = _grad(own_value, opp_params)  # grad_theta_2 V_1, held fixed (stop_grad)
        shaped = sum((own_grad_opp[k].detach() * opp_step[k]).sum() for k in opp_params)
        return naive, _grad(shaped, own_params)  # type: ignore[arg-type]
    if correction == "lookahead":
        stepped = {k: opp_params[k] + opp_step[k] for k in opp_params}
        opp_lp_new = trajectory_log_probs(opp_policy, stepped, batch.opp_observations, batch.opp_actions)
        ahead = episode_mean(dice_objective(batch.own_rewards, [own_lp, opp_lp_new], gamma, baseline))
        full = _grad(ahead, own_params)
        return naive, {k: full[k] - naive[k] for k in naive}
    raise ValueError(f"correction must be 'taylor' or 'lookahead', got {correction!r}")


class LOLA:
    """LOLA-PG (white-box) or LOLA-OM (black-box): a base learner plus the opponent-shaping term.

    :param base: the base learner; its policy, gamma, baseline and optimiser are used.
    :param opponent_policy: white-box: the opponent's policy module (read, never written);
        black-box: only its *architecture* is used, to build the opponent model.
    :param opponent: ``"white-box"`` (the paper's LOLA) or ``"black-box"`` (LOLA-OM).
    :param eta: the opponent's anticipated learning rate (the paper: equal to the lr, 1); defaults
        to the base learner's lr.
    :param correction: ``"taylor"`` (the paper's first-order form) or ``"lookahead"`` (LOLA-DiCE).
    :param model_kwargs: keyword arguments of :class:`OpponentModel` in black-box mode.
    """

    def __init__(
        self,
        base: PolicyGradient,
        opponent_policy: nn.Module,
        opponent: OpponentMode = "white-box",
        eta: float | None = None,
        correction: CorrectionForm = "taylor",
        model_kwargs: dict[str, Any] | None = None,
    ) -> None:
        if opponent == "white-box":
            self.opponent: WhiteBoxOpponent | OpponentModel = WhiteBoxOpponent(opponent_policy)
        elif opponent == "black-box":
            self.opponent = OpponentModel(opponent_policy, **(model_kwargs or {}))
        else:
            raise ValueError(f"opponent must be 'white-box' or 'black-box', got {opponent!r}")
        if correction not in ("taylor", "lookahead"):
            raise ValueError(f"correction must be 'taylor' or 'lookahead', got {correction!r}")
        self.base = base
        self.eta = base.lr if eta is None else float(eta)
        self.correction = correction
        self.name = "LOLA-PG" if opponent == "white-box" else "LOLA-OM"

    @property
    def policy(self) -> nn.Module:
        """The learner's own policy (the base learner's)."""
        return self.base.policy

    def gradient(self, episodes: Episodes, seat: int) -> Params:
        """Naive gradient plus the LOLA correction, estimated from ``episodes`` for seat ``seat``."""
        batch = SeatBatch.from_episodes(episodes, seat)
        self.last_metrics = self.opponent.observe(batch.opp_observations, batch.opp_actions)
        naive, correction = lola_gradient(
            self.base.policy, params_of(self.base.policy), self.opponent.policy, self.opponent.parameters(),
            batch, self.base.gamma, self.eta, self.correction, self.base.baseline,
        )
        self.last_metrics["correction_norm"] = float(
            torch.sqrt(sum((c.double() ** 2).sum() for c in correction.values()))
        )
        return {k: naive[k] + correction[k] for k in naive}

    def apply(self, gradient: Params) -> None:
        """Step the base learner along ``gradient``."""
        self.base.apply(gradient)

    def update(self, episodes: Episodes, seat: int) -> dict[str, float]:
        """Compute the LOLA gradient on ``episodes`` and apply it."""
        grad = self.gradient(episodes, seat)
        self.apply(grad)
        return {"grad_norm": float(torch.sqrt(sum((g.double() ** 2).sum() for g in grad.values()))), **self.last_metrics}

    def state_dict(self) -> dict[str, Any]:
        """The base learner's state and the opponent model's."""
        return {"base": self.base.state_dict(), "opponent": self.opponent.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.base.load_state_dict(state["base"])
        self.opponent.load_state_dict(state["opponent"])
