"""The batched torch Coin Game: step-for-step agreement with the PettingZoo env, rules, seeding, metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lola_zoo.envs.batched_coin import BatchedCoinGame, PerSeatView, coin_game_metrics
from lola_zoo.envs.coin_game import CoinGame

RIGHT, LEFT, DOWN, UP = 0, 1, 2, 3

CONFIGS = [
    {},
    {"tie_rule": "first", "coin_respawn": "alternate"},
    {"n_players": 3, "grid_size": 4},
    {"n_players": 3, "grid_size": 3, "tie_rule": "first"},
]


@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_matches_the_pettingzoo_env_step_for_step(config: dict) -> None:
    """Same state, same actions -> same moves, rewards, pickups and observations, in every game.

    The two envs draw respawned coins from different generators, so after a respawn the PettingZoo
    env is given the batched env's new coin (only its cell and colour) and the comparison goes on.
    """
    B, T = 24, 80
    batched = BatchedCoinGame(B, max_steps=T, **config)
    obs = batched.reset(seed=7)
    n = batched.n_players
    agents = [f"player_{i}" for i in range(n)]
    envs = []
    for b in range(B):
        env = CoinGame(max_steps=T, **config)
        env.reset(seed=b)
        pz_obs = env.set_game_state(batched.game_state(b))
        for i, a in enumerate(agents):
            np.testing.assert_array_equal(pz_obs[a], obs[b, i].numpy())
        envs.append(env)
    actions = torch.randint(4, (T, B, n), generator=torch.Generator().manual_seed(1))
    events = {"own": 0, "other": 0, "tie": 0}
    for t in range(T):
        obs, rewards, info = batched.step(actions[t])
        for b, env in enumerate(envs):
            coin_before = env.game_state().coin_position
            pz_obs, pz_rewards, _, pz_truncs, pz_infos = env.step(
                {a: int(actions[t, b, i]) for i, a in enumerate(agents)}
            )
            before = env.game_state()
            after = batched.game_state(b)
            assert before.positions == after.positions
            assert [pz_rewards[a] for a in agents] == rewards[b].tolist()
            picked = [pz_infos[a]["picked"] for a in agents]
            assert [p == "own" for p in picked] == info["picked_own"][b].tolist()
            assert [p == "other" for p in picked] == info["picked_other"][b].tolist()
            respawned = any(p is not None for p in picked)
            assert respawned == bool(info["respawned"][b])
            if respawned:
                events["tie"] += sum(p == coin_before for p in after.positions) > 1
                events["own"] += "own" in picked
                events["other"] += "other" in picked
                assert after.coin_position not in after.positions
                if config.get("coin_respawn") == "alternate":
                    assert after.coin_owner == before.coin_owner
                if t + 1 < T:
                    pz_obs = env.set_game_state(after)
            else:
                assert before == after
            assert all(v == (t + 1 == T) for v in pz_truncs.values())
            if t + 1 < T or not respawned:
                for i, a in enumerate(agents):
                    np.testing.assert_array_equal(pz_obs[a], obs[b, i].numpy())
    assert info["truncated"] is True
    assert min(events.values()) > 0, events  # every reward case was exercised


def _one_step(positions, coin, owner, actions, **config) -> tuple[torch.Tensor, dict]:
    env = BatchedCoinGame(len(owner), **config)
    env.set_state(torch.tensor(positions), torch.tensor(coin), torch.tensor(owner))
    _, rewards, info = env.step(torch.tensor(actions))
    return rewards, info


def test_reward_cases_in_one_batch() -> None:
    # Own coin; other's coin; both on the coin (red's); both on it across the edge (blue's); nobody.
    positions = [[[0, 0], [2, 2]], [[0, 0], [2, 1]], [[0, 0], [0, 2]], [[0, 2], [2, 0]], [[0, 0], [2, 2]]]
    coin = [[0, 1], [1, 1], [0, 1], [0, 0], [1, 1]]
    owner = [0, 0, 0, 1, 0]
    actions = [[RIGHT, UP], [DOWN, UP], [RIGHT, LEFT], [RIGHT, DOWN], [RIGHT, LEFT]]
    rewards, info = _one_step(positions, coin, owner, actions)
    assert rewards.tolist() == [[1, 0], [-2, 1], [-1, 1], [1, -1], [0, 0]]
    assert info["picked_own"].tolist() == [
        [True, False], [False, False], [True, False], [False, True], [False, False]
    ]
    assert info["respawned"].tolist() == [True, True, True, True, False]
    rewards, info = _one_step(positions, coin, owner, actions, tie_rule="first")
    assert rewards.tolist() == [[1, 0], [-2, 1], [1, 0], [1, -2], [0, 0]]
    assert info["picked_other"].tolist()[3] == [True, False]


def test_respawned_coin_is_on_a_free_cell_with_a_fair_colour() -> None:
    B = 4000
    env = BatchedCoinGame(B)
    env.reset(seed=0)
    env.set_state(
        torch.tensor([[0, 0], [2, 2]]).expand(B, 2, 2),
        torch.tensor([0, 1]).expand(B, 2),
        torch.zeros(B, dtype=torch.long),
    )
    env.step(torch.tensor([RIGHT, UP]).expand(B, 2).contiguous())  # red picks at (0,1); blue to (1,2)
    cells = env.coin.tolist()
    assert 1 not in cells and 5 not in cells  # (0,1) and (1,2) are occupied
    counts = np.bincount(cells, minlength=9)[[0, 2, 3, 4, 6, 7, 8]]
    chi2 = ((counts - B / 7) ** 2 / (B / 7)).sum()
    assert chi2 < 25.0  # 6 degrees of freedom: P(chi2 > 25) < 0.001
    assert abs(env.coin_owner.sum().item() - B / 2) < 4 * np.sqrt(B / 4)


def test_reset_is_seeded_and_places_everyone_on_distinct_cells() -> None:
    env = BatchedCoinGame(2000, n_players=3)
    obs = env.reset(seed=3)
    state = env.get_state()
    again = BatchedCoinGame(2000, n_players=3)
    torch.testing.assert_close(again.reset(generator=torch.Generator().manual_seed(3)), obs)
    assert not torch.equal(again.reset(seed=4), obs)
    cells = torch.cat([env.positions, env.coin[:, None]], dim=1)
    assert (cells.sort(dim=1).values.diff(dim=1) > 0).all()
    assert set(state["coin_owner"].tolist()) == {0, 1, 2}
    assert obs.shape == (2000, 3, 4, 3, 3) and obs.dtype == torch.float32
    # Every player sees itself once, the two others, and the coin once.
    assert (obs[:, :, 0].sum(dim=(-1, -2)) == 1).all() and (obs[:, :, 2:].sum(dim=(-3, -2, -1)) == 1).all()


def test_same_seed_gives_the_same_rollout() -> None:
    def play(seed: int) -> torch.Tensor:
        env = BatchedCoinGame(64, max_steps=30)
        env.reset(seed=seed)
        g = torch.Generator().manual_seed(0)
        return torch.stack([env.step(torch.randint(4, (64, 2), generator=g))[1] for _ in range(30)])

    assert torch.equal(play(1), play(1))
    assert not torch.equal(play(1), play(2))


def test_float32_outputs_and_the_same_games_under_a_float64_default_dtype() -> None:
    def play() -> tuple[torch.Tensor, torch.Tensor]:
        env = BatchedCoinGame(32, max_steps=20)
        env.reset(seed=0)
        g = torch.Generator().manual_seed(1)
        out = [env.step(torch.randint(4, (32, 2), generator=g))[:2] for _ in range(20)]
        return torch.stack([o for o, _ in out]), torch.stack([r for _, r in out])

    reference = play()
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        obs, rewards = play()
    finally:
        torch.set_default_dtype(before)
    assert obs.dtype == rewards.dtype == torch.float32
    assert torch.equal(obs, reference[0]) and torch.equal(rewards, reference[1])


def test_batch_shape_runs_by_episodes_is_the_flat_batch_reshaped() -> None:
    flat, shaped = BatchedCoinGame(12), BatchedCoinGame((3, 4))
    torch.testing.assert_close(shaped.reset(seed=5), flat.reset(seed=5).view(3, 4, 2, 4, 3, 3))
    g = torch.Generator().manual_seed(0)
    for _ in range(10):
        a = torch.randint(4, (12, 2), generator=g)
        o1, r1, i1 = flat.step(a)
        o2, r2, i2 = shaped.step(a.view(3, 4, 2))
        torch.testing.assert_close(o2, o1.view(3, 4, 2, 4, 3, 3))
        torch.testing.assert_close(r2, r1.view(3, 4, 2))
        assert torch.equal(i2["picked_own"], i1["picked_own"].view(3, 4, 2))
    state = shaped.get_state()
    assert state["positions"].shape == (3, 4, 2, 2)
    shaped.set_state(state["positions"], state["coin_position"], state["coin_owner"], state["step"])
    assert shaped.get_state()["coin_owner"].shape == (3, 4)


def test_per_seat_view_splits_observations_by_seat() -> None:
    env = BatchedCoinGame((2, 5), max_steps=4)
    view = PerSeatView(env)
    obs = view.reset(seed=0)
    assert len(obs) == 2 and obs[0].shape == (2, 5, 4, 3, 3)
    torch.testing.assert_close(obs[1], env.observe()[:, :, 1])
    obs, rewards, info = view.step(torch.zeros(2, 5, 2, dtype=torch.long))
    assert rewards.shape == (2, 5, 2) and info["step"] == 1
    assert view.n_actions == (4, 4) and view.batch_shape == (2, 5)


def test_rewards_add_up_to_pickups_minus_two_per_stolen_coin_in_a_random_rollout() -> None:
    env = BatchedCoinGame(256, max_steps=150, n_players=3, grid_size=4)
    env.reset(seed=11)
    g = torch.Generator().manual_seed(2)
    rewards, own, other = [], [], []
    for _ in range(150):
        _, r, info = env.step(torch.randint(4, (256, 3), generator=g))
        rewards.append(r)
        own.append(info["picked_own"])
        other.append(info["picked_other"])
    rewards, own, other = torch.stack(rewards), torch.stack(own), torch.stack(other)
    total = rewards.sum(dim=-1)
    assert torch.equal(total, (own.sum(-1) + other.sum(-1) - 2 * other.sum(-1)).float())
    m = coin_game_metrics(rewards, own, other)
    # A random walker picks an own coin a third of the time among three colours.
    assert abs(m["own_coin_share"] - 1 / 3) < 0.03
    torch.testing.assert_close(m["points_per_episode"], rewards.sum(dim=(0, 1)).double() / 256)


def test_metrics_on_a_hand_made_rollout() -> None:
    # Two episodes, three steps, two players: red picks its own coin twice and blue's once;
    # blue picks red's coin once.
    own = torch.zeros(3, 2, 2, dtype=torch.bool)
    other = torch.zeros(3, 2, 2, dtype=torch.bool)
    own[0, 0, 0] = own[2, 1, 0] = True
    other[1, 0, 0] = True
    other[1, 1, 1] = True
    rewards = torch.zeros(3, 2, 2)
    rewards[0, 0, 0] = rewards[2, 1, 0] = 1
    rewards[1, 0] = torch.tensor([1.0, -2.0])
    rewards[1, 1] = torch.tensor([-2.0, 1.0])
    m = coin_game_metrics(rewards, own, other)
    assert m["own_coin_share"] == pytest.approx(2 / 4)
    expected_share = torch.tensor([2 / 3, 0.0], dtype=torch.float64)
    torch.testing.assert_close(m["own_coin_share_per_player"], expected_share)
    torch.testing.assert_close(m["points_per_episode"], torch.tensor([0.5, -0.5], dtype=torch.float64))
    torch.testing.assert_close(m["coins_per_episode"], torch.tensor([1.5, 0.5], dtype=torch.float64))
    # The same rollout laid out as Episodes tensors (episodes, T, N).
    m2 = coin_game_metrics(rewards.transpose(0, 1), own.transpose(0, 1), other.transpose(0, 1), time_dim=-2)
    torch.testing.assert_close(m2["points_per_episode"], m["points_per_episode"])
    with pytest.raises(ValueError, match="players"):
        coin_game_metrics(rewards, own, other, time_dim=-1)


def test_bad_input_is_named() -> None:
    env = BatchedCoinGame(4, max_steps=2)
    with pytest.raises(RuntimeError, match="before reset"):
        env.step(torch.zeros(4, 2, dtype=torch.long))
    env.reset(seed=0)
    with pytest.raises(ValueError, match="shape"):
        env.step(torch.zeros(4, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="long"):
        env.step(torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"\[0, 3\]"):
        env.step(torch.full((4, 2), 4, dtype=torch.long))
    env.step(torch.zeros(4, 2, dtype=torch.long))
    env.step(torch.zeros(4, 2, dtype=torch.long))
    with pytest.raises(RuntimeError, match="episode ended"):
        env.step(torch.zeros(4, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="under a player"):
        env.set_state(torch.zeros(4, 2, 2), torch.zeros(4, 2), torch.zeros(4))
    with pytest.raises(ValueError, match="grid"):
        env.set_state(torch.full((4, 2, 2), 3), torch.zeros(4, 2), torch.zeros(4))
    with pytest.raises(ValueError, match="batch_size"):
        BatchedCoinGame(0)
    with pytest.raises(ValueError, match="tie_rule"):
        BatchedCoinGame(4, tie_rule="red")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_runs_on_cuda_with_the_same_rules() -> None:
    cpu, gpu = BatchedCoinGame(512, max_steps=40), BatchedCoinGame(512, max_steps=40, device="cuda")
    cpu.reset(seed=0)
    s = cpu.get_state()
    gpu.set_state(s["positions"], s["coin_position"], s["coin_owner"])
    g = torch.Generator().manual_seed(0)
    for _ in range(40):
        a = torch.randint(4, (512, 2), generator=g)
        _, r_cpu, i_cpu = cpu.step(a)
        _, r_gpu, i_gpu = gpu.step(a.cuda())
        torch.testing.assert_close(r_gpu.cpu(), r_cpu)
        assert torch.equal(gpu.positions.cpu(), cpu.positions)
        # Respawned coins come from different generators: copy the CPU coins over, as in the PZ test.
        gpu.coin.copy_(cpu.coin)
        gpu.coin_owner.copy_(cpu.coin_owner)


@pytest.mark.parametrize("n_players", [2, 3])
def test_free_cell_draw_is_uniform_over_free_cells_when_players_share_a_cell(n_players: int) -> None:
    """The rank-and-skip draw: never an occupied cell, every free cell equally likely, shared cells counted once."""
    B = 9000
    env = BatchedCoinGame(B, n_players=n_players)
    env.reset(seed=0)
    occupied = [4, 4, 7][:n_players]  # the first two players share cell 4
    env.positions = torch.tensor(occupied).expand(B, n_players).contiguous()
    cells = env._free_cell(torch.rand(B, generator=torch.Generator().manual_seed(1), dtype=torch.float64))
    free = [c for c in range(9) if c not in occupied]
    assert not set(cells.tolist()) - set(free)
    counts = np.bincount(cells.numpy(), minlength=9)[free]
    chi2 = ((counts - B / len(free)) ** 2 / (B / len(free))).sum()
    assert chi2 < 27.0  # at most 7 degrees of freedom: P(chi2 > 27) < 0.001


def test_two_player_observations_equal_the_general_construction() -> None:
    """The embedding-lookup observations of two players equal the scatter-based N-player ones."""
    env = BatchedCoinGame(512)
    env.reset(seed=5)
    g = torch.Generator().manual_seed(6)
    for _ in range(40):
        fast, _, _ = env.step(torch.randint(4, (512, 2), generator=g))
        torch.testing.assert_close(fast, env.observe(env._occupancy()), rtol=0, atol=0)
