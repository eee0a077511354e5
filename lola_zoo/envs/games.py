"""One-shot matrix games: validated payoff tables of the canonical social dilemmas.

A :class:`MatrixGame` holds one payoff tensor per player, indexed by the joint action in seat
order: ``payoffs[i, a_0, a_1, ..., a_{N-1}]`` is what player ``i`` earns.  The iterated
PettingZoo environment and the exact-value engine are both built from it.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["MatrixGame", "CANONICAL_GAMES", "symmetric_game", "public_goods_game", "n_player_prisoners_dilemma",
           "N_PLAYER_FAMILIES", "MAX_ABS_PAYOFF", "MAX_FAMILY_PLAYERS", "payoff_array"]

#: the largest |payoff| a game may have.  Discounted values reach |payoff| / (1 - gamma) and LOLA's
#: second-order terms multiply values together, so 1e9 keeps them far from overflow even in float32
#: (3.4e38), where 1e308 turned exact values into inf.
MAX_ABS_PAYOFF = 1e9


def payoff_array(values: Any, what: str) -> np.ndarray:
    """``values`` as a float64 array of real, finite payoffs with |payoff| <= :data:`MAX_ABS_PAYOFF`, else a ValueError.

    Booleans and text are refused although NumPy would convert them (True -> 1.0, "3" -> 3.0): a payoff
    table holding them is a mistake, not a game.  ``what`` names the table in the message.
    """
    try:
        # Nested lists keep their elements' own types (object dtype): NumPy would turn [5, True] into ints
        # and [5, "1"] into text, hiding which entry was wrong.
        array = values if isinstance(values, np.ndarray) else np.array(values, dtype=object)
    except ValueError as exc:  # ragged nesting
        raise ValueError(f"{what}: payoffs must form a rectangular table of numbers ({exc})") from None
    kind = array.dtype.kind
    if kind not in "iuf":
        flat = array.reshape(-1)
        bad = next((k for k, v in enumerate(flat) if isinstance(v, (bool, np.bool_))
                    or not isinstance(v, (numbers.Real, np.integer, np.floating))), None)
        if kind == "O" and bad is None:  # e.g. Fractions or Decimals: real numbers, just not a NumPy dtype
            array = array.astype(np.float64)
        else:
            index = tuple(int(i) for i in np.unravel_index(bad if bad is not None else 0, array.shape))
            value = flat[bad if bad is not None else 0] if array.size else None
            value = value.item() if isinstance(value, np.generic) else value  # show True, not np.True_
            raise ValueError(
                f"{what}: payoffs must be real numbers (not bools, text or complex); found "
                f"{value!r} ({type(value).__name__}) at index {index}"
            )
    array = np.array(array, dtype=np.float64, copy=True)
    if not np.all(np.isfinite(array)):
        bad_index = np.argwhere(~np.isfinite(array))[0]
        raise ValueError(
            f"{what}: payoffs must be finite; found {array[tuple(bad_index)]} at index "
            f"{tuple(int(b) for b in bad_index)}"
        )
    if array.size and np.abs(array).max() > MAX_ABS_PAYOFF:
        bad_index = np.unravel_index(int(np.abs(array).argmax()), array.shape)
        raise ValueError(
            f"{what}: |payoff| must be at most {MAX_ABS_PAYOFF:g} (discounted values and their products would "
            f"overflow); found {array[bad_index]:g} at index {tuple(int(b) for b in bad_index)}; rescale the game"
        )
    return array


@dataclass(frozen=True, eq=False)
class MatrixGame:
    """A normal-form game for N players with finite action sets.

    :param name: short human name, e.g. ``"prisoner's dilemma"``.
    :param payoffs: array of shape ``(N, n_0, ..., n_{N-1})``; ``payoffs[i][a]`` is player i's
        reward for the joint action ``a`` (seat order).
    :param action_names: per player, one name per action; defaults to ``"a0", "a1", ...``.
    :param description: one line shown by :func:`lola_zoo.registered`.
    """

    name: str
    payoffs: np.ndarray
    action_names: tuple[tuple[str, ...], ...] = field(default=())
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):  # shown in every message and table; 3 or None would print as itself
            raise TypeError(f"MatrixGame name must be a string, got {type(self.name).__name__} {self.name!r}")
        if not isinstance(self.description, str):
            raise TypeError(f"MatrixGame {self.name!r}: description must be a string, got "
                            f"{type(self.description).__name__} {self.description!r}")
        if isinstance(self.action_names, str):  # "ab" would be read as the names ('a', 'b') of one player
            raise TypeError(f"MatrixGame {self.name!r}: action_names must be one sequence of names per player, "
                            f"got the string {self.action_names!r}")
        payoffs = payoff_array(self.payoffs, f"MatrixGame {self.name!r}")
        if payoffs.ndim < 3:
            raise ValueError(
                f"MatrixGame {self.name!r}: payoffs must have shape (N, n_0, ..., n_(N-1)) with one "
                f"table per player and N >= 2; got shape {payoffs.shape}"
            )
        n_players = payoffs.shape[0]
        if payoffs.ndim != n_players + 1:
            raise ValueError(
                f"MatrixGame {self.name!r}: payoffs shape {payoffs.shape} holds {n_players} player "
                f"tables but {payoffs.ndim - 1} action axes; expected one action axis per player"
            )
        if any(n < 2 for n in payoffs.shape[1:]):  # a seat without a choice makes no dilemma (1x1 was accepted)
            raise ValueError(
                f"MatrixGame {self.name!r}: every player needs at least two actions; got action counts "
                f"{payoffs.shape[1:]}"
            )
        payoffs.setflags(write=False)
        object.__setattr__(self, "payoffs", payoffs)
        names = self.action_names or tuple(
            tuple(f"a{k}" for k in range(n)) for n in payoffs.shape[1:]
        )
        names = tuple(tuple(str(a) for a in per_player) for per_player in names)
        if len(names) == 1 and n_players > 1:  # one list of names shared by every seat
            names = names * n_players
        if len(names) != n_players or any(
            len(per) != n for per, n in zip(names, payoffs.shape[1:])
        ):
            raise ValueError(
                f"MatrixGame {self.name!r}: action_names {names} do not match the action counts "
                f"{payoffs.shape[1:]}"
            )
        object.__setattr__(self, "action_names", names)

    @property
    def n_players(self) -> int:
        """Number of players N."""
        return int(self.payoffs.shape[0])

    @property
    def n_actions(self) -> tuple[int, ...]:
        """Number of actions of each player, in seat order."""
        return tuple(int(n) for n in self.payoffs.shape[1:])

    @property
    def n_joint(self) -> int:
        """Number of joint actions, i.e. memory-1 states other than the start state."""
        return int(np.prod(self.n_actions))

    @property
    def n_states(self) -> int:
        """Number of memory-1 states: the start state plus one per joint action."""
        return 1 + self.n_joint

    def _player(self, player: int) -> int:
        """``player`` checked to be a seat index 0..N-1 (numpy would wrap -1 and raise IndexError past N)."""
        if isinstance(player, (bool, np.bool_)) or not isinstance(player, (int, np.integer)) or \
                not 0 <= player < self.n_players:
            raise ValueError(f"{self.name}: player must be a seat index in 0..{self.n_players - 1}, got {player!r}")
        return int(player)

    def payoff(self, player: int, joint_action: Sequence[int]) -> float:
        """Reward of ``player`` for one joint action (seat order)."""
        player = self._player(player)
        joint = tuple(joint_action) if isinstance(joint_action, (list, tuple, np.ndarray)) else None
        if joint is None or len(joint) != self.n_players or any(
                isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer)) or not 0 <= a < n
                for a, n in zip(joint, self.n_actions)):
            raise ValueError(f"{self.name}: joint_action must be {self.n_players} action indices below "
                             f"{self.n_actions}, got {joint_action!r}")
        # The index tuple is built first: mypy reads x[(a, *b)] as 3.11's x[a, *b] and rejects it for 3.10.
        index = (player, *joint)
        return float(self.payoffs[index])

    def perspective(self, player: int) -> tuple[int, ...]:
        """Seat order as seen by ``player``: itself first, then the others in seat order."""
        player = self._player(player)
        return (player, *(j for j in range(self.n_players) if j != player))

    def state_labels(self, player: int = 0) -> list[str]:
        """Names of the memory-1 states from ``player``'s perspective (own action first)."""
        order = self.perspective(player)
        dims = [self.n_actions[j] for j in order]
        labels = ["start"]
        for flat in range(self.n_joint):
            idx = np.unravel_index(flat, dims)
            labels.append("".join(self.action_names[j][k][0].upper() for j, k in zip(order, idx)))
        return labels

    def __repr__(self) -> str:
        return f"MatrixGame({self.name!r}, n_actions={self.n_actions})"


