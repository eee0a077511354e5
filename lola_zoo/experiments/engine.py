"""The training engine: every sampled-gradient experiment, one loop.

A run is a **game** (a registered PettingZoo env id) × one **policy** per seat (any ``nn.Module``
following the three-method protocol of :mod:`lola_zoo.agents.policies`) × one **learner** per seat
(NL-PG, LOLA-PG in its Taylor or lookahead form, LOLA-OM, a fixed strategy, an SB3 model or an
Axelrod strategy) × **seeds as a batch dimension** × a **device**.  Per update::

    episodes = rollout(twin, policies)                  # runs x episodes_per_batch games at once
    grads    = [learner.gradient(episodes, seat) ...]   # every seat at the same parameters
    for learner, g in zip(learners, grads): learner.apply(g)   # "learning together"

Games with a batched torch twin (every iterated matrix game, the Coin Game) are stepped through
it; a game without one, or a seat that learns one game at a time (SB3, Axelrod), goes through the
plain PettingZoo parallel loop with the same learners behind the Agent protocol.  The engine owns
what every experiment repeats: configuration, checkpoints and ``resume`` (a finished or longer run
is never rewritten), the progress bar, ``metrics.json`` / ``metrics.csv`` / ``curves.png``, and
optional TensorBoard / W&B loggers.  Commands only parse arguments and print.

Recurrent state protocol (what a policy must offer): ``initial_state(batch_shape)`` returns the
state for a batch of games (``None`` for a feed-forward policy), ``step(observation, hidden)``
returns ``(log_probs (*batch, n_actions), new_hidden)``, and ``forward(observations (*batch, T, ...),
actions (*batch, T))`` returns ``log pi(a_t | history_t)`` ``(*batch, T)`` by unrolling from the
initial state — the learners differentiate that.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import numbers
import sys
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence, cast

import torch
from torch import nn

from lola_zoo.devices import resolve_device
from lola_zoo.io import atomic_torch_save, atomic_write_csv, atomic_write_json

__all__ = [
    "LEARNER_KINDS",
    "N_PLAYER_KINDS",
    "EXTRA_LEARNER_OPTIONS",
    "FIXED_KINDS",
    "SB3_KINDS",
    "POLICY_KINDS",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "train",
    "preset_config",
    "PRESETS",
    "build_learner",
    "seat_label",
    "register_policy",
    "game_family",
    "plot_reward_curves",
    "plot_coin_curves",
    "train_cell",
]

#: learners that compute a policy gradient on the sampled episodes
LEARNER_KINDS = ("nl", "lola", "lola-om", "aa", "pola", "pola-om", "loqa")
#: the learners that train in games of more than two players (white-box LOLA sums its corrections over opponents)
N_PLAYER_KINDS = ("nl", "lola")
#: fixed memory-1 strategies of 2x2 games: P(action 0 | start, CC, CD, DC, DD)
FIXED_KINDS: dict[str, list[float]] = {
    "tft": [1.0, 1.0, 0.0, 1.0, 0.0],
    "allc": [1.0] * 5,
    "alld": [0.0] * 5,
    "random": [0.5] * 5,
}
#: Stable-Baselines3 algorithms a seat can hold (they learn one game at a time, in the plain loop)
SB3_KINDS = ("ppo", "a2c", "dqn")
_LABELS = {"nl": "NL-PG", "lola": "LOLA-PG", "lola-om": "LOLA-OM", "aa": "AA-PG", "pola": "POLA-DiCE", "pola-om": "POLA-OM",
           "loqa": "LOQA-PG", "ppo": "PPO", "a2c": "A2C", "dqn": "DQN"}
#: learner options (``TrainConfig.learner_kwargs``) of the learners beyond LOLA, by the keyword their class takes
EXTRA_LEARNER_OPTIONS: dict[str, dict[str, str]] = {
    "aa": {"aa_beta": "beta"},
    "pola": {"pola_inner_steps": "inner_steps", "pola_outer_steps": "outer_steps", "pola_prox": "prox",
             "pola_importance": "importance", "pola_resample": "resample"},
    "pola-om": {"pola_inner_steps": "inner_steps", "pola_outer_steps": "outer_steps", "pola_prox": "prox",
                "pola_importance": "importance", "pola_resample": "resample"},
    "loqa": {"loqa_scale": "scale"},
}
_GAME_GAMMA = {"imp": 0.9}
_SEED_STRIDE = 1009  # spreads per-seat initialisation seeds apart


def seat_label(kind: str, correction: str = "taylor") -> str:
    """What a seat runs, as tables show it: ``LOLA-PG`` (white-box), ``LOLA-OM`` (black-box), ``NL-PG``..."""
    kind = kind.lower()
    if kind.startswith("axelrod:"):
        return kind.split(":", 1)[1]
    label = _LABELS.get(kind, kind.upper())
    if kind in ("lola", "lola-om") and correction == "lookahead":
        label += " (lookahead)"
    return label


def game_family(game: str) -> str:
    """``"matrix"`` (iterated matrix game: batched twin, memory-1 policies), ``"coin"`` or ``"env"`` (plain loop)."""
    from lola_zoo.registry import spec

    s = spec(game)
    if s.game is not None:
        return "matrix"
    if s.entry_point == "lola_zoo.envs.coin_game:CoinGame":
        return "coin"
    return "env"


# --------------------------------------------------------------------------- configuration
@dataclass
class TrainConfig:
    """Every setting of one training run; ``None`` means "the game's default" (resolved on creation).

    :param game: registered env id (``ipd``, ``imp``, ``coin-game``, a user's registered dilemma...).
    :param agents: one seat kind per player: ``nl`` (NL-PG), ``lola`` (LOLA-PG, white-box: reads the
        opponent's parameters), ``lola-om`` (LOLA with an opponent model fitted to the opponent's
        actions, black-box), ``aa`` (Advantage Alignment), ``pola`` / ``pola-om`` (proximal LOLA,
        white-box / opponent model), ``loqa`` (LOQA), a fixed strategy ``tft|allc|alld|random``, an SB3 algorithm
        ``ppo|a2c|dqn`` or ``axelrod:<Strategy>``.
    :param policy: ``auto`` (memory-1 table for matrix games, ``gru`` for the Coin Game), ``memory1``,
        or a Coin Game policy ``conv|gru|lstm|linear`` (see :func:`register_policy` for your own).
    :param updates: learning steps, one fresh batch each.
    :param episodes_per_batch: episodes per update and seed (the paper: 4000).
    :param episode_length: steps per episode (the paper: 150).
    :param gamma: discount (IPD 0.96, IMP 0.9, Coin Game 0.96).
    :param lr: learning rate (the paper: 1 with SGD in matrix games; 0.005 with Adam in the Coin Game).
    :param eta: LOLA's anticipated opponent learning rate (``None``: ``lr``).
    :param optimizer: ``sgd`` (matrix games) or ``adam`` (Coin Game).
    :param correction: LOLA's form: ``taylor`` (the paper's first-order term) or ``lookahead`` (LOLA-DiCE).
    :param baseline: leave-one-out baseline in the DiCE surrogate.
    :param runs: independent seeds trained together as a batch dimension.
    :param seed: seeds policies, env and sampling.
    :param init_std: std of the initial memory-1 logits (the reference code: 1).
    :param device: ``auto``, ``cpu`` or ``cuda``.
    :param om_pseudo_count: pseudo-count of LOLA-OM's counts model (memory-1 opponents).
    :param om_fit_steps: Adam steps per update fitting LOLA-OM's network model (other policies).
    :param om_lr: Adam learning rate of that model.
    :param window: updates averaged for the final numbers.
    :param checkpoint_every: updates between checkpoints.
    :param env_kwargs: extra keyword arguments of the env (Coin Game: ``grid_size``, ``coin_respawn``, ``tie_rule``;
        public goods: ``factor``, ``cost``; plain-loop envs such as in-the-matrix: any of their keywords).
    :param policy_kwargs: extra keyword arguments of the policy builder (``channels``, ``features``, ``hidden_size``, ``egocentric``).
    :param learner_kwargs: extra keyword arguments of the learners (new options of PolicyGradient / LOLA).
    """

    game: str = "ipd"
    agents: tuple[str, ...] = ("lola", "lola")
    policy: str = "auto"
    updates: int = 75
    episodes_per_batch: int = 64
    episode_length: int | None = None
    gamma: float | None = None
    lr: float | None = None
    eta: float | None = None
    optimizer: str | None = None
    correction: str = "taylor"
    baseline: bool = True
    runs: int = 10
    seed: int = 0
    init_std: float = 1.0
    device: str = "auto"
    om_pseudo_count: float = 0.5
    om_fit_steps: int = 10
    om_lr: float = 0.01
    window: int = 5
    checkpoint_every: int = 10
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    policy_kwargs: dict[str, Any] = field(default_factory=dict)
    learner_kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from lola_zoo.registry import spec

        spec(self.game)  # unknown ids fail here, naming the closest ones
        family = game_family(self.game)
        self.agents = tuple(str(a).strip().lower() for a in self.agents)
        players = spec(self.game).game.n_players if family == "matrix" else 2  # type: ignore[union-attr]
        if len(self.agents) != players:
            raise ValueError(f"agents must name one seat per player: {self.game!r} has {players}, got {list(self.agents)}")
        if players > 2:
            others = sorted({a for a in self.agents if a not in N_PLAYER_KINDS})
            if others:
                raise ValueError(f"{self.game!r} has {players} players; N-player training takes "
                                 f"{', '.join(N_PLAYER_KINDS)} seats, not {others}")
        for a in self.agents:
            if not (a in LEARNER_KINDS or a in FIXED_KINDS or a in SB3_KINDS or a.startswith("axelrod:")):
                raise ValueError(f"unknown agent kind {a!r}; choose from {', '.join(LEARNER_KINDS)}, "
                                 f"{', '.join(FIXED_KINDS)}, {', '.join(SB3_KINDS)} or axelrod:<Strategy>")
            if a in FIXED_KINDS and family != "matrix":
                raise ValueError(f"fixed strategy {a!r} is a memory-1 table of 2x2 iterated games, not for {self.game!r}")
            if a.startswith("axelrod:"):
                _check_axelrod_seat(a, self.game, family)
        coin = family == "coin"
        if self.episode_length is None:
            self.episode_length = 50 if coin else 150
        if self.gamma is None:
            self.gamma = _GAME_GAMMA.get(self.game, 0.96)
        if self.optimizer is None:
            self.optimizer = "adam" if coin else "sgd"
        if self.lr is None:
            self.lr = 0.005 if self.optimizer == "adam" else 1.0
        if self.policy == "auto":
            self.policy = "gru" if coin else ("memory1" if family == "matrix" else "mlp")
        for name in ("updates", "episodes_per_batch", "episode_length", "runs", "window", "checkpoint_every",
                     "om_fit_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
            setattr(self, name, int(value))
        for name in ("gamma", "lr", "eta", "init_std", "om_lr", "om_pseudo_count", "seed"):
            value = getattr(self, name)
            # float("x") would raise a message naming neither the field nor where the text came from.
            if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
                raise ValueError(f"{name} must be a number, got {type(value).__name__} {value!r}")
        if int(self.seed) != self.seed or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        for name in ("lr", "om_lr", "om_pseudo_count"):
            value = float(getattr(self, name))
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive finite number, got {getattr(self, name)!r}")
        if self.eta is not None and not (math.isfinite(float(self.eta)) and self.eta > 0):
            raise ValueError(f"eta must be a positive finite number, got {self.eta!r}")
        if not (math.isfinite(float(self.gamma)) and 0.0 < self.gamma < 1.0):
            raise ValueError(f"gamma must lie in (0, 1), got {self.gamma!r}")
        if not (math.isfinite(float(self.init_std)) and self.init_std >= 0):
            raise ValueError(f"init_std must be a non-negative finite number, got {self.init_std!r}")
        if self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer must be 'sgd' or 'adam', got {self.optimizer!r}")
        if self.correction not in ("taylor", "lookahead"):
            raise ValueError(f"correction must be 'taylor' or 'lookahead', got {self.correction!r}")
        if self.baseline and self.episodes_per_batch < 2:
            raise ValueError("the leave-one-out baseline needs episodes_per_batch >= 2 (or baseline=False)")
        if self.policy not in POLICY_KINDS:
            raise ValueError(f"unknown policy {self.policy!r}; registered: {', '.join(sorted(POLICY_KINDS))}")
        if family == "matrix" and self.policy != "memory1" and self.policy not in _USER_POLICIES:
            raise ValueError(f"iterated matrix games use the memory-1 policy; {self.policy!r} is for the Coin Game")
        if coin and self.policy == "memory1":
            raise ValueError("the memory-1 table needs an iterated matrix game; the Coin Game takes conv|gru|lstm|linear")
        resolve_device(self.device)  # unknown names and a missing GPU fail before any work
        for name in ("env_kwargs", "policy_kwargs", "learner_kwargs"):
            if not isinstance(getattr(self, name), Mapping):
                raise ValueError(f"{name} must be a mapping, got {type(getattr(self, name)).__name__}")
            setattr(self, name, dict(getattr(self, name)))
        if not isinstance(self.baseline, bool):
            raise ValueError(f"baseline must be True or False, got {self.baseline!r}")
        if family in ("matrix", "coin") and "max_steps" in self.env_kwargs:
            # The batched twin plays episode_length steps; a max_steps would be dropped (or, in the plain loop,
            # win over episode_length), so there is one way to say it.
            raise ValueError(f"env_kwargs max_steps={self.env_kwargs['max_steps']!r}: set the episode length with "
                             "episode_length (--episode-length) instead")
        if coin:
            import lola_zoo

            lola_zoo.make(self.game, **self.env_kwargs)  # grid_size='x' and unknown keys fail here, naming the key
        if family == "matrix":
            from lola_zoo.registry import game as registered_game

            registered_game(self.game, **self.env_kwargs)  # a family's factor=/cost= checked, any other key refused
            if self.policy == "memory1" and self.policy_kwargs:
                raise ValueError(f"policy_kwargs {sorted(self.policy_kwargs)} are options of network policies; the "
                                 "memory-1 table takes none")

    @property
    def family(self) -> str:
        """The game's family (``matrix``, ``coin`` or ``env``)."""
        return game_family(self.game)

    @property
    def batched(self) -> bool:
        """Stepped through the batched torch twin (else the plain PettingZoo loop)."""
        return self.family in ("matrix", "coin") and all(
            a in LEARNER_KINDS or a in FIXED_KINDS for a in self.agents)

    def labels(self) -> list[str]:
        """Per seat, what runs there (``LOLA-PG``, ``LOLA-OM``, ``PPO``...)."""
        return [seat_label(a, self.correction) for a in self.agents]

    def label(self) -> str:
        """``"LOLA-PG vs NL-PG"`` and the like."""
        return " vs ".join(self.labels())

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        d = dataclasses.asdict(self)
        d["agents"] = list(self.agents)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TrainConfig":
        """Inverse of :meth:`to_dict` (unknown keys are an error naming them)."""
        if not isinstance(d, Mapping):
            raise TypeError(f"TrainConfig.from_dict takes a mapping of fields, got {type(d).__name__} {d!r}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown TrainConfig field(s): {sorted(unknown)}")
        d = dict(d)
        d["agents"] = tuple(d.get("agents", ("lola", "lola")))
        return cls(**d)

    def same_run_as(self, other: "TrainConfig") -> bool:
        """Equal except for what may change on resume (updates, checkpoint_every, device)."""
        return dataclasses.replace(other, updates=self.updates, checkpoint_every=self.checkpoint_every,
                                   device=self.device) == self


