"""Policy-gradient experiments on batched rollouts: NL-PG, LOLA-PG, LOLA-OM and fixed strategies.

One experiment trains two seats "learning together" in an iterated matrix game: per update, one
batched rollout of ``runs x episodes_per_batch`` games (independent seeds are the leading batch
dimension, not a Python loop), then both learners compute their gradient on the same episodes and
both apply it.  Everything a run needs lives in :class:`PGConfig`; :func:`run_pg_experiment` returns
a :class:`PGResult`, writes JSON/CSV metrics, PNG curves and checkpoints, and resumes from the last
checkpoint (an interrupt writes one first, so nothing already logged is lost).
"""

from __future__ import annotations

import copy
import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from lola_zoo.agents.lola import LOLA
from lola_zoo.agents.naive import PolicyGradient
from lola_zoo.agents.policies import Memory1Policy, as_memory1_probs
from lola_zoo.envs.batched import BatchedIteratedGame, rollout
from lola_zoo.envs.exact import exact_value_per_step
from lola_zoo.io import atomic_torch_save, atomic_write_csv, atomic_write_json

__all__ = [
    "PGConfig",
    "PGResult",
    "AGENT_KINDS",
    "run_pg_experiment",
    "paper_pg_config",
    "quick_pg_config",
    "build_seat",
]

#: learner kinds and fixed memory-1 strategies a seat can hold (P(action 0 | start, CC, CD, DC, DD)).
LEARNER_KINDS = ("nl", "lola", "lola-om")
FIXED_KINDS = {
    "tft": [1.0, 1.0, 0.0, 1.0, 0.0],
    "allc": [1.0] * 5,
    "alld": [0.0] * 5,
    "random": [0.5] * 5,
}
AGENT_KINDS = LEARNER_KINDS + tuple(FIXED_KINDS)
_DEFAULT_GAMMA = {"imp": 0.9}


@dataclass
class PGConfig:
    """Every setting of one policy-gradient experiment (defaults: the paper's PG setting for the IPD).

    :param game: registered iterated-matrix-game id.
    :param agents: the two seats: ``nl`` (NL-PG), ``lola`` (LOLA-PG, white-box), ``lola-om``
        (LOLA with an opponent model, black-box), or a fixed strategy ``tft|allc|alld|random``.
    :param updates: learning steps (each on one fresh batch).
    :param episodes_per_batch: episodes per update and run (the paper: 4000).
    :param episode_length: rounds per episode (the paper: 150).
    :param gamma: discount; ``None`` = 0.96 (the paper's IPD), 0.9 for IMP (the exact setting's).
    :param lr: learning rate of both learners (the paper: 1, plain gradient ascent).
    :param eta: LOLA's anticipated opponent learning rate; ``None`` = ``lr``.
    :param optimizer: ``sgd`` (the paper's matrix-game setting) or ``adam``.
    :param correction: LOLA's form: ``taylor`` (the paper's) or ``lookahead`` (LOLA-DiCE).
    :param baseline: leave-one-out baseline in the DiCE surrogate.
    :param runs: independent seeds trained at once as a batch dimension.
    :param seed: seeds the initial logits (N(0, init_std^2)) and every rollout.
    :param init_std: std of the initial logits (the reference code: 1).
    :param om_pseudo_count: pseudo-count of the LOLA-OM counts model.
    :param checkpoint_every: updates between checkpoints (when an output folder is given).
    """

    game: str = "ipd"
    agents: tuple[str, str] = ("lola", "lola")
    updates: int = 200
    episodes_per_batch: int = 4000
    episode_length: int = 150
    gamma: float | None = None
    lr: float = 1.0
    eta: float | None = None
    optimizer: str = "sgd"
    correction: str = "taylor"
    baseline: bool = True
    runs: int = 10
    seed: int = 0
    init_std: float = 1.0
    om_pseudo_count: float = 0.5
    checkpoint_every: int = 10

    def __post_init__(self) -> None:
        self.agents = tuple(a.lower() for a in self.agents)  # type: ignore[assignment]
        if len(self.agents) != 2:
            raise ValueError(f"agents must name exactly two seats, got {self.agents!r}")
        for a in self.agents:
            if a not in AGENT_KINDS:
                raise ValueError(f"unknown agent kind {a!r}; choose from {', '.join(AGENT_KINDS)}")
        for name in ("updates", "episodes_per_batch", "episode_length", "runs", "checkpoint_every"):
            value = getattr(self, name)
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.episodes_per_batch < 2 and self.baseline:
            raise ValueError("the leave-one-out baseline needs episodes_per_batch >= 2")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr!r}")
        if self.gamma is not None and not (0.0 < self.gamma < 1.0):
            raise ValueError(f"gamma must lie in (0, 1), got {self.gamma!r}")
        if self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer must be 'sgd' or 'adam', got {self.optimizer!r}")
        if self.correction not in ("taylor", "lookahead"):
            raise ValueError(f"correction must be 'taylor' or 'lookahead', got {self.correction!r}")

    @property
    def discount(self) -> float:
        """The discount actually used (``gamma`` or the game's default)."""
        return self.gamma if self.gamma is not None else _DEFAULT_GAMMA.get(self.game, 0.96)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        d = dataclasses.asdict(self)
        d["agents"] = list(self.agents)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PGConfig":
        """Inverse of :meth:`to_dict`."""
        d = dict(d)
        d["agents"] = tuple(d["agents"])
        return cls(**d)