def symmetric_game(
    row_payoffs: ArrayLike,
    name: str,
    action_names: Sequence[str] | None = None,
    description: str = "",
) -> MatrixGame:
    """Two-player symmetric game from the row player's matrix: ``R1[a0, a1] = R0[a1, a0]``."""
    row = payoff_array(row_payoffs, f"symmetric game {name!r}")
    if row.ndim != 2 or row.shape[0] != row.shape[1]:
        raise ValueError(
            f"symmetric game {name!r}: the row player's matrix must be square (n, n); got shape "
            f"{row.shape}"
        )
    names = (tuple(action_names),) * 2 if action_names is not None else ()
    return MatrixGame(name, np.stack([row, row.T]), names, description)


def _zero_sum(row_payoffs: ArrayLike, name: str, names: Sequence[Sequence[str]], description: str) -> MatrixGame:
    row = payoff_array(row_payoffs, f"zero-sum game {name!r}")
    return MatrixGame(name, np.stack([row, -row]), tuple(tuple(n) for n in names), description)


# Payoffs are written row player first: entry [a0, a1] is what player_0 gets.
CANONICAL_GAMES: dict[str, MatrixGame] = {
    "ipd": symmetric_game(
        [[-1.0, -3.0], [0.0, -2.0]],
        "prisoner's dilemma",
        ("cooperate", "defect"),
        "Iterated prisoner's dilemma, the LOLA paper's payoffs (CC -1, CD -3, DC 0, DD -2).",
    ),
    "imp": _zero_sum(
        [[1.0, -1.0], [-1.0, 1.0]],
        "matching pennies",
        (("heads", "tails"), ("heads", "tails")),
        "Iterated matching pennies: player_0 wins +1 on a match, player_1 on a mismatch (zero-sum).",
    ),
    "stag-hunt": symmetric_game(
        [[4.0, 0.0], [3.0, 3.0]],
        "stag hunt",
        ("stag", "hare"),
        "Iterated stag hunt: hunting stag together pays 4, a lone stag hunter gets 0, hare pays 3.",
    ),
    "chicken": symmetric_game(
        [[0.0, -1.0], [1.0, -10.0]],
        "chicken",
        ("swerve", "straight"),
        "Iterated chicken (hawk-dove): going straight wins 1 against a swerver, a crash costs 10.",
    ),
    "battle-of-the-sexes": MatrixGame(
        "battle of the sexes",
        np.array([[[3.0, 0.0], [0.0, 2.0]], [[2.0, 0.0], [0.0, 3.0]]]),
        (("opera", "football"), ("opera", "football")),
        "Iterated battle of the sexes: both prefer meeting, player_0 at the opera, player_1 at football.",
    ),
    "rps": _zero_sum(
        [[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]],
        "rock paper scissors",
        (("rock", "paper", "scissors"),) * 2,
        "Iterated rock-paper-scissors: 3 actions, +1 win, -1 loss, 0 tie (zero-sum).",
    ),
}


