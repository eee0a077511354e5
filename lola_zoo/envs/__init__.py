"""Environments: iterated matrix games, the Coin Game, their exact values and batched twins."""

from lola_zoo.envs.exact import exact_value, exact_value_per_step, joint_chain, policy_probs
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
