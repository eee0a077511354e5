"""IPD in the matrix: PettingZoo's suites, the rules on constructed states, and the batched twin step for step."""

from __future__ import annotations

import numpy as np
import pettingzoo
import pettingzoo.test as pzt  # imported as a module: pytest would collect test_save_obs otherwise
import pytest
import torch

import lola_zoo
import lola_zoo.envs.in_the_matrix as itm_module
from lola_zoo.envs.games import CANONICAL_GAMES
from lola_zoo.envs.in_the_matrix import BatchedInTheMatrix, InTheMatrix, InTheMatrixState

FORWARD, LEFT, RIGHT, STAY, ZAP = range(5)
UP, EAST, DOWN, WEST = range(4)
IPD = CANONICAL_GAMES["ipd"].payoffs[0]
# Inventory counts have no upper bound (a player may gather for a whole episode), so the Box is
# unbounded above, and a player off the grid sees all zeros; PettingZoo's API test warns about
# both, which says nothing about correctness.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Agent's maximum observation space value is infinity"),
    pytest.mark.filterwarnings("ignore:Observation numpy array is all zeros"),
]

VARIANTS = [
    {},
    {"n_players": 3, "grid_size": 6, "freeze_steps": 0, "beam_length": 5},
    {"n_players": 3, "grid_size": 5, "n_resources": 3, "respawn_prob": 0.5, "payoffs": "stag-hunt"},
]


def state(positions, facing, inventories, resources=((0, 0), (0, 1)), alive=None, frozen=None) -> InTheMatrixState:
    """A state from short arguments: one resource of each kind by default, all alive."""
    return InTheMatrixState(
        positions=tuple(positions), facing=tuple(facing), inventories=tuple(inventories),
        resources=tuple(resources), alive=tuple(alive if alive is not None else [True] * len(resources)),
        frozen=frozen,
    )


def play(s: InTheMatrixState, actions: list[int], **kw) -> tuple[InTheMatrix, dict, dict, dict]:
    """A fresh 5x5 env (one resource of each kind) in state ``s`` plays one step; returns env, obs, rewards, infos."""
    kw = {"grid_size": 5, "n_resources": 1, "n_players": len(actions), "respawn_prob": 0.0, "payoffs": "ipd", **kw}
    env = InTheMatrix(**kw)
    env.reset(seed=0)
    env.set_game_state(s)
    obs, rewards, _, _, infos = env.step({f"player_{i}": a for i, a in enumerate(actions)})
    return env, obs, rewards, infos


# --------------------------------------------------------------- PettingZoo suites
@pytest.mark.parametrize("kwargs", VARIANTS, ids=str)
def test_passes_pettingzoo_parallel_aec_seed_and_render_tests(kwargs: dict) -> None:
    pzt.parallel_api_test(InTheMatrix(**kwargs), num_cycles=200)
    pzt.parallel_seed_test(lambda: InTheMatrix(**kwargs))
    pzt.api_test(itm_module.raw_env(**kwargs), num_cycles=200)
    pzt.api_test(itm_module.env(**kwargs), num_cycles=200)
    pzt.seed_test(lambda: itm_module.env(**kwargs))
    pzt.render_test(lambda render_mode=None: itm_module.env(render_mode=render_mode, **kwargs))


def test_max_cycles_truncates_in_both_apis() -> None:
    pzt.max_cycles_test(itm_module)


def test_registered_with_lola_zoo_and_pettingzoo() -> None:
    assert "in-the-matrix" in lola_zoo.registered()
    env = lola_zoo.make("in-the-matrix", n_players=3, grid_size=6, payoffs="stag-hunt")
    assert isinstance(env, InTheMatrix) and env.n_players == 3 and env.game.name == "stag hunt"
    assert env.resource_names == ("stag", "hare")
    assert env.observation_space("player_2").shape == (9, 6, 6)
    pz = pettingzoo.make("parallel", "lola_zoo/in-the-matrix-v0", max_steps=4)
    assert isinstance(pz, InTheMatrix) and pz.max_steps == 4
    aec = lola_zoo.make("in-the-matrix", api="aec")
    aec.reset(seed=1)
    assert aec.observe("player_1").dtype == np.float32