def paper_pg_config(game: str = "ipd", agents: tuple[str, str] = ("lola", "lola"), **overrides: Any) -> PGConfig:
    """The paper's PG setting: 150-step episodes, 4000 episodes per batch, lr 1 (slow on a CPU)."""
    return PGConfig(game=game, agents=agents, episodes_per_batch=4000, episode_length=150, lr=1.0, **overrides)


def quick_pg_config(game: str = "ipd", agents: tuple[str, str] = ("lola", "lola"), **overrides: Any) -> PGConfig:
    """A reduced PG setting that shows the paper's outcome in well under a minute (10 seeds at once).

    Deviations from the paper, each a named field: 64 episodes per batch instead of 4000 (noisier
    gradients), 75 updates; episode length, lr and gamma are the paper's.
    """
    base = dict(episodes_per_batch=64, episode_length=150, updates=75, lr=1.0, runs=10)
    base.update(overrides)
    return PGConfig(game=game, agents=agents, **base)


@dataclass
class PGResult:
    """What a PG experiment produced.

    :param config: the settings.
    :param history: one row per update: mean (over runs) reward per step of each seat, and more.
    :param final_probs: per seat, P(action | state) of every run at the end ``(runs, S, n)``.
    :param final_reward_per_step: ``(runs, 2)`` average reward per step over the last batches.
    :param final_exact_value: ``(runs, 2)`` exact discounted value per step ``(1 - gamma) V``.
    :param seconds: wall time of the updates run in this call.
    """

    config: PGConfig
    history: list[dict[str, float]] = field(default_factory=list)
    final_probs: list[torch.Tensor] = field(default_factory=list)
    final_reward_per_step: torch.Tensor | None = None
    final_exact_value: torch.Tensor | None = None
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        """Plain-JSON summary: per-seat mean and std over runs of the final rewards."""
        out: dict[str, Any] = {"agents": list(self.config.agents), "game": self.config.game, "runs": self.config.runs}
        for name, t in (("reward_per_step", self.final_reward_per_step), ("exact_value_per_step", self.final_exact_value)):
            if t is not None:
                out[name] = {
                    f"player_{i}": {"mean": float(t[:, i].mean()), "std": float(t[:, i].std()) if len(t) > 1 else 0.0,
                                    "per_run": t[:, i].tolist()}
                    for i in range(t.shape[1])
                }
        if self.final_probs:
            p0 = [p[..., 0] for p in self.final_probs]
            out["p_action0"] = [p.mean(0).tolist() for p in p0]
            if self.config.game == "ipd" and self.final_exact_value is not None:
                # Outcome shares as the paper counts them, by the per-step value both players reach.
                ex = self.final_exact_value
                out["share_mutual_cooperation"] = float((ex >= -1.2).all(1).double().mean())
                out["share_mutual_defection"] = float((ex <= -1.8).all(1).double().mean())
            if self.config.game == "imp":
                # Distance to the unique Nash equilibrium P(heads) = 0.5 in every state.
                dev = torch.stack([(p - 0.5).abs() for p in p0])  # (2, runs, S)
                out["nash_distance"] = float(dev.mean())
                out["share_near_nash"] = float((dev.amax(dim=(0, 2)) < 0.1).double().mean())
        return out


