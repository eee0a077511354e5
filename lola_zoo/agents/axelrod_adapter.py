"""The Axelrod library's 200+ iterated prisoner's dilemma strategies in lola-zoo, and back.

* :class:`AxelrodAgent` — any ``axelrod`` strategy (by name or class) as an
  :class:`~lola_zoo.agents.base.Agent` in our IPD env: it reads the previous joint action from
  the memory-1 observation, feeds it to the strategy's history and asks it for the next move.
* :func:`as_axelrod_player` — a memory-1 policy table, a :class:`Memory1Strategy` (e.g. the
  policy a LOLA learner ends with) or any Agent as an ``axelrod.Player``, so it enters an
  ``axelrod.Tournament``.
* :func:`run_axelrod_tournament` — a round-robin tournament, scored with our game's payoffs.

Conventions match: Axelrod's ``Action.C.value == 0`` and ``Action.D.value == 1`` are our actions
0 (cooperate) and 1 (defect).  Axelrod strategies always play under Axelrod's standard payoffs
(R, S, T, P = 3, 0, 5, 1), whatever game they are scored in: many compute their moves from the
payoffs (the zero-determinant family, the Meta players), and under the LOLA paper's ``-1, -3, 0, -2``
they either raise inside Axelrod or silently become other strategies.  Those payoffs are no affine
image of Axelrod's (``a*x + b`` with ``S: 0 -> -3`` and ``R: 3 -> -1`` gives ``a = 2/3, b = -3``, so
``T: 5 -> 1/3``, not 0), so scores cannot be rescaled either: tournaments tell the strategies the
standard game and score every move in the ``game`` passed.

Importing this module imports ``axelrod``, which takes 10-20 s (it builds its classifiers), so
``lola_zoo`` never imports it by itself.  Install with ``pip install 'lola-zoo[axelrod]'``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from numpy.typing import ArrayLike

from lola_zoo.agents.base import Agent, Transition, memory1_state
from lola_zoo.agents.strategies import Memory1Strategy
from lola_zoo.envs.games import MatrixGame

try:
    import axelrod as axl
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("axelrod is not installed; install the extra: pip install 'lola-zoo[axelrod]'") from exc

__all__ = [
    "AxelrodAgent",
    "Memory1Player",
    "AgentPlayer",
    "TournamentSummary",
    "axelrod_strategy",
    "axelrod_game",
    "as_axelrod_player",
    "run_axelrod_tournament",
    "CHEATING_CLASSIFIERS",
]

#: classifier keys of strategies that read or rewrite the opponent's code or state; they need a
#: real axelrod opponent, so they cannot play against an arbitrary lola-zoo agent
CHEATING_CLASSIFIERS: tuple[str, ...] = ("inspects_source", "manipulates_source", "manipulates_state")

_ACTIONS = (axl.Action.C, axl.Action.D)


def _normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


_BY_NAME: dict[str, type] = {}
for _cls in axl.all_strategies:
    _BY_NAME.setdefault(_normalise(_cls.__name__), _cls)
    _BY_NAME.setdefault(_normalise(_cls.name), _cls)


def axelrod_strategy(strategy: str | type) -> type[Any]:
    """The axelrod strategy class for a class name (``"TitForTat"``), display name or class."""
    if isinstance(strategy, type):
        if not issubclass(strategy, axl.Player):
            raise TypeError(f"{strategy.__name__} is not an axelrod.Player subclass")
        return strategy
    if not isinstance(strategy, str):
        raise TypeError(f"strategy must be a name or an axelrod.Player class, got {type(strategy).__name__} {strategy!r}")
    try:
        return _BY_NAME[_normalise(strategy)]
    except KeyError:
        names = sorted({c.__name__ for c in axl.all_strategies})
        close = difflib.get_close_matches(strategy, names, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise KeyError(
            f"unknown axelrod strategy {strategy!r}{hint} ({len(names)} strategies known)"
        ) from None


def axelrod_game(game: MatrixGame | str | None = None) -> Any:
    """An ``axelrod.Game`` from a symmetric 2x2 game or registered id; ``None``: Axelrod's standard."""
    if game is None:
        return axl.Game()
    if isinstance(game, str):
        import lola_zoo

        game = lola_zoo.game(game)
    if not isinstance(game, MatrixGame):
        raise TypeError(f"game must be a MatrixGame, a registered id or None, got {type(game).__name__}")
    pay = _two_by_two(game, "axelrod").payoffs
    if not np.allclose(pay[0], pay[1].T):
        raise ValueError(f"axelrod needs a symmetric 2x2 game; {game.name!r} is not symmetric")
    # Axelrod's names: R (both cooperate), S (sucker), T (temptation), P (both defect).
    return axl.Game(r=pay[0, 0, 0], s=pay[0, 0, 1], t=pay[0, 1, 0], p=pay[0, 1, 1])


