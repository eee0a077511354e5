"""The Coin Game for B games at once in torch: the same rules as :class:`~lola_zoo.envs.coin_game.CoinGame`.

The batch may have any shape ``batch_shape`` (learners use ``(runs, episodes)``); inside, the
games are one flat batch of ``B = prod(batch_shape)``.  All games advance in lockstep (every
episode has ``max_steps`` steps), so one ``step`` is a handful of tensor operations over
``(B, N)`` and no Python loop over games.  Positions are kept as
flat cell indices (``row * grid + column``); a precomputed ``(cells, 4)`` move table turns a move
on the torus into one gather.  A respawned coin goes to a uniformly drawn free cell: the argmax of
uniform noise with the occupied cells masked out.

Randomness comes only from the env's ``torch.Generator`` (``reset(seed=...)`` or
``reset(generator=...)``), so a seeded run is reproducible on a given device.  Every float tensor
is float32 whatever torch's default dtype, so the observations and the random stream do not change
when a caller switches the default to float64.
:func:`coin_game_metrics` turns a rollout's rewards and pickups into the numbers the paper
reports: the share of picked coins that had the picker's own colour, and points per episode.
:class:`PerSeatView` presents the env through the ``BatchedEnv`` protocol of
:mod:`lola_zoo.envs.batched` (one observation tensor per seat), so ``rollout`` and the
policy-gradient learners use it like a batched matrix game.
"""

from __future__ import annotations

from typing import Any

import torch

from lola_zoo.envs.batched import reset_generator
from lola_zoo.envs.coin_game import (
    CoinGameState,
    CoinRespawn,
    TieRule,
    move_table,
    validate_rules,
)

__all__ = ["BatchedCoinGame", "PerSeatView", "RecordingCoinView", "coin_game_metrics", "per_run_coin_metrics"]


