"""The Coin Game PettingZoo env: PettingZoo's suites, every reward case, wrap-around, views, rendering."""

from __future__ import annotations

import numpy as np
import pettingzoo.test as pzt  # imported as a module: pytest would collect test_save_obs otherwise
import pytest

import lola_zoo
import lola_zoo.envs.coin_game as coin_module
from lola_zoo.envs.coin_game import CoinGame, CoinGameState

RIGHT, LEFT, DOWN, UP = 0, 1, 2, 3
VARIANTS = [
    {},
    {"n_players": 3, "grid_size": 4},
    {"coin_respawn": "alternate", "tie_rule": "first"},
    {"grid_size": 5, "max_steps": 20},
]


def at(state: CoinGameState, **kw: int) -> tuple[dict, dict, dict]:
    """A fresh env in ``state`` plays one step of ``kw`` = {agent: action}; returns rewards, infos, env."""
    env = CoinGame(**{k: v for k, v in kw.items() if k in ("tie_rule", "coin_respawn", "n_players")})
    env.reset(seed=0)
    env.set_game_state(state)
    actions = {a: v for a, v in kw.items() if a.startswith("player_")}
    _, rewards, _, _, infos = env.step(actions)
    return rewards, infos, env


# --------------------------------------------------------------- PettingZoo suites
@pytest.mark.parametrize("kwargs", VARIANTS, ids=str)
def test_passes_pettingzoo_parallel_aec_and_seed_tests(kwargs: dict) -> None:
    pzt.parallel_api_test(CoinGame(**kwargs), num_cycles=200)
    pzt.parallel_seed_test(lambda: CoinGame(**kwargs))
    pzt.api_test(coin_module.env(**kwargs), num_cycles=200)
    pzt.seed_test(lambda: coin_module.env(**kwargs))


def test_max_cycles_truncates_in_both_apis() -> None:
    pzt.max_cycles_test(coin_module)


def test_registered_as_coin_game_with_kwargs_passed_through() -> None:
    env = lola_zoo.make("coin-game", grid_size=4, max_steps=9)
    assert isinstance(env, CoinGame) and env.grid_size == 4 and env.max_steps == 9
    assert env.observation_space("player_0").shape == (4, 4, 4)
    assert "coin-game" in lola_zoo.registered()
    aec = lola_zoo.make("coin-game", api="aec")
    aec.reset(seed=1)
    assert aec.observe("player_1").dtype == np.float32


def test_defaults_are_the_papers_game() -> None:
    env = CoinGame()
    assert (env.grid_size, env.max_steps, env.n_players) == (3, 150, 2)
    assert env.coin_respawn == "random" and env.tie_rule == "all"
    assert env.colours == ("red", "blue")
    space = env.observation_space("player_0")
    assert space.shape == (4, 3, 3) and space.dtype == np.float32
    assert env.observation_space("player_1") is space  # built once, shared
    assert env.action_space("player_0").n == 4


# ------------------------------------------------------------------- reward cases
def test_own_coin_gives_plus_one_to_the_picker_only() -> None:
    state = CoinGameState(positions=((0, 0), (2, 2)), coin_position=(0, 1), coin_owner=0)
    rewards, infos, env = at(state, player_0=RIGHT, player_1=UP)
    assert rewards == {"player_0": 1.0, "player_1": 0.0}
    assert infos["player_0"]["picked"] == "own" and infos["player_0"]["coin_owner"] == "player_0"
    assert infos["player_1"]["picked"] is None and infos["player_1"]["coin_owner"] is None
    new = env.game_state()
    assert new.coin_position not in new.positions  # a new coin at once, on a free cell


def test_taking_the_others_coin_costs_its_owner_two() -> None:
    # Blue (player_1) takes red's coin: blue +1, red -2.
    state = CoinGameState(positions=((0, 0), (2, 1)), coin_position=(1, 1), coin_owner=0)
    rewards, infos, _ = at(state, player_0=DOWN, player_1=UP)  # red lands on (1,0), blue on the coin
    assert rewards == {"player_0": -2.0, "player_1": 1.0}
    assert infos["player_1"]["picked"] == "other" and infos["player_1"]["coin_owner"] == "player_0"
    assert infos["player_0"]["picked"] is None
    # And red taking blue's coin, the mirror case.
    state = CoinGameState(positions=((1, 0), (2, 2)), coin_position=(1, 1), coin_owner=1)
    rewards, infos, _ = at(state, player_0=RIGHT, player_1=LEFT)
    assert rewards == {"player_0": 1.0, "player_1": -2.0}
    assert infos["player_0"]["picked"] == "other" and infos["player_0"]["coin_owner"] == "player_1"


