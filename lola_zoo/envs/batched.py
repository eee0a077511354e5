"""Batched iterated matrix games in torch: many games stepped at once, same rules as the PettingZoo env.

:class:`BatchedIteratedGame` is the torch twin of :class:`~lola_zoo.envs.iterated.IteratedMatrixGame`:
the same stage game, the same memory-1 state encoding (via
:func:`~lola_zoo.envs.iterated.perspective_tables`: 0 is the start state, then the previous joint
action from each player's own perspective), the same payoffs and the same fixed episode length.
It steps a whole batch of games with a few tensor look-ups, which is what policy-gradient learners
need (thousands of episodes per update).

The batch has an arbitrary shape ``batch_shape``; learners use ``(runs, episodes)`` so that
independent seeds are one more batch dimension rather than a Python loop.

Any batched env with the small interface below can be handed to :func:`rollout` (the batched
Coin Game twin offers the same one):

* attributes ``n_players``, ``max_steps``, ``batch_shape``, ``n_actions`` (tuple per player);
* ``reset(seed=None) -> list[Tensor]``: one observation tensor ``(*batch_shape, *obs_shape)`` per
  player, each from that player's own perspective;
* ``step(actions) -> (observations, rewards, info)`` with ``actions`` a long tensor
  ``(*batch_shape, n_players)`` in seat order, ``rewards`` ``(*batch_shape, n_players)`` and
  ``info`` a dict of tensors (``"joint_action"`` for matrix games).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol, Sequence, cast, runtime_checkable

import torch

from lola_zoo.envs.games import CANONICAL_GAMES, MatrixGame
from lola_zoo.envs.iterated import perspective_tables

__all__ = [
    "BatchedEnv", "BatchedIteratedGame", "Episodes", "rollout", "rollout_tabular", "sample_actions", "reset_generator",
    "resampler",
]


def reset_generator(
    current: torch.Generator, device: torch.device, seed: int | None = None, generator: torch.Generator | None = None
) -> torch.Generator:
    """The generator a batched twin's ``reset`` goes on with: ``generator`` if given, a fresh one seeded with ``seed``, else ``current``."""
    if seed is not None and generator is not None:
        raise ValueError("give seed= or generator=, not both")
    if generator is not None:
        if generator.device.type != device.type:
            raise ValueError(f"generator lives on {generator.device}, the env on {device}")
        return generator
    if seed is not None:
        return torch.Generator(device=device).manual_seed(int(seed))
    return current


@runtime_checkable
class BatchedEnv(Protocol):
    """The interface :func:`rollout` needs from a batched environment (see the module docstring)."""

    n_players: int
    max_steps: int
    batch_shape: tuple[int, ...]
    n_actions: tuple[int, ...]

    def reset(self, seed: int | None = None) -> list[torch.Tensor]:
        """Start every game; one observation tensor per player."""
        ...

    def step(self, actions: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor, dict[str, Any]]:
        """Play one round of every game."""
        ...


def _resolve_game(game: MatrixGame | str) -> MatrixGame:
    if isinstance(game, MatrixGame):
        return game
    if isinstance(game, str):
        from lola_zoo.registry import game as registered_game  # registry ids include plugins

        try:
            return registered_game(game)
        except KeyError:
            if game in CANONICAL_GAMES:
                return CANONICAL_GAMES[game]
            raise
    raise TypeError(f"game must be a MatrixGame or a registered game id, got {type(game).__name__}")


