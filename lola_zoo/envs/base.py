"""What every lola-zoo PettingZoo environment shares: spaces held in dicts, PettingZoo's ``max_cycles`` name,
the checks on ``step``'s input, a guard against use from two threads at once, one ``render`` dispatch, the
AEC view with NumPy-array observations, and the module-level ``parallel_env`` / ``raw_env`` / ``env``
constructors."""

from __future__ import annotations

import functools
import operator
import threading
from typing import Any, Callable, Mapping

import numpy as np
from gymnasium import spaces
from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils import wrappers
from pettingzoo.utils.conversions import parallel_to_aec_wrapper

__all__ = ["DilemmaParallelEnv", "pettingzoo_constructors", "discrete_action", "scalar_action", "to_aec",
           "is_count"]


def is_count(value: Any) -> bool:
    """Whether ``value`` is a whole number (an int, a NumPy integer or an integral float), and not a bool."""
    if isinstance(value, (bool, np.bool_)):  # True == 1, but a flag passed as a count is a bug
        return False
    try:
        return int(value) == value
    except (TypeError, ValueError, OverflowError):
        return False


def discrete_action(action: Any, n: int) -> int | None:
    """``action`` as an integer in ``[0, n)``, or ``None`` when it is not one (a float, a bool, text, out of range)."""
    # As gymnasium's Discrete.contains: integers and integer NumPy scalars or 0-d arrays only; 1.0 and
    # True are refused although int() would take them, since they mean a float or flag went astray.
    if type(action) is int:  # the common case first: step() runs this for every agent every round
        return action if 0 <= action < n else None
    if isinstance(action, (bool, np.bool_)) or str(getattr(action, "dtype", "")) in ("bool", "torch.bool"):
        return None
    try:
        value = operator.index(action)
    except TypeError:
        return None
    return value if 0 <= value < n else None


def scalar_action(action: Any, low: float, high: float) -> float | None:
    """``action`` as one finite number in ``[low, high]`` (a float or a one-element array), or ``None``."""
    if isinstance(action, (bool, np.bool_, str, bytes)):  # np.asarray would read True as 1.0 and "0.5" as 0.5
        return None
    try:
        arr = np.asarray(action)
        if arr.dtype.kind not in "iuf":  # bool, text or object arrays are not quantities
            return None
        arr = arr.astype(np.float64)
        ok = arr.size == 1 and bool(np.isfinite(arr).all()) and low <= float(arr.reshape(())) <= high
    except (TypeError, ValueError):
        return None
    return float(arr.reshape(())) if ok else None


