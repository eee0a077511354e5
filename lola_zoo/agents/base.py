"""The Agent protocol every training loop in lola-zoo speaks.

Data flows ``env -> observation -> agent.act -> env.step -> agent.observe -> agent.update``.
Fixed strategies implement only :meth:`Agent.act`; learners also collect transitions in
:meth:`Agent.observe` and learn in :meth:`Agent.update`.  Checkpoints go through
``state_dict`` / ``load_state_dict`` as in torch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Agent", "Transition", "memory1_state"]


@dataclass
class Transition:
    """One step seen by one agent.

    :param observation: what the agent observed before acting.
    :param action: the action it took.
    :param reward: the reward it received.
    :param next_observation: what it observes after the step.
    :param terminated: the episode ended for this agent (a terminal state).
    :param truncated: the episode was cut by the time limit.
    :param info: the env's info dict for this agent (``joint_action`` for iterated games).
    """

    observation: Any
    action: Any
    reward: float
    next_observation: Any
    terminated: bool = False
    truncated: bool = False
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        """The episode is over for this agent."""
        return self.terminated or self.truncated


class Agent(ABC):
    """Base class of every agent: fixed strategies, exact and policy-gradient learners, SB3 adapters."""

    #: a short name used in tables and tournaments
    name: str = "agent"

    def seed(self, seed: int | None = None) -> None:
        """Seed the agent's own random generator (used when it samples actions)."""
        self.rng = np.random.default_rng(seed)

    @property
    def _rng(self) -> np.random.Generator:
        if not hasattr(self, "rng"):
            self.seed(None)
        return self.rng

    def reset(self) -> None:
        """Called at the start of every episode (recurrent state, per-episode buffers)."""

    @abstractmethod
    def act(self, observation: Any) -> Any:
        """Choose an action for ``observation``."""

    def observe(self, transition: Transition) -> None:
        """Record one step of experience; fixed strategies ignore it."""

    def update(self) -> dict[str, float]:
        """Learn from what was observed; returns metrics (empty for agents that do not learn)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to restore the agent (parameters, optimiser, RNG)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def memory1_state(observation: Any) -> int:
    """The memory-1 state index of an observation, whether Discrete (int) or one-hot (vector)."""
    arr = np.asarray(observation)
    if arr.ndim == 0:
        return int(arr)
    if arr.ndim == 1:
        return int(arr.argmax())
    raise ValueError(f"expected a memory-1 observation (int or one-hot vector), got shape {arr.shape}")
