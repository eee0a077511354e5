"""The Coin Game with policy gradients: NL-PG, LOLA-PG (DiCE) and LOLA-OM on conv or conv + GRU policies.

One experiment trains two seats "learning together" (Foerster et al. 2018): per update,
one batched rollout of ``runs x episodes_per_batch`` Coin Games on the torch twin
(:class:`~lola_zoo.envs.batched_coin.BatchedCoinGame`), then both learners compute their gradient on
the same episodes and both apply it.  Independent seeds are a leading batch dimension: each seat's
``runs`` networks are one :class:`StackedPolicy` whose parameters carry a ``runs`` dimension and
whose forward pass is ``torch.func.vmap`` of the single network over it, so the unchanged learners
of :mod:`lola_zoo.agents` (which sum their objective over leading batch dimensions) train all
seeds in one graph, second derivatives of LOLA included.

Measured per update (per seed, then mean and spread over seeds): the share of picked coins that
had the picker's own colour (the paper's "percentage of own coins picked") and points per episode
per player.  :func:`run_coin_experiment` writes ``metrics.json``, ``metrics.csv``, ``curves.png``
and ``checkpoint.pt`` and resumes from the checkpoint; :func:`run_coin_comparison` runs several
pairings (NL vs NL, LOLA vs LOLA, ...) and draws them in one figure; :func:`coin_section` is the
``lola-zoo reproduce --only coin`` section.

The paper's size (150-step episodes, 4000 episodes per batch, up to 100 000 episodes, a recurrent
policy) does not fit a 2-core CPU; every reduction is a named field of :class:`CoinConfig` with
the paper's value beside it.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import nn

from lola_zoo.agents.coin_linear import CoinLinearPolicy
from lola_zoo.agents.coin_policies import CoinConvPolicy, CoinRecurrentPolicy
from lola_zoo.agents.lola import LOLA
from lola_zoo.agents.naive import PolicyGradient
from lola_zoo.envs.batched import Episodes, rollout
from lola_zoo.envs.batched_coin import BatchedCoinGame, RecordingCoinView, per_run_coin_metrics
from lola_zoo.agents.stacked import StackedPolicy
from lola_zoo.io import atomic_torch_save, atomic_write_csv, atomic_write_json

__all__ = [
    "COIN_AGENT_KINDS",
    "CoinConfig",
    "CoinResult",
    "StackedPolicy",
    "RecordingCoinView",
    "per_run_coin_metrics",
    "quick_coin_config",
    "reproduce_coin_config",
    "linear_coin_config",
    "run_coin_experiment",
    "run_coin_comparison",
    "plot_coin_curves",
    "coin_section",
    "paper_coin_config",
    "coin_config_from_args",
    "train_command",
]

COIN_AGENT_KINDS = ("nl", "lola", "lola-om")
#: The least own-coin-share lead over NL-PG that the reproduce table counts as "clearly larger".
SHARE_MARGIN = 0.05
_LABELS = {"nl": "NL-PG", "lola": "LOLA-PG", "lola-om": "LOLA-OM"}
_SEED_STRIDE = 1009  # spreads per-seat, per-run initialisation seeds apart


@dataclass
class CoinConfig:
    """Every setting of one Coin Game experiment; the paper's value is given where ours differs.

    :param agents: the two seats, each ``nl`` (NL-PG), ``lola`` (LOLA-PG, white-box) or ``lola-om``
        (LOLA with a learned opponent model, black-box).
    :param policy: ``conv`` (feed-forward, sees the current grid) or ``gru`` (conv + GRU; the
        paper's kind of policy, ~2x slower here) or ``linear`` (:class:`CoinLinearPolicy`: softmax of a
        linear map of the self-centred grid; few parameters, learns fast).
    :param updates: learning steps, one fresh batch each (paper: up to 100 000 episodes).
    :param episodes_per_batch: episodes per update and seed (paper: 4000).
    :param episode_length: steps per episode (paper: 150).
    :param gamma: discount (paper: 0.96).
    :param lr: Adam learning rate of both learners (paper: 0.005).
    :param eta: LOLA's anticipated opponent step size in the correction term; ``None`` = ``lr``.
    :param correction: LOLA's form: ``taylor`` (the paper's first-order term) or ``lookahead`` (LOLA-DiCE).
    :param baseline: leave-one-out baseline in the DiCE surrogate.
    :param runs: independent seeds trained at once (a batch dimension).
    :param seed: seeds the networks, the env and the action sampling.
    :param channels: filters per convolution of the policy.
    :param features: width of the policy's linear layer (and of the GRU input).
    :param hidden_size: GRU state size (``gru`` only).
    :param grid_size: side of the grid (paper: 3).
    :param coin_respawn: ``random`` (the paper's text) or ``alternate`` (the reference code).
    :param tie_rule: both players on the coin: ``all`` pick it up (fair) or ``first`` (red wins, the reference code).
    :param om_fit_steps: Adam steps per update fitting the LOLA-OM opponent model (warm-started).
    :param om_lr: Adam learning rate of the opponent model.
    :param window: updates averaged for the final numbers (the last ``window`` batches).
    :param checkpoint_every: updates between checkpoints (when an output folder is given).
    """

    agents: tuple[str, str] = ("lola", "lola")
    policy: str = "conv"
    updates: int = 400
    episodes_per_batch: int = 64
    episode_length: int = 50
    gamma: float = 0.96
    lr: float = 0.005
    eta: float | None = None
    correction: str = "taylor"
    baseline: bool = True
    runs: int = 5
    seed: int = 0
    channels: int = 16
    features: int = 32
    hidden_size: int = 32
    grid_size: int = 3
    coin_respawn: str = "random"
    tie_rule: str = "all"
    om_fit_steps: int = 10
    om_lr: float = 0.01
    window: int = 10
    checkpoint_every: int = 20

    def __post_init__(self) -> None:
        self.agents = tuple(str(a).lower() for a in self.agents)  # type: ignore[assignment]
        if len(self.agents) != 2:
            raise ValueError(f"agents must name exactly two seats, got {self.agents!r}")
        for a in self.agents:
            if a not in COIN_AGENT_KINDS:
                raise ValueError(f"unknown Coin Game agent kind {a!r}; choose from {', '.join(COIN_AGENT_KINDS)}")
        if self.policy not in ("conv", "gru", "linear"):
            raise ValueError(f"policy must be 'conv', 'gru' or 'linear', got {self.policy!r}")
        for name in ("updates", "episodes_per_batch", "episode_length", "runs", "channels", "features",
                     "hidden_size", "grid_size", "om_fit_steps", "window", "checkpoint_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.grid_size < 2:
            raise ValueError(f"grid_size must be at least 2 (two players need distinct cells), got {self.grid_size}")
        if self.baseline and self.episodes_per_batch < 2:
            raise ValueError("the leave-one-out baseline needs episodes_per_batch >= 2")
        if not 0.0 < self.gamma <= 1.0:
            raise ValueError(f"gamma must lie in (0, 1], got {self.gamma!r}")
        for name in ("lr", "om_lr"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.eta is not None and not self.eta > 0:
            raise ValueError(f"eta must be positive, got {self.eta!r}")
        if self.correction not in ("taylor", "lookahead"):
            raise ValueError(f"correction must be 'taylor' or 'lookahead', got {self.correction!r}")
        if self.coin_respawn not in ("random", "alternate"):
            raise ValueError(f"coin_respawn must be 'random' or 'alternate', got {self.coin_respawn!r}")
        if self.tie_rule not in ("all", "first"):
            raise ValueError(f"tie_rule must be 'all' or 'first', got {self.tie_rule!r}")

    def label(self) -> str:
        """``"LOLA-PG vs LOLA-PG"`` and the like."""
        return f"{_LABELS[self.agents[0]]} vs {_LABELS[self.agents[1]]}"

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        d = dataclasses.asdict(self)
        d["agents"] = list(self.agents)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "CoinConfig":
        """Inverse of :meth:`to_dict`."""
        d = dict(d)
        d["agents"] = tuple(d["agents"])
        return cls(**d)


def quick_coin_config(agents: tuple[str, str] = ("lola", "lola"), **overrides: Any) -> CoinConfig:
    """A smoke-test size (about a minute per pairing on one core): 3 seeds, 60 updates of 32 x 30-step episodes."""
    base: dict[str, Any] = dict(runs=3, updates=60, episodes_per_batch=32, episode_length=30, lr=0.02, eta=0.05)
    base.update(overrides)
    return CoinConfig(agents=agents, **base)


def reproduce_coin_config(agents: tuple[str, str] = ("lola", "lola"), **overrides: Any) -> CoinConfig:
    """The size ``lola-zoo reproduce --only coin`` runs (see docs/coin-game-results.md for its timing)."""
    base: dict[str, Any] = dict(runs=5, updates=200, episodes_per_batch=64, episode_length=50, lr=0.02, eta=0.05)
    base.update(overrides)
    return CoinConfig(agents=agents, **base)


def linear_coin_config(agents: tuple[str, str] = ("lola", "lola"), **overrides: Any) -> CoinConfig:
    """Linear self-centred policy, 600 updates of 64 x 20-step episodes, Adam lr 0.05, eta 10, 5 seeds (~1 min/pairing).

    The one setting measured here in which LOLA-PG picks clearly more own coins than NL-PG
    (docs/coin-game-results.md, "Linear policy"); eta 10 is large because the anticipated
    opponent step is a raw (not Adam-normalised) gradient step.
    """
    base: dict[str, Any] = dict(policy="linear", runs=5, updates=600, episodes_per_batch=64, episode_length=20,
                                lr=0.05, eta=10.0)
    base.update(overrides)
    return CoinConfig(agents=agents, **base)


# --------------------------------------------------------------------------- stacked policies
def _make_policy(config: CoinConfig) -> Callable[[int], nn.Module]:
    if config.policy == "linear":
        return lambda s: CoinLinearPolicy(config.grid_size, 4, 4, egocentric=True, seed=s)
    if config.policy == "gru":
        return lambda s: CoinRecurrentPolicy(config.grid_size, 4, 4, config.channels, config.features,
                                             config.hidden_size, seed=s)
    return lambda s: CoinConvPolicy(config.grid_size, 4, 4, config.channels, config.features, seed=s)


# --------------------------------------------------------------------------- env and metrics
# --------------------------------------------------------------------------- learners
def _build_learner(kind: str, config: CoinConfig, policy: StackedPolicy, other: StackedPolicy, seat: int) -> Any:
    base = PolicyGradient(policy, config.lr, config.gamma, "adam", config.baseline)
    if kind == "nl":
        return base
    if kind == "lola":
        return LOLA(base, other, "white-box", config.eta, config.correction)  # type: ignore[arg-type]
    # Black-box: the model starts from its own random networks (never a copy of the opponent's).
    template = StackedPolicy(_make_policy(config), config.runs, _seat_seed(config, seat) + 500_000)
    return LOLA(base, template, "black-box", config.eta, config.correction,  # type: ignore[arg-type]
                {"method": "gradient", "lr": config.om_lr, "fit_steps": config.om_fit_steps})


def _seat_seed(config: CoinConfig, seat: int) -> int:
    return config.seed * _SEED_STRIDE * 7 + seat * _SEED_STRIDE


@dataclass
class CoinResult:
    """What a Coin Game experiment produced.

    :param config: the settings.
    :param history: one row per update: mean and std over seeds of the own-coin share, points per
        episode of each player, coins per episode.
    :param final: per-seed numbers averaged over the last ``config.window`` updates:
        ``own_coin_share`` ``(runs,)``, ``points_per_episode`` ``(runs, 2)``, ``coins_per_episode`` ``(runs,)``.
    :param seconds: wall time of the updates run in this call.
    """

    config: CoinConfig
    history: list[dict[str, float]] = field(default_factory=list)
    final: dict[str, torch.Tensor] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        """Plain-JSON summary: mean, std and per-seed values of the final numbers."""
        def stats(t: torch.Tensor) -> dict[str, Any]:
            t = t.double()
            return {"mean": float(t.mean()), "std": float(t.std()) if t.numel() > 1 else 0.0, "per_run": t.tolist()}

        out: dict[str, Any] = {"setting": self.config.label(), "agents": list(self.config.agents),
                               "runs": self.config.runs, "window": self.config.window}
        if self.final:
            out["own_coin_share"] = stats(self.final["own_coin_share"])
            points = self.final["points_per_episode"]
            out["points_per_episode"] = {f"player_{i}": stats(points[:, i]) for i in range(points.shape[1])}
            out["points_per_episode_mean"] = stats(points.mean(1))
            out["coins_per_episode"] = stats(self.final["coins_per_episode"])
        return out


def _std(t: torch.Tensor) -> float:
    return float(t.std()) if t.numel() > 1 else 0.0


def _row(update: int, m: dict[str, torch.Tensor]) -> dict[str, float]:
    share, points, coins = m["own_coin_share"], m["points_per_episode"], m["coins_per_episode"]
    picked = share[~share.isnan()]  # a seed that picked no coin this update has no share
    row = {"update": update, "own_coin_share": float(picked.mean()) if picked.numel() else float("nan"),
           "own_coin_share_std": _std(picked)}
    for i in range(points.shape[1]):
        row[f"points_{i}"] = float(points[:, i].mean())
        row[f"points_{i}_std"] = _std(points[:, i])
    row["points_mean"] = float(points.mean())
    row["points_mean_std"] = _std(points.mean(1))
    row["coins_per_episode"] = float(coins.mean())
    return row


def _state(update: int, learners: list, policies: list, generator: torch.Generator, env: BatchedCoinGame,
           history: list, recent: list) -> dict[str, Any]:
    return copy.deepcopy({
        "update": update,
        "learners": [l.state_dict() for l in learners],
        "policies": [p.state_dict() for p in policies],
        "generator": generator.get_state(),
        "env_generator": env.generator.get_state(),
        "history": history,
        "recent": recent,
    })


def run_coin_experiment(
    config: CoinConfig,
    out_dir: str | Path | None = None,
    progress: bool = True,
    resume: bool = False,
    on_update: Callable[[dict[str, float]], None] | None = None,
    stop_after: int | None = None,
) -> CoinResult:
    """Train two seats in the Coin Game on batched rollouts; write metrics, curves and checkpoints.

    :param config: the settings.
    :param out_dir: folder for ``metrics.json``, ``metrics.csv``, ``curves.png`` and ``checkpoint.pt``.
    :param progress: show a tqdm bar on stderr.
    :param resume: continue from ``out_dir/checkpoint.pt`` if it exists (same settings required,
        except ``updates`` which may grow).
    :param on_update: called with each history row.
    :param stop_after: stop (with a checkpoint) after this many updates in this call.
    """
    out = Path(out_dir) if out_dir is not None else None
    ckpt_path = out / "checkpoint.pt" if out is not None else None
    make = _make_policy(config)
    policies = [StackedPolicy(make, config.runs, _seat_seed(config, seat)) for seat in range(2)]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)  # anything drawn from the global RNG while building stays reproducible
        learners = [_build_learner(k, config, policies[i], policies[1 - i], i) for i, k in enumerate(config.agents)]
    game = BatchedCoinGame((config.runs, config.episodes_per_batch), config.grid_size, config.episode_length,
                           coin_respawn=config.coin_respawn, tie_rule=config.tie_rule,  # type: ignore[arg-type]
                           check_actions=False)
    game.reset(seed=config.seed)
    env = RecordingCoinView(game)
    generator = torch.Generator().manual_seed(config.seed + 1)
    history: list[dict[str, float]] = []
    recent: list[dict[str, torch.Tensor]] = []
    start = 0
    if resume and ckpt_path is not None and ckpt_path.exists():
        state = torch.load(ckpt_path, weights_only=False)
        saved = CoinConfig.from_dict(state["config"])
        if dataclasses.replace(saved, updates=config.updates, checkpoint_every=config.checkpoint_every) != config:
            raise ValueError(f"--resume: the checkpoint in {out} was written with different settings: {saved}")
        for p, s in zip(policies, state["policies"]):
            p.load_state_dict(s)
        for l, s in zip(learners, state["learners"]):
            l.load_state_dict(s)
        generator.set_state(state["generator"])
        game.generator.set_state(state["env_generator"])
        history, recent, start = state["history"], state["recent"], state["update"]
    last_good = _state(start, learners, policies, generator, game, history, recent)
    end = config.updates if stop_after is None else min(config.updates, start + stop_after)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=config.updates, initial=start, desc=f"coin {config.label()}", unit="upd")
    t0 = time.perf_counter()
    try:
        for update in range(start, end):
            episodes: Episodes = rollout(env, policies, generator)
            grads = [l.gradient(episodes, seat) for seat, l in enumerate(learners)]
            for l, g in zip(learners, grads):  # both step after both computed: learning together
                l.apply(g)
            picked_own, picked_other = env.pickups()
            metrics = per_run_coin_metrics(episodes.rewards, picked_own, picked_other)
            recent = (recent + [metrics])[-config.window:]
            row = _row(update + 1, metrics)
            history.append(row)
            last_good = _state(update + 1, learners, policies, generator, game, history, recent)
            if on_update is not None:
                on_update(row)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(own=f"{row['own_coin_share']:.2f}", pts=f"{row['points_mean']:.2f}")
            if ckpt_path is not None and (update + 1) % config.checkpoint_every == 0:
                atomic_torch_save(ckpt_path, {"config": config.to_dict(), **last_good})
    except KeyboardInterrupt:
        if ckpt_path is not None and out is not None:
            atomic_torch_save(ckpt_path, {"config": config.to_dict(), **last_good})
            _write_outputs(out, CoinResult(config, last_good["history"]))
        raise
    finally:
        if bar is not None:
            bar.close()
    result = CoinResult(config, history, _final(recent), time.perf_counter() - t0)
    if ckpt_path is not None and out is not None:
        atomic_torch_save(ckpt_path, {"config": config.to_dict(), **last_good})
        _write_outputs(out, result)
    return result


def _final(recent: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    if not recent:
        return {}
    return {k: torch.stack([m[k] for m in recent]).nanmean(0) for k in recent[0]}


def _write_outputs(out: Path, result: CoinResult) -> None:
    payload: dict[str, Any] = {"config": result.config.to_dict(), "history": result.history}
    if result.final:
        payload["summary"] = result.summary()
        payload["seconds"] = result.seconds
    atomic_write_json(out / "metrics.json", payload)
    if result.history:
        atomic_write_csv(out / "metrics.csv", result.history)
        plot_coin_curves({result.config.label(): result.history}, out / "curves.png",
                         title=f"Coin Game ({result.config.runs} seeds, {result.config.policy} policy)")


def plot_coin_curves(
    histories: dict[str, list[dict[str, float]]],
    path: str | Path,
    title: str = "",
    paper: dict[str, float] | None = None,
) -> Path:
    """Own-coin share and points per episode against updates, one line per setting (mean, +-1 std over seeds).

    ``paper`` draws labelled horizontal reference lines on the own-coin panel (e.g. 0.5 = random).
    """
    from lola_zoo.plotting import _pyplot, save_figure

    if not histories:
        raise ValueError("plot_coin_curves needs at least one history")
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10.0, 3.8))
    panels = (("own_coin_share", "share of own-colour coins picked"), ("points_mean", "points per episode (mean of players)"))
    for ax, (key, ylabel) in zip(axes, panels):
        for label, history in histories.items():
            x = [r["update"] for r in history]
            m = [r[key] for r in history]
            s = [r.get(f"{key}_std", 0.0) for r in history]
            line, = ax.plot(x, m, label=label, lw=1.4)
            ax.fill_between(x, [a - b for a, b in zip(m, s)], [a + b for a, b in zip(m, s)],
                            color=line.get_color(), alpha=0.18, lw=0)
        ax.set_xlabel("update")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    for label, y in (paper or {}).items():
        axes[0].axhline(y, color="black", ls=":", lw=0.8)
        axes[0].annotate(label, (0, y), textcoords="offset points", xytext=(2, 2), fontsize=7)
    axes[0].legend(fontsize=8, loc="best")
    fig.suptitle(title + "\nshaded: +-1 std over seeds", fontsize=10)
    return save_figure(fig, path)


# --------------------------------------------------------------------------- comparison and reproduce
def run_coin_comparison(
    pairings: Sequence[tuple[str, str]],
    make_config: Callable[[tuple[str, str]], CoinConfig],
    out_dir: str | Path | None = None,
    progress: bool = True,
    title: str = "Coin Game",
) -> tuple[dict[str, CoinResult], Path | None]:
    """Run each pairing (e.g. NL vs NL, LOLA vs LOLA) and draw all of them in one figure.

    Each run's files go to ``out_dir/coin-<row>-<col>/``; the joint figure is ``out_dir/coin-curves.png``.
    """
    out = Path(out_dir) if out_dir is not None else None
    results: dict[str, CoinResult] = {}
    for agents in pairings:
        config = make_config(tuple(agents))  # type: ignore[arg-type]
        sub = None if out is None else out / f"coin-{config.agents[0]}-{config.agents[1]}"
        results[config.label()] = run_coin_experiment(config, out_dir=sub, progress=progress)
    figure = None
    if out is not None:
        any_config = next(iter(results.values())).config
        figure = plot_coin_curves(
            {k: r.history for k, r in results.items()}, out / "coin-curves.png",
            title=f"{title}: {any_config.runs} seeds, {any_config.episodes_per_batch} episodes x "
                  f"{any_config.episode_length} steps per update, {any_config.policy} policy",
            paper={"random play (0.5)": 0.5},
        )
    return results, figure


def coin_section(ctx: Any) -> Any:
    """``reproduce`` section: NL-PG vs NL-PG and LOLA-PG vs LOLA-PG in the Coin Game (the paper's Coin Game experiment)."""
    from lola_zoo.experiments.paper import SectionResult, _row as table_row

    # The linear egocentric policy is the setting in which LOLA's effect showed on this machine
    # (docs/coin-game-results.md); --quick stops near the share's measured peak (~140 updates).
    if ctx.quick:
        make = lambda agents, **kw: linear_coin_config(agents, **{"updates": 200, **kw})  # noqa: E731
    else:
        make = linear_coin_config
    overrides = {} if ctx.seeds is None else {"runs": int(ctx.seeds)}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small tensors: one thread was measured ~10x faster than two on a busy 2-core machine
    try:
        results, figure = run_coin_comparison(
            [("nl", "nl"), ("lola", "lola")], lambda agents: make(agents, **overrides), ctx.out_dir, ctx.progress,
        )
    finally:
        torch.set_num_threads(threads)
    nl, lola = results["NL-PG vs NL-PG"].summary(), results["LOLA-PG vs LOLA-PG"].summary()
    rows = []
    for setting, s in (("NL vs NL", nl), ("LOLA vs LOLA", lola)):
        share, points = s["own_coin_share"], s["points_per_episode_mean"]
        other = lola if s is nl else nl
        if s is lola:
            # "Clearly larger": beyond the seed-to-seed spread of both settings, not a lucky decimal.
            share_margin = max(SHARE_MARGIN, share["std"] + other["own_coin_share"]["std"])
            points_margin = points["std"] + other["points_per_episode_mean"]["std"]
            share_ok = share["mean"] > other["own_coin_share"]["mean"] + share_margin
            points_ok = points["mean"] > other["points_per_episode_mean"]["mean"] + points_margin
            targets = (f"> NL's + {100 * share_margin:.1f} pts", f"> NL's + {points_margin:.2f}")
        else:
            share_ok = points_ok = None
            targets = ("", "")
        rows.append(table_row("coin", "coin", setting, "own_coin_share", share["mean"], "share", targets[0], share_ok))
        rows.append(table_row("coin", "coin", setting, "own_coin_share_std", share["std"], "share"))
        rows.append(table_row("coin", "coin", setting, "points_per_episode", points["mean"], "num", targets[1], points_ok))
        rows.append(table_row("coin", "coin", setting, "points_per_episode_std", points["std"], "num"))
    summary = {"NL vs NL": nl, "LOLA vs LOLA": lola,
               "config": {k: r.config.to_dict() for k, r in results.items()},
               "seconds": {k: r.seconds for k, r in results.items()}}
    return SectionResult(rows, [figure] if figure is not None else [], summary)


# --------------------------------------------------------------------------- CLI (`lola-zoo train --game coin-game`)
def paper_coin_config(agents: tuple[str, str] = ("lola", "lola"), **overrides: Any) -> CoinConfig:
    """The paper's size: recurrent policy, 4000 episodes of 150 steps per update, Adam lr 0.005 (hours on a CPU)."""
    base: dict[str, Any] = dict(policy="gru", episodes_per_batch=4000, episode_length=150, lr=0.005, eta=1.0,
                                updates=25, runs=1)
    base.update(overrides)
    return CoinConfig(agents=agents, **base)


def coin_config_from_args(args: Any) -> CoinConfig:
    """The :class:`CoinConfig` that ``lola-zoo train --game coin-game`` arguments describe (preset, then overrides)."""
    if getattr(args, "optimizer", None) not in (None, "adam"):
        raise ValueError("the Coin Game runner trains with Adam (the paper's optimiser); drop --optimizer")
    if getattr(args, "init_std", None) is not None:
        raise ValueError("--init-std applies to the memory-1 table; Coin Game networks use orthogonal init")
    if getattr(args, "episodes", None) is not None:
        raise ValueError("--episodes applies to SB3 agents only; the Coin Game counts --updates x --episodes-per-batch")
    overrides: dict[str, Any] = {}
    for name in ("updates", "episodes_per_batch", "episode_length", "gamma", "lr", "eta", "runs", "seed",
                 "checkpoint_every", "correction", "policy"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    if getattr(args, "no_baseline", False):
        overrides["baseline"] = False
    presets = {"quick": quick_coin_config, "paper": paper_coin_config, "linear": linear_coin_config}
    make = presets.get(getattr(args, "preset", "quick"), reproduce_coin_config)
    return make(tuple(args.agents), **overrides)  # type: ignore[arg-type]


def train_command(args: Any) -> int:
    """``lola-zoo train --game coin-game``: run, print a table of the final numbers, write the files."""
    import sys

    config = coin_config_from_args(args)
    torch.set_num_threads(int(args.threads))
    out = args.out or f"runs/train-coin-game-{config.agents[0]}-{config.agents[1]}"
    try:
        result = run_coin_experiment(config, out_dir=out, progress=not args.no_progress, resume=args.resume)
    except KeyboardInterrupt:
        print(f"interrupted: checkpoint and metrics written to {out}; continue with --resume", file=sys.stderr)
        return 130
    s = result.summary()
    print(f"coin-game: {config.label()}, {config.policy} policy, {config.runs} seeds, {config.updates} updates x "
          f"{config.episodes_per_batch} episodes of {config.episode_length} steps "
          f"(numbers: mean +- std over seeds of the last {min(config.window, len(result.history))} updates)")
    share = s["own_coin_share"]
    print(f"  share of own-colour coins picked: {share['mean']:.3f} +- {share['std']:.3f}   (random play: 0.5)")
    for i in range(2):
        p = s["points_per_episode"][f"player_{i}"]
        print(f"  points per episode, player_{i}: {p['mean']:+.2f} +- {p['std']:.2f}")
    c = s["coins_per_episode"]
    print(f"  coins picked per episode (both players): {c['mean']:.1f} +- {c['std']:.1f}")
    print(f"wrote {out}/metrics.json, metrics.csv, curves.png, checkpoint.pt ({result.seconds:.1f} s)")
    return 0


# --------------------------------------------------------------------------- the paper's numbers and the section
# Imported last: paper.py imports this module at its end, so either import order finds every name defined.
from lola_zoo.experiments.paper import EXTRA_PAPER_NUMBERS, PaperNumber, Section, register_section  # noqa: E402

_COIN_SOURCE = "Foerster et al. 2018 (arXiv:1709.04326), the Coin Game experiment and its figure"
_COIN_NOT_CHECKED = ("read from the paper's figure as the issue states it; not re-checked against the PDF "
                     "in this project (the search tool held no copy of the figure's text)")

#: What the paper reports for the Coin Game (curves only, no table): values are approximate.
COIN_PAPER_NUMBERS: tuple[PaperNumber, ...] = (
    PaperNumber("coin", "NL vs NL", "own_coin_share", 0.5, _COIN_SOURCE, False,
                "NL-PG agents pick own and other coins alike, about 50 %; " + _COIN_NOT_CHECKED),
    PaperNumber("coin", "LOLA vs LOLA", "own_coin_share", None, _COIN_SOURCE, False,
                "LOLA-PG agents pick a much larger share of own-colour coins than NL-PG; no number to quote, "
                + _COIN_NOT_CHECKED),
    PaperNumber("coin", "NL vs NL", "points_per_episode", None, _COIN_SOURCE, False,
                "NL-PG agents earn little (taking each other's coins costs the owner 2); " + _COIN_NOT_CHECKED),
    PaperNumber("coin", "LOLA vs LOLA", "points_per_episode", None, _COIN_SOURCE, False,
                "LOLA-PG agents earn more points per episode than NL-PG; " + _COIN_NOT_CHECKED),
)
if not any(n.game == "coin" for n in EXTRA_PAPER_NUMBERS):
    EXTRA_PAPER_NUMBERS.extend(COIN_PAPER_NUMBERS)
register_section(
    Section("coin", "Coin Game, policy gradients (NL-PG vs LOLA-PG), linear egocentric policy", coin_section,
            ("coin-game",), default=False),
    override=True,
)
