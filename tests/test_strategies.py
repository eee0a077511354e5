"""Fixed strategies play the exact action sequences their definitions give (as Axelrod's tests do)."""

from __future__ import annotations

import numpy as np
import pytest

import lola_zoo
from lola_zoo.agents.strategies import (
    AlwaysCooperate,
    AlwaysDefect,
    Memory1Strategy,
    RandomStrategy,
    TitForTat,
    make_strategy,
)

C, D = 0, 1


def play(row, col, rounds: int) -> list[tuple[int, int]]:
    """The joint actions of ``rounds`` rounds of the IPD env between two strategies."""
    env = lola_zoo.make("ipd", max_steps=rounds)
    obs, _ = env.reset(seed=0)
    agents = {"player_0": row, "player_1": col}
    history = []
    while env.agents:
        obs, _, _, _, infos = env.step({a: agents[a].act(obs[a]) for a in env.agents})
        history.append(infos["player_0"]["joint_action"])
    return history


def test_tit_for_tat_copies_the_opponents_last_move() -> None:
    alternator = Memory1Strategy([0, 1, 0, 1, 0], name="alternate-after-own")  # C after own D, D after own C
    assert play(TitForTat(), alternator, 6) == [(C, D), (D, C), (C, D), (D, C), (C, D), (D, C)]
    assert play(TitForTat(), AlwaysDefect(), 4) == [(C, D), (D, D), (D, D), (D, D)]
    assert play(TitForTat(), TitForTat(), 3) == [(C, C)] * 3


def test_tit_for_tat_in_the_second_seat_sees_its_own_perspective() -> None:
    assert play(AlwaysDefect(), TitForTat(), 3) == [(D, C), (D, D), (D, D)]
    assert play(AlwaysCooperate(), TitForTat(), 3) == [(C, C)] * 3


def test_always_cooperate_and_always_defect_never_change() -> None:
    assert play(AlwaysCooperate(), AlwaysDefect(), 5) == [(C, D)] * 5


def test_random_strategy_is_seeded_and_roughly_uniform() -> None:
    a, b = RandomStrategy(), RandomStrategy()
    a.seed(3)
    b.seed(3)
    seq_a = [a.act(0) for _ in range(2000)]
    assert seq_a == [b.act(0) for _ in range(2000)]
    assert abs(np.mean(seq_a) - 0.5) < 0.05


def test_memory1_strategy_samples_its_table() -> None:
    s = Memory1Strategy([0.8] * 5)
    s.seed(1)
    share = np.mean([s.act(2) == C for _ in range(4000)])
    assert abs(share - 0.8) < 0.03


def test_onehot_observations_are_accepted() -> None:
    tft = TitForTat()
    assert tft.act(np.eye(5, dtype=np.float32)[2]) == D


@pytest.mark.parametrize("probs, match", [([[0.5, 0.6]] * 5, "distribution"), ([np.nan] * 5, "finite")])
def test_bad_tables_are_refused(probs, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Memory1Strategy(probs)


def test_unknown_strategy_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown strategy 'grim'.*tft"):
        make_strategy("grim")


def test_memory1_strategy_subclasses_restore_their_table() -> None:
    tft = TitForTat()
    tft.load_state_dict({"probs": [0.5] * 5})
    assert tft.name == "TFT" and np.allclose(tft.probs[:, 0], 0.5)
