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

# Plugins register now, not on the first lola_zoo lookup: their ids must already be in PettingZoo's mirror
# for ``pettingzoo.make("parallel", "lola_zoo/<plugin id>-v0")``.  Last, so that a plugin importing lola_zoo
# finds every name bound.
load_plugins()