#: the most players an N-player family (``public-goods-<N>``, ``ipd-<N>``) builds
MAX_FAMILY_PLAYERS = 10


def _n_players(n_players: object, family: str) -> int:
    if isinstance(n_players, bool) or not isinstance(n_players, (int, np.integer)) or n_players < 2:
        raise ValueError(f"{family} needs an integer number of players >= 2, got {n_players!r}")
    if n_players > MAX_FAMILY_PLAYERS:  # the payoff table and the memory-1 state space grow as 2^N
        raise ValueError(f"{family} with {n_players} players has 2^{n_players} joint actions; at most "
                         f"{MAX_FAMILY_PLAYERS} players here")
    return int(n_players)


def public_goods_game(n_players: int = 3, factor: float | None = None, cost: float = 1.0) -> MatrixGame:
    """The N-player public-goods game: contributors pay ``cost``, the pot times ``factor`` is shared by all.

    Player i earns ``factor · cost · (number of contributors) / N − cost · [i contributes]``.  It is a
    social dilemma for ``1 < factor < N``: contributing costs each player ``cost (1 − factor / N) > 0``,
    yet everyone contributing pays ``cost (factor − 1) > 0`` against 0 when nobody does.  Default
    factor: ``(1 + N) / 2``, the middle of that range.  Action 0 is ``contribute``, 1 ``free-ride``.
    """
    n = _n_players(n_players, "public goods")
    r = (1.0 + n) / 2.0 if factor is None else factor
    if isinstance(r, bool) or not isinstance(r, (int, float, np.floating)) or not np.isfinite(r) or r <= 0:
        raise ValueError(f"public goods: factor must be a finite number > 0, got {factor!r}")
    if isinstance(cost, bool) or not np.isfinite(cost) or cost <= 0:
        raise ValueError(f"public goods: cost must be a finite number > 0, got {cost!r}")
    contributes = np.indices((2,) * n) == 0  # (N, 2, ..., 2): player i contributes in joint action a
    pot = float(r) * float(cost) * contributes.sum(0) / n
    payoffs = np.stack([pot - float(cost) * contributes[i] for i in range(n)]).astype(np.float64)
    return MatrixGame(f"{n}-player public goods", payoffs, (("contribute", "free-ride"),) * n,
                      f"Iterated {n}-player public goods: contributions cost {cost:g}, the pot x{float(r):g} is "
                      "shared equally (action 0 contributes).")


def n_player_prisoners_dilemma(n_players: int = 3) -> MatrixGame:
    """The N-player prisoner's dilemma as a tensor game: each player's payoff is its IPD payoff averaged over the others.

    With the LOLA paper's payoffs (CC −1, CD −3, DC 0, DD −2): everyone cooperating pays −1 per step,
    everyone defecting −2, and defecting is dominant for every player.
    """
    n = _n_players(n_players, "the N-player prisoner's dilemma")
    row = CANONICAL_GAMES["ipd"].payoffs[0]
    actions = np.indices((2,) * n)
    payoffs = np.stack([
        sum(row[actions[i], actions[j]] for j in range(n) if j != i) / (n - 1) for i in range(n)
    ]).astype(np.float64)
    return MatrixGame(f"{n}-player prisoner's dilemma", payoffs, (("cooperate", "defect"),) * n,
                      f"Iterated {n}-player prisoner's dilemma: the paper's IPD payoffs averaged over the {n - 1} "
                      "other players.")


#: id prefix -> builder of the N-player family; ``<prefix>-<N>`` ids (e.g. ``public-goods-3``) resolve to it
N_PLAYER_FAMILIES = {
    "public-goods": public_goods_game,
    "ipd": n_player_prisoners_dilemma,
}
