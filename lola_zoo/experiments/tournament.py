"""Round-robin tournament of learners in an iterated matrix game (Foerster et al. 2018, Sec. 5.1).

Every pair of entrants — learners and fixed strategies — meets in ``runs`` independent matches,
batched, and *learns together from scratch* (the paper's protocol).  A match is ``rounds`` rounds;
in each round

1. both play ``steps_per_round`` steps of the game against each other; online learners (NL-Q,
   JAL-Q, FP) learn from every step, as in the reference tournament;
2. the pair is scored by the exact per-step value ``(1 - gamma) V`` of their current memory-1
   policies (no sampling noise);
3. every other learner takes one update against a snapshot of its opponent's current policy,
   simultaneously: exact-gradient learners (NL-Ex, LOLA-Ex, higher-order LOLA, SOS) on the exact
   value with the opponent's logits, policy-gradient learners (NL-PG, LOLA-PG, LOLA-OM) on
   episodes sampled against it.

A learner that is not an exact learner shows its opponents the log-probabilities of its policy as
logits, which is what the reference code did for its tabular baselines.  A row's score against a
column is the row player's per-step value averaged over all rounds: the reward it *earned while
learning*.  Matches are the cells of a :mod:`~lola_zoo.experiments.sweep`, so a tournament runs on a
process pool or Ray, appends results atomically and resumes after an interruption.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Sequence, cast

import numpy as np
import torch

import lola_zoo
from lola_zoo.agents.exact_rules import Derivatives, derivatives, make_learner
from lola_zoo.agents.strategies import AlwaysCooperate, AlwaysDefect, TitForTat
from lola_zoo.agents.tabular import TABULAR_LEARNERS
from lola_zoo.envs.games import MatrixGame
from lola_zoo.experiments.report import t_quantile_975

if TYPE_CHECKING:  # imported where used: the tournament module loads without the M-FOS stack
    from lola_zoo.agents.mfos import MFOSAgent, MFOSConfig

__all__ = [
    "TournamentConfig",
    "Entrant",
    "ENTRANTS",
    "PAPER_ENTRANTS",
    "DEFAULT_ENTRANTS",
    "N_PLAYER_ENTRANTS",
    "play_field_match",
    "FIXED_ENTRANTS",
    "register_entrant",
    "mfos_training_config",
    "trained_mfos",
    "play_match",
    "play_league",
    "league_cell",
    "run_tournament",
    "TournamentResult",
    "PAPER_PRESET",
    "PAPER_FIGURE4",
    "paper_preset_configs",
    "paper_comparison",
    "format_paper_comparison",
    "save_paper_comparison",
]

DTYPE = torch.float64
# Policy-gradient learners sample and backpropagate through runs x episodes x steps tensors: single
# precision halves that memory traffic, and sampled gradients carry far more noise than rounding.
PG_DTYPE = torch.float32
_EPS = 1e-6  # probabilities are clipped before turning into logits, as the reference did


@dataclass(frozen=True)
class TournamentConfig:
    """Settings of one tournament; the defaults are the paper's IPD tournament (see docs/tournament.md).

    :param game: registered iterated matrix game. With more than two players a match is one *focal*
        entrant (seat 0) against N − 1 copies of a *field* entrant, every ordered pair, exact-value
        entrants and Random only (:func:`play_field_match`).
    :param entrants: entrant names (see :data:`ENTRANTS`).
    :param mode: ``"round-robin"`` (every pair, self-play included) or ``"against-fixed"`` (every
        learner against every fixed strategy).
    :param runs: independent matches per pair (batched).
    :param rounds: rounds per match.
    :param steps_per_round: game steps played per round (online learners learn from each).
    :param gamma: discount of the values and of every learner.
    :param lr: learning rate of exact and policy-gradient learners (the reference: 1).
    :param eta: LOLA's anticipated opponent learning rate.
    :param pg_episodes: episodes per run sampled for one policy-gradient update.
    :param pg_episode_length: steps per sampled episode.
    :param pg_lr: learning rate of the policy-gradient learners.
    :param sb3_steps_per_round: environment steps each SB3 model trains per round (SB3 entrants).
    :param sb3_episode_length: episode length of the SB3 models' single-agent view.
    :param seed: base seed; each league derives its own.
    :param cells: the pairs are split into this many leagues, each one sweep cell that plays its pairs
        batched in one process (:func:`play_league`): more cells resume at a finer grain and spread
        over more workers, fewer share more work per call.  A pair's result depends on the split, as
        on the seed.
    :param device: ``cpu`` or ``auto`` (= CPU: matches are launch-bound tables); ``cuda`` is refused with a reason.
    """

    game: str = "ipd"
    entrants: tuple[str, ...] = ()
    mode: str = "round-robin"
    runs: int = 16
    rounds: int = 150
    steps_per_round: int = 20
    gamma: float = 0.96
    lr: float = 1.0
    eta: float = 1.0
    pg_episodes: int = 32
    pg_episode_length: int = 25
    pg_lr: float = 1.0
    sb3_steps_per_round: int = 64
    sb3_episode_length: int = 32
    seed: int = 0
    cells: int = 2
    device: str = "cpu"

    def __post_init__(self) -> None:
        from lola_zoo.devices import resolve_device

        if self.device != "auto" and resolve_device(self.device).type != "cpu":
            # Matches hold runs x 5 tables: launch-bound on a GPU, so they stay on the CPU (say so, no silent switch).
            raise ValueError(f"tournament matches run on the CPU (tables of runs x 5 numbers); got device "
                             f"{self.device!r} — use --device cpu or auto")
        game = lola_zoo.game(self.game)
        if isinstance(self.entrants, str):  # tuple("TFT,AllD") would be its letters
            raise TypeError(f"entrants must be a sequence of names, e.g. ('TFT', 'AllD'), got the string {self.entrants!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        names = tuple(self.entrants) or (DEFAULT_ENTRANTS if game.n_players == 2 else N_PLAYER_ENTRANTS)
        for name in names:
            entrant_factory(name)
        if game.n_players > 2:
            unfit = [n for n in names if not _plays_n_player(entrant_factory(n))]
            if unfit:
                raise ValueError(f"{self.game!r} has {game.n_players} players; N-player tournaments take exact-value "
                                 f"entrants and Random, not {unfit}")
            if self.mode != "round-robin":
                raise ValueError("N-player tournaments are round robins of focal entrants against fields")
        if len(set(names)) != len(names):
            raise ValueError(f"entrants must be distinct, got {names}")
        object.__setattr__(self, "entrants", names)
        if self.mode not in ("round-robin", "against-fixed"):
            raise ValueError(f"mode must be 'round-robin' or 'against-fixed', got {self.mode!r}")
        if not 0.0 < self.gamma < 1.0:
            raise ValueError(f"gamma must lie in (0, 1), got {self.gamma!r}")
        for name in ("runs", "rounds", "steps_per_round", "pg_episodes", "pg_episode_length",
                     "sb3_steps_per_round", "sb3_episode_length", "cells"):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("lr", "eta", "pg_lr"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")

    def pairs(self) -> list[tuple[str, str]]:
        """The matches: unordered pairs with self-play (round robin), learner x fixed strategy, or
        (N-player games) every ordered (focal, field) pair."""
        names = list(self.entrants)
        if lola_zoo.game(self.game).n_players > 2:
            return [(a, b) for a in names for b in names]
        if self.mode == "round-robin":
            return [(a, b) for i, a in enumerate(names) for b in names[i:]]
        fixed = [n for n in names if n in FIXED_ENTRANTS]
        learners = [n for n in names if n not in FIXED_ENTRANTS]
        if not fixed or not learners:
            raise ValueError("against-fixed mode needs at least one learner and one fixed strategy among the entrants")
        return [(a, b) for a in learners for b in fixed]

    def leagues(self) -> list[list[tuple[str, str]]]:
        """The pairs split into ``cells`` leagues, dealt in turn so each league gets a share of every entrant."""
        pairs = self.pairs()
        count = min(self.cells, len(pairs))
        return [pairs[k::count] for k in range(count)]


@dataclass
class OpponentView:
    """A snapshot of one player's policy, as its opponent may read it (white-box)."""

    probs: torch.Tensor  # (B, S, n)
    logits: torch.Tensor  # (B, S) binary form for 2-action games, else (B, S, n)


