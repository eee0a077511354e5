"""Fixed strategies for iterated matrix games: tit-for-tat, always-cooperate, always-defect, random,
and any memory-1 strategy given by its table of action probabilities.

Observations are memory-1 states from the agent's own perspective: 0 is the start state and
``1 + own * m + other`` the previous joint action of a two-player game with ``m`` opponent actions.
Action 0 is "cooperate" (IPD) / "heads" (IMP).
"""

from __future__ import annotations

from typing import Any, ClassVar, cast

import numpy as np
from numpy.typing import ArrayLike

from lola_zoo.agents.base import Agent, memory1_state

__all__ = [
    "Memory1Strategy",
    "TitForTat",
    "AlwaysCooperate",
    "AlwaysDefect",
    "RandomStrategy",
    "FIXED_STRATEGIES",
    "make_strategy",
]


class Memory1Strategy(Agent):
    """A fixed memory-1 strategy: ``probs[s, a]`` = P(action a | state s), s from its own perspective.

    :param probs: array ``(n_states, n_actions)``; a ``(n_states,)`` array means P(action 0) in a
        two-action game (the paper's P(cooperate | state)).
    :param name: shown in tables.
    """

    classifier: ClassVar[dict[str, Any]] = {"memory_depth": 1, "stochastic": True}

    def __init__(self, probs: ArrayLike, name: str = "memory-1") -> None:
        try:
            table = np.asarray(probs, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{name}: probs must be a table of numbers, got {probs!r}") from None
        if table.ndim == 1:
            table = np.stack([table, 1.0 - table], axis=-1)
        if table.ndim != 2:
            raise ValueError(f"{name}: probs must be an (n_states, n_actions) table, got shape {table.shape}")
        if not np.all(np.isfinite(table)):
            bad = table[~np.isfinite(table)][0]
            raise ValueError(f"{name}: probs must be finite, found {bad} in {probs!r}")
        n_states, n_actions = table.shape
        players = round(np.log(max(n_states - 1, 1)) / np.log(n_actions)) if n_actions > 1 and n_states > 1 else 0
        if n_actions < 2 or players < 2 or n_actions ** players != n_states - 1:
            # A memory-1 state is the start or a joint action: 1 + n_actions ** players rows (IPD: 5 x 2).
            raise ValueError(f"{name}: probs has shape {table.shape}; a memory-1 table has 1 + n_actions ** "
                             "n_players rows (2 players, 2 actions: 5 states, e.g. [p_start, p_CC, p_CD, p_DC, p_DD])")
        bad_rows = np.flatnonzero((table < 0).any(-1) | (table > 1).any(-1) | ~np.isclose(table.sum(-1), 1.0))
        if bad_rows.size:
            r = int(bad_rows[0])
            raise ValueError(f"{name}: each row of probs must be a probability distribution (entries in [0, 1] summing "
                             f"to 1); row {r} is {table[r].tolist()}")
        self.probs = table
        self._cdf = np.cumsum(table, axis=-1)
        self.name = name

    def act(self, observation: Any) -> int:
        """Sample an action from the row of the observed state."""
        state = memory1_state(observation)
        if not 0 <= state < len(self.probs):
            raise ValueError(f"{self.name}: state {state} outside [0, {len(self.probs) - 1}]")
        row = self.probs[state]
        if row.max() == 1.0:  # deterministic rows cost no random draw, so sequences are exact
            return int(row.argmax())
        return int(min(cast(int, np.searchsorted(self._cdf[state], self._rng.random(), side="right")), len(row) - 1))

    def state_dict(self) -> dict[str, Any]:
        """The probability table."""
        return {"probs": self.probs.tolist()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the probability table."""
        # Validate through the base constructor, then keep this object's class and name.
        checked = Memory1Strategy(state["probs"], self.name)
        self.probs, self._cdf = checked.probs, checked._cdf


def _two_by_two(p_start: float, p_cc: float, p_cd: float, p_dc: float, p_dd: float) -> list[float]:
    return [p_start, p_cc, p_cd, p_dc, p_dd]


class TitForTat(Memory1Strategy):
    """Tit-for-tat (Axelrod 1980): cooperate first, then copy the opponent's last move."""

    classifier = {"memory_depth": 1, "stochastic": False}

    def __init__(self) -> None:
        super().__init__(_two_by_two(1, 1, 0, 1, 0), "TFT")


class AlwaysCooperate(Memory1Strategy):
    """Always cooperate (action 0)."""

    classifier = {"memory_depth": 0, "stochastic": False}

    def __init__(self) -> None:
        super().__init__(_two_by_two(1, 1, 1, 1, 1), "AllC")


class AlwaysDefect(Memory1Strategy):
    """Always defect (action 1)."""

    classifier = {"memory_depth": 0, "stochastic": False}

    def __init__(self) -> None:
        super().__init__(_two_by_two(0, 0, 0, 0, 0), "AllD")


class RandomStrategy(Agent):
    """Uniformly random actions from ``n_actions``."""

    classifier: ClassVar[dict[str, Any]] = {"memory_depth": 0, "stochastic": True}

    def __init__(self, n_actions: int = 2) -> None:
        if n_actions < 1:
            raise ValueError(f"n_actions must be positive, got {n_actions}")
        self.n_actions = int(n_actions)
        self.name = "Random"

    def act(self, observation: Any) -> int:
        """A uniformly random action."""
        return int(self._rng.integers(self.n_actions))


FIXED_STRATEGIES: dict[str, type[Agent]] = {
    "tft": TitForTat,
    "allc": AlwaysCooperate,
    "alld": AlwaysDefect,
    "random": RandomStrategy,
}


def make_strategy(name: str, **kwargs: Any) -> Agent:
    """A fixed strategy by name (``tft``, ``allc``, ``alld``, ``random``)."""
    key = name.lower()
    if key not in FIXED_STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; known: {', '.join(FIXED_STRATEGIES)}")
    return FIXED_STRATEGIES[key](**kwargs)