def test_no_pickup_gives_zero_and_keeps_the_coin() -> None:
    state = CoinGameState(positions=((0, 0), (2, 2)), coin_position=(1, 1), coin_owner=1)
    rewards, infos, env = at(state, player_0=RIGHT, player_1=LEFT)
    assert rewards == {"player_0": 0.0, "player_1": 0.0}
    assert env.game_state() == CoinGameState(((0, 1), (2, 1)), (1, 1), 1, step=1)
    assert all(info["picked"] is None for info in infos.values())


@pytest.mark.parametrize(
    "tie_rule, owner, expected",
    [
        # "all": both pick it up; the owner also loses 2 for the other's pickup.
        ("all", 0, {"player_0": -1.0, "player_1": 1.0}),
        ("all", 1, {"player_0": 1.0, "player_1": -1.0}),
        # "first" (the reference code): red gets the coin whatever its colour.
        ("first", 0, {"player_0": 1.0, "player_1": 0.0}),
        ("first", 1, {"player_0": 1.0, "player_1": -2.0}),
    ],
)
def test_both_players_on_the_coin_at_once(tie_rule: str, owner: int, expected: dict) -> None:
    state = CoinGameState(positions=((0, 0), (0, 2)), coin_position=(0, 1), coin_owner=owner)
    rewards, infos, env = at(state, player_0=RIGHT, player_1=LEFT, tie_rule=tie_rule)
    assert rewards == expected
    assert env.game_state().positions == ((0, 1), (0, 1))
    picked = {a: i["picked"] for a, i in infos.items()}
    if tie_rule == "all":
        assert picked == {
            "player_0": "own" if owner == 0 else "other",
            "player_1": "own" if owner == 1 else "other",
        }
    else:
        assert picked == {"player_0": "own" if owner == 0 else "other", "player_1": None}


@pytest.mark.parametrize(
    "start, action, end",
    [
        ((0, 2), RIGHT, (0, 0)),
        ((1, 0), LEFT, (1, 2)),
        ((2, 1), DOWN, (0, 1)),
        ((0, 1), UP, (2, 1)),
        ((1, 1), RIGHT, (1, 2)),
        ((1, 1), LEFT, (1, 0)),
        ((1, 1), DOWN, (2, 1)),
        ((1, 1), UP, (0, 1)),
    ],
)
def test_moves_wrap_around_the_grid(start: tuple, action: int, end: tuple) -> None:
    other = (2, 2) if start != (2, 2) and end != (2, 2) else (2, 0)
    coin = next(c for c in [(0, 0), (2, 0), (1, 2)] if c not in (start, end, other))
    state = CoinGameState(positions=(start, other), coin_position=coin, coin_owner=0)
    _, _, env = at(state, player_0=action, player_1=RIGHT)
    assert env.game_state().positions[0] == end


def test_coin_picked_up_across_the_edge() -> None:
    # Blue steps off the top edge onto the bottom row, where red's coin lies.
    state = CoinGameState(positions=((1, 1), (0, 2)), coin_position=(2, 2), coin_owner=0)
    rewards, infos, _ = at(state, player_0=LEFT, player_1=UP)
    assert rewards == {"player_0": -2.0, "player_1": 1.0}
    assert infos["player_1"]["picked"] == "other"


def test_three_players_owner_loses_two_per_taker() -> None:
    # Green's coin (owner 2) taken by red and blue at once: each +1, green -4.
    state = CoinGameState(positions=((0, 0), (0, 2), (2, 2)), coin_position=(0, 1), coin_owner=2)
    rewards, infos, _ = at(state, player_0=RIGHT, player_1=LEFT, player_2=UP, n_players=3)
    assert rewards == {"player_0": 1.0, "player_1": 1.0, "player_2": -4.0}
    assert infos["player_0"]["coin_owner"] == "player_2"
    rewards, _, _ = at(state, player_0=RIGHT, player_1=LEFT, player_2=UP, n_players=3, tie_rule="first")
    assert rewards == {"player_0": 1.0, "player_1": 0.0, "player_2": -2.0}