def logits_from_probs(probs: torch.Tensor) -> torch.Tensor:
    """Logits of a policy table: log-odds of action 0 for two actions, log-probabilities otherwise."""
    p = probs.clamp(_EPS, 1 - _EPS)
    if probs.shape[-1] == 2:
        return torch.log(p[..., 0]) - torch.log(p[..., 1])
    return torch.log(p)


class Entrant(ABC):
    """One side of a batched match: a policy per run, and how it learns.

    :param game: the stage game.
    :param seat: 0 or 1.
    :param config: the tournament settings.
    :param generator: random generator of this entrant (initialisation, sampling).
    """

    online: ClassVar[bool] = False  # learns from every step of the match itself
    fixed: ClassVar[bool] = False

    def __init__(self, game: MatrixGame, seat: int, config: TournamentConfig, generator: torch.Generator) -> None:
        self.game, self.seat, self.config, self.generator = game, seat, config, generator
        self.runs = config.runs
        self.n = game.n_actions[seat]
        self.n_states = game.n_states

    @abstractmethod
    def policy(self) -> torch.Tensor:
        """Current memory-1 policy ``(B, S, n)``."""

    def logits(self) -> torch.Tensor:
        """Differentiable-parameter view for exact learners (default: from the probabilities)."""
        return logits_from_probs(self.policy())

    def view(self) -> OpponentView:
        """A detached snapshot for the opponent's update."""
        return OpponentView(self.policy().detach().clone(), self.logits().detach().clone())

    def act(self, states: torch.Tensor) -> torch.Tensor:
        """Sample actions ``(B,)`` in own-perspective states ``(B,)``."""
        probs = self.policy()[torch.arange(self.runs), states]
        return torch.multinomial(probs, 1, generator=self.generator).squeeze(-1)

    def observe(self, states: torch.Tensor, own: torch.Tensor, other: torch.Tensor, rewards: torch.Tensor) -> None:
        """Online learning from one step (only online entrants use it)."""

    def learn(self, opponent: OpponentView) -> None:
        """One update against a snapshot of the opponent (non-online learners)."""


class FixedEntrant(Entrant):
    """A fixed memory-1 strategy in every run."""

    fixed = True
    table: ClassVar[staticmethod[[MatrixGame], torch.Tensor]]

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._probs = self.table(self.game).to(DTYPE).expand(self.runs, -1, -1).clone()

    def policy(self) -> torch.Tensor:
        """The constant table."""
        return self._probs


def _fixed(strategy_cls: type) -> type[FixedEntrant]:
    def table(game: MatrixGame) -> torch.Tensor:
        if game.n_actions != (2, 2):
            raise ValueError(f"{strategy_cls.__name__} needs a 2x2 game, got actions {game.n_actions}")
        return torch.tensor(strategy_cls().probs)

    return type(strategy_cls.__name__ + "Entrant", (FixedEntrant,), {"table": staticmethod(table)})


class RandomEntrant(FixedEntrant):
    """Uniformly random play."""

    @staticmethod
    def table(game: MatrixGame) -> torch.Tensor:  # type: ignore[override]
        n = game.n_actions[0]
        return torch.full((game.n_states, n), 1.0 / n)


class ExactEntrant(Entrant):
    """An exact-gradient learner (NL-Ex, LOLA-Ex, higher-order LOLA, SOS) on the closed-form value."""

    rule: ClassVar[str] = "nl"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        from lola_zoo.experiments.exact import make_value_fn

        shape = (self.runs, self.n_states) if self.n == 2 else (self.runs, self.n_states, self.n)
        self.theta = torch.randn(shape, generator=self.generator, dtype=DTYPE)  # N(0, 1), the reference init
        self.learner, self.step = self._learner()
        self.value_fn = make_value_fn(self.game, self.config.gamma)

    def _learner(self) -> tuple[Any, float]:
        """The rule and the step size it is played with (the tournament's lr)."""
        return make_learner(self.rule, eta=self.config.eta, lr=self.config.lr), self.config.lr

    def logits(self) -> torch.Tensor:
        """Its own parameters."""
        return self.theta

    def policy(self) -> torch.Tensor:
        """Sigmoid (two actions) or softmax of the logits."""
        if self.theta.dim() == 2:
            p = torch.sigmoid(self.theta)
            return torch.stack([p, 1 - p], -1)
        return torch.softmax(self.theta, -1)

    def learn(self, opponent: OpponentView) -> None:
        """``theta += step * direction`` with the opponent's logits in its seat."""
        params = [self.theta, opponent.logits.to(DTYPE)]
        if self.seat == 1:
            params.reverse()
        d = derivatives(self.value_fn, params, [self.learner])  # closed form on 2x2 games
        self.theta = (self.theta + self.step * self.learner.direction(d, self.seat)).detach()

    def learn_n(self, logits: Sequence[torch.Tensor]) -> None:
        """N players: ``theta += step * direction`` with every other seat's logits in place (corrections sum over them)."""
        params = [self.theta if i == self.seat else t.to(DTYPE) for i, t in enumerate(logits)]
        d = Derivatives(self.value_fn, params, create_graph=self.learner.second_order)
        self.theta = (self.theta + self.step * self.learner.direction(d, self.seat)).detach()


