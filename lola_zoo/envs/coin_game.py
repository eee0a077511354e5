"""The Coin Game of Foerster et al. (2018) as a PettingZoo parallel environment.

Two players, red (``player_0``) and blue (``player_1``), walk on a small grid that wraps around
(a torus; 3×3 by default).  There is always exactly one coin on the grid, red or blue.  A player
picks a coin up by stepping onto its cell: the picker gets +1, and if the coin has the *other*
player's colour, the coin's owner gets −2.  A new coin appears at once on a cell no player stands
on.  Episodes end by truncation after ``max_steps`` steps (the paper's 150).

Two rules are left open by the paper and settled differently by the reference code
(``alshedivat/lola``, ``lola/envs/coin_game.py``); both are named parameters here:

* ``coin_respawn``: ``"random"`` (default, the paper's words: "a new coin with random colour and
  random position") draws the new coin's colour uniformly; ``"alternate"`` (the reference code)
  hands the new coin the next colour in turn (red, blue, red, ...).
* ``tie_rule``: when several players step onto the coin at the same step, ``"all"`` (default)
  lets every one of them pick it up, each pickup scored as if it were alone (+1 to the picker,
  −2 to the owner per pickup by another player); ``"first"`` (the reference code) gives the
  coin to the lowest seat only (red wins ties).  ``"all"`` is the default because it treats the
  seats alike, which parameter sharing (one policy in either seat) and the symmetric analysis of
  the game assume; ``"first"`` makes red strictly better off in ties.

Observations are ``(4, grid, grid)`` float32 binary planes, channels first for conv nets, from
each player's own perspective: own position, the other players' positions, a coin of one's own
colour, a coin of another colour.  Positions are absolute (not re-centred on the player); only
the channel order depends on the seat, so one policy can play either seat.

Actions are the four moves of the reference code: 0 right (column + 1), 1 left (column − 1),
2 down (row + 1), 3 up (row − 1); there is no "stay".

Beyond the paper, ``n_players`` > 2 gives one colour per player (red, blue, green, yellow, ...);
the rules are unchanged, and "the other players' positions" and "a coin of another colour" are
unions over the other players.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding

from lola_zoo.envs.base import DilemmaParallelEnv, discrete_action, pettingzoo_constructors

__all__ = [
    "ACTION_NAMES",
    "COLOURS",
    "CoinGame",
    "CoinGameState",
    "MOVES",
    "env",
    "parallel_env",
    "raw_env",
]

#: (row, column) offset of each action, in the reference code's order.
MOVES: tuple[tuple[int, int], ...] = ((0, 1), (0, -1), (1, 0), (-1, 0))
ACTION_NAMES: tuple[str, ...] = ("right", "left", "down", "up")
#: one colour per seat; their initials (R, B, G, Y, M, C, O, W) are distinct for the text render.
COLOURS: tuple[str, ...] = ("red", "blue", "green", "yellow", "magenta", "cyan", "orange", "white")
_RGB = {
    "red": (214, 39, 40),
    "blue": (31, 119, 180),
    "green": (44, 160, 44),
    "yellow": (230, 200, 20),
    "magenta": (200, 60, 200),
    "cyan": (23, 190, 207),
    "orange": (255, 127, 14),
    "white": (250, 250, 250),
}

CoinRespawn = Literal["random", "alternate"]
TieRule = Literal["all", "first"]


@dataclass(frozen=True)
class CoinGameState:
    """A complete Coin Game state, to start an env (or its batched twin) from a chosen position.

    :param positions: ``(row, column)`` of every player, in seat order.
    :param coin_position: ``(row, column)`` of the coin; no player may stand on it.
    :param coin_owner: seat index whose colour the coin has.
    :param step: steps already played in the episode.
    """

    positions: tuple[tuple[int, int], ...]
    coin_position: tuple[int, int]
    coin_owner: int
    step: int = 0


def move_table(grid_size: int) -> np.ndarray:
    """``table[cell, action]``: the cell (flat, row-major) ``action`` leads to from ``cell`` (wrapping)."""
    rows, cols = np.divmod(np.arange(grid_size * grid_size), grid_size)
    table = np.empty((grid_size * grid_size, len(MOVES)), dtype=np.int64)
    for a, (dr, dc) in enumerate(MOVES):
        table[:, a] = ((rows + dr) % grid_size) * grid_size + (cols + dc) % grid_size
    return table


def _whole(value: object) -> bool:
    """A whole number (int, NumPy integer or integral float), not a bool; text such as ``'x'`` is not (no int() raise)."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) and \
        float(value).is_integer()