def _one_thread_at_a_time(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` refusing to run while another thread is inside ``step`` or ``reset`` of the same env."""

    @functools.wraps(method)
    def guarded(self: DilemmaParallelEnv, *args: Any, **kwargs: Any) -> Any:
        # A non-blocking acquire costs ~0.1 us; a re-entrant lock lets a subclass's step call super().step().
        lock = self._in_use
        if not lock.acquire(blocking=False):
            raise RuntimeError(
                f"{type(self).__name__}.{method.__name__}() was called while another thread is inside step() or "
                "reset() of the same env; lola-zoo envs are not thread-safe: use one env per thread"
            )
        try:
            return method(self, *args, **kwargs)
        finally:
            lock.release()

    guarded._thread_guarded = True  # type: ignore[attr-defined]
    return guarded


def check_seed(seed: Any) -> int | None:
    """``seed`` as an int (or None); one numpy would refuse (or, for a bool, take as 0/1) is a ValueError / TypeError naming it.

    Gymnasium's own check raises ``gymnasium.error.Error``, which no caller expects from a bad argument.
    """
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be a non-negative integer or None, got {type(seed).__name__} {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
    return int(seed)


def _marks_reset(method: Callable[..., Any]) -> Callable[..., Any]:
    """``reset`` (or ``set_game_state``) that also records that an episode was started (for ``step``'s errors)."""

    @functools.wraps(method)
    def reset(self: DilemmaParallelEnv, *args: Any, **kwargs: Any) -> Any:
        if method.__name__ == "reset":
            seed = check_seed(args[0] if args else kwargs.get("seed"))
            if args:
                args = (seed, *args[1:])
            elif "seed" in kwargs:
                kwargs["seed"] = seed  # a NumPy integer as a plain int: gymnasium's seeding refuses np.int64
        result = method(self, *args, **kwargs)
        self._was_reset = True
        return result

    return reset


class DilemmaParallelEnv(ParallelEnv):
    """A ParallelEnv whose spaces are built once into ``observation_spaces`` / ``action_spaces``.

    PettingZoo requires the same space object on every call, and an ``lru_cache`` on the accessor
    would keep every env alive; subclasses fill the two dicts in ``__init__`` and keep their episode
    length in ``max_steps``.
    """

    max_steps: int
    observation_spaces: dict[str, spaces.Space]
    action_spaces: dict[str, spaces.Space]
    _in_use: threading.RLock
    #: set by the first ``reset``: stepping before it gets its own message
    _was_reset: bool = False
    #: the KeyError when a seat has no action (``{first}``: the first such seat, ``{missing}``: all of them)
    _missing_action_message = "no action given for {first}; every live agent must act"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Every env's own step/reset is wrapped here once, so no subclass can forget the guard:
        # two threads stepping one env silently produced duplicate round numbers before.
        super().__init_subclass__(**kwargs)
        # set_game_state (grid worlds) also starts an episode: it counts as a reset.
        for name in ("step", "reset", "set_game_state"):
            method = cls.__dict__.get(name)
            if method is not None and not getattr(method, "_thread_guarded", False):
                if name != "step":
                    method = _marks_reset(method)
                setattr(cls, name, _one_thread_at_a_time(method))

    def __new__(cls, *args: Any, **kwargs: Any) -> DilemmaParallelEnv:
        """A new env with its own use lock (set here so that no subclass ``__init__`` has to)."""
        self = super().__new__(cls)
        self._in_use = threading.RLock()
        return self

    def __getstate__(self) -> dict[str, Any]:
        """The env's attributes without its lock (locks do not pickle; SuperSuit clones envs by pickling)."""
        state = dict(self.__dict__)
        state.pop("_in_use", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore the attributes and give the copy a lock of its own."""
        self.__dict__.update(state)
        self._in_use = threading.RLock()

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
        """``(agent, action)`` in seat order, after the checks every env's ``step`` makes first: a dict of
        actions, the episode is live, no unknown agent, every agent acts."""
        if type(actions) is not dict and not isinstance(actions, Mapping):  # the exact-type test is the fast path
            raise TypeError(
                f"actions must be a dict mapping each agent to its action, e.g. "
                f"{dict.fromkeys(self.possible_agents, 0)}; got {type(actions).__name__} {actions!r:.80}"
            )
        if not self.agents:
            if not self._was_reset:
                raise RuntimeError("step() called before reset(); call reset() first")
            raise RuntimeError("step() called after the episode ended; call reset() before stepping again")
        possible = self.possible_agents
        try:
            pairs = [(agent, actions[agent]) for agent in possible]
        except KeyError:
            pairs = []  # a seat is missing: name an unknown agent first (likely its misspelling), else the seat
        if len(pairs) != len(possible) or len(actions) != len(possible):
            unknown = sorted(set(actions) - set(possible), key=str)
            if unknown:
                raise KeyError(f"unknown agent(s) {unknown}; agents are {possible}")
            missing = [agent for agent in possible if agent not in actions]
            raise KeyError(self._missing_action_message.format(first=missing[0], missing=missing))
        return pairs

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


class _ArrayObservationsAEC(parallel_to_aec_wrapper):
    """PettingZoo's parallel-to-AEC conversion, observing NumPy arrays: a Discrete state is a 0-d int64 array.

    The parallel envs return Discrete states as ``np.int64`` scalars (hashable, as PettingZoo's classic
    envs do); PettingZoo's AEC api_test asks for ``np.ndarray`` observations, and a 0-d array is still
    in the Discrete space.
    """

    def step(self, action: Any) -> None:
        """Buffer the selected agent's action, refusing one outside its action space now, not at the round's last agent."""
        agent = self.agent_selection
        alive = not (self.terminations.get(agent, False) or self.truncations.get(agent, False))
        space = self.action_space(agent)
        # Discrete only: continuous envs take looser forms (a float for a (1,) box) that contains() refuses.
        if alive and action is not None and isinstance(space, spaces.Discrete) and not space.contains(action):
            raise ValueError(f"invalid action {action!r} for {agent}: not in its action space {space}")
        super().step(action)

    def observe(self, agent: str) -> Any:
        """``agent``'s current observation as a NumPy array."""
        observation = super().observe(agent)
        return observation if isinstance(observation, np.ndarray) else np.asarray(observation)


def to_aec(parallel: ParallelEnv) -> AECEnv:
    """The AEC view of a lola-zoo parallel env (order enforced, observations as NumPy arrays)."""
    return wrappers.OrderEnforcingWrapper(_ArrayObservationsAEC(parallel))


def pettingzoo_constructors(cls: Callable[..., ParallelEnv]) -> tuple[
        Callable[..., ParallelEnv], Callable[..., AECEnv], Callable[..., AECEnv]]:
    """``(parallel_env, raw_env, env)`` for an env class, as PettingZoo's environment modules define them."""

    def parallel_env(**kwargs: Any) -> ParallelEnv:
        """The parallel environment (PettingZoo module convention)."""
        return cls(**kwargs)

    def raw_env(**kwargs: Any) -> AECEnv:
        """The AEC view of the parallel environment, without PettingZoo's safety wrappers."""
        return to_aec(cls(**kwargs))

    def env(**kwargs: Any) -> AECEnv:
        """The AEC environment with PettingZoo's order-enforcing wrapper."""
        return wrappers.OrderEnforcingWrapper(raw_env(**kwargs))

    return parallel_env, raw_env, env
