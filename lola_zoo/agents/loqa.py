"""LOQA — learning with opponent Q-learning awareness (Aghajohari, Duque, Cooijmans, Courville, ICLR 2024), from samples.

LOQA shapes the opponent without differentiating through its learning step.  It *assumes* the
opponent acts by a softmax over its action values, ``π̂2(a | s) ∝ exp(Q2(s, a) / τ)``, and notes that
``Q2`` depends on the agent's own policy (its future actions are part of the opponent's return).
The agent's actor-critic update then also pushes up the modelled probability of the opponent's
actions that were good *for the agent*:

    ∇θ1 J ≈ E[ Σ_t γ^t A1_t ( ∇θ1 log π1(a1_t | h_t) + ∇θ1 log π̂2(a2_t | h_t) ) ]

With the taken action's ``Q2`` as the only term through which ``θ1`` acts (the paper's choice: the
other actions' values come from a critic and are held fixed), ``∇θ1 log π̂2(a2_t) =
(1 − π̂2(a2_t)) ∇θ1 Q2(h_t, a2_t) / τ``, and REINFORCE gives
``∇θ1 Q2(h_t, a2_t) ≈ Σ_{j≥t} γ^{j−t} A2_j ∇θ1 log π1(a1_j | h_j)`` (``j = t`` included: the
opponent's action value averages over the agent's simultaneous action).

Our choices, stated in ``docs/algorithms/loqa.md``: advantages are Monte-Carlo returns-to-go minus
the leave-one-out mean over the batch (no learned critic, as in
:mod:`~lola_zoo.agents.advantage_alignment`); ``π̂2(a2_t)`` is read from the opponent's policy
(white-box — exactly the value LOQA's softmax-of-Q assumption says it has) or from an opponent
model (black-box); the paper's replay buffer of past opponents and self-play are not part of
the learner.  ``scale`` is ``1/τ``; with ``scale = 0`` LOQA is NL-PG with the same baseline.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from lola_zoo.agents.advantage_alignment import monte_carlo_advantages
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

__all__ = ["discounted_future_sum", "loqa_surrogate", "LOQA"]


def discounted_future_sum(x: torch.Tensor, gamma: float) -> torch.Tensor:
    """``Σ_{j≥t} γ^{j−t} x_j`` along the last (time) dimension, differentiable in ``x``."""
    running = torch.zeros_like(x[..., 0])
    out = []
    for t in range(x.shape[-1] - 1, -1, -1):
        running = x[..., t] + gamma * running
        out.append(running)
    return torch.stack(out[::-1], dim=-1)


def loqa_surrogate(
    own_log_probs: torch.Tensor,
    own_advantages: torch.Tensor,
    opp_advantages: torch.Tensor,
    opp_action_probs: torch.Tensor,
    gamma: float,
    scale: float,
) -> torch.Tensor:
    """Per-episode surrogate ``(*batch,)`` whose gradient in the own log-probabilities is LOQA's.

    ``own_log_probs`` ``(*batch, T)`` carries the graph; advantages and ``π̂2(a2_t)`` are held fixed.
    """
    own_adv, opp_adv = own_advantages.detach(), opp_advantages.detach()
    q2_surrogate = discounted_future_sum(own_log_probs * opp_adv, gamma)  # its gradient: ∇θ1 Q2(h_t, a2_t)
    log_pi2_hat = scale * (1.0 - opp_action_probs.detach()) * q2_surrogate
    discount = gamma ** torch.arange(own_adv.shape[-1], dtype=own_adv.dtype, device=own_adv.device)
    return (discount * own_adv * (own_log_probs + log_pi2_hat)).sum(-1)


class LOQA(WrappedLearner):
    """LOQA-PG: the policy gradient plus LOQA's opponent-Q shaping term (see the module docstring).

    :param base: the naive learner whose policy, γ and optimiser are used.
    :param opponent_policy: white-box: the opponent's policy (only its action probabilities are
        read); black-box: only its architecture, for an opponent model.
    :param scale: ``1/τ``, the inverse temperature of the modelled opponent softmax (0: NL-PG).
    :param opponent: ``"white-box"`` or ``"black-box"``.
    :param model_kwargs: keyword arguments of :class:`OpponentModel` (black-box).
    """

    label = "LOQA-PG"

    def __init__(self, base: PolicyGradient, opponent_policy: nn.Module, scale: float = 1.0,
                 opponent: str = "white-box", model_kwargs: dict[str, Any] | None = None) -> None:
        if not float(scale) >= 0.0 or scale == float("inf"):  # also rejects NaN
            raise ValueError(f"LOQA's scale (1/temperature) must be a finite number >= 0, got {scale!r}")
        self.opponent: WhiteBoxOpponent | OpponentModel = opponent_handle(opponent, opponent_policy, model_kwargs)
        self.base, self.scale = base, float(scale)
        self.last_metrics: dict[str, float] = {}

    def gradient(self, episodes: Episodes, seat: int) -> Params:
        """The LOQA gradient of seat ``seat``, estimated from ``episodes``."""
        b = SeatBatch.from_episodes(episodes, seat)
        self.last_metrics = self.opponent.observe(b.opp_observations, b.opp_actions)
        gamma = self.base.gamma
        own_adv = monte_carlo_advantages(b.own_rewards, gamma)
        opp_adv = monte_carlo_advantages(b.opp_rewards, gamma)
        with torch.no_grad():
            opp_probs = trajectory_log_probs(self.opponent.policy, self.opponent.parameters(),
                                             b.opp_observations, b.opp_actions).exp()
        params = params_of(self.base.policy)
        log_probs = trajectory_log_probs(self.base.policy, params, b.own_observations, b.own_actions)
        objective = episode_mean(loqa_surrogate(log_probs, own_adv, opp_adv, opp_probs, gamma, self.scale))
        return grads_of(objective, params)