def build_seat(kind: str, config: PGConfig, policy: Memory1Policy, other: Memory1Policy) -> Any:
    """The learner for one seat (``None`` for a fixed strategy)."""
    if kind in FIXED_KINDS:
        return None
    base = PolicyGradient(policy, config.lr, config.discount, config.optimizer, config.baseline)  # type: ignore[arg-type]
    if kind == "nl":
        return base
    mode = "white-box" if kind == "lola" else "black-box"
    return LOLA(base, other, mode, config.eta, config.correction,  # type: ignore[arg-type]
                {"pseudo_count": config.om_pseudo_count} if mode == "black-box" else None)


def _policies(config: PGConfig, generator: torch.Generator, n_states: int) -> list[Memory1Policy]:
    policies = []
    for kind in config.agents:
        if kind in FIXED_KINDS:
            if n_states != 5:
                raise ValueError(f"fixed strategy {kind!r} is defined for 2x2 games only")
            policies.append(as_memory1_probs(FIXED_KINDS[kind], runs=config.runs))
        else:
            policies.append(Memory1Policy(n_states, 2, "sigmoid", runs=config.runs,
                                          init_std=config.init_std, generator=generator))
    return policies


def _state(update: int, learners: list, policies: list, generator: torch.Generator, history: list) -> dict[str, Any]:
    return copy.deepcopy({
        "update": update,
        "learners": [None if l is None else l.state_dict() for l in learners],
        "policies": [p.state_dict() for p in policies],
        "generator": generator.get_state(),
        "history": history,
    })


