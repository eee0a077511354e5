"""Closed-form, differentiable discounted values of memory-1 policies in iterated matrix games.

For memory-1 policies ``pi_i(a | s)`` the joint-action chain has a start distribution ``p0`` and a
transition matrix ``P`` over joint actions; the expected discounted return of player i is

    V_i = p0^T (I - gamma P)^{-1} r_i                      (Foerster et al. 2018, Sec. 3.2)

where ``r_i`` is player i's payoff per joint action and the first round's reward is not
discounted.  Everything is batched: B independent policy profiles in one ``torch.linalg.solve``,
and differentiable twice (LOLA needs second derivatives).
"""

from __future__ import annotations

import functools
from typing import Literal, Sequence

import torch

from lola_zoo.envs.games import MatrixGame
from lola_zoo.envs.iterated import perspective_tables

__all__ = [
    "policy_probs",
    "joint_chain",
    "exact_value",
    "exact_value_per_step",
    "payoff_matrix",
]

PolicyKind = Literal["logits", "probs"]


def _check_finite(name: str, x: torch.Tensor) -> None:
    if not torch.isfinite(x).all():
        bad = (~torch.isfinite(x)).nonzero()[0].tolist()
        raise ValueError(f"{name} must be finite; found {x[tuple(bad)].item()} at index {tuple(bad)}")


def _check_gamma(gamma: object) -> None:
    """A discount: one real number in (0, 1) (a 0-d tensor too); text, None, bools and batches are refused by name."""
    number = gamma.item() if isinstance(gamma, torch.Tensor) and gamma.numel() == 1 else gamma
    if isinstance(number, bool) or not isinstance(number, (int, float)) and not hasattr(number, "__float__"):
        raise TypeError(f"gamma must be a number in (0, 1), got {type(gamma).__name__} {gamma!r}")
    if isinstance(number, torch.Tensor):  # a tensor left here has several values
        raise ValueError(f"gamma must be one number in (0, 1), got {gamma!r}")
    if not 0.0 < float(number) < 1.0:
        raise ValueError(f"gamma must lie in (0, 1), got {gamma!r}")


def policy_probs(
    params: torch.Tensor, n_actions: int, n_states: int, kind: PolicyKind = "logits", name: str = "policy"
) -> torch.Tensor:
    """Action probabilities ``(B, n_states, n_actions)`` of a memory-1 policy.

    Two forms are accepted.  ``(B, n_states, n_actions)``: logits (softmax) or probabilities.
    ``(B, n_states)`` for two-action games only: the paper's form, one logit (sigmoid) or one
    probability per state for the *first* action (cooperate / heads).  A single profile may drop
    the batch dimension.
    """
    if not isinstance(params, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(params).__name__}")
    if kind not in ("logits", "probs"):
        raise ValueError(f"kind must be 'logits' or 'probs', got {kind!r}")
    if not params.is_floating_point():
        params = params.to(torch.get_default_dtype())
    _check_finite(name, params)
    if n_actions == 2 and params.dim() in (1, 2) and params.shape[-1] == n_states:
        p = params.unsqueeze(0) if params.dim() == 1 else params
        first = torch.sigmoid(p) if kind == "logits" else p
        probs = torch.stack([first, 1.0 - first], dim=-1)
    elif params.dim() in (2, 3) and params.shape[-2:] == (n_states, n_actions):
        p = params.unsqueeze(0) if params.dim() == 2 else params
        probs = torch.softmax(p, dim=-1) if kind == "logits" else p
    else:
        expected = f"(B, {n_states}, {n_actions})"
        if n_actions == 2:
            expected += f" or (B, {n_states})"
        raise ValueError(f"{name} has shape {tuple(params.shape)}; expected {expected}")
    if kind == "probs":
        if (probs < 0).any() or (probs > 1).any():
            raise ValueError(f"{name}: probabilities must lie in [0, 1]")
        if not torch.allclose(probs.sum(-1), torch.ones((), dtype=probs.dtype), atol=1e-5):
            raise ValueError(f"{name}: probabilities of each state must sum to 1")
    return probs


def joint_chain(
    game: MatrixGame, policies: Sequence[torch.Tensor], kind: PolicyKind = "logits"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Start distribution ``p0 (B, K)`` and transition matrix ``P (B, K, K)`` over joint actions.

    ``policies[i]`` is player i's memory-1 policy indexed by states from *its own* perspective.
    """
    if len(policies) != game.n_players:
        raise ValueError(f"{game.name}: expected {game.n_players} policies, got {len(policies)}")
    probs = [
        policy_probs(p, n, game.n_states, kind, name=f"policy of player_{i}")
        for i, (p, n) in enumerate(zip(policies, game.n_actions))
    ]
    batch = max(p.shape[0] for p in probs)
    if any(p.shape[0] not in (1, batch) for p in probs):
        raise ValueError(f"policy batch sizes {[p.shape[0] for p in probs]} differ (one of them may be 1)")
    joint = None
    for i, (p, rows) in enumerate(zip(probs, _state_rows(game))):
        per_state = p.expand(batch, -1, -1)[:, rows, :]  # (B, K+1, n_i)
        joint = per_state if joint is None else (joint.unsqueeze(-1) * per_state.unsqueeze(-2)).flatten(-2)
    assert joint is not None
    return joint[:, 0, :], joint[:, 1:, :]


@functools.lru_cache(maxsize=64)
def _state_rows(game: MatrixGame) -> tuple[torch.Tensor, ...]:
    """Per player, the state index it observes in each chain row (start, then joint actions in seat order).

    Player i reads the same joint action through its own permutation of the state index.
    """
    tables = torch.as_tensor(perspective_tables(game), dtype=torch.long)
    return tuple(torch.cat([torch.zeros(1, dtype=torch.long), row]) for row in tables)


def exact_value(
    game: MatrixGame,
    policies: Sequence[torch.Tensor],
    gamma: float,
    kind: PolicyKind = "logits",
) -> torch.Tensor:
    """Discounted values ``V (B, N)`` with ``V_i = p0^T (I - gamma P)^{-1} r_i`` (unnormalised)."""
    if not isinstance(game, MatrixGame):
        raise TypeError(f"game must be a MatrixGame (lola_zoo.game(id) gives a registered one), got "
                        f"{type(game).__name__} {game!r}")
    _check_gamma(gamma)
    p0, P = joint_chain(game, policies, kind)
    K = game.n_joint
    eye = torch.eye(K, dtype=P.dtype, device=P.device)
    # Solve (I - gamma P)^T x = p0 once, then V_i = x . r_i for every player.
    x = torch.linalg.solve((eye - gamma * P).transpose(-1, -2), p0.unsqueeze(-1)).squeeze(-1)
    return x @ payoff_matrix(game, P.dtype, P.device).T


@functools.lru_cache(maxsize=64)
def payoff_matrix(game: MatrixGame, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Payoffs as a ``(N, K)`` tensor over flat joint actions, built once per game/dtype/device."""
    return torch.tensor(game.payoffs.reshape(game.n_players, game.n_joint), dtype=dtype, device=device)


def exact_value_per_step(
    game: MatrixGame,
    policies: Sequence[torch.Tensor],
    gamma: float,
    kind: PolicyKind = "logits",
) -> torch.Tensor:
    """Normalised values ``(1 - gamma) V``: the discounted average reward per step."""
    return (1.0 - gamma) * exact_value(game, policies, gamma, kind)
