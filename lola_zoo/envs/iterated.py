"""Iterated matrix games as PettingZoo parallel environments with memory-1 observations.

Each round every player picks an action of the underlying :class:`MatrixGame`.  A player's
observation is the previous joint action *from its own perspective* (own action first, then the
others in seat order) as one integer, with ``0`` for the start state, so a single memory-1 policy
can sit in any seat.  ``infos[agent]["joint_action"]`` carries the joint action in seat order.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding

from lola_zoo.envs.base import DilemmaParallelEnv, discrete_action, is_count, pettingzoo_constructors
from lola_zoo.envs.games import CANONICAL_GAMES, MatrixGame

__all__ = ["IteratedMatrixGame", "parallel_env", "env", "raw_env", "perspective_tables"]

ObservationType = Literal["discrete", "onehot"]


def perspective_tables(game: MatrixGame) -> np.ndarray:
    """``table[i, j]`` = memory-1 state index seen by player i after joint action j (seat order).

    Index 0 is the start state; joint action ``j`` is the C-order flat index of ``(a_0, ..., a_N-1)``.
    """
    dims = game.n_actions
    joint = np.array(np.unravel_index(np.arange(game.n_joint), dims))  # (N, n_joint)
    table = np.empty((game.n_players, game.n_joint), dtype=np.int64)
    for i in range(game.n_players):
        order = list(game.perspective(i))
        table[i] = 1 + np.ravel_multi_index(tuple(joint[order]), tuple(dims[j] for j in order))
    return table


class IteratedMatrixGame(DilemmaParallelEnv):
    """A :class:`MatrixGame` played repeatedly for ``max_steps`` rounds (PettingZoo ParallelEnv).

    :param game: the stage game, or the id of a canonical one (``"ipd"``, ``"imp"``, ...).
    :param max_steps: rounds per episode; the episode ends by truncation afterwards.
    :param observation_type: ``"discrete"`` (one integer per memory-1 state) or ``"onehot"``
        (a float32 one-hot vector of the same state, for neural networks).
    :param render_mode: ``None``, ``"ansi"`` (returns the round as text) or ``"human"`` (prints it).
    :param max_cycles: PettingZoo's name for ``max_steps``; overrides it when given.
    """

    _missing_action_message = "no action given for agent(s) {missing}; every live agent must act"
    metadata: dict[str, Any] = {
        "name": "iterated_matrix_game_v0",
        "render_modes": ["ansi", "human"],
        "is_parallelizable": True,
    }

    def __init__(
        self,
        game: MatrixGame | str = "ipd",
        max_steps: int = 100,
        observation_type: ObservationType = "discrete",
        render_mode: str | None = None,
        max_cycles: int | None = None,
    ) -> None:
        if max_cycles is not None:  # PettingZoo's name for the same limit (max_cycles_test, registry)
            max_steps = max_cycles
        if isinstance(game, str):
            if game not in CANONICAL_GAMES:
                raise ValueError(f"unknown matrix game {game!r}; known: {sorted(CANONICAL_GAMES)}")
            game = CANONICAL_GAMES[game]
        if not isinstance(game, MatrixGame):
            raise TypeError(f"game must be a MatrixGame or a canonical game id, got {type(game).__name__}")
        if not is_count(max_steps) or max_steps < 1:
            raise ValueError(f"max_steps must be a positive integer, got {max_steps!r}")
        if observation_type not in ("discrete", "onehot"):
            raise ValueError(f"observation_type must be 'discrete' or 'onehot', got {observation_type!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}"
            )
        self.game = game
        self.max_steps = int(max_steps)
        self.observation_type = observation_type
        self.render_mode = render_mode
        self.possible_agents = [f"player_{i}" for i in range(game.n_players)]
        self.agents: list[str] = []
        self._index = {agent: i for i, agent in enumerate(self.possible_agents)}
        self._dims = game.n_actions
        n_states = game.n_states
        # Spaces are built once: PettingZoo requires the same object on every call.
        if observation_type == "discrete":
            obs_space: spaces.Space = spaces.Discrete(n_states)
            self._obs_table = [np.arange(n_states, dtype=np.int64)[k] for k in range(n_states)]
        else:
            obs_space = spaces.Box(0.0, 1.0, shape=(n_states,), dtype=np.float32)
            eye = np.eye(n_states, dtype=np.float32)
            eye.setflags(write=False)  # shared read-only rows: no per-step allocation
            self._obs_table = list(eye)
        self.observation_spaces = {a: obs_space for a in self.possible_agents}
        self.action_spaces = {
            a: spaces.Discrete(n) for a, n in zip(self.possible_agents, self._dims)
        }
        self._state_of = perspective_tables(game).tolist()  # [player][joint] -> state
        self._rewards_of = game.payoffs.reshape(game.n_players, -1).T.tolist()  # [joint][player]
        self._rng, _ = seeding.np_random(None)
        self._round = 0
        self._last_joint: tuple[int, ...] | None = None
        self._last_rewards: list[float] | None = None

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """Start a new episode in the start state; reseed only when ``seed`` is given."""
        if seed is not None:
            self._rng, _ = seeding.np_random(seed)
            for i, agent in enumerate(self.possible_agents):
                self.action_spaces[agent].seed(seed + i)
                self.observation_spaces[agent].seed(seed + i)
        self.agents = list(self.possible_agents)
        self._round = 0
        self._last_joint = None
        self._last_rewards = None
        start = self._obs_table[0]
        observations = {a: start for a in self.agents}
        infos: dict[str, dict[str, Any]] = {a: {} for a in self.agents}
        return observations, infos

    def _checked_joint_action(self, actions: dict[str, Any]) -> tuple[int, ...]:
        joint = []
        for (agent, action), n in zip(self._actions_in_seat_order(actions), self._dims):
            value = discrete_action(action, n)
            if value is None:
                raise ValueError(
                    f"invalid action {action!r} for {agent}: expected an integer in [0, {n - 1}] "
                    f"({', '.join(self.game.action_names[self._index[agent]])})"
                )
            joint.append(value)
        return tuple(joint)

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """Play one round: every live agent must give an action in its action space."""
        joint = self._checked_joint_action(actions)
        flat = 0
        for a, n in zip(joint, self._dims):
            flat = flat * n + a
        self._round += 1
        rewards_row = self._rewards_of[flat]
        truncated = self._round >= self.max_steps
        observations, rewards, terminations, truncations, infos = {}, {}, {}, {}, {}
        for i, agent in enumerate(self.possible_agents):
            observations[agent] = self._obs_table[self._state_of[i][flat]]
            rewards[agent] = rewards_row[i]
            terminations[agent] = False
            truncations[agent] = truncated
            infos[agent] = {"joint_action": joint, "round": self._round}
            if truncated:
                # SuperSuit does not set this flag; SB3 needs it to bootstrap at the time limit.
                infos[agent]["TimeLimit.truncated"] = True
        self._last_joint = joint
        self._last_rewards = rewards_row
        if truncated:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return observations, rewards, terminations, truncations, infos

    def _render_text(self) -> str:
        if self._last_joint is None:
            return f"{self.game.name}: start (round 0 of {self.max_steps})"
        moves = ", ".join(
            f"{agent} {self.game.action_names[i][a]}"
            for i, (agent, a) in enumerate(zip(self.possible_agents, self._last_joint))
        )
        pay = ", ".join(f"{r:+g}" for r in self._last_rewards or ())
        return f"{self.game.name} round {self._round}/{self.max_steps}: {moves} -> payoffs ({pay})"

    def state(self) -> np.ndarray:
        """Global state: the previous joint action from player_0's perspective (as observed)."""
        if self._last_joint is None:
            return self._obs_table[0]
        flat = int(np.ravel_multi_index(self._last_joint, self._dims))
        return self._obs_table[self._state_of[0][flat]]


parallel_env, raw_env, env = pettingzoo_constructors(IteratedMatrixGame)