class BatchedCoinGame:
    """B Coin Games stepped together as tensors (batch dimension first).

    :param batch_size: number of games B, or a batch shape such as ``(runs, episodes)``.
    :param grid_size: side of the square, wrapping grid (the paper: 3).
    :param max_steps: steps per episode (the paper: 150).
    :param n_players: players N, one colour each (the paper: 2).
    :param coin_respawn: colour of a new coin: ``"random"`` (the paper) or ``"alternate"`` (reference code).
    :param tie_rule: several players on the coin at once: ``"all"`` pick it up, or only the ``"first"`` seat.
    :param device: torch device of every tensor.
    :param check_actions: validate action values on every step (one host sync; off for the last few %).
    """

    def __init__(
        self,
        batch_size: int | tuple[int, ...],
        grid_size: int = 3,
        max_steps: int = 150,
        n_players: int = 2,
        coin_respawn: CoinRespawn = "random",
        tie_rule: TieRule = "all",
        device: str | torch.device = "cpu",
        check_actions: bool = True,
    ) -> None:
        validate_rules(grid_size, max_steps, n_players, coin_respawn, tie_rule)
        shape = (batch_size,) if isinstance(batch_size, int) else tuple(batch_size)
        if not shape or any(isinstance(b, bool) or int(b) != b or b < 1 for b in shape):
            raise ValueError(f"batch_size must be a positive integer or a shape of them, got {batch_size!r}")
        self.batch_shape: tuple[int, ...] = tuple(int(b) for b in shape)
        self.batch_size = B = int(torch.Size(self.batch_shape).numel())
        self.grid_size = g = int(grid_size)
        self.max_steps = int(max_steps)
        self.n_players = N = int(n_players)
        self.coin_respawn = coin_respawn
        self.tie_rule = tie_rule
        self.device = torch.device(device)
        self.check_actions = check_actions
        self.n_cells = g * g
        self.observation_shape = (4, g, g)
        self.n_actions = (4,) * N  # per seat, as in the BatchedEnv protocol
        self._next_cell = torch.as_tensor(move_table(g), device=self.device)
        self._seats = torch.arange(N, device=self.device)
        self._batch = torch.arange(B, device=self.device)
        # one-hot rows of every cell plus an all-zero row (index n_cells): two-player observations
        # are one embedding lookup instead of zero-fill, scatter and broadcast kernels
        self._rows = torch.cat([torch.eye(self.n_cells), torch.zeros(1, self.n_cells)]).to(self.device, torch.float32)
        self.generator = torch.Generator(device=self.device)
        self.generator.seed()
        self.positions = torch.zeros(B, N, dtype=torch.long, device=self.device)  # flat cells
        self.coin = torch.zeros(B, dtype=torch.long, device=self.device)
        self.coin_owner = torch.zeros(B, dtype=torch.long, device=self.device)
        self.t = 0
        self._live = False

    # ------------------------------------------------------------------ state
    def reset(self, seed: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """New episodes in every game: players on distinct random cells, a random coin on a free cell.

        Reseeds only when ``seed`` (a fresh generator) or ``generator`` (used from now on) is given.
        Returns observations ``(*batch_shape, N, 4, grid, grid)``.
        """
        self.generator = reset_generator(self.generator, self.device, seed, generator)
        B, N = self.batch_size, self.n_players
        # The first N+1 entries of a random permutation: distinct player cells and a free coin cell.
        noise = torch.rand(B, self.n_cells, generator=self.generator, device=self.device, dtype=torch.float32)
        cells = noise.argsort(dim=1)[:, : N + 1]
        self.positions = cells[:, :N].contiguous()
        self.coin = cells[:, N].contiguous()
        self.coin_owner = torch.randint(N, (B,), generator=self.generator, device=self.device)
        self.t = 0
        self._live = True
        return self.observe()

    def set_state(
        self,
        positions: torch.Tensor,
        coin_position: torch.Tensor,
        coin_owner: torch.Tensor,
        step: int = 0,
    ) -> torch.Tensor:
        """Put every game in an explicit state and return the observations.

        :param positions: ``(*batch_shape, N, 2)`` integer ``(row, column)`` of every player.
        :param coin_position: ``(*batch_shape, 2)`` integer ``(row, column)`` of each game's coin.
        :param coin_owner: ``(*batch_shape,)`` seat whose colour each coin has.
        :param step: steps already played (shared by all games).
        """
        shape, N, g = self.batch_shape, self.n_players, self.grid_size
        positions = torch.as_tensor(positions, device=self.device).long()
        coin_position = torch.as_tensor(coin_position, device=self.device).long()
        coin_owner = torch.as_tensor(coin_owner, device=self.device).long()
        if (
            positions.shape != (*shape, N, 2)
            or coin_position.shape != (*shape, 2)
            or coin_owner.shape != shape
        ):
            raise ValueError(
                f"expected positions {(*shape, N, 2)}, coin_position {(*shape, 2)}, coin_owner {shape}; got "
                f"{tuple(positions.shape)}, {tuple(coin_position.shape)}, {tuple(coin_owner.shape)}"
            )
        for name, rc in (("positions", positions), ("coin_position", coin_position)):
            if bool(((rc < 0) | (rc >= g)).any()):
                raise ValueError(f"{name} must lie in the {g}x{g} grid (0 <= row, column < {g})")
        if bool(((coin_owner < 0) | (coin_owner >= N)).any()):
            raise ValueError(f"coin_owner must be a seat in [0, {N - 1}]")
        if not 0 <= int(step) < self.max_steps:
            raise ValueError(f"step must be in [0, {self.max_steps - 1}], got {step}")
        cells = (positions[..., 0] * g + positions[..., 1]).reshape(self.batch_size, N)
        coin = (coin_position[..., 0] * g + coin_position[..., 1]).reshape(self.batch_size)
        if bool((cells == coin[:, None]).any()):
            raise ValueError("a coin cannot lie under a player: it would already have been picked up")
        self.positions, self.coin = cells.contiguous(), coin.contiguous()
        self.coin_owner = coin_owner.reshape(self.batch_size).clone()
        self.t = int(step)
        self._live = True
        return self.observe()

    def get_state(self) -> dict[str, Any]:
        """Copies of the state tensors in ``set_state``'s format (``(row, column)`` pairs) plus ``step``."""
        g, shape = self.grid_size, self.batch_shape
        return {
            "positions": torch.stack((self.positions // g, self.positions % g), dim=-1).view(
                *shape, self.n_players, 2
            ),
            "coin_position": torch.stack((self.coin // g, self.coin % g), dim=-1).view(*shape, 2),
            "coin_owner": self.coin_owner.clone().view(shape),
            "step": self.t,
        }

    def set_game_state(self, index: int, state: CoinGameState) -> None:
        """Overwrite game ``index`` (flat, row-major over ``batch_shape``) with a :class:`CoinGameState`."""
        g = self.grid_size
        if state.step != self.t:
            raise ValueError(f"all games share one step counter ({self.t}); the state has step {state.step}")
        if len(state.positions) != self.n_players:
            raise ValueError(f"state has {len(state.positions)} positions for {self.n_players} players")
        cells = torch.tensor([r * g + c for r, c in state.positions], device=self.device)
        coin = state.coin_position[0] * g + state.coin_position[1]
        if coin in cells.tolist():
            raise ValueError("a coin cannot lie under a player: it would already have been picked up")
        self.positions[index] = cells
        self.coin[index] = coin
        self.coin_owner[index] = state.coin_owner

    def game_state(self, index: int) -> CoinGameState:
        """Game ``index`` (flat, row-major over ``batch_shape``) as a :class:`CoinGameState`."""
        g = self.grid_size
        cells = self.positions[index].tolist()
        coin = int(self.coin[index])
        return CoinGameState(
            positions=tuple(divmod(c, g) for c in cells),
            coin_position=divmod(coin, g),
            coin_owner=int(self.coin_owner[index]),
            step=self.t,
        )

    # ----------------------------------------------------------- observation
    def _occupancy(self) -> torch.Tensor:
        """``(B, cells)`` number of players on each cell."""
        occ = torch.zeros(self.batch_size, self.n_cells, device=self.device, dtype=torch.float32)
        return occ.scatter_add_(1, self.positions, torch.ones_like(self.positions, dtype=occ.dtype))

    def observe(self, occupancy: torch.Tensor | None = None) -> torch.Tensor:
        """Every player's observation from its own perspective: ``(*batch_shape, N, 4, grid, grid)`` float32.

        Channels: own position, other players' positions, coin of own colour, coin of another colour.
        """
        B, N, C, g = self.batch_size, self.n_players, self.n_cells, self.grid_size
        if N == 2 and occupancy is None:
            # Kernels on (B,) columns only: at B = 4096 each torch call costs about as much as its
            # arithmetic, and broadcasting / trailing-axis kernels over (B, 2) cost several times more.
            mine, theirs = self.positions[:, 0], self.positions[:, 1]
            first_owns = self.coin_owner == 0
            empty = torch.full_like(self.coin, C)  # the all-zero row
            coin_first, coin_second = torch.where(first_owns, self.coin, empty), torch.where(first_owns, empty, self.coin)
            # which one-hot row fills each (seat, channel): own cell, other's cell, own-colour coin, other coin
            rows = torch.stack([mine, theirs, coin_first, coin_second, theirs, mine, coin_second, coin_first], dim=1)
            return torch.nn.functional.embedding(rows, self._rows).view(*self.batch_shape, N, 4, g, g)
        if occupancy is None:
            occupancy = self._occupancy()
        obs = torch.zeros(B, N, 4, C, device=self.device, dtype=torch.float32)
        own = obs[:, :, 0]
        own.scatter_(2, self.positions.unsqueeze(-1), 1.0)
        obs[:, :, 1] = (occupancy.unsqueeze(1) - own).clamp_(max=1.0)
        is_owner = (self._seats == self.coin_owner.unsqueeze(1)).unsqueeze(-1)  # (B, N, 1)
        coin = torch.zeros(B, 1, C, device=self.device, dtype=torch.float32)
        coin.scatter_(2, self.coin.view(B, 1, 1), 1.0)
        obs[:, :, 2] = coin * is_owner
        obs[:, :, 3] = coin * ~is_owner
        return obs.view(*self.batch_shape, N, 4, g, g)

    def _score_two(self, pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Two players: pickups, rewards and respawns from ``(B,)`` columns (the general code's numbers).

        The same rule as the N-player branch of :meth:`step`, written per seat: at B = 4096 the
        broadcasting and trailing-axis reductions over ``(B, N)`` cost more than the arithmetic.
        """
        on0, on1 = pos[:, 0] == self.coin, pos[:, 1] == self.coin
        if self.tie_rule == "first":
            on1 = on1 & ~on0
        owns0 = self.coin_owner == 0
        taken_from0, taken_from1 = on1 & owns0, on0 & ~owns0  # the other player picked one's coin
        picked_own = torch.stack([on0 & owns0, on1 & ~owns0], dim=1)
        picked_other = torch.stack([taken_from1, taken_from0], dim=1)
        # +1 to the picker, −2 to the coin's owner when the other player picks it
        rewards = torch.stack([on0, on1], dim=1).float() - 2.0 * torch.stack([taken_from0, taken_from1], dim=1).float()
        return picked_own, picked_other, rewards, on0 | on1

    def _free_cell(self, u: torch.Tensor) -> torch.Tensor:
        """A uniformly drawn cell no player stands on, per game, from one uniform ``u (B,)`` in [0, 1).

        Rank r among the free cells, then walk the occupied cells in ascending order, stepping over
        each one at or below the running index: O(N) kernels on ``(B,)`` instead of noise and an
        argmax over every cell (the argmax over a trailing axis of 9 dominated a step).
        """
        if self.n_players == 2:  # elementwise on the two columns: sorting (B, 2) costs several times more
            first, second = self.positions[:, 0], self.positions[:, 1]
            low, high = torch.minimum(first, second), torch.maximum(first, second)
            rank = (u * (self.n_cells - 1 - (high != low).long())).long()  # u < 1: rank < the free count
            cell = rank + (rank >= low).long()
            return cell + ((cell >= high) & (high != low)).long()
        else:
            cells, _ = self.positions.sort(dim=1)
            distinct = torch.ones_like(cells, dtype=torch.bool)
            distinct[:, 1:] = cells[:, 1:] != cells[:, :-1]  # players may share a cell: count it once
        n_free = self.n_cells - distinct.sum(dim=1)
        cell = torch.minimum((u * n_free).long(), n_free - 1)  # rank r in [0, n_free)
        for k in range(self.n_players):
            cell += (cell >= cells[:, k]) & distinct[:, k]
        return cell

    # ------------------------------------------------------------------ step
    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
        """Advance every game one step.

        :param actions: ``(*batch_shape, N)`` long moves (0 right, 1 left, 2 down, 3 up).
        :returns: observations ``(*batch_shape, N, 4, grid, grid)``, rewards ``(*batch_shape, N)``
            float32, and info: ``picked_own`` / ``picked_other`` ``(*batch_shape, N)`` bool (who
            picked which coin), ``coin_owner`` ``(*batch_shape,)`` (the colour of the coin on the
            grid during this step), ``respawned`` ``(*batch_shape,)``, ``step`` (int) and
            ``truncated`` (bool: the episodes, all of the same length, just ended).
        """
        if not self._live:
            raise RuntimeError("step() called before reset() or after the episode ended; call reset()")
        B, N, shape = self.batch_size, self.n_players, self.batch_shape
        if actions.shape != (*shape, N):
            raise ValueError(
                f"actions must have shape (*batch_shape, N) = {(*shape, N)}, got {tuple(actions.shape)}"
            )
        if actions.dtype != torch.long:
            raise ValueError(f"actions must be a long tensor, got {actions.dtype}")
        if self.check_actions:
            low, high = torch.aminmax(actions)
            if int(low) < 0 or int(high) > 3:
                raise ValueError("actions must be moves in [0, 3] (right, left, down, up)")
        # one gather in the flattened (cell, move) table
        self.positions = pos = self._next_cell.view(-1)[self.positions * 4 + actions.reshape(B, N)]
        if N == 2:
            picked_own, picked_other, rewards, respawned = self._score_two(pos)
        else:
            on_coin = pos == self.coin.unsqueeze(1)  # (B, N)
            if self.tie_rule == "first":
                on_coin = on_coin & (on_coin.cumsum(dim=1) == 1)  # only the lowest seat on the coin
            is_owner = self._seats == self.coin_owner.unsqueeze(1)
            picked_own = on_coin & is_owner
            picked_other = on_coin & ~is_owner
            # +1 per pickup to the picker; -2 to the owner for every pickup by another player.
            n_taken = picked_other.sum(dim=1, keepdim=True)
            rewards = on_coin.float() - 2.0 * is_owner.float() * n_taken
            respawned = on_coin.any(dim=1)
        owner_before = self.coin_owner
        # One uniform pair per game: the new coin's colour and its rank among the free cells.
        u = torch.rand(B, 2, generator=self.generator, device=self.device, dtype=torch.float64)
        if self.coin_respawn == "random":
            new_owner = (u[:, 0] * N).long().clamp_(max=N - 1)
        else:
            new_owner = (owner_before + 1) % N
        self.coin_owner = torch.where(respawned, new_owner, owner_before)
        self.coin = torch.where(respawned, self._free_cell(u[:, 1]), self.coin)
        self.t += 1
        truncated = self.t >= self.max_steps
        if truncated:
            self._live = False
        info = {
            "picked_own": picked_own.view(*shape, N),
            "picked_other": picked_other.view(*shape, N),
            "coin_owner": owner_before.view(shape),
            "respawned": respawned.view(shape),
            "step": self.t,
            "truncated": truncated,
        }
        return self.observe(), rewards.view(*shape, N), info

    def __repr__(self) -> str:
        return (
            f"BatchedCoinGame(batch_shape={self.batch_shape}, grid_size={self.grid_size}, "
            f"n_players={self.n_players}, max_steps={self.max_steps}, coin_respawn={self.coin_respawn!r}, "
            f"tie_rule={self.tie_rule!r}, device={str(self.device)!r})"
        )


class PerSeatView:
    """A :class:`BatchedCoinGame` behind the ``BatchedEnv`` protocol of :mod:`lola_zoo.envs.batched`.

    ``reset`` and ``step`` return one observation tensor ``(*batch_shape, 4, grid, grid)`` per seat
    (views, no copies) instead of one stacked tensor, which is what ``rollout`` and the
    policy-gradient learners expect.
    """

    def __init__(self, env: BatchedCoinGame) -> None:
        self.env = env
        self.n_players = env.n_players
        self.max_steps = env.max_steps
        self.batch_shape = env.batch_shape
        self.n_actions = env.n_actions

    def _split(self, obs: torch.Tensor) -> list[torch.Tensor]:
        seat_dim = len(self.batch_shape)
        return list(obs.unbind(dim=seat_dim))

    def reset(self, seed: int | None = None) -> list[torch.Tensor]:
        """Start every game; one observation tensor per seat."""
        return self._split(self.env.reset(seed=seed))

    def step(self, actions: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor, dict[str, Any]]:
        """Step every game; one observation tensor per seat, rewards ``(*batch_shape, N)``, info."""
        obs, rewards, info = self.env.step(actions)
        return self._split(obs), rewards, info


def coin_game_metrics(
    rewards: torch.Tensor, picked_own: torch.Tensor, picked_other: torch.Tensor, time_dim: int = 0
) -> dict[str, Any]:
    """The paper's Coin Game metrics from a rollout: tensors of one shape ``(..., N)``, players last.

    ``time_dim`` is the step dimension (0 for ``(T, *batch, N)`` stacked from ``step``; ``-2`` for
    ``Episodes`` tensors ``(*batch, T, N)``); every other dimension but the last counts episodes.
    Returns ``own_coin_share``: own-colour pickups / all pickups over every player (the paper's
    "percentage of own coins picked"; NaN when no coin was picked), ``points_per_episode`` ``(N,)``:
    mean return per episode, and the breakdowns ``own_coin_share_per_player`` and ``coins_per_episode``.
    """
    if not (rewards.shape == picked_own.shape == picked_other.shape) or rewards.dim() < 2:
        raise ValueError(
            "rewards, picked_own and picked_other must share one shape (..., T, ..., N), got "
            f"{tuple(rewards.shape)}, {tuple(picked_own.shape)}, {tuple(picked_other.shape)}"
        )
    t = time_dim % rewards.dim()
    if t == rewards.dim() - 1:
        raise ValueError("time_dim cannot be the last (players) dimension")
    dims = tuple(range(rewards.dim() - 1))
    n_episodes = rewards[..., 0].numel() // rewards.shape[t]
    own = picked_own.sum(dim=dims).double()  # (N,)
    other = picked_other.sum(dim=dims).double()
    total = own.sum() + other.sum()
    return {
        "own_coin_share": float(own.sum() / total) if total > 0 else float("nan"),
        "own_coin_share_per_player": own / (own + other),
        "points_per_episode": rewards.sum(dim=dims).double() / n_episodes,
        "coins_per_episode": (own + other) / n_episodes,
    }


class RecordingCoinView(PerSeatView):
    """:class:`PerSeatView` that also keeps who picked which coin at every step of the current episodes.

    After a :func:`~lola_zoo.envs.batched.rollout`, :meth:`pickups` returns ``picked_own`` and
    ``picked_other`` as ``(*batch_shape, T, N)`` bool tensors, aligned with ``Episodes.rewards``.
    """

    def __init__(self, env: BatchedCoinGame) -> None:
        super().__init__(env)
        self._own: list[torch.Tensor] = []
        self._other: list[torch.Tensor] = []

    def reset(self, seed: int | None = None) -> list[torch.Tensor]:
        """Start every game and clear the record."""
        self._own, self._other = [], []
        return super().reset(seed)

    def step(self, actions: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor, dict[str, Any]]:
        """Step every game and record the pickups."""
        obs, rewards, info = super().step(actions)
        self._own.append(info["picked_own"])
        self._other.append(info["picked_other"])
        return obs, rewards, info

    def pickups(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(picked_own, picked_other)``, each ``(*batch_shape, T, N)``, of the episodes since the last reset."""
        if not self._own:
            raise RuntimeError("no steps recorded since the last reset()")
        t_dim = len(self.batch_shape)
        return torch.stack(self._own, dim=t_dim), torch.stack(self._other, dim=t_dim)


def per_run_coin_metrics(
    rewards: torch.Tensor, picked_own: torch.Tensor, picked_other: torch.Tensor
) -> dict[str, torch.Tensor]:
    """The paper's Coin Game metrics per run, from tensors ``(runs, episodes, T, N)``.

    Returns ``own_coin_share`` ``(runs,)``: own-colour pickups / all pickups, both players pooled
    (NaN for a run in which no coin was picked); ``points_per_episode`` ``(runs, N)``: mean return
    per episode; ``coins_per_episode`` ``(runs,)``: pickups per episode, both players together.
    """
    if not (rewards.shape == picked_own.shape == picked_other.shape) or rewards.dim() != 4:
        raise ValueError("rewards, picked_own and picked_other must all be (runs, episodes, T, N), got "
                         f"{tuple(rewards.shape)}, {tuple(picked_own.shape)}, {tuple(picked_other.shape)}")
    n_episodes = rewards.shape[1]
    own = picked_own.double().sum(dim=(1, 2, 3))
    total = own + picked_other.double().sum(dim=(1, 2, 3))
    share = torch.where(total > 0, own / total.clamp_min(1), torch.full_like(own, float("nan")))
    return {
        "own_coin_share": share,
        "points_per_episode": rewards.double().sum(dim=2).mean(dim=1),
        "coins_per_episode": total / n_episodes,
    }
