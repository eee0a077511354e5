"""Torch policy modules the policy-gradient learners train, and the small interface they share.

A **policy module** is any ``torch.nn.Module`` with three methods (batch dimensions first):

* ``initial_state(batch_shape) -> hidden``: the recurrent state at the start of an episode
  (``None`` for memoryless policies such as the memory-1 table);
* ``step(observation, hidden) -> (log_probs, hidden)``: log-probabilities ``(*batch, n_actions)``
  of the next action given one observation ``(*batch, *obs_shape)`` — used to act;
* ``forward(observations, actions) -> log_probs``: ``log pi(a_t | history_t)`` of a whole batch of
  trajectories, ``observations (*batch, T, *obs_shape)``, ``actions (*batch, T)`` -> ``(*batch, T)``.
  A recurrent policy unrolls itself from ``initial_state`` here.

The learners evaluate ``forward`` through :func:`torch.func.functional_call` with substituted
parameters, which is how LOLA differentiates through the opponent's anticipated step.  Nothing
else is assumed, so the learners run unchanged on a recurrent Coin Game policy.

:class:`Memory1Policy` is the paper's tabular policy for iterated matrix games: one row of logits
per memory-1 state (start, then previous joint action from the agent's own perspective).  It can
hold ``runs`` independent copies of its table, so many seeds train as one batched tensor program.
"""

from __future__ import annotations

from typing import Any, Literal, Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Memory1Policy", "PolicyForm", "as_memory1_probs"]

PolicyForm = Literal["sigmoid", "softmax"]


class Memory1Policy(nn.Module):
    """Memory-1 tabular policy: logits per state, optionally ``runs`` independent tables.

    :param n_states: number of memory-1 states (``game.n_states``: 5 in a 2x2 game).
    :param n_actions: number of actions.
    :param form: ``"sigmoid"`` — the paper's one logit per state for P(action 0), two actions only;
        ``"softmax"`` — a row of ``n_actions`` logits per state.
    :param runs: if given, the table has a leading dimension of independent runs (seeds), and every
        observation tensor must have the same leading dimension.
    :param init_std: logits are drawn from N(0, init_std^2) (the reference code: N(0, 1)); 0 gives
        the uniform policy.
    :param generator: torch generator for the initial logits (reproducible seeds).
    :param logits: explicit initial logits, overriding the random draw.
    """

    def __init__(
        self,
        n_states: int = 5,
        n_actions: int = 2,
        form: PolicyForm = "sigmoid",
        runs: int | None = None,
        init_std: float = 1.0,
        generator: torch.Generator | None = None,
        logits: torch.Tensor | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        if form not in ("sigmoid", "softmax"):
            raise ValueError(f"form must be 'sigmoid' or 'softmax', got {form!r}")
        if form == "sigmoid" and n_actions != 2:
            raise ValueError(f"the sigmoid form needs exactly 2 actions, got n_actions={n_actions}")
        if n_states < 1 or n_actions < 1:
            raise ValueError(f"n_states and n_actions must be positive, got {n_states}, {n_actions}")
        if runs is not None and runs < 1:
            raise ValueError(f"runs must be positive or None, got {runs}")
        self.n_states, self.n_actions, self.form, self.runs = int(n_states), int(n_actions), form, runs
        shape = ((runs,) if runs is not None else ()) + (n_states,) + ((n_actions,) if form == "softmax" else ())
        if logits is None:
            logits = init_std * torch.randn(shape, generator=generator, dtype=dtype)
        else:
            logits = torch.as_tensor(logits, dtype=dtype).clone()
            if tuple(logits.shape) != shape:
                raise ValueError(f"logits must have shape {shape}, got {tuple(logits.shape)}")
        self.logits = nn.Parameter(logits)

    def log_probs_table(self) -> torch.Tensor:
        """Log-probabilities of every action in every state: ``(*runs, n_states, n_actions)``."""
        if self.form == "sigmoid":
            # log sigmoid(x) = -softplus(-x); F.logsigmoid was measured ~1000x slower on tiny
            # tensors with 2 intra-op threads (torch 2.13 CPU), so it is avoided here.
            return torch.stack([-F.softplus(-self.logits), -F.softplus(self.logits)], dim=-1)
        return torch.log_softmax(self.logits, dim=-1)

    def probs(self) -> torch.Tensor:
        """Action probabilities ``(*runs, n_states, n_actions)``."""
        return self.log_probs_table().exp()

    def _lookup(self, table: torch.Tensor, observations: torch.Tensor) -> torch.Tensor:
        states = observations.long()
        if states.numel() and (states.min() < 0 or states.max() >= self.n_states):
            raise ValueError(f"memory-1 states must lie in [0, {self.n_states - 1}]")
        if self.runs is None:
            return table[states]
        if states.dim() == 0 or states.shape[0] != self.runs:
            raise ValueError(
                f"this policy holds {self.runs} runs: observations need a leading dimension of {self.runs}, "
                f"got shape {tuple(states.shape)}"
            )
        flat = states.reshape(self.runs, -1, 1).expand(-1, -1, self.n_actions)
        return table.gather(1, flat).reshape(*states.shape, self.n_actions)

    def initial_state(self, batch_shape: Sequence[int]) -> None:
        """Memory-1 policies carry no recurrent state (the observation is the memory)."""
        return None

    def step(self, observation: torch.Tensor, hidden: Any = None) -> tuple[torch.Tensor, None]:
        """Log-probabilities ``(*batch, n_actions)`` for memory-1 states ``(*batch,)``."""
        return self._lookup(self.log_probs_table(), observation), None

    def forward(self, observations: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """``log pi(a_t | s_t)`` for states ``(*batch, T)`` and actions ``(*batch, T)``."""
        log_probs = self._lookup(self.log_probs_table(), observations)
        return log_probs.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)

    def log_prob(self, observations: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Alias of :meth:`forward`: log-probabilities of taken actions."""
        return self.forward(observations, actions)

    def sample(self, observations: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Sample one action per observation."""
        from lola_zoo.envs.batched import sample_actions

        with torch.no_grad():
            return sample_actions(self.step(observations)[0], generator)

    def extra_repr(self) -> str:
        return f"n_states={self.n_states}, n_actions={self.n_actions}, form={self.form!r}, runs={self.runs}"


def as_memory1_probs(probs: torch.Tensor | Sequence, runs: int | None = None) -> Memory1Policy:
    """A fixed :class:`Memory1Policy` with the given P(action | state) table (``(S,)`` = P(action 0))."""
    p = torch.as_tensor(probs, dtype=torch.float64)
    if p.dim() == 1:
        p = torch.stack([p, 1.0 - p], dim=-1)
    if (p < 0).any() or not torch.allclose(p.sum(-1), torch.ones((), dtype=p.dtype)):
        raise ValueError("probs must hold one probability distribution per state")
    logits = torch.log(p.clamp_min(1e-12)).float()  # log(0) -> a very negative, finite logit
    if runs is not None:
        logits = logits.expand(runs, *logits.shape).clone()
    policy = Memory1Policy(p.shape[0], p.shape[1], "softmax", runs=runs, logits=logits)
    policy.requires_grad_(False)
    return policy
