"""IPD in the matrix: a grid world in which players gather strategies and play a matrix game with them.

A STORM-like sequential social dilemma (after "IPD in the matrix" of Khan et al. and STORM in
JaxMARL, re-implemented from their descriptions).  ``N`` players (default 2) walk on a square grid
whose edges wrap around (a torus).  Resources of two kinds lie on the grid, one kind per action of
a 2x2 stage game: "cooperate" and "defect" in the default prisoner's dilemma.  Stepping onto a
resource puts it into the player's inventory ``(c, d)``.  A player *zaps*: a beam leaves it in the
direction it faces and stops at the first player within ``beam_length`` cells.  If both players
hold something, they play the stage game with their inventories as mixed strategies,
``x = (c, d) / (c + d)`` for the zapper (the row player) and ``y`` likewise for the player hit:

    reward(zapper) = x^T A_row y        reward(hit) = x^T A_col y

(``A_row = payoffs[0]``, ``A_col = payoffs[1]``; for a symmetric game the player hit gets
``y^T A x``).  Both inventories are then emptied and both players leave the grid for
``freeze_steps`` steps, after which they reappear on random free cells, facing a random way.

The rules, step by step (the PettingZoo env and the batched torch twin follow them in this order):

1. Players in play turn (actions 1 and 2).
2. Players in play that chose "forward" (action 0) move one cell ahead, unless another player in
   play stands on the target cell or another mover aims at the same cell: then they stay (so no
   two players ever share a cell; a player never walks into a cell just being vacated).
3. A player that lands on a resource collects it.
4. Zaps (action 4) are traced from the players' positions after the moves; a beam stops at the
   first player in play, whatever that player holds.  A zap pairs the zapper with the player hit
   if both inventories are non-empty.  Zaps are resolved in seat order: a player takes part in at
   most one interaction per step, so a later zap involving an already paired player does nothing
   (two players zapping each other play once, the lower seat as the row player).
5. Rewards as above; paired players' inventories are emptied and they leave the grid.
6. Every collected resource whose cell no player in play stands on grows back with probability
   ``respawn_prob``.  Resources lie on fixed cells ("spots"), ``n_resources`` of each kind, drawn
   at reset.
7. Players off the grid count down; one whose wait is over reappears (seat order) on a uniformly
   drawn cell with no player and no resource.  ``freeze_steps=0`` puts it back in the same step.

Episodes end by truncation after ``max_steps`` steps; there is no termination.  Outside
interactions every reward is 0.

**Observations** are egocentric: the whole torus re-centred on the observer (at row, column
``grid // 2``) and rotated so that the observer faces up: a ``(9, grid, grid)`` float32 array,
channels first, whose planes are (0) live resources of the first kind, (1) of the second kind,
(2) the observer itself, (3-6) other players facing up, right, down, left as seen by the observer,
(7) the first-kind count and (8) the second-kind count of the inventory of the player standing
on each cell (the observer included).  A player off the grid observes all zeros.  A full,
re-centred view keeps the game fully observable (STORM shows a smaller window) and lets one policy
play any seat.

**Actions** ``Discrete(5)``: 0 forward, 1 turn left, 2 turn right, 3 stay, 4 zap.  Actions of a
player off the grid must still be valid but do nothing.

Randomness (the initial layout, regrowth, respawns) comes only from the env's generator, seeded by
``reset(seed=...)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from numpy.typing import ArrayLike

from lola_zoo.envs.base import DilemmaParallelEnv, discrete_action, pettingzoo_constructors
from lola_zoo.envs.games import MatrixGame, symmetric_game

if TYPE_CHECKING:  # torch is imported on first use: the PettingZoo env does not need it
    import torch

__all__ = [
    "ACTION_NAMES",
    "BatchedInTheMatrix",
    "DIRECTIONS",
    "InTheMatrix",
    "InTheMatrixState",
    "N_CHANNELS",
    "env",
    "parallel_env",
    "raw_env",
    "resolve_payoffs",
]

FORWARD, TURN_LEFT, TURN_RIGHT, STAY, ZAP = range(5)
ACTION_NAMES: tuple[str, ...] = ("forward", "turn left", "turn right", "stay", "zap")
#: (row, column) step of each facing: 0 up, 1 right, 2 down, 3 left (turning right adds 1).
DIRECTIONS: tuple[tuple[int, int], ...] = ((-1, 0), (0, 1), (1, 0), (0, -1))
N_CHANNELS = 9
_ARROWS = "^>v<"
#: player colours of the picture; green and red are kept for the two resource kinds.
_PLAYER_RGB = ((31, 119, 180), (255, 127, 14), (148, 103, 189), (140, 86, 75), (227, 119, 194),
               (23, 190, 207), (188, 189, 34), (127, 127, 127))
_RESOURCE_RGB = ((44, 160, 44), (214, 39, 40))


@dataclass(frozen=True)
class InTheMatrixState:
    """A complete state, to start an env (or one game of the batched twin) from a chosen position.

    :param positions: ``(row, column)`` of every player in seat order; ``None`` for a player off the grid.
    :param facing: every player's facing, 0 up, 1 right, 2 down, 3 left (read as 0 off the grid).
    :param inventories: every player's ``(first kind, second kind)`` counts.
    :param resources: ``(row, column)`` of the ``2 * n_resources`` spots, the first half of the first kind.
    :param alive: whether each spot holds a resource now.
    :param frozen: steps each player still waits off the grid (0: in play; ``None``: all 0).
    :param step: steps already played in the episode.
    """

    positions: tuple[tuple[int, int] | None, ...]
    facing: tuple[int, ...]
    inventories: tuple[tuple[int, int], ...]
    resources: tuple[tuple[int, int], ...]
    alive: tuple[bool, ...]
    frozen: tuple[int, ...] | None = None
    step: int = 0


#: The default stage game: the prisoner's dilemma with positive payoffs (R 3, S 0, T 5, P 1; Axelrod's,
#: as STORM and pax use), so that interacting pays and the dilemma is in *how* to interact.  The
#: LOLA paper's payoffs (``payoffs="ipd"``) are all negative: there the best play is never to interact.
DEFAULT_PAYOFFS = ((3.0, 0.0), (5.0, 1.0))


def resolve_payoffs(payoffs: str | MatrixGame | ArrayLike) -> MatrixGame:
    """The 2x2 two-player stage game from a registered id, a :class:`MatrixGame` or a payoff array.

    An array is either the row player's ``(2, 2)`` matrix of a symmetric game or the full
    ``(2, 2, 2)`` table (``payoffs[i, a_row, a_col]``: player i's payoff).
    """
    if isinstance(payoffs, str):
        from lola_zoo.registry import game as registered_game  # registry ids include plugins

        try:
            game = registered_game(payoffs)
        except (KeyError, ValueError) as exc:
            raise ValueError(f"payoffs={payoffs!r} is not a registered matrix game: {exc}") from None
    elif isinstance(payoffs, MatrixGame):
        game = payoffs
    else:
        try:
            array = np.asarray(payoffs, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"payoffs must be a game id, a MatrixGame or a numeric array, got {payoffs!r}") from None
        if array.shape == (2, 2):
            game = symmetric_game(array, "custom 2x2 game", ("cooperate", "defect"))
        elif array.shape == (2, 2, 2):
            game = MatrixGame("custom 2x2 game", array, (("cooperate", "defect"),))
        else:
            raise ValueError(
                f"payoffs must be a (2, 2) row-player matrix or a (2, 2, 2) table, got shape {array.shape}"
            )
    if game.n_players != 2 or game.n_actions != (2, 2):
        raise ValueError(
            f"payoffs must be a two-player 2x2 game (one resource kind per action); {game.name!r} has "
            f"{game.n_players} players and actions {game.n_actions}"
        )
    if not np.all(np.isfinite(game.payoffs)):
        raise ValueError(f"payoffs must be finite, got {game.payoffs.tolist()}")
    return game


def _is_int(value: Any) -> bool:
    try:
        return not isinstance(value, bool) and int(value) == value
    except (TypeError, ValueError):
        return False


def validate_rules(
    grid_size: int, n_players: int, n_resources: int, respawn_prob: float, freeze_steps: int, beam_length: int,
    max_steps: int,
) -> None:
    """Raise one ValueError naming the first bad parameter (shared with the batched twin)."""
    if not _is_int(n_players) or n_players < 2:
        raise ValueError(f"n_players must be an integer >= 2, got {n_players!r}")
    if not _is_int(grid_size) or grid_size < 2:
        raise ValueError(f"grid_size must be an integer >= 2, got {grid_size!r}")
    if not _is_int(n_resources) or n_resources < 1:
        raise ValueError(f"n_resources (spots of each kind) must be an integer >= 1, got {n_resources!r}")
    if n_players + 2 * n_resources > grid_size * grid_size:
        raise ValueError(
            f"grid_size={grid_size} is too small: a {grid_size}x{grid_size} grid has {grid_size * grid_size} cells "
            f"for {n_players} players and 2 x {n_resources} resources"
        )
    try:
        ok = 0.0 <= float(respawn_prob) <= 1.0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"respawn_prob must be a probability in [0, 1], got {respawn_prob!r}")
    if not _is_int(freeze_steps) or freeze_steps < 0:
        raise ValueError(f"freeze_steps must be an integer >= 0, got {freeze_steps!r}")
    if not _is_int(beam_length) or not 1 <= beam_length < grid_size:
        # A longer beam would wrap round the torus back onto the zapper.
        raise ValueError(f"beam_length must be an integer in [1, grid_size - 1 = {grid_size - 1}], got {beam_length!r}")
    if not _is_int(max_steps) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive integer, got {max_steps!r}")


def forward_table(grid_size: int) -> np.ndarray:
    """``table[cell, facing]``: the cell (flat, row-major) one step ahead (wrapping)."""
    rows, cols = np.divmod(np.arange(grid_size * grid_size), grid_size)
    table = np.empty((grid_size * grid_size, 4), dtype=np.int64)
    for f, (dr, dc) in enumerate(DIRECTIONS):
        table[:, f] = ((rows + dr) % grid_size) * grid_size + (cols + dc) % grid_size
    return table


def beam_table(grid_size: int, beam_length: int) -> np.ndarray:
    """``table[cell * 4 + facing, k]``: the cell ``k + 1`` steps ahead, the beam's path in order."""
    g = grid_size
    rows, cols = np.divmod(np.arange(g * g), g)
    table = np.empty((g * g, 4, beam_length), dtype=np.int64)
    for f, (dr, dc) in enumerate(DIRECTIONS):
        for k in range(beam_length):
            table[:, f, k] = ((rows + (k + 1) * dr) % g) * g + (cols + (k + 1) * dc) % g
    return table.reshape(g * g * 4, beam_length)


def view_table(grid_size: int) -> np.ndarray:
    """``table[cell * 4 + facing, view_cell]``: the grid cell shown at each cell of the egocentric view.

    The observer sits at view cell ``(g // 2, g // 2)`` facing up: view row ``u`` lies ``g // 2 - u``
    cells ahead and view column ``v`` lies ``v - g // 2`` cells to the observer's right.
    """
    g = grid_size
    rows, cols = np.divmod(np.arange(g * g), g)
    du, dv = np.divmod(np.arange(g * g), g)
    du, dv = du - g // 2, dv - g // 2
    table = np.empty((g * g, 4, g * g), dtype=np.int64)
    for f in range(4):
        ahead, right = DIRECTIONS[f], DIRECTIONS[(f + 1) % 4]
        off_r = -du * ahead[0] + dv * right[0]
        off_c = -du * ahead[1] + dv * right[1]
        table[:, f, :] = ((rows[:, None] + off_r) % g) * g + (cols[:, None] + off_c) % g
    return table.reshape(g * g * 4, g * g)


def mixed_payoff(p: np.ndarray | Any, x0: Any, x1: Any, y0: Any, y1: Any) -> Any:
    """``x^T p y`` for a 2x2 matrix ``p``, written out so that floats and tensors round identically."""
    return x0 * (p[0][0] * y0 + p[0][1] * y1) + x1 * (p[1][0] * y0 + p[1][1] * y1)


class InTheMatrix(DilemmaParallelEnv):
    """IPD in the matrix (PettingZoo ParallelEnv); see the module docstring for the rules.

    :param n_players: players N (at least 2).
    :param grid_size: side of the square, wrapping grid.
    :param n_resources: resource spots of each kind.
    :param respawn_prob: chance per step that a collected resource grows back on its spot.
    :param freeze_steps: steps a player stays off the grid after an interaction.
    :param beam_length: reach of the zap beam in cells (less than ``grid_size``).
    :param max_steps: steps per episode; the episode ends by truncation afterwards.
    :param payoffs: the 2x2 stage game (default :data:`DEFAULT_PAYOFFS`, a positive prisoner's
        dilemma): a registered id (``"ipd"``, ``"stag-hunt"``, ...), a
        :class:`MatrixGame`, a ``(2, 2)`` row-player matrix (symmetric game) or a ``(2, 2, 2)`` table.
    :param render_mode: ``None``, ``"ansi"`` (text grid), ``"human"`` (prints it), ``"rgb_array"`` (picture).
    :param cell_pixels: side of one grid cell in the ``"rgb_array"`` picture.
    :param max_cycles: PettingZoo's name for ``max_steps``; overrides it when given.
    """

    metadata: dict[str, Any] = {
        "name": "in_the_matrix_v0",
        "render_modes": ["ansi", "human", "rgb_array"],
        "is_parallelizable": True,
        "render_fps": 4,
    }

    def __init__(
        self,
        n_players: int = 2,
        grid_size: int = 8,
        n_resources: int = 4,
        respawn_prob: float = 0.1,
        freeze_steps: int = 5,
        beam_length: int = 3,
        max_steps: int = 150,
        payoffs: str | MatrixGame | ArrayLike = DEFAULT_PAYOFFS,
        render_mode: str | None = None,
        cell_pixels: int = 32,
        max_cycles: int | None = None,
    ) -> None:
        if max_cycles is not None:  # PettingZoo's name for the same limit (max_cycles_test)
            max_steps = max_cycles
        validate_rules(grid_size, n_players, n_resources, respawn_prob, freeze_steps, beam_length, max_steps)
        self.game = resolve_payoffs(payoffs)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}"
            )
        if not _is_int(cell_pixels) or cell_pixels < 8:
            raise ValueError(f"cell_pixels must be an integer >= 8, got {cell_pixels!r}")
        self.n_players = int(n_players)
        self.grid_size = g = int(grid_size)
        self.n_resources = int(n_resources)
        self.respawn_prob = float(respawn_prob)
        self.freeze_steps = int(freeze_steps)
        self.beam_length = int(beam_length)
        self.max_steps = int(max_steps)
        self.render_mode = render_mode
        self.cell_pixels = int(cell_pixels)
        self.n_cells = g * g
        self.resource_names: tuple[str, str] = (self.game.action_names[0][0], self.game.action_names[0][1])
        self._payoffs = self.game.payoffs.tolist()  # [player][row action][column action], plain floats
        self.possible_agents = [f"player_{i}" for i in range(self.n_players)]
        self.agents: list[str] = []
        # Spaces are built once: PettingZoo requires the same object on every call.
        # Bounded: an inventory count (the largest value seen) grows by at most one a step.
        high = float(max(1, self.max_steps))
        obs_space = spaces.Box(0.0, high, shape=(N_CHANNELS, g, g), dtype=np.float32)
        self.observation_spaces = {a: obs_space for a in self.possible_agents}
        self.action_spaces = {a: spaces.Discrete(len(ACTION_NAMES)) for a in self.possible_agents}
        self.state_space = spaces.Box(0.0, high, shape=(2 + 6 * self.n_players, g, g), dtype=np.float32)
        # Plain lists: the fastest for the scalar lookups of a single game.
        self._forward = forward_table(g).tolist()
        self._beam = beam_table(g, self.beam_length).tolist()
        self._view = view_table(g)
        self._rng, _ = seeding.np_random(None)
        self._pos: list[int] = []
        self._facing: list[int] = []
        self._inv: list[list[int]] = []
        self._frozen: list[int] = []
        self._spots: list[int] = []
        self._alive: list[bool] = []
        self._step = 0
        self._scores = [0.0] * self.n_players
        self._beams: list[list[int]] = []  # cells the last step's zap beams crossed, for the picture
        self._regrown: list[bool] = []

    # ------------------------------------------------------------------ state
    def game_state(self) -> InTheMatrixState:
        """The current state as an :class:`InTheMatrixState` (players off the grid: position None, facing 0)."""
        g = self.grid_size
        out = [f > 0 for f in self._frozen]
        return InTheMatrixState(
            positions=tuple(None if o else divmod(c, g) for c, o in zip(self._pos, out)),
            facing=tuple(0 if o else f for f, o in zip(self._facing, out)),
            inventories=tuple((c, d) for c, d in self._inv),
            resources=tuple(divmod(c, g) for c in self._spots),
            alive=tuple(self._alive),
            frozen=tuple(self._frozen),
            step=self._step,
        )

    def set_game_state(self, state: InTheMatrixState) -> dict[str, np.ndarray]:
        """Put the game in ``state`` (agents alive again) and return every player's observation."""
        pos, facing, inv, frozen, spots, alive = check_state(
            state, self.n_players, self.grid_size, self.n_resources, self.freeze_steps, self.max_steps
        )
        self._pos, self._facing, self._inv, self._frozen = pos, facing, inv, frozen
        self._spots, self._alive = spots, alive
        self._step = int(state.step)
        self._scores = [0.0] * self.n_players
        self._beams = []
        self.agents = list(self.possible_agents)
        return self._observations()

    def state(self) -> np.ndarray:
        """Global state ``(2 + 6N, grid, grid)``: live resources of each kind, then per player its facing
        (4 one-hot planes at its cell) and its two inventory counts at its cell; zeros while off the grid."""
        n_cells = self.n_cells
        planes = np.zeros((2 + 6 * self.n_players, n_cells), dtype=np.float32)
        for k, (cell, alive) in enumerate(zip(self._spots, self._alive)):
            if alive:
                planes[k // self.n_resources, cell] = 1.0
        for i in range(self.n_players):
            if self._frozen[i] == 0:
                base = 2 + 6 * i
                planes[base + self._facing[i], self._pos[i]] = 1.0
                planes[base + 4, self._pos[i]] = self._inv[i][0]
                planes[base + 5, self._pos[i]] = self._inv[i][1]
        return planes.reshape(-1, self.grid_size, self.grid_size)

    def _observations(self) -> dict[str, np.ndarray]:
        n_cells, n = self.n_cells, self.n_players
        shared = np.zeros((N_CHANNELS, n_cells), dtype=np.float32)
        for k, (cell, alive) in enumerate(zip(self._spots, self._alive)):
            if alive:
                shared[k // self.n_resources, cell] = 1.0
        in_play = [f == 0 for f in self._frozen]
        for j in range(n):
            if in_play[j]:
                shared[7, self._pos[j]] = self._inv[j][0]
                shared[8, self._pos[j]] = self._inv[j][1]
        out = {}
        for i, agent in enumerate(self.possible_agents):
            if not in_play[i]:
                out[agent] = np.zeros((N_CHANNELS, self.grid_size, self.grid_size), dtype=np.float32)
                continue
            world = shared.copy()
            world[2, self._pos[i]] = 1.0
            for j in range(n):
                if j != i and in_play[j]:
                    # Facings are told relative to the observer's, as the view is rotated with it.
                    world[3 + (self._facing[j] - self._facing[i]) % 4, self._pos[j]] = 1.0
            view = world[:, self._view[self._pos[i] * 4 + self._facing[i]]]
            out[agent] = view.reshape(N_CHANNELS, self.grid_size, self.grid_size)
        return out

    def _free_cell(self, occupied: set[int]) -> int:
        """A uniformly drawn cell with no player in ``occupied`` and no live resource."""
        blocked = occupied | {c for c, a in zip(self._spots, self._alive) if a}
        free = [c for c in range(self.n_cells) if c not in blocked]
        return free[int(self._rng.integers(len(free)))]

    # ------------------------------------------------------------ reset/step
    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        """Players and resource spots on distinct random cells, random facings; reseed only if ``seed``."""
        if seed is not None:
            self._rng, _ = seeding.np_random(seed)
            for i, agent in enumerate(self.possible_agents):
                self.action_spaces[agent].seed(seed + i)
                self.observation_spaces[agent].seed(seed + i)
        n, n_spots = self.n_players, 2 * self.n_resources
        cells = self._rng.permutation(self.n_cells)[: n + n_spots]
        self._pos = [int(c) for c in cells[:n]]
        self._spots = [int(c) for c in cells[n:]]
        self._alive = [True] * n_spots
        self._facing = [int(f) for f in self._rng.integers(4, size=n)]
        self._inv = [[0, 0] for _ in range(n)]
        self._frozen = [0] * n
        self._step = 0
        self._scores = [0.0] * n
        self._beams = []
        self.agents = list(self.possible_agents)
        infos: dict[str, dict[str, Any]] = {a: {} for a in self.agents}
        return self._observations(), infos

    def _checked_actions(self, actions: dict[str, Any]) -> list[int]:
        values = []
        for agent, action in self._actions_in_seat_order(actions):
            value = discrete_action(action, len(ACTION_NAMES))
            if value is None:
                raise ValueError(
                    f"invalid action {action!r} for {agent}: expected an integer in [0, 4] "
                    f"({', '.join(f'{k} {name}' for k, name in enumerate(ACTION_NAMES))})"
                )
            values.append(value)
        return values
    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """Turn, move, collect, zap and interact, regrow resources, respawn; truncate after ``max_steps``."""
        acts = self._checked_actions(actions)
        n, fwd = self.n_players, self._forward
        active = [i for i in range(n) if self._frozen[i] == 0]
        facing = self._facing
        for i in active:
            if acts[i] == TURN_LEFT:
                facing[i] = (facing[i] + 3) % 4
            elif acts[i] == TURN_RIGHT:
                facing[i] = (facing[i] + 1) % 4
        # 2. moves: blocked by a player standing on the target or another mover aiming at it.
        old = self._pos
        target = list(old)
        for i in active:
            if acts[i] == FORWARD:
                target[i] = fwd[old[i]][facing[i]]
        pos = list(old)
        for i in active:
            if acts[i] == FORWARD and not any(
                j != i and (target[i] == old[j] or target[i] == target[j]) for j in active
            ):
                pos[i] = target[i]
        self._pos = pos
        # 3. collection (no two players share a cell, so nobody competes for a resource).
        spot_at = {c: k for k, c in enumerate(self._spots)}
        collected: list[int | None] = [None] * n
        for i in active:
            k = spot_at.get(pos[i])
            if k is not None and self._alive[k]:
                self._alive[k] = False
                kind = k // self.n_resources
                self._inv[i][kind] += 1
                collected[i] = kind
        # 4. zaps, traced after the moves and resolved in seat order.
        who = {pos[j]: j for j in active}
        self._beams = []
        partner: list[int | None] = [None] * n
        is_row = [False] * n
        for i in active:
            if acts[i] != ZAP:
                continue
            path, hit = [], None
            for cell in self._beam[pos[i] * 4 + facing[i]]:
                path.append(cell)
                hit = who.get(cell)
                if hit is not None:
                    break
            self._beams.append(path)
            if hit is None or partner[i] is not None or partner[hit] is not None:
                continue
            if sum(self._inv[i]) > 0 and sum(self._inv[hit]) > 0:
                partner[i], partner[hit], is_row[i] = hit, i, True
        # 5. the stage game on the inventory mixtures.
        rewards_list = [0.0] * n
        mixes: list[float | None] = [None] * n
        for i in range(n):
            j = partner[i]
            if j is None or not is_row[i]:
                continue
            (ci, di), (cj, dj) = self._inv[i], self._inv[j]
            x0, x1, y0, y1 = ci / (ci + di), di / (ci + di), cj / (cj + dj), dj / (cj + dj)
            rewards_list[i] = float(mixed_payoff(self._payoffs[0], x0, x1, y0, y1))
            rewards_list[j] = float(mixed_payoff(self._payoffs[1], x0, x1, y0, y1))
            mixes[i], mixes[j] = x0, y0
        for i in range(n):
            if partner[i] is not None:
                self._inv[i] = [0, 0]
                self._frozen[i] = self.freeze_steps + 1
        # 6. regrowth on spots no player in play stands on.
        occupied = {pos[j] for j in range(n) if self._frozen[j] == 0}
        self._regrown = [False] * len(self._spots)  # kept for the step-for-step test of the batched twin
        for k, cell in enumerate(self._spots):
            if not self._alive[k] and cell not in occupied and self._rng.random() < self.respawn_prob:
                self._alive[k] = self._regrown[k] = True
        # 7. players off the grid count down; respawn in seat order on free cells.
        respawned = [False] * n
        for i in range(n):
            if self._frozen[i] > 0:
                self._frozen[i] -= 1
                if self._frozen[i] == 0:
                    self._pos[i] = self._free_cell(occupied)
                    self._facing[i] = int(self._rng.integers(4))
                    occupied.add(self._pos[i])
                    respawned[i] = True
        self._step += 1
        truncated = self._step >= self.max_steps
        observations = self._observations()
        rewards, terminations, truncations, infos = {}, {}, {}, {}
        for i, agent in enumerate(self.possible_agents):
            rewards[agent] = rewards_list[i]
            self._scores[i] += rewards_list[i]
            terminations[agent] = False
            truncations[agent] = truncated
            mate, got = partner[i], collected[i]
            info: dict[str, Any] = {
                "collected": None if got is None else self.resource_names[got],
                "partner": None if mate is None else self.possible_agents[mate],
                "row_player": None if mate is None else is_row[i],
                "mix": mixes[i],
                "respawned": respawned[i],
                "in_play": self._frozen[i] == 0,
                "inventory": tuple(self._inv[i]),
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
        width = len(str(n - 1)) + 1
        grid = [["."] * g for _ in range(g)]
        for path in self._beams:
            for cell in path:
                grid[cell // g][cell % g] = "*"
        for k, (cell, alive) in enumerate(zip(self._spots, self._alive)):
            if alive:
                grid[cell // g][cell % g] = "cd"[k // self.n_resources]
        for i in range(n):
            if self._frozen[i] == 0:
                grid[self._pos[i] // g][self._pos[i] % g] = f"{i}{_ARROWS[self._facing[i]]}"
        status = []
        for i in range(n):
            where = "" if self._frozen[i] == 0 else f", off grid {self._frozen[i]}"
            status.append(f"{i}: {self._scores[i]:+.3g} inv {self._inv[i][0]}c/{self._inv[i][1]}d{where}")
        lines = [f"in-the-matrix step {self._step}/{self.max_steps} "
                 f"(c = {self.resource_names[0]}, d = {self.resource_names[1]}, * = zap beam)"]
        lines.append("; ".join(status))
        lines += [" ".join(cell.center(width) for cell in row) for row in grid]
        return "\n".join(lines)

    def _render_rgb(self) -> np.ndarray:
        g, px = self.grid_size, self.cell_pixels
        img = np.full((g * px, g * px, 3), 236, dtype=np.uint8)
        for path in self._beams:  # last step's beams: pale yellow cells
            for cell in path:
                r0, c0 = (cell // g) * px, (cell % g) * px
                img[r0 : r0 + px, c0 : c0 + px] = (250, 235, 140)
        img[::px, :] = 190  # grid lines
        img[:, ::px] = 190
        img[-1, :] = 190
        img[:, -1] = 190
        yy, xx = np.mgrid[0:px, 0:px] + 0.5
        dist = np.hypot(yy - px / 2, xx - px / 2)
        for k, (cell, alive) in enumerate(zip(self._spots, self._alive)):
            r0, c0 = (cell // g) * px, (cell % g) * px
            block = img[r0 : r0 + px, c0 : c0 + px]
            if alive:
                block[dist <= 0.3 * px] = _RESOURCE_RGB[k // self.n_resources]
            else:  # an empty spot: a faint ring where the resource will grow back
                block[(dist <= 0.3 * px) & (dist > 0.24 * px)] = 205
        pad = max(2, px // 8)
        for i in range(self.n_players):
            if self._frozen[i] > 0:
                continue
            r0, c0 = (self._pos[i] // g) * px, (self._pos[i] % g) * px
            block = img[r0 : r0 + px, c0 : c0 + px]
            block[pad : px - pad, pad : px - pad] = 40  # dark outline
            block[pad + 1 : px - pad - 1, pad + 1 : px - pad - 1] = _PLAYER_RGB[i % len(_PLAYER_RGB)]
            # A white nose on the side the player faces.
            lo, hi, thick = px // 2 - px // 8, px // 2 + px // 8, max(2, px // 10)
            nose = {0: (slice(pad, pad + thick), slice(lo, hi)), 1: (slice(lo, hi), slice(px - pad - thick, px - pad)),
                    2: (slice(px - pad - thick, px - pad), slice(lo, hi)), 3: (slice(lo, hi), slice(pad, pad + thick))}
            block[nose[self._facing[i]]] = 255
            c, d = self._inv[i]
            if c + d:  # the inventory's mixture as a bar: first kind (green) left, second (red) right
                y0, y1 = px - pad - 1 - max(3, px // 5), px - pad - 1
                x0, x1 = pad + 2, px - pad - 2
                split = x0 + round((x1 - x0) * c / (c + d))
                block[y0:y1, x0:split] = _RESOURCE_RGB[0]
                block[y0:y1, split:x1] = _RESOURCE_RGB[1]
        return img

    def _render_ready(self) -> bool:
        """Nothing to draw before ``reset``."""
        return bool(self._pos)

def check_state(
    state: InTheMatrixState, n_players: int, grid_size: int, n_resources: int, freeze_steps: int, max_steps: int
) -> tuple[list[int], list[int], list[list[int]], list[int], list[int], list[bool]]:
    """Validate ``state`` and return it as flat lists: cells, facings, inventories, frozen, spots, alive."""
    g, n, n_spots = grid_size, n_players, 2 * n_resources

    def cell(rc: Any, what: str) -> int:
        r, c = (int(v) for v in rc)
        if not (0 <= r < g and 0 <= c < g):
            raise ValueError(f"{what} {tuple(rc)} lies outside the {g}x{g} grid")
        return r * g + c

    frozen = [0] * n if state.frozen is None else [int(f) for f in state.frozen]
    lengths = {"positions": len(state.positions), "facing": len(state.facing),
               "inventories": len(state.inventories), "frozen": len(frozen)}
    for name, length in lengths.items():
        if length != n:
            raise ValueError(f"state.{name} has {length} entries for {n} players")
    if len(state.resources) != n_spots or len(state.alive) != n_spots:
        raise ValueError(f"state.resources and state.alive need {n_spots} entries (2 x n_resources), "
                         f"got {len(state.resources)} and {len(state.alive)}")
    if any(not 0 <= f <= freeze_steps for f in frozen):
        raise ValueError(f"state.frozen entries must lie in [0, freeze_steps = {freeze_steps}], got {frozen}")
    pos = []
    for i, (p, f) in enumerate(zip(state.positions, frozen)):
        if (p is None) != (f > 0):
            raise ValueError(f"player_{i}: a position is given exactly when the player is in play (frozen 0); "
                             f"got position {p} with frozen {f}")
        pos.append(0 if p is None else cell(p, f"position of player_{i}"))
    in_play = [p for p, f in zip(pos, frozen) if f == 0]
    if len(set(in_play)) != len(in_play):
        raise ValueError(f"two players in play share a cell: {state.positions}")
    facing = [0 if f > 0 else int(v) for v, f in zip(state.facing, frozen)]
    if any(not 0 <= v < 4 for v in facing):
        raise ValueError(f"facings must be 0 up, 1 right, 2 down or 3 left, got {state.facing}")
    inv = [[int(c), int(d)] for c, d in state.inventories]
    if any(not 0 <= v <= max_steps for pair in inv for v in pair):  # one pickup a step at most
        raise ValueError(f"inventory counts must lie in [0, max_steps = {max_steps}], got {state.inventories}")
    spots = [cell(rc, f"resource spot {k}") for k, rc in enumerate(state.resources)]
    if len(set(spots)) != n_spots:
        raise ValueError(f"resource spots must be distinct cells, got {state.resources}")
    alive = [bool(a) for a in state.alive]
    if any(a and s in in_play for s, a in zip(spots, alive)):
        raise ValueError("a resource cannot lie under a player in play: it would already have been collected")
    if not 0 <= int(state.step) < max_steps:
        raise ValueError(f"step must be in [0, {max_steps - 1}], got {state.step}")
    return pos, facing, inv, frozen, spots, alive


metadata = InTheMatrix.metadata


parallel_env, raw_env, env = pettingzoo_constructors(InTheMatrix)


# ======================================================================== batched twin
class BatchedInTheMatrix:
    """B games of :class:`InTheMatrix` stepped together as torch tensors (batch dimension first), CPU or GPU.

    The same rules in the same order as the PettingZoo env (a test replays random games in both and
    compares them step by step).  All games advance in lockstep, so a step is tensor operations over
    ``(B, N)`` with Python loops only over the N seats (zap resolution and respawns, which go in
    seat order).  Positions are flat cells (``row * grid + column``); precomputed tables turn a move,
    a beam and the egocentric view into gathers.  Randomness comes only from ``self.generator``.
    Rewards are computed in float64, as the PettingZoo env does, and returned as float32.

    :param batch_size: number of games B, or a batch shape such as ``(runs, episodes)``.
    :param n_players: players N.
    :param grid_size: side of the square, wrapping grid.
    :param n_resources: resource spots of each kind.
    :param respawn_prob: chance per step that a collected resource grows back.
    :param freeze_steps: steps a player stays off the grid after an interaction.
    :param beam_length: reach of the zap beam in cells.
    :param max_steps: steps per episode.
    :param payoffs: the 2x2 stage game (see :class:`InTheMatrix`).
    :param device: torch device of every tensor.
    :param check_actions: validate action values on every step (one host sync).
    """

    def __init__(
        self,
        batch_size: int | tuple[int, ...],
        n_players: int = 2,
        grid_size: int = 8,
        n_resources: int = 4,
        respawn_prob: float = 0.1,
        freeze_steps: int = 5,
        beam_length: int = 3,
        max_steps: int = 150,
        payoffs: str | MatrixGame | ArrayLike = DEFAULT_PAYOFFS,
        device: str | torch.device = "cpu",
        check_actions: bool = True,
    ) -> None:
        import torch

        validate_rules(grid_size, n_players, n_resources, respawn_prob, freeze_steps, beam_length, max_steps)
        self.game = resolve_payoffs(payoffs)
        shape = (batch_size,) if isinstance(batch_size, int) else tuple(batch_size)
        if not shape or any(not _is_int(b) or b < 1 for b in shape):
            raise ValueError(f"batch_size must be a positive integer or a shape of them, got {batch_size!r}")
        self.batch_shape: tuple[int, ...] = tuple(int(b) for b in shape)
        self.batch_size = B = int(torch.Size(self.batch_shape).numel())
        self.n_players = N = int(n_players)
        self.grid_size = g = int(grid_size)
        self.n_resources = R = int(n_resources)
        self.respawn_prob = float(respawn_prob)
        self.freeze_steps = int(freeze_steps)
        self.beam_length = int(beam_length)
        self.max_steps = int(max_steps)
        self.device = torch.device(device)
        self.check_actions = check_actions
        self.n_cells = g * g
        self.n_spots = 2 * R
        self.resource_names: tuple[str, str] = (self.game.action_names[0][0], self.game.action_names[0][1])
        self.observation_shape = (N_CHANNELS, g, g)
        self.n_actions = (len(ACTION_NAMES),) * N  # per seat, as in the BatchedEnv protocol
        self._payoffs = self.game.payoffs.tolist()
        dev = self.device
        self._forward = torch.as_tensor(forward_table(g), device=dev)
        self._beam = torch.as_tensor(beam_table(g, self.beam_length), device=dev)
        view = view_table(g)
        cell_in_view = np.empty_like(view)  # the inverse: [cell * 4 + facing, grid cell] -> view cell
        np.put_along_axis(cell_in_view, view, np.arange(g * g)[None, :].repeat(len(view), 0), axis=1)
        self._cell_in_view = torch.as_tensor(cell_in_view, device=dev)
        self._centre = (g // 2) * g + g // 2
        # Offset of each observer's observation in the flat buffer of observe().
        self._obs_base = (torch.arange(B * N, device=dev) * (N_CHANNELS * g * g)).view(B, N, 1)
        self._seats = torch.arange(N, device=dev)
        self._other = ~torch.eye(N, dtype=torch.bool, device=dev)  # [i, j]: j is another player than i
        self._spot_kind = (torch.arange(self.n_spots, device=dev) // R)
        self.generator = torch.Generator(device=dev)
        self.generator.seed()
        self.positions = torch.zeros(B, N, dtype=torch.long, device=dev)  # flat cells; stale while off the grid
        self.facing = torch.zeros(B, N, dtype=torch.long, device=dev)
        self.inventory = torch.zeros(B, N, 2, dtype=torch.long, device=dev)
        self.frozen = torch.zeros(B, N, dtype=torch.long, device=dev)  # steps left off the grid; 0 in play
        self.spots = torch.zeros(B, self.n_spots, dtype=torch.long, device=dev)
        self.alive = torch.zeros(B, self.n_spots, dtype=torch.bool, device=dev)
        self.t = 0
        self._live = False

    # ------------------------------------------------------------------ state
    def reset(self, seed: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """New episodes in every game; reseeds only when ``seed`` or ``generator`` is given.

        Returns observations ``(*batch_shape, N, 9, grid, grid)``.
        """
        import torch

        from lola_zoo.envs.batched import reset_generator  # torch on first use, as everywhere in this module

        self.generator = reset_generator(self.generator, self.device, seed, generator)
        B, N, dev = self.batch_size, self.n_players, self.device
        # The first N + 2R entries of a random permutation: distinct cells for players and spots.
        noise = torch.rand(B, self.n_cells, generator=self.generator, device=dev, dtype=torch.float32)
        cells = noise.argsort(dim=1)[:, : N + self.n_spots]
        self.positions = cells[:, :N].contiguous()
        self.spots = cells[:, N:].contiguous()
        self.alive = torch.ones(B, self.n_spots, dtype=torch.bool, device=dev)
        self.facing = torch.randint(4, (B, N), generator=self.generator, device=dev)
        self.inventory = torch.zeros(B, N, 2, dtype=torch.long, device=dev)
        self.frozen = torch.zeros(B, N, dtype=torch.long, device=dev)
        self.t = 0
        self._live = True
        return self.observe()

    def game_state(self, index: int) -> InTheMatrixState:
        """Game ``index`` (flat, row-major over ``batch_shape``) as an :class:`InTheMatrixState`."""
        g = self.grid_size
        frozen = self.frozen[index].tolist()
        return InTheMatrixState(
            positions=tuple(None if f else divmod(c, g) for c, f in zip(self.positions[index].tolist(), frozen)),
            facing=tuple(0 if f else v for v, f in zip(self.facing[index].tolist(), frozen)),
            inventories=tuple((c, d) for c, d in self.inventory[index].tolist()),
            resources=tuple(divmod(c, g) for c in self.spots[index].tolist()),
            alive=tuple(bool(a) for a in self.alive[index].tolist()),
            frozen=tuple(frozen),
            step=self.t,
        )

    def set_game_state(self, index: int, state: InTheMatrixState) -> None:
        """Overwrite game ``index`` (flat, row-major) with ``state``; its step must be the batch's."""
        import torch

        if state.step != self.t:
            raise ValueError(f"all games share one step counter ({self.t}); the state has step {state.step}")
        pos, facing, inv, frozen, spots, alive = check_state(
            state, self.n_players, self.grid_size, self.n_resources, self.freeze_steps, self.max_steps
        )
        dev = self.device
        self.positions[index] = torch.tensor(pos, device=dev)
        self.facing[index] = torch.tensor(facing, device=dev)
        self.inventory[index] = torch.tensor(inv, device=dev)
        self.frozen[index] = torch.tensor(frozen, device=dev)
        self.spots[index] = torch.tensor(spots, device=dev)
        self.alive[index] = torch.tensor(alive, device=dev)
        self._live = True

    # ----------------------------------------------------------- observation
    def observe(self) -> torch.Tensor:
        """Every player's egocentric observation: ``(*batch_shape, N, 9, grid, grid)`` float32."""
        import torch

        B, N, C, g = self.batch_size, self.n_players, self.n_cells, self.grid_size
        in_play = self.frozen == 0
        # Each object is written straight to its cell of each observer's view (the inverse view
        # table), into one flat buffer whose last element takes every write that must not show
        # (collected resources, players off the grid): a few scatters of B*N*(2R + 3N) values
        # instead of a gather of the whole B*N*9*C observation.
        dump = B * N * N_CHANNELS * C
        flat = torch.zeros(dump + 1, device=self.device, dtype=torch.float32)
        key = (self.positions * 4 + self.facing).unsqueeze(2)  # (B, N observers, 1)
        base = self._obs_base
        spot_view = self._cell_in_view[key, self.spots.unsqueeze(1)]  # (B, N, 2R)
        keep = in_play.unsqueeze(2) & self.alive.unsqueeze(1)
        flat.scatter_(0, torch.where(keep, base + self._spot_kind * C + spot_view, dump).view(-1), 1.0)
        player_view = self._cell_in_view[key, self.positions.unsqueeze(1)]  # [b, i, j]: j's cell in i's view
        seen = in_play.unsqueeze(2) & in_play.unsqueeze(1)
        flat.scatter_(0, torch.where(in_play.unsqueeze(2), base + 2 * C + self._centre, dump).view(-1), 1.0)
        relative = (self.facing.unsqueeze(1) - self.facing.unsqueeze(2)) % 4  # [b, i, j]: j's facing seen by i
        others = torch.where(seen & self._other, base + (3 + relative) * C + player_view, dump)
        flat.scatter_(0, others.view(-1), 1.0)
        inv = self.inventory.to(torch.float32)
        for plane in (0, 1):
            where_to = torch.where(seen, base + (7 + plane) * C + player_view, dump)
            flat.scatter_(0, where_to.view(-1), inv[..., plane].unsqueeze(1).expand(B, N, N).reshape(-1))
        return flat[:dump].view(*self.batch_shape, N, N_CHANNELS, g, g)

    # ------------------------------------------------------------------ step
    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
        """Advance every game one step.

        :param actions: ``(*batch_shape, N)`` long actions (0 forward, 1 turn left, 2 turn right, 3 stay, 4 zap).
        :returns: observations ``(*batch_shape, N, 9, grid, grid)``, rewards ``(*batch_shape, N)``
            float32, and info: ``collected`` (resource kind, -1 for none), ``partner`` (seat, -1 for
            none), ``row_player``, ``respawned``, ``in_play`` (all ``(*batch_shape, N)``),
            ``regrown`` ``(*batch_shape, 2R)``, ``step`` (int) and ``truncated`` (bool).
        """
        import torch

        if not self._live:
            raise RuntimeError("step() called before reset() or after the episode ended; call reset()")
        B, N, C, shape, dev = self.batch_size, self.n_players, self.n_cells, self.batch_shape, self.device
        if actions.shape != (*shape, N):
            raise ValueError(f"actions must have shape (*batch_shape, N) = {(*shape, N)}, got {tuple(actions.shape)}")
        if actions.dtype != torch.long:
            raise ValueError(f"actions must be a long tensor, got {actions.dtype}")
        if self.check_actions and bool(((actions < 0) | (actions >= len(ACTION_NAMES))).any()):
            bad = actions[(actions < 0) | (actions >= len(ACTION_NAMES))][0].item()
            raise ValueError(f"invalid action {bad}: actions must lie in [0, 4] ({', '.join(ACTION_NAMES)})")
        act = actions.reshape(B, N)
        in_play = self.frozen == 0
        # 1. turns
        turn = (act == TURN_RIGHT).long() - (act == TURN_LEFT).long()
        self.facing = facing = (self.facing + turn * in_play) % 4
        # 2. moves, blocked by a player on the target or another mover aiming at it
        old = self.positions
        moving = (act == FORWARD) & in_play
        target = torch.where(moving, self._forward[old, facing], old)
        clash = (target.unsqueeze(2) == old.unsqueeze(1)) | (target.unsqueeze(2) == target.unsqueeze(1))
        blocked = (clash & self._other & in_play.unsqueeze(1)).any(dim=2)
        self.positions = pos = torch.where(moving & ~blocked, target, old)
        # 3. collection
        grab = (pos.unsqueeze(2) == self.spots.unsqueeze(1)) & self.alive.unsqueeze(1) & in_play.unsqueeze(2)
        got = torch.stack((grab[..., : self.n_resources].any(2), grab[..., self.n_resources :].any(2)), dim=2)
        self.inventory = self.inventory + got.long()
        self.alive = self.alive & ~grab.any(dim=1)
        collected = torch.where(got.any(2), got[..., 1].long(), -1)
        # 4. zaps: the first player in play on the beam, then pairing in seat order
        on_grid = torch.where(in_play, pos, C)
        who = torch.full((B, C + 1), -1, dtype=torch.long, device=dev).scatter_(1, on_grid, self._seats.expand(B, N))
        path = self._beam[pos * 4 + facing]  # (B, N, L)
        hits = who.gather(1, path.view(B, -1)).view(B, N, -1)
        hit_any = (hits >= 0).any(dim=2)
        first = (hits >= 0).long().argmax(dim=2, keepdim=True)  # argmax returns the first maximum
        hit = torch.where(hit_any, hits.gather(2, first).squeeze(2), -1)
        holds = self.inventory.sum(dim=2) > 0
        valid = (act == ZAP) & in_play & hit_any & holds & holds.gather(1, hit.clamp(min=0))
        partner = torch.full((B, N), -1, dtype=torch.long, device=dev)
        row = torch.zeros(B, N, dtype=torch.bool, device=dev)
        for i in range(N):
            j = hit[:, i : i + 1].clamp(min=0)
            ok = valid[:, i : i + 1] & (partner[:, i : i + 1] < 0) & (partner.gather(1, j) < 0)
            partner[:, i : i + 1] = torch.where(ok, j, partner[:, i : i + 1])
            partner.scatter_(1, j, torch.where(ok, i, partner.gather(1, j)))
            row[:, i : i + 1] |= ok
        paired = partner >= 0
        # 5. rewards in float64 with the PettingZoo env's operation order, so both round alike
        inv = self.inventory.to(torch.float64)
        mix = inv / inv.sum(dim=2, keepdim=True).clamp(min=1.0)
        mate = mix.gather(1, partner.clamp(min=0).unsqueeze(2).expand(B, N, 2))
        x = torch.where(row.unsqueeze(2), mix, mate)  # the row player's mixture in each pair
        y = torch.where(row.unsqueeze(2), mate, mix)
        x0, x1, y0, y1 = x[..., 0], x[..., 1], y[..., 0], y[..., 1]
        reward = torch.where(row, mixed_payoff(self._payoffs[0], x0, x1, y0, y1),
                             mixed_payoff(self._payoffs[1], x0, x1, y0, y1))
        rewards = torch.where(paired, reward, 0.0).to(torch.float32)
        self.inventory = torch.where(paired.unsqueeze(2), 0, self.inventory)
        self.frozen = torch.where(paired, self.freeze_steps + 1, self.frozen)
        # 6. regrowth on spots no player in play stands on
        in_play = self.frozen == 0
        occupied = torch.zeros(B, C + 1, dtype=torch.bool, device=dev)
        occupied.scatter_(1, torch.where(in_play, pos, C), True)
        draw = torch.rand(B, self.n_spots, generator=self.generator, device=dev, dtype=torch.float32)
        regrown = ~self.alive & ~occupied.gather(1, self.spots) & (draw < self.respawn_prob)
        self.alive = self.alive | regrown
        # 7. countdown off the grid; respawns in seat order on cells with no player and no resource
        self.frozen = frozen = (self.frozen - 1).clamp(min=0)
        respawned = ~in_play & (frozen == 0)
        blocked_cells = occupied.clone()
        blocked_cells.scatter_(1, torch.where(self.alive, self.spots, C), True)
        new_pos, new_facing = self.positions.clone(), self.facing.clone()
        for i in range(N):
            noise = torch.rand(B, C, generator=self.generator, device=dev, dtype=torch.float32)
            cell = noise.masked_fill_(blocked_cells[:, :C], -1.0).argmax(dim=1)
            turn_to = torch.randint(4, (B,), generator=self.generator, device=dev)
            now = respawned[:, i]
            new_pos[:, i] = torch.where(now, cell, new_pos[:, i])
            new_facing[:, i] = torch.where(now, turn_to, new_facing[:, i])
            blocked_cells.scatter_(1, torch.where(now, cell, C).unsqueeze(1), True)
        self.positions, self.facing = new_pos, new_facing
        self.t += 1
        truncated = self.t >= self.max_steps
        if truncated:
            self._live = False
        info = {
            "collected": collected.view(*shape, N),
            "partner": partner.view(*shape, N),
            "row_player": row.view(*shape, N),
            "respawned": respawned.view(*shape, N),
            "in_play": (frozen == 0).view(*shape, N),
            "regrown": regrown.view(*shape, self.n_spots),
            "step": self.t,
            "truncated": truncated,
        }
        return self.observe(), rewards.view(*shape, N), info

    def __repr__(self) -> str:
        return (
            f"BatchedInTheMatrix(batch_shape={self.batch_shape}, n_players={self.n_players}, grid_size={self.grid_size}, "
            f"n_resources={self.n_resources}, game={self.game.name!r}, device={str(self.device)!r})"
        )
