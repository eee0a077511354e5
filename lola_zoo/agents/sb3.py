"""Stable-Baselines3 in lola-zoo: shared-policy vector envs, single-agent views, SB3 models as Agents.

Three bridges, all behind this one module (SuperSuit is semi-deprecated upstream, so it is
imported here only):

* :func:`sb3_vec_env` — one policy shared by every seat (parameter sharing): the PettingZoo env
  becomes an SB3 ``VecEnv`` through SuperSuit's ``pettingzoo_env_to_vec_env_v1`` and
  ``concat_vec_envs_v1``, with seeding forwarded (SuperSuit's ``ConcatVecEnv`` has no ``seed``,
  so ``PPO(seed=...)`` fails without it) and a ``VecMonitor`` for episode statistics.
* :class:`SingleAgentView` — a gymnasium env in which one seat is free and every other seat is
  played by an :class:`~lola_zoo.agents.base.Agent` (fixed strategy, learner, Axelrod strategy,
  another SB3 model).  Learning opponents keep learning between episodes.
* :class:`SB3Agent` / :func:`make_sb3_agent` — an SB3 model behind the Agent protocol, so it
  plays (and, with ``learn=True``, learns) in the MARL loop and in tournaments beside LOLA agents.

``stable_baselines3`` and ``supersuit`` come with the ``sb3`` extra: ``pip install lola-zoo[sb3]``.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence, cast

import gymnasium
import numpy as np
import torch

from lola_zoo.agents.base import Agent, Transition

__all__ = [
    "SB3_ALGORITHMS",
    "sb3_vec_env",
    "SingleAgentView",
    "SB3Agent",
    "make_sb3_agent",
    "policy_table",
]

#: the SB3 algorithms ``make_sb3_agent`` (and ``lola-zoo train``) know by name
SB3_ALGORITHMS: tuple[str, ...] = ("ppo", "a2c", "dqn")


def _require_sb3() -> Any:
    try:
        import stable_baselines3
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ImportError(
            "stable-baselines3 is not installed; install the extra: pip install 'lola-zoo[sb3]'"
        ) from exc
    return stable_baselines3


def _parallel_env(env: Any, env_kwargs: Mapping[str, Any] | None = None) -> Any:
    """A PettingZoo ParallelEnv from a registered id or an env instance."""
    if isinstance(env, str):
        import lola_zoo

        return lola_zoo.make(env, **dict(env_kwargs or {}))
    if env_kwargs:
        raise ValueError("env_kwargs only apply when env is a registered id, not an env instance")
    if not hasattr(env, "possible_agents") or not hasattr(env, "step"):
        raise TypeError(
            f"expected a registered env id or a PettingZoo ParallelEnv, got {type(env).__name__}"
        )
    return env


def _seat_name(env: Any, seat: str | int) -> str:
    """The agent name of ``seat`` (a name like ``"player_1"`` or a seat index)."""
    agents = list(env.possible_agents)
    if isinstance(seat, (int, np.integer)) and not isinstance(seat, bool):
        if not 0 <= seat < len(agents):
            raise ValueError(f"seat index {seat} out of range; the env has seats 0..{len(agents) - 1}")
        return agents[int(seat)]
    if seat not in agents:
        raise KeyError(f"unknown seat {seat!r}; the env's agents are {agents}")
    return str(seat)


# ---------------------------------------------------------------------------------------------
# Parameter sharing through SuperSuit
# ---------------------------------------------------------------------------------------------


def sb3_vec_env(
    env: Any,
    n_envs: int = 8,
    *,
    num_cpus: int = 0,
    monitor: bool = True,
    **env_kwargs: Any,
) -> Any:
    """An SB3 ``VecEnv`` over ``n_envs`` copies of a PettingZoo env, every seat one sub-env (shared policy).

    :param env: a registered id (``"ipd"``, ``"coin-game"``, ...) or a PettingZoo ParallelEnv
        whose seats share observation and action spaces.
    :param n_envs: number of game copies; the vec env has ``n_envs * n_seats`` sub-envs.
    :param num_cpus: worker processes for SuperSuit (0: all in this process).
    :param monitor: wrap in ``VecMonitor`` so SB3 logs episode returns and lengths.
    :param env_kwargs: passed to :func:`lola_zoo.make` when ``env`` is an id.
    """
    _require_sb3()
    import supersuit as ss
    from stable_baselines3.common.vec_env import VecMonitor
    from supersuit.vector.sb3_vector_wrapper import SB3VecEnvWrapper

    if int(n_envs) != n_envs or n_envs < 1:
        raise ValueError(f"n_envs must be a positive integer, got {n_envs!r}")
    par_env = _parallel_env(env, env_kwargs)
    agents = list(par_env.possible_agents)
    spaces0 = (par_env.observation_space(agents[0]), par_env.action_space(agents[0]))
    for agent in agents[1:]:
        if (par_env.observation_space(agent), par_env.action_space(agent)) != spaces0:
            raise ValueError(
                f"parameter sharing needs every seat to have the same spaces; {agent} differs from "
                f"{agents[0]} (use SingleAgentView to train one seat instead)"
            )

    class _SeededSB3VecEnv(SB3VecEnvWrapper):
        """SuperSuit's SB3 wrapper with ``seed`` forwarded to the next ``reset(seed=...)``."""

        _pending_seed: int | None = None

        def seed(self, seed: int | None = None) -> list[int | None]:
            if seed is None:
                seed = int(np.random.randint(0, np.iinfo(np.uint32).max, dtype=np.uint32))
            self._pending_seed = int(seed)
            return [self._pending_seed + i for i in range(self.num_envs)]

        def reset(self, seed: int | None = None, options: Any = None) -> Any:
            seed = self._pending_seed if seed is None else seed
            self._pending_seed = None
            # ConcatVecEnv gives copy k the seed ``seed + k``: the cloudpickled copies would
            # otherwise share one RNG state.
            observations, self.reset_infos = self.venv.reset(seed=seed, options=options)
            return observations

        def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
            if attr_name == "render_mode":  # ConcatVecEnv has no get_attr for it; SB3 asks at wrap time
                return [self.render_mode] * self.num_envs
            return super().get_attr(attr_name, indices)

    vec = ss.pettingzoo_env_to_vec_env_v1(par_env)
    vec = ss.concat_vec_envs_v1(vec, int(n_envs), num_cpus=num_cpus, base_class="gymnasium")
    vec = _SeededSB3VecEnv(vec)
    return VecMonitor(vec) if monitor else vec