def test_defaults() -> None:
    env = InTheMatrix()
    assert (env.n_players, env.grid_size, env.n_resources, env.freeze_steps, env.beam_length, env.max_steps) == (
        2, 8, 4, 5, 3, 150)
    np.testing.assert_array_equal(env.game.payoffs[0], [[3.0, 0.0], [5.0, 1.0]])  # a positive prisoner's dilemma
    np.testing.assert_array_equal(env.game.payoffs[1], env.game.payoffs[0].T)
    assert env.resource_names == ("cooperate", "defect")
    assert env.action_space("player_0").n == 5


# --------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"n_players": 1}, "n_players"),
        ({"n_players": 2.5}, "n_players"),
        ({"grid_size": 3, "n_players": 4, "n_resources": 3}, "grid_size=3 is too small"),
        ({"grid_size": 1}, "grid_size"),
        ({"n_resources": 0}, "n_resources"),
        ({"respawn_prob": 1.5}, "respawn_prob"),
        ({"freeze_steps": -1}, "freeze_steps"),
        ({"beam_length": 8}, "beam_length"),
        ({"max_steps": 0}, "max_steps"),
        ({"payoffs": "rps"}, "2x2"),
        ({"payoffs": "no-such-game"}, "no-such-game"),
        ({"payoffs": [[1, 2, 3]]}, "shape (1, 3)"),
        ({"payoffs": [[1, 2], ["a", 0]]}, "payoffs"),
        ({"payoffs": [[1, 2], [np.inf, 0]]}, "finite"),
        ({"render_mode": "video"}, "render_mode"),
    ],
)
def test_bad_parameters_raise_one_clear_value_error(kwargs: dict, named: str) -> None:
    with pytest.raises(ValueError, match=named.replace("(", r"\(").replace(")", r"\)")):
        InTheMatrix(**kwargs)
    if "render_mode" not in kwargs:
        with pytest.raises(ValueError, match=named.replace("(", r"\(").replace(")", r"\)")):
            BatchedInTheMatrix(2, **kwargs)


@pytest.mark.parametrize("action", [5, -1, 1.5, "zap", None])
def test_invalid_action_is_named(action) -> None:
    env = InTheMatrix()
    env.reset(seed=0)
    with pytest.raises(ValueError, match=f"invalid action {action!r} for player_1"):
        env.step({"player_0": 0, "player_1": action})


def test_batched_bad_actions_and_states_are_named() -> None:
    env = BatchedInTheMatrix(3, max_steps=2)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="invalid action 7"):
        env.step(torch.tensor([[0, 7], [0, 0], [0, 0]]))
    with pytest.raises(ValueError, match="shape"):
        env.step(torch.zeros(3, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="long"):
        env.step(torch.zeros(3, 2))
    with pytest.raises(ValueError, match="share a cell"):
        env.set_game_state(0, state([(1, 1), (1, 1)], [0, 0], [(0, 0), (0, 0)], resources=[(0, 0)] * 4 + [(0, 1)] * 4))
    with pytest.raises(ValueError, match="batch_size"):
        BatchedInTheMatrix(0)
    env.step(torch.zeros(3, 2, dtype=torch.long))
    env.step(torch.zeros(3, 2, dtype=torch.long))
    with pytest.raises(RuntimeError, match="reset"):
        env.step(torch.zeros(3, 2, dtype=torch.long))


def test_bad_states_are_named() -> None:
    env = InTheMatrix(grid_size=5, n_resources=1)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="outside the 5x5 grid"):
        env.set_game_state(state([(1, 1), (5, 1)], [0, 0], [(0, 0), (0, 0)]))
    with pytest.raises(ValueError, match="under a player"):
        env.set_game_state(state([(0, 0), (2, 2)], [0, 0], [(0, 0), (0, 0)]))
    with pytest.raises(ValueError, match="exactly when the player is in play"):
        env.set_game_state(state([None, (2, 2)], [0, 0], [(0, 0), (0, 0)]))
    with pytest.raises(ValueError, match="facings"):
        env.set_game_state(state([(1, 1), (2, 2)], [0, 4], [(0, 0), (0, 0)]))


