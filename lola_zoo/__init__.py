"""lola-zoo: iterated social dilemmas as PettingZoo environments, and LOLA agents that learn in them."""

from lola_zoo.envs.games import MatrixGame
from lola_zoo.registry import EnvSpec, game, load_plugins, make, register, registered, spec

__version__ = "0.1.0"

__all__ = [
    "EnvSpec",
    "MatrixGame",
    "__version__",
    "game",
    "load_plugins",
    "make",
    "register",
    "registered",
    "spec",
]