class COLAEntrant(ExactEntrant):
    """COLA's learned update functions (trained once per process and game, then shared) on exact values."""

    rule = "cola"
    #: training settings of the entrant's update functions (None: COLAConfig's defaults)
    training: ClassVar[Any] = None

    def _learner(self) -> tuple[Any, float]:
        """COLA's learned rule, played with its training's eta (``theta += eta h``), whatever the tournament's lr."""
        from lola_zoo.agents.cola import cola_learner, trained_cola

        update = trained_cola(self.config.game, self.config.gamma, self.training)
        return cola_learner(update), update.config.eta


def mfos_training_config(**overrides: Any) -> MFOSConfig:
    """The M-FOS entrant's default training: a CPU-sized run against a naive learner (about 30 s on 2 cores)."""
    from lola_zoo.agents.mfos import MFOSConfig

    # Measured on the 2-core development machine (one thread): 25-31 s, and seeds 0, 1, 2 all learn
    # to exploit NL (-0.56 to -0.68 per step); 64 x 100 with hidden 32 was faster but failed for seeds 1 and 2.
    settings: dict[str, Any] = {"horizon": 50, "batch": 128, "iterations": 100, "hidden": 64, "opponent": "nl", "seed": 0}
    return MFOSConfig(**{**settings, **overrides})


def _seated_game(game: MatrixGame, seat: int) -> MatrixGame:
    """``game`` with ``seat`` moved to seat 0, where MetaGame puts its meta-agent (``game`` itself when that changes nothing)."""
    if seat == 0:
        return game
    p = game.payoffs
    # New seat 0 is old seat 1: its payoff for (own a, other b) is p[1][b, a], i.e. p[1].T.
    swapped = np.stack([p[1].T, p[0].T])
    if np.array_equal(swapped, p):  # symmetric games: seat 1's meta-agent is seat 0's, trained once
        return game
    return MatrixGame(f"{game.name} (seats swapped)", swapped, tuple(reversed(game.action_names)), game.description)


#: trained meta-agents of this process by (game id, gamma, seats swapped, config), as cola.trained_cola keeps its rules
_MFOS_TRAINED: dict[tuple[str, float, bool, MFOSConfig], MFOSAgent] = {}


def trained_mfos(game: str, gamma: float, seat: int = 0, config: MFOSConfig | None = None) -> MFOSAgent:
    """An M-FOS meta-agent for ``seat`` of ``game``, trained once per process per (game, gamma, seat role, config).

    ``config`` defaults to :func:`mfos_training_config`; its ``gamma`` is replaced by ``gamma`` so the
    meta-agent learns on the values it is scored by.  In a symmetric game both seats share one agent.
    """
    from lola_zoo.agents.mfos import train_mfos
    from lola_zoo.devices import torch_threads

    matrix = lola_zoo.game(game)
    if matrix.n_players != 2 or tuple(matrix.n_actions) != (2, 2):
        raise ValueError(f"the M-FOS entrant needs a two-player 2x2 game; {game!r} has actions {matrix.n_actions}")
    config = replace(config or mfos_training_config(), gamma=float(gamma))
    seated = _seated_game(matrix, seat)
    key = (game, float(gamma), seated is not matrix, config)
    if key not in _MFOS_TRAINED:
        # One thread: the agent must not depend on the caller's thread count (a league cell pins 1, a
        # direct play_match does not), so every process trains the same weights from the same seed.
        with torch_threads(1):
            agent, _ = train_mfos(seated, config)
        agent.eval()
        agent.requires_grad_(False)
        _MFOS_TRAINED[key] = agent
    return _MFOS_TRAINED[key]