def _two_by_two(game: MatrixGame | str, who: str) -> MatrixGame:
    """``game`` (or the registered id's game) if it is a two-player, two-action game, else a ValueError naming it."""
    if isinstance(game, str):
        import lola_zoo

        game = lola_zoo.game(game)
    if not isinstance(game, MatrixGame):
        raise TypeError(f"game must be a MatrixGame or a registered id, got {type(game).__name__}")
    if game.n_actions != (2, 2):
        raise ValueError(
            f"{who} needs a symmetric 2x2 game (two players, cooperate/defect) such as the IPD; {game.name!r} has "
            f"actions {game.n_actions}, whose memory-1 states it would misread as IPD states"
        )
    return game


class _Opponent(axl.Player):
    """Stands for the lola-zoo opponent inside axelrod: only its history is known."""

    name = "lola-zoo opponent"
    classifier = {
        "memory_depth": float("inf"), "stochastic": True, "long_run_time": False,
        "inspects_source": False, "manipulates_source": False, "manipulates_state": False,
        "makes_use_of": set(),
    }

    def strategy(self, opponent: Any) -> Any:
        raise RuntimeError("the lola-zoo opponent's moves come from the env, not from axelrod")


class AxelrodAgent(Agent):
    """An axelrod strategy playing a two-action iterated game (IPD) as a lola-zoo Agent.

    The strategy is driven as ``axelrod.Match`` drives it: at the start of every episode
    ``reset()``, then ``set_match_attributes(...)``, then ``set_seed(...)`` (this order matters:
    the other one breaks some strategies); every round the previous joint action, read from the
    memory-1 observation, goes into both histories before the strategy is asked for a move.

    The strategy is always told Axelrod's standard payoffs (R, S, T, P = 3, 0, 5, 1), the game it was
    designed for, as in :func:`run_axelrod_tournament` (see the module docstring for why).  It plays
    two-player two-action games only: a memory-1 state of a game with more actions (one-hot of another
    length, a state index above 4, a joint action with an action above 1) raises a ValueError.

    :param strategy: an axelrod strategy class or its name (``"TitForTat"``, ``"Grudger"``, ...).
    :param match_length: rounds per episode, told to strategies that use it (``None``: unknown,
        as in Axelrod's matches of uncertain length).
    :param game: the game the agent will play (a MatrixGame or registered id), checked to be 2x2 so
        that a wrong game fails here; ``None``: not checked.  It does not change what the strategy is told.
    :param strategy_kwargs: arguments of the strategy's constructor.
    """

    def __init__(
        self,
        strategy: str | type,
        *,
        match_length: int | None = None,
        game: MatrixGame | str | None = None,
        **strategy_kwargs: Any,
    ) -> None:
        cls = axelrod_strategy(strategy)
        cheats = [k for k in CHEATING_CLASSIFIERS if cls.classifier.get(k)]
        if cheats:
            raise ValueError(
                f"{cls.__name__} {'/'.join(cheats)} of its opponent; it needs an axelrod opponent object "
                "and cannot play a lola-zoo agent"
            )
        if match_length is not None and (not isinstance(match_length, int) or isinstance(match_length, bool)
                                         or match_length < 1):
            raise ValueError(f"match_length must be positive or None, got {match_length!r}")
        self.env_game = None if game is None else _two_by_two(game, f"AxelrodAgent({cls.__name__})")
        self.player = cls(**strategy_kwargs)
        self.name = self.player.name
        self.match_length = match_length
        self.game = axl.Game()  # what the strategy is told: the payoffs it was designed for
        self._opponent = _Opponent()
        self._started = False

    @property
    def classifier(self) -> dict[str, Any]:
        """The strategy's axelrod classifier (memory depth, stochastic, ...)."""
        return dict(self.player.classifier)

    def reset(self) -> None:
        """Start a new match: reset, set match attributes, then seed (axelrod.Match's order)."""
        length = -1 if self.match_length is None else self.match_length
        self.player.reset()
        self.player.set_match_attributes(length=length, game=self.game, noise=0)
        self.player.set_seed(int(self._rng.integers(0, 2**31 - 1)))
        self._opponent.reset()
        self._started = True

    def act(self, observation: Any) -> int:
        """Record the previous joint action (from the observation) and return the strategy's move."""
        shape = np.shape(observation)
        if shape not in ((), (5,)):
            raise ValueError(
                f"{self.name}: expected an IPD memory-1 observation (a state in 0..4 or a one-hot of length 5), got "
                f"shape {shape}; AxelrodAgent plays two-action games only"
            )
        state = memory1_state(observation)
        if not 0 <= state <= 4:
            raise ValueError(
                f"{self.name}: expected an IPD memory-1 state in 0..4, got {state}; AxelrodAgent plays two-action "
                "games only"
            )
        if state == 0:
            if not self._started or len(self.player.history) > 0:
                self.reset()  # the loop may not call reset(): the start state begins a match
        else:
            if not self._started:
                self.reset()
            own, other = divmod(state - 1, 2)
            self.player.update_history(_ACTIONS[own], _ACTIONS[other])
            self._opponent.update_history(_ACTIONS[other], _ACTIONS[own])
        return int(self.player.strategy(self._opponent).value)

    def observe(self, transition: Transition) -> None:
        """Check the step came from a two-player two-action game (the strategy learns nothing from it)."""
        joint = transition.info.get("joint_action") if isinstance(transition.info, dict) else None
        if joint is not None and (len(joint) != 2 or any(a not in (0, 1) for a in joint)):
            raise ValueError(
                f"{self.name}: joint action {tuple(joint)} is not one of a two-player two-action game; AxelrodAgent "
                "plays the IPD and other 2x2 games only"
            )

    def state_dict(self) -> dict[str, Any]:
        """The strategy's name and constructor arguments (its history is per-episode)."""
        return {"strategy": type(self.player).__name__, "kwargs": dict(self.player.init_kwargs)}


