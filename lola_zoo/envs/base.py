"""What every lola-zoo PettingZoo environment shares: spaces held in dicts, PettingZoo's ``max_cycles`` name."""

from __future__ import annotations

from gymnasium import spaces
from pettingzoo import ParallelEnv

__all__ = ["DilemmaParallelEnv"]


class DilemmaParallelEnv(ParallelEnv):
    """A ParallelEnv whose spaces are built once into ``observation_spaces`` / ``action_spaces``.

    PettingZoo requires the same space object on every call, and an ``lru_cache`` on the accessor
    would keep every env alive; subclasses fill the two dicts in ``__init__`` and keep their episode
    length in ``max_steps``.
    """

    max_steps: int
    observation_spaces: dict[str, spaces.Space]
    action_spaces: dict[str, spaces.Space]

    # PettingZoo's tests and wrappers speak of ``max_cycles``; keep the two names in step.
    @property
    def max_cycles(self) -> int:
        """Alias of ``max_steps`` under PettingZoo's name."""
        return self.max_steps

    @max_cycles.setter
    def max_cycles(self, value: int) -> None:
        self.max_steps = int(value)

    def observation_space(self, agent: str) -> spaces.Space:
        """Observation space of ``agent`` (the same object on every call)."""
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        """Action space of ``agent`` (the same object on every call)."""
        return self.action_spaces[agent]

    def close(self) -> None:
        """Nothing to release; defined because ``render`` is overridden."""
