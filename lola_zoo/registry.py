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
import inspect
import warnings
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import MappingProxyType
from typing import Any, Callable, Literal, Mapping

from numpy.typing import ArrayLike

from lola_zoo.envs.base import is_count
from lola_zoo.envs.games import (
    CANONICAL_GAMES,
    MAX_FAMILY_PLAYERS,
    N_PLAYER_FAMILIES,
    MatrixGame,
    payoff_array,
    symmetric_game,
)

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
    array = payoff_array(payoffs, f"register({id!r})")  # bools, text, inf, 1e308: refused here, naming the value
    if array.ndim == 2:
        # A square matrix is the row player's payoff of a symmetric two-player game.
        return symmetric_game(array, id, action_names, description)
    names = () if action_names is None else (
        (tuple(action_names),) if isinstance(action_names[0], str) else tuple(map(tuple, action_names))
    )
    return MatrixGame(id, array, names, description)


def _checked_entry_point(id: str, entry_point: Callable[..., Any] | str) -> Callable[..., Any]:
    """The callable ``entry_point`` names, imported now so that a typo fails at ``register``, not at ``make``."""
    if callable(entry_point):
        return entry_point
    if not isinstance(entry_point, str):
        raise TypeError(f"register({id!r}): entry_point must be a callable or 'module:attr', got {entry_point!r}")
    module_name, _, attr = entry_point.partition(":")
    if not module_name or not attr:
        raise ValueError(f"register({id!r}): entry point {entry_point!r} must look like 'module:attr'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"register({id!r}): cannot import the module of entry point {entry_point!r}: {exc}") from None
    target = getattr(module, attr, None)
    if target is None:
        raise ValueError(f"register({id!r}): module {module_name!r} has no attribute {attr!r} (entry point "
                         f"{entry_point!r})")
    if not callable(target):
        raise TypeError(f"register({id!r}): entry point {entry_point!r} is a {type(target).__name__}, not callable")
    return target


def _check_kwargs(id: str, target: Callable[..., Any], kwargs: Mapping[str, Any]) -> None:
    """Refuse keyword arguments ``target`` does not take, and a ``max_steps`` / ``max_cycles`` that is no positive int."""
    for name in ("max_steps", "max_cycles"):
        if name in kwargs and kwargs[name] is not None and (not is_count(kwargs[name]) or kwargs[name] < 1):
            raise ValueError(f"register({id!r}): {name} must be a positive integer, got {kwargs[name]!r}")
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):  # some builtins have no signature: nothing to check against
        return
    params = signature.parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    unknown = sorted(k for k in kwargs if k not in params or params[k].kind is inspect.Parameter.POSITIONAL_ONLY)
    if unknown:
        accepted = [k for k, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        raise TypeError(f"register({id!r}): unknown keyword argument(s) {unknown} for "
                        f"{getattr(target, '__qualname__', target)}; it takes {accepted}")


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
    Everything is checked here, so that a bad registration fails at ``register`` rather than at
    ``make``: the payoffs, ``max_steps``, the entry point (imported now) and the keyword arguments
    it is given.
    """
    if not isinstance(id, str) or not id.strip():
        raise ValueError(f"id must be a non-empty string, got {id!r}")
    if (payoffs is None) == (entry_point is None):
        raise ValueError(f"register({id!r}): give exactly one of payoffs= or entry_point=")
    if id in _REGISTRY and not override:
        raise ValueError(f"id {id!r} is already registered; pass override=True to replace it")
    if not isinstance(description, str):
        raise TypeError(f"register({id!r}): description must be a string, got {type(description).__name__} {description!r}")
    if kwargs is not None and not isinstance(kwargs, Mapping):
        raise TypeError(f"register({id!r}): kwargs must be a dict of keyword arguments, got {kwargs!r}")
    if max_steps is not None and (not is_count(max_steps) or max_steps < 1):
        raise ValueError(f"register({id!r}): max_steps must be a positive integer, got {max_steps!r}")
    defaults = dict(kwargs or {})
    game = None
    if payoffs is not None:
        game = _game_from_payoffs(id, payoffs, action_names, description)
        description = description or game.description or f"iterated {game.name}"
        defaults = {"game": game, **defaults}
        entry_point = _ITERATED_ENTRY
    if max_steps is not None:
        defaults["max_steps"] = max_steps
    assert entry_point is not None  # one of the two sources was given (checked above)
    _check_kwargs(id, _checked_entry_point(id, entry_point), defaults)
    return _add(EnvSpec(id, entry_point, MappingProxyType(defaults), description, game))


def _add(new: EnvSpec) -> EnvSpec:
    """Store a checked spec and mirror it into PettingZoo's registry."""
    _REGISTRY[new.id] = new
    _register_with_pettingzoo(new.id)
    return new


def _register_with_pettingzoo(id: str) -> None:
    """Mirror ``id`` into PettingZoo's registries so ``pettingzoo.make("parallel" | "aec", "lola_zoo/<id>-v0")`` works.

    The entry points look ``id`` up in this registry when called, so an ``override=True`` re-registration
    needs no new mirror entry.
    """
    try:
        import pettingzoo

        pz_id = f"lola_zoo/{id}-v0"

        def parallel(**kwargs: Any) -> Any:
            return make(id, **kwargs)

        def aec(**kwargs: Any) -> Any:
            return make(id, api="aec", **kwargs)

        for api, registry, creator in (("parallel", pettingzoo.parallel_registry, parallel),
                                       ("aec", pettingzoo.aec_registry, aec)):
            if pz_id not in registry:
                pettingzoo.register(api, pz_id, entry_point=creator)
    except Exception:  # pragma: no cover - a PettingZoo without a registry: lola_zoo.make still works
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
        from lola_zoo.envs.base import to_aec

        return to_aec(env)
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
# The built-in entry points are added without importing them: their modules cost import time that
# `import lola_zoo` should not pay, and the test suite checks them instead of register().
for _id, _entry, _description in (
    ("coin-game", "lola_zoo.envs.coin_game:CoinGame", "Coin Game (LOLA paper)"),
    ("in-the-matrix", "lola_zoo.envs.in_the_matrix:InTheMatrix", "IPD in the matrix (grid world, zap to play)"),
    ("cournot", "lola_zoo.envs.cournot:CournotGame", "Cournot oligopoly (continuous quantities)"),
    ("fishery", "lola_zoo.envs.fishery:Fishery", "common-pool fishery (continuous harvest efforts)"),
):
    _add(EnvSpec(_id, _entry, MappingProxyType({}), _description))
for _id in ("public-goods-3", "public-goods-4", "ipd-3", "ipd-4"):  # listed; other sizes register on first use
    _family_spec(_id)
# ...but every size a family builds is in PettingZoo's mirror from the start (make registers it on first use).
for _prefix in N_PLAYER_FAMILIES:
    for _n in range(2, MAX_FAMILY_PLAYERS + 1):
        _register_with_pettingzoo(f"{_prefix}-{_n}")