# ---------------------------------------------------------------------------------------------
# Single-agent view
# ---------------------------------------------------------------------------------------------


class SingleAgentView(gymnasium.Env):
    """One seat of a multi-agent env as a gymnasium env; the other seats are played by Agents.

    Every step the opponents act on their own observations, then receive the step through
    :meth:`Agent.observe`; at the end of each episode :meth:`Agent.update` is called (when
    ``update_opponents``), so a learning opponent keeps learning between the episodes of the
    SB3 learner.  Its metrics appear in the last step's ``info["opponent_metrics"]``.

    :param env: a registered id or a PettingZoo ParallelEnv.
    :param seat: the free seat, by name (``"player_0"``) or index.
    :param opponents: an Agent per other seat (``{"player_1": TitForTat()}``); for a two-player
        env a single Agent is accepted.
    :param update_opponents: call ``update()`` on the opponents at the end of every episode.
    :param env_kwargs: passed to :func:`lola_zoo.make` when ``env`` is an id.
    """

    def __init__(
        self,
        env: Any,
        seat: str | int = "player_0",
        opponents: Mapping[str, Agent] | Agent | None = None,
        *,
        update_opponents: bool = True,
        env_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        self.env = _parallel_env(env, env_kwargs)
        self.seat = _seat_name(self.env, seat)
        others = [a for a in self.env.possible_agents if a != self.seat]
        if isinstance(opponents, Agent):
            if len(others) != 1:
                raise ValueError(
                    f"a single opponent Agent needs a two-player env; give a dict for seats {others}"
                )
            opponents = {others[0]: opponents}
        opponents = dict(opponents or {})
        missing = [a for a in others if a not in opponents]
        extra = [a for a in opponents if a not in others]
        if missing or extra:
            raise KeyError(
                f"opponents must give an Agent for exactly the seats {others}; "
                f"missing {missing}, unexpected {extra}"
            )
        for agent, opponent in opponents.items():
            if not isinstance(opponent, Agent):
                raise TypeError(f"opponent for {agent} must be an Agent, got {type(opponent).__name__}")
        self.opponents: dict[str, Agent] = opponents
        self.update_opponents = bool(update_opponents)
        self.observation_space = self.env.observation_space(self.seat)
        self.action_space = self.env.action_space(self.seat)
        self.render_mode = getattr(self.env, "render_mode", None)
        self.metadata = {"render_modes": list(getattr(self.env, "metadata", {}).get("render_modes", []))}
        self._observations: dict[str, Any] = {}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        """Start an episode; a ``seed`` reseeds the env and, through ``Agent.seed``, the opponents."""
        super().reset(seed=seed)
        if seed is not None:
            seeds = self.np_random.integers(0, 2**31 - 1, size=len(self.opponents) + 1)
            for opponent, s in zip(self.opponents.values(), seeds[1:]):
                opponent.seed(int(s))
            observations, infos = self.env.reset(seed=int(seeds[0]), options=options)
        else:
            observations, infos = self.env.reset(options=options)
        for opponent in self.opponents.values():
            opponent.reset()
        self._observations = observations
        return observations[self.seat], dict(infos.get(self.seat, {}))

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        """Play the free seat's ``action`` with the opponents' actions; returns the free seat's step."""
        if not self._observations:
            raise RuntimeError("step() called before reset()")
        actions = {self.seat: np.asarray(action).item() if np.ndim(action) == 0 else action}
        for agent, opponent in self.opponents.items():
            if agent in self.env.agents:
                actions[agent] = opponent.act(self._observations[agent])
        observations, rewards, terminations, truncations, infos = self.env.step(actions)
        for agent, opponent in self.opponents.items():
            if agent in rewards:
                opponent.observe(
                    Transition(
                        self._observations[agent], actions[agent], float(rewards[agent]),
                        observations.get(agent), bool(terminations[agent]), bool(truncations[agent]),
                        infos.get(agent, {}),
                    )
                )
        terminated = bool(terminations[self.seat])
        truncated = bool(truncations[self.seat]) and not terminated
        info = dict(infos.get(self.seat, {}))
        if terminated or truncated:
            if self.update_opponents:
                info["opponent_metrics"] = {a: o.update() for a, o in self.opponents.items()}
            self._observations = {}
        else:
            self._observations = observations
        return observations[self.seat], float(rewards[self.seat]), terminated, truncated, info

    def render(self) -> Any:
        """The underlying env's render."""
        return self.env.render()

    def close(self) -> None:
        """Close the underlying env."""
        self.env.close()


# ---------------------------------------------------------------------------------------------
# SB3 models as Agents
# ---------------------------------------------------------------------------------------------


class _SpacesOnlyEnv(gymnasium.Env):
    """Carries a seat's spaces to an SB3 constructor; the Agent loop, not this env, steps the game."""

    def __init__(self, observation_space: gymnasium.Space, action_space: gymnasium.Space) -> None:
        self.observation_space = observation_space
        self.action_space = action_space

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        return self.observation_space.sample(), {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        raise RuntimeError("this SB3 model learns through SB3Agent in the MARL loop, not by model.learn()")


class SB3Agent(Agent):
    """An SB3 model (PPO, A2C, DQN, ...) behind the Agent protocol.

    With ``learn=False`` it only acts (a trained model, or one being trained elsewhere: it always
    acts with the model's current weights).  With ``learn=True`` it learns from the steps the MARL
    loop feeds to :meth:`observe`, on SB3's own schedule: on-policy models (PPO, A2C) train
    whenever ``n_steps`` transitions fill the rollout buffer, off-policy models (DQN) store every
    transition in the replay buffer and train every ``train_freq`` steps after
    ``learning_starts``.  Time-limit truncations are bootstrapped with the value of the next
    observation, as SB3 does.  :meth:`update` returns the metrics of the trainings since the
    last call.

    :param model: an SB3 ``BaseAlgorithm`` whose spaces match the seat.
    :param learn: learn from observed transitions (see above).
    :param deterministic: act greedily (evaluation) instead of sampling.
    :param total_timesteps: the horizon of SB3's schedules (learning rate, DQN exploration).
    :param name: shown in tables; defaults to the algorithm's name.
    """

    def __init__(
        self,
        model: Any,
        *,
        learn: bool = False,
        deterministic: bool = False,
        total_timesteps: int = 100_000,
        name: str | None = None,
    ) -> None:
        sb3 = _require_sb3()
        from stable_baselines3.common.logger import Logger
        from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
        from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

        if not isinstance(model, sb3.common.base_class.BaseAlgorithm):
            raise TypeError(f"model must be a stable-baselines3 algorithm, got {type(model).__name__}")
        if total_timesteps < 1:
            raise ValueError(f"total_timesteps must be positive, got {total_timesteps}")
        self.model = model
        self.learn = bool(learn)
        self.deterministic = bool(deterministic)
        self.total_timesteps = int(total_timesteps)
        self.name = name or type(model).__name__
        self._on_policy = isinstance(model, OnPolicyAlgorithm)
        self._off_policy = isinstance(model, OffPolicyAlgorithm)
        if self.learn and not (self._on_policy or self._off_policy):
            raise ValueError(
                f"{type(model).__name__} is neither on- nor off-policy; cannot learn in the loop"
            )
        if self.learn and getattr(model, "n_envs", 1) != 1:
            raise ValueError("an SB3Agent learns one seat of one game: build the model with a single env")
        if self.learn:
            # A silent logger: SB3's train() records metrics, which update() hands back.
            model.set_logger(Logger(folder=None, output_formats=[]))
            if self._on_policy:
                model.rollout_buffer.reset()
        self._pending: tuple[Any, ...] | None = None  # (obs, action, value, log_prob) of the last act
        self._episode_start = True
        self._metrics: dict[str, float] = {}

    # -- acting ------------------------------------------------------------------------------

    def seed(self, seed: int | None = None) -> None:
        """Seed SB3's random generators (global: python, numpy, torch) and the action space."""
        super().seed(seed)
        self.model.set_random_seed(seed)

    def reset(self) -> None:
        """A new episode starts with the next action."""
        self._episode_start = True
        self._pending = None

    def act(self, observation: Any) -> Any:
        """The model's action for ``observation`` (sampled unless ``deterministic``)."""
        if self.learn and self._on_policy and not self.deterministic:
            obs_tensor, _ = self.model.policy.obs_to_tensor(observation)
            with torch.no_grad():
                action, value, log_prob = self.model.policy(obs_tensor)
            self._pending = (observation, action.cpu().numpy(), value, log_prob)
            return self._to_env_action(action.cpu().numpy()[0])
        action, _ = self.model.predict(observation, deterministic=self.deterministic)
        if self.learn and self._off_policy:
            self._pending = (observation, np.asarray(action).reshape(1, -1))
        return self._to_env_action(action)

    def _to_env_action(self, action: np.ndarray) -> Any:
        if isinstance(self.model.action_space, gymnasium.spaces.Discrete):
            return int(np.asarray(action).reshape(-1)[0])
        return np.asarray(action)

    # -- learning ----------------------------------------------------------------------------

    def observe(self, transition: Transition) -> None:
        """Store one step (when learning) and train when SB3's schedule says so."""
        if not self.learn or self.deterministic:
            return
        if self._pending is None:
            raise RuntimeError("observe() called without a preceding act(); the loop must call act first")
        model = self.model
        model.num_timesteps += 1
        model._update_current_progress_remaining(model.num_timesteps, self.total_timesteps)
        if self._on_policy:
            self._observe_on_policy(transition)
        else:
            self._observe_off_policy(transition)
        self._pending = None
        self._episode_start = transition.done

    def _value(self, observation: Any) -> torch.Tensor:
        obs_tensor, _ = self.model.policy.obs_to_tensor(observation)
        with torch.no_grad():
            return self.model.policy.predict_values(obs_tensor)

    def _observe_on_policy(self, t: Transition) -> None:
        model = self.model
        obs, action, value, log_prob = self._pending  # type: ignore[misc]
        reward = float(t.reward)
        if t.truncated and not t.terminated and t.next_observation is not None:
            # The episode was cut, not ended: bootstrap with V(s'), as SB3 does with TimeLimit.truncated.
            reward += model.gamma * float(self._value(t.next_observation).item())
        if isinstance(model.action_space, gymnasium.spaces.Discrete):
            action = action.reshape(-1, 1)
        model.rollout_buffer.add(
            np.asarray(obs)[None], action, np.array([reward], dtype=np.float32),
            np.array([self._episode_start]), value, log_prob,
        )
        if model.rollout_buffer.full:
            if t.next_observation is None:
                last_value = torch.zeros((1, 1))
            else:
                last_value = self._value(t.next_observation)
            model.rollout_buffer.compute_returns_and_advantage(
                last_values=last_value, dones=np.array([t.done])
            )
            model.train()
            model.rollout_buffer.reset()
            self._collect_metrics()

    def _observe_off_policy(self, t: Transition) -> None:
        model = self.model
        obs, action = self._pending  # type: ignore[misc]
        next_obs = t.next_observation if t.next_observation is not None else obs
        info = dict(t.info)
        if t.truncated and not t.terminated:
            info["TimeLimit.truncated"] = True  # the replay buffer then bootstraps this step
        model.replay_buffer.add(
            np.asarray(obs)[None], np.asarray(next_obs)[None], action,
            np.array([t.reward], dtype=np.float32), np.array([t.done]), [info],
        )
        if hasattr(model, "_on_step"):
            model._on_step()  # DQN: exploration schedule and target-network updates
        frequency = model.train_freq.frequency
        if model.num_timesteps > model.learning_starts and model.num_timesteps % frequency == 0:
            steps = model.gradient_steps if model.gradient_steps > 0 else frequency
            model.train(gradient_steps=steps, batch_size=model.batch_size)
            self._collect_metrics()

    def _collect_metrics(self) -> None:
        values = self.model.logger.name_to_value
        self._metrics.update({k: float(cast(Any, v)) for k, v in values.items() if np.isscalar(v)})
        values.clear()

    def update(self) -> dict[str, float]:
        """Metrics of the trainings since the last call (empty when none ran)."""
        metrics, self._metrics = self._metrics, {}
        return metrics

    # -- checkpoints -------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The model's parameters (policy and optimisers) and its step counter."""
        return {"parameters": self.model.get_parameters(), "num_timesteps": int(self.model.num_timesteps)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.model.set_parameters(state["parameters"], exact_match=True)
        self.model.num_timesteps = int(state.get("num_timesteps", 0))


def _algorithm_class(name: str) -> type[Any]:
    sb3 = _require_sb3()
    key = str(name).lower()
    if key not in SB3_ALGORITHMS:
        raise ValueError(f"unknown SB3 algorithm {name!r}; known: {', '.join(SB3_ALGORITHMS)}")
    return {"ppo": sb3.PPO, "a2c": sb3.A2C, "dqn": sb3.DQN}[key]


_AGENT_KWARGS = ("learn", "deterministic", "total_timesteps", "name")


def make_sb3_agent(name: str, env: Any, seat: str | int, /, **kwargs: Any) -> SB3Agent:
    """An :class:`SB3Agent` for ``seat`` of ``env`` with a fresh (or loaded) ``ppo``/``a2c``/``dqn`` model.

    ``env`` is a registered id or a PettingZoo ParallelEnv (only its spaces are used).  Keyword
    arguments: ``learn`` (default True), ``deterministic``, ``total_timesteps``, ``name`` go to
    the agent; ``path`` loads a saved model (``model.save(path)``) instead of building one;
    ``policy`` (default ``"MlpPolicy"``) and everything else go to the SB3 constructor
    (``seed``, ``learning_rate``, ``n_steps``, ``policy_kwargs``, ...).
    """
    cls = _algorithm_class(name)
    par_env = _parallel_env(env)
    seat_name = _seat_name(par_env, seat)
    spaces_env = _SpacesOnlyEnv(par_env.observation_space(seat_name), par_env.action_space(seat_name))
    agent_kwargs = {k: kwargs.pop(k) for k in _AGENT_KWARGS if k in kwargs}
    agent_kwargs.setdefault("learn", True)
    agent_kwargs.setdefault("name", f"{str(name).upper()}({seat_name})")
    path = kwargs.pop("path", None)
    if path is not None:
        model = cls.load(path, env=spaces_env, **kwargs)
    else:
        policy = kwargs.pop("policy", "MlpPolicy")
        kwargs.setdefault("verbose", 0)
        try:
            model = cls(policy, spaces_env, **kwargs)
        except TypeError as exc:
            raise ValueError(f"bad keyword argument for {cls.__name__}: {exc}") from None
    if "seed" in kwargs:
        model.set_random_seed(kwargs["seed"])
    return SB3Agent(model, **agent_kwargs)


def policy_table(model: Any, observations: Sequence[Any]) -> np.ndarray:
    """Action probabilities ``(n_obs, n_actions)`` of an SB3 model (or SB3Agent) at each observation.

    Actor-critic models give their policy's distribution; value-based models (DQN) a one-hot of
    the greedy action.  With the memory-1 states ``range(n_states)`` of an iterated matrix game
    this is the table a :class:`~lola_zoo.agents.strategies.Memory1Strategy` takes.
    """
    model = model.model if isinstance(model, SB3Agent) else model
    if not isinstance(model.action_space, gymnasium.spaces.Discrete):
        raise ValueError("policy_table needs a Discrete action space")
    obs = np.stack([np.asarray(o) for o in observations])
    obs_tensor, _ = model.policy.obs_to_tensor(obs)
    with torch.no_grad():
        if hasattr(model.policy, "get_distribution"):
            probs = model.policy.get_distribution(obs_tensor).distribution.probs
            return probs.cpu().numpy().astype(np.float64)
        greedy = model.policy.predict(obs, deterministic=True)[0]
    return np.eye(int(model.action_space.n))[np.asarray(greedy).reshape(-1)]
