"""POLA — proximal LOLA (Zhao, Lu, Grosse, Foerster, NeurIPS 2022) on exact values.

LOLA anticipates one *gradient* step of its opponent, and a gradient step depends on how the
policy is parameterised: reparameterise the same policies and LOLA learns something else.  POLA
replaces both players' steps with *proximal* steps in policy space, which do not:

* the opponent's anticipated step (inner loop): ``θ_j' = argmax_θ V_j(θ_i, θ) − β_in KL(π_θj ‖ π_θ)``,
  approximated by ``inner_steps`` gradient steps of size η from ``θ_j``;
* the player's own step (outer loop): ``θ_i' = argmax_θ V_i(θ, θ_j'(θ)) − β_out KL(π_θi ‖ π_θ)``,
  approximated by ``outer_steps`` gradient steps of size δ, differentiating through the inner loop.

KL is between the memory-1 policies, summed over the game's states (the paper's idealised POLA
measures it in policy space; summing over the memory-1 states is our choice for exact values).
With ``β = 0`` and one step each, POLA is exact LOLA (``δ ∇_i V_i(θ_i, θ_j + η ∇_j V_j)``), which
``tests/test_pola.py`` checks to 1e-12.

The rule fits :mod:`lola_zoo.agents.exact_rules`: its direction is the displacement of the outer
loop divided by δ, so the experiment's ``θ_i ← θ_i + δ · direction`` lands on ``θ_i'``.  The policy
parameterisation is read from the value function (``value_fn.logits_of``, set by
:func:`lola_zoo.experiments.exact.parameterised_value_fn`); plain logits otherwise.
"""

from __future__ import annotations

import functools
from typing import Callable

import torch
import torch.nn.functional as F

from lola_zoo.agents.exact_rules import Derivatives, Learner

__all__ = ["policy_kl", "pola_direction", "make_pola"]


def policy_kl(old_logits: torch.Tensor, new_logits: torch.Tensor) -> torch.Tensor:
    """``KL(π_old ‖ π_new)`` per seed, summed over states: ``(B, S)`` binary logits or ``(B, S, n)`` logits."""
    if old_logits.dim() == 2:  # P(first action) = sigmoid(logit); log(1 - p) = logsigmoid(-logit)
        p = torch.sigmoid(old_logits)
        kl = (p * (F.logsigmoid(old_logits) - F.logsigmoid(new_logits))
              + (1 - p) * (F.logsigmoid(-old_logits) - F.logsigmoid(-new_logits)))
        return kl.sum(-1)
    log_old, log_new = torch.log_softmax(old_logits, -1), torch.log_softmax(new_logits, -1)
    return (log_old.exp() * (log_old - log_new)).sum((-1, -2))


def _identity(params: torch.Tensor) -> torch.Tensor:
    return params


def pola_direction(
    d: Derivatives,
    i: int,
    eta: float = 1.0,
    lr: float = 1.0,
    inner_steps: int = 1,
    outer_steps: int = 1,
    prox_inner: float = 1.0,
    prox_outer: float = 1.0,
) -> torch.Tensor:
    """Player i's POLA direction: ``(θ_i' − θ_i) / lr`` after the proximal outer loop (see module docstring)."""
    logits_of: Callable[[torch.Tensor], torch.Tensor] = getattr(d.value_fn, "logits_of", _identity)
    start = [p.detach() for p in d.params]
    start_logits = [logits_of(p) for p in start]
    x = start[i]
    for _ in range(outer_steps):
        x = x.detach().requires_grad_(True)
        # Inner loop: every opponent's proximal step from where it stands, as a function of x.
        others = {j: start[j].detach().requires_grad_(True) for j in range(d.n_players) if j != i}
        for _ in range(inner_steps):
            params = [x if j == i else others[j] for j in range(d.n_players)]
            values = d.value_fn(params)
            stepped = {}
            for j, y in others.items():
                objective = values[:, j].sum() - prox_inner * policy_kl(start_logits[j], logits_of(y)).sum()
                (g,) = torch.autograd.grad(objective, y, create_graph=True)
                stepped[j] = y + eta * g
            others = stepped
        params = [x if j == i else others[j] for j in range(d.n_players)]
        objective = d.value_fn(params)[:, i].sum() - prox_outer * policy_kl(start_logits[i], logits_of(x)).sum()
        (g,) = torch.autograd.grad(objective, x)
        x = x.detach() + lr * g
    return (x - start[i]) / lr


def make_pola(
    eta: float = 1.0,
    lr: float = 1.0,
    inner_steps: int | float = 1,
    outer_steps: int | float = 1,
    prox_inner: float = 1.0,
    prox_outer: float = 1.0,
    **_: float,
) -> Learner:
    """A POLA :class:`~lola_zoo.agents.exact_rules.Learner` (unknown keywords, e.g. SOS's, are ignored)."""
    for name, steps in (("inner_steps", inner_steps), ("outer_steps", outer_steps)):
        if isinstance(steps, bool) or int(steps) != steps or steps < 1:
            raise ValueError(f"POLA's {name} must be a positive integer, got {steps!r}")
    for name, weight in (("prox_inner", prox_inner), ("prox_outer", prox_outer)):
        if not float(weight) >= 0.0:  # also rejects NaN
            raise ValueError(f"POLA's {name} must be >= 0, got {weight!r}")
    if not float(lr) > 0.0:
        raise ValueError(f"POLA's lr must be > 0 (its direction is divided by it), got {lr!r}")
    rule = functools.partial(pola_direction, eta=float(eta), lr=float(lr), inner_steps=int(inner_steps),
                             outer_steps=int(outer_steps), prox_inner=float(prox_inner), prox_outer=float(prox_outer))
    return Learner("pola", rule, (), False)
