"""A plain training loop over any PettingZoo ParallelEnv with any mix of Agents.

This is the whole protocol, readable top to bottom::

    observations, infos = env.reset(seed=seed)
    for agent in agents.values(): agent.reset()
    while env.agents:
        actions = {a: agents[a].act(observations[a]) for a in env.agents}
        next_obs, rewards, terminations, truncations, infos = env.step(actions)
        observe_all(agents, observations, actions, rewards, next_obs, terminations, truncations, infos)
        observations = next_obs
    metrics = {a: agents[a].update() for a in agents}      # learners learn, strategies return {}

:func:`~lola_zoo.agents.base.observe_all` gives each agent the step's dicts: most agents keep their
own :class:`~lola_zoo.agents.base.Transition`; the in-loop policy-gradient learners
(:class:`~lola_zoo.agents.in_loop.PolicyGradientAgent` around NL-PG, LOLA-PG or LOLA-OM) also keep
the opponent's observation, action and reward, which LOLA needs.  Learners, fixed strategies, SB3
models and Axelrod strategies all speak the same :class:`~lola_zoo.agents.base.Agent` protocol, so
any mix works.  Agents are updated after every episode in seat order; a learner
that waits for a batch of episodes returns ``{}`` until it has one.  This loop is for clarity and
for users' own environments; the fast path for PG learners is :mod:`lola_zoo.experiments.pg`.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from lola_zoo.agents.base import Agent, observe_all

__all__ = ["play_episode", "train"]


def play_episode(
    env: Any,
    agents: Mapping[str, Agent],
    seed: int | None = None,
    learn: bool = True,
) -> dict[str, Any]:
    """Play one episode; every agent observes each of its steps. Returns returns, steps and metrics.

    :param env: a PettingZoo ParallelEnv.
    :param agents: one Agent per ``env.possible_agents`` name.
    :param seed: passed to ``env.reset``.
    :param learn: call ``update()`` on every agent at the end of the episode.
    """
    missing = [a for a in env.possible_agents if a not in agents]
    if missing:
        raise KeyError(f"no Agent given for {missing}; the env's agents are {env.possible_agents}")
    observations, infos = env.reset(seed=seed)
    for agent in agents.values():
        agent.reset()
    returns = dict.fromkeys(env.possible_agents, 0.0)
    steps = 0
    while env.agents:
        actions = {a: agents[a].act(observations[a]) for a in env.agents}
        next_obs, rewards, terminations, truncations, infos = env.step(actions)
        observe_all(agents, observations, actions, rewards, next_obs, terminations, truncations, infos)
        for a in actions:
            returns[a] += float(rewards[a])
        observations = next_obs
        steps += 1
    metrics = {a: agents[a].update() for a in env.possible_agents} if learn else {}
    return {"returns": returns, "steps": steps, "metrics": metrics}


def train(
    env: Any,
    agents: Mapping[str, Agent],
    episodes: int,
    seed: int | None = None,
    progress: bool = False,
    callback: Callable[[int, dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Play and learn for ``episodes`` episodes; returns one record per episode.

    :param seed: the first episode resets the env with this seed (later episodes continue its RNG).
    :param progress: tqdm bar on stderr.
    :param callback: called as ``callback(episode_index, record)`` after each episode.
    """
    if int(episodes) != episodes or episodes < 1:
        raise ValueError(f"episodes must be a positive integer, got {episodes!r}")
    records = []
    iterator = range(int(episodes))
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, desc="episodes", unit="ep")
    for k in iterator:
        record = play_episode(env, agents, seed=seed if k == 0 else None)
        record["reward_per_step"] = {a: r / max(record["steps"], 1) for a, r in record["returns"].items()}
        records.append(record)
        if callback is not None:
            callback(k, record)
    return records