def _check_axelrod_seat(kind: str, game: str, family: str) -> None:
    """An ``axelrod:<Strategy>`` seat: a known strategy, in a two-player two-action iterated matrix game."""
    if family != "matrix":
        raise ValueError(f"seat {kind!r}: axelrod strategies play iterated 2x2 matrix games such as the IPD, "
                         f"not {game!r}")
    try:
        from lola_zoo.agents.axelrod_adapter import _two_by_two, axelrod_strategy
    except ImportError as exc:
        raise ValueError(f"seat {kind!r} needs the axelrod package: pip install 'lola-zoo[axelrod]' ({exc})") from None
    _two_by_two(game, f"seat {kind!r} in {game!r}")  # e.g. rps: its states would be misread as IPD states
    axelrod_strategy(kind.split(":", 1)[1])  # an unknown name fails now, naming the closest ones


# --------------------------------------------------------------------------- presets
#: named settings per game family; each a dict of TrainConfig overrides (explicit arguments win).
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "matrix": {
        # The paper's 150-step episodes and lr 1, but 64 episodes per batch and 75 updates (< 1 min, 10 seeds).
        "quick": dict(episodes_per_batch=64, episode_length=150, updates=75, runs=10),
        # IMP: LOLA-PG reaches the mixed Nash equilibrium (92 % of 50 runs within 0.05; NL-PG 0 %) with a small lr,
        # a large anticipated step (lr * eta = 1, as the exact setting's) and 192 episodes of 50 steps (gamma^50
        # ~ 0.5 %): docs/pg-results.md, "IMP: does LOLA-PG reach the Nash equilibrium?". eta != lr: a deviation.
        "nash": dict(episodes_per_batch=192, episode_length=50, updates=75, runs=10, lr=0.1, eta=10.0),
        # The paper's PG setting: 4000 episodes of 150 steps per update, lr 1, 200 updates.
        "paper": dict(episodes_per_batch=4000, episode_length=150, updates=200, runs=10),
    },
    "coin": {
        "quick": dict(policy="conv", runs=3, updates=60, episodes_per_batch=32, episode_length=30, lr=0.02, eta=0.05),
        # Linear self-centred policy: the feed-forward setting where LOLA's effect shows (docs/coin-game-results.md).
        "linear": dict(policy="linear", runs=5, updates=600, episodes_per_batch=64, episode_length=20, lr=0.05,
                       eta=10.0),
        # The best recurrent setting of the search (docs/coin-game-results.md): self-centred conv + GRU with a linear
        # skip path, 256 x 10-step episodes, Adam-normalised anticipated step eta 0.3. It does NOT reach the
        # 70 % own-coin target (GPU pilot: 56.8 % +- 8.4 at update 279; run to its end on the CPU: 53.5 % +- 6.6);
        # kept to reproduce that negative result.
        "gru": dict(policy="gru", policy_kwargs={"channels": 8, "features": 16, "hidden_size": 16, "egocentric": True,
                                                 "skip": True},
                    runs=5, updates=380, episodes_per_batch=256, episode_length=10, lr=0.02, eta=0.3, window=10,
                    learner_kwargs={"step_normalisation": "adam"}),
        # The paper's size: conv + LSTM(32), 20 filters, 4000 episodes of 150 steps, Adam 0.005 — a GPU job.
        "paper": dict(policy="lstm", policy_kwargs={"channels": 20, "hidden_size": 32}, episodes_per_batch=4000,
                      episode_length=150, lr=0.005, eta=1.0, updates=200, runs=1),
    },
    "env": {"quick": dict(runs=1, updates=50, episodes_per_batch=8, episode_length=50)},
}


