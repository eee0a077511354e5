"""Cournot oligopoly: N firms choose quantities, the market price falls with the total (PettingZoo ParallelEnv).

Every round each firm ``i`` chooses a quantity ``q_i`` in ``[0, a/b]`` (a ``Box`` action of shape
``(1,)``).  The price is the linear inverse demand ``P = max(a − b·Q, 0)`` of the total
``Q = Σ q_i`` and firm ``i`` earns the profit ``q_i·(P − c)`` (negative when the price is below the
unit cost ``c``).  The game is repeated for ``max_steps`` rounds (default 10; ``max_steps=1`` is
the one-shot game) and the episode then ends by truncation.

Closed-form benchmarks of the stage game (all firms alike, ``N`` firms):

* **Cournot–Nash**: ``q* = (a − c) / (b·(N + 1))`` each, price ``(a + N·c)/(N + 1)``, profit
  ``(a − c)² / (b·(N + 1)²)`` each.  It is the unique Nash equilibrium of the stage game, so
  playing it every round is the unique subgame-perfect equilibrium of the finitely repeated game.
* **Collusion** (joint-profit maximum): total ``Q = (a − c)/(2b)``, i.e. ``(a − c)/(2bN)`` each,
  profit ``(a − c)² / (4bN)`` each — more than at the Nash point, but each firm gains by
  producing more than its share: a social dilemma with continuous actions.

The upper bound ``a/b`` of the action space loses nothing: any ``q_i >= a/b`` already drives the
price to 0, so a larger quantity only adds cost.

Observations are the previous round's quantities divided by ``a/b`` (so in ``[0, 1]``), **own
quantity first**, then the other firms' in seat order (float32 ``Box(0, 1, (N,))``; all zeros
before the first round), so one policy can sit in any seat.  ``infos[agent]`` carries the
``quantities`` (seat order), the ``price`` and the ``round``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding

from lola_zoo.envs.base import DilemmaParallelEnv, pettingzoo_constructors, scalar_action

__all__ = [
    "PLAYER_RGB",
    "CournotGame",
    "collusive_quantity",
    "cournot_profits",
    "env",
    "nash_quantity",
    "parallel_env",
    "raw_env",
    "validate_cournot",
]

#: one colour per seat (cycled beyond eight players), shared with the fishery's picture.
PLAYER_RGB: tuple[tuple[int, int, int], ...] = (
    (214, 39, 40), (31, 119, 180), (44, 160, 44), (230, 200, 20),
    (200, 60, 200), (23, 190, 207), (255, 127, 14), (120, 120, 120),
)


def _positive_number(name: str, value: Any, allow_zero: bool = False) -> float:
    """``value`` as a float; ValueError naming ``name`` unless finite and positive (or zero if allowed)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(x) or x < 0 or (x == 0 and not allow_zero):
        raise ValueError(f"{name} must be a finite {'non-negative' if allow_zero else 'positive'} number, got {value!r}")
    return x


def _count(name: str, value: Any, minimum: int) -> int:
    """``value`` as an int; ValueError naming ``name`` unless an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, float)) or int(value) != value or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def validate_cournot(n_players: Any, a: Any, b: Any, c: Any, max_steps: Any) -> tuple[int, float, float, float, int]:
    """The checked parameters ``(n_players, a, b, c, max_steps)``; one ValueError naming the first bad one."""
    n = _count("n_players", n_players, 2)
    a_, b_ = _positive_number("a (demand intercept)", a), _positive_number("b (demand slope)", b)
    c_ = _positive_number("c (unit cost)", c, allow_zero=True)
    if c_ >= a_:
        raise ValueError(f"c (unit cost) must be below a (demand intercept) or no quantity is profitable, got c={c!r}, a={a!r}")
    return n, a_, b_, c_, _count("max_steps", max_steps, 1)


def nash_quantity(n_players: int = 2, a: float = 100.0, b: float = 1.0, c: float = 10.0) -> float:
    """Cournot–Nash quantity of each firm, ``(a − c) / (b (N + 1))``."""
    return (a - c) / (b * (n_players + 1))


def collusive_quantity(n_players: int = 2, a: float = 100.0, b: float = 1.0, c: float = 10.0) -> float:
    """Each firm's share ``(a − c) / (2bN)`` of the joint-profit-maximising total ``(a − c)/(2b)``."""
    return (a - c) / (2 * b * n_players)


