"""Advantage Alignment (Duque, Aghajohari, Cooijmans, Ciuca, Zhang, Gidel, Courville, 2024) from samples.

Opponent shaping without differentiating through the opponent's learning step: the policy-gradient
weight of each own action gets a term that is positive when the agent's *past* advantages and the
opponent's *present* advantage agree in sign — reward the opponent for what helped me, punish it
for what hurt me, which is reciprocity.  For agent 1 at step t (advantages ``A_i``, discount γ):

    aligned_t = A1_t + β · (Σ_{k<t} γ^{t−k} A1_k) · A2_t
    ∇θ1 J ≈ E[ Σ_t γ^t aligned_t ∇θ1 log π1(a_t | h_t) ]

(the paper's constant factors are folded into β).  Advantages here are Monte-Carlo: discounted
return-to-go minus the leave-one-out mean over the batch's other episodes at the same step — no
critic needed in the iterated matrix games; with β = 0 the rule is REINFORCE with that baseline.
The learner wraps a :class:`~lola_zoo.agents.naive.PolicyGradient` (its policy, optimiser, γ) and
needs the opponent's rewards, which every batched episode carries.
"""

from __future__ import annotations

import torch

from lola_zoo.agents.dice import leave_one_out_baseline
from lola_zoo.agents.naive import (
    Params,
    PolicyGradient,
    SeatBatch,
    WrappedLearner,
    episode_mean,
    grads_of,
    params_of,
    returns_to_go,
    trajectory_log_probs,
)
from lola_zoo.envs.batched import Episodes

__all__ = ["monte_carlo_advantages", "aligned_advantages", "AdvantageAlignment"]


def monte_carlo_advantages(rewards: torch.Tensor, gamma: float) -> torch.Tensor:
    """``G_t − b_t`` ``(*batch, episodes, T)``: return-to-go minus its leave-one-out mean over the other episodes."""
    g = returns_to_go(rewards, gamma)
    return g - leave_one_out_baseline(g) if g.dim() >= 2 else g


def aligned_advantages(own: torch.Tensor, opponent: torch.Tensor, gamma: float, beta: float) -> torch.Tensor:
    """``A1_t + β (Σ_{k<t} γ^{t−k} A1_k) A2_t`` along the last (time) dimension."""
    past = torch.zeros_like(own[..., 0])
    out = torch.empty_like(own)
    for t in range(own.shape[-1]):
        out[..., t] = own[..., t] + beta * past * opponent[..., t]
        past = gamma * (past + own[..., t])  # becomes Σ_{k<=t} γ^{t+1−k} A1_k for step t + 1
    return out


class AdvantageAlignment(WrappedLearner):
    """AA-PG: policy gradient on aligned Monte-Carlo advantages (see the module docstring).

    :param base: the naive learner whose policy, γ and optimiser are used.
    :param beta: weight of the alignment term (0: plain REINFORCE with a leave-one-out baseline).
    """

    label = "AA-PG"

    def __init__(self, base: PolicyGradient, beta: float = 1.0) -> None:
        if not float(beta) >= 0.0:  # also rejects NaN
            raise ValueError(f"Advantage Alignment's beta must be >= 0, got {beta!r}")
        self.base, self.beta = base, float(beta)
        self.last_metrics: dict[str, float] = {}

    def gradient(self, episodes: Episodes, seat: int) -> Params:
        """The Advantage Alignment gradient of seat ``seat``, estimated from ``episodes``."""
        b = SeatBatch.from_episodes(episodes, seat)
        gamma = self.base.gamma
        own = monte_carlo_advantages(b.own_rewards, gamma)
        opp = monte_carlo_advantages(b.opp_rewards, gamma)
        weights = aligned_advantages(own, opp, gamma, self.beta).detach()
        discount = gamma ** torch.arange(weights.shape[-1], dtype=weights.dtype, device=weights.device)
        params = params_of(self.base.policy)
        log_probs = trajectory_log_probs(self.base.policy, params, b.own_observations, b.own_actions)
        objective = episode_mean((discount * weights * log_probs).sum(-1))
        self.last_metrics = {"alignment_share": float((weights - own).abs().mean() / own.abs().mean().clamp_min(1e-12))}
        return grads_of(objective, params)