def _memory1_p_cooperate(policy: ArrayLike | Memory1Strategy) -> tuple[float, ...]:
    if isinstance(policy, Memory1Strategy):
        table = policy.probs
    else:
        try:
            table = np.asarray(policy, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"an axelrod player needs an IPD memory-1 policy (5 probabilities), got {policy!r}") from None
        if table.ndim == 1:
            table = np.stack([table, 1.0 - table], axis=-1)
    if table.shape != (5, 2):
        raise ValueError(
            f"an axelrod player needs an IPD memory-1 policy: 5 states x 2 actions, got shape {table.shape} "
            f"from {policy!r}"
        )
    if (table < 0).any() or (table > 1).any() or not np.allclose(table.sum(-1), 1.0):
        raise ValueError(f"policy rows must be probability distributions over (cooperate, defect) with entries in "
                         f"[0, 1]; got {table.tolist()}")
    return tuple(float(p) for p in table[:, 0])


class Memory1Player(axl.Player):
    """A lola-zoo memory-1 policy as an axelrod player.

    It cooperates with probability ``p_cooperate[s]`` in state s = start, CC, CD, DC, DD (own move first).

    :param p_cooperate: the five probabilities, in our state order.
    :param name: the name shown in tournament results.
    """

    name = "lola-zoo memory-1"
    classifier = {
        "memory_depth": 1, "stochastic": True, "long_run_time": False, "inspects_source": False,
        "manipulates_source": False, "manipulates_state": False, "makes_use_of": set(),
    }

    def __init__(
        self, p_cooperate: tuple[float, ...] = (1.0, 1.0, 0.0, 1.0, 0.0), name: str | None = None
    ) -> None:
        super().__init__()
        self.p_cooperate = tuple(float(p) for p in p_cooperate)
        if len(self.p_cooperate) != 5 or not all(0.0 <= p <= 1.0 for p in self.p_cooperate):
            raise ValueError(f"p_cooperate must be 5 probabilities, got {p_cooperate}")
        if name:
            self.name = name
        self.classifier["stochastic"] = any(0.0 < p < 1.0 for p in self.p_cooperate)

    def strategy(self, opponent: Any) -> Any:
        """Cooperate with the probability of the current memory-1 state."""
        if not self.history:
            p = self.p_cooperate[0]
        else:
            p = self.p_cooperate[1 + 2 * self.history[-1].value + opponent.history[-1].value]
        if p in (0.0, 1.0):  # deterministic states draw nothing (axelrod seeds only stochastic players)
            return _ACTIONS[0] if p == 1.0 else _ACTIONS[1]
        return self._random.random_choice(p)

    def __repr__(self) -> str:
        return self.name