# ------------------------------------------------------------------- respawn rules
def _respawns(coin_respawn: str, n: int) -> tuple[list[int], list[tuple[int, int]]]:
    """Pick up an own coin ``n`` times from one fixed state; the new coins' owners and positions."""
    env = CoinGame(coin_respawn=coin_respawn)
    env.reset(seed=123)
    owners, cells = [], []
    for _ in range(n):
        env.set_game_state(CoinGameState(((0, 0), (2, 2)), (0, 1), coin_owner=0))
        env.step({"player_0": RIGHT, "player_1": UP})  # red to (0,1) picks; blue to (1,2)
        s = env.game_state()
        owners.append(s.coin_owner)
        cells.append(s.coin_position)
    return owners, cells


def test_random_respawn_colour_and_uniform_free_cell() -> None:
    n = 2800
    owners, cells = _respawns("random", n)
    # The colour is a fair coin flip: within 4 standard deviations of n/2.
    assert abs(sum(owners) - n / 2) < 4 * np.sqrt(n / 4)
    # Never under a player (cells (0,1) and (1,2)); uniform over the 7 free cells.
    counts = {c: cells.count(c) for c in set(cells)}
    assert (0, 1) not in counts and (1, 2) not in counts and len(counts) == 7
    expected = n / 7
    chi2 = sum((k - expected) ** 2 / expected for k in counts.values())
    assert chi2 < 25.0  # 6 degrees of freedom: P(chi2 > 25) < 0.001


def test_alternate_respawn_flips_the_colour_as_the_reference_code() -> None:
    owners, _ = _respawns("alternate", 20)
    assert owners == [1] * 20  # always picked from owner 0, so always flipped to 1
    env = CoinGame(coin_respawn="alternate", n_players=3)
    env.reset(seed=0)
    env.set_game_state(CoinGameState(((0, 0), (2, 2), (2, 0)), (0, 1), coin_owner=2))
    env.step({"player_0": RIGHT, "player_1": UP, "player_2": UP})
    assert env.game_state().coin_owner == 0  # 2 -> 0: the next colour in turn


def test_reset_puts_players_and_coin_on_distinct_cells() -> None:
    env = CoinGame(n_players=3)
    seen_owners = set()
    for seed in range(200):
        env.reset(seed=seed)
        s = env.game_state()
        cells = list(s.positions) + [s.coin_position]
        assert len(set(cells)) == 4
        seen_owners.add(s.coin_owner)
    assert seen_owners == {0, 1, 2}


# ---------------------------------------------------------- observations and episodes
def test_observation_channels_from_each_players_perspective() -> None:
    env = CoinGame()
    env.reset(seed=0)
    obs = env.set_game_state(CoinGameState(((0, 0), (2, 1)), (1, 2), coin_owner=1))
    red, blue = obs["player_0"], obs["player_1"]
    assert red.shape == (4, 3, 3) and red.dtype == np.float32
    assert red[0, 0, 0] == 1 and red[1, 2, 1] == 1 and red[3, 1, 2] == 1
    assert blue[0, 2, 1] == 1 and blue[1, 0, 0] == 1 and blue[2, 1, 2] == 1
    assert red.sum() == 3 and blue.sum() == 3 and red[2].sum() == 0 and blue[3].sum() == 0
    # Swapping the seats and the coin's owner gives each player the other's observation.
    swapped = env.set_game_state(CoinGameState(((2, 1), (0, 0)), (1, 2), coin_owner=0))
    np.testing.assert_array_equal(swapped["player_1"], red)
    np.testing.assert_array_equal(swapped["player_0"], blue)


def test_three_players_see_the_others_in_one_channel() -> None:
    env = CoinGame(n_players=3)
    env.reset(seed=0)
    obs = env.set_game_state(CoinGameState(((0, 0), (1, 1), (2, 2)), (0, 2), coin_owner=1))
    green = obs["player_2"]
    assert green[0, 2, 2] == 1 and green[1, 0, 0] == 1 and green[1, 1, 1] == 1 and green[1].sum() == 2
    assert green[3, 0, 2] == 1 and green[2].sum() == 0
    assert obs["player_1"][2, 0, 2] == 1
    assert env.state().shape == (6, 3, 3) and env.state()[4, 0, 2] == 1  # coin plane of owner 1


