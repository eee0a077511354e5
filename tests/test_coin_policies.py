"""Coin Game policies: shapes, memory that carries information, exact gradients of every order, rollouts."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from lola_zoo.agents.coin_policies import CoinConvPolicy, CoinRecurrentPolicy, gru_cell
from lola_zoo.envs.batched import rollout
from lola_zoo.envs.batched_coin import BatchedCoinGame, PerSeatView, coin_game_metrics

POLICIES = [CoinConvPolicy, CoinRecurrentPolicy]


@pytest.fixture(autouse=True)
def float32_default():
    """Policies take torch's default dtype; another test module may leave it at float64 in this worker."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    yield
    torch.set_default_dtype(before)


@pytest.mark.parametrize("cls", POLICIES)
@pytest.mark.parametrize("batch", [(), (5,), (2, 3)])
def test_step_and_forward_shapes_and_normalised_log_probs(cls: type, batch: tuple) -> None:
    policy = cls(grid_size=4, seed=0)
    hidden = policy.initial_state(batch)
    log_probs, new_hidden = policy.step(torch.rand(*batch, 4, 4, 4), hidden)
    assert log_probs.shape == (*batch, 4)
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(batch))
    if cls is CoinRecurrentPolicy:
        assert hidden.shape == new_hidden.shape == (*batch, policy.hidden_size)
    else:
        assert hidden is None and new_hidden is None
    out = policy(torch.rand(*batch, 7, 4, 4, 4), torch.randint(4, (*batch, 7)))
    assert out.shape == (*batch, 7) and (out <= 0).all()


def test_a_fresh_policy_is_close_to_uniform() -> None:
    for cls in POLICIES:
        log_probs, _ = cls(seed=1).step(torch.rand(100, 4, 3, 3), None)
        torch.testing.assert_close(log_probs.exp(), torch.full((100, 4), 0.25), atol=0.01, rtol=0)


@pytest.mark.parametrize("cls", POLICIES)
def test_forward_equals_stepping_through_the_trajectory(cls: type) -> None:
    policy = cls(seed=2)
    obs, actions = torch.rand(6, 9, 4, 3, 3), torch.randint(4, (6, 9))
    hidden, stepped = policy.initial_state(6), []
    for t in range(9):
        log_probs, hidden = policy.step(obs[:, t], hidden)
        stepped.append(log_probs.gather(-1, actions[:, t, None]).squeeze(-1))
    torch.testing.assert_close(policy(obs, actions), torch.stack(stepped, dim=1))


def test_written_out_gru_equals_torchs_gru_cell() -> None:
    cell = nn.GRUCell(5, 7)
    x, h = torch.randn(11, 5), torch.randn(11, 7)
    torch.testing.assert_close(gru_cell(x, h, cell), cell(x, h))


def test_recurrent_output_depends_on_the_past_and_feed_forward_does_not() -> None:
    first = torch.zeros(2, 4, 3, 3)
    first[0, 2, 1, 1] = 1.0  # an own coin in the middle, in one history only
    blank = torch.zeros(2, 4, 3, 3)
    gru = CoinRecurrentPolicy(seed=3)
    with torch.no_grad():
        gru.head.weight.normal_()  # undo the near-uniform head so differences are visible
        _, h = gru.step(first, gru.initial_state(2))
        log_probs, _ = gru.step(blank, h)
    assert (log_probs[0] - log_probs[1]).abs().max() > 1e-3
    ff = CoinConvPolicy(seed=3)
    log_probs, _ = ff.step(blank, ff.step(first, None)[1])
    torch.testing.assert_close(log_probs[0], log_probs[1], rtol=0, atol=0)