# --------------------------------------------------------------- the rules
def test_an_interaction_pays_the_mixtures_expected_payoff_and_empties_both_inventories() -> None:
    # player_0 at (2, 0) faces east and zaps; player_1 two cells ahead holds 1 cooperate, 2 defect.
    s = state([(2, 0), (2, 2)], [EAST, WEST], [(3, 1), (1, 2)])
    env, obs, rewards, infos = play(s, [ZAP, STAY], freeze_steps=2)
    x, y = np.array([3, 1]) / 4, np.array([1, 2]) / 3
    by_hand_0 = 0.75 * (-1 * 1 / 3 + -3 * 2 / 3) + 0.25 * (0 * 1 / 3 + -2 * 2 / 3)  # x^T A y = -2.0833...
    assert rewards["player_0"] == pytest.approx(by_hand_0) == pytest.approx(x @ IPD @ y)
    assert rewards["player_1"] == pytest.approx(y @ IPD @ x) == pytest.approx(-5 / 6)
    assert infos["player_0"]["partner"] == "player_1" and infos["player_1"]["partner"] == "player_0"
    assert infos["player_0"]["row_player"] is True and infos["player_1"]["row_player"] is False
    assert infos["player_0"]["mix"] == 0.75 and infos["player_1"]["mix"] == pytest.approx(1 / 3)
    after = env.game_state()
    assert after.inventories == ((0, 0), (0, 0))
    assert after.positions == (None, None) and after.frozen == (2, 2)
    assert not infos["player_0"]["in_play"]
    assert all(not o.any() for o in obs.values())  # off the grid: nothing seen
    # The same situation in the batched twin gives the same rewards (float32).
    batched = BatchedInTheMatrix(1, grid_size=5, n_resources=1, respawn_prob=0.0, freeze_steps=2, payoffs="ipd")
    batched.reset(seed=0)
    batched.set_game_state(0, s)
    _, r, info = batched.step(torch.tensor([[ZAP, STAY]]))
    assert r[0].tolist() == [np.float32(rewards["player_0"]), np.float32(rewards["player_1"])]
    assert info["partner"][0].tolist() == [1, 0] and info["row_player"][0].tolist() == [True, False]
    assert batched.game_state(0) == after


def test_frozen_players_wait_then_respawn_on_a_free_cell() -> None:
    s = state([(2, 0), (2, 1)], [EAST, UP], [(1, 0), (0, 1)])
    env, *_ = play(s, [ZAP, STAY], freeze_steps=2)
    assert env.game_state().frozen == (2, 2)
    _, rewards, _, _, infos = env.step({"player_0": ZAP, "player_1": FORWARD})  # ignored while off the grid
    assert env.game_state().frozen == (1, 1) and rewards == {"player_0": 0.0, "player_1": 0.0}
    obs, *_, infos = env.step({"player_0": STAY, "player_1": STAY})
    after = env.game_state()
    assert after.frozen == (0, 0) and all(i["respawned"] and i["in_play"] for i in infos.values())
    live = {r for r, a in zip(after.resources, after.alive) if a}
    assert None not in after.positions and len(set(after.positions)) == 2
    assert not live & set(after.positions)
    assert all(o[2, 2, 2] == 1.0 for o in obs.values())  # the observer sits at the centre again


def test_freeze_zero_respawns_in_the_same_step() -> None:
    env, _, rewards, infos = play(state([(2, 0), (2, 1)], [EAST, UP], [(1, 0), (0, 1)]), [ZAP, STAY], freeze_steps=0)
    assert rewards["player_0"] == -3.0 and rewards["player_1"] == 0.0  # pure C against pure D
    assert env.game_state().frozen == (0, 0) and all(i["respawned"] for i in infos.values())
    assert env.game_state().inventories == ((0, 0), (0, 0))


