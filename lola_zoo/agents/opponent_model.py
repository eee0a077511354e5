"""Opponent handles for LOLA: white-box (the opponent's real parameters) or an opponent model (LOLA-OM).

LOLA shapes the opponent's *anticipated* learning step, so it needs the opponent's policy as a
function of parameters.  In white-box mode (the paper's default) that is the opponent's own
policy module.  In black-box mode (LOLA-OM, Foerster et al. 2018, Sec. 3.4) the agent never reads
the opponent's parameters: it keeps a model of the same architecture and fits it by maximum
likelihood to the opponent's actions it observed (``infos["joint_action"]`` in the env; the
opponent's column of the joint actions in a batch):

    phi_hat = argmax_phi sum_t log pi_phi(a^2_t | s^2_t)

Both handles answer the same two questions — ``policy`` (a module) and ``parameters()`` — so
:class:`~lola_zoo.agents.lola.LOLA` switches between them with one argument.
"""

from __future__ import annotations

import copy
from typing import Any, Literal, cast

import torch
from torch import nn

from lola_zoo.agents.policies import Memory1Policy

__all__ = ["WhiteBoxOpponent", "OpponentModel", "FitMethod", "opponent_handle"]

FitMethod = Literal["auto", "counts", "gradient"]


class WhiteBoxOpponent:
    """Direct access to the opponent's policy and its current parameters (the paper's LOLA).

    :param policy: the opponent's own policy module; its later updates are seen here too.
    """

    mode = "white-box"

    def __init__(self, policy: nn.Module) -> None:
        self.policy = policy

    def observe(self, observations: torch.Tensor, actions: torch.Tensor) -> dict[str, float]:
        """White-box agents need no data about the opponent."""
        return {}

    def parameters(self) -> dict[str, torch.Tensor]:
        """The opponent's current parameters, detached (a leaf for the anticipated step)."""
        return {k: v.detach().requires_grad_(True) for k, v in self.policy.named_parameters()}

    def state_dict(self) -> dict[str, Any]:
        """Nothing of its own: the opponent checkpoints its parameters."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Nothing to restore."""


class OpponentModel:
    """A maximum-likelihood model of the opponent's policy, fitted to its observed actions (LOLA-OM).

    :param template: a module with the opponent's *architecture* (e.g. a :class:`Memory1Policy` of
        the same shape); it is deep-copied and its parameters are reset — its values are never read.
    :param method: ``"counts"``: closed-form ML for a :class:`Memory1Policy` (action frequencies per
        state); ``"gradient"``: Adam steps on the mean log-likelihood (any policy module);
        ``"auto"``: counts when possible.
    :param pseudo_count: Dirichlet pseudo-count per action in the counts method, so states never
        visited stay at the uniform policy and frequencies of 0 or 1 keep finite logits.
    :param lr: Adam learning rate of the gradient method.
    :param fit_steps: Adam steps per :meth:`observe` call (the fit is warm-started).
    """

    mode = "black-box"

    def __init__(
        self,
        template: nn.Module,
        method: FitMethod = "auto",
        pseudo_count: float = 0.5,
        lr: float = 0.1,
        fit_steps: int = 100,
    ) -> None:
        if method not in ("auto", "counts", "gradient"):
            raise ValueError(f"method must be 'auto', 'counts' or 'gradient', got {method!r}")
        tabular = isinstance(template, Memory1Policy)
        if method == "counts" and not tabular:
            raise ValueError("the counts method needs a Memory1Policy template; use method='gradient'")
        if pseudo_count <= 0:
            raise ValueError(f"pseudo_count must be positive, got {pseudo_count}")
        self.method = "counts" if (method == "auto" and tabular) else ("gradient" if method == "auto" else method)
        self.policy = copy.deepcopy(template)
        self.policy.requires_grad_(True)
        with torch.no_grad():
            for module in self.policy.modules():
                if isinstance(module, Memory1Policy):
                    module.logits.zero_()  # the uniform policy: no knowledge of the opponent yet
                elif module is not self.policy and hasattr(module, "reset_parameters"):
                    cast(Any, module).reset_parameters()
        self.pseudo_count, self.fit_steps = float(pseudo_count), int(fit_steps)
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=lr) if self.method == "gradient" else None

    def parameters(self) -> dict[str, torch.Tensor]:
        """The model's current parameters, detached (a leaf for the anticipated step)."""
        return {k: v.detach().requires_grad_(True) for k, v in self.policy.named_parameters()}

    def log_likelihood(self, observations: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Mean log-likelihood of the observed actions under the model."""
        return self.policy(observations, actions).mean()

    def observe(self, observations: torch.Tensor, actions: torch.Tensor) -> dict[str, float]:
        """Fit the model to the opponent's observed ``(observations, actions)``; returns the fit."""
        if self.method == "counts":
            self._fit_counts(observations, actions)
        else:
            assert self.optimizer is not None
            for _ in range(self.fit_steps):
                self.optimizer.zero_grad(set_to_none=True)
                loss = -self.log_likelihood(observations, actions)
                loss.backward()
                self.optimizer.step()
        with torch.no_grad():
            return {"om_log_likelihood": float(self.log_likelihood(observations, actions))}

    def _fit_counts(self, observations: torch.Tensor, actions: torch.Tensor) -> None:
        policy: Memory1Policy = self.policy  # type: ignore[assignment]
        n_s, n_a = policy.n_states, policy.n_actions
        runs = policy.runs
        cell = observations.long() * n_a + actions.long()
        if runs is None:
            counts = torch.bincount(cell.reshape(-1), minlength=n_s * n_a).reshape(n_s, n_a)
        else:
            flat = cell.reshape(runs, -1)
            counts = torch.zeros(runs, n_s * n_a, dtype=torch.long, device=flat.device)
            counts.scatter_add_(1, flat, torch.ones_like(flat))
            counts = counts.reshape(runs, n_s, n_a)
        freq = counts.to(policy.logits.dtype) + self.pseudo_count
        log_freq = freq.log()
        with torch.no_grad():
            if policy.form == "sigmoid":
                policy.logits.copy_(log_freq[..., 0] - log_freq[..., 1])  # logit of P(action 0)
            else:
                policy.logits.copy_(log_freq - log_freq.logsumexp(-1, keepdim=True))

    def probs(self) -> torch.Tensor:
        """The modelled action probabilities (for a :class:`Memory1Policy` model)."""
        if not isinstance(self.policy, Memory1Policy):
            raise TypeError("probs() is defined for Memory1Policy models only")
        with torch.no_grad():
            return self.policy.probs()

    def state_dict(self) -> dict[str, Any]:
        """Model parameters and the optimiser state."""
        state: dict[str, Any] = {"policy": self.policy.state_dict()}
        if self.optimizer is not None:
            state["optimizer"] = self.optimizer.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.policy.load_state_dict(state["policy"])
        if self.optimizer is not None and "optimizer" in state:
            self.optimizer.load_state_dict(state["optimizer"])


def opponent_handle(mode: str, policy: nn.Module, model_kwargs: dict[str, Any] | None = None) -> WhiteBoxOpponent | OpponentModel:
    """A learner's view of its opponent: ``"white-box"`` reads ``policy``; ``"black-box"`` fits a model of its architecture."""
    if mode == "white-box":
        return WhiteBoxOpponent(policy)
    if mode == "black-box":
        return OpponentModel(policy, **(model_kwargs or {}))
    raise ValueError(f"opponent must be 'white-box' or 'black-box', got {mode!r}")