def preset_config(preset: str, game: str = "ipd", agents: Sequence[str] = ("lola", "lola"),
                  **overrides: Any) -> TrainConfig:
    """A :class:`TrainConfig` from a named preset of the game's family, then ``overrides``."""
    family = game_family(game)
    table = PRESETS.get(family, {})
    if preset not in table:
        raise ValueError(f"unknown preset {preset!r} for {game!r} ({family} game); choose from {', '.join(table)}")
    base = copy.deepcopy(table[preset])
    for key in ("env_kwargs", "policy_kwargs", "learner_kwargs"):
        if key in overrides and key in base:
            overrides[key] = {**base[key], **overrides[key]}
    base.update({k: v for k, v in overrides.items() if v is not None})
    return TrainConfig(game=game, agents=tuple(agents), **base)


# --------------------------------------------------------------------------- policies
PolicyBuilder = Callable[[TrainConfig, int], nn.Module]
_USER_POLICIES: dict[str, PolicyBuilder] = {}


def _coin_builder(kind: str) -> PolicyBuilder:
    def build(config: TrainConfig, seed: int) -> nn.Module:
        from lola_zoo.agents.coin_linear import CoinLinearPolicy
        from lola_zoo.agents.coin_policies import CoinConvPolicy, CoinRecurrentPolicy

        grid = int(config.env_kwargs.get("grid_size", 3))
        kw = dict(config.policy_kwargs)
        if kind == "linear":
            return CoinLinearPolicy(grid, 4, 4, egocentric=kw.pop("egocentric", True), seed=seed, **kw)
        if kind == "conv":
            return CoinConvPolicy(grid, 4, 4, seed=seed, **kw)
        return CoinRecurrentPolicy(grid, 4, 4, seed=seed, cell=kind, **kw)

    return build


POLICY_KINDS: dict[str, PolicyBuilder | None] = {
    "memory1": None,  # built batched directly (one table per run)
    "conv": _coin_builder("conv"),
    "gru": _coin_builder("gru"),
    "lstm": _coin_builder("lstm"),
    "linear": _coin_builder("linear"),
    "mlp": None,  # plain-loop envs: built by the in-loop agent factory
}


def register_policy(name: str, builder: PolicyBuilder, *, override: bool = False) -> None:
    """Make ``policy=name`` build ``builder(config, seed) -> nn.Module`` (one member network per seed).

    The module must follow the recurrent-state protocol in this module's docstring; the engine
    stacks one member per seed with :class:`~lola_zoo.agents.stacked.StackedPolicy`.
    """
    if not name or not isinstance(name, str):
        raise ValueError(f"policy name must be a non-empty string, got {name!r}")
    if name in POLICY_KINDS and not override:
        raise ValueError(f"policy {name!r} is already registered; pass override=True to replace it")
    if not callable(builder):
        raise ValueError(f"policy builder for {name!r} must be callable")
    POLICY_KINDS[name] = builder
    _USER_POLICIES[name] = builder


def _seat_seed(config: TrainConfig, seat: int) -> int:
    return config.seed * _SEED_STRIDE * 7 + seat * _SEED_STRIDE


def _check_policy_output(policy: Any, observation: torch.Tensor, n_actions: int, seat: int) -> None:
    """One probing step: the output must be log-probabilities over the seat's actions."""
    inner = policy._template[0] if hasattr(policy, "_template") else policy  # a StackedPolicy's member
    missing = [m for m in ("initial_state", "step", "forward") if not callable(getattr(inner, m, None))]
    if missing:
        raise ValueError(f"seat {seat}: the policy {type(inner).__name__} lacks {', '.join(missing)} of the "
                         "recurrent-state protocol (initial_state, step, forward); see lola_zoo.experiments.engine")
    with torch.no_grad():
        hidden = policy.initial_state(tuple(observation.shape[:2]))
        out = policy.step(observation, hidden)
    if not (isinstance(out, tuple) and len(out) == 2):
        raise ValueError(f"seat {seat}: policy.step must return (log_probs, hidden), got {type(out).__name__}")
    log_probs = out[0]
    if log_probs.shape[-1] != n_actions:
        raise ValueError(f"seat {seat}: the policy outputs {log_probs.shape[-1]} action log-probabilities, "
                         f"the game has {n_actions} actions")
    if not torch.allclose(log_probs.exp().sum(-1), torch.ones((), dtype=log_probs.dtype, device=log_probs.device),
                          atol=1e-4):
        raise ValueError(f"seat {seat}: policy.step must return log-probabilities (their exp must sum to 1)")


