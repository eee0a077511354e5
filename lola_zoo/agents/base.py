"""The Agent protocol every training loop in lola-zoo speaks.

Data flows ``env -> observation -> agent.act -> env.step -> agent.observe -> agent.update``.
Fixed strategies implement only :meth:`Agent.act`; learners also collect transitions in
:meth:`Agent.observe` and learn in :meth:`Agent.update`.  Checkpoints go through
``state_dict`` / ``load_state_dict`` as in torch.

A PettingZoo *parallel* loop holds every agent's step in dicts.  :func:`observe_all` hands those
dicts to :meth:`Agent.observe_parallel` of every agent that acted; by default an agent keeps only
its own :class:`Transition` (and :meth:`Agent.observe` sees exactly what it always saw), while
agents that need the opponent's side of the step — LOLA, which differentiates through the
opponent's learning step, or LOLA-OM, which fits a model to the opponent's actions — override
:meth:`Agent.observe_parallel` and read it from the same dicts.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

__all__ = ["Agent", "Transition", "memory1_state", "observe_all"]


@dataclass
class Transition:
    """One step seen by one agent.

    :param observation: what the agent observed before acting.
    :param action: the action it took.
    :param reward: the reward it received.
    :param next_observation: what it observes after the step.
    :param terminated: the episode ended for this agent (a terminal state).
    :param truncated: the episode was cut by the time limit.
    :param info: the env's info dict for this agent (``joint_action`` for iterated games).
    """

    observation: Any
    action: Any
    reward: float
    next_observation: Any
    terminated: bool = False
    truncated: bool = False
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        """The episode is over for this agent."""
        return self.terminated or self.truncated


class Agent(ABC):
    """Base class of every agent: fixed strategies, exact and policy-gradient learners, SB3 adapters."""

    #: a short name used in tables and tournaments
    name: str = "agent"

    def seed(self, seed: int | None = None) -> None:
        """Seed the agent's own random generator (used when it samples actions)."""
        self.rng = np.random.default_rng(seed)

    @property
    def _rng(self) -> np.random.Generator:
        if not hasattr(self, "rng"):
            self.seed(None)
        return self.rng

    def reset(self) -> None:
        """Called at the start of every episode (recurrent state, per-episode buffers)."""

    @abstractmethod
    def act(self, observation: Any) -> Any:
        """Choose an action for ``observation``."""

    def observe(self, transition: Transition) -> None:
        """Record one step of experience; fixed strategies ignore it."""

    def observe_parallel(
        self,
        agent_id: str,
        observations: Mapping[str, Any],
        actions: Mapping[str, Any],
        rewards: Mapping[str, float],
        next_observations: Mapping[str, Any],
        terminations: Mapping[str, bool],
        truncations: Mapping[str, bool],
        infos: Mapping[str, dict[str, Any]],
    ) -> None:
        """Record one step of a parallel loop from its dicts; by default this agent's own :class:`Transition`.

        :param agent_id: the name under which this agent plays in the dicts.
        :param observations: what every agent observed before acting.
        :param actions: what every agent did.
        :param rewards: ``env.step``'s rewards; ``next_observations``, ``terminations``,
            ``truncations``, ``infos`` are the rest of ``env.step``'s return.
        """
        self.observe(Transition(
            observations[agent_id], actions[agent_id], float(rewards[agent_id]), next_observations.get(agent_id),
            bool(terminations[agent_id]), bool(truncations[agent_id]), infos.get(agent_id, {}),
        ))

    def update(self) -> dict[str, float]:
        """Learn from what was observed; returns metrics (empty for agents that do not learn)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to restore the agent (parameters, optimiser, RNG)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def memory1_state(observation: Any) -> int:
    """The memory-1 state index of an observation, whether Discrete (int) or one-hot (vector)."""
    arr = np.asarray(observation)
    if arr.ndim == 0:
        return int(arr)
    if arr.ndim == 1:
        return int(arr.argmax())
    raise ValueError(f"expected a memory-1 observation (int or one-hot vector), got shape {arr.shape}")


def observe_all(
    agents: Mapping[str, Agent],
    observations: Mapping[str, Any],
    actions: Mapping[str, Any],
    rewards: Mapping[str, float],
    next_observations: Mapping[str, Any],
    terminations: Mapping[str, bool],
    truncations: Mapping[str, bool],
    infos: Mapping[str, dict[str, Any]],
) -> None:
    """Give one ``env.step`` of a parallel loop to every agent that acted (its :meth:`Agent.observe_parallel`).

    The loop's lines are then::

        actions = {a: agents[a].act(observations[a]) for a in env.agents}
        next_obs, rewards, terminations, truncations, infos = env.step(actions)
        observe_all(agents, observations, actions, rewards, next_obs, terminations, truncations, infos)
        observations = next_obs
    """
    for agent_id in actions:
        try:
            agent = agents[agent_id]
        except KeyError:
            raise KeyError(f"{agent_id!r} acted but has no Agent; agents given: {sorted(agents)}") from None
        observe = getattr(agent, "observe_parallel", None)
        if observe is None:  # a duck-typed agent with only observe(transition)
            Agent.observe_parallel(agent, agent_id, observations, actions, rewards, next_observations,  # type: ignore[arg-type]
                                   terminations, truncations, infos)
        else:
            observe(agent_id, observations, actions, rewards, next_observations, terminations, truncations, infos)