def test_the_zapper_is_the_row_player_of_an_asymmetric_game() -> None:
    # Battle of the sexes: row gets 3 and column 2 at (opera, opera); here player_1 zaps player_0.
    s = state([(2, 0), (2, 1)], [EAST, WEST], [(1, 0), (1, 0)])
    _, _, rewards, infos = play(s, [STAY, ZAP], payoffs="battle-of-the-sexes")
    assert rewards == {"player_0": 2.0, "player_1": 3.0}
    assert infos["player_1"]["row_player"] is True


def test_nothing_happens_when_an_inventory_is_empty_or_the_beam_is_blocked() -> None:
    # Empty zapper.
    _, _, rewards, infos = play(state([(2, 0), (2, 1)], [EAST, UP], [(0, 0), (0, 1)]), [ZAP, STAY])
    assert rewards == {"player_0": 0.0, "player_1": 0.0} and infos["player_0"]["partner"] is None
    # Empty target.
    _, _, rewards, _ = play(state([(2, 0), (2, 1)], [EAST, UP], [(1, 0), (0, 0)]), [ZAP, STAY])
    assert rewards == {"player_0": 0.0, "player_1": 0.0}
    # The beam stops at the first player (empty-handed), so the one behind it is not reached.
    s = state([(2, 0), (2, 1), (2, 2)], [EAST, UP, UP], [(1, 0), (0, 0), (0, 1)])
    env, _, rewards, _ = play(s, [ZAP, STAY, STAY])
    assert set(rewards.values()) == {0.0} and env._beams == [[11]]
    # Out of reach: beam_length 2 does not reach three cells ahead.
    _, _, rewards, _ = play(state([(2, 0), (2, 3)], [EAST, UP], [(1, 0), (0, 1)]), [ZAP, STAY], beam_length=2)
    assert set(rewards.values()) == {0.0}
    # The beam wraps around the torus: from column 0 facing west it reaches column 4.
    _, _, rewards, _ = play(state([(2, 0), (2, 4)], [WEST, UP], [(1, 0), (0, 1)]), [ZAP, STAY])
    assert rewards["player_0"] == -3.0


def test_mutual_and_competing_zaps_pair_each_player_once_in_seat_order() -> None:
    # Mutual zap: one interaction, player_0 (the lower seat) is the row player.
    _, _, rewards, infos = play(state([(2, 0), (2, 1)], [EAST, WEST], [(1, 0), (0, 1)]), [ZAP, ZAP])
    assert rewards == {"player_0": -3.0, "player_1": 0.0} and infos["player_0"]["row_player"] is True
    # player_0 and player_2 both zap player_1: only player_0 plays.
    s = state([(2, 0), (2, 1), (2, 2)], [EAST, UP, WEST], [(1, 0), (0, 1), (0, 1)])
    _, _, rewards, infos = play(s, [ZAP, STAY, ZAP])
    assert rewards == {"player_0": -3.0, "player_1": 0.0, "player_2": 0.0}
    assert infos["player_2"]["partner"] is None


def test_moves_turns_collection_and_blocking() -> None:
    # player_0 faces east and steps onto the cooperate resource at (0, 1); player_1 turns right.
    s = state([(0, 0), (3, 3)], [EAST, UP], [(0, 0), (0, 0)], resources=[(0, 1), (4, 4)])
    env, _, _, infos = play(s, [FORWARD, RIGHT])
    after = env.game_state()
    assert after.positions[0] == (0, 1) and after.inventories[0] == (1, 0) and after.alive == (False, True)
    assert infos["player_0"]["collected"] == "cooperate" and after.facing[1] == EAST
    # Walking into a standing player: blocked.  Two movers aiming at one cell: both stay.
    env, *_ = play(state([(1, 1), (1, 2)], [EAST, UP], [(0, 0), (0, 0)], resources=[(4, 4), (4, 3)]), [FORWARD, STAY])
    assert env.game_state().positions == ((1, 1), (1, 2))
    env, *_ = play(state([(1, 1), (1, 3)], [EAST, WEST], [(0, 0), (0, 0)], resources=[(4, 4), (4, 3)]), [FORWARD, FORWARD])
    assert env.game_state().positions == ((1, 1), (1, 3))
    # Swapping is blocked too; a turn left from up faces west; moving off the edge wraps.
    env, *_ = play(state([(1, 1), (1, 2)], [EAST, WEST], [(0, 0), (0, 0)], resources=[(4, 4), (4, 3)]), [FORWARD, FORWARD])
    assert env.game_state().positions == ((1, 1), (1, 2))
    env, *_ = play(state([(0, 2), (3, 3)], [UP, UP], [(0, 0), (0, 0)], resources=[(2, 2), (4, 3)]), [FORWARD, LEFT])
    assert env.game_state().positions[0] == (4, 2) and env.game_state().facing[1] == WEST