# --------------------------------------------------------------------------- learners
def build_learner(
    kind: str,
    policy: nn.Module,
    opponent_policy: nn.Module | None,
    *,
    lr: float,
    gamma: float,
    optimizer: str = "sgd",
    baseline: bool = True,
    eta: float | None = None,
    correction: str = "taylor",
    opponent_template: nn.Module | None = None,
    model_kwargs: Mapping[str, Any] | None = None,
    learner_kwargs: Mapping[str, Any] | None = None,
) -> Any:
    """The learner of one seat (NL-PG, LOLA-PG, LOLA-OM, AA-PG, POLA-DiCE, POLA-OM, LOQA-PG); ``None`` for fixed seats.

    :param opponent_policy: the opponent's policy module (white-box LOLA reads it, never writes it).
    :param opponent_template: LOLA-OM's model architecture (its values are never read); default: a
        copy of ``opponent_policy``'s architecture with fresh parameters.
    :param learner_kwargs: extra options; those PolicyGradient takes go there, those in
        :data:`EXTRA_LEARNER_OPTIONS` to their learner (``aa_beta``, ``pola_inner_steps``,
        ``pola_outer_steps``, ``pola_prox``, ``loqa_scale``), the rest to LOLA.
    """
    import inspect

    from lola_zoo.agents.lola import LOLA
    from lola_zoo.agents.naive import PolicyGradient

    if kind not in LEARNER_KINDS:
        return None
    extra = dict(learner_kwargs or {})
    pg_params = set(inspect.signature(PolicyGradient.__init__).parameters)
    lola_params = set(inspect.signature(LOLA.__init__).parameters) - {"self", "base"}
    others = {k for options in EXTRA_LEARNER_OPTIONS.values() for k in options}
    unknown = sorted(k for k in extra if k not in pg_params and k not in lola_params and k not in others)
    if unknown:
        raise ValueError(f"unknown learner option(s) {unknown}; PolicyGradient takes "
                         f"{sorted(pg_params - {'self', 'policy'})}, LOLA takes {sorted(lola_params)}, "
                         + ", ".join(f"{seat_label(k)} takes {sorted(v)}" for k, v in EXTRA_LEARNER_OPTIONS.items()
                                     if k != "pola-om"))
    pg_extra = {k: extra.pop(k) for k in list(extra) if k in pg_params}
    # Options of the other extra learners are dropped: one config may carry options for both seats.
    mine = {v: extra.pop(k) for k, v in EXTRA_LEARNER_OPTIONS.get(kind, {}).items() if k in extra}
    for k in others:
        extra.pop(k, None)
    base = PolicyGradient(policy, lr, gamma, optimizer, baseline, **pg_extra)  # type: ignore[arg-type]
    if kind == "nl":
        return base  # LOLA-only options (e.g. step_normalisation) do not apply to a naive learner
    if kind == "aa":
        from lola_zoo.agents.advantage_alignment import AdvantageAlignment

        return AdvantageAlignment(base, **mine)
    black_box = kind.endswith("-om")
    template = opponent_template if (black_box and opponent_template is not None) else opponent_policy
    if template is None:
        raise ValueError(f"{seat_label(kind)} needs the opponent's policy (white-box) or a model architecture (black-box)")
    mode = "black-box" if black_box else "white-box"
    if kind in ("pola", "pola-om"):
        from lola_zoo.agents.pola_dice import POLADiCE

        return POLADiCE(base, template, mode, eta, model_kwargs=dict(model_kwargs or {}) if black_box else None,
                        **mine)
    if kind == "loqa":
        from lola_zoo.agents.loqa import LOQA

        return LOQA(base, template, **mine)
    if kind == "lola":
        return LOLA(base, template, "white-box", eta, correction, **extra)  # type: ignore[arg-type]
    return LOLA(base, template, "black-box", eta, correction, dict(model_kwargs or {}), **extra)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- backends
def _generator_state(gen: torch.Generator) -> dict[str, Any]:
    return {"device": gen.device.type, "state": gen.get_state()}


def _set_generator_state(gen: torch.Generator, saved: Mapping[str, Any], fallback_seed: int) -> bool:
    """Restore a generator; across device types (CPU <-> CUDA) reseed instead. Returns True if restored."""
    if saved["device"] == gen.device.type:
        gen.set_state(saved["state"].cpu())
        return True
    gen.manual_seed(int(fallback_seed))
    return False


class _Backend:
    """What a backend offers the engine."""

    labels: list[str]

    def step(self) -> dict[str, torch.Tensor]:  # per-run metrics, leading dim = runs
        raise NotImplementedError

    def row(self, metrics: Mapping[str, torch.Tensor]) -> dict[str, float]:
        raise NotImplementedError

    def summary(self, final: Mapping[str, torch.Tensor]) -> dict[str, Any]:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def load_state_dict(self, state: Mapping[str, Any], fallback_seed: int) -> None:
        raise NotImplementedError

    def plot(self, history: list[dict[str, float]], path: Path, title: str) -> Path:
        raise NotImplementedError


def _stats(t: torch.Tensor) -> dict[str, Any]:
    t = t.double().cpu()
    finite = t[~t.isnan()]
    return {"mean": float(finite.mean()) if finite.numel() else float("nan"),
            "std": float(finite.std()) if finite.numel() > 1 else 0.0, "per_run": t.tolist()}


def _std(t: torch.Tensor) -> float:
    t = t[~t.isnan()]
    return float(t.std()) if t.numel() > 1 else 0.0