class AgentPlayer(axl.Player):
    """Any lola-zoo Agent that acts on IPD memory-1 observations, as an axelrod player.

    Clones made by a tournament share the one Agent; it is ``reset()`` at every new match.

    :param agent: the Agent (SB3 model, learner, fixed strategy).
    :param observation_type: ``"discrete"`` (state index) or ``"onehot"``, whichever the agent was
        trained on.
    """

    name = "lola-zoo agent"
    classifier = dict(Memory1Player.classifier, memory_depth=float("inf"))

    def __init__(self, agent: Agent | None = None, observation_type: str = "discrete") -> None:
        super().__init__()
        if not isinstance(agent, Agent):
            raise TypeError(f"agent must be a lola-zoo Agent, got {type(agent).__name__}")
        if observation_type not in ("discrete", "onehot"):
            raise ValueError(f"observation_type must be 'discrete' or 'onehot', got {observation_type!r}")
        self.agent = agent
        self.observation_type = observation_type
        self.name = agent.name

    def strategy(self, opponent: Any) -> Any:
        """The agent's action for the memory-1 state of the last round."""
        if not self.history:
            self.agent.reset()
            state = 0
        else:
            state = 1 + 2 * self.history[-1].value + opponent.history[-1].value
        if self.observation_type == "discrete":
            obs: Any = np.int64(state)
        else:
            obs = np.eye(5, dtype=np.float32)[state]
        return _ACTIONS[int(self.agent.act(obs))]

    def __repr__(self) -> str:
        return self.name


def as_axelrod_player(policy: ArrayLike | Agent | str | type, name: str | None = None) -> Any:
    """An ``axelrod.Player`` for a memory-1 table, a Memory1Strategy, any Agent, or an axelrod strategy name.

    A table is ``(5,)`` P(cooperate) or ``(5, 2)`` probabilities over the states start, CC, CD,
    DC, DD (own move first) — the form of the paper's memory-1 policies.
    """
    if isinstance(policy, axl.Player):
        return policy
    if isinstance(policy, AxelrodAgent):
        return type(policy.player)(**policy.player.init_kwargs)
    if isinstance(policy, (str, type)):
        return axelrod_strategy(policy)()
    if isinstance(policy, Memory1Strategy):
        return Memory1Player(_memory1_p_cooperate(policy), name or policy.name)
    if isinstance(policy, Agent):
        player = AgentPlayer(policy)
        if name:
            player.name = name
        return player
    return Memory1Player(_memory1_p_cooperate(policy), name or "memory-1")


