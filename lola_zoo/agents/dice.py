"""DiCE: the infinitely differentiable Monte-Carlo estimator (Foerster et al. 2018, ICML).

The *magic box* ``box(x) = exp(x - stop_grad(x))`` evaluates to 1 but has derivative
``box(x) * dx``, so the surrogate

    L = sum_t gamma^t r_t * box(sum_{k<=t} log pi(a_k))                       (DiCE, Eq. 5)

has the expected discounted return as its value and, under differentiation of *any* order, gives
unbiased estimates of the derivatives of that return — including the mixed second derivatives
``d/dtheta_1 d/dtheta_2 V`` LOLA needs.  The baseline term

    sum_t (1 - box(log pi(a_t))) b_t                                          (DiCE, Sec. 4)

is zero in value and in expectation of every derivative when ``b_t`` does not depend on the
actions at step t, and cuts the variance of the first-order term.  ``log pi(a_t)`` is the sum over
*all* stochastic nodes at step t — both agents' actions.
"""

from __future__ import annotations

from typing import Sequence

import torch

__all__ = ["magic_box", "discounts", "reward_to_go", "leave_one_out_baseline", "dice_objective"]


def magic_box(x: torch.Tensor) -> torch.Tensor:
    """``exp(x - stop_grad(x))``: value 1, derivative ``box(x) * dx`` (DiCE, Eq. 4)."""
    return torch.exp(x - x.detach())


def discounts(n_steps: int, gamma: float, like: torch.Tensor) -> torch.Tensor:
    """``gamma^t`` for ``t = 0..n_steps-1`` with the dtype/device of ``like``."""
    return gamma ** torch.arange(n_steps, dtype=like.dtype, device=like.device)


def reward_to_go(discounted_rewards: torch.Tensor) -> torch.Tensor:
    """``G_t = sum_{k>=t} x_k`` along the last (time) dimension."""
    return discounted_rewards.flip(-1).cumsum(-1).flip(-1)


def leave_one_out_baseline(returns: torch.Tensor, episode_dim: int = -2) -> torch.Tensor:
    """Mean of ``returns`` over the *other* episodes of the batch, per time step.

    Leaving the episode itself out keeps the baseline independent of its own actions, so the
    estimator stays exactly unbiased even for small batches.
    """
    n = returns.shape[episode_dim]
    if n < 2:
        return torch.zeros_like(returns)
    total = returns.sum(dim=episode_dim, keepdim=True)
    return (total - returns) / (n - 1)


def dice_objective(
    rewards: torch.Tensor,
    log_probs: Sequence[torch.Tensor],
    gamma: float,
    baseline: torch.Tensor | bool | None = True,
    loaded: bool = True,
    behaviour: Sequence[torch.Tensor] | None = None,
) -> torch.Tensor:
    """Per-episode DiCE surrogate ``(*batch,)`` of the discounted return; differentiate it any order.

    :param rewards: ``(*batch, T)`` rewards of the player whose return is estimated.
    :param log_probs: every stochastic node's ``log pi(a_t)``, each ``(*batch, T)`` (both agents).
    :param gamma: discount; the first step is undiscounted, as in the exact value.
    :param baseline: ``True``: leave-one-out mean of the discounted reward-to-go over the
        episodes (the last batch dimension, ``dim=-2`` of ``(*batch, T)``); a tensor ``(*batch, T)``:
        a given baseline ``b_t`` (already discounted); ``False``/``None``: none.
    :param loaded: apply the baseline as ``-sum_t b_t (box(W_t) - box(W_{t-1}))`` (Farquhar et al.
        2019, "Loaded DiCE"), which also reduces the variance of second derivatives; ``False`` uses
        the DiCE paper's ``sum_t (1 - box(log pi(a_t))) b_t``.  Both are unbiased.
    :param behaviour: the log-probabilities the episodes were *sampled* with (one per stochastic
        node, like ``log_probs``); ``None``: ``log_probs`` themselves.  Given, the magic box becomes
        the per-decision importance weight ``exp(W_t - stop_grad(W^b_t))``, so the surrogate is an
        unbiased estimate of the return (and of its derivatives of any order) at parameters other
        than the sampling ones — what a proximal inner loop on one batch needs (POLA-DiCE).  At the
        sampling parameters it equals the plain DiCE surrogate in value and in every derivative.
    """
    if not log_probs:
        raise ValueError("dice_objective needs at least one log-probability tensor")
    step_log_prob = log_probs[0]
    for lp in log_probs[1:]:
        step_log_prob = step_log_prob + lp
    if step_log_prob.shape != rewards.shape:
        raise ValueError(
            f"log-probabilities {tuple(step_log_prob.shape)} and rewards {tuple(rewards.shape)} must match"
        )
    discounted = rewards * discounts(rewards.shape[-1], gamma, rewards)
    dependencies = step_log_prob.cumsum(-1)
    if behaviour is None:
        boxes = magic_box(dependencies)
    else:
        if len(behaviour) != len(log_probs):
            raise ValueError(f"behaviour needs one log-probability tensor per stochastic node ({len(log_probs)}), "
                             f"got {len(behaviour)}")
        sampled = torch.stack([b.detach() for b in behaviour]).sum(0).cumsum(-1)
        boxes = torch.exp(dependencies - sampled)
    objective = (discounted * boxes).sum(-1)
    if baseline is True:
        baseline = leave_one_out_baseline(reward_to_go(discounted)) if rewards.dim() >= 2 else None
    if isinstance(baseline, torch.Tensor):
        if loaded:
            # -sum_t b_t (box(W_t) - box(W_{t-1})): the baseline acts at every order of derivative
            # (and, importance-weighted, is still zero in expectation: E[w_t | past] = w_{t-1}).
            previous = torch.cat([torch.ones_like(boxes[..., :1]), boxes[..., :-1]], dim=-1)
            objective = objective - (baseline.detach() * (boxes - previous)).sum(-1)
        else:
            if behaviour is not None:
                raise ValueError("importance-weighted DiCE (behaviour=...) supports the loaded baseline only")
            objective = objective + ((1.0 - magic_box(step_log_prob)) * baseline.detach()).sum(-1)
    return objective