def test_observations_are_egocentric_and_rotate_with_the_observer() -> None:
    # player_0 at (2, 2); the defect resource one cell east of it, player_1 two cells north.
    for facing, ahead in [(EAST, (2, 3)), (UP, (1, 2)), (WEST, (2, 1)), (DOWN, (3, 2))]:
        s = state([(2, 2), (0, 2)], [facing, EAST], [(2, 1), (0, 3)], resources=[(4, 4), ahead])
        env = InTheMatrix(grid_size=5, n_resources=1)
        env.reset(seed=0)
        obs = env.set_game_state(s)["player_0"]
        assert obs.shape == (9, 5, 5) and obs.dtype == np.float32
        assert obs[1, 1, 2] == 1.0 and obs[1].sum() == 1.0  # whatever lies ahead shows right above the centre
        assert obs[2, 2, 2] == 1.0 and (obs[7, 2, 2], obs[8, 2, 2]) == (2.0, 1.0)  # self and own inventory
        assert obs[3:7].sum() == 1.0 and obs[8].sum() == 4.0  # one other player, holding 3 defect
    # Facing east, player_1 (two cells north of player_0) lies two cells to the observer's left,
    # and player_1 itself faces east: the same way as the observer, so plane 3 ("facing up").
    s = state([(2, 2), (0, 2)], [EAST, EAST], [(0, 0), (0, 3)], resources=[(4, 4), (4, 3)])
    env = InTheMatrix(grid_size=5, n_resources=1)
    env.reset(seed=0)
    obs = env.set_game_state(s)["player_0"]
    assert obs[3, 2, 0] == 1.0 and obs[8, 2, 0] == 3.0


def test_episodes_end_at_max_steps() -> None:
    env = InTheMatrix(max_steps=7)
    env.reset(seed=3)
    for t in range(7):
        assert env.agents
        _, _, terms, truncs, infos = env.step({a: int(env.action_space(a).sample()) for a in env.agents})
        assert not any(terms.values()) and all(v == (t == 6) for v in truncs.values())
    assert env.agents == [] and infos["player_0"]["TimeLimit.truncated"] is True
    with pytest.raises(RuntimeError, match="reset"):
        env.step({"player_0": 0, "player_1": 0})
    batched = BatchedInTheMatrix(4, max_steps=7)
    batched.reset(seed=0)
    for t in range(7):
        *_, info = batched.step(torch.zeros(4, 2, dtype=torch.long))
    assert info["truncated"] is True and info["step"] == 7


def test_renders_text_and_pictures() -> None:
    env = InTheMatrix(grid_size=5, n_resources=1, render_mode="ansi")
    env.reset(seed=0)
    env.set_game_state(state([(2, 0), (2, 3)], [EAST, UP], [(1, 0), (0, 1)]))
    env.step({"player_0": ZAP, "player_1": STAY})
    text = env.render()
    assert isinstance(text, str) and "step 1/150" in text
    assert "0: +0 inv 0c/0d, off grid 5; 1: +5 inv 0c/0d, off grid 5" in text  # default payoffs: S 0, T 5
    assert text.splitlines()[4].split() == [".", "*", "*", "*", "."]  # the beam, both players off the grid
    picture = InTheMatrix(render_mode="rgb_array", cell_pixels=16)
    picture.reset(seed=1)
    frame = picture.render()
    assert isinstance(frame, np.ndarray) and frame.shape == (128, 128, 3) and frame.dtype == np.uint8