class BatchedIteratedGame:
    """``batch_shape`` independent copies of an iterated matrix game, stepped together in torch.

    :param game: the stage game or a registered iterated-matrix-game id (``"ipd"``, ``"imp"``, ...).
    :param batch_shape: shape of the batch of games, e.g. ``(runs, episodes)`` or an int.
    :param max_steps: rounds per episode (the paper's policy-gradient setting: 150).
    :param device: torch device of every tensor.
    :param dtype: floating dtype of the rewards.
    """

    def __init__(
        self,
        game: MatrixGame | str = "ipd",
        batch_shape: int | Sequence[int] = 1,
        max_steps: int = 150,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.game = _resolve_game(game)
        shape = (int(batch_shape),) if isinstance(batch_shape, int) else tuple(int(b) for b in batch_shape)
        if not shape or any(b < 1 for b in shape):
            raise ValueError(f"batch_shape must hold positive sizes, got {batch_shape!r}")
        if int(max_steps) != max_steps or max_steps < 1:
            raise ValueError(f"max_steps must be a positive integer, got {max_steps!r}")
        self.batch_shape = shape
        self.max_steps = int(max_steps)
        self.device = torch.device(device)
        self.dtype = dtype
        self.n_players = self.game.n_players
        self.n_actions = self.game.n_actions
        self.n_states = self.game.n_states
        self.possible_agents = [f"player_{i}" for i in range(self.n_players)]
        # state_table[i, j]: memory-1 state seen by player i after flat joint action j (as in the
        # PettingZoo env); payoff_table[j, i]: player i's reward for joint action j.
        self.state_table = torch.as_tensor(perspective_tables(self.game), device=self.device)
        self.payoff_table = torch.as_tensor(
            self.game.payoffs.reshape(self.n_players, -1).T.copy(), dtype=dtype, device=self.device
        )
        strides = [1] * self.n_players
        for i in range(self.n_players - 2, -1, -1):
            strides[i] = strides[i + 1] * self.n_actions[i + 1]
        self._strides = torch.tensor(strides, device=self.device)
        self._limits = torch.tensor(self.n_actions, device=self.device)
        self._round = 0
        self.generator = torch.Generator(device=self.device)

    @property
    def batch_size(self) -> int:
        """Number of games stepped together."""
        n = 1
        for b in self.batch_shape:
            n *= b
        return n

    def reset(self, seed: int | None = None) -> list[torch.Tensor]:
        """Every game in the start state (state 0 for every player); reseed only when given a seed."""
        if seed is not None:
            self.generator.manual_seed(int(seed))  # matrix games are deterministic; kept for the protocol
        self._round = 0
        start = torch.zeros(self.batch_shape, dtype=torch.long, device=self.device)
        return [start for _ in range(self.n_players)]

    def step(self, actions: torch.Tensor, check: bool = True) -> tuple[list[torch.Tensor], torch.Tensor, dict[str, Any]]:
        """One round of every game: ``actions (*batch_shape, n_players)`` in seat order.

        ``check=False`` skips the validation of the actions, for callers that made them valid.
        """
        if self._round >= self.max_steps:
            raise RuntimeError("step() called after the episodes ended; call reset() before stepping again")
        if check:
            self._check_actions(actions)
        joint = (actions * self._strides).sum(-1)
        observations = [self.state_table[i][joint] for i in range(self.n_players)]
        rewards = self.payoff_table[joint]
        self._round += 1
        return observations, rewards, {"joint_action": joint, "round": self._round}

    def _check_actions(self, actions: torch.Tensor) -> None:
        if actions.shape != (*self.batch_shape, self.n_players):
            raise ValueError(
                f"actions must have shape {(*self.batch_shape, self.n_players)} (batch, players), "
                f"got {tuple(actions.shape)}"
            )
        if actions.dtype.is_floating_point or ((actions < 0) | (actions >= self._limits)).any():
            raise ValueError(f"actions must be integers in [0, n_actions) per player, n_actions={self.n_actions}")

    def __repr__(self) -> str:
        return f"BatchedIteratedGame({self.game.name!r}, batch_shape={self.batch_shape}, max_steps={self.max_steps})"


@dataclass
class Episodes:
    """A batch of complete episodes, batch dimensions first, then time.

    :param observations: per player, ``(*batch_shape, T, *obs_shape)`` — what that player saw
        before acting at each step (its own perspective).
    :param actions: ``(*batch_shape, T, n_players)`` in seat order.
    :param rewards: ``(*batch_shape, T, n_players)``.
    """

    observations: list[torch.Tensor]
    actions: torch.Tensor
    rewards: torch.Tensor

    @property
    def n_steps(self) -> int:
        """Episode length T."""
        return int(self.actions.shape[-2])

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """Shape of the batch of episodes."""
        return tuple(self.actions.shape[:-2])

    def mean_reward_per_step(self) -> torch.Tensor:
        """Average reward per step ``(*batch_shape[:-1], n_players)``: mean over episodes and time."""
        return self.rewards.mean(dim=(-3, -2))


def sample_actions(log_probs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw one action per row of ``log_probs (*batch, n)`` by inverse CDF (any batch shape)."""
    cdf = log_probs.exp().cumsum(-1)
    u = torch.rand(log_probs.shape[:-1], generator=generator, device=log_probs.device, dtype=cdf.dtype)
    # Count how many CDF steps u has passed; clamp guards against the last CDF entry rounding below 1.
    return (cdf < u.unsqueeze(-1) * cdf[..., -1:]).sum(-1).clamp_max(log_probs.shape[-1] - 1)


@torch.no_grad()
def rollout(
    env: BatchedEnv,
    policies: Sequence[torch.nn.Module],
    generator: torch.Generator | None = None,
    seed: int | None = None,
) -> Episodes:
    """Play ``env.max_steps`` rounds of every game with one policy per seat; returns the episodes.

    Each policy follows the interface of :mod:`lola_zoo.agents.policies`:
    ``initial_state(batch_shape)`` and ``step(observation, hidden) -> (log_probs, hidden)``.
    """
    if len(policies) != env.n_players:
        raise ValueError(f"expected {env.n_players} policies (one per seat), got {len(policies)}")
    observations = env.reset(seed)
    hidden = [cast(Any, p).initial_state(env.batch_shape) for p in policies]
    obs_log: list[list[torch.Tensor]] = [[] for _ in policies]
    act_log, rew_log = [], []
    for _ in range(env.max_steps):
        acts = []
        for i, policy in enumerate(policies):
            obs_log[i].append(observations[i])
            log_probs, hidden[i] = cast(Any, policy).step(observations[i], hidden[i])
            acts.append(sample_actions(log_probs, generator))
        actions = torch.stack(acts, dim=-1)
        observations, rewards, _ = env.step(actions)
        act_log.append(actions)
        rew_log.append(rewards)
    t_dim = len(env.batch_shape)
    return Episodes(
        observations=[torch.stack(o, dim=t_dim) for o in obs_log],
        actions=torch.stack(act_log, dim=t_dim),
        rewards=torch.stack(rew_log, dim=t_dim),
    )


@torch.no_grad()
def rollout_tabular(
    env: BatchedIteratedGame,
    tables: Sequence[torch.Tensor],
    generator: torch.Generator | None = None,
) -> Episodes:
    """:func:`rollout` for memory-1 tables: the same episodes in distribution, a few tensor ops per step.

    ``tables[i]``: P(action | state) of seat ``i``, ``(runs, S, n_i)`` with the runs dimension equal to
    ``env.batch_shape[0]`` (``(S, n_i)`` is shared by all runs). The policies cannot change during a
    rollout, so their cumulative tables and every uniform draw are made once, up front; each step
    is then a gather, a comparison and the env's table look-ups — what makes the batched IPD
    rollouts several times faster than stepping generic policy modules.
    """
    if len(tables) != env.n_players:
        raise ValueError(f"expected {env.n_players} tables (one per seat), got {len(tables)}")
    shape, T = env.batch_shape, env.max_steps
    runs, rest = shape[0], int(torch.Size(shape[1:]).numel())
    cdfs = []
    for i, table in enumerate(tables):
        tab = table.to(env.device)
        if tab.dim() == 2:
            tab = tab.expand(runs, *tab.shape)
        if tab.shape != (runs, env.n_states, env.n_actions[i]):
            raise ValueError(f"table of seat {i} must be (runs, S, n) = {(runs, env.n_states, env.n_actions[i])}, "
                             f"got {tuple(tab.shape)}")
        cdfs.append(tab.cumsum(-1))
    uniforms = torch.rand((T, env.n_players, runs, rest), generator=generator, device=env.device,
                          dtype=cdfs[0].dtype)
    env.reset()
    start = torch.zeros((runs, rest), dtype=torch.long, device=env.device)
    states = [start] * env.n_players
    joints = torch.empty((T, runs, rest), dtype=torch.long, device=env.device)
    action_log = torch.empty((T, env.n_players, runs, rest), dtype=torch.long, device=env.device)
    strides = env._strides.tolist()
    tables_next = [env.state_table[i].contiguous() for i in range(env.n_players)]
    # Two actions: the first CDF entry and the total suffice, as 2-D look-ups (the same comparisons).
    binary = [(cdf[..., 0].contiguous(), cdf[..., -1].contiguous()) if cdf.shape[-1] == 2 else None for cdf in cdfs]
    # Each step only samples and moves the states (flat look-ups with torch.take); observations and
    # rewards are looked up for all steps at once after the loop.
    for t in range(T):
        joint = None
        for i, cdf in enumerate(cdfs):
            pair = binary[i]
            if pair is not None:
                u = uniforms[t, i] * pair[1].gather(1, states[i])
                action = (pair[0].gather(1, states[i]) < u).long()
            else:
                c = cdf.gather(1, states[i].unsqueeze(-1).expand(-1, -1, cdf.shape[-1]))  # (runs, rest, n)
                # inverse CDF, as sample_actions: count the CDF steps u has passed (clamped against rounding)
                action = (c < uniforms[t, i].unsqueeze(-1) * c[..., -1:]).sum(-1).clamp_max(cdf.shape[-1] - 1)
            action_log[t, i] = action
            joint = action * strides[i] if joint is None else joint + action * strides[i]
        assert joint is not None
        joints[t] = joint
        states = [torch.take(table, joint) for table in tables_next]
    # Observation before step t: the start state at t = 0, else the state the previous joint action led to.
    observations = [torch.cat([start.unsqueeze(0), torch.take(table, joints[:-1])]).permute(1, 2, 0).reshape(*shape, T)
                    for table in tables_next]
    rewards = torch.stack([torch.take(env.payoff_table[:, i].contiguous(), joints) for i in range(env.n_players)], -1)
    return Episodes(
        observations=observations,
        actions=action_log.permute(2, 3, 0, 1).reshape(*shape, T, env.n_players),
        rewards=rewards.permute(1, 2, 0, 3).reshape(*shape, T, env.n_players),
    )


def resampler(
    own: torch.nn.Module, opponent: torch.nn.Module, seat: int, play: Callable[[list[torch.nn.Module]], Episodes]
) -> Callable[[Mapping[str, torch.Tensor], Mapping[str, torch.Tensor]], Episodes]:
    """Fresh episodes at given parameters of a seat's policy and its opponent's (POLA-DiCE's proximal steps).

    Copies of both policies take the parameters of each call, and ``play`` rolls the copies out in
    seat order; the learners' own modules are never touched.  The engine and the tournament build
    their samplers with it.
    """
    import copy

    scratch = [copy.deepcopy(own), copy.deepcopy(opponent)]
    order = scratch if seat == 0 else scratch[::-1]

    def sample(own_params: Mapping[str, torch.Tensor], opponent_params: Mapping[str, torch.Tensor]) -> Episodes:
        with torch.no_grad():
            for module, params in zip(scratch, (own_params, opponent_params)):
                for name, t in module.named_parameters():
                    t.copy_(params[name])
            return play(order)

    return sample
