"""Common-pool fishery: N fishers harvest a shared, regrowing stock (PettingZoo ParallelEnv).

The stock ``S_t`` grows logistically each season, and every fisher ``i`` takes a share of the
grown stock set by its effort ``e_i`` in ``[0, 1]`` (a ``Box`` action of shape ``(1,)``):

    G(S)     = S + r·S·(1 − S/K)                 the stock available this season
    h_i      = e_i · G(S_t) / N                  fisher i's harvest (its reward)
    S_{t+1}  = G(S_t) − Σ h_i = (1 − ē)·G(S_t)   ē the mean effort

so ``S_{t+1} = S_t + r·S_t(1 − S_t/K) − Σ h_i`` with ``Σ h_i <= G(S_t)``: the fishers can never take
more than there is.  With ``0 < r <= 1`` and ``0 <= S_0 <= K`` the stock stays in ``[0, K]`` (a
larger ``r`` would let the discrete logistic map overshoot ``K``), so ``r`` is limited to ``(0, 1]``.

Each fisher has a claim on ``1/N`` of the season's stock, so its own effort never lowers the
others' catch today — only the stock they all share tomorrow: the tragedy of the commons.

Closed-form benchmarks (``N`` fishers, all alike):

* **Greedy**: ``e_i = 1`` is dominant in a single season (the reward rises with one's own effort
  and the future is someone else's problem); everyone greedy takes the whole stock ``G(S_0)`` in
  the first season (``G(S_0)/N`` each) and the fishery collapses.
* **Sustainable** (maximum sustainable yield, MSY): the yield ``G(S) − S = r·S(1 − S/K)`` that can be
  taken every season forever is largest at ``S = K/2``: ``MSY = r·K/4`` per season (``r·K/(4N)``
  each), taken by the constant mean effort ``ē = r / (2 + r)`` from the stock ``K/2``.

The default start is ``S_0 = K/2``, the MSY stock, so the sustainable policy is stationary from
the first season.  An episode ends by **termination** when the stock falls to
``collapse_fraction · K`` or below (the fishery collapsed; no more catch would come) and by
**truncation** after ``max_steps`` seasons.

Observations are ``[S_t / K, own previous effort, the others' previous efforts in seat order]``
(float32 ``Box(0, 1, (N + 1,))``; previous efforts are 0 before the first season), own effort
first so one policy can sit in any seat.  ``infos[agent]`` carries the ``efforts`` and
``harvests`` (seat order), the ``stock`` after the season and the ``round``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding

from lola_zoo.envs.base import DilemmaParallelEnv, pettingzoo_constructors, scalar_action
from lola_zoo.envs.cournot import PLAYER_RGB, _count, _positive_number

__all__ = [
    "Fishery",
    "env",
    "fishery_step",
    "msy_effort",
    "parallel_env",
    "raw_env",
    "validate_fishery",
]


def validate_fishery(
    n_players: Any, r: Any, K: Any, initial_stock: Any, collapse_fraction: Any, max_steps: Any
) -> tuple[int, float, float, float, float, int]:
    """The checked ``(n_players, r, K, initial_stock, collapse_fraction, max_steps)``; one ValueError naming the first bad one.

    ``initial_stock=None`` means ``K/2`` (the MSY stock).
    """
    n = _count("n_players", n_players, 2)
    r_ = _positive_number("r (growth rate)", r)
    if r_ > 1.0:
        raise ValueError(f"r (growth rate) must lie in (0, 1]: a larger r lets the logistic map overshoot K, got {r!r}")
    k = _positive_number("K (carrying capacity)", K)
    s0 = k / 2 if initial_stock is None else _positive_number("initial_stock", initial_stock)
    if s0 > k:
        raise ValueError(f"initial_stock must lie in (0, K] = (0, {k:g}], got {initial_stock!r}")
    frac = _positive_number("collapse_fraction", collapse_fraction, allow_zero=True)
    if frac >= 1.0:
        raise ValueError(f"collapse_fraction must lie in [0, 1), got {collapse_fraction!r}")
    return n, r_, k, s0, frac, _count("max_steps", max_steps, 1)


def msy_effort(r: float = 0.5) -> float:
    """The mean effort ``r / (2 + r)`` that holds the stock at ``K/2`` and takes the MSY ``rK/4`` each season."""
    return r / (2.0 + r)


def fishery_step(stock: float, efforts: Any, r: float = 0.5, K: float = 100.0) -> tuple[np.ndarray, float]:
    """One season by hand: ``(harvests (N,), next stock)`` from ``stock`` and efforts ``(N,)`` (numpy, float64)."""
    e = np.asarray(efforts, dtype=np.float64)
    grown = stock + r * stock * (1.0 - stock / K)
    harvests = e * grown / e.shape[-1]
    return harvests, grown - float(harvests.sum())


class Fishery(DilemmaParallelEnv):
    """Common-pool fishery with logistic regrowth (PettingZoo ParallelEnv); see the module docstring.

    :param n_players: number of fishers N (at least 2).
    :param r: intrinsic growth rate, in ``(0, 1]``.
    :param K: carrying capacity, positive.
    :param initial_stock: stock at the start of an episode, in ``(0, K]``; ``None``: ``K/2`` (the MSY stock).
    :param collapse_fraction: the episode terminates once the stock is at most ``collapse_fraction · K`` (in ``[0, 1)``).
    :param max_steps: seasons per episode; the episode ends by truncation afterwards.
    :param render_mode: ``None``, ``"ansi"`` (the season as text), ``"human"`` (prints it), ``"rgb_array"`` (a picture).
    :param max_cycles: PettingZoo's name for ``max_steps``; overrides it when given.
    """

    metadata: dict[str, Any] = {
        "name": "fishery_v0",
        "render_modes": ["ansi", "human", "rgb_array"],
        "is_parallelizable": True,
        "render_fps": 2,
    }

    def __init__(
        self,
        n_players: int = 2,
        r: float = 0.5,
        K: float = 100.0,
        initial_stock: float | None = None,
        collapse_fraction: float = 0.01,
        max_steps: int = 50,
        render_mode: str | None = None,
        max_cycles: int | None = None,
    ) -> None:
        if max_cycles is not None:  # PettingZoo's name for the same limit (max_cycles_test, registry)
            max_steps = max_cycles
        (self.n_players, self.r, self.K, self.initial_stock, self.collapse_fraction,
         self.max_steps) = validate_fishery(n_players, r, K, initial_stock, collapse_fraction, max_steps)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        self.render_mode = render_mode
        self.possible_agents = [f"player_{i}" for i in range(self.n_players)]
        self.agents: list[str] = []
        # Spaces are built once: PettingZoo requires the same object on every call.
        act = spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32)
        self.action_spaces = {agent: act for agent in self.possible_agents}
        obs = spaces.Box(0.0, 1.0, shape=(self.n_players + 1,), dtype=np.float32)
        self.observation_spaces = {agent: obs for agent in self.possible_agents}
        self.state_space = obs
        self._rng, _ = seeding.np_random(None)
        self._round = 0
        self._stock = self.initial_stock
        self._efforts: np.ndarray | None = None  # previous efforts, seat order
        self._harvests: np.ndarray | None = None
        self._collapsed = False

    # ------------------------------------------------------------ closed forms
    @property
    def msy(self) -> float:
        """Maximum sustainable yield per season, ``r K / 4`` (all fishers together)."""
        return self.r * self.K / 4.0

    @property
    def msy_stock(self) -> float:
        """The stock ``K/2`` at which the sustainable yield is largest."""
        return self.K / 2.0

    @property
    def msy_effort(self) -> float:
        """The mean effort ``r / (2 + r)`` that takes the MSY from the stock ``K/2`` and keeps it there."""
        return msy_effort(self.r)

    @property
    def stock(self) -> float:
        """The current stock."""
        return self._stock

    def growth(self, stock: float) -> float:
        """The season's available stock ``G(S) = S + r S (1 − S/K)``."""
        return stock + self.r * stock * (1.0 - stock / self.K)

    # ------------------------------------------------------------ observations
    def _observation(self, i: int) -> np.ndarray:
        last = np.zeros(self.n_players) if self._efforts is None else self._efforts
        order = [i] + [j for j in range(self.n_players) if j != i]  # own effort first
        return np.concatenate([[self._stock / self.K], last[order]]).clip(0.0, 1.0).astype(np.float32)

    def state(self) -> np.ndarray:
        """Global state: ``[S / K, previous efforts in seat order]``."""
        last = np.zeros(self.n_players) if self._efforts is None else self._efforts
        return np.concatenate([[self._stock / self.K], last]).clip(0.0, 1.0).astype(np.float32)

    # ------------------------------------------------------------ reset/step
    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        """Start a new episode at ``initial_stock``; reseed only when ``seed`` is given."""
        if seed is not None:
            # The rules are deterministic; the seed only fixes the spaces' samplers (PettingZoo's seed tests).
            self._rng, _ = seeding.np_random(seed)
            for i, agent in enumerate(self.possible_agents):
                self.action_spaces[agent].seed(seed + i)
                self.observation_spaces[agent].seed(seed + i)
        self.agents = list(self.possible_agents)
        self._round = 0
        self._stock = self.initial_stock
        self._efforts = None
        self._harvests = None
        self._collapsed = False
        observations = {agent: self._observation(i) for i, agent in enumerate(self.possible_agents)}
        return observations, {agent: {} for agent in self.agents}

    def _checked_efforts(self, actions: dict[str, Any]) -> np.ndarray:
        e = np.empty(self.n_players)
        for i, (agent, action) in enumerate(self._actions_in_seat_order(actions)):
            value = scalar_action(action, 0.0, 1.0)
            if value is None:
                raise ValueError(f"invalid effort {action!r} for {agent}: expected one number in [0, 1] (the share of its claim it takes)")
            e[i] = value
        return e
    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """One season: growth, harvests, the new stock; terminate on collapse, truncate after ``max_steps``."""
        e = self._checked_efforts(actions)
        harvests, stock = fishery_step(self._stock, e, self.r, self.K)
        stock = max(stock, 0.0)  # rounding only: the harvest never exceeds the grown stock
        self._round += 1
        self._stock, self._efforts, self._harvests = stock, e, harvests
        collapsed = stock <= self.collapse_fraction * self.K
        self._collapsed = collapsed
        truncated = self._round >= self.max_steps and not collapsed
        efforts, taken = tuple(float(x) for x in e), tuple(float(x) for x in harvests)
        observations, rewards, terminations, truncations, infos = {}, {}, {}, {}, {}
        for i, agent in enumerate(self.possible_agents):
            observations[agent] = self._observation(i)
            rewards[agent] = float(harvests[i])
            terminations[agent] = collapsed
            truncations[agent] = truncated
            infos[agent] = {"efforts": efforts, "harvests": taken, "stock": stock, "round": self._round}
            if truncated:
                # SuperSuit does not set this flag; SB3 needs it to bootstrap at the time limit.
                infos[agent]["TimeLimit.truncated"] = True
        if collapsed or truncated:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return observations, rewards, terminations, truncations, infos

    # --------------------------------------------------------------- render
    def _render_text(self) -> str:
        head = f"fishery season {self._round}/{self.max_steps}"
        if self._efforts is None or self._harvests is None:
            return f"{head}: start, stock {self._stock:.4g}/{self.K:g} (MSY {self.msy:.4g} at stock {self.msy_stock:.4g})"
        efforts = ", ".join(f"{x:.3f}" for x in self._efforts)
        harvests = ", ".join(f"{x:.4g}" for x in self._harvests)
        tail = " -- COLLAPSED" if self._collapsed else ""
        return f"{head}: efforts ({efforts}) -> harvests ({harvests}), stock {self._stock:.4g}/{self.K:g}{tail}"

    def _render_rgb(self, height: int = 160, bar: int = 24) -> np.ndarray:
        """A tank filled to ``S/K`` (dark line at the MSY stock) beside one bar per fisher's last harvest (∝ harvest / MSY)."""
        n = self.n_players
        tank = 4 * bar
        width = tank + bar * (2 * n + 1)
        img = np.full((height, width, 3), 245, dtype=np.uint8)
        inner = height - 8

        def row(fraction: float) -> int:
            return int(round(height - 4 - min(max(fraction, 0.0), 1.0) * inner))

        img[4: height - 4, bar // 2: tank - bar // 2] = (215, 230, 240)  # empty tank
        img[row(self._stock / self.K): height - 4, bar // 2: tank - bar // 2] = (30, 100, 180)  # water = stock
        img[row(0.5), bar // 4: tank - bar // 4] = (40, 40, 40)  # the MSY stock K/2
        last = np.zeros(n) if self._harvests is None else self._harvests
        per_player_msy = self.msy / n
        for i, h in enumerate(last):
            x0 = tank + bar * (2 * i + 1)
            # Bars are scaled so that a sustainable catch (MSY/N) reaches a quarter of the height.
            img[row(h / (4 * per_player_msy)): height - 4, x0: x0 + bar] = PLAYER_RGB[i % len(PLAYER_RGB)]
        img[row(0.25), tank:] = (150, 150, 150)  # the sustainable catch MSY/N
        img[height - 4:, :] = 60  # the ground line
        return img

metadata = Fishery.metadata


parallel_env, raw_env, env = pettingzoo_constructors(Fishery)
