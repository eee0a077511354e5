"""Rules of the iterated matrix game environment: observations, rewards, infos, truncation, rendering, errors."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces

import lola_zoo
from lola_zoo.envs.iterated import IteratedMatrixGame, perspective_tables

C, D = 0, 1


def test_ipd_rewards_and_own_perspective_observations() -> None:
    env = lola_zoo.make("ipd", max_steps=10)
    obs, infos = env.reset(seed=0)
    assert obs == {"player_0": 0, "player_1": 0}
    expected = {  # (a0, a1) -> (r0, r1, obs0, obs1); states: 1 CC, 2 CD, 3 DC, 4 DD (own first)
        (C, C): (-1, -1, 1, 1),
        (C, D): (-3, 0, 2, 3),
        (D, C): (0, -3, 3, 2),
        (D, D): (-2, -2, 4, 4),
    }
    for (a0, a1), (r0, r1, o0, o1) in expected.items():
        obs, rewards, terms, truncs, infos = env.step({"player_0": a0, "player_1": a1})
        assert rewards == {"player_0": r0, "player_1": r1}
        assert (int(obs["player_0"]), int(obs["player_1"])) == (o0, o1)
        assert infos["player_0"]["joint_action"] == (a0, a1) == infos["player_1"]["joint_action"]
        assert isinstance(obs["player_0"], np.int64)
        assert terms["player_0"] is False and truncs["player_1"] is False


def test_episode_truncates_after_max_steps_and_sets_time_limit_flag() -> None:
    env = lola_zoo.make("imp", max_steps=3)
    env.reset(seed=1)
    for t in range(3):
        _, _, terms, truncs, infos = env.step({"player_0": 0, "player_1": 1})
    assert all(truncs.values()) and not any(terms.values())
    assert all(type(v) is bool for v in truncs.values())
    assert infos["player_0"]["TimeLimit.truncated"] is True
    assert env.agents == []


def test_imp_is_zero_sum_and_player0_wins_on_a_match() -> None:
    env = lola_zoo.make("imp")
    env.reset()
    _, r, *_ = env.step({"player_0": 1, "player_1": 1})
    assert r == {"player_0": 1.0, "player_1": -1.0}
    _, r, *_ = env.step({"player_0": 0, "player_1": 1})
    assert r == {"player_0": -1.0, "player_1": 1.0}


def test_three_action_game_observation_is_own_action_first() -> None:
    env = lola_zoo.make("rps")
    env.reset()
    obs, r, *_ = env.step({"player_0": 2, "player_1": 0})  # scissors vs rock
    assert r == {"player_0": -1.0, "player_1": 1.0}
    assert int(obs["player_0"]) == 1 + 2 * 3 + 0
    assert int(obs["player_1"]) == 1 + 0 * 3 + 2
    assert env.observation_space("player_0").n == 10


def test_onehot_observation_is_float32_and_matches_discrete_state() -> None:
    env = lola_zoo.make("ipd", observation_type="onehot")
    obs, _ = env.reset()
    assert isinstance(env.observation_space("player_0"), spaces.Box)
    assert obs["player_0"].dtype == np.float32 and obs["player_0"].argmax() == 0
    obs, *_ = env.step({"player_0": C, "player_1": D})
    assert obs["player_0"].argmax() == 2 and obs["player_1"].argmax() == 3
    assert obs["player_0"].sum() == 1.0


def test_spaces_are_the_same_object_every_call() -> None:
    env = lola_zoo.make("ipd")
    assert env.observation_space("player_0") is env.observation_space("player_0")
    assert env.action_space("player_1") is env.action_space("player_1")


def test_perspective_tables_swap_roles_for_player_1() -> None:
    table = perspective_tables(lola_zoo.game("ipd"))
    assert table.tolist() == [[1, 2, 3, 4], [1, 3, 2, 4]]


def test_render_ansi_shows_round_actions_and_payoffs(capsys: pytest.CaptureFixture[str]) -> None:
    env = lola_zoo.make("ipd", render_mode="ansi", max_steps=4)
    env.reset()
    assert "start" in env.render()
    env.step({"player_0": C, "player_1": D})
    text = env.render()
    assert "round 1/4" in text and "cooperate" in text and "defect" in text and "-3" in text
    human = lola_zoo.make("ipd", render_mode="human")
    human.reset()
    human.step({"player_0": D, "player_1": D})
    assert "round 1" in capsys.readouterr().out


@pytest.mark.parametrize("bad", [2, -1, 0.5, "C", None])
def test_action_out_of_range_names_agent_and_range(bad: object) -> None:
    env = lola_zoo.make("ipd")
    env.reset()
    with pytest.raises(ValueError, match=r"invalid action .* for player_1: expected an integer in \[0, 1\]"):
        env.step({"player_0": 0, "player_1": bad})


def test_missing_and_unknown_agent_keys_are_named() -> None:
    env = lola_zoo.make("ipd")
    env.reset()
    with pytest.raises(KeyError, match="no action given for agent.*player_1"):
        env.step({"player_0": 0})
    with pytest.raises(KeyError, match="unknown agent.*player_7"):
        env.step({"player_0": 0, "player_1": 0, "player_7": 0})


def test_stepping_after_the_episode_ended_is_an_error() -> None:
    env = lola_zoo.make("ipd", max_steps=1)
    env.reset()
    env.step({"player_0": 0, "player_1": 0})
    with pytest.raises(RuntimeError, match="after the episode ended.*reset"):
        env.step({"player_0": 0, "player_1": 0})


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"max_steps": 0}, "max_steps"),
        ({"observation_type": "image"}, "observation_type"),
        ({"render_mode": "rgb_array"}, "render_mode"),
        ({"game": "nope"}, "unknown matrix game"),
    ],
)
def test_bad_constructor_arguments_fail_clearly(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        IteratedMatrixGame(**kwargs)


def test_numpy_integer_actions_are_accepted() -> None:
    env = lola_zoo.make("ipd")
    env.reset()
    _, r, *_ = env.step({"player_0": np.int64(1), "player_1": np.array(0)})
    assert r == {"player_0": 0.0, "player_1": -3.0}