class _BatchedBackend(_Backend):
    """Seeds as a batch dimension on the game's torch twin; learners compute, then all apply."""

    def __init__(self, config: TrainConfig, device: torch.device,
                 policies: Sequence[nn.Module | None] | None = None) -> None:
        self.config, self.device = config, device
        self.labels = config.labels()
        # The game's twin and its per-seat view: BatchedIteratedGame, or BatchedCoinGame behind a RecordingCoinView.
        self.env: Any = None
        self.view: Any = None
        self.policies: list[Any] = []
        self.generator = torch.Generator(device=device).manual_seed(config.seed + 1)
        if config.family == "matrix":
            self._build_matrix(policies)
        else:
            self._build_coin(policies)
        for seat, p in enumerate(self.policies):
            p.to(device)
            if config.agents[seat] in LEARNER_KINDS:
                obs = self._probe_observation()
                _check_policy_output(p, obs, self.n_actions[seat], seat)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)  # anything drawn from the global RNG while building is reproducible
            self.learners = [self._learner(seat) for seat in range(len(config.agents))]
        for seat, learner in enumerate(self.learners):
            if getattr(learner, "resample", False):  # POLA-DiCE's fresh episodes per proximal step
                learner.sampler = self._sampler(seat, learner.opponent.policy)
        from lola_zoo.agents.policies import Memory1Policy

        self._tabular = config.family == "matrix" and all(
            isinstance(p, Memory1Policy) and p.runs == config.runs for p in self.policies)

    # -- construction
    def _build_matrix(self, policies: Sequence[nn.Module | None] | None) -> None:
        from lola_zoo.agents.policies import Memory1Policy, as_memory1_probs
        from lola_zoo.envs.batched import BatchedIteratedGame
        from lola_zoo.registry import game as registered_game

        c = self.config
        # A family's own keywords (public goods: factor=, cost=) rebuild its stage game; others are refused by name.
        self.game = registered_game(c.game, **{k: v for k, v in c.env_kwargs.items() if k != "max_steps"})
        self.n_actions = list(self.game.n_actions)
        init = torch.Generator().manual_seed(c.seed)
        built: list[Any] = []
        for seat, kind in enumerate(c.agents):
            if policies is not None and policies[seat] is not None:
                built.append(policies[seat])
            elif kind in FIXED_KINDS:
                if self.game.n_actions != (2, 2):
                    raise ValueError(f"fixed strategy {kind!r} is defined for 2x2 games only; {c.game!r} "
                                     f"has {self.game.n_actions}")
                built.append(as_memory1_probs(FIXED_KINDS[kind], runs=c.runs))
            else:
                n = self.n_actions[seat]
                built.append(Memory1Policy(self.game.n_states, n, "sigmoid" if n == 2 else "softmax", runs=c.runs,
                                           init_std=c.init_std, generator=init))
        self.policies = built
        self.env = BatchedIteratedGame(self.game, (c.runs, c.episodes_per_batch), cast(int, c.episode_length),
                                       device=self.device)
        self.view = self.env

    def _build_coin(self, policies: Sequence[nn.Module | None] | None) -> None:
        from lola_zoo.agents.stacked import StackedPolicy
        from lola_zoo.envs.batched_coin import BatchedCoinGame, RecordingCoinView

        c = self.config
        self.n_actions = [4, 4]
        builder = POLICY_KINDS[c.policy]
        if builder is None:
            raise ValueError(f"policy {c.policy!r} cannot play the Coin Game")
        self._builder = builder
        built: list[Any] = []
        for seat in range(2):
            if policies is not None and policies[seat] is not None:
                built.append(policies[seat])
            else:
                built.append(StackedPolicy(lambda s: builder(c, s), c.runs, _seat_seed(c, seat)))
        self.policies = built
        env_kw = {k: v for k, v in c.env_kwargs.items()}
        self.env = BatchedCoinGame((c.runs, c.episodes_per_batch), max_steps=cast(int, c.episode_length), device=self.device,
                                   check_actions=False, **env_kw)
        self.env.reset(seed=c.seed)
        self.view = RecordingCoinView(self.env)

    def _probe_observation(self) -> torch.Tensor:
        obs = self.view.reset(seed=None) if self.config.family == "matrix" else None
        if obs is None:
            g = int(self.config.env_kwargs.get("grid_size", 3))
            return torch.zeros(self.config.runs, 1, 4, g, g, device=self.device)
        return obs[0][:, :1]

    def _learner(self, seat: int) -> Any:
        c = self.config
        kind = c.agents[seat]
        template = None
        model_kwargs: dict[str, Any] = {}
        if kind in ("lola-om", "pola-om"):
            if c.family == "matrix":
                model_kwargs = {"pseudo_count": c.om_pseudo_count}
            else:
                from lola_zoo.agents.stacked import StackedPolicy

                # The model starts from its own random networks (never a copy of the opponent's).
                template = StackedPolicy(lambda s: self._builder(c, s), c.runs,
                                         _seat_seed(c, seat) + 500_000).to(self.device)
                model_kwargs = {"method": "gradient", "lr": c.om_lr, "fit_steps": c.om_fit_steps}
        n = len(self.policies)
        opponent: Any = self.policies[1 - seat] if n == 2 else [self.policies[j] for j in range(n) if j != seat]
        return build_learner(kind, self.policies[seat], opponent, lr=cast(float, c.lr),
                             gamma=cast(float, c.gamma), optimizer=cast(str, c.optimizer), baseline=c.baseline,
                             eta=c.eta, correction=c.correction, opponent_template=template,
                             model_kwargs=model_kwargs, learner_kwargs=c.learner_kwargs)

    # -- one update
    def step(self) -> dict[str, torch.Tensor]:
        from lola_zoo.envs.batched import rollout, rollout_tabular

        if self._tabular:
            # Memory-1 tables on a matrix game: the same episodes in distribution, far fewer ops per step.
            with torch.no_grad():
                tables = [p.probs().detach() for p in self.policies]
            episodes = rollout_tabular(self.env, tables, self.generator)
        else:
            episodes = rollout(self.view, self.policies, self.generator)
        if self.config.family == "matrix":
            metrics = {"reward_per_step": episodes.mean_reward_per_step().detach()}
        else:
            from lola_zoo.envs.batched_coin import per_run_coin_metrics

            # Read now: a learner that samples more episodes (POLA-DiCE, resample) replays the view.
            own, other = self.view.pickups()
            metrics = {k: v.detach() for k, v in per_run_coin_metrics(episodes.rewards, own, other).items()}
        grads = [None if learner is None else learner.gradient(episodes, seat)
                 for seat, learner in enumerate(self.learners)]
        for learner, g in zip(self.learners, grads):  # both step after both computed: learning together
            if learner is not None:
                learner.apply(g)
        return metrics

    def _sampler(self, seat: int, opponent_policy: nn.Module) -> Callable[[Any, Any], Any]:
        """Fresh episodes of this backend's game at given parameters of ``seat`` and of its (modelled) opponent."""
        from lola_zoo.envs.batched import resampler, rollout, rollout_tabular

        def play(order: list[nn.Module]) -> Any:
            if self._tabular:
                return rollout_tabular(self.env, [p.probs().detach() for p in order], self.generator)  # type: ignore[operator]
            return rollout(self.view, order, self.generator)

        return resampler(self.policies[seat], opponent_policy, seat, play)

    def row(self, m: Mapping[str, torch.Tensor]) -> dict[str, float]:
        if self.config.family == "matrix":
            r = m["reward_per_step"].double().cpu()
            row = {}
            for i in range(r.shape[1]):
                row[f"reward_{i}"] = float(r[:, i].mean())
                row[f"reward_{i}_std"] = _std(r[:, i])
            with torch.no_grad():
                for i, p in enumerate(self.policies):
                    row[f"p0_start_{i}"] = float(p.probs()[..., 0, 0].mean())
            return row
        share, points, coins = (m["own_coin_share"].cpu(), m["points_per_episode"].cpu(),
                                m["coins_per_episode"].cpu())
        picked = share[~share.isnan()]
        row = {"own_coin_share": float(picked.mean()) if picked.numel() else float("nan"),
               "own_coin_share_std": _std(picked)}
        for i in range(points.shape[1]):
            row[f"points_{i}"] = float(points[:, i].mean())
            row[f"points_{i}_std"] = _std(points[:, i])
        row["points_mean"] = float(points.mean())
        row["points_mean_std"] = _std(points.mean(1))
        row["coins_per_episode"] = float(coins.mean())
        return row

    def summary(self, final: Mapping[str, torch.Tensor]) -> dict[str, Any]:
        c = self.config
        out: dict[str, Any] = {}
        if c.family == "coin":
            if final:
                out["own_coin_share"] = _stats(final["own_coin_share"])
                points = final["points_per_episode"]
                out["points_per_episode"] = {f"player_{i}": _stats(points[:, i]) for i in range(points.shape[1])}
                out["points_per_episode_mean"] = _stats(points.mean(1))
                out["coins_per_episode"] = _stats(final["coins_per_episode"])
            return out
        from lola_zoo.envs.exact import exact_value_per_step

        if final:
            r = final["reward_per_step"]
            out["reward_per_step"] = {f"player_{i}": _stats(r[:, i]) for i in range(r.shape[1])}
        with torch.no_grad():
            probs = [p.probs().detach().double().cpu() for p in self.policies]
            exact = exact_value_per_step(self.game, [p[..., 0] if p.shape[-1] == 2 else p for p in probs], cast(float, c.gamma),
                                         kind="probs") if set(self.game.n_actions) == {2} else None
        if exact is not None:
            out["exact_value_per_step"] = {f"player_{i}": _stats(exact[:, i]) for i in range(exact.shape[1])}
        p0 = [p[..., 0] for p in probs]
        out["p_action0"] = [p.mean(0).tolist() for p in p0]
        out["p_action0_per_run"] = [p.tolist() for p in p0]
        if c.game == "ipd" and exact is not None:
            # Outcome shares by the per-step value both players reach (as the reproduce rows count them).
            out["share_mutual_cooperation"] = float((exact >= -1.2).all(1).double().mean())
            out["share_mutual_defection"] = float((exact <= -1.8).all(1).double().mean())
        if c.game == "imp":
            dev = torch.stack([(p - 0.5).abs() for p in p0])  # distance to the mixed Nash equilibrium
            out["nash_distance"] = float(dev.mean())
            out["share_near_nash"] = float((dev.amax(dim=(0, 2)) < 0.1).double().mean())
        return out

    def final_probs(self) -> list[torch.Tensor]:
        """Per seat, ``P(action | state)`` of every run ``(runs, S, n)`` (matrix games)."""
        with torch.no_grad():
            return [p.probs().detach().double().cpu() for p in self.policies]

    def state_dict(self) -> dict[str, Any]:
        state = {
            "learners": [None if learner is None else learner.state_dict() for learner in self.learners],
            "policies": [p.state_dict() for p in self.policies],
            "generator": _generator_state(self.generator),
        }
        if self.config.family == "coin":
            state["env_generator"] = _generator_state(self.env.generator)
        return copy.deepcopy(state)

    def load_state_dict(self, state: Mapping[str, Any], fallback_seed: int) -> None:
        for p, s in zip(self.policies, state["policies"]):
            p.load_state_dict(s)
        for learner, s in zip(self.learners, state["learners"]):
            if learner is not None:
                learner.load_state_dict(s)
        _set_generator_state(self.generator, state["generator"], fallback_seed)
        if "env_generator" in state:
            _set_generator_state(self.env.generator, state["env_generator"], fallback_seed + 1)

    def plot(self, history: list[dict[str, float]], path: Path, title: str) -> Path:
        if self.config.family == "coin":
            return plot_coin_curves({self.config.label(): history}, path, title=title)
        return plot_reward_curves(history, path, title=title)