class MFOSEntrant(Entrant):
    """M-FOS (Lu et al. 2022): a meta-agent, trained against a naive learner, picks its memory-1 policy each round.

    Each round it plays the mean of its meta-agent's Gaussian over logits (deterministic) for the
    observation MetaGame builds: its own previous policy, the opponent's policy and the fraction of the
    match played.  Like every learner here it moves simultaneously, so the opponent's policy it sees is
    the snapshot of the round just played (MetaGame shows the opponent after its update).  In round 0 it
    has seen nothing: it answers a uniform opponent, as its own "previous" policy is uniform.
    """

    #: training settings of the meta-agent (None: :func:`mfos_training_config`); gamma is the tournament's
    training: ClassVar[MFOSConfig | None] = None

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.agent = trained_mfos(self.config.game, self.config.gamma, self.seat, self.training)
        self.round = 0
        uniform = torch.full((self.runs, self.n_states), 0.5, dtype=DTYPE)
        self.theta = self._meta_logits(uniform, uniform)

    def _meta_logits(self, own: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
        """The meta-agent's mean logits ``(B, S)`` for P(action 0) of self and opponent and the match fraction."""
        frac = torch.full((self.runs, 1), self.round / self.config.rounds, dtype=DTYPE)
        obs = torch.cat([own, other, frac], dim=1).float()  # the network is float32, as in training
        with torch.no_grad():
            return self.agent.distribution(obs).mean.to(DTYPE)

    def logits(self) -> torch.Tensor:
        """The meta-agent's output itself, as exact opponents saw it in training (no clipping)."""
        return self.theta

    def policy(self) -> torch.Tensor:
        """Sigmoid of the logits, in its own perspective (states start, CC, CD, DC, DD, own action first)."""
        p = torch.sigmoid(self.theta)
        return torch.stack([p, 1 - p], -1)

    def learn(self, opponent: OpponentView) -> None:
        """Advance one round: the next policy from this round's own policy and the opponent's snapshot."""
        self.round += 1
        # Both views are in their owner's perspective, as MetaGame's observation is, in either seat.
        self.theta = self._meta_logits(torch.sigmoid(self.theta), opponent.probs[..., 0].to(DTYPE))


class PGEntrant(Entrant):
    """A policy-gradient learner (NL-PG, LOLA-PG, LOLA-OM) on episodes sampled against the opponent."""

    #: None: naive; "white-box": LOLA-PG; "black-box": LOLA-OM; or the engine's kind "aa", "pola", "pola-om", "loqa"
    mode: ClassVar[str | None] = None

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        from lola_zoo.agents.policies import Memory1Policy
        from lola_zoo.envs.batched import BatchedIteratedGame
        from lola_zoo.experiments.engine import build_learner

        form: Literal["sigmoid", "softmax"] = "sigmoid" if self.n == 2 else "softmax"
        m = self.game.n_actions[1 - self.seat]
        self.policy_module = Memory1Policy(self.n_states, self.n, form, runs=self.runs, generator=self.generator,
                                           dtype=PG_DTYPE)
        # The opponent as this learner sees it: its logits are overwritten from each snapshot.
        self.opponent_module = Memory1Policy(self.n_states, m, form, runs=self.runs, init_std=0.0, dtype=PG_DTYPE)
        self.opponent_module.requires_grad_(False)
        # The same learners the training engine builds for its seats.
        kind = cast(str, {None: "nl", "white-box": "lola", "black-box": "lola-om"}.get(self.mode, self.mode))
        self.learner = build_learner(kind, self.policy_module, self.opponent_module, lr=self.config.pg_lr,
                                     gamma=self.config.gamma, eta=self.config.eta)
        self.env = BatchedIteratedGame(self.game, (self.runs, self.config.pg_episodes), self.config.pg_episode_length,
                                       dtype=PG_DTYPE)
        if getattr(self.learner, "resample", False):  # POLA-DiCE: fresh episodes for every proximal step
            from lola_zoo.envs.batched import resampler, rollout_tabular

            self.learner.sampler = resampler(
                self.policy_module, self.opponent_module, self.seat,
                lambda order: rollout_tabular(self.env, [m.probs() for m in order], self.generator),  # type: ignore[operator]
            )

    def policy(self) -> torch.Tensor:
        """The memory-1 table (in double precision, as every other entrant's)."""
        return self.policy_module.probs().detach().to(DTYPE)

    def learn(self, opponent: OpponentView) -> None:
        """Sample episodes against the opponent's snapshot, then take one (LOLA-)PG step."""
        from lola_zoo.envs.batched import rollout_tabular

        with torch.no_grad():
            logits = opponent.logits
            self.opponent_module.logits.copy_(logits if logits.shape == self.opponent_module.logits.shape
                                              else torch.log(opponent.probs.clamp_min(_EPS)))  # copy_ casts
            # Both sides are memory-1 tables: the table rollout samples the same episodes in distribution.
            tables = [self.policy_module.probs(), self.opponent_module.probs()]
        if self.seat == 1:
            tables.reverse()
        episodes = rollout_tabular(self.env, tables, self.generator)
        self.learner.update(episodes, self.seat)


class TabularEntrant(Entrant):
    """An online tabular learner (NL-Q, JAL-Q, PHC, WoLF-PHC, FP) learning from every step of the match."""

    online = True
    key: ClassVar[str] = "nl-q"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        cls = TABULAR_LEARNERS[self.key]
        # Each learner keeps its own reference defaults (PHC's policy steps differ from WoLF's); the
        # tournament sets only the shared discount.
        cfg = replace(cls.default_config(), gamma=self.config.gamma)
        self.learner = cls(self.game, self.seat, self.runs, cfg, self.generator, DTYPE)

    def policy(self) -> torch.Tensor:
        """Epsilon-greedy table."""
        return self.learner.policy()

    def act(self, states: torch.Tensor) -> torch.Tensor:
        """Epsilon-greedy actions."""
        return self.learner.act(states)

    def observe(self, states: torch.Tensor, own: torch.Tensor, other: torch.Tensor, rewards: torch.Tensor) -> None:
        """Tabular update."""
        self.learner.observe(states, own, other, rewards)


class SB3Entrant(Entrant):
    """An SB3 model per run (PPO by default) that keeps training against the opponent's current policy.

    SB3 has no batch-of-runs dimension, so this entrant loops over its runs in Python and costs
    far more than the others; it is not in the default field (``--entrants ...,PPO`` adds it).
    Each round every model trains ``sb3_steps_per_round`` steps in a single-agent view whose other
    seat plays a snapshot of the opponent's memory-1 policy, one-hot observations.
    """

    algo: ClassVar[str] = "ppo"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        from lola_zoo.agents.sb3 import SingleAgentView, _algorithm_class
        from lola_zoo.agents.strategies import Memory1Strategy

        cls = _algorithm_class(self.algo)
        uniform = np.full((self.n_states, self.game.n_actions[1 - self.seat]), 1.0 / self.game.n_actions[1 - self.seat])
        base_seed = int(torch.randint(0, 2**31 - 1, (1,), generator=self.generator))
        self.opponents, self.models = [], []
        for b in range(self.runs):
            opponent = Memory1Strategy(uniform, name="snapshot")
            opponent.seed(base_seed + b)
            view = SingleAgentView(
                self.config.game, seat=self.seat, opponents=opponent, update_opponents=False,
                env_kwargs={"max_steps": self.config.sb3_episode_length, "observation_type": "onehot"},
            )
            kwargs: dict[str, Any] = {"gamma": self.config.gamma, "seed": base_seed + b, "verbose": 0,
                                      "policy_kwargs": {"net_arch": [16]}}
            if self.algo in ("ppo", "a2c"):
                kwargs["n_steps"] = self.config.sb3_steps_per_round
            if self.algo == "ppo":
                kwargs["batch_size"] = min(64, self.config.sb3_steps_per_round)
            self.opponents.append(opponent)
            self.models.append(cls("MlpPolicy", view, **kwargs))
        self._states = list(np.eye(self.n_states, dtype=np.float32))
        self._refresh()

    def _refresh(self) -> None:
        from lola_zoo.agents.sb3 import policy_table

        self._probs = torch.tensor(np.stack([policy_table(m, self._states) for m in self.models]), dtype=DTYPE)

    def policy(self) -> torch.Tensor:
        """Each model's action probabilities in every memory-1 state."""
        return self._probs

    def learn(self, opponent: OpponentView) -> None:
        """Every model trains a few steps against its run's snapshot of the opponent."""
        for b, (model, snapshot) in enumerate(zip(self.models, self.opponents)):
            snapshot.load_state_dict({"probs": opponent.probs[b].numpy()})
            model.learn(self.config.sb3_steps_per_round, reset_num_timesteps=False)
        self._refresh()


def _subclass(base: type, name: str, **attrs: Any) -> type:
    return type(name, (base,), attrs)


ENTRANTS: dict[str, tuple[type[Entrant], str]] = {
    "NL-Ex": (_subclass(ExactEntrant, "NLEx", rule="nl"), "naive learner, exact gradients"),
    "LOLA-Ex": (_subclass(ExactEntrant, "LOLAEx", rule="lola"), "LOLA, exact gradients (first-order shaping term)"),
    "HOLA-Ex": (_subclass(ExactEntrant, "HOLAEx", rule="hola"), "higher-order LOLA: assumes a LOLA opponent"),
    "SOS-Ex": (_subclass(ExactEntrant, "SOSEx", rule="sos"), "stable opponent shaping (Letcher et al. 2019)"),
    "POLA-Ex": (_subclass(ExactEntrant, "POLAEx", rule="pola"),
                "proximal LOLA (Zhao et al. 2022), exact values, 2 inner and 2 outer proximal steps"),
    "COLA-Ex": (COLAEntrant, "COLA (Willi et al. 2022): learned consistent updates, trained at first use (about 30 s)"),
    "M-FOS": (MFOSEntrant, "model-free opponent shaping (Lu et al. 2022): PPO meta-agent trained against NL at first "
                           "use (about 30 s), 2x2 games"),
    "NL-PG": (_subclass(PGEntrant, "NLPG", mode=None), "naive policy gradient (REINFORCE with baseline)"),
    "LOLA-PG": (_subclass(PGEntrant, "LOLAPG", mode="white-box"), "LOLA with DiCE policy gradients, white-box"),
    "LOLA-OM": (_subclass(PGEntrant, "LOLAOM", mode="black-box"), "LOLA-PG with opponent modelling (black-box)"),
    "AA-PG": (_subclass(PGEntrant, "AAPG", mode="aa"), "Advantage Alignment (Duque et al. 2024), beta 1, from samples"),
    "POLA-DiCE": (_subclass(PGEntrant, "POLADiCEEntrant", mode="pola"),
                  "proximal LOLA (Zhao et al. 2022) from samples, 2 inner steps, beta 1"),
    "POLA-OM": (_subclass(PGEntrant, "POLAOMEntrant", mode="pola-om"), "POLA-DiCE with an opponent model (black-box)"),
    "LOQA-PG": (_subclass(PGEntrant, "LOQAPG", mode="loqa"), "LOQA (Aghajohari et al. 2024) from samples, scale 1"),
    "NL-Q": (_subclass(TabularEntrant, "NLQ", key="nl-q"), "independent Q-learning, epsilon-greedy"),
    "JAL-Q": (_subclass(TabularEntrant, "JALQ", key="jal-q"), "joint-action learner (Claus & Boutilier 1998)"),
    "PHC": (_subclass(TabularEntrant, "PHC", key="phc"),
            "policy hill-climbing: Q-learning + policy stepped toward the greedy action (Bowling & Veloso 2002)"),
    "WoLF-PHC": (_subclass(TabularEntrant, "WoLFPHC", key="wolf-phc"),
                 "PHC with a variable step: slow while winning, fast while losing (Bowling & Veloso 2002)"),
    "FP": (_subclass(TabularEntrant, "FP", key="fp"), "fictitious play with an exact best response"),
    "PPO": (_subclass(SB3Entrant, "PPOEntrant", algo="ppo"), "SB3 PPO, one model per run (slow; opt-in)"),
    "A2C": (_subclass(SB3Entrant, "A2CEntrant", algo="a2c"), "SB3 A2C, one model per run (slow; opt-in)"),
    "TFT": (_fixed(TitForTat), "tit-for-tat"),
    "AllD": (_fixed(AlwaysDefect), "always defect"),
    "AllC": (_fixed(AlwaysCooperate), "always cooperate"),
    "Random": (RandomEntrant, "uniformly random"),
}

#: the reference code's tournament (lola/tournament.py): exact LOLA and NL, NL-Q, JAL-Q, PHC, WoLF-PHC
PAPER_ENTRANTS: tuple[str, ...] = ("NL-Q", "JAL-Q", "PHC", "WoLF-PHC", "NL-Ex", "LOLA-Ex")
FIXED_ENTRANTS: tuple[str, ...] = ("TFT", "AllD", "AllC", "Random")
#: the default field of N-player games (exact-value rules that sum their corrections over opponents, and Random)
N_PLAYER_ENTRANTS: tuple[str, ...] = ("NL-Ex", "LOLA-Ex", "SOS-Ex", "Random")
DEFAULT_ENTRANTS: tuple[str, ...] = (
    "NL-Ex", "LOLA-Ex", "HOLA-Ex", "SOS-Ex", "NL-PG", "LOLA-PG", "LOLA-OM", "NL-Q", "JAL-Q", "FP", *FIXED_ENTRANTS,
)


def register_entrant(name: str, cls: type[Entrant], description: str = "", override: bool = False) -> None:
    """Add an entrant type (a subclass of :class:`Entrant`) under ``name``."""
    if name in ENTRANTS and not override:
        raise ValueError(f"entrant {name!r} is already registered; pass override=True to replace it")
    ENTRANTS[name] = (cls, description)


def entrant_factory(name: str) -> type[Entrant]:
    """The entrant class registered under ``name`` (case-insensitive)."""
    lookup = {k.lower(): k for k in ENTRANTS}
    key = lookup.get(str(name).lower())
    if key is None:
        import difflib

        close = difflib.get_close_matches(str(name), list(ENTRANTS), n=3, cutoff=0.4)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise KeyError(f"unknown entrant {name!r}{hint} (known: {', '.join(ENTRANTS)})")
    return ENTRANTS[key][0]


def play_match(config: TournamentConfig, row: str, col: str, seed: int = 0, progress: bool = False) -> dict[str, Any]:
    """Play ``config.runs`` batched matches of ``row`` (seat 0) against ``col`` (seat 1), learning together."""
    return play_league(config, [(row, col)], seed=seed, progress=progress)[0]


def _plays_n_player(cls: type[Entrant]) -> bool:
    """Whether an entrant plays games of more than two players: exact-value rules (not COLA's 2x2 rule) and Random."""
    return (issubclass(cls, ExactEntrant) and not issubclass(cls, COLAEntrant)) or issubclass(cls, RandomEntrant)


def play_field_match(config: TournamentConfig, focal: str, field: str, seed: int = 0) -> dict[str, Any]:
    """N-player games: ``focal`` in seat 0 against N − 1 independent copies of ``field``, learning together.

    The result has the two-player match's keys: ``row`` is the focal entrant's reward per step,
    ``col`` the field's (its copies' mean); ``n_players`` marks it, so the cross table fills the
    focal entrant's cell only (its field's cell is another match).
    """
    game = lola_zoo.game(config.game)
    n_players = game.n_players
    players: list[Entrant] = []
    for seat in range(n_players):
        name = focal if seat == 0 else field
        gen = torch.Generator().manual_seed(seed * 1_000_003 + _stable_id(f"{focal}>{field}|{seat}"))
        players.append(entrant_factory(name)(game, seat, config, gen))
    from lola_zoo.envs.exact import exact_value_per_step

    values = torch.zeros(config.rounds, config.runs, n_players, dtype=DTYPE)
    for r in range(config.rounds):
        values[r] = exact_value_per_step(game, [p.policy().detach() for p in players], config.gamma, kind="probs")
        logits = [p.logits().detach().clone() for p in players]  # simultaneous: every view before any update
        for p in players:
            if isinstance(p, ExactEntrant):
                p.learn_n(logits)
    probs = [p.policy().detach() for p in players]
    final = exact_value_per_step(game, probs, config.gamma, kind="probs")
    if not torch.isfinite(values).all():
        raise RuntimeError(f"{focal} vs a field of {field}: values became non-finite")
    mean = values.mean(0)
    field_mean, field_final = mean[:, 1:].mean(-1), final[:, 1:].mean(-1)
    return {
        "row": focal, "col": field, "n_players": n_players,
        "row_runs": mean[:, 0].tolist(), "col_runs": field_mean.tolist(),
        "row_final_runs": final[:, 0].tolist(), "col_final_runs": field_final.tolist(),
        "row_mean": float(mean[:, 0].mean()), "col_mean": float(field_mean.mean()),
        "curve_row": values[:, :, 0].mean(1).tolist(), "curve_col": values[:, :, 1:].mean((1, 2)).tolist(),
        "final_policy_row": probs[0].mean(0)[:, 0].tolist(), "final_policy_col": probs[1].mean(0)[:, 0].tolist(),
    }


def _stable_id(text: str) -> int:
    """A seed offset from a name, the same in every process (``hash()`` is salted per process)."""
    return sum(ord(c) * (j + 1) for j, c in enumerate(text)) % 100_003


def play_league(config: TournamentConfig, pairs: Sequence[tuple[str, str]], seed: int = 0,
                progress: bool = False) -> list[dict[str, Any]]:
    """Play every pair at once; one result dict per pair, in order.

    One entrant object per (entrant, seat) holds all its matches as batch rows, so each step, exact
    update and rollout runs once per (entrant, seat) instead of once per match: that cuts the
    per-call overhead that dominates these tiny tables by the number of matches an entrant plays.
    Each (entrant, seat) draws from its own generator, so a pair's result depends on the seed and on
    which pairs share its league (as :func:`run_tournament` fixes them), never on the process.
    """
    game = lola_zoo.game(config.game)
    B, M = config.runs, len(pairs)
    if M == 0:
        raise ValueError("play_league needs at least one pair")
    if game.n_players > 2:
        return [play_field_match(config, a, b, seed) for a, b in pairs]
    slots: dict[tuple[str, int], list[int]] = {}
    for k, (a, b) in enumerate(pairs):
        slots.setdefault((a, 0), []).append(k)
        slots.setdefault((b, 1), []).append(k)
    players: dict[tuple[str, int], Entrant] = {}
    rows: dict[tuple[str, int], torch.Tensor] = {}  # each object's rows in the global (match, run) order
    for (name, seat), ks in slots.items():
        gen = torch.Generator().manual_seed(seed * 1_000_003 + _stable_id(f"{name}|{seat}"))
        players[(name, seat)] = entrant_factory(name)(game, seat, replace(config, runs=B * len(ks)), gen)
        rows[(name, seat)] = (torch.tensor(ks).unsqueeze(-1) * B + torch.arange(B)).reshape(-1)
    N = M * B
    n = game.n_actions
    payoff = torch.tensor(game.payoffs, dtype=DTYPE)

    def gather(seat: int, what: str) -> torch.Tensor:
        out: torch.Tensor | None = None
        for key, p in players.items():
            if key[1] == seat:
                part = (p.policy() if what == "probs" else p.logits()).detach().to(DTYPE)
                if out is None:
                    out = torch.empty((N, *part.shape[1:]), dtype=DTYPE)
                out[rows[key]] = part
        assert out is not None  # every seat has a player in every pair
        return out

    # Online steps matter only in pairs with an online learner: they run on those rows alone.  A
    # non-online player's policy cannot change within a round, so its rows sample from one table.
    online = [key for key, p in players.items() if p.online]
    online_pairs = sorted({k for key in online for k in slots[key]})
    live = (torch.tensor(online_pairs, dtype=torch.long).unsqueeze(-1) * B + torch.arange(B)).reshape(-1)
    position = torch.full((N,), -1, dtype=torch.long)
    position[live] = torch.arange(len(live))
    local = {key: position[rows[key]] for key in online}  # an online player's rows inside `live`
    L = len(live)
    passive = [torch.ones(L, dtype=torch.bool), torch.ones(L, dtype=torch.bool)]
    for key in online:
        passive[key[1]][local[key]] = False  # these rows act through their online player
    sampler = torch.Generator().manual_seed(seed * 1_000_003 + _stable_id("league"))
    values = torch.zeros(config.rounds, N, 2, dtype=DTYPE)
    from tqdm.auto import tqdm

    from lola_zoo.envs.exact import exact_value_per_step

    for r in tqdm(range(config.rounds), desc="league" if M > 1 else f"{pairs[0][0]} vs {pairs[0][1]}",
                  disable=not progress, leave=False):
        probs = [gather(0, "probs"), gather(1, "probs")]
        if online:
            cdfs = [probs[seat][live][passive[seat]].cumsum(-1) for seat in range(2)]
            states = [torch.zeros(L, dtype=torch.long), torch.zeros(L, dtype=torch.long)]
            for _ in range(config.steps_per_round):
                actions = [torch.empty(L, dtype=torch.long), torch.empty(L, dtype=torch.long)]
                for seat in range(2):
                    if cdfs[seat].shape[0]:
                        s = states[seat][passive[seat]]
                        c = cdfs[seat][torch.arange(len(s)), s]  # (k, n) CDF in each row's state
                        u = torch.rand(len(s), 1, generator=sampler, dtype=DTYPE)
                        actions[seat][passive[seat]] = (c < u * c[:, -1:]).sum(-1).clamp_max(n[seat] - 1)
                for key in online:
                    actions[key[1]][local[key]] = players[key].act(states[key[1]][local[key]])
                rewards = payoff[:, actions[0], actions[1]]
                for key in online:
                    seat, g = key[1], local[key]
                    players[key].observe(states[seat][g], actions[seat][g], actions[1 - seat][g], rewards[seat][g])
                states = [1 + actions[0] * n[1] + actions[1], 1 + actions[1] * n[0] + actions[0]]
            probs = [gather(0, "probs"), gather(1, "probs")]  # the online learners moved
        values[r] = exact_value_per_step(game, probs, config.gamma, kind="probs")
        logits = [gather(0, "logits"), gather(1, "logits")]
        for (name, seat), p in players.items():  # simultaneous: every view was taken before any update
            g = rows[(name, seat)]
            p.learn(OpponentView(probs[1 - seat][g].clone(), logits[1 - seat][g].clone()))
    probs = [gather(0, "probs"), gather(1, "probs")]
    final = exact_value_per_step(game, probs, config.gamma, kind="probs")
    if not torch.isfinite(values).all():
        raise RuntimeError(f"{', '.join(f'{a} vs {b}' for a, b in pairs)}: values became non-finite")
    results = []
    for k, (row, col) in enumerate(pairs):
        sl = slice(k * B, (k + 1) * B)
        mean = values[:, sl].mean(0)  # (B, 2): reward per step earned while learning
        results.append({
            "row": row,
            "col": col,
            "row_runs": mean[:, 0].tolist(),
            "col_runs": mean[:, 1].tolist(),
            "row_final_runs": final[sl, 0].tolist(),
            "col_final_runs": final[sl, 1].tolist(),
            "row_mean": float(mean[:, 0].mean()),
            "col_mean": float(mean[:, 1].mean()),
            "curve_row": values[:, sl, 0].mean(1).tolist(),
            "curve_col": values[:, sl, 1].mean(1).tolist(),
            "final_policy_row": probs[0][sl].mean(0)[:, 0].tolist(),
            "final_policy_col": probs[1][sl].mean(0)[:, 0].tolist(),
        })
    return results


def league_cell(config: dict) -> dict[str, Any]:
    """Sweep kind ``tournament-league``: the pairs in ``pairs``, played as one league, from a plain-dict config."""
    cfg = dict(config)
    pairs = [tuple(p) for p in cfg.pop("pairs")]
    seed = int(cfg.pop("seed", 0))
    torch.set_num_threads(1)  # tiny tensors: threads only add contention on the worker
    cfg["entrants"] = tuple(cfg.get("entrants") or sorted({name for pair in pairs for name in pair}))
    tc = TournamentConfig(**cfg)
    # Each league gets its own seed, derived from the base seed and the names of its pairs.
    league_seed = seed * 7919 + _stable_id(";".join(f"{a}|{b}" for a, b in pairs))
    return {"matches": play_league(tc, pairs, league_seed)}


@dataclass
class TournamentResult:
    """A finished tournament.

    :param config: its settings.
    :param names: entrants in table order.
    :param matrix: ``matrix[i, j]`` = mean reward per step of ``names[i]`` playing ``names[j]``.
    :param final: the same, for the policies at the end of the match.
    :param per_run: ``(i, j) -> per-run rewards`` of the row player.
    :param ranking: rows of ``{"entrant", "mean", "ci95", "opponents"}``, best first.
    """

    config: TournamentConfig
    names: list[str]
    matrix: np.ndarray
    final: np.ndarray
    per_run: dict[tuple[str, str], list[float]]
    ranking: list[dict[str, Any]]
    matches: list[dict[str, Any]] = field(default_factory=list)


def aggregate(config: TournamentConfig, matches: Sequence[dict[str, Any]]) -> TournamentResult:
    """Build the cross table and the ranking (mean over opponents, 95% CI over runs) from match results."""
    names = list(config.entrants)
    rows_names = names if config.mode == "round-robin" else [n for n in names if n not in FIXED_ENTRANTS]
    cols_names = names if config.mode == "round-robin" else [n for n in names if n in FIXED_ENTRANTS]
    index_r = {n: i for i, n in enumerate(rows_names)}
    index_c = {n: i for i, n in enumerate(cols_names)}
    matrix = np.full((len(rows_names), len(cols_names)), np.nan)
    final = np.full_like(matrix, np.nan)
    per_run: dict[tuple[str, str], list[float]] = {}
    for m in matches:
        a, b = m["row"], m["col"]
        # An N-player match fills the focal entrant's cell only: the field's cell is its own match.
        sides = [(a, b, "row"), (b, a, "col")] if m.get("n_players", 2) == 2 else [(a, b, "row")]
        for me, other, side in sides:
            if me in index_r and other in index_c:
                matrix[index_r[me], index_c[other]] = np.mean(m[f"{side}_runs"])
                final[index_r[me], index_c[other]] = np.mean(m[f"{side}_final_runs"])
                per_run[(me, other)] = list(m[f"{side}_runs"])
            if a == b:
                break  # self-play: one cell, the row side
    ranking: list[dict[str, Any]] = []
    for me in rows_names:
        runs = [per_run[(me, o)] for o in cols_names if (me, o) in per_run]
        if not runs:
            continue
        per_run_mean = np.mean(np.array(runs), axis=0)  # each run's average over opponents
        k = len(per_run_mean)
        sd = float(np.std(per_run_mean, ddof=1)) if k > 1 else 0.0
        half = t_quantile_975(k - 1) * sd / math.sqrt(k) if k > 1 else float("nan")
        ranking.append({"entrant": me, "mean": float(per_run_mean.mean()), "ci95": half, "opponents": len(runs)})
    ranking.sort(key=lambda r: -r["mean"])
    for place, r in enumerate(ranking, 1):
        r["rank"] = place
    result = TournamentResult(config, rows_names, matrix, final, per_run, ranking, list(matches))
    result.cols = cols_names  # type: ignore[attr-defined]
    return result


def run_tournament(
    config: TournamentConfig,
    out_dir: str | Path,
    *,
    backend: str = "local",
    workers: int = 2,
    progress: bool = True,
) -> TournamentResult:
    """Play the tournament's leagues (:meth:`TournamentConfig.leagues`) as resumable sweep cells in ``out_dir``, then aggregate."""
    from lola_zoo.experiments.sweep import SweepSpec, run_sweep

    params = {k: v for k, v in asdict(config).items() if k not in ("entrants", "seed")}
    params["entrants"] = list(config.entrants)
    spec = SweepSpec(
        kind="tournament-league",
        grid={"pairs": [[list(p) for p in league] for league in config.leagues()]},
        seeds=[config.seed],
        params=params,
        name=f"tournament {config.game}",
    )
    result = run_sweep(spec, out_dir, backend=backend, workers=workers, progress=progress)
    if result.failed:
        raise RuntimeError(f"{len(result.failed)} league(s) failed; see {Path(out_dir) / 'errors.jsonl'}: {result.failed[0][1]}")
    matches = [m for r in result.rows for m in (r["metrics"] if "metrics" in r else r)["matches"]]
    return aggregate(config, matches)


def save_tournament(result: TournamentResult, out_dir: str | Path) -> dict[str, Path]:
    """Write matrix.csv, ranking.csv, summary.json and matrix.png into ``out_dir`` (atomically)."""
    from lola_zoo.io import atomic_write_csv, atomic_write_json
    from lola_zoo.plotting import plot_tournament_matrix

    out = Path(out_dir)
    cols = result.cols  # type: ignore[attr-defined]
    matrix_rows = [
        {"player": name, **{c: _round(result.matrix[i, j]) for j, c in enumerate(cols)}}
        for i, name in enumerate(result.names)
    ]
    paths = {
        "matrix_csv": atomic_write_csv(out / "matrix.csv", matrix_rows, ["player", *cols]),
        "ranking_csv": atomic_write_csv(out / "ranking.csv", result.ranking, ["rank", "entrant", "mean", "ci95", "opponents"]),
        "summary_json": atomic_write_json(out / "summary.json", {
            "config": asdict(result.config),
            "rows": result.names,
            "cols": cols,
            "matrix": [[_round(v) for v in row] for row in result.matrix],
            "final_matrix": [[_round(v) for v in row] for row in result.final],
            "ranking": result.ranking,
            "paper": PAPER_TOURNAMENT,
        }),
        "matrix_png": plot_tournament_matrix(
            result.matrix, result.names, cols, out / "matrix.png",
            title=f"{result.config.game}: reward per step of the row player while learning together",
        ),
    }
    return paths


def _round(v: float) -> float | None:
    return None if not np.isfinite(v) else round(float(v), 4)


def format_tournament(result: TournamentResult) -> str:
    """The cross table and the ranking as plain text."""
    cols = result.cols  # type: ignore[attr-defined]
    corner = "row vs col" if lola_zoo.game(result.config.game).n_players == 2 else "focal/field"
    width = max(11, *(len(n) for n in result.names))
    lines = [f"{corner:<{width}} " + " ".join(f"{c:>8}" for c in cols)]
    for i, name in enumerate(result.names):
        cells = " ".join(f"{v:>8.3f}" if np.isfinite(v) else f"{'':>8}" for v in result.matrix[i])
        lines.append(f"{name:<{width}} {cells}")
    lines.append("")
    lines.append(f"{'rank':>4}  {'entrant':<{width}} {'mean':>8}  {'95% CI':>8}")
    for r in result.ranking:
        lines.append(f"{r['rank']:>4}  {r['entrant']:<{width}} {r['mean']:>8.3f}  +/-{r['ci95']:.3f}")
    return "\n".join(lines)


#: What the paper says of its tournament (Foerster et al. 2018, Sec. 5.1 and Figure 4 of the AAMAS
#: version): LOLA earns the highest average return in the IPD round robin.  Per-entrant values, read
#: off the figure by a secondary summary of the paper, are in PAPER_FIGURE4.
PAPER_TOURNAMENT = {
    "source": "Foerster et al. 2018 (AAMAS), Sec. 5.1 and Figure 4: round-robin tournament in the IPD",
    "outcome": "LOLA-Ex achieves the highest average return; per-entrant values (secondary source, read off "
               "Figure 4) in PAPER_FIGURE4",
}


#: ``lola-zoo tournament --preset paper``: the reference code's field on both of its games, with its
#: protocol (alshedivat/lola, scripts/run_tournament.py: 50 episodes of 200 steps, one exact update per
#: episode, gamma 0.96 in the IPD and 0.9 in IMP).
PAPER_PRESET: dict[str, dict[str, Any]] = {
    "ipd": {"entrants": PAPER_ENTRANTS, "gamma": 0.96, "rounds": 50, "steps_per_round": 200},
    "imp": {"entrants": PAPER_ENTRANTS, "gamma": 0.9, "rounds": 50, "steps_per_round": 200},
}

#: End-of-training average reward per step of each entrant in the paper's tournament (Foerster et al.
#: 2018, Figure 4), from a secondary summary of the paper that read the values off the plot: approximate.
PAPER_FIGURE4: dict[str, Any] = {
    "source": "secondary source, read off Figure 4",
    "ipd": {"LOLA-Ex": -1.1, "WoLF-PHC": -1.3, "PHC": -1.55, "NL-Q": -1.6, "JAL-Q": -1.95, "NL-Ex": -2.1},
    "imp": {"NL-Q": 0.15, "JAL-Q": 0.1, "PHC": 0.1, "WoLF-PHC": 0.03, "LOLA-Ex": -0.08, "NL-Ex": -0.25},
}


def paper_preset_configs(runs: int = 16, seed: int = 0, **overrides: Any) -> dict[str, TournamentConfig]:
    """The paper preset's tournament per game (``ipd``, ``imp``); ``overrides`` replace preset fields."""
    return {game: TournamentConfig(game=game, runs=runs, seed=seed, **{**preset, **overrides})
            for game, preset in PAPER_PRESET.items()}


def paper_comparison(results: dict[str, TournamentResult]) -> list[dict[str, Any]]:
    """Rows ``{game, entrant, ours_mean, ours_ci95, ours_final, paper, paper_rank, ours_rank}`` per game and entrant.

    ``ours_mean`` is the reward per step earned while learning (the ranking's mean over opponents),
    ``ours_final`` the same for the policies at the end of the matches, the closer match to the
    figure's end-of-training value.
    """
    rows: list[dict[str, Any]] = []
    for game, result in results.items():
        paper = PAPER_FIGURE4.get(game, {})
        ranked = {r["entrant"]: r for r in result.ranking}
        finals = {name: float(np.nanmean(result.final[i])) for i, name in enumerate(result.names)}
        final_rank = {n: k for k, n in enumerate(sorted(finals, key=lambda n: -finals[n]), 1)}
        paper_rank = {n: k for k, n in enumerate(sorted(paper, key=lambda n: -paper[n]), 1)}
        for name in result.names:
            r = ranked[name]
            rows.append({
                "game": game,
                "entrant": name,
                "ours_mean": _round(r["mean"]),
                "ours_ci95": _round(r["ci95"]),
                "ours_final": _round(finals[name]),
                "ours_final_rank": final_rank[name],
                "paper": paper.get(name),
                "paper_rank": paper_rank.get(name),
                "paper_source": PAPER_FIGURE4["source"],
            })
    return rows


def format_paper_comparison(rows: Sequence[dict[str, Any]]) -> str:
    """The side-by-side table of :func:`paper_comparison` as plain text."""
    lines = [f"reward per step per entrant, ours beside the paper's Figure 4 ({PAPER_FIGURE4['source']})",
             f"{'game':<5} {'entrant':<9} {'ours (learning)':>16} {'ours (final)':>13} {'rank':>5} {'paper':>7} {'rank':>5}"]
    for r in rows:
        paper = f"{r['paper']:>7.2f}" if r["paper"] is not None else f"{'-':>7}"
        lines.append(f"{r['game']:<5} {r['entrant']:<9} {r['ours_mean']:>9.3f} +/-{r['ours_ci95']:.3f} "
                     f"{r['ours_final']:>13.3f} {r['ours_final_rank']:>5} {paper} {r['paper_rank'] or '-':>5}")
    return "\n".join(lines)


def save_paper_comparison(rows: Sequence[dict[str, Any]], out_dir: str | Path) -> dict[str, Path]:
    """Write paper_comparison.csv and paper_comparison.json into ``out_dir`` (atomically)."""
    from lola_zoo.io import atomic_write_csv, atomic_write_json

    out = Path(out_dir)
    fields = ["game", "entrant", "ours_mean", "ours_ci95", "ours_final", "ours_final_rank", "paper", "paper_rank",
              "paper_source"]
    return {
        "comparison_csv": atomic_write_csv(out / "paper_comparison.csv", list(rows), fields),
        "comparison_json": atomic_write_json(out / "paper_comparison.json", {
            "source": PAPER_FIGURE4["source"],
            "note": "ours_mean: reward per step earned while learning; ours_final: of the final policies; "
                    "both averaged over all opponents, self-play included",
            "rows": list(rows),
        }),
    }
