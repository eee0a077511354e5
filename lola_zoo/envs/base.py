"""What every lola-zoo PettingZoo environment shares: spaces held in dicts, PettingZoo's ``max_cycles`` name,
one ``render`` dispatch, and the module-level ``parallel_env`` / ``raw_env`` / ``env`` constructors."""

from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np
from gymnasium import spaces
from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils import wrappers
from pettingzoo.utils.conversions import parallel_to_aec

__all__ = ["DilemmaParallelEnv", "pettingzoo_constructors", "discrete_action", "scalar_action"]


def discrete_action(action: Any, n: int) -> int | None:
    """``action`` as an integer in ``[0, n)``, or ``None`` when it is not one (a fraction, text, out of range)."""
    try:
        value = int(action)
        return value if value == action and 0 <= value < n else None
    except (TypeError, ValueError):
        return None


def scalar_action(action: Any, low: float, high: float) -> float | None:
    """``action`` as one finite number in ``[low, high]`` (a float or a one-element array), or ``None``."""
    try:
        arr = np.asarray(action, dtype=np.float64)
        ok = arr.size == 1 and bool(np.isfinite(arr).all()) and low <= float(arr.reshape(())) <= high
    except (TypeError, ValueError):
        return None
    return float(arr.reshape(())) if ok else None


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

    def _actions_in_seat_order(self, actions: Mapping[str, Any]) -> list[tuple[str, Any]]:
        """``(agent, action)`` in seat order, after the checks every env's ``step`` makes first: the episode
        is live, no unknown agent, every agent acts."""
        if not self.agents:
            raise RuntimeError("step() called after the episode ended; call reset() before stepping again")
        unknown = set(actions) - set(self.possible_agents)
        if unknown:
            raise KeyError(f"unknown agent(s) {sorted(unknown)}; agents are {self.possible_agents}")
        for agent in self.possible_agents:
            if agent not in actions:
                raise KeyError(f"no action given for {agent}; every live agent must act")
        return [(agent, actions[agent]) for agent in self.possible_agents]

    def _render_ready(self) -> bool:
        """Whether there is something to draw (subclasses: False before ``reset``)."""
        return True

    def _render_text(self) -> str:
        raise NotImplementedError

    def _render_rgb(self) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} has no rgb_array rendering")

    def render(self) -> Any:
        """``"ansi"``: the state as text; ``"human"``: print it; ``"rgb_array"``: an (H, W, 3) uint8 picture."""
        if self.render_mode is None:
            import gymnasium

            gymnasium.logger.warn("render() called without a render_mode; nothing rendered")
            return None
        if not self._render_ready():
            raise RuntimeError("render() called before reset()")
        if self.render_mode == "rgb_array":
            return self._render_rgb()
        text = self._render_text()
        if self.render_mode == "human":
            print(text)
            return None
        return text


def pettingzoo_constructors(cls: Callable[..., ParallelEnv]) -> tuple[
        Callable[..., ParallelEnv], Callable[..., AECEnv], Callable[..., AECEnv]]:
    """``(parallel_env, raw_env, env)`` for an env class, as PettingZoo's environment modules define them."""

    def parallel_env(**kwargs: Any) -> ParallelEnv:
        """The parallel environment (PettingZoo module convention)."""
        return cls(**kwargs)

    def raw_env(**kwargs: Any) -> AECEnv:
        """The AEC view of the parallel environment, without PettingZoo's safety wrappers."""
        return parallel_to_aec(cls(**kwargs))

    def env(**kwargs: Any) -> AECEnv:
        """The AEC environment with PettingZoo's order-enforcing wrapper."""
        return wrappers.OrderEnforcingWrapper(raw_env(**kwargs))

    return parallel_env, raw_env, env
