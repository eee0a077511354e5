"""A numpy Coin Game in the style of the LOLA reference code's ``CoinGameVec`` — the speed yardstick.

The reference implementation (alshedivat/lola, ``lola/envs/coin_game.py``) keeps B games in numpy
arrays but steps them with Python loops over the batch: move both agents, check who stands on
the coin, respawn it, then render a ``(B, 4, grid, grid)`` one-hot observation game by game.
This file re-implements that *design* from its description, for timing only (it is not imported
by lola_zoo): two agents, a coin of one agent's colour, own coin +1, other's coin +1 to the
picker and −2 to its owner, the red agent checked first, a new coin of the other colour at a free
cell, the 3×3 torus, observations rebuilt every step.  ``benchmarks/bench_coin_game.py`` times it
beside :class:`lola_zoo.envs.batched_coin.BatchedCoinGame` at the same B.
"""

from __future__ import annotations

import numpy as np

#: right, left, down, up on the torus, as (row, column) offsets
MOVES = np.array([[0, 1], [0, -1], [1, 0], [-1, 0]])


class NumpyCoinGameVec:
    """B Coin Games in numpy arrays, stepped with per-game Python loops (the reference code's design)."""

    def __init__(self, batch_size: int, max_steps: int = 150, grid_size: int = 3, seed: int = 0) -> None:
        self.batch_size, self.max_steps, self.grid = batch_size, max_steps, grid_size
        self.rng = np.random.default_rng(seed)
        self.steps = 0

    def _cell(self) -> np.ndarray:
        """A uniformly drawn cell ``(row, column)``."""
        return self.rng.integers(self.grid, size=2)

    def _respawn(self, b: int) -> None:
        """Game b gets a coin of the other colour on a cell no agent stands on."""
        self.red_coin[b] = not self.red_coin[b]
        while True:
            cell = self._cell()
            if not (cell == self.red[b]).all() and not (cell == self.blue[b]).all():
                self.coin[b] = cell
                return

    def reset(self) -> np.ndarray:
        """Fresh positions for every game; the observation ``(B, 4, grid, grid)``."""
        self.steps = 0
        self.red = self.rng.integers(self.grid, size=(self.batch_size, 2))
        self.blue = self.rng.integers(self.grid, size=(self.batch_size, 2))
        self.coin = np.zeros((self.batch_size, 2), dtype=np.int64)
        self.red_coin = self.rng.integers(2, size=self.batch_size).astype(bool)
        for b in range(self.batch_size):
            while (self.red[b] == self.blue[b]).all():
                self.blue[b] = self._cell()
            self._respawn(b)
        return self._observe()

    def _observe(self) -> np.ndarray:
        """One-hot channels: red agent, blue agent, red coin, blue coin — filled game by game."""
        obs = np.zeros((self.batch_size, 4, self.grid, self.grid))
        for b in range(self.batch_size):
            obs[b, 0, self.red[b][0], self.red[b][1]] = 1
            obs[b, 1, self.blue[b][0], self.blue[b][1]] = 1
            obs[b, 2 if self.red_coin[b] else 3, self.coin[b][0], self.coin[b][1]] = 1
        return obs

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
        """Move, score and respawn game by game; ``actions (B, 2)`` in 0..3."""
        for b in range(self.batch_size):
            self.red[b] = (self.red[b] + MOVES[actions[b, 0]]) % self.grid
            self.blue[b] = (self.blue[b] + MOVES[actions[b, 1]]) % self.grid
        rewards = np.zeros((self.batch_size, 2))
        for b in range(self.batch_size):
            red_on, blue_on = (self.red[b] == self.coin[b]).all(), (self.blue[b] == self.coin[b]).all()
            if red_on:  # the red agent is checked first, as in the reference
                rewards[b] = (1, 0) if self.red_coin[b] else (1, -2)
            elif blue_on:
                rewards[b] = (-2, 1) if self.red_coin[b] else (0, 1)
            if red_on or blue_on:
                self._respawn(b)
        self.steps += 1
        return self._observe(), rewards, self.steps >= self.max_steps
