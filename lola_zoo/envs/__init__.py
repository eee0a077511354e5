"""Environments: iterated matrix games, the Coin Game, their exact values and batched twins.

The exact-value functions need torch; they are imported on first use so that ``import lola_zoo``
and the PettingZoo environments stay torch-free and quick to load.
"""

from typing import Any

from lola_zoo.envs.games import CANONICAL_GAMES, MatrixGame, symmetric_game
from lola_zoo.envs.iterated import IteratedMatrixGame

__all__ = [
    "CANONICAL_GAMES",
    "IteratedMatrixGame",
    "MatrixGame",
    "exact_value",
    "exact_value_per_step",
    "joint_chain",
    "policy_probs",
    "symmetric_game",
]

_EXACT = {"exact_value", "exact_value_per_step", "joint_chain", "policy_probs"}


def __getattr__(name: str) -> Any:
    """Import the torch-based exact-value functions lazily."""
    if name in _EXACT:
        from lola_zoo.envs import exact

        return getattr(exact, name)
    raise AttributeError(f"module 'lola_zoo.envs' has no attribute {name!r}")
