"""Mixed training in the plain PettingZoo loop: SB3 models (PPO, A2C, DQN) beside PG learners and strategies.

``lola-zoo train`` sends a pair that includes an SB3 algorithm here, because SB3 models learn one
game at a time from the env, not from the batched twin.  Every seat becomes an
:class:`~lola_zoo.agents.base.Agent` — :class:`~lola_zoo.agents.sb3.SB3Agent`,
:class:`~lola_zoo.agents.naive.PolicyGradientAgent` around NL-PG / LOLA-PG / LOLA-OM, or a fixed
strategy — and :func:`lola_zoo.experiments.loop.train` plays them.  A LOLA learner facing an SB3
model cannot read its parameters as a memory-1 table, so it runs black-box (LOLA-OM) there.

Outputs: ``metrics.json`` (config, per-episode rewards, final policies and their exact value),
``metrics.csv``, ``curves.png`` and ``checkpoint.pt`` (every agent's ``state_dict`` and the episode
count, written atomically every ``checkpoint_every`` episodes and on Ctrl-C); ``resume=True``
continues from it.  SB3 draws from global random generators, so a resumed run follows the same
protocol but not bit for bit the same samples as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

import lola_zoo
from lola_zoo.agents.base import Agent
from lola_zoo.io import atomic_torch_save, atomic_write_csv, atomic_write_json

__all__ = ["SB3_ALGORITHMS", "MixedConfig", "build_agents", "run_mixed_experiment"]

SB3_ALGORITHMS = ("ppo", "a2c", "dqn")
_PG_KINDS = ("nl", "lola", "lola-om")
_FIXED = ("tft", "allc", "alld", "random")


@dataclass(frozen=True)
class MixedConfig:
    """One mixed experiment in the PettingZoo loop.

    :param game: registered two-player iterated matrix game.
    :param agents: the two seats: ``ppo``/``a2c``/``dqn``, ``nl``/``lola``/``lola-om`` or a fixed strategy.
    :param episodes: episodes to play (every agent learns between them).
    :param episode_length: rounds per episode.
    :param gamma: discount of every learner.
    :param lr: learning rate of the PG learners (SB3 models use their own defaults).
    :param episodes_per_update: episodes a PG learner collects per step.
    :param seed: seed of the env and of every agent.
    :param checkpoint_every: episodes between checkpoints.
    """

    game: str = "ipd"
    agents: tuple[str, str] = ("ppo", "lola")
    episodes: int = 300
    episode_length: int = 50
    gamma: float = 0.96
    lr: float = 1.0
    episodes_per_update: int = 16
    seed: int = 0
    checkpoint_every: int = 50

    def __post_init__(self) -> None:
        game = lola_zoo.game(self.game)
        if game.n_players != 2:
            raise ValueError(f"train needs a two-player game; {self.game!r} has {game.n_players}")
        agents = tuple(str(a).lower() for a in self.agents)
        if len(agents) != 2:
            raise ValueError(f"need two agents, got {agents}")
        known = (*SB3_ALGORITHMS, *_PG_KINDS, *_FIXED)
        for a in agents:
            if a not in known:
                raise ValueError(f"unknown agent {a!r}; known: {', '.join(known)}")
        object.__setattr__(self, "agents", agents)
        if not 0.0 < self.gamma < 1.0:
            raise ValueError(f"gamma must lie in (0, 1), got {self.gamma!r}")
        for name in ("episodes", "episode_length", "episodes_per_update", "checkpoint_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr!r}")


def build_agents(config: MixedConfig) -> tuple[Any, dict[str, Agent]]:
    """The PettingZoo env and one Agent per seat."""
    from lola_zoo.agents.lola import LOLA
    from lola_zoo.agents.naive import PolicyGradient, PolicyGradientAgent
    from lola_zoo.agents.policies import Memory1Policy, as_memory1_probs
    from lola_zoo.agents.strategies import make_strategy

    game = lola_zoo.game(config.game)
    env = lola_zoo.make(config.game, max_steps=config.episode_length)
    gen = torch.Generator().manual_seed(config.seed)
    tables: list[Any] = []  # a memory-1 policy module per seat, where there is one
    for kind in config.agents:
        if kind in _PG_KINDS:
            tables.append(Memory1Policy(game.n_states, 2, "sigmoid", generator=gen))
        elif kind in _FIXED:
            tables.append(as_memory1_probs(make_strategy(kind).probs if kind != "random" else [0.5] * 5))
        else:
            tables.append(None)
    agents: dict[str, Agent] = {}
    for seat, kind in enumerate(config.agents):
        name = f"player_{seat}"
        other_kind, other_table = config.agents[1 - seat], tables[1 - seat]
        if kind in SB3_ALGORITHMS:
            from lola_zoo.agents.sb3 import make_sb3_agent

            agent: Agent = make_sb3_agent(kind, env, name, seed=config.seed + seat, gamma=config.gamma)
        elif kind in _PG_KINDS:
            base = PolicyGradient(tables[seat], lr=config.lr, gamma=config.gamma)
            learner: Any = base
            if kind != "nl":
                # White-box LOLA needs the opponent's memory-1 table; an SB3 model has none.
                mode = "black-box" if kind == "lola-om" or other_table is None else "white-box"
                opponent_arch = other_table if other_table is not None else Memory1Policy(game.n_states, 2)
                learner = LOLA(base, opponent_arch, mode, eta=config.lr)
            agent = PolicyGradientAgent(learner, seat, config.game, config.episodes_per_update,
                                        name=f"{kind.upper()}({name})")
        else:
            agent = make_strategy(kind) if kind != "random" else make_strategy("random", n_actions=2)
        agent.seed(config.seed + 101 * (seat + 1))
        agents[name] = agent
    return env, agents


def _policy_table(agent: Agent, n_states: int) -> np.ndarray:
    """P(action | state) of any agent that has a memory-1 policy."""
    from lola_zoo.agents.naive import PolicyGradientAgent

    if isinstance(agent, PolicyGradientAgent):
        agent.state_dict()  # applies a pending step
        return agent.policy.probs().detach().double().numpy()
    if hasattr(agent, "probs"):
        return np.asarray(agent.probs, dtype=np.float64)
    if hasattr(agent, "model"):
        from lola_zoo.agents.sb3 import policy_table

        return policy_table(agent, [np.int64(s) for s in range(n_states)])
    return np.full((n_states, 2), 0.5)


def run_mixed_experiment(
    config: MixedConfig, out_dir: str | Path, *, resume: bool = False, progress: bool = True
) -> dict[str, Any]:
    """Play and learn, logging every episode; returns the summary written to ``metrics.json``."""
    from lola_zoo.envs.exact import exact_value_per_step
    from lola_zoo.experiments.loop import play_episode

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    env, agents = build_agents(config)
    history: list[dict[str, float]] = []
    checkpoint = out / "checkpoint.pt"
    if resume:
        if not checkpoint.exists():
            raise FileNotFoundError(f"--resume: no checkpoint at {checkpoint}")
        state = torch.load(checkpoint, weights_only=False)
        if state["config"] != dataclasses.asdict(config):
            raise ValueError(f"--resume: {checkpoint} was written by a different configuration")
        for name, agent_state in state["agents"].items():
            agents[name].load_state_dict(agent_state)
        history = state["history"]

    def save() -> None:
        atomic_torch_save(checkpoint, {
            "config": dataclasses.asdict(config),
            "agents": {n: a.state_dict() for n, a in agents.items()},
            "history": history,
        })
        atomic_write_csv(out / "metrics.csv", history, ["episode", "player_0", "player_1"])

    from tqdm.auto import tqdm

    bar = tqdm(total=config.episodes, initial=len(history), desc=" vs ".join(config.agents), disable=not progress)
    try:
        while len(history) < config.episodes:
            k = len(history)
            record = play_episode(env, agents, seed=config.seed + k)
            history.append({"episode": k + 1, **{a: r / record["steps"] for a, r in record["returns"].items()}})
            bar.update(1)
            if len(history) % config.checkpoint_every == 0:
                save()
    except KeyboardInterrupt:
        save()  # nothing already played is lost; --resume continues from here
        raise
    finally:
        bar.close()
    save()
    game = lola_zoo.game(config.game)
    tables = [_policy_table(agents[f"player_{i}"], game.n_states) for i in range(2)]
    exact = exact_value_per_step(game, [torch.tensor(t) for t in tables], config.gamma, kind="probs")[0]
    last = history[-max(1, len(history) // 10):]
    summary = {
        "config": dataclasses.asdict(config),
        "agents": {n: a.name for n, a in agents.items()},
        "reward_per_step_last_10pct": {a: float(np.mean([h[a] for h in last])) for a in ("player_0", "player_1")},
        "final_policy_p_action0": [t[:, 0].tolist() for t in tables],
        "exact_value_per_step_final": exact.tolist(),
        "history": history,
    }
    atomic_write_json(out / "metrics.json", summary)
    _plot(history, out / "curves.png", " vs ".join(a.name for a in agents.values()))
    return summary


def _plot(history: list[dict[str, float]], path: Path, title: str) -> Path:
    from lola_zoo.plotting import _pyplot, save_figure

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    episodes = [h["episode"] for h in history]
    window = max(1, len(history) // 20)
    for seat in ("player_0", "player_1"):
        series = np.convolve([h[seat] for h in history], np.ones(window) / window, mode="valid")
        ax.plot(episodes[window - 1:], series, label=seat)
    ax.set_xlabel("episode")
    ax.set_ylabel(f"reward per step (mean of {window})")
    ax.set_title(title, fontsize=9)
    ax.legend()
    return save_figure(fig, path)