def test_episode_truncates_after_max_steps_with_timelimit_flag() -> None:
    env = CoinGame(max_steps=5)
    env.reset(seed=3)
    for t in range(1, 6):
        _, _, terms, truncs, infos = env.step({a: t % 4 for a in env.agents})
        assert not any(terms.values())
        assert all(truncs[a] is (t == 5) for a in truncs)
        assert all(("TimeLimit.truncated" in i) == (t == 5) for i in infos.values())
        assert infos["player_0"]["step"] == t
    assert env.agents == []
    with pytest.raises(RuntimeError, match="call reset"):
        env.step({"player_0": 0, "player_1": 0})


def test_same_seed_same_trajectory_over_a_whole_episode() -> None:
    def play(seed: int) -> list:
        env = CoinGame(max_steps=60)
        obs, _ = env.reset(seed=seed)
        trace = []
        while env.agents:
            actions = {a: env.action_space(a).sample() for a in env.agents}
            obs, rewards, *_ = env.step(actions)
            trace.append((tuple(actions.values()), tuple(rewards.values()), env.game_state()))
        return trace

    assert play(5) == play(5)
    assert play(5) != play(6)


def test_bad_actions_and_parameters_are_named() -> None:
    env = CoinGame()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="invalid action 4 for player_1"):
        env.step({"player_0": 0, "player_1": 4})
    with pytest.raises(KeyError, match="no action given for player_1"):
        env.step({"player_0": 0})
    with pytest.raises(KeyError, match="unknown agent"):
        env.step({"player_0": 0, "player_1": 0, "player_9": 0})
    with pytest.raises(ValueError, match="grid_size"):
        CoinGame(grid_size=1)
    with pytest.raises(ValueError, match="n_players"):
        CoinGame(n_players=9)
    with pytest.raises(ValueError, match="no free cell"):
        CoinGame(grid_size=2, n_players=4)
    with pytest.raises(ValueError, match="coin_respawn"):
        CoinGame(coin_respawn="never")
    with pytest.raises(ValueError, match="tie_rule"):
        CoinGame(tie_rule="blue")
    with pytest.raises(ValueError, match="render_mode"):
        CoinGame(render_mode="video")
    with pytest.raises(ValueError, match="under a player"):
        env.set_game_state(CoinGameState(((0, 0), (1, 1)), (1, 1), 0))
    with pytest.raises(ValueError, match="outside the 3x3 grid"):
        env.set_game_state(CoinGameState(((0, 3), (1, 1)), (2, 2), 0))


# ---------------------------------------------------------------------- rendering
def test_ansi_render_draws_players_upper_case_and_coin_lower_case() -> None:
    env = CoinGame(render_mode="ansi")
    env.reset(seed=0)
    env.set_game_state(CoinGameState(((0, 0), (2, 1)), (1, 2), coin_owner=1))
    lines = env.render().splitlines()
    assert lines[0].startswith("coin-game step 0/150")
    grid = [line.split() for line in lines[1:]]
    assert grid == [["R", ".", "."], [".", ".", "b"], [".", "B", "."]]
    env.set_game_state(CoinGameState(((1, 1), (1, 1)), (0, 0), coin_owner=0))
    assert env.render().splitlines()[2].split() == [".", "RB", "."]


def test_human_render_prints_and_returns_none(capsys: pytest.CaptureFixture) -> None:
    env = CoinGame(render_mode="human")
    env.reset(seed=0)
    env.step({"player_0": 0, "player_1": 0})  # human mode renders on every step
    assert "coin-game step 1/150" in capsys.readouterr().out
    assert env.render() is None


def test_rgb_render_is_a_picture_with_the_players_and_coin_colours() -> None:
    env = CoinGame(render_mode="rgb_array", cell_pixels=32)
    env.reset(seed=0)
    env.set_game_state(CoinGameState(((0, 0), (2, 1)), (1, 2), coin_owner=0))
    img = env.render()
    assert img.shape == (96, 96, 3) and img.dtype == np.uint8
    red, blue = coin_module._RGB["red"], coin_module._RGB["blue"]
    np.testing.assert_array_equal(img[16, 16], red)  # centre of red's cell (0, 0)
    np.testing.assert_array_equal(img[2 * 32 + 16, 32 + 16], blue)  # blue at (2, 1)
    np.testing.assert_array_equal(img[32 + 16, 2 * 32 + 16], red)  # red coin at (1, 2)
    np.testing.assert_array_equal(img[16, 32 + 16], img[16, 32 + 20])  # an empty cell is plain