@dataclass
class TournamentSummary:
    """The outcome of a round-robin tournament, scored with one game's payoffs.

    :param names: player names, ranked best first.
    :param mean_payoff: mean payoff per round against the other players (self-play excluded),
        in ranked order.
    :param payoff_matrix: ``[i][j]`` mean payoff per round of ranked player i against player j.
    :param cooperation: fraction of rounds each ranked player cooperated.
    :param results: axelrod's full ``ResultSet``.
    """

    names: list[str]
    mean_payoff: list[float]
    payoff_matrix: np.ndarray
    cooperation: list[float]
    results: Any

    def table(self) -> str:
        """A readable ranking."""
        width = max(len(n) for n in self.names)
        lines = [f"{'rank':>4}  {'player':<{width}}  {'payoff/round':>12}  {'cooperation':>11}"]
        for k, (n, s, c) in enumerate(zip(self.names, self.mean_payoff, self.cooperation), 1):
            lines.append(f"{k:>4}  {n:<{width}}  {s:>12.3f}  {c:>11.2f}")
        return "\n".join(lines)


def run_axelrod_tournament(
    players: Sequence[Any],
    *,
    turns: int = 150,
    repetitions: int = 5,
    game: MatrixGame | str | None = "ipd",
    noise: float = 0.0,
    seed: int | None = 0,
    progress: bool = False,
) -> TournamentSummary:
    """Play an ``axelrod.Tournament`` (round robin, including self-play as Axelrod does) and summarise it.

    :param players: axelrod players or strategy names, memory-1 tables, Memory1Strategies, Agents
        (anything :func:`as_axelrod_player` takes).
    :param turns: rounds per match (the paper's episodes: 150).
    :param repetitions: matches per pair.
    :param game: the payoffs every move is scored in: a registered id (default ``"ipd"``, the paper's),
        a symmetric 2x2 MatrixGame, or ``None`` for Axelrod's standard (3, 0, 5, 1).  The strategies are
        told Axelrod's standard payoffs whatever ``game`` is, so that each plays as it was designed.
    :param noise: probability that a move is flipped.
    :param seed: the tournament's seed.
    :param progress: show axelrod's progress bar.
    """
    if len(players) < 2:
        raise ValueError(f"a tournament needs at least two players, got {len(players)}")
    if turns < 1 or repetitions < 1:
        raise ValueError(f"turns and repetitions must be positive, got {turns} and {repetitions}")
    axl_players = [as_axelrod_player(p) for p in players]
    names = [str(p) for p in axl_players]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"player names must be unique in a tournament; repeated: {duplicated}")
    # ``game`` scores the matches; ``match_attributes`` is what every player is told (the standard game).
    told = {"length": turns, "game": axl.Game(), "noise": noise}
    tournament = axl.Tournament(
        axl_players, game=axelrod_game(game), turns=turns, repetitions=repetitions, noise=noise, seed=seed,
        match_attributes=told,
    )
    results = tournament.play(progress_bar=progress, processes=None)
    payoff = np.asarray(results.payoff_matrix, dtype=np.float64)  # mean per turn, players in input order
    n = len(names)
    off_diagonal = ~np.eye(n, dtype=bool)
    mean = np.array([payoff[i][off_diagonal[i]].mean() for i in range(n)])
    order = np.argsort(-mean, kind="stable")
    cooperation = np.asarray(results.cooperating_rating, dtype=np.float64)
    return TournamentSummary(
        names=[names[i] for i in order],
        mean_payoff=[float(mean[i]) for i in order],
        payoff_matrix=payoff[np.ix_(order, order)],
        cooperation=[float(cooperation[i]) for i in order],
        results=results,
    )