def cournot_profits(quantities: Any, a: float = 100.0, b: float = 1.0, c: float = 10.0) -> np.ndarray:
    """Profits ``q_i (max(a − b Σq, 0) − c)`` of quantities ``(..., N)`` (numpy, float64)."""
    q = np.asarray(quantities, dtype=np.float64)
    price = np.maximum(a - b * q.sum(-1, keepdims=True), 0.0)
    return q * (price - c)


class CournotGame(DilemmaParallelEnv):
    """Repeated Cournot oligopoly (PettingZoo ParallelEnv); see the module docstring for the rules.

    :param n_players: number of firms N (at least 2).
    :param a: demand intercept (the price when nothing is sold), positive.
    :param b: demand slope (price drop per unit sold), positive.
    :param c: unit cost, in ``[0, a)``.
    :param max_steps: rounds per episode; the episode ends by truncation afterwards (1: the one-shot game).
    :param render_mode: ``None``, ``"ansi"`` (the round as text), ``"human"`` (prints it), ``"rgb_array"`` (a bar picture).
    :param max_cycles: PettingZoo's name for ``max_steps``; overrides it when given.
    """

    metadata: dict[str, Any] = {
        "name": "cournot_v0",
        "render_modes": ["ansi", "human", "rgb_array"],
        "is_parallelizable": True,
        "render_fps": 2,
    }

    def __init__(
        self,
        n_players: int = 2,
        a: float = 100.0,
        b: float = 1.0,
        c: float = 10.0,
        max_steps: int = 10,
        render_mode: str | None = None,
        max_cycles: int | None = None,
    ) -> None:
        if max_cycles is not None:  # PettingZoo's name for the same limit (max_cycles_test, registry)
            max_steps = max_cycles
        self.n_players, self.a, self.b, self.c, self.max_steps = validate_cournot(n_players, a, b, c, max_steps)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        self.render_mode = render_mode
        self.q_max = self.a / self.b
        self.possible_agents = [f"player_{i}" for i in range(self.n_players)]
        self.agents: list[str] = []
        # Spaces are built once: PettingZoo requires the same object on every call.
        act = spaces.Box(0.0, self.q_max, shape=(1,), dtype=np.float32)
        self.action_spaces = {agent: act for agent in self.possible_agents}
        obs = spaces.Box(0.0, 1.0, shape=(self.n_players,), dtype=np.float32)
        self.observation_spaces = {agent: obs for agent in self.possible_agents}
        self.state_space = obs
        # Accept the float64 a/b a caller computes even where the float32 Box bound rounds below it.
        self._q_high = max(self.q_max, float(act.high[0]))
        self._rng, _ = seeding.np_random(None)
        self._round = 0
        self._last: np.ndarray | None = None  # previous quantities, seat order
        self._last_price = 0.0
        self._last_profits: np.ndarray | None = None

    # ------------------------------------------------------------ closed forms
    @property
    def nash_quantity(self) -> float:
        """Cournot–Nash quantity of each firm."""
        return nash_quantity(self.n_players, self.a, self.b, self.c)

    @property
    def collusive_quantity(self) -> float:
        """Each firm's share of the joint-profit-maximising total."""
        return collusive_quantity(self.n_players, self.a, self.b, self.c)

    def profits(self, quantities: Any) -> np.ndarray:
        """Stage-game profits of quantities ``(..., N)`` under this market's ``a, b, c``."""
        return cournot_profits(quantities, self.a, self.b, self.c)

    # ------------------------------------------------------------ observations
    def _observation(self, i: int) -> np.ndarray:
        last = np.zeros(self.n_players) if self._last is None else self._last
        order = [i] + [j for j in range(self.n_players) if j != i]  # own quantity first
        return (last[order] / self.q_max).clip(0.0, 1.0).astype(np.float32)

    def state(self) -> np.ndarray:
        """Global state: the previous quantities / (a/b) in seat order (zeros before the first round)."""
        last = np.zeros(self.n_players) if self._last is None else self._last
        return (last / self.q_max).clip(0.0, 1.0).astype(np.float32)

    # ------------------------------------------------------------ reset/step
    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        """Start a new episode (no quantities yet); reseed only when ``seed`` is given."""
        if seed is not None:
            # The rules are deterministic; the seed only fixes the spaces' samplers (PettingZoo's seed tests).
            self._rng, _ = seeding.np_random(seed)
            for i, agent in enumerate(self.possible_agents):
                self.action_spaces[agent].seed(seed + i)
                self.observation_spaces[agent].seed(seed + i)
        self.agents = list(self.possible_agents)
        self._round = 0
        self._last = None
        self._last_price = 0.0
        self._last_profits = None
        observations = {agent: self._observation(i) for i, agent in enumerate(self.possible_agents)}
        return observations, {agent: {} for agent in self.agents}

    def _checked_quantities(self, actions: dict[str, Any]) -> np.ndarray:
        q = np.empty(self.n_players)
        for i, (agent, action) in enumerate(self._actions_in_seat_order(actions)):
            value = scalar_action(action, 0.0, self._q_high)
            if value is None:
                raise ValueError(
                    f"invalid quantity {action!r} for {agent}: expected one number in [0, a/b] = [0, {self.q_max:g}] "
                    "(quantities cannot be negative)"
                )
            q[i] = min(value, self.q_max)
        return q
    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """Every firm sells its quantity at the common price; truncate after ``max_steps`` rounds."""
        q = self._checked_quantities(actions)
        price = max(self.a - self.b * float(q.sum()), 0.0)
        profits = q * (price - self.c)
        self._round += 1
        self._last, self._last_price, self._last_profits = q, price, profits
        truncated = self._round >= self.max_steps
        quantities = tuple(float(x) for x in q)
        observations, rewards, terminations, truncations, infos = {}, {}, {}, {}, {}
        for i, agent in enumerate(self.possible_agents):
            observations[agent] = self._observation(i)
            rewards[agent] = float(profits[i])
            terminations[agent] = False
            truncations[agent] = truncated
            infos[agent] = {"quantities": quantities, "price": price, "round": self._round}
            if truncated:
                # SuperSuit does not set this flag; SB3 needs it to bootstrap at the time limit.
                infos[agent]["TimeLimit.truncated"] = True
        if truncated:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return observations, rewards, terminations, truncations, infos

    # --------------------------------------------------------------- render
    def _render_text(self) -> str:
        head = f"cournot round {self._round}/{self.max_steps}"
        if self._last is None or self._last_profits is None:
            return f"{head}: start (Nash q* = {self.nash_quantity:.4g}, collusive share = {self.collusive_quantity:.4g})"
        quantities = ", ".join(f"{x:.4g}" for x in self._last)
        profits = ", ".join(f"{x:+.4g}" for x in self._last_profits)
        return f"{head}: quantities ({quantities}) -> price {self._last_price:.4g}, profits ({profits})"

    def _render_rgb(self, height: int = 160, bar: int = 24) -> np.ndarray:
        """Bars of the last quantities (height ∝ q / (a/b)); dark ticks at Nash q*, light ones at the collusive share."""
        n = self.n_players
        width = bar * (2 * n + 1)
        img = np.full((height, width, 3), 245, dtype=np.uint8)
        scale = (height - 8) / self.q_max

        def row(q: float) -> int:
            return int(round(height - 4 - q * scale))

        last = np.zeros(n) if self._last is None else self._last
        for i, q in enumerate(last):
            x0 = bar * (2 * i + 1)
            img[row(q): height - 4, x0: x0 + bar] = PLAYER_RGB[i % len(PLAYER_RGB)]
        img[height - 4:, :] = 60  # the ground line
        img[row(self.nash_quantity), :] = (40, 40, 40)
        img[row(self.collusive_quantity), ::2] = (150, 150, 150)  # dashed: the collusive share
        return img

metadata = CournotGame.metadata


parallel_env, raw_env, env = pettingzoo_constructors(CournotGame)