def run_pg_experiment(
    config: PGConfig,
    out_dir: str | Path | None = None,
    resume: bool = False,
    progress: bool = False,
    on_update: Callable[[dict[str, float]], None] | None = None,
    stop_after: int | None = None,
) -> PGResult:
    """Train two seats on batched rollouts; write metrics, curves and checkpoints under ``out_dir``.

    :param config: the settings.
    :param out_dir: folder for ``metrics.json``, ``metrics.csv``, ``curves.png``, ``checkpoint.pt``.
    :param resume: continue from ``out_dir/checkpoint.pt`` if it exists (same config required,
        except ``updates`` which may grow).
    :param progress: show a tqdm bar on stderr.
    :param on_update: called with each history row.
    :param stop_after: stop (with a checkpoint) after this many updates in this call — used to
        simulate an interruption.
    """
    from lola_zoo.registry import game as registered_game

    game = registered_game(config.game)
    if game.n_actions != (2, 2):
        raise ValueError(f"PG experiments use the 5-logit memory-1 policy of 2x2 games; {config.game!r} has {game.n_actions}")
    out = Path(out_dir) if out_dir is not None else None
    ckpt_path = out / "checkpoint.pt" if out is not None else None
    generator = torch.Generator().manual_seed(config.seed)
    policies = _policies(config, generator, game.n_states)
    learners = [build_seat(k, config, policies[i], policies[1 - i]) for i, k in enumerate(config.agents)]
    history: list[dict[str, float]] = []
    start = 0
    if resume and ckpt_path is not None and ckpt_path.exists():
        state = torch.load(ckpt_path, weights_only=False)
        saved = PGConfig.from_dict(state["config"])
        if dataclasses.replace(saved, updates=config.updates, checkpoint_every=config.checkpoint_every) != config:
            raise ValueError(f"--resume: the checkpoint in {out} was written with different settings: {saved}")
        for p, s in zip(policies, state["policies"]):
            p.load_state_dict(s)
        for l, s in zip(learners, state["learners"]):
            if l is not None:
                l.load_state_dict(s)
        generator.set_state(state["generator"])
        history, start = state["history"], state["update"]
    env = BatchedIteratedGame(game, (config.runs, config.episodes_per_batch), config.episode_length)
    gamma = config.discount
    last_good = _state(start, learners, policies, generator, history)
    end = config.updates if stop_after is None else min(config.updates, start + stop_after)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=config.updates, initial=start, desc=f"{'-'.join(config.agents)} {config.game}", unit="upd")
    recent: list[torch.Tensor] = []
    t0 = time.perf_counter()
    try:
        for update in range(start, end):
            episodes = rollout(env, policies, generator)
            grads = [None if l is None else l.gradient(episodes, seat) for seat, l in enumerate(learners)]
            for l, g in zip(learners, grads):  # both step after both computed: learning together
                if l is not None:
                    l.apply(g)
            per_run = episodes.mean_reward_per_step()  # (runs, 2)
            recent = (recent + [per_run])[-5:]
            row = {"update": update + 1, "reward_0": float(per_run[:, 0].mean()), "reward_1": float(per_run[:, 1].mean()),
                   "reward_0_std": float(per_run[:, 0].std()) if config.runs > 1 else 0.0,
                   "reward_1_std": float(per_run[:, 1].std()) if config.runs > 1 else 0.0}
            with torch.no_grad():
                for i, p in enumerate(policies):
                    row[f"p0_start_{i}"] = float(p.probs()[..., 0, 0].mean())
            history.append(row)
            last_good = _state(update + 1, learners, policies, generator, history)
            if on_update is not None:
                on_update(row)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(r0=f"{row['reward_0']:.3f}", r1=f"{row['reward_1']:.3f}")
            if ckpt_path is not None and (update + 1) % config.checkpoint_every == 0:
                _save(ckpt_path, config, last_good)
    except KeyboardInterrupt:
        if ckpt_path is not None:
            _save(ckpt_path, config, last_good)  # the state after the last *completed* update
            _write_outputs(out, config, last_good["history"], None)
        raise
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - t0
    if ckpt_path is not None:
        _save(ckpt_path, config, last_good)
    with torch.no_grad():
        final_probs = [p.probs().detach().double() for p in policies]
        exact = exact_value_per_step(game, [p[..., 0] for p in final_probs], gamma, kind="probs")
    result = PGResult(
        config=config, history=history, final_probs=final_probs,
        final_reward_per_step=torch.stack(recent).mean(0).double() if recent else None,
        final_exact_value=exact, seconds=seconds,
    )
    if out is not None:
        _write_outputs(out, config, history, result)
    return result


def _save(path: Path, config: PGConfig, state: dict[str, Any]) -> None:
    atomic_torch_save(path, {"config": config.to_dict(), **state})


def _write_outputs(out: Path, config: PGConfig, history: list[dict[str, float]], result: PGResult | None) -> None:
    payload: dict[str, Any] = {"config": config.to_dict(), "history": history}
    if result is not None:
        payload["summary"] = result.summary()
        payload["seconds"] = result.seconds
    atomic_write_json(out / "metrics.json", payload)
    if history:
        atomic_write_csv(out / "metrics.csv", history)
        plot_curves(history, out / "curves.png", title=f"{config.game}: {' vs '.join(config.agents)} ({config.runs} runs)")


def plot_curves(history: list[dict[str, float]], path: str | Path, title: str = "") -> Path:
    """Average reward per step of both seats against updates (mean over runs, +-1 std band) as PNG."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lola_zoo.io import atomic_write_bytes

    x = [r["update"] for r in history]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for i in range(2):
        m = [r[f"reward_{i}"] for r in history]
        s = [r.get(f"reward_{i}_std", 0.0) for r in history]
        ax.plot(x, m, label=f"player_{i}")
        ax.fill_between(x, [a - b for a, b in zip(m, s)], [a + b for a, b in zip(m, s)], alpha=0.2)
    ax.set_xlabel("update")
    ax.set_ylabel("average reward per step")
    ax.set_title(title, fontsize=9)
    ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())