# --------------------------------------------------------------- the batched twin
BATCH_CONFIGS = [
    {"grid_size": 5, "n_resources": 4, "respawn_prob": 0.3, "freeze_steps": 2, "beam_length": 3},
    {"n_players": 3, "grid_size": 5, "n_resources": 3, "respawn_prob": 0.5, "freeze_steps": 0, "beam_length": 4},
    {"n_players": 4, "grid_size": 4, "n_resources": 2, "respawn_prob": 0.2, "freeze_steps": 1, "beam_length": 2,
     "payoffs": "battle-of-the-sexes"},
]


def _replay_against_pettingzoo(config: dict, device: str = "cpu", B: int = 16, T: int = 80) -> dict[str, int]:
    """Feed the same actions to B PettingZoo envs and the batched twin; compare everything, step by step.

    The two draw their random events (regrowth, respawn cells) from different generators, so after
    each step the deterministic parts are compared, and the PettingZoo env is then put in the
    batched game's state (a copy of the random draws) before the next step.
    """
    batched = BatchedInTheMatrix((B // 4, 4), max_steps=T, device=device, **config)
    obs = batched.reset(seed=7).view(B, batched.n_players, 9, batched.grid_size, batched.grid_size).cpu()
    n = batched.n_players
    agents = [f"player_{i}" for i in range(n)]
    envs = []
    for b in range(B):
        env = InTheMatrix(max_steps=T, **config)
        env.reset(seed=b)
        pz_obs = env.set_game_state(batched.game_state(b))
        for i, a in enumerate(agents):
            np.testing.assert_array_equal(pz_obs[a], obs[b, i].numpy())
        envs.append(env)
    # Zaps and moves often, so that interactions, blocking and respawns all happen.
    probs = torch.tensor([0.35, 0.12, 0.12, 0.06, 0.35])
    actions = torch.multinomial(probs, T * B * n, replacement=True, generator=torch.Generator().manual_seed(1))
    actions = actions.view(T, B, n)
    events = dict.fromkeys(["interactions", "collected", "respawned", "regrown", "own_obs_compared", "copied"], 0)
    for t in range(T):
        obs, rewards, info = batched.step(actions[t].view(B // 4, 4, n).to(device))
        obs = obs.view(B, n, 9, batched.grid_size, batched.grid_size).cpu()
        rewards = rewards.view(B, n).cpu()
        info = {k: v.reshape(B, -1).cpu() if isinstance(v, torch.Tensor) else v for k, v in info.items()}
        for b, env in enumerate(envs):
            pz_obs, pz_rewards, pz_terms, pz_truncs, pz_infos = env.step({a: int(actions[t, b, i]) for i, a in enumerate(agents)})
            mine, theirs = env.game_state(), batched.game_state(b)
            assert [np.float32(pz_rewards[a]) for a in agents] == rewards[b].tolist()
            assert [pz_infos[a]["partner"] for a in agents] == [None if p < 0 else agents[p] for p in info["partner"][b].tolist()]
            assert [bool(pz_infos[a]["row_player"]) for a in agents] == info["row_player"][b].tolist()
            kinds = {None: -1, **{name: k for k, name in enumerate(env.resource_names)}}
            assert [kinds[pz_infos[a]["collected"]] for a in agents] == info["collected"][b].tolist()
            assert [pz_infos[a]["respawned"] for a in agents] == info["respawned"][b].tolist()
            assert [pz_infos[a]["in_play"] for a in agents] == info["in_play"][b].tolist()
            assert mine.inventories == theirs.inventories and mine.frozen == theirs.frozen
            assert mine.resources == theirs.resources
            for i in range(n):
                if not pz_infos[agents[i]]["respawned"]:
                    assert mine.positions[i] == theirs.positions[i] and mine.facing[i] == theirs.facing[i]
            # Spots may differ only where one of the two envs drew a regrowth the other did not.
            regrown = info["regrown"][b].tolist()
            for k, (m, th) in enumerate(zip(mine.alive, theirs.alive)):
                assert m == th or (m and env._regrown[k]) or (th and regrown[k])
            assert not any(pz_terms.values()) and all(v == (t + 1 == T) for v in pz_truncs.values())
            events["interactions"] += sum(p is not None for p in (pz_infos[a]["partner"] for a in agents))
            events["collected"] += sum(pz_infos[a]["collected"] is not None for a in agents)
            events["respawned"] += int(info["respawned"][b].sum())
            events["regrown"] += int(info["regrown"][b].sum())
            if mine == theirs:  # no random draw told them apart: the env's own observations must agree
                events["own_obs_compared"] += 1
            elif t + 1 < T:
                events["copied"] += 1
                pz_obs = env.set_game_state(theirs)
            else:
                continue
            for i, a in enumerate(agents):
                np.testing.assert_array_equal(pz_obs[a], obs[b, i].numpy())
    assert info["truncated"] is True
    return events


@pytest.mark.parametrize("config", BATCH_CONFIGS, ids=str)
def test_batched_twin_matches_the_pettingzoo_env_step_for_step(config: dict) -> None:
    events = _replay_against_pettingzoo(config)
    assert min(events.values()) > 0, events  # every kind of event was exercised


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_batched_twin_on_cuda_matches_the_pettingzoo_env() -> None:
    events = _replay_against_pettingzoo(BATCH_CONFIGS[1], device="cuda", B=64, T=60)
    assert min(events.values()) > 0, events


def test_batched_seeding_and_layout() -> None:
    def rollout(seed: int) -> list:
        env = BatchedInTheMatrix(64, n_players=3, max_steps=30)
        trace = [env.reset(seed=seed)]
        gen = torch.Generator().manual_seed(0)
        for _ in range(30):
            obs, rewards, _ = env.step(torch.randint(5, (64, 3), generator=gen))
            trace += [obs, rewards]
        return trace

    a, b, c = rollout(3), rollout(3), rollout(4)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not all(torch.equal(x, y) for x, y in zip(a, c))
    env = BatchedInTheMatrix(500, n_players=3, grid_size=4, n_resources=6)
    env.reset(seed=0)
    cells = torch.cat([env.positions, env.spots], dim=1)
    assert cells.shape == (500, 15) and all(len(set(row)) == 15 for row in cells.tolist())


def test_random_rollout_keeps_the_invariants() -> None:
    """No two players share a cell, no live resource under a player, rewards only in pairs."""
    env = BatchedInTheMatrix(256, n_players=3, grid_size=5, n_resources=3, respawn_prob=0.4, freeze_steps=1)
    env.reset(seed=5)
    gen = torch.Generator().manual_seed(2)
    total = 0
    for _ in range(150):
        _, rewards, info = env.step(torch.randint(5, (256, 3), generator=gen))
        in_play = env.frozen == 0
        for b in range(0, 256, 17):
            live = env.positions[b][in_play[b]].tolist()
            assert len(set(live)) == len(live)
            assert not set(env.spots[b][env.alive[b]].tolist()) & set(live)
        assert torch.equal(rewards != 0, (info["partner"] >= 0) & (rewards != 0))
        total += int((info["partner"] >= 0).sum())
        assert int((info["partner"] >= 0).sum()) % 2 == 0
    assert total > 0


def test_docs_page_code_runs_and_draws_the_picture(run_doc_page, tmp_path) -> None:
    (tmp_path / "docs" / "img").mkdir(parents=True)  # the picture block writes docs/img/in-the-matrix.png
    namespace = run_doc_page("envs/in-the-matrix.md")
    assert (tmp_path / "docs" / "img" / "in-the-matrix.png").is_file()
    assert namespace["stag"].resource_names == ("stag", "hare") and namespace["three"].n_players == 3
    assert "blue +0.25, orange +4" in namespace["titles"][2]  # the interaction worked out on the page
