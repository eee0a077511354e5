"""One registry of dilemmas: ids -> specs, ``make``, ``register``, and entry-point plugins.

Modelled on gymnasium's registration: specs are frozen dataclasses, ``make(id, **overrides)``
builds an environment, unknown ids fail with the closest known ids.  Third-party packages add
dilemmas through the ``lola_zoo.dilemmas`` entry-point group: each entry point names either a
:class:`MatrixGame` (registered under the entry point's name) or a function of no arguments that
calls :func:`register` itself.
"""

from __future__ import annotations

import difflib
import importlib
import warnings
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import MappingProxyType
from typing import Any, Callable, Literal, Mapping

import numpy as np
from numpy.typing import ArrayLike

from lola_zoo.envs.games import CANONICAL_GAMES, N_PLAYER_FAMILIES, MatrixGame, symmetric_game

__all__ = ["EnvSpec", "register", "make", "registered", "spec", "load_plugins", "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "lola_zoo.dilemmas"
_ITERATED_ENTRY = "lola_zoo.envs.iterated:IteratedMatrixGame"


@dataclass(frozen=True)
class EnvSpec:
    """What :func:`make` needs to build one registered environment.

    :param id: the registered name, e.g. ``"ipd"``.
    :param entry_point: a callable returning a PettingZoo ParallelEnv, or ``"module:attr"``.
    :param kwargs: default keyword arguments for the entry point (``make`` overrides them).
    :param description: one line shown by :func:`registered`.
    :param game: the stage game when the env is an iterated matrix game (exact values need it).
    """

    id: str
    entry_point: Callable[..., Any] | str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    game: MatrixGame | None = None

    def resolve(self) -> Callable[..., Any]:
        """The entry point as a callable, importing it when given as ``"module:attr"``."""
        if callable(self.entry_point):
            return self.entry_point
        module_name, _, attr = self.entry_point.partition(":")
        if not attr:
            raise ValueError(f"entry point {self.entry_point!r} of {self.id!r} must look like 'module:attr'")
        return getattr(importlib.import_module(module_name), attr)


_REGISTRY: dict[str, EnvSpec] = {}
_plugins_loaded = False
#: ids of the built-in N-player families (``public-goods-3``...) -> (family prefix, N)
_FAMILY_IDS: dict[str, tuple[str, int]] = {}


def _family_spec(id: str) -> EnvSpec | None:
    """Register ``<family>-<N>`` (e.g. ``public-goods-5``) on first use; ``None`` if ``id`` names no family member."""
    prefix, _, count = str(id).rpartition("-")
    if prefix not in N_PLAYER_FAMILIES or not count.isdigit():
        return None
    n = int(count)
    new = register(id, payoffs=N_PLAYER_FAMILIES[prefix](n))  # N < 2 or too many players: a clear ValueError
    _FAMILY_IDS[id] = (prefix, n)
    return new


def _family_game(id: str, kwargs: dict[str, Any]) -> MatrixGame | None:
    """The family member's stage game rebuilt with its own keyword arguments (``factor=``...), popped from ``kwargs``."""
    if id not in _FAMILY_IDS:
        return None
    prefix, n = _FAMILY_IDS[id]
    import inspect

    builder = N_PLAYER_FAMILIES[prefix]
    own = {k: kwargs.pop(k) for k in list(kwargs) if k in inspect.signature(builder).parameters and k != "n_players"}
    return builder(n, **own) if own else None


def _game_from_payoffs(id: str, payoffs: ArrayLike | MatrixGame, action_names: Any, description: str) -> MatrixGame:
    if isinstance(payoffs, MatrixGame):
        return payoffs
    array = np.asarray(payoffs, dtype=np.float64)
    if array.ndim == 2:
        # A square matrix is the row player's payoff of a symmetric two-player game.
        return symmetric_game(array, id, action_names, description)
    names = () if action_names is None else (
        (tuple(action_names),) if isinstance(action_names[0], str) else tuple(map(tuple, action_names))
    )
    return MatrixGame(id, array, names, description)


def register(
    id: str,
    *,
    payoffs: ArrayLike | MatrixGame | None = None,
    entry_point: Callable[..., Any] | str | None = None,
    kwargs: Mapping[str, Any] | None = None,
    description: str = "",
    action_names: Any = None,
    max_steps: int | None = None,
    override: bool = False,
) -> EnvSpec:
    """Register a dilemma under ``id``: from ``payoffs`` (an iterated matrix game) or an ``entry_point``.

    ``payoffs`` is either a :class:`MatrixGame`, a square ``(n, n)`` matrix of the row player's
    payoffs (a symmetric two-player game), or a full ``(N, n_0, ..., n_N-1)`` table per player.
    """
    if not isinstance(id, str) or not id.strip():
        raise ValueError(f"id must be a non-empty string, got {id!r}")
    if (payoffs is None) == (entry_point is None):
        raise ValueError(f"register({id!r}): give exactly one of payoffs= or entry_point=")
    if id in _REGISTRY and not override:
        raise ValueError(f"id {id!r} is already registered; pass override=True to replace it")
    defaults = dict(kwargs or {})
    game = None
    if payoffs is not None:
        game = _game_from_payoffs(id, payoffs, action_names, description)
        description = description or game.description or f"iterated {game.name}"
        defaults = {"game": game, **defaults}
        entry_point = _ITERATED_ENTRY
    if max_steps is not None:
        defaults["max_steps"] = max_steps
    new = EnvSpec(id, entry_point, MappingProxyType(defaults), description, game)  # type: ignore[arg-type]
    _REGISTRY[id] = new
    _register_with_pettingzoo(new)
    return new


def _register_with_pettingzoo(new: EnvSpec) -> None:
    """Mirror the id into PettingZoo's own registry so ``pettingzoo.make("lola_zoo/<id>-v0")`` works."""
    try:
        import pettingzoo

        pz_id = f"lola_zoo/{new.id}-v0"
        if pz_id not in pettingzoo.parallel_registry:
            pettingzoo.register("parallel", pz_id, entry_point=lambda **kw: make(new.id, **kw))
    except Exception:  # pragma: no cover - an older PettingZoo without a registry
        pass


def load_plugins(force: bool = False) -> list[str]:
    """Register dilemmas from installed packages' ``lola_zoo.dilemmas`` entry points."""
    global _plugins_loaded
    if _plugins_loaded and not force:
        return []
    _plugins_loaded = True
    added = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            target = ep.load()
            if isinstance(target, MatrixGame):
                if ep.name not in _REGISTRY:
                    register(ep.name, payoffs=target, description=target.description)
                    added.append(ep.name)
            elif callable(target):
                before = set(_REGISTRY)
                target()
                added.extend(sorted(set(_REGISTRY) - before))
            else:
                raise TypeError(f"expected a MatrixGame or a function, got {type(target).__name__}")
        except Exception as exc:  # a broken plugin must not break lola_zoo for everyone
            warnings.warn(f"lola_zoo plugin {ep.name!r} ({ep.value}) failed to load: {exc}", stacklevel=2)
    return added


def spec(id: str) -> EnvSpec:
    """The spec registered under ``id``; unknown ids fail naming the closest known ids."""
    load_plugins()
    try:
        return _REGISTRY[id]
    except KeyError:
        family = _family_spec(id)
        if family is not None:
            return family
        close = difflib.get_close_matches(str(id), list(_REGISTRY), n=3, cutoff=0.4)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise KeyError(
            f"unknown dilemma id {id!r}{hint} (registered: {', '.join(sorted(_REGISTRY))})"
        ) from None


def make(id: str, *, api: Literal["parallel", "aec"] = "parallel", **kwargs: Any) -> Any:
    """Build the registered env ``id``: a PettingZoo ParallelEnv, or the AEC env if ``api="aec"``."""
    if api not in ("parallel", "aec"):
        raise ValueError(f"api must be 'parallel' or 'aec', got {api!r}")
    s = spec(id)
    kwargs = dict(kwargs)
    rebuilt = _family_game(id, kwargs)  # e.g. make("public-goods-3", factor=2.5)
    if rebuilt is not None:
        kwargs["game"] = rebuilt
    env = s.resolve()(**{**s.kwargs, **kwargs})
    if api == "aec":
        from pettingzoo.utils.conversions import parallel_to_aec

        return parallel_to_aec(env)
    return env


def registered() -> dict[str, str]:
    """Every registered id with its one-line description, sorted by id."""
    load_plugins()
    return {k: _REGISTRY[k].description for k in sorted(_REGISTRY)}


def game(id: str, **kwargs: Any) -> MatrixGame:
    """The stage :class:`MatrixGame` of a registered iterated matrix game (a family's with its ``kwargs``: ``factor=``...)."""
    s = spec(id)
    kwargs = dict(kwargs)
    rebuilt = _family_game(id, kwargs)
    if kwargs:
        raise TypeError(f"game({id!r}) takes no keyword arguments {sorted(kwargs)}")
    if rebuilt is not None:
        return rebuilt
    if s.game is None:
        raise ValueError(f"{id!r} is not an iterated matrix game; it has no payoff table")
    return s.game


for _id, _game in CANONICAL_GAMES.items():
    register(_id, payoffs=_game, description=_game.description)
register("coin-game", entry_point="lola_zoo.envs.coin_game:CoinGame", description="Coin Game (LOLA paper)")
register("in-the-matrix", entry_point="lola_zoo.envs.in_the_matrix:InTheMatrix", description="IPD in the matrix (grid world, zap to play)")
register("cournot", entry_point="lola_zoo.envs.cournot:CournotGame", description="Cournot oligopoly (continuous quantities)")
register("fishery", entry_point="lola_zoo.envs.fishery:Fishery", description="common-pool fishery (continuous harvest efforts)")
for _id in ("public-goods-3", "public-goods-4", "ipd-3", "ipd-4"):  # listed; other sizes register on first use
    _family_spec(_id)