def validate_rules(grid_size: int, max_steps: int, n_players: int, coin_respawn: str, tie_rule: str) -> None:
    """Raise ValueError naming the first bad Coin Game parameter (shared with the batched twin)."""
    if not _whole(grid_size) or grid_size < 2:
        raise ValueError(f"grid_size must be an integer >= 2, got {grid_size!r}")
    if not _whole(max_steps) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive integer, got {max_steps!r}")
    if not _whole(n_players) or not 2 <= n_players <= len(COLOURS):
        raise ValueError(f"n_players must be an integer in [2, {len(COLOURS)}], got {n_players!r}")
    if n_players + 1 > grid_size * grid_size:
        raise ValueError(
            f"a {grid_size}x{grid_size} grid has no free cell for the coin with {n_players} players"
        )
    if coin_respawn not in ("random", "alternate"):
        raise ValueError(f"coin_respawn must be 'random' or 'alternate', got {coin_respawn!r}")
    if tie_rule not in ("all", "first"):
        raise ValueError(f"tie_rule must be 'all' or 'first', got {tie_rule!r}")


class CoinGame(DilemmaParallelEnv):
    """The Coin Game (PettingZoo ParallelEnv); see the module docstring for the rules.

    :param grid_size: side of the square, wrapping grid (the paper: 3).
    :param max_steps: steps per episode; the episode ends by truncation afterwards (the paper: 150).
    :param n_players: players, one colour each (the paper: 2, red and blue).
    :param coin_respawn: colour of a new coin: ``"random"`` (the paper) or ``"alternate"`` (reference code).
    :param tie_rule: several players on the coin at once: ``"all"`` pick it up, or only the ``"first"`` seat.
    :param render_mode: ``None``, ``"ansi"`` (text grid), ``"human"`` (prints it), ``"rgb_array"`` (picture).
    :param cell_pixels: side of one grid cell in the ``"rgb_array"`` picture.
    :param max_cycles: PettingZoo's name for ``max_steps``; overrides it when given.
    """

    metadata: dict[str, Any] = {
        "name": "coin_game_v0",
        "render_modes": ["ansi", "human", "rgb_array"],
        "is_parallelizable": True,
        "render_fps": 4,
    }

    def __init__(
        self,
        grid_size: int = 3,
        max_steps: int = 150,
        n_players: int = 2,
        coin_respawn: CoinRespawn = "random",
        tie_rule: TieRule = "all",
        render_mode: str | None = None,
        cell_pixels: int = 64,
        max_cycles: int | None = None,
    ) -> None:
        if max_cycles is not None:  # PettingZoo's name for the same limit (max_cycles_test)
            max_steps = max_cycles
        validate_rules(grid_size, max_steps, n_players, coin_respawn, tie_rule)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}"
            )
        if int(cell_pixels) != cell_pixels or cell_pixels < 8:
            raise ValueError(f"cell_pixels must be an integer >= 8, got {cell_pixels!r}")
        self.grid_size = int(grid_size)
        self.max_steps = int(max_steps)
        self.n_players = int(n_players)
        self.coin_respawn = coin_respawn
        self.tie_rule = tie_rule
        self.render_mode = render_mode
        self.cell_pixels = int(cell_pixels)
        self.n_cells = self.grid_size * self.grid_size
        self.possible_agents = [f"player_{i}" for i in range(self.n_players)]
        self.colours = COLOURS[: self.n_players]
        self.agents: list[str] = []
        # Spaces are built once: PettingZoo requires the same object on every call.
        obs_space = spaces.Box(0.0, 1.0, shape=(4, self.grid_size, self.grid_size), dtype=np.float32)
        self.observation_spaces = {a: obs_space for a in self.possible_agents}
        self.action_spaces = {a: spaces.Discrete(len(MOVES)) for a in self.possible_agents}
        self.state_space = spaces.Box(
            0.0, 1.0, shape=(2 * self.n_players, self.grid_size, self.grid_size), dtype=np.float32
        )
        self._next_cell = move_table(self.grid_size).tolist()  # plain lists: fastest for scalar lookups
        self._rng, _ = seeding.np_random(None)
        self._cells: list[int] = []
        self._coin = 0
        self._owner = 0
        self._step = 0
        self._scores = [0.0] * self.n_players

    # ------------------------------------------------------------------ state
    def _free_cell(self) -> int:
        """A uniformly drawn cell on which no player stands."""
        occupied = self._cells
        free = [c for c in range(self.n_cells) if c not in occupied]
        return free[int(self._rng.integers(len(free)))]

    def _observation(self, i: int) -> np.ndarray:
        planes = np.zeros((4, self.n_cells), dtype=np.float32)
        cells = self._cells
        planes[0, cells[i]] = 1.0
        for j, c in enumerate(cells):
            if j != i:
                planes[1, c] = 1.0
        planes[2 if self._owner == i else 3, self._coin] = 1.0
        return planes.reshape(4, self.grid_size, self.grid_size)

    def _observations(self) -> dict[str, np.ndarray]:
        return {agent: self._observation(i) for i, agent in enumerate(self.possible_agents)}

    def game_state(self) -> CoinGameState:
        """The current positions, coin and step as a :class:`CoinGameState`."""
        g = self.grid_size
        return CoinGameState(
            positions=tuple(divmod(c, g) for c in self._cells),
            coin_position=divmod(self._coin, g),
            coin_owner=self._owner,
            step=self._step,
        )

    def set_game_state(self, state: CoinGameState) -> dict[str, np.ndarray]:
        """Put the game in ``state`` (agents alive again) and return every player's observation."""
        g = self.grid_size
        if len(state.positions) != self.n_players:
            raise ValueError(f"state has {len(state.positions)} positions for {self.n_players} players")

        def cell(rc: Any, what: str) -> int:
            r, c = (int(v) for v in rc)
            if not (0 <= r < g and 0 <= c < g):
                raise ValueError(f"{what} {tuple(rc)} lies outside the {g}x{g} grid")
            return r * g + c

        cells = [cell(p, f"position of player_{i}") for i, p in enumerate(state.positions)]
        coin = cell(state.coin_position, "coin position")
        if coin in cells:
            raise ValueError("the coin cannot lie under a player: it would already have been picked up")
        if not 0 <= int(state.coin_owner) < self.n_players:
            raise ValueError(
                f"coin_owner must be a seat in [0, {self.n_players - 1}], got {state.coin_owner}"
            )
        if not 0 <= int(state.step) < self.max_steps:
            raise ValueError(f"step must be in [0, {self.max_steps - 1}], got {state.step}")
        self._cells, self._coin, self._owner = cells, coin, int(state.coin_owner)
        self._step = int(state.step)
        self._scores = [0.0] * self.n_players
        self.agents = list(self.possible_agents)
        return self._observations()

    def state(self) -> np.ndarray:
        """Global state: one plane per player position, then one per coin colour, ``(2N, grid, grid)``."""
        planes = np.zeros((2 * self.n_players, self.n_cells), dtype=np.float32)
        for i, c in enumerate(self._cells):
            planes[i, c] = 1.0
        planes[self.n_players + self._owner, self._coin] = 1.0
        return planes.reshape(-1, self.grid_size, self.grid_size)

    # ------------------------------------------------------------ reset/step
    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        """Players on distinct random cells, a random coin on a free cell; reseed only if ``seed``."""
        if seed is not None:
            self._rng, _ = seeding.np_random(seed)
            for i, agent in enumerate(self.possible_agents):
                self.action_spaces[agent].seed(seed + i)
                self.observation_spaces[agent].seed(seed + i)
        cells = self._rng.choice(self.n_cells, size=self.n_players + 1, replace=False)
        self._cells = [int(c) for c in cells[:-1]]
        self._coin = int(cells[-1])
        self._owner = int(self._rng.integers(self.n_players))
        self._step = 0
        self._scores = [0.0] * self.n_players
        self.agents = list(self.possible_agents)
        infos: dict[str, dict[str, Any]] = {a: {} for a in self.agents}
        return self._observations(), infos

    def _checked_actions(self, actions: dict[str, Any]) -> list[int]:
        moves = []
        for agent, action in self._actions_in_seat_order(actions):
            value = discrete_action(action, len(MOVES))
            if value is None:
                raise ValueError(
                    f"invalid action {action!r} for {agent}: expected an integer in [0, 3] "
                    f"({', '.join(ACTION_NAMES)})"
                )
            moves.append(value)
        return moves
    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """Move every player, score a pickup, respawn a picked coin; truncate after ``max_steps``."""
        moves = self._checked_actions(actions)
        nxt = self._next_cell
        self._cells = cells = [nxt[c][a] for c, a in zip(self._cells, moves)]
        coin, owner, n = self._coin, self._owner, self.n_players
        pickers = [i for i in range(n) if cells[i] == coin]
        if self.tie_rule == "first":
            pickers = pickers[:1]
        rewards_list = [0.0] * n
        for i in pickers:
            rewards_list[i] += 1.0
            if i != owner:
                rewards_list[owner] -= 2.0
        owner_name = self.possible_agents[owner]
        if pickers:
            self._owner = int(self._rng.integers(n)) if self.coin_respawn == "random" else (owner + 1) % n
            self._coin = self._free_cell()
        self._step += 1
        truncated = self._step >= self.max_steps
        observations, rewards, terminations, truncations, infos = {}, {}, {}, {}, {}
        for i, agent in enumerate(self.possible_agents):
            picked = i in pickers
            observations[agent] = self._observation(i)
            rewards[agent] = rewards_list[i]
            self._scores[i] += rewards_list[i]
            terminations[agent] = False
            truncations[agent] = truncated
            info: dict[str, Any] = {
                "picked": ("own" if i == owner else "other") if picked else None,
                "coin_owner": owner_name if picked else None,
                "step": self._step,
            }
            if truncated:
                # SuperSuit does not set this flag; SB3 needs it to bootstrap at the time limit.
                info["TimeLimit.truncated"] = True
            infos[agent] = info
        if truncated:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return observations, rewards, terminations, truncations, infos

    # --------------------------------------------------------------- render
    def _render_text(self) -> str:
        g, n = self.grid_size, self.n_players
        width = n + 1  # room for every player and the coin in one cell
        grid = [[""] * g for _ in range(g)]
        for i, c in enumerate(self._cells):
            grid[c // g][c % g] += self.colours[i][0].upper()
        grid[self._coin // g][self._coin % g] += self.colours[self._owner][0]
        scores = ", ".join(f"{col} {s:+g}" for col, s in zip(self.colours, self._scores))
        lines = [f"coin-game step {self._step}/{self.max_steps} ({scores})"]
        lines += [" ".join((cell or ".").center(width) for cell in row) for row in grid]
        return "\n".join(lines)

    def _render_rgb(self) -> np.ndarray:
        g, px = self.grid_size, self.cell_pixels
        img = np.full((g * px, g * px, 3), 236, dtype=np.uint8)
        img[::px, :] = 190  # grid lines
        img[:, ::px] = 190
        img[-1, :] = 190
        img[:, -1] = 190
        yy, xx = np.mgrid[0:px, 0:px] + 0.5
        # Players are squares; several on one cell share it in vertical strips.
        by_cell: dict[int, list[int]] = {}
        for i, c in enumerate(self._cells):
            by_cell.setdefault(c, []).append(i)
        pad = max(2, px // 8)
        for c, seats in by_cell.items():
            r0, c0 = (c // g) * px, (c % g) * px
            strip = (px - 2 * pad) / len(seats)
            for k, i in enumerate(seats):
                x0, x1 = int(c0 + pad + k * strip), int(c0 + pad + (k + 1) * strip)
                img[r0 + pad : r0 + px - pad, x0:x1] = 40  # dark outline
                img[r0 + pad + 2 : r0 + px - pad - 2, x0 + 2 : x1 - 2] = _RGB[self.colours[i]]
        # The coin is a disc of its owner's colour in a gold ring.
        r0, c0 = (self._coin // g) * px, (self._coin % g) * px
        dist = np.hypot(yy - px / 2, xx - px / 2)
        cell = img[r0 : r0 + px, c0 : c0 + px]
        cell[dist <= 0.3 * px] = (212, 175, 55)
        cell[dist <= 0.22 * px] = _RGB[self.colours[self._owner]]
        return img

    def _render_ready(self) -> bool:
        """Nothing to draw before ``reset``."""
        return bool(self._cells)

metadata = CoinGame.metadata


parallel_env, raw_env, env = pettingzoo_constructors(CoinGame)