class _LoopBackend(_Backend):
    """The plain PettingZoo parallel loop: seats behind the Agent protocol, runs one after another."""

    def __init__(self, config: TrainConfig, device: torch.device) -> None:
        import lola_zoo

        self.config, self.device = config, device
        c = config
        env_kwargs = dict(c.env_kwargs)
        if c.family in ("matrix", "coin"):
            env_kwargs.setdefault("max_steps", c.episode_length)
        self.env = lola_zoo.make(c.game, **env_kwargs)
        if len(self.env.possible_agents) != 2:
            raise ValueError(f"{c.game!r} has {len(self.env.possible_agents)} agents; training is two-player here")
        self.runs = [self._build_agents(r) for r in range(c.runs)]
        # PG seats report what they really run (white-box LOLA-PG or black-box LOLA-OM); others their kind.
        self.labels: list[str] = [str(getattr(a, "label", None)) if c.agents[i] in LEARNER_KINDS
                       else getattr(a, "name", c.agents[i]) if c.agents[i].startswith("axelrod:")
                       else seat_label(c.agents[i]) for i, a in enumerate(self.runs[0].values())]
        self._episode = 0

    def _build_agents(self, run: int) -> dict[str, Any]:
        from lola_zoo.agents.strategies import make_strategy

        c = self.config
        names = list(self.env.possible_agents)
        seed = c.seed + 7919 * run
        agents: dict[str, Any] = {}
        for seat in range(2):  # this pass builds the non-PG seats: a white-box PG seat needs its opponent's handle
            kind, name = c.agents[seat], names[seat]
            if kind in SB3_KINDS:
                from lola_zoo.agents.sb3 import make_sb3_agent

                agent: Any = make_sb3_agent(kind, self.env, name, seed=seed + seat, gamma=c.gamma,
                                            device=str(self.device))
            elif kind.startswith("axelrod:"):
                from lola_zoo.agents.axelrod_adapter import AxelrodAgent

                # game= checks the game is 2x2 (TrainConfig did too; this keeps the agent honest on its own).
                agent = AxelrodAgent(kind.split(":", 1)[1], game=c.game if c.family == "matrix" else None)
            elif kind in FIXED_KINDS:
                agent = make_strategy(kind) if kind != "random" else make_strategy("random", n_actions=2)
            else:
                agent = None  # PG seats below, once the opponent exists (white-box needs its handle)
            agents[name] = agent
        for seat in range(2):
            kind, name = c.agents[seat], names[seat]
            if kind not in LEARNER_KINDS:
                continue
            from lola_zoo.agents.in_loop import make_pg_agent

            opponent = agents[names[1 - seat]]
            agents[name] = make_pg_agent(
                kind, self.env, name, opponent=opponent, lr=c.lr, gamma=cast(float, c.gamma), eta=c.eta, optimizer=c.optimizer,
                correction=c.correction, episodes_per_update=c.episodes_per_batch, seed=seed + seat,
                device=self.device, policy_kind=c.policy, policy_kwargs=c.policy_kwargs,
                init_std=c.init_std, om_pseudo_count=c.om_pseudo_count,
                learner_kwargs={k: v for k, v in c.learner_kwargs.items()
                                if k in EXTRA_LEARNER_OPTIONS.get(kind, {})} or None,
            )
        # Two PG seats: the first was built before the second existed; give it the handle now.
        for seat in range(2):
            agent = agents[names[seat]]
            if hasattr(agent, "set_opponent"):
                agent.set_opponent(agents[names[1 - seat]])
        for seat, name in enumerate(names):
            if hasattr(agents[name], "seed"):
                agents[name].seed(seed + 101 * (seat + 1))
        return {n: agents[n] for n in names}

    def step(self) -> dict[str, torch.Tensor]:
        from lola_zoo.experiments.loop import play_episode

        c = self.config
        per_run = torch.zeros(c.runs, 2, dtype=torch.float64)
        names = list(self.env.possible_agents)
        for r, agents in enumerate(self.runs):
            total = torch.zeros(2, dtype=torch.float64)
            steps = 0
            for _ in range(c.episodes_per_batch):
                record = play_episode(self.env, agents, seed=c.seed + 100_003 * r + self._episode)
                self._episode += 1
                total += torch.tensor([record["returns"][n] for n in names], dtype=torch.float64)
                steps += record["steps"]
            per_run[r] = total / max(steps, 1)
        return {"reward_per_step": per_run}

    def row(self, m: Mapping[str, torch.Tensor]) -> dict[str, float]:
        r = m["reward_per_step"]
        return {k: v for i in range(2) for k, v in ((f"reward_{i}", float(r[:, i].mean())),
                                                     (f"reward_{i}_std", _std(r[:, i])))}

    def summary(self, final: Mapping[str, torch.Tensor]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if final:
            r = final["reward_per_step"]
            out["reward_per_step"] = {f"player_{i}": _stats(r[:, i]) for i in range(2)}
        if self.config.family == "matrix":
            from lola_zoo.envs.exact import exact_value_per_step
            from lola_zoo.registry import game as registered_game

            game = registered_game(self.config.game)
            if game.n_actions == (2, 2):
                tables = [[_policy_table(run[n], game.n_states) for run in self.runs] for n in self.env.possible_agents]
                if all(t is not None for seat in tables for t in seat):
                    probs = [torch.stack([cast(torch.Tensor, t) for t in seat]) for seat in tables]  # (runs, S, 2)
                    exact = exact_value_per_step(game, [p[..., 0] for p in probs], cast(float, self.config.gamma),
                                                 kind="probs")
                    out["exact_value_per_step"] = {f"player_{i}": _stats(exact[:, i]) for i in range(2)}
                    out["p_action0"] = [p[..., 0].mean(0).tolist() for p in probs]
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"agents": [{n: a.state_dict() for n, a in run.items()} for run in self.runs],
                "episode": self._episode}

    def load_state_dict(self, state: Mapping[str, Any], fallback_seed: int) -> None:
        for run, saved in zip(self.runs, state["agents"]):
            for n, s in saved.items():
                run[n].load_state_dict(s)
        self._episode = int(state["episode"])

    def plot(self, history: list[dict[str, float]], path: Path, title: str) -> Path:
        return plot_reward_curves(history, path, title=title)


def _policy_table(agent: Any, n_states: int) -> torch.Tensor | None:
    """``P(action | state)`` of an agent with a memory-1 policy over Discrete states, else ``None``."""
    import numpy as np

    try:
        if hasattr(agent, "state_dict") and hasattr(agent, "policy") and hasattr(agent.policy, "probs"):
            agent.state_dict()  # applies a pending step
            return agent.policy.probs().detach().double().cpu().reshape(n_states, -1)
        if hasattr(agent, "probs"):
            p = torch.as_tensor(np.asarray(agent.probs, dtype=np.float64))
            return torch.stack([p, 1 - p], -1) if p.dim() == 1 else p
        if hasattr(agent, "model"):
            from lola_zoo.agents.sb3 import policy_table

            return torch.as_tensor(policy_table(agent, [np.int64(s) for s in range(n_states)]))
    except (ValueError, RuntimeError):
        return None
    return None