def _recall_task(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A cue at t=0 (coin of own colour or of the other's, same cell), two blank steps; act on the cue."""
    cue = torch.randint(2, (n,), generator=generator)
    obs = torch.zeros(n, 3, 4, 3, 3)
    obs[torch.arange(n), 0, 2 + cue, 0, 0] = 1.0
    actions = torch.zeros(n, 3, dtype=torch.long)
    actions[:, 2] = cue  # the right move at the last step is "the cue's index"
    return obs, actions


def test_recurrent_policy_learns_to_recall_a_cue_the_feed_forward_cannot_see(one_thread: None) -> None:
    g = torch.Generator().manual_seed(0)
    results = {}
    for cls in POLICIES:
        policy = cls(seed=0)
        opt = torch.optim.Adam(policy.parameters(), lr=0.03)
        for _ in range(150):
            obs, actions = _recall_task(64, g)
            loss = -policy(obs, actions)[:, 2].mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        obs, actions = _recall_task(1000, g)
        with torch.no_grad():
            hidden = policy.initial_state(1000)
            for t in range(3):
                log_probs, hidden = policy.step(obs[:, t], hidden)
        results[cls] = (log_probs.argmax(-1) == actions[:, 2]).float().mean().item()
    assert results[CoinRecurrentPolicy] > 0.95
    assert results[CoinConvPolicy] < 0.6  # the last frame is blank: a coin flip at best


@pytest.mark.parametrize("cls", POLICIES)
def test_every_parameter_gets_a_gradient(cls: type) -> None:
    policy = cls(seed=4)
    obs, actions = (torch.rand(8, 5, 4, 3, 3) > 0.7).float(), torch.randint(4, (8, 5))
    policy(obs, actions).sum().backward()
    for name, p in policy.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_first_and_second_derivatives_match_finite_differences(one_thread: None) -> None:
    """DiCE / LOLA differentiate the policy twice through functional_call: check both orders."""
    policy = CoinRecurrentPolicy(channels=2, features=3, hidden_size=3, seed=5).double()
    names = [n for n, _ in policy.named_parameters()]
    shapes = [p.shape for _, p in policy.named_parameters()]
    flat0 = torch.cat([p.detach().reshape(-1) for p in policy.parameters()]).requires_grad_()
    g = torch.Generator().manual_seed(6)
    obs = torch.rand(3, 4, 4, 3, 3, generator=g, dtype=torch.float64)
    actions = torch.randint(4, (3, 4), generator=g)

    def log_prob_sum(flat: torch.Tensor) -> torch.Tensor:
        params, i = {}, 0
        for n, s in zip(names, shapes):
            params[n] = flat[i : i + s.numel()].view(s)
            i += s.numel()
        return functional_call(policy, params, (obs, actions)).sum()

    assert torch.autograd.gradcheck(log_prob_sum, (flat0,))
    assert torch.autograd.gradgradcheck(log_prob_sum, (flat0,))


def test_vmap_over_stacked_parameters_matches_a_loop_over_runs() -> None:
    models = [CoinRecurrentPolicy(seed=s) for s in range(3)]
    params, buffers = stack_module_state(models)
    obs, actions = torch.rand(3, 4, 6, 4, 3, 3), torch.randint(4, (3, 4, 6))
    batched = vmap(lambda p, o, a: functional_call(models[0], (p, buffers), (o, a)))(params, obs, actions)
    looped = torch.stack([m(obs[i], actions[i]) for i, m in enumerate(models)])
    torch.testing.assert_close(batched, looped)


def test_seed_fixes_the_parameters_and_leaves_the_global_rng_alone() -> None:
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    a, b = CoinRecurrentPolicy(seed=9), CoinRecurrentPolicy(seed=9)
    assert torch.equal(torch.rand(3), expected)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert not torch.equal(a.gru.weight_ih, CoinRecurrentPolicy(seed=10).gru.weight_ih)


def test_rollout_on_the_batched_coin_game_and_its_metrics() -> None:
    env = PerSeatView(BatchedCoinGame((2, 16), max_steps=12))
    red, blue = CoinRecurrentPolicy(seed=0), CoinConvPolicy(seed=1)
    episodes = rollout(env, [red, blue], generator=torch.Generator().manual_seed(0), seed=3)
    assert episodes.observations[0].shape == (2, 16, 12, 4, 3, 3)
    assert episodes.actions.shape == episodes.rewards.shape == (2, 16, 12, 2)
    log_probs = red(episodes.observations[0], episodes.actions[..., 0])
    assert log_probs.shape == (2, 16, 12) and torch.isfinite(log_probs).all()
    # A replay of the same actions from the same start reproduces the rewards exactly.
    replay = BatchedCoinGame((2, 16), max_steps=12)
    replay.reset(seed=3)
    own, other, rewards = [], [], []
    for t in range(12):
        _, r, info = replay.step(episodes.actions[:, :, t])
        own.append(info["picked_own"])
        other.append(info["picked_other"])
        rewards.append(r)
    # The rollout's own action sampling draws from its generator, not the env's, so the coins match.
    torch.testing.assert_close(torch.stack(rewards, dim=2), episodes.rewards)
    m = coin_game_metrics(episodes.rewards, torch.stack(own, 2), torch.stack(other, 2), time_dim=-2)
    assert m["points_per_episode"].shape == (2,)


def test_bad_shapes_are_named() -> None:
    policy = CoinRecurrentPolicy()
    with pytest.raises(ValueError, match=r"must end in \(4, 3, 3\)"):
        policy.step(torch.rand(5, 4, 4, 4), None)
    with pytest.raises(ValueError, match="hidden must have shape"):
        policy.step(torch.rand(5, 4, 3, 3), torch.zeros(5, 7))
    with pytest.raises(ValueError, match="actions"):
        policy(torch.rand(5, 6, 4, 3, 3), torch.zeros(5, 7, dtype=torch.long))
    with pytest.raises(ValueError, match="hidden_size"):
        CoinRecurrentPolicy(hidden_size=0)


@pytest.fixture
def one_thread():
    """Small torch ops on a busy 2-core machine run fastest on one thread (no intra-op waiting)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("cls", POLICIES)
def test_nl_pg_lola_pg_and_lola_om_update_coin_game_policies_unchanged(cls: type, one_thread: None) -> None:
    from lola_zoo.agents.lola import LOLA
    from lola_zoo.agents.naive import PolicyGradient

    red, blue = cls(seed=0), cls(seed=1)
    env = PerSeatView(BatchedCoinGame(32, max_steps=10))
    episodes = rollout(env, [red, blue], generator=torch.Generator().manual_seed(0), seed=0)
    blue_before = [p.detach().clone() for p in blue.parameters()]
    learners = {
        "NL-PG": PolicyGradient(red, lr=0.005, optimizer="adam"),
        "LOLA-PG": LOLA(PolicyGradient(red, lr=0.005, optimizer="adam"), blue, eta=1.0),
        "LOLA-DiCE": LOLA(PolicyGradient(red, lr=0.005), blue, eta=1.0, correction="lookahead"),
        "LOLA-OM": LOLA(
            PolicyGradient(red, lr=0.005), blue, opponent="black-box", model_kwargs={"fit_steps": 3}
        ),
    }
    for name, learner in learners.items():
        before = [p.detach().clone() for p in red.parameters()]
        metrics = learner.update(episodes, 0)
        assert all(torch.isfinite(torch.tensor(v)) for v in metrics.values()), (name, metrics)
        moved = [not torch.equal(a, b) for a, b in zip(before, red.parameters())]
        assert all(moved), name  # every parameter, GRU included, received a gradient
        if name.startswith("LOLA"):
            assert metrics["correction_norm"] > 0, name
    for a, b in zip(blue_before, blue.parameters()):
        assert torch.equal(a, b)  # shaping the opponent's step never writes the opponent's parameters


def test_nl_pg_on_the_batched_coin_game_learns_to_collect_coins(one_thread: None) -> None:
    """Red (NL-PG, feed-forward) against a fixed near-uniform blue: coins per episode must rise."""
    from lola_zoo.agents.naive import PolicyGradient

    red, blue = CoinConvPolicy(seed=0), CoinConvPolicy(seed=99)
    blue.requires_grad_(False)
    learner = PolicyGradient(red, lr=0.01, gamma=0.9, optimizer="adam")
    game = BatchedCoinGame(256, max_steps=20)
    game.reset(seed=0)  # the respawns too: unseeded, about 1 run in 12 learnt too little in 25 updates (measured)
    env = PerSeatView(game)
    g = torch.Generator().manual_seed(0)
    coins = []
    for _ in range(25):
        episodes = rollout(env, [red, blue], generator=g)
        picked = episodes.rewards[..., 0].clamp(min=0)  # red's pickups (+1 each; a rare tie scores -1)
        coins.append(float(picked.sum(-1).mean()))
        learner.update(episodes, 0)
    first, last = sum(coins[:3]) / 3, sum(coins[-3:]) / 3
    assert last > 1.4 * first, coins  # a random walker picks ~2 coins in 20 steps