# --------------------------------------------------------------------------- the engine
@dataclass
class TrainResult:
    """What a run produced.

    :param config: the settings.
    :param history: one row per update (means and stds over seeds).
    :param summary: final numbers per seed and their mean/std (the last ``window`` updates).
    :param seconds: wall time of the updates run in this call.
    :param labels: what ran in each seat.
    :param finished: the run reached ``config.updates``.
    """

    config: TrainConfig
    history: list[dict[str, float]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    labels: list[str] = field(default_factory=list)
    finished: bool = True
    final_probs: list[torch.Tensor] = field(default_factory=list)
    device: str = "cpu"
    message: str = ""


class Trainer:
    """Runs one :class:`TrainConfig`: rollouts, learning, checkpoints, progress, files, loggers.

    :param config: the settings.
    :param out_dir: folder for ``metrics.json``, ``metrics.csv``, ``curves.png``, ``checkpoint.pt``
        (``None``: nothing is written).
    :param resume: continue from ``out_dir/checkpoint.pt`` (which must exist). A checkpoint that
        already holds ``config.updates`` or more is reported and left untouched.
    :param progress: a tqdm bar on stderr.
    :param loggers: ``tensorboard`` and/or ``wandb`` (offline) beside the default files.
    :param policies: per seat, a policy module to use instead of the configured one (``None`` keeps
        the configured one); for batched games it must carry the runs dimension
        (:class:`~lola_zoo.agents.stacked.StackedPolicy`, a ``Memory1Policy(runs=...)``).
    :param on_update: called with every history row.
    """

    def __init__(
        self,
        config: TrainConfig,
        out_dir: str | Path | None = None,
        *,
        resume: bool = False,
        progress: bool = False,
        loggers: Sequence[str] = (),
        policies: Sequence[nn.Module | None] | None = None,
        on_update: Callable[[dict[str, float]], None] | None = None,
    ) -> None:
        if not isinstance(config, TrainConfig):
            raise TypeError(f"config must be a TrainConfig (preset_config or TrainConfig.from_dict build one), got "
                            f"{type(config).__name__}")
        from lola_zoo.loggers import LOGGER_CHOICES

        if isinstance(loggers, str):
            loggers = [loggers]
        unknown = [name for name in loggers if str(name).strip().lower() not in LOGGER_CHOICES]
        if unknown:  # before any training: run() would only find out at its start
            raise ValueError(f"unknown logger(s) {unknown}; choose from {', '.join(LOGGER_CHOICES)}")
        self.config = config
        self.out = Path(out_dir) if out_dir is not None else None
        self.resume, self.progress, self.on_update = resume, progress, on_update
        self.logger_names = list(loggers)
        self.device = resolve_device(config.device)
        if self.out is not None:
            _check_writable(self.out)
        self.checkpoint_path = self.out / "checkpoint.pt" if self.out is not None else None
        saved = self._load_checkpoint() if resume else None
        if self.out is not None and resume and saved is None:
            raise FileNotFoundError(f"--resume: no checkpoint at {self.checkpoint_path}; run without --resume first")
        if resume and self.out is None:
            raise ValueError("resume needs an output folder holding checkpoint.pt")
        if config.batched:
            self.backend: _Backend = _BatchedBackend(config, self.device, policies)
        else:
            if policies is not None:
                raise ValueError("custom policies are taken by batched games; in the plain loop build the agents "
                                 "yourself (lola_zoo.agents.in_loop.make_pg_agent)")
            self.backend = _LoopBackend(config, self.device)
        self.history: list[dict[str, float]] = []
        self.recent: list[dict[str, torch.Tensor]] = []
        self.update = 0
        self.restored_rng = True
        if saved is not None:
            self.backend.load_state_dict(saved["backend"], fallback_seed=config.seed + 1_000_003 * saved["update"])
            self.history = list(saved["history"])
            self.recent = [{k: v.to("cpu") for k, v in m.items()} for m in saved["recent"]]
            self.update = int(saved["update"])
            self.restored_rng = saved.get("device_type", self.device.type) == self.device.type
            assert self.out is not None
            for name in ("checkpoint.pt", "metrics.json", "metrics.csv", "curves.png"):
                for stray in self.out.glob(f".{name}.*.tmp"):  # a killed run's half-done atomic write
                    stray.unlink(missing_ok=True)

    def _load_checkpoint(self) -> dict[str, Any] | None:
        path = self.checkpoint_path
        if path is None or not path.exists():
            return None
        if path.is_dir():
            raise ValueError(f"--resume: {path} is a folder, not a checkpoint file")
        try:
            state = torch.load(path, weights_only=False, map_location=self.device)
        except Exception as exc:  # a truncated or foreign file: say which, do not show torch's traceback
            raise ValueError(f"--resume: cannot read {path} ({type(exc).__name__}: {exc}); "
                             "it is damaged or not a lola-zoo checkpoint") from exc
        if not isinstance(state, dict) or "config" not in state or "backend" not in state:
            raise ValueError(f"--resume: {path} is not a lola-zoo training checkpoint")
        saved = TrainConfig.from_dict(state["config"])
        if not self.config.same_run_as(saved):
            diff = {k: (v, getattr(self.config, k)) for k, v in saved.to_dict().items()
                    if k not in ("updates", "checkpoint_every", "device") and v != self.config.to_dict()[k]}
            raise ValueError(f"--resume: the checkpoint in {self.out} was written with other settings "
                             f"(saved vs now: {diff})")
        return state

    def _state(self) -> dict[str, Any]:
        return {"config": self.config.to_dict(), "update": self.update, "backend": self.backend.state_dict(),
                "history": list(self.history),  # rows are never changed once appended: a shallow copy is a snapshot
                "recent": [{k: v.detach().cpu().clone() for k, v in m.items()} for m in self.recent],
                "device_type": self.device.type}

    def _final(self) -> dict[str, torch.Tensor]:
        if not self.recent:
            return {}
        return {k: torch.stack([m[k].double().cpu() for m in self.recent]).nanmean(0) for k in self.recent[0]}

    def result(self, seconds: float = 0.0, message: str = "") -> TrainResult:
        """The result of the run as it stands."""
        summary = {"setting": " vs ".join(self.backend.labels), "agents": list(self.config.agents), "labels": self.backend.labels,
                   "game": self.config.game, "runs": self.config.runs, "updates_done": self.update,
                   "window": min(self.config.window, len(self.recent)), **self.backend.summary(self._final())}
        probs = self.backend.final_probs() if isinstance(self.backend, _BatchedBackend) and \
            self.config.family == "matrix" else []
        return TrainResult(self.config, self.history, summary, seconds, list(self.backend.labels),
                           self.update >= self.config.updates, probs, str(self.device), message)

    def run(self, stop_after: int | None = None) -> TrainResult:
        """Train up to ``config.updates`` (or ``stop_after`` more updates); write the files."""
        from lola_zoo.loggers import make_logger

        # 0 is allowed: no update, but the files (and checkpoint) of the run so far are written
        if stop_after is not None and (isinstance(stop_after, bool) or not isinstance(stop_after, int) or stop_after < 0):
            raise ValueError(f"stop_after must be a non-negative integer or None, got {stop_after!r}")
        c = self.config
        if self.update >= c.updates:
            if self.update == c.updates and self.out is not None and not self._files_complete():
                # Stopped between its last checkpoint and its files (Ctrl-C after the last update, a kill during
                # the final writes): the finished checkpoint holds all the files show, so write them from it
                # (the checkpoint too, under this run's settings, as any resume does).
                result = self.result()
                _save_checkpoint(cast(Path, self.checkpoint_path), self._state())
                self._write(self.history, result, 0.0)
                return result
            # A finished (or longer) run: report it and leave every file as it is.
            return self.result(message=f"the checkpoint already holds {self.update} updates (asked: {c.updates}); "
                                       "nothing was trained and no file was rewritten")
        end = c.updates if stop_after is None else min(c.updates, self.update + stop_after)
        logger = make_logger(self.logger_names, self.out, c.to_dict(), run_name=f"{c.game}-{'-'.join(c.agents)}")
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=c.updates, initial=self.update, desc=f"{c.game} {c.label()}", unit="upd")
        # The state after the last completed update, kept for Ctrl-C; a run without files needs no snapshots.
        snapshot = self.checkpoint_path is not None
        last_good = self._state() if snapshot else None
        t0 = time.perf_counter()
        try:
            while self.update < end:
                metrics = self.backend.step()
                if not all(bool(torch.isfinite(v[~v.isnan()]).all()) for v in metrics.values()):
                    raise FloatingPointError(f"update {self.update + 1}: metrics became non-finite "
                                             "(learning rate or eta too large?)")
                self.update += 1
                self.recent = (self.recent + [metrics])[-c.window:]
                row = {"update": self.update, **self.backend.row(metrics)}
                self.history.append(row)
                if snapshot:
                    last_good = self._state()
                logger.log(row, self.update)
                if self.on_update is not None:
                    self.on_update(row)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix({k: f"{v:.3f}" for k, v in row.items()
                                     if k in ("reward_0", "reward_1", "own_coin_share", "points_mean")})
                if self.checkpoint_path is not None and self.update % c.checkpoint_every == 0:
                    _save_checkpoint(self.checkpoint_path, last_good)
        except KeyboardInterrupt:
            if self.checkpoint_path is not None and last_good is not None:
                _save_checkpoint(self.checkpoint_path, last_good)  # the state after the last *completed* update
                self._write(last_good["history"], None, 0.0)
            raise
        finally:
            if bar is not None:
                bar.close()
            logger.close()
        seconds = time.perf_counter() - t0
        result = self.result(seconds)
        if self.checkpoint_path is not None:
            _save_checkpoint(self.checkpoint_path, last_good)
            self._write(self.history, result, seconds)
        return result

    def _files_complete(self) -> bool:
        """Whether ``metrics.json`` (with its summary and every update), ``metrics.csv`` and ``curves.png`` exist."""
        assert self.out is not None
        try:
            saved = json.loads((self.out / "metrics.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return (isinstance(saved, dict) and "summary" in saved and len(saved.get("history") or ()) == self.update
                and all((self.out / name).is_file() for name in ("metrics.csv", "curves.png")))

    def _write(self, history: list[dict[str, float]], result: TrainResult | None, seconds: float) -> None:
        assert self.out is not None
        payload: dict[str, Any] = {"config": self.config.to_dict(), "labels": self.backend.labels,
                                   "history": history}
        if result is not None:
            payload["summary"] = result.summary
            payload["seconds"] = seconds
            payload["device"] = result.device
        atomic_write_json(self.out / "metrics.json", payload)
        if history:
            atomic_write_csv(self.out / "metrics.csv", history)
            c = self.config
            self.backend.plot(history, self.out / "curves.png",
                              title=f"{c.game}: {c.label()} ({c.runs} seeds, {c.episodes_per_batch} episodes x "
                                    f"{c.episode_length} steps per update)")


def _canonical(obj: Any) -> Any:
    """A copy of a checkpoint state whose pickle depends only on its values.

    Pickle writes a string or container seen before as a back-reference, so two equal states could
    pickle differently: a resumed run's keys are fresh strings read back from the checkpoint where an
    uninterrupted run's are one shared literal. Interning every string and rebuilding every container
    (no sharing) makes ``checkpoint.pt`` of a resumed run byte-identical to an uninterrupted one.
    """
    if type(obj) is str:
        return sys.intern(obj)
    if type(obj) is bytes:
        return bytes(bytearray(obj))
    if type(obj) is dict:
        return {_canonical(k): _canonical(v) for k, v in obj.items()}
    if type(obj) is OrderedDict:  # a module's state_dict: keep its _metadata attribute
        out: OrderedDict[Any, Any] = OrderedDict((_canonical(k), _canonical(v)) for k, v in obj.items())
        for name, value in vars(obj).items():
            setattr(out, _canonical(name), _canonical(value))
        return out
    if type(obj) is list:
        return [_canonical(v) for v in obj]
    if type(obj) is tuple:
        return tuple(_canonical(v) for v in obj)
    return obj


def _save_checkpoint(path: Path, state: Mapping[str, Any] | None) -> None:
    atomic_torch_save(path, _canonical(state))


def _check_writable(out: Path) -> None:
    """Fail before any computing when the output folder cannot be written."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"output folder {out} exists and is a file; choose another --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise ValueError(f"output folder {out} is not writable: {exc.strerror or exc}") from exc


def train(config: TrainConfig, out_dir: str | Path | None = None, **kwargs: Any) -> TrainResult:
    """Build a :class:`Trainer` and run it (keyword arguments as :class:`Trainer`, plus ``stop_after``)."""
    stop_after = kwargs.pop("stop_after", None)
    return Trainer(config, out_dir, **kwargs).run(stop_after=stop_after)


# --------------------------------------------------------------------------- plots
def plot_reward_curves(history: list[dict[str, float]], path: str | Path, title: str = "") -> Path:
    """Reward per step of every seat against updates (mean over seeds, shaded +-1 std)."""
    from lola_zoo.plotting import _pyplot, save_figure

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    x = [r["update"] for r in history]
    seats = sum(1 for k in (history[0] if history else {}) if k.startswith("reward_") and not k.endswith("_std"))
    for i in range(max(seats, 2) if history else 2):
        m = [r[f"reward_{i}"] for r in history]
        s = [r.get(f"reward_{i}_std", 0.0) for r in history]
        line, = ax.plot(x, m, label=f"player_{i}", lw=1.4)
        ax.fill_between(x, [a - b for a, b in zip(m, s)], [a + b for a, b in zip(m, s)], color=line.get_color(),
                        alpha=0.18, lw=0)
    ax.set_xlabel("update")
    ax.set_ylabel("reward per step")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    return save_figure(fig, path)


def plot_coin_curves(
    histories: dict[str, list[dict[str, float]]],
    path: str | Path,
    title: str = "",
    paper: dict[str, float] | None = None,
) -> Path:
    """Own-coin share and points per episode against updates, one line per setting (mean, +-1 std over seeds)."""
    from lola_zoo.plotting import _pyplot, save_figure

    if not histories:
        raise ValueError("plot_coin_curves needs at least one history")
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10.0, 3.8))
    panels = (("own_coin_share", "share of own-colour coins picked"),
              ("points_mean", "points per episode (mean of players)"))
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


# --------------------------------------------------------------------------- sweep kind
def train_cell(config: Mapping[str, Any]) -> dict[str, Any]:
    """Sweep kind ``train``: one engine run from a plain-dict :class:`TrainConfig`; its final means as flat metrics."""
    cfg = dict(config)
    preset = cfg.pop("preset", None)
    if preset is not None:
        c = preset_config(str(preset), cfg.pop("game", "ipd"), tuple(cfg.pop("agents", ("lola", "lola"))), **cfg)
    else:
        c = TrainConfig.from_dict(cfg)
    torch.set_num_threads(1)  # small batched ops: threads only add contention on a worker
    summary = train(c).summary
    metrics: dict[str, Any] = {}
    for key, value in summary.items():
        if isinstance(value, dict) and "mean" in value:
            metrics[key] = value["mean"]
            metrics[f"{key}_std"] = value["std"]
        elif isinstance(value, dict):
            for sub, v in value.items():
                if isinstance(v, dict) and "mean" in v:
                    metrics[f"{key}.{sub}"] = v["mean"]
        elif isinstance(value, float):
            metrics[key] = value
    return metrics
